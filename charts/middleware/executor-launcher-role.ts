import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-28';
import type { PlatformConfig } from '../../src/model/platform';
import { standardLabels } from '../common/pod-spec';

/** Props of {@link ExecutorLauncherRole}. */
export interface ExecutorLauncherRoleProps {
  /** The platform-wide settings (namespaces, instance labels). */
  readonly platform: PlatformConfig;
  /** ServiceAccount (in the app namespace) that launches executors. */
  readonly serviceAccountName: string;
  /**
   * Name of the Role and (with a suffix) its RoleBinding.
   * @default 'executor-launcher'
   */
  readonly name?: string;
}

/**
 * The middleware's only grant: a namespaced Role in the executor namespace to create, read,
 * watch and delete pods, read the executor PodTemplates, and create (only create: never read,
 * list, update or delete) the Secret that carries each job's NATS ticket, bound to the
 * middleware's ServiceAccount. The ticket Secret names the pod as its owner, so the garbage
 * collector deletes it with the pod. No ClusterRole, no wildcards, no exec.
 */
export class ExecutorLauncherRole extends Construct {
  /** Name of the Role. */
  public readonly roleName: string;

  constructor(scope: Construct, id: string, props: ExecutorLauncherRoleProps) {
    super(scope, id);
    const { platform } = props;
    this.roleName = props.name ?? 'executor-launcher';
    const namespace = platform.namespaces.executor;
    const labels = standardLabels('middleware', 'job-dispatcher', platform);

    const role = new kplus.Role(this, 'role', { metadata: { name: this.roleName, namespace, labels } });
    role.allow(['create', 'delete', 'get', 'list', 'watch'], kplus.ApiResource.PODS);
    role.allow(['get', 'list'], kplus.ApiResource.POD_TEMPLATES);
    role.allow(['create'], kplus.ApiResource.SECRETS);

    const subject = kplus.ServiceAccount.fromServiceAccountName(this, 'subject', props.serviceAccountName, {
      namespaceName: platform.namespaces.app,
    });
    const binding = new kplus.RoleBinding(this, 'binding', {
      metadata: { name: `${this.roleName}-${props.serviceAccountName}`, namespace, labels },
      role,
    });
    binding.addSubjects(subject);
  }
}
