/**
 * Loads `environments/<env>.yaml`, validates it against the environment schema
 * (src/model/environment-schema.ts, the one source of its shape; environments/schema.json is generated
 * from it) and the cross-field rules below, and returns a typed, defaulted configuration.
 *
 * Every problem is reported as `<file>:<line>: <field path>: <what is wrong>. <fix>`.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import standaloneCode from 'ajv/dist/standalone';
import type { FromSchema } from 'json-schema-to-ts';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { environmentSchema } from './environment-schema';
import { parseCpu, parseMemory } from './quantity';

/** The environment file as written, once the schema has accepted it: derived from src/model/environment-schema.ts. */
export type EnvironmentInput = DeepReadonly<FromSchema<typeof environmentSchema>>;

/** Configuration objects are never changed after loading: every field is readonly, at every depth. */
type DeepReadonly<T> = T extends readonly (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** T with the keys K present and defined: the fields applyDefaults fills in. */
type Defaulted<T, K extends keyof T> = Omit<T, K> & { readonly [P in K]-?: Exclude<T[P], undefined> };

type Services = EnvironmentInput['services'];
export type ServiceName = keyof Services;
/** Every service, in the order checks and reports list them (test/config.test.ts holds it equal to the schema's). */
export const SERVICE_NAMES: readonly ServiceName[] = ['oauth2-proxy', 'frontend', 'middleware', 'nats'];
/**
 * The executor languages: the one list to change to add a language (README: Adding an executor
 * language). Each needs an image in every environment file (executors.images.<language>); the
 * queue cola.<language>, the PodTemplate executor-<language> and the admission policy follow.
 */
export const EXECUTOR_LANGUAGES = ['go', 'javascript', 'c'] as const;
export type ExecutorLanguage = (typeof EXECUTOR_LANGUAGES)[number];

/** oauth2-proxy or frontend; `replicas` is the HPA's minimum when `autoscaling` is set. */
export type ServiceConfig = Services['frontend'];
export type MiddlewareConfig = Services['middleware'];
export type NatsConfig = Services['nats'];
/**
 * A container image: a repository with a tag, a digest, or both. From the definition itself: through
 * a $ref, FromSchema repeats the members of its anyOf union (the same type, written longer).
 */
export type ImageRef = DeepReadonly<FromSchema<typeof environmentSchema.definitions.image>>;
export type Resources = NonNullable<ServiceConfig['resources']>;
export type CpuMemory = Resources['requests'];
/** Production rules apply by tier, never by an environment's name. */
export type EnvironmentTier = EnvironmentInput['tier'];
export type SecretProvider = EnvironmentInput['secrets']['provider'];

type Defaults =
  'tls' | 'spread' | 'entrypoint' | 'oauth2Proxy' | 'network' | 'monitoring' | 'secrets' | 'executors' | 'argocd';
type In<K extends Defaults> = NonNullable<EnvironmentInput[K]>;

/**
 * The environment file after validation, with defaults applied (applyDefaults) and the cross-field
 * rules checked: EnvironmentInput with the defaulted fields made present, and executors.images
 * keyed by exactly the EXECUTOR_LANGUAGES.
 */
export type EnvironmentConfig = Omit<EnvironmentInput, Defaults> & {
  readonly tls: boolean;
  readonly spread: Defaulted<In<'spread'>, 'maxSkew'>;
  readonly entrypoint: Defaulted<In<'entrypoint'>, 'trustedProxyCidrs'>;
  readonly oauth2Proxy: Defaulted<In<'oauth2Proxy'>, keyof In<'oauth2Proxy'>>;
  readonly network: Defaulted<In<'network'>, 'apiServerPort' | 'dnsNamespace' | 'dnsPodLabels'>;
  readonly monitoring: Defaulted<In<'monitoring'>, 'namespace' | 'prometheusPodLabels' | 'selectorLabels'>;
  readonly secrets: Omit<In<'secrets'>, 'externalSecrets'> & {
    readonly externalSecrets?: Defaulted<NonNullable<In<'secrets'>['externalSecrets']>, 'refreshInterval'>;
  };
  readonly executors: Omit<Defaulted<In<'executors'>, 'workspaceSize'>, 'images'> & {
    readonly images: Readonly<Record<ExecutorLanguage, ImageRef>>;
  };
  readonly argocd: Omit<Defaulted<In<'argocd'>, 'namespace' | 'prune' | 'selfHeal'>, 'notifications'> & {
    readonly notifications: Defaulted<NonNullable<In<'argocd'>['notifications']>, 'onSyncFailed' | 'onHealthDegraded'>;
  };
  /** Path of the source file, relative to the repository root. */
  readonly sourceFile: string;
};

/** One problem in one environment file. */
export interface ConfigProblem {
  readonly file: string;
  readonly line?: number;
  readonly path: string;
  readonly message: string;
}

/** Thrown when one or more environment files are invalid; `message` lists every problem. */
export class ConfigError extends Error {
  public readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}`;
  return `${where}: ${p.path || '(top level)'}: ${p.message}`;
}

const validators = new Map<string, ValidateFunction>();

/** ajv settings: verbose errors carry the schema, so messages can list allowed keys and values. */
const AJV_OPTIONS = {
  allErrors: true,
  verbose: true,
  strict: true,
  strictRequired: false,
  allowUnionTypes: true,
  code: { source: true },
} as const;
const AJV_VERSION = (JSON.parse(readFileSync(require.resolve('ajv/package.json'), 'utf8')) as { version: string })
  .version;

/**
 * The compiled validator of the environment schema. Compiling takes ~60 ms, a third of a
 * synth run, so the generated code is cached in .build/ under the schema's hash and reused
 * until the schema changes.
 */
function schemaValidator(root: string): ValidateFunction {
  const text = JSON.stringify(environmentSchema);
  // The cached code depends on the schema, the ajv options and the ajv version: all are in the key.
  const hash = createHash('sha256')
    .update(text)
    .update(JSON.stringify(AJV_OPTIONS))
    .update(AJV_VERSION)
    .digest('hex')
    .slice(0, 16);
  const cached = validators.get(hash);
  if (cached) return cached;
  const cacheFile = join(root, '.build', `environment-schema-${hash}.cjs`);
  let validate: ValidateFunction | undefined;
  if (existsSync(cacheFile)) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loads generated code from .build/
      validate = (require(cacheFile) as { default: ValidateFunction }).default;
    } catch {
      validate = undefined; // a damaged cache is rebuilt below
    }
  }
  if (!validate) {
    const ajv = new Ajv(AJV_OPTIONS);
    validate = ajv.compile(environmentSchema);
    try {
      mkdirSync(dirname(cacheFile), { recursive: true });
      // Write then rename, so a concurrent run (parallel test workers) never reads half a file.
      const partial = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(partial, standaloneCode(ajv, validate));
      renameSync(partial, cacheFile);
    } catch {
      // The cache only saves time; a read-only checkout still validates.
    }
  }
  validators.set(hash, validate);
  return validate;
}

/** Names of all environments: every `environments/*.yaml`, sorted. */
export function listEnvironments(root: string): string[] {
  return readdirSync(join(root, 'environments'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

/** Files environments/ may hold besides `<env>.yaml`. */
const ENVIRONMENT_DIR_FILES: ReadonlySet<string> = new Set(['schema.json']);

/**
 * Files in environments/ that synth would silently skip: `<env>.yml` (environment files end in
 * .yaml) and anything else that is neither an environment nor the schema.
 */
export function environmentFileProblems(root: string): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const f of readdirSync(join(root, 'environments')).sort()) {
    const file = `environments/${f}`;
    if (f.endsWith('.yaml') || ENVIRONMENT_DIR_FILES.has(f)) continue;
    if (f.endsWith('.yml')) {
      out.push({
        file,
        path: '',
        message: `environment files end in .yaml; this one would be skipped. Rename it to environments/${f.slice(0, -'.yml'.length)}.yaml.`,
      });
    } else {
      out.push({
        file,
        path: '',
        message: `unknown file; environments/ holds only <env>.yaml files and schema.json. Move it elsewhere or remove it.`,
      });
    }
  }
  return out;
}

/** Reads and validates one environment file. Throws ConfigError naming every problem. */
export function loadEnvironment(root: string, name: string): EnvironmentConfig {
  const file = join(root, 'environments', `${name}.yaml`);
  const rel = relative(root, file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    const known = listEnvironments(root).join(', ');
    throw new ConfigError([
      { file: rel, path: '', message: `no such environment '${name}'. Known environments: ${known}.` },
    ]);
  }
  return parseEnvironment(text, rel, name, root);
}

/** Validates environment YAML text. `file` is only used in messages. */
export function parseEnvironment(text: string, file: string, expectedName: string, root: string): EnvironmentConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({
        file,
        line: e.linePos?.[0]?.line,
        path: '',
        message: `invalid YAML: ${e.message.split('\n')[0]}. Fix the syntax (duplicate keys are not allowed).`,
      })),
    );
  }
  const raw: unknown = doc.toJS();
  const validate = schemaValidator(root);
  if (!validate(raw)) {
    const problems = (validate.errors ?? [])
      .filter((e) => !isImageBranchError(e))
      .map((e) => schemaProblem(e, file, doc, lineCounter));
    throw new ConfigError(dedupe(problems));
  }
  const input = raw as EnvironmentInput;
  const config = applyDefaults(input, file);
  const problems = crossFieldProblems(config, expectedName).map((p) => ({
    file,
    line: lineOf(doc, lineCounter, p.path),
    path: p.path,
    message: p.message,
  }));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function applyDefaults(input: EnvironmentInput, file: string): EnvironmentConfig {
  const es = input.secrets.externalSecrets;
  return {
    ...input,
    tls: input.tls ?? true,
    spread: { whenUnsatisfiable: input.spread.whenUnsatisfiable, maxSkew: input.spread.maxSkew ?? 1 },
    entrypoint: { ...input.entrypoint, trustedProxyCidrs: input.entrypoint.trustedProxyCidrs ?? [] },
    oauth2Proxy: {
      emailDomains: input.oauth2Proxy?.emailDomains ?? ['*'],
      cookieRefresh: input.oauth2Proxy?.cookieRefresh ?? '1h',
      cookieExpire: input.oauth2Proxy?.cookieExpire ?? '24h',
    },
    network: {
      apiServerCidrs: input.network.apiServerCidrs,
      apiServerPort: input.network.apiServerPort ?? 6443,
      dnsNamespace: input.network.dnsNamespace ?? 'kube-system',
      dnsPodLabels: input.network.dnsPodLabels ?? { 'k8s-app': 'kube-dns' },
      ...(input.network.cni !== undefined ? { cni: input.network.cni } : {}),
    },
    monitoring: {
      enabled: input.monitoring.enabled,
      namespace: input.monitoring.namespace ?? 'monitoring',
      prometheusPodLabels: input.monitoring.prometheusPodLabels ?? { 'app.kubernetes.io/name': 'prometheus' },
      selectorLabels: input.monitoring.selectorLabels ?? {},
    },
    secrets: {
      provider: input.secrets.provider,
      oauth2Proxy: input.secrets.oauth2Proxy,
      nats: input.secrets.nats,
      natsExecutor: input.secrets.natsExecutor,
      ...(es ? { externalSecrets: { ...es, refreshInterval: es.refreshInterval ?? '1h' } } : {}),
      ...(input.secrets.sealedSecrets ? { sealedSecrets: input.secrets.sealedSecrets } : {}),
    },
    executors: {
      ...input.executors,
      workspaceSize: input.executors.workspaceSize ?? '256Mi',
      // The schema allows any language name; crossFieldProblems refuses all but EXECUTOR_LANGUAGES.
      images: input.executors.images as EnvironmentConfig['executors']['images'],
    },
    argocd: {
      ...input.argocd,
      namespace: input.argocd.namespace ?? 'argocd',
      prune: input.argocd.prune ?? true,
      selfHeal: input.argocd.selfHeal ?? true,
      notifications: {
        onSyncFailed: input.argocd.notifications?.onSyncFailed ?? {},
        onHealthDegraded: input.argocd.notifications?.onHealthDegraded ?? {},
      },
    },
    sourceFile: file,
  };
}

interface PathProblem {
  readonly path: string;
  readonly message: string;
}

/** Rules a JSON Schema cannot express: combinations that would render but not work. */
export function crossFieldProblems(c: EnvironmentConfig, expectedName: string): PathProblem[] {
  const out: PathProblem[] = [];
  if (c.name !== expectedName) {
    out.push({ path: 'name', message: `'${c.name}' must equal the file name '${expectedName}'. Rename one of them.` });
  }
  if (c.namespaces.app === c.namespaces.executor) {
    out.push({
      path: 'namespaces.executor',
      message: `'${c.namespaces.executor}' must differ from namespaces.app: executors run user code and need their own namespace.`,
    });
  }
  const zones = c.cluster.zones.length;
  if (zones > c.cluster.nodes) {
    out.push({
      path: 'cluster.zones',
      message: `${zones} zones need at least ${zones} nodes, but cluster.nodes is ${c.cluster.nodes}. Add nodes or remove zones.`,
    });
  }
  const hard = c.spread.whenUnsatisfiable === 'DoNotSchedule';
  for (const name of SERVICE_NAMES) {
    const svc = c.services[name];
    if (hard && zones > 1 && svc.replicas > 1 && svc.replicas < zones) {
      out.push({
        path: `services.${name}.replicas`,
        message:
          `${svc.replicas} replicas leave at least one of the ${zones} zones in cluster.zones without a replica; ` +
          `with spread.whenUnsatisfiable DoNotSchedule this environment requires one per zone, so a zone loss ` +
          `never takes a service below its spread. Use at least ${zones}, or 1.`,
      });
    }
    const r = svc.resources;
    if (r) {
      for (const k of ['cpu', 'memory'] as const) {
        const req = k === 'cpu' ? parseCpu(r.requests.cpu) : parseMemory(r.requests.memory);
        const lim = k === 'cpu' ? parseCpu(r.limits.cpu) : parseMemory(r.limits.memory);
        if (req > lim) {
          out.push({
            path: `services.${name}.resources.requests.${k}`,
            message: `request ${r.requests[k]} is larger than limit ${r.limits[k]}. Lower the request or raise the limit.`,
          });
        }
      }
    }
  }
  const nats = c.services.nats.replicas;
  if (nats > 1 && nats % 2 === 0) {
    out.push({
      path: 'services.nats.replicas',
      message: `${nats} is even; a JetStream cluster needs an odd number of servers for a RAFT quorum. Use ${nats - 1} or ${nats + 1}.`,
    });
  }
  if (hard && nats > c.cluster.nodes) {
    out.push({
      path: 'services.nats.replicas',
      message: `${nats} NATS servers cannot each get their own node on a ${c.cluster.nodes}-node cluster with DoNotSchedule. Use at most ${c.cluster.nodes}.`,
    });
  }
  const alloc = { cpu: parseCpu(c.cluster.nodeAllocatable.cpu), memory: parseMemory(c.cluster.nodeAllocatable.memory) };
  for (const k of ['cpu', 'memory'] as const) {
    const job = k === 'cpu' ? parseCpu(c.executors.cpu) : parseMemory(c.executors.memory);
    if (job > alloc[k]) {
      out.push({
        path: `executors.${k}`,
        message: `one job's ${k} (${c.executors[k]}) does not fit a node (${c.cluster.nodeAllocatable[k]} allocatable). Lower executors.${k} or use bigger nodes.`,
      });
    }
  }
  const e = c.entrypoint;
  if (e.mode === 'ingress') {
    for (const k of ['className', 'issuer', 'controllerNamespace', 'controllerPodLabels'] as const) {
      if (e[k] === undefined)
        out.push({ path: `entrypoint.${k}`, message: `is required when entrypoint.mode is ingress. Add it.` });
    }
  }
  if (e.mode === 'gateway') {
    for (const k of ['gateway', 'controllerNamespace', 'controllerPodLabels'] as const) {
      if (e[k] === undefined)
        out.push({ path: `entrypoint.${k}`, message: `is required when entrypoint.mode is gateway. Add it.` });
    }
  }
  if (e.mode !== 'port-forward' && e.trustedProxyCidrs.length === 0) {
    out.push({
      path: 'entrypoint.trustedProxyCidrs',
      message: `must list the ${e.mode} controller's pod addresses (oauth2-proxy runs with --reverse-proxy and trusts only these). Add e.g. the pod CIDR.`,
    });
  }
  if (e.mode !== 'port-forward' && !c.tls) {
    out.push({
      path: 'tls',
      message: `entrypoint.mode ${e.mode} always serves HTTPS (cert-manager certificate); set tls: true.`,
    });
  }
  if (e.mode === 'port-forward' && c.tls) {
    out.push({
      path: 'tls',
      message: 'port-forward serves plain http; set tls: false or use entrypoint.mode ingress.',
    });
  }
  const natsTls = c.services.nats.tls;
  if (natsTls && natsTls.issuer.kind !== 'ClusterIssuer') {
    out.push({
      path: 'services.nats.tls.issuer.kind',
      message: `${natsTls.issuer.kind} cannot issue in both namespaces; NATS TLS needs a ClusterIssuer.`,
    });
  }
  const s = c.secrets;
  if (s.provider === 'external-secrets' && !s.externalSecrets) {
    out.push({
      path: 'secrets.externalSecrets',
      message: 'is required when secrets.provider is external-secrets. Add the store and remote keys.',
    });
  }
  if (s.provider === 'sealed-secrets' && !s.sealedSecrets) {
    out.push({
      path: 'secrets.sealedSecrets',
      message: 'is required when secrets.provider is sealed-secrets. Add the kubeseal output.',
    });
  }
  if (s.provider !== 'external-secrets' && s.externalSecrets) {
    out.push({
      path: 'secrets.externalSecrets',
      message: `is only used with provider external-secrets, not ${s.provider}. Remove it.`,
    });
  }
  if (s.provider !== 'sealed-secrets' && s.sealedSecrets) {
    out.push({
      path: 'secrets.sealedSecrets',
      message: `is only used with provider sealed-secrets, not ${s.provider}. Remove it.`,
    });
  }
  if (s.sealedSecrets) {
    const needed = {
      oauth2Proxy: ['client-id', 'client-secret', 'cookie-secret'],
      nats: ['frontend-password', 'middleware-password', 'executor-password'],
      natsExecutor: ['password'],
    } as const;
    for (const [k, keys] of Object.entries(needed) as [keyof typeof needed, readonly string[]][]) {
      const have = Object.keys(s.sealedSecrets[k]);
      const missing = keys.filter((x) => !have.includes(x));
      if (missing.length > 0) {
        out.push({
          path: `secrets.sealedSecrets.${k}`,
          message: `is missing encrypted key(s) ${missing.join(', ')}. Seal them with kubeseal.`,
        });
      }
    }
  }
  for (const name of ['oauth2-proxy', 'frontend'] as const) {
    const a = c.services[name].autoscaling;
    if (a && a.maxReplicas <= c.services[name].replicas) {
      out.push({
        path: `services.${name}.autoscaling.maxReplicas`,
        message: `${a.maxReplicas} must be larger than replicas (${c.services[name].replicas}), the HPA's minimum.`,
      });
    }
  }
  const keda = c.services.middleware.keda;
  if (keda && keda.maxReplicas <= c.services.middleware.replicas) {
    out.push({
      path: 'services.middleware.keda.maxReplicas',
      message: `${keda.maxReplicas} must be larger than replicas (${c.services.middleware.replicas}), the minimum.`,
    });
  }
  const declared: readonly string[] = EXECUTOR_LANGUAGES;
  const missing = EXECUTOR_LANGUAGES.filter((l) => !(l in c.executors.images));
  if (missing.length > 0) {
    out.push({
      path: 'executors.images',
      message: `has no image for executor language(s) ${missing.join(', ')} (EXECUTOR_LANGUAGES in src/model/config.ts). Add executors.images.${missing[0] ?? ''} with a repository and tag to every environment file.`,
    });
  }
  for (const l of Object.keys(c.executors.images).filter((k) => !declared.includes(k))) {
    out.push({
      path: `executors.images.${l}`,
      message: `'${l}' is not an executor language (known: ${EXECUTOR_LANGUAGES.join(', ')}). Add it to EXECUTOR_LANGUAGES in src/model/config.ts, or remove this image.`,
    });
  }
  const images: [string, ImageRef][] = [
    ...SERVICE_NAMES.map((n): [string, ImageRef] => [`services.${n}.image`, c.services[n].image]),
    ['services.nats.exporterImage', c.services.nats.exporterImage],
    ...Object.entries(c.executors.images).map(([l, img]): [string, ImageRef] => [`executors.images.${l}`, img]),
  ];
  for (const [path, img] of images) {
    if (!c.allowedRegistries.some((r) => `${img.repository}/`.startsWith(r))) {
      out.push({
        path: `${path}.repository`,
        message: `${img.repository} is not under allowedRegistries (${c.allowedRegistries.join(', ')}). Use an allowed registry or add it there.`,
      });
    }
  }
  if (parseMemory(c.executors.workspaceSize) > parseMemory(c.executors.memory)) {
    out.push({
      path: 'executors.workspaceSize',
      message: `${c.executors.workspaceSize} exceeds the job memory limit ${c.executors.memory} (emptyDir counts against it). Lower it.`,
    });
  }
  return out;
}

