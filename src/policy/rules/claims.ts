/**
 * Rules for more promises README.md makes about the rendered output (issue 20, item 3). Each was
 * found by breaking the committed YAML the way a generator change could, and seeing no test fail.
 * Expectations come from the environment file (EnvironmentConfig) or from numbers the README
 * states, never from the generator's code.
 */
import { createHash } from 'node:crypto';
import type { EnvironmentConfig } from '../../../apps/environment';
import { parseCpu, parseMemory } from '../../model/quantity';
import {
  allContainers,
  apiGroup,
  asArr,
  asObj,
  asStrArr,
  asStrRecord,
  autoscalers,
  CONTROLLER_KINDS,
  jobSpecOf,
  type Json,
  type Manifest,
  nsOf,
  podTemplateOf,
  workloads,
} from '../../model/objects';
import { platformPath } from './argocd';
import { claimRule, executorPolicies, imageRepository, type Rule } from './core';
import { executorTemplates, failedValidations, optionOf, podFrom } from './promises';
import { TOKEN_MOUNTING_WORKLOADS } from './security';

/** `repository[:tag][@digest]`, the standard image reference of an environment's image. */
export function imageReference(image: {
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}) {
  return `${image.repository}${image.tag === undefined ? '' : `:${image.tag}`}${image.digest === undefined ? '' : `@${image.digest}`}`;
}

/** A container's environment variable with a literal value, or undefined. */
function envValue(container: Json, name: string): string | undefined {
  const e = asArr(container.env).find((x) => x.name === name);
  return e && typeof e.value === 'string' ? e.value : undefined;
}

// ---------------------------------------------------------------------------------------------
// The executor guard: exact images

export const executorExactImagesRule: Rule = claimRule({
  id: 'executor-exact-images',
  reason:
    "The executor guard holds executor pods to their templates' exact images (env.executors.images): a pod from each PodTemplate is admitted, and refused with another tag of its repository or another image of an allowed registry, as a container or an init container.",
  check(objects, env, report) {
    const expected = new Set(Object.values(env.executors.images).map(imageReference));
    const repositories = Object.values(env.executors.images).map((i) => i.repository);
    const intruders = [
      ...repositories.map((r) => `${r}:untrusted`),
      ...env.allowedRegistries.map((r) => `${r}untrusted:1.0.0`),
    ].filter((i) => !expected.has(i));
    const templates = executorTemplates(objects, env);
    for (const t of templates) {
      for (const c of allContainers(asObj(podTemplateOf(t)?.spec))) {
        if (!expected.has(String(c.image)))
          report(t, `container ${String(c.name)} runs ${String(c.image)}, not one of env.executors.images`);
      }
    }
    for (const { policy } of executorPolicies(objects, env)) {
      for (const t of templates) {
        const own = failedValidations(policy, podFrom(t));
        if (own.length > 0) report(policy, `refuses a pod made from PodTemplate ${t.metadata.name}: ${own.join('; ')}`);
        for (const image of intruders) {
          for (const where of ['containers', 'initContainers'] as const) {
            const pod = podFrom(t);
            const spec = asObj(pod.spec);
            const first = asArr(spec.containers)[0] ?? {};
            if (where === 'containers') first.image = image;
            else spec.initContainers = [{ ...structuredClone(first), name: 'intruder', image }];
            if (failedValidations(policy, pod).length === 0)
              report(
                policy,
                `admits a pod from PodTemplate ${t.metadata.name} with ${where === 'containers' ? 'its container' : 'an init container'} running ${image}`,
              );
          }
        }
      }
    }
  },
});

// ---------------------------------------------------------------------------------------------
// Argo CD: the AppProject's kinds and the Application's options (reads: 'all')

const isArgo = (o: Manifest, kind: string) => o.apiVersion.startsWith('argoproj.io/') && o.kind === kind;
/** The platform Application: the one that syncs dist/<env>. */
const platformApps = (objects: readonly Manifest[], env: EnvironmentConfig) =>
  objects.filter((o) => isArgo(o, 'Application') && asObj(asObj(o.spec).source).path === platformPath(env));
const kindKey = (group: string, kind: string) => `${group || 'core'}/${kind}`;

/**
 * The cluster-scoped kinds README.md says the AppProject allows (section "Argo CD"): Namespace,
 * PriorityClass, ValidatingAdmissionPolicy and its binding.
 */
export const README_CLUSTER_KINDS: readonly string[] = [
  'core/Namespace',
  'scheduling.k8s.io/PriorityClass',
  'admissionregistration.k8s.io/ValidatingAdmissionPolicy',
  'admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding',
];

export const argocdProjectKindsRule: Rule = claimRule({
  id: 'argocd-project-kinds',
  reason:
    "The platform's AppProject allows exactly the kinds dist/<env> renders (cluster-scoped: Namespace, PriorityClass, ValidatingAdmissionPolicy and binding, as the README lists): one kind more, such as ClusterRoleBinding or Secret, is a hole in the fence Argo CD keeps around git, one fewer fails the sync (reads dist/ and argocd/).",
  reads: 'all',
  check(objects, env, report) {
    // Argo CD's own objects (argocd/<env>) are not what the project syncs; Argo Rollouts' are.
    const rendered = objects.filter((o) => !isArgo(o, 'Application') && !isArgo(o, 'AppProject'));
    const renderedKinds = (clusterScoped: boolean) =>
      new Set(
        rendered.filter((o) => (nsOf(o) === '') === clusterScoped).map((o) => kindKey(apiGroup(o.apiVersion), o.kind)),
      );
    const projects = new Set(platformApps(objects, env).map((a) => String(asObj(a.spec).project)));
    for (const p of objects.filter((o) => isArgo(o, 'AppProject') && projects.has(o.metadata.name))) {
      const spec = asObj(p.spec);
      for (const [field, clusterScoped] of [
        ['clusterResourceWhitelist', true],
        ['namespaceResourceWhitelist', false],
      ] as const) {
        const listed = new Set(asArr(spec[field]).map((k) => kindKey(String(k.group ?? ''), String(k.kind))));
        const want = renderedKinds(clusterScoped);
        for (const k of listed)
          if (!want.has(k)) report(p, `${field} allows ${k}, which dist/${env.name} does not render`);
        for (const k of want) if (!listed.has(k)) report(p, `${field} lacks ${k}, which dist/${env.name} renders`);
        if (clusterScoped)
          for (const k of listed)
            if (!README_CLUSTER_KINDS.includes(k))
              report(p, `${field} allows ${k}, not one of the README's cluster-scoped kinds`);
      }
    }
  },
});

