/** The frontend component: the Next.js web UI as a stateless service. */
import type { Construct } from 'constructs';
import { ComponentChart, type WorkloadChartProps } from '../common/component-chart';
import { StatelessService } from '../common/stateless-service';
import { frontend } from './definition';
import type { FrontendPlan } from './plan';

/** Props of the chart. */
export type FrontendChartProps = WorkloadChartProps<FrontendPlan>;

export class FrontendChart extends ComponentChart {
  /** After NATS, before the entry point. */
  public readonly syncWave = 2;
  /**
   * The frontend's Rollout, when it releases as a canary: after every other object (monitoring is 4),
   * so a canary in progress holds back no other wave.
   */
  public readonly rolloutWave = 5;

  constructor(scope: Construct, props: FrontendChartProps) {
    super(scope, 'frontend');
    new StatelessService(this, 'frontend', { definition: frontend, ...props, rolloutWave: this.rolloutWave });
  }
}
