/** What NATS needs from the network: its clients in, routes between servers, scrapes, KEDA's lag polls. */
import type { AppNetworkPolicyProps, NetworkPeer, NetworkRule } from '../common/app-network-policy';
import { podsOf, policy, portOf, type NetworkContext } from '../common/network';
import { selectorLabels } from '../common/pod-spec';
import { nats } from './definition';
import type { NatsPlan } from './plan';

/** The rule a NATS client needs to reach the servers from the app namespace. */
export function natsClientRule(ctx: NetworkContext, plan: NatsPlan): NetworkRule {
  return { peers: [podsOf(ctx.platform, plan.name)], ports: [{ port: portOf(nats, 'client') }] };
}

/** The same, for clients in another namespace. */
export function natsClientRuleFrom(ctx: NetworkContext, plan: NatsPlan): NetworkRule {
  return {
    peers: [{ podLabels: selectorLabels(plan.name, ctx.platform), namespace: plan.namespace }],
    ports: [{ port: portOf(nats, 'client') }],
  };
}

/**
 * NATS's policy. `clients` may connect; `monitorReaders` (KEDA, when it scales the middleware) may
 * read the monitoring port.
 */
export function natsNetwork(
  ctx: NetworkContext,
  plan: NatsPlan,
  clients: readonly NetworkPeer[],
  monitorReaders: readonly NetworkPeer[],
): AppNetworkPolicyProps[] {
  const self = podsOf(ctx.platform, plan.name);
  const routes: NetworkRule[] = plan.clustered ? [{ peers: [self], ports: [{ port: portOf(nats, 'cluster') }] }] : [];
  return [
    policy(
      ctx.platform,
      plan.name,
      plan.namespace,
      selectorLabels(plan.name, ctx.platform),
      [
        { peers: [...clients], ports: [{ port: portOf(nats, 'client') }] },
        ...routes,
        ...ctx.scrape(portOf({ ports: nats.exporterPorts }, 'metrics')),
        // KEDA polls JetStream consumer lag from the monitoring port when it scales the middleware.
        ...(monitorReaders.length > 0
          ? [{ peers: [...monitorReaders], ports: [{ port: portOf(nats, 'monitor') }] }]
          : []),
      ],
      [...routes, ctx.dns],
    ),
  ];
}
