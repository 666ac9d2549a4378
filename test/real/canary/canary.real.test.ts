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
    // A revision already current (an aborted canary that this release replaces) is not this canary.
    const from = (await loop.rollout(service)).currentHash;
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
        if (r.currentHash !== r.stableHash && r.currentHash !== from) started = true;
        if (started && r.paused && !r.abort) {
          const pods = loop.servicePods(service).filter((p) => p.ready);
          seen.set(r.stepIndex, {
            weight: weightAt(r.stepIndex),
            canary: pods.filter((p) => p.hash === r.currentHash).length,
            stable: pods.filter((p) => p.hash === r.stableHash).length,
            replicas: r.replicas,
          });
        }
        if (started && r.abort) return r;
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
    const sha = await loop.revert();
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

  /** The service whose bad release `git revert` recovers (case 2); the other's is recovered by the next good release. */
  const REVERTED = 'frontend';

  // One service after the other (a describe.each here would run them concurrently).
  for (const service of committed.map((c) => c.service)) {
    it(
      `2. a bad release of ${service} (5xx above the threshold) is aborted by the analysis at the first step; Argo CD Degraded with its message; ${service === REVERTED ? 'git revert recovers' : "the next good release (case 3's commit) recovers"}`,
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
        await loop.release(`${envName}: release ${service} ${tag} (answers 5xx)`);
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
        if (service === REVERTED) {
          await revertAndRecover(`Case 2 (${service})`);
          expect(loop.servicePods(service).every((p) => p.hash === before.stableHash)).toBe(true);
        } else {
          // Left aborted: case 3's commit carries a good image of it, which recovers it (asserted there).
          abortedByCase2 = { service, stableHash: before.stableHash };
        }
      },
    );
  }

  /**
   * Case 3's release, which also carries case 5 and recovers case 2's second service: one commit
   * with a frontend image whose pods never become Ready and a good image of the service case 2 left
   * aborted. While the frontend canary's pod is not Ready, a stable pod's eviction is tried (case 5);
   * progressDeadlineAbort then aborts the canary (case 3). The good release of the other service
   * runs beside it (it is judged by its own canary pods' analysis, which the unready frontend does
   * not touch). The frontend stays aborted: case 7's good release recovers it.
   */
  let abortedByCase2: { service: string; stableHash: string } | undefined;

  /**
   * Case 7: a good release of `service` (already pushed) operated by hand with the plugin, as the
   * README's transcript shows: get, abort, retry, promote, promote --full. Argo CD's view of the
   * Rollout is followed (Degraded after the abort, Healthy at the end); the Application as a whole
   * is left to the frontend canary beside it.
   */
  const operateByHand = async (service: string, tag: string) => {
    const t0 = Date.now();
    transcript.push(`## ${envName}: a good release of ${service} (${tag}), operated by hand`, '');
    const pausedCanary = (x: RolloutView) => x.currentHash !== x.stableHash && x.paused && !x.abort;
    await loop.waitRollout(service, 'paused at the first step', pausedCanary, 180_000);
    const tPaused = Date.now() - t0;
    plugin(['get', 'rollout', service, '--no-color']);
    plugin(['abort', service]);
    const aborted = await loop.waitRollout(service, 'aborted', (x) => x.abort && /abort/i.test(x.message));
    const argoAborted = await degraded(service);
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
    const argoHealthy = await waitFor(
      `Argo CD reports the Rollout ${service} Healthy`,
      async () => {
        const x = await loop.appHealth();
        return x.rollouts[service]?.status === 'Healthy' ? x : false;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    return {
      service,
      tag,
      tPaused,
      aborted,
      argoAborted,
      again,
      promotedByStep,
      r,
      pods: loop.servicePods(service),
      argoHealthy,
      took: Date.now() - t0,
    };
  };
  const unreadyRelease = async () => {
    phase = 'case 3 (-unready) and case 5 (PDB)';
    const service = 'frontend';
    const c = loop.canary(service);
    const tag = nextTag(service, '-unready');
    const before = await loop.rollout(service);
    const bad = trackTag(service, tag);
    loop.setImage(service, tag);
    const other = abortedByCase2?.service ?? 'oauth2-proxy';
    const otherTag = nextTag(other);
    loop.setImage(other, otherTag);
    const t0 = Date.now();
    const sha = await loop.release(
      `${envName}: release ${service} ${tag} (never Ready)${other ? `, ${other} ${otherTag}` : ''}`,
    );
    // Case 7: the other service's good release operated by hand, beside the frontend's canary.
    const byHand = operateByHand(other, otherTag);
    byHand.catch(() => undefined);
    const started = await loop.waitRollout(
      service,
      'a canary pod exists',
      (x) => x.currentHash !== x.stableHash && loop.servicePods(service).some((p) => p.hash === x.currentHash),
      180_000,
    );
    const tStart = Date.now();
    // Case 5: the PDB counts the unready canary pod; evicting a stable pod is refused.
    const pdbPath = `/apis/policy/v1/namespaces/${loop.namespace}/poddisruptionbudgets/${service}`;
    const pdb = await waitFor(
      'the PDB counts the canary',
      async () => {
        const p = await loop.kube.must<Any>('GET', pdbPath);
        return p.status?.expectedPods > before.replicas ? p : false;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const victim = loop.servicePods(service).find((p) => p.hash === started.stableHash && p.ready);
    const ev = victim
      ? await loop.kube.req('POST', `/api/v1/namespaces/${loop.namespace}/pods/${victim.name}/eviction`, {
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name: victim.name, namespace: loop.namespace },
        })
      : undefined;
    const atEviction = await loop.rollout(service);
    const evicted = {
      pdb,
      victim,
      ev,
      stillThere: victim ? loop.pods.pods.get(victim.uid)?.deleting === false : false,
      canaryPods: loop.servicePods(service).filter((p) => p.hash === atEviction.currentHash),
      atEviction,
    };
    // Case 3: progressDeadlineAbort.
    const r = await loop.waitRollout(service, 'aborted', (x) => x.abort, 300_000);
    const tookAbort = Date.now() - tStart;
    await waitFor(`${service}: no pod on ${tag}`, () => withTag(loop.servicePods(service), service, tag).length === 0, {
      timeoutMs: 60_000,
    });
    bad.stop();
    const runs = await loop.analysisRuns(service);
    const run =
      runs.find((a) => a.metadata?.labels?.['rollouts-pod-template-hash'] === started.currentHash) ??
      runs[runs.length - 1];
    const h = await degraded(service);
    const otherResult = await byHand;
    const otherPods = loop.servicePods(other);
    return {
      service,
      c,
      tag,
      sha,
      before,
      bad: bad.max,
      started,
      startedAfter: tStart - t0,
      tookAbort,
      r,
      run,
      h,
      evicted,
      other,
      otherTag,
      otherResult,
      otherPods,
    };
  };
  let unready: ReturnType<typeof unreadyRelease> | undefined;

  it(
    '3. a bad release whose pods never become Ready is aborted by progressDeadlineAbort; the next good release (case 1) recovers',
    { timeout: 600_000 },
    async () => {
      expect(loop.canary('frontend').autoAbort).toBe(true);
      const x = await (unready ??= unreadyRelease());
      expect(x.r.message).toMatch(/ProgressDeadlineExceeded|timed out progressing/);
      expect(x.r.stableHash).toBe(x.before.stableHash);
      expect(x.bad).toBeGreaterThan(0);
      expect(x.bad).toBeLessThanOrEqual(Math.ceil(((x.c.weights[0] ?? 0) * x.before.replicas) / 100));
      // The analysis did not fail: an unready pod serves nothing, so its error ratio is the baseline.
      expect(x.run?.status?.phase).not.toBe('Failed');
      fact(
        `Case 3 (${x.service} ${x.tag}): the canary started ${secs(x.startedAfter)} after the push, aborted ${secs(x.tookAbort)} later ` +
          `(progressDeadlineSeconds ${scaledDeadline(x.c.progressDeadlineSeconds, scale)} s scaled from ${x.c.progressDeadlineSeconds}); at most ${x.bad} pod(s) on the image; ` +
          `Rollout: "${x.r.message}"; analysis ${x.run?.status?.phase ?? 'none'}; Argo CD ${x.h.health}: "${x.h.rollouts[x.service]?.message}"`,
      );
      // The same commit's good release of the service case 2 left aborted recovered it.
      const end = x.otherResult.r;
      expect(end.phase).toBe('Healthy');
      expect(end.abort).toBe(false);
      expect(end.stableHash).not.toBe(abortedByCase2?.stableHash);
      expect(x.otherPods.length).toBeGreaterThan(0);
      expect(x.otherPods.every((p) => p.images.some((i) => tagOf(i) === x.otherTag))).toBe(true);
      fact(
        `Case 2 (${x.other}): recovered by the next good release ${x.otherTag} (case 3's commit, operated by hand: case 7); Healthy, ${x.otherPods.length} pods on it`,
      );
    },
  );

  it(
    '5. the PDB holds: an eviction that would break it is refused during the unready canary of case 3',
    { timeout: 600_000 },
    async () => {
      const x = await (unready ??= unreadyRelease());
      const e = x.evicted;
      expect(e.victim, 'a Ready stable pod').toBeDefined();
      expect(e.atEviction.abort, 'the canary was still running at the eviction').toBe(false);
      expect(e.canaryPods.length).toBeGreaterThan(0);
      expect(e.canaryPods.some((p) => p.ready)).toBe(false);
      fact(
        `Case 5: during case 3's unready canary the PDB ${x.service} had expectedPods ${e.pdb.status.expectedPods}, currentHealthy ${e.pdb.status.currentHealthy}, ` +
          `desiredHealthy ${e.pdb.status.desiredHealthy}, disruptionsAllowed ${e.pdb.status.disruptionsAllowed}; evicting stable pod ${e.victim?.name}: HTTP ${e.ev?.status} "${e.ev?.message}"`,
      );
      expect(e.ev?.status).toBe(429);
      expect(e.ev?.message).toMatch(/disruption budget/);
      expect(e.stillThere).toBe(true);
      expectPdbHeld('Case 5');
    },
  );

  it(
    '7. operating a release by hand: get, abort, retry, promote, promote --full (transcript), during case 3',
    { timeout: 600_000 },
    async () => {
      const x = (await (unready ??= unreadyRelease())).otherResult;
      expect(x.aborted.abort).toBe(true);
      expect(x.aborted.message).toMatch(/abort/i);
      expect(x.argoAborted.rollouts[x.service]?.status).toBe('Degraded');
      expect(x.again.abort).toBe(false);
      expect(x.r.phase).toBe('Healthy');
      expect(x.r.currentHash).toBe(x.r.stableHash);
      expect(x.pods.length).toBe(x.r.replicas);
      expect(x.pods.every((p) => p.images.some((i) => tagOf(i) === x.tag))).toBe(true);
      expect(x.argoHealthy.rollouts[x.service]?.status).toBe('Healthy');
      expect(transcript.join('\n')).toMatch(/promote/);
      fact(
        `Case 7 (${x.service} ${x.tag}, in case 3's commit): paused at the first step ${secs(x.tPaused)} after the push; by hand: abort ("${x.aborted.message}"; Argo CD: ${x.argoAborted.rollouts[x.service]?.status}), retry, promote${x.promotedByStep ? ' (the last pause: full promotion)' : ', promote --full'} → Healthy on ${x.tag} (${x.r.replicas} replicas), Argo CD's Rollout Healthy, ${secs(x.took)} after the push; transcript in .build/canary-${envName}-transcript.md`,
      );
    },
  );

  /** Since the bootstrap, no service had fewer Ready pods than its PDB allows. */
  const expectPdbHeld = (label: string) => {
    for (const c of committed) {
      const m = minReady.get(c.service);
      const floor = pdbFloor(c.service, minReplicas(c.service));
      fact(
        `${label}: ${c.service}: fewest Ready pods since the bootstrap ${m?.ready} (${m?.at}); the PDB allows no fewer than ${floor}`,
      );
      expect(m?.ready ?? 0).toBeGreaterThanOrEqual(floor);
    }
  };

  /**
   * The good release that carries cases 1, 4 and 6 (each asserts on what it records): one commit
   * with a new image of every service and an annotation on a later-wave object than the frontend's
   * Deployment. Every canary is followed to full promotion; at the frontend's first pause the load
   * rises, the HPA scales the Rollout, the later steps hold their weights; the later-wave object is
   * applied while the canary pauses.
   */
  const goodRelease = async () => {
    phase = 'cases 1, 4, 6 (good release with load)';
    const services = committed.map((c) => c.service);
    const tags = Object.fromEntries(services.map((s) => [s, nextTag(s)]));
    const before = Object.fromEntries(
      await Promise.all(services.map(async (s) => [s, await loop.rollout(s)] as const)),
    );
    for (const s of services) loop.setImage(s, tags[s] ?? '');
    loop.argo.synth();
    // Case 6: a later-wave object than the frontend Deployment, annotated in the same commit.
    const service = 'frontend';
    const scalesRollout = (o: (typeof objects)[number]) =>
      o.object.kind === 'HorizontalPodAutoscaler' && (o.object.spec as Any)?.scaleTargetRef?.kind === 'Rollout';
    const others = objects.filter((o) => o.object.kind !== 'Rollout' && !scalesRollout(o));
    const lastOther = Math.max(...others.map((o) => o.wave));
    const dep = objects.find((o) => o.object.kind === 'Deployment' && o.object.metadata?.name === service);
    const later = dep
      ? [...others]
          .reverse()
          .find((o) => o.wave > dep.wave && o.object.kind !== 'AnalysisTemplate' && o.object.metadata?.namespace)
      : undefined;
    if (!dep || !later) throw new Error(`${envName}: no frontend Deployment or no object in a later wave`);
    const file = join(loop.argo.work, later.file);
    const doc = parseDocument(readFileSync(file, 'utf8'));
    const probe = `case-6-${Date.now()}`;
    doc.setIn(['metadata', 'annotations', 'coderun.dev/canary-probe'], probe);
    writeFileSync(file, doc.toString());
    const hpa = hpaOf(service);
    const hpaPath = `/apis/autoscaling/v2/namespaces/${loop.namespace}/horizontalpodautoscalers/${service}`;
    const max = Number(hpa?.spec?.maxReplicas);
    const health = new HealthLog(loop);
    const t0 = Date.now();
    const follow = Promise.all(services.map((s) => followSteps(s, 420_000)));
    const sha = await loop.commit(
      `${envName}: release ${services.map((s) => `${s} ${tags[s]}`).join(', ')}; annotate ${later.file} (wave ${later.wave})`,
    );
    const path = await loop.kube.pathOf(later.object);
    const waves = waitFor(
      `${later.file} annotated`,
      async () => {
        const o = await loop.kube.req<Any>('GET', path);
        if (o.body?.metadata?.annotations?.['coderun.dev/canary-probe'] !== probe) return false;
        return { rollout: await loop.rollout(service), health: await loop.appHealth(), at: Date.now() - t0 };
      },
      { timeoutMs: 180_000, intervalMs: 250 },
    );
    // Case 4: load at the frontend's first pause (3 × its requests on every pod: above every target).
    // This release's canary (not the aborted one of case 3 that it replaces), paused at its first step.
    const fromHash = before[service]?.currentHash;
    const thisCanary = (x: RolloutView) => x.currentHash !== x.stableHash && x.currentHash !== fromHash && !x.abort;
    await loop.waitRollout(service, 'paused at the first step', (x) => thisCanary(x) && x.paused, 180_000);
    const tLoad = Date.now();
    await setLoad(loop.kube, [
      { namespace: loop.namespace, labels: { 'app.kubernetes.io/name': service }, cpu: 3, memory: 3 },
    ]);
    const scaledUp = await loop.waitRollout(
      service,
      `scaled by the HPA above ${before[service]?.replicas}`,
      (x) => thisCanary(x) && x.replicas > (before[service]?.replicas ?? 0),
      180_000,
    );
    const during = { rollout: scaledUp, after: Date.now() - tLoad };
    const results = await follow;
    const promoted = Date.now() - t0;
    const seen = await waves;
    const final = await loop.waitRollout(service, `at the HPA's maximum ${max}`, (x) => x.replicas === max, 180_000);
    await waitFor(
      `${max} ${service} pods Ready on ${tags[service]}`,
      () => withTag(loop.servicePods(service), service, tags[service] ?? '').filter((p) => p.ready).length === max,
      { timeoutMs: 120_000 },
    );
    // Every service: its pods, its Deployment, its last AnalysisRun, after promotion.
    const after: Record<string, { rollout: RolloutView; pods: PodView[]; dep: Any; run: Any }> = {};
    for (const s of services) {
      const r = await loop.rollout(s);
      const pods = await waitFor(
        `${s}: ${r.replicas} pods`,
        () => {
          const p = loop.servicePods(s);
          return p.length === r.replicas ? p : false;
        },
        { timeoutMs: 60_000 },
      );
      const runs = await loop.analysisRuns(s);
      after[s] = {
        rollout: r,
        pods,
        dep: await loop.kube.must<Any>('GET', `/apis/apps/v1/namespaces/${loop.namespace}/deployments/${s}`),
        run: runs[runs.length - 1],
      };
    }
    // Who wrote replica counts: the HPA only the Rollout's scale subresource; the Rollouts controller the ReplicaSets and the Deployment.
    const managers = (o: Any): string[] =>
      (o.metadata.managedFields ?? [])
        .filter(
          (f: Any) =>
            JSON.stringify(f.fieldsV1 ?? {}).includes('"f:replicas"') &&
            JSON.stringify(f.fieldsV1 ?? {}).includes('"f:spec"'),
        )
        .map((f: Any) => `${f.manager}${f.subresource ? `/${f.subresource}` : ''}`);
    const rss = (
      await loop.kube.must<{ items: Any[] }>('GET', `/apis/apps/v1/namespaces/${loop.namespace}/replicasets`)
    ).items.filter((x) =>
      (x.metadata.ownerReferences ?? []).some((o: Any) => o.kind === 'Rollout' && o.name === service),
    );
    const writers = {
      rollout: managers(after[service]?.rollout.raw),
      replicaSets: [...new Set(rss.flatMap(managers))],
      deployment: managers(after[service]?.dep),
    };
    const hpaAtMax = await loop.kube.must<Any>('GET', hpaPath);
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
    const s = await loop.argo.waitApp(loop.appName, `Synced and Healthy at ${sha}`, done(sha), 300_000);
    await health.stop();
    return {
      services,
      tags,
      before,
      sha,
      t0,
      promoted,
      synced: Date.now() - t0,
      app: s,
      health,
      results: Object.fromEntries(services.map((x, k) => [x, results[k]] as const)),
      after,
      later,
      dep,
      lastOther,
      seen,
      tLoad: tLoad - t0,
      during,
      final,
      max,
      hpa,
      hpaAtMax,
      writers,
      held,
    };
  };
  let good: ReturnType<typeof goodRelease> | undefined;

  it(
    '1. a good release goes through every step to full promotion (Argo CD: Progressing/Suspended, then Healthy)',
    { timeout: 600_000 },
    async () => {
      const g = await (good ??= goodRelease());
      fact(
        `Case 1 (good release ${g.services.map((x) => `${x} ${g.tags[x]}`).join(', ')}, the same commit as cases 4 and 6): fully promoted ${secs(g.promoted)} after the push; Argo CD Synced and Healthy ${secs(g.synced)} after it`,
      );
      fact(`Case 1: Argo CD health: ${g.health}`);
      for (const service of g.services) {
        const r = g.results[service];
        const a = g.after[service];
        if (!r || !a) throw new Error(`${service}: not followed`);
        fact(`Case 1: ${service}: ${stepsText(r.steps)}`);
        expect(r.end.abort, `${service} aborted: ${r.end.message}`).toBe(false);
        expect(r.end.stableHash).not.toBe(g.before[service]?.stableHash);
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
        expect(a.pods.length).toBe(a.rollout.replicas);
        expect(
          a.pods.every((p) => p.images.some((i) => tagOf(i) === g.tags[service])),
          JSON.stringify(a.pods.map((p) => p.images)),
        ).toBe(true);
        expect(a.dep.spec.replicas).toBe(0);
        expect(a.run?.status?.phase).toBe('Successful');
        const values = (a.run?.status?.metricResults?.[0]?.measurements ?? []).map((m: Any) => m.value);
        fact(
          `Case 1: ${service}: AnalysisRun ${a.run?.metadata?.name} ${a.run?.status?.phase}, measurements ${values.join(' ')}; ${a.pods.length} pods on ${g.tags[service]}, Deployment at 0 replicas`,
        );
      }
      expect(g.app.health).toBe('Healthy');
      expect(
        g.health.healths.some((h) => h === 'Progressing' || h === 'Suspended'),
        g.health.toString(),
      ).toBe(true);
      expect(g.health.healths[g.health.healths.length - 1]).toBe('Healthy');
    },
  );

  it(
    '4. with the HPA active, the HPA scales the Rollout during and after the canary, never the Deployment or a ReplicaSet; weights hold',
    { timeout: 600_000 },
    async () => {
      const g = await (good ??= goodRelease());
      const service = 'frontend';
      expect(g.hpa, `${envName}: a HorizontalPodAutoscaler ${service}`).toBeDefined();
      expect(g.hpa.spec.scaleTargetRef).toMatchObject({
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Rollout',
        name: service,
      });
      const r = g.results[service];
      const before = g.before[service];
      if (!r || !before) throw new Error(`${service}: not followed`);
      const d = g.during.rollout;
      fact(
        `Case 4 (${service} ${g.tags[service]}, the release of case 1): load raised ${secs(g.tLoad)} after the push, during the canary's step ${d.stepIndex}; the HPA scaled the Rollout ` +
          `${before.replicas} → ${d.replicas} ${secs(g.during.after)} later, still in the canary; then ${stepsText(r.steps)}; promoted at ${g.final.replicas} replicas ` +
          `(HPA ${g.hpa.spec.minReplicas}–${g.max}). Writers of spec.replicas: Rollout ${JSON.stringify(g.writers.rollout)}, ReplicaSets ${JSON.stringify(g.writers.replicaSets)}, ` +
          `Deployment ${JSON.stringify(g.writers.deployment)} (spec.replicas ${g.after[service]?.dep.spec.replicas}); HPA status ${JSON.stringify({ current: g.hpaAtMax.status.currentReplicas, desired: g.hpaAtMax.status.desiredReplicas })}`,
      );
      expect(d.currentHash, 'still in the canary').not.toBe(d.stableHash);
      expect(r.end.abort).toBe(false);
      // Weights held at the steps after the HPA scaled: a pause observed at more than the first count.
      expectWeightsHeld(r.steps, service);
      expect(
        r.steps.some(([, x]) => x.replicas > before.replicas),
        stepsText(r.steps),
      ).toBe(true);
      expect(g.final.replicas).toBe(g.max);
      expect(g.writers.rollout).toContain('kube-controller-manager/scale');
      expect(g.writers.replicaSets.some((m) => m.includes('/scale') || m.startsWith('kube-controller-manager'))).toBe(
        false,
      );
      expect(g.writers.deployment.some((m) => m.includes('/scale'))).toBe(false);
      expect(g.after[service]?.dep.spec.replicas).toBe(0);
      fact(
        `Case 4: after the canary, at low load: AbleToScale ${g.held.able.reason} ("${g.held.able.message}"), ScalingActive ${g.held.active.reason}; metrics ${JSON.stringify(g.held.x.status.currentMetrics)}`,
      );
      expect(g.held.able.reason).toBe('ScaleDownStabilized');
    },
  );

  it(
    '6. later sync waves are never blocked by a pause: a commit that changes the frontend image and a later-wave object is applied while the canary pauses',
    { timeout: 600_000 },
    async () => {
      const g = await (good ??= goodRelease());
      // The Rollouts (and the HPAs that scale them) are the last waves.
      for (const k of committed) expect(k.wave, `${k.service}'s Rollout wave`).toBeGreaterThan(g.lastOther);
      expect(g.later.wave).toBeGreaterThan(g.dep.wave);
      const seen = g.seen;
      expect(seen.rollout.currentHash, 'the canary had started').not.toBe(seen.rollout.stableHash);
      expect(seen.rollout.phase === 'Paused' || seen.rollout.paused || seen.rollout.phase === 'Progressing').toBe(true);
      const c = loop.canary('frontend');
      fact(
        `Case 6 (the release of case 1): ${g.later.object.kind} ${g.later.object.metadata?.name} (wave ${g.later.wave}; frontend Deployment wave ${g.dep.wave}, Rollouts waves ${committed.map((k) => `${k.service} ${k.wave}`).join(', ')}) ` +
          `applied ${secs(seen.at)} after the push while the canary was at step ${seen.rollout.stepIndex} (${seen.rollout.phase}; Argo CD ${seen.health.health}); ` +
          `the canaries were promoted ${secs(g.promoted)} after the push, Argo CD Synced and Healthy ${secs(g.synced)} after it (pauses ${c.steps.flatMap((s) => ('pause' in s ? [scaled(s.pause, scale)] : [])).join(' + ')})`,
      );
    },
  );

  it('5. the PDB held throughout: since the bootstrap, no service had fewer Ready pods than its PDB allows', () => {
    expectPdbHeld('Case 5 (all cases)');
  });
});
/* eslint-enable @typescript-eslint/no-explicit-any */
