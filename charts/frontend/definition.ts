import type { ServiceDefinition } from '../common/service-definition';

/**
 * The Next.js (App Router) frontend. Server actions publish jobs to NATS and read job state
 * from the per-user KV bucket and outputs from the object store. Reachable only through oauth2-proxy.
 * Image contract: listens on 3000, serves GET /api/health, writes only to /app/.next/cache and /tmp.
 */
export const frontend: ServiceDefinition = {
  name: 'frontend',
  component: 'web',
  description: 'Next.js web UI and server actions; publishes jobs and reads results.',
  ports: [{ name: 'http', containerPort: 3000, servicePort: 80 }],
  probes: {
    startup: { path: '/api/health', port: 'http', periodSeconds: 5, failureThreshold: 24 },
    readiness: { path: '/api/health', port: 'http', periodSeconds: 10, failureThreshold: 3 },
    liveness: { path: '/api/health', port: 'http', periodSeconds: 20, failureThreshold: 3, timeoutSeconds: 5 },
  },
  runAsUser: 1001,
  writablePaths: [
    { name: 'next-cache', mountPath: '/app/.next/cache', sizeLimit: '256Mi' },
    { name: 'tmp', mountPath: '/tmp', sizeLimit: '64Mi' },
  ],
  needsApiToken: false,
};
