/**
 * `npm run bench` — how long rendering takes, against the floor of starting node and loading
 * cdk8s and cdk8s-plus-28, and how long the test suite takes. Runs each command several times and
 * prints medians as a Markdown table (paste it into README.md § Performance), with the CPU time
 * (user + sys, the command's processes included) next to the wall time: on a machine that other
 * work keeps busy, the CPU time is the figure that stays put. The load average before and after
 * is printed with it.
 *
 *   npm run bench                           10 runs per command, 3 of the test suite
 *   npm run bench -- --runs 20 --test-runs 5
 *   npm run bench -- --test-runs 0          without the test suite
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { listEnvironments } from '../model/loader';
import { loadEnvironment } from '../../apps/environment';
import { renderEnvironment } from './render';

interface Measure {
  readonly label: string;
  readonly samplesMs: readonly number[];
  /** CPU time (user + sys) of each sample, when it could be measured. */
  readonly cpuMs: readonly number[];
}

/**
 * CPU time (user + sys, ms) of the child processes this process has waited for, from
 * /proc/self/stat (Linux, 100 ticks a second); undefined elsewhere.
 */
function childrenCpuMs(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[13]) + Number(fields[14]); // cutime + cstime
    return Number.isFinite(ticks) ? ticks * 10 : undefined;
  } catch {
    return undefined;
  }
}

function ownCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function timeCommand(label: string, cmd: string, args: readonly string[], runs: number, cwd: string): Measure {
  const samplesMs: number[] = [];
  const cpuMs: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const c0 = childrenCpuMs();
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { cwd, stdio: 'ignore' });
    const ms = performance.now() - t0;
    const c1 = childrenCpuMs();
    if (r.status !== 0) throw new Error(`${label}: '${cmd} ${args.join(' ')}' exited ${String(r.status)}`);
    if (i === 0) continue; // the first run warms the disk cache, the esbuild bundle and .build/ caches
    samplesMs.push(ms);
    if (c0 !== undefined && c1 !== undefined) cpuMs.push(c1 - c0);
  }
  return { label, samplesMs, cpuMs };
}

function timeInProcess(label: string, fn: () => void, runs: number): Measure {
  fn();
  const samplesMs: number[] = [];
  const cpuMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = ownCpuMs();
    const t0 = performance.now();
    fn();
    samplesMs.push(performance.now() - t0);
    cpuMs.push(ownCpuMs() - c0);
  }
  return { label, samplesMs, cpuMs };
}

/** The value of `--flag N` (a whole number >= min), the default without it, or undefined if invalid. */
function countArg(argv: readonly string[], flag: string, fallback: number, min: number): number | undefined {
  const i = argv.indexOf(flag);
  const n = i >= 0 ? Number(argv[i + 1]) : fallback;
  return Number.isInteger(n) && n >= min ? n : undefined;
}

export function main(argv: readonly string[], root: string): number {
  const runs = countArg(argv, '--runs', 10, 1);
  if (runs === undefined) {
    process.stderr.write('bench: --runs needs a whole number >= 1\n');
    return 2;
  }
  const testRuns = countArg(argv, '--test-runs', 3, 0);
  if (testRuns === undefined) {
    process.stderr.write('bench: --test-runs needs a whole number >= 0\n');
    return 2;
  }
  const loadBefore = loadavg();
  const node = process.execPath;
  const floor = timeCommand(
    'floor: node + require cdk8s, cdk8s-plus-28',
    node,
    ['-e', "require('cdk8s'); require('cdk8s-plus-28')"],
    runs,
    root,
  );
  const measures: Measure[] = [
    timeCommand('node only (node -e 0)', node, ['-e', '0'], runs, root),
    floor,
    timeCommand(
      'synth, all environments (node src/commands/run.cjs cli)',
      node,
      [join(root, 'src/commands/run.cjs'), 'cli'],
      runs,
      root,
    ),
    timeCommand(
      'synth --check, all environments',
      node,
      [join(root, 'src/commands/run.cjs'), 'cli', '--check'],
      runs,
      root,
    ),
    timeCommand('npm run synth (adds npm start-up)', 'npm', ['run', '--silent', 'synth'], runs, root),
  ];
  for (const name of listEnvironments(root)) {
    const env = loadEnvironment(root, name);
    measures.push(timeInProcess(`render ${name} in process (warm)`, () => void renderEnvironment(env), runs));
  }
  if (testRuns > 0) {
    // The whole suite, as `npm test` runs it (without npm's own start-up); after one warm-up run.
    const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
    const label = `npm test (npx vitest run), ${testRuns} run${testRuns === 1 ? '' : 's'}`;
    measures.push(timeCommand(label, npx, ['vitest', 'run'], testRuns, root));
  }
  const loadAfter = loadavg();
  const floorMs = median(floor.samplesMs);
  const load = (l: readonly number[]) => l.map((x) => x.toFixed(2)).join(', ');
  const lines = [
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}; ${runs} runs each` +
      `${testRuns > 0 ? ` (the test suite ${testRuns})` : ''}, medians.`,
    `Load average (1, 5, 15 min) before: ${load(loadBefore)}; after: ${load(loadAfter)}.`,
    '',
    '| what | median ms | min–max ms | × floor | median CPU ms |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...measures.map((m) => {
      const med = median(m.samplesMs);
      const range = `${Math.min(...m.samplesMs).toFixed(0)}–${Math.max(...m.samplesMs).toFixed(0)}`;
      const cpu = m.cpuMs.length > 0 ? median(m.cpuMs).toFixed(0) : '—';
      return `| ${m.label} | ${med.toFixed(0)} | ${range} | ${(med / floorMs).toFixed(2)} | ${cpu} |`;
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
