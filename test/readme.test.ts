/** The README documents every key an environment file may hold, and every npm script. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { environmentSchema } from '../apps/environment';
import { ROOT } from './support/committed';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

function section(title: string): string {
  const start = readme.indexOf(`## ${title}`);
  if (start < 0) throw new Error(`README.md has no '## ${title}' section`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** Every property name declared anywhere in the environment schema. */
function schemaKeys(node: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const n of node) schemaKeys(n, out);
  else if (typeof node === 'object' && node !== null) {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'properties' && typeof v === 'object' && v !== null) for (const p of Object.keys(v)) out.add(p);
      schemaKeys(v, out);
    }
  }
  return out;
}

describe('README', () => {
  it('documents every environment file key in the Environment file reference', () => {
    const schema: unknown = environmentSchema;
    const reference = section('Environment file reference');
    const codeSpans = [...reference.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
    const undocumented = [...schemaKeys(schema)].filter(
      (key) => !codeSpans.some((span) => span.split(/[.{},/ ]+/).includes(key)),
    );
    expect(undocumented).toEqual([]);
  });

  it('documents every npm script', () => {
    const scripts = Object.keys(
      (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts,
    );
    const table = section('Scripts');
    expect(scripts.filter((s) => !table.includes(`npm run ${s}`) && !table.includes(`npm ${s}`))).toEqual([]);
  });
});
