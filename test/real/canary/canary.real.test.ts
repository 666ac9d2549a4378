/**
 * Canary releases with the real programs (issue 18): Argo CD v3.5.1 syncs the environment into the
 * control-plane twin, the real Argo Rollouts controller (v1.10.2) runs the canaries of the rendered
 * Rollouts, and their AnalysisRuns query the real Prometheus (3.15.0), which scrapes a metrics source
 * the test controls (monitoring.ts) through Kubernetes service discovery of the twin's pods. kwok
 * stands in for the kubelets: an `-unready` image never becomes Ready (kwok-stages.yaml); an
 * `-errors` image is Ready but its requests fail (the metrics source). Durations are scaled
 * (canary.ts: timeScale); weights, thresholds, failureLimit and autoAbort are the committed ones.
 *
 * Every environment whose dist/ renders a Rollout runs, side by side (each its own twin, Argo CD,
 * Prometheus); within one the cases run in order. Facts go to .build/canary-<env>.md and the
 * kubectl-argo-rollouts transcript to .build/canary-<env>-transcript.md.
 *
 * Run with `npm run test:canary` (its own network namespace; see package.json).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it as anyIt } from 'vitest';
import { parseDocument } from 'yaml';
import { listEnvironments } from '../../../src/model/loader';
import { committedObjects } from '../../../tools/harness/twin/twin';
import { setLoad } from '../../../tools/harness/twin/load';
import { waitFor } from '../../../tools/harness/process';
import { ROOT, tool } from '../../../tools/harness/tools';
import {
  CanaryLoop,
  committedCanaries,
  HealthLog,
  scaled,
  scaledDeadline,
  tagOf,
  timeScale,
  type RolloutView,
} from './canary';
import { SCRAPE_INTERVAL, type PodView } from './monitoring';

/* eslint-disable @typescript-eslint/no-explicit-any -- objects as the API server returns them */
type Any = any;

/** The environments whose committed dist renders a Rollout (dev keeps the plain rolling update). */
const ENVS = listEnvironments(ROOT).filter((e) => committedCanaries(e).length > 0);
const it = anyIt.sequential;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

describe('canary environments', () => {
  it('are the environments whose dist renders a Rollout', () => {
    expect(ENVS.length, 'no environment renders a Rollout').toBeGreaterThan(0);
    expect(ENVS).not.toContain('dev');
  });
});

