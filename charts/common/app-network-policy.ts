import { Construct } from 'constructs';
import * as k8s from '../../imports/k8s';

/** Who is on the other side of a connection. */
export type NetworkPeer =
  /** Pods with these labels, in `namespace` (omit for the policy's own namespace). */
  | { readonly podLabels: Readonly<Record<string, string>>; readonly namespace?: string }
  /** Addresses outside the cluster's pods, e.g. the API server. */
  | { readonly cidr: string; readonly except?: readonly string[] };

/** Connections to or from some peers on some ports. */
export interface NetworkRule {
  readonly peers: readonly NetworkPeer[];
  readonly ports: readonly { readonly port: number; readonly protocol?: 'TCP' | 'UDP' }[];
}

/** Props of {@link AppNetworkPolicy}. */
export interface AppNetworkPolicyProps {
  /** Policy name. */
  readonly name: string;
  /** Namespace of the policy and the pods it selects. */
  readonly namespace: string;
  /** Labels of the pods it applies to; an empty selector applies to every pod of the namespace. */
  readonly podLabels: Readonly<Record<string, string>>;
  /** Allowed incoming connections. An empty list allows none. */
  readonly ingress: readonly NetworkRule[];
  /** Allowed outgoing connections. An empty list allows none. */
  readonly egress: readonly NetworkRule[];
  /** Labels of the NetworkPolicy object. */
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * A NetworkPolicy that controls both directions for the pods it selects: only the listed
 * ingress and egress are allowed. With empty lists and an empty selector it is a namespace's
 * default deny.
 */
export class AppNetworkPolicy extends Construct {
  constructor(scope: Construct, id: string, props: AppNetworkPolicyProps) {
    super(scope, id);
    const check = (rules: readonly NetworkRule[], dir: string) => {
      for (const r of rules) {
        if (r.peers.length === 0)
          throw new Error(`NetworkPolicy ${props.name}: an ${dir} rule has no peers (it would allow everyone)`);
        if (r.ports.length === 0)
          throw new Error(`NetworkPolicy ${props.name}: an ${dir} rule has no ports (it would allow all ports)`);
        for (const p of r.peers) {
          if ('podLabels' in p && Object.keys(p.podLabels).length === 0) {
            throw new Error(
              `NetworkPolicy ${props.name}: an ${dir} peer has an empty pod selector (it would select every pod)`,
            );
          }
        }
      }
    };
    check(props.ingress, 'ingress');
    check(props.egress, 'egress');
    const peer = (p: NetworkPeer): k8s.NetworkPolicyPeer =>
      'cidr' in p
        ? { ipBlock: { cidr: p.cidr, ...(p.except && p.except.length > 0 ? { except: [...p.except] } : {}) } }
        : {
            podSelector: { matchLabels: { ...p.podLabels } },
            ...(p.namespace
              ? { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': p.namespace } } }
              : {}),
          };
    const ports = (r: NetworkRule): k8s.NetworkPolicyPort[] =>
      r.ports.map((p) => ({ port: k8s.IntOrString.fromNumber(p.port), protocol: p.protocol ?? 'TCP' }));
    new k8s.KubeNetworkPolicy(this, 'policy', {
      metadata: { name: props.name, namespace: props.namespace, labels: { ...props.labels } },
      spec: {
        podSelector: Object.keys(props.podLabels).length > 0 ? { matchLabels: { ...props.podLabels } } : {},
        policyTypes: ['Ingress', 'Egress'],
        ingress: props.ingress.map((r) => ({ from: r.peers.map(peer), ports: ports(r) })),
        egress: props.egress.map((r) => ({ to: r.peers.map(peer), ports: ports(r) })),
      },
    });
  }
}
