/**
 * Cluster suite scenario: the real metrics-server (v0.8.0) serves the usage kwok simulates for
 * every platform pod, scraped from kwok's kubelet endpoints on loopback; the real HPA controller
 * scales each committed HorizontalPodAutoscaler's Deployment out to its maximum when that
 * Deployment's simulated CPU rises above the target, every pod placed within the capacity of
 * src/inspect/capacity.ts, and back in to its minimum when it falls. Only the HPAs' scale-down
 * windows are shortened, for the test, and put back as committed. On the environment's shared twin
 * (./scenario.ts); facts go to .build/twin-<env>-autoscaling.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { capacityReport } from '../../../src/inspect/capacity';
import type { Manifest } from '../../../src/model/objects';
import { parseCpu, parseMemory } from '../../../src/model/quantity';
import { waitFor } from '../../../tools/harness/process';
import { METRICS_APISERVICE } from '../../../tools/harness/twin/addons';
import { DEFAULT_SHARE, setLoad, type LoadRule } from '../../../tools/harness/twin/load';
import { isReady, matches, nodes, pods } from './cluster';
import { inSteps, twinScenario, type TwinScenario } from './scenario';

/** Share of its requests each pod of a loaded Deployment uses: far above every committed CPU target. */
const HIGH_SHARE = 3;
/**
 * Share for the way back in: far below every target. (At DEFAULT_SHARE an HPA can stop above its
 * minimum, because it rounds the desired count up: ceil(3 × 50 / 70) = 3.)
 */
const LOW_SHARE = 0.1;
const LOOPBACK = /^127\.\d+\.\d+\.\d+$/;
/** Time limit of the HPA test: two rounds of scraping, syncing and scaling, plus the way back. */
const HPA_TEST_MS = 420_000;

/** Millicores of a quantity as the metrics API prints it (n, u, m or cores). */
function millicores(q: string): number {
  const m = /^([0-9.]+)(n|u|m|)$/.exec(q);
  if (!m) throw new Error(`'${q}' is not a CPU quantity`);
  const scale = { n: 1e-6, u: 1e-3, m: 1, '': 1000 }[m[2] as 'n' | 'u' | 'm' | ''];
  return Number(m[1]) * scale;
}

interface Hpa {
  readonly name: string;
  readonly object: Manifest;
  readonly target: string;
  readonly min: number;
  readonly max: number;
  readonly cpuTarget: number;
}

function hpas(s: TwinScenario): Hpa[] {
  return s.byKind('HorizontalPodAutoscaler').map((o) => {
    const spec = o.spec as {
      minReplicas?: number;
      maxReplicas: number;
      scaleTargetRef: { name: string };
      metrics?: { resource?: { name: string; target: { averageUtilization?: number } } }[];
    };
    const cpu = (spec.metrics ?? []).find((m) => m.resource?.name === 'cpu')?.resource?.target.averageUtilization;
    return {
      name: o.metadata.name,
      object: o,
      target: spec.scaleTargetRef.name,
      min: spec.minReplicas ?? 1,
      max: spec.maxReplicas,
      cpuTarget: cpu ?? 0,
    };
  });
}

interface PodMetrics {
  metadata: { name: string; namespace: string };
  containers: { name: string; usage: { cpu: string; memory: string } }[];
}

