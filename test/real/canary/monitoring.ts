/**
 * What the canary analyses read in the twin: the real Prometheus server (v3.15.0, tools/go/promtool)
 * and a metrics source that the test controls.
 *
 * Prometheus discovers its targets as the Prometheus Operator would configure it from the committed
 * PodMonitor: Kubernetes service discovery (role pod) against the twin's API server, with the
 * Operator's relabelling (keep the pods the PodMonitor selects and the container port it names; target
 * labels `namespace`, `pod`, `container`, `endpoint`, `job`). Only the scrape interval is the twin's
 * (SCRAPE_INTERVAL instead of the PodMonitor's 30 s). It reads the API server as user twin-prometheus,
 * allowed to get, list and watch pods and nothing else.
 *
 * The metrics source answers on each selected pod's IP (kwok hands out 127.x addresses) at the
 * PodMonitor's port, with oauth2-proxy's real series (oauth2-proxy v7.15.2, pkg/middleware/metrics.go):
 * the counter `oauth2_proxy_requests_total` with the label `code` (the HTTP status). Each pod serves
 * REQUESTS_PER_SECOND; the share answered 5xx is what `errorShare` says for that pod at that moment.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Manifest } from '../../../src/model/objects';
import type { Kube } from '../../../tools/harness/twin/api';
import { ADDON_USERS } from '../../../tools/harness/twin/credentials';
import { start, waitFor, type Running } from '../../../tools/harness/process';
import { tool } from '../../../tools/harness/tools';

/** How often Prometheus scrapes in the twin (the committed PodMonitors say 30 s). */
export const SCRAPE_INTERVAL = '1s';
/** Requests each oauth2-proxy pod answers per second, in the metrics source. */
export const REQUESTS_PER_SECOND = 20;
const METRIC = 'oauth2_proxy_requests_total';

/* eslint-disable @typescript-eslint/no-explicit-any -- objects as the API server returns them */
type Any = any;

/** A pod as the metrics source and the suite see it. */
export interface PodView {
  readonly uid: string;
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly images: readonly string[];
  readonly ip: string;
  readonly phase: string;
  readonly ready: boolean;
  readonly deleting: boolean;
  readonly hash: string;
}

export function podView(p: Any): PodView {
  return {
    uid: String(p.metadata?.uid ?? ''),
    name: String(p.metadata?.name ?? ''),
    namespace: String(p.metadata?.namespace ?? ''),
    labels: (p.metadata?.labels ?? {}) as Record<string, string>,
    images: ((p.spec?.containers ?? []) as Any[]).map((c) => String(c.image)),
    ip: String(p.status?.podIP ?? ''),
    phase: String(p.status?.phase ?? ''),
    ready: ((p.status?.conditions ?? []) as Any[]).some((c) => c.type === 'Ready' && c.status === 'True'),
    deleting: Boolean(p.metadata?.deletionTimestamp),
    hash: String(p.metadata?.labels?.['rollouts-pod-template-hash'] ?? ''),
  };
}

/** The PodMonitor's scrape settings that the relabelling and the metrics source follow. */
export interface PodMonitorTarget {
  readonly namespace: string;
  readonly name: string;
  readonly selector: Readonly<Record<string, string>>;
  readonly namespaces: readonly string[];
  readonly port: string;
  readonly path: string;
}

export function podMonitorTarget(pm: Manifest): PodMonitorTarget {
  const spec = pm.spec as Any;
  const ep = (spec.podMetricsEndpoints ?? [])[0] ?? {};
  return {
    namespace: String(pm.metadata?.namespace),
    name: String(pm.metadata?.name),
    selector: spec.selector?.matchLabels ?? {},
    namespaces: spec.namespaceSelector?.matchNames ?? [String(pm.metadata?.namespace)],
    port: String(ep.port ?? ''),
    path: String(ep.path ?? '/metrics'),
  };
}

/** The label name Prometheus's Kubernetes discovery gives a pod label (non-alphanumerics become _). */
const sdLabel = (k: string) => k.replace(/[^a-zA-Z0-9_]/g, '_');

