/**
 * The object library: the one type of a Kubernetes object and the one reading of each thing
 * the renderer, the inspection layer (capacity, conflicts, reachability, report, audit, diff),
 * the policy rules and the tests ask of one: safe access to untyped YAML, identity, workloads
 * and their pod templates, containers, label selectors, autoscalers, pod requests and rollout
 * surge. It imports nothing (it is the bottom layer: test/imports.test.ts fails on any import
 * cycle in src/, apps/ or charts/); quantities are parsed by src/model/quantity.ts, which
 * podRequests is given.
 */

/** A Kubernetes object, as rendered or as committed. */
export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly [k: string]: unknown;
  };
  readonly [k: string]: unknown;
}

// ---------------------------------------------------------------------------------------------
// Untyped YAML

export type Json = Record<string, unknown>;

/** The value as an object, or {} when it is not one. */
export function asObj(v: unknown): Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
}

/** The value as a list of objects, or [] when it is not a list. */
export function asArr(v: unknown): Json[] {
  return Array.isArray(v) ? v.map(asObj) : [];
}

/** The value as a list of strings, or [] when it is not a list. */
export function asStrArr(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : [];
}

/** The value as a map of strings (labels, annotations, a Service selector), or {} when it is not an object. */
export function asStrRecord(v: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(asObj(v)).map(([k, x]) => [k, String(x)]));
}

/** A number, or the default when the field is absent or not a number. */
export function num(v: unknown, fallback: number): number {
  return typeof v === 'number' ? v : fallback;
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

// ---------------------------------------------------------------------------------------------
// Identity

/** `<kind>-<name>.yaml`, lower case: the file one object renders to. */
export function fileName(obj: Manifest): string {
  return `${obj.kind.toLowerCase()}-${obj.metadata.name}.yaml`;
}

/** `Kind namespace/name`, or `Kind name` for cluster-scoped objects: for messages. */
export function objectId(o: Manifest): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

/** metadata.namespace, or '' for cluster-scoped objects. */
export function nsOf(o: Manifest): string {
  return o.metadata.namespace ?? '';
}

/** The API group of an apiVersion ('' for the core group). */
export function apiGroup(apiVersion: string): string {
  return apiVersion.includes('/') ? (apiVersion.split('/')[0] ?? '') : '';
}

/** Kinds that are not namespaced, among those this repository renders. */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
  'Namespace',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'PriorityClass',
]);

// ---------------------------------------------------------------------------------------------
// Workloads and pod templates

