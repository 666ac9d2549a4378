/**
 * Executors: its slice of the environment schema, the TypeScript types derived from it, and its defaults,
 * each written once. The composition (apps/environment.ts) assembles the slices into the schema that
 * validates environment files.
 */
import type { Defaulted, ImageRef, SliceOf } from '../../src/model/schema';

/**
 * The languages jobs may be written in: one executor image, PodTemplate and queue each. Adding a
 * language is adding it here and an image to every environment file.
 */
export const EXECUTOR_LANGUAGES = ['go', 'javascript', 'c'] as const;
export type ExecutorLanguage = (typeof EXECUTOR_LANGUAGES)[number];

/** `executors` of an environment file. */
export const EXECUTORS_SCHEMA = {
  description: 'Limits for the per-job executor pods the middleware launches.',
  type: 'object',
  additionalProperties: false,
  required: ['maxConcurrentJobs', 'cpu', 'memory', 'deadlineSeconds', 'images'],
  properties: {
    maxConcurrentJobs: {
      description: 'Executor pods allowed at once (ResourceQuota pods).',
      type: 'integer',
      minimum: 1,
      maximum: 500,
    },
    cpu: {
      description: 'CPU request and limit of one job.',
      $ref: '#/definitions/cpu',
    },
    memory: {
      description: 'Memory request and limit of one job.',
      $ref: '#/definitions/memory',
    },
    workspaceSize: {
      description: 'Size limit of the writable /workspace emptyDir. Default 256Mi.',
      $ref: '#/definitions/memory',
    },
    deadlineSeconds: {
      description: 'activeDeadlineSeconds of one job.',
      type: 'integer',
      minimum: 5,
      maximum: 3600,
    },
    images: {
      description:
        'One image per executor language; the languages are EXECUTOR_LANGUAGES in charts/executors/schema.ts, which checks that each has an image.',
      type: 'object',
      propertyNames: {
        $ref: '#/definitions/dnsLabel',
      },
      additionalProperties: {
        $ref: '#/definitions/image',
      },
    },
  },
} as const;

type ExecutorsInput = SliceOf<typeof EXECUTORS_SCHEMA>;

/** `executors`, with its defaults applied and `images` keyed by exactly the EXECUTOR_LANGUAGES. */
export type ExecutorsConfig = Omit<Defaulted<ExecutorsInput, 'workspaceSize'>, 'images'> & {
  readonly images: Readonly<Record<ExecutorLanguage, ImageRef>>;
};

/** `executors` with its defaults: a 256Mi workspace. */
export function executorsDefaults(input: ExecutorsInput): ExecutorsConfig {
  return {
    ...input,
    workspaceSize: input.workspaceSize ?? '256Mi',
    // The schema allows any language name; executorsRules refuses all but EXECUTOR_LANGUAGES.
    images: input.images as ExecutorsConfig['images'],
  };
}
