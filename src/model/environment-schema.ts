/**
 * The shape of an environment file (environments/<env>.yaml): the one source.
 *
 * - src/model/config.ts validates every environment file against this schema (ajv) and derives its
 *   TypeScript types from it (json-schema-to-ts FromSchema), so a field added here is typed there.
 * - environments/schema.json is generated from it by `npm run synth` for editors (the
 *   `# yaml-language-server: $schema=./schema.json` line of each environment file); never edit it.
 *
 * It is plain JSON Schema (draft-07) written as a TypeScript `as const` literal, which FromSchema
 * needs; two parts that would otherwise be written twice are shared below. Imports nothing: a leaf
 * module.
 */

/** What every service has: the definition `service` (oauth2-proxy, frontend) and the middleware. */
const serviceProperties = {
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

/** The schema of environments/<env>.yaml. */
export const environmentSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://coderun.dev/schemas/environment.json',
  title: 'Environment',
  description:
    'One deployment target of the code-execution platform. Every key is documented in README.md (Environment file reference). Unknown keys are errors.',
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
    'services',
    'executors',
    'secrets',
    'argocd',
    'allowedRegistries',
    'entrypoint',
    'network',
    'monitoring',
  ],
  properties: {
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
    services: {
      type: 'object',
      additionalProperties: false,
      required: ['oauth2-proxy', 'frontend', 'nats', 'middleware'],
      properties: {
        'oauth2-proxy': {
          $ref: '#/definitions/service',
        },
        frontend: {
          $ref: '#/definitions/service',
        },
        middleware: {
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
        },
        nats: {
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
        },
      },
    },
    executors: {
      description: 'Limits for the per-job executor pods the middleware launches.',
      type: 'object',
      additionalProperties: false,
      required: ['maxConcurrentJobs', 'cpu', 'memory', 'deadlineSeconds', 'images'],
      properties: {
        maxConcurrentJobs: {
          description: 'Executor pods allowed at once (ResourceQuota pods).',
          type: 'integer',
          minimum: 1,
          maximum: 500,
        },
        cpu: {
          description: 'CPU request and limit of one job.',
          $ref: '#/definitions/cpu',
        },
        memory: {
          description: 'Memory request and limit of one job.',
          $ref: '#/definitions/memory',
        },
        workspaceSize: {
          description: 'Size limit of the writable /workspace emptyDir. Default 256Mi.',
          $ref: '#/definitions/memory',
        },
        deadlineSeconds: {
          description: 'activeDeadlineSeconds of one job.',
          type: 'integer',
          minimum: 5,
          maximum: 3600,
        },
        images: {
          description:
            'One image per executor language; the languages are EXECUTOR_LANGUAGES in src/model/config.ts, which checks that each has an image.',
          type: 'object',
          propertyNames: {
            $ref: '#/definitions/dnsLabel',
          },
          additionalProperties: {
            $ref: '#/definitions/image',
          },
        },
      },
    },
    secrets: {
      description: 'Where credentials come from. Secret values never enter git.',
      type: 'object',
      additionalProperties: false,
      required: ['provider', 'oauth2Proxy', 'nats', 'natsExecutor'],
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
          description: 'Secret (app namespace) with frontend-password, middleware-password, executor-password.',
          $ref: '#/definitions/dnsSubdomain',
        },
        natsExecutor: {
          description: "Secret (executor namespace) with password (the executor user's).",
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
              },
            },
          },
        },
        sealedSecrets: {
          description: 'Encrypted data (kubeseal output) per Secret and key.',
          type: 'object',
          additionalProperties: false,
          required: ['oauth2Proxy', 'nats', 'natsExecutor'],
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
            natsExecutor: {
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
    },
    argocd: {
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
    entrypoint: {
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
    },
    oauth2Proxy: {
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
    monitoring: {
      description: 'Prometheus Operator objects (ServiceMonitor, PodMonitor, PrometheusRule).',
      type: 'object',
      additionalProperties: false,
      required: ['enabled'],
      properties: {
        enabled: {
          type: 'boolean',
        },
        namespace: {
          description: 'Namespace of Prometheus; its pods may scrape the metrics ports. Default monitoring.',
          $ref: '#/definitions/dnsLabel',
        },
        prometheusPodLabels: {
          description: 'Labels of the Prometheus pods. Default app.kubernetes.io/name: prometheus.',
          $ref: '#/definitions/labels',
        },
        selectorLabels: {
          description: 'Labels your Prometheus selects monitors and rules by (e.g. release: kube-prometheus-stack).',
          $ref: '#/definitions/labels',
        },
      },
    },
  },
  definitions: {
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
          pattern:
            '^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\\.[a-z0-9]+([._-][a-z0-9]+)*)*(/[a-z0-9]+([._-][a-z0-9]+)*)+$',
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
  },
} as const;

/** The generated copy for editors, relative to the repository root. */
export const ENVIRONMENT_SCHEMA_FILE = 'environments/schema.json';

/** environments/schema.json as synth writes it: the schema, marked as generated by a `$comment`. */
export function environmentSchemaJson(): string {
  const { $schema, ...rest } = environmentSchema;
  const $comment =
    "Generated by 'npm run synth' from src/model/environment-schema.ts - do not edit; change that file and re-run.";
  return `${JSON.stringify({ $schema, $comment, ...rest }, null, 2)}\n`;
}