export const autoscalingScenario = twinScenario('autoscaling', (s) => {
  it('metrics-server serves the usage kwok simulates for every platform pod, scraped on loopback', async () => {
    await s.committedState();
    const svc = await s.kube.must<{ status: { conditions: { type: string; status: string }[] } }>(
      'GET',
      `/apis/apiregistration.k8s.io/v1/apiservices/${METRICS_APISERVICE}`,
    );
    expect(svc.status.conditions.find((c) => c.type === 'Available')?.status).toBe('True');
    // Everything metrics-server dials: each node's InternalIP at the port in its status.
    const allNodes = await s.kube.list<{
      metadata: { name: string; annotations?: Record<string, string> };
      status: {
        addresses: { type: string; address: string }[];
        daemonEndpoints: { kubeletEndpoint: { Port: number } };
      };
    }>('v1', 'Node');
    const endpoints = allNodes.map((n) => ({
      node: n.metadata.name,
      ip: n.status.addresses.find((a) => a.type === 'InternalIP')?.address ?? '',
      port: n.status.daemonEndpoints.kubeletEndpoint.Port,
      path: n.metadata.annotations?.['metrics.k8s.io/resource-metrics-path'] ?? '',
    }));
    for (const e of endpoints) {
      expect(e.ip, `${e.node} InternalIP`).toMatch(LOOPBACK);
      expect(e.port, `${e.node} kubelet port`).toBeGreaterThan(0);
    }
    // Every Running platform pod has metrics, each container at the default share of its requests.
    const app = s.ns().app;
    let last = '';
    const served = await waitFor(
      'pod metrics for every platform pod',
      async () => {
        const running = (await pods(s.kube, app)).filter(isReady);
        const r = await s.kube.req<{ items: PodMetrics[] }>(
          'GET',
          `/apis/metrics.k8s.io/v1beta1/namespaces/${app}/pods`,
        );
        if (r.status !== 200) {
          last = `HTTP ${r.status}: ${r.message}`;
          return undefined;
        }
        const have = new Set(r.body.items.map((m) => m.metadata.name));
        const missing = running.filter((p) => !have.has(p.metadata.name)).map((p) => p.metadata.name);
        last = `missing: ${missing.join(', ')}`;
        return missing.length === 0 && running.length > 0 ? { running, metrics: r.body.items } : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}; last: ${last}`);
    });
    const lines: string[] = [];
    for (const p of served.running) {
      const m = served.metrics.find((x) => x.metadata.name === p.metadata.name);
      for (const c of p.spec.containers) {
        const usage = m?.containers.find((x) => x.name === c.name)?.usage;
        const reqCpu = parseCpu(String(c.resources?.requests?.cpu ?? '0'));
        const reqMem = parseMemory(String(c.resources?.requests?.memory ?? '0'));
        expect(usage, `${p.metadata.name}/${c.name} usage`).toBeDefined();
        // CPU is a rate of kwok's cumulative counter over two scrapes: within 20% of the share.
        expect(millicores(String(usage?.cpu))).toBeGreaterThanOrEqual(reqCpu * DEFAULT_SHARE * 0.8);
        expect(millicores(String(usage?.cpu))).toBeLessThanOrEqual(reqCpu * DEFAULT_SHARE * 1.2 + 1);
        expect(parseMemory(String(usage?.memory))).toBeCloseTo(reqMem * DEFAULT_SHARE, -6);
        if (lines.length < 4) {
          lines.push(
            `- ${p.metadata.name}/${c.name}: cpu ${usage?.cpu} of ${c.resources?.requests?.cpu} requested, memory ${usage?.memory} of ${c.resources?.requests?.memory}`,
          );
        }
      }
    }
    s.facts.section('Metrics API (the real metrics-server v0.8.0)', [
      `APIService ${METRICS_APISERVICE} Available. metrics-server scrapes kwok's kubelet endpoints: ${endpoints
        .map((e) => `${e.node} https://${e.ip}:${e.port}${e.path}`)
        .join(', ')} (all on loopback, asserted).`,
      `Every one of the ${served.running.length} Ready platform pods has metrics; each container uses ${DEFAULT_SHARE * 100}% of its requests (kwok's ClusterResourceUsage twin-load), CPU within 20% (a rate over two scrapes), for example:`,
      ...lines,
    ]);
  });

  it('no process of the twin tried to reach an address outside loopback (its logs)', () => {
    // The suite runs in a network namespace with loopback only, where a dial anywhere else fails at
    // once ("network is unreachable"); every program logs a failed dial with its address.
    const offenders: string[] = [];
    const dialled = new Set<string>();
    for (const p of s.twin.procs) {
      const log = existsSync(p.log) ? readFileSync(p.log, 'utf8') : '';
      for (const m of log.matchAll(/(?:dial tcp|connect to|Get "https?:\/\/)\[?(\d+\.\d+\.\d+\.\d+)/g)) {
        dialled.add(String(m[1]));
        if (!LOOPBACK.test(String(m[1]))) offenders.push(`${p.name}: ${m[0]}`);
      }
      for (const line of log.split('\n')) {
        if (/network is unreachable|no route to host/i.test(line)) offenders.push(`${p.name}: ${line.slice(0, 300)}`);
      }
    }
    expect(offenders).toEqual([]);
    s.facts.section('Loopback only', [
      `The logs of ${s.twin.procs.map((p) => p.name).join(', ')} name no address outside 127.0.0.0/8 and no unreachable network${dialled.size ? ` (addresses named in them: ${[...dialled].sort().join(', ')})` : ''}.`,
    ]);
  });

  const list = hpas(s);
  if (list.length === 0) {
    const why = `${s.envName} renders no HorizontalPodAutoscaler`;
    console.log(`[control-plane twin ${s.envName}] skipped 'HPA scale-out and scale-in': ${why}`);
    s.facts.section('HPA', [`Not run: ${why}.`]);
    it.skip(`HPAs scale out and in on the simulated CPU (skipped: ${why})`, () => undefined);
    return;
  }

  it(
    'HPAs scale out to their maximum when CPU rises and back in to their minimum when it falls',
    () =>
      inSteps(async (at) => {
        at('the committed state');
        await s.committedState();
        const app = s.ns().app;
        const work = list.map((h) => {
          const w = s.workloads().find((x) => x.kind === 'Deployment' && x.name === h.target);
          if (!w) throw new Error(`HPA ${h.name}: no committed Deployment ${h.target}`);
          return { hpa: h, w };
        });
        const hpaPath = (h: Hpa) => `/apis/autoscaling/v2/namespaces/${app}/horizontalpodautoscalers/${h.name}`;
        const readyOf = async (selector: Record<string, string>) =>
          (await pods(s.kube, app)).filter((p) => matches(p.metadata.labels, selector) && isReady(p)).length;
        const hpaState = async (h: Hpa) =>
          (await s.kube.must<{ status: { currentReplicas?: number; desiredReplicas?: number } }>('GET', hpaPath(h)))
            .status;
        // Capacity: each Deployment at its HPA maximum is counted by src/inspect/capacity.ts, which must fit.
        const report = capacityReport(s.env, s.objects);
        expect(report.headroom.cpu, 'capacity headroom (cpu) at full scale').toBeGreaterThanOrEqual(0);
        expect(report.headroom.memory, 'capacity headroom (memory) at full scale').toBeGreaterThanOrEqual(0);
        for (const { hpa } of work) {
          const line = report.lines.find((l) => l.what === `Deployment ${hpa.target}`);
          expect(line?.pods, `capacity.ts counts Deployment ${hpa.target} at its maximum`).toBeGreaterThanOrEqual(
            hpa.max,
          );
        }
        const rules: LoadRule[] = work.map(({ w }) => ({ namespace: app, labels: w.selector, cpu: HIGH_SHARE }));
        const low = rules.map((r) => ({ ...r, cpu: LOW_SHARE }));
        /** The test's scale-down behaviour: no window, everything at once (put back in `finally`). */
        const shortenWindows = async () => {
          for (const { hpa } of work) {
            await s.kube.must(
              'PATCH',
              `${hpaPath(hpa)}?fieldManager=coderun-twin-test`,
              {
                spec: {
                  behavior: {
                    scaleDown: {
                      stabilizationWindowSeconds: 0,
                      policies: [{ type: 'Percent', value: 100, periodSeconds: 1 }],
                    },
                  },
                },
              },
              'application/merge-patch+json',
            );
          }
        };
        /** Waits until every HPA and its Deployment are at `count(hpa)` Ready; returns how long each took. */
        const reach = async (what: string, count: (h: Hpa) => number, since: number) => {
          const took = new Map<string, number>();
          await waitFor(
            what,
            async () => {
              for (const { hpa, w } of work) {
                if (took.has(hpa.name)) continue;
                const st = await hpaState(hpa);
                if (st.currentReplicas === count(hpa) && (await readyOf(w.selector)) === count(hpa))
                  took.set(hpa.name, Date.now() - since);
              }
              return took.size === work.length;
            },
            { timeoutMs: 180_000, intervalMs: 500 },
          ).catch(async (e: unknown) => {
            const states = await Promise.all(
              work.map(async ({ hpa }) => `${hpa.name} ${JSON.stringify(await hpaState(hpa))}`),
            );
            throw new Error(`${String(e)}; HPAs: ${states.join('; ')}; ${await s.notReady()}`);
          });
          return took;
        };
        let failure: unknown;
        try {
          at('scale-out: CPU raised above the target');
          const outAt = Date.now();
          await setLoad(s.kube, rules);
          const outTimes = await reach('every HPA at its maximum with every pod Ready', (h) => h.max, outAt);
          const unplaced = (await pods(s.kube, app)).filter((p) => !p.spec.nodeName);
          expect(
            unplaced.map((p) => p.metadata.name),
            'pods left unscheduled at the maximum',
          ).toEqual([]);
          const allNodes = await nodes(s.kube);

          at('scale-in: CPU lowered, scale-down windows shortened for the test');
          await shortenWindows();
          const inAt = Date.now();
          await setLoad(s.kube, low);
          const inTimes = await reach('every HPA back at its minimum', (h) => h.min, inAt);
          const sec = (ms: number | undefined) => `${((ms ?? 0) / 1000).toFixed(1)} s`;
          s.facts.section('HPA scale-out and scale-in (the real HPA controller on the real metrics-server)', [
            `Load: each pod of the Deployment uses ${HIGH_SHARE * 100}% of its CPU requests (kwok's ClusterResourceUsage twin-load), then ${LOW_SHARE * 100}%, then the default ${DEFAULT_SHARE * 100}% again. The controller manager syncs HPAs every 2 s; metrics-server scrapes every 10 s. Scale-up uses the committed behaviour; scale-down's window and policy were shortened for the test (0 s, 100% per second) and put back as committed afterwards.`,
            '',
            '| HPA | CPU target | min → max | scale-out (all Ready at max) | scale-in (back at min) |',
            '| --- | ---: | --- | ---: | ---: |',
            ...work.map(
              ({ hpa }) =>
                `| ${hpa.name} | ${hpa.cpuTarget}% | ${hpa.min} → ${hpa.max} | ${sec(outTimes.get(hpa.name))} | ${sec(inTimes.get(hpa.name))} |`,
            ),
            '',
            `At the maximum, every pod was placed on the ${allNodes.length} nodes; src/inspect/capacity.ts counts these Deployments at ${work
              .map(
                ({ hpa }) =>
                  `${hpa.target} ${report.lines.find((l) => l.what === `Deployment ${hpa.target}`)?.pods ?? '?'}`,
              )
              .join(', ')} pods (maximum plus a rollout's surge) and leaves ${report.headroom.cpu}m CPU of headroom.`,
          ]);
        } catch (e) {
          failure = e;
        }
        at('put back: the HPAs at their minimum, the default load, the committed HPAs');
        const putBack = await (async () => {
          await shortenWindows();
          await setLoad(s.kube, low);
          await reach('every HPA back at its minimum', (h) => h.min, Date.now());
          await setLoad(s.kube, []);
          for (const { hpa } of work) {
            // The test's behaviour goes, then the committed object is applied as the twin applied it.
            await s.kube.must('PATCH', hpaPath(hpa), { spec: { behavior: null } }, 'application/merge-patch+json');
            const r = await s.kube.apply(hpa.object, { force: true });
            if (r.status > 299) throw new Error(`HPA ${hpa.name}: HTTP ${r.status}: ${r.message}`);
          }
          await s.committedState();
        })().then(
          () => undefined,
          (e: unknown) => e,
        );
        // A failure of the test is the one to report; then putting back failing only says the twin was not put back.
        if (failure !== undefined) {
          if (putBack !== undefined)
            console.log(`[control-plane twin ${s.envName}] autoscaling: putting back failed too: ${String(putBack)}`);
          throw failure;
        }
        if (putBack !== undefined) throw putBack;
      }),
    HPA_TEST_MS,
  );
});
