/**
 * The middleware: its slice of the environment schema, the TypeScript types derived from it, and its defaults,
 * each written once. The composition (apps/environment.ts) assembles the slices into the schema that
 * validates environment files.
 */
import { serviceProperties, type Resources, type SliceOf } from '../../src/model/schema';

/** `services.middleware` of an environment file. */
export const MIDDLEWARE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['image', 'replicas'],
  properties: {
    ...serviceProperties,
    keda: {
      description: 'Scale the middleware on JetStream consumer lag with a KEDA ScaledObject.',
      type: 'object',
      additionalProperties: false,
      required: ['maxReplicas', 'lagThreshold', 'stream', 'consumer'],
      properties: {
        maxReplicas: {
          type: 'integer',
          minimum: 2,
          maximum: 50,
        },
        lagThreshold: {
          type: 'integer',
          minimum: 1,
        },
        stream: {
          type: 'string',
          pattern: '^[A-Za-z0-9_-]+$',
        },
        consumer: {
          type: 'string',
          pattern: '^[A-Za-z0-9_-]+$',
        },
      },
    },
  },
} as const;

/** `services.middleware` as written. */
export type MiddlewareConfig = SliceOf<typeof MIDDLEWARE_SCHEMA>;

/** Requests and limits of the middleware unless `services.middleware.resources` says otherwise. */
export const MIDDLEWARE_DEFAULT_RESOURCES: Resources = {
  requests: { cpu: '50m', memory: '64Mi' },
  limits: { cpu: '250m', memory: '128Mi' },
};
