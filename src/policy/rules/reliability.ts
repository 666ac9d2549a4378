/**
 * Reliability rules: enough replicas, budgets for drains, spreading the scheduler can satisfy,
 * Services and entry points that reach real pods, and jobs that end.
 */
import type { EnvironmentConfig } from '../../../apps/environment';
import {
  allContainers,
  asArr,
  asObj,
  asStrArr,
  isEmptySelector,
  jobSpecOf,
  type Json,
  type Manifest,
  mapSelector,
  nsOf,
  num,
  replicaRange,
  selectorMatches,
  type Workload,
  workloads,
} from '../../model/objects';
import { environmentNamespaces, named, violation, type Rule, type Violation } from './core';

/**
 * Environments that must survive the loss of one pod of every stateless service: every production
 * environment, and any environment with more than one node (one node cannot survive a node loss anyway).
 */
export function isHaEnvironment(env: Pick<EnvironmentConfig, 'tier' | 'cluster'>): boolean {
  return env.tier === 'production' || env.cluster.nodes > 1;
}

/**
 * Stateless services run at least two pods in HA environments (see isHaEnvironment); NATS is a
 * three-server cluster in production.
 */
export const replicasHaRule: Rule = {
  id: 'replicas-ha',
  reason:
    'One replica means every rollout, drain or crash is an outage; a JetStream cluster needs three servers to keep a quorum through one loss.',
  check(objects, env) {
    const out: Violation[] = [];
    if (!isHaEnvironment(env)) return out;
    for (const o of objects) {
      const range = replicaRange(objects, o);
      if (!range) continue;
      if (o.kind === 'Deployment' && range.min < 2) {
        out.push(
          violation(
            'replicas-ha',
            o,
            `runs ${range.min} replica(s)${range.autoscaled ? ' at its autoscaler minimum' : ''}; ${env.name} needs at least 2`,
          ),
        );
      }
      const isNats =
        o.kind === 'StatefulSet' &&
        (o.metadata.name === 'nats' || o.metadata.labels?.['app.kubernetes.io/name'] === 'nats');
      if (env.tier === 'production' && isNats && (range.min < 3 || range.min % 2 === 0)) {
        out.push(
          violation(
            'replicas-ha',
            o,
            `runs ${range.min} NATS server(s); production needs 3 (an odd number, at least 3)`,
          ),
        );
      }
    }
    return out;
  },
};

/**
 * Every workload that runs (or may scale to) more than one pod has a PodDisruptionBudget, and no
 * pod is selected by more than one.
 */
export const pdbCoverageRule: Rule = {
  id: 'pdb-coverage',
  reason:
    'Without a budget a node drain may evict every replica at once; the replicas were there to prevent that. The eviction API refuses a pod that more than one budget selects, so drains block.',
  check(objects) {
    const out: Violation[] = [];
    const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
    for (const w of workloads(objects)) {
      const budgets = pdbs.filter(
        (p) =>
          nsOf(p) === w.namespace &&
          !isEmptySelector(asObj(p.spec).selector) &&
          selectorMatches(asObj(p.spec).selector, w.pod.labels),
      );
      if (budgets.length > 1) {
        out.push(
          violation(
            'pdb-coverage',
            w.object,
            `its pods are selected by ${budgets.length} PodDisruptionBudgets (${budgets.map((p) => p.metadata.name).join(', ')}); the eviction API refuses pods with more than one`,
          ),
        );
      }
      const range = replicaRange(objects, w.object);
      if (!range || (range.max <= 1 && !range.autoscaled)) continue;
      const covered = budgets.length > 0;
      if (!covered) {
        out.push(
          violation(
            'pdb-coverage',
            w.object,
            `runs up to ${range.max} replicas but no PodDisruptionBudget selects its pods`,
          ),
        );
      }
    }
    return out;
  },
};

export const HOSTNAME_KEY = 'kubernetes.io/hostname';
export const ZONE_KEY = 'topology.kubernetes.io/zone';