/** A Prometheus scrape configuration as the Prometheus Operator generates it for one PodMonitor endpoint. */
export function scrapeConfig(t: PodMonitorTarget, sd: { server: string; caFile: string; tokenFile: string }): Any {
  return {
    job_name: `podMonitor/${t.namespace}/${t.name}/0`,
    honor_labels: false,
    scrape_interval: SCRAPE_INTERVAL,
    scrape_timeout: SCRAPE_INTERVAL,
    metrics_path: t.path,
    scheme: 'http',
    kubernetes_sd_configs: [
      {
        role: 'pod',
        api_server: sd.server,
        namespaces: { names: [...t.namespaces] },
        authorization: { type: 'Bearer', credentials_file: sd.tokenFile },
        tls_config: { ca_file: sd.caFile },
      },
    ],
    relabel_configs: [
      { source_labels: ['job'], target_label: '__tmp_prometheus_job_name' },
      ...Object.entries(t.selector).map(([k, v]) => ({
        action: 'keep',
        source_labels: [
          `__meta_kubernetes_pod_label_${sdLabel(k)}`,
          `__meta_kubernetes_pod_labelpresent_${sdLabel(k)}`,
        ],
        regex: `(${v});true`,
      })),
      { action: 'keep', source_labels: ['__meta_kubernetes_pod_container_port_name'], regex: t.port },
      { action: 'drop', source_labels: ['__meta_kubernetes_pod_phase'], regex: '(Failed|Succeeded)' },
      { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
      { source_labels: ['__meta_kubernetes_pod_container_name'], target_label: 'container' },
      { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
      { target_label: 'job', replacement: `${t.namespace}/${t.name}` },
      { target_label: 'endpoint', replacement: t.port },
    ],
  };
}

/** The ClusterRole of Prometheus's discovery (pods only), bound to its static-token user. */
export function prometheusRbac(): Manifest[] {
  const rbac = 'rbac.authorization.k8s.io';
  return [
    {
      apiVersion: `${rbac}/v1`,
      kind: 'ClusterRole',
      metadata: { name: 'twin:prometheus' },
      rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }],
    },
    {
      apiVersion: `${rbac}/v1`,
      kind: 'ClusterRoleBinding',
      metadata: { name: 'twin:prometheus' },
      roleRef: { apiGroup: rbac, kind: 'ClusterRole', name: 'twin:prometheus' },
      subjects: [{ kind: 'User', apiGroup: rbac, name: ADDON_USERS.prometheus }],
    },
  ];
}

