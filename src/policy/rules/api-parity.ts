/**
 * Parity with the API server: what `kubectl apply` or the controllers would refuse or silently
 * get wrong, found before Argo CD tries to sync it.
 */
import type { EnvironmentConfig } from '../../../apps/environment';
import {
  allContainers,
  apiGroup,
  isRollout,
  rolloutWorkload,
  asArr,
  asObj,
  asStrRecord,
  autoscalers,
  CONTROLLER_KINDS,
  isEmptySelector,
  jsonEqual,
  type Json,
  type Manifest,
  nsOf,
  num,
  podTemplateOf,
  replicaRange,
  scales,
  selectorMatches,
  type Workload,
  workloads,
} from '../../model/objects';
import { environmentNamespaces, named, violation, type Rule, type Violation } from './core';

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;

export const isDns1123Label = (s: string) => s.length <= 63 && DNS1123_LABEL.test(s);
export const isDns1035Label = (s: string) => s.length <= 63 && DNS1035_LABEL.test(s);
export const isDns1123Subdomain = (s: string) => s.length <= 253 && DNS1123_SUBDOMAIN.test(s);

/** Why a label key is invalid, or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return 'has more than one "/"';
  const name = parts.length === 2 ? (parts[1] ?? '') : key;
  if (parts.length === 2 && !isDns1123Subdomain(parts[0] ?? '')) return 'has a prefix that is not a DNS subdomain';
  if (name.length === 0 || name.length > 63) return 'has a name part that is empty or longer than 63 characters';
  if (!QUALIFIED_NAME.test(name))
    return 'has a name part with characters other than [A-Za-z0-9-_.] or not alphanumeric at both ends';
  return undefined;
}

/** Why a label value is invalid, or undefined. */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63) return 'is longer than 63 characters';
  if (!QUALIFIED_NAME.test(value))
    return 'has characters other than [A-Za-z0-9-_.] or is not alphanumeric at both ends';
  return undefined;
}

/** Every label map in an object: metadata.labels anywhere, matchLabels, nodeSelector, Service selectors. */
function labelMaps(o: Manifest): { path: string; labels: Record<string, string> }[] {
  const out: { path: string; labels: Record<string, string> }[] = [];
  const walk = (v: unknown, path: string, parentKey: string) => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, `${path}[${i}]`, parentKey));
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    for (const [k, x] of Object.entries(v as Json)) {
      const p = path ? `${path}.${k}` : k;
      if ((k === 'labels' && parentKey === 'metadata') || k === 'matchLabels' || k === 'nodeSelector') {
        out.push({ path: p, labels: asStrRecord(x) });
      } else walk(x, p, k);
    }
  };
  walk(o, '', '');
  if (o.kind === 'Service') out.push({ path: 'spec.selector', labels: asStrRecord(asObj(o.spec).selector) });
  return out;
}

/** Object names, namespaces and every label key and value are what the API server accepts. */
export const validNamesRule: Rule = {
  id: 'valid-names',
  reason:
    'The API server rejects invalid names and labels at sync time; Service names must be DNS-1035 labels because they become DNS names and env vars.',
  check(objects) {
    const out: Violation[] = [];
    for (const o of objects) {
      const add = (m: string) => out.push(violation('valid-names', o, m));
      const name = o.metadata.name;
      if (o.kind === 'Service') {
        if (!isDns1035Label(name)) add(`name '${name}' is not a DNS-1035 label (a-z first, [a-z0-9-], at most 63)`);
      } else if (o.kind === 'Namespace') {
        if (!isDns1123Label(name)) add(`name '${name}' is not a DNS-1123 label`);
      } else if (!isDns1123Subdomain(name)) {
        add(`name '${name}' is not a DNS-1123 subdomain`);
      }
      const ns = o.metadata.namespace;
      if (ns !== undefined && !isDns1123Label(ns)) add(`namespace '${ns}' is not a DNS-1123 label`);
      for (const { path, labels } of labelMaps(o)) {
        for (const [k, v] of Object.entries(labels)) {
          const kp = labelKeyProblem(k);
          if (kp) add(`${path} key '${k}' ${kp}`);
          const vp = labelValueProblem(v);
          if (vp) add(`${path} value '${v}' of ${k} ${vp}`);
        }
      }
    }
    return out;
  },
};

