/**
 * The real cluster add-ons of the control-plane twin, run as processes on loopback next to the
 * control plane, each under its own static token with its own RBAC (no system:masters):
 *
 * - metrics-server (sigs.k8s.io/metrics-server, tools/go/metrics-server): an aggregated API server
 *   for metrics.k8s.io/v1beta1 on 127.0.0.1, registered as an APIService (behind an ExternalName
 *   Service to localhost, the address the aggregator dials). It scrapes the kubelet resource-metrics
 *   endpoint that each kwok serves on its node IP (127.200.0.1, …; HTTPS with a certificate of the
 *   twin's CA, which metrics-server verifies), where kwok reports the simulated usage of load.ts.
 *   The real HPA controller of the twin's kube-controller-manager scales on it.
 *
 * - cert-manager (github.com/cert-manager/cert-manager, tools/go/cert-manager: our own main running
 *   cert-manager's CA-issuing controllers): every issuer the environment declares exists as a CA
 *   ClusterIssuer of the twin's issuer CA, and the rendered Certificates are issued by the real
 *   controllers (key, CertificateRequest, approval, signing, Secret, Ready).
 *
 * - External Secrets (github.com/external-secrets/external-secrets, tools/go/external-secrets: our own
 *   main running ESO's ExternalSecret and ClusterSecretStore reconcilers): the store the environment
 *   declares exists as a ClusterSecretStore of ESO's fake provider, and the rendered ExternalSecrets
 *   are synced by the real reconciler.
 *
 * - Argo Rollouts (github.com/argoproj/argo-rollouts, tools/go/argo-rollouts: its own
 *   rollouts-controller, v1.10.2) where the environment renders Rollouts: it runs the canaries of the
 *   rendered Rollouts (ReplicaSets, steps, AnalysisRuns against the Prometheus the AnalysisTemplates
 *   name), under the ClusterRole of its release manifests, read from the module.
 *
 * Everything an add-on dials is on loopback: the API server (127.0.0.1) and kwok's node IPs.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { randomBytes } from 'node:crypto';
import { request } from 'node:https';
import { join } from 'node:path';
import type { Manifest } from '../../../src/model/objects';
import type { EnvironmentConfig } from '../../../apps/environment';
import { planPlatform } from '../../../apps/plans';
import { DOCKER_CONFIG_KEY, platformSecrets } from '../../../charts/secrets/platform-secrets';
import { issueFiles, makeCa, type Ca } from '../pki';
import { freePorts } from '../ports';
import { moduleFile, tool } from '../tools';
import type { Kube } from './api';
import { ADDON_USERS, kubeconfig, type Credentials } from './credentials';
import type { ServiceProxy } from './service-proxy';

/** What an add-on needs from the twin that runs it. */
export interface AddOnHost {
  readonly root: string;
  readonly dir: string;
  readonly server: string;
  readonly kube: Kube;
  readonly credentials: Credentials;
  /** Starts an add-on's process; `env` is added to this process's environment. */
  launch(name: string, cmd: string, args: string[], group?: string, env?: Readonly<Record<string, string>>): void;
  /** In-cluster HTTP addresses (./service-proxy.ts). */
  readonly services: ServiceProxy;
  waitUp(name: string, what: string, check: () => Promise<boolean>, timeoutMs?: number): Promise<void>;
}

export const METRICS_APISERVICE = 'v1beta1.metrics.k8s.io';
const METRICS_SERVICE = { namespace: 'kube-system', name: 'metrics-server' };
const FIELD_MANAGER = 'coderun-twin-addons';

/* eslint-disable @typescript-eslint/no-explicit-any -- objects as the API server returns them */
type Any = any;

async function applyAll(kube: Kube, objects: readonly Manifest[]): Promise<void> {
  for (const o of objects) {
    const r = await kube.apply(o, { manager: FIELD_MANAGER });
    if (r.status > 299) throw new Error(`${o.kind} ${o.metadata?.name}: HTTP ${r.status}: ${r.message}`);
  }
}