/** Kinds with a pod template. */
export const WORKLOAD_KINDS: ReadonlySet<string> = new Set([
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
export const CONTROLLER_KINDS: ReadonlySet<string> = new Set(['Deployment', 'StatefulSet', 'ReplicaSet', 'DaemonSet']);

/** The labels and the spec of a pod template. */
export interface PodTemplateLike {
  readonly labels: Readonly<Record<string, string>>;
  readonly spec: Json;
}

/** The pod template of a workload object (a Pod is its own), or undefined for other kinds. */
export function podTemplateOf(o: Manifest): PodTemplateLike | undefined {
  if (!WORKLOAD_KINDS.has(o.kind)) return undefined;
  if (o.kind === 'Pod') return { labels: asStrRecord(o.metadata.labels), spec: asObj(o.spec) };
  let template: Json;
  if (o.kind === 'PodTemplate') template = asObj(o.template);
  else if (o.kind === 'CronJob') template = asObj(jobSpecOf(o)?.template);
  else template = asObj(asObj(o.spec).template);
  return { labels: asStrRecord(asObj(template.metadata).labels), spec: asObj(template.spec) };
}

/** The pod spec of a workload object; undefined for other kinds. */
export function podSpecOf(o: Manifest): Json | undefined {
  return podTemplateOf(o)?.spec;
}

/** The job spec of a Job, or of a CronJob's jobTemplate; undefined for other kinds. */
export function jobSpecOf(o: Manifest): Json | undefined {
  if (o.kind === 'Job') return asObj(o.spec);
  if (o.kind === 'CronJob') return asObj(asObj(asObj(o.spec).jobTemplate).spec);
  return undefined;
}

/** Init and regular containers of a pod spec, in that order. */
export function podContainers(spec: Json): Json[] {
  return [...asArr(spec.initContainers), ...asArr(spec.containers)];
}

/** Init, regular and ephemeral containers of a pod spec. */
export function allContainers(spec: Json): Json[] {
  return [...podContainers(spec), ...asArr(spec.ephemeralContainers)];
}

/** One object with a pod template, with its namespace and the template. */
export interface Workload {
  readonly object: Manifest;
  readonly namespace: string;
  readonly pod: PodTemplateLike;
}

/** The objects with a pod template, in order. */
export function workloads(objects: readonly Manifest[]): Workload[] {
  const out: Workload[] = [];
  for (const o of objects) {
    const pod = podTemplateOf(o);
    if (pod) out.push({ object: o, namespace: nsOf(o), pod });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Label selectors and namespaces

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

/** Labels of the rendered namespaces, with the kubernetes.io/metadata.name label the API server adds. */
export function namespaceLabels(objects: readonly Manifest[]): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  for (const o of objects) {
    if (o.kind !== 'Namespace') continue;
    out.set(o.metadata.name, { ...asStrRecord(o.metadata.labels), 'kubernetes.io/metadata.name': o.metadata.name });
  }
  return out;
}

/** The policy types a NetworkPolicy has, with the API server's default. */
export function policyTypes(p: Manifest): string[] {
  const spec = asObj(p.spec);
  if (spec.policyTypes !== undefined) return asStrArr(spec.policyTypes);
  return ['Ingress', ...(spec.egress !== undefined ? ['Egress'] : [])];
}

// ---------------------------------------------------------------------------------------------
// Replicas: autoscalers and rollouts

/** An HPA or a KEDA ScaledObject: something that owns a workload's replica count. */
export interface Autoscaler {
  readonly object: Manifest;
  readonly targetKind: string;
  readonly targetName: string;
  readonly targetGroup: string;
  readonly min: number;
  readonly max: number;
}

/** The HPAs and KEDA ScaledObjects among the objects, with their targets and replica ranges. */
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

// ---------------------------------------------------------------------------------------------
// Argo Rollouts: a Rollout with spec.workloadRef runs the pods of a Deployment's template

/** Whether `o` is an Argo Rollouts Rollout. */
export function isRollout(o: Manifest): boolean {
  return o.kind === 'Rollout' && apiGroup(o.apiVersion) === 'argoproj.io';
}

/** The object a Rollout's spec.workloadRef names (in its namespace), or undefined. */
export function rolloutWorkload(objects: readonly Manifest[], rollout: Manifest): Manifest | undefined {
  const ref = asObj(asObj(rollout.spec).workloadRef);
  if (ref.name === undefined) return undefined;
  return objects.find(
    (o) =>
      o.kind === String(ref.kind) &&
      apiGroup(o.apiVersion) === apiGroup(String(ref.apiVersion ?? '')) &&
      o.metadata.name === ref.name &&
      nsOf(o) === nsOf(rollout),
  );
}

/**
 * The Rollout that runs `o`'s pods through spec.workloadRef, or undefined. Such a Deployment is the
 * pod template only: the Rollout owns the count (and scales the Deployment itself to 0).
 */
export function rolloutOf(objects: readonly Manifest[], o: Manifest): Manifest | undefined {
  return objects.find((r) => isRollout(r) && rolloutWorkload(objects, r) === o);
}

/**
 * The replica range a controller runs with: its autoscaler's min..max, else spec.replicas
 * (default 1). A Deployment run by a Rollout runs with the Rollout's range. PodTemplates and Jobs
 * are not replicated workloads and return undefined.
 */
export function replicaRange(
  objects: readonly Manifest[],
  o: Manifest,
): { min: number; max: number; autoscaled: boolean; autoscaler?: Autoscaler } | undefined {
  const owner = CONTROLLER_KINDS.has(o.kind) ? (rolloutOf(objects, o) ?? o) : isRollout(o) ? o : undefined;
  if (!owner) return undefined;
  const a = autoscalers(objects).find((x) => scales(x, owner));
  if (a) return { min: a.min, max: a.max, autoscaled: true, autoscaler: a };
  const n = num(asObj(owner.spec).replicas, 1);
  return { min: n, max: n, autoscaled: false };
}

/** maxSurge as a number, or a percentage of `replicas` rounded up; `fallback` when absent. */
function surgeOf(s: unknown, replicas: number, fallback: number): number {
  if (typeof s === 'number') return s;
  if (typeof s === 'string' && s.endsWith('%')) return Math.ceil((replicas * Number(s.slice(0, -1))) / 100);
  return fallback;
}

/**
 * Extra pods a Deployment runs during a rolling update at `replicas`: strategy.rollingUpdate.maxSurge
 * as a number or a percentage (rounded up), else the Kubernetes default of 25%. A Deployment run by a
 * Rollout (given `objects`) surges by the Rollout's strategy.canary.maxSurge (Argo Rollouts' default 25%).
 */
export function rolloutSurge(deployment: Manifest, replicas: number, objects: readonly Manifest[] = []): number {
  const rollout = rolloutOf(objects, deployment);
  const fallback = Math.ceil(replicas * 0.25);
  if (rollout) return surgeOf(asObj(asObj(asObj(rollout.spec).strategy).canary).maxSurge, replicas, fallback);
  return surgeOf(asObj(asObj(asObj(deployment.spec).strategy).rollingUpdate).maxSurge, replicas, fallback);
}

// ---------------------------------------------------------------------------------------------
// Pod requests

/** CPU in millicores and memory in bytes. */
export interface Amount {
  readonly cpu: number;
  readonly memory: number;
}

/** How to read quantities: src/model/quantity.ts's parseCpu and parseMemory. */
export interface QuantityParsers {
  readonly cpu: (quantity: string) => number;
  readonly memory: (quantity: string) => number;
}

/** Requests of one pod: the sum over containers, or the largest init container if larger. */
export function podRequests(spec: Json, parse: QuantityParsers): Amount {
  const req = (c: Json) => asObj(asObj(c.resources).requests);
  const cpu = (c: Json) => (req(c).cpu ? parse.cpu(String(req(c).cpu)) : 0);
  const memory = (c: Json) => (req(c).memory ? parse.memory(String(req(c).memory)) : 0);
  const sum = asArr(spec.containers).reduce<{ cpu: number; memory: number }>(
    (a, c) => ({ cpu: a.cpu + cpu(c), memory: a.memory + memory(c) }),
    { cpu: 0, memory: 0 },
  );
  for (const c of asArr(spec.initContainers)) {
    sum.cpu = Math.max(sum.cpu, cpu(c));
    sum.memory = Math.max(sum.memory, memory(c));
  }
  return sum;
}
