/**
 * The canary suite's loop: the real Argo CD against the control-plane twin of one environment
 * (test/real/argocd/argocd.ts), whose twin runs the real Argo Rollouts controller because dist/<env>
 * renders Rollouts (tools/harness/twin/addons.ts), plus the real Prometheus and the metrics source of
 * monitoring.ts, and a watch on the app namespace's pods.
 *
 * The AnalysisTemplates query the committed Prometheus address (an in-cluster Service name): the
 * twin's service proxy (tools/harness/twin/service-proxy.ts) routes it to the suite's Prometheus.
 *
 * The clone that Argo CD reads differs from this repository in two things, each rendered by synth
 * from the environment file plus an override (nothing in dist/ is edited by hand):
 * - `argocd.repoURL` (the local git server, as in the Argo CD suite);
 * - each Rollout's durations divided by the environment's timeScale (its longest committed pause
 *   becomes PAUSE_IN_TWIN): the pauses, the analysis interval and query
 *   window, and progressDeadlineSeconds (not below the schema's minimum of 60 s). Weights, the error-ratio threshold, failureLimit and
 *   autoAbort stay as committed (checked after the render).
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import type { Manifest } from '../../../src/model/objects';
import type { CanaryStep } from '../../../charts/common/canary';
import { committedObjects } from '../../../tools/harness/twin/twin';
import { freePorts } from '../../../tools/harness/ports';
import { waitFor } from '../../../tools/harness/process';
import { ROOT } from '../../../tools/harness/tools';
import { ArgoLoop, APPS } from '../argocd/argocd';
import { MetricsSource, Prometheus, podMonitorTarget, podView, type PodView } from './monitoring';

/* eslint-disable @typescript-eslint/no-explicit-any -- objects as the API server returns them */
type Any = any;

/** What the longest committed pause of an environment becomes in the twin, in seconds. */
export const PAUSE_IN_TWIN = 12;

/**
 * The factor an environment's committed durations are divided by in the clone: its longest pause
 * becomes PAUSE_IN_TWIN (staging 2m: 10; prod 5m: 25).
 */
export function timeScale(canaries: readonly CommittedCanary[]): number {
  const pauses = canaries.flatMap((c) => c.steps.flatMap((s) => ('pause' in s ? [seconds(s.pause)] : [])));
  return Math.max(1, Math.ceil(Math.max(PAUSE_IN_TWIN, ...pauses) / PAUSE_IN_TWIN));
}
/** The share of requests every oauth2-proxy pod answers 5xx on a good day (below every threshold). */
export const BASELINE_ERROR_SHARE = 0.01;
/** The share an oauth2-proxy pod of an `-errors` image answers 5xx. */
export const BAD_IMAGE_ERROR_SHARE = 0.5;
export const ROLLOUTS = (ns: string) => `/apis/argoproj.io/v1alpha1/namespaces/${ns}/rollouts`;
export const ANALYSIS_RUNS = (ns: string) => `/apis/argoproj.io/v1alpha1/namespaces/${ns}/analysisruns`;

