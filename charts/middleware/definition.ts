import type { ServiceDefinition } from '../common/service-definition';
import { natsClientEnv } from '../common/service-definition';
import { EXECUTOR_QUEUES } from '../executors/definition';

/**
 * The Go middleware. Subscribes (as a queue group) to cola.go, cola.javascript and cola.c,
 * records each job as Pending in the user's KV bucket and creates one executor pod per job
 * in the executor namespace from the PodTemplate of the job's language.
 * Image contract: serves GET /healthz (process up) and /readyz (NATS connected) on 8080.
 */
export const middleware: ServiceDefinition = {
  name: 'middleware',
  component: 'job-dispatcher',
  description: 'Consumes the job queues and launches executor pods through the Kubernetes API.',
  ports: [{ name: 'http', containerPort: 8080 }],
  probes: {
    readiness: { path: '/readyz', port: 'http', periodSeconds: 10, failureThreshold: 3 },
    liveness: { path: '/healthz', port: 'http', periodSeconds: 20, failureThreshold: 3 },
  },
  defaultResources: {
    requests: { cpu: '50m', memory: '64Mi' },
    limits: { cpu: '250m', memory: '128Mi' },
  },
  runAsUser: 65532,
  writablePaths: [],
  usesNats: true,
  needsApiToken: true,
  args: () => [],
  env: (env) => [
    ...natsClientEnv(env, 'middleware', env.secrets.nats, 'middleware-password'),
    { name: 'NATS_QUEUES', value: EXECUTOR_QUEUES.join(',') },
    { name: 'NATS_QUEUE_GROUP', value: 'middleware' },
    // Replicas of the KV buckets and object stores the middleware creates: as many as NATS servers,
    // so a clustered JetStream keeps every user's data when one server is lost.
    { name: 'NATS_JETSTREAM_REPLICAS', value: String(env.services.nats.replicas) },
    { name: 'EXECUTOR_NAMESPACE', value: env.namespaces.executor },
    { name: 'EXECUTOR_TEMPLATE_PREFIX', value: 'executor-' },
    { name: 'EXECUTOR_MAX_CONCURRENT', value: String(env.executors.maxConcurrentJobs) },
  ],
};
