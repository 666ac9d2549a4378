/**
 * The platform's JavaScript roles (the Next.js frontend, and an executor written in JavaScript) with
 * each supported nats.js line (charts/nats/definition.ts, NATS_CLIENTS): the v2 line (`nats` on npm)
 * and v3 (`@nats-io/*`). Each driver reads the same environment variables the rendered containers
 * get (NATS_URL, NATS_NKEY_SEED or NATS_TICKET_FILE, NATS_INBOX_PREFIX, NATS_CA_FILE) and does the
 * contract's operations the way that library's users write them. `attempt` runs one case of the
 * denial matrix (the same ops as tools/go/nats-client `try`) and reports whether the server let it
 * happen.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as v2 from 'nats';
import * as v3 from '@nats-io/transport-node';
import { nkeyAuthenticator, tokenAuthenticator } from '@nats-io/nats-core';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';

/** What the frontend reads of one user: every job (latest status and history) and every output. */
export interface UserView {
  readonly keys: string[];
  readonly jobs: Record<string, { latest: string; history: string[] }>;
  readonly outputs: Record<string, { size: number; head: string }>;
}

/** One case of the denial matrix. */
export interface TryCase {
  readonly name: string;
  readonly op: string;
  readonly args: readonly string[];
}

export interface TryResult {
  readonly name: string;
  readonly ok: boolean;
  readonly error: string;
}

