/**
 * Security rules: what runs (registries), how it runs (Pod Security Standards "restricted",
 * read-only roots, tokens), what git may hold (no secrets), and who may do what (RBAC, the
 * executor namespace's quota and admission policy).
 */
import {
  allContainers,
  asArr,
  asObj,
  asStrArr,
  asStrRecord,
  podSpecOf,
  type Json,
  type Manifest,
  nsOf,
  workloads,
} from '../../model/objects';
import { executorBindings, listCovers, named, violation, type Rule, type Violation } from './core';

/** Images come from the environment's allowed registries (prefix match on the image string). */
export const allowedRegistriesRule: Rule = {
  id: 'allowed-registries',
  reason:
    'An image from an unreviewed registry is unreviewed code; env.allowedRegistries is the list of sources we trust.',
  check(objects, env) {
    const out: Violation[] = [];
    for (const w of workloads(objects)) {
      for (const c of allContainers(w.pod.spec)) {
        const image = String(c.image ?? '');
        if (!env.allowedRegistries.some((r) => image.startsWith(r))) {
          out.push(
            violation(
              'allowed-registries',
              w.object,
              `container ${String(c.name)} image '${image}' is not under allowedRegistries (${env.allowedRegistries.join(', ')})`,
            ),
          );
        }
      }
    }
    return out;
  },
};

/**
 * The environment's registry: with `registry`, every container image is `<host>/…:tag@sha256:…` and
 * every ServiceAccount a pod runs as names the pull Secret; without one, nothing names a pull Secret.
 */
export const registryPullRule: Rule = {
  id: 'registry-as-declared',
  reason:
    "With env.registry every image comes from that registry as repository:tag@sha256:…, so each pod runs exactly the bytes pin or promote recorded, and every ServiceAccount a pod runs as names the registry's pull Secret (imagePullSecrets; admission copies it into each pod, the middleware's executor pods included), or the kubelet cannot pull; an environment without a registry names no pull Secret that nothing provides.",
  check(objects, env) {
    const out: Violation[] = [];
    const reg = env.registry;
    const serviceAccounts = objects.filter((o) => o.kind === 'ServiceAccount');
    const pullSecrets = (sa: Manifest) =>
      asArr((sa as { imagePullSecrets?: unknown }).imagePullSecrets).map((r) => String(r.name));
    for (const w of workloads(objects)) {
      const saName = typeof w.pod.spec.serviceAccountName === 'string' ? w.pod.spec.serviceAccountName : 'default';
      if (reg) {
        for (const c of allContainers(w.pod.spec)) {
          const image = String(c.image ?? '');
          if (!image.startsWith(`${reg.host}/`) || !/^[^@]+:[^/@]+@sha256:[0-9a-f]{64}$/.test(image)) {
            out.push(
              violation(
                'registry-as-declared',
                w.object,
                `container ${String(c.name)} image '${image}' is not ${reg.host}/<path>:<tag>@sha256:<digest>`,
              ),
            );
          }
        }
        const sa = serviceAccounts.find((o) => o.metadata.name === saName && nsOf(o) === w.namespace);
        if (!sa || !pullSecrets(sa).includes(reg.pullSecret)) {
          out.push(
            violation(
              'registry-as-declared',
              w.object,
              `its pods run as ServiceAccount ${w.namespace}/${saName}, which ${sa ? 'does not name' : 'is not rendered to name'} the pull Secret ${reg.pullSecret} in imagePullSecrets`,
            ),
          );
        }
      }
    }
    if (!reg) {
      for (const sa of serviceAccounts.filter((o) => pullSecrets(o).length > 0)) {
        out.push(
          violation(
            'registry-as-declared',
            sa,
            `names pull Secret(s) ${pullSecrets(sa).join(', ')}, but the environment names no registry`,
          ),
        );
      }
    }
    return out;
  },
};

/** Volume types Pod Security Standards "restricted" allows. */
export const RESTRICTED_VOLUME_TYPES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

