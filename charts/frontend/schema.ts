/**
 * The frontend: its slice of the environment schema, the TypeScript types derived from it, and its defaults,
 * each written once. The composition (apps/environment.ts) assembles the slices into the schema that
 * validates environment files.
 */
import type { Resources } from '../../src/model/schema';

/** `services.frontend` of an environment file. */
export const FRONTEND_SCHEMA = {
  $ref: '#/definitions/service',
} as const;

/** Requests and limits of the frontend unless `services.frontend.resources` says otherwise. */
export const FRONTEND_DEFAULT_RESOURCES: Resources = {
  requests: { cpu: '100m', memory: '192Mi' },
  limits: { cpu: '500m', memory: '384Mi' },
};