/** A node of the environment as the scheduler sees its labels. */
export interface SimNode {
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * The environment's nodes: `cluster.nodes` nodes with a hostname each, assigned round-robin to
 * `cluster.zones` (no zone label at all when the list is empty). No other topology label exists.
 */
export function clusterNodes(env: EnvironmentConfig): SimNode[] {
  const zones = env.cluster.zones;
  return Array.from({ length: env.cluster.nodes }, (_, i) => {
    const labels: Record<string, string> = { [HOSTNAME_KEY]: `node-${i}` };
    const zone = zones[i % Math.max(zones.length, 1)];
    if (zone !== undefined) labels[ZONE_KEY] = zone;
    return { labels };
  });
}

/** A DoNotSchedule constraint, reduced to what the filter uses. */
export interface HardConstraint {
  readonly topologyKey: string;
  readonly maxSkew: number;
  readonly minDomains?: number;
}

/**
 * How many of `pods` matching pods the scheduler can place, one at a time, under the hard
 * constraints — a model of the PodTopologySpread filter:
 *  - a node without the label of every hard constraint's topologyKey is not eligible (the filter
 *    rejects it), so a hard zone constraint in an environment without zones places nothing;
 *  - the domains of a constraint are the label values of the eligible nodes;
 *  - a pod may go to a node when, for every constraint, (pods in the node's domain) + 1 - (the
 *    minimum over all domains) <= maxSkew; with minDomains larger than the number of domains the
 *    minimum counts as 0, so at most maxSkew pods fit per domain;
 *  - among the nodes that fit, the pod goes where the fewest matching pods are (the scorer's aim).
 * Resources, taints and affinity are ignored: this decides only whether the spread itself can be
 * met. With nodes spread evenly over zones and no minDomains, round-robin always keeps every skew
 * <= 1, so any positive maxSkew is satisfiable; what fails is a key no node carries, or minDomains.
 */
export function placeablePods(nodes: readonly SimNode[], constraints: readonly HardConstraint[], pods: number): number {
  const eligible = nodes.filter((n) => constraints.every((c) => n.labels[c.topologyKey] !== undefined));
  const counts = new Map<string, number>();
  const key = (c: HardConstraint, n: SimNode) => `${c.topologyKey}=${n.labels[c.topologyKey] ?? ''}`;
  const domains = constraints.map((c) => [...new Set(eligible.map((n) => key(c, n)))]);
  for (let placed = 0; placed < pods; placed++) {
    const fits = eligible.filter((n) =>
      constraints.every((c, i) => {
        const ds = domains[i] ?? [];
        const min =
          c.minDomains !== undefined && ds.length < c.minDomains ? 0 : Math.min(...ds.map((d) => counts.get(d) ?? 0));
        return (counts.get(key(c, n)) ?? 0) + 1 - min <= c.maxSkew;
      }),
    );
    if (fits.length === 0) return placed;
    const load = (n: SimNode) => constraints.reduce((s, c) => s + (counts.get(key(c, n)) ?? 0), 0);
    const best = fits.reduce((a, b) => (load(b) < load(a) ? b : a));
    for (const c of constraints) counts.set(key(c, best), (counts.get(key(c, best)) ?? 0) + 1);
  }
  return pods;
}

/** The most pods a workload's spread constraints must place. */
function maxPods(objects: readonly Manifest[], w: Workload, env: EnvironmentConfig): number {
  const range = replicaRange(objects, w.object);
  if (range) return range.max;
  if (w.object.kind === 'PodTemplate' && w.namespace === env.namespaces.executor)
    return env.executors.maxConcurrentJobs;
  if (w.object.kind === 'Job') return num(asObj(w.object.spec).parallelism, 1);
  return 1;
}

const WHEN = new Set(['DoNotSchedule', 'ScheduleAnyway']);
const POLICIES = new Set(['Honor', 'Ignore']);

/** Spread constraints the API server accepts and the scheduler can satisfy in this environment. */
export const spreadSatisfiableRule: Rule = {
  id: 'spread-satisfiable',
  reason:
    'An invalid constraint fails the sync; a hard (DoNotSchedule) one the topology cannot meet leaves pods Pending at the worst time, during a scale-up or a zone loss.',
  check(objects, env) {
    const out: Violation[] = [];
    const nodes = clusterNodes(env);
    for (const w of workloads(objects)) {
      const add = (m: string) => out.push(violation('spread-satisfiable', w.object, m));
      const constraints = asArr(w.pod.spec.topologySpreadConstraints);
      const hard: HardConstraint[] = [];
      for (const c of constraints) {
        const key = String(c.topologyKey ?? '');
        const on = `constraint on ${key || '(no topologyKey)'}`;
        if (key === '') add(`${on} has no topologyKey`);
        if (!Number.isInteger(c.maxSkew) || num(c.maxSkew, 0) < 1)
          add(`${on} has maxSkew ${String(c.maxSkew)}; it must be > 0`);
        if (!WHEN.has(String(c.whenUnsatisfiable))) {
          add(`${on} has whenUnsatisfiable ${String(c.whenUnsatisfiable)}; use DoNotSchedule or ScheduleAnyway`);
        }
        if (c.minDomains !== undefined) {
          if (c.whenUnsatisfiable !== 'DoNotSchedule') add(`${on} sets minDomains without DoNotSchedule`);
          if (!Number.isInteger(c.minDomains) || num(c.minDomains, 0) < 1)
            add(`${on} has minDomains ${String(c.minDomains)}; it must be > 0`);
        }
        for (const f of ['nodeAffinityPolicy', 'nodeTaintsPolicy']) {
          if (c[f] !== undefined && !POLICIES.has(String(c[f])))
            add(`${on} has ${f} ${String(c[f])}; use Honor or Ignore`);
        }
        const selectorKeys = Object.keys(asObj(asObj(c.labelSelector).matchLabels));
        for (const k of asStrArr(c.matchLabelKeys)) {
          if (selectorKeys.includes(k)) add(`${on} has ${k} in both matchLabelKeys and labelSelector`);
        }
        if (
          c.whenUnsatisfiable === 'DoNotSchedule' &&
          key !== '' &&
          Number.isInteger(c.maxSkew) &&
          num(c.maxSkew, 0) >= 1
        ) {
          hard.push({
            topologyKey: key,
            maxSkew: num(c.maxSkew, 1),
            ...(typeof c.minDomains === 'number' ? { minDomains: c.minDomains } : {}),
          });
        }
      }
      if (hard.length === 0) continue;
      const eligible = nodes.filter((n) => hard.every((c) => n.labels[c.topologyKey] !== undefined));
      for (const c of hard) {
        const domains = new Set(eligible.map((n) => n.labels[c.topologyKey])).size;
        if (domains === 0) {
          add(
            `hard constraint on ${c.topologyKey}: no node of ${env.name} carries that label, so no pod can be scheduled`,
          );
        } else if (c.minDomains !== undefined && c.minDomains > domains) {
          add(
            `hard constraint on ${c.topologyKey} has minDomains ${c.minDomains} but ${env.name} has ${domains} domain(s): ` +
              `scheduling blocks beyond ${domains * c.maxSkew} pod(s)`,
          );
        }
      }
      const want = maxPods(objects, w, env);
      const placed = placeablePods(nodes, hard, want);
      if (placed < want && eligible.length > 0) {
        add(
          `hard spread constraints let only ${placed} of ${want} pod(s) be placed on ${env.cluster.nodes} node(s) in ${env.cluster.zones.length} zone(s)`,
        );
      }
    }
    return out;
  },
};

/** The declared ports of a pod spec. */
function declaredPorts(spec: Json): Json[] {
  return allContainers(spec).flatMap((c) => asArr(c.ports));
}

/** Whether a Service-style target port resolves in a pod spec. */
function resolves(spec: Json, target: unknown, protocol: string): boolean {
  return declaredPorts(spec).some(
    (p) =>
      String(p.protocol ?? 'TCP') === protocol &&
      (typeof target === 'number' ? p.containerPort === target : p.name === String(target)),
  );
}

/** Whether a host is covered by a TLS host entry (exact, or one-level wildcard). */
export function tlsCovers(tlsHost: string, host: string): boolean {
  if (tlsHost === host) return true;
  return tlsHost.startsWith('*.') && host.split('.').slice(1).join('.') === tlsHost.slice(2) && host.includes('.');
}

/** An in-cluster DNS name found in a string of a rendered object: [pod.]service.namespace.svc[.cluster.local][:port]. */
export interface InClusterAddress {
  /** Where in the object, e.g. spec.template.spec.containers[0].env[1].value. */
  readonly path: string;
  /** The name as written, with its port. */
  readonly text: string;
  /** A pod name under a headless Service ('*' for a wildcard), if the name has one. */
  readonly pod?: string;
  readonly service: string;
  readonly namespace: string;
  readonly port?: number;
}

const SVC_NAME =
  /(?:(?<scheme>[a-z][a-z0-9+.-]*):\/\/)?(?<host>(?:(?:\*|[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)\.)+)svc(?:\.cluster\.local)?\b(?::(?<port>\d+))?/g;
const DEFAULT_PORTS: Readonly<Record<string, number>> = { http: 80, https: 443 };

/** Every in-cluster DNS name in the strings of an object (http and https URLs without a port get 80 and 443). */
export function inClusterAddresses(o: Manifest): InClusterAddress[] {
  const out: InClusterAddress[] = [];
  const walk = (v: unknown, path: string) => {
    if (typeof v === 'string') {
      for (const m of v.matchAll(SVC_NAME)) {
        const labels = (m.groups?.host ?? '').split('.').filter((x) => x.length > 0);
        if (labels.length < 2 || labels.length > 3) continue;
        const [namespace, service, pod] = [...labels].reverse();
        if (namespace === undefined || service === undefined || namespace === '*' || service === '*') continue;
        const explicit = m.groups?.port;
        const port = explicit !== undefined ? Number(explicit) : DEFAULT_PORTS[m.groups?.scheme ?? ''];
        out.push({
          path,
          text: m[0].replace(/^[a-z][a-z0-9+.-]*:\/\//, ''),
          service,
          namespace,
          ...(pod !== undefined ? { pod } : {}),
          ...(port !== undefined ? { port } : {}),
        });
      }
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, `${path}[${i}]`));
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v as Json)) walk(x, path ? `${path}.${k}` : k);
    }
  };
  walk({ ...o, metadata: { annotations: o.metadata.annotations } }, '');
  return out;
}

