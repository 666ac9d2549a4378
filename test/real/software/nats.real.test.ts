/**
 * The committed NATS configuration of every environment, run by the real nats-server at the version
 * the environment pins, and used by the real clients: nats.go (tools/go/nats-client, playing the
 * middleware and the executors) and nats.js (playing the Next.js frontend). Each client gets the
 * environment variables its committed Deployment or PodTemplate gives it; only addresses and paths
 * are rewritten for loopback.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../../src/model/objects';
import { loadCommitted } from '../../support/committed';
import { containerEnv, type SecretValues } from '../../../tools/harness/kubelet-env';
import { container, localPath, podSpec, prepareCluster, type NatsCluster } from '../../../tools/harness/nats-server';
import { httpGet, start, stopAll, waitFor } from '../../../tools/harness/process';
import { output, tool } from '../../../tools/harness/tools';
import { parseMemory } from '../../../src/model/quantity';
import { JETSTREAM_HEADROOM } from '../../../src/policy/rules/promises';

const committed = loadCommitted();
const envNames = [...new Set(committed.map((d) => d.env.name))];

function find(env: string, kind: string, name: string): Manifest {
  const d = committed.find((x) => x.env.name === env && x.object.kind === kind && x.object.metadata.name === name);
  if (!d) throw new Error(`${env}: no committed ${kind} ${name}`);
  return d.object;
}

/** The storage request of a StatefulSet's (first) volumeClaimTemplate. */
function claimOf(sts: Manifest): { storage?: string } {
  const spec = sts.spec as { volumeClaimTemplates?: { spec?: { resources?: { requests?: { storage?: string } } } }[] };
  return spec.volumeClaimTemplates?.[0]?.spec?.resources?.requests ?? {};
}

function findAll(env: string, kind: string): Manifest[] {
  return committed.filter((x) => x.env.name === env && x.object.kind === kind).map((x) => x.object);
}

/** Test passwords for every Secret key the committed containers read, plus the executor's copy. */
function testSecrets(env: string, passwords: Readonly<Record<string, string>>): SecretValues {
  const cfg = committed.find((d) => d.env.name === env)?.env;
  if (!cfg) throw new Error(env);
  return {
    [cfg.secrets.nats]: {
      'frontend-password': passwords.frontend ?? '',
      'middleware-password': passwords.middleware ?? '',
      'executor-password': passwords.executor ?? '',
    },
    [cfg.secrets.natsExecutor]: { password: passwords.executor ?? '' },
  };
}

/** A client container's environment, pointed at the loopback cluster. */
function clientEnv(
  obj: Manifest,
  name: string,
  cluster: NatsCluster,
  secrets: SecretValues,
  node = 0,
): Record<string, string> {
  const vars = containerEnv(container(obj, name).env, { secrets, podName: `${obj.metadata.name}-test` });
  const url = new URL(vars.NATS_URL ?? '');
  const scheme = url.protocol.replace(':', '');
  vars.NATS_URL = `${scheme}://127.0.0.1:${cluster.nodes[node]?.clientPort ?? 0}`;
  if (vars.NATS_CA_FILE) {
    if (!cluster.pki) throw new Error(`${obj.metadata.name} expects a CA but the server has no TLS`);
    vars.NATS_CA_FILE = cluster.pki.caFile;
  }
  if (scheme === 'tls' && !cluster.pki) throw new Error(`${obj.metadata.name} uses tls:// but the server has no TLS`);
  return vars;
}

type NatsConnection = Awaited<ReturnType<typeof connect>>;

/** The frontend, with nats.js, as its committed Deployment configures it. */
async function frontendConnection(vars: Readonly<Record<string, string>>): Promise<NatsConnection> {
  return connect({
    servers: vars.NATS_URL,
    user: vars.NATS_USER,
    pass: vars.NATS_PASSWORD,
    ...(vars.NATS_INBOX_PREFIX ? { inboxPrefix: vars.NATS_INBOX_PREFIX } : {}),
    ...(vars.NATS_CA_FILE ? { tls: { caFile: vars.NATS_CA_FILE } } : {}),
    timeout: 20_000,
  });
}

