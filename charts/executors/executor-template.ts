import { Construct } from 'constructs';
import type { PlatformConfig } from '../../src/model/platform';
import { imageString } from '../../src/model/schema';
import { EXECUTOR_COMPONENT, EXECUTOR_TMP_SIZE, EXECUTOR_USER, type ExecutorsPlan } from './plan';
import * as k8s from '../../imports/k8s';
import {
  ephemeralStorage,
  envVars,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  spreadConstraints,
  standardLabels,
} from '../common/pod-spec';

/** Props of {@link ExecutorTemplate}. */
export interface ExecutorTemplateProps {
  /** The executors' plan (planExecutors). */
  readonly plan: ExecutorsPlan;
  /** The language's job: its queue, template name and image (one of plan.jobs). */
  readonly job: ExecutorsPlan['jobs'][number];
  /** The platform-wide settings (instance labels, spread). */
  readonly platform: PlatformConfig;
  /**
   * PriorityClass of the pods.
   * @default - no priority class
   */
  readonly priorityClassName?: string;
}

/**
 * The hardened pod template the middleware copies for each job of one language:
 * restartPolicy Never, a deadline, no API token, no service links, non-root, read-only root
 * with size-limited scratch space, and Guaranteed QoS at the environment's per-job size.
 */
export class ExecutorTemplate extends Construct {
  /** PodTemplate name. */
  public readonly templateName: string;

  constructor(scope: Construct, id: string, props: ExecutorTemplateProps) {
    super(scope, id);
    const { plan, job: executor, platform } = props;
    const { image } = executor;
    const x = plan.config;
    if (x.deadlineSeconds < 5) {
      throw new Error(`executor ${executor.language}: deadlineSeconds (${x.deadlineSeconds}) must be at least 5`);
    }
    this.templateName = executor.templateName;
    const name = `executor-${executor.language}`;
    const labels = {
      ...standardLabels(name, EXECUTOR_COMPONENT, platform, image),
      'coderun.dev/language': executor.language,
    };
    // Spread all executor pods over nodes, but never hold a job back for it.
    const caSecret = plan.caSecretName;
    const caMount = plan.nats.caMountPath;
    const size = {
      cpu: k8s.Quantity.fromString(x.cpu),
      memory: k8s.Quantity.fromString(x.memory),
      'ephemeral-storage': k8s.Quantity.fromString(ephemeralStorage([x.workspaceSize, EXECUTOR_TMP_SIZE])),
    };

    new k8s.KubePodTemplate(this, 'template', {
      metadata: { name: this.templateName, namespace: plan.namespace, labels },
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          serviceAccountName: plan.serviceAccountName,
          ...(props.priorityClassName ? { priorityClassName: props.priorityClassName } : {}),
          activeDeadlineSeconds: x.deadlineSeconds,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 5,
          securityContext: restrictedPodSecurityContext(EXECUTOR_USER),
          topologySpreadConstraints: spreadConstraints(platform, plan.selector, [], 'ScheduleAnyway'),
          containers: [
            {
              name: 'executor',
              image: imageString(image),
              imagePullPolicy: 'IfNotPresent',
              env: [
                ...envVars(plan.nats.env),
                { name: 'LANGUAGE', value: executor.language },
                { name: 'WORKSPACE', value: '/workspace' },
              ],
              resources: { requests: size, limits: size },
              securityContext: restrictedContainerSecurityContext(),
              volumeMounts: [
                { name: 'workspace', mountPath: '/workspace' },
                { name: 'tmp', mountPath: '/tmp' },
                ...(caSecret ? [{ name: 'nats-ca', mountPath: caMount, readOnly: true }] : []),
              ],
            },
          ],
          volumes: [
            { name: 'workspace', emptyDir: { sizeLimit: k8s.Quantity.fromString(x.workspaceSize) } },
            { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString(EXECUTOR_TMP_SIZE) } },
            ...(caSecret
              ? [{ name: 'nats-ca', secret: { secretName: caSecret, items: [{ key: 'ca.crt', path: 'ca.crt' }] } }]
              : []),
          ],
        },
      },
    });
  }
}