/** A connected client of one nats.js line. */
export interface JsClient {
  publish(subject: string, data: string): Promise<void>;
  /** Opens the user's buckets as the frontend does and reads everything in them. */
  readUser(user: string): Promise<UserView>;
  /** The status of one job record (latest), as the job page reads it; undefined if there is none. */
  status(user: string, job: string): Promise<string | undefined>;
  /** The size of one output object, downloaded; undefined if there is none. */
  outputSize(user: string, name: string): Promise<number | undefined>;
  /** Stores a job's output and records the result, as an executor does. */
  storeOutput(user: string, job: string, size: number): Promise<{ object: string; size: number }>;
  attempt(c: TryCase): Promise<TryResult>;
  /**
   * Runs `op`, failing at the first permission violation the server reports meanwhile (a refused
   * request gets no reply, only that asynchronous error) instead of at the request's timeout.
   */
  guard<T>(op: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** guard() of a client whose violations arrive in `violations`. */
function guarded(violations: string[]) {
  return async <T>(op: () => Promise<T>): Promise<T> => {
    violations.length = 0;
    let timer: NodeJS.Timeout | undefined;
    const refused = new Promise<never>((_, reject) => {
      timer = setInterval(() => {
        if (violations.length > 0) reject(new Error(violations.join('; ')));
      }, 20);
    });
    try {
      const out = await Promise.race([op(), refused]);
      // The server's -ERR for a refused publish reaches the status stream after the op's flush.
      await Promise.race([new Promise((r) => setTimeout(r, 150)), refused]);
      return out;
    } finally {
      clearInterval(timer);
    }
  };
}

export interface JsDriver {
  readonly id: 'nats.js-v2' | 'nats.js-v3';
  /** The installed version of the library (its package.json). */
  readonly version: string;
  connect(vars: Readonly<Record<string, string>>): Promise<JsClient>;
}

/** The output an executor stores: recognisable bytes of the given size. */
export function outputBytes(job: string, size: number): Uint8Array {
  const line = Buffer.from(`coderun-output:${job}\n`);
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += line.length) line.copy(out, i);
  return out;
}

function credentials(vars: Readonly<Record<string, string>>): { seed: Uint8Array } | { token: string } {
  if (vars.NATS_NKEY_SEED) return { seed: new TextEncoder().encode(vars.NATS_NKEY_SEED) };
  if (!vars.NATS_TICKET_FILE) throw new Error('neither NATS_NKEY_SEED nor NATS_TICKET_FILE is set');
  return { token: readFileSync(vars.NATS_TICKET_FILE, 'utf8').trim() };
}

const record = (user: string, job: string) =>
  JSON.stringify({ id: job, userId: user, status: 'Done', output: `${job}-output.zip` });

/**
 * Runs `op` and watches the connection for a permission violation meanwhile: the server answers a
 * denied publish or subscription asynchronously, so an op that "succeeds" may still have been refused.
 */
async function watched(
  violations: string[],
  name: string,
  op: () => Promise<unknown>,
  settle: () => Promise<void>,
): Promise<TryResult> {
  violations.length = 0;
  let error = '';
  try {
    await Promise.race([
      op(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no answer in 3 s')), 3000)),
      new Promise((_, reject) => {
        const t = setInterval(() => {
          if (violations.length > 0) {
            clearInterval(t);
            reject(new Error(violations.join('; ')));
          }
        }, 20);
        setTimeout(() => clearInterval(t), 3100);
      }),
    ]);
  } catch (e) {
    error = (e as Error).message;
  }
  await settle().catch(() => undefined);
  await new Promise((r) => setTimeout(r, 100));
  if (violations.length > 0 && !error.includes(violations[0] ?? '')) error = `${error} ${violations.join('; ')}`.trim();
  return { name, ok: error === '', error };
}

/** The KV bucket operations the frontend uses, alike in both nats.js lines. */
interface KvReads {
  keys(): Promise<AsyncIterable<string>>;
  get(key: string, opts?: { revision: number }): Promise<{ revision: number; json<T>(): T } | null>;
  history(opts: { key: string }): Promise<AsyncIterable<{ json<T>(): T }>>;
}

/** The object store operations the frontend uses, alike in both nats.js lines. */
interface ObjectReads {
  list(): Promise<{ name: string }[]>;
  getBlob(name: string): Promise<Uint8Array | null>;
}

/** What the job list and the job page read of one user: every job and every output. */
async function readView(kv: KvReads, os: ObjectReads): Promise<UserView> {
  const keys = await drain(await kv.keys());
  const jobs: UserView['jobs'] = {};
  for (const k of keys) {
    const latest = await kv.get(k);
    const history = await drain(await kv.history({ key: k }));
    jobs[k] = {
      latest: (latest?.json<{ status: string }>() ?? { status: '' }).status,
      history: history.map((e) => e.json<{ status: string }>().status),
    };
    // The job list asks for a record at a revision, too.
    if (latest) await kv.get(k, { revision: latest.revision });
  }
  const outputs: UserView['outputs'] = {};
  for (const info of await os.list()) {
    const blob = await os.getBlob(info.name);
    outputs[info.name] = { size: blob?.length ?? -1, head: Buffer.from(blob ?? []).toString('utf8', 0, 15) };
  }
  return { keys, jobs, outputs };
}

/** Subscribes to `subject` for 200 ms (long enough for the server to refuse it), then leaves. */
async function subscribeBriefly(
  nc: { subscribe(subject: string): { unsubscribe(): void }; flush(): Promise<void> },
  subject: string,
): Promise<void> {
  const sub = nc.subscribe(subject);
  await nc.flush();
  await new Promise((r) => setTimeout(r, 200));
  sub.unsubscribe();
}

function arg(c: TryCase, i: number): string {
  const a = c.args[i];
  if (a === undefined) throw new Error(`case ${c.name}: op ${c.op} needs ${i + 1} arguments`);
  return a;
}

async function drain<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

// ------------------------------------------------------------------------------------------------
// nats.js v2: `nats` on npm

/** The installed version of npm package `name` (its package.json, found above its entry point). */
function installedVersion(name: string): string {
  let dir = dirname(require.resolve(name));
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version: string };
      if (pkg.name === name) return pkg.version;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json of ${name}`);
    dir = up;
  }
}

async function v2Connect(vars: Readonly<Record<string, string>>): Promise<JsClient> {
  const cred = credentials(vars);
  const nc = await v2.connect({
    servers: vars.NATS_URL,
    authenticator: 'seed' in cred ? v2.nkeyAuthenticator(cred.seed) : v2.tokenAuthenticator(cred.token),
    ...(vars.NATS_INBOX_PREFIX ? { inboxPrefix: vars.NATS_INBOX_PREFIX } : {}),
    ...(vars.NATS_CA_FILE ? { tls: { caFile: vars.NATS_CA_FILE } } : {}),
    timeout: 20_000,
  });
  const violations: string[] = [];
  void (async () => {
    for await (const s of nc.status())
      if (s.type === v2.Events.Error || String(s.data).includes('Permissions Violation'))
        violations.push(String(s.data));
  })();
  const js = nc.jetstream();
  const sc = v2.StringCodec();
  const settle = () => nc.flush();
  return {
    async publish(subject, data) {
      nc.publish(subject, sc.encode(data));
      await nc.flush();
    },
    async readUser(user) {
      // bindOnly: the frontend never creates a bucket (it may not), it opens the middleware's.
      return readView(await js.views.kv(user, { bindOnly: true }), await js.views.os(user));
    },
    async status(user, job) {
      const e = await (await js.views.kv(user, { bindOnly: true })).get(job);
      return e ? e.json<{ status: string }>().status : undefined;
    },
    async outputSize(user, name) {
      const b = await (await js.views.os(user)).getBlob(name);
      return b ? b.length : undefined;
    },
    async storeOutput(user, job, size) {
      const os = await js.views.os(user);
      const info = await os.putBlob({ name: `${job}-output.zip` }, outputBytes(job, size));
      const kv = await js.views.kv(user, { bindOnly: true });
      await kv.put(job, sc.encode(record(user, job)));
      return { object: info.name, size: info.size };
    },
    async attempt(c) {
      const run = async (): Promise<unknown> => {
        switch (c.op) {
          case 'pub':
            nc.publish(arg(c, 0), sc.encode('probe'));
            return nc.flush();
          case 'sub':
            return subscribeBriefly(nc, arg(c, 0));
          case 'kv-create':
            return js.views.kv(arg(c, 0));
          case 'kv-put':
            return (await js.views.kv(arg(c, 0), { bindOnly: true })).put(arg(c, 1), sc.encode('{"status":"Forged"}'));
          case 'kv-get': {
            const e = await (await js.views.kv(arg(c, 0), { bindOnly: true })).get(arg(c, 1));
            if (!e) throw new Error('no such record');
            return;
          }
          case 'kv-keys':
            return drain(await (await js.views.kv(arg(c, 0), { bindOnly: true })).keys());
          case 'kv-delete-bucket':
            return (await nc.jetstreamManager()).streams.delete(arg(c, 0));
          case 'stream-purge':
            return (await nc.jetstreamManager()).streams.purge(arg(c, 0));
          case 'msg-get':
            return (await nc.jetstreamManager()).streams.getMessage(arg(c, 0), { last_by_subj: arg(c, 1) });
          case 'obj-create':
          case 'obj-list':
            return (await js.views.os(arg(c, 0))).list();
          case 'obj-put':
            return (await js.views.os(arg(c, 0))).putBlob({ name: arg(c, 1) }, sc.encode('forged output'));
          case 'obj-get': {
            const b = await (await js.views.os(arg(c, 0))).getBlob(arg(c, 1));
            if (!b) throw new Error('no such object');
            return;
          }
          case 'stream-create':
            return (await nc.jetstreamManager()).streams.add({ name: arg(c, 0), subjects: [arg(c, 1)] });
        }
        throw new Error(`case ${c.name}: unknown op ${c.op}`);
      };
      return watched(violations, c.name, run, settle);
    },
    guard: guarded(violations),
    close: () => nc.close(),
  };
}

// ------------------------------------------------------------------------------------------------
// nats.js v3: `@nats-io/*`

async function v3Connect(vars: Readonly<Record<string, string>>): Promise<JsClient> {
  const cred = credentials(vars);
  const nc = await v3.connect({
    servers: vars.NATS_URL,
    authenticator: 'seed' in cred ? nkeyAuthenticator(cred.seed) : tokenAuthenticator(cred.token),
    ...(vars.NATS_INBOX_PREFIX ? { inboxPrefix: vars.NATS_INBOX_PREFIX } : {}),
    ...(vars.NATS_CA_FILE ? { tls: { caFile: vars.NATS_CA_FILE } } : {}),
    timeout: 20_000,
  });
  const violations: string[] = [];
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'error') violations.push(s.error.message);
  })();
  const kvm = new Kvm(nc);
  const objm = new Objm(nc);
  const settle = () => nc.flush();
  return {
    async publish(subject, data) {
      nc.publish(subject, data);
      await nc.flush();
    },
    async readUser(user) {
      return readView(await kvm.open(user), await objm.open(user));
    },
    async status(user, job) {
      const e = await (await kvm.open(user)).get(job);
      return e ? e.json<{ status: string }>().status : undefined;
    },
    async outputSize(user, name) {
      const b = await (await objm.open(user)).getBlob(name);
      return b ? b.length : undefined;
    },
    async storeOutput(user, job, size) {
      const os = await objm.open(user);
      const info = await os.putBlob({ name: `${job}-output.zip` }, outputBytes(job, size));
      const kv = await kvm.open(user);
      await kv.put(job, record(user, job));
      return { object: info.name, size: info.size };
    },
    async attempt(c) {
      const run = async (): Promise<unknown> => {
        switch (c.op) {
          case 'pub':
            nc.publish(arg(c, 0), 'probe');
            return nc.flush();
          case 'sub':
            return subscribeBriefly(nc, arg(c, 0));
          case 'kv-create':
            return kvm.create(arg(c, 0));
          case 'kv-put':
            return (await kvm.open(arg(c, 0))).put(arg(c, 1), '{"status":"Forged"}');
          case 'kv-get': {
            const e = await (await kvm.open(arg(c, 0))).get(arg(c, 1));
            if (!e) throw new Error('no such record');
            return;
          }
          case 'kv-keys':
            return drain(await (await kvm.open(arg(c, 0))).keys());
          case 'kv-delete-bucket':
            return (await jetstreamManager(nc)).streams.delete(arg(c, 0));
          case 'stream-purge':
            return (await jetstreamManager(nc)).streams.purge(arg(c, 0));
          case 'msg-get':
            return (await jetstreamManager(nc)).streams.getMessage(arg(c, 0), { last_by_subj: arg(c, 1) });
          case 'obj-create':
            return objm.create(arg(c, 0));
          case 'obj-put':
            return (await objm.open(arg(c, 0))).putBlob({ name: arg(c, 1) }, new TextEncoder().encode('forged'));
          case 'obj-get': {
            const b = await (await objm.open(arg(c, 0))).getBlob(arg(c, 1));
            if (!b) throw new Error('no such object');
            return;
          }
          case 'obj-list':
            return (await objm.open(arg(c, 0))).list();
          case 'stream-create':
            return (await jetstreamManager(nc)).streams.add({ name: arg(c, 0), subjects: [arg(c, 1)] });
        }
        throw new Error(`case ${c.name}: unknown op ${c.op}`);
      };
      return watched(violations, c.name, run, settle);
    },
    guard: guarded(violations),
    close: () => nc.close(),
  };
}

/** The supported nats.js lines. */
export const JS_DRIVERS: readonly JsDriver[] = [
  { id: 'nats.js-v2', version: installedVersion('nats'), connect: v2Connect },
  { id: 'nats.js-v3', version: installedVersion('@nats-io/transport-node'), connect: v3Connect },
];