/** The per-branch errors of the image's tag-or-digest anyOf; the anyOf error itself says it better. */
function isImageBranchError(e: ErrorObject): boolean {
  return e.schemaPath.startsWith('#/definitions/image/anyOf/');
}

function schemaProblem(e: ErrorObject, file: string, doc: Document, lc: LineCounter): ConfigProblem {
  const segments = e.instancePath.split('/').slice(1).map(unescapePointer);
  const path = segments.join('.');
  const params = e.params as Record<string, unknown>;
  const schema = e.parentSchema as { enum?: unknown[]; description?: string } | undefined;
  const at = (p: string): number | undefined => lineOf(doc, lc, p);
  switch (e.keyword) {
    case 'additionalProperty':
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = Object.keys((e.parentSchema as { properties?: object }).properties ?? {}).join(', ');
      const full = path ? `${path}.${key}` : key;
      return { file, line: at(full), path: full, message: `unknown key '${key}'. Allowed keys here: ${allowed}.` };
    }
    case 'required': {
      const missing = String(params.missingProperty);
      return {
        file,
        line: at(path),
        path: path ? `${path}.${missing}` : missing,
        message: `is required but missing. Add it.`,
      };
    }
    case 'anyOf':
    case 'if':
      break;
    case 'enum':
      return {
        file,
        line: at(path),
        path,
        message: `${JSON.stringify(valueAt(doc, segments))} is not allowed. Allowed values: ${(schema?.enum ?? []).map((v) => JSON.stringify(v)).join(', ')}.`,
      };
    case 'type':
      return {
        file,
        line: at(path),
        path,
        message: `${JSON.stringify(valueAt(doc, segments))} has the wrong type; it must be ${String(params.type)}.`,
      };
    case 'minimum':
    case 'maximum':
      return {
        file,
        line: at(path),
        path,
        message: `${JSON.stringify(valueAt(doc, segments))} must be ${e.keyword === 'minimum' ? '>=' : '<='} ${String(params.limit)}.`,
      };
    case 'pattern': {
      const hint = describePattern(segments, schema?.description);
      return {
        file,
        line: at(path),
        path,
        message: `${JSON.stringify(valueAt(doc, segments))} is not valid${hint ? `: ${hint}` : ` (must match ${String(params.pattern)})`}.`,
      };
    }
    default:
      break;
  }
  if (e.schemaPath.startsWith('#/definitions/image')) {
    return {
      file,
      line: at(path),
      path,
      message: 'needs a tag (not "latest") or a digest (sha256:…). Add image.tag or image.digest.',
    };
  }
  return { file, line: at(path), path, message: `${e.message ?? 'is invalid'}.` };
}

function describePattern(segments: readonly string[], description: string | undefined): string | undefined {
  const last = segments[segments.length - 1];
  if (last === 'tag')
    return 'a tag is 1-128 letters, digits, "_", "." or "-", and may not be "latest" or another floating tag (main, master, stable, edge, nightly, dev); pin a version';
  if (last === 'digest') return 'a digest looks like sha256:<64 hex digits>';
  if (last === 'cpu') return 'CPU is millicores like "250m" or cores like "1" or "0.5"';
  if (last === 'memory' || last === 'size' || last === 'workspaceSize')
    return 'memory is a whole number with Ki, Mi, Gi or Ti, like "512Mi"';
  if (last === 'repository') return 'write the full registry host and path in lower case, e.g. docker.io/library/nats';
  return description;
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

function valueAt(doc: Document, segments: readonly string[]): unknown {
  const v: unknown = doc.getIn(segments);
  return isNode(v) ? v.toJSON() : v;
}

/**
 * Adds the line of each problem's field in its file (relative to `root`); for problems found after
 * loading, such as conflicts between environments.
 */
export function locateProblems(root: string, problems: readonly Omit<ConfigProblem, 'line'>[]): ConfigProblem[] {
  const docs = new Map<string, { doc: Document; lc: LineCounter } | undefined>();
  return problems.map((p) => {
    if (!docs.has(p.file)) {
      try {
        const lc = new LineCounter();
        docs.set(p.file, { doc: parseDocument(readFileSync(join(root, p.file), 'utf8'), { lineCounter: lc }), lc });
      } catch {
        docs.set(p.file, undefined);
      }
    }
    const d = docs.get(p.file);
    return { ...p, line: d ? lineOf(d.doc, d.lc, p.path) : undefined };
  });
}

/** 1-based line of the node at a dotted path, or of its nearest existing parent. */
function lineOf(doc: Document, lc: LineCounter, dotted: string): number | undefined {
  const segs = dotted ? dotted.split('.') : [];
  for (let n = segs.length; n >= 0; n--) {
    const node = doc.getIn(segs.slice(0, n), true);
    if (isNode(node) && node.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = formatProblem(p);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The image reference as a container image string: repo:tag, repo@digest or repo:tag@digest. */
export function imageString(img: ImageRef): string {
  return `${img.repository}${img.tag ? `:${img.tag}` : ''}${img.digest ? `@${img.digest}` : ''}`;
}
