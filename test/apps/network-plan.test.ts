import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { App, Chart } from 'cdk8s';
import { loadEnvironment, type EnvironmentConfig } from '../../apps/environment';
import {
  AppNetworkPolicy,
  type AppNetworkPolicyProps,
  type NetworkPeer,
  type NetworkRule,
} from '../../charts/common/app-network-policy';
import { networkPlan } from '../../apps/network-plan';
import { KEDA_OPERATOR } from '../../charts/middleware/network';
import { PRIVATE_RANGES } from '../../charts/oauth2-proxy/network';
import { SchemaValidator } from '../support/schema-validator';

const root = path.resolve(__dirname, '../..');
const dev = loadEnvironment(root, 'dev');
const staging = loadEnvironment(root, 'staging');
const prod = loadEnvironment(root, 'prod');
const ENVS = [
  ['dev', dev],
  ['staging', staging],
  ['prod', prod],
] as const;

const APP = 'coderun';
const EXE = 'coderun-executors';

/** The selector labels of a platform workload in an environment. */
function sel(name: string, env: EnvironmentConfig): Record<string, string> {
  return { 'app.kubernetes.io/name': name, 'app.kubernetes.io/instance': `coderun-${env.name}` };
}

function executorPods(env: EnvironmentConfig): Record<string, string> {
  return { 'app.kubernetes.io/component': 'executor', 'app.kubernetes.io/instance': `coderun-${env.name}` };
}

function dnsRule(env: EnvironmentConfig): NetworkRule {
  return {
    peers: [{ podLabels: env.network.dnsPodLabels, namespace: env.network.dnsNamespace }],
    ports: [
      { port: 53, protocol: 'UDP' },
      { port: 53, protocol: 'TCP' },
    ],
  };
}

function policy(env: EnvironmentConfig, folder: string, name: string): AppNetworkPolicyProps {
  const found = (networkPlan(env)[folder] ?? []).filter((p) => p.name === name);
  expect(found, `one policy ${name} in ${folder}`).toHaveLength(1);
  return found[0] as AppNetworkPolicyProps;
}

function allPolicies(env: EnvironmentConfig): AppNetworkPolicyProps[] {
  return Object.values(networkPlan(env)).flat();
}

/** Every (policy, direction, rule) that allows the given port. */
function rulesOnPort(env: EnvironmentConfig, portNumber: number) {
  return allPolicies(env).flatMap((p) =>
    (['ingress', 'egress'] as const).flatMap((dir) =>
      p[dir]
        .filter((r) => r.ports.some((x) => x.port === portNumber))
        .map((rule) => ({ policy: p.name, namespace: p.namespace, dir, rule })),
    ),
  );
}

function withEnv(env: EnvironmentConfig, patch: Partial<EnvironmentConfig>): EnvironmentConfig {
  return { ...env, ...patch };
}

function withNatsReplicas(env: EnvironmentConfig, replicas: number): EnvironmentConfig {
  return { ...env, services: { ...env.services, nats: { ...env.services.nats, replicas } } };
}

const keda = { maxReplicas: 6, lagThreshold: 10, stream: 'jobs', consumer: 'middleware' };
function withKeda(env: EnvironmentConfig): EnvironmentConfig {
  return { ...env, services: { ...env.services, middleware: { ...env.services.middleware, keda } } };
}

