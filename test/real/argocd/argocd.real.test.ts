/**
 * The GitOps loop with the real Argo CD (v3.5.1) against the control-plane twin of every environment
 * (test/real/argocd/argocd.ts): bootstrap as the README says, the sync order, the loop (a commit is
 * synced, a hand edit reverted, a removed object pruned or kept, a broken commit leaves the last good
 * state running with a clear error, a revert recovers) and the AppProject's fence. The environments
 * run side by side, each with its own twin and Argo CD: their cases are mostly waits, so three at
 * once take little longer than one. Within an environment the cases run in order, each from the
 * state the last one left. Facts go to .build/argocd-<env>.md.
 *
 * Run with `npm run test:argocd` (its own network namespace; see package.json). One environment:
 * npm run test:argocd -- -t '<env>'
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it as anyIt } from 'vitest';
import { listEnvironments } from '../../../src/model/loader';
import { loadEnvironment } from '../../../apps/environment';
import { objectId, type Manifest } from '../../../src/model/objects';
import { committedObjects } from '../../../tools/harness/twin/twin';
import { APPS, ArgoLoop, ARGOCD_NAMESPACE, RECONCILIATION, RECONCILIATION_MS, statusOf, type AppStatus } from './argocd';
import { waitFor } from '../../../tools/harness/process';
import { ROOT } from '../../../tools/harness/tools';

const ENVS = listEnvironments(ROOT);
/** Every case of an environment runs after the one before it, though the environments run concurrently. */
const it = anyIt.sequential;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const done = (s: AppStatus) => s.sync === 'Synced' && s.health === 'Healthy' && s.phase === 'Succeeded';
/**
 * Back at a good revision after a failed one: Synced and Healthy there. The failed operation keeps
 * retrying its own revision until its retries run out and then stays Failed (auto-sync starts no new
 * operation for an application that is already Synced), so its phase is only required to be over.
 */
const recovered = (sha: string) => (s: AppStatus) =>
  s.sync === 'Synced' && s.health === 'Healthy' && s.revision === sha && s.phase !== 'Running';

