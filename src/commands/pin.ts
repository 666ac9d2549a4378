/**
 * `npm run pin -- --env NAME [--endpoint HOST=URL]...` — resolves every image tag of an environment
 * to its digest in the environment's registry (the registry HTTP API, credentials from the Docker
 * config) and writes the digests into environments/<env>.yaml, keeping comments and formatting.
 *
 * A digest that differs from the one in the file is reported as CHANGED: a new tag (the file's tag
 * was edited), or the same tag pushed again, which nobody reviewed.
 * Nothing is written unless every image resolves. Then run `npm run synth` and commit.
 *
 * Exit codes: 0 pinned (or already pinned), 2 bad input or usage, 3 the registry refused (an image
 * it does not have, credentials it refuses, unreachable).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadEnvironment } from '../../apps/environment';
import { ConfigError } from '../model/loader';
import { editImages, type ImageEdit } from './env-file';
import { RegistryError } from './registry-client';
import { namedImages, parseEndpoint, Registries, ReleaseUsageError } from './release';

export const EXIT = { ok: 0, badInput: 2, registry: 3 } as const;

const USAGE = 'usage: npm run pin -- --env NAME [--endpoint HOST=URL]...';

export interface PinOptions {
  readonly env: string;
  readonly endpoints: ReadonlyMap<string, string>;
}

export function parsePinArgs(argv: readonly string[]): PinOptions {
  let env: string | undefined;
  const endpoints = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--env' || a === '-e') env = argv[++i];
    else if (a?.startsWith('--env=')) env = a.slice('--env='.length);
    else if (a === '--endpoint') parseEndpoint(argv[++i], endpoints);
    else throw new ReleaseUsageError(`unknown argument '${a ?? ''}'. ${USAGE}`);
  }
  if (!env || env.startsWith('-')) throw new ReleaseUsageError(`--env NAME is required. ${USAGE}`);
  return { env, endpoints };
}

/** One line of pin's report. */
export interface PinLine {
  readonly name: string;
  readonly reference: string;
  readonly digest: string;
  readonly was: 'new' | 'unchanged' | 'changed';
  readonly previous?: string;
}

/** Resolves and writes; returns what it found. Throws ConfigError, ReleaseUsageError or RegistryError. */
export async function pin(
  root: string,
  opts: PinOptions,
): Promise<{ readonly file: string; readonly lines: PinLine[] }> {
  const env = loadEnvironment(root, opts.env, { digests: 'pending' });
  if (!env.registry) {
    throw new ReleaseUsageError(
      `${env.sourceFile}: ${env.name} names no registry; pin resolves digests in the environment's own registry. Add registry.host and registry.pullSecret.`,
    );
  }
  const registries = new Registries(opts.endpoints);
  const lines: PinLine[] = [];
  const edits: ImageEdit[] = [];
  for (const img of namedImages(env)) {
    const { tag, repository, digest: previous } = img.image;
    if (!tag) continue; // a digest without a tag: nothing to resolve
    const { client, path } = registries.of(repository);
    const digest = await client.resolve(path, tag);
    const was = previous === undefined ? 'new' : previous === digest ? 'unchanged' : 'changed';
    lines.push({ name: img.name, reference: `${repository}:${tag}`, digest, was, ...(previous ? { previous } : {}) });
    edits.push({ path: img.path, digest });
  }
  const file = join(root, env.sourceFile);
  const text = readFileSync(file, 'utf8');
  const next = editImages(text, edits);
  if (next !== text) writeFileSync(file, next);
  return { file: env.sourceFile, lines };
}

/** Entry point used by src/commands/run.cjs. */
export async function main(argv: readonly string[], root = resolve(__dirname, '..')): Promise<number> {
  try {
    const opts = parsePinArgs(argv);
    const { file, lines } = await pin(root, opts);
    const width = Math.max(...lines.map((l) => l.name.length));
    for (const l of lines) {
      const note =
        l.was === 'changed'
          ? `CHANGED from ${l.previous ?? ''}: a new tag, or this tag was pushed again. Review the image before it ships.`
          : l.was;
      process.stdout.write(`${l.name.padEnd(width)}  ${l.reference}@${l.digest}  ${note}\n`);
    }
    const changed = lines.filter((l) => l.was !== 'unchanged').length;
    process.stdout.write(
      changed === 0
        ? `pin: ${file}: every image already pinned to what its tag points to.\n`
        : `pin: ${file}: ${changed} digest(s) written. Next: npm run synth -- --env ${opts.env}, review, commit.\n`,
    );
    return EXIT.ok;
  } catch (e) {
    if (e instanceof ConfigError || e instanceof ReleaseUsageError) {
      process.stderr.write(`${e.message}\npin: nothing was written.\n`);
      return EXIT.badInput;
    }
    if (e instanceof RegistryError) {
      process.stderr.write(`pin: ${e.message}\npin: nothing was written.\n`);
      return EXIT.registry;
    }
    throw e;
  }
}
