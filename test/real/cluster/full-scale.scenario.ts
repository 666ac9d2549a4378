/**
 * Cluster suite scenario: Deployments at their HPA maximum with a surge held open, the executor
 * quota filled, all pods placed, compared line by line with src/inspect/capacity.ts; then back to
 * the committed state. On the environment's shared twin (./scenario.ts); facts go to
 * .build/twin-<env>-full-scale.md.
 */
import { capacityReport } from '../../../src/inspect/capacity';
import { formatCpu } from '../../../src/model/quantity';
import { expect, it } from 'vitest';
import { sleep, waitFor } from '../../../tools/harness/process';
import type { Manifest } from '../../../src/model/objects';
import { HOLD_ANNOTATION } from '../../../tools/harness/twin/twin';
import { fmtCounts, isReady, matches, nodes, placement, podRequests, pods } from './cluster';
import { twinScenario, inSteps, type Workload } from './scenario';

const mi = (bytes: number) => `${Math.round(bytes / 2 ** 20)}Mi`;

export const fullScaleScenario = twinScenario('full-scale', (s) => {
  it('at full scale places every pod and the executor quota refuses the next job', () =>
    inSteps(async (at) => {
      at("Deployments at their maximum, a rollout's surge held open");
      const mw = await s.asMiddleware();
      const who = await mw.must<{ status: { userInfo: { username: string } } }>(
        'POST',
        '/apis/authentication.k8s.io/v1/selfsubjectreviews',
        { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      );
      // Deployments at their maximum (HPA maxReplicas), then a rollout whose new pods are held unready:
      // the surge stays open.
      const target = (w: Workload) => (w.kind === 'Deployment' ? (w.hpa?.max ?? w.replicas) : w.replicas);
      // A Deployment a Rollout runs is scaled through the Rollout; its surge is a canary's (the held
      // template below starts one, whose first pod never becomes ready).
      for (const w of s.workloads().filter((x) => x.kind === 'Deployment')) {
        await s.kube.must('PATCH', w.scale, { spec: { replicas: target(w) } }, 'application/merge-patch+json');
      }
      await waitFor('Deployments Ready at their maximum', () => s.workloadsReady(target), { timeoutMs: 90_000 });
      for (const w of s.workloads().filter((x) => x.kind === 'Deployment')) {
        await s.kube.must(
          'PATCH',
          `/apis/apps/v1/namespaces/${s.ns().app}/deployments/${w.name}`,
          { spec: { template: { metadata: { annotations: { [HOLD_ANNOTATION]: 'surge' } } } } },
          'application/strategic-merge-patch+json',
        );
      }
      const surgeTotal = (w: Workload) => target(w) + w.surge;
      await waitFor(
        'every rollout holding its surge, every pod bound to a node',
        async () => {
          const all = await pods(s.kube, s.ns().app);
          return s.workloads().every((w) => {
            const mine = all.filter((p) => matches(p.metadata.labels, w.selector) && !p.metadata.deletionTimestamp);
            return mine.length === surgeTotal(w) && mine.every((p) => p.spec.nodeName);
          });
        },
        { timeoutMs: 90_000 },
      ).catch(async (e) => {
        const all = await pods(s.kube, s.ns().app);
        const pending = all.filter((p) => !p.spec.nodeName).map((p) => p.metadata.name);
        const counts = s.workloads().map((w) => {
          const mine = all.filter((p) => matches(p.metadata.labels, w.selector) && !p.metadata.deletionTimestamp);
          return `${w.name} ${mine.length}/${surgeTotal(w)}`;
        });
        const owners = new Map<string, number>();
        for (const p of all) {
          const o = `${p.metadata.ownerReferences?.[0]?.name ?? 'none'}${p.metadata.deletionTimestamp ? ' (deleting)' : ''}`;
          owners.set(o, (owners.get(o) ?? 0) + 1);
        }
        const rollouts = await Promise.all(
          s
            .workloads()
            .filter((w) => w.rollout)
            .map(async (w) => {
              const r = await s.kube.req<{ spec?: { replicas?: number }; status?: Record<string, unknown> }>(
                'GET',
                `/apis/argoproj.io/v1alpha1/namespaces/${s.ns().app}/rollouts/${w.rollout}`,
              );
              const st = r.body?.status ?? {};
              const brief = { phase: st.phase, message: st.message, step: st.currentStepIndex, stableRS: st.stableRS };
              return `${w.rollout}: replicas ${r.body?.spec?.replicas}, ${JSON.stringify({ ...brief, currentPodHash: st.currentPodHash })}`;
            }),
        );
        throw new Error(
          `${String(e)}; pods/wanted: ${counts.join(', ')}; pods by owner: ${[...owners].map(([o, n]) => `${o} ${n}`).join(', ')}; ${rollouts.join('; ')}; unscheduled: ${pending.join(', ') || 'none'}`,
        );
      });
      await sleep(1500); // the deployment controller would scale further now if it were going to
      const held = await pods(s.kube, s.ns().app);
      for (const w of s.workloads()) {
        expect(
          held.filter((p) => matches(p.metadata.labels, w.selector) && !p.metadata.deletionTimestamp).length,
          w.name,
        ).toBe(surgeTotal(w));
      }

      at('one run of each CronJob');
      // One run of each CronJob, started by hand from its jobTemplate (`kubectl create job --from=cronjob/...`):
      // the twin suspends CronJobs, and capacity.ts counts one run.
      const cronJobs = s.byKind('CronJob');
      for (const cj of cronJobs) {
        const jt = (cj.spec as { jobTemplate: { metadata?: Manifest['metadata']; spec: Manifest } }).jobTemplate;
        await s.kube.must('POST', `/apis/batch/v1/namespaces/${s.ns().app}/jobs`, {
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
        (await pods(s.kube, s.ns().app)).filter((p) =>
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

      at('the executor quota filled by the middleware');
      // The executor quota, filled by the middleware's ServiceAccount from the committed templates.
      const quota = s.byKind('ResourceQuota').find((q) => q.metadata?.namespace === s.ns().executor);
      const quotaPods = Number((quota?.spec as { hard: { pods: string } }).hard.pods);
      let created = 0;
      let refusal = '';
      for (let i = 0; i <= quotaPods; i++) {
        const lang = s.languages()[i % s.languages().length] ?? '';
        const r = await mw.req('POST', `/api/v1/namespaces/${s.ns().executor}/pods`, await s.executorPod(mw, lang));
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
          const ex = await pods(s.kube, s.ns().executor);
          return ex.length === quotaPods && ex.every(isReady);
        },
        { timeoutMs: 60_000 },
      );

      at('the twin against src/inspect/capacity.ts');
      // The twin against src/inspect/capacity.ts.
      const allPods = [...(await pods(s.kube, s.ns().app)), ...(await pods(s.kube, s.ns().executor))].filter(
        (p) => !p.metadata.deletionTimestamp,
      );
      const allNodes = await nodes(s.kube);
      const unplaced = allPods.filter((p) => !p.spec.nodeName);
      expect(unplaced.map((p) => p.metadata.name)).toEqual([]);
      const report = capacityReport(s.twin.env, s.objects);
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
            ? allPods.filter((p) => p.metadata.namespace === s.ns().executor)
            : kind === 'CronJob'
              ? allPods.filter(
                  (p) =>
                    p.metadata.namespace === s.ns().app &&
                    p.metadata.labels?.['batch.kubernetes.io/job-name'] === `${name}-manual`,
                )
              : allPods.filter(
                  (p) =>
                    p.metadata.namespace === s.ns().app &&
                    s.workloads().some((w) => w.name === name && matches(p.metadata.labels, w.selector)),
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
      s.facts.section('Full scale', [
        `Deployments at HPA maximum with a rollout's surge held open; executor quota filled by ${who.status.userInfo.username} (TokenRequest token) from the committed PodTemplates.`,
        `- ${allPods.length} pods, all placed. Per node: ${fmtCounts(perNode)}${perZone.size ? `; per zone: ${fmtCounts(perZone)}` : ''}.`,
        `- CPU requested per node: ${[...perNodeCpu].map(([k, v]) => `${k}=${formatCpu(v)}`).join(' ')} (allocatable ${s.twin.env.cluster.nodeAllocatable.cpu} each).`,
        `- Executor pods created: ${created} of quota ${quotaPods}; pod ${created + 1} refused: "${refusal}".`,
        `- Requests in the twin: ${formatCpu(sum.cpu)} CPU, ${mi(sum.memory)}; capacity.ts: ${formatCpu(report.requested.cpu)} CPU, ${mi(report.requested.memory)} of ${formatCpu(report.capacity.cpu)} CPU, ${mi(report.capacity.memory)}.`,
        `- capacity.ts agrees with the twin: ${mismatches.length ? `NO, differs for ${mismatches.join(', ')}` : 'yes, line by line'}.`,
        '',
        ...rows,
      ]);
      expect(mismatches).toEqual([]);
      expect(sum.cpu).toBe(report.requested.cpu);
      expect(sum.memory).toBe(report.requested.memory);

      at('back to the committed state');
      // Back to the committed state: no executors, no CronJob runs, no held rollout, Deployments at their minimum.
      for (const cj of cronJobs) {
        await s.kube.must(
          'DELETE',
          `/apis/batch/v1/namespaces/${s.ns().app}/jobs/${String(cj.metadata?.name)}-manual?propagationPolicy=Background`,
        );
      }
      await mw.must('DELETE', `/api/v1/namespaces/${s.ns().executor}/pods?gracePeriodSeconds=0`).catch(async () => {
        for (const p of await pods(s.kube, s.ns().executor))
          await mw.req('DELETE', `/api/v1/namespaces/${s.ns().executor}/pods/${p.metadata.name}`);
      });
      for (const w of s.workloads().filter((x) => x.kind === 'Deployment')) {
        await s.kube.must(
          'PATCH',
          `/apis/apps/v1/namespaces/${s.ns().app}/deployments/${w.name}`,
          [{ op: 'remove', path: `/spec/template/metadata/annotations/${HOLD_ANNOTATION.replace('/', '~1')}` }],
          'application/json-patch+json',
        );
        await s.kube.must('PATCH', w.scale, { spec: { replicas: s.desired(w) } }, 'application/merge-patch+json');
      }
      await waitFor(
        'back to the committed state',
        async () =>
          (await s.workloadsReady()) &&
          (await pods(s.kube, s.ns().executor)).length === 0 &&
          (await jobPods()).length === 0,
        { timeoutMs: 90_000 },
      );
      const afterDown = await pods(s.kube, s.ns().app);
      const nodesNow = await nodes(s.kube);
      s.facts.section('Full scale', [
        '',
        `After scaling back to the HPA minimum, pods per zone (the ReplicaSet controller picks which pods to delete without regard to topology spread): ${s
          .workloads()
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
    }));
});
