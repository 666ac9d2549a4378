/**
 * A component's cdk8s Chart: the unit of synthesis. Each component folder under charts/ has one;
 * its objects render to dist/<env>/<folder>/ and carry its Argo CD sync wave.
 */
import { Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import type { PlatformConfig } from '../../src/model/platform';

export abstract class ComponentChart extends Chart {
  /** Argo CD sync wave of every object of this chart (lower waves are applied and healthy first). */
  public abstract readonly syncWave: number;

  /** `folder` is the chart's id and its folder under dist/<env>/. */
  constructor(scope: Construct, folder: string) {
    super(scope, folder, { disableResourceNameHashes: true });
  }
}

/** Props of a component chart that runs pods: its plan, the platform-wide settings and a priority. */
export interface WorkloadChartProps<P> {
  /** The component's plan. */
  readonly plan: P;
  /** The platform-wide settings (namespaces, instance labels, spread). */
  readonly platform: PlatformConfig;
  /**
   * PriorityClass of the component's pods.
   * @default - no priority class
   */
  readonly priorityClassName?: string;
}
