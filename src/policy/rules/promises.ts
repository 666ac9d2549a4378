/**
 * Rules that guard promises the README makes about the rendered output, each of which a change to
 * dist/ or argocd/ could break without failing any other rule: the executor guard on updates and at
 * its deadline limit, Argo CD's sync settings, the start order, oauth2-proxy's session cookie, and
 * JetStream's stores against their volume and memory limit.
 *
 * The admission rules evaluate the policy's own CEL expressions (with @marcbachmann/cel-js) on pods
 * made from the committed PodTemplates; the control-plane twin proves the same with the real API
 * server (test/real/cluster/twin.real.test.ts).
 */
import { evaluate } from '@marcbachmann/cel-js';
import type { EnvironmentConfig } from '../../../apps/environment';
import { parseMemory } from '../../model/quantity';
import {
  allContainers,
  asArr,
  asObj,
  asStrArr,
  asStrRecord,
  CONTROLLER_KINDS,
  type Json,
  type Manifest,
  namespaceLabels,
  nsOf,
  podTemplateOf,
  selectorMatches,
  WORKLOAD_KINDS,
} from '../../model/objects';
import { claimRule, executorPolicies, imageRepository, listCovers, type Rule } from './core';

// ---------------------------------------------------------------------------------------------
// The executor admission policy

/** A pod as the middleware creates it from a PodTemplate: the template's labels and spec. */
export function podFrom(template: Manifest): Json {
  const t = podTemplateOf(template);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `${template.metadata.name}-job`, namespace: nsOf(template), labels: { ...t?.labels } },
    spec: structuredClone(t?.spec ?? {}),
  };
}

/** The messages of the policy's validations that `pod` fails (an expression that errors fails). */
export function failedValidations(policy: Manifest, pod: Json): string[] {
  const failed: string[] = [];
  for (const [i, v] of asArr(asObj(policy.spec).validations).entries()) {
    let ok: unknown;
    try {
      ok = evaluate(String(v.expression ?? ''), { object: pod, oldObject: pod });
    } catch (e) {
      ok = `error: ${(e as Error).message}`;
    }
    if (ok !== true) failed.push(String(v.message ?? `validations[${i}] (no message)`));
  }
  return failed;
}

/** The executor PodTemplates: PodTemplates in the executor namespace. */
export const executorTemplates = (objects: readonly Manifest[], env: EnvironmentConfig) =>
  objects.filter((o) => o.kind === 'PodTemplate' && nsOf(o) === env.namespaces.executor);

/** What the executor guard must intercept: the pod itself and the subresource `kubectl debug` writes. */
const GUARDED: readonly { readonly resource: string; readonly operations: readonly string[] }[] = [
  { resource: 'pods', operations: ['CREATE', 'UPDATE'] },
  { resource: 'pods/ephemeralcontainers', operations: ['UPDATE'] },
];

const coversResource = (list: readonly string[], r: string) =>
  listCovers(list, r) || (r.includes('/') && list.includes(`${r.split('/')[0] ?? ''}/*`));

export const executorGuardUpdatesRule: Rule = claimRule({
  id: 'executor-guard-on-updates',
  reason:
    'The executor guard holds for every executor pod, not only at creation: it intercepts CREATE and UPDATE of pods and of pods/ephemeralcontainers (how `kubectl debug` adds a container), excludes nothing, and refuses an ephemeral container.',
  check(objects, env, report) {
    const templates = executorTemplates(objects, env);
    for (const { policy } of executorPolicies(objects, env)) {
      const spec = asObj(policy.spec);
      const constraints = asObj(spec.matchConstraints);
      const rules = asArr(constraints.resourceRules);
      for (const g of GUARDED)
        for (const op of g.operations)
          if (
            !rules.some(
              (r) =>
                listCovers(asStrArr(r.apiGroups), '') &&
                coversResource(asStrArr(r.resources), g.resource) &&
                listCovers(asStrArr(r.operations), op),
            )
          )
            report(policy, `matchConstraints do not cover ${op} of ${g.resource}`);
      for (const r of asArr(constraints.excludeResourceRules))
        if (GUARDED.some((g) => coversResource(asStrArr(r.resources), g.resource)))
          report(policy, `excludeResourceRules exclude ${asStrArr(r.resources).join(', ')}`);
      if (asArr(spec.matchConditions).length > 0)
        report(policy, 'has matchConditions: some executor pods would skip the guard');
      for (const t of templates) {
        const debugged = podFrom(t);
        const first = asArr(asObj(debugged.spec).containers)[0];
        asObj(debugged.spec).ephemeralContainers = [
          {
            name: 'debugger',
            image: String(first?.image ?? 'busybox'),
            targetContainerName: String(first?.name ?? ''),
          },
        ];
        if (failedValidations(policy, debugged).length === 0)
          report(
            policy,
            `admits a pod from PodTemplate ${t.metadata.name} with an ephemeral container (even of its own image)`,
          );
      }
    }
  },
});

