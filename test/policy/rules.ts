/**
 * Policy rules over rendered manifests. Each rule is a pure function from the objects of one
 * environment to violations, so tests can run it on the committed dist/ and on hand-made bad
 * manifests alike. README.md lists every rule with its id and reason.
 */
import type { EnvironmentConfig } from '../../src/config';
import { parseCpu, parseMemory } from '../../src/quantity';
import { EXCEPTIONS, type PolicyException } from './exceptions';
import { objectId, type K8sObject } from '../support/committed';

export interface Violation {
  readonly rule: string;
  readonly object: K8sObject;
  readonly message: string;
}

/** A rule: id, one-line reason, and the check. */
export interface Rule {
  readonly id: string;
  readonly reason: string;
  readonly check: (objects: readonly K8sObject[], env: EnvironmentConfig) => Violation[];
}

type Json = Record<string, unknown>;

interface PodTemplateLike {
  readonly labels: Readonly<Record<string, string>>;
  readonly spec: Json;
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'PodTemplate', 'Pod']);

function asObj(v: unknown): Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {};
}
function asArr(v: unknown): Json[] {
  return Array.isArray(v) ? v.map(asObj) : [];
}
function asStrRecord(v: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(asObj(v)).map(([k, x]) => [k, String(x)]));
}

/** The pod template of a workload object, if it has one. */
export function podTemplateOf(o: K8sObject): PodTemplateLike | undefined {
  if (!WORKLOAD_KINDS.has(o.kind)) return undefined;
  if (o.kind === 'Pod') return { labels: asStrRecord(o.metadata.labels), spec: asObj(o.spec) };
  const template = o.kind === 'PodTemplate' ? asObj(o.template) : asObj(asObj(o.spec).template);
  return { labels: asStrRecord(asObj(template.metadata).labels), spec: asObj(template.spec) };
}

function allContainers(spec: Json): Json[] {
  return [...asArr(spec.initContainers), ...asArr(spec.containers)];
}

function violation(rule: string, object: K8sObject, message: string): Violation {
  return { rule, object, message };
}

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

