/**
 * Secrets: its slice of the environment schema, the TypeScript types derived from it, and its defaults,
 * each written once. The composition (apps/environment.ts) assembles the slices into the schema that
 * validates environment files.
 */
import type { Defaulted, SliceOf } from '../../src/model/schema';

/** `secrets` of an environment file. */
export const SECRETS_SCHEMA = {
  description: 'Where credentials come from. Secret values never enter git.',
  type: 'object',
  additionalProperties: false,
  required: ['provider', 'oauth2Proxy', 'nats'],
  properties: {
    provider: {
      type: 'string',
      enum: ['pre-created', 'external-secrets', 'sealed-secrets'],
      description:
        'pre-created: you create the Secrets (README); external-secrets: ExternalSecrets render them from a store; sealed-secrets: SealedSecrets hold ciphertext.',
    },
    oauth2Proxy: {
      description: 'Secret (app namespace) with client-id, client-secret, cookie-secret.',
      $ref: '#/definitions/dnsSubdomain',
    },
    nats: {
      description:
        'Secret (app namespace) with frontend-nkey, frontend-nkey-seed, middleware-nkey, middleware-nkey-seed, callout-issuer, callout-issuer-seed (and <user>-nkey-next while a key rotates).',
      $ref: '#/definitions/dnsSubdomain',
    },
    externalSecrets: {
      type: 'object',
      additionalProperties: false,
      required: ['store', 'remoteKeys'],
      properties: {
        store: {
          $ref: '#/definitions/storeRef',
        },
        refreshInterval: {
          $ref: '#/definitions/duration',
        },
        remoteKeys: {
          type: 'object',
          additionalProperties: false,
          required: ['oauth2Proxy', 'nats'],
          properties: {
            oauth2Proxy: {
              type: 'string',
              minLength: 1,
            },
            nats: {
              type: 'string',
              minLength: 1,
            },
            registry: {
              description:
                "Remote secret whose property dockerconfigjson is the registry's Docker config JSON (with registry set).",
              type: 'string',
              minLength: 1,
            },
          },
        },
      },
    },
    sealedSecrets: {
      description: 'Encrypted data (kubeseal output) per Secret and key.',
      type: 'object',
      additionalProperties: false,
      required: ['oauth2Proxy', 'nats'],
      properties: {
        oauth2Proxy: {
          type: 'object',
          minProperties: 1,
          additionalProperties: {
            type: 'string',
            pattern: '^[A-Za-z0-9+/=]{16,}$',
          },
        },
        nats: {
          type: 'object',
          minProperties: 1,
          additionalProperties: {
            type: 'string',
            pattern: '^[A-Za-z0-9+/=]{16,}$',
          },
        },
      },
    },
  },
} as const;

type SecretsInput = SliceOf<typeof SECRETS_SCHEMA>;
export type SecretProvider = SecretsInput['provider'];

/** `secrets`, with its defaults applied. */
export type SecretsConfig = Omit<SecretsInput, 'externalSecrets'> & {
  readonly externalSecrets?: Defaulted<NonNullable<SecretsInput['externalSecrets']>, 'refreshInterval'>;
};

/** `secrets` with its defaults: External Secrets refresh every hour. */
export function secretsDefaults(input: SecretsInput): SecretsConfig {
  const es = input.externalSecrets;
  return {
    provider: input.provider,
    oauth2Proxy: input.oauth2Proxy,
    nats: input.nats,
    ...(es ? { externalSecrets: { ...es, refreshInterval: es.refreshInterval ?? '1h' } } : {}),
    ...(input.sealedSecrets ? { sealedSecrets: input.sealedSecrets } : {}),
  };
}
