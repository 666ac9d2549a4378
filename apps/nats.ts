import type { Resources } from '../src/config';
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
} as const;
