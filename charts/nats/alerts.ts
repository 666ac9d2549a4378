/** NATS's alerts: a server down, the cluster short of servers, the file store nearly full. */
import type { AlertDefinition } from '../common/alerts';
import type { NatsPlan } from './plan';

export function natsAlerts(plan: NatsPlan): AlertDefinition[] {
  const app = plan.namespace;
  const natsJob = `${app}/${plan.name}`;
  const replicas = plan.replicas;
  const natsPods = Array.from({ length: replicas }, (_x, i) => `${plan.name}-${i}`);
  const natsHealthy = `gnatsd_healthz_status{job="${natsJob}"} == 0`;
  const natsTargets = [
    `up{job="${natsJob}"}`,
    ...natsPods.map((pod) => `absent(up{job="${natsJob}", namespace="${app}", pod="${pod}"})`),
  ].join(' or ');
  return [
    {
      // The exporter sidecar keeps answering scrapes (up == 1) when nats-server is dead, and 0.15.0
      // keeps serving the last /varz values; only gnatsd_healthz_status (-healthz: 0 = ok) goes away
      // when it cannot reach the server, and turns 1 when /healthz fails. Per StatefulSet pod: a pod
      // whose healthz is not 0 (absent, 1, or the whole scrape failing) is a NATS server down.
      // By (namespace, pod), the names a replaced pod keeps: its new IP (instance) must not start a new
      // alert. A pod with no target at all (drained and not back yet, or the StatefulSet pruned) counts
      // too, through absent() per expected pod: otherwise its clock would start again with every
      // replacement, and a 3-minute outage during a drain would page nobody.
      alert: 'NatsServerDown',
      expr: `max by (namespace, pod) (${natsTargets}) unless on (namespace, pod) (${natsHealthy})`,
      for: '2m',
      severity: 'critical',
      summary:
        'NATS server {{ $labels.pod }} is down: its /healthz has not been ok through the exporter sidecar for 2 minutes.',
    },
    {
      // Healthy servers (healthz ok) against the StatefulSet's replicas; vector(0) when there are none
      // (every target gone, as when the StatefulSet is pruned). No labels, so no replacement resets it.
      alert: 'NatsClusterSizeShort',
      expr: `(count(${natsHealthy}) or vector(0)) < ${replicas}`,
      for: '5m',
      severity: 'critical',
      summary: `Only {{ $value }} of ${replicas} NATS server(s) are healthy.`,
    },
    {
      // Only while the server's /healthz is ok: when nats-server dies, exporter 0.15.0 keeps serving its
      // last /varz values (a failed request still leaves an empty answer, and its gauges are never
      // reset: collector/collector.go at v0.15.0, read, not run), which would keep this firing on a
      // number nobody measures any more. NatsServerDown reports the dead server instead, and
      // the 10 minutes start again when it is back. By (namespace, pod), as NatsServerDown.
      alert: 'JetStreamStorageHigh',
      expr:
        `(max by (namespace, pod) (gnatsd_varz_jetstream_stats_storage{job="${natsJob}"} / gnatsd_varz_jetstream_config_max_storage{job="${natsJob}"}) > 0.8) ` +
        `and on (namespace, pod) (${natsHealthy})`,
      for: '10m',
      severity: 'warning',
      summary: 'JetStream file store above 80% on {{ $labels.pod }}.',
    },
  ];
}