export const executorDeadlineLimitRule: Rule = claimRule({
  id: 'executor-deadline-limit',
  reason:
    "The executor guard's deadline limit is the environment's executors.deadlineSeconds: a pod from each PodTemplate is admitted at exactly the limit and refused one second above it, with a message that names that limit.",
  check(objects, env, report) {
    const limit = env.executors.deadlineSeconds;
    const templates = executorTemplates(objects, env);
    for (const { policy } of executorPolicies(objects, env)) {
      for (const t of templates) {
        const at = podFrom(t);
        asObj(at.spec).activeDeadlineSeconds = limit;
        const atFails = failedValidations(policy, at);
        if (atFails.length > 0)
          report(
            policy,
            `refuses a pod from PodTemplate ${t.metadata.name} with activeDeadlineSeconds ${limit} (the limit): ${atFails.join('; ')}`,
          );
        const above = podFrom(t);
        asObj(above.spec).activeDeadlineSeconds = limit + 1;
        const aboveFails = failedValidations(policy, above).filter((m) => !atFails.includes(m));
        if (aboveFails.length === 0)
          report(
            policy,
            `admits a pod from PodTemplate ${t.metadata.name} with activeDeadlineSeconds ${limit + 1}, above executors.deadlineSeconds ${limit}`,
          );
        for (const m of aboveFails) {
          const numbers = (m.match(/\d+/g) ?? []).map(Number);
          if (!numbers.includes(limit) || numbers.some((n) => n !== limit))
            report(
              policy,
              `refuses a deadline above ${limit} with the message '${m}', which does not state the limit ${limit}`,
            );
        }
      }
    }
  },
});

// ---------------------------------------------------------------------------------------------
// Argo CD's sync settings (argocd/<env>/)

/** Kinds whose pod spec decides what runs; an ignoreDifferences entry must never hide it. */
const POD_SPEC_PATHS: Readonly<Record<string, readonly string[]>> = {
  PodTemplate: ['/template'],
  CronJob: ['/spec/jobTemplate'],
};
/** The one field of a workload's spec that may be ignored: the replica count an autoscaler owns. */
const IGNORABLE = new Set(['/spec/replicas']);

/** Why an ignoreDifferences entry hides part of a workload's pod spec, or undefined. */
export function hidesPodSpec(entry: Json): string | undefined {
  const kind = String(entry.kind ?? '');
  if (kind !== '*' && kind !== '' && !WORKLOAD_KINDS.has(kind)) return undefined;
  const what = `ignoreDifferences for ${kind || 'every kind'}${entry.name ? ` ${String(entry.name)}` : ''}`;
  if (asStrArr(entry.managedFieldsManagers).length > 0)
    return `${what} ignores every field set by ${asStrArr(entry.managedFieldsManagers).join(', ')}`;
  const prefixes = POD_SPEC_PATHS[kind] ?? ['/spec'];
  for (const p of asStrArr(entry.jsonPointers)) {
    if (IGNORABLE.has(p)) continue;
    if (p === '' || p === '/' || prefixes.some((x) => p === x || p.startsWith(`${x}/`) || x.startsWith(`${p}/`)))
      return `${what} ignores ${p}`;
  }
  for (const q of asStrArr(entry.jqPathExpressions))
    if (q.trim() !== '.spec.replicas' && /^\s*\.(spec|template)\b|^\s*\.\s*$|\.\.|\[\]/.test(q))
      return `${what} ignores ${q}`;
  return undefined;
}

