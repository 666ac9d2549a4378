/**
 * What the monitoring component renders for an environment, assembled from the components: the
 * alerts of each component's alerts.ts in the PrometheusRule's order, and the pods Prometheus scrapes.
 */
import type { AlertDefinition } from '../charts/common/alerts';
import { executorsAlerts } from '../charts/executors/alerts';
import { frontend } from '../charts/frontend/definition';
import { middleware } from '../charts/middleware/definition';
import { deploymentAlerts } from '../charts/monitoring/platform-monitoring';
import type { ScrapeTarget } from '../charts/monitoring/platform-monitoring';
import { natsAlerts } from '../charts/nats/alerts';
import { nats } from '../charts/nats/definition';
import { oauth2ProxyAlerts } from '../charts/oauth2-proxy/alerts';
import { oauth2Proxy } from '../charts/oauth2-proxy/definition';
import type { EnvironmentConfig } from './environment';
import { planPlatform, type PlatformPlans } from './plans';

/** Every alert of an environment's PrometheusRule. */
export function platformAlerts(env: EnvironmentConfig, plans: PlatformPlans = planPlatform(env)): AlertDefinition[] {
  const app = env.namespaces.app;
  return [
    ...natsAlerts(plans.nats),
    ...executorsAlerts(plans.executors),
    ...deploymentAlerts(app, [middleware.name, frontend.name, oauth2Proxy.name]),
    ...oauth2ProxyAlerts(app),
  ];
}

/** The pods whose `metrics` port Prometheus scrapes: NATS's exporter sidecar and oauth2-proxy. */
export function scrapeTargets(plans: PlatformPlans): ScrapeTarget[] {
  return [
    { name: plans.nats.name, component: nats.component },
    { name: oauth2Proxy.name, component: oauth2Proxy.component },
  ];
}
