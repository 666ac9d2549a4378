/**
 * The control-plane twin of one environment: the real etcd, kube-apiserver, kube-controller-manager
 * and kube-scheduler of the Kubernetes version environments/<env>.yaml declares, built from
 * tools/go/, on 127.0.0.1; kwok in place of the kubelets, with nodes exactly as the environment
 * declares; storage for the declared StorageClass; the vendored CRDs; the real cluster add-ons
 * (metrics-server, and cert-manager, External Secrets and Argo Rollouts where the environment uses
 * them: addons.ts); and dist/<env> plus argocd/<env> applied in sync-wave order with server-side apply
 * and strict field validation.
 *
 * Used by `npm run twin` (processes detached, state in .build/twin-<env>/) and by the cluster suite
 * (processes tied to the test run, state in a temp dir, stopped in afterAll).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadEnvironment, type EnvironmentConfig } from '../../../apps/environment';
import { objectId, type Manifest } from '../../../src/model/objects';
import { loadCommitted } from '../../../test/support/committed';
import { freePorts } from '../ports';
import { sleep, start, waitFor, type Running } from '../process';
import { moduleFile, tool } from '../tools';
import { Kube } from './api';
import { issueFiles, type Ca } from '../pki';
import {
  ARGO_ROLLOUTS_MODULE,
  declaredIssuers,
  startArgoRollouts,
  startCertManager,
  startExternalSecrets,
  startMetricsServer,
  type StoreData,
} from './addons';
import { FRONT_PROXY_CLIENT, kubeconfig, makeCredentials, type Credentials } from './credentials';
import { ServiceProxy } from './service-proxy';
import { setLoad } from './load';

/**
 * The CRDs the twin's real add-ons need besides those of test/schemas/crds, by API group: read from
 * the Go module cache at the version each add-on's module pins (tools.ts moduleFile), not copied into
 * git.
 */
const ADD_ON_CRDS: Readonly<Record<string, readonly { tool: string; module: string; path: string }[]>> = {
  'kwok.x-k8s.io': [
    { tool: 'kwok', module: 'sigs.k8s.io/kwok', path: 'kustomize/crd/bases/kwok.x-k8s.io_clusterresourceusages.yaml' },
  ],
  'cert-manager.io': ['certificaterequests', 'clusterissuers', 'issuers'].map((k) => ({
    tool: 'cert-manager',
    module: 'github.com/cert-manager/cert-manager',
    path: `deploy/crds/cert-manager.io_${k}.yaml`,
  })),
  'external-secrets.io': [
    {
      tool: 'external-secrets',
      module: 'github.com/external-secrets/external-secrets',
      path: 'config/crds/bases/external-secrets.io_clustersecretstores.yaml',
    },
  ],
  // Argo Rollouts' own group is argoproj.io too (Argo CD's vendored CRDs are in test/schemas/crds).
  'rollouts.argoproj.io': [
    'rollout',
    'analysis-template',
    'cluster-analysis-template',
    'analysis-run',
    'experiment',
  ].map((k) => ({ tool: 'argo-rollouts', module: ARGO_ROLLOUTS_MODULE, path: `manifests/crds/${k}-crd.yaml` })),
};

/** Pods a kwok node admits (the kubelet's default --max-pods; environments do not declare it). */
export const NODE_MAX_PODS = '110';
/** Ephemeral storage each kwok node offers (environments declare no disk size). */
const NODE_EPHEMERAL_STORAGE = '90Gi';
/** Label that assigns a node to the kwok instance managing it (one instance per zone). */
export const KWOK_GROUP_LABEL = 'twin.coderun.dev/kwok';
/** Annotation: the pod stays Pending on its node (kwok-stages.yaml). */
export const HOLD_ANNOTATION = 'twin.coderun.dev/hold';
/** Annotation: the pod's containers exit 0 (kwok-stages.yaml). */
export const FINISHED_ANNOTATION = 'twin.coderun.dev/finished';
export const FIELD_MANAGER = 'coderun-twin';
/** Virtual: the API server allocates ClusterIPs from it, and nothing in the twin dials them. */
const SERVICE_CIDR = '10.96.0.0/16';
const SERVICE_IP = '10.96.0.1';

