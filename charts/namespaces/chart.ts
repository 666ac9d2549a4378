/** The namespaces component: both namespaces (with Pod Security) and the PriorityClasses, before anything else. */
import type { Construct } from 'constructs';
import type { PlatformConfig } from '../../src/model/platform';
import { ComponentChart } from '../common/component-chart';
import { PlatformNamespace } from './platform-namespace';
import { PriorityClasses } from './priority-classes';

/** Props of {@link NamespacesChart}. */
export interface NamespacesChartProps {
  /** The platform-wide settings: the two namespaces and the instance labels. */
  readonly platform: PlatformConfig;
}

export class NamespacesChart extends ComponentChart {
  /** First: every other object lives in these namespaces or uses these PriorityClasses. */
  public readonly syncWave = -1;

  constructor(scope: Construct, props: NamespacesChartProps) {
    super(scope, 'namespaces');
    const { platform } = props;
    new PlatformNamespace(this, 'app', { name: platform.namespaces.app, platform, component: 'platform' });
    new PlatformNamespace(this, 'executor', { name: platform.namespaces.executor, platform, component: 'executors' });
    new PriorityClasses(this, 'priorities', { platform });
  }
}
