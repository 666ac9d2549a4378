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
      canary: {
        $ref: '#/definitions/canary',
      },
    },
  },
  canary: {
    description:
      'Release new images as an Argo Rollouts canary judged by Prometheus (charts/common/canary.ts). Default by tier: ' +
      'production releases as a canary, non-production keeps a plain rolling update. Fields left out take the ' +
      "tier's defaults (README: Canary releases).",
    type: 'object',
    additionalProperties: false,
    required: ['enabled'],
    properties: {
      enabled: {
        description: 'false: a plain rolling update of the Deployment (no Rollout).',
        type: 'boolean',
      },
      steps: {
        description:
          'Canary weights (% of the pods) and timed pauses, in order; after the last step the canary is promoted to 100%. ' +
          'An indefinite pause cannot be written: it would hold the release, and Argo CD, until someone acts.',
        type: 'array',
        minItems: 1,
        maxItems: 20,
        items: {
          description: 'One step: exactly one of setWeight or pause.',
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          maxProperties: 1,
          properties: {
            setWeight: {
              description: 'Share of the pods (%) that run the new image.',
              type: 'integer',
              minimum: 1,
              maximum: 99,
            },
            pause: {
              description: 'Wait this long (e.g. 5m) with the current weight while the analysis runs.',
              $ref: '#/definitions/duration',
            },
          },
        },
      },
      analysis: {
        description:
          "The Prometheus analysis that runs from the first step until promotion (the service's error ratio).",
        type: 'object',
        additionalProperties: false,
        properties: {
          maxErrorRatio: {
            description: 'Highest share of requests answered with a 5xx that passes a measurement (0.05 = 5%).',
            type: 'number',
            exclusiveMinimum: 0,
            maximum: 1,
          },
          interval: {
            description: 'Time between two measurements; the first is taken when the canary starts.',
            $ref: '#/definitions/duration',
          },
          window: {
            description: 'The rate() window of the query.',
            $ref: '#/definitions/duration',
          },
          failureLimit: {
            description: 'Failed measurements tolerated; one more aborts the canary.',
            type: 'integer',
            minimum: 0,
            maximum: 10,
          },
        },
      },
      autoAbort: {
        description:
          'true: a failed analysis or a canary that is not available within progressDeadlineSeconds aborts the release ' +
          '(back to the stable pods). false: the analysis only reports (dry run) and someone aborts by hand.',
        type: 'boolean',
      },
      progressDeadlineSeconds: {
        description: 'How long a step may wait for its canary pods to become available.',
        type: 'integer',
        minimum: 60,
        maximum: 3600,
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
/** A service's canary settings as written (definition `canary`). */
export type CanaryInput = SliceOf<typeof DEFINITIONS.canary>;
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