/** No two objects with the same group, kind, namespace and name. */
export const uniqueIdentityRule: Rule = {
  id: 'unique-identity',
  reason: 'Two objects with one identity overwrite each other; which one wins depends on sync order.',
  check(objects) {
    const out: Violation[] = [];
    const seen = new Map<string, number>();
    for (const o of objects) {
      const key = `${apiGroup(o.apiVersion) || 'core'}/${o.kind} ${nsOf(o)}/${o.metadata.name}`;
      const n = (seen.get(key) ?? 0) + 1;
      seen.set(key, n);
      if (n === 2) out.push(violation('unique-identity', o, `is rendered more than once (${key})`));
    }
    return out;
  },
};

/** Kinds whose pods a controller's selector could adopt: pods without a controller of their own. */
const ADOPTABLE_KINDS = new Set([...CONTROLLER_KINDS, 'PodTemplate', 'Pod']);

/**
 * Controllers select their own pods and no one else's; StatefulSets are governed by a headless
 * Service.
 */
export const workloadSelectorsRule: Rule = {
  id: 'workload-selectors',
  reason:
    "The API server rejects a selector that does not match the template; a selector that also matches another workload's pods makes two controllers fight over them; a StatefulSet without its headless Service has no stable pod DNS names.",
  check(objects) {
    const out: Violation[] = [];
    const all = workloads(objects);
    for (const w of all) {
      const o = w.object;
      if (!CONTROLLER_KINDS.has(o.kind) && o.kind !== 'Job') continue;
      const selector = asObj(o.spec).selector;
      if (o.kind !== 'Job' && (selector === undefined || isEmptySelector(selector))) {
        out.push(violation('workload-selectors', o, 'has no spec.selector'));
      } else if (selector !== undefined && !selectorMatches(selector, w.pod.labels)) {
        out.push(violation('workload-selectors', o, 'spec.selector does not match the pod template labels'));
      } else if (selector !== undefined && CONTROLLER_KINDS.has(o.kind)) {
        for (const other of all) {
          if (other === w || other.namespace !== w.namespace || !ADOPTABLE_KINDS.has(other.object.kind)) continue;
          if (selectorMatches(selector, other.pod.labels)) {
            out.push(
              violation(
                'workload-selectors',
                o,
                `spec.selector also matches the pods of ${other.object.kind} ${other.object.metadata.name}; the controllers would fight over them`,
              ),
            );
          }
        }
      }
      if (o.kind === 'StatefulSet') {
        const svcName = named(asObj(o.spec).serviceName);
        const svc = objects.find((s) => s.kind === 'Service' && s.metadata.name === svcName && nsOf(s) === w.namespace);
        if (svcName === undefined) out.push(violation('workload-selectors', o, 'has no spec.serviceName'));
        else if (!svc) {
          out.push(
            violation('workload-selectors', o, `serviceName ${svcName} is not a rendered Service in ${w.namespace}`),
          );
        } else if (asObj(svc.spec).clusterIP !== 'None') {
          out.push(violation('workload-selectors', o, `serviceName ${svcName} is not headless (clusterIP: None)`));
        }
      }
    }
    return out;
  },
};

/** An IANA service name: 1-15 of [a-z0-9-], at least one letter, no '-' at either end or twice in a row. */
export function isIanaSvcName(s: string): boolean {
  return s.length <= 15 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(s) && /[a-z]/.test(s) && !s.includes('--');
}

/** Port, container and env var names are valid and unique; multi-port Services name every port. */
export const portsAndNamesRule: Rule = {
  id: 'ports-and-names',
  reason:
    'Services and probes find ports by name; the API server rejects invalid or duplicate names, and a duplicate env var silently loses one value.',
  check(objects) {
    const out: Violation[] = [];
    for (const w of workloads(objects)) {
      const add = (m: string) => out.push(violation('ports-and-names', w.object, m));
      const containerNames = new Set<string>();
      for (const c of allContainers(w.pod.spec)) {
        const cname = String(c.name);
        if (containerNames.has(cname)) add(`container name ${cname} is used twice in the pod`);
        containerNames.add(cname);
        if (!isDns1123Label(cname)) add(`container name ${cname} is not a DNS-1123 label`);
        const portNames = new Set<string>();
        const portNumbers = new Set<string>();
        for (const p of asArr(c.ports)) {
          const pn = p.name === undefined ? undefined : String(p.name);
          if (pn !== undefined) {
            if (!isIanaSvcName(pn)) add(`container ${cname} port name '${pn}' is not an IANA service name`);
            if (portNames.has(pn)) add(`container ${cname} declares port name ${pn} twice`);
            portNames.add(pn);
          }
          const pk = `${String(p.containerPort)}/${String(p.protocol ?? 'TCP')}`;
          if (portNumbers.has(pk)) add(`container ${cname} declares containerPort ${pk} twice`);
          portNumbers.add(pk);
        }
        const envNames = new Set<string>();
        for (const e of asArr(c.env)) {
          const en = String(e.name);
          if (envNames.has(en)) add(`container ${cname} sets env ${en} twice`);
          envNames.add(en);
        }
      }
    }
    for (const o of objects) {
      if (o.kind !== 'Service') continue;
      const ports = asArr(asObj(o.spec).ports);
      const names = new Set<string>();
      for (const [i, p] of ports.entries()) {
        const pn = named(p.name);
        if (pn === undefined) {
          if (ports.length > 1)
            out.push(violation('ports-and-names', o, `ports[${i}] has no name, but the Service has several`));
          continue;
        }
        if (!isDns1123Label(pn)) out.push(violation('ports-and-names', o, `port name '${pn}' is not a DNS-1123 label`));
        if (names.has(pn)) out.push(violation('ports-and-names', o, `port name ${pn} is used twice`));
        names.add(pn);
        if (typeof p.targetPort === 'string' && !isIanaSvcName(p.targetPort)) {
          out.push(violation('ports-and-names', o, `targetPort '${p.targetPort}' is not an IANA service name`));
        }
      }
    }
    return out;
  },
};

