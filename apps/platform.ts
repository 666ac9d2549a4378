/**
 * The composition: the cdk8s App of one environment. It plans every component (apps/plans.ts),
 * builds each component's Chart from its plan and the references it needs, in the order of their
 * sync waves, and adds each component's NetworkPolicies (apps/network-plan.ts). Pure: nothing
 * here touches the disk. Adding a component is one line here.
 */
import { App } from 'cdk8s';
import type { EnvironmentConfig } from './environment';
import type { Manifest } from '../src/model/objects';
import { platformAlerts, scrapeTargets } from './alerts';
import { networkPlan } from './network-plan';
import { planPlatform } from './plans';
import { AppNetworkPolicy } from '../charts/common/app-network-policy';
import type { ComponentChart } from '../charts/common/component-chart';
import { renderArgoCd } from '../charts/argocd/chart';
import { ExecutorReaperChart } from '../charts/executor-reaper/chart';
import { ExecutorsChart } from '../charts/executors/chart';
import { FrontendChart } from '../charts/frontend/chart';
import { MiddlewareChart } from '../charts/middleware/chart';
import { MonitoringChart } from '../charts/monitoring/chart';
import { NamespacesChart } from '../charts/namespaces/chart';
import { PRIORITY } from '../charts/namespaces/priority-classes';
import { NatsChart } from '../charts/nats/chart';
import { OAuth2ProxyChart } from '../charts/oauth2-proxy/chart';
import { SecretsChart } from '../charts/secrets/chart';

/** Builds the cdk8s app of one environment: one Chart per component, one folder of dist/<env>/ each. */
export function buildPlatform(env: EnvironmentConfig): App {
  const app = new App({ outdir: '.build/unused' });
  const plans = planPlatform(env);
  const platform = env;
  const charts: ComponentChart[] = [
    new NamespacesChart(app, { platform }),
    new SecretsChart(app, { platform, secrets: env.secrets, natsKeys: plans.nats.credentialKeys }),
    new ExecutorsChart(app, { platform, plan: plans.executors, priorityClassName: PRIORITY.executor.name }),
    new ExecutorReaperChart(app, { platform, reaper: env.executorReaper }),
    new NatsChart(app, { platform, plan: plans.nats, priorityClassName: PRIORITY.messaging.name }),
    new FrontendChart(app, { platform, plan: plans.frontend, priorityClassName: PRIORITY.service.name }),
    new MiddlewareChart(app, { platform, plan: plans.middleware, priorityClassName: PRIORITY.service.name }),
    new OAuth2ProxyChart(app, { platform, plan: plans.oauth2Proxy, priorityClassName: PRIORITY.service.name }),
    ...(env.monitoring.enabled
      ? [
          new MonitoringChart(app, {
            platform,
            monitoring: env.monitoring,
            targets: scrapeTargets(plans),
            alerts: platformAlerts(env, plans),
          }),
        ]
      : []),
  ];
  const byFolder = new Map(charts.map((c) => [c.node.id, c]));
  for (const [folder, policies] of Object.entries(networkPlan(env, plans))) {
    const chart = byFolder.get(folder);
    if (!chart) throw new Error(`network plan names folder '${folder}', which no component chart renders`);
    for (const p of policies) new AppNetworkPolicy(chart, `policy-${p.namespace}-${p.name}`, p);
  }
  return app;
}

/** The platform objects of one environment, folder by folder, each with its chart's sync wave annotation. */
export function platformObjects(env: EnvironmentConfig): { readonly folder: string; readonly objects: Manifest[] }[] {
  return buildPlatform(env).charts.map((chart) => {
    const wave = (chart as ComponentChart).syncWave;
    if (typeof wave !== 'number') throw new Error(`chart '${chart.node.id}' has no sync wave`);
    return { folder: chart.node.id, objects: (chart.toJson() as Manifest[]).map((raw) => withSyncWave(raw, wave)) };
  });
}

/** The Argo CD objects of one environment (argocd/<env>/), given its platform objects. */
export function argocdObjects(env: EnvironmentConfig, platform: readonly Manifest[]): Manifest[] {
  return renderArgoCd(env, env.argocd, platform);
}

/**
 * Client-side apply keeps the whole object in the last-applied-configuration annotation, which
 * may not exceed 256 KiB; objects past this size sync with server-side apply instead.
 */
export const SERVER_SIDE_APPLY_BYTES = 128 * 1024;

/** The chart's wave on `obj`, unless the object names its own (a Rollout, which goes last). */
function withSyncWave(obj: Manifest, wave: number): Manifest {
  const metadata = obj.metadata as { annotations?: Record<string, string> } & Manifest['metadata'];
  const large = JSON.stringify(obj).length > SERVER_SIDE_APPLY_BYTES;
  return {
    ...obj,
    metadata: {
      ...metadata,
      annotations: {
        ...metadata.annotations,
        'argocd.argoproj.io/sync-wave': metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? String(wave),
        ...(large ? { 'argocd.argoproj.io/sync-options': 'ServerSideApply=true' } : {}),
      },
    },
  };
}
