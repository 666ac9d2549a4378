/** The secrets component: how the platform's Secrets reach the cluster without their values entering git. */
import type { Construct } from 'constructs';
import type { PlatformConfig } from '../../src/model/platform';
import { ComponentChart } from '../common/component-chart';
import { PlatformSecrets } from './platform-secrets';
import type { SecretsConfig } from './schema';

/** Props of {@link SecretsChart}. */
export interface SecretsChartProps {
  /** The platform-wide settings (namespaces, instance labels). */
  readonly platform: PlatformConfig;
  /** The environment's `secrets` settings. */
  readonly secrets: SecretsConfig;
  /** The keys of NATS's credentials Secret (the NATS plan's credentialKeys). */
  readonly natsKeys: readonly string[];
}

export class SecretsChart extends ComponentChart {
  /** Before the workloads that read the Secrets. */
  public readonly syncWave = 0;

  constructor(scope: Construct, props: SecretsChartProps) {
    super(scope, 'secrets');
    new PlatformSecrets(this, 'secrets', props);
  }
}
