import type { ServiceDefinition } from '../common/service-definition';

/**
 * oauth2-proxy with the Google provider: the platform's only entry point.
 * Official image (distroless, runs as 65532). Credentials come from a Secret that is never in git
 * (keys client-id, client-secret, cookie-secret); every replica reads the same cookie secret, so a
 * session cookie issued by one replica is valid on all of them.
 */
export const oauth2Proxy: ServiceDefinition = {
  name: 'oauth2-proxy',
  component: 'auth-proxy',
  description: 'Google OAuth entry point; proxies signed-in users to the frontend.',
  ports: [
    { name: 'http', containerPort: 4180, servicePort: 80 },
    { name: 'metrics', containerPort: 44180 },
  ],
  probes: {
    readiness: { path: '/ready', port: 'http', periodSeconds: 10, failureThreshold: 3 },
    liveness: { path: '/ping', port: 'http', periodSeconds: 20, failureThreshold: 3 },
  },
  runAsUser: 65532,
  writablePaths: [],
  needsApiToken: false,
};
