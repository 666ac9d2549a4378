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

/** The supported NATS clients (NATS_CLIENTS). */
export type NatsClientId = 'nats.go-oldest' | 'nats.go-newest' | 'nats.js-v2' | 'nats.js-v3';

/** A NATS client library and version the platform supports (README, "NATS clients"). */
export interface NatsClientDefinition {
  /** Short name used by the tests and the report. */
  readonly id: NatsClientId;
  /** How comments and the report name it. */
  readonly label: string;
  /** The library as its users install it. */
  readonly library: string;
  readonly version: string;
  /** The roles whose images may use it. */
  readonly roles: readonly ('frontend' | 'middleware' | 'executor')[];
  /** Why this version is in the matrix. */
  readonly why: string;
}

/**
 * The client matrix: the real-software suite runs the whole data flow and the denial matrix with
 * each entry, in every environment. nats.go's range starts at v1.32.0, the first release whose
 * `jetstream` package has both KeyValue and ObjectStore (v1.31.0 lacks ObjectStore); the Go
 * programs are built at both ends (tools/go/nats-client, tools/go/nats-client-latest).
 */
export const NATS_CLIENTS: readonly NatsClientDefinition[] = [
  {
    id: 'nats.go-oldest',
    label: 'nats.go v1.32',
    library: 'github.com/nats-io/nats.go (jetstream package)',
    version: 'v1.32.0',
    roles: ['middleware', 'executor'],
    why: 'the oldest release with jetstream.KeyValue and jetstream.ObjectStore',
  },
  {
    id: 'nats.go-newest',
    label: 'nats.go v1.56',
    library: 'github.com/nats-io/nats.go (jetstream package)',
    version: 'v1.56.0',
    roles: ['middleware', 'executor'],
    why: 'the newest release',
  },
  {
    id: 'nats.js-v2',
    label: 'nats.js v2',
    library: 'nats (npm)',
    version: '2.29.3',
    roles: ['frontend', 'executor'],
    why: "the v2 line's last release, the line a Next.js application of the thesis's era uses",
  },
  {
    id: 'nats.js-v3',
    label: 'nats.js v3',
    library: '@nats-io/transport-node, @nats-io/kv, @nats-io/obj (npm)',
    version: '3.4.0',
    roles: ['frontend', 'executor'],
    why: 'the current line',
  },
];

/** A subject a user may use, and which clients need it for which operation (rendered as a comment). */
export interface NatsSubject {
  readonly subject: string;
  /**
   * The supported clients that need it (NATS_CLIENTS): test/real/software/nats-subjects.real.test.ts
   * proves each of them fails the operation without it.
   */
  readonly clients: readonly NatsClientId[];
  /** The operation of the image contract that needs it. */
  readonly op: string;
}

const GO: readonly NatsClientId[] = ['nats.go-oldest', 'nats.go-newest'];
const JS: readonly NatsClientId[] = ['nats.js-v2', 'nats.js-v3'];
const JS2: readonly NatsClientId[] = ['nats.js-v2'];
const JS3: readonly NatsClientId[] = ['nats.js-v3'];
const ALL: readonly NatsClientId[] = [...GO, ...JS];

/** "<clients>: <operation>", as nats.conf's comments and the audit report say why a subject is allowed. */
export function subjectNeed(s: NatsSubject): string {
  const labels = s.clients.map((id) => NATS_CLIENTS.find((c) => c.id === id)?.label ?? id);
  const go = GO.every((id) => s.clients.includes(id));
  const named = go ? ['nats.go', ...labels.filter((l) => !l.startsWith('nats.go'))] : labels;
  return `${named.join(', ')}: ${s.op}`;
}

/** Subject permissions of one NATS user: only what is listed is allowed. */
export interface NatsUserDefinition {
  /** The platform role; its nkey comes from Secret keys `<user>-nkey` (public) and `<user>-nkey-seed`. */
  readonly user: 'frontend' | 'middleware';
  /**
   * Inbox prefix the user's client must use (NATS_INBOX_PREFIX): replies, JetStream API answers and
   * consumer deliveries for this user arrive below it, and only this user may subscribe there.
   */
  readonly inboxPrefix: string;
  readonly publish: readonly NatsSubject[];
  readonly subscribe: readonly NatsSubject[];
  /** May answer requests it received (the auth callout's replies), once each. */
  readonly allowResponses?: boolean;
  /** Why these subjects, for reviewers. */
  readonly why: string;
}

/*
 * NATS wildcards match whole tokens only: `KV_*` is a literal, not a prefix. A JetStream API
 * subject names the stream as one token (`$JS.API.STREAM.INFO.KV_<user>`), so the only way to
 * reach every user's bucket is `*` for that token, which also matches the OBJ_ streams. Every
 * stream of the platform's account is a per-user KV bucket or object store, so `*` grants nothing
 * beyond them; the narrowing that matters is by operation (info, read, write, create, delete).
 * The lists were found by running every supported client (README, "NATS clients": nats.go v1.32 to
 * v1.56, nats.js v2 `nats` and v3 `@nats-io/*`) against the real server:
 * test/real/software/nats.real.test.ts fails if a client needs a subject that is missing, and
 * test/real/software/nats-subjects.real.test.ts if a subject is needed by none.
 */

