/** The NATS component: NATS with JetStream as a StatefulSet. */
import type { Construct } from 'constructs';
import { ComponentChart, type WorkloadChartProps } from '../common/component-chart';
import { NatsCluster } from './nats-cluster';
import type { NatsPlan } from './plan';

/** Props of the chart. */
export type NatsChartProps = WorkloadChartProps<NatsPlan>;

export class NatsChart extends ComponentChart {
  /** Before its clients: the frontend and the middleware wait for it. */
  public readonly syncWave = 1;

  constructor(scope: Construct, props: NatsChartProps) {
    super(scope, 'nats');
    new NatsCluster(this, 'nats', props);
  }
}
