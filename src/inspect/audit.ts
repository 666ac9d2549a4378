/**
 * The audit sections of dist/<env>/README.md, computed from the rendered objects: who can do what,
 * which pods hold an API token, who can reach whom, what is exposed, where Argo CD syncs, which
 * Secrets an operator provides, and the reviewed policy exceptions. Each function returns data
 * (checked by test/report.test.ts) and the report renders it.
 */
import type { EnvironmentConfig } from '../../apps/environment';
import { asArr, asObj, asStrArr, podContainers, workloads, type Manifest } from '../model/objects';
import { EXCEPTIONS, LINTER_EXCEPTIONS } from '../policy/exceptions';
import { allowedFlows, endpoints, type Flow } from './reachability';

/** One row of "who can do what": a subject, one rule of its role, and where it applies. */
export interface Grant {
  readonly subject: string;
  readonly verbs: readonly string[];
  readonly resources: readonly string[];
  /** A namespace, or 'cluster'. */
  readonly where: string;
  readonly via: string;
}

export function grants(objects: readonly Manifest[]): Grant[] {
  const roles = new Map(
    objects
      .filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole')
      .map((o) => [`${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, o]),
  );
  const out: Grant[] = [];
  for (const b of objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
    const ref = asObj(b.roleRef);
    const ns = ref.kind === 'Role' ? (b.metadata.namespace ?? '') : '';
    const role = roles.get(`${String(ref.kind)}/${ns}/${String(ref.name)}`);
    const where = b.kind === 'ClusterRoleBinding' ? 'cluster' : (b.metadata.namespace ?? '');
    const via = `${b.kind} ${b.metadata.name} → ${String(ref.kind)} ${String(ref.name)}`;
    for (const s of asArr(b.subjects)) {
      const subject = `${String(s.kind)} ${s.namespace ? `${String(s.namespace)}/` : ''}${String(s.name)}`;
      const rules = role ? asArr(role.rules) : [];
      if (!role) out.push({ subject, verbs: ['(role not rendered)'], resources: [], where, via });
      for (const r of rules) {
        const groups = asStrArr(r.apiGroups);
        const resources = [
          ...asStrArr(r.resources).flatMap((res) => groups.map((g) => (g === '' ? res : `${g}/${res}`))),
          ...asStrArr(r.nonResourceURLs),
        ].map((res) =>
          asStrArr(r.resourceNames).length > 0 ? `${res} [${asStrArr(r.resourceNames).join(', ')}]` : res,
        );
        out.push({ subject, verbs: asStrArr(r.verbs), resources, where, via });
      }
    }
  }
  return out;
}

/** Which pods get a Kubernetes API token, and how. */
export interface TokenMount {
  readonly workload: string;
  readonly namespace: string;
  readonly serviceAccount: string;
  /** automountServiceAccountToken as it takes effect (pod, else ServiceAccount, else true). */
  readonly automount: boolean;
  /** Projected serviceAccountToken volumes, `volume (audience, seconds)`. */
  readonly projected: readonly string[];
}

export function tokenMounts(objects: readonly Manifest[]): TokenMount[] {
  const accounts = new Map(
    objects.filter((o) => o.kind === 'ServiceAccount').map((o) => [`${o.metadata.namespace}/${o.metadata.name}`, o]),
  );
  return workloads(objects).map((w) => {
    const spec = w.pod.spec;
    const serviceAccount = String(spec.serviceAccountName ?? 'default');
    const sa = accounts.get(`${w.namespace}/${serviceAccount}`);
    const automount =
      typeof spec.automountServiceAccountToken === 'boolean'
        ? spec.automountServiceAccountToken
        : typeof sa?.automountServiceAccountToken === 'boolean'
          ? sa.automountServiceAccountToken
          : true;
    const projected = asArr(spec.volumes).flatMap((v) =>
      asArr(asObj(v.projected).sources)
        .map((s) => asObj(s.serviceAccountToken))
        .filter((t) => Object.keys(t).length > 0)
        .map(
          (t) => `${String(v.name)} (${String(t.audience ?? 'API server')}, ${String(t.expirationSeconds ?? 3600)} s)`,
        ),
    );
    return {
      workload: `${w.object.kind} ${w.object.metadata.name}`,
      namespace: w.namespace,
      serviceAccount,
      automount,
      projected,
    };
  });
}

/** Flows grouped by (from, to), ports joined. */
export function flowPairs(flows: readonly Flow[]): Map<string, { from: string; to: string; ports: string[] }> {
  const out = new Map<string, { from: string; to: string; ports: string[] }>();
  for (const f of flows) {
    const key = `${f.from} -> ${f.to}`;
    const pair = out.get(key) ?? { from: f.from, to: f.to, ports: [] };
    pair.ports.push(f.port);
    out.set(key, pair);
  }
  return out;
}

export interface Reachability {
  readonly flows: readonly Flow[];
  /** Endpoints in matrix order: workloads, then cluster pods, then addresses. */
  readonly endpoints: readonly { readonly name: string; readonly kind: string }[];
  readonly pairs: ReadonlyMap<string, { from: string; to: string; ports: string[] }>;
}

export function reachability(env: EnvironmentConfig, objects: readonly Manifest[]): Reachability {
  const flows = allowedFlows(env, objects);
  const used = new Set(flows.flatMap((f) => [f.from, f.to]));
  const order = { workload: 0, 'cluster-pod': 1, address: 2 } as const;
  const eps = endpoints(env, objects)
    .filter((e) => used.has(e.name))
    .sort((a, b) => order[a.kind] - order[b.kind])
    .map((e) => ({ name: e.name, kind: e.kind }));
  return { flows, endpoints: eps, pairs: flowPairs(flows) };
}

/** CNIs known not to implement NetworkPolicy. */
export const NON_ENFORCING_CNI = new Set(['flannel', 'kindnet']);

/** What is reachable from outside the cluster: Ingress hosts, Gateway routes, LoadBalancer and NodePort Services. */
export function exposures(objects: readonly Manifest[]): { object: string; how: string }[] {
  const out: { object: string; how: string }[] = [];
  for (const o of objects) {
    const s = asObj(o.spec);
    const id = `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    if (o.kind === 'Ingress') {
      const tls = new Set(asArr(s.tls).flatMap((t) => asStrArr(t.hosts)));
      for (const r of asArr(s.rules)) {
        for (const p of asArr(asObj(r.http).paths)) {
          const svc = asObj(asObj(p.backend).service);
          const host = String(r.host ?? '*');
          out.push({
            object: id,
            how: `${tls.has(host) ? 'https' : 'http'}://${host}${String(p.path ?? '/')} → Service ${String(svc.name)}:${String(asObj(svc.port).number ?? asObj(svc.port).name)} (class ${String(s.ingressClassName ?? 'default')})`,
          });
        }
      }
    }
    if (o.kind === 'HTTPRoute' || o.kind === 'Gateway')
      out.push({ object: id, how: `${o.kind} ${asStrArr(s.hostnames).join(', ') || ''}`.trim() });
    if (o.kind === 'Service' && (s.type === 'LoadBalancer' || s.type === 'NodePort')) {
      out.push({
        object: id,
        how: `Service type ${String(s.type)}, ports ${asArr(s.ports)
          .map((p) => String(p.nodePort ?? p.port))
          .join(', ')}`,
      });
    }
  }
  return out;
}

/** The Argo CD Application that syncs the environment. */
export function argoSummary(
  argo: readonly Manifest[],
): { name: string; destination: string; source: string; revision: string; sync: string }[] {
  return argo
    .filter((o) => o.kind === 'Application')
    .map((o) => {
      const s = asObj(o.spec);
      const d = asObj(s.destination);
      const src = asObj(s.source);
      const sp = asObj(s.syncPolicy);
      const auto = asObj(sp.automated);
      const sync =
        sp.automated === undefined
          ? 'manual'
          : `automated (prune ${auto.prune === true ? 'on' : 'off'}, selfHeal ${auto.selfHeal === true ? 'on' : 'off'})` +
            (asStrArr(sp.syncOptions).length > 0 ? `; ${asStrArr(sp.syncOptions).join(', ')}` : '') +
            (sp.retry !== undefined ? `; retry ${String(asObj(sp.retry).limit)}×` : '');
      return {
        name: o.metadata.name,
        destination: `${String(d.server ?? d.name)} / ${String(d.namespace)}`,
        source: `${String(src.repoURL)} ${String(src.path)}`,
        revision: String(src.targetRevision ?? 'HEAD'),
        sync,
      };
    });
}

/** A Secret the workloads read, who provides it, and what an operator does about it. */
export interface SecretNeed {
  readonly namespace: string;
  readonly name: string;
  readonly keys: readonly string[];
  readonly readBy: readonly string[];
  readonly provider: string;
  readonly action: string;
}

export function secretNeeds(objects: readonly Manifest[]): SecretNeed[] {
  const needs = new Map<string, { namespace: string; name: string; keys: Set<string>; readBy: Set<string> }>();
  const need = (ns: string, name: string, by: string, keys: readonly string[]) => {
    const k = `${ns}/${name}`;
    const n = needs.get(k) ?? { namespace: ns, name, keys: new Set<string>(), readBy: new Set<string>() };
    for (const key of keys) n.keys.add(key);
    n.readBy.add(by);
    needs.set(k, n);
  };
  for (const w of workloads(objects)) {
    const by = w.object.metadata.name;
    const spec = w.pod.spec;
    for (const c of podContainers(spec)) {
      for (const e of asArr(c.env)) {
        const ref = asObj(asObj(e.valueFrom).secretKeyRef);
        if (ref.name !== undefined) need(w.namespace, String(ref.name), by, [String(ref.key)]);
      }
      for (const e of asArr(c.envFrom))
        if (asObj(e.secretRef).name !== undefined)
          need(w.namespace, String(asObj(e.secretRef).name), by, ['(all keys)']);
    }
    for (const v of asArr(spec.volumes)) {
      const sec = asObj(v.secret);
      if (sec.secretName !== undefined)
        need(
          w.namespace,
          String(sec.secretName),
          by,
          asArr(sec.items).map((i) => String(i.key)),
        );
      for (const s of asArr(asObj(v.projected).sources)) {
        const ps = asObj(s.secret);
        if (ps.name !== undefined)
          need(
            w.namespace,
            String(ps.name),
            by,
            asArr(ps.items).map((i) => String(i.key)),
          );
      }
    }
  }
  for (const o of objects.filter((x) => x.kind === 'Ingress')) {
    for (const t of asArr(asObj(o.spec).tls)) {
      if (t.secretName !== undefined)
        need(o.metadata.namespace ?? '', String(t.secretName), `Ingress ${o.metadata.name}`, ['tls.crt', 'tls.key']);
    }
  }
  // The registry's pull Secret: named by the ServiceAccounts that run pods, read by the kubelet.
  for (const o of objects.filter((x) => x.kind === 'ServiceAccount')) {
    for (const ref of asArr((o as { imagePullSecrets?: unknown }).imagePullSecrets)) {
      if (ref.name !== undefined)
        need(o.metadata.namespace ?? '', String(ref.name), `ServiceAccount ${o.metadata.name} (image pulls)`, [
          '.dockerconfigjson',
        ]);
    }
  }
  const provided = new Map<string, { provider: string; action: string }>();
  for (const o of objects) {
    const s = asObj(o.spec);
    const ns = o.metadata.namespace ?? '';
    if (o.kind === 'ExternalSecret') {
      const store = asObj(s.secretStoreRef);
      const remote = [
        ...new Set(
          asArr(s.data).map((d) => `${String(asObj(d.remoteRef).key)}#${String(asObj(d.remoteRef).property)}`),
        ),
      ];
      provided.set(`${ns}/${String(asObj(s.target).name ?? o.metadata.name)}`, {
        provider: `ExternalSecret from ${String(store.kind)} ${String(store.name)}`,
        action: `store ${remote.map((r) => `\`${r}\``).join(', ')}`,
      });
    }
    if (o.kind === 'SealedSecret') {
      provided.set(`${ns}/${o.metadata.name}`, {
        provider: 'SealedSecret (ciphertext in git)',
        action: `seal ${Object.keys(asObj(s.encryptedData))
          .map((k) => `\`${k}\``)
          .join(', ')} with the cluster's sealing key`,
      });
    }
    if (o.kind === 'Certificate') {
      const issuer = asObj(s.issuerRef);
      provided.set(`${ns}/${String(s.secretName)}`, {
        provider: `cert-manager Certificate ${o.metadata.name} (${String(issuer.kind ?? 'Issuer')} ${String(issuer.name)})`,
        action: issuer.kind === 'Issuer' ? `issuer ${String(issuer.name)} must exist in ${ns}` : 'none',
      });
    }
    if (o.kind === 'Ingress') {
      const a = asObj(o.metadata.annotations);
      const issuer = a['cert-manager.io/cluster-issuer'] ?? a['cert-manager.io/issuer'];
      for (const t of asArr(s.tls)) {
        if (issuer !== undefined && t.secretName !== undefined)
          provided.set(`${ns}/${String(t.secretName)}`, {
            provider: `cert-manager (Ingress annotation, issuer ${String(issuer)})`,
            action: 'none',
          });
      }
    }
  }
  return [...needs.values()]
    .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`))
    .map((n) => {
      const p = provided.get(`${n.namespace}/${n.name}`);
      return {
        namespace: n.namespace,
        name: n.name,
        keys: [...n.keys].sort(),
        readBy: [...n.readBy].sort(),
        provider: p?.provider ?? 'pre-created by an operator',
        action:
          p?.action ??
          `create it before the first sync, with keys ${[...n.keys]
            .sort()
            .map((k) => `\`${k}\``)
            .join(', ')}`,
      };
    });
}

/** The reviewed exceptions that apply to an environment. */
export function exceptionsFor(env: string): { kind: string; id: string; objects: string; reason: string }[] {
  return [
    ...EXCEPTIONS.filter((e) => e.env === '*' || e.env === env).map((e) => ({
      kind: 'policy rule',
      id: e.rule,
      objects: `${e.kind}/${e.name}`,
      reason: e.reason,
    })),
    ...LINTER_EXCEPTIONS.filter((e) => e.env === '*' || e.env === env).map((e) => ({
      kind: e.linter,
      id: e.check,
      objects: e.objects.join(', '),
      reason: e.reason,
    })),
  ];
}

const mermaidId = (name: string) => name.replace(/[^A-Za-z0-9_]/g, '_');

/** A Mermaid flowchart of the endpoints and the flows the NetworkPolicies allow. */
export function mermaid(r: Reachability): string[] {
  const shape = (e: { name: string; kind: string }) =>
    e.kind === 'workload'
      ? `${mermaidId(e.name)}["${e.name}"]`
      : e.kind === 'cluster-pod'
        ? `${mermaidId(e.name)}(["${e.name}"])`
        : `${mermaidId(e.name)}{{"${e.name}"}}`;
  return [
    '```mermaid',
    'flowchart LR',
    ...r.endpoints.map((e) => `  ${shape(e)}`),
    ...[...r.pairs.values()].map((p) => `  ${mermaidId(p.from)} -->|"${p.ports.join(' ')}"| ${mermaidId(p.to)}`),
    '```',
  ];
}

/** Short JSON-free rendering of a table cell. */
export function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
