/**
 * Cluster suite scenario: losing a whole zone keeps every PDB minimum and NATS quorum; the zone
 * comes back afterwards. On the environment's shared twin (./scenario.ts); facts go to
 * .build/twin-<env>-zone-loss.md.
 */
import { expect } from 'vitest';
import { waitFor } from '../../../tools/harness/process';
import { isReady, matches, nodes, pods } from './cluster';
import { twinScenario, drill, inSteps } from './scenario';

export const zoneLossScenario = twinScenario('zone-loss', (s) => {
  drill(s, 'drill: after losing a whole zone every service keeps its PDB minimum Ready and NATS keeps quorum', () =>
    inSteps(async (at) => {
      at('the committed state');
      await s.committedState();
      const allNodes = await nodes(s.kube);
      const zone = s.twin.env.cluster.zones[0] ?? '';
      const group = s.twin.groupOf(zone);
      const lost = allNodes.filter((n) => n.zone === zone).map((n) => n.name);
      let failed = false;
      try {
        at(`losing zone ${zone}`);
        await lose(zone, group, lost);
      } catch (e) {
        failed = true;
        throw e;
      } finally {
        // Undo: the zone comes back, so that nothing after this drill starts from a lost zone.
        if (!failed) at(`zone ${zone} comes back`);
        await restore(group, lost).catch((e: unknown) => {
          // A failure to restore after a failed drill is not the failure to report.
          if (!failed) throw e;
        });
      }
    }),
  );

  /** Stops the zone's kwok and checks what is left. */
  async function lose(zone: string, group: string, lost: readonly string[]): Promise<void> {
    const t0 = Date.now();
    await s.twin.loseGroup(group);
    // The node lifecycle controller notices the lapsed leases and marks the zone's pods not Ready.
    await waitFor(
      `the nodes of ${zone} NotReady and their pods not Ready`,
      async () => {
        const ns2 = await nodes(s.kube);
        if (ns2.some((n) => lost.includes(n.name) && n.ready)) return false;
        const on = (await pods(s.kube, s.ns().app)).filter((p) => lost.includes(p.spec.nodeName ?? ''));
        return on.every((p) => !isReady(p));
      },
      { timeoutMs: 60_000 },
    );
    const noticed = ((Date.now() - t0) / 1000).toFixed(1);
    const health = await s.pdbHealth();
    const nats = s.workloads().find((w) => w.kind === 'StatefulSet');
    const natsReady = nats
      ? (await pods(s.kube, s.ns().app)).filter((p) => matches(p.metadata.labels, nats.selector) && isReady(p)).length
      : 0;
    const quorum = nats ? Math.floor(s.desired(nats) / 2) + 1 : 0;
    s.facts.section('Drills', [
      `**Zone loss**: kwok for ${zone} (${lost.join(', ')}) stopped; the controller manager marked the nodes NotReady and their pods not Ready after ${noticed} s.`,
      ...health.map(
        (h) =>
          `- ${h.name}: ${h.ready} of ${h.expected} Ready (PDB demands ${h.minimum}) ${h.ready >= h.minimum ? 'OK' : 'BELOW'}`,
      ),
      ...(nats
        ? [
            `- NATS: ${natsReady} of ${s.desired(nats)} Ready, quorum ${quorum}: ${natsReady >= quorum ? 'kept' : 'LOST'}.`,
          ]
        : []),
    ]);
    for (const h of health) expect(h.ready, `${h.name} after losing ${zone}`).toBeGreaterThanOrEqual(h.minimum);
    if (nats) expect(natsReady).toBeGreaterThanOrEqual(quorum);
  }

  /**
   * kwok for the zone starts again and its nodes turn Ready. kwok (the kubelet) does not mark a
   * Running pod Ready again, so a Running pod of the zone's nodes that is not Ready is replaced by
   * its controller (deleted), for as long as the wait lasts: while the restarted kwok takes over the
   * nodes' leases the node controller may mark them, and their pods, not Ready once more. Done when
   * the nodes are Ready and every workload is Ready at its desired replicas, as committed.
   */
  async function restore(group: string, lost: readonly string[]): Promise<void> {
    await s.twin.restoreGroup(group);
    await waitFor(
      'the zone Ready and every workload Ready again after the zone came back',
      async () => {
        for (const p of await pods(s.kube, s.ns().app)) {
          const stale = p.status.phase === 'Running' && !isReady(p) && !p.metadata.deletionTimestamp;
          if (stale && lost.includes(p.spec.nodeName ?? ''))
            await s.kube.req('DELETE', `/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}`);
        }
        const zoneReady = (await nodes(s.kube)).filter((n) => lost.includes(n.name)).every((n) => n.ready);
        return zoneReady && (await s.workloadsReady());
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    ).catch(async (e: unknown) => {
      throw new Error(`${String(e)}\n${await s.notReady()}`);
    });
  }
});
