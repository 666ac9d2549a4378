/**
 * Who may talk to whom, as NetworkPolicies, assembled from what each component declares it needs
 * (network.ts in its folder). Reproduces the original three networks:
 *   frontend network: entry point -> oauth2-proxy -> frontend;
 *   common network:   frontend, middleware -> NATS;
 *   executor network: executors -> NATS only.
 * Plus what Kubernetes itself needs: DNS for everyone who connects out, the API server for the
 * middleware and the executor reaper, NATS routes between NATS servers, Google for oauth2-proxy, and Prometheus scrapes.
 */
import type { EnvironmentConfig } from './environment';
import { planPlatform, type PlatformPlans } from './plans';
import type { AppNetworkPolicyProps, NetworkRule } from '../charts/common/app-network-policy';
import { denyAll, podsOf, type NetworkContext } from '../charts/common/network';
import { reaperNetwork } from '../charts/executor-reaper/network';
import { executorPods, executorsNetwork } from '../charts/executors/network';
import { frontend } from '../charts/frontend/definition';
import { FRONTEND_HTTP_PORT, frontendNetwork } from '../charts/frontend/network';
import { middleware } from '../charts/middleware/definition';
import { middlewareNetwork, natsMonitorReaders } from '../charts/middleware/network';
import { natsClientRule, natsClientRuleFrom, natsNetwork } from '../charts/nats/network';
import { fromOAuth2Proxy, oauth2ProxyNetwork } from '../charts/oauth2-proxy/network';

/** The context every component's network.ts declares its policies with. */
function networkContext(env: EnvironmentConfig): NetworkContext {
  const prometheus = { podLabels: env.monitoring.prometheusPodLabels, namespace: env.monitoring.namespace };
  return {
    platform: env,
    dns: {
      peers: [{ podLabels: env.network.dnsPodLabels, namespace: env.network.dnsNamespace }],
      ports: [
        { port: 53, protocol: 'UDP' },
        { port: 53, protocol: 'TCP' },
      ],
    },
    apiServer: {
      peers: env.network.apiServerCidrs.map((cidr) => ({ cidr })),
      ports: [{ port: env.network.apiServerPort }],
    },
    scrape: (port: number): NetworkRule[] =>
      env.monitoring.enabled ? [{ peers: [prometheus], ports: [{ port }] }] : [],
  };
}

/** NetworkPolicies per dist/<env>/ folder. */
export function networkPlan(
  env: EnvironmentConfig,
  plans: PlatformPlans = planPlatform(env),
): Record<string, AppNetworkPolicyProps[]> {
  const ctx = networkContext(env);
  const nats = natsClientRule(ctx, plans.nats);
  return {
    namespaces: [denyAll(env, env.namespaces.app)],
    'oauth2-proxy': oauth2ProxyNetwork(ctx, plans.oauth2Proxy, {
      peer: podsOf(env, frontend.name),
      port: FRONTEND_HTTP_PORT,
    }),
    frontend: frontendNetwork(ctx, fromOAuth2Proxy(ctx, FRONTEND_HTTP_PORT), nats),
    middleware: middlewareNetwork(ctx, nats),
    'executor-reaper': reaperNetwork(ctx),
    nats: natsNetwork(
      ctx,
      plans.nats,
      [podsOf(env, frontend.name), podsOf(env, middleware.name), executorPods(plans.executors)],
      natsMonitorReaders(plans.middleware),
    ),
    executors: executorsNetwork(ctx, plans.executors, natsClientRuleFrom(ctx, plans.nats)),
  };
}
