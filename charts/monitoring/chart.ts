/** The monitoring component: PodMonitors and the PrometheusRule, assembled from every component's needs. */
import type { Construct } from 'constructs';
import { ComponentChart } from '../common/component-chart';
import { PlatformMonitoring, type PlatformMonitoringProps } from './platform-monitoring';

export class MonitoringChart extends ComponentChart {
  /** Last: alerts on what the earlier waves brought up. */
  public readonly syncWave = 4;

  constructor(scope: Construct, props: PlatformMonitoringProps) {
    super(scope, 'monitoring');
    new PlatformMonitoring(this, 'monitoring', props);
  }
}
