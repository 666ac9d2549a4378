import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-28';
import type { PlatformConfig } from '../../src/model/platform';
import { formatCpu, formatMemory, parseCpu, parseMemory } from '../../src/model/quantity';
import * as k8s from '../../imports/k8s';
import { attachPullSecrets, standardLabels } from '../common/pod-spec';
import type { ExecutorsPlan } from './plan';

/** Props of {@link ExecutorSandbox}. */
export interface ExecutorSandboxProps {
  /** The executors' plan; its `config` sizes the quota. */
  readonly plan: ExecutorsPlan;
  /** The platform-wide settings (instance labels). */
  readonly platform: PlatformConfig;
}

/**
 * The limits of the executor namespace: a ServiceAccount without token or bindings for the
 * executor pods, a ResourceQuota that admits at most `maxConcurrentJobs` jobs, and a
 * LimitRange that gives any container the per-job size and refuses anything larger, and (with
 * NATS TLS) a certificate whose Secret gives executors the CA to trust.
 */
export class ExecutorSandbox extends Construct {
  /** ServiceAccount executor pods run as. */
  public readonly serviceAccountName: string;

  constructor(scope: Construct, id: string, props: ExecutorSandboxProps) {
    super(scope, id);
    const { plan, platform } = props;
    const x = plan.config;
    if (!Number.isInteger(x.maxConcurrentJobs) || x.maxConcurrentJobs < 1) {
      throw new Error(`executors.maxConcurrentJobs (${x.maxConcurrentJobs}) must be a whole number of at least 1`);
    }
    this.serviceAccountName = plan.serviceAccountName;
    const namespace = plan.namespace;
    const labels = standardLabels('executor', 'executor', platform);

    const serviceAccount = new kplus.ServiceAccount(this, 'service-account', {
      metadata: { name: this.serviceAccountName, namespace, labels },
      automountToken: false,
    });
    attachPullSecrets(serviceAccount, platform);

    const n = x.maxConcurrentJobs;
    const cpu = formatCpu(parseCpu(x.cpu) * n);
    const memory = formatMemory(parseMemory(x.memory) * n);
    new k8s.KubeResourceQuota(this, 'quota', {
      metadata: { name: 'executor-quota', namespace, labels },
      spec: {
        hard: {
          pods: k8s.Quantity.fromString(String(n)),
          'requests.cpu': k8s.Quantity.fromString(cpu),
          'limits.cpu': k8s.Quantity.fromString(cpu),
          'requests.memory': k8s.Quantity.fromString(memory),
          'limits.memory': k8s.Quantity.fromString(memory),
        },
      },
    });

    const issuer = plan.nats.tlsIssuer;
    if (issuer && plan.caSecretName) {
      // Executors cannot read Secrets of the app namespace; a certificate from the same issuer
      // gives this namespace its own copy of the CA (ca.crt) that signed the NATS server.
      new ApiObject(this, 'nats-ca', {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: { name: plan.caSecretName, namespace, labels },
        spec: {
          secretName: plan.caSecretName,
          commonName: 'executor',
          duration: '2160h',
          renewBefore: '360h',
          privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
          usages: ['client auth'],
          issuerRef: { group: 'cert-manager.io', kind: issuer.kind, name: issuer.name },
        },
      });
    }

    const size = { cpu: k8s.Quantity.fromString(x.cpu), memory: k8s.Quantity.fromString(x.memory) };
    new k8s.KubeLimitRange(this, 'limits', {
      metadata: { name: 'executor-limits', namespace, labels },
      spec: { limits: [{ type: 'Container', default: size, defaultRequest: size, max: size }] },
    });
  }
}