/** Seconds of a duration such as 90s, 5m or 1h. */
export function seconds(d: string | number): number {
  if (typeof d === 'number') return d;
  const m = /^(\d+)(s|m|h)?$/.exec(d);
  if (!m) throw new Error(`not a duration: ${d}`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[(m[2] ?? 's') as 's' | 'm' | 'h'];
}

/** A committed duration divided by `scale`, in whole seconds (at least 1). */
export function scaled(d: string | number, scale: number): string {
  return `${Math.max(1, Math.ceil(seconds(d) / scale))}s`;
}

/** The tag of an image reference (`repo:tag@digest`). */
export function tagOf(image: string): string {
  const last = image.split('/').pop() ?? '';
  return /:([^@:]+)(@|$)/.exec(last)?.[1] ?? '';
}

/** One service's canary as committed: its Rollout, its AnalysisTemplate and what they say. */
export interface CommittedCanary {
  readonly service: string;
  readonly namespace: string;
  readonly rollout: Manifest;
  readonly rolloutFile: string;
  readonly template: Manifest;
  readonly templateFile: string;
  readonly wave: number;
  readonly steps: readonly CanaryStep[];
  readonly weights: readonly number[];
  readonly maxErrorRatio: number;
  readonly interval: string;
  readonly window: string;
  readonly failureLimit: number;
  readonly autoAbort: boolean;
  readonly progressDeadlineSeconds: number;
  /** The Prometheus the analysis queries (monitoring.prometheusUrl). */
  readonly prometheusUrl: string;
}

/** The Rollouts of dist/<env> and their AnalysisTemplates (the suite's list of services). */
export function committedCanaries(env: string, root = ROOT): CommittedCanary[] {
  const objs = committedObjects(root, env).filter((c) => c.file.startsWith('dist/'));
  return objs
    .filter((c) => c.object.kind === 'Rollout')
    .map((c) => {
      const r = c.object as Any;
      const canary = r.spec.strategy.canary;
      const templateName = canary.analysis?.templates?.[0]?.templateName;
      const tc = objs.find((o) => o.object.kind === 'AnalysisTemplate' && o.object.metadata?.name === templateName);
      const t = tc?.object as Any;
      if (!tc || !t) throw new Error(`${c.file}: no AnalysisTemplate ${templateName} in dist/${env}`);
      const metric = t.spec.metrics[0];
      const steps = (canary.steps as Any[]).map((s): { setWeight: number } | { pause: string } =>
        s.setWeight !== undefined ? { setWeight: Number(s.setWeight) } : { pause: String(s.pause?.duration ?? '') },
      );
      return {
        service: String(r.metadata.name),
        namespace: String(r.metadata.namespace),
        rollout: c.object,
        rolloutFile: c.file,
        template: t as Manifest,
        templateFile: tc.file,
        wave: c.wave,
        steps,
        weights: steps.flatMap((s) => ('setWeight' in s ? [s.setWeight] : [])),
        maxErrorRatio: Number(/<=\s*([0-9.]+)/.exec(String(metric.successCondition))?.[1]),
        interval: String(metric.interval),
        window: /\[(\d+[smh])\]/.exec(String(metric.provider.prometheus.query))?.[1] ?? '',
        failureLimit: Number(metric.failureLimit ?? 0),
        autoAbort: r.spec.progressDeadlineAbort === true,
        progressDeadlineSeconds: Number(r.spec.progressDeadlineSeconds),
        prometheusUrl: String(metric.provider.prometheus.address),
      };
    });
}

/** The environment-file block `services.<svc>.canary` that renders `c` with its durations scaled. */
export function scaledCanaryInput(c: CommittedCanary, scale: number): Record<string, unknown> {
  return {
    enabled: true,
    steps: c.steps.map((s) => ('setWeight' in s ? { setWeight: s.setWeight } : { pause: scaled(s.pause, scale) })),
    analysis: {
      maxErrorRatio: c.maxErrorRatio,
      interval: scaled(c.interval, scale),
      window: scaled(c.window, scale),
      failureLimit: c.failureLimit,
    },
    autoAbort: c.autoAbort,
    progressDeadlineSeconds: scaledDeadline(c.progressDeadlineSeconds, scale),
  };
}

/** The environment schema's least progressDeadlineSeconds: a scaled deadline is never below it. */
export const MIN_PROGRESS_DEADLINE_SECONDS = 60;

/** progressDeadlineSeconds divided by `scale`, but not below the schema's minimum. */
export function scaledDeadline(committed: number, scale: number): number {
  return Math.max(MIN_PROGRESS_DEADLINE_SECONDS, seconds(scaled(committed, scale)));
}

/** A watch on the pods of one namespace (the API server's watch stream), kept as a map by uid. */
export class PodWatch {
  readonly pods = new Map<string, PodView>();
  private readonly observers = new Set<(pods: readonly PodView[]) => void>();
  private stopped = false;
  private req?: ReturnType<typeof request>;

  constructor(
    private readonly server: string,
    private readonly caFile: string,
    private readonly token: string,
    readonly namespace: string,
  ) {}

  /** Calls `f` with every pod after each change (and now); returns how to stop. */
  observe(f: (pods: readonly PodView[]) => void): () => void {
    this.observers.add(f);
    f([...this.pods.values()]);
    return () => this.observers.delete(f);
  }

  private notify(): void {
    const all = [...this.pods.values()];
    for (const f of this.observers) f(all);
  }

  async start(): Promise<void> {
    await this.relist();
  }

  private async relist(): Promise<void> {
    const list = await this.get(`/api/v1/namespaces/${this.namespace}/pods`);
    const body = JSON.parse(list) as Any;
    this.pods.clear();
    for (const p of body.items ?? []) this.pods.set(String(p.metadata.uid), podView(p));
    this.notify();
    this.watch(String(body.metadata.resourceVersion));
  }

  private get(path: string): Promise<string> {
    const url = new URL(this.server);
    return new Promise((resolve, reject) => {
      const r = request(
        {
          host: url.hostname,
          port: url.port,
          path,
          ca: readFileSync(this.caFile),
          headers: { authorization: `Bearer ${this.token}`, accept: 'application/json' },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        },
      );
      r.on('error', reject);
      r.end();
    });
  }

  private watch(rv: string): void {
    if (this.stopped) return;
    const url = new URL(this.server);
    let last = rv;
    let buf = '';
    const again = (relist: boolean) => {
      if (this.stopped) return;
      setTimeout(() => void (relist ? this.relist().catch(() => again(true)) : this.watch(last)), 200);
    };
    this.req = request(
      {
        host: url.hostname,
        port: url.port,
        path: `/api/v1/namespaces/${this.namespace}/pods?watch=1&allowWatchBookmarks=true&resourceVersion=${rv}&timeoutSeconds=600`,
        ca: readFileSync(this.caFile),
        headers: { authorization: `Bearer ${this.token}`, accept: 'application/json' },
      },
      (res) => {
        let gone = false;
        res.on('data', (c: Buffer) => {
          buf += c.toString();
          let i: number;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (!line.trim()) continue;
            const ev = JSON.parse(line) as { type: string; object: Any };
            if (ev.type === 'ERROR') {
              gone = true;
              continue;
            }
            last = String(ev.object?.metadata?.resourceVersion ?? last);
            if (ev.type === 'BOOKMARK') continue;
            const p = podView(ev.object);
            if (ev.type === 'DELETED') this.pods.delete(p.uid);
            else this.pods.set(p.uid, p);
            this.notify();
          }
        });
        res.on('end', () => again(gone));
      },
    );
    this.req.on('error', () => again(true));
    this.req.end();
  }

  stop(): void {
    this.stopped = true;
    this.req?.destroy();
  }
}