export const argocdSyncSettingsRule: Rule = claimRule({
  id: 'argocd-sync-settings',
  reason:
    "Each Application syncs automatically with the environment's prune and selfHeal (selfHeal always in production), retries with refresh (so a revert ends a failed sync), and ignores no part of a workload's pod spec (reads argocd/).",
  reads: 'argocd',
  check(objects, env, report) {
    for (const app of objects.filter((o) => o.apiVersion.startsWith('argoproj.io/') && o.kind === 'Application')) {
      const spec = asObj(app.spec);
      const policy = asObj(spec.syncPolicy);
      const platform = String(asObj(spec.source).path ?? '').replace(/\/+$/, '') === `dist/${env.name}`;
      if (!('automated' in policy) || asObj(policy.automated).enabled === false)
        report(app, 'does not sync automatically (syncPolicy.automated)');
      const auto = asObj(policy.automated);
      // The bootstrap's prune and selfHeal are fixed by argocd-bootstrap-as-documented.
      if (platform) {
        for (const k of ['prune', 'selfHeal'] as const)
          if ((auto[k] === true) !== env.argocd[k])
            report(app, `automated.${k} is ${String(auto[k] ?? false)}, the environment says ${env.argocd[k]}`);
        if (env.tier === 'production' && auto.selfHeal !== true)
          report(app, 'a production Application must selfHeal: a change made in the cluster stays');
      }
      const retry = asObj(policy.retry);
      if (retry.refresh !== true)
        report(app, 'retry.refresh is not true: a failed sync keeps retrying its own revision after a revert');
      if (!(Number(retry.limit) > 0)) report(app, `retry.limit is ${String(retry.limit)}: no retry`);
      for (const e of asArr(spec.ignoreDifferences)) {
        const why = hidesPodSpec(e);
        if (why) report(app, why);
      }
    }
  },
});

// ---------------------------------------------------------------------------------------------
// The start order

/**
 * The original's start order (docker compose depends_on, SPEC.md): NATS, then the frontend and the
 * middleware, then OAuth once both are healthy. By the workloads' app.kubernetes.io/name.
 */
export const START_ORDER: readonly (readonly string[])[] = [['nats'], ['frontend', 'middleware'], ['oauth2-proxy']];
/**
 * Kinds Argo CD applies before a workload in the same wave (its kind order); any other kind it
 * needs (an ExternalSecret, an admission policy) must come in an earlier wave.
 */
const BEFORE_WORKLOADS_IN_A_WAVE = new Set([
  'Namespace',
  'PriorityClass',
  'ServiceAccount',
  'Secret',
  'ConfigMap',
  'PersistentVolumeClaim',
  'Role',
  'RoleBinding',
  'Service',
]);
const WAVE = 'argocd.argoproj.io/sync-wave';
const waveOf = (o: Manifest) => Number(o.metadata.annotations?.[WAVE] ?? 0);
const key = (kind: string, ns: string, name: string) => `${kind}/${ns}/${name}`;

