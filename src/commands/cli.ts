/**
 * `npm run synth` — renders every environment (or those named with --env) into dist/ and argocd/,
 * and writes environments/schema.json from apps/environment.ts.
 *
 *   npm run synth                    render all environments
 *   npm run synth -- --env prod      render one (repeat --env for more)
 *   npm run synth -- --check         write nothing; exit 1 and list files if anything would change
 *   npm run synth -- --list          list environments: tier, Argo CD destination, namespaces
 *   npm run synth -- --help          usage
 *
 * Exit codes: 0 done (or nothing to change), 1 --check found changes, 2 bad input or usage,
 * 3 internal error (a bug in the generator, not in the input).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, environmentFileProblems, listEnvironments, locateProblems } from '../model/loader';
import { loadEnvironment, type EnvironmentConfig } from '../../apps/environment';
import { destinationCluster, environmentConflicts, type ConflictInput } from '../inspect/conflicts';
import { ENVIRONMENT_SCHEMA_FILE, environmentSchemaJson } from '../../apps/environment';
import { diffFile, diffFolder, isClean, replaceFile, replaceFolders, type FolderDiff } from './output';
import { renderEnvironment, type EnvironmentRender } from './render';

/** Output roots, relative to the repository root. */
export const OUTPUT_ROOTS = ['dist', 'argocd'] as const;

export interface SynthOptions {
  readonly envs: readonly string[];
  readonly check: boolean;
  /** Print the environments instead of rendering. @default false */
  readonly list?: boolean;
  /** Print usage instead of rendering. @default false */
  readonly help?: boolean;
}

/** Exit codes of `npm run synth`. */
export const EXIT = { ok: 0, differences: 1, badInput: 2, internal: 3 } as const;

export interface SynthResult {
  readonly exitCode: number;
  readonly lines: readonly string[];
}

const USAGE = 'usage: npm run synth -- [--env NAME]... [--check] | --list | --help';

/** The text `--help` prints. */
export const HELP = `${USAGE}

Renders environments/<env>.yaml into dist/<env>/ and argocd/<env>/, and writes
environments/schema.json (for editors) from apps/environment.ts.

  --env NAME, -e NAME   render only this environment (repeatable); default: all
  --check               write nothing; exit 1 and list the files that would change
  --list                list the environments: tier, Argo CD destination cluster, namespaces
  --help, -h            this text

Exit codes: 0 done, 1 --check found differences, 2 bad input or usage (nothing written),
3 internal error (a bug in the generator; nothing written).`;

/** Parses argv; throws a usage message on anything unknown. */
export function parseArgs(argv: readonly string[]): SynthOptions {
  const envs: string[] = [];
  let check = false;
  let list = false;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--check') check = true;
    else if (a === '--list') list = true;
    else if (a === '--help' || a === '-h') help = true;
    else if (a === '--env' || a === '-e') {
      const v = argv[++i];
      if (!v || v.startsWith('-')) throw new UsageError(`--env needs an environment name. ${USAGE}`);
      envs.push(v);
    } else if (a.startsWith('--env=')) envs.push(a.slice('--env='.length));
    else throw new UsageError(`unknown argument '${a}'. ${USAGE}`);
  }
  if (list && check) throw new UsageError(`--list and --check do not go together. ${USAGE}`);
  return { envs, check, ...(list ? { list } : {}), ...(help ? { help } : {}) };
}

export class UsageError extends Error {}