/** Sysctls the "baseline" (and so "restricted") profile allows, up to Kubernetes 1.33. */
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced',
  'net.ipv4.ip_local_port_range',
  'net.ipv4.ip_unprivileged_port_start',
  'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range',
  'net.ipv4.ip_local_reserved_ports',
  'net.ipv4.tcp_keepalive_time',
  'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl',
  'net.ipv4.tcp_keepalive_probes',
]);

const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t']);
const SECCOMP_OK = new Set(['RuntimeDefault', 'Localhost']);

/**
 * Pod Security Standards "restricted" (and everything "baseline" forbids), for every pod spec,
 * PodTemplates included: the namespace label enforces it at admission, this finds it in review.
 */
export const podSecurityRestrictedRule: Rule = {
  id: 'pod-security-restricted',
  reason:
    'Pod Security admission rejects what "restricted" forbids; catching it here keeps a bad pod from reaching a sync that fails.',
  check(objects) {
    const out: Violation[] = [];
    for (const w of workloads(objects)) {
      const o = w.object;
      const spec = w.pod.spec;
      const psc = asObj(spec.securityContext);
      const add = (m: string) => out.push(violation('pod-security-restricted', o, m));
      for (const f of ['hostNetwork', 'hostPID', 'hostIPC'] as const) if (spec[f] === true) add(`sets ${f}: true`);
      if (psc.runAsUser === 0) add('pod runAsUser is 0 (root)');
      for (const s of asArr(psc.sysctls)) {
        if (!SAFE_SYSCTLS.has(String(s.name))) add(`sets sysctl ${String(s.name)}, which is not in the safe set`);
      }
      checkSeLinux(asObj(psc.seLinuxOptions), 'pod', add);
      checkAppArmor(asObj(psc.appArmorProfile), 'pod', add);
      if (asObj(psc.windowsOptions).hostProcess === true) add('pod sets windowsOptions.hostProcess');
      for (const v of asArr(spec.volumes)) {
        const types = Object.keys(v).filter((k) => k !== 'name');
        for (const t of types) {
          if (!RESTRICTED_VOLUME_TYPES.has(t))
            add(`volume ${String(v.name)} is of type ${t}, which "restricted" forbids`);
        }
      }
      const podSeccomp = named(asObj(psc.seccompProfile).type);
      if (podSeccomp !== undefined && !SECCOMP_OK.has(podSeccomp)) add(`pod seccompProfile is ${podSeccomp}`);
      for (const c of allContainers(spec)) {
        const name = `container ${String(c.name)}`;
        const sc = asObj(c.securityContext);
        const caps = asObj(sc.capabilities);
        if (psc.runAsNonRoot !== true && sc.runAsNonRoot !== true) {
          add(`${name} may run as root: runAsNonRoot is true neither on the pod nor on the container`);
        }
        if (sc.runAsNonRoot === false) add(`${name} sets runAsNonRoot: false`);
        if (sc.runAsUser === 0) add(`${name} runAsUser is 0 (root)`);
        if (sc.allowPrivilegeEscalation !== false) add(`${name} does not set allowPrivilegeEscalation: false`);
        if (sc.privileged === true) add(`${name} is privileged`);
        if (!asStrArr(caps.drop).includes('ALL')) add(`${name} does not drop ALL capabilities`);
        for (const cap of asStrArr(caps.add)) {
          if (cap !== 'NET_BIND_SERVICE') add(`${name} adds capability ${cap}; only NET_BIND_SERVICE is allowed`);
        }
        const seccomp = named(asObj(sc.seccompProfile).type);
        if (seccomp !== undefined && !SECCOMP_OK.has(seccomp)) add(`${name} seccompProfile is ${seccomp}`);
        if (podSeccomp === undefined && seccomp === undefined) {
          add(`${name} has no seccompProfile RuntimeDefault or Localhost (neither on the pod nor on the container)`);
        }
        if (sc.procMount !== undefined && sc.procMount !== 'Default')
          add(`${name} sets procMount ${String(sc.procMount)}`);
        checkSeLinux(asObj(sc.seLinuxOptions), name, add);
        checkAppArmor(asObj(sc.appArmorProfile), name, add);
        if (asObj(sc.windowsOptions).hostProcess === true) add(`${name} sets windowsOptions.hostProcess`);
        for (const p of asArr(c.ports)) {
          if (p.hostPort !== undefined && p.hostPort !== 0) add(`${name} binds hostPort ${String(p.hostPort)}`);
        }
      }
    }
    return out;
  },
};

