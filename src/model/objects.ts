/**
 * Leaf module: the rendered-object type and safe access to rendered objects, shared by the
 * renderer, the capacity sum, the cross-environment conflicts and the auditor report.
 * It imports nothing from src/, so imports go one way: render.ts -> capacity.ts -> manifest.ts
 * (test/imports.test.ts fails on any import cycle in src/, apps/ or charts/).
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

/** `<kind>-<name>.yaml`, lower case: the file one object renders to. */
export function fileName(obj: Manifest): string {
  return `${obj.kind.toLowerCase()}-${obj.metadata.name}.yaml`;
}

/** `Kind namespace/name`, for messages. */
export function objectId(o: Manifest): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

/** Kinds that are not namespaced, among those this repository renders. */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
  'Namespace',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'PriorityClass',
]);

export type Json = Record<string, unknown>;

/** The value as an object, or {} when it is not one. */
export function asObj(v: unknown): Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
}

/** The value as a list of objects, or [] when it is not a list. */
export function asArr(v: unknown): Json[] {
  return Array.isArray(v) ? v.map(asObj) : [];
}

/** The pod spec of a Deployment, StatefulSet, Job, CronJob or PodTemplate; undefined for other kinds. */
export function podSpecOf(o: Manifest): Json | undefined {
  if (o.kind === 'PodTemplate') return asObj(asObj(o.template).spec);
  if (o.kind === 'Deployment' || o.kind === 'StatefulSet' || o.kind === 'Job')
    return asObj(asObj(asObj(o.spec).template).spec);
  if (o.kind === 'CronJob') return asObj(asObj(asObj(asObj(asObj(o.spec).jobTemplate).spec).template).spec);
  return undefined;
}
