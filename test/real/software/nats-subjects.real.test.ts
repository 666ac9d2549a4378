/**
 * Every subject the NATS configuration allows is needed: for each subject of each user (nats.conf)
 * and of the executors' per-job scope (the middleware's NATS_EXECUTOR_SCOPE), the test removes just
 * that subject and runs the contract's operations of that role with each client the subject names
 * (charts/nats/definition.ts, NatsSubject.clients). Each of them must fail; with the subject back,
 * each passes. So no subject is allowed that no supported client needs, and each comment in nats.conf
 * saying which client needs it is true. The data flow and the denial matrix of every client run in
 * nats.real.test.ts.
 *
 * It runs once, on the first environment with one NATS server: the users' permission blocks and
 * the executor scope are the same text in every environment, which the first test checks.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../../src/model/objects';
import { loadCommitted } from '../../support/committed';
import { EXECUTOR_JOB_SCOPE, NATS_CLIENTS, NATS_USERS, type NatsSubject } from '../../../charts/nats/definition';
import { natsCredentialKeys } from '../../../charts/nats/plan';
import { credentialValues, natsSecrets, newTestKeys } from '../../../tools/harness/nats-auth';
import { clientEnv, executorJobEnv, goBinary, jsDriver, type RecordedJob } from '../../../tools/harness/nats-clients';
import type { UserView } from '../../../tools/harness/nats-js';
import { container, localPath, prepareCluster, type NatsCluster } from '../../../tools/harness/nats-server';
import { start, stopAll, waitFor, type Running } from '../../../tools/harness/process';
import { tool } from '../../../tools/harness/tools';

const run = promisify(execFile);
const committed = loadCommitted();
const envNames = [...new Set(committed.map((d) => d.env.name))];
const objectOf = (env: string, kind: string, name: string): Manifest => {
  const d = committed.find((x) => x.env.name === env && x.object.kind === kind && x.object.metadata.name === name);
  if (!d) throw new Error(`${env}: no committed ${kind} ${name}`);
  return d.object;
};
const replicasOf = (env: string) =>
  (objectOf(env, 'StatefulSet', 'nats') as unknown as { spec: { replicas: number } }).spec.replicas;
const envName = envNames.find((e) => replicasOf(e) === 1) ?? envNames[0] ?? '';
const env = committed.find((d) => d.env.name === envName)?.env;
if (!env) throw new Error('no environment');

/** The nkey users' part of nats.conf, and the executor scope, of an environment. */
function permissionsOf(e: string): { users: string; scope: string | undefined } {
  const conf = (objectOf(e, 'ConfigMap', 'nats-config') as unknown as { data: Record<string, string> }).data[
    'nats.conf'
  ];
  const users = /^accounts \{[\s\S]*?^\}$/m.exec(conf ?? '')?.[0] ?? '';
  const mw = container(objectOf(e, 'Deployment', 'middleware'), 'middleware');
  return { users, scope: mw.env?.find((v) => v.name === 'NATS_EXECUTOR_SCOPE')?.value };
}

const sts = objectOf(envName, 'StatefulSet', 'nats');
const cm = objectOf(envName, 'ConfigMap', 'nats-config');
const frontendDeploy = objectOf(envName, 'Deployment', 'frontend');
const middlewareDeploy = objectOf(envName, 'Deployment', 'middleware');
const template = committed
  .filter((d) => d.env.name === envName && d.object.kind === 'PodTemplate')
  .map((d) => d.object)
  .find((t) => t.metadata.name.startsWith('executor-')) as Manifest;
const keys = newTestKeys(NATS_USERS.map((u) => u.user));
const secrets = natsSecrets(env.secrets.nats, credentialValues(keys, natsCredentialKeys(env.services.nats)));

let cluster: NatsCluster;
let configFile: string;
let original: string;
/** The frontend's view of the reference user, read with every subject allowed. */
let reference: { user: string; view: UserView };
const scopeJson = () => permissionsOf(envName).scope ?? '';

/**
 * A subject no client uses. A subject is replaced by it rather than deleted: nats-server reads an
 * empty allow list as "allow everything".
 */
const NOTHING = '_coderun_test_nothing';

/** nats.conf with `subject` replaced by NOTHING in `user`'s block. */
function without(user: string, subject: NatsSubject): string {
  const at = original.indexOf(`nkey: $NATS_${user.toUpperCase()}_NKEY\n`);
  const line = `${JSON.stringify(subject.subject)}  # `;
  const i = original.indexOf(line, at);
  if (at < 0 || i < 0) throw new Error(`no ${subject.subject} in ${user}'s block`);
  return `${original.slice(0, i)}${JSON.stringify(NOTHING)}  # ${original.slice(i + line.length)}`;
}

