import { Construct } from 'constructs';
import type { PlatformConfig } from '../../src/model/platform';
import * as k8s from '../../imports/k8s';
import { PART_OF } from '../common/pod-spec';

/** The platform's priority tiers, highest first. */
export const PRIORITY = {
  /** NATS holds every job's state: evicted last. */
  messaging: { name: `${PART_OF}-messaging`, value: 100_000 },
  /** Entry point, frontend and middleware. */
  service: { name: `${PART_OF}-service`, value: 10_000 },
  /** One-shot executor jobs: evicted first, and never preempt anything to start. */
  executor: { name: `${PART_OF}-executor`, value: 1_000 },
} as const;

/** Props of {@link PriorityClasses}. */
export interface PriorityClassesProps {
  /** The platform-wide settings (namespaces, instance labels). */
  readonly platform: PlatformConfig;
}

/**
 * PriorityClasses for the three tiers in {@link PRIORITY}, so that under pressure the kubelet and
 * the scheduler give up executor jobs first and NATS last. Executors never preempt.
 */
export class PriorityClasses extends Construct {
  constructor(scope: Construct, id: string, props: PriorityClassesProps) {
    super(scope, id);
    const labels = {
      'app.kubernetes.io/name': PART_OF,
      'app.kubernetes.io/instance': `${PART_OF}-${props.platform.name}`,
      'app.kubernetes.io/component': 'scheduling',
      'app.kubernetes.io/part-of': PART_OF,
      'app.kubernetes.io/managed-by': 'cdk8s',
    };
    const descriptions: Record<keyof typeof PRIORITY, string> = {
      messaging: 'NATS JetStream: holds every job; evicted last.',
      service: 'oauth2-proxy, frontend and middleware.',
      executor: 'Per-job executor pods: evicted first; never preempt other pods.',
    };
    for (const tier of Object.keys(PRIORITY) as (keyof typeof PRIORITY)[]) {
      const p = PRIORITY[tier];
      new k8s.KubePriorityClass(this, tier, {
        metadata: { name: p.name, labels },
        value: p.value,
        globalDefault: false,
        description: descriptions[tier],
        preemptionPolicy: tier === 'executor' ? 'Never' : 'PreemptLowerPriority',
      });
    }
  }
}
