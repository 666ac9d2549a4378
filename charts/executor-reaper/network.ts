/** What the executor reaper needs from the network: the API server and nothing else. */
import type { AppNetworkPolicyProps } from '../common/app-network-policy';
import { policy, type NetworkContext } from '../common/network';
import { selectorLabels } from '../common/pod-spec';
import { REAPER_NAME } from './script';

/** The reaper's policy: no DNS either (KUBERNETES_SERVICE_HOST is an IP). */
export function reaperNetwork(ctx: NetworkContext): AppNetworkPolicyProps[] {
  return [
    policy(
      ctx.platform,
      REAPER_NAME,
      ctx.platform.namespaces.app,
      selectorLabels(REAPER_NAME, ctx.platform),
      [],
      [ctx.apiServer],
    ),
  ];
}
