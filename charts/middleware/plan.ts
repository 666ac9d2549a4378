/** The middleware's plan: its settings, size and environment, derived once from the environment. */
import type { ServicePlan } from '../common/service-definition';
import { EXECUTOR_QUEUES, EXECUTOR_TEMPLATE_PREFIX, type ExecutorsPlan } from '../executors/plan';
import { natsCalloutEnv, natsClientEnv, type NatsPlan } from '../nats/plan';
import { MIDDLEWARE_DEFAULT_RESOURCES, type MiddlewareConfig } from './schema';

/** The middleware's facts. */
export interface MiddlewarePlan extends ServicePlan {
  /** The environment's `services.middleware` settings (KEDA included). */
  readonly config: MiddlewareConfig;
  /** The NATS monitoring endpoint KEDA reads consumer lag from. */
  readonly natsMonitoringEndpoint: string;
  /** The namespace it creates executor pods in. */
  readonly executorNamespace: string;
}

/**
 * Plans the middleware: a NATS client as user `middleware` that launches the executors' jobs and
 * answers the auth callout with each executor's per-job credential.
 */
export function planMiddleware(config: MiddlewareConfig, nats: NatsPlan, executors: ExecutorsPlan): MiddlewarePlan {
  return {
    config,
    resources: config.resources ?? MIDDLEWARE_DEFAULT_RESOURCES,
    args: [],
    env: [
      ...natsClientEnv(nats, 'middleware'),
      // The job's ticket is good until its pod's deadline, plus a minute for the pod to start.
      ...natsCalloutEnv(nats, executors.config.deadlineSeconds + 60),
      { name: 'NATS_QUEUES', value: EXECUTOR_QUEUES.join(',') },
      { name: 'NATS_QUEUE_GROUP', value: 'middleware' },
      // Replicas of the KV buckets and object stores the middleware creates: as many as NATS servers,
      // so a clustered JetStream keeps every user's data when one server is lost.
      { name: 'NATS_JETSTREAM_REPLICAS', value: String(nats.replicas) },
      { name: 'EXECUTOR_NAMESPACE', value: executors.namespace },
      { name: 'EXECUTOR_TEMPLATE_PREFIX', value: EXECUTOR_TEMPLATE_PREFIX },
      { name: 'EXECUTOR_MAX_CONCURRENT', value: String(executors.config.maxConcurrentJobs) },
    ],
    ...(nats.tls ? { natsCa: { secretName: nats.tls.secretName, mountPath: nats.caMountPath } } : {}),
    replicasManagedExternally: config.keda !== undefined,
    natsMonitoringEndpoint: nats.monitoringEndpoint,
    executorNamespace: executors.namespace,
  };
}
