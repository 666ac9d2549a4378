/**
 * Semantic diff of rendered objects: which objects of an environment were added, removed or
 * changed (field by field), and which of those changes are risky. Pure: the command that reads
 * git and renders the working tree is src/commands/diff-cli.ts.
 *
 * Risk categories (each change may raise several):
 *   rbac            a Role/ClusterRole grants a (group, resource, verb) it did not; a ClusterRole,
 *                   RoleBinding or ClusterRoleBinding is added; a binding gains subjects or a new roleRef
 *   exposure        an Ingress/HTTPRoute/Gateway is added or gains hosts or paths; a Service becomes
 *                   LoadBalancer or NodePort or gains externalIPs; a NetworkPolicy allows a new
 *                   (direction, peer, port), drops a policyType, changes its podSelector, or is deleted;
 *                   a new NetworkPolicy with allow rules (policies are additive)
 *   policy-removed  a NetworkPolicy, PodDisruptionBudget, ValidatingAdmissionPolicy(Binding),
 *                   ResourceQuota or LimitRange is deleted
 *   admission       pod-security.kubernetes.io labels lowered; VAP validations removed, failurePolicy
 *                   Ignore, scope changed; a binding loses Deny; securityContext loosened (privileged,
 *                   allowPrivilegeEscalation, runAsNonRoot, readOnlyRootFilesystem, capabilities,
 *                   runAsUser 0, host namespaces, seccomp Unconfined); a service-account token newly mounted
 *   immutable       a field the API server refuses to update (StatefulSet spec but replicas, template,
 *                   updateStrategy, minReadySeconds, ordinals and PVC retention; workload selectors;
 *                   Service clusterIP; PVC spec but storage requests; Job template and selector;
 *                   binding roleRef; data of an immutable ConfigMap/Secret; StorageClass)
 *   unpinned-image  a new or changed image with no tag, a floating tag (latest, main, stable, edge...)
 *                   or a digest removed
 *   unverified-image  in an environment promoted from another (promotedFrom: prod from staging), a new or
 *                   changed image whose digest the source environment's render does not run
 *   canary-weakened in a production-tier environment: a Rollout loses strategy.canary.analysis or one of
 *                   its templates, a metric goes dryRun (in the Rollout or its template), a template loses a
 *                   metric, the canary has fewer steps or a higher first setWeight, progressDeadlineAbort is
 *                   no longer true; an AnalysisTemplate or a Rollout is deleted (its Deployment goes back to
 *                   a plain rolling update, unjudged)
 *   headroom        capacity headroom (CPU or memory, src/inspect/capacity.ts) falls below the threshold
 */
import type { CapacityReport } from './capacity';
import {
  allContainers,
  asArr,
  asObj,
  asStrArr,
  jsonEqual,
  objectId,
  podContainers,
  podSpecOf,
  policyTypes,
  type Json,
  type Manifest,
} from '../model/objects';

/** One field that differs; `undefined` means absent. */
export interface FieldChange {
  readonly path: string;
  readonly before: unknown;
  readonly after: unknown;
}

export type RiskCategory =
  | 'rbac'
  | 'exposure'
  | 'policy-removed'
  | 'admission'
  | 'immutable'
  | 'unpinned-image'
  | 'unverified-image'
  | 'canary-weakened'
  | 'headroom';

export const RISK_CATEGORIES: readonly RiskCategory[] = [
  'rbac',
  'exposure',
  'policy-removed',
  'admission',
  'immutable',
  'unpinned-image',
  'unverified-image',
  'canary-weakened',
  'headroom',
];

export interface Risk {
  readonly category: RiskCategory;
  /** `Kind namespace/name`, or the environment for headroom. */
  readonly object: string;
  readonly message: string;
}

export interface ObjectChange {
  readonly id: string;
  readonly kind: string;
  readonly change: 'added' | 'removed' | 'changed';
  /** Field changes, for 'changed'. */
  readonly fields: readonly FieldChange[];
}

export interface EnvironmentDiff {
  readonly env: string;
  readonly changes: readonly ObjectChange[];
  readonly risks: readonly Risk[];
}

/** Headroom of one side, in percent of capacity. */
export interface Headroom {
  readonly cpuPct: number;
  readonly memoryPct: number;
}

export function headroomOf(cap: CapacityReport): Headroom {
  const pct = (part: number, whole: number) => (whole > 0 ? Math.round((part / whole) * 1000) / 10 : 0);
  return { cpuPct: pct(cap.headroom.cpu, cap.capacity.cpu), memoryPct: pct(cap.headroom.memory, cap.capacity.memory) };
}