/** An int-or-percent as a number of pods out of `total` (percentages round up, as the disruption controller does). */
function scaled(v: unknown, total: number): number {
  if (typeof v === 'number') return v;
  const m = /^(\d+)%$/.exec(String(v));
  return m ? Math.ceil((Number(m[1]) * total) / 100) : NaN;
}

/** The controllers a label selector picks in a namespace. */
export function selectedControllers(objects: readonly Manifest[], namespace: string, selector: unknown): Manifest[] {
  return workloads(objects)
    .filter((w) => CONTROLLER_KINDS.has(w.object.kind) && w.namespace === namespace)
    .filter((w) => selectorMatches(selector, w.pod.labels))
    .map((w) => w.object);
}

/** PodDisruptionBudgets are well-formed and let at least one pod go. */
export const pdbValidRule: Rule = {
  id: 'pdb-valid',
  reason:
    'A budget that allows no disruption blocks every node drain and cluster upgrade; one that selects nothing protects nothing.',
  check(objects) {
    const out: Violation[] = [];
    for (const o of objects) {
      if (o.kind !== 'PodDisruptionBudget') continue;
      const spec = asObj(o.spec);
      const hasMin = spec.minAvailable !== undefined;
      const hasMax = spec.maxUnavailable !== undefined;
      if (hasMin === hasMax) {
        out.push(violation('pdb-valid', o, 'must set exactly one of minAvailable and maxUnavailable'));
        continue;
      }
      if (spec.selector === undefined || isEmptySelector(spec.selector)) {
        out.push(violation('pdb-valid', o, 'has an empty selector'));
        continue;
      }
      const selected = selectedControllers(objects, nsOf(o), spec.selector);
      if (selected.length === 0) {
        out.push(violation('pdb-valid', o, 'selects the pods of no rendered workload'));
        continue;
      }
      const total = selected.reduce((n, w) => n + (replicaRange(objects, w)?.min ?? 1), 0);
      const allowed = hasMax ? scaled(spec.maxUnavailable, total) : total - scaled(spec.minAvailable, total);
      if (!(allowed >= 1)) {
        out.push(
          violation(
            'pdb-valid',
            o,
            `allows ${String(allowed)} disruptions at ${total} replica(s) (${selected.map((w) => w.metadata.name).join(', ')}); drains would block`,
          ),
        );
      }
    }
    return out;
  },
};

/** Kinds with a scale subresource, which an autoscaler can drive (Rollout: Argo Rollouts'). */
export const SCALABLE_KINDS: ReadonlySet<string> = new Set(['Deployment', 'StatefulSet', 'ReplicaSet', 'Rollout']);

/**
 * HPAs and ScaledObjects: a sane range, a target that exists and can be scaled, metrics on
 * containers the target has, KEDA trigger authentications that exist, and a target that leaves
 * replicas to them.
 */
