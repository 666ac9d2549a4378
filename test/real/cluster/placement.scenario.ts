/**
 * Cluster suite scenario: every platform pod placed, Running and Ready; NATS volumes bound; hard
 * spread constraints hold. On the environment's shared twin (./scenario.ts); facts go to
 * .build/twin-<env>-placement.md.
 */
import { expect, it } from 'vitest';
import { waitFor } from '../../../tools/harness/process';
import type { Manifest } from '../../../src/model/objects';
import { fmtCounts, matches, nodes, placement, pods, skew } from './cluster';
import { twinScenario } from './scenario';

export const placementScenario = twinScenario('placement', (s) => {
  it('places every platform pod (Running, Ready), binds the NATS volumes and honours the spread constraints', async () => {
    await waitFor('every platform workload Ready at its desired replicas', () => s.workloadsReady(), {
      timeoutMs: 90_000,
    });
    const all = await pods(s.kube, s.ns().app);
    const allNodes = await nodes(s.kube);
    const pvcs = await s.kube.list<Manifest>('v1', 'PersistentVolumeClaim', s.ns().app);
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
    for (const w of s.workloads()) {
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
    s.facts.section('Placement', lines);
  });
});
