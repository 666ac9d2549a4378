/**
 * Imports in the generator (src/, apps/, charts/) go one way, with no cycle:
 * leaf utilities (manifest, quantity, yaml-writer, environment-schema, output, policy-exceptions)
 * <- config <- feature modules (capacity, conflicts, reachability, audit, argocd, report, diff) and
 * apps/, charts/ <- render.ts <- the entry points (cli.ts, diff-cli.ts, bench.ts).
 * Imports are read with TypeScript's own pre-processor, so `import type`, `export … from`,
 * `require()` and `import()` all count.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/committed';

/** Folders whose modules form the generator. */
const FOLDERS = ['src', 'apps', 'charts'] as const;
/** Modules of src/ that import nothing from the generator. */
const LEAVES = ['manifest', 'quantity', 'yaml-writer', 'environment-schema', 'output', 'policy-exceptions'];
/** Entry points: nothing imports them. */
const ENTRY_POINTS = ['cli', 'diff-cli', 'bench'];

type Graph = ReadonlyMap<string, readonly string[]>;

/** Module (path relative to the root, e.g. src/render.ts) -> the generator modules it imports. */
function importGraph(root: string): Graph {
  const graph = new Map<string, string[]>();
  for (const folder of FOLDERS) {
    for (const f of readdirSync(join(root, folder))
      .filter((n) => n.endsWith('.ts'))
      .sort()) {
      const file = `${folder}/${f}`;
      const { importedFiles } = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true);
      const deps = importedFiles
        .map((i) => i.fileName)
        .filter((name) => name.startsWith('.'))
        .map((name) => resolveModule(root, file, name));
      graph.set(file, [...new Set(deps)].sort());
    }
  }
  return graph;
}

function resolveModule(root: string, from: string, name: string): string {
  const base = normalize(join(dirname(from), name))
    .split('\\')
    .join('/');
  for (const candidate of [`${base}.ts`, `${base}/index.ts`, base]) {
    if (existsSync(join(root, candidate))) return candidate;
  }
  throw new Error(`${from}: cannot resolve import '${name}'`);
}

/** Every cycle found by a depth-first search, each as a path that ends where it starts. */
function findCycles(graph: Graph): string[][] {
  const done = new Set<string>();
  const path: string[] = [];
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    const at = path.indexOf(node);
    if (at >= 0) {
      cycles.push([...path.slice(at), node]);
      return;
    }
    if (done.has(node)) return;
    path.push(node);
    for (const next of graph.get(node) ?? []) visit(next);
    path.pop();
    done.add(node);
  };
  for (const node of [...graph.keys()].sort()) visit(node);
  return cycles;
}

const graph = importGraph(ROOT);

describe('imports in src/, apps/ and charts/', () => {
  it('read every module of the generator', () => {
    expect(graph.get('src/render.ts')).toEqual(expect.arrayContaining(['src/argocd.ts', 'src/manifest.ts']));
    expect(graph.get('src/cli.ts')).toContain('src/render.ts');
    expect(graph.get('charts/stateless-service.ts')).toContain('src/config.ts');
  });

  it('form no cycle', () => {
    expect(findCycles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('leave the leaf utilities importing nothing from the generator', () => {
    for (const leaf of LEAVES) expect(graph.get(`src/${leaf}.ts`), leaf).toEqual([]);
  });

  it('never import an entry point, and only entry points import render.ts', () => {
    const importers = (target: string) => [...graph].filter(([, deps]) => deps.includes(target)).map(([m]) => m);
    for (const entry of ENTRY_POINTS) expect(importers(`src/${entry}.ts`), entry).toEqual([]);
    expect(importers('src/render.ts').sort()).toEqual(ENTRY_POINTS.map((e) => `src/${e}.ts`).sort());
  });
});

describe('findCycles', () => {
  it('finds a cycle in a cyclic graph', () => {
    const cyclic = new Map([
      ['a', ['b']],
      ['b', ['c', 'd']],
      ['c', ['a']],
      ['d', []],
    ]);
    expect(findCycles(cyclic)).toEqual([['a', 'b', 'c', 'a']]);
  });

  it('finds a module that imports itself, and a cycle reached from outside it', () => {
    expect(findCycles(new Map([['a', ['a']]]))).toEqual([['a', 'a']]);
    const reached = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['b']],
    ]);
    expect(findCycles(reached)).toEqual([['b', 'c', 'b']]);
  });

  it('finds none in a graph where imports go one way, shared modules included', () => {
    const acyclic = new Map([
      ['cli', ['render', 'config']],
      ['render', ['report', 'config', 'manifest']],
      ['report', ['manifest', 'config']],
      ['config', []],
      ['manifest', []],
    ]);
    expect(findCycles(acyclic)).toEqual([]);
  });
});
