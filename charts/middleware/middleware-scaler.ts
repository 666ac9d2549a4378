import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { PlatformConfig } from '../../src/model/platform';
import type { MiddlewareConfig } from './schema';
import { standardLabels } from '../common/pod-spec';

/** Props of {@link MiddlewareScaler}. */
export interface MiddlewareScalerProps {
  /** The platform-wide settings (namespace, instance labels). */
  readonly platform: PlatformConfig;
  /** The middleware's settings; nothing is rendered unless `keda` is set. */
  readonly config: MiddlewareConfig;
  /** The middleware Deployment. */
  readonly deploymentName: string;
  /** Host:port of the NATS monitoring endpoint KEDA polls. */
  readonly natsMonitoringEndpoint: string;
}

/**
 * A KEDA ScaledObject that scales the middleware on JetStream consumer lag, between
 * `replicas` and `keda.maxReplicas`. KEDA owns the replica count, so the Deployment omits it.
 */
export class MiddlewareScaler extends Construct {
  constructor(scope: Construct, id: string, props: MiddlewareScalerProps) {
    super(scope, id);
    const { platform } = props;
    const keda = props.config.keda;
    if (!keda) return;
    const min = props.config.replicas;
    if (keda.maxReplicas <= min) {
      throw new Error(
        `services.middleware.keda.maxReplicas (${keda.maxReplicas}) must be larger than replicas (${min})`,
      );
    }
    new ApiObject(this, 'scaled-object', {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: {
        name: props.deploymentName,
        namespace: platform.namespaces.app,
        labels: standardLabels(props.deploymentName, 'job-dispatcher', platform),
      },
      spec: {
        scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: props.deploymentName },
        minReplicaCount: min,
        maxReplicaCount: keda.maxReplicas,
        pollingInterval: 15,
        cooldownPeriod: 300,
        triggers: [
          {
            type: 'nats-jetstream',
            metadata: {
              natsServerMonitoringEndpoint: props.natsMonitoringEndpoint,
              account: '$G',
              stream: keda.stream,
              consumer: keda.consumer,
              lagThreshold: String(keda.lagThreshold),
            },
          },
        ],
      },
    });
  }
}