function checkSeLinux(se: Json, where: string, add: (m: string) => void): void {
  if (se.type !== undefined && !SELINUX_TYPES.has(String(se.type)))
    add(`${where} seLinuxOptions.type ${String(se.type)}`);
  if (se.user !== undefined || se.role !== undefined) add(`${where} sets seLinuxOptions user or role`);
}

function checkAppArmor(a: Json, where: string, add: (m: string) => void): void {
  if (a.type !== undefined && a.type !== 'RuntimeDefault' && a.type !== 'Localhost') {
    add(`${where} appArmorProfile is ${String(a.type)}`);
  }
}

/** Read-only root filesystems, and every writable emptyDir bounded. */
export const readOnlyRootRule: Rule = {
  id: 'read-only-root',
  reason:
    'A writable root lets an intruder or a runaway job change the image at run time; an unbounded emptyDir can fill the node disk.',
  check(objects) {
    const out: Violation[] = [];
    for (const w of workloads(objects)) {
      for (const c of allContainers(w.pod.spec)) {
        if (asObj(c.securityContext).readOnlyRootFilesystem !== true) {
          out.push(
            violation(
              'read-only-root',
              w.object,
              `container ${String(c.name)} does not set readOnlyRootFilesystem: true`,
            ),
          );
        }
      }
      for (const v of asArr(w.pod.spec.volumes)) {
        if (v.emptyDir !== undefined && asObj(v.emptyDir).sizeLimit === undefined) {
          out.push(violation('read-only-root', w.object, `emptyDir volume ${String(v.name)} has no sizeLimit`));
        }
      }
    }
    return out;
  },
};

/**
 * Workloads whose pods may mount a Kubernetes API token: the middleware, which launches executors, and
 * the executor reaper, which deletes finished ones.
 */
export const TOKEN_MOUNTING_WORKLOADS: ReadonlySet<string> = new Set([
  'Deployment/middleware',
  'CronJob/executor-reaper',
]);

/** No API tokens where they are not needed, and never the namespace's default ServiceAccount. */
export const serviceAccountTokensRule: Rule = {
  id: 'service-account-tokens',
  reason:
    'A mounted token is API access for whoever breaks into the pod; only the middleware and the executor reaper need one. The default ServiceAccount is shared by everything in a namespace.',
  check(objects) {
    const out: Violation[] = [];
    for (const w of workloads(objects)) {
      const id = `${w.object.kind}/${w.object.metadata.name}`;
      const spec = w.pod.spec;
      if (!TOKEN_MOUNTING_WORKLOADS.has(id) && spec.automountServiceAccountToken !== false) {
        out.push(
          violation(
            'service-account-tokens',
            w.object,
            `pod spec does not set automountServiceAccountToken: false (only ${[...TOKEN_MOUNTING_WORKLOADS].join(', ')} may mount a token)`,
          ),
        );
      }
      const sa = named(spec.serviceAccountName) ?? named(spec.serviceAccount);
      if (sa === undefined || sa === 'default') {
        out.push(
          violation(
            'service-account-tokens',
            w.object,
            `runs as the namespace's default ServiceAccount; give it its own`,
          ),
        );
      }
    }
    return out;
  },
};

/** Names of env vars and config keys that hold secrets. */
export const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL)/i;

