/**
 * `npm run diff` — what a change does to the rendered objects, per environment and object, with
 * the risky parts flagged (see src/inspect/diff.ts for the risk categories).
 *
 *   npm run diff                                 working tree vs the merge base with main
 *   npm run diff -- origin/main                  working tree vs a ref
 *   npm run diff -- A --head B                   committed output of ref B vs ref A
 *   npm run diff -- --format md                  Markdown (pull-request comment, job summary)
 *   npm run diff -- --headroom-threshold 25      flag headroom below 25% (default 20)
 *   npm run diff -- --env prod                   only these environments (repeatable)
 *
 * The working tree is rendered in memory with the synth pipeline (src/commands/render.ts) and compared with
 * dist/ and argocd/ as committed at the ref (git ls-tree, git cat-file). Headroom comes from
 * src/inspect/capacity.ts on each side's objects and environment file.
 *
 * Exit codes: 0 no change, 1 changes, 2 risky changes, 3 error (bad ref, bad input, usage).
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { capacityReport } from '../inspect/capacity';
import { ConfigError, listEnvironments } from '../model/loader';
import { loadEnvironment, parseEnvironment, type EnvironmentConfig } from '../../apps/environment';
import {
  diffEnvironment,
  exitCodeOf,
  formatMarkdown,
  formatText,
  headroomOf,
  imageDigests,
  type DiffReport,
  type EnvironmentDiff,
  type Headroom,
} from '../inspect/diff';
import type { Manifest } from '../model/objects';
import { renderEnvironment } from './render';

export const DEFAULT_HEADROOM_THRESHOLD = 20;
export const EXIT = { noChange: 0, changes: 1, risky: 2, error: 3 } as const;

export interface DiffOptions {
  /** Base ref; undefined: the merge base of HEAD and main. */
  readonly base?: string;
  /** Head ref; undefined: the working tree, rendered. */
  readonly head?: string;
  readonly format: 'text' | 'md';
  readonly threshold: number;
  readonly envs: readonly string[];
}

const USAGE =
  'usage: npm run diff -- [<base-ref>] [--head <ref>] [--format text|md] [--headroom-threshold <percent>] [--env NAME]...';

export class DiffError extends Error {}

export function parseDiffArgs(argv: readonly string[]): DiffOptions {
  let base: string | undefined;
  let head: string | undefined;
  let format: 'text' | 'md' = 'text';
  let threshold = DEFAULT_HEADROOM_THRESHOLD;
  const envs: string[] = [];
  const value = (i: number, flag: string): string => {
    const v = argv[i];
    if (v === undefined || v.startsWith('--')) throw new DiffError(`${flag} needs a value. ${USAGE}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const [flag, inline] =
      a.startsWith('--') && a.includes('=')
        ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
        : [a, undefined];
    const take = () => inline ?? value(++i, flag);
    if (flag === '--format') {
      const f = take();
      if (f !== 'text' && f !== 'md') throw new DiffError(`--format must be text or md, not '${f}'. ${USAGE}`);
      format = f;
    } else if (flag === '--headroom-threshold') {
      const t = Number(take());
      if (!Number.isFinite(t) || t < 0 || t > 100)
        throw new DiffError(`--headroom-threshold must be a percentage 0-100. ${USAGE}`);
      threshold = t;
    } else if (flag === '--head') head = take();
    else if (flag === '--env') envs.push(take());
    else if (a.startsWith('-')) throw new DiffError(`unknown argument '${a}'. ${USAGE}`);
    else if (base === undefined) base = a;
    else throw new DiffError(`one base ref only (got '${base}' and '${a}'); use --head for the other side. ${USAGE}`);
  }
  return { base, head, format, threshold, envs };
}

function git(root: string, args: readonly string[], input?: string): Buffer {
  try {
    return execFileSync('git', args, {
      cwd: root,
      input,
      maxBuffer: 512 * 1024 * 1024,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (e) {
    const err = e as { stderr?: Buffer };
    throw new DiffError(
      `git ${args.join(' ')}: ${
        String(err.stderr ?? e)
          .trim()
          .split('\n')[0] ?? ''
      }`,
    );
  }
}

/** The commit a ref names, or a DiffError saying how to fix it. */
export function resolveRef(root: string, ref: string): string {
  try {
    return git(root, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`])
      .toString()
      .trim();
  } catch {
    throw new DiffError(`'${ref}' is not a commit here. Fetch it (git fetch origin ${ref}) or name another ref.`);
  }
}

