/**
 * What every component's alerts share: the alert type, and how they read kube-state-metrics so that
 * its restarts neither reset nor end an alert. Each component writes its own alerts (alerts.ts in
 * its folder); the monitoring component assembles them into one PrometheusRule.
 */

/** One alert of the PrometheusRule. */
export interface AlertDefinition {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly severity: 'warning' | 'critical';
  readonly summary: string;
}

/** The job of kube-state-metrics as kube-prometheus-stack's ServiceMonitor scrapes it (and its rules select it). */
export const KSM_JOB = 'kube-state-metrics';

/**
 * How long the last value of a kube-state-metrics series stands in for it while no kube-state-metrics
 * pod answers: Prometheus' own lookback, which the staleness markers of a departed target cut short.
 */
export const KSM_BRIDGE = '5m';

/** Some kube-state-metrics pod answers its scrape. */
export const KSM_ANSWERS = `up{job="${KSM_JOB}"} == 1`;

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
export function ksmBridged(selector: string): string {
  return `${selector} or (last_over_time(${selector}[${KSM_BRIDGE}]) unless on () (${KSM_ANSWERS}))`;
}
