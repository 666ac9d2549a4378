import type { ServiceDefinition } from './types';
import { publicUrl, serviceHost } from './types';
import { frontend } from './frontend';

/**
 * oauth2-proxy with the Google provider: the platform's only entry point.
 * Official image (distroless, runs as 65532). Credentials come from a Secret created outside git
 * with the keys client-id, client-secret and cookie-secret.
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
  defaultResources: {
    requests: { cpu: '50m', memory: '64Mi' },
    limits: { cpu: '200m', memory: '128Mi' },
  },
  runAsUser: 65532,
  writablePaths: [],
  needsApiToken: false,
  args: (env) => [
    '--provider=google',
    '--http-address=0.0.0.0:4180',
    '--metrics-address=0.0.0.0:44180',
    `--upstream=http://${serviceHost(env, frontend.name)}:80/`,
    `--redirect-url=${publicUrl(env)}/oauth2/callback`,
    '--email-domain=*',
    '--reverse-proxy=true',
    `--cookie-secure=${String(env.tls)}`,
    '--cookie-refresh=1h',
    '--cookie-expire=24h',
    '--skip-provider-button=true',
    '--silence-ping-logging=true',
  ],
  env: (env) => [
    { name: 'OAUTH2_PROXY_CLIENT_ID', secretName: env.secrets.oauth2Proxy, secretKey: 'client-id' },
    { name: 'OAUTH2_PROXY_CLIENT_SECRET', secretName: env.secrets.oauth2Proxy, secretKey: 'client-secret' },
    { name: 'OAUTH2_PROXY_COOKIE_SECRET', secretName: env.secrets.oauth2Proxy, secretKey: 'cookie-secret' },
  ],
};
