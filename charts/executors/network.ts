/** What the executors need from the network: NATS and DNS, nothing else; everything else in their namespace is denied. */
import type { AppNetworkPolicyProps, NetworkPeer, NetworkRule } from '../common/app-network-policy';
import { denyAll, policy, type NetworkContext } from '../common/network';
import type { ExecutorsPlan } from './plan';

/** The executor pods as a peer (from other namespaces). */
export function executorPods(plan: ExecutorsPlan): NetworkPeer {
  return { podLabels: { ...plan.selector }, namespace: plan.namespace };
}

/** The executor namespace's policies: deny all, then NATS and DNS out for executor pods. */
export function executorsNetwork(ctx: NetworkContext, plan: ExecutorsPlan, nats: NetworkRule): AppNetworkPolicyProps[] {
  return [
    denyAll(ctx.platform, plan.namespace),
    policy(ctx.platform, 'executor', plan.namespace, { ...plan.selector }, [], [nats, ctx.dns]),
  ];
}
