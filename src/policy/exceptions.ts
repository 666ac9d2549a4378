/**
 * The one reviewed place where a committed manifest may break a policy rule.
 * Every entry names the rule, the object, and why the exception is right.
 * A test fails if an entry no longer matches anything, so this list cannot rot.
 */
export interface PolicyException {
  /** Rule id from src/policy/rules.ts. */
  readonly rule: string;
  /** Environment, or '*' for all. */
  readonly env: string;
  readonly kind: string;
  /** Object name; a trailing '*' matches a prefix. */
  readonly name: string;
  readonly reason: string;
}

export const EXCEPTIONS: readonly PolicyException[] = [
  {
    rule: 'spread-hard-in-production',
    env: '*',
    kind: 'PodTemplate',
    name: 'executor-*',
    reason:
      'Executor pods are one-shot jobs. Their spread is best effort (ScheduleAnyway) so that a job never waits ' +
      'for balance while a node has room; the ResourceQuota, not the spread, bounds them.',
  },
  {
    rule: 'probes',
    env: '*',
    kind: 'PodTemplate',
    name: 'executor-*',
    reason:
      'Executors run to completion (restartPolicy Never, activeDeadlineSeconds). They serve nothing to probe; ' +
      'the deadline ends a hung job.',
  },
  {
    rule: 'probes',
    env: '*',
    kind: 'CronJob',
    name: 'executor-reaper',
    reason:
      'The reaper is a short batch run (restartPolicy Never, activeDeadlineSeconds); it serves nothing to probe, ' +
      'the Job deadline ends a hung run and the next schedule starts a fresh one.',
  },
  {
    rule: 'spread',
    env: '*',
    kind: 'CronJob',
    name: 'executor-reaper',
    reason:
      'One pod per run and at most one run at a time (concurrencyPolicy Forbid): there is nothing to spread; ' +
      'losing its node only delays the next run by one schedule.',
  },
];

/** The peers' linters run over the committed dist/<env>/ and argocd/<env>/ by test/real/software/linters.real.test.ts. */
export type Linter = 'kube-score' | 'checkov' | 'kubeconform';

/**
 * Findings of one linter check that are right to keep. The linters suite fails on any finding without
 * an entry here, and on an entry object that matches no finding any more.
 */
export interface LinterException {
  readonly linter: Linter;
  /** The linter's check id: a kube-score test id, a checkov CKV_K8S_* id, or kubeconform's status. */
  readonly check: string;
  /** Environment, or '*' for all. */
  readonly env: string;
  /** The objects, each 'Kind/name'; a trailing '*' in the name matches a prefix. Each must match a finding. */
  readonly objects: readonly string[];
  readonly reason: string;
}

const SERVICES = ['Deployment/frontend', 'Deployment/middleware', 'Deployment/oauth2-proxy', 'StatefulSet/nats'];
const WORKLOADS = [...SERVICES, 'PodTemplate/executor-*', 'CronJob/executor-reaper'];

const PULL_POLICY =
  'IfNotPresent lets executor jobs start, and pods reschedule, from the copy on the node, so a registry outage ' +
  'cannot stall job execution. Staging and prod pin every image by digest (the copy on a node is exactly the ' +
  'pinned bytes) and pull from their own registry with the one pull Secret every ServiceAccount names, so Always ' +
  "would re-check no other tenant's credentials; checkov's CKV_K8S_15 accepts digests there, kube-score's check " +
  'does not look at them. dev keeps public images on release tags (pinned-images rule).';

const DEV_PUBLIC_TAGS =
  'dev keeps public registries and release tags (README: How to release): digests are recorded where a release ' +
  'is verified and promoted, staging and prod, by npm run pin and npm run promote, and there every image ' +
  'carries one (registry-as-declared rule).';

const BURSTABLE =
  'The services are Burstable on purpose: requests are what test/capacity.test.ts fits into each cluster at full ' +
  'scale (staging has two 3584Mi workers), limits leave room for bursts (Next.js rendering, NATS catching up). ' +
  'The executors, which run untrusted code, are Guaranteed (requests equal limits) and pass.';

const PROBES_NOT_FOR_JOBS =
  'Executors run to completion (restartPolicy Never, activeDeadlineSeconds). They serve nothing to probe; ' +
  'the deadline ends a hung job (as the probes policy exception).';

