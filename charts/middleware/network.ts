/** What the middleware needs from the network: NATS, the API server (it creates executor pods) and DNS. */
import type { AppNetworkPolicyProps, NetworkPeer, NetworkRule } from '../common/app-network-policy';
import { policy, type NetworkContext } from '../common/network';
import { selectorLabels } from '../common/pod-spec';
import { middleware } from './definition';
import type { MiddlewarePlan } from './plan';

/** KEDA's operator pods, as its standard install labels them. */
export const KEDA_OPERATOR: NetworkPeer = { podLabels: { app: 'keda-operator' }, namespace: 'keda' };

/** Who reads NATS's monitoring port for the middleware: KEDA, when it scales it. */
export function natsMonitorReaders(plan: MiddlewarePlan): NetworkPeer[] {
  return plan.config.keda ? [KEDA_OPERATOR] : [];
}

/** The middleware's policy: nothing in; NATS, the API server and DNS out. */
export function middlewareNetwork(ctx: NetworkContext, nats: NetworkRule): AppNetworkPolicyProps[] {
  return [
    policy(
      ctx.platform,
      middleware.name,
      ctx.platform.namespaces.app,
      selectorLabels(middleware.name, ctx.platform),
      [],
      [nats, ctx.apiServer, ctx.dns],
    ),
  ];
}
