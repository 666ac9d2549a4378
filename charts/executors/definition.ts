import type { ExecutorLanguage } from '../../src/model/config';
import { EXECUTOR_LANGUAGES } from '../../src/model/config';

/**
 * One executor image per language. Each pod downloads, compiles and runs one job,
 * zips the output and publishes the result to NATS, then exits.
 * Image contract: runs as UID 65532, writes only to /workspace and /tmp, reads
 * NATS_URL, JOB_ID and USER_ID from its environment (the middleware sets the last two).
 */
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

/** UID/GID executors run as. */
export const EXECUTOR_USER = 65532;

/** Size of the scratch /tmp of an executor (compilers write temporaries there). */
export const EXECUTOR_TMP_SIZE = '64Mi';
