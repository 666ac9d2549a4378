import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { App, Chart } from 'cdk8s';
import { loadEnvironment } from '../../../apps/environment';
import {
  AppNetworkPolicy,
  type AppNetworkPolicyProps,
  type NetworkRule,
} from '../../../charts/common/app-network-policy';
import { SchemaValidator } from '../../support/schema-validator';

/* eslint-disable @typescript-eslint/no-explicit-any */

const root = path.resolve(__dirname, '../../..');
const prod = loadEnvironment(root, 'prod');
const validator = new SchemaValidator({ kubernetesVersions: [prod.kubernetesVersion] });

const base: AppNetworkPolicyProps = {
  name: 'web',
  namespace: 'coderun',
  podLabels: { 'app.kubernetes.io/name': 'web' },
  ingress: [],
  egress: [],
  labels: { 'app.kubernetes.io/part-of': 'coderun' },
};

function render(patch: Partial<AppNetworkPolicyProps> = {}): any {
  const app = new App();
  const chart = new Chart(app, 'test', { disableResourceNameHashes: true });
  new AppNetworkPolicy(chart, 'policy', { ...base, ...patch });
  const objs = chart.toJson() as any[];
  expect(objs).toHaveLength(1);
  return objs[0];
}

const fromWeb: NetworkRule = { peers: [{ podLabels: { app: 'web' } }], ports: [{ port: 8080 }] };

describe('AppNetworkPolicy', () => {
  it('renders one NetworkPolicy with the given name, namespace, labels and pod selector', () => {
    const p = render();
    expect(p.apiVersion).toBe('networking.k8s.io/v1');
    expect(p.kind).toBe('NetworkPolicy');
    expect(p.metadata).toEqual({
      name: 'web',
      namespace: 'coderun',
      labels: { 'app.kubernetes.io/part-of': 'coderun' },
    });
    expect(p.spec.podSelector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'web' } });
    expect(validator.validate(p, prod.kubernetesVersion)).toEqual([]);
  });

  it.each([
    ['no rules', [], []],
    ['ingress rules only', [fromWeb], []],
    ['egress rules only', [], [fromWeb]],
  ] as const)('always lists both policy types (%s)', (_name, ingress, egress) => {
    expect(render({ ingress: [...ingress], egress: [...egress] }).spec.policyTypes).toEqual(['Ingress', 'Egress']);
  });

  it('with empty rule lists and an empty selector is a default deny of the whole namespace', () => {
    const p = render({ name: 'default-deny', podLabels: {} });
    expect(p.spec.podSelector).toEqual({});
    expect(p.spec.ingress).toEqual([]);
    expect(p.spec.egress).toEqual([]);
    expect(p.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(validator.validate(p, prod.kubernetesVersion)).toEqual([]);
  });

  it('gives a peer in its own namespace only a podSelector', () => {
    const p = render({ ingress: [fromWeb] });
    expect(p.spec.ingress).toEqual([
      { from: [{ podSelector: { matchLabels: { app: 'web' } } }], ports: [{ port: 8080, protocol: 'TCP' }] },
    ]);
    expect(p.spec.ingress[0].from[0]).not.toHaveProperty('namespaceSelector');
  });

  it('selects a peer in another namespace by kubernetes.io/metadata.name', () => {
    const p = render({
      egress: [
        {
          peers: [{ podLabels: { 'k8s-app': 'kube-dns' }, namespace: 'kube-system' }],
          ports: [
            { port: 53, protocol: 'UDP' },
            { port: 53, protocol: 'TCP' },
          ],
        },
      ],
    });
    expect(p.spec.egress).toEqual([
      {
        to: [
          {
            podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
          },
        ],
        ports: [
          { port: 53, protocol: 'UDP' },
          { port: 53, protocol: 'TCP' },
        ],
      },
    ]);
    expect(validator.validate(p, prod.kubernetesVersion)).toEqual([]);
  });

  it('renders an address block with its exceptions, and without except when there are none', () => {
    const p = render({
      egress: [
        { peers: [{ cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '192.168.0.0/16'] }], ports: [{ port: 443 }] },
        { peers: [{ cidr: '172.16.0.2/32' }, { cidr: '172.16.0.3/32', except: [] }], ports: [{ port: 6443 }] },
      ],
    });
    expect(p.spec.egress[0].to).toEqual([{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '192.168.0.0/16'] } }]);
    expect(p.spec.egress[1].to).toEqual([
      { ipBlock: { cidr: '172.16.0.2/32' } },
      { ipBlock: { cidr: '172.16.0.3/32' } },
    ]);
    expect(validator.validate(p, prod.kubernetesVersion)).toEqual([]);
  });

  it('defaults the protocol to TCP and keeps an explicit UDP', () => {
    const p = render({ ingress: [{ peers: fromWeb.peers, ports: [{ port: 9000 }, { port: 9001, protocol: 'UDP' }] }] });
    expect(p.spec.ingress[0].ports).toEqual([
      { port: 9000, protocol: 'TCP' },
      { port: 9001, protocol: 'UDP' },
    ]);
  });

  it('keeps every rule separate and in order, ingress as from and egress as to', () => {
    const a: NetworkRule = { peers: [{ podLabels: { app: 'a' } }], ports: [{ port: 1 }] };
    const b: NetworkRule = { peers: [{ podLabels: { app: 'b' } }], ports: [{ port: 2 }] };
    const p = render({ ingress: [a, b], egress: [b] });
    expect(p.spec.ingress.map((r: any) => r.from[0].podSelector.matchLabels.app)).toEqual(['a', 'b']);
    expect(p.spec.ingress.map((r: any) => r.ports[0].port)).toEqual([1, 2]);
    expect(p.spec.egress).toHaveLength(1);
    expect(p.spec.egress[0]).not.toHaveProperty('from');
    expect(p.spec.egress[0].to[0].podSelector.matchLabels.app).toBe('b');
  });

  it('does not share the caller objects with the rendered policy', () => {
    const podLabels: Record<string, string> = { app: 'web' };
    const p = render({ podLabels });
    podLabels.app = 'changed';
    expect(p.spec.podSelector.matchLabels.app).toBe('web');
  });

  it.each(['ingress', 'egress'] as const)('fails on an %s rule with no peers, naming the policy', (dir) => {
    expect(() => render({ name: 'open', [dir]: [{ peers: [], ports: [{ port: 80 }] }] })).toThrow(
      `NetworkPolicy open: an ${dir} rule has no peers`,
    );
  });

  it.each(['ingress', 'egress'] as const)('fails on an %s rule with no ports, naming the policy', (dir) => {
    expect(() => render({ name: 'allports', [dir]: [{ peers: fromWeb.peers, ports: [] }] })).toThrow(
      `NetworkPolicy allports: an ${dir} rule has no ports`,
    );
  });

  it.each(['ingress', 'egress'] as const)('fails on an %s peer with an empty pod selector', (dir) => {
    expect(() =>
      render({ name: 'everyone', [dir]: [{ peers: [{ podLabels: {}, namespace: 'other' }], ports: [{ port: 80 }] }] }),
    ).toThrow(`NetworkPolicy everyone: an ${dir} peer has an empty pod selector`);
  });
});
