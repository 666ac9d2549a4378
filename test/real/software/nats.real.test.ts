/**
 * The committed NATS configuration of every environment, run by the real nats-server at the version
 * the environment pins, and used by every supported client (charts/nats/definition.ts,
 * NATS_CLIENTS): nats.go at both ends of its range (tools/go/nats-client and nats-client-latest,
 * playing the middleware and the executors) and both nats.js lines (tools/harness/nats-js.ts,
 * playing the frontend and executors written in JavaScript). Each client gets the environment
 * variables its committed Deployment or PodTemplate gives it, the middleware adds what the image
 * contract says it adds for an executor (USER_ID, JOB_ID, NATS_INBOX_PREFIX, the ticket file); only
 * addresses and paths are rewritten for loopback, and the Secrets hold keys made for the test.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../../src/model/objects';
import { loadCommitted } from '../../support/committed';
import { container, localPath, podSpec, prepareCluster, type NatsCluster } from '../../../tools/harness/nats-server';
import { credentialValues, natsSecrets, newTestKeys, ticketFile } from '../../../tools/harness/nats-auth';
import {
  attempt,
  clientEnv,
  connects,
  executorJobEnv,
  goBinary,
  jsDriver,
  type RecordedJob,
} from '../../../tools/harness/nats-clients';
import type { JsClient, TryCase } from '../../../tools/harness/nats-js';
import { httpGet, start, stopAll, waitFor, type Running } from '../../../tools/harness/process';
import { output, tool } from '../../../tools/harness/tools';
import { parseMemory } from '../../../src/model/quantity';
import { JETSTREAM_HEADROOM } from '../../../src/policy/rules/promises';
import { NATS_CLIENTS, NATS_USERS } from '../../../charts/nats/definition';
import { natsCredentialKeys } from '../../../charts/nats/plan';

const run = promisify(execFile);
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

const supporting = (role: 'frontend' | 'middleware' | 'executor') => NATS_CLIENTS.filter((c) => c.roles.includes(role));
/** The client a round uses for a role its own client does not play: the newest that plays it. */
const defaultFor = (role: 'frontend' | 'middleware' | 'executor') => supporting(role).at(-1)?.id ?? '';

/** One round of the matrix: the client under test plays every role it supports. */
const ROUNDS = NATS_CLIENTS.map((c) => ({
  client: c.id,
  frontend: c.roles.includes('frontend') ? c.id : defaultFor('frontend'),
  middleware: c.roles.includes('middleware') ? c.id : defaultFor('middleware'),
  executor: c.roles.includes('executor') ? c.id : defaultFor('executor'),
}));