/**
 * Services every cluster has: the API server's, and DNS (as kube-dns, in the environment's DNS
 * namespace); and, where monitoring is enabled, the Prometheus that monitoring.prometheusUrl names (an
 * add-on the environment declares, like DNS, which canary analyses query).
 */
function clusterServices(env: EnvironmentConfig): { namespace: string; name: string }[] {
  const out = [
    { namespace: 'default', name: 'kubernetes' },
    { namespace: env.network.dnsNamespace, name: 'kube-dns' },
  ];
  const prometheus = /^https?:\/\/([a-z0-9-]+)\.([a-z0-9-]+)\.svc(\.cluster\.local)?[:/]/.exec(
    `${env.monitoring.prometheusUrl}/`,
  );
  if (env.monitoring.enabled && prometheus?.[1] && prometheus[2]) {
    out.push({ namespace: prometheus[2], name: prometheus[1] });
  }
  return out;
}

/** Why an in-cluster address does not resolve to a rendered Service (and pod, and port), or undefined. */
function addressProblem(
  objects: readonly Manifest[],
  pods: readonly Workload[],
  env: EnvironmentConfig,
  a: InClusterAddress,
): string | undefined {
  if (clusterServices(env).some((s) => s.namespace === a.namespace && s.name === a.service)) return undefined;
  const svc = objects.find((s) => s.kind === 'Service' && nsOf(s) === a.namespace && s.metadata.name === a.service);
  if (!svc) return `Service ${a.namespace}/${a.service} is not rendered`;
  const spec = asObj(svc.spec);
  if (spec.type === 'ExternalName') return undefined; // a CNAME: what lies behind it is outside the render
  const headless = spec.clusterIP === 'None';
  let targets = pods.filter(
    (w) =>
      w.namespace === a.namespace &&
      spec.selector !== undefined &&
      selectorMatches(mapSelector(spec.selector), w.pod.labels),
  );
  if (a.pod !== undefined) {
    if (!headless) return `pod names exist only under a headless Service; ${a.namespace}/${a.service} is not one`;
    if (a.pod !== '*') {
      const governed = pods.filter(
        (w) =>
          w.object.kind === 'StatefulSet' &&
          w.namespace === a.namespace &&
          asObj(w.object.spec).serviceName === a.service,
      );
      const names = governed.flatMap((w) =>
        Array.from({ length: replicaRange(objects, w.object)?.max ?? 1 }, (_, i) => `${w.object.metadata.name}-${i}`),
      );
      if (!names.includes(a.pod)) {
        return `pod ${a.pod} is no pod of a StatefulSet governed by Service ${a.namespace}/${a.service} (${names.join(', ') || 'none'})`;
      }
      targets = governed.filter((w) => a.pod?.startsWith(`${w.object.metadata.name}-`));
    }
  }
  if (a.port === undefined) return undefined;
  if (headless || a.pod !== undefined) {
    const missing = targets.filter((w) => !resolves(w.pod.spec, a.port, 'TCP'));
    if (targets.length === 0) return `Service ${a.namespace}/${a.service} selects no rendered pods`;
    if (missing.length > 0) {
      return `port ${a.port} is declared by no container of ${missing.map((w) => `${w.object.kind} ${w.object.metadata.name}`).join(', ')} (a headless Service's names resolve to pods)`;
    }
    return undefined;
  }
  const ports = asArr(spec.ports);
  if (!ports.some((p) => p.port === a.port)) {
    return `Service ${a.namespace}/${a.service} does not expose port ${a.port} (it exposes ${ports.map((p) => String(p.port)).join(', ')})`;
  }
  return undefined;
}

