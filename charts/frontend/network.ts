/** What the frontend needs from the network: oauth2-proxy in, NATS and DNS out. */
import type { AppNetworkPolicyProps, NetworkRule } from '../common/app-network-policy';
import { policy, portOf, type NetworkContext } from '../common/network';
import { selectorLabels } from '../common/pod-spec';
import { frontend } from './definition';

/** The frontend's HTTP port (oauth2-proxy's upstream). */
export const FRONTEND_HTTP_PORT = portOf(frontend, 'http');

/** The frontend's policy: `callers` may reach its HTTP port; it reaches `nats`. */
export function frontendNetwork(ctx: NetworkContext, callers: NetworkRule, nats: NetworkRule): AppNetworkPolicyProps[] {
  return [
    policy(
      ctx.platform,
      frontend.name,
      ctx.platform.namespaces.app,
      selectorLabels(frontend.name, ctx.platform),
      [callers],
      [nats, ctx.dns],
    ),
  ];
}