/** The HTTP status of GET `url` over TLS verified against `caFile`; 0 when it cannot connect. */
export function httpsStatus(url: string, caFile: string): Promise<number> {
  return new Promise((resolve) => {
    const r = request(url, { ca: readFileSync(caFile), timeout: 5_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    r.on('timeout', () => r.destroy());
    r.on('error', () => resolve(0));
    r.end();
  });
}

/** A kubeconfig for an add-on's static token, written into the twin's state directory. */
function addOnKubeconfig(host: AddOnHost, name: string, token: string): string {
  const path = join(host.dir, `${name}.kubeconfig`);
  writeFileSync(path, kubeconfig('twin', host.server, host.credentials.caCert, token), { mode: 0o600 });
  return path;
}

interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
  readonly resourceNames?: readonly string[];
}

/** A ClusterRole of `rules` named `name`, and bindings of it and of `alsoBind` (existing ClusterRoles) to `user`. */
function userRbac(
  user: string,
  name: string,
  rules: readonly PolicyRule[],
  alsoBind: readonly string[] = [],
): Manifest[] {
  const rbac = 'rbac.authorization.k8s.io';
  const bind = (role: string, binding: string): Manifest => ({
    apiVersion: `${rbac}/v1`,
    kind: 'ClusterRoleBinding',
    metadata: { name: binding },
    roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: role },
    subjects: [{ kind: 'User', apiGroup: rbac, name: user }],
  });
  return [
    { apiVersion: `${rbac}/v1`, kind: 'ClusterRole', metadata: { name }, rules },
    bind(name, name),
    ...alsoBind.map((role) => bind(role, `${name}:${role}`)),
  ];
}

/** metrics-server's RBAC, as its release manifests grant it, bound to its static-token user. */
function metricsServerRbac(): Manifest[] {
  return [
    ...userRbac(
      ADDON_USERS.metricsServer,
      'twin:metrics-server',
      [
        { apiGroups: [''], resources: ['nodes/metrics'], verbs: ['get'] },
        { apiGroups: [''], resources: ['pods', 'nodes'], verbs: ['get', 'list', 'watch'] },
      ],
      ['system:auth-delegator'],
    ),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'twin:metrics-server:auth-reader', namespace: 'kube-system' },
      roleRef: {
        apiGroup: 'rbac.authorization.k8s.io',
        kind: 'Role',
        name: 'extension-apiserver-authentication-reader',
      },
      subjects: [{ kind: 'User', apiGroup: 'rbac.authorization.k8s.io', name: ADDON_USERS.metricsServer }],
    },
  ];
}

/**
 * Starts metrics-server v0.8.0 and registers it; returns once the APIService is Available (the
 * aggregator reached it). Pod metrics follow after two scrapes (--metric-resolution 10 s, its minimum).
 */
export async function startMetricsServer(host: AddOnHost): Promise<void> {
  const bin = tool('metrics-server', 'metrics-server', host.root);
  const [port] = await freePorts(1);
  const name = `${METRICS_SERVICE.name}.${METRICS_SERVICE.namespace}.svc`;
  const tls = issueFiles(host.credentials.ca, host.dir, 'metrics-server', name, {
    names: [name, 'localhost', '127.0.0.1'],
    usages: ['serverAuth'],
  });
  await applyAll(host.kube, metricsServerRbac());
  const config = addOnKubeconfig(host, 'metrics-server', host.credentials.tokens.metricsServer);
  host.launch('metrics-server', bin, [
    `--kubeconfig=${config}`,
    `--authentication-kubeconfig=${config}`,
    `--authorization-kubeconfig=${config}`,
    '--bind-address=127.0.0.1',
    `--secure-port=${port}`,
    `--tls-cert-file=${tls.certFile}`,
    `--tls-private-key-file=${tls.keyFile}`,
    // kwok serves each node's kubelet endpoint on the node's InternalIP (loopback) at the port in its
    // status, with a certificate of the twin's CA for that IP.
    '--kubelet-preferred-address-types=InternalIP',
    '--kubelet-use-node-status-port',
    `--kubelet-certificate-authority=${host.credentials.caCert}`,
    '--metric-resolution=10s',
    '--kubelet-request-timeout=5s',
    '--profiling=false',
    '--v=1',
  ]);
  // Serving once it answers TLS with its certificate (any HTTP status: /livez needs no identity).
  await host.waitUp('metrics-server', 'metrics-server serving', () =>
    httpsStatus(`https://127.0.0.1:${port}/livez`, host.credentials.caCert).then((s) => s > 0),
  );
  await applyAll(host.kube, [
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { ...METRICS_SERVICE },
      spec: { type: 'ExternalName', externalName: 'localhost', ports: [{ name: 'https', port, protocol: 'TCP' }] },
    },
    {
      apiVersion: 'apiregistration.k8s.io/v1',
      kind: 'APIService',
      metadata: { name: METRICS_APISERVICE },
      spec: {
        group: 'metrics.k8s.io',
        version: 'v1beta1',
        groupPriorityMinimum: 100,
        versionPriority: 100,
        service: { ...METRICS_SERVICE, port },
        caBundle: readFileSync(host.credentials.caCert).toString('base64'),
      },
    },
  ]);
  let last: unknown;
  await host
    .waitUp('metrics-server', 'the metrics APIService Available', async () => {
      const r = await host.kube.req<Any>('GET', `/apis/apiregistration.k8s.io/v1/apiservices/${METRICS_APISERVICE}`);
      last = (r.body?.status?.conditions ?? []).find((x: Any) => x.type === 'Available');
      return (last as Any)?.status === 'True';
    })
    .catch((e: unknown) => {
      throw new Error(`${String(e)}; its condition: ${JSON.stringify(last)}`);
    });
}

