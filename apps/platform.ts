/**
 * The composition: builds the cdk8s App of one environment, one Chart per component folder of
 * dist/<env>/, and gives every object its component's Argo CD sync wave. Pure: nothing here
 * touches the disk.
 */
import { App, Chart } from 'cdk8s';
import type { EnvironmentConfig } from '../src/model/config';
import type { Manifest } from '../src/model/objects';
import { frontend } from '../charts/frontend/definition';
import { middleware } from '../charts/middleware/definition';
import { oauth2Proxy } from '../charts/oauth2-proxy/definition';
import { EXECUTORS } from '../charts/executors/definition';
import { AppNetworkPolicy } from '../charts/common/app-network-policy';
import { EntryPoint } from '../charts/oauth2-proxy/entry-point';
import { ExecutorAdmissionPolicy } from '../charts/executors/executor-admission-policy';
import { ExecutorLauncherRole } from '../charts/middleware/executor-launcher-role';
import { ExecutorReaper } from '../charts/executor-reaper/executor-reaper';
import { ExecutorSandbox } from '../charts/executors/executor-sandbox';
import { ExecutorTemplate } from '../charts/executors/executor-template';
import { MiddlewareScaler } from '../charts/middleware/middleware-scaler';
import { NatsCluster } from '../charts/nats/nats-cluster';
import { networkPlan } from './network-plan';
import { PlatformMonitoring } from '../charts/monitoring/platform-monitoring';
import { PlatformNamespace } from '../charts/namespaces/platform-namespace';
import { PlatformSecrets } from '../charts/secrets/platform-secrets';
import { PRIORITY, PriorityClasses } from '../charts/namespaces/priority-classes';
import { StatelessService } from '../charts/common/stateless-service';

/**
 * Argo CD sync waves, in the original start order: namespaces and guards first, then NATS,
 * then middleware and frontend, then the entry point.
 */
export const SYNC_WAVES: Readonly<Record<string, number>> = {
  namespaces: -1,
  secrets: 0,
  executors: 0,
  'executor-reaper': 1,
  nats: 1,
  middleware: 2,
  frontend: 2,
  'oauth2-proxy': 3,
  monitoring: 4,
};

/** Builds the cdk8s app of one environment: one Chart per folder of dist/<env>/. */
export function buildPlatform(env: EnvironmentConfig): App {
  const app = new App({ outdir: '.build/unused' });
  const charts = new Map<string, Chart>();
  const chart = (folder: string): Chart => {
    let c = charts.get(folder);
    if (!c) {
      c = new Chart(app, folder, { disableResourceNameHashes: true });
      charts.set(folder, c);
    }
    return c;
  };

  const namespaces = chart('namespaces');
  new PlatformNamespace(namespaces, 'app', { name: env.namespaces.app, env, component: 'platform' });
  new PlatformNamespace(namespaces, 'executor', { name: env.namespaces.executor, env, component: 'executors' });
  new PriorityClasses(namespaces, 'priorities', { env });

  new PlatformSecrets(chart('secrets'), 'secrets', { env });

  const executors = chart('executors');
  const sandbox = new ExecutorSandbox(executors, 'sandbox', { env });
  new ExecutorAdmissionPolicy(executors, 'guard', { env, serviceAccountName: sandbox.serviceAccountName });
  for (const executor of EXECUTORS) {
    new ExecutorTemplate(executors, executor.language, {
      executor,
      env,
      image: env.executors.images[executor.language],
      serviceAccountName: sandbox.serviceAccountName,
      priorityClassName: PRIORITY.executor.name,
    });
  }

  // After the executor namespace's objects: the reaper's Role and RoleBinding live there.
  new ExecutorReaper(chart('executor-reaper'), 'reaper', { env });

  const natsCluster = new NatsCluster(chart('nats'), 'nats', {
    env,
    config: env.services.nats,
    priorityClassName: PRIORITY.messaging.name,
  });

  new StatelessService(chart('frontend'), 'frontend', {
    definition: frontend,
    env,
    config: env.services.frontend,
    priorityClassName: PRIORITY.service.name,
  });

  const mw = chart('middleware');
  const dispatcher = new StatelessService(mw, 'middleware', {
    definition: middleware,
    env,
    config: env.services.middleware,
    priorityClassName: PRIORITY.service.name,
    replicasManagedExternally: env.services.middleware.keda !== undefined,
  });
  new ExecutorLauncherRole(mw, 'launcher', { env, serviceAccountName: dispatcher.serviceAccountName });
  new MiddlewareScaler(mw, 'scaler', {
    env,
    deploymentName: middleware.name,
    natsMonitoringEndpoint: `${natsCluster.headlessServiceName}.${env.namespaces.app}.svc.cluster.local:8222`,
  });

  const edge = chart('oauth2-proxy');
  new StatelessService(edge, 'oauth2-proxy', {
    definition: oauth2Proxy,
    env,
    config: env.services['oauth2-proxy'],
    priorityClassName: PRIORITY.service.name,
  });
  const httpPort = oauth2Proxy.ports.find((p) => p.name === 'http')?.servicePort;
  if (httpPort === undefined) throw new Error('oauth2-proxy definition has no http servicePort');
  new EntryPoint(edge, 'entry', { env, serviceName: oauth2Proxy.name, servicePort: httpPort });

  if (env.monitoring.enabled) new PlatformMonitoring(chart('monitoring'), 'monitoring', { env });

  for (const [folder, policies] of Object.entries(networkPlan(env))) {
    for (const p of policies) new AppNetworkPolicy(chart(folder), `policy-${p.namespace}-${p.name}`, p);
  }
  return app;
}

/** The platform objects of one environment, folder by folder, each with its sync wave annotation. */
export function platformObjects(env: EnvironmentConfig): { readonly folder: string; readonly objects: Manifest[] }[] {
  return buildPlatform(env).charts.map((chart) => {
    const folder = chart.node.id;
    const wave = SYNC_WAVES[folder];
    if (wave === undefined) throw new Error(`chart '${folder}' has no sync wave in SYNC_WAVES`);
    return { folder, objects: (chart.toJson() as Manifest[]).map((raw) => withSyncWave(raw, wave)) };
  });
}

/**
 * Client-side apply keeps the whole object in the last-applied-configuration annotation, which
 * may not exceed 256 KiB; objects past this size sync with server-side apply instead.
 */
export const SERVER_SIDE_APPLY_BYTES = 128 * 1024;

function withSyncWave(obj: Manifest, wave: number): Manifest {
  const metadata = obj.metadata as { annotations?: Record<string, string> } & Manifest['metadata'];
  const large = JSON.stringify(obj).length > SERVER_SIDE_APPLY_BYTES;
  return {
    ...obj,
    metadata: {
      ...metadata,
      annotations: {
        ...metadata.annotations,
        'argocd.argoproj.io/sync-wave': String(wave),
        ...(large ? { 'argocd.argoproj.io/sync-options': 'ServerSideApply=true' } : {}),
      },
    },
  };
}