export interface DiffInput {
  readonly env: string;
  readonly before: readonly Manifest[];
  readonly after: readonly Manifest[];
  readonly headroom?: { readonly before?: Headroom; readonly after?: Headroom; readonly threshold: number };
  /**
   * The environment this one is promoted from (promotedFrom) and the digests its render (the same
   * side) runs: an image changing to another digest is flagged `unverified-image`.
   */
  readonly verified?: { readonly from: string; readonly digests: ReadonlySet<string> };
  /** Whether the environment is production-tier: its canaries must not be weakened (`canary-weakened`). */
  readonly production?: boolean;
}

/** The digests (`sha256:…`) of every container image of `objects`. */
export function imageDigests(objects: readonly Manifest[]): Set<string> {
  const out = new Set<string>();
  for (const o of objects) {
    for (const image of containerImages(o).values()) {
      const at = image.indexOf('@');
      if (at >= 0) out.add(image.slice(at + 1));
    }
  }
  return out;
}

/** Diffs one environment's objects. */
export function diffEnvironment(input: DiffInput): EnvironmentDiff {
  const index = (list: readonly Manifest[]) => new Map(list.map((o) => [objectId(o), o]));
  const b = index(input.before);
  const a = index(input.after);
  const ids = [...new Set([...b.keys(), ...a.keys()])].sort();
  const changes: ObjectChange[] = [];
  const risks: Risk[] = [];
  for (const id of ids) {
    const before = b.get(id);
    const after = a.get(id);
    const kind = (after ?? before)?.kind ?? '';
    if (before && after) {
      // What the object does first, its labels and annotations after.
      const all = diffValues(before, after);
      const meta = (f: FieldChange) => /(^|\.)metadata\./.test(f.path);
      const fields = [...all.filter((f) => !meta(f)), ...all.filter(meta)];
      if (fields.length === 0) continue;
      changes.push({ id, kind, change: 'changed', fields });
    } else changes.push({ id, kind, change: before ? 'removed' : 'added', fields: [] });
    risks.push(...objectRisks(id, before, after));
    if (input.verified) risks.push(...unverifiedImages(id, before, after, input.verified));
    if (input.production) risks.push(...canaryWeakened(id, before, after));
  }
  const h = input.headroom;
  if (h?.after) {
    for (const [what, key] of [
      ['CPU', 'cpuPct'],
      ['memory', 'memoryPct'],
    ] as const) {
      const now = h.after[key];
      const was = h.before?.[key];
      if (now < h.threshold && (was === undefined || now < was)) {
        risks.push({
          category: 'headroom',
          object: input.env,
          message: `${what} headroom ${was === undefined ? '' : `${was}% → `}${now}%, below the ${h.threshold}% threshold`,
        });
      }
    }
  }
  return { env: input.env, changes, risks };
}

// ---------------------------------------------------------------------------------------------
// Field-level differences

/** Every differing leaf between two values, with readable paths. */
export function diffValues(before: unknown, after: unknown, path = '', out: FieldChange[] = []): FieldChange[] {
  if (jsonEqual(before, after)) return out;
  if (isPlainObject(before) && isPlainObject(after)) {
    for (const k of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
      diffValues(before[k], after[k], path ? `${path}.${k}` : k, out);
    }
    return out;
  }
  if (Array.isArray(before) && Array.isArray(after)) {
    const named = (l: unknown[]) =>
      l.every((x) => isPlainObject(x) && typeof x.name === 'string') &&
      new Set(l.map((x) => (x as Json).name)).size === l.length;
    if (named(before) && named(after)) {
      const bm = new Map(before.map((x) => [String((x as Json).name), x]));
      const am = new Map(after.map((x) => [String((x as Json).name), x]));
      for (const n of [...new Set([...bm.keys(), ...am.keys()])])
        diffValues(bm.get(n), am.get(n), `${path}[${n}]`, out);
      return out;
    }
    if (before.length === after.length) {
      before.forEach((x, i) => diffValues(x, after[i], `${path}[${i}]`, out));
      return out;
    }
    for (const x of after)
      if (!before.some((y) => jsonEqual(x, y))) out.push({ path: `${path}[+]`, before: undefined, after: x });
    for (const x of before)
      if (!after.some((y) => jsonEqual(x, y))) out.push({ path: `${path}[-]`, before: x, after: undefined });
    return out;
  }
  out.push({ path, before, after });
  return out;
}

function isPlainObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function canonical(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isPlainObject(v))
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

// ---------------------------------------------------------------------------------------------
// Risk rules

type Rule = (id: string, before: Manifest | undefined, after: Manifest | undefined) => Risk[];

export function objectRisks(id: string, before: Manifest | undefined, after: Manifest | undefined): Risk[] {
  return RULES.flatMap((r) => r(id, before, after));
}

const spec = (o: Manifest | undefined): Json => asObj(o?.spec);
const risk = (category: RiskCategory, object: string, message: string): Risk => ({ category, object, message });
const newItems = (before: Iterable<string>, after: Iterable<string>) => {
  const b = new Set(before);
  return [...new Set(after)].filter((x) => !b.has(x)).sort();
};

/** Every permission a Role or ClusterRole grants, one string per (group, resource, verb[, names]). */
export function permissions(o: Manifest | undefined): string[] {
  const out: string[] = [];
  for (const r of asArr(o?.rules)) {
    const names = asStrArr(r.resourceNames);
    const suffix = names.length > 0 ? ` [${names.join(',')}]` : '';
    for (const verb of asStrArr(r.verbs)) {
      for (const url of asStrArr(r.nonResourceURLs)) out.push(`${verb} ${url}`);
      for (const g of asStrArr(r.apiGroups)) {
        for (const res of asStrArr(r.resources)) out.push(`${verb} ${g === '' ? '' : `${g}/`}${res}${suffix}`);
      }
    }
  }
  return [...new Set(out)].sort();
}

const rbac: Rule = (id, before, after) => {
  if (!after) return [];
  const out: Risk[] = [];
  if (after.kind === 'Role' || after.kind === 'ClusterRole') {
    if (after.kind === 'ClusterRole' && !before)
      out.push(risk('rbac', id, 'new ClusterRole (cluster-wide permissions)'));
    const added = newItems(permissions(before), permissions(after));
    if (added.length > 0) out.push(risk('rbac', id, `grants ${added.join(', ')}`));
    if (!jsonEqual(after.aggregationRule, before?.aggregationRule) && after.aggregationRule !== undefined)
      out.push(risk('rbac', id, 'aggregationRule changed (aggregates other roles)'));
  }
  if (after.kind === 'RoleBinding' || after.kind === 'ClusterRoleBinding') {
    const subject = (s: Json) => `${String(s.kind)} ${s.namespace ? `${String(s.namespace)}/` : ''}${String(s.name)}`;
    const ref = (o: Manifest | undefined) => {
      const r = asObj(o?.roleRef);
      return `${String(r.kind)} ${String(r.name)}`;
    };
    if (!before)
      out.push(risk('rbac', id, `new binding of ${ref(after)} to ${asArr(after.subjects).map(subject).join(', ')}`));
    else {
      const added = newItems(asArr(before.subjects).map(subject), asArr(after.subjects).map(subject));
      if (added.length > 0) out.push(risk('rbac', id, `binds ${ref(after)} to ${added.join(', ')} as well`));
      if (ref(before) !== ref(after)) out.push(risk('rbac', id, `roleRef ${ref(before)} → ${ref(after)}`));
    }
  }
  return out;
};

const ROUTE_KINDS = new Set(['Ingress', 'HTTPRoute', 'GRPCRoute', 'TLSRoute', 'TCPRoute', 'UDPRoute', 'Gateway']);

/** Hosts and paths a route or Ingress answers, one string each. */
function routes(o: Manifest | undefined): string[] {
  if (!o) return [];
  const s = spec(o);
  if (o.kind === 'Ingress') {
    const out = asArr(s.rules).flatMap((r) =>
      asArr(asObj(r.http).paths).map((p) => `${String(r.host ?? '*')}${String(p.path ?? '/')}`),
    );
    if (s.defaultBackend !== undefined) out.push('(default backend)');
    return out;
  }
  if (o.kind === 'Gateway')
    return asArr(s.listeners).map((l) => `${String(l.hostname ?? '*')}:${String(l.port)}/${String(l.protocol)}`);
  const hosts = asStrArr(s.hostnames);
  const paths = asArr(s.rules).flatMap((r) => asArr(r.matches).map((m) => String(asObj(m.path).value ?? '/')));
  return (hosts.length > 0 ? hosts : ['*']).flatMap((h) => (paths.length > 0 ? paths : ['/']).map((p) => `${h}${p}`));
}