/** In prod, spreading is a hard requirement. */
export const spreadHardInProdRule: Rule = {
  id: 'spread-hard-in-prod',
  reason: 'ScheduleAnyway lets the scheduler stack replicas when a zone is short; prod must refuse instead.',
  check(objects, env) {
    if (env.name !== 'prod') return [];
    const out: Violation[] = [];
    for (const o of objects) {
      const pod = podTemplateOf(o);
      if (!pod) continue;
      for (const c of asArr(pod.spec.topologySpreadConstraints)) {
        if (c.whenUnsatisfiable !== 'DoNotSchedule') {
          out.push(
            violation(
              'spread-hard-in-prod',
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

/**
 * What the middleware may do, and nothing else: launch, watch and delete executor pods, and read
 * their templates. Key: "<apiGroup>/<resource>" ("" is the core group).
 */
export const RBAC_ALLOW_LIST: Readonly<Record<string, readonly string[]>> = {
  '/pods': ['create', 'delete', 'get', 'list', 'watch'],
  '/podtemplates': ['get', 'list'],
};

/** RBAC: no wildcards, no cluster-wide grants, allow-listed verbs only, bindings that resolve. */
export const rbacRule: Rule = {
  id: 'rbac',
  reason: 'The middleware creates pods that run untrusted code; its power must be exactly that and nothing more.',
  check(objects, env) {
    const out: Violation[] = [];
    const roles = new Set(
      objects.filter((o) => o.kind === 'Role').map((o) => `${o.metadata.namespace}/${o.metadata.name}`),
    );
    const clusterRoles = new Set(objects.filter((o) => o.kind === 'ClusterRole').map((o) => o.metadata.name));
    const accounts = new Set(
      objects.filter((o) => o.kind === 'ServiceAccount').map((o) => `${o.metadata.namespace}/${o.metadata.name}`),
    );
    for (const o of objects) {
      if (o.kind === 'Role' || o.kind === 'ClusterRole') {
        if (o.kind === 'ClusterRole')
          out.push(violation('rbac', o, 'ClusterRoles are not allowed; grant namespaced Roles'));
        for (const [i, rule] of asArr(o.rules).entries()) {
          const groups = (rule.apiGroups as unknown[] | undefined)?.map(String) ?? [];
          const resources = (rule.resources as unknown[] | undefined)?.map(String) ?? [];
          const verbs = (rule.verbs as unknown[] | undefined)?.map(String) ?? [];
          for (const [what, list] of [
            ['apiGroups', groups],
            ['resources', resources],
            ['verbs', verbs],
          ] as const) {
            if (list.some((x) => x.includes('*')))
              out.push(violation('rbac', o, `rules[${i}].${what} contains a wildcard`));
          }
          if (Array.isArray(rule.nonResourceURLs)) {
            out.push(violation('rbac', o, `rules[${i}] grants nonResourceURLs`));
          }
          for (const g of groups) {
            for (const r of resources) {
              const allowed = RBAC_ALLOW_LIST[`${g}/${r}`];
              if (!allowed) {
                out.push(
                  violation('rbac', o, `rules[${i}] grants ${g || 'core'}/${r}, which is not on the allow-list`),
                );
                continue;
              }
              for (const v of verbs) {
                if (!allowed.includes(v))
                  out.push(violation('rbac', o, `rules[${i}] grants '${v}' on ${r}; allowed: ${allowed.join(', ')}`));
              }
            }
          }
        }
        if (o.kind === 'Role' && o.metadata.namespace !== env.namespaces.executor) {
          out.push(violation('rbac', o, `Roles may only live in the executor namespace ${env.namespaces.executor}`));
        }
      }
      if (o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding') {
        const ref = asObj(o.roleRef);
        if (o.kind === 'ClusterRoleBinding')
          out.push(violation('rbac', o, 'ClusterRoleBindings grant cluster-wide power; not allowed'));
        if (ref.kind === 'Role' && !roles.has(`${o.metadata.namespace}/${String(ref.name)}`)) {
          out.push(
            violation(
              'rbac',
              o,
              `refers to Role ${String(ref.name)}, which is not rendered in ${o.metadata.namespace}`,
            ),
          );
        }
        if (ref.kind === 'ClusterRole' && !clusterRoles.has(String(ref.name))) {
          out.push(
            violation(
              'rbac',
              o,
              `refers to ClusterRole ${String(ref.name)} (cluster-wide roles such as built-ins are not allowed)`,
            ),
          );
        }
        for (const s of asArr(o.subjects)) {
          if (s.kind !== 'ServiceAccount') {
            out.push(
              violation('rbac', o, `binds ${String(s.kind)} ${String(s.name)}; only ServiceAccounts may be bound`),
            );
            continue;
          }
          if (!accounts.has(`${String(s.namespace)}/${String(s.name)}`)) {
            out.push(
              violation(
                'rbac',
                o,
                `binds ServiceAccount ${String(s.namespace)}/${String(s.name)}, which is not rendered`,
              ),
            );
          }
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

/** Images are pinned: a tag other than latest, or a digest. */
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
        const tag = lastSegment.includes(':') ? lastSegment.split(':').pop() : undefined;
        if (!pinnedByDigest && (tag === undefined || tag === 'latest')) {
          out.push(
            violation(
              'pinned-images',
              o,
              `container ${String(c.name)} image '${image}' is not pinned (tag other than latest, or digest)`,
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

export const RULES: readonly Rule[] = [
  spreadRule,
  spreadHardInProdRule,
  rbacRule,
  resourcesRule,
  probesRule,
  pinnedImagesRule,
  labelsRule,
];

function matches(e: PolicyException, v: Violation, env: string): boolean {
  const name = v.object.metadata.name;
  const nameOk = e.name.endsWith('*') ? name.startsWith(e.name.slice(0, -1)) : name === e.name;
  return e.rule === v.rule && (e.env === '*' || e.env === env) && e.kind === v.object.kind && nameOk;
}

/** Runs a rule; returns violations not covered by an exception, and the exceptions that were used. */
export function runRule(
  rule: Rule,
  objects: readonly K8sObject[],
  env: EnvironmentConfig,
  exceptions: readonly PolicyException[] = EXCEPTIONS,
): { violations: Violation[]; used: Set<PolicyException> } {
  const used = new Set<PolicyException>();
  const violations = rule.check(objects, env).filter((v) => {
    const e = exceptions.find((x) => matches(x, v, env.name));
    if (e) used.add(e);
    return !e;
  });
  return { violations, used };
}

/** One line per violation, for assertion messages. */
export function formatViolations(vs: readonly Violation[]): string {
  return vs.map((v) => `[${v.rule}] ${objectId(v.object)}: ${v.message}`).join('\n');
}
