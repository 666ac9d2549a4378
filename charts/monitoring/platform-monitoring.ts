import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { frontend } from '../frontend/definition';
import { middleware } from '../middleware/definition';
import { nats } from '../nats/definition';
import { oauth2Proxy } from '../oauth2-proxy/definition';
import type { EnvironmentConfig } from '../../src/model/config';
import { PART_OF, selectorLabels, standardLabels } from '../common/pod-spec';

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

/** ExecutorPodsFailing fires when at least this many executor pods became Failed within FAILED_WINDOW. */
export const FAILED_PODS = 3;
const FAILED_WINDOW = '10m';
const FAILED_WINDOW_TEXT = '10 minutes';

/** OAuth2Proxy5xxRate needs at least this many requests a second (5m rate): 60 requests in the window. */
export const OAUTH2_MIN_REQUESTS_PER_SECOND = 0.2;

/** The job of kube-state-metrics as kube-prometheus-stack's ServiceMonitor scrapes it (and its rules select it). */
export const KSM_JOB = 'kube-state-metrics';

/**
 * How long the last value of a kube-state-metrics series stands in for it while no kube-state-metrics
 * pod answers: Prometheus' own lookback, which the staleness markers of a departed target cut short.
 */
export const KSM_BRIDGE = '5m';

/** Some kube-state-metrics pod answers its scrape. */
const KSM_ANSWERS = `up{job="${KSM_JOB}"} == 1`;

/**
 * The series of a kube-state-metrics `selector`, or, while no kube-state-metrics pod answers (a
 * restart, a drain of its node, a failed scrape), the last value each had within KSM_BRIDGE.
 *
 * When its target goes, Prometheus marks every kube-state-metrics series stale at once, so without
 * this a pending alert's series vanishes and its `for:` starts again when the new pod answers.
 * keep_firing_for does not help there: it holds only alerts already firing; a pending alert whose
 * series is gone is dropped (rules/alerting.go of Prometheus 3.15, read, not run). `max by` over the
 * result still merges a rolling update's two pods (new `instance` and `pod` labels). While some
 * kube-state-metrics pod answers, a missing series means a missing object: no stand-in then, so a
 * deleted pod or Deployment does not linger.
 */
function ksmBridged(selector: string): string {
  return `${selector} or (last_over_time(${selector}[${KSM_BRIDGE}]) unless on () (${KSM_ANSWERS}))`;
}

