/** Safe access to rendered objects, shared by the capacity sum and the auditor report. */
import type { Manifest } from './render';

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
