/**
 * Cluster suite scenario: draining a node through the eviction API respects every
 * PodDisruptionBudget; the node is uncordoned afterwards. On the environment's shared twin
 * (./scenario.ts); facts go to .build/twin-<env>-drain.md.
 */
import { expect } from 'vitest';
import { sleep, waitFor } from '../../../tools/harness/process';
import { fmtCounts, nodes, placement, pods, workloadOf, type Pod } from './cluster';
import { twinScenario, drill } from './scenario';

export const drainScenario = twinScenario('drain', (s) => {
  drill(s, 'drill: draining a node through the eviction API respects every PodDisruptionBudget', async () => {
    // Start from a fresh rollout (as after a sync), spread as the scheduler places a new ReplicaSet.
    for (const w of s.workloads().filter((x) => x.kind === 'Deployment')) {
      // A Rollout restarts its pods in place (spec.restartAt, as `kubectl argo rollouts restart` does);
      // a template change would start a canary instead.
      if (w.rollout) {
        await s.kube.must(
          'PATCH',
          `/apis/argoproj.io/v1alpha1/namespaces/${s.ns().app}/rollouts/${w.rollout}`,
          { spec: { restartAt: new Date().toISOString() } },
          'application/merge-patch+json',
        );
        continue;
      }
      await s.kube.must(
        'PATCH',
        `/apis/apps/v1/namespaces/${s.ns().app}/deployments/${w.name}`,
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
        (await s.workloadsReady()) &&
        (await pods(s.kube, s.ns().app)).length === s.workloads().reduce((a, w) => a + s.desired(w), 0),
      { timeoutMs: 90_000 },
    );
    const before = await pods(s.kube, s.ns().app);
    const perNode = placement(before, await nodes(s.kube)).perNode;
    const node = [...perNode].sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
    const victims = before.filter((p) => p.spec.nodeName === node);
    await s.kube.must(
      'PATCH',
      `/api/v1/nodes/${node}`,
      { spec: { unschedulable: true } },
      'application/merge-patch+json',
    );
    const lowest = new Map<string, { ready: number; minimum: number }>();
    let watching = true;
    const monitor = (async () => {
      while (watching) {
        for (const h of await s.pdbHealth()) {
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
          const r = await s.kube.req(
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
      async () => (await s.workloadsReady()) && (await pods(s.kube, s.ns().app)).every((p) => p.spec.nodeName !== node),
      { timeoutMs: 90_000 },
    );
    watching = false;
    await monitor;
    const drainSeconds = ((Date.now() - t0) / 1000).toFixed(1);
    await s.kube.must(
      'PATCH',
      `/api/v1/nodes/${node}`,
      { spec: { unschedulable: false } },
      'application/merge-patch+json',
    );
    const after = await pods(s.kube, s.ns().app);
    const moved = victims.map((v) => {
      const w = workloadOf(v as Pod);
      return `${v.metadata.name} (${w})`;
    });
    s.facts.section('Drills', [
      `**Drain** of ${node} (${victims.length} pods: ${moved.join(', ')}) through the eviction API: done in ${drainSeconds} s, ${refusals.length} eviction(s) refused (HTTP 429) and retried.`,
      ...(refusals.length ? [`- first refusal: "${refusals[0]}"`] : []),
      `- lowest Ready count per PDB during the drain: ${[...lowest].map(([k, v]) => `${k} ${v.ready} (PDB demands ${v.minimum})`).join(', ')}.`,
      `- afterwards per node: ${fmtCounts(placement(after, await nodes(s.kube)).perNode)}.`,
    ]);
    for (const [k, v] of lowest) expect(v.ready, `PDB ${k} during the drain`).toBeGreaterThanOrEqual(v.minimum);
  });
});
