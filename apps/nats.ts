import type { Resources } from '../src/config';
import { EXECUTOR_QUEUES } from './executors';
import type { HttpProbeDefinition, PortDefinition } from './types';

/**
 * NATS with JetStream: job queues (cola.go, cola.javascript, cola.c), a KV bucket per user
 * and an object store for job outputs. Runs as a StatefulSet with a file store on a PVC.
 */
export const nats = {
  name: 'nats',
  component: 'messaging',
  description: 'NATS with JetStream: job queues, per-user KV buckets and the output object store.',
  ports: [
    { name: 'client', containerPort: 4222, servicePort: 4222 },
    { name: 'cluster', containerPort: 6222 },
    { name: 'monitor', containerPort: 8222 },
  ] satisfies readonly PortDefinition[],
  probes: {
    startup: { path: '/healthz', port: 'monitor', periodSeconds: 5, failureThreshold: 90 },
    readiness: { path: '/healthz?js-server-only=true', port: 'monitor', periodSeconds: 10, failureThreshold: 3 },
    liveness: {
      path: '/healthz?js-enabled-only=true',
      port: 'monitor',
      periodSeconds: 30,
      failureThreshold: 3,
      timeoutSeconds: 5,
    },
  } satisfies Record<string, HttpProbeDefinition>,
  defaultResources: {
    requests: { cpu: '200m', memory: '512Mi' },
    limits: { cpu: '1', memory: '1Gi' },
  } satisfies Resources,
  runAsUser: 1000,
  /** Where the PVC is mounted; JetStream keeps its file store below it. */
  dataPath: '/data',
  configPath: '/etc/nats',
  /** Seconds the server spends in lame-duck mode before it stops. */
  lameDuckSeconds: 30,
  /** Share of the memory limit JetStream may use for memory-backed streams. */
  memoryStoreRatio: 0.25,
  /** Share of the PVC JetStream may fill (leaves room for compaction and metadata). */
  fileStoreRatio: 0.9,
  /** GOMEMLIMIT as a share of the memory limit. */
  goMemLimitRatio: 0.8,
  /** prometheus-nats-exporter sidecar: scrapes the local monitor port, serves /metrics. */
  exporterPorts: [{ name: 'metrics', containerPort: 7777 }] satisfies readonly PortDefinition[],
  // The sidecar's readiness also gates the NATS pod's, so it only fails when the exporter is
  // really down; liveness gives it twice as long before a restart.
  exporterReadiness: { path: '/metrics', port: 'metrics', periodSeconds: 30, failureThreshold: 3, timeoutSeconds: 5 },
  exporterLiveness: { path: '/metrics', port: 'metrics', periodSeconds: 30, failureThreshold: 6, timeoutSeconds: 5 },
  exporterResources: {
    requests: { cpu: '10m', memory: '32Mi' },
    limits: { cpu: '100m', memory: '64Mi' },
  } satisfies Resources,
} as const;

/** Subject permissions of one NATS user: only what is listed is allowed. */
export interface NatsUserDefinition {
  readonly user: string;
  /** Key of the password in the NATS credentials Secret. */
  readonly passwordKey: string;
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  /** Why these subjects, for reviewers. */
  readonly why: string;
}

/**
 * Least-privilege users. KV bucket and object-store names are user ids, so they appear as `*`
 * in the JetStream API subjects (KV_<user>, OBJ_<user>); nothing grants stream deletion,
 * consumer deletion or another user's account.
 */
export const NATS_USERS: readonly NatsUserDefinition[] = [
  {
    user: 'frontend',
    passwordKey: 'frontend-password',
    why: 'publishes jobs to the language queues; reads job state (KV) and outputs (object store)',
    publish: [
      ...EXECUTOR_QUEUES,
      '$JS.API.INFO',
      '$JS.API.STREAM.INFO.KV_*',
      '$JS.API.STREAM.INFO.OBJ_*',
      '$JS.API.DIRECT.GET.KV_*.>',
      '$JS.API.STREAM.MSG.GET.KV_*',
      '$JS.API.STREAM.MSG.GET.OBJ_*',
      '$JS.API.CONSUMER.CREATE.KV_*.>',
      '$JS.API.CONSUMER.CREATE.OBJ_*.>',
      '$JS.FC.>',
    ],
    subscribe: ['_INBOX.>'],
  },
  {
    user: 'middleware',
    passwordKey: 'middleware-password',
    why: 'consumes the language queues as one queue group; creates per-user buckets and writes job state',
    publish: [
      '$KV.*.>',
      '$JS.API.INFO',
      '$JS.API.STREAM.CREATE.KV_*',
      '$JS.API.STREAM.INFO.KV_*',
      '$JS.API.STREAM.CREATE.OBJ_*',
      '$JS.API.STREAM.INFO.OBJ_*',
    ],
    subscribe: [...EXECUTOR_QUEUES, '_INBOX.>'],
  },
  {
    user: 'executor',
    passwordKey: 'executor-password',
    why: 'publishes its job result only: the output object (chunks and metadata) and the job state',
    publish: ['$O.*.C.>', '$O.*.M.>', '$KV.*.>', '$JS.API.STREAM.INFO.OBJ_*', '$JS.API.STREAM.INFO.KV_*'],
    subscribe: ['_INBOX.>'],
  },
];