/** The subject the auth callout service answers (nats-server's own, in the platform's account). */
export const AUTH_CALLOUT_SUBJECT = '$SYS.REQ.USER.AUTH';

/** The NATS account every platform client is in (JetStream is enabled for it alone). */
export const NATS_ACCOUNT = 'coderun';

/** Least-privilege users with nkeys; nothing grants stream deletion or purge, or another user's inbox. */
export const NATS_USERS: readonly NatsUserDefinition[] = [
  {
    user: 'frontend',
    inboxPrefix: inboxPrefix('frontend'),
    why: 'publishes jobs to the language queues; reads job state (KV latest, history, keys) and lists and downloads outputs',
    publish: [
      ...EXECUTOR_QUEUES.map((q) => ({ subject: q, clients: JS, op: 'publish a job' })),
      { subject: '$JS.API.INFO', clients: JS, op: 'open a bucket asks account info' },
      { subject: '$JS.API.STREAM.INFO.*', clients: JS, op: 'open a bucket' },
      {
        subject: '$JS.API.STREAM.NAMES',
        clients: JS2,
        op: 'list objects, get an object (finds the stream by subject)',
      },
      {
        subject: '$JS.API.STREAM.MSG.GET.*',
        clients: JS,
        op: 'KV get and object get read the last message of a subject',
      },
      {
        subject: '$JS.API.CONSUMER.CREATE.*',
        clients: JS2,
        op: 'KV keys and history, object list and get (unfiltered form)',
      },
      { subject: '$JS.API.CONSUMER.CREATE.*.>', clients: JS3, op: 'KV keys and history, object list and get' },
      { subject: '$JS.API.CONSUMER.INFO.*.*', clients: JS3, op: 'ordered consumer status while reading' },
    ],
    subscribe: [{ subject: `${inboxPrefix('frontend')}.>`, clients: JS, op: 'replies and consumer deliveries' }],
  },
  {
    user: 'middleware',
    inboxPrefix: inboxPrefix('middleware'),
    why: "consumes the language queues as one queue group; creates each user's KV bucket and object store and records jobs; answers the auth callout with each executor's per-job credential",
    publish: [
      { subject: '$JS.API.INFO', clients: GO, op: 'create a bucket checks the account' },
      { subject: '$JS.API.STREAM.INFO.*', clients: GO, op: 'open or create a bucket' },
      { subject: '$JS.API.STREAM.CREATE.*', clients: GO, op: "create a user's KV bucket and object store" },
      { subject: '$KV.*.>', clients: GO, op: 'record a job as Pending' },
    ],
    subscribe: [
      ...EXECUTOR_QUEUES.map((q) => ({ subject: q, clients: GO, op: 'consume jobs as one queue group' })),
      { subject: AUTH_CALLOUT_SUBJECT, clients: GO, op: 'answer the auth callout (executors)' },
      { subject: `${inboxPrefix('middleware')}.>`, clients: GO, op: 'replies' },
    ],
    allowResponses: true,
  },
];

/**
 * What one executor job may do, as a template the middleware fills in for each job when it answers
 * the auth callout: `{user}` is USER_ID, `{job}` is JOB_ID, `{object}` is the object store's
 * metadata token of the job's output `<JOB_ID>-output.zip` (base64url, padded). Nothing here reaches
 * another user's bucket or another job's record or output.
 */
export const EXECUTOR_JOB_SCOPE = {
  why: "stores its job's output (chunks and metadata) and records its result; nothing of another job or user",
  inboxPrefix: '_INBOX_executor.{job}',
  publish: [
    { subject: '$JS.API.INFO', clients: JS, op: 'open the object store asks account info' },
    { subject: '$JS.API.STREAM.INFO.KV_{user}', clients: GO, op: "open the user's KV bucket" },
    { subject: '$JS.API.STREAM.INFO.OBJ_{user}', clients: ALL, op: "open the user's object store" },
    {
      subject: '$JS.API.DIRECT.GET.OBJ_{user}.$O.{user}.M.{object}',
      clients: GO,
      op: 'an object put first looks up its own metadata',
    },
    {
      subject: '$JS.API.STREAM.MSG.GET.OBJ_{user}',
      clients: JS,
      op: "an object put looks up its metadata by subject in the body (reads only this user's store)",
    },
    { subject: '$O.{user}.C.*', clients: ALL, op: 'the output chunks, under a random id the client picks' },
    { subject: '$O.{user}.M.{object}', clients: ALL, op: "the output's metadata" },
    { subject: '$KV.{user}.{job}', clients: ALL, op: "record the job's result" },
  ],
  subscribe: [{ subject: '_INBOX_executor.{job}.>', clients: ALL, op: 'replies to this job only' }],
} as const satisfies {
  readonly why: string;
  readonly inboxPrefix: string;
  readonly publish: readonly NatsSubject[];
  readonly subscribe: readonly NatsSubject[];
};
