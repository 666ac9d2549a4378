/**
 * Who may open which port on whom, computed from the rendered NetworkPolicies alone (plus the
 * pod templates' labels, namespaces and declared ports, and the environment's description of
 * what lies outside it).
 *
 * Semantics (the NetworkPolicy API's): a connection A -> B:port/protocol is allowed iff
 *   (B is selected by no policy with policyType Ingress, or some such policy selecting B has an
 *    ingress rule whose `from` matches A and whose `ports` match port/protocol at B)
 *   AND
 *   (A is selected by no policy with policyType Egress, or some such policy selecting A has an
 *    egress rule whose `to` matches B and whose `ports` match port/protocol at B).
 *
 * Endpoints:
 *   - workloads: one per rendered pod template (Deployment, StatefulSet, executor PodTemplate...),
 *     named after its object, with its namespace, labels and declared container ports;
 *   - cluster pods outside the environment, as pseudo-workloads: `ingress-controller` (when the
 *     entry point is an Ingress), `dns`, `prometheus` and `keda`, with the namespace and labels
 *     the environment (or the add-on's standard install) gives them; no rendered policy selects
 *     them, so they may send anything and receive anything;
 *   - addresses outside the pod network: `kube-apiserver` (env.network.apiServerCidrs) and
 *     `internet` (0.0.0.0/0 without the RFC 1918 ranges).
 * ipBlock peers match only the address endpoints, by overlap: an ipBlock that covers any part of
 * an endpoint's addresses opens a path to it. They never match pods: the API reserves ipBlock for
 * cluster-external addresses and pod IPs are ephemeral (CNIs differ); a wide ipBlock therefore
 * shows up here as a flow to `internet` or `kube-apiserver`, never silently.
 * Ports: a flow is reported per port of the destination's declared ports, per port number any
 * rule names, and per protocol as `any/<protocol>`, which stands for every other port. IPv6 blocks
 * are ignored (the environments are IPv4). Flows between two endpoints outside the environment
 * are not reported: no rendered policy governs them. Kubelet probes come from the node and are not
 * modelled (CNIs allow node-to-local-pod traffic).
 */
import type { EnvironmentConfig } from '../../apps/environment';
import {
  asArr,
  asObj,
  asStrArr,
  namespaceLabels,
  nsOf,
  podContainers,
  policyTypes,
  selectorMatches,
  workloads,
  type Json,
  type Manifest,
} from '../model/objects';

type Range = readonly [number, number];

export interface DeclaredPort {
  readonly name?: string;
  readonly port: number;
  readonly protocol: string;
}

export interface Endpoint {
  readonly name: string;
  /** A workload of the environment, a pod of a cluster add-on, or addresses outside the pod network. */
  readonly kind: 'workload' | 'cluster-pod' | 'address';
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly addresses?: readonly Range[];
  readonly ports: readonly DeclaredPort[];
}

export interface Flow {
  readonly from: string;
  readonly to: string;
  /** `4222/TCP`, or `any/TCP` for a port nothing names. */
  readonly port: string;
}

export const RFC1918 = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

/** An IPv4 CIDR as an inclusive range of addresses; undefined for IPv6. */
export function cidrRange(cidr: string): Range | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr.trim());
  if (!m) return undefined;
  const [a, b, c, d, bits] = m.slice(1).map(Number) as [number, number, number, number, number];
  const ip = ((a * 256 + b) * 256 + c) * 256 + d;
  const size = 2 ** (32 - bits);
  const start = Math.floor(ip / size) * size;
  return [start, start + size - 1];
}

/** Ranges minus ranges. */
export function subtract(from: readonly Range[], minus: readonly Range[]): Range[] {
  let out: Range[] = [...from];
  for (const [ms, me] of minus) {
    out = out.flatMap(([s, e]): Range[] => {
      if (me < s || ms > e) return [[s, e]];
      const parts: Range[] = [];
      if (ms > s) parts.push([s, ms - 1]);
      if (me < e) parts.push([me + 1, e]);
      return parts;
    });
  }
  return out;
}

function overlaps(a: readonly Range[], b: readonly Range[]): boolean {
  return a.some(([s1, e1]) => b.some(([s2, e2]) => s1 <= e2 && s2 <= e1));
}

