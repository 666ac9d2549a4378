/**
 * The client matrix for the real NATS suites: each supported client (charts/nats/definition.ts,
 * NATS_CLIENTS) as a program or a driver, the environment a committed container gets pointed at a
 * loopback cluster, what the middleware adds to an executor pod, and one way to run a denial case
 * with any client.
 */
import { execFile } from 'node:child_process';
import type { Manifest } from '../../src/model/objects';
import { EXECUTOR_JOB_SCOPE } from '../../charts/nats/definition';
import { containerEnv, type SecretValues } from './kubelet-env';
import { ticketFile } from './nats-auth';
import { JS_DRIVERS, type TryCase, type TryResult } from './nats-js';
import { container, type NatsCluster } from './nats-server';
import { tool } from './tools';

/** A client container's environment, pointed at the loopback cluster. */
export function clientEnv(
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

/** What the middleware adds to an executor pod (README, "Image contract"): the job, its inbox and ticket. */
export function executorJobEnv(base: Readonly<Record<string, string>>, job: RecordedJob): Record<string, string> {
  if (base.NATS_TICKET_FILE === undefined) throw new Error('the PodTemplate names no NATS_TICKET_FILE');
  const credentials = Object.keys(base).filter((k) => /PASSWORD|SEED|TOKEN|TICKET$/.test(k));
  if (credentials.length > 0) throw new Error(`the PodTemplate gives the executor ${credentials.join(', ')}`);
  return {
    ...base,
    USER_ID: job.userId,
    JOB_ID: job.jobId,
    NATS_INBOX_PREFIX: EXECUTOR_JOB_SCOPE.inboxPrefix.replace('{job}', job.jobId),
    NATS_TICKET_FILE: ticketFile(job.jobId, job.ticket),
  };
}

/** A job as the middleware stand-in prints it: its queue, user, id, language and ticket. */
export interface RecordedJob {
  readonly queue: string;
  readonly userId: string;
  readonly jobId: string;
  readonly language: string;
  readonly ticket: string;
}

/** The nats.go builds of the client matrix, by client id. */
export const goBinary: Partial<Record<string, () => string>> = {
  'nats.go-oldest': () => tool('nats-client', 'nats-client'),
  'nats.go-newest': () => tool('nats-client-latest', 'nats-client'),
};
/** The nats.js driver of client `id`. */
export function jsDriver(id: string) {
  const d = JS_DRIVERS.find((x) => x.id === id);
  if (!d) throw new Error(`no nats.js driver ${id}`);
  return d;
}

/** Runs `cases` with nats.go binary `bin` under `vars`; returns what the server allowed. */
export async function goTry(
  bin: string,
  vars: Record<string, string>,
  cases: readonly TryCase[],
): Promise<TryResult[]> {
  const child = execFile(bin, ['try'], { env: { PATH: process.env.PATH, ...vars }, timeout: 120_000 });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin?.end(cases.map((c) => JSON.stringify(c)).join('\n') + '\n');
  const code = await new Promise<number | null>((res) => child.on('close', res));
  if (code !== 0) throw new Error(`nats-client try exited ${String(code)}: ${err}`);
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as TryResult);
}

/** Runs `cases` with client `id` (nats.go or nats.js) under `vars`. */
export async function attempt(
  id: string,
  vars: Record<string, string>,
  cases: readonly TryCase[],
): Promise<TryResult[]> {
  const bin = goBinary[id];
  if (bin) return goTry(bin(), vars, cases);
  const c = await jsDriver(id).connect(vars);
  try {
    const out: TryResult[] = [];
    for (const x of cases) out.push(await c.attempt(x));
    return out;
  } finally {
    await c.close();
  }
}

/** Whether client `id` can connect at all with `vars` (an executor's ticket, say); the error if not. */
export async function connects(id: string, vars: Record<string, string>): Promise<string> {
  const bin = goBinary[id];
  if (bin) {
    try {
      await goTry(bin(), vars, [{ name: 'connect', op: 'sub', args: [`${vars.NATS_INBOX_PREFIX ?? '_INBOX'}.probe`] }]);
      return '';
    } catch (e) {
      return (e as Error).message;
    }
  }
  try {
    const c = await jsDriver(id).connect(vars);
    await c.close();
    return '';
  } catch (e) {
    return (e as Error).message || String(e);
  }
}