/** The Rollout of a service, its ReplicaSets' hashes and pods, as one snapshot. */
export interface RolloutView {
  readonly phase: string;
  readonly message: string;
  readonly abort: boolean;
  readonly paused: boolean;
  readonly stepIndex: number;
  readonly stableHash: string;
  readonly currentHash: string;
  readonly replicas: number;
  readonly raw: Any;
}

export function rolloutView(r: Any): RolloutView {
  return {
    phase: String(r?.status?.phase ?? ''),
    message: String(r?.status?.message ?? ''),
    abort: r?.status?.abort === true,
    paused: (r?.status?.pauseConditions ?? []).length > 0,
    stepIndex: Number(r?.status?.currentStepIndex ?? -1),
    stableHash: String(r?.status?.stableRS ?? ''),
    currentHash: String(r?.status?.currentPodHash ?? ''),
    replicas: Number(r?.spec?.replicas ?? r?.status?.HPAReplicas ?? 0),
    raw: r,
  };
}

export class CanaryLoop {
  readonly argo: ArgoLoop;
  readonly canaries: CommittedCanary[];
  /** The factor the clone divides the canaries' durations by (timeScale). */
  readonly scale: number;
  prometheus!: Prometheus;
  source!: MetricsSource;
  pods!: PodWatch;
  readonly appName: string;
  readonly namespace: string;