/** Runs a synth in `root`. Never exits the process; returns the exit code and what to print. */
export function synth(root: string, opts: SynthOptions): SynthResult {
  if (opts.help) return { exitCode: EXIT.ok, lines: [HELP] };
  const fileProblems = environmentFileProblems(root);
  if (fileProblems.length > 0) return failure([new ConfigError(fileProblems)]);
  const all = listEnvironments(root);
  const names = opts.envs.length > 0 ? [...new Set(opts.envs)] : all;
  if (opts.list) return listing(root, names);

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

  // 2b. Environments must not fight over one cluster, hostname or secret, rendered now or not.
  const conflicts = conflictProblems(root, all, renders);
  if (conflicts) return failure([conflicts]);
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
  // The editors' copy of the environment schema; the same for every environment.
  const schemaJson = environmentSchemaJson();
  const schema = diffFile(root, ENVIRONMENT_SCHEMA_FILE, schemaJson);

  if (opts.check) {
    if (dirty.length === 0 && schema === 'unchanged') {
      return { exitCode: 0, lines: [`synth --check: ${renders.length} environment(s) up to date.`] };
    }
    return {
      exitCode: 1,
      lines: [
        'synth --check: the committed output differs from what the sources render:',
        ...dirty.flatMap(describeDiff),
        ...(schema === 'unchanged' ? [] : [`  ${`${schema}:`.padEnd(8)} ${ENVIRONMENT_SCHEMA_FILE}`]),
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
  if (schema !== 'unchanged') replaceFile(root, ENVIRONMENT_SCHEMA_FILE, schemaJson);
  const schemaLine = schema === 'unchanged' ? [] : [`${ENVIRONMENT_SCHEMA_FILE} ${schema} (from apps/environment.ts)`];
  return { exitCode: 0, lines: [...summary(renders, diffs), ...schemaLine] };
}

/**
 * Conflicts between the rendered environments and every other valid environment. Other environments
 * are rendered only when they share an Argo CD destination cluster (to compare cluster-scoped objects).
 */
function conflictProblems(root: string, all: readonly string[], renders: readonly EnvironmentRender[]) {
  const inputs = new Map<string, ConflictInput>(renders.map((r) => [r.env.name, { env: r.env, objects: r.objects }]));
  const clusters = new Set(renders.map((r) => destinationCluster(r.env)));
  for (const name of all) {
    if (inputs.has(name)) continue;
    let env: EnvironmentConfig;
    try {
      env = loadEnvironment(root, name);
    } catch (e) {
      if (e instanceof ConfigError) continue; // reported when that environment is rendered
      throw e;
    }
    let objects: ConflictInput['objects'];
    if (clusters.has(destinationCluster(env))) {
      try {
        objects = renderEnvironment(env).objects;
      } catch (e) {
        if (!(e instanceof ConfigError)) throw e;
      }
    }
    inputs.set(name, { env, ...(objects ? { objects } : {}) });
  }
  const rendered = new Set(renders.map((r) => r.env.sourceFile));
  const found = environmentConflicts([...inputs.values()]);
  // Report a conflict in each rendered file; for an --env run, not in the files left alone.
  const mine = found.filter((p) => rendered.has(p.file));
  return mine.length > 0 ? new ConfigError(locateProblems(root, mine)) : undefined;
}

/** `--list`: one line per environment. */
function listing(root: string, names: readonly string[]): SynthResult {
  const problems: ConfigError[] = [];
  const rows: string[][] = [['environment', 'tier', 'destination', 'namespaces (app, executor)', 'hostname']];
  for (const name of names) {
    try {
      const e = loadEnvironment(root, name);
      rows.push([e.name, e.tier, destinationCluster(e), `${e.namespaces.app}, ${e.namespaces.executor}`, e.hostname]);
    } catch (e) {
      if (e instanceof ConfigError) problems.push(e);
      else throw e;
    }
  }
  if (problems.length > 0) return failure(problems);
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return {
    exitCode: EXIT.ok,
    lines: rows.map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    ),
  };
}

function failure(problems: readonly ConfigError[]): SynthResult {
  return {
    exitCode: EXIT.badInput,
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

/** Entry point used by src/commands/run.cjs. */
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
      return EXIT.badInput;
    }
    process.stderr.write(
      `synth: internal error (a bug in the generator, not in your environment files); nothing was written.\n` +
        `${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n` +
        `Report it with the lines above; exit code ${EXIT.internal}.\n`,
    );
    return EXIT.internal;
  }
  const out = result.exitCode === 0 ? process.stdout : process.stderr;
  out.write(`${result.lines.join('\n')}\n`);
  return result.exitCode;
}