/** Namespace of the Secrets that the twin's ClusterIssuers read (cert-manager's --cluster-resource-namespace). */
export const CERT_MANAGER_NAMESPACE = 'cert-manager';
/** The Secret holding the CA that every declared ClusterIssuer signs with. */
export const ISSUER_CA_SECRET = 'twin-issuer-ca';

/** The issuers an environment declares its cluster has (entrypoint.issuer, services.nats.tls.issuer). */
export function declaredIssuers(env: EnvironmentConfig): { kind: string; name: string }[] {
  const out: { kind: string; name: string }[] = [];
  if (env.entrypoint.issuer) out.push(env.entrypoint.issuer);
  if (env.services.nats.tls) out.push(env.services.nats.tls.issuer);
  return out.filter((x, i) => out.findIndex((y) => y.kind === x.kind && y.name === x.name) === i);
}

/** cert-manager's controller RBAC (what its release manifests grant the controller), bound to its static-token user. */
function certManagerRbac(): Manifest[] {
  return userRbac(ADDON_USERS.certManager, 'twin:cert-manager', [
    {
      apiGroups: ['cert-manager.io'],
      resources: [
        'certificates',
        'certificates/status',
        'certificates/finalizers',
        'certificaterequests',
        'certificaterequests/status',
        'certificaterequests/finalizers',
        'issuers',
        'issuers/status',
        'clusterissuers',
        'clusterissuers/status',
      ],
      verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
    },
    {
      apiGroups: ['cert-manager.io'],
      resources: ['signers'],
      verbs: ['approve'],
      resourceNames: ['issuers.cert-manager.io/*', 'clusterissuers.cert-manager.io/*'],
    },
    { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] },
    { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
  ]);
}

/**
 * Starts cert-manager's CA-issuing controllers (tools/go/cert-manager, our own main over
 * cert-manager's root module) and creates every issuer the environment declares as a CA issuer of
 * the twin's issuer CA (its own, not the API server's); returns once each is Ready. Certificates
 * that name another issuer stay not Ready, as in a cluster without that issuer.
 */