/**
 * Services reach pods on declared ports; Ingresses and HTTPRoutes reach Services on exposed ports,
 * with TLS; every in-cluster DNS name in the render (service.namespace.svc, pod.headless.namespace.svc,
 * with or without .cluster.local and a port) names a rendered Service (or a cluster one: kubernetes,
 * kube-dns), a pod that exists under a headless one, and a port they serve.
 */
export const serviceRoutingRule: Rule = {
  id: 'service-routing',
  reason:
    'A Service that selects no pod or targets an undeclared port, an Ingress to a missing Service or port, or an address (service.namespace.svc:port) naming a missing Service, pod or port syncs green and fails at run time; an Ingress without TLS sends sessions in clear text.',
  check(objects, env) {
    const out: Violation[] = [];
    const services = objects.filter((o) => o.kind === 'Service');
    const all = workloads(objects);
    for (const s of services) {
      const spec = asObj(s.spec);
      if (spec.type === 'ExternalName') continue;
      const add = (m: string) => out.push(violation('service-routing', s, m));
      if (spec.selector === undefined || Object.keys(asObj(spec.selector)).length === 0) {
        add('has no selector');
        continue;
      }
      const selected = all.filter(
        (w) => w.namespace === nsOf(s) && selectorMatches(mapSelector(spec.selector), w.pod.labels),
      );
      if (selected.length === 0) {
        add('selects the pods of no rendered workload');
        continue;
      }
      for (const p of asArr(spec.ports)) {
        const target = p.targetPort ?? p.port;
        const protocol = String(p.protocol ?? 'TCP');
        for (const w of selected) {
          if (!resolves(w.pod.spec, target, protocol)) {
            add(
              `port ${String(p.name ?? p.port)} targets ${String(target)}/${protocol}, which ${w.object.kind} ${w.object.metadata.name} does not declare`,
            );
          }
        }
      }
    }
    const exposes = (namespace: string, name: string, port: Json | number) => {
      const svc = services.find((s) => nsOf(s) === namespace && s.metadata.name === name);
      if (!svc) return `Service ${namespace}/${name} is not rendered`;
      const ports = asArr(asObj(svc.spec).ports);
      const ok =
        typeof port === 'number'
          ? ports.some((p) => p.port === port)
          : port.number !== undefined
            ? ports.some((p) => p.port === port.number)
            : ports.some((p) => p.name === port.name);
      const shown = typeof port === 'number' ? port : String(port.number ?? port.name);
      return ok ? undefined : `Service ${namespace}/${name} does not expose port ${shown}`;
    };
    for (const o of objects) {
      if (o.kind === 'Ingress') {
        const spec = asObj(o.spec);
        const backends: Json[] = [];
        if (spec.defaultBackend) backends.push(asObj(spec.defaultBackend));
        const hosts: string[] = [];
        for (const r of asArr(spec.rules)) {
          if (named(r.host)) hosts.push(String(r.host));
          else out.push(violation('service-routing', o, 'has a rule without host, which TLS cannot cover'));
          for (const p of asArr(asObj(r.http).paths)) backends.push(asObj(p.backend));
        }
        for (const b of backends) {
          const svc = asObj(b.service);
          if (b.service === undefined) continue;
          const problem = exposes(nsOf(o), String(svc.name), asObj(svc.port));
          if (problem) out.push(violation('service-routing', o, `backend: ${problem}`));
        }
        const tls = asArr(spec.tls);
        for (const t of tls) {
          if (!named(t.secretName)) out.push(violation('service-routing', o, 'has a tls entry without secretName'));
        }
        for (const h of hosts) {
          if (!tls.some((t) => asStrArr(t.hosts).some((th) => tlsCovers(th, h)))) {
            out.push(violation('service-routing', o, `host ${h} is not covered by spec.tls`));
          }
        }
      }
      if (o.kind === 'HTTPRoute') {
        for (const r of asArr(asObj(o.spec).rules)) {
          for (const b of asArr(r.backendRefs)) {
            if ((b.group ?? '') !== '' || (b.kind ?? 'Service') !== 'Service') continue;
            if (typeof b.port !== 'number') {
              out.push(violation('service-routing', o, `backendRef ${String(b.name)} has no port`));
              continue;
            }
            const problem = exposes(String(b.namespace ?? nsOf(o)), String(b.name), b.port);
            if (problem) out.push(violation('service-routing', o, `backendRef: ${problem}`));
          }
        }
      }
    }
    for (const o of objects) {
      for (const a of inClusterAddresses(o)) {
        const problem = addressProblem(objects, all, env, a);
        if (problem) out.push(violation('service-routing', o, `${a.path} names ${a.text}: ${problem}`));
      }
    }
    return out;
  },
};

