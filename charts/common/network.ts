/**
 * What every component's network needs share: the rules most pods need (DNS, the API server,
 * Prometheus scrapes), how a component's pods are named as a peer, and how a NetworkPolicy is
 * made. Each component declares its own policies (network.ts in its folder) from this context;
 * the composition (apps/network-plan.ts) makes the context and assembles the plan.
 */
import type { PlatformConfig } from '../../src/model/platform';
import type { AppNetworkPolicyProps, NetworkPeer, NetworkRule } from './app-network-policy';
import { selectorLabels, standardLabels } from './pod-spec';

/** What a component's network.ts gets to declare its policies with. */
export interface NetworkContext {
  readonly platform: PlatformConfig;
  /** DNS (UDP and TCP 53 to the cluster DNS pods), for every pod that connects out by name. */
  readonly dns: NetworkRule;
  /** The Kubernetes API server. */
  readonly apiServer: NetworkRule;
  /** Prometheus scraping `port`; nothing when monitoring is off. */
  readonly scrape: (port: number) => NetworkRule[];
}

/** The pods of a workload named `name` in the app namespace (by its selector labels). */
export function podsOf(platform: PlatformConfig, name: string): NetworkPeer {
  return { podLabels: selectorLabels(name, platform) };
}

/** A NetworkPolicy's props, labelled as the platform labels every policy. */
export function policy(
  platform: PlatformConfig,
  name: string,
  namespace: string,
  podLabels: Record<string, string>,
  ingress: NetworkRule[],
  egress: NetworkRule[],
): AppNetworkPolicyProps {
  return { name, namespace, podLabels, ingress, egress, labels: standardLabels(name, 'network-policy', platform) };
}

/** The policy that denies everything not allowed by another policy in `namespace`. */
export function denyAll(platform: PlatformConfig, namespace: string): AppNetworkPolicyProps {
  return policy(platform, 'default-deny', namespace, {}, [], []);
}

/** The container port named `name` of a definition's ports. */
export function portOf(
  def: { readonly ports: readonly { name: string; containerPort: number }[] },
  name: string,
): number {
  const p = def.ports.find((x) => x.name === name);
  if (!p) throw new Error(`no port '${name}' in ${JSON.stringify(def.ports)}`);
  return p.containerPort;
}
