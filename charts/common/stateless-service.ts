import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-28';
import type { PlatformConfig } from '../../src/model/platform';
import { imageString } from '../../src/model/schema';
import type { ServiceDefinition, ServicePlan } from './service-definition';
import { CanaryRelease } from './canary';
import * as k8s from '../../imports/k8s';
import {
  attachPullSecrets,
  containerPorts,
  containerResources,
  ephemeralStorage,
  envVars,
  httpProbe,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  selectorLabels,
  spreadConstraints,
  standardLabels,
  writableVolumes,
} from './pod-spec';

/** Props of {@link StatelessService}. */
export interface StatelessServiceProps {
  /** What the service is: ports, probes, user, writable paths (its component's definition.ts). */
  readonly definition: ServiceDefinition;
  /** The platform-wide settings (namespace, instance labels, spread). */
  readonly platform: PlatformConfig;
  /** The service's plan: settings, size, arguments, environment, NATS CA. */
  readonly plan: ServicePlan;
  /**
   * Namespace of the workload.
   * @default - platform.namespaces.app
   */
  readonly namespace?: string;
  /**
   * PriorityClass of the pods.
   * @default - no priority class (the cluster default)
   */
  readonly priorityClassName?: string;
  /**
   * Argo CD sync wave of the Rollout when the plan releases as a canary (after every other object).
   * @default - none; required when `plan.canary` is set
   */
  readonly rolloutWave?: number;
}

/**
 * A stateless service: ServiceAccount, Deployment, a ClusterIP Service for the ports that
 * declare a servicePort, a HorizontalPodAutoscaler when the environment asks for one, and a
 * PodDisruptionBudget once it has more than one replica. When the plan releases as a canary, a
 * Rollout with `workloadRef` to the Deployment runs the pods (./canary.ts): the HPA scales the
 * Rollout, and the PDB's selector covers its stable and canary pods alike.
 * Every pod is restricted, sized, probed, pinned and spread.
 */
export class StatelessService extends Construct {
  /** Labels that select this service's pods. */
  public readonly selector: Readonly<Record<string, string>>;
  /** Name of the pods' ServiceAccount. */
  public readonly serviceAccountName: string;
  /** Namespace the service runs in. */
  public readonly namespace: string;

