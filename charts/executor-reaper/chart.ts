/** The executor reaper component: a CronJob that deletes finished executor pods. */
import type { Construct } from 'constructs';
import type { PlatformConfig } from '../../src/model/platform';
import { ComponentChart } from '../common/component-chart';
import { ExecutorReaper } from './executor-reaper';
import type { ExecutorReaperConfig } from './schema';

/** Props of {@link ExecutorReaperChart}. */
export interface ExecutorReaperChartProps {
  /** The platform-wide settings (namespaces, instance labels). */
  readonly platform: PlatformConfig;
  /** The environment's `executorReaper` settings (its image). */
  readonly reaper: ExecutorReaperConfig;
}

export class ExecutorReaperChart extends ComponentChart {
  /** After the executor namespace's objects: the reaper's Role and RoleBinding live there. */
  public readonly syncWave = 1;

  constructor(scope: Construct, props: ExecutorReaperChartProps) {
    super(scope, 'executor-reaper');
    new ExecutorReaper(this, 'reaper', { platform: props.platform, image: props.reaper.image });
  }
}