  constructor(
    readonly envName: string,
    readonly dir: string,
    podAddressBlock: number,
    log: (line: string) => void,
  ) {
    // Argo CD v3 keeps each resource's health out of the Application unless told to: the suite reads
    // the Rollouts' health and messages from there.
    this.argo = new ArgoLoop(envName, dir, log, {
      twin: { podAddressBlock },
      controllerArgs: ['--persist-resource-health'],
    });
    this.canaries = committedCanaries(envName);
    this.scale = timeScale(this.canaries);
    this.appName = `coderun-${envName}`;
    const ns = new Set(this.canaries.map((c) => c.namespace));
    if (ns.size !== 1) throw new Error(`${envName}: Rollouts in ${ns.size} namespaces; the suite expects one`);
    this.namespace = [...ns][0] ?? '';
  }

  get kube() {
    return this.argo.kube;
  }

  canary(service: string): CommittedCanary {
    const c = this.canaries.find((x) => x.service === service);
    if (!c) throw new Error(`${this.envName}: no committed Rollout ${service}`);
    return c;
  }

  /**
   * Twin, Argo CD, Prometheus, metrics source, pod watch; then the clone's override commit. The
   * bootstrap is left to the caller (a test).
   */
  async up(): Promise<void> {
    await this.argo.up();
    if (!this.argo.twin.argoRollouts) throw new Error(`${this.envName}: the twin did not start Argo Rollouts`);
    const pm = committedObjects(ROOT, this.envName).find(
      (c) => c.object.kind === 'PodMonitor' && c.object.metadata?.name === 'oauth2-proxy',
    );
    if (!pm) throw new Error(`${this.envName}: no PodMonitor oauth2-proxy in dist/${this.envName}`);
    const target = podMonitorTarget(pm.object);
    const dep = committedObjects(ROOT, this.envName).find(
      (c) => c.object.kind === 'Deployment' && c.object.metadata?.name === 'oauth2-proxy',
    );
    const port = ((dep?.object as Any)?.spec?.template?.spec?.containers ?? [])
      .flatMap((c: Any) => c.ports ?? [])
      .find((p: Any) => p.name === target.port)?.containerPort;
    if (!port) throw new Error(`${this.envName}: oauth2-proxy has no container port named ${target.port}`);
    const [promPort] = await freePorts(1);
    this.prometheus = new Prometheus(join(this.dir, 'prometheus'), promPort ?? 0);
    const twin = this.argo.twin;
    this.source = new MetricsSource(this.kube, target, Number(port), (pod, pods) => this.errorShare(pod, pods));
    await this.source.start();
    await this.prometheus.start(this.kube, [target], {
      server: twin.server,
      caFile: twin.credentials.caCert,
      token: twin.credentials.tokens.prometheus,
    });
    // The committed address of every analysis, routed to this Prometheus.
    for (const address of new Set(this.canaries.map((c) => c.prometheusUrl))) {
      const u = new URL(address);
      const [service, namespace, svc] = u.hostname.split('.');
      if (!service || !namespace || svc !== 'svc')
        throw new Error(`${this.envName}: the analyses query ${address}, not a <service>.<namespace>.svc address`);
      twin.services.route(service, namespace, Number(u.port || 80), { host: '127.0.0.1', port: this.prometheus.port });
    }
    this.pods = new PodWatch(twin.server, twin.credentials.caCert, twin.credentials.tokens.admin, this.namespace);
    await this.pods.start();
    this.overrideCommit();
  }

  /**
   * The 5xx share an oauth2-proxy pod answers: BAD_IMAGE_ERROR_SHARE when its own image is an
   * `-errors` tag; otherwise the share of Ready frontend pods that run an `-errors` image (oauth2-proxy
   * is the frontend's only caller: a bad frontend pod's answers come back through it as 5xx), on top
   * of BASELINE_ERROR_SHARE.
   */
  errorShare(pod: PodView, pods: readonly PodView[]): number {
    if (pod.images.some((i) => tagOf(i).endsWith('-errors'))) return BAD_IMAGE_ERROR_SHARE;
    const fe = pods.filter((p) => p.labels['app.kubernetes.io/name'] === 'frontend' && p.ready && !p.deleting);
    const bad = fe.filter((p) => p.images.some((i) => tagOf(i).endsWith('-errors'))).length;
    const share = fe.length === 0 ? 0 : bad / fe.length;
    return BASELINE_ERROR_SHARE + (1 - BASELINE_ERROR_SHARE) * share;
  }