const SPREAD_NOT_ANTI_AFFINITY =
  'Pods are spread over nodes by topologySpreadConstraints on kubernetes.io/hostname (and zones in prod), ' +
  "maxSkew 1 (spread-* policy rules; kube-score's own pod-topology-spread-constraints check passes). " +
  'kube-score only recognises podAntiAffinity; adding it would duplicate the spread.';

const FRONTEND_UID =
  "The frontend image runs as UID/GID 1001, the Next.js image's user that owns its files (README, Image " +
  'contract); a UID above 10000 needs a rebuilt image. runAsNonRoot and the restricted context still hold.';

const NATS_UID =
  'NATS runs as UID/GID 1000, which owns the JetStream file store on existing PVCs (fsGroup 1000); changing it ' +
  'is a data migration, not a manifest edit. runAsNonRoot and the restricted context still hold.';

const ROLLOUT_HPA =
  'kube-score does not know Argo Rollouts: it cannot match an HPA whose target is a Rollout (argoproj.io). The HPA ' +
  'scales the Rollout on purpose (README, Canary releases: an HPA on the Deployment would fight Argo Rollouts); ' +
  'the canary-targets and autoscalers policy rules check the target, and the twin proves the HPA scales it.';

const ROLLOUT_REPLICAS =
  "The Deployment is the Rollout's pod template (workloadRef): the Rollout and its HPA own the count (3 or more in " +
  'prod, 2 or more in staging), and Argo Rollouts scales the Deployment itself to 0. kube-score reads the missing ' +
  'spec.replicas as 1; replicas-ha (policy, Rollout-aware) checks the real count.';

/** The linter findings a canary's Rollout causes, in the environments that release as canaries. */
const canaryLinterExceptions = (env: string): LinterException[] => [
  {
    linter: 'kube-score',
    check: 'horizontalpodautoscaler-has-target',
    env,
    objects: ['HorizontalPodAutoscaler/frontend', 'HorizontalPodAutoscaler/oauth2-proxy'],
    reason: ROLLOUT_HPA,
  },
  {
    linter: 'kube-score',
    check: 'deployment-replicas',
    env,
    objects: ['Deployment/frontend', 'Deployment/oauth2-proxy'],
    reason: ROLLOUT_REPLICAS,
  },
];