const ranges = (cidrs: readonly string[]) => cidrs.map(cidrRange).filter((r): r is Range => r !== undefined);

/** The addresses of an ipBlock peer. */
function ipBlockRanges(block: Json): Range[] {
  return subtract(ranges([String(block.cidr)]), ranges(asStrArr(block.except)));
}

/** The endpoints of an environment: its workloads, and the pseudo-workloads outside it. */
export function endpoints(env: EnvironmentConfig, objects: readonly Manifest[]): Endpoint[] {
  const out: Endpoint[] = workloads(objects).map((w) => ({
    name: w.object.metadata.name,
    kind: 'workload',
    namespace: w.namespace,
    labels: w.pod.labels,
    ports: podContainers(w.pod.spec).flatMap((c) =>
      asArr(c.ports).map((p) => ({
        ...(p.name !== undefined ? { name: String(p.name) } : {}),
        port: Number(p.containerPort),
        protocol: String(p.protocol ?? 'TCP'),
      })),
    ),
  }));
  const e = env.entrypoint;
  if (e.mode === 'ingress' && e.controllerNamespace && e.controllerPodLabels) {
    out.push({
      name: 'ingress-controller',
      kind: 'cluster-pod',
      namespace: e.controllerNamespace,
      labels: e.controllerPodLabels,
      ports: [],
    });
  }
  out.push({
    name: 'dns',
    kind: 'cluster-pod',
    namespace: env.network.dnsNamespace,
    labels: env.network.dnsPodLabels,
    ports: [
      { name: 'dns', port: 53, protocol: 'UDP' },
      { name: 'dns-tcp', port: 53, protocol: 'TCP' },
    ],
  });
  out.push({
    name: 'prometheus',
    kind: 'cluster-pod',
    namespace: env.monitoring.namespace,
    labels: env.monitoring.prometheusPodLabels,
    ports: [],
  });
  out.push({ name: 'keda', kind: 'cluster-pod', namespace: 'keda', labels: { app: 'keda-operator' }, ports: [] });
  out.push({
    name: 'kube-apiserver',
    kind: 'address',
    addresses: ranges(env.network.apiServerCidrs),
    ports: [{ port: env.network.apiServerPort, protocol: 'TCP' }],
  });
  out.push({
    name: 'internet',
    kind: 'address',
    addresses: subtract(ranges(['0.0.0.0/0']), ranges(RFC1918)),
    ports: [
      { name: 'http', port: 80, protocol: 'TCP' },
      { name: 'https', port: 443, protocol: 'TCP' },
    ],
  });
  return out;
}

/** A candidate destination port: a number, or 'any' for every port nothing names. */
interface Candidate {
  readonly port: number | 'any';
  readonly protocol: string;
}

function peerMatches(
  peer: Json,
  policyNamespace: string,
  e: Endpoint,
  nsLabels: Map<string, Record<string, string>>,
): boolean {
  if (peer.ipBlock !== undefined) {
    return e.kind === 'address' && overlaps(e.addresses ?? [], ipBlockRanges(asObj(peer.ipBlock)));
  }
  if (e.kind === 'address') return false;
  const ns = e.namespace ?? '';
  const nsOk =
    peer.namespaceSelector === undefined
      ? ns === policyNamespace
      : selectorMatches(peer.namespaceSelector, nsLabels.get(ns) ?? { 'kubernetes.io/metadata.name': ns });
  const podOk = peer.podSelector === undefined || selectorMatches(peer.podSelector, e.labels ?? {});
  return nsOk && podOk;
}

function portMatches(rulePorts: unknown, c: Candidate, dest: Endpoint): boolean {
  const list = asArr(rulePorts);
  if (rulePorts === undefined || list.length === 0) return true;
  return list.some((rp) => {
    if (String(rp.protocol ?? 'TCP') !== c.protocol) return false;
    if (rp.port === undefined) return true;
    if (typeof rp.port === 'string') {
      return dest.ports.some((d) => d.name === rp.port && d.port === c.port && d.protocol === c.protocol);
    }
    const from = Number(rp.port);
    const to = typeof rp.endPort === 'number' ? rp.endPort : from;
    return c.port === 'any' ? to > from : c.port >= from && c.port <= to;
  });
}

