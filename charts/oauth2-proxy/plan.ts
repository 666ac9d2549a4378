/** oauth2-proxy's plan: its settings, size, arguments and credentials, derived once from the environment. */
import type { PlatformConfig } from '../../src/model/platform';
import type { ServiceConfig } from '../../src/model/schema';
import { planCanary } from '../common/canary';
import { publicUrl, type ServicePlan } from '../common/service-definition';
import type { FrontendPlan } from '../frontend/plan';
import { oauth2ProxyCanaryQuery } from './analysis';
import { oauth2Proxy } from './definition';
import { OAUTH2_PROXY_DEFAULT_RESOURCES, type EntrypointConfig, type OAuth2ProxySettings } from './schema';

/** oauth2-proxy's facts. */
export interface OAuth2ProxyPlan extends ServicePlan {
  /** How users reach it. */
  readonly entrypoint: EntrypointConfig;
  /** The Service port the entry point routes to. */
  readonly servicePort: number;
}

/**
 * Plans oauth2-proxy: Google sign-in in front of the frontend, credentials from `credentialsSecret`;
 * released as a canary (judged by its canary pods' 5xx ratio) where the tier or its file says so.
 */
export function planOAuth2Proxy(
  platform: PlatformConfig,
  config: ServiceConfig,
  settings: OAuth2ProxySettings,
  entrypoint: EntrypointConfig,
  frontend: FrontendPlan,
  credentialsSecret: string,
  prometheusUrl: string,
): OAuth2ProxyPlan {
  const canary = planCanary(platform.tier, config.canary, {
    prometheusUrl,
    query: (w) => oauth2ProxyCanaryQuery(platform.namespaces.app, w),
  });
  const servicePort = oauth2Proxy.ports.find((p) => p.name === 'http')?.servicePort;
  if (servicePort === undefined) throw new Error('oauth2-proxy definition has no http servicePort');
  return {
    config,
    resources: config.resources ?? OAUTH2_PROXY_DEFAULT_RESOURCES,
    args: [
      '--provider=google',
      '--http-address=0.0.0.0:4180',
      '--metrics-address=0.0.0.0:44180',
      `--upstream=${frontend.url}`,
      `--redirect-url=${publicUrl(platform)}/oauth2/callback`,
      ...settings.emailDomains.map((d) => `--email-domain=${d}`),
      '--reverse-proxy=true',
      ...entrypoint.trustedProxyCidrs.map((c) => `--trusted-proxy-ip=${c}`),
      `--cookie-secure=${String(platform.tls)}`,
      '--cookie-httponly=true',
      '--cookie-samesite=lax',
      `--cookie-refresh=${settings.cookieRefresh}`,
      `--cookie-expire=${settings.cookieExpire}`,
      '--code-challenge-method=S256',
      '--skip-provider-button=true',
      '--silence-ping-logging=true',
    ],
    env: [
      { name: 'OAUTH2_PROXY_CLIENT_ID', secretName: credentialsSecret, secretKey: 'client-id' },
      { name: 'OAUTH2_PROXY_CLIENT_SECRET', secretName: credentialsSecret, secretKey: 'client-secret' },
      { name: 'OAUTH2_PROXY_COOKIE_SECRET', secretName: credentialsSecret, secretKey: 'cookie-secret' },
    ],
    replicasManagedExternally: false,
    ...(canary ? { canary } : {}),
    entrypoint,
    servicePort,
  };
}
