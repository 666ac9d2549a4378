/** The scratch copy test/cli.test.ts edits: reset puts back exactly what was copied. */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listFiles } from '../../src/commands/output';
import { ScratchCopy } from './scratch-copy';

describe('ScratchCopy', () => {
  const source = mkdtempSync(join(tmpdir(), 'scratch-source-'));
  for (const [p, text] of [
    ['a/one.yaml', 'one\n'],
    ['a/b/two.yaml', 'two\n'],
    ['a/b/c/three.yaml', 'three\n'],
    ['d/four.yaml', 'four\n'],
    ['ignored/five.yaml', 'not copied\n'],
  ] as const) {
    mkdirSync(join(source, p, '..'), { recursive: true });
    writeFileSync(join(source, p), text);
  }
  const copy = new ScratchCopy(source, ['a', 'd'], 'scratch-copy-');
  afterAll(() => {
    copy.remove();
    rmSync(source, { recursive: true, force: true });
  });
  const tree = (root: string) =>
    [...listFiles(root, 'a'), ...listFiles(root, 'd')].map((f) => [f, readFileSync(join(root, f), 'utf8')]);

  it('copies only the named folders', () => {
    expect(tree(copy.root)).toEqual(tree(source));
    expect(listFiles(copy.root, 'ignored')).toEqual([]);
    expect(copy.isPristine()).toBe(true);
    expect(copy.reset()).toEqual([]);
  });

  it('puts back edited, removed and replaced files and folders, and removes added ones', () => {
    const r = copy.root;
    writeFileSync(join(r, 'a/one.yaml'), 'edited\n');
    rmSync(join(r, 'a/b'), { recursive: true });
    writeFileSync(join(r, 'a/b'), 'a file where a folder was\n');
    rmSync(join(r, 'd/four.yaml'));
    mkdirSync(join(r, 'd/four.yaml/inner'), { recursive: true });
    writeFileSync(join(r, 'a/new.yaml'), 'added\n');
    mkdirSync(join(r, 'e/f'), { recursive: true });
    cpSync(join(r, 'a'), join(r, 'a.synth-old-1'), { recursive: true });
    expect(copy.isPristine()).toBe(false);

    expect(copy.reset().sort()).toEqual([
      'a.synth-old-1',
      'a/b',
      'a/b/c',
      'a/b/c/three.yaml',
      'a/b/two.yaml',
      'a/new.yaml',
      'a/one.yaml',
      'd/four.yaml',
      'e',
    ]);
    expect(copy.isPristine()).toBe(true);
    expect(tree(r)).toEqual(tree(source));
    expect(copy.reset()).toEqual([]);
  });
});