/** Text of every file under `paths` at `commit`, by path. */
export function filesAt(root: string, commit: string, paths: readonly string[]): Map<string, string> {
  const names = git(root, ['ls-tree', '-r', '-z', '--name-only', commit, '--', ...paths])
    .toString()
    .split('\0')
    .filter((p) => p.endsWith('.yaml'));
  const out = new Map<string, string>();
  if (names.length === 0) return out;
  const buf = git(root, ['cat-file', '--batch'], names.map((n) => `${commit}:${n}\n`).join(''));
  let pos = 0;
  for (const name of names) {
    const eol = buf.indexOf(10, pos);
    const header = buf.subarray(pos, eol).toString();
    const size = Number(header.split(' ')[2]);
    if (!Number.isFinite(size)) throw new DiffError(`git cat-file: unexpected '${header}' for ${name}`);
    out.set(name, buf.subarray(eol + 1, eol + 1 + size).toString('utf8'));
    pos = eol + 1 + size + 1;
  }
  return out;
}

/** One side of the comparison: objects and headroom per environment. */
interface Side {
  readonly objects: Map<string, Manifest[]>;
  readonly headroom: Map<string, Headroom>;
  /** Each environment's promotedFrom, from its environment file. */
  readonly promotedFrom: Map<string, string>;
  /** Each environment's tier, from its environment file. */
  readonly tiers: Map<string, string>;
}

/**
 * Parsed files by text. Most files are the same on both sides of a diff (and a rendered file the
 * same as committed), so each distinct text is parsed once; callers get their own copy.
 */
const parsedTexts = new Map<string, readonly Manifest[]>();

function parseObjects(text: string, file: string): Manifest[] {
  let parsed = parsedTexts.get(text);
  if (parsed === undefined) {
    parsed = parseAllDocuments(text).map((d) => {
      if (d.errors.length > 0)
        throw new DiffError(`${file}: invalid YAML: ${d.errors[0]?.message.split('\n')[0] ?? ''}`);
      return d.toJS() as Manifest;
    });
    parsedTexts.set(text, parsed);
  }
  return structuredClone(parsed) as Manifest[];
}

/** Groups dist/<env>/ and argocd/<env>/ files into objects per environment. */
function sideFromFiles(files: ReadonlyMap<string, string>): Map<string, Manifest[]> {
  const out = new Map<string, Manifest[]>();
  for (const [path, text] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    const m = /^(dist|argocd)\/([^/]+)\/.+\.yaml$/.exec(path);
    if (!m) continue;
    const env = m[2] ?? '';
    const list = out.get(env) ?? [];
    list.push(...parseObjects(text, path).filter((o) => o && typeof o === 'object' && typeof o.kind === 'string'));
    out.set(env, list);
  }
  return out;
}

/**
 * Headroom of an environment's dist/ and argocd/ objects. Argo CD's own objects (argocd/<env>) are left
 * out; Argo Rollouts' are not: a Rollout and the HPA that scales it set its Deployment's replica count.
 */
export function headroomFor(env: EnvironmentConfig, objects: readonly Manifest[]): Headroom {
  const argocd = new Set(['Application', 'AppProject', 'ApplicationSet']);
  const dist = objects.filter((o) => !(String(o.apiVersion).startsWith('argoproj.io/') && argocd.has(o.kind)));
  return headroomOf(capacityReport(env, dist));
}

/** The committed output and environment files at a commit. */
export function sideAtCommit(root: string, commit: string): Side {
  const files = filesAt(root, commit, ['dist', 'argocd', 'environments']);
  const objects = sideFromFiles(files);
  const headroom = new Map<string, Headroom>();
  const promotedFrom = new Map<string, string>();
  const tiers = new Map<string, string>();
  for (const [name, list] of objects) {
    const text = files.get(`environments/${name}.yaml`);
    if (text === undefined) continue;
    try {
      // Validated with today's schema; an environment file it no longer accepts has no headroom figure.
      const env = parseEnvironment(text, `environments/${name}.yaml`, name, root);
      headroom.set(name, headroomFor(env, list));
      if (env.promotedFrom !== undefined) promotedFrom.set(name, env.promotedFrom);
      tiers.set(name, env.tier);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
    }
  }
  return { objects, headroom, promotedFrom, tiers };
}