/** Prometheus Operator kinds that Prometheus picks up by their labels. */
const MONITORING_KINDS = new Set(['PodMonitor', 'ServiceMonitor', 'PrometheusRule']);

/** The namespaces a PodMonitor or ServiceMonitor looks in: its namespaceSelector, or its own namespace. */
function monitoredNamespaces(o: Manifest, all: readonly string[]): string[] {
  const sel = asObj(asObj(o.spec).namespaceSelector);
  if (sel.any === true) return [...all];
  const names = asStrArr(sel.matchNames);
  return names.length > 0 ? names : [nsOf(o)];
}

/**
 * PodMonitors and ServiceMonitors scrape what exists: their namespaces are the environment's,
 * their selector picks rendered pod templates (PodMonitor) or Services (ServiceMonitor), and every
 * endpoint's port is declared by each of them. Every Prometheus Operator object carries the labels
 * the environment's Prometheus selects by (env.monitoring.selectorLabels), and none is rendered
 * where env.monitoring.enabled is false (the operator, and its CRDs, are not a dependency there).
 */
export const monitorTargetsRule: Rule = {
  id: 'monitor-targets',
  reason:
    'A monitor that selects nothing, names a port its targets lack, or lacks the labels Prometheus selects by syncs green and scrapes nothing: the dashboards go quiet and the alerts never fire.',
  check(objects, env) {
    const out: Violation[] = [];
    const all = workloads(objects);
    const envNamespaces = [...environmentNamespaces(objects, env)];
    for (const o of objects) {
      if (!MONITORING_KINDS.has(o.kind)) continue;
      const add = (m: string) => out.push(violation('monitor-targets', o, m));
      if (!env.monitoring.enabled) {
        add(`is rendered, but env.monitoring.enabled is false: no Prometheus Operator is a dependency of ${env.name}`);
        continue;
      }
      for (const [k, v] of Object.entries(env.monitoring.selectorLabels)) {
        if (o.metadata.labels?.[k] !== v) {
          add(
            `metadata.labels lacks ${k}=${v} (it has ${String(o.metadata.labels?.[k] ?? 'none')}), which the environment's Prometheus selects by (env.monitoring.selectorLabels)`,
          );
        }
      }
      if (o.kind === 'PrometheusRule') continue;
      const spec = asObj(o.spec);
      const namespaces = monitoredNamespaces(o, envNamespaces);
      const foreign = namespaces.filter((n) => !envNamespaces.includes(n));
      if (foreign.length > 0) {
        add(
          `namespaceSelector names ${foreign.join(', ')}, which ${foreign.length > 1 ? 'are' : 'is'} not in the environment`,
        );
      }
      if (spec.selector === undefined || isEmptySelector(spec.selector)) {
        add('has an empty selector, which scrapes every pod or Service of its namespaces');
        continue;
      }
      const where = namespaces.join(', ');
      if (o.kind === 'PodMonitor') {
        const selected = all.filter(
          (w) => namespaces.includes(w.namespace) && selectorMatches(spec.selector, w.pod.labels),
        );
        if (selected.length === 0) {
          add(`selector matches no rendered pod template in ${where}`);
          continue;
        }
        for (const [i, e] of asArr(spec.podMetricsEndpoints).entries()) {
          const port = e.port ?? e.portNumber ?? e.targetPort;
          if (port === undefined) continue;
          for (const w of selected) {
            if (!resolves(w.pod.spec, port, 'TCP')) {
              add(
                `podMetricsEndpoints[${i}] port ${String(port)} is declared by no container of ${w.object.kind} ${w.object.metadata.name}`,
              );
            }
          }
        }
      } else {
        const services = objects.filter(
          (x) =>
            x.kind === 'Service' &&
            namespaces.includes(nsOf(x)) &&
            selectorMatches(spec.selector, x.metadata.labels ?? {}),
        );
        if (services.length === 0) {
          add(`selector matches the labels of no rendered Service in ${where}`);
          continue;
        }
        for (const [i, e] of asArr(spec.endpoints).entries()) {
          const port = named(e.port);
          if (port === undefined) continue;
          for (const svc of services) {
            if (!asArr(asObj(svc.spec).ports).some((p) => p.name === port)) {
              add(`endpoints[${i}] port ${port} is not a named port of Service ${nsOf(svc)}/${svc.metadata.name}`);
            }
          }
        }
      }
    }
    return out;
  },
};