export async function startCertManager(host: AddOnHost, env: EnvironmentConfig): Promise<Ca> {
  const bin = tool('cert-manager', 'cert-manager', host.root);
  const caDir = join(host.dir, 'issuer-ca');
  mkdirSync(caDir, { recursive: true });
  const ca = makeCa(caDir, 'coderun-twin-issuer-ca');
  await applyAll(host.kube, [
    ...certManagerRbac(),
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: CERT_MANAGER_NAMESPACE } },
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: ISSUER_CA_SECRET, namespace: CERT_MANAGER_NAMESPACE },
      type: 'kubernetes.io/tls',
      stringData: { 'tls.crt': readFileSync(ca.certFile, 'utf8'), 'tls.key': readFileSync(ca.keyFile, 'utf8') },
    },
  ]);
  const issuers = declaredIssuers(env);
  for (const i of issuers) {
    if (i.kind !== 'ClusterIssuer') {
      throw new Error(
        `${env.name}: issuer ${i.kind} ${i.name}: the twin creates ClusterIssuers only (a namespaced Issuer would need its namespace first)`,
      );
    }
  }
  await applyAll(
    host.kube,
    issuers.map((i) => ({
      apiVersion: 'cert-manager.io/v1',
      kind: 'ClusterIssuer',
      metadata: { name: i.name },
      spec: { ca: { secretName: ISSUER_CA_SECRET } },
    })),
  );
  const config = addOnKubeconfig(host, 'cert-manager', host.credentials.tokens.certManager);
  host.launch('cert-manager', bin, [
    `--kubeconfig=${config}`,
    `--cluster-resource-namespace=${CERT_MANAGER_NAMESPACE}`,
    // A failed issuance is retried after seconds, not cert-manager's hour: the twin lives minutes.
    '--certificate-request-minimum-backoff-duration=5s',
    '--v=1',
  ]);
  await host.waitUp('cert-manager', `ClusterIssuer(s) ${issuers.map((i) => i.name).join(', ')} Ready`, async () => {
    for (const i of issuers) {
      const r = await host.kube.req<Any>('GET', `/apis/cert-manager.io/v1/clusterissuers/${i.name}`);
      if (!(r.body?.status?.conditions ?? []).some((c: Any) => c.type === 'Ready' && c.status === 'True')) return false;
    }
    return true;
  });
  return ca;
}

/** What the fake provider of the twin's secret store holds: remote key → property → value. */
export type StoreData = Record<string, Record<string, string>>;

