/**
 * The executor reaper: its slice of the environment schema (only its image: schedule, threshold and
 * sizes are props with defaults, not environment fields), the type derived from it, and its default.
 */
import type { ImageRef, SliceOf } from '../../src/model/schema';

/**
 * The image the script runs in: the official Python image (docker.io/library/, an allowed registry in
 * every environment that names no registry), pinned to an exact release. Only the interpreter and its standard library are used.
 */
export const REAPER_IMAGE = { repository: 'docker.io/library/python', tag: '3.13.1-alpine' } as const;

/** `executorReaper` of an environment file. */
export const EXECUTOR_REAPER_SCHEMA = {
  description: 'The executor reaper, the CronJob that deletes finished executor pods.',
  type: 'object',
  additionalProperties: false,
  properties: {
    image: {
      description:
        'Image with python3 (standard library only) that runs reap.py. Default docker.io/library/python:3.13.1-alpine.',
      $ref: '#/definitions/image',
    },
  },
} as const;

type ExecutorReaperInput = SliceOf<typeof EXECUTOR_REAPER_SCHEMA>;

/** `executorReaper`, with its default applied. */
export interface ExecutorReaperConfig {
  /** The image reap.py runs in. */
  readonly image: ImageRef;
}

/** `executorReaper` with its default: the official Python image of REAPER_IMAGE. */
export function executorReaperDefaults(input: ExecutorReaperInput | undefined): ExecutorReaperConfig {
  return { image: input?.image ?? REAPER_IMAGE };
}