/** Writes the server's config and has it reload (SIGHUP), waiting for its log to say so. */
async function reload(text: string): Promise<void> {
  const proc = cluster.nodes[0]?.proc;
  if (!proc) throw new Error('no server');
  writeFileSync(configFile, text);
  const before = proc.log().split('Reloaded server configuration').length;
  proc.child.kill('SIGHUP');
  await waitFor('config reloaded', () => proc.log().split('Reloaded server configuration').length > before, {
    timeoutMs: 10_000,
  });
}

/** Starts a middleware with client `id` (the executor scope given as JSON); resolves once ready. */
async function middleware(id: string, scope = scopeJson()): Promise<Running> {
  const bin = goBinary[id];
  if (!bin) throw new Error(`${id} cannot play the middleware`);
  const vars = { ...clientEnv(middlewareDeploy, 'middleware', cluster, secrets), NATS_EXECUTOR_SCOPE: scope };
  const mw = start(`middleware-${id}-${randomInt(1e6)}`, bin(), ['middleware', '-jobs', '0'], {
    env: { PATH: process.env.PATH, ...vars },
  });
  await waitFor('middleware ready', () => mw.log().includes('"ready":true') || mw.log().includes('nats-client:'), {
    proc: mw,
    from: mw,
    timeoutMs: 30_000,
  }).catch(() => undefined);
  return mw;
}

/**
 * Publishes a job for `user` (as the frontend, every subject allowed) until `mw` has recorded
 * `count` jobs of that user; returns the last.
 */
async function recordJob(mw: Running, user: string, count = 1, timeoutMs = 8_000): Promise<RecordedJob> {
  const fe = await jsDriver('nats.js-v3').connect(clientEnv(frontendDeploy, 'frontend', cluster, secrets));
  try {
    const seen = () =>
      mw
        .log()
        .split('\n')
        .filter((l) => l.includes('"jobId"') && l.includes(`"${user}"`));
    // A middleware the server refuses says so at once (nats-client prints every asynchronous error,
    // every failed bucket attempt and every failed job): fail then, not at the timeout.
    const end = Date.now() + timeoutMs;
    while (seen().length < count) {
      if (/asynchronous error|\(retrying\)|"error"/.test(mw.log()))
        throw new Error(`the middleware failed: ${mw.log()}`);
      if (Date.now() > end) throw new Error(`job ${count} of ${user} not recorded in ${timeoutMs} ms: ${mw.log()}`);
      await fe.publish('cola.go', JSON.stringify({ userId: user, language: 'go', code: 'x' }));
      await new Promise((r) => setTimeout(r, 300));
    }
    return JSON.parse(seen()[count - 1] ?? '{}') as RecordedJob;
  } finally {
    await fe.close();
  }
}

/** An executor of client `id` stores job's output and result; resolves with '' or the error. */
async function executorRun(id: string, job: RecordedJob): Promise<string> {
  const vars = executorJobEnv(clientEnv(template, 'executor', cluster, secrets), job);
  const bin = goBinary[id];
  try {
    if (bin) await run(bin(), ['executor', '-size', '50000'], { env: { PATH: process.env.PATH, ...vars } });
    else {
      const c = await jsDriver(id).connect(vars);
      try {
        await c.guard(() => c.storeOutput(job.userId, job.jobId, 50000));
      } finally {
        await c.close();
      }
    }
    return '';
  } catch (e) {
    return ((e as { stderr?: string }).stderr ?? '') + (e as Error).message;
  }
}

/** The frontend's contract with client `id`: publish a job on each queue, read the reference user. */
async function frontendRun(id: string): Promise<string> {
  try {
    const c = await jsDriver(id).connect(clientEnv(frontendDeploy, 'frontend', cluster, secrets));
    try {
      for (const q of (clientEnv(middlewareDeploy, 'middleware', cluster, secrets).NATS_QUEUES ?? '').split(','))
        await c.guard(() => c.publish(q, JSON.stringify({ userId: 'probe', language: 'go', code: 'x' })));
      const view = await c.guard(() => c.readUser(reference.user));
      expect(view).toEqual(reference.view);
    } finally {
      await c.close();
    }
    return '';
  } catch (e) {
    return (e as Error).message;
  }
}

/** The middleware's contract with client `id`: record a new user's job and answer its executor's callout. */
async function middlewareRun(id: string): Promise<string> {
  const mw = await middleware(id);
  try {
    if (!mw.log().includes('"ready":true')) return mw.log();
    // A working middleware records a job in well under a second; one that cannot gets 4 s.
    const job = await recordJob(mw, `u${randomInt(1e9)}`, 1, 4_000).catch((e: Error) => e);
    if (job instanceof Error) return `${job.message}\n${mw.log()}`;
    return await executorRun('nats.go-newest', job);
  } finally {
    // A middleware that could not do its work may be retrying it; nothing of it is to be kept.
    await mw.stop('SIGKILL');
  }
}