/** Argo CD's retry as README.md states it (section "Argo CD"): exponential backoff 10 s → 5 min, 5 tries. */
export const README_RETRY = { limit: 5, duration: '10s', maxDuration: '5m' } as const;
export const RESOURCES_FINALIZER = 'resources-finalizer.argocd.argoproj.io';
const SUBSCRIPTIONS = { onSyncFailed: 'on-sync-failed', onHealthDegraded: 'on-health-degraded' } as const;

export const argocdApplicationOptionsRule: Rule = claimRule({
  id: 'argocd-application-options',
  reason:
    "The platform Application prunes last, retries with exponential backoff (10 s to 5 min, 5 tries), carries the resources finalizer (deleting it deletes what it made) and exactly the environment's notification subscriptions, as the README says (reads argocd/).",
  reads: 'argocd',
  check(objects, env, report) {
    for (const app of platformApps(objects, env)) {
      const policy = asObj(asObj(app.spec).syncPolicy);
      if (!asStrArr(policy.syncOptions).includes('PruneLast=true'))
        report(app, 'syncOptions lack PruneLast=true: pruning could start before the rest is healthy');
      const retry = asObj(policy.retry);
      const backoff = asObj(retry.backoff);
      if (retry.limit !== README_RETRY.limit)
        report(app, `retry.limit is ${String(retry.limit)}, not ${README_RETRY.limit}`);
      if (backoff.duration !== README_RETRY.duration)
        report(app, `retry.backoff.duration is ${String(backoff.duration)}, not ${README_RETRY.duration}`);
      if (backoff.maxDuration !== README_RETRY.maxDuration)
        report(app, `retry.backoff.maxDuration is ${String(backoff.maxDuration)}, not ${README_RETRY.maxDuration}`);
      if (typeof backoff.factor !== 'number' || backoff.factor < 2)
        report(app, `retry.backoff.factor is ${String(backoff.factor)}: the backoff is not exponential`);
      if (!asStrArr(asObj(app.metadata).finalizers).includes(RESOURCES_FINALIZER))
        report(app, `has no ${RESOURCES_FINALIZER}: deleting it would orphan the platform`);
      const want = new Map<string, string>();
      for (const [key, trigger] of Object.entries(SUBSCRIPTIONS))
        for (const [service, recipient] of Object.entries(env.argocd.notifications[key as keyof typeof SUBSCRIPTIONS]))
          want.set(`notifications.argoproj.io/subscribe.${trigger}.${service}`, String(recipient));
      const have = new Map(
        Object.entries(asStrRecord(app.metadata.annotations)).filter(([k]) =>
          k.startsWith('notifications.argoproj.io/'),
        ),
      );
      for (const [k, v] of want)
        if (have.get(k) !== v) report(app, `annotation ${k} is ${String(have.get(k))}, not ${v}`);
      for (const k of have.keys())
        if (!want.has(k)) report(app, `annotation ${k} subscribes to what the environment does not declare`);
    }
  },
});

// ---------------------------------------------------------------------------------------------
// Pods: API tokens, capabilities and seccomp, config checksums

/** Projected serviceAccountToken sources of a pod spec's volumes, by volume name. */
function projectedTokens(spec: Json): string[] {
  return asArr(spec.volumes)
    .filter((v) => asArr(asObj(v.projected).sources).some((s) => s.serviceAccountToken !== undefined))
    .map((v) => String(v.name));
}

export const tokenHoldersRule: Rule = claimRule({
  id: 'token-holders',
  reason:
    'Only the middleware and the executor reaper get an API token: no other pod may mount one through a projected serviceAccountToken volume, which automountServiceAccountToken: false does not stop.',
  check(objects, _env, report) {
    for (const w of workloads(objects)) {
      if (TOKEN_MOUNTING_WORKLOADS.has(`${w.object.kind}/${w.object.metadata.name}`)) continue;
      for (const v of projectedTokens(w.pod.spec))
        report(
          w.object,
          `volume ${v} projects a service-account token (only ${[...TOKEN_MOUNTING_WORKLOADS].join(', ')} may hold one)`,
        );
    }
  },
});

export const containerHardeningRule: Rule = claimRule({
  id: 'capabilities-and-seccomp',
  reason:
    'Every container runs with no capabilities at all (none added, not even NET_BIND_SERVICE, which "restricted" allows) and under the RuntimeDefault seccomp profile (not a Localhost profile the node may lack or loosen), as the README promises.',
  check(objects, _env, report) {
    for (const w of workloads(objects)) {
      const podSeccomp = asObj(asObj(w.pod.spec.securityContext).seccompProfile).type;
      for (const c of allContainers(w.pod.spec)) {
        const sc = asObj(c.securityContext);
        const added = asStrArr(asObj(sc.capabilities).add);
        if (added.length > 0) report(w.object, `container ${String(c.name)} adds capabilities ${added.join(', ')}`);
        const seccomp = asObj(sc.seccompProfile).type ?? podSeccomp;
        if (seccomp !== 'RuntimeDefault')
          report(w.object, `container ${String(c.name)} runs under seccomp ${String(seccomp)}, not RuntimeDefault`);
      }
    }
  },
});

