/**
 * The control-plane twin of every environment (tools/harness/twin): the real kube-apiserver, controller
 * manager and scheduler of the declared Kubernetes version, kwok nodes as declared, dist/<env> and
 * argocd/<env> applied. One environment at a time. Facts go to .build/twin-<env>.md.
 *
 * Select one environment with: npm run test:cluster -- -t '<env>'
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capacityReport } from '../../../src/inspect/capacity';
import { listEnvironments } from '../../../src/model/config';
import type { Manifest } from '../../../src/model/objects';
import { formatCpu } from '../../../src/model/quantity';
import type { Kube, Obj } from '../../../tools/harness/twin/api';
import { sleep, waitFor } from '../../../tools/harness/process';
import { committedObjects, FINISHED_ANNOTATION, HOLD_ANNOTATION, Twin } from '../../../tools/harness/twin/twin';
import {
  Facts,
  fmtCounts,
  isReady,
  matches,
  nodes,
  placement,
  podRequests,
  pods,
  skew,
  workloadOf,
  type Pod,
} from './cluster';

const ROOT = join(__dirname, '..', '..', '..');
const ENVS = listEnvironments(ROOT);
const mi = (bytes: number) => `${Math.round(bytes / 2 ** 20)}Mi`;

interface Workload {
  kind: 'Deployment' | 'StatefulSet';
  name: string;
  object: Obj;
  selector: Record<string, string>;
  replicas: number;
  hpa?: { min: number; max: number };
  surge: number;
}

interface Pdb {
  name: string;
  selector: Record<string, string>;
  minAvailable?: number;
  maxUnavailable?: number;
}

describe.each(ENVS)('control-plane twin: %s', (envName) => {
  const facts = new Facts(ROOT, envName);
  const objects = committedObjects(ROOT, envName).map((c) => c.object);
  let twin: Twin;
  let kube: Kube;
  let dir: string;
  let suiteStart = 0;

  const ns = () => twin.env.namespaces;
  const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const workloads = (): Workload[] =>
    [...byKind('Deployment'), ...byKind('StatefulSet')].map((o) => {
      const spec = o.spec as {
        replicas?: number;
        selector: { matchLabels: Record<string, string> };
        strategy?: { rollingUpdate?: { maxSurge?: number | string } };
      };
      const hpa = byKind('HorizontalPodAutoscaler').find(
        (h) => (h.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name === o.metadata?.name,
      );
      const hs = hpa?.spec as { minReplicas?: number; maxReplicas: number } | undefined;
      const s = spec.strategy?.rollingUpdate?.maxSurge;
      const replicas = spec.replicas ?? 1;
      return {
        kind: o.kind as 'Deployment' | 'StatefulSet',
        name: String(o.metadata?.name),
        object: o,
        selector: spec.selector.matchLabels,
        replicas,
        ...(hs ? { hpa: { min: hs.minReplicas ?? 1, max: hs.maxReplicas } } : {}),
        surge:
          o.kind !== 'Deployment'
            ? 0
            : typeof s === 'number'
              ? s
              : typeof s === 'string' && s.endsWith('%')
                ? Math.ceil((replicas * Number(s.slice(0, -1))) / 100)
                : Math.ceil(replicas * 0.25),
      };
    });
  const pdbs = (): Pdb[] =>
    byKind('PodDisruptionBudget').map((o) => {
      const s = o.spec as {
        selector: { matchLabels: Record<string, string> };
        minAvailable?: number;
        maxUnavailable?: number;
      };
      return {
        name: String(o.metadata?.name),
        selector: s.selector.matchLabels,
        ...(s.minAvailable === undefined ? {} : { minAvailable: s.minAvailable }),
        ...(s.maxUnavailable === undefined ? {} : { maxUnavailable: s.maxUnavailable }),
      };
    });
  /** Ready pods a PDB demands when `expected` pods exist. */
  const pdbMinimum = (p: Pdb, expected: number) =>
    p.minAvailable !== undefined ? p.minAvailable : expected - (p.maxUnavailable ?? 0);

  /** Desired replicas now: the HPA lifts a Deployment to its minReplicas. */
  const desired = (w: Workload) => Math.max(w.replicas, w.hpa?.min ?? 0);

  async function workloadsReady(want: (w: Workload) => number = desired): Promise<boolean> {
    const all = await pods(kube, ns().app);
    return (
      workloads().every(
        (w) => all.filter((p) => matches(p.metadata.labels, w.selector) && isReady(p)).length === want(w),
      ) && all.every((p) => isReady(p))
    );
  }

  beforeAll(async () => {
    suiteStart = Date.now();
    dir = mkdtempSync(join(tmpdir(), `coderun-twin-${envName}-`));
    twin = new Twin({ root: ROOT, env: envName, dir });
    try {
      await twin.up();
    } catch (e) {
      await twin.down();
      throw e;
    }
    kube = twin.kube;
    facts.section('Bring-up', [
      `Kubernetes ${twin.env.kubernetesVersion}; ` +
        Object.entries(twin.timings)
          .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`)
          .join(', '),
    ]);
  });

  afterAll(async () => {
    facts.section('Suite time', [`${((Date.now() - suiteStart) / 1000).toFixed(1)} s including bring-up and teardown`]);
    await twin?.down();
    if (dir) rmSync(dir, { recursive: true, force: true });
    facts.write();
  });

  it(`the API server of the declared version accepts every object of dist/${envName} and argocd/${envName}`, async () => {
    const version = await kube.must<{ gitVersion: string }>('GET', '/version');
    expect(version.gitVersion.startsWith(`v${twin.env.kubernetesVersion}.`)).toBe(true);
    const refused = twin.refused.map((a) => `${a.id} (${a.file}): HTTP ${a.status}: ${a.message}`);
    expect(refused).toEqual([]);
    expect(twin.applied.length).toBe(objects.length);

    // CRD validation rules (x-kubernetes-validations) run in this API server: a probe that breaks one is refused.
    const probe = await kube.req(
      'POST',
      `/apis/gateway.networking.k8s.io/v1/namespaces/${ns().app}/httproutes?dryRun=All&fieldValidation=Strict`,
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'twin-cel-probe', namespace: ns().app },
        spec: { rules: [{ matches: [{ path: { type: 'PathPrefix', value: 'no-leading-slash' } }] }] },
      },
    );
    expect(probe.status).toBe(422);
    expect(probe.message).toContain('must be an absolute path');
    const customKinds = [
      ...new Set(
        objects
          .filter((o) => !/^(v1|[a-z.]*k8s\.io\/v1|apps\/v1|policy\/v1|autoscaling\/v2)$/.test(String(o.apiVersion)))
          .map((o) => `${String(o.kind)} (${String(o.apiVersion)})`),
      ),
    ];
    facts.section('Acceptance', [
      `- API server ${version.gitVersion} accepted ${twin.applied.length} of ${twin.applied.length} objects (server-side apply, fieldValidation=Strict, in sync-wave order; waves ${[...new Set(twin.applied.map((a) => a.wave))].join(', ')}).`,
      `- Namespaces the objects use but do not declare, created first (Argo CD's own): ${twin.providedNamespaces.join(', ') || 'none'}.`,
      `- Custom resources validated against the vendored CRDs: ${customKinds.join(', ') || 'none'}.`,
      `- CRD CEL rules are evaluated: an HTTPRoute probe breaking one was refused: "${probe.message.slice(0, 160)}".`,
    ]);
  });

  it('places every platform pod (Running, Ready), binds the NATS volumes and honours the spread constraints', async () => {
    await waitFor('every platform workload Ready at its desired replicas', () => workloadsReady(), {
      timeoutMs: 90_000,
    });
    const all = await pods(kube, ns().app);
    const allNodes = await nodes(kube);
    const pvcs = await kube.list<Obj>('v1', 'PersistentVolumeClaim', ns().app);
    expect(pvcs.length).toBeGreaterThan(0);
    expect(pvcs.map((p) => `${p.metadata?.name}: ${String((p.status as { phase?: string })?.phase)}`)).toEqual(
      pvcs.map((p) => `${p.metadata?.name}: Bound`),
    );
    const lines: string[] = [];
    const total = placement(all, allNodes);
    lines.push(`All ${all.length} platform pods Running and Ready. Per node: ${fmtCounts(total.perNode)}.`);
    if (total.perZone.size) lines.push(`Per zone: ${fmtCounts(total.perZone)}.`);
    lines.push(
      '',
      '| workload | pods | per node | per zone | spread (hard: asserted) |',
      '| --- | ---: | --- | --- | --- |',
    );
    for (const w of workloads()) {
      const mine = all.filter((p) => matches(p.metadata.labels, w.selector));
      const { perNode, perZone } = placement(mine, allNodes);
      const checks: string[] = [];
      for (const c of mine[0]?.spec.topologySpreadConstraints ?? []) {
        const counts = c.topologyKey === 'topology.kubernetes.io/zone' ? perZone : perNode;
        const s = skew(counts);
        const hard = c.whenUnsatisfiable === 'DoNotSchedule';
        if (hard && counts.size > 0) expect(s, `${w.name} ${c.topologyKey} skew`).toBeLessThanOrEqual(c.maxSkew);
        checks.push(`${c.topologyKey.split('/')[1]} skew ${s} ≤ ${c.maxSkew} ${hard ? '(hard)' : '(soft)'}`);
      }
      lines.push(
        `| ${w.kind} ${w.name} | ${mine.length} | ${fmtCounts(perNode)} | ${fmtCounts(perZone) || '-'} | ${checks.join('; ') || 'none'} |`,
      );
    }
    lines.push(
      '',
      `PVCs: ${pvcs.map((p) => `${p.metadata?.name} → ${String((p.spec as { volumeName?: string }).volumeName)}`).join(', ')} (Bound).`,
    );
    facts.section('Placement', lines);
  });

  /** A pod from a committed executor PodTemplate, as the middleware builds it. */
  async function executorPod(asMiddleware: Kube, language: string): Promise<Obj> {
    const t = await asMiddleware.must<{ template: { metadata: Obj['metadata']; spec: Obj } }>(
      'GET',
      `/api/v1/namespaces/${ns().executor}/podtemplates/executor-${language}`,
    );
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...t.template.metadata, generateName: `executor-${language}-` },
      spec: t.template.spec,
    };
  }

  const tokens = new Map<string, string>();
  /** A real token of a ServiceAccount of the app namespace that a committed RoleBinding binds (TokenRequest API). */
  async function tokenOf(serviceAccount: string): Promise<string> {
    let token = tokens.get(serviceAccount);
    if (!token) {
      const sa = byKind('RoleBinding')
        .flatMap((b) => (b.subjects as { kind: string; name: string; namespace: string }[]) ?? [])
        .find((s) => s.kind === 'ServiceAccount' && s.namespace === ns().app && s.name === serviceAccount);
      expect(sa, `a RoleBinding for the ${serviceAccount} ServiceAccount`).toBeDefined();
      const r = await kube.must<{ status: { token: string } }>(
        'POST',
        `/api/v1/namespaces/${sa?.namespace}/serviceaccounts/${sa?.name}/token`,
        { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
      );
      token = r.status.token;
      tokens.set(serviceAccount, token);
    }
    return token;
  }
  /** The middleware's own credentials. */
  async function asMiddleware(): Promise<Kube> {
    const d = byKind('Deployment').find((o) => o.metadata?.name === 'middleware');
    const sa = (d?.spec as { template: { spec: { serviceAccountName: string } } }).template.spec.serviceAccountName;
    return kube.as(await tokenOf(sa));
  }
  /** The executor reaper's CronJob and its pod spec, as committed. */
  const reaperCronJob = () => {
    const cj = byKind('CronJob').find((o) => o.metadata?.name === 'executor-reaper');
    expect(cj, 'the committed executor-reaper CronJob').toBeDefined();
    const spec = cj?.spec as {
      jobTemplate: {
        metadata?: Obj['metadata'];
        spec: {
          template: { spec: { serviceAccountName: string; containers: { env: { name: string; value: string }[] }[] } };
        };
      };
    };
    return { object: cj as Obj, spec, pod: spec.jobTemplate.spec.template.spec };
  };
  const languages = () => Object.keys(twin.env.executors.images);

  it('at full scale places every pod and the executor quota refuses the next job', async () => {
    const mw = await asMiddleware();
    const who = await mw.must<{ status: { userInfo: { username: string } } }>(
      'POST',
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
    );
    // Deployments at their maximum (HPA maxReplicas), then a rollout whose new pods are held unready:
    // the surge stays open.
    const target = (w: Workload) => (w.kind === 'Deployment' ? (w.hpa?.max ?? w.replicas) : w.replicas);
    for (const w of workloads().filter((x) => x.kind === 'Deployment')) {
      await kube.must(
        'PATCH',
        `/apis/apps/v1/namespaces/${ns().app}/deployments/${w.name}/scale`,
        { spec: { replicas: target(w) } },
        'application/merge-patch+json',
      );
    }
    await waitFor('Deployments Ready at their maximum', () => workloadsReady(target), { timeoutMs: 90_000 });
    for (const w of workloads().filter((x) => x.kind === 'Deployment')) {
      await kube.must(
        'PATCH',
        `/apis/apps/v1/namespaces/${ns().app}/deployments/${w.name}`,
        { spec: { template: { metadata: { annotations: { [HOLD_ANNOTATION]: 'surge' } } } } },
        'application/strategic-merge-patch+json',
      );
    }
    const surgeTotal = (w: Workload) => target(w) + w.surge;
    await waitFor(
      'every rollout holding its surge, every pod bound to a node',
      async () => {
        const all = await pods(kube, ns().app);
        return workloads().every((w) => {
          const mine = all.filter((p) => matches(p.metadata.labels, w.selector) && !p.metadata.deletionTimestamp);
          return mine.length === surgeTotal(w) && mine.every((p) => p.spec.nodeName);
        });
      },
      { timeoutMs: 90_000 },
    ).catch(async (e) => {
      const pending = (await pods(kube, ns().app)).filter((p) => !p.spec.nodeName).map((p) => p.metadata.name);
      throw new Error(`${String(e)}; unscheduled: ${pending.join(', ')}`);
    });
    await sleep(1500); // the deployment controller would scale further now if it were going to
    const held = await pods(kube, ns().app);
    for (const w of workloads()) {
      expect(
        held.filter((p) => matches(p.metadata.labels, w.selector) && !p.metadata.deletionTimestamp).length,
        w.name,
      ).toBe(surgeTotal(w));
    }

    // One run of each CronJob, started by hand from its jobTemplate (`kubectl create job --from=cronjob/...`):
    // the twin suspends CronJobs, and capacity.ts counts one run.
    const cronJobs = byKind('CronJob');
    for (const cj of cronJobs) {
      const jt = (cj.spec as { jobTemplate: { metadata?: Obj['metadata']; spec: Obj } }).jobTemplate;
      await kube.must('POST', `/apis/batch/v1/namespaces/${ns().app}/jobs`, {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: {
          name: `${String(cj.metadata?.name)}-manual`,
          labels: jt.metadata?.labels ?? {},
          annotations: { 'cronjob.kubernetes.io/instantiate': 'manual' },
        },
        spec: jt.spec,
      });
    }
    const jobPods = async () =>
      (await pods(kube, ns().app)).filter((p) =>
        p.metadata.labels?.['batch.kubernetes.io/job-name']?.endsWith('-manual'),
      );
    await waitFor(
      'every CronJob run Running',
      async () => {
        const jp = await jobPods();
        return jp.length === cronJobs.length && jp.every((p) => isReady(p));
      },
      { timeoutMs: 60_000 },
    );

    // The executor quota, filled by the middleware's ServiceAccount from the committed templates.
    const quota = byKind('ResourceQuota').find((q) => q.metadata?.namespace === ns().executor);
    const quotaPods = Number((quota?.spec as { hard: { pods: string } }).hard.pods);
    let created = 0;
    let refusal = '';
    for (let i = 0; i <= quotaPods; i++) {
      const lang = languages()[i % languages().length] ?? '';
      const r = await mw.req('POST', `/api/v1/namespaces/${ns().executor}/pods`, await executorPod(mw, lang));
      if (r.status === 201) created++;
      else {
        refusal = `HTTP ${r.status}: ${r.message}`;
        break;
      }
    }
    expect(created).toBe(quotaPods);
    expect(refusal).toMatch(/^HTTP 403: .*exceeded quota: executor-quota/);
    await waitFor(
      'every executor pod Running',
      async () => {
        const ex = await pods(kube, ns().executor);
        return ex.length === quotaPods && ex.every(isReady);
      },
      { timeoutMs: 60_000 },
    );

    // The twin against src/inspect/capacity.ts.
    const allPods = [...(await pods(kube, ns().app)), ...(await pods(kube, ns().executor))].filter(
      (p) => !p.metadata.deletionTimestamp,
    );
    const allNodes = await nodes(kube);
    const unplaced = allPods.filter((p) => !p.spec.nodeName);
    expect(unplaced.map((p) => p.metadata.name)).toEqual([]);
    const report = capacityReport(twin.env, objects as unknown as Manifest[]);
    const sum = allPods.reduce(
      (a, p) => ({ cpu: a.cpu + podRequests(p).cpu, memory: a.memory + podRequests(p).memory }),
      { cpu: 0, memory: 0 },
    );
    const rows: string[] = [
      '| what | capacity.ts pods | twin pods placed | capacity.ts requests | twin requests |',
      '| --- | ---: | ---: | --- | --- |',
    ];
    const mismatches: string[] = [];
    for (const line of report.lines) {
      const [kind, name] = line.what.split(' ');
      const mine =
        kind === 'ResourceQuota'
          ? allPods.filter((p) => p.metadata.namespace === ns().executor)
          : kind === 'CronJob'
            ? allPods.filter(
                (p) =>
                  p.metadata.namespace === ns().app &&
                  p.metadata.labels?.['batch.kubernetes.io/job-name'] === `${name}-manual`,
              )
            : allPods.filter(
                (p) =>
                  p.metadata.namespace === ns().app &&
                  workloads().some((w) => w.name === name && matches(p.metadata.labels, w.selector)),
              );
      const req = mine.reduce(
        (a, p) => ({ cpu: a.cpu + podRequests(p).cpu, memory: a.memory + podRequests(p).memory }),
        { cpu: 0, memory: 0 },
      );
      rows.push(
        `| ${line.what} | ${line.pods} | ${mine.length} | ${formatCpu(line.total.cpu)} CPU, ${mi(line.total.memory)} | ${formatCpu(req.cpu)} CPU, ${mi(req.memory)} |`,
      );
      if (mine.length !== line.pods || req.cpu !== line.total.cpu || req.memory !== line.total.memory)
        mismatches.push(line.what);
    }
    const { perNode, perZone } = placement(allPods, allNodes);
    const perNodeCpu = new Map(allNodes.map((n) => [n.name, 0]));
    for (const p of allPods)
      perNodeCpu.set(p.spec.nodeName ?? '', (perNodeCpu.get(p.spec.nodeName ?? '') ?? 0) + podRequests(p).cpu);
    facts.section('Full scale', [
      `Deployments at HPA maximum with a rollout's surge held open; executor quota filled by ${who.status.userInfo.username} (TokenRequest token) from the committed PodTemplates.`,
      `- ${allPods.length} pods, all placed. Per node: ${fmtCounts(perNode)}${perZone.size ? `; per zone: ${fmtCounts(perZone)}` : ''}.`,
      `- CPU requested per node: ${[...perNodeCpu].map(([k, v]) => `${k}=${formatCpu(v)}`).join(' ')} (allocatable ${twin.env.cluster.nodeAllocatable.cpu} each).`,
      `- Executor pods created: ${created} of quota ${quotaPods}; pod ${created + 1} refused: "${refusal}".`,
      `- Requests in the twin: ${formatCpu(sum.cpu)} CPU, ${mi(sum.memory)}; capacity.ts: ${formatCpu(report.requested.cpu)} CPU, ${mi(report.requested.memory)} of ${formatCpu(report.capacity.cpu)} CPU, ${mi(report.capacity.memory)}.`,
      `- capacity.ts agrees with the twin: ${mismatches.length ? `NO, differs for ${mismatches.join(', ')}` : 'yes, line by line'}.`,
      '',
      ...rows,
    ]);
    expect(mismatches).toEqual([]);
    expect(sum.cpu).toBe(report.requested.cpu);
    expect(sum.memory).toBe(report.requested.memory);

    // Back to the committed state: no executors, no CronJob runs, no held rollout, Deployments at their minimum.
    for (const cj of cronJobs) {
      await kube.must(
        'DELETE',
        `/apis/batch/v1/namespaces/${ns().app}/jobs/${String(cj.metadata?.name)}-manual?propagationPolicy=Background`,
      );
    }
    await mw.must('DELETE', `/api/v1/namespaces/${ns().executor}/pods?gracePeriodSeconds=0`).catch(async () => {
      for (const p of await pods(kube, ns().executor))
        await mw.req('DELETE', `/api/v1/namespaces/${ns().executor}/pods/${p.metadata.name}`);
    });
    for (const w of workloads().filter((x) => x.kind === 'Deployment')) {
      await kube.must(
        'PATCH',
        `/apis/apps/v1/namespaces/${ns().app}/deployments/${w.name}`,
        [{ op: 'remove', path: `/spec/template/metadata/annotations/${HOLD_ANNOTATION.replace('/', '~1')}` }],
        'application/json-patch+json',
      );
      await kube.must(
        'PATCH',
        `/apis/apps/v1/namespaces/${ns().app}/deployments/${w.name}/scale`,
        { spec: { replicas: desired(w) } },
        'application/merge-patch+json',
      );
    }
    await waitFor(
      'back to the committed state',
      async () =>
        (await workloadsReady()) && (await pods(kube, ns().executor)).length === 0 && (await jobPods()).length === 0,
      { timeoutMs: 90_000 },
    );
    const afterDown = await pods(kube, ns().app);
    const nodesNow = await nodes(kube);
    facts.section('Full scale', [
      '',
      `After scaling back to the HPA minimum, pods per zone (the ReplicaSet controller picks which pods to delete without regard to topology spread): ${workloads()
        .filter((w) => w.kind === 'Deployment')
        .map(
          (w) =>
            `${w.name} ${
              fmtCounts(
                placement(
                  afterDown.filter((p) => matches(p.metadata.labels, w.selector)),
                  nodesNow,
                ).perZone,
              ) ||
              fmtCounts(
                placement(
                  afterDown.filter((p) => matches(p.metadata.labels, w.selector)),
                  nodesNow,
                ).perNode,
              )
            }`,
        )
        .join('; ')}.`,
    ]);
  });
  it('refuses executor pods that break the template, and says why', async () => {
    const mw = await asMiddleware();
    const lang = languages()[0] ?? '';
    type PodSpec = {
      containers: {
        image: string;
        securityContext: Record<string, unknown>;
        volumeMounts?: { name: string; mountPath: string }[];
      }[];
      volumes?: Record<string, unknown>[];
      activeDeadlineSeconds?: number;
      automountServiceAccountToken?: boolean;
    };
    const cases: { name: string; namespace?: string; change: (s: PodSpec) => void; expect: RegExp }[] = [
      {
        name: 'privileged',
        change: (s) => {
          const c = s.containers[0];
          if (c) c.securityContext = { ...c.securityContext, privileged: true, allowPrivilegeEscalation: true };
        },
        expect: /violates PodSecurity "restricted:v1\.\d+": .*privileged/,
      },
      {
        name: 'another image',
        change: (s) => {
          const c = s.containers[0];
          if (c) c.image = 'docker.io/library/busybox:1.36';
        },
        expect:
          /ValidatingAdmissionPolicy 'coderun-executor-guard' .*denied request: executor images must be exactly one of/,
      },
      {
        name: 'hostPath volume',
        change: (s) => {
          s.volumes = [...(s.volumes ?? []), { name: 'host', hostPath: { path: '/var/run' } }];
          s.containers[0]?.volumeMounts?.push({ name: 'host', mountPath: '/host' });
        },
        expect:
          /violates PodSecurity "restricted:v1\.\d+": restricted volume types \(volume "host" uses restricted volume type "hostPath"\)/,
      },
      {
        name: 'service-account token mount (automount)',
        change: (s) => {
          s.automountServiceAccountToken = true;
        },
        expect: /denied request: executor pods must set automountServiceAccountToken: false/,
      },
      {
        name: 'service-account token mount (projected volume)',
        change: (s) => {
          s.volumes = [
            ...(s.volumes ?? []),
            {
              name: 'token',
              projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3600 } }] },
            },
          ];
          s.containers[0]?.volumeMounts?.push({ name: 'token', mountPath: '/var/run/secrets/tokens' });
        },
        expect: /denied request: executor pods may not mount a service-account token/,
      },
      {
        name: 'no deadline',
        change: (s) => {
          delete s.activeDeadlineSeconds;
        },
        expect: /denied request: executor pods need activeDeadlineSeconds of at most \d+/,
      },
      {
        name: `another namespace (${ns().app})`,
        namespace: ns().app,
        change: () => undefined,
        expect:
          /User "system:serviceaccount:[^"]+:middleware" cannot create resource "pods" in API group "" in the namespace/,
      },
      {
        name: 'another namespace (default)',
        namespace: 'default',
        change: () => undefined,
        expect:
          /User "system:serviceaccount:[^"]+:middleware" cannot create resource "pods" in API group "" in the namespace "default"/,
      },
    ];
    // The unmodified template is admitted (so each refusal is the change's doing).
    const ok = await mw.req('POST', `/api/v1/namespaces/${ns().executor}/pods?dryRun=All`, await executorPod(mw, lang));
    expect(ok.status, ok.message).toBe(201);
    const lines = ['| executor pod | HTTP | refused by | message |', '| --- | ---: | --- | --- |'];
    const got: Record<string, string> = {};
    for (const c of cases) {
      const pod = await executorPod(mw, lang);
      c.change(pod.spec as unknown as PodSpec);
      const target = c.namespace ?? ns().executor;
      pod.metadata = { ...pod.metadata, namespace: target };
      const r = await mw.req('POST', `/api/v1/namespaces/${target}/pods?dryRun=All`, pod);
      got[c.name] = `${r.status}: ${r.message}`;
      const by = /PodSecurity/.test(r.message)
        ? 'Pod Security (restricted)'
        : /ValidatingAdmissionPolicy/.test(r.message)
          ? 'ValidatingAdmissionPolicy'
          : r.status === 403
            ? 'RBAC'
            : r.status === 201
              ? 'NOBODY (admitted)'
              : 'validation';
      lines.push(
        `| ${c.name} | ${r.status} | ${by} | ${(r.status === 201 ? 'admitted' : r.message).replace(/\|/g, '\\|')} |`,
      );
    }
    facts.section('Security: refused executor pods', lines);
    for (const c of cases) expect(got[c.name], c.name).toMatch(new RegExp(`^(403|422): .*${c.expect.source}`));
  });

  it('holds the executor guard at its limit and on updates: the deadline limit exactly, an image swap, an ephemeral container', async () => {
    const mw = await asMiddleware();
    const lang = languages()[0] ?? '';
    const limit = twin.env.executors.deadlineSeconds;
    const exe = ns().executor;
    const guard = (what: string) =>
      new RegExp(`ValidatingAdmissionPolicy 'coderun-executor-guard' .*denied request: ${what}`);
    const lines = ['| executor pod | HTTP | message |', '| --- | ---: | --- |'];
    const row = (what: string, r: { status: number; message: string }) =>
      lines.push(`| ${what} | ${r.status} | ${(r.status < 300 ? 'admitted' : r.message).replace(/\|/g, '\\|')} |`);
    // Created by the middleware with a deadline of exactly the limit, and one second more (dry run).
    const withDeadline = async (seconds: number) => {
      const pod = await executorPod(mw, lang);
      (pod.spec as { activeDeadlineSeconds?: number }).activeDeadlineSeconds = seconds;
      const r = await mw.req('POST', `/api/v1/namespaces/${exe}/pods?dryRun=All`, pod);
      row(`activeDeadlineSeconds ${seconds}`, r);
      return r;
    };
    const atLimit = await withDeadline(limit);
    expect(atLimit.status, atLimit.message).toBe(201);
    const above = await withDeadline(limit + 1);
    expect(`${above.status}: ${above.message}`).toMatch(
      new RegExp(
        `^(403|422): .*${guard(`executor pods need activeDeadlineSeconds of at most ${limit}(?!\\d)`).source}`,
      ),
    );
    // A real executor pod, then updates to it by the cluster admin (admission binds admins too).
    const created = await mw.must<Obj>('POST', `/api/v1/namespaces/${exe}/pods`, await executorPod(mw, lang));
    const name = String(created.metadata?.name);
    try {
      const spec = created.spec as { containers: { name: string; image: string }[] };
      const first = spec.containers[0]?.name ?? '';
      const swap = await kube.req(
        'PATCH',
        `/api/v1/namespaces/${exe}/pods/${name}?dryRun=All`,
        { spec: { containers: [{ name: first, image: 'docker.io/library/busybox:1.36' }] } },
        'application/strategic-merge-patch+json',
      );
      row('image changed by an update (PATCH pods)', swap);
      expect(`${swap.status}: ${swap.message}`).toMatch(
        new RegExp(`^(403|422): .*${guard('executor images must be exactly one of').source}`),
      );
      // What `kubectl debug` sends: the ephemeralcontainers subresource. The debug container meets
      // Pod Security (restricted), so only the guard can refuse it.
      const debug = await kube.req(
        'PATCH',
        `/api/v1/namespaces/${exe}/pods/${name}/ephemeralcontainers?dryRun=All`,
        {
          spec: {
            ephemeralContainers: [
              {
                name: 'debugger',
                image: 'docker.io/library/busybox:1.36',
                command: ['sh'],
                stdin: true,
                tty: true,
                targetContainerName: first,
                securityContext: {
                  allowPrivilegeEscalation: false,
                  runAsNonRoot: true,
                  runAsUser: 65534,
                  capabilities: { drop: ['ALL'] },
                  seccompProfile: { type: 'RuntimeDefault' },
                },
              },
            ],
          },
        },
        'application/strategic-merge-patch+json',
      );
      row('ephemeral container of another image (PATCH pods/ephemeralcontainers, as kubectl debug)', debug);
      expect(`${debug.status}: ${debug.message}`).toMatch(
        new RegExp(`^(403|422): .*${guard('executor pods may not get ephemeral \\(debug\\) containers').source}`),
      );
    } finally {
      await kube.req('DELETE', `/api/v1/namespaces/${exe}/pods/${name}?gracePeriodSeconds=0`);
      await waitFor(
        `executor pod ${name} gone`,
        async () => (await kube.req('GET', `/api/v1/namespaces/${exe}/pods/${name}`)).status === 404,
        { timeoutMs: 60_000 },
      );
    }
    facts.section('Security: the executor guard at its limit and on updates', lines);
  });

  it('access matrix: the middleware may do exactly what its Role allows, nobody else creates pods or reads Secrets', async () => {
    type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
    const roles = byKind('Role');
    const bindings = byKind('RoleBinding');
    const accounts = new Set<string>();
    for (const sa of byKind('ServiceAccount')) accounts.add(`${sa.metadata?.namespace}/${sa.metadata?.name}`);
    for (const n of [ns().app, ns().executor]) accounts.add(`${n}/default`);
    const checks: { group: string; resource: string; sub?: string; verb: string }[] = [];
    for (const verb of ['create', 'get', 'list', 'watch', 'update', 'patch', 'delete', 'deletecollection']) {
      checks.push({ group: '', resource: 'pods', verb });
    }
    checks.push(
      { group: '', resource: 'pods', sub: 'exec', verb: 'create' },
      { group: '', resource: 'pods', sub: 'log', verb: 'get' },
      { group: '', resource: 'pods', sub: 'eviction', verb: 'create' },
      { group: '', resource: 'pods', sub: 'ephemeralcontainers', verb: 'patch' },
      { group: '', resource: 'podtemplates', verb: 'get' },
      { group: '', resource: 'podtemplates', verb: 'list' },
      { group: '', resource: 'podtemplates', verb: 'update' },
      { group: '', resource: 'secrets', verb: 'get' },
      { group: '', resource: 'secrets', verb: 'list' },
      { group: '', resource: 'secrets', verb: 'watch' },
      { group: '', resource: 'configmaps', verb: 'get' },
      { group: '', resource: 'serviceaccounts', sub: 'token', verb: 'create' },
      { group: '', resource: 'resourcequotas', verb: 'update' },
      { group: 'batch', resource: 'jobs', verb: 'create' },
      { group: 'apps', resource: 'deployments', verb: 'create' },
      { group: 'rbac.authorization.k8s.io', resource: 'roles', verb: 'create' },
      { group: 'rbac.authorization.k8s.io', resource: 'rolebindings', verb: 'create' },
    );
    /** What the committed Roles and RoleBindings grant `sa` in `namespace` (no ClusterRoles are rendered). */
    const expected = (sa: string, namespace: string, c: (typeof checks)[number]) => {
      const [saNs, saName] = sa.split('/');
      const resource = c.sub ? `${c.resource}/${c.sub}` : c.resource;
      return bindings.some((b) => {
        if (b.metadata?.namespace !== namespace) return false;
        const subjects = (b.subjects as { kind: string; name: string; namespace?: string }[]) ?? [];
        if (
          !subjects.some((s) => s.kind === 'ServiceAccount' && s.name === saName && (s.namespace ?? namespace) === saNs)
        )
          return false;
        const ref = b.roleRef as { kind: string; name: string };
        const role = roles.find(
          (r) => r.metadata?.namespace === namespace && r.metadata?.name === ref.name && ref.kind === 'Role',
        );
        return ((role?.rules as Rule[]) ?? []).some(
          (r) =>
            (r.apiGroups.includes(c.group) || r.apiGroups.includes('*')) &&
            (r.resources.includes(resource) || r.resources.includes('*')) &&
            (r.verbs.includes(c.verb) || r.verbs.includes('*')),
        );
      });
    };
    const namespaces = [ns().executor, ns().app, 'default', 'kube-system', ''];
    const wrong: string[] = [];
    const lines = ['| ServiceAccount | namespace | allowed (from real SubjectAccessReviews) |', '| --- | --- | --- |'];
    let reviews = 0;
    for (const sa of [...accounts].sort()) {
      const [saNs, saName] = sa.split('/');
      for (const namespace of namespaces) {
        const allowed: string[] = [];
        await Promise.all(
          checks.map(async (c) => {
            const r = await kube.must<{ status: { allowed: boolean } }>(
              'POST',
              '/apis/authorization.k8s.io/v1/subjectaccessreviews',
              {
                apiVersion: 'authorization.k8s.io/v1',
                kind: 'SubjectAccessReview',
                spec: {
                  user: `system:serviceaccount:${saNs}:${saName}`,
                  groups: ['system:serviceaccounts', `system:serviceaccounts:${saNs}`, 'system:authenticated'],
                  resourceAttributes: {
                    namespace,
                    group: c.group,
                    resource: c.resource,
                    ...(c.sub ? { subresource: c.sub } : {}),
                    verb: c.verb,
                  },
                },
              },
            );
            reviews++;
            const what = `${c.verb} ${c.resource}${c.sub ? `/${c.sub}` : ''}`;
            if (r.status.allowed) allowed.push(what);
            if (r.status.allowed !== (namespace !== '' && expected(sa, namespace, c))) {
              wrong.push(
                `${sa} in ${namespace || '(all namespaces)'}: ${what} is ${r.status.allowed ? 'allowed' : 'denied'}`,
              );
            }
          }),
        );
        if (allowed.length || namespace === ns().executor) {
          lines.push(`| ${sa} | ${namespace || '(all)'} | ${allowed.sort().join(', ') || 'nothing'} |`);
        }
      }
    }
    lines.push(
      '',
      `${reviews} SubjectAccessReviews (${checks.length} verb/resource pairs × ${namespaces.length} namespaces incl. cluster-wide × ${accounts.size} ServiceAccounts); rows omitted where nothing is allowed.`,
      `Pod creators: ${[...accounts].filter((sa) => namespaces.some((n) => n && expected(sa, n, { group: '', resource: 'pods', verb: 'create' }))).join(', ')} (in ${ns().executor} only). Secret readers: none.`,
    );
    facts.section('Access matrix', lines);
    expect(wrong).toEqual([]);
  });
  it('finished executor pods leave the quota, and the executor reaper (the committed script) deletes the old ones', async () => {
    const mw = await asMiddleware();
    const exe = ns().executor;
    const quota = byKind('ResourceQuota').find((q) => q.metadata?.namespace === exe);
    const quotaPods = Number((quota?.spec as { hard: { pods: string } }).hard.pods);
    /** Creates an executor pod as the middleware, waiting while the quota controller has not yet freed room. */
    const launch = async (lang: string): Promise<string> => {
      const body = await executorPod(mw, lang);
      const created = await waitFor(
        'the quota admits the next executor pod',
        async () => {
          const r = await mw.req('POST', `/api/v1/namespaces/${exe}/pods`, body);
          if (r.status === 201) return r.body;
          if (r.status === 403 && /exceeded quota/.test(r.message)) return undefined;
          throw new Error(`HTTP ${r.status}: ${r.message}`);
        },
        { timeoutMs: 30_000 },
      );
      return String(created.metadata?.name);
    };
    const pod = (n: string) =>
      kube.must<Obj & { status: Record<string, unknown> }>('GET', `/api/v1/namespaces/${exe}/pods/${n}`);
    const running = async (n: string) => (await pod(n)).status.phase === 'Running';
    const finish = async (names: string[]) => {
      // The jobs end: kwok (standing in for the kubelet) reports exit code 0.
      for (const n of names) {
        await waitFor(`${n} Running`, () => running(n), { timeoutMs: 30_000 });
        await kube.must(
          'PATCH',
          `/api/v1/namespaces/${exe}/pods/${n}`,
          { metadata: { annotations: { [FINISHED_ANNOTATION]: 'exit-0' } } },
          'application/merge-patch+json',
        );
      }
      await waitFor(
        'the executor pods Succeeded',
        async () => (await Promise.all(names.map(pod))).every((p) => p.status.phase === 'Succeeded'),
        { timeoutMs: 60_000 },
      );
    };

    // A full quota of jobs, all finished: they leave the quota, the next job is admitted.
    const first: string[] = [];
    for (let i = 0; i < quotaPods; i++) first.push(await launch(languages()[i % languages().length] ?? ''));
    await finish(first);
    await waitFor(
      'the quota freed',
      async () => {
        const q = await kube.must<{ status: { used?: { pods?: string } } }>(
          'GET',
          `/api/v1/namespaces/${exe}/resourcequotas/${quota?.metadata?.name}`,
        );
        return q.status.used?.pods === '0';
      },
      { timeoutMs: 30_000 },
    );
    const next = await mw.req(
      'POST',
      `/api/v1/namespaces/${exe}/pods?dryRun=All`,
      await executorPod(mw, languages()[0] ?? ''),
    );
    expect(next.status, next.message).toBe(201);

    // Their ages, as the kubelet would have reported them: all but one finished long ago.
    const { pod: reaperPod } = reaperCronJob();
    const reaperEnv = Object.fromEntries(reaperPod.containers[0]?.env.map((e) => [e.name, e.value]) ?? []);
    const threshold = Number(reaperEnv.REAPER_MIN_AGE_SECONDS);
    expect(threshold).toBeGreaterThan(0);
    const ago = (seconds: number) => new Date(Date.now() - seconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
    const oldSucceeded = first.slice(0, -1);
    const recentSucceeded = first.slice(-1);
    for (const n of oldSucceeded) {
      const p = await pod(n);
      const st = p.status as {
        startTime?: string;
        containerStatuses?: { state: { terminated?: Record<string, unknown> } }[];
      };
      st.startTime = ago(threshold * 2 + 60);
      for (const c of st.containerStatuses ?? []) {
        if (c.state.terminated)
          c.state.terminated = {
            ...c.state.terminated,
            startedAt: ago(threshold * 2 + 30),
            finishedAt: ago(threshold * 2),
          };
      }
      await kube.must('PUT', `/api/v1/namespaces/${exe}/pods/${n}/status`, p);
    }
    // One job that hit its deadline long ago (phase Failed, DeadlineExceeded, no container end time:
    // the script falls back to startTime + activeDeadlineSeconds), and one still running.
    const failed = await launch(languages()[0] ?? '');
    const stillRunning = await launch(languages()[1 % languages().length] ?? '');
    await waitFor(`${failed} Running`, () => running(failed), { timeoutMs: 30_000 });
    {
      const p = await pod(failed);
      const deadline = Number((p.spec as { activeDeadlineSeconds?: number }).activeDeadlineSeconds ?? 0);
      p.status = {
        ...p.status,
        phase: 'Failed',
        reason: 'DeadlineExceeded',
        message: 'Pod was active on the node longer than the specified deadline',
        startTime: ago(threshold * 2 + deadline),
        conditions: [],
        containerStatuses: [],
      };
      await kube.must('PUT', `/api/v1/namespaces/${exe}/pods/${failed}/status`, p);
    }
    await waitFor(`${stillRunning} Running`, () => running(stillRunning), { timeoutMs: 30_000 });

    // The reaper, as its CronJob runs it: the script from the committed ConfigMap, the environment of the
    // committed container, the reaper ServiceAccount's own token; the API server and CA of the twin.
    const cm = byKind('ConfigMap').find((o) => o.metadata?.name === 'executor-reaper');
    const script = (cm?.data as Record<string, string> | undefined)?.['reap.py'];
    expect(script, 'dist/<env> ConfigMap executor-reaper with reap.py').toBeTruthy();
    const scriptFile = join(dir, 'reap.py');
    writeFileSync(scriptFile, script ?? '');
    const reaperToken = await tokenOf(reaperPod.serviceAccountName);
    const reap = () => {
      const t0 = Date.now();
      const r = spawnSync('python3', [scriptFile], {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          ...reaperEnv,
          REAPER_API_URL: twin.server,
          REAPER_TOKEN: reaperToken,
          REAPER_CA_FILE: twin.credentials.caCert,
        },
        encoding: 'utf8',
        timeout: 60_000,
      });
      return { status: r.status, out: `${r.stdout}${r.stderr}`, ms: Date.now() - t0 };
    };
    const run1 = reap();
    expect(run1.status, run1.out).toBe(0);
    const gone = [...oldSucceeded, failed];
    await waitFor(
      'the old finished pods gone',
      async () => {
        const left = (await pods(kube, exe)).map((p) => p.metadata.name);
        return gone.every((n) => !left.includes(n));
      },
      { timeoutMs: 30_000 },
    );
    const left = (await pods(kube, exe)).map((p) => p.metadata.name).sort();
    expect(left).toEqual([...recentSucceeded, stillRunning].sort());
    const lines1 = run1.out.trim().split('\n');
    for (const n of gone)
      expect(
        lines1.some((l) => / deleted pod /.test(l) && l.includes(`/${n} `)),
        n,
      ).toBe(true);
    for (const n of recentSucceeded)
      expect(
        lines1.some((l) => / kept pod /.test(l) && l.includes(`/${n} `)),
        n,
      ).toBe(true);
    expect(lines1.some((l) => l.includes(stillRunning))).toBe(false);
    expect(lines1.at(-1)).toMatch(new RegExp(`done: ${gone.length} deleted, ${recentSucceeded.length} kept, 0 errors`));
    // Idempotent: a second run finds nothing old.
    const run2 = reap();
    expect(run2.status, run2.out).toBe(0);
    expect(run2.out).toMatch(new RegExp(`done: 0 deleted, ${recentSucceeded.length} kept, 0 errors`));

    // The reaper's token can do nothing else.
    const reaper = kube.as(reaperToken);
    const sar = async (namespace: string, verb: string, resource: string) =>
      (
        await reaper.must<{ status: { allowed: boolean } }>(
          'POST',
          '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
          {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: { resourceAttributes: { namespace, verb, resource } },
          },
        )
      ).status.allowed;
    const denied: string[] = [];
    const allowed: string[] = [];
    for (const [namespace, verb, resource] of [
      [exe, 'get', 'pods'],
      [exe, 'list', 'pods'],
      [exe, 'delete', 'pods'],
      [exe, 'create', 'pods'],
      [exe, 'watch', 'pods'],
      [exe, 'patch', 'pods'],
      [exe, 'deletecollection', 'pods'],
      [exe, 'get', 'secrets'],
      [exe, 'list', 'podtemplates'],
      [ns().app, 'delete', 'pods'],
      [ns().app, 'list', 'pods'],
      [ns().app, 'get', 'secrets'],
      ['kube-system', 'delete', 'pods'],
    ] as const) {
      ((await sar(namespace, verb, resource)) ? allowed : denied).push(`${verb} ${resource} in ${namespace}`);
    }
    expect(allowed.sort()).toEqual([`delete pods in ${exe}`, `get pods in ${exe}`, `list pods in ${exe}`]);
    const create = await reaper.req(
      'POST',
      `/api/v1/namespaces/${exe}/pods?dryRun=All`,
      await executorPod(mw, languages()[0] ?? ''),
    );
    expect(create.status).toBe(403);
    const appPod = (await pods(kube, ns().app))[0]?.metadata.name ?? '';
    const delApp = await reaper.req('DELETE', `/api/v1/namespaces/${ns().app}/pods/${appPod}?dryRun=All`);
    expect(delApp.status).toBe(403);
    expect(delApp.message).toMatch(/cannot delete resource "pods" in API group "" in the namespace/);

    facts.section('Finished executor pods and the reaper', [
      `${first.length} executor pods created by the middleware's ServiceAccount and completed (phase Succeeded): the quota's used pods went back to 0 and the next job was admitted. Nothing else removes them: the middleware does not watch its pods, and kube-controller-manager's terminated-pod GC starts only above --terminated-pod-gc-threshold (12500 cluster-wide by default).`,
      '',
      `The executor reaper, run once as its CronJob would run it (CronJobs are suspended in the twin so that none starts at a random moment): \`python3 reap.py\` with the script of the committed ConfigMap (dist/${envName}/executor-reaper/configmap-executor-reaper.yaml), the committed container's environment (threshold ${threshold} s, selector \`${reaperEnv.REAPER_LABEL_SELECTOR}\`), a TokenRequest token of ServiceAccount ${ns().app}/${reaperPod.serviceAccountName} and the twin's CA.`,
      `- Before: ${oldSucceeded.length} Succeeded ${threshold * 2} s ago, ${recentSucceeded.length} Succeeded just now, 1 Failed (DeadlineExceeded, no container end time) started ${threshold * 2} s + its deadline ago, 1 Running.`,
      `- Run 1 (${run1.ms} ms, exit ${run1.status}): deleted ${gone.length} (${gone.join(', ')}), kept ${recentSucceeded.length} recent (${recentSucceeded.join(', ')}); the Running pod was not listed. Left: ${left.join(', ')}.`,
      `- Run 2 (${run2.ms} ms, exit ${run2.status}): "${run2.out.trim().split('\n').at(-1)?.replace(/^\S+ /, '') ?? ''}".`,
      `- The reaper's token (SelfSubjectAccessReviews): allowed ${allowed.sort().join(', ')}; denied ${denied.join(', ')}. A real create of an executor pod: HTTP ${create.status}; a real delete of pod ${appPod} in ${ns().app}: HTTP ${delApp.status} ("${delApp.message}").`,
      '',
      'Run 1 log:',
      '',
      ...lines1.map((l) => `    ${l}`),
    ]);
    for (const n of [...recentSucceeded, stillRunning]) await mw.req('DELETE', `/api/v1/namespaces/${exe}/pods/${n}`);
    await waitFor('executor namespace empty', async () => (await pods(kube, exe)).length === 0, { timeoutMs: 30_000 });
  });
  /** Drills run where losing a node or zone can be survived: zones declared and replicated services. */
  const drills = () => twin.env.cluster.zones.length > 1 && workloads().some((w) => desired(w) > 1);

  /** Ready pods per PDB right now, and what each PDB demands. */
  async function pdbHealth() {
    const all = await pods(kube, ns().app);
    return pdbs().map((p) => {
      const w = workloads().find((x) => matches(x.selector, p.selector) || matches(p.selector, x.selector));
      const expected = w ? desired(w) : 0;
      const ready = all.filter((x) => matches(x.metadata.labels, p.selector) && isReady(x)).length;
      return { name: p.name, ready, expected, minimum: pdbMinimum(p, expected) };
    });
  }

  it('drill: draining a node through the eviction API respects every PodDisruptionBudget', async (ctx) => {
    if (!drills()) {
      facts.section('Drills', [
        `Not run: ${envName} declares ${twin.env.cluster.zones.length} zone(s); drills need zones and replicated services.`,
      ]);
      ctx.skip();
    }
    // Start from a fresh rollout (as after a sync): scale-downs earlier in the suite may have left
    // Deployments unevenly spread, which the scheduler never corrects.
    for (const w of workloads().filter((x) => x.kind === 'Deployment')) {
      await kube.must(
        'PATCH',
        `/apis/apps/v1/namespaces/${ns().app}/deployments/${w.name}`,
        {
          spec: {
            template: { metadata: { annotations: { 'twin.coderun.dev/restartedAt': new Date().toISOString() } } },
          },
        },
        'application/strategic-merge-patch+json',
      );
    }
    await waitFor(
      'fresh rollout Ready',
      async () =>
        (await workloadsReady()) &&
        (await pods(kube, ns().app)).length === workloads().reduce((a, w) => a + desired(w), 0),
      { timeoutMs: 90_000 },
    );
    const before = await pods(kube, ns().app);
    const perNode = placement(before, await nodes(kube)).perNode;
    const node = [...perNode].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
    const victims = before.filter((p) => p.spec.nodeName === node);
    await kube.must(
      'PATCH',
      `/api/v1/nodes/${node}`,
      { spec: { unschedulable: true } },
      'application/merge-patch+json',
    );
    const lowest = new Map<string, { ready: number; minimum: number }>();
    let watching = true;
    const monitor = (async () => {
      while (watching) {
        for (const h of await pdbHealth()) {
          const seen = lowest.get(h.name);
          if (!seen || h.ready < seen.ready) lowest.set(h.name, { ready: h.ready, minimum: h.minimum });
        }
        await sleep(50);
      }
    })();
    const refusals: string[] = [];
    const t0 = Date.now();
    // Every pod of the node at once, retried on 429 as `kubectl drain` does.
    await Promise.all(
      victims.map(async (p) => {
        for (;;) {
          const r = await kube.req(
            'POST',
            `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}/eviction`,
            {
              apiVersion: 'policy/v1',
              kind: 'Eviction',
              metadata: { name: p.metadata.name, namespace: p.metadata.namespace },
            },
          );
          if (r.status === 201 || r.status === 200 || r.status === 404) return;
          if (r.status !== 429) throw new Error(`eviction of ${p.metadata.name}: HTTP ${r.status}: ${r.message}`);
          refusals.push(`${p.metadata.name}: ${r.message}`);
          if (Date.now() - t0 > 60_000)
            throw new Error(`eviction of ${p.metadata.name} still refused after 60 s: ${r.message}`);
          await sleep(300);
        }
      }),
    );
    await waitFor(
      'every workload Ready again off the drained node',
      async () => (await workloadsReady()) && (await pods(kube, ns().app)).every((p) => p.spec.nodeName !== node),
      { timeoutMs: 90_000 },
    );
    watching = false;
    await monitor;
    const drainSeconds = ((Date.now() - t0) / 1000).toFixed(1);
    await kube.must(
      'PATCH',
      `/api/v1/nodes/${node}`,
      { spec: { unschedulable: false } },
      'application/merge-patch+json',
    );
    const after = await pods(kube, ns().app);
    const moved = victims.map((v) => {
      const w = workloadOf(v as Pod);
      return `${v.metadata.name} (${w})`;
    });
    facts.section('Drills', [
      `**Drain** of ${node} (${victims.length} pods: ${moved.join(', ')}) through the eviction API: done in ${drainSeconds} s, ${refusals.length} eviction(s) refused (HTTP 429) and retried.`,
      ...(refusals.length ? [`- first refusal: "${refusals[0]}"`] : []),
      `- lowest Ready count per PDB during the drain: ${[...lowest].map(([k, v]) => `${k} ${v.ready} (PDB demands ${v.minimum})`).join(', ')}.`,
      `- afterwards per node: ${fmtCounts(placement(after, await nodes(kube)).perNode)}.`,
    ]);
    for (const [k, v] of lowest) expect(v.ready, `PDB ${k} during the drain`).toBeGreaterThanOrEqual(v.minimum);
  });

  it('drill: after losing a whole zone every service keeps its PDB minimum Ready and NATS keeps quorum', async (ctx) => {
    if (!drills()) ctx.skip();
    await waitFor('committed state', () => workloadsReady(), { timeoutMs: 60_000 });
    const allNodes = await nodes(kube);
    const zone = twin.env.cluster.zones[0] ?? '';
    const lost = allNodes.filter((n) => n.zone === zone).map((n) => n.name);
    const t0 = Date.now();
    await twin.loseGroup(twin.groupOf(zone));
    // The node lifecycle controller notices the lapsed leases and marks the zone's pods not Ready.
    await waitFor(
      `the nodes of ${zone} NotReady and their pods not Ready`,
      async () => {
        const ns2 = await nodes(kube);
        if (ns2.some((n) => lost.includes(n.name) && n.ready)) return false;
        const on = (await pods(kube, ns().app)).filter((p) => lost.includes(p.spec.nodeName ?? ''));
        return on.every((p) => !isReady(p));
      },
      { timeoutMs: 60_000 },
    );
    const noticed = ((Date.now() - t0) / 1000).toFixed(1);
    const health = await pdbHealth();
    const nats = workloads().find((w) => w.kind === 'StatefulSet');
    const natsReady = nats
      ? (await pods(kube, ns().app)).filter((p) => matches(p.metadata.labels, nats.selector) && isReady(p)).length
      : 0;
    const quorum = nats ? Math.floor(desired(nats) / 2) + 1 : 0;
    facts.section('Drills', [
      `**Zone loss**: kwok for ${zone} (${lost.join(', ')}) stopped; the controller manager marked the nodes NotReady and their pods not Ready after ${noticed} s.`,
      ...health.map(
        (h) =>
          `- ${h.name}: ${h.ready} of ${h.expected} Ready (PDB demands ${h.minimum}) ${h.ready >= h.minimum ? 'OK' : 'BELOW'}`,
      ),
      ...(nats
        ? [
            `- NATS: ${natsReady} of ${desired(nats)} Ready, quorum ${quorum}: ${natsReady >= quorum ? 'kept' : 'LOST'}.`,
          ]
        : []),
    ]);
    for (const h of health) expect(h.ready, `${h.name} after losing ${zone}`).toBeGreaterThanOrEqual(h.minimum);
    if (nats) expect(natsReady).toBeGreaterThanOrEqual(quorum);
  });
});
