/**
 * Does the platform fit the cluster it declares? Computed from the rendered objects, so it counts
 * exactly what ships: every workload at its maximum (HPA or KEDA maxReplicas), one surge pod per
 * Deployment during a rolling update, the executor ResourceQuota fully used, and one run of each
 * CronJob (concurrencyPolicy Forbid keeps it to one; otherwise two runs are counted).
 */
import type { EnvironmentConfig } from '../../apps/environment';
import {
  asObj,
  jobSpecOf,
  podRequests,
  podSpecOf,
  replicaRange,
  rolloutSurge,
  type Amount,
  type Manifest,
  type QuantityParsers,
} from '../model/objects';
import { formatCpu, parseCpu, parseMemory } from '../model/quantity';

/** One line of the capacity sum. */
export interface CapacityLine {
  /** e.g. "Deployment frontend" or "ResourceQuota executor-quota". */
  readonly what: string;
  /** Pods counted (replicas at maximum, plus surge). */
  readonly pods: number;
  /** Requests of one pod (for the quota: of the whole quota). */
  readonly perPod: Amount;
  readonly total: Amount;
  readonly note: string;
}

export interface CapacityReport {
  readonly lines: readonly CapacityLine[];
  readonly requested: Amount;
  readonly capacity: Amount;
  /** capacity - requested; negative when the platform does not fit. */
  readonly headroom: Amount;
  /** Concurrent executor jobs the quota admits. */
  readonly executorJobs: number;
  /** Pods whose requests exceed one node's allocatable. */
  readonly podsTooBig: readonly string[];
}

const QUANTITIES: QuantityParsers = { cpu: parseCpu, memory: parseMemory };

/** Requests of one pod of a workload object. */
function requestsOf(o: Manifest): Amount {
  return podRequests(podSpecOf(o) ?? {}, QUANTITIES);
}

/** The capacity sum of one environment's rendered objects. */
export function capacityReport(env: EnvironmentConfig, objects: readonly Manifest[]): CapacityReport {
  const lines: CapacityLine[] = [];
  const allocatable = {
    cpu: parseCpu(env.cluster.nodeAllocatable.cpu),
    memory: parseMemory(env.cluster.nodeAllocatable.memory),
  };
  const podsTooBig: string[] = [];
  let executorJobs = 0;
  for (const o of objects) {
    const spec = asObj(o.spec);
    if (o.kind === 'Deployment' || o.kind === 'StatefulSet') {
      const perPod = requestsOf(o);
      const range = replicaRange(objects, o);
      const replicas = range?.max ?? 1;
      const scaler = range?.autoscaler;
      const by = scaler?.object.kind === 'ScaledObject' ? 'KEDA max' : 'HPA max';
      const surge = o.kind === 'Deployment' ? rolloutSurge(o, replicas, objects) : 0;
      const pods = replicas + surge;
      lines.push({
        what: `${o.kind} ${o.metadata.name}`,
        pods,
        perPod,
        total: { cpu: perPod.cpu * pods, memory: perPod.memory * pods },
        note: `${replicas} replicas${scaler ? ` (${by})` : ''}${surge > 0 ? ` + ${surge} surge` : ''}`,
      });
      if (perPod.cpu > allocatable.cpu || perPod.memory > allocatable.memory)
        podsTooBig.push(`${o.kind} ${o.metadata.name}`);
    }
    if (o.kind === 'ResourceQuota' && o.metadata.namespace === env.namespaces.executor) {
      const hard = asObj(spec.hard);
      const total = {
        cpu: parseCpu(String(hard['requests.cpu'] ?? '0')),
        memory: parseMemory(String(hard['requests.memory'] ?? '0')),
      };
      executorJobs = Number(hard.pods ?? 0);
      lines.push({
        what: `ResourceQuota ${o.metadata.name}`,
        pods: executorJobs,
        perPod: { cpu: total.cpu / Math.max(executorJobs, 1), memory: total.memory / Math.max(executorJobs, 1) },
        total,
        note: `${executorJobs} concurrent executor jobs at full use`,
      });
    }
    if (o.kind === 'CronJob') {
      const perPod = requestsOf(o);
      const job = asObj(jobSpecOf(o));
      const parallelism = typeof job.parallelism === 'number' ? job.parallelism : 1;
      const runs = spec.concurrencyPolicy === 'Forbid' || spec.concurrencyPolicy === 'Replace' ? 1 : 2;
      const pods = runs * parallelism;
      lines.push({
        what: `${o.kind} ${o.metadata.name}`,
        pods,
        perPod,
        total: { cpu: perPod.cpu * pods, memory: perPod.memory * pods },
        note: `${runs} run${runs > 1 ? 's' : ''} at a time (concurrencyPolicy ${String(spec.concurrencyPolicy ?? 'Allow')})`,
      });
      if (perPod.cpu > allocatable.cpu || perPod.memory > allocatable.memory)
        podsTooBig.push(`${o.kind} ${o.metadata.name}`);
    }
    if (o.kind === 'PodTemplate') {
      const perPod = requestsOf(o);
      if (perPod.cpu > allocatable.cpu || perPod.memory > allocatable.memory)
        podsTooBig.push(`PodTemplate ${o.metadata.name}`);
    }
  }
  const requested = lines.reduce((a, l) => ({ cpu: a.cpu + l.total.cpu, memory: a.memory + l.total.memory }), {
    cpu: 0,
    memory: 0,
  });
  const capacity = { cpu: allocatable.cpu * env.cluster.nodes, memory: allocatable.memory * env.cluster.nodes };
  return {
    lines,
    requested,
    capacity,
    headroom: { cpu: capacity.cpu - requested.cpu, memory: capacity.memory - requested.memory },
    executorJobs,
    podsTooBig,
  };
}

/** Problems with the fit, phrased for the environment file's author; empty when it fits. */
export function capacityProblems(report: CapacityReport, env: EnvironmentConfig): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  const { requested: r, capacity: c, headroom: h } = report;
  if (h.cpu < 0 || h.memory < 0) {
    const short = [
      h.cpu < 0 ? `${formatCpu(-h.cpu)} CPU` : undefined,
      h.memory < 0 ? `${formatMemoryMi(-h.memory)} memory` : undefined,
    ]
      .filter(Boolean)
      .join(' and ');
    out.push({
      path: 'executors.maxConcurrentJobs',
      message:
        `the platform at full scale requests ${formatCpu(r.cpu)} CPU and ${formatMemoryMi(r.memory)}, but the cluster ` +
        `(${env.cluster.nodes} × ${env.cluster.nodeAllocatable.cpu} CPU, ${env.cluster.nodeAllocatable.memory}) has ` +
        `${formatCpu(c.cpu)} CPU and ${formatMemoryMi(c.memory)}: short by ${short}. ` +
        'Lower executors.maxConcurrentJobs or the per-job size, lower autoscaling maxima, or add nodes.',
    });
  }
  for (const p of report.podsTooBig) {
    out.push({
      path: 'cluster.nodeAllocatable',
      message: `${p} requests more than one node has (${env.cluster.nodeAllocatable.cpu} CPU, ${env.cluster.nodeAllocatable.memory}); it can never be scheduled.`,
    });
  }
  return out;
}

/** Memory in Mi, for messages and reports. */
export function formatMemoryMi(bytes: number): string {
  return `${Math.round(bytes / 1024 ** 2)}Mi`;
}
