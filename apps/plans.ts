/**
 * Plans every component of one environment and wires them: each plan is derived once, and a
 * component that needs another's facts gets that component's plan (the middleware's NATS URL is the
 * NATS plan's client URL; the executors' NATS client is the NATS plan's, with a per-job ticket).
 */
import type { PlatformConfig } from '../src/model/platform';
import type { EnvironmentConfig } from './environment';
import { planExecutors, type ExecutorsPlan } from '../charts/executors/plan';
import { planFrontend, type FrontendPlan } from '../charts/frontend/plan';
import { planMiddleware, type MiddlewarePlan } from '../charts/middleware/plan';
import { natsExecutorEnv, planNats, type NatsPlan } from '../charts/nats/plan';
import { oauth2ProxyAnswersQuery } from '../charts/oauth2-proxy/analysis';
import { planOAuth2Proxy, type OAuth2ProxyPlan } from '../charts/oauth2-proxy/plan';

/** Every component's plan for one environment. */
export interface PlatformPlans {
  readonly platform: PlatformConfig;
  readonly nats: NatsPlan;
  readonly executors: ExecutorsPlan;
  readonly frontend: FrontendPlan;
  readonly middleware: MiddlewarePlan;
  readonly oauth2Proxy: OAuth2ProxyPlan;
}

/** Plans the components of `env`, in the order their facts flow. */
export function planPlatform(env: EnvironmentConfig): PlatformPlans {
  const s = env.services;
  const nats = planNats(env, s.nats, env.secrets.nats);
  const executors = planExecutors(env, env.executors, {
    env: natsExecutorEnv(nats),
    ...(nats.tls ? { tlsIssuer: nats.tls.issuer } : {}),
    caMountPath: nats.caMountPath,
  });
  // The frontend exports no request metrics; oauth2-proxy, its only caller, counts its answers by status
  // code (a 502 when a frontend pod does not answer). Requests spread over all frontend pods, so a
  // canary at weight w that fails every request lifts that ratio to about w.
  const frontend = planFrontend(env, s.frontend, nats, {
    prometheusUrl: env.monitoring.prometheusUrl,
    query: (window) => oauth2ProxyAnswersQuery(env.namespaces.app, window),
  });
  const middleware = planMiddleware(s.middleware, nats, executors);
  const oauth2Proxy = planOAuth2Proxy(
    env,
    s['oauth2-proxy'],
    env.oauth2Proxy,
    env.entrypoint,
    frontend,
    env.secrets.oauth2Proxy,
    env.monitoring.prometheusUrl,
  );
  return { platform: env, nats, executors, frontend, middleware, oauth2Proxy };
}