/** Values that look like key material, whatever they are called. */
export const SECRET_VALUE_PATTERNS: readonly { readonly what: string; readonly re: RegExp }[] = [
  { what: 'a private key', re: /-----BEGIN [A-Z ]*PRIVATE KEY-----/ },
  { what: 'a JWT', re: /eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/ },
  { what: 'an AWS access key id', re: /\b(AKIA|ASIA)[0-9A-Z]{16}\b/ },
  { what: 'a GitHub token', re: /\bgh[pousr]_[A-Za-z0-9]{36,}\b/ },
  { what: 'a Slack token', re: /\bxox[abprs]-[A-Za-z0-9-]{10,}/ },
];

/** A base64 (or base64url) run of 40+ characters mixing upper case, lower case and digits, like random key material. */
function longBase64(value: string): string | undefined {
  for (const m of value.matchAll(/[A-Za-z0-9+/_-]{40,}={0,2}/g)) {
    const s = m[0];
    if (/[A-Z]/.test(s) && /[a-z]/.test(s) && /[0-9]/.test(s)) return s;
  }
  return undefined;
}

/** What in a value looks like a secret, or undefined. */
export function secretLooking(value: string): string | undefined {
  for (const p of SECRET_VALUE_PATTERNS) if (p.re.test(value)) return p.what;
  const b = longBase64(value);
  return b === undefined ? undefined : `a ${b.length}-character base64 blob`;
}

/**
 * A value that is not itself a secret although its name says secret: empty, a reference to an
 * environment variable ($VAR, ${VAR}, $(VAR)) that is filled from a Secret at run time, or a file path.
 */