describe('networkPlan', () => {
  describe('folders', () => {
    it.each(ENVS)('%s: puts each policy in the folder of what it protects', (_n, env) => {
      const plan = networkPlan(env);
      const summary = Object.fromEntries(
        Object.entries(plan).map(([folder, ps]) => [folder, ps.map((p) => `${p.namespace}/${p.name}`)]),
      );
      expect(summary).toEqual({
        namespaces: [`${APP}/default-deny`],
        'oauth2-proxy': [`${APP}/oauth2-proxy`],
        frontend: [`${APP}/frontend`],
        middleware: [`${APP}/middleware`],
        nats: [`${APP}/nats`],
        executors: [`${EXE}/default-deny`, `${EXE}/executor`],
        'executor-reaper': [`${APP}/executor-reaper`],
      });
    });

    it('uses the namespaces of the environment', () => {
      const env = withEnv(prod, { namespaces: { app: 'cr-app', executor: 'cr-jobs' } });
      const names = allPolicies(env).map((p) => `${p.namespace}/${p.name}`);
      expect(names).toEqual(
        expect.arrayContaining(['cr-app/default-deny', 'cr-jobs/default-deny', 'cr-jobs/executor', 'cr-app/nats']),
      );
      expect(names.filter((n) => n.startsWith(`${APP}/`) || n.startsWith(`${EXE}/`))).toEqual([]);
      expect(policy(env, 'nats', 'nats').ingress[0]?.peers).toContainEqual({
        podLabels: executorPods(env),
        namespace: 'cr-jobs',
      });
    });

    it.each(ENVS)('%s: denies everything by default in both namespaces', (_n, env) => {
      for (const [folder, ns] of [
        ['namespaces', APP],
        ['executors', EXE],
      ] as const) {
        const deny = policy(env, folder, 'default-deny');
        expect(deny.namespace).toBe(ns);
        expect(deny.podLabels).toEqual({});
        expect(deny.ingress).toEqual([]);
        expect(deny.egress).toEqual([]);
      }
    });

    it.each(ENVS)('%s: every service policy selects exactly its own pods', (_n, env) => {
      for (const name of ['oauth2-proxy', 'frontend', 'middleware', 'nats']) {
        expect(policy(env, name, name).podLabels, name).toEqual(sel(name, env));
      }
      expect(policy(env, 'executors', 'executor').podLabels).toEqual(executorPods(env));
    });

    it.each(ENVS)('%s: labels every policy as a network-policy of the environment', (_n, env) => {
      for (const p of allPolicies(env)) {
        expect(p.labels, p.name).toEqual({
          'app.kubernetes.io/name': p.name,
          'app.kubernetes.io/instance': `coderun-${env.name}`,
          'app.kubernetes.io/component': 'network-policy',
          'app.kubernetes.io/part-of': 'coderun',
          'app.kubernetes.io/managed-by': 'cdk8s',
        });
      }
    });
  });

  describe('frontend', () => {
    it.each(ENVS)('%s: accepts connections only from oauth2-proxy, on 3000', (_n, env) => {
      expect(policy(env, 'frontend', 'frontend').ingress).toEqual([
        { peers: [{ podLabels: sel('oauth2-proxy', env) }], ports: [{ port: 3000 }] },
      ]);
    });

    it.each(ENVS)('%s: connects only to the NATS client port and DNS', (_n, env) => {
      expect(policy(env, 'frontend', 'frontend').egress).toEqual([
        { peers: [{ podLabels: sel('nats', env) }], ports: [{ port: 4222 }] },
        dnsRule(env),
      ]);
    });
  });

  describe('NATS', () => {
    it.each(ENVS)('%s: the client port 4222 is open only to frontend, middleware and executors', (_n, env) => {
      const ingress = rulesOnPort(env, 4222).filter((r) => r.dir === 'ingress');
      expect(ingress).toHaveLength(1);
      expect(ingress[0]?.policy).toBe('nats');
      expect(ingress[0]?.namespace).toBe(APP);
      expect(ingress[0]?.rule).toEqual({
        peers: [
          { podLabels: sel('frontend', env) },
          { podLabels: sel('middleware', env) },
          { podLabels: executorPods(env), namespace: EXE },
        ],
        ports: [{ port: 4222 }],
      });
    });

    it.each(ENVS)('%s: only frontend, middleware and executor pods may connect out to 4222', (_n, env) => {
      const egress = rulesOnPort(env, 4222).filter((r) => r.dir === 'egress');
      expect(egress.map((r) => `${r.namespace}/${r.policy}`).sort()).toEqual(
        [`${APP}/frontend`, `${APP}/middleware`, `${EXE}/executor`].sort(),
      );
    });

    it('prod (3 servers): routes on 6222 are open between NATS pods only, in both directions', () => {
      expect(prod.services.nats.replicas).toBe(3);
      const route: NetworkRule = { peers: [{ podLabels: sel('nats', prod) }], ports: [{ port: 6222 }] };
      const nats = policy(prod, 'nats', 'nats');
      expect(nats.ingress).toContainEqual(route);
      expect(nats.egress).toContainEqual(route);
      const all = rulesOnPort(prod, 6222);
      expect(all.map((r) => `${r.policy} ${r.dir}`).sort()).toEqual(['nats egress', 'nats ingress']);
    });

    it.each([
      ['dev', dev],
      ['staging', staging],
    ] as const)('%s (1 server): no policy mentions the route port 6222', (_n, env) => {
      expect(env.services.nats.replicas).toBe(1);
      expect(rulesOnPort(env, 6222)).toEqual([]);
      expect(policy(env, 'nats', 'nats').egress).toEqual([dnsRule(env)]);
    });

    it('opens the routes as soon as there is more than one server', () => {
      expect(rulesOnPort(withNatsReplicas(staging, 3), 6222)).toHaveLength(2);
      expect(rulesOnPort(withNatsReplicas(prod, 1), 6222)).toEqual([]);
    });

    it('prod: egress is routes and DNS only', () => {
      expect(policy(prod, 'nats', 'nats').egress).toEqual([
        { peers: [{ podLabels: sel('nats', prod) }], ports: [{ port: 6222 }] },
        dnsRule(prod),
      ]);
    });
  });

  describe('executors', () => {
    it.each(ENVS)('%s: accept nothing and reach only NATS 4222 and DNS 53 (UDP and TCP)', (_n, env) => {
      const exe = policy(env, 'executors', 'executor');
      expect(exe.namespace).toBe(EXE);
      expect(exe.ingress).toEqual([]);
      expect(exe.egress).toEqual([
        { peers: [{ podLabels: sel('nats', env), namespace: APP }], ports: [{ port: 4222 }] },
        {
          peers: [{ podLabels: { 'k8s-app': 'kube-dns' }, namespace: 'kube-system' }],
          ports: [
            { port: 53, protocol: 'UDP' },
            { port: 53, protocol: 'TCP' },
          ],
        },
      ]);
    });

    it('follow the configured DNS pods', () => {
      const env = withEnv(prod, {
        network: { ...prod.network, dnsNamespace: 'dns', dnsPodLabels: { 'app.kubernetes.io/name': 'coredns' } },
      });
      expect(policy(env, 'executors', 'executor').egress[1]?.peers).toEqual([
        { podLabels: { 'app.kubernetes.io/name': 'coredns' }, namespace: 'dns' },
      ]);
    });
  });

  describe('middleware', () => {
    it.each([
      ['dev', dev, '172.18.0.0/16', 6443],
      ['staging', staging, '192.168.1.10/32', 6443],
      ['prod', prod, '172.16.0.2/32', 443],
    ] as const)('%s: accepts nothing and reaches NATS, the API server (%s:%i) and DNS', (_n, env, cidr, apiPort) => {
      const mw = policy(env, 'middleware', 'middleware');
      expect(mw.ingress).toEqual([]);
      expect(mw.egress).toEqual([
        { peers: [{ podLabels: sel('nats', env) }], ports: [{ port: 4222 }] },
        { peers: [{ cidr }], ports: [{ port: apiPort }] },
        dnsRule(env),
      ]);
      expect(env.network.apiServerCidrs).toEqual([cidr]);
      expect(env.network.apiServerPort).toBe(apiPort);
    });

    it('allows every configured API server address, each as its own block', () => {
      const env = withEnv(staging, {
        network: { ...staging.network, apiServerCidrs: ['10.0.0.1/32', '10.0.0.2/32'], apiServerPort: 8443 },
      });
      expect(policy(env, 'middleware', 'middleware').egress[1]).toEqual({
        peers: [{ cidr: '10.0.0.1/32' }, { cidr: '10.0.0.2/32' }],
        ports: [{ port: 8443 }],
      });
    });

    it.each(ENVS)('%s: only the middleware and the executor reaper may reach the API server port', (_n, env) => {
      const withApi = allPolicies(env).filter((p) =>
        p.egress.some((r) => r.peers.some((x) => 'cidr' in x && env.network.apiServerCidrs.includes(x.cidr))),
      );
      expect(withApi.map((p) => p.name).sort()).toEqual(['executor-reaper', 'middleware']);
      for (const p of withApi) {
        const cidrRules = p.egress.filter((r) => r.peers.some((x) => 'cidr' in x));
        expect(cidrRules).toHaveLength(1);
        expect(cidrRules[0]?.ports).toEqual([{ port: env.network.apiServerPort }]);
      }
    });

    it.each(ENVS)(
      '%s: the executor reaper reaches the API server and nothing else, and nothing reaches it',
      (_n, env) => {
        const p = policy(env, 'executor-reaper', 'executor-reaper');
        expect(p.namespace).toBe(env.namespaces.app);
        expect(p.ingress).toEqual([]);
        expect(p.egress).toEqual([
          { peers: env.network.apiServerCidrs.map((cidr) => ({ cidr })), ports: [{ port: env.network.apiServerPort }] },
        ]);
      },
    );
  });

  describe('oauth2-proxy', () => {
    it('dev (port-forward, no monitoring): accepts no connections at all', () => {
      expect(dev.entrypoint.mode).toBe('port-forward');
      expect(dev.monitoring.enabled).toBe(false);
      expect(policy(dev, 'oauth2-proxy', 'oauth2-proxy').ingress).toEqual([]);
    });

    it.each([
      ['staging', staging],
      ['prod', prod],
    ] as const)('%s (ingress): accepts the ingress controller on 4180 and Prometheus on 44180', (_n, env) => {
      expect(policy(env, 'oauth2-proxy', 'oauth2-proxy').ingress).toEqual([
        {
          peers: [{ podLabels: { 'app.kubernetes.io/name': 'ingress-nginx' }, namespace: 'ingress-nginx' }],
          ports: [{ port: 4180 }],
        },
        {
          peers: [{ podLabels: { 'app.kubernetes.io/name': 'prometheus' }, namespace: 'monitoring' }],
          ports: [{ port: 44180 }],
        },
      ]);
    });

    it('port-forward mode accepts no controller even when controller settings are present', () => {
      const env = withEnv(prod, { entrypoint: { ...prod.entrypoint, mode: 'port-forward' } });
      expect(env.entrypoint.controllerNamespace).toBe('ingress-nginx');
      expect(rulesOnPort(env, 4180)).toEqual([]);
      expect(policy(env, 'oauth2-proxy', 'oauth2-proxy').ingress).toEqual([
        {
          peers: [{ podLabels: { 'app.kubernetes.io/name': 'prometheus' }, namespace: 'monitoring' }],
          ports: [{ port: 44180 }],
        },
      ]);
    });

    it('gateway mode accepts the gateway controller pods', () => {
      const env = withEnv(prod, {
        entrypoint: {
          ...prod.entrypoint,
          mode: 'gateway',
          gateway: { name: 'public', namespace: 'gateways' },
          controllerNamespace: 'envoy-gateway-system',
          controllerPodLabels: { 'gateway.envoyproxy.io/owning-gateway-name': 'public' },
        },
      });
      expect(policy(env, 'oauth2-proxy', 'oauth2-proxy').ingress[0]).toEqual({
        peers: [
          { podLabels: { 'gateway.envoyproxy.io/owning-gateway-name': 'public' }, namespace: 'envoy-gateway-system' },
        ],
        ports: [{ port: 4180 }],
      });
    });

    it('staging without monitoring: only the ingress controller, and Prometheus nowhere', () => {
      const env = withEnv(staging, { monitoring: { ...staging.monitoring, enabled: false } });
      expect(policy(env, 'oauth2-proxy', 'oauth2-proxy').ingress).toEqual([
        {
          peers: [{ podLabels: { 'app.kubernetes.io/name': 'ingress-nginx' }, namespace: 'ingress-nginx' }],
          ports: [{ port: 4180 }],
        },
      ]);
      expect(rulesOnPort(env, 44180)).toEqual([]);
      expect(rulesOnPort(env, 7777)).toEqual([]);
    });

    it.each(ENVS)('%s: reaches the frontend on 3000, public HTTPS only and DNS', (_n, env) => {
      expect(policy(env, 'oauth2-proxy', 'oauth2-proxy').egress).toEqual([
        { peers: [{ podLabels: sel('frontend', env) }], ports: [{ port: 3000 }] },
        { peers: [{ cidr: '0.0.0.0/0', except: PRIVATE_RANGES }], ports: [{ port: 443 }] },
        dnsRule(env),
      ]);
      expect(PRIVATE_RANGES).toEqual(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16']);
    });
  });

  describe('Prometheus', () => {
    const prometheus: NetworkPeer = {
      podLabels: { 'app.kubernetes.io/name': 'prometheus' },
      namespace: 'monitoring',
    };

    it.each([
      ['staging', staging],
      ['prod', prod],
    ] as const)('%s: scrapes only the NATS exporter (7777) and oauth2-proxy metrics (44180)', (_n, env) => {
      const scrapes = allPolicies(env).flatMap((p) =>
        p.ingress
          .filter((r) => r.peers.some((x) => JSON.stringify(x) === JSON.stringify(prometheus)))
          .map((r) => ({ policy: p.name, ports: r.ports })),
      );
      expect(scrapes).toEqual([
        { policy: 'oauth2-proxy', ports: [{ port: 44180 }] },
        { policy: 'nats', ports: [{ port: 7777 }] },
      ]);
    });

    it('dev: no scrapes while monitoring is disabled, and both once it is enabled', () => {
      expect(rulesOnPort(dev, 7777)).toEqual([]);
      expect(rulesOnPort(dev, 44180)).toEqual([]);
      const env = withEnv(dev, {
        monitoring: { ...dev.monitoring, enabled: true, namespace: 'obs', prometheusPodLabels: { app: 'prom' } },
      });
      const peer = { podLabels: { app: 'prom' }, namespace: 'obs' };
      expect(policy(env, 'nats', 'nats').ingress).toContainEqual({ peers: [peer], ports: [{ port: 7777 }] });
      expect(policy(env, 'oauth2-proxy', 'oauth2-proxy').ingress).toEqual([
        { peers: [peer], ports: [{ port: 44180 }] },
      ]);
    });
  });

  describe('KEDA', () => {
    it.each(ENVS)('%s (no keda): the NATS monitoring port 8222 is closed to everyone', (_n, env) => {
      expect(env.services.middleware.keda).toBeUndefined();
      expect(rulesOnPort(env, 8222)).toEqual([]);
    });

    it('with keda: the KEDA operator may poll the NATS monitoring port, and nothing else is added', () => {
      const env = withKeda(prod);
      const before = policy(prod, 'nats', 'nats').ingress;
      const after = policy(env, 'nats', 'nats').ingress;
      expect(after).toEqual([...before, { peers: [KEDA_OPERATOR], ports: [{ port: 8222 }] }]);
      expect(KEDA_OPERATOR).toEqual({ podLabels: { app: 'keda-operator' }, namespace: 'keda' });
      expect(rulesOnPort(env, 8222)).toHaveLength(1);
    });
  });

  describe('rendering', () => {
    const validator = new SchemaValidator({ kubernetesVersions: ['1.30', '1.33'] });

    it.each([...ENVS, ['prod with keda', withKeda(prod)] as const])(
      '%s: every policy renders and is a valid NetworkPolicy',
      (_n, env) => {
        const app = new App();
        const chart = new Chart(app, 'test', { disableResourceNameHashes: true });
        for (const p of allPolicies(env)) new AppNetworkPolicy(chart, `${p.namespace}-${p.name}`, p);
        const objs = chart.toJson() as Record<string, unknown>[];
        expect(objs).toHaveLength(8);
        for (const o of objs) expect(validator.validate(o, env.kubernetesVersion)).toEqual([]);
      },
    );
  });
});