export const CONFIG_CHECKSUM = 'checksum/config';

export const configChecksumRule: Rule = claimRule({
  id: 'config-checksum',
  reason:
    "A change to a mounted config file rolls the pods: every Deployment or StatefulSet that mounts a ConfigMap carries checksum/config, the sha256 of that ConfigMap's file, so an edit changes the pod template (otherwise the pods keep the old config until they happen to restart).",
  check(objects, _env, report) {
    for (const w of workloads(objects)) {
      if (!CONTROLLER_KINDS.has(w.object.kind)) continue;
      const mounted = asArr(w.pod.spec.volumes)
        .map((v) => asObj(v.configMap).name)
        .filter((n): n is string => typeof n === 'string');
      const annotations = asStrRecord(asObj(asObj(asObj(w.object.spec).template).metadata).annotations);
      for (const name of mounted) {
        const cm = objects.find((o) => o.kind === 'ConfigMap' && nsOf(o) === w.namespace && o.metadata.name === name);
        const files = Object.values(asStrRecord(cm?.data));
        if (files.length !== 1) {
          report(w.object, `mounts ConfigMap ${name}, which has ${files.length} files, not one to checksum`);
          continue;
        }
        const sum = createHash('sha256')
          .update(files[0] ?? '')
          .digest('hex');
        const have = annotations[CONFIG_CHECKSUM];
        if (have !== sum)
          report(
            w.object,
            `pod template ${CONFIG_CHECKSUM} is ${String(have)}, not the sha256 of ConfigMap ${name} (${sum}): a config change would not roll the pods`,
          );
      }
    }
  },
});

// ---------------------------------------------------------------------------------------------
// NATS: GOMEMLIMIT, JetStream replicas

/** The share of the NATS container's memory limit README.md says GOMEMLIMIT is. */
export const GOMEMLIMIT_SHARE = 0.8;

/** A Go runtime memory limit (GOMEMLIMIT: bytes, or B, KiB, MiB, GiB, TiB) in bytes. */
export function goMemLimit(v: string): number | undefined {
  const m = /^(\d+)(B|KiB|MiB|GiB|TiB)?$/.exec(v.trim());
  if (!m) return undefined;
  return Number(m[1]) * 1024 ** ['B', 'KiB', 'MiB', 'GiB', 'TiB'].indexOf(m[2] ?? 'B');
}

export const goMemoryLimitRule: Rule = claimRule({
  id: 'nats-go-memory-limit',
  reason:
    "nats-server's GOMEMLIMIT is 80% of its container's memory limit (to the MiB), as the README says: the Go runtime collects before the kernel kills the container, and not so early that it collects all the time.",
  check(objects, _env, report) {
    for (const w of workloads(objects)) {
      for (const c of allContainers(w.pod.spec)) {
        if (!asStrArr(c.command).includes('nats-server')) continue;
        const raw = envValue(c, 'GOMEMLIMIT');
        const limit = asObj(asObj(c.resources).limits).memory;
        const want = typeof limit === 'string' ? parseMemory(limit) * GOMEMLIMIT_SHARE : undefined;
        const have = raw === undefined ? undefined : goMemLimit(raw);
        if (want === undefined || have === undefined || have > want || want - have >= 1024 ** 2)
          report(
            w.object,
            `container ${String(c.name)}: GOMEMLIMIT is ${String(raw)}, not ${GOMEMLIMIT_SHARE * 100}% of its memory limit ${String(limit)}`,
          );
      }
    }
  },
});

export const JETSTREAM_REPLICAS_ENV = 'NATS_JETSTREAM_REPLICAS';

export const jetstreamReplicasRule: Rule = claimRule({
  id: 'jetstream-replicas',
  reason:
    "The middleware creates each user's KV bucket and object store with NATS_JETSTREAM_REPLICAS replicas: one per NATS server (env.services.nats.replicas), so a JetStream cluster keeps every bucket through the loss of one server.",
  check(objects, env, report) {
    const want = String(env.services.nats.replicas);
    for (const w of workloads(objects))
      for (const c of allContainers(w.pod.spec)) {
        const isMiddleware = w.object.kind === 'Deployment' && w.object.metadata.name === 'middleware';
        const have = envValue(c, JETSTREAM_REPLICAS_ENV);
        if ((isMiddleware || asArr(c.env).some((e) => e.name === JETSTREAM_REPLICAS_ENV)) && have !== want)
          report(
            w.object,
            `container ${String(c.name)}: ${JETSTREAM_REPLICAS_ENV} is ${String(have)}, not the ${want} NATS server(s) of env.services.nats.replicas`,
          );
      }
  },
});

