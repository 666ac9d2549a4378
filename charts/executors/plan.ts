/**
 * The executors' plan: what the other components and the executors' own constructs need to know,
 * derived once from the environment. One executor image per language; each pod downloads,
 * compiles and runs one job, zips the output and publishes the result to NATS, then exits.
 * Image contract: runs as UID 65532, writes only to /workspace and /tmp, reads NATS_URL, JOB_ID,
 * USER_ID and NATS_INBOX_PREFIX from its environment (the middleware sets the last three) and its
 * per-job ticket from NATS_TICKET_FILE (README, "Image contract").
 */
import type { PlatformConfig } from '../../src/model/platform';
import type { ImageRef } from '../../src/model/schema';
import type { EnvVarDefinition } from '../common/service-definition';
import { PART_OF } from '../common/pod-spec';
import { EXECUTOR_LANGUAGES, type ExecutorLanguage, type ExecutorsConfig } from './schema';

/** One language's executor: its queue and PodTemplate. */
export interface ExecutorDefinition {
  readonly language: ExecutorLanguage;
  /** Queue the middleware consumes for this language. */
  readonly queue: string;
  /** PodTemplate name; the middleware looks templates up by `executor-<language>`. */
  readonly templateName: string;
}

export const EXECUTORS: readonly ExecutorDefinition[] = EXECUTOR_LANGUAGES.map((language) => ({
  language,
  queue: `cola.${language}`,
  templateName: `executor-${language}`,
}));

/** NATS subjects the frontend publishes jobs to, one per language. */
export const EXECUTOR_QUEUES: readonly string[] = EXECUTORS.map((e) => e.queue);

/** Prefix of every executor PodTemplate's name; the middleware appends the language. */
export const EXECUTOR_TEMPLATE_PREFIX = 'executor-';

/** UID/GID executors run as. */
export const EXECUTOR_USER = 65532;

/** Size of the scratch /tmp of an executor (compilers write temporaries there). */
export const EXECUTOR_TMP_SIZE = '64Mi';

/** Label every executor pod carries; the quota, policies and admission checks select on it. */
export const EXECUTOR_COMPONENT = 'executor';

/** What the executors get from NATS: the client settings of the executor user, and TLS. */
export interface ExecutorNatsClient {
  /** NATS_URL, NATS_TICKET_FILE, ... (the NATS plan's natsExecutorEnv); no credential. */
  readonly env: readonly EnvVarDefinition[];
  /** The issuer of the NATS server certificate, when NATS TLS is on. */
  readonly tlsIssuer?: { readonly kind: string; readonly name: string };
  /** Where the NATS CA is mounted (NATS_CA_FILE's folder). */
  readonly caMountPath: string;
}

/** The executors' facts, derived once from the environment. */
export interface ExecutorsPlan {
  /** The environment's `executors` settings, defaults applied. */
  readonly config: ExecutorsConfig;
  /** Namespace executor pods run in. */
  readonly namespace: string;
  /** One job per language: its queue, template and image. */
  readonly jobs: readonly (ExecutorDefinition & { readonly image: ImageRef })[];
  /** Labels that select every executor pod of this environment (their spread and policies). */
  readonly selector: Readonly<Record<string, string>>;
  /** ServiceAccount the executor pods run as (no token, no bindings). */
  readonly serviceAccountName: string;
  /** Secret in the executor namespace whose ca.crt the pods trust for NATS TLS; undefined without TLS. */
  readonly caSecretName?: string;
  /** NATS client settings of the executor user. */
  readonly nats: ExecutorNatsClient;
}

/** Plans the executors from the platform, their settings and what NATS gives them. */
export function planExecutors(
  platform: PlatformConfig,
  config: ExecutorsConfig,
  nats: ExecutorNatsClient,
): ExecutorsPlan {
  return {
    config,
    namespace: platform.namespaces.executor,
    jobs: EXECUTORS.map((e) => ({ ...e, image: config.images[e.language] })),
    selector: {
      'app.kubernetes.io/component': EXECUTOR_COMPONENT,
      'app.kubernetes.io/instance': `${PART_OF}-${platform.name}`,
    },
    serviceAccountName: 'executor',
    ...(nats.tlsIssuer ? { caSecretName: 'nats-ca' } : {}),
    nats,
  };
}