export const startOrderRule: Rule = claimRule({
  id: 'start-order',
  reason:
    "Sync waves keep the original start order (NATS, then frontend and middleware, then oauth2-proxy) and start every workload after what it needs: its namespace, ServiceAccount, ConfigMaps, Secrets (and the objects that make them), PVCs and PriorityClass, and, for a workload that may create pods, that namespace's admission guard, quota and PodTemplates.",
  check(objects, _env, report) {
    const byKey = new Map<string, Manifest>();
    for (const o of objects) byKey.set(key(o.kind, nsOf(o), o.metadata.name), o);
    // Secrets made by an operator from a committed object (ExternalSecret, SealedSecret).
    for (const o of objects) {
      const target = asObj(asObj(o.spec).target);
      const made =
        o.kind === 'ExternalSecret'
          ? String(target.name ?? o.metadata.name)
          : o.kind === 'SealedSecret'
            ? o.metadata.name
            : undefined;
      if (made && !byKey.has(key('Secret', nsOf(o), made))) byKey.set(key('Secret', nsOf(o), made), o);
    }
    const controllers = objects.filter((o) => CONTROLLER_KINDS.has(o.kind));
    // 1. The original order between the services.
    const rank = (o: Manifest) =>
      START_ORDER.findIndex((g) => g.includes(o.metadata.labels?.['app.kubernetes.io/name'] ?? ''));
    for (const a of controllers)
      for (const b of controllers) {
        const [ra, rb] = [rank(a), rank(b)];
        if (ra >= 0 && rb > ra && waveOf(b) <= waveOf(a))
          report(
            b,
            `is in sync wave ${waveOf(b)}, not after ${a.kind} ${a.metadata.name} (wave ${waveOf(a)}): the original starts ${START_ORDER[rb]?.join(' and ')} after ${START_ORDER[ra]?.join(' and ')}`,
          );
      }
    // 2. Namespaces no later than anything in them (Argo CD applies a Namespace first in its wave).
    for (const o of objects) {
      const ns = byKey.get(key('Namespace', '', nsOf(o)));
      if (ns && waveOf(ns) > waveOf(o))
        report(o, `is in sync wave ${waveOf(o)}, before its Namespace (wave ${waveOf(ns)})`);
    }
    // 3. What each workload's pods need.
    const need = (w: Manifest, kind: string, ns: string, name: string, why: string) => {
      const dep = byKey.get(key(kind, ns, name));
      if (!dep) return;
      const strict = !BEFORE_WORKLOADS_IN_A_WAVE.has(dep.kind);
      if (strict ? waveOf(dep) >= waveOf(w) : waveOf(dep) > waveOf(w))
        report(
          w,
          `is in sync wave ${waveOf(w)} but needs ${why} from ${dep.kind} ${dep.metadata.name} (wave ${waveOf(dep)})${strict ? `, which Argo CD applies after a ${w.kind} in the same wave` : ''}`,
        );
    };
    for (const w of objects) {
      const t = podTemplateOf(w);
      if (!t || w.kind === 'PodTemplate') continue;
      const ns = nsOf(w);
      const spec = t.spec;
      need(w, 'ServiceAccount', ns, String(spec.serviceAccountName ?? 'default'), 'its ServiceAccount');
      if (typeof spec.priorityClassName === 'string')
        need(w, 'PriorityClass', '', spec.priorityClassName, 'its PriorityClass');
      for (const v of asArr(spec.volumes)) {
        if (v.configMap) need(w, 'ConfigMap', ns, String(asObj(v.configMap).name), `volume ${String(v.name)}`);
        if (v.secret) need(w, 'Secret', ns, String(asObj(v.secret).secretName), `volume ${String(v.name)}`);
        if (v.persistentVolumeClaim)
          need(
            w,
            'PersistentVolumeClaim',
            ns,
            String(asObj(v.persistentVolumeClaim).claimName),
            `volume ${String(v.name)}`,
          );
        for (const s of asArr(asObj(v.projected).sources)) {
          if (s.configMap) need(w, 'ConfigMap', ns, String(asObj(s.configMap).name), `volume ${String(v.name)}`);
          if (s.secret) need(w, 'Secret', ns, String(asObj(s.secret).name), `volume ${String(v.name)}`);
        }
      }
      for (const c of allContainers(spec)) {
        for (const e of asArr(c.env)) {
          const from = asObj(e.valueFrom);
          if (from.secretKeyRef) need(w, 'Secret', ns, String(asObj(from.secretKeyRef).name), `env ${String(e.name)}`);
          if (from.configMapKeyRef)
            need(w, 'ConfigMap', ns, String(asObj(from.configMapKeyRef).name), `env ${String(e.name)}`);
        }
        for (const f of asArr(c.envFrom)) {
          if (f.secretRef) need(w, 'Secret', ns, String(asObj(f.secretRef).name), 'envFrom');
          if (f.configMapRef) need(w, 'ConfigMap', ns, String(asObj(f.configMapRef).name), 'envFrom');
        }
      }
      // 4. A workload that may create pods somewhere starts after that namespace's guards.
      const sa = String(spec.serviceAccountName ?? 'default');
      for (const b of objects.filter((o) => o.kind === 'RoleBinding')) {
        const bound = asArr(b.subjects).some(
          (s) => s.kind === 'ServiceAccount' && s.name === sa && String(s.namespace ?? nsOf(b)) === ns,
        );
        const role = byKey.get(key('Role', nsOf(b), String(asObj(b.roleRef).name)));
        if (!bound || !role) continue;
        const createsPods = asArr(role.rules).some(
          (r) => listCovers(asStrArr(r.resources), 'pods') && listCovers(asStrArr(r.verbs), 'create'),
        );
        if (!createsPods) continue;
        const target = nsOf(b);
        const labels = namespaceLabels(objects).get(target) ?? { 'kubernetes.io/metadata.name': target };
        for (const g of objects) {
          const guards =
            (['ResourceQuota', 'LimitRange', 'PodTemplate'].includes(g.kind) && nsOf(g) === target) ||
            (g.kind === 'ValidatingAdmissionPolicyBinding' &&
              selectorMatches(asObj(asObj(asObj(g.spec).matchResources).namespaceSelector), labels));
          if (!guards) continue;
          const found = [g];
          if (g.kind === 'ValidatingAdmissionPolicyBinding') {
            const p = byKey.get(key('ValidatingAdmissionPolicy', '', String(asObj(g.spec).policyName)));
            if (p) found.push(p);
          }
          for (const d of found)
            if (waveOf(d) >= waveOf(w))
              report(
                w,
                `may create pods in ${target} (RoleBinding ${b.metadata.name}) but starts in wave ${waveOf(w)}, not after ${d.kind} ${d.metadata.name} (wave ${waveOf(d)})`,
              );
        }
      }
    }
  },
});