export const autoscalersRule: Rule = {
  id: 'autoscalers',
  reason:
    'An autoscaler on a missing or unscalable target, or on a container its target lacks, does nothing; a target that also sets spec.replicas makes Argo CD and the autoscaler fight over the count.',
  check(objects) {
    const out: Violation[] = [];
    const all = autoscalers(objects);
    for (const a of all) {
      const o = a.object;
      if (a.min > a.max) out.push(violation('autoscalers', o, `min replicas ${a.min} is more than max ${a.max}`));
      if (o.kind === 'HorizontalPodAutoscaler' && a.min < 1) {
        out.push(violation('autoscalers', o, `minReplicas ${a.min} is below 1`));
      }
      const target = objects.find((t) => scales(a, t));
      if (!target) {
        out.push(
          violation('autoscalers', o, `scaleTargetRef ${a.targetKind} ${nsOf(o)}/${a.targetName} is not rendered`),
        );
        continue;
      }
      if (!SCALABLE_KINDS.has(target.kind)) {
        out.push(
          violation(
            'autoscalers',
            o,
            `scaleTargetRef ${target.kind} ${target.metadata.name} has no scale subresource (scalable: ${[...SCALABLE_KINDS].join(', ')})`,
          ),
        );
        continue;
      }
      // A Rollout with workloadRef runs its Deployment's template.
      const template = podTemplateOf(isRollout(target) ? (rolloutWorkload(objects, target) ?? target) : target);
      const containers = new Set(allContainers(template?.spec ?? {}).map((c) => String(c.name)));
      for (const [i, m] of asArr(asObj(o.spec).metrics).entries()) {
        if (m.type !== 'ContainerResource') continue;
        const c = String(asObj(m.containerResource).container);
        if (!containers.has(c)) {
          out.push(
            violation(
              'autoscalers',
              o,
              `metrics[${i}] reads container ${c}, which ${target.kind} ${target.metadata.name} does not have (${[...containers].join(', ')})`,
            ),
          );
        }
      }
      if (o.kind === 'ScaledObject') {
        for (const [i, t] of asArr(asObj(o.spec).triggers).entries()) {
          const ref = asObj(t.authenticationRef);
          const name = named(ref.name);
          if (name === undefined) continue;
          const kind = String(ref.kind ?? 'TriggerAuthentication');
          const namespace = kind === 'ClusterTriggerAuthentication' ? '' : nsOf(o);
          if (!objects.some((x) => x.kind === kind && x.metadata.name === name && nsOf(x) === namespace)) {
            out.push(
              violation(
                'autoscalers',
                o,
                `triggers[${i}] authenticationRef ${kind} ${namespace ? `${namespace}/` : ''}${name} is not rendered`,
              ),
            );
          }
        }
      }
      if (asObj(target.spec).replicas !== undefined) {
        out.push(
          violation(
            'autoscalers',
            o,
            `target ${target.kind} ${target.metadata.name} sets spec.replicas; leave it out when an autoscaler owns the count`,
          ),
        );
      }
      if (all.filter((x) => scales(x, target)).length > 1 && all.find((x) => scales(x, target)) === a) {
        out.push(
          violation('autoscalers', o, `target ${target.kind} ${target.metadata.name} has more than one autoscaler`),
        );
      }
    }
    return out;
  },
};

const PROBES = ['readinessProbe', 'livenessProbe', 'startupProbe'] as const;

/** The port a probe handler points at, if it uses one. */
function probePort(probe: Json): unknown {
  for (const h of ['httpGet', 'tcpSocket', 'grpc']) {
    if (probe[h] !== undefined) return asObj(probe[h]).port;
  }
  return undefined;
}

/** Probes point at a port their container declares. */
export const probePortsRule: Rule = {
  id: 'probe-ports',
  reason:
    'A probe on an undeclared port never succeeds: readiness keeps the pod out of its Service and liveness restarts it forever.',
  check(objects) {
    const out: Violation[] = [];
    for (const w of workloads(objects)) {
      for (const c of allContainers(w.pod.spec)) {
        const ports = asArr(c.ports);
        for (const p of PROBES) {
          if (c[p] === undefined) continue;
          const port = probePort(asObj(c[p]));
          if (port === undefined) continue;
          const ok =
            typeof port === 'number'
              ? ports.some((x) => x.containerPort === port)
              : ports.some((x) => x.name === String(port));
          if (!ok) {
            out.push(
              violation(
                'probe-ports',
                w.object,
                `container ${String(c.name)} ${p} uses port ${String(port)}, which the container does not declare`,
              ),
            );
          }
        }
      }
    }
    return out;
  },
};

