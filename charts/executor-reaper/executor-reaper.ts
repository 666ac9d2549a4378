import { Construct } from 'constructs';
import type { PlatformConfig } from '../../src/model/platform';
import type { ImageRef, Resources } from '../../src/model/schema';
import { imageString } from '../../src/model/schema';
import {
  REAPER_COMPONENT,
  REAPER_NAME,
  REAPER_SCRIPT,
  REAPER_SCRIPT_DIR,
  REAPER_SCRIPT_KEY,
  REAPER_USER,
} from './script';
import { REAPER_IMAGE } from './schema';
import * as k8s from '../../imports/k8s';
import { EXECUTOR_COMPONENT } from '../executors/plan';
import {
  containerResources,
  PART_OF,
  pullSecretsOf,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  selectorLabels,
  standardLabels,
} from '../common/pod-spec';

/** Props of {@link ExecutorReaper}. */
export interface ExecutorReaperProps {
  /** The platform-wide settings (namespaces, instance labels, the registry's pull Secret). */
  readonly platform: PlatformConfig;
  /**
   * The image reap.py runs in (python3 with its standard library).
   * @default REAPER_IMAGE (docker.io/library/python:3.13.1-alpine)
   */
  readonly image?: ImageRef;
  /**
   * Cron schedule of the runs (five fields, in the controller manager's time zone).
   * @default '*\/5 * * * *' (every 5 minutes)
   */
  readonly schedule?: string;
  /**
   * A finished executor pod is deleted once it finished more than this many seconds ago, so that
   * its status and logs stay readable for a while.
   * @default 600
   */
  readonly minAgeSeconds?: number;
  /**
   * How late a missed run may still start; later, it is skipped (the next one comes soon).
   * @default 120
   */
  readonly startingDeadlineSeconds?: number;
  /**
   * Hard time limit of one run (the Job's activeDeadlineSeconds); must be shorter than the schedule
   * interval so that runs never overlap (concurrencyPolicy Forbid would skip the next one).
   * @default 120
   */
  readonly activeDeadlineSeconds?: number;
  /**
   * Retries of a failed run within the same Job.
   * @default 1
   */
  readonly backoffLimit?: number;
  /**
   * Seconds a finished Job (and its pod) is kept before it is deleted.
   * @default 3600
   */
  readonly ttlSecondsAfterFinished?: number;
  /**
   * Requests and limits of the reaper container.
   * @default - 50m CPU and 64Mi, requested and limited (Guaranteed)
   */
  readonly resources?: Resources;
  /**
   * PriorityClass of the reaper pods.
   * @default - no priority class (the cluster default)
   */
  readonly priorityClassName?: string;
}

/** The defaults of {@link ExecutorReaperProps}. */
export const REAPER_DEFAULTS = {
  schedule: '*/5 * * * *',
  minAgeSeconds: 600,
  startingDeadlineSeconds: 120,
  activeDeadlineSeconds: 120,
  backoffLimit: 1,
  ttlSecondsAfterFinished: 3600,
  // Guaranteed (requests equal limits): a short run of the Python interpreter with ssl and json loaded.
  resources: {
    requests: { cpu: '50m', memory: '64Mi' },
    limits: { cpu: '50m', memory: '64Mi' },
  },
} as const;

/** Verbs the reaper's Role grants on pods in the executor namespace: nothing else. */
export const REAPER_VERBS = ['delete', 'get', 'list'] as const;

/**
 * Deletes finished executor pods: a CronJob in the app namespace runs our own standard-library
 * Python script (charts/executor-reaper/reap.py, kept in a ConfigMap) every few minutes. Its own
 * ServiceAccount, whose token only this pod mounts, is bound to a Role in the executor namespace
 * that allows get, list and delete of pods and nothing else. Its egress (apps/network-plan.ts)
 * is the API server only.
 */
export class ExecutorReaper extends Construct {
  /** Name of the CronJob, ServiceAccount, ConfigMap, Role and RoleBinding. */
  public readonly name = REAPER_NAME;
  /** Labels that select the reaper's pods. */
  public readonly selector: Readonly<Record<string, string>>;
  /** Name of the reaper's ServiceAccount (in the app namespace). */
  public readonly serviceAccountName = REAPER_NAME;