/** Every (direction, peer, port) a NetworkPolicy allows, one string each. */
export function networkAllows(o: Manifest | undefined): string[] {
  const out: string[] = [];
  const s = spec(o);
  for (const [dir, key] of [
    ['ingress', 'from'],
    ['egress', 'to'],
  ] as const) {
    for (const r of asArr(s[dir])) {
      const peers = asArr(r[key]).map((p) => canonical(p));
      const ports = asArr(r.ports).map(
        (p) =>
          `${String(p.port ?? '*')}${p.endPort !== undefined ? `-${String(p.endPort)}` : ''}/${String(p.protocol ?? 'TCP')}`,
      );
      for (const peer of peers.length > 0 ? peers : ['(any peer)'])
        for (const port of ports.length > 0 ? ports : ['(any port)']) out.push(`${dir} ${peer} ${port}`);
    }
  }
  return [...new Set(out)].sort();
}

const exposure: Rule = (id, before, after) => {
  const out: Risk[] = [];
  const o = after ?? before;
  if (!o) return out;
  if (ROUTE_KINDS.has(o.kind) && after) {
    if (!before) out.push(risk('exposure', id, `new ${after.kind}: ${routes(after).join(', ') || '(no routes)'}`));
    else {
      const added = newItems(routes(before), routes(after));
      if (added.length > 0) out.push(risk('exposure', id, `now also serves ${added.join(', ')}`));
    }
  }
  if (o.kind === 'Service' && after) {
    const type = String(spec(after).type ?? 'ClusterIP');
    const was = before ? String(spec(before).type ?? 'ClusterIP') : undefined;
    if ((type === 'LoadBalancer' || type === 'NodePort') && type !== was)
      out.push(risk('exposure', id, `Service type ${was ?? '(new)'} → ${type}`));
    const ext = newItems(asStrArr(spec(before).externalIPs), asStrArr(spec(after).externalIPs));
    if (ext.length > 0) out.push(risk('exposure', id, `externalIPs ${ext.join(', ')}`));
  }
  if (o.kind === 'NetworkPolicy') {
    if (!after)
      out.push(
        risk('exposure', id, 'NetworkPolicy deleted: the traffic it restricted is open, or its allowed flows are cut'),
      );
    else {
      const allows = networkAllows(after);
      if (!before) {
        if (allows.length > 0)
          out.push(
            risk(
              'exposure',
              id,
              `new NetworkPolicy allows ${allows.length} (direction, peer, port) rule(s): ${short(allows.join('; '))}`,
            ),
          );
      } else {
        const added = newItems(networkAllows(before), allows);
        if (added.length > 0) out.push(risk('exposure', id, `opened: ${short(added.join('; '))}`));
        const dropped = policyTypes(before).filter((t) => !policyTypes(after).includes(t));
        if (dropped.length > 0) out.push(risk('exposure', id, `no longer isolates ${dropped.join(', ')}`));
        if (!jsonEqual(spec(before).podSelector, spec(after).podSelector))
          out.push(risk('exposure', id, 'podSelector changed: pods it no longer selects lose its isolation'));
      }
    }
  }
  return out;
};

const POLICY_KINDS = new Set([
  'NetworkPolicy',
  'PodDisruptionBudget',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
  'ResourceQuota',
  'LimitRange',
]);

const policyRemoved: Rule = (id, before, after) =>
  before && !after && POLICY_KINDS.has(before.kind) ? [risk('policy-removed', id, `${before.kind} deleted`)] : [];

const PSA_LEVEL: Record<string, number> = { privileged: 0, baseline: 1, restricted: 2 };

/** Effective security settings of each container of a pod spec, as comparable flags. */
function containerSecurity(podSpec: Json): Map<string, Json> {
  const podSc = asObj(podSpec.securityContext);
  const out = new Map<string, Json>();
  for (const c of allContainers(podSpec)) {
    const sc = asObj(c.securityContext);
    out.set(String(c.name), {
      privileged: sc.privileged === true,
      allowPrivilegeEscalation: sc.allowPrivilegeEscalation !== false,
      runAsNonRoot: (sc.runAsNonRoot ?? podSc.runAsNonRoot) === true,
      runAsRoot: (sc.runAsUser ?? podSc.runAsUser) === 0,
      readOnlyRootFilesystem: sc.readOnlyRootFilesystem === true,
      capabilitiesAdded: asStrArr(asObj(sc.capabilities).add),
      capabilitiesDropped: asStrArr(asObj(sc.capabilities).drop),
      seccompUnconfined:
        String(asObj(sc.seccompProfile ?? podSc.seccompProfile).type ?? 'RuntimeDefault-or-unset') === 'Unconfined',
    });
  }
  return out;
}