describe.each(envNames)('NATS in %s', (envName) => {
  const sts = find(envName, 'StatefulSet', 'nats');
  const cm = find(envName, 'ConfigMap', 'nats-config');
  const middlewareDeploy = find(envName, 'Deployment', 'middleware');
  const frontendDeploy = find(envName, 'Deployment', 'frontend');
  const templates = findAll(envName, 'PodTemplate').filter((t) => t.metadata.name.startsWith('executor-'));
  const natsContainer = container(sts, 'nats');
  const env = committed.find((d) => d.env.name === envName)?.env;
  if (!env) throw new Error(envName);
  const keys = newTestKeys(NATS_USERS.map((u) => u.user));
  const secrets = natsSecrets(env.secrets.nats, credentialValues(keys, natsCredentialKeys(env.services.nats)));
  const replicas = (sts as unknown as { spec: { replicas: number } }).spec.replicas;
  let server: string;
  let cluster: NatsCluster;
  /** Per round: its users, the jobs the middleware recorded, and its running middlewares. */
  const rounds = new Map<string, { users: { a: string; b: string }; jobs: RecordedJob[]; mws: Running[] }>();

  beforeAll(async () => {
    server = tool('nats', 'nats-server');
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

  it('holds no secret: the server reads only public keys, and warns of no plaintext password', () => {
    const conf = cluster.nodes[0]?.config ?? '';
    expect(conf).not.toMatch(/password|token/i);
    const fromSecrets = (natsContainer.env ?? []).flatMap((e) =>
      e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef.key] : [],
    );
    expect(fromSecrets.length).toBeGreaterThan(0);
    for (const k of fromSecrets) expect(k, 'a Secret key the server reads').not.toMatch(/seed|password/);
    for (const n of cluster.nodes) expect(n.proc?.log() ?? '').not.toContain('Plaintext passwords detected');
  });

  it.each(NATS_CLIENTS.map((c) => [c.id, c.version] as const))('builds or installs %s at %s', async (id, version) => {
    const bin = goBinary[id];
    if (bin) {
      const { stdout } = await run('go', ['version', '-m', bin()]);
      expect(stdout).toMatch(new RegExp(`\\bdep\\s+github.com/nats-io/nats.go\\s+${version.replace(/\./g, '\\.')}\\s`));
    } else expect(jsDriver(id).version).toBe(version);
  });

  describe.each(ROUNDS)('with $client', (round) => {
    const users = { a: `u${randomInt(1e9)}`, b: `u${randomInt(1e9)}` };
    const state = { users, jobs: [] as RecordedJob[], mws: [] as Running[] };
    rounds.set(round.client, state);

    it(`carries the whole data flow: frontend (${round.frontend}) job -> middleware (${round.middleware}) queue group -> executor (${round.executor}) output -> frontend reads`, async () => {
      const mwVars = clientEnv(middlewareDeploy, 'middleware', cluster, secrets);
      const queues = (mwVars.NATS_QUEUES ?? '').split(',');
      expect(queues.length).toBe(templates.length);
      const mwBin = goBinary[round.middleware];
      if (!mwBin) throw new Error(`${round.middleware} cannot play the middleware`);
      // Two middleware replicas share the queues as one queue group: each job is recorded once.
      // They keep running: they answer the auth callout for the executors.
      state.mws = [0, 1].map((i) =>
        start(`middleware-${round.client}-${i}`, mwBin(), ['middleware', '-jobs', '0'], {
          env: { PATH: process.env.PATH, ...mwVars },
        }),
      );
      for (const mw of state.mws)
        await waitFor('middleware ready', () => mw.log().includes('"ready":true'), {
          proc: mw,
          from: mw,
          timeoutMs: 60_000,
        });

      const fe = await jsDriver(round.frontend).connect(clientEnv(frontendDeploy, 'frontend', cluster, secrets));
      try {
        // 1. The frontend publishes one job per queue for user a, and one for user b.
        const sent = [...queues.map((q) => ({ q, user: users.a })), { q: queues[0] ?? '', user: users.b }];
        for (const x of sent)
          await fe.publish(x.q, JSON.stringify({ userId: x.user, language: x.q.split('.').pop(), code: 'main(){}' }));
        // 2. The middleware records each job as Pending in the user's KV bucket (created if absent)
        //    and signs the job's ticket.
        const recorded = () => state.mws.flatMap((p) => p.log().split('\n')).filter((l) => l.includes('"jobId"'));
        await waitFor(`${sent.length} jobs recorded`, () => recorded().length >= sent.length, {
          timeoutMs: 60_000,
        }).catch((e: Error) => {
          throw new Error(`${e.message}\n${state.mws.map((p) => `--- ${p.name}\n${p.log()}`).join('\n')}`);
        });
        for (const line of recorded()) state.jobs.push(JSON.parse(line) as RecordedJob);
        expect(state.jobs.map((j) => j.queue).sort()).toEqual(sent.map((x) => x.q).sort());
        expect(new Set(state.jobs.map((j) => j.jobId)).size).toBe(sent.length);

        // 3. Each executor, with its language's committed PodTemplate env and its job's ticket, stores
        //    its output and the result.
        for (const job of state.jobs) {
          const template = templates.find((t) => t.metadata.name === `executor-${job.language}`);
          if (!template) throw new Error(`PodTemplate executor-${job.language}`);
          const exVars = executorJobEnv(clientEnv(template, 'executor', cluster, secrets), job);
          const bin = goBinary[round.executor];
          let stored: { object: string; size: number };
          if (bin) {
            const { stdout } = await run(bin(), ['executor', '-size', '300000'], {
              env: { PATH: process.env.PATH, ...exVars },
            }).catch((e: Error & { stderr?: string }) => {
              throw new Error(`${e.message}\n${e.stderr ?? ''}\n${state.mws.map((p) => p.log()).join('\n')}`);
            });
            stored = JSON.parse(stdout) as typeof stored;
          } else {
            const ex = await jsDriver(round.executor).connect(exVars);
            try {
              stored = await ex.storeOutput(job.userId, job.jobId, 300000);
            } finally {
              await ex.close();
            }
          }
          expect(stored).toMatchObject({ object: `${job.jobId}-output.zip`, size: 300000 });
        }

        // 4. The frontend reads each user's jobs (latest, at a revision, history) and outputs.
        for (const user of [users.a, users.b]) {
          const mine = state.jobs.filter((j) => j.userId === user);
          const view = await fe.readUser(user);
          expect(view.keys.sort()).toEqual(mine.map((j) => j.jobId).sort());
          for (const job of mine)
            expect(view.jobs[job.jobId]).toEqual({ latest: 'Done', history: ['Pending', 'Done'] });
          expect(Object.keys(view.outputs).sort()).toEqual(mine.map((j) => `${j.jobId}-output.zip`).sort());
          for (const o of Object.values(view.outputs)) expect(o).toEqual({ size: 300000, head: 'coderun-output:' });
        }
      } finally {
        await fe.close();
      }
    }, 240_000);

    it('denies every role what it must not do, and an executor everything but its own job', async () => {
      const jobs = state.jobs;
      expect(jobs.length, 'the data flow test ran first').toBeGreaterThan(0);
      try {
        const a = jobs.find((j) => j.userId === users.a);
        const a2 = jobs.find((j) => j.userId === users.a && j.jobId !== a?.jobId);
        const b = jobs.find((j) => j.userId === users.b);
        if (!a || !a2 || !b) throw new Error('two jobs of user a and one of user b');
        const queue = a.queue;
        const template = templates.find((t) => t.metadata.name === `executor-${a.language}`) as Manifest;
        const vars = {
          frontend: clientEnv(frontendDeploy, 'frontend', cluster, secrets),
          middleware: clientEnv(middlewareDeploy, 'middleware', cluster, secrets),
          executor: executorJobEnv(clientEnv(template, 'executor', cluster, secrets), a),
        };
        const denied: Record<'frontend' | 'middleware' | 'executor', TryCase[]> = {
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
            { name: 'answer the auth callout', op: 'sub', args: ['$SYS.REQ.USER.AUTH'] },
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
            { name: "write another job's record of the same user", op: 'kv-put', args: [a.userId, a2.jobId] },
            { name: "write another user's job record", op: 'kv-put', args: [b.userId, b.jobId] },
            {
              name: "overwrite another job's output of the same user",
              op: 'obj-put',
              args: [a.userId, `${a2.jobId}-output.zip`],
            },
            { name: 'write any other object of the same user', op: 'obj-put', args: [a.userId, 'forged.zip'] },
            { name: "write into another user's object store", op: 'obj-put', args: [b.userId, 'forged.zip'] },
            { name: 'create a KV bucket', op: 'kv-create', args: ['intruder'] },
            { name: 'create an object store', op: 'obj-create', args: ['intruder'] },
            { name: 'create any stream', op: 'stream-create', args: ['CAPTURE', 'cola.>'] },
            { name: 'delete a user bucket', op: 'kv-delete-bucket', args: [`KV_${b.userId}`] },
            { name: 'purge an object store', op: 'stream-purge', args: [`OBJ_${a.userId}`] },
            { name: 'consume a job queue', op: 'sub', args: [queue] },
            { name: 'inject a job', op: 'pub', args: [queue] },
            { name: "read another user's job record (KV get)", op: 'kv-get', args: [b.userId, b.jobId] },
            { name: 'read a job record of its own user (KV get)', op: 'kv-get', args: [a.userId, a2.jobId] },
            {
              name: 'read a job record by subject',
              op: 'msg-get',
              args: [`KV_${b.userId}`, `$KV.${b.userId}.${b.jobId}`],
            },
            { name: 'list job records (KV keys)', op: 'kv-keys', args: [a.userId] },
            { name: "download another job's output", op: 'obj-get', args: [b.userId, `${b.jobId}-output.zip`] },
            { name: 'list outputs', op: 'obj-list', args: [a.userId] },
            { name: "read the other executors' replies", op: 'sub', args: ['_INBOX_executor.>'] },
            { name: "read the frontend's replies", op: 'sub', args: ['_INBOX_frontend.>'] },
            { name: 'read the shared inbox', op: 'sub', args: ['_INBOX.>'] },
            { name: 'watch object subjects directly', op: 'sub', args: [`$O.${a.userId}.>`] },
          ],
        };
        const roleClient = { frontend: round.frontend, middleware: round.middleware, executor: round.executor };
        for (const [role, cases] of Object.entries(denied) as [keyof typeof denied, TryCase[]][]) {
          const results = await attempt(roleClient[role], vars[role], cases);
          expect(results.length).toBe(cases.length);
          for (const r of results)
            expect(`${role} (${roleClient[role]}) ${r.name}: ${r.ok ? 'ALLOWED' : 'denied'}`, r.error).toBe(
              `${role} (${roleClient[role]}) ${r.name}: denied`,
            );
        }
        // The control: the executor's own record is writable with the same credential, so the
        // denials above are the scope's, not a broken sign-in.
        const own = await attempt(round.executor, vars.executor, [
          { name: 'write its own job record', op: 'kv-put', args: [a.userId, a.jobId] },
        ]);
        expect(own.map((r) => `${r.name}: ${r.ok ? 'allowed' : r.error}`)).toEqual([
          'write its own job record: allowed',
        ]);

        // Signing in as an executor takes a ticket the middleware signed, unaltered.
        const [head, payload, sig] = a.ticket.split('.');
        const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as { nats?: { user?: string } };
        const forged = `${head}.${Buffer.from(JSON.stringify({ ...claims, nats: { ...claims.nats, user: b.userId } })).toString('base64url')}.${sig}`;
        const signIns = {
          'no ticket': { ...vars.executor, NATS_TICKET_FILE: ticketFile('none', '') },
          'a ticket with another user in it': { ...vars.executor, NATS_TICKET_FILE: ticketFile('forged', forged) },
          "the frontend's nkey seed as a ticket": {
            ...vars.executor,
            NATS_TICKET_FILE: ticketFile('seed', vars.frontend.NATS_NKEY_SEED ?? ''),
          },
        };
        for (const [what, v] of Object.entries(signIns))
          expect(`${what}: ${(await connects(round.executor, v)) ? 'refused' : 'ACCEPTED'}`).toBe(`${what}: refused`);
      } finally {
        for (const p of state.mws) expect(await p.stop(), p.log()).toBe(0);
      }
    }, 240_000);
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
      const state = rounds.get(ROUNDS[0]?.client ?? '');
      // User b's job: the denial matrix overwrote a record of user a with its own credential.
      const job = state?.jobs.find((j) => j.userId === state.users.b);
      if (!state || !job) throw new Error('no job from the first round');
      const fe: JsClient = await jsDriver(defaultFor('frontend')).connect(
        clientEnv(frontendDeploy, 'frontend', cluster, secrets, 0),
      );
      const mwBin = goBinary[defaultFor('middleware')];
      const exBin = goBinary[defaultFor('middleware')];
      if (!mwBin || !exBin) throw new Error('no nats.go build');
      try {
        await waitFor('job readable after the loss', async () => (await fe.status(job.userId, job.jobId)) === 'Done', {
          timeoutMs: 60_000,
        });
        // The middleware records a new job of the same user (and answers the executor's callout).
        const mwVars = clientEnv(middlewareDeploy, 'middleware', cluster, secrets, 0);
        const mw = start('middleware-after-loss', mwBin(), ['middleware', '-jobs', '0'], {
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
            await fe.publish(job.queue, JSON.stringify({ userId: job.userId, language: job.language, code: 'x' }));
            await new Promise((r) => setTimeout(r, 500));
            return mw.log().includes('"jobId"');
          },
          { timeoutMs: 90_000 },
        );
        const rec = JSON.parse(
          mw
            .log()
            .split('\n')
            .find((l) => l.includes('"jobId"')) ?? '{}',
        ) as RecordedJob;
        // The executor stores its output and result through the survivors; the frontend reads them.
        const template = templates.find((t) => t.metadata.name === `executor-${job.language}`) as Manifest;
        await run(exBin(), ['executor', '-size', '100000'], {
          env: {
            PATH: process.env.PATH,
            ...executorJobEnv(clientEnv(template, 'executor', cluster, secrets, 1 % replicas), rec),
          },
        });
        expect(await mw.stop(), mw.log()).toBe(0);
        expect(await fe.status(job.userId, rec.jobId)).toBe('Done');
        const size = await waitFor('output downloadable', () => fe.outputSize(job.userId, `${rec.jobId}-output.zip`), {
          timeoutMs: 60_000,
        });
        expect(size).toBe(100000);
      } finally {
        await fe.close();
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
    await run(
      server,
      preStop.slice(1).map((a) => localPath(a, node.mounts)),
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