export const natsTlsRule: Rule = claimRule({
  id: 'nats-tls-as-declared',
  reason:
    "NATS client TLS is on exactly where the environment sets services.nats.tls (prod): nats.conf then has a top-level tls block with a certificate and key, and every client's NATS_URL is tls://; elsewhere neither, so no client expects what the server does not serve.",
  check(objects, env, report) {
    const on = env.services.nats.tls !== undefined;
    for (const cm of objects.filter((o) => o.kind === 'ConfigMap'))
      for (const [file, text] of Object.entries(asStrRecord(cm.data))) {
        if (!/^jetstream\s*\{/m.test(text)) continue;
        const block = /^tls\s*\{([^}]*)\}/m.exec(text)?.[1];
        const complete = block !== undefined && /\bcert_file\s*:/.test(block) && /\bkey_file\s*:/.test(block);
        if (on && !complete)
          report(cm, `${file}: no top-level tls block with cert_file and key_file, but services.nats.tls is set`);
        if (!on && block !== undefined)
          report(cm, `${file}: has a top-level tls block, but services.nats.tls is not set`);
      }
    for (const w of workloads(objects))
      for (const c of allContainers(w.pod.spec)) {
        const url = envValue(c, 'NATS_URL');
        if (url !== undefined && url.startsWith('tls://') !== on)
          report(w.object, `container ${String(c.name)}: NATS_URL is ${url}, but NATS TLS is ${on ? 'on' : 'off'}`);
      }
  },
});