/** Argo CD's resource order within one sync wave (the kinds this repository renders). */
const KIND_ORDER = [
  'Namespace',
  'NetworkPolicy',
  'ResourceQuota',
  'LimitRange',
  'PodDisruptionBudget',
  'ServiceAccount',
  'Secret',
  'ConfigMap',
  'StorageClass',
  'PersistentVolume',
  'PersistentVolumeClaim',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'Role',
  'RoleBinding',
  'Service',
  'DaemonSet',
  'Pod',
  'ReplicaSet',
  'Deployment',
  'HorizontalPodAutoscaler',
  'StatefulSet',
  'Job',
  'CronJob',
  'Ingress',
];

/** One object as committed. */
export interface Committed {
  readonly file: string;
  readonly object: Manifest;
  readonly wave: number;
}

/** Result of applying one object. */
export interface Applied {
  readonly file: string;
  readonly id: string;
  readonly wave: number;
  readonly status: number;
  readonly message: string;
}

export interface ProcRecord {
  readonly name: string;
  readonly pid: number;
  readonly log: string;
  /** The kwok group (zone, or "all") for kwok processes. */
  readonly group?: string;
}

export interface TwinState {
  readonly env: string;
  readonly dir: string;
  readonly server: string;
  readonly kubernetesVersion: string;
  readonly kubeconfig: string;
  readonly procs: ProcRecord[];
  readonly timings: Record<string, number>;
}

/** The programs for one Kubernetes minor version. */
export function binaries(root: string, kubernetesVersion: string) {
  const kube = `kube-${kubernetesVersion}`;
  return {
    etcd: tool('etcd', 'etcd', root),
    apiserver: tool(kube, 'kube-apiserver', root),
    controllerManager: tool(kube, 'kube-controller-manager', root),
    scheduler: tool(kube, 'kube-scheduler', root),
    kwok: tool('kwok', 'kwok', root),
  };
}

/** Every document of dist/<env>/ and argocd/<env>/, in sync-wave order, then Argo CD's kind order. */
export function committedObjects(root: string, env: string): Committed[] {
  const out: Committed[] = loadCommitted(root, [env]).map(({ file, object }) => ({
    file,
    object,
    wave: Number(object.metadata.annotations?.['argocd.argoproj.io/sync-wave'] ?? 0),
  }));
  const rank = (k: unknown) => {
    const i = KIND_ORDER.indexOf(String(k));
    return i < 0 ? KIND_ORDER.length : i;
  };
  return out.sort(
    (a, b) => a.wave - b.wave || rank(a.object.kind) - rank(b.object.kind) || a.file.localeCompare(b.file),
  );
}

export interface TwinOptions {
  readonly root: string;
  readonly env: string;
  /** State directory (certs, kubeconfigs, etcd data, logs). */
  readonly dir: string;
  /** Detached processes outlive this Node process (npm run twin up). */
  readonly detached?: boolean;
  /**
   * Apply dist/<env> and argocd/<env> (default true). False: control plane, nodes, storage, CRDs and
   * the namespaces Argo CD's install provides only, so that Argo CD itself does the applying.
   */
  readonly apply?: boolean;
  /**
   * Which block of loopback addresses kwok hands out pod IPs from (default 0: 127.100.0.0/16 for the
   * first kwok, 127.101.0.0/16 for the next, …; block b starts at 127.(100 + 10 b)). Twins side by side
   * whose pods are dialled (the canary suite's metrics source answers on each pod's IP) take
   * different blocks, so that no two pods of the process share an address.
   */
  readonly podAddressBlock?: number;
  readonly log?: (line: string) => void;
}

