import { Construct } from 'constructs';
import type { PlatformConfig } from '../../src/model/platform';
import * as k8s from '../../imports/k8s';
import { PART_OF } from '../common/pod-spec';

/** Pod Security Standards version the namespaces pin. */
export const POD_SECURITY_VERSION = 'v1.30';

/** Props of {@link PlatformNamespace}. */
export interface PlatformNamespaceProps {
  /** Namespace name. */
  readonly name: string;
  /** The platform-wide settings (namespaces, instance labels). */
  readonly platform: PlatformConfig;
  /** What runs there, for app.kubernetes.io/component (e.g. "platform", "executors"). */
  readonly component: string;
}

/**
 * A namespace that enforces Pod Security Standards "restricted" at a pinned version,
 * and warns and audits at the same level.
 */
export class PlatformNamespace extends Construct {
  /** The namespace name. */
  public readonly name: string;

  constructor(scope: Construct, id: string, props: PlatformNamespaceProps) {
    super(scope, id);
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(props.name)) {
      throw new Error(`namespace name '${props.name}' must be a DNS-1123 label`);
    }
    this.name = props.name;
    const labels: Record<string, string> = {
      'app.kubernetes.io/name': props.name,
      'app.kubernetes.io/instance': `${PART_OF}-${props.platform.name}`,
      'app.kubernetes.io/component': props.component,
      'app.kubernetes.io/part-of': PART_OF,
      'app.kubernetes.io/managed-by': 'cdk8s',
    };
    for (const mode of ['enforce', 'audit', 'warn']) {
      labels[`pod-security.kubernetes.io/${mode}`] = 'restricted';
      labels[`pod-security.kubernetes.io/${mode}-version`] = POD_SECURITY_VERSION;
    }
    new k8s.KubeNamespace(this, 'namespace', { metadata: { name: props.name, labels } });
  }
}