export const natsCredentialsRule: Rule = claimRule({
  id: 'nats-no-plaintext-credentials',
  reason:
    "The NATS server holds only what verifies a client: nats.conf has no password or token, every user signs in by an nkey read from the environment, executors through the auth callout, and the server's environment reads no seed; executor pods, which run user code, get no credential in their environment (their per-job ticket is a mounted file).",
  check(objects, _env, report) {
    for (const cm of objects.filter((o) => o.kind === 'ConfigMap'))
      for (const [file, text] of Object.entries(asStrRecord(cm.data))) {
        if (!/^jetstream\s*\{/m.test(text)) continue;
        const conf = text.replace(/#.*$/gm, '');
        for (const m of conf.matchAll(/^\s*(password|token|auth_token)\s*[:=]/gm))
          report(cm, `${file}: sets ${String(m[1])}; users sign in by nkey, executors through the auth callout`);
        const users = [...conf.matchAll(/^\s*\{?\s*(user|nkey)\s*:\s*(\S+)/gm)];
        for (const u of users)
          if (u[1] !== 'nkey' || !String(u[2]).startsWith('$'))
            report(
              cm,
              `${file}: a user signs in by ${String(u[1])} ${String(u[2])}, not by an nkey read from the environment`,
            );
        if (!/auth_callout\s*\{[^}]*\bissuer\s*:\s*\$\w+/.test(conf))
          report(cm, `${file}: has no auth_callout with an issuer read from the environment`);
      }
    for (const w of workloads(objects)) {
      const executor = w.object.kind === 'PodTemplate' && w.namespace === _env.namespaces.executor;
      for (const c of allContainers(w.pod.spec)) {
        const refs = asArr(c.env).flatMap((e) => {
          const key = asObj(asObj(e.valueFrom).secretKeyRef).key;
          return typeof key === 'string' ? [{ name: String(e.name), key }] : [];
        });
        if (w.object.kind === 'StatefulSet' && refs.some((r) => r.name.startsWith('NATS_')))
          for (const r of refs.filter((x) => /seed|password/i.test(x.key)))
            report(
              w.object,
              `container ${String(c.name)} env ${r.name} reads Secret key ${r.key}: the server needs public keys only`,
            );
        if (executor)
          for (const r of refs)
            report(
              w.object,
              `container ${String(c.name)} env ${r.name} reads Secret key ${r.key}: executors run user code and get no credential in their environment`,
            );
      }
    }
  },
});

// ---------------------------------------------------------------------------------------------
// Executors: sizes as declared

export const executorSizingRule: Rule = claimRule({
  id: 'executor-sizing',
  reason:
    "One executor job gets exactly env.executors.cpu and memory (request = limit), the LimitRange caps a container at that, and /workspace is bounded by env.executors.workspaceSize, so the quota's arithmetic (maxConcurrentJobs jobs) holds and one job cannot fill the node's disk.",
  check(objects, env, report) {
    const want = { cpu: parseCpu(env.executors.cpu), memory: parseMemory(env.executors.memory) };
    const parse = (k: 'cpu' | 'memory', v: unknown) =>
      typeof v === 'string' || typeof v === 'number'
        ? k === 'cpu'
          ? parseCpu(String(v))
          : parseMemory(String(v))
        : undefined;
    for (const t of executorTemplates(objects, env)) {
      const spec = asObj(podTemplateOf(t)?.spec);
      for (const c of asArr(spec.containers)) {
        const res = asObj(c.resources);
        for (const k of ['cpu', 'memory'] as const)
          for (const side of ['requests', 'limits'] as const) {
            const have = parse(k, asObj(res[side])[k]);
            if (have !== want[k])
              report(
                t,
                `container ${String(c.name)} ${side}.${k} is ${String(asObj(res[side])[k])}, not env.executors.${k} ${env.executors[k]}`,
              );
          }
        const mount = asArr(c.volumeMounts).find((m) => m.mountPath === '/workspace');
        const volume = asArr(spec.volumes).find((v) => v.name === mount?.name);
        const size = asObj(volume?.emptyDir).sizeLimit;
        if (typeof size !== 'string' || parseMemory(size) !== parseMemory(env.executors.workspaceSize))
          report(
            t,
            `container ${String(c.name)}: /workspace is ${volume ? `an emptyDir of ${String(size)}` : 'not an emptyDir'}, not env.executors.workspaceSize ${env.executors.workspaceSize}`,
          );
      }
    }
    for (const r of objects.filter((o) => o.kind === 'LimitRange' && nsOf(o) === env.namespaces.executor))
      for (const l of asArr(asObj(r.spec).limits).filter((x) => x.type === 'Container'))
        for (const k of ['cpu', 'memory'] as const) {
          const max = parse(k, asObj(l.max)[k]);
          if (max !== want[k])
            report(r, `Container max.${k} is ${String(asObj(l.max)[k])}, not env.executors.${k} ${env.executors[k]}`);
        }
  },
});

// ---------------------------------------------------------------------------------------------
// The executor reaper, as README.md describes it

/** What README.md says of the reaper (section "Executor reaper"); environments do not override it. */
export const README_REAPER = {
  name: 'executor-reaper',
  cronJob: {
    schedule: '*/5 * * * *',
    concurrencyPolicy: 'Forbid',
    startingDeadlineSeconds: 120,
    successfulJobsHistoryLimit: 1,
    failedJobsHistoryLimit: 3,
  },
  job: { backoffLimit: 1, activeDeadlineSeconds: 120, ttlSecondsAfterFinished: 3600 },
  minAgeSeconds: '600',
  runAsUser: 65534,
  resources: { cpu: '50m', memory: '64Mi', 'ephemeral-storage': '64Mi' },
  verbs: ['delete', 'get', 'list'],
} as const;

export const executorReaperRule: Rule = claimRule({
  id: 'executor-reaper-as-documented',
  reason:
    'The executor reaper runs as the README describes: every 5 minutes, never two at once, bounded by its deadlines and history, deleting pods finished 600 s ago, as UID 65534 with Guaranteed 50m / 64Mi / 64Mi, through a Role that can only get, list and delete executor pods.',
  check(objects, env, report) {
    const R = README_REAPER;
    const cron = objects.find((o) => o.kind === 'CronJob' && o.metadata.name === R.name);
    const role = objects.find((o) => o.kind === 'Role' && o.metadata.name === R.name);
    if (!cron || !role) {
      const missing: Manifest = cron
        ? { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: R.name } }
        : { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: R.name } };
      report(missing, 'is not rendered');
      return;
    }
    const spec = asObj(cron.spec);
    const jobSpec = asObj(jobSpecOf(cron));
    const expect = (where: string, have: unknown, want: unknown, o: Manifest = cron) => {
      if (have !== want) report(o, `${where} is ${JSON.stringify(have)}, not ${JSON.stringify(want)}`);
    };
    for (const [k, v] of Object.entries(R.cronJob)) expect(k, spec[k], v);
    for (const [k, v] of Object.entries(R.job)) expect(`jobTemplate.spec.${k}`, jobSpec[k], v);
    const pod = asObj(podTemplateOf(cron)?.spec);
    expect('pod securityContext.runAsUser', asObj(pod.securityContext).runAsUser, R.runAsUser);
    for (const c of asArr(pod.containers)) {
      expect(
        `container ${String(c.name)} REAPER_MIN_AGE_SECONDS`,
        envValue(c, 'REAPER_MIN_AGE_SECONDS'),
        R.minAgeSeconds,
      );
      const res = asObj(c.resources);
      for (const side of ['requests', 'limits'] as const)
        for (const [k, v] of Object.entries(R.resources))
          expect(`container ${String(c.name)} ${side}.${k}`, asObj(res[side])[k], v);
    }
    expect('Role namespace', nsOf(role), env.namespaces.executor, role);
    const grants = asArr(role.rules).map(
      (r) =>
        `${asStrArr(r.apiGroups).join(',')}/${asStrArr(r.resources).join(',')}: ${asStrArr(r.verbs).sort().join(',')}`,
    );
    expect('Role rules', grants.join('; '), `/pods: ${R.verbs.join(',')}`, role);
  },
});

// ---------------------------------------------------------------------------------------------
// Autoscaling and oauth2-proxy, as the environment declares them

export const autoscalingRule: Rule = claimRule({
  id: 'autoscaling-as-declared',
  reason:
    "Each service's HPA scales between its replicas and autoscaling.maxReplicas on the declared CPU and memory utilization targets (% of requests), and a service without autoscaling has none: capacity and PDBs are computed from those numbers.",
  check(objects, env, report) {
    const hpas = autoscalers(objects).filter((a) => a.object.kind === 'HorizontalPodAutoscaler');
    for (const [name, service] of Object.entries(env.services)) {
      const scaling = 'autoscaling' in service ? service.autoscaling : undefined;
      const mine = hpas.filter((a) => a.targetName === name).map((a) => a.object);
      if (!scaling) {
        for (const h of mine) report(h, `scales ${name}, which declares no autoscaling`);
        continue;
      }
      if (mine.length !== 1) {
        const anchor = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === name);
        if (anchor) report(anchor, `has ${mine.length} HorizontalPodAutoscalers, not one`);
        continue;
      }
      const h = mine[0] as Manifest;
      const spec = asObj(h.spec);
      const expect = (what: string, have: unknown, want: unknown) => {
        if (have !== want) report(h, `${what} is ${String(have)}, not ${String(want)} as declared`);
      };
      expect('minReplicas', spec.minReplicas, service.replicas);
      expect('maxReplicas', spec.maxReplicas, scaling.maxReplicas);
      const target = (resource: string) =>
        asObj(asObj(asArr(spec.metrics).find((m) => asObj(m.resource).name === resource)?.resource).target)
          .averageUtilization;
      expect('cpu averageUtilization', target('cpu'), scaling.cpuUtilization);
      expect('memory averageUtilization', target('memory'), scaling.memoryUtilization);
    }
  },
});

/** Every value of a multi-valued oauth2-proxy option: each --flag=v (comma-separated lists too). */
function optionValues(container: Json, flag: string): string[] {
  const args = [...asStrArr(container.command), ...asStrArr(container.args)];
  const fromArgs = args.filter((a) => a.startsWith(`--${flag}=`)).flatMap((a) => a.slice(flag.length + 3).split(','));
  if (fromArgs.length > 0) return fromArgs;
  return (optionOf(container, flag) ?? '').split(',').filter((v) => v !== '');
}

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');

