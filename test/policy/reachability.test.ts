/* eslint-disable @typescript-eslint/no-explicit-any -- tests break manifests on purpose */
/**
 * THE REACHABILITY TEST: the connections the committed NetworkPolicies allow (computed by
 * reachability.ts) equal, flow by flow, the connections the platform is meant to have (the
 * table below). Any extra or missing flow fails, and the message lists it.
 */
import { describe, expect, it } from 'vitest';
import { EXECUTOR_LANGUAGES } from '../../charts/executors/schema';
import type { EnvironmentConfig } from '../../apps/environment';
import type { Manifest } from '../../src/model/objects';
import { committed, committedByEnv, pick, withReplaced } from './fixtures';
import { allowedFlows, compareFlows, type Flow } from '../../src/inspect/reachability';

/**
 * The intended flows, one row per allowed connection. `when` names a condition in WHEN; `executor-*` stands for every executor template; several ports expand to one flow
 * each. Pseudo-workloads: ingress-controller, dns, prometheus, keda (cluster add-ons),
 * kube-apiserver and internet (addresses outside the pod network).
 */
const INTENDED = `
  from               | to             | port          | when         | why
  ingress-controller | oauth2-proxy   | 4180/TCP      | entrypoint   | users reach the platform only through the Ingress, and only oauth2-proxy
  oauth2-proxy       | frontend       | 3000/TCP      | *            | signed-in requests are proxied to the frontend
  oauth2-proxy       | internet       | 443/TCP       | *            | Google's OAuth endpoints (public addresses only)
  oauth2-proxy       | dns            | 53/UDP 53/TCP | *            | resolves the frontend Service and Google
  prometheus         | oauth2-proxy   | 44180/TCP     | monitoring   | scrapes oauth2-proxy's metrics port
  frontend           | nats           | 4222/TCP      | *            | publishes jobs, reads job state and outputs
  frontend           | dns            | 53/UDP 53/TCP | *            | resolves the nats Service
  middleware         | nats           | 4222/TCP      | *            | consumes the job queues, writes job state
  middleware         | kube-apiserver | api/TCP       | *            | creates executor pods (network.apiServerPort: 6443 on kind and kubeadm, 443 on a managed control plane)
  middleware         | dns            | 53/UDP 53/TCP | *            | resolves the nats Service
  executor-reaper    | kube-apiserver | api/TCP       | *            | lists and deletes finished executor pods (by KUBERNETES_SERVICE_HOST, an IP: no DNS)
  nats               | nats           | 6222/TCP      | nats-cluster | cluster routes between the NATS servers (single-server NATS has none)
  nats               | dns            | 53/UDP 53/TCP | *            | resolves the route URLs of its peers
  prometheus         | nats           | 7777/TCP      | monitoring   | scrapes the NATS exporter sidecar
  executor-*         | nats           | 4222/TCP      | *            | publishes the job's result, and nothing else
  executor-*         | dns            | 53/UDP 53/TCP | *            | resolves the nats Service
`;

/**
 * When a row applies, by what the environment declares (never by its name), so a new environment
 * needs no edit here. `api` in a port is the environment's network.apiServerPort.
 */
const WHEN: Readonly<Record<string, (env: EnvironmentConfig) => boolean>> = {
  '*': () => true,
  entrypoint: (env) => env.entrypoint.mode !== 'port-forward',
  monitoring: (env) => env.monitoring.enabled,
  'nats-cluster': (env) => env.services.nats.replicas > 1,
};
interface Row {
  readonly from: string;
  readonly to: string;
  readonly ports: readonly string[];
  readonly when: string;
  readonly why: string;
}

function parseTable(text: string): Row[] {
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return lines.slice(1).map((line) => {
    const [from = '', to = '', ports = '', when = '', why = ''] = line.split('|').map((c) => c.trim());
    return { from, to, ports: ports.split(/\s+/), when, why };
  });
}

const ROWS = parseTable(INTENDED);
const EXECUTORS = EXECUTOR_LANGUAGES.map((l) => `executor-${l}`);
const expand = (name: string) => (name === 'executor-*' ? EXECUTORS : [name]);

