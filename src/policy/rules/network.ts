/**
 * Network rules: every namespace starts from deny-all, every pod has its own policy, and no
 * selector in a policy is a dead letter. What the policies allow, flow by flow, is asserted by
 * test/policy/reachability.test.ts.
 */
import type { EnvironmentConfig } from '../../../apps/environment';
import {
  allContainers,
  asArr,
  asObj,
  asStrRecord,
  isEmptySelector,
  type Json,
  type Manifest,
  namespaceLabels,
  nsOf,
  policyTypes,
  selectorMatches,
  type Workload,
  workloads,
} from '../../model/objects';
import { endpoints } from '../../inspect/reachability';
import { environmentNamespaces, violation, type Rule, type Violation } from './core';

/** Empty podSelector, both policy types, no rules: the namespace's default deny. */
export function isDefaultDeny(p: Manifest): boolean {
  const spec = asObj(p.spec);
  const types = policyTypes(p);
  return (
    isEmptySelector(spec.podSelector) &&
    types.includes('Ingress') &&
    types.includes('Egress') &&
    asArr(spec.ingress).length === 0 &&
    asArr(spec.egress).length === 0
  );
}

/**
 * Namespaces outside the environment that its policies may name: the ingress controller's or
 * the Gateway's, DNS, Prometheus (when monitoring is on) and KEDA (when the middleware uses it).
 */
export function knownExternalNamespaces(env: EnvironmentConfig): Set<string> {
  const out = new Set([env.network.dnsNamespace]);
  const e = env.entrypoint;
  if (e.mode === 'ingress' && e.controllerNamespace) out.add(e.controllerNamespace);
  if (e.mode === 'gateway' && e.gateway) out.add(e.gateway.namespace);
  if (env.monitoring.enabled) out.add(env.monitoring.namespace);
  if (env.services.middleware.keda) out.add('keda');
  return out;
}

const NS_NAME = 'kubernetes.io/metadata.name';

/** A namespace a peer's namespaceSelector may select, with the labels it is known to carry. */
interface CandidateNamespace {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Outside the environment: a cluster add-on's namespace. */
  readonly external: boolean;
}

/**
 * The namespaces a peer can select: the environment's, with their rendered labels, and the known
 * dependencies', of which only the kubernetes.io/metadata.name label is known.
 */
function candidateNamespaces(objects: readonly Manifest[], env: EnvironmentConfig): CandidateNamespace[] {
  const labels = namespaceLabels(objects);
  const inEnv = environmentNamespaces(objects, env);
  return [
    ...[...inEnv].map((name) => ({ name, labels: labels.get(name) ?? { [NS_NAME]: name }, external: false })),
    ...[...knownExternalNamespaces(env)]
      .filter((name) => !inEnv.has(name))
      .map((name) => ({ name, labels: { [NS_NAME]: name }, external: true })),
  ];
}

/** A selector as text for messages. */
function showSelector(selector: unknown): string {
  return JSON.stringify(selector ?? {});
}

/** Whether a NetworkPolicy port (number or name, with protocol) is declared by a container of the pod. */
function declares(w: Workload, port: unknown, protocol: string): boolean {
  return allContainers(w.pod.spec).some((c) =>
    asArr(c.ports).some(
      (p) =>
        String(p.protocol ?? 'TCP') === protocol &&
        (typeof port === 'number' ? p.containerPort === port : p.name === String(port)),
    ),
  );
}

/**
 * Default deny everywhere, a policy for every pod, and no selector that selects nothing: a
 * policy's podSelector selects rendered pods; every peer's namespaceSelector selects a namespace
 * of the environment or of a known dependency (knownExternalNamespaces), and its podSelector
 * selects rendered pods there, or, outside the environment, the pods the environment documents
 * for that dependency (the cluster pods of src/inspect/reachability.ts: DNS, the ingress controller,
 * Prometheus, KEDA); every port an ingress rule opens is declared by a pod the policy selects.
 */