/** The platform's alerts for an environment. */
export function platformAlerts(env: EnvironmentConfig): AlertDefinition[] {
  const app = env.namespaces.app;
  const exe = env.namespaces.executor;
  const natsJob = `${app}/nats`;
  const replicas = env.services.nats.replicas;
  const natsPods = Array.from({ length: replicas }, (_x, i) => `${nats.name}-${i}`);
  const deploymentNames = [middleware.name, frontend.name, oauth2Proxy.name];
  const deployments = deploymentNames.join('|');
  const natsHealthy = `gnatsd_healthz_status{job="${natsJob}"} == 0`;
  const natsTargets = [
    `up{job="${natsJob}"}`,
    ...natsPods.map((pod) => `absent(up{job="${natsJob}", namespace="${app}", pod="${pod}"})`),
  ].join(' or ');
  const failed = (offset: string) =>
    `max by (namespace, pod) (max_over_time(kube_pod_status_phase{namespace="${exe}", phase="Failed"}[${FAILED_WINDOW}]${offset})) == 1`;
  const available = (deployment: string) =>
    `kube_deployment_status_replicas_available{namespace="${app}", deployment${deployment}}`;
  const deploymentsGone = deploymentNames.map((d) => `absent(${available(`="${d}"`)})`).join(' or ');
  const proxyRate = (code: string) => `sum(rate(oauth2_proxy_requests_total{namespace="${app}"${code}}[5m]))`;
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
    {
      // Failed executor pods stay until the executor reaper deletes them, 10 to 15 minutes after they
      // finished (REAPER_MIN_AGE_SECONDS 600 and a run every 5 minutes), so counting the pods seen in
      // phase Failed within the window would count one failure in every window it overlaps: one failed
      // job every 11 minutes would read as 3. Count the pods that became Failed within the window: seen
      // Failed in it, and not in the window before. This holds for any retention: a pod kept Failed
      // across both windows is an old failure. By (namespace, pod): a kube-state-metrics restart (new
      // instance and pod labels) does not make a kept pod new.
      alert: 'ExecutorPodsFailing',
      expr:
        `count((${failed('')}) unless on (namespace, pod) (${failed(` offset ${FAILED_WINDOW}`)})) ` +
        `>= ${FAILED_PODS}`,
      for: '0m',
      severity: 'warning',
      summary: `{{ $value }} executor pods ended in phase Failed in the last ${FAILED_WINDOW_TEXT} (deadline, OOM or image errors).`,
    },
    {
      // Per pod, so the 5 minutes are one pod's wait, not several brief waits in a row; max by
      // (namespace, pod) so a kube-state-metrics rolling update or a second replica does not reset or
      // double it, and bridged so that kube-state-metrics being away does not restart the 5 minutes.
      alert: 'ExecutorPodsPending',
      expr: `max by (namespace, pod) (${ksmBridged(`kube_pod_status_phase{namespace="${exe}", phase="Pending"}`)}) == 1`,
      for: '5m',
      severity: 'warning',
      summary: 'Executor pod {{ $labels.pod }} has been Pending for 5 minutes: jobs are waiting for capacity.',
    },
    {
      // Bridged, as ExecutorPodsPending: a kube-state-metrics restart must not restart the 10 minutes.
      alert: 'ExecutorQuotaExhausted',
      expr:
        `max by (resource) (${ksmBridged(`kube_resourcequota{namespace="${exe}", type="used"}`)}) ` +
        `/ max by (resource) (${ksmBridged(`kube_resourcequota{namespace="${exe}", type="hard"}`)}) >= 1`,
      for: '10m',
      severity: 'warning',
      summary: 'The executor ResourceQuota ({{ $labels.resource }}) is fully used: new jobs are refused.',
    },
    {
      // max by (namespace, deployment): a kube-state-metrics rolling update (new instance and pod
      // labels) must not restart the for: clock, and a second replica must not double the alert;
      // bridged, so kube-state-metrics being away does not restart it either. A Deployment that is gone
      // (pruned by a bad sync) has no series at all, and `== 0` on nothing is nothing: absent() per
      // Deployment, with the labels of the first part, while kube-state-metrics answers (when it does
      // not, everything is absent and the bridge stands in).
      alert: 'PlatformDeploymentUnavailable',
      expr:
        `(max by (namespace, deployment) (${ksmBridged(available(`=~"${deployments}"`))}) == 0) ` +
        `or ((${deploymentsGone}) and on () (${KSM_ANSWERS}))`,
      for: '3m',
      severity: 'critical',
      summary: '{{ $labels.deployment }} has no available replicas.',
    },
    {
      // As PlatformDeploymentUnavailable; a pruned Deployment is that alert's, not this one's.
      alert: 'PlatformDeploymentDegraded',
      expr: `max by (namespace, deployment) (${ksmBridged(`kube_deployment_status_replicas_unavailable{namespace="${app}", deployment=~"${deployments}"}`)}) > 0`,
      for: '15m',
      severity: 'warning',
      summary: '{{ $labels.deployment }} has had unavailable replicas for 15 minutes.',
    },
    {
      // With a minimum traffic: on a quiet night one failed request in a handful is already more than
      // 5% (and the 5xx counter only exists from its first request on). Below 0.2 requests a second
      // (60 in the 5 minutes) a few errors are not a rate.
      alert: 'OAuth2Proxy5xxRate',
      expr:
        `(${proxyRate(', code=~"5.."')} / ${proxyRate('')} > 0.05) ` +
        `and (${proxyRate('')} >= ${OAUTH2_MIN_REQUESTS_PER_SECOND})`,
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
