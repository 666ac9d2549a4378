/**
 * What every policy rule shares: the Rule and Violation types and the helpers of rules. What the
 * rules read of objects (pod templates, label selectors, autoscalers...) is in src/model/objects.ts.
 */
import type { EnvironmentConfig } from '../../../apps/environment';
import { asObj, namespaceLabels, selectorMatches, type Manifest } from '../../model/objects';

export interface Violation {
  readonly rule: string;
  readonly object: Manifest;
  readonly message: string;
}

/** A rule: id, one-line reason, and the check. */
export interface Rule {
  readonly id: string;
  readonly reason: string;
  /**
   * What the rule reads: the environment's dist/ (default), its argocd/ (AppProject, Applications,
   * bootstrap/), or all of both.
   */
  readonly reads?: 'dist' | 'argocd' | 'all';
  readonly check: (objects: readonly Manifest[], env: EnvironmentConfig) => Violation[];
}

/** The objects a rule reads, from an environment's dist/ and argocd/ objects. */
export function ruleInput(rule: Rule, dist: readonly Manifest[], argocd: readonly Manifest[]): readonly Manifest[] {
  return rule.reads === 'argocd' ? argocd : rule.reads === 'all' ? [...dist, ...argocd] : dist;
}

export function violation(rule: string, object: Manifest, message: string): Violation {
  return { rule, object, message };
}

/** Reports one violation of the rule being checked. */
export type Report = (object: Manifest, message: string) => void;

/** A rule whose check reports its violations (the rule's id is filled in). */
export function claimRule(r: {
  readonly id: string;
  readonly reason: string;
  readonly reads?: Rule['reads'];
  readonly check: (objects: readonly Manifest[], env: EnvironmentConfig, report: Report) => void;
}): Rule {
  return {
    ...r,
    check(objects, env) {
      const out: Violation[] = [];
      r.check(objects, env, (object, message) => out.push(violation(r.id, object, message)));
      return out;
    },
  };
}

/** A ValidatingAdmissionPolicyBinding that selects the executor namespace, and the policy it binds if rendered. */
export interface ExecutorBinding {
  readonly binding: Manifest;
  readonly policy: Manifest | undefined;
}

/** The ValidatingAdmissionPolicyBindings whose namespaceSelector selects the executor namespace, in order. */
export function executorBindings(objects: readonly Manifest[], env: EnvironmentConfig): ExecutorBinding[] {
  const exe = env.namespaces.executor;
  const labels = namespaceLabels(objects).get(exe) ?? { 'kubernetes.io/metadata.name': exe };
  const policies = new Map(
    objects.filter((o) => o.kind === 'ValidatingAdmissionPolicy').map((o) => [o.metadata.name, o] as const),
  );
  return objects
    .filter(
      (o) =>
        o.kind === 'ValidatingAdmissionPolicyBinding' &&
        selectorMatches(asObj(asObj(asObj(o.spec).matchResources).namespaceSelector), labels),
    )
    .map((binding) => ({ binding, policy: policies.get(String(asObj(binding.spec).policyName)) }));
}

/** The ValidatingAdmissionPolicies bound (with a Deny binding or not) to the executor namespace. */
export function executorPolicies(
  objects: readonly Manifest[],
  env: EnvironmentConfig,
): { readonly policy: Manifest; readonly binding: Manifest }[] {
  return executorBindings(objects, env).flatMap(({ binding, policy }) => (policy ? [{ policy, binding }] : []));
}

/** Whether an RBAC or admission list (verbs, resources, operations, groups) covers x: named or '*'. */
export function listCovers(list: readonly string[], x: string): boolean {
  return list.includes(x) || list.includes('*');
}

/** The repository of an image reference, without its tag or digest. */
export function imageRepository(image: unknown): string {
  return (
    String(image ?? '')
      .split('@')[0]
      ?.replace(/:[^/:]*$/, '') ?? ''
  );
}

/** The environment's namespaces: the two of the config, those rendered, and those objects live in. */
export function environmentNamespaces(objects: readonly Manifest[], env: EnvironmentConfig): Set<string> {
  const out = new Set([env.namespaces.app, env.namespaces.executor]);
  for (const o of objects) {
    if (o.kind === 'Namespace') out.add(o.metadata.name);
    else if (o.metadata.namespace) out.add(o.metadata.namespace);
  }
  return out;
}

/** `name` unless it is undefined or empty. */
export function named(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}
