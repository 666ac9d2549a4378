/**
 * The platform-wide part of an environment: the fields no single component owns (name, tier,
 * namespaces, the cluster's shape, spread, registries, network). Its schema slice, types, defaults
 * and cross-field rules, written once; plus the two rules every service's settings share.
 */
import { parseCpu, parseMemory } from './quantity';
import type { Defaulted, ImageRef, PathProblem, Resources, SliceOf } from './schema';

/** The platform-wide properties of an environment file, in the order the schema lists them. */
export const PLATFORM_PROPERTIES = {
  name: {
    description: 'Environment name; must equal the file name without .yaml.',
    type: 'string',
    pattern: '^[a-z][a-z0-9-]{0,19}$',
  },
  description: {
    description: 'One line for humans: what this environment is for.',
    type: 'string',
  },
  tier: {
    description:
      'Which rules apply: production gets the production policy (hard spreading, a 3-server NATS cluster); the name never decides.',
    type: 'string',
    enum: ['production', 'non-production'],
  },
  kubernetesVersion: {
    description: 'Minor version of the target cluster; rendered manifests are validated against this API.',
    type: 'string',
    enum: ['1.28', '1.30', '1.33'],
  },
  hostname: {
    description: 'External DNS name users open (used for the OAuth redirect URL).',
    $ref: '#/definitions/dnsName',
  },
  publicPort: {
    description: "Port in the public URL when it is not the scheme's default (dev port-forward).",
    type: 'integer',
    minimum: 1,
    maximum: 65535,
  },
  tls: {
    description: 'Whether the public URL is https. Default true.',
    type: 'boolean',
  },
  namespaces: {
    type: 'object',
    additionalProperties: false,
    required: ['app', 'executor'],
    properties: {
      app: {
        description: 'Namespace of oauth2-proxy, frontend, NATS and middleware.',
        $ref: '#/definitions/dnsLabel',
      },
      executor: {
        description: 'Namespace where the middleware launches executor pods.',
        $ref: '#/definitions/dnsLabel',
      },
    },
  },
  cluster: {
    description: "The cluster's shape; used to size and to prove the platform fits.",
    type: 'object',
    additionalProperties: false,
    required: ['nodes', 'zones', 'nodeAllocatable'],
    properties: {
      nodes: {
        description: 'Number of schedulable (worker) nodes.',
        type: 'integer',
        minimum: 1,
        maximum: 1000,
      },
      zones: {
        description: 'Zone names (topology.kubernetes.io/zone). Empty when the cluster has no zones.',
        type: 'array',
        uniqueItems: true,
        items: {
          $ref: '#/definitions/dnsLabel',
        },
      },
      nodeAllocatable: {
        description: 'Allocatable CPU and memory of one node.',
        $ref: '#/definitions/cpuMemory',
      },
    },
  },
  spread: {
    description: 'How pods are spread over nodes (and zones where there are zones).',
    type: 'object',
    additionalProperties: false,
    required: ['whenUnsatisfiable'],
    properties: {
      whenUnsatisfiable: {
        type: 'string',
        enum: ['DoNotSchedule', 'ScheduleAnyway'],
      },
      maxSkew: {
        description: 'Largest allowed difference in matching pods between two domains. Default 1.',
        type: 'integer',
        minimum: 1,
        maximum: 10,
      },
    },
  },
  allowedRegistries: {
    description: 'Image prefixes (registry host and path, ending in /) every image must start with.',
    type: 'array',
    minItems: 1,
    uniqueItems: true,
    items: {
      type: 'string',
      pattern: '^[a-z0-9.-]+(:[0-9]+)?/([a-z0-9._-]+/)*$',
    },
  },
  registry: {
    description:
      "The environment's private registry (or mirror): every image comes from it, pinned by digest (repository:tag@sha256:...), and every ServiceAccount that runs pods pulls with its pull Secret. Required in production; dev may keep public registries.",
    type: 'object',
    additionalProperties: false,
    required: ['host', 'pullSecret'],
    properties: {
      host: {
        description:
          'Registry host (and port), e.g. registry.prod.coderun.example.com: every image repository starts with <host>/.',
        type: 'string',
        pattern: '^[a-z0-9]+([.-][a-z0-9]+)*(:[0-9]+)?$',
      },
      pullSecret: {
        description:
          'Name of the kubernetes.io/dockerconfigjson Secret (key .dockerconfigjson) in the app and executor namespaces, from the secret provider.',
        $ref: '#/definitions/dnsSubdomain',
      },
    },
  },
  promotedFrom: {
    description:
      "The environment whose verified images this one runs (npm run promote's source): the semantic diff flags an image of this environment whose digest that environment does not run.",
    type: 'string',
    pattern: '^[a-z][a-z0-9-]{0,19}$',
  },
  network: {
    description: 'Cluster addresses NetworkPolicies must allow.',
    type: 'object',
    additionalProperties: false,
    required: ['apiServerCidrs'],
    properties: {
      cni: {
        description: "The cluster's CNI plugin. flannel does not enforce NetworkPolicy: the audit report says so.",
        type: 'string',
        enum: ['calico', 'cilium', 'canal', 'flannel', 'kindnet', 'weave', 'other'],
      },
      apiServerCidrs: {
        description:
          "Addresses of the Kubernetes API server endpoints (the middleware's only egress besides NATS and DNS).",
        type: 'array',
        minItems: 1,
        items: {
          $ref: '#/definitions/cidr',
        },
      },
      apiServerPort: {
        description: 'Port of the API server endpoints. Default 6443.',
        type: 'integer',
        minimum: 1,
        maximum: 65535,
      },
      dnsNamespace: {
        description: 'Namespace of the cluster DNS pods. Default kube-system.',
        $ref: '#/definitions/dnsLabel',
      },
      dnsPodLabels: {
        description: 'Labels of the cluster DNS pods. Default k8s-app: kube-dns.',
        $ref: '#/definitions/labels',
      },
    },
  },
} as const;

