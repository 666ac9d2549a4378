/**
 * Cluster suite scenario: finished executor pods leave the quota; the committed reaper script
 * deletes the old ones with its own token, and can do nothing else. On the environment's shared
 * twin (./scenario.ts); facts go to .build/twin-<env>-executor-reaper.md.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { waitFor } from '../../../tools/harness/process';
import type { Manifest } from '../../../src/model/objects';
import { FINISHED_ANNOTATION } from '../../../tools/harness/twin/twin';
import { pods } from './cluster';
import { twinScenario, inSteps } from './scenario';

export const executorReaperScenario = twinScenario('executor-reaper', (s) => {
  it('finished executor pods leave the quota, and the executor reaper (the committed script) deletes the old ones', () =>
    inSteps(async (at) => {
      at('the committed state');
      // The platform's pods exist (one of them is the app-namespace pod the reaper may not delete).
      await s.committedState();
      const mw = await s.asMiddleware();
      const exe = s.ns().executor;
      const quota = s.byKind('ResourceQuota').find((q) => q.metadata?.namespace === exe);
      const quotaPods = Number((quota?.spec as { hard: { pods: string } }).hard.pods);
      /** Creates an executor pod as the middleware, waiting while the quota controller has not yet freed room. */
      const launch = async (lang: string): Promise<string> => {
        const body = await s.executorPod(mw, lang);
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
        s.kube.must<Manifest & { status: Record<string, unknown> }>('GET', `/api/v1/namespaces/${exe}/pods/${n}`);
      const running = async (n: string) => (await pod(n)).status.phase === 'Running';
      const finish = async (names: string[]) => {
        // The jobs end: kwok (standing in for the kubelet) reports exit code 0.
        for (const n of names) {
          await waitFor(`${n} Running`, () => running(n), { timeoutMs: 30_000 });
          await s.kube.must(
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

      at('a full quota of jobs finishes and leaves the quota');
      // A full quota of jobs, all finished: they leave the quota, the next job is admitted.
      const first: string[] = [];
      for (let i = 0; i < quotaPods; i++) first.push(await launch(s.languages()[i % s.languages().length] ?? ''));
      await finish(first);
      await waitFor(
        'the quota freed',
        async () => {
          const q = await s.kube.must<{ status: { used?: { pods?: string } } }>(
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
        await s.executorPod(mw, s.languages()[0] ?? ''),
      );
      expect(next.status, next.message).toBe(201);

      at('their ages, as the kubelet would report them');
      // Their ages, as the kubelet would have reported them: all but one finished long ago.
      const { pod: reaperPod } = s.reaperCronJob();
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
        await s.kube.must('PUT', `/api/v1/namespaces/${exe}/pods/${n}/status`, p);
      }
      at('a job failed long ago and one still running');
      // One job that hit its deadline long ago (phase Failed, DeadlineExceeded, no container end time:
      // the script falls back to startTime + activeDeadlineSeconds), and one still running.
      const failed = await launch(s.languages()[0] ?? '');
      const stillRunning = await launch(s.languages()[1 % s.languages().length] ?? '');
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
        await s.kube.must('PUT', `/api/v1/namespaces/${exe}/pods/${failed}/status`, p);
      }
      await waitFor(`${stillRunning} Running`, () => running(stillRunning), { timeoutMs: 30_000 });

      at('the reaper runs twice');
      // The reaper, as its CronJob runs it: the script from the committed ConfigMap, the environment of the
      // committed container, the reaper ServiceAccount's own token; the API server and CA of the twin.
      const cm = s.byKind('ConfigMap').find((o) => o.metadata?.name === 'executor-reaper');
      const script = (cm?.data as Record<string, string> | undefined)?.['reap.py'];
      expect(script, 'dist/<env> ConfigMap executor-reaper with reap.py').toBeTruthy();
      const scriptFile = join(s.dir, 'reap.py');
      writeFileSync(scriptFile, script ?? '');
      const reaperToken = await s.tokenOf(reaperPod.serviceAccountName);
      const reap = () => {
        const t0 = Date.now();
        const r = spawnSync('python3', [scriptFile], {
          env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            ...reaperEnv,
            REAPER_API_URL: s.twin.server,
            REAPER_TOKEN: reaperToken,
            REAPER_CA_FILE: s.twin.credentials.caCert,
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
          const left = (await pods(s.kube, exe)).map((p) => p.metadata.name);
          return gone.every((n) => !left.includes(n));
        },
        { timeoutMs: 30_000 },
      );
      const left = (await pods(s.kube, exe)).map((p) => p.metadata.name).sort();
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
      expect(lines1.at(-1)).toMatch(
        new RegExp(`done: ${gone.length} deleted, ${recentSucceeded.length} kept, 0 errors`),
      );
      // Idempotent: a second run finds nothing old.
      const run2 = reap();
      expect(run2.status, run2.out).toBe(0);
      expect(run2.out).toMatch(new RegExp(`done: 0 deleted, ${recentSucceeded.length} kept, 0 errors`));

      at("the reaper's token can do nothing else");
      // The reaper's token can do nothing else.
      const reaper = s.kube.as(reaperToken);
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
        [s.ns().app, 'delete', 'pods'],
        [s.ns().app, 'list', 'pods'],
        [s.ns().app, 'get', 'secrets'],
        ['kube-system', 'delete', 'pods'],
      ] as const) {
        ((await sar(namespace, verb, resource)) ? allowed : denied).push(`${verb} ${resource} in ${namespace}`);
      }
      expect(allowed.sort()).toEqual([`delete pods in ${exe}`, `get pods in ${exe}`, `list pods in ${exe}`]);
      const create = await reaper.req(
        'POST',
        `/api/v1/namespaces/${exe}/pods?dryRun=All`,
        await s.executorPod(mw, s.languages()[0] ?? ''),
      );
      expect(create.status).toBe(403);
      const appPod = (await pods(s.kube, s.ns().app))[0]?.metadata.name ?? '';
      const delApp = await reaper.req('DELETE', `/api/v1/namespaces/${s.ns().app}/pods/${appPod}?dryRun=All`);
      expect(delApp.status).toBe(403);
      expect(delApp.message).toMatch(/cannot delete resource "pods" in API group "" in the namespace/);

      s.facts.section('Finished executor pods and the reaper', [
        `${first.length} executor pods created by the middleware's ServiceAccount and completed (phase Succeeded): the quota's used pods went back to 0 and the next job was admitted. Nothing else removes them: the middleware does not watch its pods, and kube-controller-manager's terminated-pod GC starts only above --terminated-pod-gc-threshold (12500 cluster-wide by default).`,
        '',
        `The executor reaper, run once as its CronJob would run it (CronJobs are suspended in the twin so that none starts at a random moment): \`python3 reap.py\` with the script of the committed ConfigMap (dist/${s.envName}/executor-reaper/configmap-executor-reaper.yaml), the committed container's environment (threshold ${threshold} s, selector \`${reaperEnv.REAPER_LABEL_SELECTOR}\`), a TokenRequest token of ServiceAccount ${s.ns().app}/${reaperPod.serviceAccountName} and the twin's CA.`,
        `- Before: ${oldSucceeded.length} Succeeded ${threshold * 2} s ago, ${recentSucceeded.length} Succeeded just now, 1 Failed (DeadlineExceeded, no container end time) started ${threshold * 2} s + its deadline ago, 1 Running.`,
        `- Run 1 (${run1.ms} ms, exit ${run1.status}): deleted ${gone.length} (${gone.join(', ')}), kept ${recentSucceeded.length} recent (${recentSucceeded.join(', ')}); the Running pod was not listed. Left: ${left.join(', ')}.`,
        `- Run 2 (${run2.ms} ms, exit ${run2.status}): "${run2.out.trim().split('\n').at(-1)?.replace(/^\S+ /, '') ?? ''}".`,
        `- The reaper's token (SelfSubjectAccessReviews): allowed ${allowed.sort().join(', ')}; denied ${denied.join(', ')}. A real create of an executor pod: HTTP ${create.status}; a real delete of pod ${appPod} in ${s.ns().app}: HTTP ${delApp.status} ("${delApp.message}").`,
        '',
        'Run 1 log:',
        '',
        ...lines1.map((l) => `    ${l}`),
      ]);
      at('back to an empty executor namespace');
      for (const n of [...recentSucceeded, stillRunning]) await mw.req('DELETE', `/api/v1/namespaces/${exe}/pods/${n}`);
      await waitFor('executor namespace empty', async () => (await pods(s.kube, exe)).length === 0, {
        timeoutMs: 30_000,
      });
    }));
});
