/**
 * The simulated load of the twin's pods: the one ClusterResourceUsage `twin-load` that every kwok
 * of the twin watches (kwok runs with --enable-crds=ClusterResourceUsage). kwok evaluates it for
 * each running container and serves the result on the kubelet resource-metrics endpoint it stands
 * in for (kwok-metrics.yaml); the real metrics-server scrapes that, and the real HPA controller
 * scales on what metrics-server serves. Nothing here talks to the HPA or the metrics API.
 *
 * Usage is a share of each container's requests: DEFAULT_SHARE everywhere, or a rule's share for
 * the pods it selects (namespace and labels; first matching rule wins). A test raises a
 * Deployment's CPU by setting a rule for its pod labels, and lowers it by dropping the rule.
 */
import type { Manifest } from '../../../src/model/objects';
import type { Kube } from './api';

/** Share of its requests that every container uses when no rule selects its pod: below every HPA target. */
export const DEFAULT_SHARE = 0.5;
export const LOAD_NAME = 'twin-load';
const FIELD_MANAGER = 'coderun-twin-load';

/** Pods of `namespace` whose labels include `labels` use `cpu` (and `memory`) times their requests. */
export interface LoadRule {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly cpu: number;
  readonly memory?: number;
}

const str = (s: string) => JSON.stringify(s);
const num = (n: number) => {
  if (!Number.isFinite(n) || n < 0) throw new Error(`a load share must be a non-negative number, not ${n}`);
  return n.toFixed(4);
};

function condition(rule: LoadRule): string {
  return [
    `pod.metadata.namespace == ${str(rule.namespace)}`,
    ...Object.entries(rule.labels).map(
      ([k, v]) => `(${str(k)} in pod.metadata.labels && pod.metadata.labels[${str(k)}] == ${str(v)})`,
    ),
  ].join(' && ');
}

/** The CEL expression kwok evaluates per container for `resource` (cpu or memory). */
export function usageExpression(resource: 'cpu' | 'memory', rules: readonly LoadRule[]): string {
  const share = rules.reduceRight(
    (rest, r) => `(${condition(r)} ? ${num(resource === 'cpu' ? r.cpu : (r.memory ?? DEFAULT_SHARE))} : ${rest})`,
    num(DEFAULT_SHARE),
  );
  const req = `container.resources.requests`;
  return `(${str(resource)} in ${req} ? ${req}[${str(resource)}] : Quantity("0")) * ${share}`;
}

/** The ClusterResourceUsage for `rules`. */
export function loadObject(rules: readonly LoadRule[]): Manifest {
  return {
    apiVersion: 'kwok.x-k8s.io/v1alpha1',
    kind: 'ClusterResourceUsage',
    metadata: { name: LOAD_NAME },
    spec: {
      usages: [
        {
          usage: {
            cpu: { expression: usageExpression('cpu', rules) },
            memory: { expression: usageExpression('memory', rules) },
          },
        },
      ],
    },
  };
}

/** Sets the load (replacing every earlier rule). */
export async function setLoad(kube: Kube, rules: readonly LoadRule[]): Promise<void> {
  const r = await kube.apply(loadObject(rules), { manager: FIELD_MANAGER });
  if (r.status > 299) throw new Error(`ClusterResourceUsage ${LOAD_NAME}: HTTP ${r.status}: ${r.message}`);
}