/** The platform-wide fields as one object schema (for their type; the composition assembles the whole). */
export const PLATFORM_SLICE = {
  type: 'object',
  additionalProperties: false,
  required: [
    'name',
    'tier',
    'kubernetesVersion',
    'hostname',
    'namespaces',
    'cluster',
    'spread',
    'allowedRegistries',
    'network',
  ],
  properties: PLATFORM_PROPERTIES,
} as const;

/** The platform-wide fields as written. */
export type PlatformInput = SliceOf<typeof PLATFORM_SLICE>;

/** The platform-wide fields with their defaults applied. */
export type PlatformConfig = Omit<PlatformInput, 'tls' | 'spread' | 'network'> & {
  readonly tls: boolean;
  readonly spread: Defaulted<PlatformInput['spread'], 'maxSkew'>;
  readonly network: Defaulted<PlatformInput['network'], 'apiServerPort' | 'dnsNamespace' | 'dnsPodLabels'>;
};

/** The platform-wide fields with their defaults: HTTPS, a skew of 1, the API server on 6443, kube-dns in kube-system. */
export function platformDefaults(input: PlatformInput): PlatformConfig {
  return {
    ...input,
    tls: input.tls ?? true,
    spread: { whenUnsatisfiable: input.spread.whenUnsatisfiable, maxSkew: input.spread.maxSkew ?? 1 },
    network: {
      apiServerCidrs: input.network.apiServerCidrs,
      apiServerPort: input.network.apiServerPort ?? 6443,
      dnsNamespace: input.network.dnsNamespace ?? 'kube-system',
      dnsPodLabels: input.network.dnsPodLabels ?? { 'k8s-app': 'kube-dns' },
      ...(input.network.cni !== undefined ? { cni: input.network.cni } : {}),
    },
  };
}

/** Rules over the platform-wide fields that a JSON Schema cannot express. */
export function platformRules(c: PlatformConfig, expectedName: string): PathProblem[] {
  const out: PathProblem[] = [];
  if (c.name !== expectedName) {
    out.push({ path: 'name', message: `'${c.name}' must equal the file name '${expectedName}'. Rename one of them.` });
  }
  if (c.namespaces.app === c.namespaces.executor) {
    out.push({
      path: 'namespaces.executor',
      message: `'${c.namespaces.executor}' must differ from namespaces.app: executors run user code and need their own namespace.`,
    });
  }
  const zones = c.cluster.zones.length;
  if (zones > c.cluster.nodes) {
    out.push({
      path: 'cluster.zones',
      message: `${zones} zones need at least ${zones} nodes, but cluster.nodes is ${c.cluster.nodes}. Add nodes or remove zones.`,
    });
  }
  return out;
}