/** Probe fields with the API server's defaults filled in. */
function withDefaults(p: Json): Json {
  return {
    initialDelaySeconds: num(p.initialDelaySeconds, 0),
    periodSeconds: num(p.periodSeconds, 10),
    timeoutSeconds: num(p.timeoutSeconds, 1),
    successThreshold: num(p.successThreshold, 1),
    failureThreshold: num(p.failureThreshold, 3),
  };
}
function handlerOf(p: Json): Json {
  return Object.fromEntries(Object.entries(p).filter(([k]) => ['httpGet', 'tcpSocket', 'grpc', 'exec'].includes(k)));
}

/**
 * Where a container has both readiness and liveness probes, liveness must be the more patient
 * one: not identical to readiness (same handler and same thresholds), and its failure window
 * (failureThreshold x periodSeconds) at least as long as readiness's.
 */
export const probeTimingRule: Rule = {
  id: 'probe-timing',
  reason:
    'Liveness identical to or quicker than readiness restarts a pod that is only busy, when taking it out of rotation (readiness) would have let it recover; under load that turns a slowdown into a crash loop.',
  check(objects) {
    const out: Violation[] = [];
    for (const w of workloads(objects)) {
      for (const c of allContainers(w.pod.spec)) {
        if (c.readinessProbe === undefined || c.livenessProbe === undefined) continue;
        const r = asObj(c.readinessProbe);
        const l = asObj(c.livenessProbe);
        const rd = withDefaults(r);
        const ld = withDefaults(l);
        const name = `container ${String(c.name)}`;
        if (jsonEqual(handlerOf(r), handlerOf(l)) && jsonEqual(rd, ld)) {
          out.push(
            violation(
              'probe-timing',
              w.object,
              `${name} livenessProbe is identical to its readinessProbe (same handler and thresholds)`,
            ),
          );
          continue;
        }
        const rw = Number(rd.failureThreshold) * Number(rd.periodSeconds);
        const lw = Number(ld.failureThreshold) * Number(ld.periodSeconds);
        if (lw < rw) {
          out.push(
            violation(
              'probe-timing',
              w.object,
              `${name} livenessProbe gives up after ${lw}s, before readinessProbe (${rw}s): liveness must not be stricter`,
            ),
          );
        }
      }
    }
    return out;
  },
};

/** A Secret that something in the cluster creates, and what creates it. */
export interface ProvidedSecret {
  readonly namespace: string;
  readonly name: string;
  readonly by: string;
  /** The keys the Secret will hold, when git says (undefined: unknown, e.g. pre-created or dataFrom). */
  readonly keys?: readonly string[];
}

/** The keys cert-manager writes to a Certificate's Secret (ca.crt when the issuer provides one). */
export const CERTIFICATE_KEYS: readonly string[] = ['tls.crt', 'tls.key', 'ca.crt'];

/** The keys of a cert-manager Certificate's Secret, with its additional output formats and keystores. */
function certificateKeys(spec: Json): string[] {
  const out = [...CERTIFICATE_KEYS];
  for (const f of asArr(spec.additionalOutputFormats)) {
    if (f.type === 'CombinedPEM') out.push('tls-combined.pem');
    if (f.type === 'DER') out.push('key.der');
  }
  const stores = asObj(spec.keystores);
  if (asObj(stores.jks).create === true) out.push('keystore.jks', 'truststore.jks');
  if (asObj(stores.pkcs12).create === true) out.push('keystore.p12', 'truststore.p12');
  return out;
}

/** The keys an ExternalSecret's target will hold, or undefined when git cannot know them (dataFrom, templateFrom). */
function externalSecretKeys(spec: Json): string[] | undefined {
  if (asArr(spec.dataFrom).length > 0) return undefined;
  const fromData = asArr(spec.data).map((d) => String(d.secretKey));
  const target = asObj(spec.target);
  if (target.template === undefined) return fromData;
  const template = asObj(target.template);
  if (asArr(template.templateFrom).length > 0) return undefined;
  const templated = Object.keys(asObj(template.data));
  return template.mergePolicy === 'Merge' ? [...fromData, ...templated] : templated;
}

/** Ingress annotations that make cert-manager's ingress-shim create the Secrets of spec.tls. */
const CERT_MANAGER_INGRESS_ANNOTATIONS = ['cert-manager.io/cluster-issuer', 'cert-manager.io/issuer'];

/**
 * The Secrets the cluster provides although git holds no Secret object: the targets of rendered
 * ExternalSecrets, rendered SealedSecrets, the secretName of rendered cert-manager Certificates,
 * the tls secretNames of Ingresses that cert-manager's ingress-shim serves (a cert-manager.io
 * issuer annotation) and, when env.secrets.provider is 'pre-created', the names in env.secrets
 * (oauth2Proxy and nats in the app namespace). Each comes
 * with the keys it will hold where the render says.
 */
