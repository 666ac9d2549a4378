/**
 * Network rules: every namespace starts from deny-all, every pod has its own policy, and no
 * selector in a policy is a dead letter. What the policies allow, flow by flow, is asserted by
 * test/policy/reachability.test.ts.
 */
import type { EnvironmentConfig } from '../../../src/config';
import type { K8sObject } from '../../support/committed';
import {
  asArr,
  asObj,
  asStrArr,
  asStrRecord,
  environmentNamespaces,
  isEmptySelector,
  nsOf,
  selectorMatches,
  violation,
  workloads,
  type Json,
  type Rule,
  type Violation,
} from './core';

/** The policy types a NetworkPolicy has, with the API server's default. */
export function policyTypes(p: K8sObject): string[] {
  const spec = asObj(p.spec);
  if (spec.policyTypes !== undefined) return asStrArr(spec.policyTypes);
  return ['Ingress', ...(spec.egress !== undefined ? ['Egress'] : [])];
}

/** Empty podSelector, both policy types, no rules: the namespace's default deny. */
export function isDefaultDeny(p: K8sObject): boolean {
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

/** Default deny everywhere, a policy for every pod, and no selector that selects nothing. */
export const networkPolicyCoverageRule: Rule = {
  id: 'network-policy-coverage',
  reason:
    'Without a default deny a new pod is open to the whole cluster; a selector that matches nothing is a rule someone believes protects or allows something, and does not.',
  check(objects, env) {
    const out: Violation[] = [];
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    const pods = workloads(objects);
    const envNamespaces = environmentNamespaces(objects, env);
    const external = knownExternalNamespaces(env);
    for (const n of envNamespaces) {
      if (!policies.some((p) => nsOf(p) === n && isDefaultDeny(p))) {
        const anchor =
          objects.find((o) => o.kind === 'Namespace' && o.metadata.name === n) ??
          ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } } as K8sObject);
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
      if (
        !isEmptySelector(spec.podSelector) &&
        !pods.some((w) => w.namespace === nsOf(p) && selectorMatches(spec.podSelector, w.pod.labels))
      ) {
        add('podSelector matches no rendered pod template');
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
        let namespace = nsOf(p);
        if (peer.namespaceSelector !== undefined) {
          const pinned = asStrRecord(asObj(peer.namespaceSelector).matchLabels)[NS_NAME];
          if (pinned === undefined) continue; // a broad namespace selector: cannot be checked against pods
          if (!envNamespaces.has(pinned)) {
            if (!external.has(pinned)) {
              add(
                `${where} names namespace ${pinned}, which is neither in the environment nor a known dependency (${[...external].join(', ')})`,
              );
            }
            continue; // pods outside the environment are matched by namespace only
          }
          namespace = pinned;
        }
        if (peer.podSelector === undefined || isEmptySelector(peer.podSelector)) continue;
        if (!pods.some((w) => w.namespace === namespace && selectorMatches(peer.podSelector, w.pod.labels))) {
          add(`${where} podSelector matches no rendered pod template in ${namespace}`);
        }
      }
    }
    return out;
  },
};