describe.concurrent.each(ENVS)('Argo CD loop: %s', (envName) => {
  const env = loadEnvironment(ROOT, envName);
  const appName = `coderun-${envName}`;
  const bootName = `${appName}-bootstrap`;
  const committed = committedObjects(ROOT, envName).filter((c) => c.file.startsWith('dist/'));
  const committedApp = committedObjects(ROOT, envName).find(
    (c) => c.file === `argocd/${envName}/application-${appName}.yaml`,
)?.object as unknown as { spec: { syncPolicy: SyncPolicy } };
  type SyncPolicy = { automated?: { selfHeal?: boolean; prune?: boolean } };
  const syncPolicyOf = (a: Manifest | undefined) => (a?.spec as { syncPolicy?: SyncPolicy } | undefined)?.syncPolicy;
  /** The committed Application's automated sync settings, which the loop exercises (not the environment file's). */
  const committedSync = committedApp.spec.syncPolicy.automated ?? {};
  const facts: string[] = [`# Argo CD loop: ${envName}`, ''];
  const fact = (line: string) => {
    facts.push(line);
    console.log(`[argocd ${envName}] ${line}`);
  };
  let loop: ArgoLoop;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `coderun-argocd-${envName}-`));
    loop = new ArgoLoop(envName, dir, (l) => console.log(`[argocd ${envName}] ${l}`));
    await loop.up();
    fact(
      `Bring-up: ${Object.entries(loop.timings)
        .map(([k, v]) => `${k} ${secs(v)}`)
        .join(', ')}`,
    );
  });

  afterAll(async () => {
    await loop?.down();
    mkdirSync(join(ROOT, '.build'), { recursive: true });
    writeFileSync(join(ROOT, '.build', `argocd-${envName}.md`), `${facts.join('\n')}\n`);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The live object, or undefined when absent. */
  const live = async (o: Manifest): Promise<Manifest | undefined> => {
    const r = await loop.kube.req('GET', await loop.kube.pathOf(o));
    return r.status === 200 ? (r.body as Manifest) : undefined;
  };
  const head = () => loop.git('rev-parse', 'HEAD');
  /** The status that the bootstrap case saw at Synced and Healthy: its operation is the first full sync. */
  let initialSync: AppStatus | undefined;

  it('bootstraps as the README says and reaches Synced and Healthy', { timeout: 600_000 }, async () => {
    const t0 = Date.now();
    const out = loop.bootstrap();
    expect(out).toContain(`application.argoproj.io/${bootName} created`);
    expect(out).toContain(`appproject.argoproj.io/${bootName} created`);
    const boot = await loop.waitApp(bootName, 'bootstrap Synced and Healthy', done);
    fact(`Bootstrap Application ${bootName}: Synced and Healthy after ${secs(Date.now() - t0)}`);
    expect(boot.revision).toBe(head());
    const s = await loop.waitApp(appName, 'Synced and Healthy', done, 540_000);
    initialSync = s;
    const took = Date.now() - t0;
    fact(`Application ${appName}: Synced and Healthy ${secs(took)} after \`kubectl apply -n argocd -f argocd/${envName}/bootstrap/\``);
    expect(s.revision).toBe(head());
    // Every committed object is live.
    const missing: string[] = [];
    for (const c of committed) if (!(await live(c.object))) missing.push(objectId(c.object));
    expect(missing).toEqual([]);
    // What the stand-ins did (tools/harness/twin/standins.ts), and the HPAs scaling on the metrics API.
    for (const a of loop.standIns?.actions ?? []) fact(`Stand-in: ${a}`);
    // Right after a rollout the HPA controller ignores CPU samples of pods that became Ready less
    // than one metrics window ago (FailedGetResourceMetric for a few seconds), as with metrics-server.
    for (const c of committed.filter((x) => x.object.kind === 'HorizontalPodAutoscaler')) {
      type Hpa = { status?: { conditions?: { type: string; status: string; reason: string }[]; currentMetrics?: unknown[] } };
      const active = (h: Hpa | undefined) => h?.status?.conditions?.find((x) => x.type === 'ScalingActive');
      const t0 = Date.now();
      const h = await waitFor(
        `${objectId(c.object)} ScalingActive`,
        async () => {
          const x = (await live(c.object)) as Hpa | undefined;
          return active(x)?.status === 'True' ? x : false;
        },
        { timeoutMs: 90_000, intervalMs: 500 },
      );
      fact(
        `${objectId(c.object)}: ScalingActive True (${active(h)?.reason}) ${secs(Date.now() - t0)} after Healthy, current metrics ${JSON.stringify(h.status?.currentMetrics ?? [])}`,
      );
    }
  });

  it('applies in the original start order: namespaces and policies, NATS, middleware and frontend, oauth2-proxy', async () => {
    // The operation that brought the Application to Synced and Healthy after the bootstrap command.
    expect(initialSync, 'the bootstrap case ran').toBeDefined();
    const s = initialSync!;
    // A later operation nobody asked for (selfHeal syncs only the resources that drifted) is a fact to record.
    const now = statusOf((await loop.app(appName))!);
    if (now.startedAt !== s.startedAt)
      fact(
        `A later operation (started ${now.startedAt}, ${now.phase}) synced ${now.resources.length} resources: ${now.resources
          .map((r) => `${r.kind} ${r.namespace ?? ''}/${r.name} ${r.status ?? ''}`)
          .join(', ')}; "${now.message.slice(0, 200)}"`,
      );
    const folderOf = new Map(
      committed.map((c) => [
        `${String(c.object.kind)}/${c.object.metadata?.namespace ?? ''}/${String(c.object.metadata?.name)}`,
        { folder: c.file.split('/')[2] ?? '', wave: c.wave },
      ]),
    );
    const order = s.resources
      .filter((r) => r.syncPhase === 'Sync')
      .map((r) => ({
        ...r,
        // Cluster-scoped objects: Argo CD reports them with the destination namespace.
        ...(folderOf.get(`${r.kind}/${r.namespace ?? ''}/${r.name}`) ??
          folderOf.get(`${r.kind}//${r.name}`) ?? { folder: '?', wave: NaN }),
      }));
    expect(order.length).toBe(committed.length);
    // Waves in the order Argo CD synced them, with the folders in each (Argo CD orders by kind within a wave).
    const groups: { wave: number; folders: Set<string>; n: number }[] = [];
    for (const r of order) {
      const g = groups[groups.length - 1];
      if (g && g.wave === r.wave) {
        g.folders.add(r.folder);
        g.n++;
      } else groups.push({ wave: r.wave, folders: new Set([r.folder]), n: 1 });
    }
    fact(`Sync order (syncResult): ${groups.map((g) => `wave ${g.wave} [${[...g.folders].join(', ')}: ${g.n}]`).join(' → ')}`);
    const waves = order.map((r) => r.wave);
    expect(waves).toEqual([...waves].sort((x, y) => x - y));
    // Creation times confirm it: each wave was created no earlier than the previous one finished.
    const created = new Map<number, number[]>();
    for (const c of committed) {
      const o = await live(c.object);
      const t = Date.parse(String(o?.metadata?.creationTimestamp));
      created.set(c.wave, [...(created.get(c.wave) ?? []), t]);
    }
    const byWave = [...created.entries()].sort((x, y) => x[0] - y[0]);
    fact(
      `Creation times by wave: ${byWave
        .map(([w, ts]) => `${w}: ${new Date(Math.min(...ts)).toISOString().slice(11, 19)}–${new Date(Math.max(...ts)).toISOString().slice(11, 19)}`)
        .join(', ')}`,
    );
    for (let i = 1; i < byWave.length; i++)
      expect(Math.min(...(byWave[i]?.[1] ?? [])), `wave ${byWave[i]?.[0]}`).toBeGreaterThanOrEqual(
        Math.max(...(byWave[i - 1]?.[1] ?? [])),
      );
    // The original start order, by the folder each object is rendered in. Other folders (the
    // executor reaper, a housekeeping CronJob) are held to the wave order above only.
    // A folder's objects in a later wave of their own (a canary's Rollout and its HPA, after
    // everything else) are held to the wave order only: the Deployment they run starts its first
    // pod in the folder's wave, in the original order.
    const START_ORDER = [['namespaces', 'secrets', 'executors'], ['nats'], ['middleware', 'frontend'], ['oauth2-proxy']];
    const rank = (f: string) => START_ORDER.findIndex((g) => g.includes(f));
    const folderWave = new Map<string, number>();
    for (const r of order) folderWave.set(r.folder, Math.min(r.wave, folderWave.get(r.folder) ?? r.wave));
    const ranks = order
      .filter((r) => r.wave === folderWave.get(r.folder))
      .map((r) => rank(r.folder))
      .filter((r) => r >= 0);
    expect(ranks).toEqual([...ranks].sort((x, y) => x - y));
    expect(new Set(ranks)).toEqual(new Set(START_ORDER.map((_, i) => i)));
  });

  /** A hand edit of a committed ConfigMap in the cluster; returns how to tell it is still there, and how to undo it. */
  const handEdit = () => {
    const cm = committed.find((c) => c.object.kind === 'ConfigMap');
    expect(cm, 'a ConfigMap in dist').toBeDefined();
    const data = (cm!.object.data ?? {}) as Record<string, string>;
    const key = Object.keys(data)[0] ?? '';
    const ns = cm!.object.metadata?.namespace ?? '';
    const name = String(cm!.object.metadata?.name);
    const r = loop.kubectlRun(['-n', ns, 'patch', 'configmap', name, '--type=merge', '-p', JSON.stringify({ data: { [key]: 'edited by hand' } })]);
    expect(r.code, r.out).toBe(0);
    const value = async () => ((await live(cm!.object))?.data as Record<string, string> | undefined)?.[key];
    return { what: `ConfigMap ${ns}/${name}`, reverted: async () => (await value()) === data[key], edited: async () => (await value()) === 'edited by hand' };
  };
  /** Waits for a hand edit to be reverted (selfHeal on), or checks that it stays and the Application says OutOfSync (off). */
  const expectSelfHeal = async (selfHeal: boolean, label: string) => {
    const e = handEdit();
    const t0 = Date.now();
    if (selfHeal) {
      await waitFor(`${e.what} back as committed`, e.reverted, { timeoutMs: 120_000, intervalMs: 250 });
      fact(`${label}: hand edit of ${e.what} reverted by selfHeal after ${secs(Date.now() - t0)}`);
      await loop.waitApp(appName, 'Synced again', done);
    } else {
      // Automated sync applies each new revision once whatever selfHeal says; only drift after the
      // current revision was synced is selfHeal's to revert or keep.
      const s = statusOf((await loop.app(appName))!);
      expect(s.syncedRevision, 'the last sync operation applied the current revision').toBe(s.revision);
      await loop.waitApp(appName, 'OutOfSync', (x) => x.sync === 'OutOfSync');
      // Three reconciliations later the edit is still there: nothing reverts it.
      await new Promise((r) => setTimeout(r, 3 * RECONCILIATION_MS));
      expect(await e.edited(), `${e.what} still edited by hand`).toBe(true);
      expect(statusOf((await loop.app(appName))!).sync).toBe('OutOfSync');
      fact(`${label}: hand edit of ${e.what} kept (selfHeal off), Application OutOfSync ${secs(Date.now() - t0)} later`);
    }
  };

  // Runs before any case that renders in the clone, so the Application is the committed one.
  it(`${committedSync.selfHeal ? 'reverts' : 'reports'} a hand edit in the cluster with the committed Application (selfHeal ${committedSync.selfHeal})`, { timeout: 300_000 }, async () => {
    expect(syncPolicyOf(await loop.app(appName)), `the live ${appName} syncs with argocd/${envName}'s committed syncPolicy`).toMatchObject(committedApp.spec.syncPolicy);
    await expectSelfHeal(committedSync.selfHeal === true, 'Committed settings');
  });

  it('syncs a commit that changes the environment file (synth, then commit)', { timeout: 300_000 }, async () => {
    const file = join(loop.work, 'environments', `${envName}.yaml`);
    const before = env.executors.deadlineSeconds;
    const after = before + 30;
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^(\s+deadlineSeconds:)\s*\d+/m, `$1 ${after}`));
    loop.synth();
    const t0 = Date.now();
    const sha = loop.commit(`${envName}: executors.deadlineSeconds ${before} → ${after}`);
    const s = await loop.waitApp(appName, `synced to ${sha}`, (x) => done(x) && x.revision === sha);
    fact(`Environment-file commit synced ${secs(Date.now() - t0)} after the push (reconciliation ${RECONCILIATION})`);
    expect(s.revision).toBe(sha);
    const pt = committed.find((c) => c.object.kind === 'PodTemplate');
    expect(pt, 'a PodTemplate in dist').toBeDefined();
    const o = (await live(pt!.object)) as { template?: { spec?: { activeDeadlineSeconds?: number } } };
    expect(o.template?.spec?.activeDeadlineSeconds).toBe(after);
  });

  it(`follows the environment's selfHeal both ways: ${!env.argocd.selfHeal} after a commit that sets it, ${env.argocd.selfHeal} after its revert`, { timeout: 400_000 }, async () => {
    const file = join(loop.work, 'environments', `${envName}.yaml`);
    const text = readFileSync(file, 'utf8');
    const flipped = !env.argocd.selfHeal;
    // The commit also changes the rendered objects (executors.deadlineSeconds + 1), so that Argo CD
    // syncs it in an operation before the hand edit (see expectSelfHeal).
    const withDeadline = text.replace(/^(\s+deadlineSeconds:)\s*(\d+)/m, (_, k: string, n: string) => `${k} ${Number(n) + 1}`);
    const next = /^argocd:\n(?:[ \t].*\n|\n)*?[ \t]+selfHeal:/m.test(withDeadline)
      ? withDeadline.replace(/^(argocd:\n(?:[ \t].*\n|\n)*?[ \t]+selfHeal:)[ \t]*\S+/m, `$1 ${flipped}`)
      : withDeadline.replace(/^argocd:\n/m, `argocd:\n  selfHeal: ${flipped}\n`);
    writeFileSync(file, next);
    loop.synth();
    expect(loop.git('diff', '--name-only').split('\n')).toContain(`argocd/${envName}/application-${appName}.yaml`);
    const sha = loop.commit(`${envName}: argocd.selfHeal ${env.argocd.selfHeal} → ${flipped}, executors.deadlineSeconds + 1`);
    const selfHealNow = async () =>
      syncPolicyOf(await loop.app(appName))?.automated?.selfHeal === true;
    await waitFor('the bootstrap applies the new Application', async () => (await selfHealNow()) === flipped, { timeoutMs: 180_000, intervalMs: 500 });
    await loop.waitApp(appName, `synced to ${sha}`, (x) => done(x) && x.revision === sha && x.syncedRevision === sha);
    await expectSelfHeal(flipped, `selfHeal ${flipped} (environment file)`);
    // Back to the committed setting: with selfHeal on again, the edit left above is reverted.
    loop.git('revert', '--no-edit', 'HEAD');
    loop.git('push', '-q', 'origin', 'HEAD:main');
    const back = head();
    await waitFor('the bootstrap applies the committed Application again', async () => (await selfHealNow()) === env.argocd.selfHeal, { timeoutMs: 180_000, intervalMs: 500 });
    await loop.waitApp(appName, `Synced and Healthy at ${back}`, (x) => done(x) && x.revision === back && x.syncedRevision === back, 300_000);
    await expectSelfHeal(env.argocd.selfHeal, `selfHeal ${env.argocd.selfHeal} (reverted)`);
  });

  it(`${env.argocd.prune ? 'prunes' : 'keeps'} an object removed from dist/ (prune ${env.argocd.prune})`, { timeout: 400_000 }, async () => {
    const victim = [...committed].reverse().find((c) => c.object.kind === 'PodTemplate');
    expect(victim).toBeDefined();
    unlinkSync(join(loop.work, victim!.file));
    const t0 = Date.now();
    const sha = loop.commit(`${envName}: remove ${victim!.file}`);
    if (env.argocd.prune) {
      await loop.waitApp(appName, `synced to ${sha}`, (x) => done(x) && x.revision === sha);
      expect(await live(victim!.object)).toBeUndefined();
      fact(`Removed ${objectId(victim!.object)} from dist/: pruned, Synced ${secs(Date.now() - t0)} after the push`);
    } else {
      const s = await loop.waitApp(appName, 'OutOfSync, prune required', (x) => x.sync === 'OutOfSync' && x.revision === sha);
      expect(s.sync).toBe('OutOfSync');
      expect(await live(victim!.object)).toBeDefined();
      fact(`Removed ${objectId(victim!.object)} from dist/: kept (prune false), OutOfSync`);
    }
    // Put it back (git revert), as the next cases start from the full environment.
    loop.git('revert', '--no-edit', 'HEAD');
    loop.git('push', '-q', 'origin', 'HEAD:main');
    const back = head();
    await loop.waitApp(appName, `synced to ${back}`, (x) => done(x) && x.revision === back);
    expect(await live(victim!.object)).toBeDefined();
  });

  let goodFrontend: Manifest | undefined;
  it('keeps the last good state running on a commit with a broken object, and shows a clear error', { timeout: 400_000 }, async () => {
    const dep = committed.find((c) => c.object.kind === 'Deployment' && c.file.includes('/frontend/'));
    expect(dep).toBeDefined();
    goodFrontend = await live(dep!.object);
    const file = join(loop.work, dep!.file);
    writeFileSync(file, readFileSync(file, 'utf8').replace(/containerPort: \d+/, 'containerPort: 70000'));
    const t0 = Date.now();
    const sha = loop.commit(`${envName}: a broken frontend Deployment (containerPort 70000)`);
    const s = await loop.waitApp(
      appName,
      'a failed sync of the broken commit',
      (x) => x.revision === sha && x.resources.some((r) => r.kind === 'Deployment' && r.name === 'frontend' && r.status === 'SyncFailed'),
    );
    const res = s.resources.find((r) => r.kind === 'Deployment' && r.name === 'frontend') as { message?: string };
    fact(`Broken commit: sync ${s.phase}, ${secs(Date.now() - t0)} after the push; operation: "${s.message}"; frontend: "${res.message ?? ''}"`);
    expect(res.message ?? '').toMatch(/70000/);
    expect(s.sync).toBe('OutOfSync');
    const now = (await live(dep!.object)) as unknown as {
      metadata: { generation: number };
      status: { readyReplicas?: number };
      spec: unknown;
    };
    expect(now.metadata.generation).toBe((goodFrontend as unknown as { metadata: { generation: number } }).metadata.generation);
    expect(now.spec).toEqual((goodFrontend as unknown as { spec: unknown }).spec);
    // The pods still run: the Deployment's own, or those of the Rollout that runs it (workloadRef).
    const rollout = committed.find(
      (c) => c.object.kind === 'Rollout' && (c.object.spec as { workloadRef?: { name?: string } }).workloadRef?.name === dep!.object.metadata?.name,
    );
    const running = rollout ? ((await live(rollout.object)) as unknown as typeof now) : now;
    expect(running.status.readyReplicas ?? 0).toBeGreaterThan(0);
  });

  it('recovers on a revert', { timeout: 600_000 }, async () => {
    const t0 = Date.now();
    loop.git('revert', '--no-edit', 'HEAD');
    loop.git('push', '-q', 'origin', 'HEAD:main');
    const sha = head();
    const first = await loop.waitApp(appName, `Synced and Healthy at the revert ${sha}`, (x) => x.sync === 'Synced' && x.health === 'Healthy' && x.revision === sha);
    fact(`Revert: Synced and Healthy at the revert ${secs(Date.now() - t0)} after the push (operation then: ${first.phase})`);
    const s = await loop.waitApp(appName, `the failed operation over`, recovered(sha), 540_000);
    fact(`Revert: the broken commit's operation ended ${s.phase} ${secs(Date.now() - t0)} after the push ("${s.message.slice(0, 160)}")`);
    expect(s.health).toBe('Healthy');
  });

  describe('the AppProject refuses', () => {
    const project = appName;
    const refused = async (name: string, spec: (base: Record<string, unknown>) => void): Promise<string> => {
      const base = structuredClone((await loop.app(appName))?.spec) as Record<string, unknown>;
      delete (base.syncPolicy as Record<string, unknown>).automated;
      (base.syncPolicy as Record<string, unknown>).automated = { prune: false, selfHeal: false };
      spec(base);
      const app = {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: { name, namespace: ARGOCD_NAMESPACE },
        spec: base,
      };
      const r = await loop.kube.req('POST', APPS, app);
      expect(r.status, r.message).toBe(201);
      const s = await loop.waitApp(name, 'an InvalidSpecError', (x) => x.conditions.some((c) => c.type === 'InvalidSpecError'), 120_000);
      await loop.kube.req('DELETE', `${APPS}/${name}`);
      return s.conditions.map((c) => `${c.type}: ${c.message}`).join('; ');
    };

    it('an Application of the project that targets another namespace', { timeout: 180_000 }, async () => {
      const msg = await refused('probe-namespace', (b) => {
        (b.destination as Record<string, unknown>).namespace = 'kube-system';
      });
      fact(`Other namespace: ${msg}`);
      expect(msg).toMatch(/kube-system/);
      expect(msg).toMatch(/not permitted|do not match any of the allowed destinations/);
    });

    it('an Application of the project with a cluster-scoped kind not on its list', { timeout: 700_000 }, async () => {
      // A commit adds a ClusterRole to dist/<env>; the project does not list it.
      const dirName = join(loop.work, 'dist', envName, 'extra');
      mkdirSync(dirName, { recursive: true });
      writeFileSync(
        join(dirName, 'clusterrole-probe.yaml'),
        'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: coderun-probe\nrules: []\n',
      );
      const sha = loop.commit(`${envName}: a ClusterRole the project does not allow`);
      const s = await loop.waitApp(appName, 'the ClusterRole refused', (x) =>
        x.revision === sha &&
        (x.conditions.some((c) => /ClusterRole/.test(c.message)) ||
          x.resources.some((r) => r.kind === 'ClusterRole' && r.status === 'SyncFailed')),
      );
      const msg = [...s.conditions.map((c) => `${c.type}: ${c.message}`), s.message].join('; ');
      fact(`Cluster-scoped kind not listed: ${msg}`);
      expect(msg).toMatch(/ClusterRole/);
      expect((await loop.kube.req('GET', '/apis/rbac.authorization.k8s.io/v1/clusterroles/coderun-probe')).status).toBe(404);
      loop.git('revert', '--no-edit', 'HEAD');
      loop.git('push', '-q', 'origin', 'HEAD:main');
      const back = head();
      await loop.waitApp(appName, `synced to ${back}`, recovered(back), 540_000);
    });

    it('an Application of the project that reads another repository', { timeout: 180_000 }, async () => {
      const msg = await refused('probe-repository', (b) => {
        (b.source as Record<string, unknown>).repoURL = 'https://github.com/someone/else.git';
      });
      fact(`Other repository: ${msg}`);
      expect(msg).toMatch(/someone\/else/);
      expect(msg).toMatch(/not permitted/);
    });

    it.each([project])('(project %s is the committed one)', async (p) => {
      expect((await loop.kube.req('GET', `/apis/argoproj.io/v1alpha1/namespaces/${ARGOCD_NAMESPACE}/appprojects/${p}`)).status).toBe(200);
    });
  });
});