export function providedByCluster(env: EnvironmentConfig, objects: readonly Manifest[]): ProvidedSecret[] {
  const out: ProvidedSecret[] = [];
  const withKeys = (keys: readonly string[] | undefined) => (keys === undefined ? {} : { keys });
  for (const o of objects) {
    const spec = asObj(o.spec);
    const by = `${o.kind} ${nsOf(o)}/${o.metadata.name}`;
    if (o.kind === 'ExternalSecret') {
      const name = named(asObj(spec.target).name) ?? o.metadata.name;
      out.push({ namespace: nsOf(o), name, by, ...withKeys(externalSecretKeys(spec)) });
    } else if (o.kind === 'SealedSecret') {
      const template = asObj(spec.template);
      const name = named(asObj(template.metadata).name) ?? o.metadata.name;
      const keys = [...Object.keys(asObj(spec.encryptedData)), ...Object.keys(asObj(template.data))];
      out.push({ namespace: nsOf(o), name, by, keys });
    } else if (o.kind === 'Certificate') {
      const secretName = named(spec.secretName);
      if (secretName) out.push({ namespace: nsOf(o), name: secretName, by, keys: certificateKeys(spec) });
    } else if (
      o.kind === 'Ingress' &&
      CERT_MANAGER_INGRESS_ANNOTATIONS.some((a) => named(o.metadata.annotations?.[a]) !== undefined)
    ) {
      for (const t of asArr(spec.tls)) {
        const secretName = named(t.secretName);
        if (secretName) out.push({ namespace: nsOf(o), name: secretName, by, keys: CERTIFICATE_KEYS });
      }
    }
  }
  if (env.secrets.provider === 'pre-created') {
    const by = 'pre-created (env.secrets)';
    out.push({ namespace: env.namespaces.app, name: env.secrets.oauth2Proxy, by });
    out.push({ namespace: env.namespaces.app, name: env.secrets.nats, by });
  }
  return out;
}

/** PriorityClasses every cluster has. */
const BUILT_IN_PRIORITY_CLASSES = new Set(['system-cluster-critical', 'system-node-critical']);

/** An object a pod spec reads: its kind and name, where in the spec, and the keys it reads from it. */
export interface PodReference {
  readonly kind: 'ConfigMap' | 'Secret' | 'PersistentVolumeClaim';
  readonly name: string;
  readonly where: string;
  readonly keys: readonly string[];
}

/** The ConfigMaps, Secrets and PersistentVolumeClaims a pod spec reads (optional references left out). */
export function podReferences(spec: Json): PodReference[] {
  const out: PodReference[] = [];
  const push = (kind: PodReference['kind'], ref: Json, field: string, where: string, keys: string[] = []) => {
    const name = named(ref[field]);
    if (name !== undefined && ref.optional !== true) out.push({ kind, name, where, keys });
  };
  const itemKeys = (ref: Json) => asArr(ref.items).map((i) => String(i.key));
  for (const c of allContainers(spec)) {
    const cn = `container ${String(c.name)}`;
    for (const e of asArr(c.env)) {
      const from = asObj(e.valueFrom);
      const where = `${cn} env ${String(e.name)}`;
      for (const [field, kind] of [
        ['configMapKeyRef', 'ConfigMap'],
        ['secretKeyRef', 'Secret'],
      ] as const) {
        if (from[field] === undefined) continue;
        const ref = asObj(from[field]);
        push(kind, ref, 'name', where, ref.key === undefined ? [] : [String(ref.key)]);
      }
    }
    for (const e of asArr(c.envFrom)) {
      if (e.configMapRef) push('ConfigMap', asObj(e.configMapRef), 'name', `${cn} envFrom`);
      if (e.secretRef) push('Secret', asObj(e.secretRef), 'name', `${cn} envFrom`);
    }
  }
  for (const v of asArr(spec.volumes)) {
    const where = `volume ${String(v.name)}`;
    if (v.configMap) push('ConfigMap', asObj(v.configMap), 'name', where, itemKeys(asObj(v.configMap)));
    if (v.secret) push('Secret', asObj(v.secret), 'secretName', where, itemKeys(asObj(v.secret)));
    if (v.persistentVolumeClaim) push('PersistentVolumeClaim', asObj(v.persistentVolumeClaim), 'claimName', where);
    for (const s of asArr(asObj(v.projected).sources)) {
      if (s.configMap) push('ConfigMap', asObj(s.configMap), 'name', where, itemKeys(asObj(s.configMap)));
      if (s.secret) push('Secret', asObj(s.secret), 'name', where, itemKeys(asObj(s.secret)));
    }
  }
  for (const s of asArr(spec.imagePullSecrets)) push('Secret', s, 'name', 'imagePullSecrets');
  return out;
}