// ---------------------------------------------------------------------------------------------
// oauth2-proxy's session cookie

/** The effective value of an oauth2-proxy option: the last --flag=value, else OAUTH2_PROXY_<FLAG>. */
export function optionOf(container: Json, flag: string): string | undefined {
  let value: string | undefined;
  const args = [...asStrArr(container.command), ...asStrArr(container.args)];
  for (const [i, a] of args.entries()) {
    if (a.startsWith(`--${flag}=`)) value = a.slice(flag.length + 3);
    else if (a === `--${flag}`) value = args[i + 1]?.startsWith('--') === false ? args[i + 1] : 'true';
  }
  if (value !== undefined) return value;
  const envName = `OAUTH2_PROXY_${flag.toUpperCase().replace(/-/g, '_')}`;
  const e = asArr(container.env).find((x) => x.name === envName);
  return e && typeof e.value === 'string' ? e.value : undefined;
}

/** oauth2-proxy's own defaults (its options package) for the cookie flags. */
export const OAUTH2_PROXY_COOKIE_DEFAULTS: Readonly<Record<string, string>> = {
  'cookie-secure': 'true',
  'cookie-httponly': 'true',
  'cookie-samesite': '',
};

export const oauth2ProxyCookieRule: Rule = claimRule({
  id: 'session-cookie-flags',
  reason:
    "oauth2-proxy's session cookie is HttpOnly, SameSite lax or strict, and Secure wherever the environment serves HTTPS (always in production), so a script or another site cannot read or send it.",
  check(objects, env, report) {
    for (const w of objects) {
      const t = podTemplateOf(w);
      if (!t) continue;
      for (const c of allContainers(t.spec)) {
        if (!imageRepository(c.image).endsWith('/oauth2-proxy')) continue;
        const get = (f: string) => (optionOf(c, f) ?? OAUTH2_PROXY_COOKIE_DEFAULTS[f] ?? '').toLowerCase();
        const secure = get('cookie-secure');
        if ((env.tls || env.tier === 'production') && secure !== 'true')
          report(
            w,
            `container ${String(c.name)}: cookie-secure is '${secure}' in a${env.tier === 'production' ? ' production' : 'n HTTPS'} environment; the session cookie would travel over plain http`,
          );
        if (get('cookie-httponly') !== 'true')
          report(
            w,
            `container ${String(c.name)}: cookie-httponly is '${get('cookie-httponly')}', scripts could read the session`,
          );
        if (!['lax', 'strict'].includes(get('cookie-samesite')))
          report(
            w,
            `container ${String(c.name)}: cookie-samesite is '${get('cookie-samesite')}', not lax or strict: other sites' requests would carry the session`,
          );
      }
    }
  },
});

// ---------------------------------------------------------------------------------------------
// JetStream's stores

/**
 * The headroom README.md states for JetStream (section "What gets rendered", services table):
 * max_file_store at most this share of the PVC, max_memory_store of the container's memory limit.
 */
