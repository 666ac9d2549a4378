/**
 * Cluster suite scenario: every pod the platform creates carries the registry's pull Secret
 * (environments with `registry`), and none where there is no registry. Nothing names the Secret in
 * a pod spec: the ServiceAccounts do, and the API server's ServiceAccount admission plugin copies
 * their imagePullSecrets into each pod. Checked on the pods the controllers made from each
 * Deployment and the StatefulSet, on an executor pod the middleware's ServiceAccount creates from
 * its PodTemplate (dry run: admission runs, nothing stays), and on the pod of a Job made from the
 * executor reaper's CronJob. Facts go to .build/twin-<env>-pull-secrets.md.
 */
import { expect, it } from 'vitest';
import type { Manifest } from '../../../src/model/objects';
import { waitFor } from '../../../tools/harness/process';
import { matches, pods } from './cluster';
import { inSteps, twinScenario } from './scenario';

type WithPullSecrets = Manifest & { spec: { imagePullSecrets?: { name: string }[] } };

export const pullSecretsScenario = twinScenario('pull-secrets', (s) => {
  it("every pod the platform creates carries the registry's pull Secret, from its ServiceAccount", () =>
    inSteps(async (at) => {
      const reg = s.env.registry;
      const want = reg ? [{ name: reg.pullSecret }] : undefined;
      const seen: string[] = [];

      at('the committed state');
      await s.committedState();

      at("the Deployments' and the StatefulSet's pods");
      const appPods = (await pods(s.kube, s.ns().app)) as unknown as WithPullSecrets[];
      for (const w of s.workloads()) {
        const mine = appPods.filter((p) => matches(p.metadata.labels, w.selector));
        expect(mine.length, `${w.kind} ${w.name} has pods`).toBeGreaterThan(0);
        for (const p of mine)
          expect(p.spec.imagePullSecrets, `${w.kind} ${w.name}: pod ${p.metadata.name}`).toEqual(want);
        // The committed pod template names none: the ServiceAccount does.
        expect((w.object.spec as { template: WithPullSecrets }).template.spec.imagePullSecrets).toBeUndefined();
        seen.push(`${w.kind} ${w.name}: ${mine.length} pod(s)`);
      }

      at("an executor pod created as the middleware's ServiceAccount");
      const mw = await s.asMiddleware();
      const language = s.languages()[0] ?? '';
      const body = (await s.executorPod(mw, language)) as WithPullSecrets;
      expect(
        body.spec.imagePullSecrets,
        'the PodTemplate (what the middleware sends) names no pull Secret',
      ).toBeUndefined();
      const created = await mw.req('POST', `/api/v1/namespaces/${s.ns().executor}/pods?dryRun=All`, body);
      expect(created.status, created.message).toBe(201);
      expect((created.body as WithPullSecrets).spec.imagePullSecrets).toEqual(want);
      seen.push(`executor-${language} pod (dry run, as the middleware)`);

      at("a Job of the executor reaper's CronJob");
      const { spec } = s.reaperCronJob();
      const jobName = 'executor-reaper-pull-secret';
      const jobs = `/apis/batch/v1/namespaces/${s.ns().app}/jobs`;
      await s.kube.must('POST', jobs, {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name: jobName, namespace: s.ns().app },
        spec: spec.jobTemplate.spec,
      });
      try {
        const pod = await waitFor(
          `a pod of Job ${jobName}`,
          async () =>
            (await pods(s.kube, s.ns().app, `labelSelector=job-name%3D${jobName}`))[0] as unknown as
              WithPullSecrets | undefined,
          { timeoutMs: 60_000 },
        );
        expect(pod.spec.imagePullSecrets).toEqual(want);
        seen.push(`Job ${jobName} (the reaper's jobTemplate): pod ${pod.metadata.name}`);
      } finally {
        await s.kube.req('DELETE', `${jobs}/${jobName}?propagationPolicy=Foreground`);
        await waitFor(
          `Job ${jobName} and its pod gone`,
          async () => (await pods(s.kube, s.ns().app, `labelSelector=job-name%3D${jobName}`)).length === 0,
          { timeoutMs: 60_000 },
        );
      }

      s.facts.section('Pull Secrets', [
        reg
          ? `Every pod carried imagePullSecrets [${reg.pullSecret}] (registry ${reg.host}), copied by the ServiceAccount admission plugin from its ServiceAccount; no pod template names it:`
          : 'No registry: no pod carried a pull Secret:',
        ...seen.map((x) => `- ${x}`),
      ]);
    }));
});
