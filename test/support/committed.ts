/**
 * Reads what ships: every YAML document committed under dist/ and argocd/, parsed strictly
 * (duplicate keys and syntax errors fail), with the environment each belongs to.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { listEnvironments } from '../../src/model/loader';
import { loadEnvironment, type EnvironmentConfig } from '../../apps/environment';
import { listFiles } from '../../src/commands/output';
import type { Manifest } from '../../src/model/objects';

export const ROOT = resolve(__dirname, '..', '..');

/** One committed document and where it came from. */
export interface CommittedDoc {
  /** Path relative to the repository root. */
  readonly file: string;
  readonly env: EnvironmentConfig;
  readonly object: Manifest;
}

/** Parses YAML text into documents; throws naming the file on any error, duplicate keys included. */
export function parseYamlDocuments(text: string, file: string): Manifest[] {
  return parseAllDocuments(text, { uniqueKeys: true }).map((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`${file} (document ${i + 1}): ${doc.errors[0]?.message ?? 'invalid'}`);
    const value: unknown = doc.toJS();
    if (typeof value !== 'object' || value === null) throw new Error(`${file}: document ${i + 1} is not an object`);
    return value as Manifest;
  });
}

/** Every committed document of every environment (or of `envs`), from dist/<env>/ and argocd/<env>/. */
export function loadCommitted(root = ROOT, envs: readonly string[] = listEnvironments(root)): CommittedDoc[] {
  const out: CommittedDoc[] = [];
  for (const name of envs) {
    const env = loadEnvironment(root, name);
    for (const dir of [`dist/${name}`, `argocd/${name}`]) {
      for (const file of listFiles(root, dir).filter((f) => f.endsWith('.yaml'))) {
        for (const object of parseYamlDocuments(readFileSync(join(root, file), 'utf8'), file)) {
          out.push({ file, env, object });
        }
      }
    }
  }
  return out;
}

/** Freezes an object and everything in it. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

let shared: readonly CommittedDoc[] | undefined;

/**
 * This repository's committed documents as {@link loadCommitted} reads them, parsed once per test
 * worker and shared by the test files it runs. Frozen, so a test that changed one would fail
 * there instead of changing what the next file sees: copy a document (structuredClone) to edit it.
 */
export function sharedCommitted(): readonly CommittedDoc[] {
  shared ??= Object.freeze(loadCommitted(ROOT).map((d) => Object.freeze({ ...d, object: deepFreeze(d.object) })));
  return shared;
}