  private get envFile(): string {
    return join(this.argo.work, 'environments', `${this.envName}.yaml`);
  }

  /** Edits the clone's environment file (a YAML document, comments kept). */
  editEnv(f: (doc: ReturnType<typeof parseDocument>) => void): void {
    const doc = parseDocument(readFileSync(this.envFile, 'utf8'));
    f(doc);
    writeFileSync(this.envFile, doc.toString());
  }

  /** The override commit: the scaled canary durations, rendered by synth. */
  private overrideCommit(): void {
    this.editEnv((doc) => {
      for (const c of this.canaries)
        doc.setIn(['services', c.service, 'canary'], doc.createNode(scaledCanaryInput(c, this.scale)));
    });
    this.argo.synth();
    const changed = this.argo.git('diff', '--name-only').split('\n').filter(Boolean);
    const allowed = (f: string) =>
      f === `environments/${this.envName}.yaml` ||
      f === `dist/${this.envName}/README.md` ||
      this.canaries.some(
        (c) =>
          f.endsWith(`/rollout-${c.service}.yaml`) || f.endsWith(`/analysistemplate-${c.template.metadata?.name}.yaml`),
      );
    const unexpected = changed.filter((f) => !allowed(f));
    if (unexpected.length > 0) throw new Error(`the override changed more than the canaries: ${unexpected.join(', ')}`);
    this.argo.commit(`${this.envName}: canary durations ÷${this.scale} (the twin's time)`);
  }

  /** The objects the clone renders now for a committed file. */
  rendered(file: string): Manifest {
    return parseDocument(readFileSync(join(this.argo.work, file), 'utf8')).toJS() as Manifest;
  }

  /** Sets a service's image tag (and a digest made up for it, when the environment pins digests) in the clone. */
  setImage(service: string, tag: string): void {
    this.editEnv((doc) => {
      doc.setIn(['services', service, 'image', 'tag'], tag);
      if (doc.hasIn(['services', service, 'image', 'digest'])) {
        const repo = String(doc.getIn(['services', service, 'image', 'repository']));
        doc.setIn(
          ['services', service, 'image', 'digest'],
          `sha256:${createHash('sha256').update(`${repo}:${tag}`).digest('hex')}`,
        );
      }
    });
  }

  /** The image tag a service has in the clone's environment file. */
  imageTag(service: string): string {
    return String(parseDocument(readFileSync(this.envFile, 'utf8')).getIn(['services', service, 'image', 'tag']));
  }

  /** Renders and commits the clone, pushes it and asks Argo CD to refresh; returns the commit. */
  async release(message: string): Promise<string> {
    this.argo.synth();
    return this.commit(message);
  }

  /** Commits the clone as it is, pushes it and asks Argo CD to refresh; returns the commit. */
  async commit(message: string): Promise<string> {
    const sha = this.argo.commit(message);
    await this.refresh();
    return sha;
  }

  /** git revert HEAD in the clone, pushed, Argo CD asked to refresh; returns the revert's commit. */
  async revert(): Promise<string> {
    this.argo.git('revert', '--no-edit', 'HEAD');
    this.argo.git('push', '-q', 'origin', 'HEAD:main');
    await this.refresh();
    return this.argo.git('rev-parse', 'HEAD');
  }

  /**
   * What a git webhook does on a push (as `argocd app get --refresh`): the annotation
   * `argocd.argoproj.io/refresh: normal` on the Application, so that Argo CD reads the new commit
   * now instead of at its next reconciliation poll.
   */
  async refresh(): Promise<void> {
    await this.kube.must(
      'PATCH',
      `${APPS}/${this.appName}`,
      { metadata: { annotations: { 'argocd.argoproj.io/refresh': 'normal' } } },
      'application/merge-patch+json',
    );
  }

  async rollout(service: string): Promise<RolloutView> {
    return rolloutView(await this.kube.must<Any>('GET', `${ROLLOUTS(this.namespace)}/${service}`));
  }

