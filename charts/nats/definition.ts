import type { Resources } from '../../src/model/schema';
import { EXECUTOR_QUEUES } from '../executors/plan';
import type { HttpProbeDefinition, PortDefinition } from '../common/service-definition';

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

/** The inbox prefix of a NATS platform user: `_INBOX_<user>`, never the shared `_INBOX`. */
export function inboxPrefix(user: string): string {
  return `_INBOX_${user}`;
}

/** Subject permissions of one NATS user: only what is listed is allowed. */
export interface NatsUserDefinition {
  readonly user: string;
  /** Key of the password in the NATS credentials Secret. */
  readonly passwordKey: string;
  /**
   * Inbox prefix the user's client must use (NATS_INBOX_PREFIX): replies, JetStream API answers and
   * consumer deliveries for this user arrive below it, and only this user may subscribe there.
   */
  readonly inboxPrefix: string;
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
  /** Why these subjects, for reviewers. */
  readonly why: string;
}

/*
 * NATS wildcards match whole tokens only: `KV_*` is a literal, not a prefix. A JetStream API
 * subject names the stream as one token (`$JS.API.STREAM.INFO.KV_<user>`), so the only way to
 * reach every user's bucket is `*` for that token, which also matches the OBJ_ streams. Every
 * stream on this server is a per-user KV bucket or object store, so `*` grants nothing beyond
 * them; the narrowing that matters is by operation (info, read, write, create, delete).
 * The lists below were found by running the real clients (nats.go, nats.js) against the real
 * server: test/real/software/nats.real.test.ts fails if any is missing or superfluous.
 */
/** Least-privilege users; nothing grants stream deletion or purge, or another user's inbox. */
export const NATS_USERS: readonly NatsUserDefinition[] = [
  {
    user: 'frontend',
    passwordKey: 'frontend-password',
    inboxPrefix: inboxPrefix('frontend'),
    why: 'publishes jobs to the language queues; reads job state (KV latest, history, keys) and lists and downloads outputs',
    publish: [
      ...EXECUTOR_QUEUES,
      '$JS.API.INFO',
      '$JS.API.STREAM.INFO.*',
      '$JS.API.STREAM.MSG.GET.*',
      '$JS.API.DIRECT.GET.*.>',
      '$JS.API.CONSUMER.CREATE.*.>',
      '$JS.API.CONSUMER.INFO.*.*',
    ],
    subscribe: [`${inboxPrefix('frontend')}.>`],
  },
  {
    user: 'middleware',
    passwordKey: 'middleware-password',
    inboxPrefix: inboxPrefix('middleware'),
    why: "consumes the language queues as one queue group; creates each user's KV bucket and object store and records jobs",
    publish: ['$JS.API.INFO', '$JS.API.STREAM.INFO.*', '$JS.API.STREAM.CREATE.*', '$KV.*.>'],
    subscribe: [...EXECUTOR_QUEUES, `${inboxPrefix('middleware')}.>`],
  },
  {
    user: 'executor',
    passwordKey: 'executor-password',
    inboxPrefix: inboxPrefix('executor'),
    why: 'stores its job output (object chunks and metadata) and records the result; reads nothing but object metadata',
    publish: [
      '$JS.API.STREAM.INFO.*',
      // An object put first looks up the object's metadata; this direct get matches only the
      // metadata subjects of object stores ($O.<bucket>.M.<name>), never a KV record or a chunk.
      '$JS.API.DIRECT.GET.*.$O.*.M.*',
      '$O.*.C.*',
      '$O.*.M.*',
      '$KV.*.>',
    ],
    subscribe: [`${inboxPrefix('executor')}.>`],
  },
];
