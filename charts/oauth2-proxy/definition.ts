import type { ServiceDefinition } from '../common/service-definition';
import { publicUrl, serviceHost } from '../common/service-definition';
import { frontend } from '../frontend/definition';

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
  defaultResources: {
    requests: { cpu: '50m', memory: '64Mi' },
    limits: { cpu: '200m', memory: '128Mi' },
  },
  runAsUser: 65532,
  writablePaths: [],
  usesNats: false,
  needsApiToken: false,
  args: (env) => [
    '--provider=google',
    '--http-address=0.0.0.0:4180',
    '--metrics-address=0.0.0.0:44180',
    `--upstream=http://${serviceHost(env, frontend.name)}:80/`,
    `--redirect-url=${publicUrl(env)}/oauth2/callback`,
    ...env.oauth2Proxy.emailDomains.map((d) => `--email-domain=${d}`),
    '--reverse-proxy=true',
    ...env.entrypoint.trustedProxyCidrs.map((c) => `--trusted-proxy-ip=${c}`),
    `--cookie-secure=${String(env.tls)}`,
    '--cookie-httponly=true',
    '--cookie-samesite=lax',
    `--cookie-refresh=${env.oauth2Proxy.cookieRefresh}`,
    `--cookie-expire=${env.oauth2Proxy.cookieExpire}`,
    '--code-challenge-method=S256',
    '--skip-provider-button=true',
    '--silence-ping-logging=true',
  ],
  env: (env) => [
    { name: 'OAUTH2_PROXY_CLIENT_ID', secretName: env.secrets.oauth2Proxy, secretKey: 'client-id' },
    { name: 'OAUTH2_PROXY_CLIENT_SECRET', secretName: env.secrets.oauth2Proxy, secretKey: 'client-secret' },
    { name: 'OAUTH2_PROXY_COOKIE_SECRET', secretName: env.secrets.oauth2Proxy, secretKey: 'cookie-secret' },
  ],
};