/**
 * The rules every service's settings share: with hard spread over zones, replicas cover every zone
 * (or there is one); a request never exceeds its limit. `path` is e.g. `services.frontend`.
 */
export function serviceSettingsRules(
  c: PlatformConfig,
  path: string,
  svc: {
    readonly replicas: number;
    readonly resources?: Resources;
    readonly autoscaling?: { readonly maxReplicas: number };
  },
): PathProblem[] {
  const out: PathProblem[] = [];
  const zones = c.cluster.zones.length;
  if (c.spread.whenUnsatisfiable === 'DoNotSchedule' && zones > 1 && svc.replicas > 1 && svc.replicas < zones) {
    out.push({
      path: `${path}.replicas`,
      message:
        `${svc.replicas} replicas leave at least one of the ${zones} zones in cluster.zones without a replica; ` +
        `with spread.whenUnsatisfiable DoNotSchedule this environment requires one per zone, so a zone loss ` +
        `never takes a service below its spread. Use at least ${zones}, or 1.`,
    });
  }
  const r = svc.resources;
  if (r) {
    for (const k of ['cpu', 'memory'] as const) {
      const req = k === 'cpu' ? parseCpu(r.requests.cpu) : parseMemory(r.requests.memory);
      const lim = k === 'cpu' ? parseCpu(r.limits.cpu) : parseMemory(r.limits.memory);
      if (req > lim) {
        out.push({
          path: `${path}.resources.requests.${k}`,
          message: `request ${r.requests[k]} is larger than limit ${r.limits[k]}. Lower the request or raise the limit.`,
        });
      }
    }
  }
  if (svc.autoscaling && svc.autoscaling.maxReplicas <= svc.replicas) {
    out.push({
      path: `${path}.autoscaling.maxReplicas`,
      message: `${svc.autoscaling.maxReplicas} must be larger than replicas (${svc.replicas}), the HPA's minimum.`,
    });
  }
  return out;
}

/** One image field of an environment file: its dotted path (e.g. `services.frontend.image`) and value. */
export type ImageField = readonly [string, ImageRef];

/**
 * Every image under one of allowedRegistries; with a `registry`, every image comes from it and names a
 * digest (the release path: npm run pin writes them); production names a registry. `images` pairs each
 * image with its field path; `digests: 'pending'` (npm run pin, which is about to write them) lets a
 * missing digest pass.
 */
export function registryRules(
  c: PlatformConfig,
  images: readonly ImageField[],
  opts: { readonly digests: 'required' | 'pending' } = { digests: 'required' },
): PathProblem[] {
  const out: PathProblem[] = images
    .filter(([, img]) => !c.allowedRegistries.some((r) => `${img.repository}/`.startsWith(r)))
    .map(([path, img]) => ({
      path: `${path}.repository`,
      message: `${img.repository} is not under allowedRegistries (${c.allowedRegistries.join(', ')}). Use an allowed registry or add it there.`,
    }));
  const reg = c.registry;
  if (!reg) {
    if (c.tier === 'production') {
      out.push({
        path: 'tier',
        message:
          'production runs every image from its own registry, pinned by digest, but this environment names no registry. ' +
          'Add registry.host and registry.pullSecret (README: How to release).',
      });
    }
    return out;
  }
  for (const [path, img] of images) {
    if (!img.repository.startsWith(`${reg.host}/`)) {
      out.push({
        path: `${path}.repository`,
        message: `${img.repository} is not in the environment's registry ${reg.host}. Copy the image there (npm run promote does) and use ${reg.host}/<path>.`,
      });
    }
    if (!img.digest && opts.digests === 'required') {
      out.push({
        path,
        message: `${img.repository}${img.tag ? `:${img.tag}` : ''} has no digest; an environment with a registry runs every image as repository:tag@sha256:... Run npm run pin -- --env ${c.name}.`,
      });
    }
  }
  return out;
}
