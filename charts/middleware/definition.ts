import type { ServiceDefinition } from '../common/service-definition';

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
  runAsUser: 65532,
  writablePaths: [],
  needsApiToken: true,
};