const admission: Rule = (id, before, after) => {
  const out: Risk[] = [];
  if (!after) return out;
  if (after.kind === 'Namespace') {
    const labels = (o: Manifest | undefined) => asObj(o?.metadata.labels);
    for (const mode of ['enforce', 'audit', 'warn']) {
      const key = `pod-security.kubernetes.io/${mode}`;
      const was = labels(before)[key];
      const now = labels(after)[key];
      const rank = (v: unknown) => PSA_LEVEL[String(v)] ?? 0;
      if (before && was !== undefined && rank(now) < rank(was))
        out.push(
          risk('admission', id, `Pod Security ${mode} ${String(was)} → ${now === undefined ? '(none)' : String(now)}`),
        );
    }
  }
  if (after.kind === 'ValidatingAdmissionPolicy' && before) {
    const exprs = (o: Manifest) => asArr(spec(o).validations).map((v) => String(v.expression));
    const removed = newItems(exprs(after), exprs(before));
    if (removed.length > 0) out.push(risk('admission', id, `${removed.length} validation(s) removed or rewritten`));
    if (spec(after).failurePolicy === 'Ignore' && spec(before).failurePolicy !== 'Ignore')
      out.push(risk('admission', id, 'failurePolicy → Ignore (errors admit the object)'));
    for (const f of ['matchConstraints', 'matchConditions'])
      if (!jsonEqual(spec(before)[f], spec(after)[f]))
        out.push(risk('admission', id, `${f} changed (what the policy checks)`));
  }
  if (after.kind === 'ValidatingAdmissionPolicyBinding' && before) {
    if (
      asStrArr(spec(before).validationActions).includes('Deny') &&
      !asStrArr(spec(after).validationActions).includes('Deny')
    )
      out.push(
        risk(
          'admission',
          id,
          `validationActions no longer Deny (${asStrArr(spec(after).validationActions).join(', ')})`,
        ),
      );
    for (const f of ['policyName', 'matchResources', 'paramRef'])
      if (!jsonEqual(spec(before)[f], spec(after)[f])) out.push(risk('admission', id, `${f} changed`));
  }
  const podAfter = after && podSpecOf(after);
  if (podAfter) {
    const podBefore = (before && podSpecOf(before)) ?? {};
    const was = containerSecurity(podBefore);
    const problems: string[] = [];
    for (const [name, now] of containerSecurity(podAfter)) {
      const b = was.get(name);
      const loosened = (flag: string, bad: boolean) => now[flag] === bad && (b === undefined ? bad : b[flag] !== bad);
      if (loosened('privileged', true)) problems.push(`${name}: privileged`);
      if (loosened('allowPrivilegeEscalation', true)) problems.push(`${name}: allowPrivilegeEscalation`);
      if (loosened('runAsNonRoot', false) && b !== undefined) problems.push(`${name}: runAsNonRoot no longer true`);
      if (loosened('runAsRoot', true)) problems.push(`${name}: runAsUser 0`);
      if (loosened('readOnlyRootFilesystem', false) && b !== undefined)
        problems.push(`${name}: readOnlyRootFilesystem no longer true`);
      if (loosened('seccompUnconfined', true)) problems.push(`${name}: seccomp Unconfined`);
      const caps = newItems(asStrArr(b?.capabilitiesAdded), asStrArr(now.capabilitiesAdded));
      if (caps.length > 0) problems.push(`${name}: capabilities added ${caps.join(', ')}`);
      const undropped = b ? newItems(asStrArr(now.capabilitiesDropped), asStrArr(b.capabilitiesDropped)) : [];
      if (undropped.length > 0) problems.push(`${name}: no longer drops ${undropped.join(', ')}`);
    }
    for (const f of ['hostNetwork', 'hostPID', 'hostIPC'])
      if (podAfter[f] === true && podBefore[f] !== true) problems.push(`${f}`);
    const podNonRoot = (s: Json) => asObj(s.securityContext).runAsNonRoot === true;
    if (before && podNonRoot(podBefore) && !podNonRoot(podAfter)) problems.push('pod runAsNonRoot no longer true');
    if (before && podBefore.automountServiceAccountToken === false && podAfter.automountServiceAccountToken !== false)
      problems.push('service-account token now mounted');
    if (problems.length > 0) out.push(risk('admission', id, `securityContext loosened: ${problems.join('; ')}`));
  }
  if (
    after.kind === 'ServiceAccount' &&
    before?.automountServiceAccountToken === false &&
    after.automountServiceAccountToken !== false
  )
    out.push(risk('admission', id, 'automountServiceAccountToken no longer false'));
  return out;
};