/** Run-to-completion pods end: PodTemplates and Jobs carry activeDeadlineSeconds, within the executor policy's limit. */
export const jobDeadlinesRule: Rule = {
  id: 'job-deadlines',
  reason:
    'An executor runs untrusted code; without a deadline an endless loop holds its quota slot forever. The admission policy refuses pods over env.executors.deadlineSeconds.',
  check(objects, env) {
    const out: Violation[] = [];
    for (const w of workloads(objects)) {
      const o = w.object;
      if (o.kind !== 'PodTemplate' && o.kind !== 'Job' && o.kind !== 'CronJob') continue;
      const jobSpec = jobSpecOf(o) ?? {};
      const deadline = w.pod.spec.activeDeadlineSeconds ?? jobSpec.activeDeadlineSeconds;
      if (typeof deadline !== 'number' || deadline < 1) {
        out.push(violation('job-deadlines', o, 'has no positive activeDeadlineSeconds'));
      } else if (w.namespace === env.namespaces.executor && deadline > env.executors.deadlineSeconds) {
        out.push(
          violation(
            'job-deadlines',
            o,
            `activeDeadlineSeconds ${deadline} exceeds env.executors.deadlineSeconds (${env.executors.deadlineSeconds}); admission would refuse the pods`,
          ),
        );
      }
    }
    return out;
  },
};
