/**
 * Argo CD: its slice of the environment schema, the TypeScript types derived from it, and its defaults,
 * each written once. The composition (apps/environment.ts) assembles the slices into the schema that
 * validates environment files.
 */
import type { Defaulted, SliceOf } from '../../src/model/schema';

/** `argocd` of an environment file. */
export const ARGOCD_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['repoURL', 'targetRevision', 'destination'],
  properties: {
    namespace: {
      description: 'Namespace Argo CD runs in. Default argocd.',
      $ref: '#/definitions/dnsLabel',
    },
    repoURL: {
      description: "This repository's URL, as Argo CD clones it.",
      type: 'string',
      pattern: '^(https://|ssh://|git@)[^\\s]+$',
    },
    targetRevision: {
      description: 'Branch, tag or commit Argo CD follows.',
      type: 'string',
      minLength: 1,
    },
    destination: {
      description: 'Cluster to deploy to: API server URL, or a cluster name registered in Argo CD.',
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      maxProperties: 1,
      properties: {
        server: {
          type: 'string',
          pattern: '^https://[^\\s]+$',
        },
        name: {
          $ref: '#/definitions/dnsSubdomain',
        },
      },
    },
    prune: {
      description: 'Let automated sync delete resources that left git. Default true.',
      type: 'boolean',
    },
    selfHeal: {
      description: 'Let automated sync revert changes made in the cluster. Default true.',
      type: 'boolean',
    },
    notifications: {
      description: 'Argo CD notifications subscriptions (service: recipient), e.g. slack: coderun-alerts.',
      type: 'object',
      additionalProperties: false,
      properties: {
        onSyncFailed: {
          $ref: '#/definitions/labels',
        },
        onHealthDegraded: {
          $ref: '#/definitions/labels',
        },
      },
    },
  },
} as const;

type ArgoCdInput = SliceOf<typeof ARGOCD_SCHEMA>;
type Notifications = NonNullable<ArgoCdInput['notifications']>;

/** `argocd`, with its defaults applied. */
export type ArgoCdConfig = Omit<Defaulted<ArgoCdInput, 'namespace' | 'prune' | 'selfHeal'>, 'notifications'> & {
  readonly notifications: Defaulted<Notifications, 'onSyncFailed' | 'onHealthDegraded'>;
};

/** `argocd` with its defaults: namespace argocd, automated prune and selfHeal, no notifications. */
export function argocdDefaults(input: ArgoCdInput): ArgoCdConfig {
  return {
    ...input,
    namespace: input.namespace ?? 'argocd',
    prune: input.prune ?? true,
    selfHeal: input.selfHeal ?? true,
    notifications: {
      onSyncFailed: input.notifications?.onSyncFailed ?? {},
      onHealthDegraded: input.notifications?.onHealthDegraded ?? {},
    },
  };
}