interface TryResult {
  readonly name: string;
  readonly ok: boolean;
  readonly error: string;
}

/** Runs `cases` as one user with nats.go; returns what the server allowed. */
function tryAs(
  bin: string,
  vars: Record<string, string>,
  cases: readonly { name: string; op: string; args: string[] }[],
): TryResult[] {
  const out = execFileSync(bin, ['try'], {
    env: { PATH: process.env.PATH, ...vars },
    input: cases.map((c) => JSON.stringify(c)).join('\n') + '\n',
    encoding: 'utf8',
    timeout: 120_000,
  });
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as TryResult);
}

const strongPasswords = {
  frontend: randomBytes(24).toString('hex'),
  middleware: randomBytes(24).toString('hex'),
  executor: randomBytes(24).toString('hex'),
};

describe.each(envNames)('NATS in %s', (envName) => {
  const sts = find(envName, 'StatefulSet', 'nats');
  const cm = find(envName, 'ConfigMap', 'nats-config');
  const middlewareDeploy = find(envName, 'Deployment', 'middleware');
  const frontendDeploy = find(envName, 'Deployment', 'frontend');
  const templates = findAll(envName, 'PodTemplate').filter((t) => t.metadata.name.startsWith('executor-'));
  const natsContainer = container(sts, 'nats');
  const secrets = testSecrets(envName, strongPasswords);
  const replicas = (sts as unknown as { spec: { replicas: number } }).spec.replicas;
  let server: string;
  let client: string;
  let cluster: NatsCluster;
  const users = { a: `u${randomInt(1e9)}`, b: `u${randomInt(1e9)}` };
  const jobs: { queue: string; userId: string; jobId: string; language: string }[] = [];

  beforeAll(async () => {
    server = tool('nats', 'nats-server');
    client = tool('nats-client', 'nats-client');
    cluster = await prepareCluster(sts, cm, secrets);
    await Promise.all(cluster.nodes.map((n) => cluster.startNode(n.index, server)));
    if (replicas > 1) {
      // Routes up and a JetStream meta leader elected before any client asks for a stream.
      await waitFor(
        'JetStream cluster with a meta leader',
        async () => {
          const r = await httpGet(`http://127.0.0.1:${cluster.nodes[0]?.httpPort ?? 0}/jsz`);
          const j = JSON.parse(r.body) as { meta_cluster?: { leader?: string; cluster_size?: number } };
          return j.meta_cluster?.leader && j.meta_cluster.cluster_size === replicas;
        },
        // From the last server's start: the election takes about a second once all three run.
        { from: cluster.nodes.flatMap((n) => (n.proc ? [n.proc] : [])), timeoutMs: 120_000 },
      ).catch((e: Error) => {
        throw new Error(
          `${e.message}\n${cluster.nodes.map((n) => `--- ${n.podName}\n${n.proc?.log().slice(-3000) ?? ''}`).join('\n')}`,
        );
      });
    }
  });

  afterAll(async () => {
    await stopAll();
  });

  it('runs the nats-server version the environment pins', () => {
    const tag = (natsContainer.image.split('@')[0] ?? '').split(':').pop() ?? '';
    const pinned = `v${tag.replace(/-.*$/, '')}`;
    const reported = output(server, ['--version']).trim();
    expect(
      reported,
      `environments/${envName}.yaml pins nats ${tag}; tools/go/nats/go.mod builds ${reported}: make them agree`,
    ).toBe(`nats-server: ${pinned}`);
  });

  it(`starts the committed config${replicas > 1 ? ` as a ${replicas}-server cluster with routes` : ''}`, async () => {
    for (const n of cluster.nodes) {
      const varz = JSON.parse((await httpGet(`http://127.0.0.1:${n.httpPort}/varz`)).body) as {
        server_name: string;
        jetstream?: { config?: { max_storage?: number; max_memory?: number } };
        tls_required?: boolean;
      };
      expect(varz.server_name).toBe(n.podName);
      // The limits the server really runs with fit the volume and the memory limit, with the
      // README's headroom (policy rule jetstream-storage-fits reads the same from the config text).
      const volume = parseMemory(String((claimOf(sts) as { storage?: string }).storage));
      const memory = parseMemory(
        String((natsContainer as { resources?: { limits?: { memory?: string } } }).resources?.limits?.memory),
      );
      expect(varz.jetstream?.config?.max_storage).toBeGreaterThan(0);
      expect(varz.jetstream?.config?.max_storage).toBeLessThanOrEqual(
        Math.floor(volume * JETSTREAM_HEADROOM.fileStoreOfVolume),
      );
      expect(varz.jetstream?.config?.max_memory).toBeGreaterThan(0);
      expect(varz.jetstream?.config?.max_memory).toBeLessThanOrEqual(
        Math.floor(memory * JETSTREAM_HEADROOM.memoryStoreOfLimit),
      );
      expect(Boolean(varz.tls_required)).toBe(cluster.pki !== undefined);
      if (replicas > 1) {
        const routez = JSON.parse((await httpGet(`http://127.0.0.1:${n.httpPort}/routez`)).body) as {
          num_routes: number;
        };
        expect(routez.num_routes).toBeGreaterThanOrEqual(replicas - 1);
      }
    }
  });

  it('answers the three committed health probes', async () => {
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
      const path = natsContainer[probe]?.httpGet?.path;
      expect(path, probe).toBeDefined();
      const r = await httpGet(`http://127.0.0.1:${cluster.nodes[0]?.httpPort ?? 0}${path ?? ''}`);
      expect(`${probe} ${path ?? ''} -> ${r.status} ${r.body.trim()}`).toBe(
        `${probe} ${path ?? ''} -> 200 {"status":"ok"}`,
      );
    }
  });

  it('carries the whole data flow: frontend job -> middleware queue group -> executor output -> frontend reads', async () => {
    const mwVars = clientEnv(middlewareDeploy, 'middleware', cluster, secrets);
    const queues = (mwVars.NATS_QUEUES ?? '').split(',');
    expect(queues.length).toBe(templates.length);
    // Two middleware replicas share the queues as one queue group: each job is recorded once.
    const mws = [0, 1].map((i) =>
      start(`middleware-${i}`, client, ['middleware', '-jobs', '0'], { env: { PATH: process.env.PATH, ...mwVars } }),
    );
    for (const mw of mws)
      await waitFor('middleware ready', () => mw.log().includes('"ready":true'), {
        proc: mw,
        from: mw,
        timeoutMs: 60_000,
      });

    const feVars = clientEnv(frontendDeploy, 'frontend', cluster, secrets);
    const nc = await frontendConnection(feVars);
    try {
      // 1. The frontend publishes one job per queue for user a, and one for user b.
      const sent = [...queues.map((q) => ({ q, user: users.a })), { q: queues[0] ?? '', user: users.b }];
      for (const s of sent)
        nc.publish(s.q, JSON.stringify({ userId: s.user, language: s.q.split('.').pop(), code: 'main(){}' }));
      await nc.flush();
      // 2. The middleware records each job as Pending in the user's KV bucket (created if absent).
      const recorded = () => mws.flatMap((p) => p.log().split('\n')).filter((l) => l.includes('"jobId"'));
      await waitFor(`${sent.length} jobs recorded`, () => recorded().length >= sent.length, {
        timeoutMs: 60_000,
      }).catch((e: Error) => {
        throw new Error(`${e.message}\n${mws.map((p) => `--- ${p.name}\n${p.log()}`).join('\n')}`);
      });
      await new Promise((r) => setTimeout(r, 300));
      for (const p of mws) expect(await p.stop(), p.log()).toBe(0);
      for (const line of recorded()) jobs.push(JSON.parse(line) as (typeof jobs)[number]);
      expect(jobs.map((j) => j.queue).sort()).toEqual(sent.map((s) => s.q).sort());
      expect(new Set(jobs.map((j) => j.jobId)).size).toBe(sent.length);

      // 3. Each executor, with its language's committed PodTemplate env, stores output and the result.
      for (const job of jobs) {
        const template = templates.find((t) => t.metadata.name === `executor-${job.language}`);
        expect(template, `PodTemplate executor-${job.language}`).toBeDefined();
        const exVars = clientEnv(template as Manifest, 'executor', cluster, secrets);
        const out = execFileSync(client, ['executor', '-size', '300000'], {
          env: { PATH: process.env.PATH, ...exVars, USER_ID: job.userId, JOB_ID: job.jobId },
          encoding: 'utf8',
        });
        expect(JSON.parse(out)).toMatchObject({ object: `${job.jobId}-output.zip`, size: 300000 });
      }

      // 4. The frontend reads each job (latest and history), lists and downloads the outputs.
      const kvm = new Kvm(nc);
      const objm = new Objm(nc);
      for (const user of [users.a, users.b]) {
        const mine = jobs.filter((j) => j.userId === user);
        const kv = await kvm.open(user);
        const keys: string[] = [];
        for await (const k of await kv.keys()) keys.push(k);
        expect(keys.sort()).toEqual(mine.map((j) => j.jobId).sort());
        for (const job of mine) {
          const latest = await kv.get(job.jobId);
          expect(latest?.json<{ status: string }>().status).toBe('Done');
          const history: string[] = [];
          for await (const e of await kv.history({ key: job.jobId })) history.push(e.json<{ status: string }>().status);
          expect(history).toEqual(['Pending', 'Done']);
        }
        const os = await objm.open(user);
        const listed = (await os.list()).map((i) => i.name).sort();
        expect(listed).toEqual(mine.map((j) => `${j.jobId}-output.zip`).sort());
        for (const job of mine) {
          const blob = await os.getBlob(`${job.jobId}-output.zip`);
          expect(blob?.length).toBe(300000);
          expect(Buffer.from(blob ?? []).toString('utf8', 0, 15)).toBe('coderun-output:');
        }
      }
    } finally {
      await nc.close();
    }
  });

  it('denies every user what it must not do', () => {
    expect(jobs.length, 'the data flow test ran first').toBeGreaterThan(0);
    const a = jobs.find((j) => j.userId === users.a);
    const b = jobs.find((j) => j.userId === users.b);
    if (!a || !b) throw new Error('jobs for both users');
    const queue = a.queue;
    const vars = {
      frontend: clientEnv(frontendDeploy, 'frontend', cluster, secrets),
      middleware: clientEnv(middlewareDeploy, 'middleware', cluster, secrets),
      executor: {
        ...clientEnv(templates[0] as Manifest, 'executor', cluster, secrets),
        USER_ID: a.userId,
        JOB_ID: a.jobId,
      },
    };
    const denied = {
      frontend: [
        { name: 'write a job record', op: 'kv-put', args: [a.userId, a.jobId] },
        { name: 'write an output object', op: 'obj-put', args: [a.userId, 'forged.zip'] },
        { name: 'create a KV bucket', op: 'kv-create', args: ['intruder'] },
        { name: 'delete a user bucket', op: 'kv-delete-bucket', args: [`KV_${a.userId}`] },
        { name: 'purge a user bucket', op: 'stream-purge', args: [`KV_${a.userId}`] },
        { name: 'consume a job queue', op: 'sub', args: [queue] },
        { name: 'read the shared inbox', op: 'sub', args: ['_INBOX.>'] },
        { name: "read the middleware's replies", op: 'sub', args: ['_INBOX_middleware.>'] },
        { name: "read the executors' replies", op: 'sub', args: ['_INBOX_executor.>'] },
        { name: 'watch KV subjects directly', op: 'sub', args: [`$KV.${a.userId}.>`] },
      ],
      middleware: [
        { name: 'inject a job', op: 'pub', args: [queue] },
        { name: 'read a job record', op: 'kv-get', args: [a.userId, a.jobId] },
        { name: 'read an output object', op: 'obj-get', args: [a.userId, `${a.jobId}-output.zip`] },
        { name: 'write an output object', op: 'obj-put', args: [a.userId, 'forged.zip'] },
        { name: 'delete a user bucket', op: 'kv-delete-bucket', args: [`KV_${a.userId}`] },
        { name: 'purge a user bucket', op: 'stream-purge', args: [`OBJ_${a.userId}`] },
        { name: "read the frontend's replies", op: 'sub', args: ['_INBOX_frontend.>'] },
        { name: 'read the shared inbox', op: 'sub', args: ['_INBOX.>'] },
      ],
      executor: [
        { name: 'create a KV bucket', op: 'kv-create', args: ['intruder'] },
        { name: 'create an object store', op: 'obj-create', args: ['intruder'] },
        { name: 'create any stream', op: 'stream-create', args: ['CAPTURE', 'cola.>'] },
        { name: 'delete a user bucket', op: 'kv-delete-bucket', args: [`KV_${b.userId}`] },
        { name: 'purge an object store', op: 'stream-purge', args: [`OBJ_${b.userId}`] },
        { name: 'consume a job queue', op: 'sub', args: [queue] },
        { name: 'inject a job', op: 'pub', args: [queue] },
        { name: 'read a job record (KV get)', op: 'kv-get', args: [b.userId, b.jobId] },
        { name: 'read a job record by subject', op: 'msg-get', args: [`KV_${b.userId}`, `$KV.${b.userId}.${b.jobId}`] },
        { name: 'list job records (KV keys)', op: 'kv-keys', args: [b.userId] },
        { name: "download another job's output", op: 'obj-get', args: [b.userId, `${b.jobId}-output.zip`] },
        { name: 'list outputs', op: 'obj-list', args: [b.userId] },
        { name: "read the frontend's replies", op: 'sub', args: ['_INBOX_frontend.>'] },
        { name: 'read the shared inbox', op: 'sub', args: ['_INBOX.>'] },
        { name: 'watch object subjects directly', op: 'sub', args: [`$O.${b.userId}.>`] },
      ],
    };
    const allowedAnyway: string[] = [];
    for (const [user, cases] of Object.entries(denied)) {
      const results = tryAs(client, vars[user as keyof typeof vars], cases);
      expect(results.length).toBe(cases.length);
      for (const r of results) {
        expect(`${user} ${r.name}: ${r.ok ? 'ALLOWED' : 'denied'}`, r.error).toBe(`${user} ${r.name}: denied`);
        if (r.ok) allowedAnyway.push(`${user} ${r.name}`);
      }
    }
    // What static configuration cannot narrow (README, "NATS: what remains"): one executor
    // credential serves every job, and bucket names are user ids, so the subjects that let an
    // executor write its own user's bucket let it write any user's. This test keeps that claim true.
    const gaps = tryAs(client, vars.executor, [
      { name: "write another user's job record", op: 'kv-put', args: [b.userId, b.jobId] },
      { name: "write into another user's object store", op: 'obj-put', args: [b.userId, 'forged.zip'] },
    ]);
    expect(gaps.map((g) => `${g.name}: ${g.ok ? 'possible' : 'denied'}`)).toEqual([
      "write another user's job record: possible",
      "write into another user's object store: possible",
    ]);
  });

  if (replicas > 1) {
    it(`keeps serving JetStream after losing one of ${replicas} servers`, async () => {
      const lost = cluster.nodes[replicas - 1];
      await lost?.proc?.stop('SIGKILL');
      // The survivors elect a JetStream meta leader among themselves (if the lost one led).
      const lostAt = Date.now();
      await waitFor(
        'a meta leader among the survivors',
        async () => {
          const r = await httpGet(`http://127.0.0.1:${cluster.nodes[0]?.httpPort ?? 0}/jsz`);
          const leader = (JSON.parse(r.body) as { meta_cluster?: { leader?: string } }).meta_cluster?.leader;
          return leader && leader !== lost?.podName;
        },
        { from: lostAt, timeoutMs: 60_000 },
      );
      console.log(
        `prod: JetStream meta leader among the survivors ${((Date.now() - lostAt) / 1000).toFixed(1)} s after the loss`,
      );
      // Clients of the survivors keep reading and writing every user's buckets: each is replicated
      // on all servers, and two of three keep the quorum. (A new R3 bucket cannot be placed while a
      // server is gone; the README says so.)
      const feVars = clientEnv(frontendDeploy, 'frontend', cluster, secrets, 0);
      const nc = await frontendConnection(feVars);
      try {
        const job = jobs.find((j) => j.userId === users.a);
        if (!job) throw new Error('no job');
        const kv = await new Kvm(nc).open(job.userId);
        await waitFor(
          'job readable after the loss',
          async () => (await kv.get(job.jobId))?.json<{ status: string }>().status === 'Done',
          { timeoutMs: 60_000 },
        );
        expect((await kv.status()).replicas).toBe(replicas);
        // The middleware records a new job of the same user.
        const mwVars = clientEnv(middlewareDeploy, 'middleware', cluster, secrets, 0);
        const mw = start('middleware-after-loss', client, ['middleware', '-jobs', '1'], {
          env: { PATH: process.env.PATH, ...mwVars },
        });
        await waitFor('middleware ready', () => mw.log().includes('"ready":true'), {
          proc: mw,
          from: mw,
          timeoutMs: 60_000,
        });
        // Core NATS drops a job published before the queue subscription is known; publish until one
        // is recorded.
        await waitFor(
          'a job recorded after the loss',
          async () => {
            if (mw.log().includes('"jobId"')) return true;
            nc.publish(job.queue, JSON.stringify({ userId: job.userId, language: job.language, code: 'x' }));
            await nc.flush();
            await new Promise((r) => setTimeout(r, 500));
            return mw.log().includes('"jobId"');
          },
          { timeoutMs: 90_000 },
        );
        expect(await mw.exited, mw.log()).toBe(0);
        const rec = JSON.parse(
          mw
            .log()
            .split('\n')
            .find((l) => l.includes('"jobId"')) ?? '{}',
        ) as { jobId: string };
        // The executor stores its output and result through the survivors; the frontend reads them.
        const template = templates.find((t) => t.metadata.name === `executor-${job.language}`) as Manifest;
        execFileSync(client, ['executor', '-size', '100000'], {
          env: {
            PATH: process.env.PATH,
            ...clientEnv(template, 'executor', cluster, secrets, 1 % replicas),
            USER_ID: job.userId,
            JOB_ID: rec.jobId,
          },
          encoding: 'utf8',
        });
        expect((await kv.get(rec.jobId))?.json<{ status: string }>().status).toBe('Done');
        const os = await new Objm(nc).open(job.userId);
        const blob = await waitFor(
          'output downloadable',
          async () => (await os.getBlob(`${rec.jobId}-output.zip`)) ?? undefined,
          { timeoutMs: 60_000 },
        );
        expect(blob.length).toBe(100000);
      } finally {
        await nc.close();
      }
    }, 300_000);
  }

  it('drains in lame-duck mode on the committed preStop and exits within the grace period', async () => {
    const node = cluster.nodes[0];
    if (!node?.proc) throw new Error('node 0 not running');
    const preStop = natsContainer.lifecycle?.preStop?.exec?.command ?? [];
    expect(preStop[0]).toBe('nats-server');
    const grace = podSpec(sts).terminationGracePeriodSeconds ?? 30;
    const began = Date.now();
    execFileSync(
      server,
      preStop.slice(1).map((a) => localPath(a, node.mounts)),
      { stdio: 'pipe' },
    );
    await waitFor('lame duck mode', () => node.proc?.log().includes('Entering lame duck mode'), {
      from: began,
      timeoutMs: 30_000,
    });
    const code = await node.proc.exited;
    const seconds = (Date.now() - began) / 1000;
    expect(code).toBe(0);
    expect(seconds, `exited after ${seconds.toFixed(1)} s; terminationGracePeriodSeconds is ${grace}`).toBeLessThan(
      grace,
    );
  }, 120_000);
});
