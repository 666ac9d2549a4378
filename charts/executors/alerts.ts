/** The executors' alerts: jobs failing, waiting for capacity, or refused by the quota. */
import { ksmBridged, type AlertDefinition } from '../common/alerts';
import type { ExecutorsPlan } from './plan';

/** ExecutorPodsFailing fires when at least this many executor pods became Failed within FAILED_WINDOW. */
export const FAILED_PODS = 3;
const FAILED_WINDOW = '10m';
const FAILED_WINDOW_TEXT = '10 minutes';

export function executorsAlerts(plan: ExecutorsPlan): AlertDefinition[] {
  const exe = plan.namespace;
  const failed = (offset: string) =>
    `max by (namespace, pod) (max_over_time(kube_pod_status_phase{namespace="${exe}", phase="Failed"}[${FAILED_WINDOW}]${offset})) == 1`;
  return [
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
  ];
}