describe.concurrent.each(ENVS.map((e, i) => [e, i] as const))('Canary releases: %s', (envName, index) => {
  const facts: string[] = [`# Canary releases: ${envName}`, ''];
  const transcript: string[] = [];
  const fact = (line: string) => {
    facts.push(line);
    console.log(`[canary ${envName}] ${line}`);
  };
  const committed = committedCanaries(envName);
  const scale = timeScale(committed);
  const objects = committedObjects(ROOT, envName).filter((c) => c.file.startsWith('dist/'));
  let loop: CanaryLoop;
  let dir: string;
  /** Per service: the fewest Ready pods seen since the bootstrap was Healthy. */
  const minReady = new Map<string, { ready: number; at: string }>();
  let phase = 'after the bootstrap';

  /** The PDB of a service and the fewest Ready pods it allows at the scale of `replicas`. */
  const pdbFloor = (service: string, replicas: number): number => {
    const pdb = objects.find((c) => c.object.kind === 'PodDisruptionBudget' && c.object.metadata?.name === service)
      ?.object as Any;
    if (!pdb) throw new Error(`${envName}: no PodDisruptionBudget ${service}`);
    if (pdb.spec.minAvailable !== undefined) return Number(pdb.spec.minAvailable);
    return replicas - Number(pdb.spec.maxUnavailable);
  };
  const hpaOf = (service: string): Any =>
    objects.find((c) => c.object.kind === 'HorizontalPodAutoscaler' && c.object.metadata?.name === service)?.object;
  const minReplicas = (service: string): number =>
    Number(
      hpaOf(service)?.spec?.minReplicas ??
        (committed.find((c) => c.service === service)?.rollout.spec as Any)?.replicas,
    );

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `coderun-canary-${envName}-`));
    loop = new CanaryLoop(envName, dir, index + 1, (l) => console.log(`[canary ${envName}] ${l}`));
    const t0 = Date.now();
    await loop.up();
    fact(
      `Bring-up ${secs(Date.now() - t0)}: ${Object.entries(loop.argo.timings)
        .map(([k, v]) => `${k} ${secs(v)}`)
        .join(', ')}; twin: ${Object.entries(loop.argo.twin.timings)
        .map(([k, v]) => `${k} ${secs(v)}`)
        .join(', ')}`,
    );
    fact(
      `Scaled in the clone (÷${scale}): ${committed
        .map(
          (c) =>
            `${c.service}: pauses ${c.steps.flatMap((s) => ('pause' in s ? [`${s.pause}→${scaled(s.pause, scale)}`] : [])).join(', ')}, ` +
            `interval ${c.interval}→${scaled(c.interval, scale)}, window ${c.window}→${scaled(c.window, scale)}, ` +
            `progressDeadlineSeconds ${c.progressDeadlineSeconds}→${scaledDeadline(c.progressDeadlineSeconds, scale)}; as committed: weights ${c.weights.join('/')}, ` +
            `maxErrorRatio ${c.maxErrorRatio}, failureLimit ${c.failureLimit}, autoAbort ${c.autoAbort}`,
        )
        .join(
          '; ',
        )}. Prometheus scrapes every ${SCRAPE_INTERVAL}; the analyses' ${committed[0]?.prometheusUrl} is routed to it by the twin's service proxy.`,
    );
    // The scaled render keeps everything but the durations and the address.
    for (const c of committed) {
      const r = loop.rendered(c.rolloutFile) as Any;
      const cr = c.rollout as Any;
      expect(r.spec.strategy.canary.steps.map((s: Any) => s.setWeight ?? 'pause')).toEqual(
        cr.spec.strategy.canary.steps.map((s: Any) => s.setWeight ?? 'pause'),
      );
      expect(r.spec.progressDeadlineAbort).toBe(cr.spec.progressDeadlineAbort);
      expect(r.spec.strategy.canary.dryRun).toEqual(cr.spec.strategy.canary.dryRun);
      const t = loop.rendered(c.templateFile) as Any;
      const ct = c.template as Any;
      expect(t.spec.metrics[0].successCondition).toBe(ct.spec.metrics[0].successCondition);
      expect(t.spec.metrics[0].failureLimit).toBe(ct.spec.metrics[0].failureLimit);
      expect(t.spec.metrics[0].provider.prometheus).toEqual({
        ...ct.spec.metrics[0].provider.prometheus,
        query: String(ct.spec.metrics[0].provider.prometheus.query)
          .split(`[${c.window}]`)
          .join(`[${scaled(c.window, scale)}]`),
      });
    }
    // The bootstrap as the README says; Argo CD applies everything, the Rollouts' first revision at 100%.
    const tb = Date.now();
    loop.argo.bootstrap();
    await loop.argo.waitApp(
      loop.appName,
      'Synced and Healthy after the bootstrap',
      (s) => s.sync === 'Synced' && s.health === 'Healthy' && s.phase === 'Succeeded',
      540_000,
    );
    for (const c of committed) await loop.waitRollout(c.service, 'Healthy', (r) => r.phase === 'Healthy');
    fact(
      `Bootstrap: Synced and Healthy ${secs(Date.now() - tb)} after \`kubectl apply -n argocd -f argocd/${envName}/bootstrap/\``,
    );
    loop.pods.observe((pods) => {
      for (const c of committed) {
        const ready = pods.filter(
          (p) => p.labels['app.kubernetes.io/name'] === c.service && p.ready && !p.deleting,
        ).length;
        const m = minReady.get(c.service);
        if (!m || ready < m.ready) minReady.set(c.service, { ready, at: phase });
      }
    });
  });

  afterAll(async () => {
    await setLoad(loop?.kube, []).catch(() => undefined);
    await loop?.down();
    mkdirSync(join(ROOT, '.build'), { recursive: true });
    writeFileSync(join(ROOT, '.build', `canary-${envName}.md`), `${facts.join('\n')}\n`);
    if (transcript.length > 0)
      writeFileSync(join(ROOT, '.build', `canary-${envName}-transcript.md`), `${transcript.join('\n')}\n`);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The pods of a service whose image has the tag `tag`. */
  const withTag = (pods: readonly PodView[], service: string, tag: string) =>
    pods.filter(
      (p) =>
        p.labels['app.kubernetes.io/name'] === service &&
        !p.deleting &&
        p.phase !== 'Succeeded' &&
        p.phase !== 'Failed' &&
        p.images.some((i) => tagOf(i) === tag),
    );

  /** Counts the most pods of `service` with image tag `tag` that ever existed at once, until stopped. */
  const trackTag = (service: string, tag: string) => {
    let max = 0;
    let total = 0;
    const stop = loop.pods.observe((pods) => {
      const n = withTag(pods, service, tag).length;
      if (n > max) {
        max = n;
        total = pods.filter(
          (p) => p.labels['app.kubernetes.io/name'] === service && !p.deleting && p.phase !== 'Succeeded',
        ).length;
      }
    });
    return {
      stop,
      get max() {
        return max;
      },
      get totalAtMax() {
        return total;
      },
    };
  };

  /**
   * Follows a service's canary until it is fully promoted (or aborted), keeping for each paused step
   * the last count of Ready pods per ReplicaSet: the weight the controller holds there.
   */
  const followSteps = async (service: string, timeoutMs: number) => {
    const c = loop.canary(service);
    const seen = new Map<number, { weight: number; canary: number; stable: number; replicas: number }>();
    const weightAt = (i: number) => {
      let w = 0;
      for (let k = 0; k <= i && k < c.steps.length; k++) {
        const s = c.steps[k];
        if (s && 'setWeight' in s) w = s.setWeight;
      }
      return w;
    };
    let started = false;
    const end = await waitFor(
      `${service}: the canary over`,
      async () => {
        const r = await loop.rollout(service);
        if (r.currentHash !== r.stableHash) started = true;
        if (started && r.paused && !r.abort) {
          const pods = loop.servicePods(service).filter((p) => p.ready);
          seen.set(r.stepIndex, {
            weight: weightAt(r.stepIndex),
            canary: pods.filter((p) => p.hash === r.currentHash).length,
            stable: pods.filter((p) => p.hash === r.stableHash).length,
            replicas: r.replicas,
          });
        }
        if (r.abort) return r;
        return started && r.phase === 'Healthy' && r.currentHash === r.stableHash ? r : false;
      },
      { timeoutMs, intervalMs: 250 },
    );
    return { end, steps: [...seen.entries()].sort((a, b) => a[0] - b[0]) };
  };

  /** Each observed pause holds its weight: within one pod of it, at least one pod on each side. */
  const expectWeightsHeld = (steps: Awaited<ReturnType<typeof followSteps>>['steps'], service: string) => {
    expect(steps.length, `${service}: no pause was observed`).toBeGreaterThan(0);
    for (const [i, s] of steps) {
      const total = s.canary + s.stable;
      expect(s.canary, `${service} step ${i}: canary pods`).toBeGreaterThan(0);
      expect(s.stable, `${service} step ${i}: stable pods`).toBeGreaterThan(0);
      expect(
        Math.abs((100 * s.canary) / total - s.weight),
        `${service} step ${i}: ${JSON.stringify(s)}`,
      ).toBeLessThanOrEqual(100 / total);
    }
  };
  const stepsText = (steps: Awaited<ReturnType<typeof followSteps>>['steps']) =>
    steps
      .map(([i, s]) => `step ${i} (${s.weight}%): ${s.canary} canary / ${s.stable} stable of ${s.replicas}`)
      .join('; ');

  const done = (sha: string) => (s: { sync: string; health: string; revision: string; phase: string }) =>
    s.sync === 'Synced' && s.health === 'Healthy' && s.revision === sha && s.phase !== 'Running';

  /** Next release's tag for a service: its committed tag plus a counter and a kind. */
  let counter = 0;
  const nextTag = (service: string, kind: '' | '-errors' | '-unready' = '') => {
    counter++;
    return `${tagOf(baseImage(service))}-r${counter}${kind}`;
  };
  /** The committed image of a service's Deployment. */
  const baseImage = (service: string): string => {
    const d = objects.find((c) => c.object.kind === 'Deployment' && c.object.metadata?.name === service)?.object as Any;
    return String(d?.spec?.template?.spec?.containers?.[0]?.image ?? '');
  };

  /** Waits until Argo CD reports the Application and a service's Rollout Degraded; returns what it reports. */
  const degraded = (service: string) =>
    waitFor(
      `Argo CD reports the Rollout ${service} Degraded`,
      async () => {
        const x = await loop.appHealth();
        return x.health === 'Degraded' && x.rollouts[service]?.status === 'Degraded' ? x : false;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );

  /** A revert of the last commit, Synced and Healthy, every Rollout Healthy on its stable image. */
  const revertAndRecover = async (label: string) => {
    const t0 = Date.now();
    const sha = loop.revert();
    // Synced and Healthy at the revert; the failed operation of the bad commit may still be retrying
    // (it ends on the revert: the Applications retry with refresh), which the next commit does not wait for.
    await loop.argo.waitApp(
      loop.appName,
      `Synced and Healthy at the revert`,
      (s) => s.sync === 'Synced' && s.health === 'Healthy' && s.revision === sha,
      300_000,
    );
    for (const c of committed) await loop.waitRollout(c.service, 'Healthy', (r) => r.phase === 'Healthy' && !r.abort);
    fact(`${label}: the revert (git revert, push) Synced and Healthy ${secs(Date.now() - t0)} after the push`);
  };

  it(
    '1. a good release goes through every step to full promotion (Argo CD: Progressing/Suspended, then Healthy)',
    { timeout: 600_000 },
    async () => {
      phase = 'case 1 (good release)';
      const services = committed.map((c) => c.service);
      const tags = Object.fromEntries(services.map((s) => [s, nextTag(s)]));
      const before = Object.fromEntries(
        await Promise.all(services.map(async (s) => [s, await loop.rollout(s)] as const)),
      );
      for (const s of services) loop.setImage(s, tags[s] ?? '');
      const health = new HealthLog(loop);
      const t0 = Date.now();
      const sha = loop.release(`${envName}: release ${services.map((s) => `${s} ${tags[s]}`).join(', ')}`);
      const results = await Promise.all(services.map((s) => followSteps(s, 420_000)));
      const promoted = Date.now() - t0;
      const s = await loop.argo.waitApp(loop.appName, `Synced and Healthy at ${sha}`, done(sha), 300_000);
      await health.stop();
      fact(
        `Case 1 (good release ${services.map((x) => `${x} ${tags[x]}`).join(', ')}): fully promoted ${secs(promoted)} after the push; Argo CD Synced and Healthy ${secs(Date.now() - t0)} after it`,
      );
      fact(`Case 1: Argo CD health: ${health}`);
      for (const [k, r] of results.entries()) {
        const service = services[k] ?? '';
        fact(`Case 1: ${service}: ${stepsText(r.steps)}`);
        expect(r.end.abort, `${service} aborted: ${r.end.message}`).toBe(false);
        expect(r.end.stableHash).not.toBe(before[service]?.stableHash);
        expectWeightsHeld(r.steps, service);
        // Every step was reached: the last setWeight's pause was observed.
        const c = loop.canary(service);
        const lastPause =
          c.steps
            .map((x, i) => ('pause' in x ? i : -1))
            .filter((i) => i >= 0)
            .pop() ?? -1;
        expect(r.steps.map(([i]) => i)).toContain(lastPause);
        // All pods run the new image; the Deployment is at 0 replicas.
        const pods = loop.servicePods(service);
        expect(pods.length).toBe(r.end.replicas);
        expect(
          pods.every((p) => p.images.some((i) => tagOf(i) === tags[service])),
          JSON.stringify(pods.map((p) => p.images)),
        ).toBe(true);
        const dep = await loop.kube.must<Any>(
          'GET',
          `/apis/apps/v1/namespaces/${loop.namespace}/deployments/${service}`,
        );
        expect(dep.spec.replicas).toBe(0);
        const runs = await loop.analysisRuns(service);
        const run = runs[runs.length - 1];
        expect(run?.status?.phase).toBe('Successful');
        const values = (run?.status?.metricResults?.[0]?.measurements ?? []).map((m: Any) => m.value);
        fact(
          `Case 1: ${service}: AnalysisRun ${run?.metadata?.name} ${run?.status?.phase}, measurements ${values.join(' ')}; ${pods.length} pods on ${tags[service]}, Deployment at 0 replicas`,
        );
      }
      expect(s.health).toBe('Healthy');
      expect(
        health.healths.some((h) => h === 'Progressing' || h === 'Suspended'),
        health.toString(),
      ).toBe(true);
      expect(health.healths[health.healths.length - 1]).toBe('Healthy');
    },
  );

  // One service after the other (a describe.each here would run them concurrently).
  for (const service of committed.map((c) => c.service)) {
    it(
      `2. a bad release of ${service} (5xx above the threshold) is aborted by the analysis at the first step; Argo CD Degraded with its message; the revert recovers`,
      { timeout: 600_000 },
      async () => {
        phase = `case 2 (${service} -errors)`;
        const c = loop.canary(service);
        const tag = nextTag(service, '-errors');
        const before = await loop.rollout(service);
        const stableRs = await loop.kube.must<Any>(
          'GET',
          `/apis/apps/v1/namespaces/${loop.namespace}/replicasets/${service}-${before.stableHash}`,
        );
        const stablePods = new Set(
          loop
            .servicePods(service)
            .filter((p) => p.hash === before.stableHash)
            .map((p) => p.uid),
        );
        const bad = trackTag(service, tag);
        let stableMin = Number.POSITIVE_INFINITY;
        const stopStable = loop.pods.observe((pods) => {
          const n = pods.filter((p) => p.hash === before.stableHash && p.ready && !p.deleting).length;
          stableMin = Math.min(stableMin, n);
        });
        loop.setImage(service, tag);
        const t0 = Date.now();
        loop.release(`${envName}: release ${service} ${tag} (answers 5xx)`);
        const r = await loop.waitRollout(service, 'aborted', (x) => x.abort, 300_000);
        const abortedAt = Date.now() - t0;
        expect(r.stepIndex, 'aborted at the first step (index of the first pause or before)').toBeLessThanOrEqual(
          c.steps.findIndex((s) => 'pause' in s),
        );
        // The canary scales to zero; the stable ReplicaSet is the same one, on the same image, at full size.
        await waitFor(
          `${service}: no pod on ${tag}`,
          () => withTag(loop.servicePods(service), service, tag).length === 0,
          { timeoutMs: 60_000 },
        );
        const after = await loop.rollout(service);
        expect(after.stableHash).toBe(before.stableHash);
        const rs = await loop.kube.must<Any>(
          'GET',
          `/apis/apps/v1/namespaces/${loop.namespace}/replicasets/${service}-${before.stableHash}`,
        );
        expect(rs.metadata.uid).toBe(stableRs.metadata.uid);
        expect(rs.spec.template.spec.containers[0].image).toBe(stableRs.spec.template.spec.containers[0].image);
        // The stable ReplicaSet is back at the full count (a weight's approximation may have taken
        // one of its pods while the canary was available; the facts say how many).
        await waitFor(
          `${service}-${before.stableHash} back at ${before.replicas}`,
          async () =>
            (
              await loop.kube.must<Any>(
                'GET',
                `/apis/apps/v1/namespaces/${loop.namespace}/replicasets/${service}-${before.stableHash}`,
              )
            ).status?.readyReplicas === before.replicas,
          { timeoutMs: 60_000, intervalMs: 250 },
        );
        const canaryRs = await loop.kube.must<Any>(
          'GET',
          `/apis/apps/v1/namespaces/${loop.namespace}/replicasets/${service}-${r.currentHash}`,
        );
        expect(canaryRs.spec.replicas).toBe(0);
        const lostStable = [...stablePods].filter((u) => !loop.pods.pods.has(u)).length;
        bad.stop();
        stopStable();
        // At most the first step's share of pods ever ran the bad image.
        const first = c.weights[0] ?? 0;
        const bound = Math.ceil((first * before.replicas) / 100);
        expect(bad.max).toBeGreaterThan(0);
        expect(bad.max).toBeLessThanOrEqual(bound);
        const runs = await loop.analysisRuns(service);
        const run = runs[runs.length - 1];
        expect(run?.status?.phase).toBe('Failed');
        const values = (run?.status?.metricResults?.[0]?.measurements ?? []).map((m: Any) => `${m.phase} ${m.value}`);
        // Argo CD: Degraded, with the analysis' message on the Rollout.
        const h = await degraded(service);
        const msg = h.rollouts[service]?.message ?? '';
        expect(msg).toMatch(/error-ratio/);
        expect(msg).toMatch(/aborted/i);
        fact(
          `Case 2 (${service} ${tag}): aborted ${secs(abortedAt)} after the push, at step ${r.stepIndex}; ` +
            `at most ${bad.max} pod(s) on the bad image at once (of ${bad.totalAtMax} ${service} pods then; ${before.replicas} replicas; ` +
            `first step ${first}% → at most ${bound}); largest share ${((100 * bad.max) / before.replicas).toFixed(1)}% of the replicas, ` +
            `${((100 * bad.max) / Math.max(1, bad.totalAtMax)).toFixed(1)}% of the pods running then. Stable ReplicaSet ${service}-${before.stableHash}: same object and image, ` +
            `fewest Ready stable pods ${stableMin}, stable pods lost ${lostStable}; canary ReplicaSet at 0. ` +
            `AnalysisRun ${run?.metadata?.name}: ${values.join(', ')}. Argo CD: ${h.health}, "${msg}"`,
        );
        await revertAndRecover(`Case 2 (${service})`);
        expect(loop.servicePods(service).every((p) => p.hash === before.stableHash)).toBe(true);
      },
    );
  }

  it(
    '3. a bad release whose pods never become Ready is aborted by progressDeadlineAbort; the revert recovers',
    { timeout: 600_000 },
    async () => {
      phase = 'case 3 (-unready)';
      const service = 'frontend';
      const c = loop.canary(service);
      expect(c.autoAbort).toBe(true);
      const tag = nextTag(service, '-unready');
      const before = await loop.rollout(service);
      const bad = trackTag(service, tag);
      loop.setImage(service, tag);
      const t0 = Date.now();
      loop.release(`${envName}: release ${service} ${tag} (never Ready)`);
      const started = await loop.waitRollout(
        service,
        'the canary started',
        (x) => x.currentHash !== x.stableHash,
        180_000,
      );
      const tStart = Date.now();
      const r = await loop.waitRollout(service, 'aborted', (x) => x.abort, 300_000);
      const tookAbort = Date.now() - tStart;
      await waitFor(
        `${service}: no pod on ${tag}`,
        () => withTag(loop.servicePods(service), service, tag).length === 0,
        { timeoutMs: 60_000 },
      );
      bad.stop();
      expect(r.message).toMatch(/ProgressDeadlineExceeded|timed out progressing/);
      expect(r.stableHash).toBe(before.stableHash);
      // The analysis did not fail: an unready pod serves nothing, so its error ratio is the baseline.
      const runs = await loop.analysisRuns(service);
      const run =
        runs.find((a) => a.metadata?.labels?.['rollouts-pod-template-hash'] === started.currentHash) ??
        runs[runs.length - 1];
      expect(run?.status?.phase).not.toBe('Failed');
      const h = await degraded(service);
      fact(
        `Case 3 (${service} ${tag}): the canary started ${secs(tStart - t0)} after the push, aborted ${secs(tookAbort)} later ` +
          `(progressDeadlineSeconds ${scaledDeadline(c.progressDeadlineSeconds, scale)} s scaled from ${c.progressDeadlineSeconds}); at most ${bad.max} pod(s) on the image; ` +
          `Rollout: "${r.message}"; analysis ${run?.status?.phase ?? 'none'}; Argo CD ${h.health}: "${h.rollouts[service]?.message}"`,
      );
      await revertAndRecover('Case 3');
    },
  );

  /** kubectl-argo-rollouts against the twin, as a team runs it; the command and its output go to the transcript. */
  const plugin = (args: string[]): string => {
    const bin = tool('argo-rollouts', 'kubectl-argo-rollouts');
    let out: string;
    try {
      out = execFileSync(bin, ['--kubeconfig', loop.argo.twin.kubeconfigPath, '-n', loop.namespace, ...args], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      const err = e as { stdout?: string; stderr?: string; status?: number };
      throw new Error(
        `kubectl argo rollouts ${args.join(' ')} exited ${err.status}: ${err.stdout ?? ''}${err.stderr ?? ''}`,
      );
    }
    transcript.push(
      '```console',
      `$ kubectl argo rollouts ${['-n', loop.namespace, ...args].join(' ')}`,
      out.trimEnd(),
      '```',
      '',
    );
    return out;
  };

  it(
    '5. the PDB holds: an eviction that would break it is refused during the canary, and available pods never fell below it',
    { timeout: 600_000 },
    async () => {
      phase = 'case 5 (PDB)';
      const service = 'frontend';
      const tag = nextTag(service, '-unready');
      const before = await loop.rollout(service);
      loop.setImage(service, tag);
      loop.release(`${envName}: release ${service} ${tag} (never Ready), for the PDB`);
      const r = await loop.waitRollout(
        service,
        'a canary pod exists',
        (x) => x.currentHash !== x.stableHash && loop.servicePods(service).some((p) => p.hash === x.currentHash),
        180_000,
      );
      const pdbPath = `/apis/policy/v1/namespaces/${loop.namespace}/poddisruptionbudgets/${service}`;
      const pdb = await waitFor(
        'the PDB counts the canary',
        async () => {
          const p = await loop.kube.must<Any>('GET', pdbPath);
          return p.status?.expectedPods > before.replicas ? p : false;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      const victim = loop.servicePods(service).find((p) => p.hash === r.stableHash && p.ready);
      expect(victim).toBeDefined();
      const ev = await loop.kube.req('POST', `/api/v1/namespaces/${loop.namespace}/pods/${victim!.name}/eviction`, {
        apiVersion: 'policy/v1',
        kind: 'Eviction',
        metadata: { name: victim!.name, namespace: loop.namespace },
      });
      fact(
        `Case 5: during an unready canary the PDB ${service} had expectedPods ${pdb.status.expectedPods}, currentHealthy ${pdb.status.currentHealthy}, ` +
          `desiredHealthy ${pdb.status.desiredHealthy}, disruptionsAllowed ${pdb.status.disruptionsAllowed}; evicting stable pod ${victim!.name}: HTTP ${ev.status} "${ev.message}"`,
      );
      expect(ev.status).toBe(429);
      expect(ev.message).toMatch(/disruption budget/);
      expect(loop.pods.pods.get(victim!.uid)?.deleting).toBe(false);
      // The team aborts the canary by hand (the transcript keeps it), then reverts the commit.
      transcript.push(`## ${envName}: a canary whose pods never become Ready, aborted by hand`, '');
      plugin(['get', 'rollout', service, '--no-color']);
      plugin(['abort', service]);
      await loop.waitRollout(service, 'aborted', (x) => x.abort);
      plugin(['get', 'rollout', service, '--no-color']);
      await revertAndRecover('Case 5');
      // Throughout every case so far, no service had fewer Ready pods than its PDB allows.
      for (const c of committed) {
        const m = minReady.get(c.service);
        const floor = pdbFloor(c.service, minReplicas(c.service));
        fact(
          `Case 5: ${c.service}: fewest Ready pods since the bootstrap ${m?.ready} (${m?.at}); the PDB allows no fewer than ${floor}`,
        );
        expect(m?.ready ?? 0).toBeGreaterThanOrEqual(floor);
      }
    },
  );

  it(
    '6. later sync waves are never blocked by a pause: a commit that changes the frontend image and a later-wave object is applied while the canary pauses',
    { timeout: 600_000 },
    async () => {
      phase = 'case 6 (waves)';
      const service = 'frontend';
      const c = loop.canary(service);
      // The Rollouts (and the HPAs that scale them) are the last waves.
      const scalesRollout = (o: (typeof objects)[number]) =>
        o.object.kind === 'HorizontalPodAutoscaler' && (o.object.spec as Any)?.scaleTargetRef?.kind === 'Rollout';
      const others = objects.filter((o) => o.object.kind !== 'Rollout' && !scalesRollout(o));
      const lastOther = Math.max(...others.map((o) => o.wave));
      for (const k of committed) expect(k.wave, `${k.service}'s Rollout wave`).toBeGreaterThan(lastOther);
      const dep = objects.find((o) => o.object.kind === 'Deployment' && o.object.metadata?.name === service);
      expect(dep).toBeDefined();
      // A later-wave object than the frontend Deployment (whose change starts the canary).
      const later = [...others]
        .reverse()
        .find((o) => o.wave > dep!.wave && o.object.kind !== 'AnalysisTemplate' && o.object.metadata?.namespace);
      expect(later, `an object in a wave after ${dep!.wave}`).toBeDefined();
      const tag = nextTag(service);
      loop.setImage(service, tag);
      loop.argo.synth();
      const file = join(loop.argo.work, later!.file);
      const doc = parseDocument(readFileSync(file, 'utf8'));
      const probe = `case-6-${Date.now()}`;
      doc.setIn(['metadata', 'annotations', 'coderun.dev/canary-probe'], probe);
      writeFileSync(file, doc.toString());
      const t0 = Date.now();
      const sha = loop.argo.commit(
        `${envName}: release ${service} ${tag}, and annotate ${later!.file} (wave ${later!.wave})`,
      );
      const path = await loop.kube.pathOf(later!.object);
      const seen = await waitFor(
        `${later!.file} annotated`,
        async () => {
          const o = await loop.kube.req<Any>('GET', path);
          if (o.body?.metadata?.annotations?.['coderun.dev/canary-probe'] !== probe) return false;
          return { rollout: await loop.rollout(service), health: await loop.appHealth() };
        },
        { timeoutMs: 180_000, intervalMs: 250 },
      );
      const at = Date.now() - t0;
      expect(seen.rollout.currentHash, 'the canary had started').not.toBe(seen.rollout.stableHash);
      expect(seen.rollout.phase === 'Paused' || seen.rollout.paused || seen.rollout.phase === 'Progressing').toBe(true);
      const result = await followSteps(service, 420_000);
      const end = Date.now() - t0;
      expect(result.end.abort).toBe(false);
      await loop.argo.waitApp(loop.appName, `Synced and Healthy at ${sha}`, done(sha), 300_000);
      fact(
        `Case 6: ${later!.object.kind} ${later!.object.metadata?.name} (wave ${later!.wave}; frontend Deployment wave ${dep!.wave}, Rollouts waves ${committed.map((k) => `${k.service} ${k.wave}`).join(', ')}) ` +
          `applied ${secs(at)} after the push while the canary was at step ${seen.rollout.stepIndex} (${seen.rollout.phase}; Argo CD ${seen.health.health}); ` +
          `the canary was promoted ${secs(end)} after the push, Argo CD Synced and Healthy ${secs(Date.now() - t0)} after it (pauses ${c.steps.flatMap((s) => ('pause' in s ? [scaled(s.pause, scale)] : [])).join(' + ')})`,
      );
    },
  );

  it(
    '4. with the HPA active, the HPA scales the Rollout during and after the canary, never the Deployment or a ReplicaSet; weights hold',
    { timeout: 600_000 },
    async () => {
      phase = 'case 4 (HPA)';
      const service = 'frontend';
      const hpa = hpaOf(service);
      expect(hpa, `${envName}: a HorizontalPodAutoscaler ${service}`).toBeDefined();
      expect(hpa.spec.scaleTargetRef).toMatchObject({
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Rollout',
        name: service,
      });
      const hpaPath = `/apis/autoscaling/v2/namespaces/${loop.namespace}/horizontalpodautoscalers/${service}`;
      const before = await loop.rollout(service);
      const min = Number(hpa.spec.minReplicas);
      const max = Number(hpa.spec.maxReplicas);
      const tag = nextTag(service);
      loop.setImage(service, tag);
      const t0 = Date.now();
      const sha = loop.release(`${envName}: release ${service} ${tag}, with load`);
      await loop.waitRollout(
        service,
        'paused at the first step',
        (x) => x.currentHash !== x.stableHash && x.paused,
        180_000,
      );
      const tLoad = Date.now();
      // Load on every frontend pod (3 × its requests: above every target), as the autoscaling scenario does.
      await setLoad(loop.kube, [
        { namespace: loop.namespace, labels: { 'app.kubernetes.io/name': service }, cpu: 3, memory: 3 },
      ]);
      const scaledUp = await loop.waitRollout(
        service,
        `scaled by the HPA above ${before.replicas}`,
        (x) => x.replicas > before.replicas,
        180_000,
      );
      const during = {
        replicas: scaledUp.replicas,
        stepIndex: scaledUp.stepIndex,
        paused: scaledUp.paused,
        after: Date.now() - tLoad,
      };
      expect(scaledUp.currentHash, 'still in the canary').not.toBe(scaledUp.stableHash);
      const result = await followSteps(service, 420_000);
      expect(result.end.abort).toBe(false);
      // Weights held at the steps after the HPA scaled.
      expectWeightsHeld(result.steps, service);
      const final = await loop.waitRollout(service, `at the HPA's maximum ${max}`, (x) => x.replicas === max, 180_000);
      await waitFor(
        `${max} ${service} pods Ready on ${tag}`,
        () => withTag(loop.servicePods(service), service, tag).filter((p) => p.ready).length === max,
        { timeoutMs: 120_000 },
      );
      const h = await loop.kube.must<Any>('GET', hpaPath);
      // Who wrote replica counts: the HPA only the Rollout's scale subresource; the Rollouts controller the ReplicaSets and the Deployment.
      const managers = (o: Any): string[] =>
        (o.metadata.managedFields ?? [])
          .filter(
            (f: Any) =>
              JSON.stringify(f.fieldsV1 ?? {}).includes('"f:replicas"') &&
              JSON.stringify(f.fieldsV1 ?? {}).includes('"f:spec"'),
          )
          .map((f: Any) => `${f.manager}${f.subresource ? `/${f.subresource}` : ''}`);
      const ro = (await loop.rollout(service)).raw;
      const rss = (
        await loop.kube.must<{ items: Any[] }>('GET', `/apis/apps/v1/namespaces/${loop.namespace}/replicasets`)
      ).items.filter((x) =>
        (x.metadata.ownerReferences ?? []).some((o: Any) => o.kind === 'Rollout' && o.name === service),
      );
      const dep = await loop.kube.must<Any>('GET', `/apis/apps/v1/namespaces/${loop.namespace}/deployments/${service}`);
      const rsManagers = [...new Set(rss.flatMap(managers))];
      fact(
        `Case 4 (${service} ${tag}): load raised ${secs(tLoad - t0)} after the push, during the canary's step ${during.stepIndex}; the HPA scaled the Rollout ` +
          `${before.replicas} → ${during.replicas} ${secs(during.after)} later, still in the canary; then ${stepsText(result.steps)}; promoted at ${final.replicas} replicas ` +
          `(HPA ${min}–${max}). Writers of spec.replicas: Rollout ${JSON.stringify(managers(ro))}, ReplicaSets ${JSON.stringify(rsManagers)}, ` +
          `Deployment ${JSON.stringify(managers(dep))} (spec.replicas ${dep.spec.replicas}); HPA status ${JSON.stringify({ current: h.status.currentReplicas, desired: h.status.desiredReplicas })}`,
      );
      expect(managers(ro)).toContain('kube-controller-manager/scale');
      expect(rsManagers.some((m) => m.includes('/scale') || m.startsWith('kube-controller-manager'))).toBe(false);
      expect(managers(dep).some((m) => m.includes('/scale'))).toBe(false);
      expect(dep.spec.replicas).toBe(0);
      // After the canary: lower load; the HPA keeps acting on the Rollout, on the new pods' metrics
      // (the committed scale-down window holds the count for its 300 s; its condition says so).
      await setLoad(loop.kube, []);
      const held = await waitFor(
        'the HPA recommends fewer pods for the Rollout after the canary',
        async () => {
          const x = await loop.kube.must<Any>('GET', hpaPath);
          const able = (x.status?.conditions ?? []).find((c: Any) => c.type === 'AbleToScale');
          const active = (x.status?.conditions ?? []).find((c: Any) => c.type === 'ScalingActive');
          return able?.reason === 'ScaleDownStabilized' && active?.status === 'True' ? { able, active, x } : false;
        },
        { timeoutMs: 120_000, intervalMs: 500 },
      );
      fact(
        `Case 4: after the canary, at low load: AbleToScale ${held.able.reason} ("${held.able.message}"), ScalingActive ${held.active.reason}; metrics ${JSON.stringify(held.x.status.currentMetrics)}`,
      );
      await loop.argo.waitApp(loop.appName, `Synced and Healthy at ${sha}`, done(sha), 300_000);
    },
  );

  it(
    '7. operating a release by hand: get, abort, retry, promote, promote --full (transcript)',
    { timeout: 600_000 },
    async () => {
      phase = 'case 7 (by hand)';
      const service = 'frontend';
      const tag = nextTag(service);
      loop.setImage(service, tag);
      const sha = loop.release(`${envName}: release ${service} ${tag}, operated by hand`);
      transcript.push(`## ${envName}: a good release of ${service} (${tag}), operated by hand`, '');
      const pausedCanary = (x: RolloutView) => x.currentHash !== x.stableHash && x.paused && !x.abort;
      await loop.waitRollout(service, 'paused at the first step', pausedCanary, 180_000);
      plugin(['get', 'rollout', service, '--no-color']);
      plugin(['abort', service]);
      const aborted = await loop.waitRollout(service, 'aborted', (x) => x.abort && /abort/i.test(x.message));
      await waitFor('Argo CD: Degraded', async () => (await loop.appHealth()).health === 'Degraded', {
        timeoutMs: 60_000,
        intervalMs: 500,
      });
      plugin(['get', 'rollout', service, '--no-color']);
      plugin(['retry', 'rollout', service]);
      const again = await loop.waitRollout(service, 'retried, paused at the first step', pausedCanary, 180_000);
      plugin(['promote', service]);
      const next = await loop.waitRollout(
        service,
        'past the first pause',
        (x) => x.stepIndex > again.stepIndex || (x.phase === 'Healthy' && x.currentHash === x.stableHash),
      );
      plugin(['get', 'rollout', service, '--no-color']);
      const promotedByStep = next.phase === 'Healthy' && next.currentHash === next.stableHash;
      if (!promotedByStep) plugin(['promote', service, '--full']);
      const r: RolloutView = await loop.waitRollout(
        service,
        'fully promoted',
        (x) => x.phase === 'Healthy' && x.currentHash === x.stableHash,
        180_000,
      );
      plugin(['get', 'rollout', service, '--no-color']);
      await loop.argo.waitApp(loop.appName, `Synced and Healthy at ${sha}`, done(sha), 300_000);
      expect(loop.servicePods(service).every((p) => p.images.some((i) => tagOf(i) === tag))).toBe(true);
      fact(
        `Case 7: by hand: abort ("${aborted.message}"), retry, promote${promotedByStep ? ' (the last pause: full promotion)' : ', promote --full'} → Healthy on ${tag} (${r.replicas} replicas); transcript in .build/canary-${envName}-transcript.md`,
      );
    },
  );
});
/* eslint-enable @typescript-eslint/no-explicit-any */