beforeAll(async () => {
  cluster = await prepareCluster(sts, cm, secrets);
  await cluster.startNode(0, tool('nats', 'nats-server'));
  const node = cluster.nodes[0];
  const args = container(sts, 'nats').args ?? [];
  configFile = localPath(args.find((a) => a.endsWith('.conf')) ?? '', node?.mounts ?? {});
  original = node?.config ?? '';
  // The reference user: two jobs with outputs, read with everything allowed.
  const mw = await middleware('nats.go-newest');
  const user = `u${randomInt(1e9)}`;
  try {
    for (const n of [1, 2]) expect(await executorRun('nats.go-newest', await recordJob(mw, user, n))).toBe('');
  } finally {
    await mw.stop();
  }
  const fe = await jsDriver('nats.js-v3').connect(clientEnv(frontendDeploy, 'frontend', cluster, secrets));
  reference = { user, view: await fe.readUser(user) };
  await fe.close();
  expect(Object.keys(reference.view.outputs)).toHaveLength(2);
}, 120_000);

afterAll(async () => {
  await stopAll();
});

describe(`every allowed NATS subject is needed (${envName})`, () => {
  it('gives every environment the same permissions and executor scope', () => {
    for (const e of envNames) expect(permissionsOf(e), e).toEqual(permissionsOf(envName));
  });

  it('passes every role with every subject allowed', async () => {
    for (const id of ['nats.js-v2', 'nats.js-v3']) expect(await frontendRun(id), id).toBe('');
    for (const id of ['nats.go-oldest', 'nats.go-newest']) expect(await middlewareRun(id), id).toBe('');
  }, 120_000);

  const roleRuns: Record<'frontend' | 'middleware', (id: string) => Promise<string>> = {
    frontend: frontendRun,
    middleware: middlewareRun,
  };
  const roleClients = (role: 'frontend' | 'middleware' | 'executor') =>
    NATS_CLIENTS.filter((c) => c.roles.includes(role)).map((c) => c.id);
  /** "<client>: fails" or "<client>: passes" for each client of the role, as `runs` found them. */
  const verdicts = async (ids: readonly string[], runOne: (id: string) => Promise<string>) => {
    const out: string[] = [];
    for (const id of ids) out.push(`${id}: ${(await runOne(id)) === '' ? 'passes' : 'fails'}`);
    return out;
  };
  const expected = (ids: readonly string[], needing: readonly string[]) =>
    ids.map((id) => `${id}: ${needing.includes(id) ? 'fails' : 'passes'}`);

  const cases = NATS_USERS.flatMap((u) =>
    [...u.publish, ...u.subscribe]
      // The job queues are one subject per language, needed alike: the first stands for them all.
      .filter(
        (x, i, all) => !x.subject.startsWith('cola.') || all.findIndex((y) => y.subject.startsWith('cola.')) === i,
      )
      .map((x) => ({ user: u.user, subject: x })),
  );
  it.each(cases.map((c) => [c.user, c.subject.subject, c.subject.clients.join(', '), c] as const))(
    '%s without %s: exactly %s fail',
    async (_u, _s, _c, c) => {
      await reload(without(c.user, c.subject));
      try {
        const ids = roleClients(c.user);
        expect(await verdicts(ids, roleRuns[c.user])).toEqual(expected(ids, c.subject.clients));
      } finally {
        await reload(original);
      }
    },
    180_000,
  );

  it.each(
    [...EXECUTOR_JOB_SCOPE.publish, ...EXECUTOR_JOB_SCOPE.subscribe].map(
      (x) => [x.subject, x.clients.join(', '), x] as const,
    ),
  )(
    'executor without %s: exactly %s fail',
    async (_s, _c, subject) => {
      const scope = JSON.parse(scopeJson()) as { publish: string[]; subscribe: string[] };
      const replace = (list: string[]) => list.map((x) => (x === subject.subject ? NOTHING : x));
      const narrowed = JSON.stringify({
        ...scope,
        publish: replace(scope.publish),
        subscribe: replace(scope.subscribe),
      });
      const mw = await middleware('nats.go-newest', narrowed);
      try {
        const ids = roleClients('executor');
        const runOne = async (id: string) => executorRun(id, await recordJob(mw, `u${randomInt(1e9)}`));
        expect(await verdicts(ids, runOne)).toEqual(expected(ids, subject.clients));
      } finally {
        await mw.stop();
      }
    },
    180_000,
  );
});