export const oauth2ProxyDeclaredRule: Rule = claimRule({
  id: 'auth-proxy-as-declared',
  reason:
    "oauth2-proxy sends Google the environment's own callback (its scheme, hostname and publicPort), trusts X-Forwarded-* only from entrypoint.trustedProxyCidrs, admits only oauth2Proxy.emailDomains, and keeps sessions for the declared cookieRefresh and cookieExpire.",
  check(objects, env, report) {
    const origin = `${env.tls ? 'https' : 'http'}://${env.hostname}${env.publicPort === undefined ? '' : `:${env.publicPort}`}`;
    const want: Readonly<Record<string, readonly string[]>> = {
      'redirect-url': [`${origin}/oauth2/callback`],
      'trusted-proxy-ip': env.entrypoint.trustedProxyCidrs,
      'email-domain': env.oauth2Proxy.emailDomains,
      'cookie-refresh': [env.oauth2Proxy.cookieRefresh],
      'cookie-expire': [env.oauth2Proxy.cookieExpire],
    };
    for (const w of workloads(objects))
      for (const c of allContainers(w.pod.spec)) {
        if (imageRepository(c.image) !== env.services['oauth2-proxy'].image.repository) continue;
        for (const [flag, values] of Object.entries(want)) {
          const have = optionValues(c, flag);
          if (!sameSet(have, values))
            report(
              w.object,
              `container ${String(c.name)}: --${flag} is [${have.join(', ')}], not [${values.join(', ')}] as declared`,
            );
        }
      }
  },
});

// ---------------------------------------------------------------------------------------------
// Spreading, NATS users and the middleware's executor settings

export const spreadDeclaredRule: Rule = claimRule({
  id: 'spread-as-declared',
  reason:
    "Every spread constraint uses the environment's spread.maxSkew, and every workload its spread.whenUnsatisfiable, but the executor PodTemplates, which the README's exception keeps best effort (ScheduleAnyway): what the environment file says is what the scheduler gets.",
  check(objects, env, report) {
    for (const w of workloads(objects)) {
      const executor = w.object.kind === 'PodTemplate' && w.namespace === env.namespaces.executor;
      const when = executor ? 'ScheduleAnyway' : env.spread.whenUnsatisfiable;
      for (const c of asArr(w.pod.spec.topologySpreadConstraints)) {
        const on = `constraint on ${String(c.topologyKey)}`;
        if (c.maxSkew !== env.spread.maxSkew)
          report(w.object, `${on} has maxSkew ${String(c.maxSkew)}, not spread.maxSkew ${env.spread.maxSkew}`);
        if (c.whenUnsatisfiable !== when) report(w.object, `${on} is ${String(c.whenUnsatisfiable)}, not ${when}`);
      }
    }
  },
});

/** Who may touch the job queues, as README.md says: the frontend publishes jobs, the middleware consumes them. */
export const QUEUE_ROLES = { publisher: 'frontend', consumer: 'middleware' } as const;
/** nats-server's auth callout subject: only the middleware answers it (it mints the executors' credentials). */
const AUTH_CALLOUT = '$SYS.REQ.USER.AUTH';
/** Subjects only the middleware may publish to: creating, deleting or purging a stream (a user's bucket). */
const STREAM_ADMIN = ['CREATE', 'DELETE', 'PURGE'].map((op) => `$JS.API.STREAM.${op}.KV_someone`);

/** Whether a NATS subject pattern (tokens, `*` for one token, `>` for the rest) matches a subject. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (const [i, token] of p.entries()) {
    if (token === '>') return s.length > i;
    if (i >= s.length || (token !== '*' && token !== s[i])) return false;
  }
  return p.length === s.length;
}

/**
 * The nkey users of a nats.conf: the user (from the variable its public key is read from,
 * `$NATS_<USER>_NKEY[_NEXT]`) and the publish and subscribe allow lists.
 */
export function natsUsers(conf: string): { user: string; publish: string[]; subscribe: string[] }[] {
  const text = conf.replace(/#.*$/gm, '');
  const list = (block: string, what: string) =>
    [...(new RegExp(`${what}:\\s*\\{\\s*allow:\\s*\\[([^\\]]*)\\]`).exec(block)?.[1] ?? '').matchAll(/"([^"]*)"/g)].map(
      (m) => m[1] ?? '',
    );
  return text
    .split(/\bnkey:\s*\$NATS_/)
    .slice(1)
    .map((block) => ({
      user: (/^([A-Z]+)_NKEY/.exec(block)?.[1] ?? '').toLowerCase(),
      publish: list(block, 'publish'),
      subscribe: list(block, 'subscribe'),
    }));
}

/** The NATS user a container signs in as: the user whose nkey seed NATS_NKEY_SEED reads (`<user>-nkey-seed`). */
function natsUserOf(c: Json): string | undefined {
  const v = asArr(c.env).find((e) => e.name === 'NATS_NKEY_SEED');
  const key = asObj(asObj(v?.valueFrom).secretKeyRef).key;
  return typeof key === 'string' ? key.replace(/-nkey-seed$/, '') : undefined;
}

