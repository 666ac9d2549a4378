/**
 * Monitoring: its slice of the environment schema, the TypeScript types derived from it, and its defaults,
 * each written once. The composition (apps/environment.ts) assembles the slices into the schema that
 * validates environment files.
 */
import type { Defaulted, SliceOf } from '../../src/model/schema';

/** `monitoring` of an environment file. */
export const MONITORING_SCHEMA = {
  description: 'Prometheus Operator objects (ServiceMonitor, PodMonitor, PrometheusRule).',
  type: 'object',
  additionalProperties: false,
  required: ['enabled'],
  properties: {
    enabled: {
      type: 'boolean',
    },
    namespace: {
      description: 'Namespace of Prometheus; its pods may scrape the metrics ports. Default monitoring.',
      $ref: '#/definitions/dnsLabel',
    },
    prometheusPodLabels: {
      description: 'Labels of the Prometheus pods. Default app.kubernetes.io/name: prometheus.',
      $ref: '#/definitions/labels',
    },
    selectorLabels: {
      description: 'Labels your Prometheus selects monitors and rules by (e.g. release: kube-prometheus-stack).',
      $ref: '#/definitions/labels',
    },
    prometheusUrl: {
      description:
        "Prometheus' HTTP API, which canary analyses query (Argo Rollouts' controller calls it). Default " +
        'http://prometheus-operated.<namespace>.svc:9090 (the Service the Prometheus Operator creates).',
      type: 'string',
      pattern: '^https?://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$',
    },
  },
} as const;

type MonitoringInput = SliceOf<typeof MONITORING_SCHEMA>;

/** `monitoring`, with its defaults applied. */
export type MonitoringConfig = Defaulted<
  MonitoringInput,
  'namespace' | 'prometheusPodLabels' | 'selectorLabels' | 'prometheusUrl'
>;

/**
 * `monitoring` with its defaults: Prometheus in namespace monitoring, labelled app.kubernetes.io/name=prometheus,
 * its API at the Prometheus Operator's Service prometheus-operated.
 */
export function monitoringDefaults(input: MonitoringInput): MonitoringConfig {
  const namespace = input.namespace ?? 'monitoring';
  return {
    enabled: input.enabled,
    namespace,
    prometheusPodLabels: input.prometheusPodLabels ?? { 'app.kubernetes.io/name': 'prometheus' },
    selectorLabels: input.selectorLabels ?? {},
    prometheusUrl: input.prometheusUrl ?? `http://prometheus-operated.${namespace}.svc:9090`,
  };
}
