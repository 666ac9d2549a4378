/**
 * `npm run synth` — renders every environment (or those named with --env) into dist/ and argocd/.
 *
 *   npm run synth                    render all environments
 *   npm run synth -- --env prod      render one (repeat --env for more)
 *   npm run synth -- --check         write nothing; exit 1 and list files if anything would change
 *
 * Exit codes: 0 done (or nothing to change), 1 --check found changes, 2 bad input or usage.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, listEnvironments, loadEnvironment, type EnvironmentConfig } from './config';
import { diffFolder, isClean, replaceFolders, type FolderDiff } from './output';
import { renderEnvironment, type EnvironmentRender } from './render';

/** Output roots, relative to the repository root. */
export const OUTPUT_ROOTS = ['dist', 'argocd'] as const;

export interface SynthOptions {
  readonly envs: readonly string[];
  readonly check: boolean;
}

export interface SynthResult {
  readonly exitCode: number;
  readonly lines: readonly string[];
}

const USAGE = 'usage: npm run synth -- [--env NAME]... [--check]';

/** Parses argv; throws a usage message on anything unknown. */
export function parseArgs(argv: readonly string[]): SynthOptions {
  const envs: string[] = [];
  let check = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--check') check = true;
    else if (a === '--env' || a === '-e') {
      const v = argv[++i];
      if (!v || v.startsWith('-')) throw new UsageError(`--env needs an environment name. ${USAGE}`);
      envs.push(v);
    } else if (a.startsWith('--env=')) envs.push(a.slice('--env='.length));
    else throw new UsageError(`unknown argument '${a}'. ${USAGE}`);
  }
  return { envs, check };
}

export class UsageError extends Error {}

/** Runs a synth in `root`. Never exits the process; returns the exit code and what to print. */
export function synth(root: string, opts: SynthOptions): SynthResult {
  const all = listEnvironments(root);
  const names = opts.envs.length > 0 ? [...new Set(opts.envs)] : all;

  // 1. Load and validate every requested environment before anything is rendered or written.
  const configs: EnvironmentConfig[] = [];
  const problems: ConfigError[] = [];
  for (const name of names) {
    try {
      configs.push(loadEnvironment(root, name));
    } catch (e) {
      if (e instanceof ConfigError) problems.push(e);
      else throw e;
    }
  }
  if (problems.length > 0) return failure(problems);

  // 2. Render everything in memory. Rendering checks what only the objects can tell (capacity).
  const renders: EnvironmentRender[] = [];
  const renderProblems: ConfigError[] = [];
  for (const c of configs) {
    try {
      renders.push(renderEnvironment(c));
    } catch (e) {
      if (e instanceof ConfigError) renderProblems.push(e);
      else throw e;
    }
  }
  if (renderProblems.length > 0) return failure(renderProblems);
  const wanted = new Map<string, string>();
  for (const r of renders) for (const [p, c] of r.files) wanted.set(p, c);

  // 3. Folders this run owns: the requested environments, plus stale ones on a full run.
  const folders = new Set<string>();
  for (const r of renders) for (const out of OUTPUT_ROOTS) folders.add(`${out}/${r.env.name}`);
  if (opts.envs.length === 0) {
    for (const out of OUTPUT_ROOTS) {
      for (const stale of subfolders(root, out)) if (!all.includes(stale)) folders.add(`${out}/${stale}`);
    }
  }
  const diffs = [...folders].sort().map((f) => diffFolder(root, f, wanted));
  const dirty = diffs.filter((d) => !isClean(d));

  if (opts.check) {
    if (dirty.length === 0) {
      return { exitCode: 0, lines: [`synth --check: ${renders.length} environment(s) up to date.`] };
    }
    return {
      exitCode: 1,
      lines: [
        'synth --check: the committed output differs from what the sources render:',
        ...dirty.flatMap(describeDiff),
        "Run 'npm run synth' and commit the result.",
      ],
    };
  }

  if (dirty.length > 0)
    replaceFolders(
      root,
      dirty.map((d) => d.folder),
      wanted,
    );
  return { exitCode: 0, lines: summary(renders, diffs) };
}

function failure(problems: readonly ConfigError[]): SynthResult {
  return {
    exitCode: 2,
    lines: [
      ...problems.map((p) => p.message),
      `synth: ${problems.reduce((n, p) => n + p.problems.length, 0)} problem(s) in environment files; nothing was written.`,
    ],
  };
}

function subfolders(root: string, dir: string): string[] {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name);
}

function describeDiff(d: FolderDiff): string[] {
  return [
    ...d.added.map((p) => `  added:   ${p}`),
    ...d.changed.map((p) => `  changed: ${p}`),
    ...d.removed.map((p) => `  removed: ${p}`),
  ];
}

function summary(renders: readonly EnvironmentRender[], diffs: readonly FolderDiff[]): string[] {
  const lines = renders.map((r) => {
    const mine = diffs.filter((d) => d.folder.endsWith(`/${r.env.name}`));
    const sum = (f: (d: FolderDiff) => number) => mine.reduce((n, d) => n + f(d), 0);
    const added = sum((d) => d.added.length);
    const changed = sum((d) => d.changed.length);
    const removed = sum((d) => d.removed.length);
    return (
      `${r.env.name.padEnd(8)} ${String(r.objectCount).padStart(3)} objects, ${r.files.size} files: ` +
      `${added} added, ${changed} changed, ${removed} removed, ${sum((d) => d.unchanged)} unchanged`
    );
  });
  const staleRemoved = diffs.filter((d) => !renders.some((r) => d.folder.endsWith(`/${r.env.name}`)));
  for (const d of staleRemoved) lines.push(`removed stale ${d.folder}/ (${d.removed.length} files)`);
  return lines;
}

/** Entry point used by src/run.cjs. */
export function main(argv: readonly string[], root = resolve(__dirname, '..')): number {
  let result: SynthResult;
  try {
    const outdir = process.env.CDK8S_OUTDIR;
    if (outdir && resolve(outdir) !== join(root, 'dist')) {
      throw new UsageError(
        `CDK8S_OUTDIR (${outdir}) must be the repository's dist/ folder; set output: dist in cdk8s.yaml`,
      );
    }
    result = synth(root, parseArgs(argv));
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError) {
      process.stderr.write(`synth: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const out = result.exitCode === 0 ? process.stdout : process.stderr;
  out.write(`${result.lines.join('\n')}\n`);
  return result.exitCode;
}
