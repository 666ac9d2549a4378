/**
 * `npm run promote -- --from staging --to prod [--service NAME]... [--endpoint HOST=URL]...` —
 * moves each selected image's tag and digest from the source environment to the target:
 *
 * 1. refuses when the working tree is dirty, when the source's committed render is not current
 *    (`synth --check --env <from>`), when a selected source image has no digest, or when its tag no
 *    longer points to that digest in the source registry (the tag was pushed again: pin and verify
 *    the source first);
 * 2. copies the image, by digest, into the target's repository when it is another one (another
 *    registry or path), and checks the target's tag then points to that digest;
 * 3. rewrites the target's environment file (comments and formatting kept), runs synth for the
 *    target, prints the semantic diff against HEAD, and prints a commit message whose trailer
 *    records the source environment and commit.
 *
 * Names (`--service`) are the image names of `npm run pin`'s report: a service (`frontend`),
 * `nats-exporter`, `executor-<language>`, `executor-reaper`; default: every image. Promoting what
 * the target already runs changes nothing.
 *
 * Exit codes: 0 promoted (or nothing to promote), 2 refused (usage, dirty tree, stale render, no
 * digest, a moved tag) or bad input, 3 the registry refused or failed.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadEnvironment } from '../../apps/environment';
import { formatText } from '../inspect/diff';
import { ConfigError } from '../model/loader';
import { imageString } from '../model/schema';
import { synth } from './cli';
import { DEFAULT_HEADROOM_THRESHOLD, semanticDiff } from './diff-cli';
import { editImages, type ImageEdit } from './env-file';
import { copyImage, RegistryError } from './registry-client';
import { namedImages, parseEndpoint, Registries, ReleaseUsageError } from './release';

export const EXIT = { ok: 0, refused: 2, registry: 3 } as const;

const USAGE = 'usage: npm run promote -- --from ENV --to ENV [--service NAME]... [--endpoint HOST=URL]...';

/** Trailer of the commit message that records where a promotion came from. */
export const PROMOTED_FROM_TRAILER = 'Promoted-From';

export interface PromoteOptions {
  readonly from: string;
  readonly to: string;
  readonly services: readonly string[];
  readonly endpoints: ReadonlyMap<string, string>;
}

export function parsePromoteArgs(argv: readonly string[]): PromoteOptions {
  let from: string | undefined;
  let to: string | undefined;
  const services: string[] = [];
  const endpoints = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--from') from = argv[++i];
    else if (a === '--to') to = argv[++i];
    else if (a === '--service') services.push(argv[++i] ?? '');
    else if (a === '--endpoint') parseEndpoint(argv[++i], endpoints);
    else throw new ReleaseUsageError(`unknown argument '${a ?? ''}'. ${USAGE}`);
  }
  if (!from || !to || from.startsWith('-') || to.startsWith('-'))
    throw new ReleaseUsageError(`--from and --to are required. ${USAGE}`);
  if (from === to) throw new ReleaseUsageError(`--from and --to name the same environment (${from}).`);
  if (services.some((s) => !s || s.startsWith('-'))) throw new ReleaseUsageError(`--service needs a name. ${USAGE}`);
  return { from, to, services, endpoints };
}

/** What one promotion did, for the report and the commit message. */
export interface PromoteResult {
  readonly moved: readonly {
    readonly name: string;
    readonly from: string;
    readonly to: string;
    readonly copied: boolean;
  }[];
  readonly unchanged: readonly string[];
  readonly sourceCommit: string;
  readonly diff: string;
  readonly message: string | undefined;
}