/** The keys of a rendered ConfigMap or Secret. */
function renderedKeys(o: Manifest): string[] {
  const keysOf = (field: string) => Object.keys(asObj((o as Json)[field]));
  return o.kind === 'Secret'
    ? [...keysOf('data'), ...keysOf('stringData')]
    : [...keysOf('data'), ...keysOf('binaryData')];
}

/** The volume names a workload's containers may mount: its pod's volumes and, for a StatefulSet, its claim templates. */
function mountableVolumes(w: Workload): Set<string> {
  const names = asArr(w.pod.spec.volumes).map((v) => String(v.name));
  if (w.object.kind === 'StatefulSet') {
    for (const t of asArr(asObj(w.object.spec).volumeClaimTemplates)) names.push(String(asObj(t.metadata).name));
  }
  return new Set(names);
}

/** A cluster-provided object the environment documents: an issuer, a secret store, an ingress class, a Gateway. */
interface Documented {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  /** The env field that documents it. */
  readonly field: string;
}

/** The cluster-provided objects env documents (namespace '' for cluster-scoped ones). */
export function documentedByEnvironment(env: EnvironmentConfig): Documented[] {
  const out: Documented[] = [];
  const e = env.entrypoint;
  const issuer = (r: { kind: string; name: string }, field: string) =>
    out.push({ kind: r.kind, namespace: '', name: r.name, field });
  if (e.issuer) issuer(e.issuer, 'env.entrypoint.issuer');
  const natsTls = env.services.nats.tls;
  if (natsTls) issuer(natsTls.issuer, 'env.services.nats.tls.issuer');
  if (e.className)
    out.push({ kind: 'IngressClass', namespace: '', name: e.className, field: 'env.entrypoint.className' });
  if (e.gateway)
    out.push({
      kind: 'Gateway',
      namespace: e.gateway.namespace,
      name: e.gateway.name,
      field: 'env.entrypoint.gateway',
    });
  const store = env.secrets.externalSecrets?.store;
  if (store)
    out.push({ kind: store.kind, namespace: '', name: store.name, field: 'env.secrets.externalSecrets.store' });
  return out;
}

/** The references of an object to cluster-provided objects: kind, namespace ('' if cluster-scoped), name, and where. */
function clusterReferences(o: Manifest): { kind: string; namespace: string; name: string; where: string }[] {
  const spec = asObj(o.spec);
  const out: { kind: string; namespace: string; name: string; where: string }[] = [];
  const add = (kind: string, namespaced: boolean, name: unknown, where: string, namespace = nsOf(o)) => {
    const n = named(name);
    if (n !== undefined) out.push({ kind, namespace: namespaced ? namespace : '', name: n, where });
  };
  if (o.kind === 'Certificate') {
    const ref = asObj(spec.issuerRef);
    const kind = String(ref.kind ?? 'Issuer');
    add(kind, kind === 'Issuer', ref.name, 'spec.issuerRef');
  } else if (o.kind === 'ExternalSecret') {
    const ref = asObj(spec.secretStoreRef);
    const kind = String(ref.kind ?? 'SecretStore');
    add(kind, kind === 'SecretStore', ref.name, 'spec.secretStoreRef');
  } else if (o.kind === 'Ingress') {
    add('IngressClass', false, spec.ingressClassName, 'spec.ingressClassName');
    const annotations = o.metadata.annotations ?? {};
    add(
      'ClusterIssuer',
      false,
      annotations['cert-manager.io/cluster-issuer'],
      'annotation cert-manager.io/cluster-issuer',
    );
    add('Issuer', true, annotations['cert-manager.io/issuer'], 'annotation cert-manager.io/issuer');
  } else if (o.kind === 'HTTPRoute') {
    for (const [i, p] of asArr(spec.parentRefs).entries()) {
      if (String(p.kind ?? 'Gateway') !== 'Gateway') continue;
      add('Gateway', true, p.name, `spec.parentRefs[${i}]`, String(p.namespace ?? nsOf(o)));
    }
  }
  return out;
}

/**
 * Everything a pod spec names exists in the render, or is provided by the cluster: ConfigMaps,
 * Secrets (and the keys read from them, where the render says which keys they hold),
 * PersistentVolumeClaims, the volume of every volumeMount, the ServiceAccount and the PriorityClass;
 * the Secret of every Ingress tls entry; and every issuer, secret store, ingress class and Gateway
 * the render names is rendered or documented by the environment (documentedByEnvironment).
 */
