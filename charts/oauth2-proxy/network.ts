/** What oauth2-proxy needs from the network: the entry point's controller in, the frontend and Google out. */
import type { AppNetworkPolicyProps, NetworkPeer, NetworkRule } from '../common/app-network-policy';
import { policy, portOf, type NetworkContext } from '../common/network';
import { selectorLabels } from '../common/pod-spec';
import { oauth2Proxy } from './definition';
import type { OAuth2ProxyPlan } from './plan';

/** Private ranges: oauth2-proxy may reach the internet (Google) but not the cluster through them. */
export const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

/** The rule that lets oauth2-proxy reach its users' traffic (the frontend's side of it). */
export function fromOAuth2Proxy(ctx: NetworkContext, port: number): NetworkRule {
  return { peers: [{ podLabels: selectorLabels(oauth2Proxy.name, ctx.platform) }], ports: [{ port }] };
}

/** oauth2-proxy's policy; `upstream` is the frontend's pods and port. */
export function oauth2ProxyNetwork(
  ctx: NetworkContext,
  plan: OAuth2ProxyPlan,
  upstream: { readonly peer: NetworkPeer; readonly port: number },
): AppNetworkPolicyProps[] {
  const e = plan.entrypoint;
  const fromEdge: NetworkRule[] =
    e.mode === 'port-forward' || !e.controllerNamespace || !e.controllerPodLabels
      ? []
      : [
          {
            peers: [{ podLabels: e.controllerPodLabels, namespace: e.controllerNamespace }],
            ports: [{ port: portOf(oauth2Proxy, 'http') }],
          },
        ];
  return [
    policy(
      ctx.platform,
      oauth2Proxy.name,
      ctx.platform.namespaces.app,
      selectorLabels(oauth2Proxy.name, ctx.platform),
      [...fromEdge, ...ctx.scrape(portOf(oauth2Proxy, 'metrics'))],
      [
        { peers: [upstream.peer], ports: [{ port: upstream.port }] },
        // Google's OAuth endpoints; NetworkPolicy cannot name hosts, so: HTTPS to public addresses only.
        { peers: [{ cidr: '0.0.0.0/0', except: PRIVATE_RANGES }], ports: [{ port: 443 }] },
        ctx.dns,
      ],
    ),
  ];
}
