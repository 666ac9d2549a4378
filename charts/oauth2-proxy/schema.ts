/**
 * oauth2-proxy and the entry point: its slice of the environment schema, the TypeScript types derived from it, and its defaults,
 * each written once. The composition (apps/environment.ts) assembles the slices into the schema that
 * validates environment files.
 */
import type { Defaulted, Resources, SliceOf } from '../../src/model/schema';

/** `services.oauth2-proxy` of an environment file. */
export const OAUTH2_PROXY_SCHEMA = {
  $ref: '#/definitions/service',
} as const;

/** `entrypoint` of an environment file. */
export const ENTRYPOINT_SCHEMA = {
  description: 'How users reach oauth2-proxy.',
  type: 'object',
  additionalProperties: false,
  required: ['mode'],
  properties: {
    mode: {
      type: 'string',
      enum: ['port-forward', 'ingress', 'gateway'],
      description: 'port-forward (dev), an Ingress, or a Gateway API HTTPRoute.',
    },
    className: {
      description: 'IngressClass name (mode ingress).',
      $ref: '#/definitions/dnsSubdomain',
    },
    issuer: {
      description: 'cert-manager issuer for the TLS certificate (mode ingress).',
      $ref: '#/definitions/issuerRef',
    },
    gateway: {
      description: 'Parent Gateway (mode gateway).',
      type: 'object',
      additionalProperties: false,
      required: ['name', 'namespace'],
      properties: {
        name: {
          $ref: '#/definitions/dnsSubdomain',
        },
        namespace: {
          $ref: '#/definitions/dnsLabel',
        },
        sectionName: {
          $ref: '#/definitions/dnsLabel',
        },
      },
    },
    controllerNamespace: {
      description: 'Namespace of the ingress controller or gateway pods; only they may reach oauth2-proxy.',
      $ref: '#/definitions/dnsLabel',
    },
    controllerPodLabels: {
      description: 'Labels of the ingress controller or gateway pods.',
      $ref: '#/definitions/labels',
    },
    trustedProxyCidrs: {
      description: 'Addresses oauth2-proxy trusts for X-Forwarded-* headers (--trusted-proxy-ip).',
      type: 'array',
      items: {
        $ref: '#/definitions/cidr',
      },
    },
  },
} as const;

/** `oauth2Proxy` of an environment file. */
export const OAUTH2_PROXY_SETTINGS_SCHEMA = {
  description: 'oauth2-proxy settings.',
  type: 'object',
  additionalProperties: false,
  properties: {
    emailDomains: {
      description: 'Google account domains allowed to sign in; ["*"] allows all. Default ["*"].',
      type: 'array',
      minItems: 1,
      items: {
        type: 'string',
        pattern: '^(\\*|[a-z0-9.-]+)$',
      },
    },
    cookieRefresh: {
      description: 'Refresh the session cookie after this long. Default 1h.',
      $ref: '#/definitions/duration',
    },
    cookieExpire: {
      description: 'Session lifetime. Default 24h.',
      $ref: '#/definitions/duration',
    },
  },
} as const;

type EntrypointInput = SliceOf<typeof ENTRYPOINT_SCHEMA>;
type SettingsInput = NonNullable<SliceOf<typeof OAUTH2_PROXY_SETTINGS_SCHEMA>>;

/** `entrypoint`, with its defaults applied. */
export type EntrypointConfig = Defaulted<EntrypointInput, 'trustedProxyCidrs'>;
/** `oauth2Proxy`, with its defaults applied. */
export type OAuth2ProxySettings = Defaulted<SettingsInput, keyof SettingsInput>;

/** `entrypoint` with its defaults: no trusted proxy unless listed. */
export function entrypointDefaults(input: EntrypointInput): EntrypointConfig {
  return { ...input, trustedProxyCidrs: input.trustedProxyCidrs ?? [] };
}

/** `oauth2Proxy` with its defaults: every Google domain, a 1 h cookie refresh and a 24 h expiry. */
export function oauth2ProxySettingsDefaults(input: SettingsInput | undefined): OAuth2ProxySettings {
  return {
    emailDomains: input?.emailDomains ?? ['*'],
    cookieRefresh: input?.cookieRefresh ?? '1h',
    cookieExpire: input?.cookieExpire ?? '24h',
  };
}

/** Requests and limits of oauth2-proxy unless `services.oauth2-proxy.resources` says otherwise. */
export const OAUTH2_PROXY_DEFAULT_RESOURCES: Resources = {
  requests: { cpu: '50m', memory: '64Mi' },
  limits: { cpu: '200m', memory: '128Mi' },
};