/** Fields of `spec` the API server refuses to change, per kind; 'spec-except:' lists the mutable ones. */
const IMMUTABLE: Readonly<
  Record<string, { readonly fields?: readonly string[]; readonly mutable?: readonly string[] }>
> = {
  StatefulSet: {
    mutable: [
      'replicas',
      'template',
      'updateStrategy',
      'minReadySeconds',
      'ordinals',
      'persistentVolumeClaimRetentionPolicy',
    ],
  },
  Deployment: { fields: ['selector'] },
  ReplicaSet: { fields: ['selector'] },
  DaemonSet: { fields: ['selector'] },
  Job: { fields: ['selector', 'template', 'completionMode'] },
  Service: { fields: ['clusterIP', 'clusterIPs', 'ipFamilies'] },
  PersistentVolumeClaim: { mutable: ['resources'] },
  PersistentVolume: {
    mutable: ['capacity', 'persistentVolumeReclaimPolicy', 'mountOptions', 'claimRef', 'nodeAffinity'],
  },
};

const immutable: Rule = (id, before, after) => {
  if (!before || !after) return [];
  const fields: string[] = [];
  const rule = IMMUTABLE[after.kind];
  if (rule) {
    const b = spec(before);
    const a = spec(after);
    const keys =
      rule.fields ?? [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((k) => !rule.mutable?.includes(k));
    for (const k of [...keys].sort()) if (!jsonEqual(b[k], a[k])) fields.push(`spec.${k}`);
    if (after.kind === 'PersistentVolumeClaim') {
      const other = (x: Json) => ({
        ...asObj(x.resources),
        requests: { ...asObj(asObj(x.resources).requests), storage: undefined },
      });
      if (!jsonEqual(other(b), other(a))) fields.push('spec.resources (other than requests.storage)');
    }
  }
  if (
    (after.kind === 'RoleBinding' || after.kind === 'ClusterRoleBinding') &&
    !jsonEqual(before.roleRef, after.roleRef)
  )
    fields.push('roleRef');
  if ((after.kind === 'ConfigMap' || after.kind === 'Secret') && before.immutable === true) {
    for (const k of ['data', 'binaryData', 'stringData']) if (!jsonEqual(before[k], after[k])) fields.push(k);
  }
  if (after.kind === 'StorageClass') {
    for (const k of ['provisioner', 'parameters', 'reclaimPolicy', 'volumeBindingMode'])
      if (!jsonEqual(before[k], after[k])) fields.push(k);
  }
  return fields.length > 0
    ? [
        risk(
          'immutable',
          id,
          `${fields.join(', ')} cannot change on update: the sync fails unless the object is deleted and re-created`,
        ),
      ]
    : [];
};

const FLOATING_TAGS = new Set([
  'latest',
  'main',
  'master',
  'stable',
  'edge',
  'dev',
  'develop',
  'nightly',
  'head',
  'canary',
  'next',
]);

/** Why an image reference is not pinned, or undefined when it is. */
export function unpinnedReason(image: string): string | undefined {
  if (image.includes('@')) return undefined;
  const last = image.slice(image.lastIndexOf('/') + 1);
  const colon = last.lastIndexOf(':');
  if (colon < 0) return 'no tag (means latest)';
  const tag = last.slice(colon + 1);
  return FLOATING_TAGS.has(tag.toLowerCase()) ? `floating tag '${tag}'` : undefined;
}

function containerImages(o: Manifest | undefined): Map<string, string> {
  const s = o && podSpecOf(o);
  const out = new Map<string, string>();
  if (!s) return out;
  for (const c of podContainers(s)) out.set(String(c.name), String(c.image));
  return out;
}

const images: Rule = (id, before, after) => {
  const out: Risk[] = [];
  const was = containerImages(before);
  for (const [name, image] of containerImages(after)) {
    const old = was.get(name);
    if (old === image) continue;
    // A digest replaced by another is a pin, not a removal.
    const why = unpinnedReason(image) ?? (old?.includes('@') && !image.includes('@') ? 'digest removed' : undefined);
    if (why) out.push(risk('unpinned-image', id, `${name}: ${old ?? '(new)'} → ${image}: ${why}`));
  }
  return out;
};

const RULES: readonly Rule[] = [rbac, exposure, policyRemoved, admission, immutable, images];

/** A new or changed image whose digest the source environment does not run (or that has none to compare). */
function unverifiedImages(
  id: string,
  before: Manifest | undefined,
  after: Manifest | undefined,
  verified: NonNullable<DiffInput['verified']>,
): Risk[] {
  const out: Risk[] = [];
  const was = containerImages(before);
  for (const [name, image] of containerImages(after)) {
    const old = was.get(name);
    if (old === image) continue;
    const at = image.indexOf('@');
    const digest = at >= 0 ? image.slice(at + 1) : undefined;
    if (digest !== undefined && verified.digests.has(digest)) continue;
    const why = digest === undefined ? 'no digest to compare' : `${verified.from} runs no image with digest ${digest}`;
    out.push(risk('unverified-image', id, `${name}: ${old ?? '(new)'} → ${image}: ${why}`));
  }
  return out;
}

const ANALYSIS_TEMPLATE_KINDS = new Set(['AnalysisTemplate', 'ClusterAnalysisTemplate']);
const isArgo = (o: Manifest | undefined, kinds: ReadonlySet<string>): o is Manifest =>
  o !== undefined && kinds.has(o.kind) && o.apiVersion.startsWith('argoproj.io/');
const ROLLOUT = new Set(['Rollout']);

/** The metricNames (names or patterns) of a dryRun list. */
const dryRunNames = (v: unknown) => asArr(v).map((d) => String(d.metricName));

/** A production canary made weaker: less analysis, fewer steps, a larger first step, or none at all. */
function canaryWeakened(id: string, before: Manifest | undefined, after: Manifest | undefined): Risk[] {
  const out: string[] = [];
  if (isArgo(before, ANALYSIS_TEMPLATE_KINDS)) {
    if (!after) out.push(`${before.kind} deleted: the canaries it judged run without it`);
    else {
      const metrics = (o: Manifest) => asArr(spec(o).metrics).map((m) => String(m.name));
      const lost = newItems(metrics(after), metrics(before));
      if (lost.length > 0) out.push(`metric(s) ${lost.join(', ')} removed`);
      const dry = newItems(dryRunNames(spec(before).dryRun), dryRunNames(spec(after).dryRun));
      if (dry.length > 0) out.push(`metric(s) ${dry.join(', ')} now in dryRun: they no longer abort`);
    }
  }
  if (isArgo(before, ROLLOUT)) {
    if (!after)
      out.push('Rollout deleted: its Deployment goes back to a plain rolling update, which no analysis judges');
    else {
      const canary = (o: Manifest | undefined) => asObj(asObj(spec(o).strategy).canary);
      const analysis = (o: Manifest | undefined) => asObj(canary(o).analysis);
      const templates = (o: Manifest | undefined) => asArr(analysis(o).templates).map((t) => String(t.templateName));
      if (templates(before).length > 0 && templates(after).length === 0)
        out.push('strategy.canary.analysis removed: nothing judges the canary');
      else {
        const lost = newItems(templates(after), templates(before));
        if (lost.length > 0) out.push(`analysis template(s) ${lost.join(', ')} removed`);
      }
      const dry = newItems(dryRunNames(analysis(before).dryRun), dryRunNames(analysis(after).dryRun));
      if (dry.length > 0) out.push(`metric(s) ${dry.join(', ')} now in dryRun: they no longer abort`);
      const steps = (o: Manifest | undefined) => asArr(canary(o).steps);
      if (steps(after).length < steps(before).length)
        out.push(`steps ${steps(before).length} → ${steps(after).length}`);
      const firstWeight = (o: Manifest | undefined) => steps(o).find((x) => typeof x.setWeight === 'number')?.setWeight;
      const [was, now] = [firstWeight(before), firstWeight(after)];
      if (typeof was === 'number' && (typeof now !== 'number' || now > was))
        out.push(`first setWeight ${was} → ${typeof now === 'number' ? now : '(none: 100% at once)'}`);
      if (spec(before).progressDeadlineAbort === true && spec(after).progressDeadlineAbort !== true)
        out.push('progressDeadlineAbort no longer true: a canary whose pods never become ready waits');
    }
  }
  return out.map((m) => risk('canary-weakened', id, m));
}

// ---------------------------------------------------------------------------------------------
// Output

export interface DiffReport {
  /** What was compared, e.g. `working tree vs main (e8f7e8f)`. */
  readonly title: string;
  readonly environments: readonly EnvironmentDiff[];
}

/** 0 no change, 1 changes, 2 risky changes (3, an error, is the command's). */
export function exitCodeOf(report: DiffReport): 0 | 1 | 2 {
  if (report.environments.some((e) => e.risks.length > 0)) return 2;
  return report.environments.some((e) => e.changes.length > 0) ? 1 : 0;
}

const MAX_VALUE = 100;

function short(s: string, max = 240): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function formatValue(v: unknown): string {
  if (v === undefined) return '(none)';
  if (typeof v === 'string') return short(v, MAX_VALUE);
  return short(JSON.stringify(v), MAX_VALUE);
}

/** A path without the boilerplate of workload specs: `spec.template.spec.containers[x].image` → `containers[x].image`. */
export function shortPath(path: string): string {
  return path
    .replace(/^spec\.template\.spec\./, '')
    .replace(/^template\.spec\./, '')
    .replace(/^spec\./, '');
}

export function describeField(f: FieldChange): string {
  const p = shortPath(f.path);
  if (f.path.endsWith('[+]')) return `${p.slice(0, -3)} + ${formatValue(f.after)}`;
  if (f.path.endsWith('[-]')) return `${p.slice(0, -3)} - ${formatValue(f.before)}`;
  return `${p} ${formatValue(f.before)} → ${formatValue(f.after)}`;
}

function counts(report: DiffReport) {
  const all = report.environments.flatMap((e) => e.changes);
  return {
    envs: report.environments.filter((e) => e.changes.length > 0 || e.risks.length > 0).length,
    changed: all.filter((c) => c.change === 'changed').length,
    added: all.filter((c) => c.change === 'added').length,
    removed: all.filter((c) => c.change === 'removed').length,
    risks: report.environments.reduce((n, e) => n + e.risks.length, 0),
  };
}

function summaryLine(report: DiffReport): string {
  const c = counts(report);
  if (c.envs === 0) return 'no change';
  return `${c.envs} environment(s): ${c.changed} object(s) changed, ${c.added} added, ${c.removed} removed; ${c.risks} risk flag(s)`;
}

/** Plain text, one line per object. */
export function formatText(report: DiffReport): string {
  const lines = [`semantic diff: ${report.title}`];
  for (const e of report.environments) {
    if (e.changes.length === 0 && e.risks.length === 0) continue;
    lines.push('');
    for (const c of e.changes) {
      const sign = c.change === 'added' ? '+' : c.change === 'removed' ? '-' : '~';
      const detail = c.change === 'changed' ? `: ${c.fields.map(describeField).join('; ')}` : ` (${c.change})`;
      lines.push(`${sign} ${e.env}: ${c.id}${detail}`);
    }
    for (const r of e.risks) lines.push(`! ${e.env}: [${r.category}] ${r.object}: ${r.message}`);
  }
  lines.push('', summaryLine(report));
  return `${lines.join('\n')}\n`;
}

const md = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** Markdown for a pull-request comment or a job summary. */
export function formatMarkdown(report: DiffReport): string {
  const code = exitCodeOf(report);
  const lines = [
    '## Rendered changes',
    '',
    `${code === 2 ? '⚠️ **Risky changes.** ' : ''}${md(report.title)}: ${summaryLine(report)}.`,
  ];
  for (const e of report.environments) {
    if (e.changes.length === 0 && e.risks.length === 0) continue;
    lines.push('', `### ${e.env}`, '');
    if (e.risks.length > 0) {
      lines.push('| risk | object | why |', '| --- | --- | --- |');
      for (const r of e.risks) lines.push(`| ⚠️ ${r.category} | ${md(r.object)} | ${md(r.message)} |`);
      lines.push('');
    }
    lines.push('| | object | fields |', '| --- | --- | --- |');
    for (const c of e.changes) {
      const detail =
        c.change === 'changed' ? c.fields.map((f) => `\`${md(describeField(f))}\``).join('<br>') : `(${c.change})`;
      lines.push(`| ${c.change === 'added' ? '➕' : c.change === 'removed' ? '➖' : '✏️'} | ${md(c.id)} | ${detail} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}
