import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { EnvironmentConfig } from '../src/config';
import { PART_OF, selectorLabels, standardLabels } from './pod-spec';

/** Props of {@link PlatformMonitoring}. */
export interface PlatformMonitoringProps {
  /** The environment being rendered; nothing is rendered unless monitoring.enabled. */
  readonly env: EnvironmentConfig;
}

/** One alert of the PrometheusRule. */
export interface AlertDefinition {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly severity: 'warning' | 'critical';
  readonly summary: string;
}

/** ExecutorPodsFailing fires when at least this many executor pods ended Failed within FAILED_WINDOW. */
export const FAILED_PODS = 3;
const FAILED_WINDOW = '10m';
const FAILED_WINDOW_TEXT = '10 minutes';

/** The platform's alerts for an environment. */
export function platformAlerts(env: EnvironmentConfig): AlertDefinition[] {
  const app = env.namespaces.app;
  const exe = env.namespaces.executor;
  const natsJob = `${app}/nats`;
  const replicas = env.services.nats.replicas;
  const deployments = 'middleware|frontend|oauth2-proxy';
  const natsHealthy = `gnatsd_healthz_status{job="${natsJob}"} == 0`;
  return [
    {
      // The exporter sidecar keeps answering scrapes (up == 1) when nats-server is dead, and 0.15.0
      // keeps serving the last /varz values; only gnatsd_healthz_status (-healthz: 0 = ok) goes away
      // when it cannot reach the server, and turns 1 when /healthz fails. Per pod: a target whose
      // healthz is not 0 (absent, 1, or the whole scrape failing) is a NATS server down.
      alert: 'NatsServerDown',
      expr: `up{job="${natsJob}"} unless on (namespace, pod) (${natsHealthy})`,
      for: '2m',
      severity: 'critical',
      summary:
        'NATS server {{ $labels.pod }} is down: its /healthz has not been ok through the exporter sidecar for 2 minutes.',
    },
    {
      // Healthy servers (healthz ok) against the StatefulSet's replicas; vector(0) when there are none.
      alert: 'NatsClusterSizeShort',
      expr: `(count(${natsHealthy}) or vector(0)) < ${replicas}`,
      for: '5m',
      severity: 'critical',
      summary: `Only {{ $value }} of ${replicas} NATS server(s) are healthy.`,
    },
    {
      alert: 'JetStreamStorageHigh',
      expr: `gnatsd_varz_jetstream_stats_storage{job="${natsJob}"} / gnatsd_varz_jetstream_config_max_storage{job="${natsJob}"} > 0.8`,
      for: '10m',
      severity: 'warning',
      summary: 'JetStream file store above 80% on {{ $labels.pod }}.',
    },
    {
      // Job pods fail and are deleted by the middleware within moments, so an instant sum of Failed
      // pods neither counts them nor lasts; and one failed pod left undeleted is one job, not a trend.
      // Count the distinct pods seen in phase Failed over the window instead.
      alert: 'ExecutorPodsFailing',
      expr:
        `count(max by (namespace, pod) (max_over_time(kube_pod_status_phase{namespace="${exe}", phase="Failed"}[${FAILED_WINDOW}])) == 1) ` +
        `>= ${FAILED_PODS}`,
      for: '0m',
      severity: 'warning',
      summary: `{{ $value }} executor pods ended in phase Failed in the last ${FAILED_WINDOW_TEXT} (deadline, OOM or image errors).`,
    },
    {
      // Per pod, so the 5 minutes are one pod's wait, not several brief waits in a row; max by
      // (namespace, pod) so a kube-state-metrics restart or a second replica does not reset or double it.
      alert: 'ExecutorPodsPending',
      expr: `max by (namespace, pod) (kube_pod_status_phase{namespace="${exe}", phase="Pending"}) == 1`,
      for: '5m',
      severity: 'warning',
      summary: 'Executor pod {{ $labels.pod }} has been Pending for 5 minutes: jobs are waiting for capacity.',
    },
    {
      alert: 'ExecutorQuotaExhausted',
      expr:
        `max by (resource) (kube_resourcequota{namespace="${exe}", type="used"}) ` +
        `/ max by (resource) (kube_resourcequota{namespace="${exe}", type="hard"}) >= 1`,
      for: '10m',
      severity: 'warning',
      summary: 'The executor ResourceQuota ({{ $labels.resource }}) is fully used: new jobs are refused.',
    },
    {
      alert: 'PlatformDeploymentUnavailable',
      // max by (namespace, deployment): a kube-state-metrics restart (new instance label) must not
      // restart the for: clock, and a second kube-state-metrics replica must not double the alert.
      expr: `max by (namespace, deployment) (kube_deployment_status_replicas_available{namespace="${app}", deployment=~"${deployments}"}) == 0`,
      for: '3m',
      severity: 'critical',
      summary: '{{ $labels.deployment }} has no available replicas.',
    },
    {
      alert: 'PlatformDeploymentDegraded',
      expr: `max by (namespace, deployment) (kube_deployment_status_replicas_unavailable{namespace="${app}", deployment=~"${deployments}"}) > 0`,
      for: '15m',
      severity: 'warning',
      summary: '{{ $labels.deployment }} has had unavailable replicas for 15 minutes.',
    },
    {
      alert: 'OAuth2Proxy5xxRate',
      expr:
        `sum(rate(oauth2_proxy_requests_total{namespace="${app}", code=~"5.."}[5m])) ` +
        `/ sum(rate(oauth2_proxy_requests_total{namespace="${app}"}[5m])) > 0.05`,
      for: '10m',
      severity: 'warning',
      summary: 'More than 5% of requests through oauth2-proxy end in 5xx.',
    },
  ];
}

/**
 * Prometheus Operator objects: PodMonitors for the NATS exporter sidecar and oauth2-proxy's
 * metrics port, and a PrometheusRule with the platform's alerts.
 */
export class PlatformMonitoring extends Construct {
  constructor(scope: Construct, id: string, props: PlatformMonitoringProps) {
    super(scope, id);
    const { env } = props;
    if (!env.monitoring.enabled) return;
    const namespace = env.namespaces.app;
    const monitor = (name: string, component: string) =>
      new ApiObject(this, `${name}-monitor`, {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PodMonitor',
        metadata: {
          name,
          namespace,
          labels: { ...standardLabels(name, component, env), ...env.monitoring.selectorLabels },
        },
        spec: {
          selector: { matchLabels: selectorLabels(name, env) },
          namespaceSelector: { matchNames: [namespace] },
          podMetricsEndpoints: [{ port: 'metrics', path: '/metrics', interval: '30s', scheme: 'http' }],
        },
      });
    monitor('nats', 'messaging');
    monitor('oauth2-proxy', 'auth-proxy');

    new ApiObject(this, 'rules', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: {
        name: `${PART_OF}-alerts`,
        namespace,
        labels: { ...standardLabels(`${PART_OF}-alerts`, 'monitoring', env), ...env.monitoring.selectorLabels },
      },
      spec: {
        groups: [
          {
            name: `${PART_OF}.rules`,
            rules: platformAlerts(env).map((a) => ({
              alert: a.alert,
              expr: a.expr,
              for: a.for,
              labels: { severity: a.severity, environment: env.name },
              annotations: { summary: a.summary },
            })),
          },
        ],
      },
    });
  }
}
