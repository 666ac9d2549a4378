/**
 * `npm run bench` — how long rendering takes, against the floor of starting node and loading
 * cdk8s and cdk8s-plus-28. Runs each command several times and prints medians as a Markdown
 * table (paste it into README.md § Performance).
 *
 *   npm run bench               10 runs per command
 *   npm run bench -- --runs 20
 */
import { spawnSync } from 'node:child_process';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { listEnvironments, loadEnvironment } from './config';
import { renderEnvironment } from './render';

interface Measure {
  readonly label: string;
  readonly samplesMs: readonly number[];
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function timeCommand(label: string, cmd: string, args: readonly string[], runs: number, cwd: string): Measure {
  const samplesMs: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { cwd, stdio: 'ignore' });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${label}: '${cmd} ${args.join(' ')}' exited ${String(r.status)}`);
    if (i > 0) samplesMs.push(ms); // the first run warms the disk cache and the esbuild bundle
  }
  return { label, samplesMs };
}

function timeInProcess(label: string, fn: () => void, runs: number): Measure {
  fn();
  const samplesMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    samplesMs.push(performance.now() - t0);
  }
  return { label, samplesMs };
}

export function main(argv: readonly string[], root: string): number {
  const i = argv.indexOf('--runs');
  const runs = i >= 0 ? Number(argv[i + 1]) : 10;
  if (!Number.isInteger(runs) || runs < 1) {
    process.stderr.write('bench: --runs needs a whole number >= 1\n');
    return 2;
  }
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
    timeCommand('synth, all environments (node src/run.cjs cli)', node, [join(root, 'src/run.cjs'), 'cli'], runs, root),
    timeCommand('synth --check, all environments', node, [join(root, 'src/run.cjs'), 'cli', '--check'], runs, root),
    timeCommand('npm run synth (adds npm start-up)', 'npm', ['run', '--silent', 'synth'], runs, root),
  ];
  for (const name of listEnvironments(root)) {
    const env = loadEnvironment(root, name);
    measures.push(timeInProcess(`render ${name} in process (warm)`, () => void renderEnvironment(env), runs));
  }
  const floorMs = median(floor.samplesMs);
  const lines = [
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, node ${process.version}; ${runs} runs each, medians.`,
    '',
    '| what | median ms | min–max ms | × floor |',
    '| --- | ---: | ---: | ---: |',
    ...measures.map((m) => {
      const med = median(m.samplesMs);
      const range = `${Math.min(...m.samplesMs).toFixed(0)}–${Math.max(...m.samplesMs).toFixed(0)}`;
      return `| ${m.label} | ${med.toFixed(0)} | ${range} | ${(med / floorMs).toFixed(2)} |`;
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