export const referencesRule: Rule = {
  id: 'references',
  reason:
    'A pod that names a missing ConfigMap, Secret, key, claim, volume, ServiceAccount or PriorityClass never starts, and a certificate, secret or route on a missing issuer, store, class or Gateway never comes; the sync looks green until the pods stay Pending.',
  check(objects, env) {
    const out: Violation[] = [];
    const find = (kind: string, namespace: string, name: string) =>
      objects.find((o) => o.kind === kind && o.metadata.name === name && nsOf(o) === namespace);
    const has = (kind: string, namespace: string, name: string) => find(kind, namespace, name) !== undefined;
    const provided = providedByCluster(env, objects);
    const rendered = new Set(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name));
    for (const n of environmentNamespaces(objects, env)) {
      if (rendered.has(n)) continue;
      const user = objects.find((o) => nsOf(o) === n);
      if (user) out.push(violation('references', user, `lives in namespace ${n}, which is not rendered`));
    }
    for (const w of workloads(objects)) {
      const add = (m: string) => out.push(violation('references', w.object, m));
      for (const r of podReferences(w.pod.spec)) {
        const target = find(r.kind, w.namespace, r.name);
        const by =
          r.kind === 'Secret' ? provided.find((p) => p.namespace === w.namespace && p.name === r.name) : undefined;
        if (!target && !by) {
          add(
            `${r.where} reads ${r.kind} ${w.namespace}/${r.name}, which is neither rendered nor provided by the cluster`,
          );
          continue;
        }
        const keys = target ? renderedKeys(target) : by?.keys;
        if (keys === undefined) continue;
        for (const k of r.keys) {
          if (!keys.includes(k)) {
            add(
              `${r.where} reads key ${k} of ${r.kind} ${w.namespace}/${r.name}, which holds only ${keys.join(', ') || 'no keys'}${by ? ` (${by.by})` : ''}`,
            );
          }
        }
      }
      const volumes = mountableVolumes(w);
      for (const c of allContainers(w.pod.spec)) {
        for (const [field, what] of [
          ['volumeMounts', 'mountPath'],
          ['volumeDevices', 'devicePath'],
        ] as const) {
          for (const m of asArr(c[field])) {
            const name = String(m.name);
            if (volumes.has(name)) continue;
            add(
              `container ${String(c.name)} ${field} ${name} (${String(m[what])}) names no volume of the pod${w.object.kind === 'StatefulSet' ? ' nor a volumeClaimTemplate' : ''}`,
            );
          }
        }
      }
      const sa = named(w.pod.spec.serviceAccountName);
      if (sa !== undefined && sa !== 'default' && !has('ServiceAccount', w.namespace, sa)) {
        add(`runs as ServiceAccount ${w.namespace}/${sa}, which is not rendered`);
      }
      const pc = named(w.pod.spec.priorityClassName);
      if (pc !== undefined && !BUILT_IN_PRIORITY_CLASSES.has(pc) && !has('PriorityClass', '', pc)) {
        add(`uses PriorityClass ${pc}, which is not rendered`);
      }
    }
    const documented = documentedByEnvironment(env);
    for (const o of objects) {
      for (const r of clusterReferences(o)) {
        if (has(r.kind, r.namespace, r.name)) continue;
        if (documented.some((d) => d.kind === r.kind && d.namespace === r.namespace && d.name === r.name)) continue;
        const id = `${r.kind} ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
        out.push(
          violation(
            'references',
            o,
            `${r.where} names ${id}, which is neither rendered nor documented by the environment (${documented.map((d) => `${d.field}: ${d.kind} ${d.namespace ? `${d.namespace}/` : ''}${d.name}`).join('; ') || 'nothing'})`,
          ),
        );
      }
      if (o.kind !== 'Ingress') continue;
      for (const t of asArr(asObj(o.spec).tls)) {
        const secretName = named(t.secretName);
        if (secretName === undefined) continue;
        if (
          has('Secret', nsOf(o), secretName) ||
          provided.some((p) => p.namespace === nsOf(o) && p.name === secretName)
        )
          continue;
        out.push(
          violation(
            'references',
            o,
            `tls secretName ${nsOf(o)}/${secretName} is neither rendered nor provided by the cluster (a Certificate, or a cert-manager.io issuer annotation on the Ingress)`,
          ),
        );
      }
    }
    return out;
  },
};
