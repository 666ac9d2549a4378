/**
 * Starts real servers on loopback for a test and stops them: free ports, readiness polling, logs kept
 * in memory for failure messages, SIGTERM then SIGKILL. Every process started here is stopped by
 * stopAll(), which each suite calls in afterAll.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Running {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything the process printed so far. */
  log(): string;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

const running = new Set<Running>();

/** Starts `command args` with its output captured. */
export function start(
  name: string,
  command: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Running {
  const child = spawn(command, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const add = (b: Buffer) => {
    text += b.toString();
    if (text.length > 400_000) text = text.slice(-200_000);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  const exited = new Promise<number | string>((res) => {
    child.on('exit', (code, signal) => res(code ?? signal ?? 'unknown'));
    child.on('error', (err) => {
      text += `\nspawn error: ${err.message}`;
      res('spawn-error');
    });
  });
  const proc: Running = {
    name,
    child,
    log: () => text,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        const code = await exited;
        clearTimeout(timer);
        running.delete(proc);
        return code;
      }
      running.delete(proc);
      return exited;
    },
  };
  running.add(proc);
  return proc;
}

/** Stops every process started by start() that is still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

export { freePorts } from '../../../tools/twin/ports';

/** Polls `check` until it returns a truthy value; throws `what` (and the process log) on timeout. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs?: number; intervalMs?: number; proc?: Running } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    if (opts.proc && opts.proc.child.exitCode !== null) {
      throw new Error(
        `${what}: ${opts.proc.name} exited with ${opts.proc.child.exitCode}\n${opts.proc.log().slice(-4000)}`,
      );
    }
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const tail = opts.proc ? `\n--- ${opts.proc.name} log ---\n${opts.proc.log().slice(-4000)}` : '';
      throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}${tail}`);
    }
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 100));
  }
}

/** GET `url` and return status and body; never throws on HTTP errors. */
export async function httpGet(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: string; headers: Headers }> {
  const r = await fetch(url, { redirect: 'manual', ...init });
  return { status: r.status, body: await r.text(), headers: r.headers };
}