  constructor(scope: Construct, id: string, props: ExecutorReaperProps) {
    super(scope, id);
    const { platform } = props;
    const d = REAPER_DEFAULTS;
    const schedule = props.schedule ?? d.schedule;
    const minAge = props.minAgeSeconds ?? d.minAgeSeconds;
    const startingDeadline = props.startingDeadlineSeconds ?? d.startingDeadlineSeconds;
    const activeDeadline = props.activeDeadlineSeconds ?? d.activeDeadlineSeconds;
    const backoffLimit = props.backoffLimit ?? d.backoffLimit;
    const ttl = props.ttlSecondsAfterFinished ?? d.ttlSecondsAfterFinished;
    const resources = props.resources ?? d.resources;
    const image = props.image ?? REAPER_IMAGE;

    const whole = (what: string, v: number, min: number) => {
      if (!Number.isInteger(v) || v < min) {
        throw new Error(`${REAPER_NAME}: ${what} (${v}) must be a whole number of at least ${min}`);
      }
    };
    if (schedule.trim().split(/\s+/).length !== 5) {
      throw new Error(`${REAPER_NAME}: schedule '${schedule}' must be a cron expression of five fields`);
    }
    whole('minAgeSeconds', minAge, 0);
    whole('startingDeadlineSeconds', startingDeadline, 10);
    whole('activeDeadlineSeconds', activeDeadline, 10);
    whole('backoffLimit', backoffLimit, 0);
    whole('ttlSecondsAfterFinished', ttl, 0);
    const interval = scheduleIntervalSeconds(schedule);
    if (interval !== undefined && activeDeadline >= interval) {
      throw new Error(
        `${REAPER_NAME}: activeDeadlineSeconds (${activeDeadline}) must be shorter than the schedule interval (${interval} s of '${schedule}')`,
      );
    }

    const app = platform.namespaces.app;
    const exe = platform.namespaces.executor;
    this.selector = selectorLabels(REAPER_NAME, platform);
    const labels = standardLabels(REAPER_NAME, REAPER_COMPONENT, platform);
    const podLabels = standardLabels(REAPER_NAME, REAPER_COMPONENT, platform, image);

    new k8s.KubeServiceAccount(this, 'service-account', {
      metadata: { name: this.serviceAccountName, namespace: app, labels },
      // Only the reaper's pod mounts the token (automountServiceAccountToken in its pod spec).
      automountServiceAccountToken: false,
      ...pullSecretsOf(platform),
    });

    new k8s.KubeRole(this, 'role', {
      metadata: { name: REAPER_NAME, namespace: exe, labels },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: [...REAPER_VERBS] }],
    });
    new k8s.KubeRoleBinding(this, 'binding', {
      metadata: { name: REAPER_NAME, namespace: exe, labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: REAPER_NAME },
      subjects: [{ kind: 'ServiceAccount', name: this.serviceAccountName, namespace: app }],
    });

    new k8s.KubeConfigMap(this, 'script', {
      metadata: { name: REAPER_NAME, namespace: app, labels },
      data: { [REAPER_SCRIPT_KEY]: REAPER_SCRIPT },
    });

    // Only executor pods of this environment, even though the namespace admits nothing else.
    const executorSelector = `app.kubernetes.io/component=${EXECUTOR_COMPONENT},app.kubernetes.io/instance=${PART_OF}-${platform.name}`;
    const container: k8s.Container = {
      name: REAPER_NAME,
      image: imageString(image),
      imagePullPolicy: 'IfNotPresent',
      command: ['python3', `${REAPER_SCRIPT_DIR}/${REAPER_SCRIPT_KEY}`],
      env: [
        { name: 'REAPER_NAMESPACE', value: exe },
        { name: 'REAPER_MIN_AGE_SECONDS', value: String(minAge) },
        { name: 'REAPER_LABEL_SELECTOR', value: executorSelector },
        { name: 'PYTHONDONTWRITEBYTECODE', value: '1' },
        { name: 'PYTHONUNBUFFERED', value: '1' },
      ],
      resources: containerResources(resources),
      securityContext: restrictedContainerSecurityContext(),
      volumeMounts: [{ name: 'script', mountPath: REAPER_SCRIPT_DIR, readOnly: true }],
    };

    new k8s.KubeCronJob(this, 'cron-job', {
      metadata: { name: REAPER_NAME, namespace: app, labels },
      spec: {
        schedule,
        concurrencyPolicy: 'Forbid',
        startingDeadlineSeconds: startingDeadline,
        successfulJobsHistoryLimit: 1,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          metadata: { labels },
          spec: {
            backoffLimit,
            activeDeadlineSeconds: activeDeadline,
            ttlSecondsAfterFinished: ttl,
            template: {
              metadata: { labels: podLabels },
              spec: {
                serviceAccountName: this.serviceAccountName,
                // The reaper calls the API: this pod, and only this one, mounts the ServiceAccount token.
                automountServiceAccountToken: true,
                enableServiceLinks: false,
                restartPolicy: 'Never',
                ...(props.priorityClassName ? { priorityClassName: props.priorityClassName } : {}),
                securityContext: restrictedPodSecurityContext(REAPER_USER),
                terminationGracePeriodSeconds: 10,
                containers: [container],
                volumes: [
                  {
                    name: 'script',
                    configMap: { name: REAPER_NAME, items: [{ key: REAPER_SCRIPT_KEY, path: REAPER_SCRIPT_KEY }] },
                  },
                ],
              },
            },
          },
        },
      },
    });
  }
}

/**
 * Seconds between runs of a schedule of the form '*\/N * * * *' (every N minutes) or 'M * * * *'
 * (hourly); undefined for other forms, whose interval is not checked.
 */
export function scheduleIntervalSeconds(schedule: string): number | undefined {
  const [minute, ...rest] = schedule.trim().split(/\s+/);
  if (rest.length !== 4 || rest.some((f) => f !== '*')) return undefined;
  const every = /^\*\/(\d+)$/.exec(minute ?? '');
  if (every) return Number(every[1]) * 60;
  if (minute === '*') return 60;
  if (/^\d+$/.test(minute ?? '')) return 3600;
  return undefined;
}
