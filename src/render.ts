/**
 * Turns one validated environment into files: `dist/<env>/<app>/<kind>-<name>.yaml` for the
 * platform and `argocd/<env>/...` for the Argo CD objects. Pure: nothing here touches the disk.
 */
import { App, Chart } from 'cdk8s';
import { renderArgoCd } from './argocd';
import { capacityProblems, capacityReport } from './capacity';
import type { EnvironmentConfig } from './config';
import { ConfigError } from './config';
import { fileName, type Manifest } from './manifest';
import { environmentReport } from './report';
import { toYaml } from './yaml-writer';
import { frontend } from '../apps/frontend';
import { middleware } from '../apps/middleware';
import { oauth2Proxy } from '../apps/oauth2-proxy';
import { EXECUTORS } from '../apps/executors';
import {
  AppNetworkPolicy,
  EntryPoint,
  ExecutorAdmissionPolicy,
  ExecutorLauncherRole,
  ExecutorReaper,
  ExecutorSandbox,
  ExecutorTemplate,
  MiddlewareScaler,
  NatsCluster,
  networkPlan,
  PlatformMonitoring,
  PlatformNamespace,
  PlatformSecrets,
  PRIORITY,
  PriorityClasses,
  StatelessService,
} from '../charts';

/** The files of one environment, keyed by path relative to the repository root. */
export interface EnvironmentRender {
  readonly env: EnvironmentConfig;
  readonly files: ReadonlyMap<string, string>;
  /** Number of Kubernetes objects under dist/<env>. */
  readonly objectCount: number;
  /** The platform objects under dist/<env>, as rendered (for checks across environments). */
  readonly objects: readonly Manifest[];
}

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

/** Renders one environment to files (platform and Argo CD). */
export function renderEnvironment(env: EnvironmentConfig): EnvironmentRender {
  const files = new Map<string, string>();
  const header = `# Generated by 'npm run synth' from ${env.sourceFile} - do not edit; change the sources and re-run.\n`;
  const all: Manifest[] = [];
  for (const chart of buildPlatform(env).charts) {
    const folder = chart.node.id;
    const wave = SYNC_WAVES[folder];
    if (wave === undefined) throw new Error(`chart '${folder}' has no sync wave in SYNC_WAVES`);
    for (const raw of chart.toJson() as Manifest[]) {
      const obj = withSyncWave(raw, wave);
      all.push(obj);
      addFile(files, `dist/${env.name}/${folder}/${fileName(obj)}`, header + toYaml(obj));
    }
  }
  const capacity = capacityReport(env, all);
  const problems = capacityProblems(capacity, env);
  if (problems.length > 0) {
    throw new ConfigError(problems.map((p) => ({ file: env.sourceFile, path: p.path, message: p.message })));
  }
  addFile(files, `dist/${env.name}/README.md`, environmentReport(env, all, capacity));
  for (const obj of renderArgoCd(env, all)) {
    const sub = obj.metadata.name.endsWith('-bootstrap') ? 'bootstrap/' : '';
    addFile(files, `argocd/${env.name}/${sub}${fileName(obj)}`, header + toYaml(obj));
  }
  return { env, files, objectCount: all.length, objects: all };
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

function addFile(files: Map<string, string>, path: string, content: string): void {
  if (files.has(path)) {
    throw new Error(`two objects render to ${path}; give them different names or put them in different charts`);
  }
  files.set(path, content);
}