/** Every connection the policies allow, sorted; see the file comment for the semantics. */
export function allowedFlows(env: EnvironmentConfig, objects: readonly Manifest[]): Flow[] {
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  const nsLabels = namespaceLabels(objects);
  const eps = endpoints(env, objects);
  const selectingOf = (e: Endpoint, type: string) =>
    e.kind === 'address'
      ? []
      : policies.filter(
          (p) =>
            nsOf(p) === e.namespace &&
            policyTypes(p).includes(type) &&
            selectorMatches(asObj(p.spec).podSelector, e.labels ?? {}),
        );
  // The policies selecting an endpoint, per direction: computed once, asked for every pair and port.
  const selecting = new Map(
    eps.map((e) => [e, { Ingress: selectingOf(e, 'Ingress'), Egress: selectingOf(e, 'Egress') }]),
  );
  /**
   * The rules of the policies selecting `e` in one direction whose peers match `peer`, or undefined
   * when no policy selects `e` that way (then every connection is allowed). Ports are left to `allows`.
   */
  const rulesFor = (e: Endpoint, type: 'Ingress' | 'Egress', peer: Endpoint): Json[] | undefined => {
    const ps = selecting.get(e)?.[type] ?? selectingOf(e, type);
    if (ps.length === 0) return undefined;
    const [rulesKey, peersKey] = type === 'Ingress' ? ['ingress', 'from'] : ['egress', 'to'];
    return ps.flatMap((p) =>
      asArr(asObj(p.spec)[rulesKey]).filter((r) => {
        const peers = asArr(r[peersKey]);
        return (
          r[peersKey] === undefined || peers.length === 0 || peers.some((x) => peerMatches(x, nsOf(p), peer, nsLabels))
        );
      }),
    );
  };
  const allows = (rules: Json[] | undefined, c: Candidate, dest: Endpoint) =>
    rules === undefined || rules.some((r) => portMatches(r.ports, c, dest));
  const named = new Set<string>();
  for (const p of policies) {
    for (const r of [...asArr(asObj(p.spec).ingress), ...asArr(asObj(p.spec).egress)]) {
      for (const rp of asArr(r.ports)) {
        if (typeof rp.port === 'number') named.add(`${rp.port}/${String(rp.protocol ?? 'TCP')}`);
      }
    }
  }
  const protocols = ['TCP', 'UDP', 'SCTP'];
  const out = new Map<string, Flow>();
  for (const dest of eps) {
    const candidates = new Map<string, Candidate>();
    for (const d of dest.ports) candidates.set(`${d.port}/${d.protocol}`, { port: d.port, protocol: d.protocol });
    for (const n of named) {
      const [port, protocol] = n.split('/');
      candidates.set(n, { port: Number(port), protocol: String(protocol) });
    }
    for (const protocol of protocols) candidates.set(`any/${protocol}`, { port: 'any', protocol });
    for (const src of eps) {
      if (src.kind !== 'workload' && dest.kind !== 'workload') continue;
      const ingress = rulesFor(dest, 'Ingress', src);
      const egress = rulesFor(src, 'Egress', dest);
      for (const [label, c] of candidates) {
        if (allows(ingress, c, dest) && allows(egress, c, dest)) {
          const f = { from: src.name, to: dest.name, port: label };
          out.set(flowKey(f), f);
        }
      }
    }
  }
  return [...out.values()].sort((a, b) => flowKey(a).localeCompare(flowKey(b)));
}

export function flowKey(f: Flow): string {
  return `${f.from} -> ${f.to} ${f.port}`;
}

/** Flows in `actual` and not `intended` (extra), and the reverse (missing), as sorted keys. */
export function compareFlows(
  actual: readonly Flow[],
  intended: readonly Flow[],
): { extra: string[]; missing: string[] } {
  const a = new Set(actual.map(flowKey));
  const i = new Set(intended.map(flowKey));
  return { extra: [...a].filter((k) => !i.has(k)).sort(), missing: [...i].filter((k) => !a.has(k)).sort() };
}
