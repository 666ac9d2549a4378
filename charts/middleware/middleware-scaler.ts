import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { EnvironmentConfig } from '../../src/model/config';
import { standardLabels } from '../common/pod-spec';

/** Props of {@link MiddlewareScaler}. */
export interface MiddlewareScalerProps {
  /** The environment being rendered; nothing is rendered unless services.middleware.keda is set. */
  readonly env: EnvironmentConfig;
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
    const { env } = props;
    const keda = env.services.middleware.keda;
    if (!keda) return;
    const min = env.services.middleware.replicas;
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
        namespace: env.namespaces.app,
        labels: standardLabels(props.deploymentName, 'job-dispatcher', env),
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
