/**
 * What every policy rule shares: the Rule and Violation types, safe accessors for untyped YAML,
 * and the Kubernetes semantics the rules need (pod templates, label selectors, autoscalers).
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

export type Json = Record<string, unknown>;

export function asObj(v: unknown): Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
}
export function asArr(v: unknown): Json[] {
  return Array.isArray(v) ? v.map(asObj) : [];
}
export function asStrArr(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [];
}
export function asStrRecord(v: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(asObj(v)).map(([k, x]) => [k, String(x)]));
}
/** A number, or the default when the field is absent or not a number. */
export function num(v: unknown, fallback: number): number {
  return typeof v === 'number' ? v : fallback;
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

/** metadata.namespace, or '' for cluster-scoped objects. */
export function nsOf(o: Manifest): string {
  return o.metadata.namespace ?? '';
}

/** The API group of an apiVersion ('' for the core group). */
export function apiGroup(apiVersion: string): string {
  return apiVersion.includes('/') ? (apiVersion.split('/')[0] ?? '') : '';
}

export interface PodTemplateLike {
  readonly labels: Readonly<Record<string, string>>;
  readonly spec: Json;
}

export const WORKLOAD_KINDS = new Set([
  'Deployment',
  'StatefulSet',
  'DaemonSet',
  'ReplicaSet',
  'Job',
  'CronJob',
  'PodTemplate',
  'Pod',
]);

/** Kinds that keep a number of pods running (and can be scaled, disrupted and budgeted). */
export const CONTROLLER_KINDS = new Set(['Deployment', 'StatefulSet', 'ReplicaSet', 'DaemonSet']);

/** The pod template of a workload object, if it has one. */
export function podTemplateOf(o: Manifest): PodTemplateLike | undefined {
  if (!WORKLOAD_KINDS.has(o.kind)) return undefined;
  if (o.kind === 'Pod') return { labels: asStrRecord(o.metadata.labels), spec: asObj(o.spec) };
  let template: Json;
  if (o.kind === 'PodTemplate') template = asObj(o.template);
  else if (o.kind === 'CronJob') template = asObj(asObj(asObj(asObj(o.spec).jobTemplate).spec).template);
  else template = asObj(asObj(o.spec).template);
  return { labels: asStrRecord(asObj(template.metadata).labels), spec: asObj(template.spec) };
}

/** Init, regular and ephemeral containers of a pod spec. */
export function allContainers(spec: Json): Json[] {
  return [...asArr(spec.initContainers), ...asArr(spec.containers), ...asArr(spec.ephemeralContainers)];
}

/** One object with a pod template, with what the rules ask of it. */
export interface Workload {
  readonly object: Manifest;
  readonly namespace: string;
  readonly pod: PodTemplateLike;
}

export function workloads(objects: readonly Manifest[]): Workload[] {
  const out: Workload[] = [];
  for (const o of objects) {
    const pod = podTemplateOf(o);
    if (pod) out.push({ object: o, namespace: nsOf(o), pod });
  }
  return out;
}

/** Whether a label selector ({matchLabels, matchExpressions}) matches labels. An empty selector matches all. */
export function selectorMatches(selector: unknown, labels: Readonly<Record<string, string>>): boolean {
  const s = asObj(selector);
  for (const [k, v] of Object.entries(asStrRecord(s.matchLabels))) if (labels[k] !== v) return false;
  for (const e of asArr(s.matchExpressions)) {
    const key = String(e.key);
    const values = asStrArr(e.values);
    const has = Object.prototype.hasOwnProperty.call(labels, key);
    const value = labels[key];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(String(value))) return false;
        break;
      case 'NotIn':
        if (has && values.includes(String(value))) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** A selector without matchLabels and matchExpressions (selects everything). */
export function isEmptySelector(selector: unknown): boolean {
  const s = asObj(selector);
  return Object.keys(asObj(s.matchLabels)).length === 0 && asArr(s.matchExpressions).length === 0;
}

/** A plain map selector (Service spec.selector) as a label selector. */
export function mapSelector(selector: unknown): Json {
  return { matchLabels: asStrRecord(selector) };
}

/** An HPA or a KEDA ScaledObject: something that owns a workload's replica count. */
export interface Autoscaler {
  readonly object: Manifest;
  readonly targetKind: string;
  readonly targetName: string;
  readonly targetGroup: string;
  readonly min: number;
  readonly max: number;
}

export function autoscalers(objects: readonly Manifest[]): Autoscaler[] {
  const out: Autoscaler[] = [];
  for (const o of objects) {
    const spec = asObj(o.spec);
    const ref = asObj(spec.scaleTargetRef);
    if (o.kind === 'HorizontalPodAutoscaler') {
      out.push({
        object: o,
        targetKind: String(ref.kind),
        targetName: String(ref.name),
        targetGroup: apiGroup(String(ref.apiVersion ?? '')),
        min: num(spec.minReplicas, 1),
        max: num(spec.maxReplicas, 0),
      });
    } else if (o.kind === 'ScaledObject') {
      out.push({
        object: o,
        targetKind: String(ref.kind ?? 'Deployment'),
        targetName: String(ref.name),
        targetGroup: apiGroup(String(ref.apiVersion ?? 'apps/v1')),
        min: num(spec.minReplicaCount, 0),
        max: num(spec.maxReplicaCount, 100),
      });
    }
  }
  return out;
}

/** Whether an autoscaler scales this object. */
export function scales(a: Autoscaler, o: Manifest): boolean {
  return (
    a.targetKind === o.kind &&
    a.targetName === o.metadata.name &&
    nsOf(a.object) === nsOf(o) &&
    a.targetGroup === apiGroup(o.apiVersion)
  );
}

/**
 * The replica range a controller runs with: its autoscaler's min..max, else spec.replicas
 * (default 1). PodTemplates and Jobs are not replicated workloads and return undefined.
 */
export function replicaRange(
  objects: readonly Manifest[],
  o: Manifest,
): { min: number; max: number; autoscaled: boolean } | undefined {
  if (!CONTROLLER_KINDS.has(o.kind)) return undefined;
  const a = autoscalers(objects).find((x) => scales(x, o));
  if (a) return { min: a.min, max: a.max, autoscaled: true };
  const n = num(asObj(o.spec).replicas, 1);
  return { min: n, max: n, autoscaled: false };
}

/** Labels of the environment's rendered namespaces, with the kubernetes.io/metadata.name label the API server adds. */
export function namespaceLabels(objects: readonly Manifest[]): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const o of objects) {
    if (o.kind !== 'Namespace') continue;
    out.set(o.metadata.name, { ...o.metadata.labels, 'kubernetes.io/metadata.name': o.metadata.name });
  }
  return out;
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

/** Deep equality of JSON values (key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((x, i) => jsonEqual(x, b[i]));
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return (
    jsonEqual(ka, kb) &&
    ka.every((k) => jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}