/** The intended flows of one environment. */
function intended(envName: string): Flow[] {
  const env = committed(envName).env;
  const portOf = (p: string) => p.replace(/^api\//, `${env.network.apiServerPort}/`);
  return ROWS.filter((r) => WHEN[r.when]?.(env) === true).flatMap((r) =>
    expand(r.from).flatMap((from) =>
      expand(r.to).flatMap((to) => r.ports.map((port) => ({ from, to, port: portOf(port) }))),
    ),
  );
}

/** Extra and missing flows of a set of objects against an environment's intended table. */
function diff(envName: string, objects: readonly Manifest[] = committed(envName).objects) {
  return compareFlows(allowedFlows(committed(envName).env, objects), intended(envName));
}

describe('network reachability', () => {
  it('the intended table is well-formed', () => {
    expect(ROWS.length).toBeGreaterThan(10);
    for (const r of ROWS) {
      expect(r.why.length, `row ${r.from} -> ${r.to} needs a reason`).toBeGreaterThan(10);
      expect(
        r.ports.every((p) => /^(\d+|api)\/(TCP|UDP|SCTP)$/.test(p)),
        `ports of ${r.from} -> ${r.to}`,
      ).toBe(true);
      expect(Object.keys(WHEN), `row ${r.from} -> ${r.to}: unknown condition`).toContain(r.when);
    }
  });

  for (const envName of [...committedByEnv().keys()]) {
    it(`${envName}: the committed NetworkPolicies allow exactly the intended flows`, () => {
      const { extra, missing } = diff(envName);
      const message =
        `allowed but not intended:\n  ${extra.join('\n  ') || '(none)'}\n` +
        `intended but not allowed:\n  ${missing.join('\n  ') || '(none)'}`;
      expect({ extra, missing }, message).toEqual({ extra: [], missing: [] });
    });
  }

  it('fails on an extra path: an ingress rule on the frontend from Prometheus', () => {
    const p: any = pick('prod', 'NetworkPolicy', 'frontend');
    p.spec.ingress.push({
      from: [
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
          podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
        },
      ],
      ports: [{ port: 3000, protocol: 'TCP' }],
    });
    expect(diff('prod', withReplaced('prod', p))).toEqual({
      extra: ['prometheus -> frontend 3000/TCP'],
      missing: [],
    });
  });

  it('fails on an extra path from executors only when both directions open it', () => {
    const fromExecutors = {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'coderun-executors' } },
      podSelector: { matchLabels: { 'app.kubernetes.io/component': 'executor' } },
    };
    const frontend: any = pick('prod', 'NetworkPolicy', 'frontend');
    frontend.spec.ingress.push({ from: [fromExecutors], ports: [{ port: 3000, protocol: 'TCP' }] });
    // The executors' own egress policy still blocks it: no new flow.
    const ingressOnly = withReplaced('prod', frontend);
    expect(diff('prod', ingressOnly)).toEqual({ extra: [], missing: [] });

    const executor: any = structuredClone(
      ingressOnly.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'executor'),
    );
    executor.spec.egress.push({
      to: [
        {
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'coderun' } },
          podSelector: { matchLabels: { 'app.kubernetes.io/name': 'frontend' } },
        },
      ],
      ports: [{ port: 3000, protocol: 'TCP' }],
    });
    const both = ingressOnly.map((o) => (o.kind === 'NetworkPolicy' && o.metadata.name === 'executor' ? executor : o));
    expect(diff('prod', both)).toEqual({
      extra: EXECUTORS.map((x) => `${x} -> frontend 3000/TCP`).sort(),
      missing: [],
    });
  });

  it('fails on a wide ipBlock: it reaches the internet and the API server', () => {
    const executor: any = pick('prod', 'NetworkPolicy', 'executor');
    executor.spec.egress.push({ to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 22, protocol: 'TCP' }] });
    expect(diff('prod', withReplaced('prod', executor)).extra).toEqual(
      EXECUTORS.flatMap((x) => [`${x} -> internet 22/TCP`, `${x} -> kube-apiserver 22/TCP`]).sort(),
    );
  });

  it('fails on a rule without ports: every port is open', () => {
    const p: any = pick('staging', 'NetworkPolicy', 'oauth2-proxy');
    delete p.spec.egress[1].ports; // the internet rule
    const { extra, missing } = diff('staging', withReplaced('staging', p));
    expect(missing).toEqual([]);
    expect(extra).toContain('oauth2-proxy -> internet any/TCP');
    expect(extra).toContain('oauth2-proxy -> internet any/UDP');
    expect(extra).toContain('oauth2-proxy -> internet 4222/TCP');
    expect(extra.every((f) => f.startsWith('oauth2-proxy -> internet '))).toBe(true);
  });

  it('fails on a missing path: NATS no longer admits executors', () => {
    const nats: any = pick('dev', 'NetworkPolicy', 'nats');
    nats.spec.ingress[0].from = nats.spec.ingress[0].from.filter((p: any) => p.namespaceSelector === undefined);
    expect(diff('dev', withReplaced('dev', nats))).toEqual({
      extra: [],
      missing: EXECUTORS.map((x) => `${x} -> nats 4222/TCP`).sort(),
    });
  });

  it('fails when the default deny is gone and a pod has no policy of its own', () => {
    const objects = committed('dev').objects.filter(
      (o) => !(o.kind === 'NetworkPolicy' && (o.metadata.name === 'default-deny' || o.metadata.name === 'middleware')),
    );
    const { extra } = diff('dev', objects);
    expect(extra).toContain('middleware -> internet any/TCP');
    expect(extra).toContain('dns -> middleware 8080/TCP');
  });
});
