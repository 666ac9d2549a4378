/**
 * Read-side helpers for the cluster suite: pods, readiness, placement per node and zone, spread
 * skew, requests; and the fact sheet of one scenario and environment, written to
 * .build/twin-<env>-<scenario>.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kube } from '../../../tools/harness/twin/api';
import { parseCpu, parseMemory } from '../../../src/model/quantity';
import { podRequests as requestsOf, type Amount, type Json, type Manifest } from '../../../src/model/objects';

export interface Pod {
  metadata: {
    name: string;
    namespace: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind: string; name: string }[];
    deletionTimestamp?: string;
  };
  spec: {
    nodeName?: string;
    containers: { name: string; resources?: { requests?: Record<string, string> } }[];
    initContainers?: { resources?: { requests?: Record<string, string> } }[];
    topologySpreadConstraints?: {
      maxSkew: number;
      topologyKey: string;
      whenUnsatisfiable: string;
      labelSelector?: { matchLabels?: Record<string, string> };
      matchLabelKeys?: string[];
    }[];
  };
  status: { phase?: string; conditions?: { type: string; status: string }[] };
}

export interface NodeInfo {
  name: string;
  zone: string;
  ready: boolean;
  unschedulable: boolean;
}

export async function pods(kube: Kube, namespace?: string, query = ''): Promise<Pod[]> {
  return kube.list<Pod>('v1', 'Pod', namespace, query);
}

export async function nodes(kube: Kube): Promise<NodeInfo[]> {
  const list = await kube.list<Manifest>('v1', 'Node');
  return list
    .map((n) => ({
      name: String(n.metadata?.name),
      zone: (n.metadata?.labels as Record<string, string> | undefined)?.['topology.kubernetes.io/zone'] ?? '',
      ready: ((n.status as { conditions?: { type: string; status: string }[] })?.conditions ?? []).some(
        (c) => c.type === 'Ready' && c.status === 'True',
      ),
      unschedulable: Boolean((n.spec as { unschedulable?: boolean })?.unschedulable),
    }))
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
}

export const isReady = (p: Pod) =>
  p.status.phase === 'Running' &&
  !p.metadata.deletionTimestamp &&
  (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

/** The workload a pod belongs to: app.kubernetes.io/name, else its name. */
export const workloadOf = (p: Pod) => p.metadata.labels?.['app.kubernetes.io/name'] ?? p.metadata.name;

export function matches(labels: Record<string, string> | undefined, selector: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** Counts of `list` per node and per zone, every node and zone listed (zeros included). */
export function placement(list: readonly Pod[], allNodes: readonly NodeInfo[]) {
  const perNode = new Map<string, number>(allNodes.map((n) => [n.name, 0]));
  const perZone = new Map<string, number>(allNodes.filter((n) => n.zone).map((n) => [n.zone, 0]));
  const zoneOf = new Map(allNodes.map((n) => [n.name, n.zone]));
  for (const p of list) {
    const n = p.spec.nodeName;
    if (!n) continue;
    perNode.set(n, (perNode.get(n) ?? 0) + 1);
    const z = zoneOf.get(n);
    if (z) perZone.set(z, (perZone.get(z) ?? 0) + 1);
  }
  return { perNode, perZone };
}

/** Largest minus smallest count over the domains of `topologyKey`. */
export function skew(counts: ReadonlyMap<string, number>): number {
  const v = [...counts.values()];
  return v.length ? Math.max(...v) - Math.min(...v) : 0;
}

/** Requests of one pod, millicores and bytes: the object library's podRequests on its spec. */
export function podRequests(p: Pod): Amount {
  return requestsOf(p.spec as unknown as Json, { cpu: parseCpu, memory: parseMemory });
}

export const fmtCounts = (m: ReadonlyMap<string, number>) => [...m].map(([k, v]) => `${k}=${v}`).join(' ');

/** The fact sheet of one scenario's run in one environment. */
export class Facts {
  private readonly sections: { title: string; lines: string[] }[] = [];

  constructor(
    readonly root: string,
    readonly env: string,
    readonly scenario: string,
  ) {}

  section(title: string, lines: string[]): void {
    const existing = this.sections.find((s) => s.title === title);
    if (existing) existing.lines.push(...lines);
    else this.sections.push({ title, lines: [...lines] });
  }

  text(): string {
    return [
      `# Control-plane twin: ${this.env}, ${this.scenario}`,
      '',
      ...this.sections.flatMap((s) => [`## ${s.title}`, '', ...s.lines, '']),
    ].join('\n');
  }

  /** Writes .build/twin-<env>-<scenario>.md and prints it. */
  write(): string {
    const dir = join(this.root, '.build');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `twin-${this.env}-${this.scenario}.md`);
    writeFileSync(file, this.text());
    process.stdout.write(`\n${this.text()}\n(written to ${file})\n`);
    return file;
  }
}