export const LINTER_EXCEPTIONS: readonly LinterException[] = [
  ...canaryLinterExceptions('staging'),
  ...canaryLinterExceptions('prod'),
  { linter: 'kube-score', check: 'container-image-pull-policy', env: '*', objects: WORKLOADS, reason: PULL_POLICY },
  { linter: 'checkov', check: 'CKV_K8S_15', env: 'dev', objects: WORKLOADS, reason: DEV_PUBLIC_TAGS },
  { linter: 'checkov', check: 'CKV_K8S_43', env: 'dev', objects: WORKLOADS, reason: DEV_PUBLIC_TAGS },
  {
    linter: 'checkov',
    check: 'CKV_K8S_35',
    env: '*',
    objects: ['Deployment/frontend', 'Deployment/middleware'],
    reason:
      'The image contract (README, Image contract) hands these images their NATS nkey seed as NATS_NKEY_SEED ' +
      '(and the middleware the auth callout issuer seed as NATS_CALLOUT_ISSUER_SEED); they run no user code. ' +
      'The values come from secretKeyRefs of a Secret made outside git. Executors, which run user code, get ' +
      'no secret in their environment: their per-job ticket is a mounted file.',
  },
  {
    linter: 'checkov',
    check: 'CKV_K8S_35',
    env: '*',
    objects: ['StatefulSet/nats'],
    reason:
      "nats-server's config takes each user's public nkey and the auth callout issuer's public key as $NATS_* " +
      'references, which it resolves from its environment only; the values (public keys, no secret) come ' +
      'from secretKeyRefs of the nats-credentials Secret, where the operator keeps them next to the seeds.',
  },
  {
    linter: 'checkov',
    check: 'CKV_K8S_35',
    env: '*',
    objects: ['Deployment/oauth2-proxy'],
    reason:
      'oauth2-proxy gets its client and cookie secrets as OAUTH2_PROXY_* variables from secretKeyRefs of a Secret ' +
      'made outside git. Moving them to files (--client-secret-file) belongs with the oauth2-proxy version work ' +
      'under way in apps/oauth2-proxy.ts.',
  },
  {
    linter: 'checkov',
    check: 'CKV_K8S_38',
    env: '*',
    objects: ['Deployment/middleware'],
    reason:
      'The middleware creates executor pods from their PodTemplates through the Kubernetes API (Role ' +
      'executor-launcher), so it needs its ServiceAccount token; with the executor reaper, it is the only pod that mounts one.',
  },
  {
    linter: 'checkov',
    check: 'CKV_K8S_38',
    env: '*',
    objects: ['CronJob/executor-reaper'],
    reason:
      'The executor reaper lists and deletes finished executor pods through the Kubernetes API (Role ' +
      'executor-reaper: get, list, delete pods in the executor namespace only), so its pod mounts its token; ' +
      'its ServiceAccount does not automount it anywhere else.',
  },
  {
    linter: 'kube-score',
    check: 'container-security-context-user-group-id',
    env: '*',
    objects: ['Deployment/frontend'],
    reason: FRONTEND_UID,
  },
  {
    linter: 'checkov',
    check: 'CKV_K8S_40',
    env: '*',
    objects: ['Deployment/frontend'],
    reason: FRONTEND_UID,
  },
  {
    linter: 'kube-score',
    check: 'container-security-context-user-group-id',
    env: '*',
    objects: ['StatefulSet/nats'],
    reason: NATS_UID,
  },
  {
    linter: 'checkov',
    check: 'CKV_K8S_40',
    env: '*',
    objects: ['StatefulSet/nats'],
    reason: NATS_UID,
  },
  { linter: 'checkov', check: 'CKV_K8S_8', env: '*', objects: ['PodTemplate/executor-*'], reason: PROBES_NOT_FOR_JOBS },
  { linter: 'checkov', check: 'CKV_K8S_9', env: '*', objects: ['PodTemplate/executor-*'], reason: PROBES_NOT_FOR_JOBS },
  {
    linter: 'kube-score',
    check: 'container-cpu-requests-equal-limits',
    env: '*',
    objects: SERVICES,
    reason: BURSTABLE,
  },
  {
    linter: 'kube-score',
    check: 'container-memory-requests-equal-limits',
    env: '*',
    objects: SERVICES,
    reason: BURSTABLE,
  },
  {
    linter: 'kube-score',
    check: 'container-resource-requests-equal-limits',
    env: '*',
    objects: SERVICES,
    reason: BURSTABLE,
  },
  {
    linter: 'kube-score',
    check: 'deployment-has-host-podantiaffinity',
    env: '*',
    objects: ['Deployment/frontend', 'Deployment/middleware', 'Deployment/oauth2-proxy'],
    reason: SPREAD_NOT_ANTI_AFFINITY,
  },
  {
    linter: 'kube-score',
    check: 'statefulset-has-host-podantiaffinity',
    env: '*',
    objects: ['StatefulSet/nats'],
    reason: SPREAD_NOT_ANTI_AFFINITY,
  },
  {
    linter: 'kube-score',
    check: 'deployment-replicas',
    env: 'dev',
    objects: ['Deployment/frontend', 'Deployment/oauth2-proxy'],
    reason:
      'dev is a single-node local cluster (cluster.nodes: 1), where a second replica protects against nothing; ' +
      'staging and prod run at least two and pass.',
  },
  {
    linter: 'kube-score',
    check: 'pod-probes-identical',
    env: '*',
    objects: ['Deployment/frontend'],
    reason:
      "Both probes call the image's only health endpoint, GET /api/health; liveness is laxer (20 s period, 5 s " +
      'timeout against 10 s and 2 s) so it restarts a hung server, not a slow one. A TCP liveness probe would keep ' +
      "passing while Node's event loop hangs, as the kernel still accepts connections.",
  },
  {
    linter: 'kube-score',
    check: 'pod-probes-identical',
    env: '*',
    objects: ['StatefulSet/nats'],
    reason:
      'Only the prometheus-nats-exporter sidecar, which serves nothing but /metrics: its liveness allows twice the ' +
      "failures of its readiness (apps/nats.ts). The NATS container's own readiness and liveness differ.",
  },
];
