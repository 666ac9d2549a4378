/**
 * The generator's layers, lowest first, and the one direction imports may go:
 *
 *   model        src/model/      environment schema, loader, quantities, the object library
 *   components   charts/<name>/  one folder per platform component (charts/common: shared constructs)
 *   composition  apps/           plans the components for one environment and wires them (the cdk8s App)
 *   inspection   src/inspect/, src/policy/   capacity, conflicts, reachability, report, audit, diff, policy
 *   commands     src/commands/   synth, diff, bench (nothing imports them)
 *
 * A module imports only from its own layer or lower ones, never in a cycle, and inspection never
 * imports a component. Imports are read with TypeScript's own pre-processor, so `import type`,
 * `export … from`, `require()` and `import()` all count.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ROOT } from './support/committed';

/** The layers, lowest first, and the folders that make each one. */
export const LAYERS: readonly { readonly name: string; readonly folders: readonly string[] }[] = [
  { name: 'model', folders: ['src/model'] },
  { name: 'components', folders: ['charts'] },
  { name: 'composition', folders: ['apps'] },
  { name: 'inspection', folders: ['src/inspect', 'src/policy'] },
  { name: 'commands', folders: ['src/commands'] },
];

type Graph = ReadonlyMap<string, readonly string[]>;

/** Every .ts module below `dir` (relative to root), tests excluded. */
function modules(root: string, dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...modules(root, p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

/** Module (path relative to the root, e.g. apps/platform.ts) -> the generator modules it imports. */
function importGraph(root: string): Graph {
  const graph = new Map<string, string[]>();
  for (const file of LAYERS.flatMap((l) => l.folders.flatMap((f) => modules(root, f)))) {
    const { importedFiles } = ts.preProcessFile(readFileSync(join(root, file), 'utf8'), true, true);
    const deps = importedFiles
      .map((i) => i.fileName)
      .filter((name) => name.startsWith('.'))
      .map((name) => resolveModule(root, file, name))
      .filter((dep) => layerOf(dep) !== undefined);
    graph.set(file, [...new Set(deps)].sort());
  }
  return graph;
}

/** Index of the module's layer in LAYERS; undefined outside the generator (imports/, node_modules). */
function layerOf(file: string): number | undefined {
  const i = LAYERS.findIndex((l) => l.folders.some((f) => file.startsWith(`${f}/`)));
  return i < 0 ? undefined : i;
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

/** The component folder of a module under charts/ (`common` for the shared constructs), else undefined. */
function componentOf(file: string): string | undefined {
  return file.startsWith('charts/') ? file.split('/')[1] : undefined;
}

/**
 * Imports that cross a component's walls: a component may import the model, the shared constructs
 * (charts/common/) and another component's plan (`plan.ts`: its exported facts), nothing else of
 * another component; charts/common/ imports no component.
 */
export function wallBreaches(graph: Graph): string[] {
  return [...graph].flatMap(([from, deps]) => {
    const mine = componentOf(from);
    if (mine === undefined) return [];
    return deps
      .filter((to) => {
        const theirs = componentOf(to);
        if (theirs === undefined || theirs === mine || theirs === 'common') return false;
        return mine === 'common' || !to.endsWith('/plan.ts');
      })
      .map((to) => `${from} -> ${to}`);
  });
}

/** Every import that goes from a lower layer to a higher one, as `from -> to`. */
export function upwardImports(graph: Graph): string[] {
  return [...graph].flatMap(([from, deps]) =>
    deps.filter((to) => (layerOf(to) ?? 0) > (layerOf(from) ?? 0)).map((to) => `${from} -> ${to}`),
  );
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

describe('imports in the generator (src/, apps/, charts/)', () => {
  it('read every module of the generator, in every layer', () => {
    expect(graph.get('src/commands/render.ts')).toEqual(
      expect.arrayContaining(['apps/platform.ts', 'src/inspect/report.ts', 'src/model/objects.ts']),
    );
    expect(graph.get('src/commands/cli.ts')).toContain('src/commands/render.ts');
    expect(graph.get('charts/common/stateless-service.ts')).toContain('src/model/schema.ts');
    for (const layer of LAYERS) {
      expect([...graph.keys()].filter((m) => LAYERS[layerOf(m) ?? -1] === layer).length, layer.name).toBeGreaterThan(0);
    }
    expect([...graph.keys()].filter((m) => layerOf(m) === undefined)).toEqual([]);
  });

  it('form no cycle', () => {
    expect(findCycles(graph).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('never go from a lower layer to a higher one', () => {
    expect(upwardImports(graph)).toEqual([]);
  });

  it('never reach a component from inspection: it reads rendered objects, not the code that made them', () => {
    const inspection = LAYERS.findIndex((l) => l.name === 'inspection');
    const found = [...graph]
      .filter(([from]) => layerOf(from) === inspection)
      .flatMap(([from, deps]) => deps.filter((d) => d.startsWith('charts/')).map((d) => `${from} -> ${d}`));
    expect(found).toEqual([]);
  });

  it("cross a component's walls only to another component's plan", () => {
    expect(wallBreaches(graph)).toEqual([]);
  });

  it('keep the object library at the bottom: src/model/objects.ts imports nothing of the generator', () => {
    expect(graph.get('src/model/objects.ts')).toEqual([]);
  });

  it('never import a command: nothing imports src/commands/ but another command', () => {
    const commands = LAYERS.findIndex((l) => l.name === 'commands');
    const found = [...graph]
      .filter(([from]) => layerOf(from) !== commands)
      .flatMap(([from, deps]) => deps.filter((d) => layerOf(d) === commands).map((d) => `${from} -> ${d}`));
    expect(found).toEqual([]);
  });
});

describe('wallBreaches', () => {
  it("names a component reaching into another's constructs, and the shared constructs reaching any component", () => {
    const g = new Map([
      ['charts/middleware/plan.ts', ['charts/nats/plan.ts', 'charts/common/pod-spec.ts', 'src/model/schema.ts']],
      ['charts/monitoring/alerts.ts', ['charts/nats/nats-cluster.ts']],
      ['charts/common/pod-spec.ts', ['charts/nats/plan.ts']],
      ['apps/platform.ts', ['charts/nats/nats-cluster.ts']],
    ]);
    expect(wallBreaches(g)).toEqual([
      'charts/monitoring/alerts.ts -> charts/nats/nats-cluster.ts',
      'charts/common/pod-spec.ts -> charts/nats/plan.ts',
    ]);
  });
});

describe('upwardImports', () => {
  it('names an import from a component to the composition, and none the other way', () => {
    const g = new Map([
      ['charts/nats/nats-cluster.ts', ['apps/platform.ts', 'src/model/schema.ts']],
      ['apps/platform.ts', ['charts/nats/nats-cluster.ts']],
    ]);
    expect(upwardImports(g)).toEqual(['charts/nats/nats-cluster.ts -> apps/platform.ts']);
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
