/**
 * How an oauth2-proxy canary is judged: the 5xx share of the requests its canary pods answered, from
 * oauth2-proxy's own request counter (label `code`), which the PodMonitor scrapes. The Prometheus
 * Operator labels every PodMonitor target with `namespace` and `pod`; Argo Rollouts names the canary
 * pods `<rollout>-<rollouts-pod-template-hash>-<suffix>`.
 */
import { CANARY_HASH_ARG, errorRatioQuery } from '../common/canary';
import { oauth2Proxy } from './definition';

/** oauth2-proxy's request counter, by status code (oauth2-proxy's pkg/middleware/metrics.go). */
export const OAUTH2_PROXY_REQUESTS = 'oauth2_proxy_requests_total';

/** The 5xx ratio of everything oauth2-proxy answered in `namespace` over `window` (all its pods). */
export function oauth2ProxyAnswersQuery(namespace: string, window: string): string {
  return errorRatioQuery(OAUTH2_PROXY_REQUESTS, `namespace="${namespace}"`, window);
}

/** The 5xx ratio of the canary pods' answers in `namespace` over `window`. */
export function oauth2ProxyCanaryQuery(namespace: string, window: string): string {
  const pods = `${oauth2Proxy.name}-{{args.${CANARY_HASH_ARG}}}-.*`;
  return errorRatioQuery(OAUTH2_PROXY_REQUESTS, `namespace="${namespace}",pod=~"${pods}"`, window);
}