export const JETSTREAM_HEADROOM = { fileStoreOfVolume: 0.9, memoryStoreOfLimit: 0.25 } as const;

/** A nats-server size (bytes, or with a K/M/G/T unit, optionally followed by B; powers of 1024). */
export function natsSize(v: string): number | undefined {
  const m = /^\s*"?(\d+(?:\.\d+)?)\s*([KMGTP]?)(I?B)?"?\s*$/i.exec(v);
  if (!m) return undefined;
  const exp = ' KMGTP'.indexOf((m[2] ?? '').toUpperCase() || ' ');
  return Math.floor(Number(m[1]) * 1024 ** Math.max(exp, 0));
}

export const jetstreamStorageRule: Rule = claimRule({
  id: 'jetstream-storage-fits',
  reason:
    "JetStream's max_file_store fits in 90% of the server's PVC and max_memory_store in 25% of its container's memory limit (the headroom the README states), so the server refuses writes before the volume or the memory limit would.",
  check(objects, _env, report) {
    for (const cm of objects.filter((o) => o.kind === 'ConfigMap')) {
      for (const [file, text] of Object.entries(asStrRecord(cm.data))) {
        const js = /jetstream\s*\{([^}]*)\}/.exec(text)?.[1];
        if (js === undefined) continue;
        const setting = (k: string) => new RegExp(`^\\s*${k}\\s*[:=]\\s*(\\S+)`, 'm').exec(js)?.[1];
        const storeDir = setting('store_dir');
        const users = objects.filter((o) => {
          const t = podTemplateOf(o);
          return (
            o.kind === 'StatefulSet' &&
            nsOf(o) === nsOf(cm) &&
            asArr(t?.spec.volumes).some((v) => asObj(v.configMap).name === cm.metadata.name)
          );
        });
        for (const s of users) {
          const t = podTemplateOf(s);
          const cfgVolume = asArr(t?.spec.volumes).find((v) => asObj(v.configMap).name === cm.metadata.name);
          const server = asArr(t?.spec.containers).find((c) =>
            asArr(c.volumeMounts).some((m) => m.name === cfgVolume?.name),
          );
          if (!server) continue;
          const at = (what: string, limit: number, share: number, of: string) => {
            const raw = setting(what);
            const bytes = raw === undefined ? undefined : natsSize(raw);
            if (bytes === undefined)
              report(
                cm,
                `${file}: jetstream sets no ${what} (the server then takes a share of the whole disk or memory)`,
              );
            else if (bytes > Math.floor(limit * share))
              report(
                cm,
                `${file}: ${what} ${bytes} exceeds ${Math.round(share * 100)}% of ${of} (${Math.floor(limit * share)} bytes) of StatefulSet ${s.metadata.name}`,
              );
          };
          const memory = asObj(asObj(server.resources).limits).memory;
          if (typeof memory === 'string')
            at(
              'max_memory_store',
              parseMemory(memory),
              JETSTREAM_HEADROOM.memoryStoreOfLimit,
              `the ${memory} memory limit`,
            );
          else report(s, `container ${String(server.name)} has no memory limit for max_memory_store to fit in`);
          const claim = asArr(asObj(s.spec).volumeClaimTemplates).find((pvc) =>
            asArr(server.volumeMounts).some(
              (m) =>
                m.name === asObj(pvc.metadata).name &&
                storeDir !== undefined &&
                (storeDir === m.mountPath || storeDir.startsWith(`${String(m.mountPath).replace(/\/+$/, '')}/`)),
            ),
          );
          const size = asObj(asObj(asObj(claim?.spec).resources).requests).storage;
          if (typeof size === 'string')
            at('max_file_store', parseMemory(size), JETSTREAM_HEADROOM.fileStoreOfVolume, `the ${size} volume`);
          else
            report(
              s,
              `no volumeClaimTemplate is mounted at JetStream's store_dir ${String(storeDir)}: the file store has no volume`,
            );
        }
      }
    }
  },
});

export const PROMISE_RULES: readonly Rule[] = [
  executorGuardUpdatesRule,
  executorDeadlineLimitRule,
  startOrderRule,
  oauth2ProxyCookieRule,
  jetstreamStorageRule,
];
