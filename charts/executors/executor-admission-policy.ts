import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { PlatformConfig } from '../../src/model/platform';
import { imageString } from '../../src/model/schema';
import { EXECUTOR_COMPONENT, type ExecutorsPlan } from './plan';
import { PART_OF, standardLabels } from '../common/pod-spec';

/** Props of {@link ExecutorAdmissionPolicy}. */
export interface ExecutorAdmissionPolicyProps {
  /** The executors' plan: images, deadline, namespace and ServiceAccount the guard enforces. */
  readonly plan: ExecutorsPlan;
  /** The platform-wide settings (Kubernetes version, instance labels). */
  readonly platform: PlatformConfig;
  /**
   * Name of the policy and its binding.
   * @default 'coderun-executor-guard'
   */
  readonly name?: string;
}

/** One CEL rule of the policy, with the message the API server returns when it fails. */
export interface AdmissionRule {
  readonly expression: string;
  readonly message: string;
}

/**
 * The run-time guard on executor pods. The middleware creates them, so they never appear in git;
 * Pod Security "restricted" covers privilege, and this ValidatingAdmissionPolicy (bound to the
 * executor namespace, failing closed) enforces the rest of the template's guarantees.
 */
export class ExecutorAdmissionPolicy extends Construct {
  /** The CEL rules, in order. */
  public readonly rules: readonly AdmissionRule[];

  constructor(scope: Construct, id: string, props: ExecutorAdmissionPolicyProps) {
    super(scope, id);
    const { plan, platform } = props;
    const name = props.name ?? `${PART_OF}-executor-guard`;
    const apiVersion =
      platform.kubernetesVersion === '1.28'
        ? 'admissionregistration.k8s.io/v1beta1'
        : 'admissionregistration.k8s.io/v1';
    const x = plan.config;
    // Exactly the images the templates pin: no other tag (not even a newer one) and no :latest.
    const images = plan.jobs.map((j) => imageString(j.image));
    const cel = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
    const imageList = `[${images.map((r) => cel(r)).join(', ')}]`;
    // Parenthesised: a macro call such as .all() binds tighter than +.
    const allContainers =
      '(object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : []))';
    this.rules = [
      {
        expression: `${allContainers}.all(c, c.image in ${imageList})`,
        message: `executor images must be exactly one of ${images.join(', ')}`,
      },
      {
        expression: `has(object.spec.activeDeadlineSeconds) && object.spec.activeDeadlineSeconds <= ${x.deadlineSeconds}`,
        message: `executor pods need activeDeadlineSeconds of at most ${x.deadlineSeconds}`,
      },
      {
        expression:
          'has(object.spec.automountServiceAccountToken) && object.spec.automountServiceAccountToken == false',
        message: 'executor pods must set automountServiceAccountToken: false',
      },
      {
        expression: `has(object.spec.serviceAccountName) && object.spec.serviceAccountName == ${cel(plan.serviceAccountName)}`,
        message: `executor pods must run as ServiceAccount ${plan.serviceAccountName}`,
      },
      {
        expression: "has(object.spec.restartPolicy) && object.spec.restartPolicy == 'Never'",
        message: 'executor pods must set restartPolicy: Never',
      },
      {
        expression: `${allContainers}.all(c, has(c.resources) && has(c.resources.limits) && 'cpu' in c.resources.limits && 'memory' in c.resources.limits)`,
        message: 'every executor container needs CPU and memory limits',
      },
      {
        expression: `has(object.metadata.labels) && ${cel('app.kubernetes.io/component')} in object.metadata.labels && object.metadata.labels[${cel('app.kubernetes.io/component')}] == ${cel(EXECUTOR_COMPONENT)}`,
        message: `executor pods must carry app.kubernetes.io/component=${EXECUTOR_COMPONENT} (their NetworkPolicy selects it)`,
      },
      {
        expression: 'has(object.spec.enableServiceLinks) && object.spec.enableServiceLinks == false',
        message: 'executor pods must set enableServiceLinks: false',
      },
      {
        expression: '!has(object.spec.ephemeralContainers) || size(object.spec.ephemeralContainers) == 0',
        message: 'executor pods may not get ephemeral (debug) containers',
      },
      {
        // automountServiceAccountToken: false alone leaves a projected token volume open, which
        // Pod Security (restricted) allows; found by the control-plane twin.
        expression:
          '!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.projected) || !has(v.projected.sources) || v.projected.sources.all(s, !has(s.serviceAccountToken)))',
        message: 'executor pods may not mount a service-account token (projected serviceAccountToken volume)',
      },
      {
        // The user's code runs in the pod and reads its environment: a credential may only come as a file.
        expression: `${allContainers}.all(c, (!has(c.env) || c.env.all(e, !has(e.valueFrom) || !has(e.valueFrom.secretKeyRef))) && (!has(c.envFrom) || c.envFrom.all(f, !has(f.secretRef))))`,
        message: 'executor pods may take no Secret through their environment (the NATS ticket comes as a file)',
      },
      {
        // README, Image contract: the middleware names the job's ticket Secret after the pod.
        expression: `!has(object.spec.volumes) || object.spec.volumes.all(v, !has(v.secret) || ${
          plan.caSecretName ? `v.secret.secretName == ${cel(plan.caSecretName)} || ` : ''
        }(has(object.metadata.name) && v.secret.secretName == object.metadata.name && has(v.secret.defaultMode) && v.secret.defaultMode == 256))`,
        message: `executor pods may mount only their own job's ticket Secret (named after the pod, defaultMode 0400)${
          plan.caSecretName ? ` and the NATS CA Secret ${plan.caSecretName}` : ''
        }`,
      },
    ];
    const labels = standardLabels(name, 'admission-policy', platform);
    new ApiObject(this, 'policy', {
      apiVersion,
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name, labels },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            // The subresource is how `kubectl debug` adds containers; 'pods' alone does not match it.
            {
              apiGroups: [''],
              apiVersions: ['v1'],
              operations: ['CREATE', 'UPDATE'],
              resources: ['pods', 'pods/ephemeralcontainers'],
            },
          ],
        },
        validations: this.rules.map((r) => ({ expression: r.expression, message: r.message })),
      },
    });
    new ApiObject(this, 'binding', {
      apiVersion,
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name, labels },
      spec: {
        policyName: name,
        validationActions: ['Deny'],
        matchResources: {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': plan.namespace } },
        },
      },
    });
  }
}