export function isReference(value: string): boolean {
  const v = value.trim().replace(/^["']|["']$/g, '');
  return v === '' || /^\$(\{[A-Za-z_]\w*\}|\([A-Za-z_]\w*\)|[A-Za-z_]\w*)$/.test(v) || v.startsWith('/');
}

/** `name: value` / `name = value` lines whose name says secret, in config file text. */
function secretAssignments(text: string): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*["']?([A-Za-z0-9_.-]+)["']?\s*[:=]\s*(.*?)\s*,?\s*$/.exec(line);
    if (!m || !m[1] || m[2] === undefined) continue;
    const value = m[2];
    if (SECRET_NAME.test(m[1]) && value !== '' && !value.startsWith('{') && !value.startsWith('[')) {
      out.push({ name: m[1], value });
    }
  }
  return out;
}

/** No secret values in git: no Secret data, no literal passwords or tokens in env, args or ConfigMaps. */
export const noSecretsInGitRule: Rule = {
  id: 'no-secrets-in-git',
  reason:
    'git history is forever and readable by everyone with the repo; secrets come from the cluster (ExternalSecret, SealedSecret, cert-manager, or pre-created).',
  check(objects) {
    const out: Violation[] = [];
    const add = (o: Manifest, m: string) => out.push(violation('no-secrets-in-git', o, m));
    for (const o of objects) {
      if (o.kind === 'Secret') {
        for (const f of ['data', 'stringData'] as const) {
          if (Object.keys(asObj(o[f])).length > 0) add(o, `is a Secret with ${f} in git`);
        }
      }
      if (o.kind === 'ConfigMap') {
        for (const [key, raw] of Object.entries(asStrRecord(o.data))) {
          const looks = secretLooking(raw);
          if (looks) add(o, `data.${key} contains what looks like ${looks}`);
          if (SECRET_NAME.test(key) && !isReference(raw))
            add(o, `data.${key} is named like a secret and holds a literal`);
          for (const a of secretAssignments(raw)) {
            if (!isReference(a.value)) {
              add(
                o,
                `data.${key} sets ${a.name} to a literal; use an environment variable reference filled from a Secret`,
              );
            }
          }
        }
      }
      const pod = workloads([o])[0]?.pod;
      if (!pod) continue;
      for (const c of allContainers(pod.spec)) {
        const cname = `container ${String(c.name)}`;
        for (const e of asArr(c.env)) {
          if (typeof e.value !== 'string') continue;
          const name = String(e.name);
          if (SECRET_NAME.test(name) && !isReference(e.value)) {
            add(o, `${cname} env ${name} is named like a secret and has a literal value; use valueFrom.secretKeyRef`);
          }
          const looks = secretLooking(e.value);
          if (looks) add(o, `${cname} env ${name} contains what looks like ${looks}`);
        }
        for (const arg of [...asStrArr(c.command), ...asStrArr(c.args)]) {
          const m = /^--?([A-Za-z0-9_.-]+)=(.*)$/.exec(arg);
          if (m && m[1] && m[2] !== undefined && SECRET_NAME.test(m[1]) && !isReference(m[2])) {
            add(o, `${cname} argument --${m[1]} has a literal value; read it from a Secret`);
          }
          const looks = secretLooking(arg);
          if (looks) add(o, `${cname} argument contains what looks like ${looks}`);
        }
      }
    }
    return out;
  },
};

/** "1.30" -> 30; undefined when not a 1.x version. */
function minorOf(version: string): number | undefined {
  const m = /^v?1\.(\d+)$/.exec(version);
  return m && m[1] ? Number(m[1]) : undefined;
}

/** The environment's namespaces enforce Pod Security "restricted" at a pinned version. */
export const namespacePodSecurityRule: Rule = {
  id: 'namespace-pod-security',
  reason:
    'Admission, not review, is the last line: "restricted" must be enforced, at a pinned version so a cluster upgrade cannot change what is allowed.',
  check(objects, env) {
    const out: Violation[] = [];
    const rendered = new Set(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name));
    for (const n of [env.namespaces.app, env.namespaces.executor]) {
      if (!rendered.has(n)) {
        out.push(
          violation(
            'namespace-pod-security',
            { apiVersion: 'v1', kind: 'Namespace', metadata: { name: n } },
            'is not rendered',
          ),
        );
      }
    }
    const clusterMinor = minorOf(env.kubernetesVersion) ?? Infinity;
    for (const o of objects) {
      if (o.kind !== 'Namespace') continue;
      const labels = o.metadata.labels ?? {};
      const enforce = labels['pod-security.kubernetes.io/enforce'];
      const version = labels['pod-security.kubernetes.io/enforce-version'];
      if (enforce !== 'restricted') {
        out.push(
          violation(
            'namespace-pod-security',
            o,
            `pod-security.kubernetes.io/enforce is ${String(enforce)}, not restricted`,
          ),
        );
      }
      const minor = version === undefined ? undefined : minorOf(version);
      if (minor === undefined) {
        out.push(
          violation(
            'namespace-pod-security',
            o,
            `pod-security.kubernetes.io/enforce-version is ${String(version)}; pin it to a version like v${env.kubernetesVersion}`,
          ),
        );
      } else if (minor > clusterMinor) {
        out.push(
          violation(
            'namespace-pod-security',
            o,
            `pod-security.kubernetes.io/enforce-version ${String(version)} is newer than the cluster (${env.kubernetesVersion}); it would act as "latest"`,
          ),
        );
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
  // The Secret that carries each executor job's NATS ticket: create only, so the middleware can
  // never read, list or change a Secret (charts/middleware/executor-launcher-role.ts).
  '/secrets': ['create'],
};

/** Verbs that let a holder grant itself more than it has. */
const ESCALATION_VERBS = ['bind', 'escalate', 'impersonate'];
/** Subresources that reach into running pods, nodes or tokens. */
const FORBIDDEN_RESOURCES = [
  'pods/exec',
  'pods/attach',
  'pods/portforward',
  'pods/ephemeralcontainers',
  'ephemeralcontainers',
  'serviceaccounts/token',
  'nodes/proxy',
];
/** Resources whose creation creates pods. */
const POD_CREATING_RESOURCES = [
  'pods',
  'deployments',
  'replicasets',
  'statefulsets',
  'daemonsets',
  'jobs',
  'cronjobs',
  'replicationcontrollers',
];

/**
 * RBAC: no wildcards, no cluster-wide grants, allow-listed verbs only, bindings that resolve; no
 * escalation verbs, no way into pods or tokens, no reading secrets; pod creation only by the
 * middleware, only in the executor namespace, only through a namespaced Role; nothing in the
 * executor namespace holds any permission.
 */
export const rbacRule: Rule = {
  id: 'rbac',
  reason: 'The middleware creates pods that run untrusted code; its power must be exactly that and nothing more.',
  check(objects, env) {
    const out: Violation[] = [];
    const exe = env.namespaces.executor;
    const add = (o: Manifest, m: string) => out.push(violation('rbac', o, m));
    const roles = new Set(
      objects.filter((o) => o.kind === 'Role').map((o) => `${o.metadata.namespace}/${o.metadata.name}`),
    );
    const clusterRoles = new Set(objects.filter((o) => o.kind === 'ClusterRole').map((o) => o.metadata.name));
    const accounts = new Set(
      objects.filter((o) => o.kind === 'ServiceAccount').map((o) => `${o.metadata.namespace}/${o.metadata.name}`),
    );
    const middleware = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'middleware');
    const middlewareAccount = `${env.namespaces.app}/${
      named((middleware && podSpecOf(middleware))?.serviceAccountName) ?? 'middleware'
    }`;
    /** Roles ("Kind ns/name") that can create pods directly or through a controller. */
    const podCreators = new Set<string>();
    for (const o of objects) {
      if (o.kind !== 'Role' && o.kind !== 'ClusterRole') continue;
      if (o.kind === 'ClusterRole') add(o, 'ClusterRoles are not allowed; grant namespaced Roles');
      for (const [i, rule] of asArr(o.rules).entries()) {
        const groups = asStrArr(rule.apiGroups);
        const resources = asStrArr(rule.resources);
        const verbs = asStrArr(rule.verbs);
        for (const [what, list] of [
          ['apiGroups', groups],
          ['resources', resources],
          ['verbs', verbs],
        ] as const) {
          if (list.some((x) => x.includes('*'))) add(o, `rules[${i}].${what} contains a wildcard`);
        }
        if (Array.isArray(rule.nonResourceURLs)) add(o, `rules[${i}] grants nonResourceURLs`);
        for (const v of ESCALATION_VERBS) {
          if (listCovers(verbs, v)) add(o, `rules[${i}] grants '${v}', which lets the holder grant itself more`);
        }
        for (const r of FORBIDDEN_RESOURCES) {
          if (resources.includes(r) || resources.includes('*') || resources.includes(`${r.split('/')[0]}/*`)) {
            add(o, `rules[${i}] grants ${r}, a way into running pods, nodes or tokens`);
          }
        }
        if (listCovers(resources, 'secrets') && ['get', 'list', 'watch'].some((v) => listCovers(verbs, v))) {
          add(o, `rules[${i}] can read secrets (get, list or watch)`);
        }
        if (listCovers(verbs, 'create') && POD_CREATING_RESOURCES.some((r) => listCovers(resources, r))) {
          podCreators.add(`${o.kind} ${nsOf(o)}/${o.metadata.name}`);
          if (o.kind !== 'Role' || nsOf(o) !== exe) {
            add(o, `rules[${i}] creates pods; pods may be created only in ${exe}, through a namespaced Role`);
          }
        }
        for (const g of groups) {
          for (const r of resources) {
            const allowed = RBAC_ALLOW_LIST[`${g}/${r}`];
            if (!allowed) {
              add(o, `rules[${i}] grants ${g || 'core'}/${r}, which is not on the allow-list`);
              continue;
            }
            for (const v of verbs) {
              if (!allowed.includes(v)) add(o, `rules[${i}] grants '${v}' on ${r}; allowed: ${allowed.join(', ')}`);
            }
          }
        }
      }
      if (o.kind === 'Role' && o.metadata.namespace !== exe) {
        add(o, `Roles may only live in the executor namespace ${exe}`);
      }
    }
    for (const o of objects) {
      if (o.kind !== 'RoleBinding' && o.kind !== 'ClusterRoleBinding') continue;
      const ref = asObj(o.roleRef);
      const refName = String(ref.name);
      if (o.kind === 'ClusterRoleBinding') add(o, 'ClusterRoleBindings grant cluster-wide power; not allowed');
      if (refName === 'cluster-admin') add(o, 'refers to cluster-admin');
      if (ref.kind === 'Role' && !roles.has(`${o.metadata.namespace}/${refName}`)) {
        add(o, `refers to Role ${refName}, which is not rendered in ${o.metadata.namespace}`);
      }
      if (ref.kind === 'ClusterRole' && !clusterRoles.has(refName)) {
        add(o, `refers to ClusterRole ${refName} (cluster-wide roles such as built-ins are not allowed)`);
      }
      const target = ref.kind === 'Role' ? `Role ${nsOf(o)}/${refName}` : `ClusterRole /${refName}`;
      const createsPods = podCreators.has(target);
      for (const s of asArr(o.subjects)) {
        const subject = `${String(s.namespace)}/${String(s.name)}`;
        if (s.kind !== 'ServiceAccount') {
          add(o, `binds ${String(s.kind)} ${String(s.name)}; only ServiceAccounts may be bound`);
          continue;
        }
        if (!accounts.has(subject)) add(o, `binds ServiceAccount ${subject}, which is not rendered`);
        if (s.namespace === exe) {
          add(o, `binds ServiceAccount ${subject}: nothing in the executor namespace may hold API permissions`);
        }
        if (createsPods && subject !== middlewareAccount) {
          add(o, `lets ${subject} create pods; only the middleware (${middlewareAccount}) may`);
        }
      }
    }
    return out;
  },
};

/** Resource names a CEL expression must mention for each guarantee of the executor admission policy. */
const GUARD_FIELDS: readonly { readonly what: string; readonly re: RegExp }[] = [
  { what: 'image registry', re: /\.image\b/ },
  { what: 'activeDeadlineSeconds', re: /\bactiveDeadlineSeconds\b/ },
  { what: 'automountServiceAccountToken', re: /\bautomountServiceAccountToken\b/ },
  { what: 'resource limits', re: /\blimits\b/ },
];

/**
 * Spans `(...)` immediately followed by `.all(`, `.exists(`, ... and preceded by `+` or `-`. In CEL
 * a member call binds tighter than `+` (langdef: Addition = [Addition "+"] Multiplication;
 * Member = Member "." IDENT "(" ... ")"), so `a + (b).all(...)` is `a + ((b).all(...))`: the macro
 * sees only `b` and the sum is list + bool, a runtime error that failurePolicy Fail turns into
 * "deny every pod".
 */
export function macroPrecedenceTraps(expression: string): string[] {
  const pairs: [number, number][] = [];
  const stack: number[] = [];
  let quote: string | undefined;
  for (let i = 0; i < expression.length; i++) {
    const ch = expression[i];
    if (quote) {
      if (ch === '\\') i++;
      else if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '(') stack.push(i);
    else if (ch === ')') {
      const open = stack.pop();
      if (open !== undefined) pairs.push([open, i]);
    }
  }
  const out: string[] = [];
  for (const [open, close] of pairs) {
    const after = /^\s*\.\s*(all|exists|exists_one|map|filter)\s*\(/.exec(expression.slice(close + 1));
    if (after && /[+-]\s*$/.test(expression.slice(0, open))) {
      out.push(`'+ (…).${after[1]}(…)' applies ${after[1]} to the right operand only`);
    }
  }
  return out;
}

/**
 * The executor namespace is fenced: a ResourceQuota on pods, CPU and memory; a LimitRange; and a
 * ValidatingAdmissionPolicy, bound to it with Deny and failing closed, that checks the image
 * registry, the deadline, the token and the limits of every executor pod.
 */
export const executorGuardrailsRule: Rule = {
  id: 'executor-guardrails',
  reason:
    'Executors run untrusted code created at run time, never reviewed in git: quota, limits and admission checks are what bound them.',
  check(objects, env) {
    const out: Violation[] = [];
    const exe = env.namespaces.executor;
    const anchor: Manifest =
      objects.find((o) => o.kind === 'Namespace' && o.metadata.name === exe) ??
      ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: exe } } as Manifest);
    const add = (o: Manifest, m: string) => out.push(violation('executor-guardrails', o, m));
    const inExe = (kind: string) => objects.filter((o) => o.kind === kind && nsOf(o) === exe);

    const quotas = inExe('ResourceQuota');
    const hard = new Set(quotas.flatMap((q) => Object.keys(asObj(asObj(q.spec).hard))));
    const need: [string, string[]][] = [
      ['pods', ['pods', 'count/pods']],
      ['requests.cpu', ['requests.cpu', 'cpu']],
      ['requests.memory', ['requests.memory', 'memory']],
      ['limits.cpu', ['limits.cpu']],
      ['limits.memory', ['limits.memory']],
    ];
    if (quotas.length === 0) add(anchor, 'has no ResourceQuota');
    else {
      for (const [what, keys] of need) {
        if (!keys.some((k) => hard.has(k))) add(quotas[0] ?? anchor, `ResourceQuota does not limit ${what}`);
      }
    }

    const ranges = inExe('LimitRange');
    const containerLimits = ranges.flatMap((r) => asArr(asObj(r.spec).limits)).filter((l) => l.type === 'Container');
    if (ranges.length === 0) add(anchor, 'has no LimitRange');
    else if (!containerLimits.some((l) => asObj(l.max).cpu !== undefined && asObj(l.max).memory !== undefined)) {
      add(ranges[0] ?? anchor, 'LimitRange sets no Container max for cpu and memory');
    }

    const bindings = executorBindings(objects, env);
    if (bindings.length === 0) add(anchor, 'no ValidatingAdmissionPolicyBinding selects the executor namespace');
    const fields = new Set<string>();
    for (const { binding: b, policy: p } of bindings) {
      const spec = asObj(b.spec);
      if (!asStrArr(spec.validationActions).includes('Deny')) add(b, 'validationActions does not include Deny');
      if (!p) {
        add(b, `binds policy ${String(spec.policyName)}, which is not rendered`);
        continue;
      }
      const ps = asObj(p.spec);
      if (ps.failurePolicy !== 'Fail') add(p, `failurePolicy is ${String(ps.failurePolicy)}, not Fail`);
      const coversPodCreate = asArr(asObj(ps.matchConstraints).resourceRules).some(
        (r) => listCovers(asStrArr(r.resources), 'pods') && listCovers(asStrArr(r.operations), 'CREATE'),
      );
      if (!coversPodCreate) add(p, 'matchConstraints do not cover CREATE of pods');
      for (const [i, v] of asArr(ps.validations).entries()) {
        const expression = String(v.expression ?? '');
        for (const g of GUARD_FIELDS) if (g.re.test(expression)) fields.add(g.what);
        for (const trap of macroPrecedenceTraps(expression)) {
          add(p, `validations[${i}]: ${trap}; wrap the whole concatenation in parentheses`);
        }
      }
    }
    if (bindings.length > 0) {
      for (const g of GUARD_FIELDS) {
        if (!fields.has(g.what)) add(anchor, `the admission policy does not check ${g.what}`);
      }
    }
    return out;
  },
};