  constructor(scope: Construct, id: string, props: StatelessServiceProps) {
    super(scope, id);
    const { definition: def, platform, plan } = props;
    const config = plan.config;
    if (!Number.isInteger(config.replicas) || config.replicas < 1) {
      throw new Error(`${def.name}: replicas (${config.replicas}) must be a whole number of at least 1`);
    }
    this.namespace = props.namespace ?? platform.namespaces.app;
    this.selector = selectorLabels(def.name, platform);
    this.serviceAccountName = def.name;
    const labels = standardLabels(def.name, def.component, platform, config.image);
    const metadata = { name: def.name, namespace: this.namespace, labels };

    const serviceAccount = new kplus.ServiceAccount(this, 'service-account', { metadata, automountToken: false });
    attachPullSecrets(serviceAccount, platform);

    const volumes = writableVolumes(def.writablePaths);
    if (plan.natsCa) {
      volumes.volumes.push({
        name: 'nats-ca',
        secret: { secretName: plan.natsCa.secretName, items: [{ key: 'ca.crt', path: 'ca.crt' }] },
      });
      volumes.mounts.push({ name: 'nats-ca', mountPath: plan.natsCa.mountPath, readOnly: true });
    }
    const autoscaling = config.autoscaling;
    if (autoscaling && autoscaling.maxReplicas <= config.replicas) {
      throw new Error(
        `${def.name}: autoscaling.maxReplicas (${autoscaling.maxReplicas}) must be larger than replicas (${config.replicas})`,
      );
    }
    const canary = plan.canary;
    if (canary && props.rolloutWave === undefined) {
      throw new Error(
        `${def.name}: the plan releases as a canary, so rolloutWave (the Rollout's sync wave) is required`,
      );
    }
    // The Deployment's count belongs to whoever scales the pods: an HPA, KEDA, or Argo Rollouts (which
    // scales the Deployment down as the Rollout's own pods become available).
    const replicasOwnedElsewhere = autoscaling !== undefined || plan.replicasManagedExternally || canary !== undefined;
    const resources = plan.resources;
    const container: k8s.Container = {
      name: def.name,
      image: imageString(config.image),
      imagePullPolicy: 'IfNotPresent',
      ...(plan.args.length > 0 ? { args: [...plan.args] } : {}),
      ...(plan.env.length > 0 ? { env: envVars(plan.env) } : {}),
      ports: containerPorts(def.ports, def.name),
      resources: containerResources(resources, ephemeralStorage(def.writablePaths.map((p) => p.sizeLimit))),
      securityContext: restrictedContainerSecurityContext(),
      readinessProbe: httpProbe(def.probes.readiness, def.ports, def.name),
      livenessProbe: httpProbe(def.probes.liveness, def.ports, def.name),
      ...(def.probes.startup ? { startupProbe: httpProbe(def.probes.startup, def.ports, def.name) } : {}),
      ...(volumes.mounts.length > 0 ? { volumeMounts: volumes.mounts } : {}),
    };

    new k8s.KubeDeployment(this, 'deployment', {
      metadata,
      spec: {
        // With an HPA or a Rollout, they own the count: leaving replicas out keeps Argo CD from fighting it.
        ...(replicasOwnedElsewhere ? {} : { replicas: config.replicas }),
        revisionHistoryLimit: 5,
        selector: { matchLabels: { ...this.selector } },
        strategy: {
          type: 'RollingUpdate',
          rollingUpdate: {
            maxSurge: k8s.IntOrString.fromNumber(1),
            maxUnavailable: k8s.IntOrString.fromNumber(config.replicas > 1 ? 1 : 0),
          },
        },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: this.serviceAccountName,
            ...(props.priorityClassName ? { priorityClassName: props.priorityClassName } : {}),
            automountServiceAccountToken: def.needsApiToken,
            enableServiceLinks: false,
            securityContext: restrictedPodSecurityContext(def.runAsUser),
            terminationGracePeriodSeconds: 30,
            // Spread each revision on its own: Argo Rollouts labels its pods rollouts-pod-template-hash.
            topologySpreadConstraints: spreadConstraints(platform, this.selector, [
              canary ? 'rollouts-pod-template-hash' : 'pod-template-hash',
            ]),
            containers: [container],
            ...(volumes.volumes.length > 0 ? { volumes: volumes.volumes } : {}),
          },
        },
      },
    });

    const servicePorts = def.ports.filter((p) => p.servicePort !== undefined);
    if (servicePorts.length > 0) {
      new k8s.KubeService(this, 'service', {
        metadata,
        spec: {
          type: 'ClusterIP',
          selector: { ...this.selector },
          ports: servicePorts.map((p) => ({
            name: p.name,
            port: p.servicePort ?? p.containerPort,
            targetPort: k8s.IntOrString.fromString(p.name),
            protocol: 'TCP',
          })),
        },
      });
    }

    if (autoscaling) {
      const metrics: k8s.MetricSpecV2[] = [
        {
          type: 'Resource',
          resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: autoscaling.cpuUtilization } },
        },
      ];
      if (autoscaling.memoryUtilization !== undefined) {
        metrics.push({
          type: 'Resource',
          resource: {
            name: 'memory',
            target: { type: 'Utilization', averageUtilization: autoscaling.memoryUtilization },
          },
        });
      }
      new k8s.KubeHorizontalPodAutoscalerV2(this, 'hpa', {
        // An HPA whose target does not exist yet is Degraded in Argo CD (FailedGetScale), and a
        // Degraded wave stops the sync: an HPA of a Rollout syncs in the Rollout's wave, or the first
        // sync would never reach the Rollout (found by the canary suite's bootstrap).
        metadata:
          canary && props.rolloutWave !== undefined
            ? {
                ...metadata,
                annotations: { 'argocd.argoproj.io/sync-wave': String(props.rolloutWave) },
              }
            : metadata,
        spec: {
          // With a canary the HPA scales the Rollout, which splits the count between its stable and
          // canary ReplicaSets; scaling the Deployment would fight Argo Rollouts.
          scaleTargetRef: canary
            ? { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: def.name }
            : { apiVersion: 'apps/v1', kind: 'Deployment', name: def.name },
          minReplicas: config.replicas,
          maxReplicas: autoscaling.maxReplicas,
          metrics,
          behavior: {
            scaleDown: {
              stabilizationWindowSeconds: 300,
              policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }],
            },
          },
        },
      });
    }

    if (canary && props.rolloutWave !== undefined) {
      new CanaryRelease(this, 'canary', {
        name: def.name,
        namespace: this.namespace,
        labels,
        selector: this.selector,
        ...(autoscaling ? {} : { replicas: config.replicas }),
        plan: canary,
        rolloutWave: props.rolloutWave,
      });
    }

    if (config.replicas > 1) {
      new k8s.KubePodDisruptionBudget(this, 'pdb', {
        metadata,
        spec: {
          maxUnavailable: k8s.IntOrString.fromNumber(1),
          selector: { matchLabels: { ...this.selector } },
        },
      });
    }
  }
}