export class Twin {
  readonly env: EnvironmentConfig;
  readonly procs: ProcRecord[] = [];
  readonly timings: Record<string, number> = {};
  readonly applied: Applied[] = [];
  /** Namespaces the rendered objects live in but do not declare (Argo CD's own: argocd). */
  readonly providedNamespaces: string[] = [];
  kube!: Kube;
  server = '';
  credentials!: Credentials;
  /** The CA of the environment's issuers (the real cert-manager signs with it); undefined when none is declared. */
  issuerCa?: Ca;
  /** What the environment's secret store holds (the real External Secrets reads it); undefined without one. */
  secretStore?: StoreData;
  /** The Argo Rollouts controller's ports, when the environment renders Rollouts and it runs. */
  argoRollouts?: { metricsPort: number; healthzPort: number };
  /**
   * In-cluster HTTP addresses for the add-ons (./service-proxy.ts): Argo Rollouts reaches the
   * Prometheus of monitoring.prometheusUrl through it, without a DNS lookup. A suite routes a Service
   * to its own loopback server with `services.route(…)`; anything unrouted is answered 502.
   */
  readonly services = new ServiceProxy();
  /** CronJobs applied and then suspended, so that none runs on its own during a test. */
  readonly suspendedCronJobs: string[] = [];
  private bins!: ReturnType<typeof binaries>;
  /** The processes this twin runs now, by name. */
  private readonly running = new Map<string, Running>();
  private kwokArgs = new Map<string, string[]>();

  constructor(readonly opts: TwinOptions) {
    this.env = loadEnvironment(opts.root, opts.env);
  }

  private say(line: string): void {
    this.opts.log?.(line);
  }

