/**
 * The harness's one process runner and its one wait: starts real servers on loopback for a test or
 * a twin and stops them (SIGTERM, then SIGKILL), keeps their output (in memory, or in a log file
 * for a twin whose processes outlive `npm run twin -- up`), and polls for a condition.
 * Every process started here is stopped by stopAll(), which each suite calls in afterAll (a twin
 * stops its own in down()).
 *
 * A wait for a program to come up is measured from when the program started (its first output),
 * not from when the test began or the process was spawned: under load a spawned program can take
 * long to print its first line, and that time is the machine's, not the program's (waitFor's `from`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';

export interface Running {
  readonly name: string;
  readonly child: ChildProcess;
  /** When it was spawned (Date.now()). */
  readonly spawnedAt: number;
  /** When it first printed anything: when the program itself was running. Undefined until then. */
  startedAt(): number | undefined;
  /** Everything the process printed so far (the last 200 000 characters at least). */
  log(): string;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface StartOptions {
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /**
   * Output goes to this file (appended) instead of memory; log() reads it back. A detached
   * process needs one: it outlives this Node process, which cannot keep reading a pipe for it.
   */
  readonly logFile?: string;
  /** The process outlives this Node process (npm run twin -- up). Needs `logFile`. */
  readonly detached?: boolean;
}

const running = new Set<Running>();
const LOG_KEEP = 200_000;

/** The last `max` characters of a file ('' when it does not exist). */
function fileTail(file: string, max: number): string {
  if (!existsSync(file)) return '';
  const size = statSync(file).size;
  const len = Math.min(size, max);
  const buf = Buffer.alloc(len);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, len, size - len);
  } finally {
    closeSync(fd);
  }
  return buf.toString();
}

/** Starts `command args` with its output captured. */
export function start(name: string, command: string, args: readonly string[], opts: StartOptions = {}): Running {
  if (opts.detached && !opts.logFile) throw new Error(`start ${name}: a detached process needs a logFile`);
  const fd = opts.logFile === undefined ? undefined : openSync(opts.logFile, 'a');
  const child = spawn(command, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: fd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', fd, fd],
    detached: opts.detached ?? false,
  });
  if (fd !== undefined) closeSync(fd);
  if (opts.detached) child.unref();
  const spawnedAt = Date.now();
  let text = '';
  let startedAt: number | undefined;
  const add = (b: Buffer) => {
    startedAt ??= Date.now();
    text += b.toString();
    if (text.length > 2 * LOG_KEEP) text = text.slice(-LOG_KEEP);
  };
  child.stdout?.on('data', add);
  child.stderr?.on('data', add);
  const logFile = opts.logFile;
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
    spawnedAt,
    startedAt: () => {
      // A log file is looked at when asked: its first byte is the program's first output.
      if (startedAt === undefined && logFile !== undefined && existsSync(logFile) && statSync(logFile).size > 0)
        startedAt = Date.now();
      return startedAt;
    },
    log: () => (logFile === undefined ? text : `${fileTail(logFile, LOG_KEEP)}${text}`),
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

/** Whether process `pid` still runs. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Stops processes by pid (last started first): SIGTERM, then SIGKILL after 10 s. For processes
 * another Node process started (npm run twin -- down stops what `up` left running).
 */
export async function stopPids(pids: readonly number[]): Promise<void> {
  for (const pid of [...pids].reverse()) if (alive(pid)) process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (pids.some(alive) && Date.now() < deadline) await sleep(100);
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** How long a spawned program may take to print its first line before a wait `from` it gives up. */
export const FIRST_OUTPUT_LIMIT_MS = 300_000;

/**
 * Polls `check` until it returns a truthy value; throws `what` (and the process logs) on timeout.
 *
 * `timeoutMs` counts from `from`: a time (Date.now()), or the program(s) whose start-up the wait is
 * for: then the clock starts when the last of them first printed (when it was running), so that a
 * machine slow to start a program does not use up the program's time. A program that prints nothing
 * for FIRST_OUTPUT_LIMIT_MS after it was spawned fails the wait. Without `from`, the clock starts now.
 * A program of `proc` or `from` that exits (with an exit code) fails the wait at once, with its log.
 */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { timeoutMs?: number; intervalMs?: number; proc?: Running; from?: number | Running | readonly Running[] } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const began = Date.now();
  const from = opts.from ?? began;
  const procs: readonly Running[] = typeof from === 'number' ? [] : Array.isArray(from) ? from : [from as Running];
  /** The deadline, or undefined while a program of `from` has not started yet. */
  const deadline = (): number | undefined => {
    if (typeof from === 'number') return from + timeoutMs;
    const starts = procs.map((p) => p.startedAt());
    if (starts.some((t) => t === undefined)) return undefined;
    return Math.max(...(starts as number[])) + timeoutMs;
  };
  const logs = () => [...new Set([...(opts.proc ? [opts.proc] : []), ...procs])];
  const tails = () =>
    logs()
      .map((p) => `\n--- ${p.name} log ---\n${p.log().slice(-4000)}`)
      .join('');
  let last: unknown;
  for (;;) {
    for (const p of logs()) {
      if (p.child.exitCode !== null) {
        throw new Error(`${what}: ${p.name} exited with ${p.child.exitCode}\n${p.log().slice(-4000)}`);
      }
    }
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    const now = Date.now();
    const end = deadline();
    const silent = procs.find((p) => p.startedAt() === undefined && now - p.spawnedAt > FIRST_OUTPUT_LIMIT_MS);
    if (silent)
      throw new Error(
        `waiting for ${what}: ${silent.name} printed nothing in ${FIRST_OUTPUT_LIMIT_MS / 1000} s after it was spawned`,
      );
    if (end !== undefined && now > end) {
      const since = typeof from === 'number' ? '' : ` after ${procs.map((p) => p.name).join(', ')} started`;
      throw new Error(
        `timed out waiting ${((now - began) / 1000).toFixed(1)} s for ${what} (limit ${timeoutMs / 1000} s${since})${last ? ` (last error: ${String(last)})` : ''}${tails()}`,
      );
    }
    await sleep(opts.intervalMs ?? 100);
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