function git(root: string, args: readonly string[]): string {
  return execFileSync('git', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export async function promote(root: string, opts: PromoteOptions): Promise<PromoteResult> {
  const dirty = git(root, ['status', '--porcelain', '--untracked-files=normal']).trim();
  if (dirty) {
    throw new ReleaseUsageError(
      `the working tree has changes:\n${dirty}\nCommit or discard them first: a promotion records the commit it promotes from.`,
    );
  }
  const sourceCommit = git(root, ['rev-parse', 'HEAD']).trim();
  const source = loadEnvironment(root, opts.from);
  // The target may lack digests still (its first promotion writes them).
  const target = loadEnvironment(root, opts.to, { digests: 'pending' });
  const check = synth(root, { envs: [source.name], check: true });
  if (check.exitCode !== 0) {
    throw new ReleaseUsageError(
      `${source.name}'s committed render is not current, so nobody verified what its environment file says:\n${check.lines.join('\n')}`,
    );
  }
  const sourceImages = new Map(namedImages(source).map((i) => [i.name, i]));
  const targetImages = new Map(namedImages(target).map((i) => [i.name, i]));
  const unknown = opts.services.filter((s) => !sourceImages.has(s) || !targetImages.has(s));
  if (unknown.length > 0) {
    throw new ReleaseUsageError(
      `no image named ${unknown.join(', ')} in both ${source.name} and ${target.name}. Known: ${[...sourceImages.keys()].join(', ')}.`,
    );
  }
  const selected =
    opts.services.length > 0
      ? [...new Set(opts.services)]
      : [...sourceImages.keys()].filter((n) => targetImages.has(n));
  const noDigest = selected.filter((n) => !sourceImages.get(n)?.image.digest);
  if (noDigest.length > 0) {
    throw new ReleaseUsageError(
      `${source.sourceFile}: ${noDigest.join(', ')} ${noDigest.length > 1 ? 'have' : 'has'} no digest, so there is nothing verified to promote. Pin them first: npm run pin -- --env ${source.name}.`,
    );
  }
  const registries = new Registries(opts.endpoints);
  // First every check, then any copy: a refusal leaves both registries and files as they were.
  for (const name of selected) {
    const img = sourceImages.get(name)?.image;
    if (!img?.digest || !img.tag) continue;
    const { client, path } = registries.of(img.repository);
    const now = await client.resolve(path, img.tag);
    if (now !== img.digest) {
      throw new ReleaseUsageError(
        `${name}: ${img.repository}:${img.tag} now points to ${now}, not to ${img.digest}, which ${source.name} pinned and verified. ` +
          `The tag was pushed again: pin ${source.name} (npm run pin -- --env ${source.name}), verify it there, then promote.`,
      );
    }
  }
  const moved: { name: string; from: string; to: string; copied: boolean }[] = [];
  const unchanged: string[] = [];
  const edits: ImageEdit[] = [];
  for (const name of selected) {
    const src = sourceImages.get(name);
    const dst = targetImages.get(name);
    const digest = src?.image.digest;
    if (!src || !dst || !digest) continue;
    const tag = src.image.tag;
    const next = { repository: dst.image.repository, ...(tag ? { tag } : {}), digest };
    if (dst.image.digest === digest && dst.image.tag === tag) {
      unchanged.push(name);
      continue;
    }
    let copied = false;
    if (src.image.repository !== dst.image.repository) {
      const from = registries.of(src.image.repository);
      const to = registries.of(dst.image.repository);
      const reference = tag ?? digest;
      const there = await to.client.resolve(to.path, reference).catch((e: unknown) => {
        if (e instanceof RegistryError && /has no such image/.test(e.message)) return undefined;
        throw e;
      });
      if (there !== digest) {
        await copyImage(from, to, digest, reference);
        copied = true;
      }
      const check2 = await to.client.resolve(to.path, reference);
      if (check2 !== digest)
        throw new RegistryError(
          `${dst.image.repository}:${reference} points to ${check2} after the copy, not ${digest}`,
        );
    }
    moved.push({ name, from: imageString(dst.image), to: imageString(next), copied });
    edits.push({ path: dst.path, ...(tag ? { tag } : {}), digest });
  }
  if (edits.length === 0) return { moved, unchanged, sourceCommit, diff: '', message: undefined };

  const file = join(root, target.sourceFile);
  const original = readFileSync(file, 'utf8');
  writeFileSync(file, editImages(original, edits));
  const rendered = synth(root, { envs: [target.name], check: false });
  if (rendered.exitCode !== 0) {
    // Synth wrote nothing; the environment file goes back to what it was.
    writeFileSync(file, original);
    throw new ReleaseUsageError(`synth refused ${target.name}:\n${rendered.lines.join('\n')}`);
  }
  const diff = formatText(
    semanticDiff(root, { base: 'HEAD', format: 'text', threshold: DEFAULT_HEADROOM_THRESHOLD, envs: [target.name] }),
  );
  const message = [
    `Promote ${source.name} to ${target.name}: ${moved.map((m) => m.name).join(', ')}`,
    '',
    ...moved.map((m) => `${m.name}: ${m.to}${m.copied ? ` (copied from ${source.name}'s registry)` : ''}`),
    '',
    `${PROMOTED_FROM_TRAILER}: ${source.name}@${sourceCommit}`,
  ].join('\n');
  return { moved, unchanged, sourceCommit, diff, message };
}

/** Entry point used by src/commands/run.cjs. */
export async function main(argv: readonly string[], root = resolve(__dirname, '..')): Promise<number> {
  try {
    const opts = parsePromoteArgs(argv);
    const r = await promote(root, opts);
    const out = (s: string) => process.stdout.write(`${s}\n`);
    for (const name of r.unchanged) out(`${name}: ${opts.to} already runs what ${opts.from} runs`);
    for (const m of r.moved) out(`${m.name}: ${m.from} -> ${m.to}${m.copied ? ' (copied)' : ''}`);
    if (!r.message) {
      out(`promote: ${opts.to} already runs what ${opts.from} verified; nothing changed.`);
      return EXIT.ok;
    }
    out('');
    out(r.diff.trimEnd());
    out('');
    out('Commit message:');
    out('');
    out(r.message);
    return EXIT.ok;
  } catch (e) {
    if (e instanceof ConfigError || e instanceof ReleaseUsageError) {
      process.stderr.write(`promote: ${e.message}\npromote: refused; nothing was changed.\n`);
      return EXIT.refused;
    }
    if (e instanceof RegistryError) {
      process.stderr.write(`promote: ${e.message}\n`);
      return EXIT.registry;
    }
    throw e;
  }
}
