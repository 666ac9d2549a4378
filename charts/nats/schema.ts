/**
 * NATS: its slice of the environment schema, the TypeScript types derived from it, and its defaults,
 * each written once. The composition (apps/environment.ts) assembles the slices into the schema that
 * validates environment files.
 */
import type { Resources, SliceOf } from '../../src/model/schema';

/** `services.nats` of an environment file. */
export const NATS_SCHEMA = {
  description: 'NATS with JetStream (a StatefulSet). Use an odd number of replicas.',
  type: 'object',
  additionalProperties: false,
  required: ['image', 'replicas', 'storage', 'exporterImage'],
  properties: {
    image: {
      $ref: '#/definitions/image',
    },
    replicas: {
      description: 'Number of NATS servers: 1, or an odd number for a JetStream cluster.',
      type: 'integer',
      minimum: 1,
      maximum: 7,
    },
    resources: {
      $ref: '#/definitions/resources',
    },
    storage: {
      description: 'JetStream file store volume per NATS server.',
      type: 'object',
      additionalProperties: false,
      required: ['size', 'storageClassName'],
      properties: {
        size: {
          $ref: '#/definitions/memory',
        },
        storageClassName: {
          description: 'StorageClass of the PVC.',
          $ref: '#/definitions/dnsSubdomain',
        },
      },
    },
    exporterImage: {
      description: 'prometheus-nats-exporter image (sidecar).',
      $ref: '#/definitions/image',
    },
    rotating: {
      description:
        'Users whose nkey is being rotated: the server accepts both the key in Secret key <user>-nkey and the one in <user>-nkey-next (README, "Rotating a NATS credential").',
      type: 'array',
      uniqueItems: true,
      items: { type: 'string', enum: ['frontend', 'middleware'] },
    },
    tls: {
      description: 'TLS for client connections, issued by cert-manager.',
      type: 'object',
      additionalProperties: false,
      required: ['issuer'],
      properties: {
        issuer: {
          $ref: '#/definitions/issuerRef',
        },
      },
    },
  },
} as const;

/** `services.nats` as written. */
export type NatsConfig = SliceOf<typeof NATS_SCHEMA>;

/** Requests and limits of the NATS server container unless `services.nats.resources` says otherwise. */
export const NATS_DEFAULT_RESOURCES: Resources = {
  requests: { cpu: '200m', memory: '512Mi' },
  limits: { cpu: '1', memory: '1Gi' },
};
