import { Construct } from 'constructs';
import type { EnvironmentConfig, ImageRef } from '../../src/model/config';
import { imageString } from '../../src/model/config';
import type { ExecutorDefinition } from './definition';
import { EXECUTOR_TMP_SIZE, EXECUTOR_USER } from './definition';
import { natsClientEnv } from '../common/service-definition';
import * as k8s from '../../imports/k8s';
import {
  ephemeralStorage,
  envVars,
  PART_OF,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  spreadConstraints,
  standardLabels,
} from '../common/pod-spec';

/** Label every executor pod carries; the quota, policies and admission checks select on it. */
export const EXECUTOR_COMPONENT = 'executor';

/** Props of {@link ExecutorTemplate}. */
export interface ExecutorTemplateProps {
  /** The language's executor definition (from apps/). */
  readonly executor: ExecutorDefinition;
  /** The environment being rendered. */
  readonly env: EnvironmentConfig;
  /** Image for this language. */
  readonly image: ImageRef;
  /** ServiceAccount the pods run as (it has no token and no bindings). */
  readonly serviceAccountName: string;
  /**
   * PriorityClass of the pods.
   * @default - no priority class
   */
  readonly priorityClassName?: string;
  /**
   * Secret in the executor namespace holding ca.crt for NATS TLS (used when NATS TLS is on).
   * @default 'nats-ca'
   */
  readonly natsCaSecretName?: string;
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
    const { executor, env, image } = props;
    const x = env.executors;
    if (x.deadlineSeconds < 5) {
      throw new Error(`executor ${executor.language}: deadlineSeconds (${x.deadlineSeconds}) must be at least 5`);
    }
    this.templateName = executor.templateName;
    const name = `executor-${executor.language}`;
    const labels = {
      ...standardLabels(name, EXECUTOR_COMPONENT, env, image),
      'coderun.dev/language': executor.language,
    };
    // Spread all executor pods over nodes, but never hold a job back for it.
    const spreadSelector = {
      'app.kubernetes.io/component': EXECUTOR_COMPONENT,
      'app.kubernetes.io/instance': `${PART_OF}-${env.name}`,
    };
    const softSpread = { ...env, spread: { ...env.spread, whenUnsatisfiable: 'ScheduleAnyway' as const } };
    const tls = env.services.nats.tls !== undefined;
    const caSecret = props.natsCaSecretName ?? 'nats-ca';
    const size = {
      cpu: k8s.Quantity.fromString(x.cpu),
      memory: k8s.Quantity.fromString(x.memory),
      'ephemeral-storage': k8s.Quantity.fromString(ephemeralStorage([x.workspaceSize, EXECUTOR_TMP_SIZE])),
    };

    new k8s.KubePodTemplate(this, 'template', {
      metadata: { name: this.templateName, namespace: env.namespaces.executor, labels },
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          serviceAccountName: props.serviceAccountName,
          ...(props.priorityClassName ? { priorityClassName: props.priorityClassName } : {}),
          activeDeadlineSeconds: x.deadlineSeconds,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 5,
          securityContext: restrictedPodSecurityContext(EXECUTOR_USER),
          topologySpreadConstraints: spreadConstraints(softSpread, spreadSelector),
          containers: [
            {
              name: 'executor',
              image: imageString(image),
              imagePullPolicy: 'IfNotPresent',
              env: [
                ...envVars(natsClientEnv(env, 'executor', env.secrets.natsExecutor, 'password')),
                { name: 'LANGUAGE', value: executor.language },
                { name: 'WORKSPACE', value: '/workspace' },
              ],
              resources: { requests: size, limits: size },
              securityContext: restrictedContainerSecurityContext(),
              volumeMounts: [
                { name: 'workspace', mountPath: '/workspace' },
                { name: 'tmp', mountPath: '/tmp' },
                ...(tls ? [{ name: 'nats-ca', mountPath: '/etc/nats-ca', readOnly: true }] : []),
              ],
            },
          ],
          volumes: [
            { name: 'workspace', emptyDir: { sizeLimit: k8s.Quantity.fromString(x.workspaceSize) } },
            { name: 'tmp', emptyDir: { sizeLimit: k8s.Quantity.fromString(EXECUTOR_TMP_SIZE) } },
            ...(tls
              ? [{ name: 'nats-ca', secret: { secretName: caSecret, items: [{ key: 'ca.crt', path: 'ca.crt' }] } }]
              : []),
          ],
        },
      },
    });
  }
}
