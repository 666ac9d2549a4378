/** oauth2-proxy's alerts: too many requests ending in 5xx. */
import type { AlertDefinition } from '../common/alerts';
import { OAUTH2_PROXY_REQUESTS } from './analysis';

/** OAuth2Proxy5xxRate needs at least this many requests a second (5m rate): 60 requests in the window. */
export const OAUTH2_MIN_REQUESTS_PER_SECOND = 0.2;

export function oauth2ProxyAlerts(namespace: string): AlertDefinition[] {
  const app = namespace;
  const proxyRate = (code: string) => `sum(rate(${OAUTH2_PROXY_REQUESTS}{namespace="${app}"${code}}[5m]))`;
  return [
    {
      // With a minimum traffic: on a quiet night one failed request in a handful is already more than
      // 5% (and the 5xx counter only exists from its first request on). Below 0.2 requests a second
      // (60 in the 5 minutes) a few errors are not a rate.
      alert: 'OAuth2Proxy5xxRate',
      expr:
        `(${proxyRate(', code=~"5.."')} / ${proxyRate('')} > 0.05) ` +
        `and (${proxyRate('')} >= ${OAUTH2_MIN_REQUESTS_PER_SECOND})`,
      for: '10m',
      severity: 'warning',
      summary: 'More than 5% of requests through oauth2-proxy end in 5xx.',
    },
  ];
}
