/**
 * Who may talk to whom, as NetworkPolicies. Reproduces the original three networks:
 *   frontend network: entry point -> oauth2-proxy -> frontend;
 *   common network:   frontend, middleware -> NATS;
 *   executor network: executors -> NATS only.
 * Plus what Kubernetes itself needs: DNS for everyone who connects out, the API server for the
 * middleware and the executor reaper, NATS routes between NATS servers, Google for oauth2-proxy, and Prometheus scrapes.
 */
import type { EnvironmentConfig } from '../src/model/config';
import { frontend } from '../charts/frontend/definition';
import { middleware } from '../charts/middleware/definition';
import { nats } from '../charts/nats/definition';
import { oauth2Proxy } from '../charts/oauth2-proxy/definition';
import type { AppNetworkPolicyProps, NetworkPeer, NetworkRule } from '../charts/common/app-network-policy';
import { REAPER_NAME } from '../charts/executor-reaper/script';
import { EXECUTOR_COMPONENT } from '../charts/executors/executor-template';
import { PART_OF, selectorLabels, standardLabels } from '../charts/common/pod-spec';

/** Private ranges: oauth2-proxy may reach the internet (Google) but not the cluster through them. */
export const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'];

/** KEDA's operator pods, as its standard install labels them. */
export const KEDA_OPERATOR: NetworkPeer = { podLabels: { app: 'keda-operator' }, namespace: 'keda' };

function port(def: { ports: readonly { name: string; containerPort: number }[] }, name: string): number {
  const p = def.ports.find((x) => x.name === name);
  if (!p) throw new Error(`no port '${name}' in ${JSON.stringify(def.ports)}`);
  return p.containerPort;
}

/** NetworkPolicies per dist/<env>/ folder. */
export function networkPlan(env: EnvironmentConfig): Record<string, AppNetworkPolicyProps[]> {
  const app = env.namespaces.app;
  const exe = env.namespaces.executor;
  const pods = (name: string): NetworkPeer => ({ podLabels: selectorLabels(name, env) });
  const executors: NetworkPeer = {
    podLabels: {
      'app.kubernetes.io/component': EXECUTOR_COMPONENT,
      'app.kubernetes.io/instance': `${PART_OF}-${env.name}`,
    },
    namespace: exe,
  };
  const dns: NetworkRule = {
    peers: [{ podLabels: env.network.dnsPodLabels, namespace: env.network.dnsNamespace }],
    ports: [
      { port: 53, protocol: 'UDP' },
      { port: 53, protocol: 'TCP' },
    ],
  };
  const apiServer: NetworkRule = {
    peers: env.network.apiServerCidrs.map((cidr) => ({ cidr })),
    ports: [{ port: env.network.apiServerPort }],
  };
  const natsClient: NetworkRule = { peers: [pods(nats.name)], ports: [{ port: port(nats, 'client') }] };
  const prometheus: NetworkPeer = {
    podLabels: env.monitoring.prometheusPodLabels,
    namespace: env.monitoring.namespace,
  };
  const scrape = (p: number): NetworkRule[] =>
    env.monitoring.enabled ? [{ peers: [prometheus], ports: [{ port: p }] }] : [];
  const e = env.entrypoint;
  const fromEdge: NetworkRule[] =
    e.mode === 'port-forward' || !e.controllerNamespace || !e.controllerPodLabels
      ? []
      : [
          {
            peers: [{ podLabels: e.controllerPodLabels, namespace: e.controllerNamespace }],
            ports: [{ port: port(oauth2Proxy, 'http') }],
          },
        ];
  const policy = (
    name: string,
    namespace: string,
    podLabels: Record<string, string>,
    ingress: NetworkRule[],
    egress: NetworkRule[],
  ): AppNetworkPolicyProps => ({
    name,
    namespace,
    podLabels,
    ingress,
    egress,
    labels: standardLabels(name, 'network-policy', env),
  });
  const denyAll = (namespace: string) => policy('default-deny', namespace, {}, [], []);

  return {
    namespaces: [denyAll(app)],
    'oauth2-proxy': [
      policy(
        oauth2Proxy.name,
        app,
        selectorLabels(oauth2Proxy.name, env),
        [...fromEdge, ...scrape(port(oauth2Proxy, 'metrics'))],
        [
          { peers: [pods(frontend.name)], ports: [{ port: port(frontend, 'http') }] },
          // Google's OAuth endpoints; NetworkPolicy cannot name hosts, so: HTTPS to public addresses only.
          { peers: [{ cidr: '0.0.0.0/0', except: PRIVATE_RANGES }], ports: [{ port: 443 }] },
          dns,
        ],
      ),
    ],
    frontend: [
      policy(
        frontend.name,
        app,
        selectorLabels(frontend.name, env),
        [{ peers: [pods(oauth2Proxy.name)], ports: [{ port: port(frontend, 'http') }] }],
        [natsClient, dns],
      ),
    ],
    middleware: [policy(middleware.name, app, selectorLabels(middleware.name, env), [], [natsClient, apiServer, dns])],
    // The reaper talks to the API server and nothing else: no DNS (KUBERNETES_SERVICE_HOST is an IP).
    'executor-reaper': [policy(REAPER_NAME, app, selectorLabels(REAPER_NAME, env), [], [apiServer])],
    nats: [
      policy(
        nats.name,
        app,
        selectorLabels(nats.name, env),
        [
          { peers: [pods(frontend.name), pods(middleware.name), executors], ports: [{ port: port(nats, 'client') }] },
          ...(env.services.nats.replicas > 1
            ? [{ peers: [pods(nats.name)], ports: [{ port: port(nats, 'cluster') }] }]
            : []),
          ...scrape(port({ ports: nats.exporterPorts }, 'metrics')),
          // KEDA polls JetStream consumer lag from the monitoring port when it scales the middleware.
          ...(env.services.middleware.keda
            ? [{ peers: [KEDA_OPERATOR], ports: [{ port: port(nats, 'monitor') }] }]
            : []),
        ],
        [
          ...(env.services.nats.replicas > 1
            ? [{ peers: [pods(nats.name)], ports: [{ port: port(nats, 'cluster') }] }]
            : []),
          dns,
        ],
      ),
    ],
    executors: [
      denyAll(exe),
      policy(
        'executor',
        exe,
        { ...(executors as { podLabels: Record<string, string> }).podLabels },
        [],
        [
          {
            peers: [{ podLabels: selectorLabels(nats.name, env), namespace: app }],
            ports: [{ port: port(nats, 'client') }],
          },
          dns,
        ],
      ),
    ],
  };
}
