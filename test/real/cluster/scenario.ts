/**
 * What every scenario of the cluster suite shares: one control-plane twin per environment
 * (tools/harness/twin), brought up once in twin.real.test.ts and stopped after the last scenario;
 * the committed objects a scenario reads its expectations from; and the fact sheet each scenario
 * writes to .build/twin-<env>-<scenario>.md. Scenarios share the twin, never state: each waits for
 * the committed state it needs, and a destructive drill undoes what it did before it ends, so the
 * scenarios pass in any order (twin.real.test.ts can shuffle them: CODERUN_TWIN_SHUFFLE=<seed>).
 *
 * Select one environment with: npm run test:cluster -- -t '<env>'
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listEnvironments } from '../../../src/model/loader';
import { loadEnvironment, type EnvironmentConfig } from '../../../apps/environment';
import { asObj, nsOf, num, replicaRange, rolloutOf, rolloutSurge, type Manifest } from '../../../src/model/objects';
import { waitFor } from '../../../tools/harness/process';
import { ROOT } from '../../../tools/harness/tools';
import type { Kube } from '../../../tools/harness/twin/api';
import { committedObjects, Twin } from '../../../tools/harness/twin/twin';
import { Facts, isReady, matches, pods } from './cluster';

export { ROOT };
export const ENVS = listEnvironments(ROOT);

export interface Workload {
  kind: 'Deployment' | 'StatefulSet';
  name: string;
  object: Manifest;
  selector: Record<string, string>;
  replicas: number;
  hpa?: { min: number; max: number };
  /** Extra pods during a rollout (a Rollout's canary maxSurge for the Deployment it runs). */
  surge: number;
  /** The scale subresource that sets the count: the Rollout's for a Deployment a Rollout runs. */
  scale: string;
  /** The Rollout that runs this Deployment's pods (spec.workloadRef), if any. */
  rollout?: string;
}

export interface Pdb {
  name: string;
  selector: Record<string, string>;
  minAvailable?: number;
  maxUnavailable?: number;
}

/** One environment's twin and what a scenario reads from the committed objects. */
export class TwinScenario {
  readonly env: EnvironmentConfig;
  /** The fact sheet of the scenario running now (twinScenarios sets it for each scenario). */
  facts: Facts;
  readonly objects: Manifest[];
  twin!: Twin;
  kube!: Kube;
  /** The twin's state directory (temporary; removed in down()). */
  dir = '';
  private started = 0;
  private readonly tokens = new Map<string, string>();

  constructor(readonly envName: string) {
    this.env = loadEnvironment(ROOT, envName);
    this.facts = new Facts(ROOT, envName, 'bring-up');
    this.objects = committedObjects(ROOT, envName).map((c) => c.object);
  }

  async up(): Promise<void> {
    this.started = Date.now();
    this.dir = mkdtempSync(join(tmpdir(), `coderun-twin-${this.envName}-`));
    this.twin = new Twin({ root: ROOT, env: this.envName, dir: this.dir });
    try {
      await this.twin.up();
    } catch (e) {
      await this.twin.down();
      throw e;
    }
    this.kube = this.twin.kube;
    this.bringUp = [
      `Kubernetes ${this.twin.env.kubernetesVersion}; ` +
        Object.entries(this.twin.timings)
          .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`)
          .join(', ') +
        ' (one twin for every scenario of this environment)',
    ];
  }

  /** How the shared twin came up, for every scenario's fact sheet. */
  bringUp: string[] = [];

  async down(): Promise<void> {
    await this.twin?.down();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    process.stdout.write(
      `[control-plane twin ${this.envName}] every scenario: ${((Date.now() - this.started) / 1000).toFixed(1)} s including bring-up and teardown\n`,
    );
  }

  ns(): EnvironmentConfig['namespaces'] {
    return this.env.namespaces;
  }

  byKind(kind: string): Manifest[] {
    return this.objects.filter((o) => o.kind === kind);
  }

  workloads(): Workload[] {
    return [...this.byKind('Deployment'), ...this.byKind('StatefulSet')].map((o) => {
      const spec = o.spec as { selector: { matchLabels: Record<string, string> } };
      // A Deployment that a Rollout runs (workloadRef) is scaled, autoscaled and surged as the Rollout.
      const rollout = rolloutOf(this.objects, o);
      const owner = rollout ?? o;
      const range = replicaRange(this.objects, o);
      const replicas = num(asObj(owner.spec).replicas, 1);
      const plural = rollout ? 'rollouts' : `${o.kind.toLowerCase()}s`;
      const group = rollout ? 'apis/argoproj.io/v1alpha1' : 'apis/apps/v1';
      return {
        kind: o.kind as 'Deployment' | 'StatefulSet',
        name: o.metadata.name,
        object: o,
        selector: spec.selector.matchLabels,
        replicas,
        ...(range?.autoscaled ? { hpa: { min: range.min, max: range.max } } : {}),
        surge: o.kind === 'Deployment' ? rolloutSurge(o, replicas, this.objects) : 0,
        scale: `/${group}/namespaces/${nsOf(owner)}/${plural}/${owner.metadata.name}/scale`,
        ...(rollout ? { rollout: rollout.metadata.name } : {}),
      };
    });
  }

  pdbs(): Pdb[] {
    return this.byKind('PodDisruptionBudget').map((o) => {
      const s = o.spec as {
        selector: { matchLabels: Record<string, string> };
        minAvailable?: number;
        maxUnavailable?: number;
      };
      return {
        name: o.metadata.name,
        selector: s.selector.matchLabels,
        ...(s.minAvailable === undefined ? {} : { minAvailable: s.minAvailable }),
        ...(s.maxUnavailable === undefined ? {} : { maxUnavailable: s.maxUnavailable }),
      };
    });
  }

  /** Ready pods a PDB demands when `expected` pods exist. */
  pdbMinimum(p: Pdb, expected: number): number {
    return p.minAvailable !== undefined ? p.minAvailable : expected - (p.maxUnavailable ?? 0);
  }

  /** Desired replicas now: the HPA lifts a Deployment to its minReplicas. */
  desired(w: Workload): number {
    return Math.max(w.replicas, w.hpa?.min ?? 0);
  }

  /**
   * Every workload of the app namespace has `want(w)` Ready pods, every pod there is Ready, and every
   * Rollout has settled there: Healthy, its stable ReplicaSet the current one and all of `want(w)`
   * available. Pods can be Ready before Argo Rollouts has recorded that (under load, seconds later);
   * a template change in between is taken for a first deployment and rolled out to all pods at once.
   */
  async workloadsReady(want: (w: Workload) => number = (w) => this.desired(w)): Promise<boolean> {
    const all = await pods(this.kube, this.ns().app);
    if (
      !this.workloads().every(
        (w) => all.filter((p) => matches(p.metadata.labels, w.selector) && isReady(p)).length === want(w),
      ) ||
      !all.every((p) => isReady(p))
    ) {
      return false;
    }
    for (const w of this.workloads()) {
      if (!w.rollout) continue;
      const st = (await this.rolloutStatus(w.rollout)) ?? {};
      if (
        st.phase !== 'Healthy' ||
        !st.stableRS ||
        st.stableRS !== st.currentPodHash ||
        st.availableReplicas !== want(w)
      ) {
        return false;
      }
    }
    return true;
  }

  /** A Rollout's status in the app namespace (undefined when it does not exist). */
  async rolloutStatus(
    name: string,
  ): Promise<
    | { phase?: string; message?: string; stableRS?: string; currentPodHash?: string; availableReplicas?: number }
    | undefined
  > {
    const r = await this.kube.req<{ status?: Record<string, never> }>(
      'GET',
      `/apis/argoproj.io/v1alpha1/namespaces/${this.ns().app}/rollouts/${name}`,
    );
    return r.status === 200 ? (r.body?.status ?? {}) : undefined;
  }

  /** What keeps workloadsReady() false: workloads off their count, pods not Ready (for failure messages). */
  async notReady(want: (w: Workload) => number = (w) => this.desired(w)): Promise<string> {
    const all = await pods(this.kube, this.ns().app);
    const off = this.workloads()
      .map((w) => [w.name, all.filter((p) => matches(p.metadata.labels, w.selector) && isReady(p)).length, want(w)])
      .filter(([, ready, wanted]) => ready !== wanted)
      .map(([name, ready, wanted]) => `${name} ${ready}/${wanted} Ready`);
    const pending = all
      .filter((p) => !isReady(p))
      .map(
        (p) =>
          `${p.metadata.name} on ${p.spec.nodeName ?? '(none)'}: ${p.status.phase}${p.metadata.deletionTimestamp ? ', deleting' : ''}`,
      );
    const rollouts = await Promise.all(
      this.workloads()
        .filter((w) => w.rollout)
        .map(async (w) => {
          const st = (await this.rolloutStatus(w.rollout ?? '')) ?? {};
          return `${w.rollout} ${st.phase ?? '?'} (stable ${st.stableRS ?? 'none'}, current ${st.currentPodHash ?? 'none'}, ${st.availableReplicas ?? 0} available${st.message ? `: ${st.message}` : ''})`;
        }),
    );
    return `workloads: ${off.join(', ') || 'all at their count'}; pods not Ready: ${pending.join(', ') || 'none'}${rollouts.length > 0 ? `; Rollouts: ${rollouts.join(', ')}` : ''}`;
  }

  /** Waits for the committed state: every workload Ready at its desired replicas (a new twin's pods take a while). */
  async committedState(): Promise<void> {
    await waitFor('the committed state: every workload Ready at its desired replicas', () => this.workloadsReady(), {
      timeoutMs: 90_000,
    });
  }

  /**
   * Waits until the committed executor guard (the ValidatingAdmissionPolicy) is in force: the API
   * server loads admission policies a moment after they are applied, so a twin just brought up
   * still admits what the guard refuses. The probe: an executor pod of another image, dry run.
   */
  async executorGuardInForce(): Promise<void> {
    const mw = await this.asMiddleware();
    const probe = await this.executorPod(mw, this.languages()[0] ?? '');
    const containers = (probe.spec as { containers: { image: string }[] }).containers;
    for (const c of containers) c.image = 'docker.io/library/busybox:1.36';
    await waitFor(
      'the executor guard (ValidatingAdmissionPolicy) in force',
      async () => {
        const r = await mw.req('POST', `/api/v1/namespaces/${this.ns().executor}/pods?dryRun=All`, probe);
        return r.status !== 201 && /ValidatingAdmissionPolicy/.test(r.message);
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
  }

  /** Ready pods per PDB right now, and what each PDB demands. */
  async pdbHealth(): Promise<{ name: string; ready: number; expected: number; minimum: number }[]> {
    const all = await pods(this.kube, this.ns().app);
    return this.pdbs().map((p) => {
      const w = this.workloads().find((x) => matches(x.selector, p.selector) || matches(p.selector, x.selector));
      const expected = w ? this.desired(w) : 0;
      const ready = all.filter((x) => matches(x.metadata.labels, p.selector) && isReady(x)).length;
      return { name: p.name, ready, expected, minimum: this.pdbMinimum(p, expected) };
    });
  }

  /**
   * Why the drills (losing a node or a zone) do not run in this environment, or undefined when they
   * do: they need zones declared and replicated services. Known from the committed files alone.
   */
  drillsSkipped(): string | undefined {
    if (this.env.cluster.zones.length > 1 && this.workloads().some((w) => this.desired(w) > 1)) return undefined;
    return `${this.envName} declares ${this.env.cluster.zones.length} zone(s); drills need zones and replicated services`;
  }

  /** A pod from a committed executor PodTemplate, as the middleware builds it. */
  async executorPod(asMiddleware: Kube, language: string): Promise<Manifest> {
    const t = await asMiddleware.must<{ template: { metadata: Manifest['metadata']; spec: Manifest } }>(
      'GET',
      `/api/v1/namespaces/${this.ns().executor}/podtemplates/executor-${language}`,
    );
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...t.template.metadata, generateName: `executor-${language}-` },
      spec: t.template.spec,
    };
  }

  /** A real token of a ServiceAccount of the app namespace that a committed RoleBinding binds (TokenRequest API). */
  async tokenOf(serviceAccount: string): Promise<string> {
    let token = this.tokens.get(serviceAccount);
    if (!token) {
      const sa = this.byKind('RoleBinding')
        .flatMap((b) => (b.subjects as { kind: string; name: string; namespace: string }[]) ?? [])
        .find((s) => s.kind === 'ServiceAccount' && s.namespace === this.ns().app && s.name === serviceAccount);
      expect(sa, `a RoleBinding for the ${serviceAccount} ServiceAccount`).toBeDefined();
      const r = await this.kube.must<{ status: { token: string } }>(
        'POST',
        `/api/v1/namespaces/${sa?.namespace}/serviceaccounts/${sa?.name}/token`,
        { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
      );
      token = r.status.token;
      this.tokens.set(serviceAccount, token);
    }
    return token;
  }

  /** The middleware's own credentials. */
  async asMiddleware(): Promise<Kube> {
    const d = this.byKind('Deployment').find((o) => o.metadata.name === 'middleware');
    const sa = (d?.spec as { template: { spec: { serviceAccountName: string } } }).template.spec.serviceAccountName;
    return this.kube.as(await this.tokenOf(sa));
  }

  /** The executor reaper's CronJob and its pod spec, as committed. */
  reaperCronJob() {
    const cj = this.byKind('CronJob').find((o) => o.metadata.name === 'executor-reaper');
    expect(cj, 'the committed executor-reaper CronJob').toBeDefined();
    const spec = cj?.spec as {
      jobTemplate: {
        metadata?: Manifest['metadata'];
        spec: {
          template: { spec: { serviceAccountName: string; containers: { env: { name: string; value: string }[] }[] } };
        };
      };
    };
    return { object: cj as Manifest, spec, pod: spec.jobTemplate.spec.template.spec };
  }

  languages(): string[] {
    return Object.keys(this.env.executors.images);
  }
}

/** One scenario of the cluster suite: `body` declares its tests against an environment's twin. */
export interface TwinScenarioModule {
  readonly name: string;
  readonly body: (s: TwinScenario) => void;
}

/** Declares a scenario (a module of test/real/cluster/); twinScenarios runs it for every environment. */
export function twinScenario(name: string, body: (s: TwinScenario) => void): TwinScenarioModule {
  return { name, body };
}

/**
 * Runs every scenario for every environment, on one twin per environment: up before the first
 * scenario, down after the last. Each scenario has its own describe and its own fact sheet. The
 * environments run concurrently, the scenarios of one environment in turn.
 */
export function twinScenarios(scenarios: readonly TwinScenarioModule[]): void {
  // The environments' twins run side by side (much of a scenario is waiting: for two metrics-server
  // scrapes, for the HPA, for a lost zone's leases); each environment's scenarios run one after another.
  describe.concurrent.each(ENVS)('control-plane twin: %s', (envName) => {
    const s = new TwinScenario(envName);
    beforeAll(() => s.up());
    afterAll(() => s.down());
    for (const scenario of scenarios) {
      describe.sequential(scenario.name, () => {
        const facts = new Facts(ROOT, envName, scenario.name);
        const started = { at: 0 };
        // Declaring the tests may already note facts (a skipped drill says why).
        s.facts = facts;
        beforeAll(() => {
          s.facts = facts;
          started.at = Date.now();
          facts.section('Bring-up', s.bringUp);
        });
        afterAll(() => {
          facts.section('Scenario time', [`${((Date.now() - started.at) / 1000).toFixed(1)} s on the shared twin`]);
          facts.write();
        });
        scenario.body(s);
      });
    }
  });
}

/**
 * A drill (losing a node or a zone): a test where the environment can survive it. Elsewhere it is
 * skipped, and says why: in its name, on the console and in the fact sheet.
 */
export function drill(s: TwinScenario, title: string, fn: () => Promise<void>): void {
  const why = s.drillsSkipped();
  if (why === undefined) {
    it(title, fn);
    return;
  }
  console.log(`[control-plane twin ${s.envName}] skipped '${title}': ${why}`);
  s.facts.section('Drills', [`Not run: ${why}.`]);
  it.skip(`${title} (skipped: ${why})`, fn);
}

/**
 * Runs a long test as named steps: `at(name)` says which step the test is in, and a failure names
 * the step it happened in.
 */
export async function inSteps(body: (at: (step: string) => void) => Promise<void>): Promise<void> {
  let current = '(before the first step)';
  try {
    await body((step) => {
      current = step;
    });
  } catch (e) {
    if (e instanceof Error) e.message = `step '${current}': ${e.message}`;
    throw e;
  }
}
