/** The middleware component: the job dispatcher, its right to launch executor pods, and its KEDA scaler. */
import type { Construct } from 'constructs';
import { ComponentChart, type WorkloadChartProps } from '../common/component-chart';
import { StatelessService } from '../common/stateless-service';
import { middleware } from './definition';
import { ExecutorLauncherRole } from './executor-launcher-role';
import { MiddlewareScaler } from './middleware-scaler';
import type { MiddlewarePlan } from './plan';

/** Props of the chart. */
export type MiddlewareChartProps = WorkloadChartProps<MiddlewarePlan>;

export class MiddlewareChart extends ComponentChart {
  /** After NATS and the executors' guards. */
  public readonly syncWave = 2;

  constructor(scope: Construct, props: MiddlewareChartProps) {
    super(scope, 'middleware');
    const { plan, platform } = props;
    const dispatcher = new StatelessService(this, 'middleware', { definition: middleware, ...props });
    new ExecutorLauncherRole(this, 'launcher', { platform, serviceAccountName: dispatcher.serviceAccountName });
    new MiddlewareScaler(this, 'scaler', {
      platform,
      config: plan.config,
      deploymentName: middleware.name,
      natsMonitoringEndpoint: plan.natsMonitoringEndpoint,
    });
  }
}
