/**
 * The one reviewed place where a committed manifest may break a policy rule.
 * Every entry names the rule, the object, and why the exception is right.
 * A test fails if an entry no longer matches anything, so this list cannot rot.
 */
export interface PolicyException {
  /** Rule id from test/policy/rules.ts. */
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
    rule: 'spread-hard-in-prod',
    env: 'prod',
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
];

/** The peers' linters run over the committed dist/<env>/ and argocd/<env>/ by test/real/software/linters.real.test.ts. */
export type Linter = 'kube-score' | 'checkov' | 'kubeconform';

/**
 * A finding of a linter that is right to keep. The suite fails on any finding without an entry here,
 * and on an entry that matches no finding any more.
 */
export interface LinterException {
  readonly linter: Linter;
  /** The linter's check id: a kube-score test id, a checkov CKV_K8S_* id, or kubeconform's status. */
  readonly check: string;
  /** Environment, or '*' for all. */
  readonly env: string;
  readonly kind: string;
  /** Object name; a trailing '*' matches a prefix. */
  readonly name: string;
  readonly reason: string;
}

export const LINTER_EXCEPTIONS: readonly LinterException[] = [];
