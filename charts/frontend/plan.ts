/** The frontend's plan: its settings, size and environment, derived once from the environment. */
import type { PlatformConfig } from '../../src/model/platform';
import type { ServiceConfig } from '../../src/model/schema';
import { planCanary, type CanaryJudge } from '../common/canary';
import { serviceHost, type ServicePlan } from '../common/service-definition';
import { natsClientEnv, type NatsPlan } from '../nats/plan';
import { frontend } from './definition';
import { FRONTEND_DEFAULT_RESOURCES } from './schema';

/** The frontend's facts; `url` is what oauth2-proxy sends signed-in users to. */
export interface FrontendPlan extends ServicePlan {
  /** The frontend Service's in-cluster URL. */
  readonly url: string;
}

/**
 * Plans the frontend: a NATS client as user `frontend`, its nkey seed in NATS's credentials Secret;
 * released as a canary where the tier or its file says so. The frontend exports no request metrics of
 * its own: `canaryJudge` is its caller's measure of its answers (the composition passes oauth2-proxy's).
 */
export function planFrontend(
  platform: PlatformConfig,
  config: ServiceConfig,
  nats: NatsPlan,
  canaryJudge: CanaryJudge,
): FrontendPlan {
  const canary = planCanary(platform.tier, config.canary, canaryJudge);
  const http = frontend.ports.find((p) => p.name === 'http')?.servicePort;
  return {
    config,
    resources: config.resources ?? FRONTEND_DEFAULT_RESOURCES,
    args: [],
    env: [
      ...natsClientEnv(nats, 'frontend'),
      { name: 'HOSTNAME', value: '0.0.0.0' },
      { name: 'PORT', value: '3000' },
      { name: 'NEXT_TELEMETRY_DISABLED', value: '1' },
    ],
    ...(nats.tls ? { natsCa: { secretName: nats.tls.secretName, mountPath: nats.caMountPath } } : {}),
    replicasManagedExternally: false,
    ...(canary ? { canary } : {}),
    url: `http://${serviceHost(platform, frontend.name)}:${http ?? 80}/`,
  };
}