/** ESO's controller RBAC for what our build runs, bound to its static-token user. */
function externalSecretsRbac(): Manifest[] {
  const all = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];
  return userRbac(ADDON_USERS.externalSecrets, 'twin:external-secrets', [
    {
      apiGroups: ['external-secrets.io'],
      resources: [
        'externalsecrets',
        'externalsecrets/status',
        'externalsecrets/finalizers',
        'clustersecretstores',
        'clustersecretstores/status',
        'clustersecretstores/finalizers',
        'secretstores',
        'secretstores/status',
      ],
      verbs: all,
    },
    { apiGroups: ['generators.external-secrets.io'], resources: ['*'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: [''], resources: ['secrets'], verbs: all },
    { apiGroups: [''], resources: ['configmaps', 'namespaces'], verbs: ['get', 'list', 'watch'] },
    { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
  ]);
}

/**
 * A generated value for a remote property: for a pull Secret's docker config, one the API server
 * accepts in a kubernetes.io/dockerconfigjson Secret (credentials for the environment's registry).
 */
function storeValue(property: string, env: EnvironmentConfig): string {
  const random = () => randomBytes(24).toString('base64url');
  if (property !== DOCKER_CONFIG_KEY.remoteProperty) return random();
  const auth = Buffer.from(`twin-puller:${random()}`).toString('base64');
  return JSON.stringify({ auths: { [env.registry?.host ?? 'registry.invalid']: { auth } } });
}

/**
 * Starts External Secrets (tools/go/external-secrets: our own main running ESO's ExternalSecret and
 * ClusterSecretStore reconcilers with the fake provider) and creates the environment's store
 * (`secrets.externalSecrets.store`) as a ClusterSecretStore of the fake provider holding, under each
 * remote key of `secrets.externalSecrets.remoteKeys`, a generated value for every property the
 * platform's Secrets read (charts/secrets/platform-secrets.ts); returns that data once the store
 * is Ready. A remote key or property not listed there is missing from the store, as in a real one.
 */
export async function startExternalSecrets(host: AddOnHost, env: EnvironmentConfig): Promise<StoreData> {
  const es = env.secrets.externalSecrets;
  if (!es) throw new Error(`${env.name}: secrets.provider is external-secrets but secrets.externalSecrets is missing`);
  if (es.store.kind !== 'ClusterSecretStore') {
    throw new Error(
      `${env.name}: store ${es.store.kind} ${es.store.name}: the twin creates ClusterSecretStores only (a SecretStore would need its namespace first)`,
    );
  }
  const bin = tool('external-secrets', 'external-secrets', host.root);
  const data: StoreData = {};
  for (const secret of platformSecrets(env, env.secrets, planPlatform(env).nats.credentialKeys)) {
    const key = es.remoteKeys[secret.remote];
    if (key === undefined)
      throw new Error(`${env.name}: secrets.externalSecrets.remoteKeys.${secret.remote} is missing`);
    const props = (data[key] ??= {});
    for (const k of secret.keys) props[k.remoteProperty] ??= storeValue(k.remoteProperty, env);
  }
  await applyAll(host.kube, [
    ...externalSecretsRbac(),
    {
      apiVersion: 'external-secrets.io/v1',
      kind: 'ClusterSecretStore',
      metadata: { name: es.store.name },
      spec: {
        provider: {
          fake: { data: Object.entries(data).map(([key, props]) => ({ key, value: JSON.stringify(props) })) },
        },
      },
    },
  ]);
  const config = addOnKubeconfig(host, 'external-secrets', host.credentials.tokens.externalSecrets);
  host.launch('external-secrets', bin, [`--kubeconfig=${config}`, '--store-requeue-interval=30s']);
  await host.waitUp('external-secrets', `ClusterSecretStore ${es.store.name} Ready`, async () => {
    const r = await host.kube.req<Any>('GET', `/apis/external-secrets.io/v1/clustersecretstores/${es.store.name}`);
    return (r.body?.status?.conditions ?? []).some((c: Any) => c.type === 'Ready' && c.status === 'True');
  });
  return data;
}
/** The Argo Rollouts module and the version tools/go/argo-rollouts pins (its CRDs and RBAC come from there). */
export const ARGO_ROLLOUTS_MODULE = 'github.com/argoproj/argo-rollouts';

/**
 * Starts the Argo Rollouts controller (rollouts-controller v1.10.2, tools/go/argo-rollouts) under its
 * own static token, bound to the ClusterRole of its release manifests (manifests/role/ of the pinned
 * module, not a copy); returns once its health endpoint answers. Its metrics and health servers bind
 * 0.0.0.0 (hard-coded in v1.10.2): the suites that run it do so in tools/loopback-only.sh, where that is
 * loopback. Leader election is off (one instance).
 */
export async function startArgoRollouts(host: AddOnHost): Promise<{ metricsPort: number; healthzPort: number }> {
  const bin = tool('argo-rollouts', 'rollouts-controller', host.root);
  const role = parse(
    readFileSync(
      moduleFile('argo-rollouts', ARGO_ROLLOUTS_MODULE, 'manifests/role/argo-rollouts-clusterrole.yaml', host.root),
      'utf8',
    ),
  ) as { rules: PolicyRule[] };
  await applyAll(host.kube, userRbac(ADDON_USERS.argoRollouts, 'twin:argo-rollouts', role.rules));
  const [metricsPort, healthzPort] = await freePorts(2);
  const config = addOnKubeconfig(host, 'argo-rollouts', host.credentials.tokens.argoRollouts);
  host.launch(
    'argo-rollouts',
    bin,
    [
      `--kubeconfig=${config}`,
      `--metricsPort=${metricsPort}`,
      `--healthzPort=${healthzPort}`,
      '--leader-elect=false',
      '--loglevel=info',
      '--logformat=text',
      '--qps=100',
      '--burst=200',
    ],
    undefined,
    // Its Prometheus provider honours HTTP_PROXY: the analyses' in-cluster address reaches the
    // twin's service proxy, never a DNS lookup off loopback.
    host.services.env(),
  );
  await host.waitUp('argo-rollouts', 'rollouts-controller healthz', async () => {
    try {
      return (await fetch(`http://127.0.0.1:${healthzPort}/healthz`)).ok;
    } catch {
      return false;
    }
  });
  return { metricsPort: metricsPort ?? 0, healthzPort: healthzPort ?? 0 };
}
/* eslint-enable @typescript-eslint/no-explicit-any */