export const networkPolicyCoverageRule: Rule = {
  id: 'network-policy-coverage',
  reason:
    'Without a default deny a new pod is open to the whole cluster; a selector or port that matches nothing is a rule someone believes protects or allows something, and does not.',
  check(objects, env) {
    const out: Violation[] = [];
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    const pods = workloads(objects);
    const envNamespaces = environmentNamespaces(objects, env);
    const external = knownExternalNamespaces(env);
    const candidates = candidateNamespaces(objects, env);
    const clusterPods = endpoints(env, objects).filter((e) => e.kind === 'cluster-pod');
    for (const n of envNamespaces) {
      if (!policies.some((p) => nsOf(p) === n && isDefaultDeny(p))) {
        const anchor =
          objects.find((o) => o.kind === 'Namespace' && o.metadata.name === n) ??
          ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } } as Manifest);
        out.push(
          violation(
            'network-policy-coverage',
            anchor,
            'has no default-deny NetworkPolicy (empty podSelector, policyTypes Ingress and Egress, no rules)',
          ),
        );
      }
    }
    for (const w of pods) {
      const own = policies.some(
        (p) =>
          nsOf(p) === w.namespace &&
          !isEmptySelector(asObj(p.spec).podSelector) &&
          selectorMatches(asObj(p.spec).podSelector, w.pod.labels),
      );
      if (!own) {
        out.push(
          violation('network-policy-coverage', w.object, 'its pods are selected by no NetworkPolicy of their own'),
        );
      }
    }
    for (const p of policies) {
      const spec = asObj(p.spec);
      const add = (m: string) => out.push(violation('network-policy-coverage', p, m));
      const selected = pods.filter((w) => w.namespace === nsOf(p) && selectorMatches(spec.podSelector, w.pod.labels));
      if (!isEmptySelector(spec.podSelector) && selected.length === 0) {
        add('podSelector matches no rendered pod template');
      }
      for (const [i, r] of asArr(spec.ingress).entries()) {
        for (const [j, port] of asArr(r.ports).entries()) {
          if (port.port === undefined || port.endPort !== undefined || selected.length === 0) continue;
          const protocol = String(port.protocol ?? 'TCP');
          if (!selected.some((w) => declares(w, port.port, protocol))) {
            add(
              `ingress[${i}].ports[${j}] opens ${String(port.port)}/${protocol}, which no pod the policy selects declares (${selected.map((w) => `${w.object.kind} ${w.object.metadata.name}`).join(', ')})`,
            );
          }
        }
      }
      const peers: [string, Json][] = [
        ...asArr(spec.ingress).flatMap((r, i) =>
          asArr(r.from).map((x, j): [string, Json] => [`ingress[${i}].from[${j}]`, x]),
        ),
        ...asArr(spec.egress).flatMap((r, i) =>
          asArr(r.to).map((x, j): [string, Json] => [`egress[${i}].to[${j}]`, x]),
        ),
      ];
      for (const [where, peer] of peers) {
        if (peer.ipBlock !== undefined) continue;
        let namespaces: CandidateNamespace[] = candidates.filter((c) => c.name === nsOf(p));
        if (peer.namespaceSelector !== undefined) {
          const pinned = asStrRecord(asObj(peer.namespaceSelector).matchLabels)[NS_NAME];
          if (pinned !== undefined && !envNamespaces.has(pinned) && !external.has(pinned)) {
            add(
              `${where} names namespace ${pinned}, which is neither in the environment nor a known dependency (${[...external].join(', ')})`,
            );
            continue;
          }
          namespaces = candidates.filter((c) => selectorMatches(peer.namespaceSelector, c.labels));
          if (namespaces.length === 0) {
            add(
              `${where} namespaceSelector ${showSelector(peer.namespaceSelector)} selects no namespace of the environment nor a known dependency (${candidates.map((c) => c.name).join(', ')})`,
            );
            continue;
          }
        }
        if (peer.podSelector === undefined || isEmptySelector(peer.podSelector)) continue;
        const inEnv = namespaces.filter((c) => !c.external).map((c) => c.name);
        const outside = namespaces.filter((c) => c.external).map((c) => c.name);
        const documented = clusterPods.filter((e) => e.namespace !== undefined && outside.includes(e.namespace));
        // A dependency whose pods the environment does not describe (a Gateway's) is matched by namespace only.
        if (outside.some((n) => !documented.some((e) => e.namespace === n))) continue;
        const matches =
          pods.some((w) => inEnv.includes(w.namespace) && selectorMatches(peer.podSelector, w.pod.labels)) ||
          documented.some((e) => selectorMatches(peer.podSelector, e.labels ?? {}));
        if (matches) continue;
        if (outside.length === 0) {
          add(`${where} podSelector matches no rendered pod template in ${inEnv.join(', ')}`);
        } else {
          add(
            `${where} podSelector ${showSelector(peer.podSelector)} matches no ${inEnv.length > 0 ? `rendered pod template in ${inEnv.join(', ')} nor ` : ''}pod the environment documents in ${outside.join(', ')} (${documented.map((e) => `${e.name}: ${showSelector(e.labels)}`).join('; ')})`,
          );
        }
      }
    }
    return out;
  },
};