export const natsLeastPrivilegeRule: Rule = claimRule({
  id: 'nats-least-privilege',
  reason:
    "NATS users keep to their roles: only the frontend publishes to the job queues and only the middleware consumes them, answers the auth callout or creates, deletes or purges streams; every client subscribes to its own NATS_INBOX_PREFIX and nothing else, so no client reads another's replies.",
  check(objects, env, report) {
    // The loader holds executors.images to exactly the executor languages.
    const queues = Object.keys(env.executors.images).map((l) => `cola.${l}`);
    const inboxes = new Map<string, Set<string>>();
    for (const w of workloads(objects))
      for (const c of allContainers(w.pod.spec)) {
        const user = natsUserOf(c);
        if (user === undefined) continue;
        const inbox = envValue(c, 'NATS_INBOX_PREFIX');
        if (inbox === undefined)
          report(w.object, `container ${String(c.name)} connects as ${user} with no NATS_INBOX_PREFIX`);
        else inboxes.set(user, (inboxes.get(user) ?? new Set()).add(inbox));
      }
    // The executors' per-job scope, which the middleware fills in when it answers the auth callout.
    for (const w of workloads(objects))
      for (const c of allContainers(w.pod.spec)) {
        const raw = envValue(c, 'NATS_EXECUTOR_SCOPE');
        if (raw === undefined) continue;
        let scope: { inboxPrefix?: string; publish?: string[]; subscribe?: string[] };
        try {
          scope = JSON.parse(raw) as typeof scope;
        } catch {
          report(w.object, `container ${String(c.name)}: NATS_EXECUTOR_SCOPE is not JSON`);
          continue;
        }
        const fill = (x: string) =>
          x
            .replace(/\{user\}/g, 'someone')
            .replace(/\{job\}/g, 'job1')
            .replace(/\{object\}/g, 'b2JqZWN0');
        const at = `NATS_EXECUTOR_SCOPE of container ${String(c.name)}`;
        const inbox = `${fill(scope.inboxPrefix ?? '')}.>`;
        for (const x of (scope.subscribe ?? []).map(fill))
          if (x !== inbox)
            report(w.object, `${at}: an executor may subscribe to ${x}, beyond its job's inbox ${inbox}`);
        const publishes = (subject: string) => (scope.publish ?? []).map(fill).some((p) => subjectMatches(p, subject));
        for (const q of queues.filter(publishes)) report(w.object, `${at}: an executor may publish jobs to ${q}`);
        for (const x of STREAM_ADMIN.filter(publishes))
          report(w.object, `${at}: an executor may publish ${x} (stream administration)`);
      }
    for (const cm of objects.filter((o) => o.kind === 'ConfigMap'))
      for (const [file, text] of Object.entries(asStrRecord(cm.data))) {
        if (!/^accounts\s*\{/m.test(text)) continue;
        for (const u of natsUsers(text)) {
          const at = `${file}: user ${u.user}`;
          const mine = [...(inboxes.get(u.user) ?? [])];
          if (mine.length !== 1) report(cm, `${at} is used with ${mine.length} inbox prefixes, not one`);
          const allowed = [
            ...mine.map((i) => `${i}.>`),
            ...(u.user === QUEUE_ROLES.consumer ? [...queues, AUTH_CALLOUT] : []),
          ];
          for (const s of u.subscribe)
            if (!allowed.includes(s))
              report(
                cm,
                `${at} may subscribe to ${s}, beyond its inbox${u.user === QUEUE_ROLES.consumer ? ', the job queues and the auth callout' : ''}`,
              );
          const publishes = (subject: string) => u.publish.some((p) => subjectMatches(p, subject));
          if (u.user !== QUEUE_ROLES.publisher)
            for (const q of queues.filter(publishes)) report(cm, `${at} may publish jobs to ${q}`);
          if (u.user !== QUEUE_ROLES.consumer)
            for (const s of STREAM_ADMIN.filter(publishes))
              report(cm, `${at} may publish ${s} (stream administration)`);
        }
      }
  },
});

/** The environment variables through which the middleware finds the executors (README, image contract). */
export const EXECUTOR_LAUNCH_ENV = {
  namespace: 'EXECUTOR_NAMESPACE',
  templatePrefix: 'EXECUTOR_TEMPLATE_PREFIX',
} as const;

export const executorLaunchRule: Rule = claimRule({
  id: 'executor-launch-targets',
  reason:
    "The middleware creates executor pods from the PodTemplate <EXECUTOR_TEMPLATE_PREFIX><language> in EXECUTOR_NAMESPACE: that namespace is the environment's executor namespace and a template exists there for every executor language, or no job ever starts.",
  check(objects, env, report) {
    const middleware = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === 'middleware');
    if (!middleware) return;
    const containers = asArr(podTemplateOf(middleware)?.spec.containers);
    const value = (name: string) => containers.map((c) => envValue(c, name)).find((v) => v !== undefined);
    const ns = value(EXECUTOR_LAUNCH_ENV.namespace);
    const prefix = value(EXECUTOR_LAUNCH_ENV.templatePrefix);
    if (ns !== env.namespaces.executor)
      report(
        middleware,
        `${EXECUTOR_LAUNCH_ENV.namespace} is ${String(ns)}, not namespaces.executor ${env.namespaces.executor}`,
      );
    for (const l of Object.keys(env.executors.images)) {
      const name = `${String(prefix)}${l}`;
      if (!objects.some((o) => o.kind === 'PodTemplate' && nsOf(o) === ns && o.metadata.name === name))
        report(middleware, `would launch ${l} jobs from PodTemplate ${String(ns)}/${name}, which is not rendered`);
    }
  },
});

// ---------------------------------------------------------------------------------------------
// What the environment file declares: service sizes, the NATS volume, external secrets

export const resourcesDeclaredRule: Rule = claimRule({
  id: 'resources-as-declared',
  reason:
    "Where an environment overrides a service's resources (services.<svc>.resources), the service's container gets exactly those requests and limits: the capacity table and the HPA's percentages are computed from them.",
  check(objects, env, report) {
    for (const [name, service] of Object.entries(env.services)) {
      const declared = service.resources;
      if (declared === undefined) continue;
      for (const w of workloads(objects).filter((x) => x.object.metadata.name === name))
        for (const c of asArr(w.pod.spec.containers).filter(
          (x) => imageRepository(x.image) === service.image.repository,
        ))
          for (const side of ['requests', 'limits'] as const)
            for (const [k, v] of Object.entries(declared[side] ?? {})) {
              const have = asObj(asObj(c.resources)[side])[k];
              const parse = k === 'cpu' ? parseCpu : parseMemory;
              if (typeof have !== 'string' || parse(have) !== parse(String(v)))
                report(
                  w.object,
                  `container ${String(c.name)} ${side}.${k} is ${String(have)}, not ${String(v)} as declared`,
                );
            }
    }
  },
});

export const natsVolumeRule: Rule = claimRule({
  id: 'nats-volume-as-declared',
  reason:
    'Each NATS server claims the volume services.nats.storage declares (size and storage class): max_file_store is sized from it, and the class decides where and how the data lives.',
  check(objects, env, report) {
    const want = env.services.nats.storage;
    for (const s of objects.filter((o) => o.kind === 'StatefulSet' && o.metadata.name === 'nats')) {
      const claims = asArr(asObj(s.spec).volumeClaimTemplates);
      if (claims.length === 0) report(s, 'has no volumeClaimTemplates');
      for (const pvc of claims) {
        const spec = asObj(pvc.spec);
        const size = asObj(asObj(spec.resources).requests).storage;
        const at = `volumeClaimTemplate ${String(asObj(pvc.metadata).name)}`;
        if (typeof size !== 'string' || parseMemory(size) !== parseMemory(want.size))
          report(s, `${at} requests ${String(size)}, not services.nats.storage.size ${want.size}`);
        if (spec.storageClassName !== want.storageClassName)
          report(
            s,
            `${at} has storageClassName ${String(spec.storageClassName)}, not ${String(want.storageClassName)}`,
          );
      }
    }
  },
});

/**
 * The Secrets README.md lists (section "Secrets"): the environment's name for each, its keys, and
 * where an ExternalSecret reads them (remote secret and property).
 */
export const README_SECRETS = [
  {
    secret: 'oauth2Proxy',
    remote: 'oauth2Proxy',
    keys: { 'client-id': 'client-id', 'client-secret': 'client-secret', 'cookie-secret': 'cookie-secret' },
  },
  {
    secret: 'nats',
    remote: 'nats',
    keys: {
      'frontend-nkey': 'frontend-nkey',
      'frontend-nkey-seed': 'frontend-nkey-seed',
      'middleware-nkey': 'middleware-nkey',
      'middleware-nkey-seed': 'middleware-nkey-seed',
      'callout-issuer': 'callout-issuer',
      'callout-issuer-seed': 'callout-issuer-seed',
    },
  },
] as const;

/** The key a rotation adds for `user` (README, "Rotating a NATS credential"), while services.nats.rotating names it. */
const rotationKey = (user: string) => `${user}-nkey-next`;

export const externalSecretsRule: Rule = claimRule({
  id: 'external-secrets-as-declared',
  reason:
    "With external-secrets, each of the two Secrets comes from an ExternalSecret on the declared store and refresh interval that copies exactly the README's keys from the environment's own remote secret (remoteKeys), and the next nkey of each user services.nats.rotating names.",
  check(objects, env, report) {
    const es = env.secrets.externalSecrets;
    if (env.secrets.provider !== 'external-secrets' || es === undefined) return;
    const all = objects.filter((o) => o.kind === 'ExternalSecret');
    for (const s of README_SECRETS) {
      const target = env.secrets[s.secret];
      const mine = all.filter((o) => asObj(asObj(o.spec).target).name === target);
      if (mine.length !== 1) {
        report(
          all[0] ?? { apiVersion: 'v1', kind: 'Secret', metadata: { name: target } },
          `Secret ${target} comes from ${mine.length} ExternalSecrets, not one`,
        );
        continue;
      }
      const o = mine[0] as Manifest;
      const spec = asObj(o.spec);
      const store = asObj(spec.secretStoreRef);
      if (store.kind !== es.store.kind || store.name !== es.store.name)
        report(o, `reads store ${String(store.kind)}/${String(store.name)}, not ${es.store.kind}/${es.store.name}`);
      if (spec.refreshInterval !== es.refreshInterval)
        report(o, `refreshInterval is ${String(spec.refreshInterval)}, not ${es.refreshInterval}`);
      const have = asArr(spec.data).map(
        (d) => `${String(d.secretKey)} <- ${String(asObj(d.remoteRef).key)}:${String(asObj(d.remoteRef).property)}`,
      );
      const keys: [string, string][] = Object.entries(s.keys);
      if (s.secret === 'nats')
        for (const user of env.services.nats.rotating ?? []) keys.push([rotationKey(user), rotationKey(user)]);
      const want = keys.map(([k, p]) => `${k} <- ${es.remoteKeys[s.remote]}:${p}`);
      if (!sameSet(have, want)) report(o, `copies [${have.join(', ')}], not [${want.join(', ')}]`);
    }
  },
});

export const CLAIM_RULES: readonly Rule[] = [
  executorExactImagesRule,
  tokenHoldersRule,
  containerHardeningRule,
  configChecksumRule,
  goMemoryLimitRule,
  jetstreamReplicasRule,
  natsTlsRule,
  natsCredentialsRule,
  executorSizingRule,
  executorReaperRule,
  autoscalingRule,
  oauth2ProxyDeclaredRule,
  spreadDeclaredRule,
  resourcesDeclaredRule,
  natsVolumeRule,
  externalSecretsRule,
  natsLeastPrivilegeRule,
  executorLaunchRule,
  argocdProjectKindsRule,
  argocdApplicationOptionsRule,
];