/** The real Prometheus server on 127.0.0.1:`port`, scraping what `targets` describe. */
export class Prometheus {
  proc?: Running;
  constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(kube: Kube, targets: readonly PodMonitorTarget[], sd: { server: string; caFile: string; token: string }) {
    for (const o of prometheusRbac()) {
      const r = await kube.apply(o, { manager: 'coderun-twin-prometheus' });
      if (r.status > 299) throw new Error(`${o.kind} ${o.metadata?.name}: HTTP ${r.status}: ${r.message}`);
    }
    mkdirSync(this.dir, { recursive: true });
    const tokenFile = join(this.dir, 'token');
    writeFileSync(tokenFile, sd.token, { mode: 0o600 });
    const config = join(this.dir, 'prometheus.yml');
    writeFileSync(
      config,
      stringify({
        global: { scrape_interval: SCRAPE_INTERVAL, evaluation_interval: SCRAPE_INTERVAL },
        scrape_configs: targets.map((t) => scrapeConfig(t, { server: sd.server, caFile: sd.caFile, tokenFile })),
      }),
    );
    this.proc = start('prometheus', tool('promtool', 'prometheus'), [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(this.dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${this.port}`,
      '--log.level=warn',
    ]);
    await waitFor(
      'Prometheus ready',
      async () => {
        try {
          return (await fetch(`${this.url}/-/ready`)).ok;
        } catch {
          return false;
        }
      },
      { proc: this.proc, from: this.proc, timeoutMs: 120_000 },
    );
  }

  /** An instant query's vector: one number per series (labels JSON), as the AnalysisRun's provider sees it. */
  async query(q: string): Promise<{ labels: Record<string, string>; value: number }[]> {
    const r = await fetch(`${this.url}/api/v1/query?${new URLSearchParams({ query: q })}`);
    const body = (await r.json()) as Any;
    if (body.status !== 'success') throw new Error(`query ${q}: ${JSON.stringify(body)}`);
    return (body.data.result as Any[]).map((x) => ({ labels: x.metric, value: Number(x.value[1]) }));
  }

  /** Active targets (the discovered pods) of Prometheus. */
  async targets(): Promise<{ pod: string; health: string; url: string }[]> {
    const r = (await (await fetch(`${this.url}/api/v1/targets?state=active`)).json()) as Any;
    return (r.data?.activeTargets ?? []).map((t: Any) => ({
      pod: String(t.labels?.pod ?? ''),
      health: String(t.health),
      url: String(t.scrapeUrl),
    }));
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
  }
}

/**
 * The metrics source: for every pod the PodMonitor selects (polling the API server), an HTTP server
 * on that pod's IP and the PodMonitor's port, serving oauth2-proxy's request counter. The counters
 * grow with the time between scrapes: REQUESTS_PER_SECOND in all, `errorShare(pod, pods)` of them
 * with code 502 and the rest with 200; `pods` is every pod of the namespace at the last poll.
 */
export class MetricsSource {
  private readonly servers = new Map<string, { server: Server; ip: string }>();
  private readonly counters = new Map<string, { ok: number; err: number; at: number }>();
  private pods: PodView[] = [];
  private timer?: NodeJS.Timeout;
  private stopped = false;
  /** Scrapes answered, by pod name. */
  readonly scrapes = new Map<string, number>();
  /** Errors opening a server (e.g. an address still held by a deleted pod's server), for diagnosis. */
  readonly errors: string[] = [];

  constructor(
    private readonly kube: Kube,
    readonly target: PodMonitorTarget,
    readonly containerPort: number,
    private readonly errorShare: (pod: PodView, pods: readonly PodView[]) => number,
  ) {}

  private selected(p: PodView): boolean {
    return (
      this.target.namespaces.includes(p.namespace) &&
      Object.entries(this.target.selector).every(([k, v]) => p.labels[k] === v) &&
      p.ip !== '' &&
      p.phase === 'Running'
    );
  }

  async start(): Promise<void> {
    await this.poll();
    const tick = async () => {
      if (this.stopped) return;
      try {
        await this.poll();
      } catch (e) {
        this.errors.push(String(e));
      }
      if (!this.stopped) this.timer = setTimeout(() => void tick(), 250);
    };
    this.timer = setTimeout(() => void tick(), 250);
  }

  private async poll(): Promise<void> {
    const all: PodView[] = [];
    for (const ns of this.target.namespaces) {
      const r = await this.kube.req<{ items?: Any[] }>('GET', `/api/v1/namespaces/${ns}/pods`);
      if (r.status === 200) all.push(...(r.body.items ?? []).map(podView));
    }
    this.pods = all;
    const want = new Map(all.filter((p) => this.selected(p)).map((p) => [p.uid, p]));
    for (const [uid, s] of this.servers) {
      if (!want.has(uid) || want.get(uid)?.ip !== s.ip) {
        this.servers.delete(uid);
        await new Promise((res) => s.server.close(() => res(undefined)));
        s.server.closeAllConnections();
      }
    }
    for (const [uid, p] of want) {
      if (this.servers.has(uid)) continue;
      const server = createServer((req, res) => {
        const now = this.pods.find((x) => x.uid === uid) ?? p;
        if (req.url !== this.target.path) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
        res.end(this.exposition(now));
      });
      try {
        await new Promise<void>((res, rej) => {
          server.once('error', rej);
          server.listen(this.containerPort, p.ip, () => res());
        });
        this.servers.set(uid, { server, ip: p.ip });
      } catch (e) {
        this.errors.push(`${p.name} ${p.ip}:${this.containerPort}: ${String(e)}`);
      }
    }
  }

  /** The counter's text exposition for `pod` now. */
  private exposition(pod: PodView): string {
    const now = Date.now();
    const c = this.counters.get(pod.uid) ?? { ok: 0, err: 0, at: now };
    const requests = (REQUESTS_PER_SECOND * (now - c.at)) / 1000;
    const share = Math.min(1, Math.max(0, this.errorShare(pod, this.pods)));
    const next = { ok: c.ok + requests * (1 - share), err: c.err + requests * share, at: now };
    this.counters.set(pod.uid, next);
    this.scrapes.set(pod.name, (this.scrapes.get(pod.name) ?? 0) + 1);
    return [
      `# HELP ${METRIC} Total number of requests by HTTP status code.`,
      `# TYPE ${METRIC} counter`,
      `${METRIC}{code="200"} ${next.ok.toFixed(3)}`,
      `${METRIC}{code="502"} ${next.err.toFixed(3)}`,
      '',
    ].join('\n');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await Promise.all(
      [...this.servers.values()].map(
        (s) =>
          new Promise((res) => {
            s.server.close(() => res(undefined));
            s.server.closeAllConnections();
          }),
      ),
    );
    this.servers.clear();
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */
