/**
 * The monitoring component: Prometheus Operator objects for the platform. A PodMonitor per
 * component that exports metrics, and one PrometheusRule assembled from every component's alerts
 * (alerts.ts in each folder) and the alerts on the platform's Deployments, written here.
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { PlatformConfig } from '../../src/model/platform';
import { KSM_ANSWERS, ksmBridged, type AlertDefinition } from '../common/alerts';
import { PART_OF, selectorLabels, standardLabels } from '../common/pod-spec';
import type { MonitoringConfig } from './schema';

/** A component's pods whose `metrics` port Prometheus scrapes. */
export interface ScrapeTarget {
  /** app.kubernetes.io/name of the pods (and the PodMonitor's name). */
  readonly name: string;
  /** app.kubernetes.io/component of the PodMonitor. */
  readonly component: string;
}

/** Props of {@link PlatformMonitoring}. */
export interface PlatformMonitoringProps {
  /** The platform-wide settings (namespace, environment name, instance labels). */
  readonly platform: PlatformConfig;
  /** The environment's `monitoring` settings; nothing is rendered unless `enabled`. */
  readonly monitoring: MonitoringConfig;
  /** What Prometheus scrapes, one PodMonitor each, in this order. */
  readonly targets: readonly ScrapeTarget[];
  /** Every alert of the PrometheusRule, in this order. */
  readonly alerts: readonly AlertDefinition[];
}

/**
 * The alerts on the platform's Deployments (every stateless service): none available, or some
 * unavailable for long. The services are the composition's list; each passes its Deployment's name.
 */
export function deploymentAlerts(namespace: string, deploymentNames: readonly string[]): AlertDefinition[] {
  const app = namespace;
  const deployments = deploymentNames.join('|');
  const available = (deployment: string) =>
    `kube_deployment_status_replicas_available{namespace="${app}", deployment${deployment}}`;
  const deploymentsGone = deploymentNames.map((d) => `absent(${available(`="${d}"`)})`).join(' or ');
  return [
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
  ];
}

/**
 * Prometheus Operator objects: PodMonitors for the components that export metrics (the NATS
 * exporter sidecar, oauth2-proxy's metrics port), and a PrometheusRule with the platform's alerts.
 */
export class PlatformMonitoring extends Construct {
  constructor(scope: Construct, id: string, props: PlatformMonitoringProps) {
    super(scope, id);
    const { platform, monitoring } = props;
    if (!monitoring.enabled) return;
    const namespace = platform.namespaces.app;
    for (const target of props.targets) {
      new ApiObject(this, `${target.name}-monitor`, {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PodMonitor',
        metadata: {
          name: target.name,
          namespace,
          labels: { ...standardLabels(target.name, target.component, platform), ...monitoring.selectorLabels },
        },
        spec: {
          selector: { matchLabels: selectorLabels(target.name, platform) },
          namespaceSelector: { matchNames: [namespace] },
          podMetricsEndpoints: [{ port: 'metrics', path: '/metrics', interval: '30s', scheme: 'http' }],
        },
      });
    }

    new ApiObject(this, 'rules', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: {
        name: `${PART_OF}-alerts`,
        namespace,
        labels: { ...standardLabels(`${PART_OF}-alerts`, 'monitoring', platform), ...monitoring.selectorLabels },
      },
      spec: {
        groups: [
          {
            name: `${PART_OF}.rules`,
            rules: props.alerts.map((a) => ({
              alert: a.alert,
              expr: a.expr,
              for: a.for,
              labels: { severity: a.severity, environment: platform.name },
              annotations: { summary: a.summary },
            })),
          },
        ],
      },
    });
  }
}