  async waitRollout(
    service: string,
    what: string,
    ok: (r: RolloutView) => boolean,
    timeoutMs = 180_000,
  ): Promise<RolloutView> {
    let last: RolloutView | undefined;
    try {
      return await waitFor(
        `${service}: ${what}`,
        async () => {
          last = await this.rollout(service);
          return ok(last) ? last : false;
        },
        { timeoutMs, intervalMs: 200 },
      );
    } catch (e) {
      throw new Error(
        `${String(e)}\nlast: ${JSON.stringify({ ...last, raw: last?.raw?.status })}\n--- argo-rollouts ---\n${this.argo.twin.tail('argo-rollouts', 40)}`,
      );
    }
  }

  /** The AnalysisRuns of a service's Rollout, oldest first. */
  async analysisRuns(service: string): Promise<Any[]> {
    const r = await this.kube.must<{ items: Any[] }>('GET', ANALYSIS_RUNS(this.namespace));
    return r.items
      .filter((a) => (a.metadata.ownerReferences ?? []).some((o: Any) => o.kind === 'Rollout' && o.name === service))
      .sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)));
  }

  /** The Application as Argo CD reports it: its health, and its Rollouts' health and messages. */
  async appHealth(): Promise<{
    health: string;
    sync: string;
    revision: string;
    rollouts: Record<string, { status: string; message: string }>;
    /** Resources whose health is not Healthy: `Kind/name Status: message`. */
    unhealthy: string[];
  }> {
    const a = (await this.kube.must<Any>('GET', `${APPS}/${this.appName}`)) ?? {};
    const rollouts: Record<string, { status: string; message: string }> = {};
    const unhealthy: string[] = [];
    for (const r of a.status?.resources ?? []) {
      if (r.kind === 'Rollout')
        rollouts[r.name] = { status: String(r.health?.status ?? ''), message: String(r.health?.message ?? '') };
      if (r.health?.status && r.health.status !== 'Healthy')
        unhealthy.push(`${r.kind}/${r.name} ${r.health.status}${r.health.message ? `: ${r.health.message}` : ''}`);
    }
    return {
      unhealthy,
      health: String(a.status?.health?.status ?? ''),
      sync: String(a.status?.sync?.status ?? ''),
      revision: String(a.status?.sync?.revision ?? ''),
      rollouts,
    };
  }

  /** Pods of a service (by its name label) now, not being deleted. */
  servicePods(service: string): PodView[] {
    return [...this.pods.pods.values()].filter(
      (p) =>
        p.labels['app.kubernetes.io/name'] === service &&
        !p.deleting &&
        p.phase !== 'Succeeded' &&
        p.phase !== 'Failed',
    );
  }

  async down(): Promise<void> {
    this.pods?.stop();
    await this.source?.stop();
    await this.prometheus?.stop();
    await this.argo.down();
  }
}

/**
 * Samples the Application's health (and its Rollouts') every `intervalMs` until stopped, keeping
 * each change with the time since start: what Argo CD reported during a release.
 */
export class HealthLog {
  readonly changes: { atMs: number; health: string; resources: string }[] = [];
  private timer?: NodeJS.Timeout;
  private readonly t0 = Date.now();

  constructor(
    private readonly loop: CanaryLoop,
    intervalMs = 500,
  ) {
    void this.tick();
    this.timer = setInterval(() => void this.tick(), intervalMs);
  }

  private async tick(): Promise<void> {
    try {
      const h = await this.loop.appHealth();
      const resources = h.unhealthy.join(', ');
      const last = this.changes[this.changes.length - 1];
      if (!last || last.health !== h.health || last.resources !== resources)
        this.changes.push({ atMs: Date.now() - this.t0, health: h.health, resources });
    } catch {
      /* the next tick */
    }
  }

  /** Stops sampling after one last sample. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.tick();
  }

  get healths(): string[] {
    return this.changes.map((c) => c.health);
  }

  toString(): string {
    return this.changes
      .map((c) => `${(c.atMs / 1000).toFixed(1)} s ${c.health}${c.resources ? ` (${c.resources})` : ''}`)
      .join(' → ');
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */
