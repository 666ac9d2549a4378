/**
 * The environment, assembled from its owners: the platform-wide slice (src/model/platform.ts) and
 * each component's slice, defaults and cross-field rules (charts/<name>/schema.ts and rules.ts).
 * This is the schema that validates every environments/<env>.yaml (environments/schema.json is
 * generated from it for editors), and the typed, defaulted configuration the composition plans from.
 */
import { readEnvironmentFile, validateDocument, ConfigError } from '../src/model/loader';
import {
  PLATFORM_PROPERTIES,
  PLATFORM_SLICE,
  platformDefaults,
  platformRules,
  registryRules,
  type ImageField,
  type PlatformConfig,
} from '../src/model/platform';
import { DEFINITIONS, type PathProblem, type ServiceConfig } from '../src/model/schema';
import { ARGOCD_SCHEMA, argocdDefaults, type ArgoCdConfig } from '../charts/argocd/schema';
import { EXECUTORS_SCHEMA, executorsDefaults, type ExecutorsConfig } from '../charts/executors/schema';
import { executorsImages, executorsRules } from '../charts/executors/rules';
import { FRONTEND_SCHEMA } from '../charts/frontend/schema';
import { frontendImages, frontendRules } from '../charts/frontend/rules';
import { MIDDLEWARE_SCHEMA, type MiddlewareConfig } from '../charts/middleware/schema';
import { middlewareImages, middlewareRules } from '../charts/middleware/rules';
import { MONITORING_SCHEMA, monitoringDefaults, type MonitoringConfig } from '../charts/monitoring/schema';
import { NATS_SCHEMA, type NatsConfig } from '../charts/nats/schema';
import { natsImages, natsRules } from '../charts/nats/rules';
import {
  ENTRYPOINT_SCHEMA,
  entrypointDefaults,
  OAUTH2_PROXY_SCHEMA,
  OAUTH2_PROXY_SETTINGS_SCHEMA,
  oauth2ProxySettingsDefaults,
  type EntrypointConfig,
  type OAuth2ProxySettings,
} from '../charts/oauth2-proxy/schema';
import { oauth2ProxyImages, oauth2ProxyRules } from '../charts/oauth2-proxy/rules';
import {
  EXECUTOR_REAPER_SCHEMA,
  executorReaperDefaults,
  type ExecutorReaperConfig,
} from '../charts/executor-reaper/schema';
import { executorReaperImages } from '../charts/executor-reaper/rules';
import { SECRETS_SCHEMA, secretsDefaults, type SecretsConfig } from '../charts/secrets/schema';
import { secretsRules } from '../charts/secrets/rules';
import { natsCredentialKeys } from '../charts/nats/plan';

const P = PLATFORM_PROPERTIES;

/** The schema of environments/<env>.yaml, assembled from the slices in the order the file reads. */
export const environmentSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://coderun.dev/schemas/environment.json',
  title: 'Environment',
  description:
    'One deployment target of the code-execution platform. Every key is documented in README.md (Environment file reference). Unknown keys are errors.',
  type: 'object',
  additionalProperties: false,
  required: [...PLATFORM_SLICE.required, 'services', 'executors', 'secrets', 'argocd', 'entrypoint', 'monitoring'],
  properties: {
    name: P.name,
    description: P.description,
    tier: P.tier,
    kubernetesVersion: P.kubernetesVersion,
    hostname: P.hostname,
    publicPort: P.publicPort,
    tls: P.tls,
    namespaces: P.namespaces,
    cluster: P.cluster,
    spread: P.spread,
    services: {
      type: 'object',
      additionalProperties: false,
      required: ['oauth2-proxy', 'frontend', 'nats', 'middleware'],
      properties: {
        'oauth2-proxy': OAUTH2_PROXY_SCHEMA,
        frontend: FRONTEND_SCHEMA,
        middleware: MIDDLEWARE_SCHEMA,
        nats: NATS_SCHEMA,
      },
    },
    executors: EXECUTORS_SCHEMA,
    executorReaper: EXECUTOR_REAPER_SCHEMA,
    secrets: SECRETS_SCHEMA,
    argocd: ARGOCD_SCHEMA,
    allowedRegistries: P.allowedRegistries,
    registry: P.registry,
    promotedFrom: P.promotedFrom,
    entrypoint: ENTRYPOINT_SCHEMA,
    oauth2Proxy: OAUTH2_PROXY_SETTINGS_SCHEMA,
    network: P.network,
    monitoring: MONITORING_SCHEMA,
  },
  definitions: DEFINITIONS,
} as const;

/** The long-running services, in the order the schema lists them. */
export const SERVICE_NAMES = ['oauth2-proxy', 'frontend', 'middleware', 'nats'] as const;

/** The environment file after validation, with every slice's defaults applied and every rule checked. */
export type EnvironmentConfig = PlatformConfig & {
  readonly services: {
    readonly 'oauth2-proxy': ServiceConfig;
    readonly frontend: ServiceConfig;
    readonly middleware: MiddlewareConfig;
    readonly nats: NatsConfig;
  };
  readonly executors: ExecutorsConfig;
  readonly executorReaper: ExecutorReaperConfig;
  readonly secrets: SecretsConfig;
  readonly argocd: ArgoCdConfig;
  readonly entrypoint: EntrypointConfig;
  readonly oauth2Proxy: OAuth2ProxySettings;
  readonly monitoring: MonitoringConfig;
  /** Path of the source file, relative to the repository root. */
  readonly sourceFile: string;
};

/** The environment file as the schema accepted it, before defaults. */
export type EnvironmentInput = Parameters<typeof platformDefaults>[0] & {
  readonly services: EnvironmentConfig['services'];
  readonly executors: Parameters<typeof executorsDefaults>[0];
  readonly executorReaper?: Parameters<typeof executorReaperDefaults>[0];
  readonly secrets: Parameters<typeof secretsDefaults>[0];
  readonly argocd: Parameters<typeof argocdDefaults>[0];
  readonly entrypoint: Parameters<typeof entrypointDefaults>[0];
  readonly oauth2Proxy?: Parameters<typeof oauth2ProxySettingsDefaults>[0];
  readonly monitoring: Parameters<typeof monitoringDefaults>[0];
};

/** Every slice's defaults. */
function applyDefaults(input: EnvironmentInput, file: string): EnvironmentConfig {
  return {
    ...input,
    ...platformDefaults(input),
    entrypoint: entrypointDefaults(input.entrypoint),
    oauth2Proxy: oauth2ProxySettingsDefaults(input.oauth2Proxy),
    monitoring: monitoringDefaults(input.monitoring),
    secrets: secretsDefaults(input.secrets),
    executors: executorsDefaults(input.executors),
    executorReaper: executorReaperDefaults(input.executorReaper),
    argocd: argocdDefaults(input.argocd),
    sourceFile: file,
  };
}

/** Every slice's cross-field rules: combinations that would render but not work. */
function crossFieldProblems(c: EnvironmentConfig, expectedName: string, opts: LoadOptions): PathProblem[] {
  const s = c.services;
  return [
    ...platformRules(c, expectedName),
    ...oauth2ProxyRules(c, s['oauth2-proxy'], c.entrypoint, c.monitoring.enabled),
    ...frontendRules(c, s.frontend, c.monitoring.enabled),
    ...middlewareRules(c, s.middleware),
    ...natsRules(c, s.nats),
    ...executorsRules(c, c.executors),
    ...secretsRules(c, c.secrets, natsCredentialKeys(c.services.nats)),
    ...registryRules(c, imageFields(c), { digests: opts.digests ?? 'required' }),
  ];
}

/**
 * Every image field of an environment, with its dotted path in the file: the images the registry
 * rules check, `npm run pin` resolves and `npm run promote` moves.
 */
export function imageFields(c: EnvironmentConfig): ImageField[] {
  const s = c.services;
  return [
    ...oauth2ProxyImages(s['oauth2-proxy']),
    ...frontendImages(s.frontend),
    ...middlewareImages(s.middleware),
    ...natsImages(s.nats),
    ...executorsImages(c.executors),
    ...executorReaperImages(c.executorReaper),
  ];
}

/** How strictly an environment file is loaded. */
export interface LoadOptions {
  /**
   * 'pending': an image of an environment with a registry may lack its digest (npm run pin loads the
   * file it is about to pin). Synth never passes this.
   * @default 'required'
   */
  readonly digests?: 'required' | 'pending';
}

/** Reads and validates one environment file. Throws ConfigError naming every problem. */
export function loadEnvironment(root: string, name: string, opts: LoadOptions = {}): EnvironmentConfig {
  const { text, file } = readEnvironmentFile(root, name);
  return parseEnvironment(text, file, name, root, opts);
}

/** Validates environment YAML text. `file` is only used in messages. */
export function parseEnvironment(
  text: string,
  file: string,
  expectedName: string,
  root: string,
  opts: LoadOptions = {},
): EnvironmentConfig {
  const doc = validateDocument(text, file, environmentSchema, root);
  const config = applyDefaults(doc.value as EnvironmentInput, file);
  const problems = crossFieldProblems(config, expectedName, opts).map((p) => ({
    file,
    line: doc.lineOf(p.path),
    path: p.path,
    message: p.message,
  }));
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** The generated copy for editors, relative to the repository root. */
export const ENVIRONMENT_SCHEMA_FILE = 'environments/schema.json';

/** environments/schema.json as synth writes it: the schema, marked as generated by a `$comment`. */
export function environmentSchemaJson(): string {
  const { $schema, ...rest } = environmentSchema;
  const $comment =
    "Generated by 'npm run synth' from apps/environment.ts and the slices it assembles - do not edit; change those and re-run.";
  return `${JSON.stringify({ $schema, $comment, ...rest }, null, 2)}\n`;
}
