/** The oauth2-proxy component: Google sign-in in front of the frontend, and the entry point to it. */
import type { Construct } from 'constructs';
import { ComponentChart, type WorkloadChartProps } from '../common/component-chart';
import { StatelessService } from '../common/stateless-service';
import { oauth2Proxy } from './definition';
import { EntryPoint } from './entry-point';
import type { OAuth2ProxyPlan } from './plan';

/** Props of the chart. */
export type OAuth2ProxyChartProps = WorkloadChartProps<OAuth2ProxyPlan>;

export class OAuth2ProxyChart extends ComponentChart {
  /** Last of the services: users reach the platform only once everything behind it runs. */
  public readonly syncWave = 3;
  /** oauth2-proxy's Rollout, when it releases as a canary: last, after the frontend's (5). */
  public readonly rolloutWave = 6;

  constructor(scope: Construct, props: OAuth2ProxyChartProps) {
    super(scope, 'oauth2-proxy');
    const { plan, platform } = props;
    new StatelessService(this, 'oauth2-proxy', { definition: oauth2Proxy, ...props, rolloutWave: this.rolloutWave });
    new EntryPoint(this, 'entry', {
      platform,
      entrypoint: plan.entrypoint,
      serviceName: oauth2Proxy.name,
      servicePort: plan.servicePort,
    });
  }
}