/** The working tree, rendered in memory by the synth pipeline. */
export function sideFromWorkingTree(root: string): Side {
  const files = new Map<string, string>();
  const headroom = new Map<string, Headroom>();
  const problems: ConfigError[] = [];
  const envs: EnvironmentConfig[] = [];
  for (const name of listEnvironments(root)) {
    try {
      const env = loadEnvironment(root, name);
      for (const [p, c] of renderEnvironment(env).files) files.set(p, c);
      envs.push(env);
    } catch (e) {
      if (e instanceof ConfigError) problems.push(e);
      else throw e;
    }
  }
  if (problems.length > 0) throw new DiffError(problems.map((p) => p.message).join('\n'));
  const objects = sideFromFiles(files);
  for (const env of envs) headroom.set(env.name, headroomFor(env, objects.get(env.name) ?? []));
  const promotedFrom = new Map(
    envs.flatMap((e) => (e.promotedFrom === undefined ? [] : [[e.name, e.promotedFrom] as const])),
  );
  return { objects, headroom, promotedFrom, tiers: new Map(envs.map((e) => [e.name, e.tier])) };
}

/** Compares two sides, environment by environment (an environment on one side only is all added or removed). */
export function compareSides(
  before: Side,
  after: Side,
  opts: Pick<DiffOptions, 'threshold' | 'envs'>,
): EnvironmentDiff[] {
  const names = [...new Set([...before.objects.keys(), ...after.objects.keys()])]
    .filter((n) => opts.envs.length === 0 || opts.envs.includes(n))
    .sort();
  return names.map((env) => {
    // An environment promoted from another runs only what that one runs (on the same side).
    const from = after.promotedFrom.get(env);
    const source = from === undefined ? undefined : after.objects.get(from);
    return diffEnvironment({
      env,
      before: before.objects.get(env) ?? [],
      after: after.objects.get(env) ?? [],
      headroom: { before: before.headroom.get(env), after: after.headroom.get(env), threshold: opts.threshold },
      ...(from !== undefined && source ? { verified: { from, digests: imageDigests(source) } } : {}),
      // A production canary must not be weakened (the tier of the side that has the environment).
      production: (after.tiers.get(env) ?? before.tiers.get(env)) === 'production',
    });
  });
}

/** Runs the diff in `root`; throws DiffError on bad input. */
export function semanticDiff(root: string, opts: DiffOptions): DiffReport {
  let baseRef = opts.base;
  if (baseRef === undefined) {
    try {
      baseRef = git(root, ['merge-base', 'HEAD', 'main']).toString().trim();
    } catch {
      throw new DiffError('no merge base of HEAD and main; name the base ref: npm run diff -- <ref>');
    }
  }
  const base = resolveRef(root, baseRef);
  const head = opts.head === undefined ? undefined : resolveRef(root, opts.head);
  const before = sideAtCommit(root, base);
  const after = head === undefined ? sideFromWorkingTree(root) : sideAtCommit(root, head);
  const label = (ref: string, sha: string) => (sha.startsWith(ref) ? sha.slice(0, 7) : `${ref} (${sha.slice(0, 7)})`);
  const known = new Set([...before.objects.keys(), ...after.objects.keys()]);
  const unknown = opts.envs.filter((e) => !known.has(e));
  if (unknown.length > 0)
    throw new DiffError(`no environment ${unknown.join(', ')} on either side. Known: ${[...known].sort().join(', ')}.`);
  return {
    title: `${head === undefined ? 'working tree' : label(opts.head ?? '', head)} vs ${label(baseRef, base)}`,
    environments: compareSides(before, after, opts),
  };
}

/** Entry point used by src/commands/run.cjs. */
export function main(argv: readonly string[], root = resolve(__dirname, '..')): number {
  try {
    const opts = parseDiffArgs(argv);
    const report = semanticDiff(root, opts);
    process.stdout.write(opts.format === 'md' ? formatMarkdown(report) : formatText(report));
    return exitCodeOf(report);
  } catch (e) {
    if (e instanceof DiffError || e instanceof ConfigError) {
      process.stderr.write(`diff: ${e.message}\n`);
      return EXIT.error;
    }
    // Anything unexpected is an error too, never mistaken for exit 1 (changes).
    process.stderr.write(`diff: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return EXIT.error;
  }
}
