/**
 * The environment model's shared schema parts: the `definitions` every slice refers to (`$ref:
 * '#/definitions/...'`), two property groups written once, and the types a slice derives from its
 * schema. Each component owns its slice of the environment schema (charts/<name>/schema.ts); the
 * platform-wide fields are src/model/platform.ts; the composition (apps/environment.ts) assembles
 * them into the one schema that validates environment files and is written to environments/schema.json.
 *
 * Plain JSON Schema (draft-07) written as TypeScript `as const` literals, which FromSchema needs.
 * Imports nothing from the generator: the bottom layer.
 */
import type { FromSchema } from 'json-schema-to-ts';

/** What every service has: the definition `service` (oauth2-proxy, frontend) and the middleware. */
export const serviceProperties = {
  image: {
    $ref: '#/definitions/image',
  },
  replicas: {
    description: 'Number of pods.',
    type: 'integer',
    minimum: 1,
    maximum: 50,
  },
  resources: {
    $ref: '#/definitions/resources',
  },
} as const;

/** A reference to an object by kind and name: a cert-manager issuer or an External Secrets store. */
function objectRef<const K extends readonly string[]>(description: string, kinds: K) {
  return {
    description,
    type: 'object',
    additionalProperties: false,
    required: ['kind', 'name'],
    properties: {
      kind: {
        type: 'string',
        enum: kinds,
      },
      name: {
        $ref: '#/definitions/dnsSubdomain',
      },
    },
  } as const;
}

/** Definitions shared by every slice; the assembled schema carries them as `definitions`. */
export const DEFINITIONS = {
  dnsLabel: {
    type: 'string',
    pattern: '^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$',
  },
  dnsSubdomain: {
    type: 'string',
    maxLength: 253,
    pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
  },
  dnsName: {
    type: 'string',
    maxLength: 253,
    pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$',
  },
  cpu: {
    description: 'CPU quantity: millicores (250m) or cores (1, 0.5).',
    type: 'string',
    pattern: '^([1-9][0-9]*m|[0-9]+(\\.[0-9]{1,3})?)$',
  },
  memory: {
    description: 'Memory quantity with a binary suffix: 512Mi, 4Gi.',
    type: 'string',
    pattern: '^[1-9][0-9]*(Ki|Mi|Gi|Ti)$',
  },
  cpuMemory: {
    type: 'object',
    additionalProperties: false,
    required: ['cpu', 'memory'],
    properties: {
      cpu: {
        $ref: '#/definitions/cpu',
      },
      memory: {
        $ref: '#/definitions/memory',
      },
    },
  },
  image: {
    description: 'Container image. A tag (not latest) or a digest is required.',
    type: 'object',
    additionalProperties: false,
    required: ['repository'],
    anyOf: [
      {
        required: ['tag'],
      },
      {
        required: ['digest'],
      },
    ],
    properties: {
      repository: {
        description: 'Registry host and path, e.g. quay.io/oauth2-proxy/oauth2-proxy.',
        type: 'string',
        pattern: '^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\\.[a-z0-9]+([._-][a-z0-9]+)*)*(/[a-z0-9]+([._-][a-z0-9]+)*)+$',
      },
      tag: {
        type: 'string',
        description:
          'A release tag; latest and other floating tags (main, master, stable, edge, nightly, dev) are refused: pin a version or use digest.',
        pattern: '^(?!(latest|main|master|stable|edge|nightly|dev)$)[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$',
      },
      digest: {
        type: 'string',
        pattern: '^sha256:[a-f0-9]{64}$',
      },
    },
  },
  service: {
    type: 'object',
    additionalProperties: false,
    required: ['image', 'replicas'],
    properties: {
      ...serviceProperties,
      autoscaling: {
        $ref: '#/definitions/autoscaling',
      },
    },
  },
  resources: {
    description: "Overrides the service's default requests and limits (see apps/).",
    type: 'object',
    additionalProperties: false,
    required: ['requests', 'limits'],
    properties: {
      requests: {
        $ref: '#/definitions/cpuMemory',
      },
      limits: {
        $ref: '#/definitions/cpuMemory',
      },
    },
  },
  labels: {
    type: 'object',
    additionalProperties: {
      type: 'string',
      maxLength: 63,
    },
    propertyNames: {
      maxLength: 253,
    },
  },
  cidr: {
    type: 'string',
    pattern: '^([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}$',
  },
  duration: {
    type: 'string',
    pattern: '^[1-9][0-9]*(s|m|h)$',
  },
  autoscaling: {
    description: 'HorizontalPodAutoscaler: replicas becomes the minimum and the Deployment omits replicas.',
    type: 'object',
    additionalProperties: false,
    required: ['maxReplicas', 'cpuUtilization'],
    properties: {
      maxReplicas: {
        type: 'integer',
        minimum: 2,
        maximum: 100,
      },
      cpuUtilization: {
        description: 'Target average CPU use, % of requests.',
        type: 'integer',
        minimum: 10,
        maximum: 100,
      },
      memoryUtilization: {
        description: 'Target average memory use, % of requests. Default: not a target.',
        type: 'integer',
        minimum: 10,
        maximum: 100,
      },
    },
  },
  issuerRef: objectRef('A cert-manager issuer.', ['ClusterIssuer', 'Issuer']),
  storeRef: objectRef('An External Secrets Operator store.', ['ClusterSecretStore', 'SecretStore']),
} as const;

/** Configuration objects are never changed after loading: every field is readonly, at every depth. */
export type DeepReadonly<T> = T extends readonly (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** T with the keys K present and defined: the fields a slice's defaults fill in. */
export type Defaulted<T, K extends keyof T> = Omit<T, K> & { readonly [P in K]-?: Exclude<T[P], undefined> };

/** The TypeScript type of a schema slice as written in an environment file; its $refs resolve against DEFINITIONS. */
export type SliceOf<S> = DeepReadonly<FromSchema<S & { readonly definitions: typeof DEFINITIONS }>>;

/** An image: repository with a tag, a digest, or both. */
export type ImageRef = SliceOf<typeof DEFINITIONS.image>;
/** Requests and limits of a container. */
export type Resources = SliceOf<typeof DEFINITIONS.resources>;
/** The settings of a plain service (definition `service`): oauth2-proxy and the frontend. */
export type ServiceConfig = SliceOf<typeof DEFINITIONS.service>;
/** An HPA's settings (definition `autoscaling`). */
export type AutoscalingConfig = SliceOf<typeof DEFINITIONS.autoscaling>;

/** The image reference as a container image string: repo:tag, repo@digest or repo:tag@digest. */
export function imageString(img: ImageRef): string {
  return `${img.repository}${img.tag ? `:${img.tag}` : ''}${img.digest ? `@${img.digest}` : ''}`;
}

/** A problem a cross-field rule finds: the dotted path of the field, and what is wrong. */
export interface PathProblem {
  readonly path: string;
  readonly message: string;
}