  private async timed<T>(phase: string, f: () => Promise<T> | T): Promise<T> {
    const t = Date.now();
    const v = await f();
    this.timings[phase] = Date.now() - t;
    this.say(`${phase}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
    return v;
  }

  /** Zones of the nodes; [''] when the environment declares none. */
  get zones(): string[] {
    return this.env.cluster.zones.length > 0 ? [...this.env.cluster.zones] : [''];
  }

  /** Node names and their zones, as the environment declares (round-robin over zones). */
  nodePlan(): { name: string; zone: string }[] {
    const zones = this.zones;
    return Array.from({ length: this.env.cluster.nodes }, (_, i) => {
      const zone = zones[i % zones.length] ?? '';
      return { name: `${this.env.name}-worker-${i + 1}`, zone };
    });
  }

  launch(
    name: string,
    cmd: string,
    args: string[],
    group?: string,
    env?: Readonly<Record<string, string>>,
  ): ProcRecord {
    const logDir = join(this.opts.dir, 'logs');
    mkdirSync(logDir, { recursive: true });
    const log = join(logDir, `${name}.log`);
    const proc = start(name, cmd, args, {
      logFile: log,
      detached: this.opts.detached ?? false,
      ...(env ? { env: { ...process.env, ...env } } : {}),
    });
    if (!proc.child.pid) throw new Error(`could not start ${cmd}`);
    this.running.set(name, proc);
    const rec: ProcRecord = { name, pid: proc.child.pid, log, ...(group === undefined ? {} : { group }) };
    this.procs.push(rec);
    this.saveState();
    return rec;
  }

  /** The last lines of a process's log, for error messages. */
  tail(name: string, lines = 30): string {
    return (this.running.get(name)?.log() ?? '').split('\n').slice(-lines).join('\n');
  }

  /**
   * Waits until `check` passes for process `name`, for `timeoutMs` from when the program started
   * (its log's first line: a loaded machine can take long to start a program); fails at once, with
   * its log, if it exits.
   */
  async waitUp(name: string, what: string, check: () => Promise<boolean>, timeoutMs = 120_000) {
    const proc = this.running.get(name);
    if (!proc) throw new Error(`${what}: ${name} was not started`);
    await waitFor(what, check, { proc, from: proc, timeoutMs, intervalMs: 200 });
  }

  get root(): string {
    return this.opts.root;
  }

  get dir(): string {
    return this.opts.dir;
  }

  get kubeconfigPath(): string {
    return join(this.opts.dir, 'kubeconfig');
  }

  saveState(): void {
    const state: TwinState = {
      env: this.env.name,
      dir: this.opts.dir,
      server: this.server,
      kubernetesVersion: this.env.kubernetesVersion,
      kubeconfig: this.kubeconfigPath,
      procs: this.procs,
      timings: this.timings,
    };
    mkdirSync(this.opts.dir, { recursive: true });
    writeFileSync(join(this.opts.dir, 'state.json'), JSON.stringify(state, null, 2));
  }

  /** Starts everything and applies the environment. Throws if a component does not come up. */
  async up(): Promise<void> {
    const t0 = Date.now();
    mkdirSync(this.opts.dir, { recursive: true });
    this.bins = await this.timed('binaries', () => binaries(this.opts.root, this.env.kubernetesVersion));
    await this.timed('control plane', () => this.startControlPlane());
    // CRDs first: kwok watches the ClusterResourceUsage of load.ts from its start.
    await this.timed('CRDs', () => this.installCrds());
    await this.timed('nodes', () => this.startNodes());
    await this.timed('storage', () => this.makeStorage());
    await this.timed('metrics-server', () => startMetricsServer(this));
    if (declaredIssuers(this.env).length > 0) {
      this.issuerCa = await this.timed('cert-manager', () => startCertManager(this, this.env));
    }
    if (this.env.secrets.provider === 'external-secrets') {
      this.secretStore = await this.timed('external-secrets', () => startExternalSecrets(this, this.env));
    }
    if (this.rendersRollouts()) {
      await this.services.start();
      this.argoRollouts = await this.timed('argo-rollouts', () => startArgoRollouts(this));
    }
    if (this.opts.apply ?? true) await this.timed('apply', () => this.applyCommitted());
    else await this.timed('provided namespaces', () => this.makeProvidedNamespaces());
    this.timings.total = Date.now() - t0;
    this.saveState();
  }

  private async startControlPlane(): Promise<void> {
    const d = this.opts.dir;
    const [etcdPort, peerPort, apiPort] = await freePorts(3);
    this.credentials = makeCredentials(d, SERVICE_IP);
    this.launch('etcd', this.bins.etcd, [
      '--name=twin',
      `--data-dir=${join(d, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=twin=http://127.0.0.1:${peerPort}`,
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await this.waitUp('etcd', 'etcd health', async () => {
      const r = await fetch(`http://127.0.0.1:${etcdPort}/health`);
      return r.ok;
    });
    this.server = `https://127.0.0.1:${apiPort}`;
    this.launch('kube-apiserver', this.bins.apiserver, [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${this.credentials.serverCert}`,
      `--tls-private-key-file=${this.credentials.serverKey}`,
      `--client-ca-file=${this.credentials.caCert}`,
      `--token-auth-file=${this.credentials.tokenFile}`,
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,DefaultStorageClass,DefaultTolerationSeconds,PodSecurity,Priority,ResourceQuota,NodeRestriction,StorageObjectInUseProtection,TaintNodesByCondition,ValidatingAdmissionPolicy',
      '--allow-privileged=true',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${this.credentials.saPub}`,
      `--service-account-signing-key-file=${this.credentials.saKey}`,
      // The aggregator's identity towards add-on API servers (metrics-server), as kubeadm sets it up.
      `--requestheader-client-ca-file=${this.credentials.frontProxyCa}`,
      `--requestheader-allowed-names=${FRONT_PROXY_CLIENT}`,
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${this.credentials.proxyClientCert}`,
      `--proxy-client-key-file=${this.credentials.proxyClientKey}`,
      '--endpoint-reconciler-type=none',
      '--profiling=false',
      '--v=0',
    ]);
    this.kube = new Kube(this.server, this.credentials.caCert, this.credentials.tokens.admin);
    await this.waitUp('kube-apiserver', 'kube-apiserver /readyz', async () => {
      const r = await this.kube.req('GET', '/readyz');
      return r.status === 200;
    });
    writeFileSync(
      this.kubeconfigPath,
      kubeconfig(`twin-${this.env.name}`, this.server, this.credentials.caCert, this.credentials.tokens.admin),
      { mode: 0o600 },
    );
    const kcmConfig = join(d, 'kube-controller-manager.kubeconfig');
    writeFileSync(
      kcmConfig,
      kubeconfig('twin', this.server, this.credentials.caCert, this.credentials.tokens.controllerManager),
      {
        mode: 0o600,
      },
    );
    const schedConfig = join(d, 'kube-scheduler.kubeconfig');
    writeFileSync(
      schedConfig,
      kubeconfig('twin', this.server, this.credentials.caCert, this.credentials.tokens.scheduler),
      {
        mode: 0o600,
      },
    );
    this.launch('kube-controller-manager', this.bins.controllerManager, [
      `--kubeconfig=${kcmConfig}`,
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      '--leader-elect=false',
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${this.credentials.saKey}`,
      `--root-ca-file=${this.credentials.caCert}`,
      '--cluster-name=coderun-twin',
      // Faster than a real cluster so a lost zone shows within seconds (kwok renews leases every 2.5 s).
      '--node-monitor-period=1s',
      '--node-monitor-grace-period=12s',
      // HPAs reach their minReplicas within seconds rather than the default 15 s period.
      '--horizontal-pod-autoscaler-sync-period=2s',
      '--kube-api-qps=200',
      '--kube-api-burst=400',
      '--v=0',
    ]);
    this.launch('kube-scheduler', this.bins.scheduler, [
      `--kubeconfig=${schedConfig}`,
      '--bind-address=127.0.0.1',
      '--secure-port=0',
      '--leader-elect=false',
      '--v=0',
    ]);
    // The controller manager is working once the service-account controllers made default SAs.
    await this.waitUp('kube-controller-manager', 'the default ServiceAccount', async () => {
      const r = await this.kube.req('GET', '/api/v1/namespaces/default/serviceaccounts/default');
      return r.status === 200;
    });
  }

  /** kwok groups: one per zone (so a zone can be lost), or one for all nodes. */
  groupOf(zone: string): string {
    return zone === '' ? 'all' : zone;
  }

  /** The node IP kwok `index` hands out (127.200.0.1, 127.201.0.1, …): its nodes' InternalIP and kubelet address. */
  static nodeIp(index: number): string {
    return `127.${200 + index}.0.1`;
  }

  private async startKwok(group: string, index: number): Promise<ProcRecord> {
    let args = this.kwokArgs.get(group);
    if (!args) {
      const nodeIp = Twin.nodeIp(index);
      // kwok serves its nodes' kubelet resource-metrics endpoint on the node IP, over TLS with a
      // certificate of the twin's CA for that IP (metrics-server verifies it), at the port it
      // publishes in each node's status (daemonEndpoints, kwok-stages.yaml).
      const [port] = await freePorts(1);
      const tls = issueFiles(this.credentials.ca, this.opts.dir, `kwok-${group}-serving`, `kwok-${group}`, {
        names: [nodeIp],
        usages: ['serverAuth'],
      });
      const config = join(this.opts.dir, 'kwok.kubeconfig');
      if (!existsSync(config)) {
        writeFileSync(config, kubeconfig('twin', this.server, this.credentials.caCert, this.credentials.tokens.kwok), {
          mode: 0o600,
        });
      }
      args = [
        `--kubeconfig=${config}`,
        `--config=${join(this.opts.root, 'tools', 'harness', 'twin', 'kwok-stages.yaml')}`,
        `--config=${join(this.opts.root, 'tools', 'harness', 'twin', 'kwok-metrics.yaml')}`,
        '--enable-crds=ClusterResourceUsage',
        `--manage-nodes-with-label-selector=${KWOK_GROUP_LABEL}=${group}`,
        '--node-lease-duration-seconds=10',
        // Pod and node IPs on loopback (127.0.0.0/8): nothing here may hand out or dial another address.
        `--cidr=127.${100 + 10 * (this.opts.podAddressBlock ?? 0) + index}.0.0/16`,
        `--node-ip=${nodeIp}`,
        `--server-address=${nodeIp}:${port}`,
        `--node-port=${port}`,
        `--tls-cert-file=${tls.certFile}`,
        `--tls-private-key-file=${tls.keyFile}`,
      ];
      this.kwokArgs.set(group, args);
    }
    return this.launch(`kwok-${group}`, this.bins.kwok, args, group);
  }

  private async startNodes(): Promise<void> {
    const groups = [...new Set(this.nodePlan().map((n) => this.groupOf(n.zone)))];
    await setLoad(this.kube, []);
    for (const [i, g] of groups.entries()) await this.startKwok(g, i);
    const alloc = {
      cpu: this.env.cluster.nodeAllocatable.cpu,
      memory: this.env.cluster.nodeAllocatable.memory,
      pods: NODE_MAX_PODS,
      // Environment files declare CPU and memory, not disk; every container requests ephemeral
      // storage, so each node offers the kubelet's usual root-disk share of a 100 GB boot disk.
      'ephemeral-storage': NODE_EPHEMERAL_STORAGE,
    };
    for (const n of this.nodePlan()) {
      const labels: Record<string, string> = {
        'kubernetes.io/hostname': n.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        [KWOK_GROUP_LABEL]: this.groupOf(n.zone),
      };
      if (n.zone) labels['topology.kubernetes.io/zone'] = n.zone;
      await this.kube.must('POST', '/api/v1/nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: n.name,
          labels,
          annotations: {
            'node.alpha.kubernetes.io/ttl': '0',
            // Where metrics-server reads this node's resource metrics on its kubelet (kwok) endpoint.
            'metrics.k8s.io/resource-metrics-path': `/metrics/nodes/${n.name}/metrics/resource`,
          },
        },
        spec: {},
        status: { allocatable: alloc, capacity: alloc },
      });
    }
    await this.nodesReady(groups);
  }

  /** Waits until the nodes of `groups` (kwok groups) are Ready and untainted. */
  private async nodesReady(groups: readonly string[]): Promise<void> {
    const mine = (n: Manifest) =>
      groups.includes(String((n.metadata?.labels as Record<string, string> | undefined)?.[KWOK_GROUP_LABEL]));
    const expected = this.nodePlan().filter((n) => groups.includes(this.groupOf(n.zone))).length;
    await waitFor(
      `every node of ${groups.join(', ')} Ready`,
      async () => {
        const nodes = (await this.kube.list<Manifest>('v1', 'Node')).filter(mine);
        const ready = nodes.filter((n) =>
          ((n.status as { conditions?: { type: string; status: string }[] })?.conditions ?? []).some(
            (c) => c.type === 'Ready' && c.status === 'True',
          ),
        );
        return ready.length === expected;
      },
      { timeoutMs: 120_000, intervalMs: 200 },
    ).catch((e) => {
      throw new Error(`${String(e)}\n${groups.map((g) => this.tail(`kwok-${g}`)).join('\n')}`);
    });
    // The node controller removes the not-ready taints a moment after Ready.
    await waitFor(
      `nodes of ${groups.join(', ')} without not-ready taints`,
      async () => {
        const nodes = (await this.kube.list<Manifest>('v1', 'Node')).filter(mine);
        return nodes.every((n) => !((n.spec as { taints?: unknown[] })?.taints ?? []).length);
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
  }

  /** kwok for a zone (or all nodes) stops: its nodes' leases lapse, as when a zone is lost. */
  async loseGroup(group: string): Promise<void> {
    const proc = this.running.get(`kwok-${group}`);
    this.running.delete(`kwok-${group}`);
    await proc?.stop();
  }

  /** kwok for a lost zone starts again: its nodes renew their leases and become Ready, untainted. */
  async restoreGroup(group: string): Promise<void> {
    if (this.running.has(`kwok-${group}`)) return;
    await this.startKwok(group, [...this.kwokArgs.keys()].indexOf(group));
    await this.nodesReady([group]);
  }

  /** StorageClass (and pre-made PVs, one per StatefulSet claim) for every class the objects use. */
  private async makeStorage(): Promise<void> {
    const objs = committedObjects(this.opts.root, this.env.name).map((c) => c.object);
    const claims: { className: string; size: string; count: number; name: string }[] = [];
    for (const o of objs) {
      if (o.kind !== 'StatefulSet') continue;
      const spec = o.spec as { replicas?: number; volumeClaimTemplates?: Manifest[] };
      for (const t of spec.volumeClaimTemplates ?? []) {
        const s = t.spec as { storageClassName?: string; resources?: { requests?: { storage?: string } } };
        claims.push({
          className: s.storageClassName ?? '',
          size: s.resources?.requests?.storage ?? '1Gi',
          count: spec.replicas ?? 1,
          name: `${String(o.metadata?.name)}-${String(t.metadata?.name)}`,
        });
      }
    }
    const zones = this.env.cluster.zones;
    for (const className of new Set(claims.map((c) => c.className).filter(Boolean))) {
      // No provisioner: the scheduler picks a pre-made volume for the pod's node, the PV controller binds it.
      await this.kube.must('POST', '/apis/storage.k8s.io/v1/storageclasses', {
        apiVersion: 'storage.k8s.io/v1',
        kind: 'StorageClass',
        metadata: { name: className },
        provisioner: 'kubernetes.io/no-provisioner',
        volumeBindingMode: 'WaitForFirstConsumer',
        reclaimPolicy: 'Retain',
      });
    }
    let i = 0;
    for (const c of claims) {
      // A zonal disk per claim and zone (a replica may land in any zone), or one volume per claim.
      const perClaim = zones.length > 0 ? zones : [''];
      for (let k = 0; k < c.count; k++) {
        for (const zone of perClaim) {
          i++;
          await this.kube.must('POST', '/api/v1/persistentvolumes', {
            apiVersion: 'v1',
            kind: 'PersistentVolume',
            metadata: {
              name: `twin-pv-${i}`,
              labels: zone ? { 'topology.kubernetes.io/zone': zone } : {},
            },
            spec: {
              capacity: { storage: c.size },
              accessModes: ['ReadWriteOnce'],
              storageClassName: c.className,
              persistentVolumeReclaimPolicy: 'Retain',
              local: { path: `/twin/${c.name}-${k}${zone ? `-${zone}` : ''}` },
              nodeAffinity: {
                required: {
                  nodeSelectorTerms: [
                    zone
                      ? { matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: [zone] }] }
                      : { matchExpressions: [{ key: KWOK_GROUP_LABEL, operator: 'Exists' }] },
                  ],
                },
              },
            },
          });
        }
      }
    }
  }

  /** Whether dist/<env> has an Argo Rollouts Rollout (then the twin runs the real controller). */
  rendersRollouts(): boolean {
    return committedObjects(this.opts.root, this.env.name).some(
      (c) => c.object.kind === 'Rollout' && String(c.object.apiVersion).startsWith('argoproj.io/'),
    );
  }

  /** The API groups of the add-on CRDs the twin needs: kwok's always, an add-on's when it runs. */
  addOnCrdGroups(): string[] {
    return [
      'kwok.x-k8s.io',
      ...(declaredIssuers(this.env).length > 0 ? ['cert-manager.io'] : []),
      ...(this.env.secrets.provider === 'external-secrets' ? ['external-secrets.io'] : []),
      ...(this.rendersRollouts() ? ['rollouts.argoproj.io'] : []),
    ];
  }

  /** The vendored CRDs the rendered objects use, and those of the add-ons that run (ADD_ON_CRDS). */
  private async installCrds(): Promise<void> {
    const names: string[] = [];
    const dirs = readdirSync(join(this.opts.root, 'test', 'schemas', 'crds')).map((g) =>
      join(this.opts.root, 'test', 'schemas', 'crds', g),
    );
    const files = [
      ...dirs.flatMap((dir) =>
        readdirSync(dir)
          .filter((x) => x.endsWith('.yaml'))
          .map((f) => join(dir, f)),
      ),
      ...this.addOnCrdGroups().flatMap((g) =>
        (ADD_ON_CRDS[g] ?? []).map((c) => moduleFile(c.tool, c.module, c.path, this.opts.root)),
      ),
    ];
    for (const file of files) {
      for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
        const crd = doc.toJS() as Manifest;
        if (crd?.kind !== 'CustomResourceDefinition') continue;
        const r = await this.kube.apply(crd);
        if (r.status > 299) throw new Error(`CRD ${crd.metadata?.name}: HTTP ${r.status}: ${r.message}`);
        names.push(String(crd.metadata?.name));
      }
    }
    await waitFor(
      'CRDs Established',
      async () => {
        for (const n of names) {
          const c = await this.kube.must<Manifest>(
            'GET',
            `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${n}`,
          );
          const conds = (c.status as { conditions?: { type: string; status: string }[] })?.conditions ?? [];
          if (!conds.some((x) => x.type === 'Established' && x.status === 'True')) return false;
        }
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    this.kube.rediscover();
  }

  /** Creates the namespaces the rendered objects live in but do not declare (Argo CD's: argocd). */
  private async makeProvidedNamespaces(): Promise<void> {
    const objs = committedObjects(this.opts.root, this.env.name);
    const declared = new Set(objs.filter((c) => c.object.kind === 'Namespace').map((c) => c.object.metadata?.name));
    for (const ns of new Set(objs.map((c) => c.object.metadata?.namespace).filter((n): n is string => !!n))) {
      if (declared.has(ns)) continue;
      this.providedNamespaces.push(ns);
      await this.kube.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    }
  }

  /** Applies dist/<env> and argocd/<env>, wave by wave; records every reply in `applied`. */
  private async applyCommitted(): Promise<void> {
    const objs = committedObjects(this.opts.root, this.env.name);
    await this.makeProvidedNamespaces();
    for (const c of objs) {
      let r = await this.kube.apply(c.object);
      // A Namespace's ServiceAccount admission needs the namespace's default SA a moment after creation.
      for (let n = 0; n < 20 && r.status >= 500; n++) {
        await sleep(250);
        r = await this.kube.apply(c.object);
      }
      this.applied.push({ file: c.file, id: objectId(c.object), wave: c.wave, status: r.status, message: r.message });
      if (c.object.kind === 'CronJob' && r.status < 300) {
        // The twin runs on the wall clock: a scheduled run would drop a pod into the app namespace at an
        // arbitrary moment of a test. Suspended (as `kubectl patch`, not in git); tests start runs themselves.
        await this.kube.must(
          'PATCH',
          `${await this.kube.pathOf(c.object)}?fieldManager=coderun-twin-suspend`,
          { spec: { suspend: true } },
          'application/merge-patch+json',
        );
        this.suspendedCronJobs.push(objectId(c.object));
      }
    }
  }

  /** Refused objects (HTTP status above 299). */
  get refused(): Applied[] {
    return this.applied.filter((a) => a.status > 299);
  }

  async down(): Promise<void> {
    this.kube?.close();
    const procs = [...this.running.values()];
    this.running.clear();
    await Promise.all(procs.map((p) => p.stop()));
    await this.services.close();
  }

  /** A relative path for messages. */
  rel(p: string): string {
    return relative(this.opts.root, p);
  }
}
