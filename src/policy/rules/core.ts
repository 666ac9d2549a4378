/**
 * What every policy rule shares: the Rule and Violation types and the helpers of rules. What the
 * rules read of objects (pod templates, label selectors, autoscalers...) is in src/model/objects.ts.
 */
import type { EnvironmentConfig } from '../../model/config';
import type { Manifest } from '../../model/objects';

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
