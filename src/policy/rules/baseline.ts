/**
 * The first rules of the suite: spreading, sizing, probes, pinned images and labels.
 */
import { parseCpu, parseMemory } from '../../model/quantity';
import { allContainers, asArr, asObj, asStrRecord, podTemplateOf } from '../../model/objects';
import { violation, type Rule, type Violation } from './core';

const HOSTNAME = 'kubernetes.io/hostname';
const ZONE = 'topology.kubernetes.io/zone';

/** Spread constraints exist, select the pod's own labels and follow the environment's topology. */
export const spreadRule: Rule = {
  id: 'spread',
  reason:
    'Replicas on one node or zone fall together. Constraints must select the pod itself, or the scheduler spreads nothing.',
  check(objects, env) {
    const out: Violation[] = [];
    for (const o of objects) {
      const pod = podTemplateOf(o);
      if (!pod) continue;
      const constraints = asArr(pod.spec.topologySpreadConstraints);
      if (constraints.length === 0) {
        out.push(violation('spread', o, 'has no topologySpreadConstraints'));
        continue;
      }
      const keys = constraints.map((c) => String(c.topologyKey));
      if (!keys.includes(HOSTNAME)) out.push(violation('spread', o, `does not spread over ${HOSTNAME}`));
      if (env.cluster.zones.length > 0 && !keys.includes(ZONE)) {
        out.push(violation('spread', o, `does not spread over ${ZONE}, but the environment has zones`));
      }
      if (env.cluster.zones.length === 0 && keys.includes(ZONE)) {
        out.push(violation('spread', o, `spreads over ${ZONE}, but the environment declares no zones`));
      }
      for (const c of constraints) {
        const match = asStrRecord(asObj(c.labelSelector).matchLabels);
        const expressions = asArr(asObj(c.labelSelector).matchExpressions);
        if (Object.keys(match).length === 0 && expressions.length === 0) {
          out.push(violation('spread', o, `constraint on ${String(c.topologyKey)} has an empty labelSelector`));
          continue;
        }
        for (const [k, v] of Object.entries(match)) {
          if (pod.labels[k] !== v) {
            out.push(
              violation(
                'spread',
                o,
                `constraint on ${String(c.topologyKey)} selects ${k}=${v}, which its own pods do not carry`,
              ),
            );
          }
        }
        if (typeof c.maxSkew !== 'number' || c.maxSkew < 1) {
          out.push(
            violation(
              'spread',
              o,
              `constraint on ${String(c.topologyKey)} has maxSkew ${String(c.maxSkew)}; it must be >= 1`,
            ),
          );
        }
      }
    }
    return out;
  },
};

/** In production (tier), spreading is a hard requirement. */
export const spreadHardInProductionRule: Rule = {
  id: 'spread-hard-in-production',
  reason: 'ScheduleAnyway lets the scheduler stack replicas when a zone is short; production must refuse instead.',
  check(objects, env) {
    if (env.tier !== 'production') return [];
    const out: Violation[] = [];
    for (const o of objects) {
      const pod = podTemplateOf(o);
      if (!pod) continue;
      for (const c of asArr(pod.spec.topologySpreadConstraints)) {
        if (c.whenUnsatisfiable !== 'DoNotSchedule') {
          out.push(
            violation(
              'spread-hard-in-production',
              o,
              `constraint on ${String(c.topologyKey)} uses ${String(c.whenUnsatisfiable)}, not DoNotSchedule`,
            ),
          );
        }
      }
    }
    return out;
  },
};

/** Every container has CPU and memory requests and limits, each request no larger than its limit. */
export const resourcesRule: Rule = {
  id: 'resources',
  reason:
    'Without requests the scheduler overcommits the small thesis nodes; without limits one pod can starve the rest.',
  check(objects) {
    const out: Violation[] = [];
    for (const o of objects) {
      const pod = podTemplateOf(o);
      if (!pod) continue;
      for (const c of allContainers(pod.spec)) {
        const name = String(c.name);
        const res = asObj(c.resources);
        const req = asStrRecord(res.requests);
        const lim = asStrRecord(res.limits);
        for (const k of ['cpu', 'memory'] as const) {
          if (req[k] === undefined) out.push(violation('resources', o, `container ${name} has no ${k} request`));
          if (lim[k] === undefined) out.push(violation('resources', o, `container ${name} has no ${k} limit`));
          if (req[k] !== undefined && lim[k] !== undefined) {
            const parse = k === 'cpu' ? parseCpu : parseMemory;
            if (parse(req[k]) > parse(lim[k])) {
              out.push(
                violation('resources', o, `container ${name} requests ${k} ${req[k]}, more than its limit ${lim[k]}`),
              );
            }
          }
        }
      }
    }
    return out;
  },
};

/** Long-running containers have readiness and liveness probes. */
export const probesRule: Rule = {
  id: 'probes',
  reason:
    'Without readiness a Service sends traffic to pods that are not ready; without liveness a hung process never restarts.',
  check(objects) {
    const out: Violation[] = [];
    for (const o of objects) {
      const pod = podTemplateOf(o);
      if (!pod) continue;
      for (const c of asArr(pod.spec.containers)) {
        for (const p of ['readinessProbe', 'livenessProbe'] as const) {
          if (c[p] === undefined) out.push(violation('probes', o, `container ${String(c.name)} has no ${p}`));
        }
      }
    }
    return out;
  },
};

/** Tags that move by design; refused like latest. A digest pins any tag. */
export const FLOATING_TAGS: ReadonlySet<string> = new Set([
  'latest',
  'main',
  'master',
  'stable',
  'edge',
  'nightly',
  'dev',
]);

/** Images are pinned: a tag other than a floating one (latest, main, stable, edge, ...), or a digest. */
export const pinnedImagesRule: Rule = {
  id: 'pinned-images',
  reason: 'An unpinned image changes under a running cluster; git would no longer say what runs.',
  check(objects) {
    const out: Violation[] = [];
    for (const o of objects) {
      const pod = podTemplateOf(o);
      if (!pod) continue;
      for (const c of allContainers(pod.spec)) {
        const image = String(c.image ?? '');
        const lastSegment = image.split('/').pop() ?? '';
        const pinnedByDigest = /@sha256:[a-f0-9]{64}$/.test(image);
        const tag = lastSegment.includes(':') ? lastSegment.split('@')[0]?.split(':').pop() : undefined;
        if (!pinnedByDigest && (tag === undefined || FLOATING_TAGS.has(tag))) {
          out.push(
            violation(
              'pinned-images',
              o,
              `container ${String(c.name)} image '${image}' is not pinned (a release tag, not ${[...FLOATING_TAGS].join('/')}, or a digest)`,
            ),
          );
        }
      }
    }
    return out;
  },
};

/** The app.kubernetes.io labels on every object. */
export const labelsRule: Rule = {
  id: 'labels',
  reason: 'Auditors and tools find what belongs to the platform by the standard labels.',
  check(objects) {
    const required = ['app.kubernetes.io/name', 'app.kubernetes.io/part-of', 'app.kubernetes.io/managed-by'];
    const out: Violation[] = [];
    for (const o of objects) {
      for (const k of required) {
        if (!o.metadata.labels?.[k]) out.push(violation('labels', o, `metadata.labels is missing ${k}`));
      }
    }
    return out;
  },
};
