/**
 * Stand-ins for the cluster add-ons an environment's cluster provides and the twin lacks. Argo CD
 * judges a sync by the health of what it applied, and its health checks for these kinds wait on
 * status that only those add-ons write; without them an environment that uses them never gets past
 * its first wave. Each stand-in does the part of its add-on's job that the rest of the cluster sees,
 * for what the environment file declares the cluster provides, and refuses the rest as the add-on
 * would:
 *
 * - secret store (External Secrets Operator): an ExternalSecret that reads the environment's store
 *   (`secrets.externalSecrets.store`) and one of its remote keys gets its target Secret, owned by it,
 *   with a generated value per remote property, and `Ready=True`; any other store or key gets
 *   `Ready=False` and no Secret.
 * - issuer (cert-manager): a Certificate whose issuerRef is one the environment declares
 *   (`entrypoint.issuer`, `services.nats.tls.issuer`) gets its `kubernetes.io/tls` Secret, signed by
 *   the twin's CA for the requested names and usages, and `Ready=True`; any other issuer gets
 *   `Ready=False`.
 * - ingress controller: an Ingress of the environment's class (`entrypoint.className`) gets a load
 *   balancer address in its status.
 * - metrics API (metrics-server): `metrics.k8s.io/v1beta1` served over TLS by this process and
 *   registered with the API server as an APIService, so the real HPA controller of the twin's
 *   kube-controller-manager scales on it. Every running container reports a fixed share of its
 *   requests (default 50%), as a steady load would.
 *
 * An environment that needs an add-on no stand-in covers (sealed-secrets, KEDA, the Gateway API) is
 * refused when the stand-ins start, so the loop fails loudly rather than waiting forever.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import { parseCpu, parseMemory } from '../../../src/model/quantity';
import type { EnvironmentConfig } from '../../../apps/environment';
import type { Kube } from './api';
import type { Manifest } from '../../../src/model/objects';
import { issueCert, type Ca } from '../pki';
import { freePorts } from '../ports';
import { waitFor } from '../process';

/** Address the ingress-controller stand-in publishes: on loopback, like every address the twin hands out (nothing dials it). */
export const INGRESS_ADDRESS = '127.0.0.10';
const METRICS_GROUP = 'metrics.k8s.io';
const METRICS_VERSION = 'v1beta1';
const METRICS_SERVICE = { namespace: 'kube-system', name: 'metrics-server' };
const FIELD_MANAGER = 'twin-standins';

/* eslint-disable @typescript-eslint/no-explicit-any -- objects as the API server returns them */
type Any = any;

export interface StandInOptions {
  /** Share of each container's requests the metrics API reports as its usage. @default 0.5 */
  readonly utilisation?: number;
  /** How often the controllers look at the cluster. @default 1000 */
  readonly intervalMs?: number;
  /** Where each action is reported. @default - nowhere */
  readonly log?: (line: string) => void;
}

const sameRef = (a: { kind?: string; name?: string } | undefined, b: { kind: string; name: string }) =>
  a?.kind === b.kind && a?.name === b.name;

export class StandIns {
  /** One line per action taken, in order (for the suites' facts). */
  readonly actions: string[] = [];
  private readonly done = new Map<string, string>();
  private readonly values = new Map<string, string>();
  private server?: Server;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly kube: Kube,
    private readonly ca: Ca,
    private readonly env: EnvironmentConfig,
    private readonly opts: StandInOptions = {},
  ) {
    if (env.secrets.provider === 'sealed-secrets') {
      throw new Error(
        `${env.name}: secrets.provider sealed-secrets has no stand-in in the twin (tools/harness/twin/standins.ts); Argo CD would wait for the SealedSecrets forever.`,
      );
    }
    if (env.services.middleware.keda) {
      throw new Error(
        `${env.name}: services.middleware.keda has no stand-in in the twin (tools/harness/twin/standins.ts); Argo CD would wait for the ScaledObject forever.`,
      );
    }
    if (env.entrypoint.mode === 'gateway') {
      throw new Error(
        `${env.name}: entrypoint.mode gateway has no stand-in in the twin (tools/harness/twin/standins.ts); Argo CD would wait for the HTTPRoute forever.`,
      );
    }
  }

  private act(line: string): void {
    this.actions.push(line);
    this.opts.log?.(`stand-in: ${line}`);
  }

  /** Starts the metrics API and the controllers' loop. */
  async start(): Promise<void> {
    await this.startMetrics();
    const tick = async () => {
      if (this.stopped) return;
      try {
        await this.reconcile();
      } catch (e) {
        this.opts.log?.(`stand-in: reconcile failed: ${String(e)}`);
      }
      if (!this.stopped) this.timer = setTimeout(() => (this.running = tick()), this.opts.intervalMs ?? 1000);
    };
    this.running = tick();
    await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    const srv = this.server;
    if (srv) {
      // The aggregator keeps connections open; close them, or close() waits for them.
      const closed = new Promise((res) => srv.close(res));
      srv.closeAllConnections();
      await closed;
    }
  }

  /** Every object of a kind; list items carry no apiVersion or kind, so they are set here. */
  private async all(apiVersion: string, kind: string): Promise<Any[]> {
    return (await this.kube.list<Any>(apiVersion, kind)).map((o) => ({ apiVersion, kind, ...o }));
  }

  private async reconcile(): Promise<void> {
    if (this.env.secrets.provider === 'external-secrets') await this.externalSecrets();
    if (this.issuers().length > 0) await this.certificates();
    if (this.env.entrypoint.mode === 'ingress') await this.ingresses();
  }

  private static key(o: Any): string {
    return `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;
  }

  /** Is this object, at this generation, not handled yet? */
  private fresh(o: Any): boolean {
    return this.done.get(StandIns.key(o)) !== `${o.metadata.uid}@${o.metadata.generation}`;
  }

  /** Handled (after its Secret and status are written; a failure is retried on the next pass). */
  private handled(o: Any): void {
    this.done.set(StandIns.key(o), `${o.metadata.uid}@${o.metadata.generation}`);
  }

  private async status(o: Any, status: Record<string, unknown>): Promise<void> {
    const path = `${await this.kube.pathOf(o)}/status`;
    const r = await this.kube.req('PATCH', path, { status }, 'application/merge-patch+json');
    if (r.status > 299)
      throw new Error(`${o.kind} ${o.metadata.namespace}/${o.metadata.name} status: HTTP ${r.status}: ${r.message}`);
  }

  private async putSecret(secret: Manifest): Promise<void> {
    const r = await this.kube.apply(secret, { manager: FIELD_MANAGER });
    if (r.status > 299)
      throw new Error(`Secret ${secret.metadata?.namespace}/${secret.metadata?.name}: HTTP ${r.status}: ${r.message}`);
  }

  private condition(ready: boolean, reason: string, message: string, generation?: number): Record<string, unknown> {
    return {
      type: 'Ready',
      status: ready ? 'True' : 'False',
      reason,
      message,
      lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
  }

  private async externalSecrets(): Promise<void> {
    const es = this.env.secrets.externalSecrets;
    if (!es) return;
    const keys = new Set(Object.values(es.remoteKeys));
    for (const o of await this.all('external-secrets.io/v1', 'ExternalSecret')) {
      if (!this.fresh(o)) continue;
      const id = `ExternalSecret ${o.metadata.namespace}/${o.metadata.name}`;
      const ref = o.spec.secretStoreRef ?? {};
      const data: Any[] = o.spec.data ?? [];
      const wrongStore = !sameRef({ kind: ref.kind ?? 'SecretStore', name: ref.name }, es.store);
      const missing = data.map((d) => String(d.remoteRef?.key)).filter((k) => !keys.has(k));
      if (wrongStore || missing.length > 0 || (o.spec.dataFrom ?? []).length > 0) {
        const message = wrongStore
          ? `could not get store: ${ref.kind ?? 'SecretStore'} "${ref.name}" is not the environment's ${es.store.kind} "${es.store.name}"`
          : missing.length > 0
            ? `could not get secret data from provider: remote key(s) ${missing.join(', ')} not in the store`
            : 'dataFrom has no stand-in';
        await this.status(o, { conditions: [this.condition(false, 'SecretSyncedError', message)] });
        this.act(`${id}: refused (${message})`);
        this.handled(o);
        continue;
      }
      const target = o.spec.target?.name ?? o.metadata.name;
      const stringData: Record<string, string> = {};
      for (const d of data) {
        const k = `${d.remoteRef.key}/${d.remoteRef.property ?? ''}`;
        if (!this.values.has(k)) this.values.set(k, randomBytes(24).toString('base64url'));
        stringData[String(d.secretKey)] = this.values.get(k) ?? '';
      }
      const owner = (o.spec.target?.creationPolicy ?? 'Owner') === 'Owner';
      await this.putSecret({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: target,
          namespace: o.metadata.namespace,
          labels: { 'reconcile.external-secrets.io/managed': 'true' },
          ...(owner
            ? {
                ownerReferences: [
                  {
                    apiVersion: o.apiVersion,
                    kind: o.kind,
                    name: o.metadata.name,
                    uid: o.metadata.uid,
                    controller: true,
                    blockOwnerDeletion: true,
                  },
                ],
              }
            : {}),
        },
        type: 'Opaque',
        stringData,
      });
      await this.status(o, {
        conditions: [this.condition(true, 'SecretSynced', 'secret synced')],
        refreshTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        syncedResourceVersion: `${o.metadata.generation}-stand-in`,
        binding: { name: target },
      });
      this.handled(o);
      this.act(
        `${id}: Secret ${target} synced (${Object.keys(stringData).length} keys from ${es.store.kind} ${es.store.name})`,
      );
    }
  }

  /** The issuers the environment declares its cluster has. */
  private issuers(): { kind: string; name: string }[] {
    const out: { kind: string; name: string }[] = [];
    if (this.env.entrypoint.issuer) out.push(this.env.entrypoint.issuer);
    if (this.env.services.nats.tls) out.push(this.env.services.nats.tls.issuer);
    return out;
  }

  private async certificates(): Promise<void> {
    const issuers = this.issuers();
    for (const o of await this.all('cert-manager.io/v1', 'Certificate')) {
      if (!this.fresh(o)) continue;
      const id = `Certificate ${o.metadata.namespace}/${o.metadata.name}`;
      const ref = { kind: o.spec.issuerRef?.kind ?? 'Issuer', name: o.spec.issuerRef?.name };
      if (!issuers.some((i) => sameRef(ref, i))) {
        const message = `Referenced "${ref.kind}" not found: ${ref.kind.toLowerCase()}.cert-manager.io "${ref.name}" not found`;
        await this.status(o, { conditions: [this.condition(false, 'DoesNotExist', message, o.metadata.generation)] });
        this.act(`${id}: refused (${message})`);
        this.handled(o);
        continue;
      }
      const names: string[] = [...(o.spec.dnsNames ?? []), ...(o.spec.ipAddresses ?? [])];
      const usages = (o.spec.usages ?? []).flatMap((u: string) =>
        u === 'server auth' ? ['serverAuth'] : u === 'client auth' ? ['clientAuth'] : [],
      );
      const issued = issueCert(this.ca, o.spec.commonName ?? names[0] ?? o.metadata.name, {
        names,
        usages,
        isCA: o.spec.isCA === true,
      });
      await this.putSecret({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: o.spec.secretName,
          namespace: o.metadata.namespace,
          annotations: {
            'cert-manager.io/certificate-name': o.metadata.name,
            'cert-manager.io/issuer-kind': ref.kind,
            'cert-manager.io/issuer-name': ref.name,
          },
        },
        type: 'kubernetes.io/tls',
        stringData: { 'tls.crt': issued.cert, 'tls.key': issued.key, 'ca.crt': issued.ca },
      });
      const now = new Date();
      const iso = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');
      await this.status(o, {
        conditions: [
          this.condition(true, 'Ready', 'Certificate is up to date and has not expired', o.metadata.generation),
        ],
        notBefore: iso(now),
        notAfter: iso(new Date(now.getTime() + 2 * 86_400_000)),
        renewalTime: iso(new Date(now.getTime() + 86_400_000)),
        revision: 1,
      });
      this.handled(o);
      this.act(`${id}: Secret ${o.spec.secretName} issued by ${ref.kind} ${ref.name} (${names.length} names)`);
    }
  }

  private async ingresses(): Promise<void> {
    for (const o of await this.all('networking.k8s.io/v1', 'Ingress')) {
      if (o.spec.ingressClassName !== this.env.entrypoint.className) continue;
      if ((o.status?.loadBalancer?.ingress ?? []).length > 0) continue;
      await this.status(o, { loadBalancer: { ingress: [{ ip: INGRESS_ADDRESS }] } });
      this.act(
        `Ingress ${o.metadata.namespace}/${o.metadata.name}: address ${INGRESS_ADDRESS} (class ${o.spec.ingressClassName})`,
      );
    }
  }

  /** metrics.k8s.io served here, registered as an APIService behind an ExternalName Service. */
  private async startMetrics(): Promise<void> {
    const [port] = await freePorts(1);
    const host = `${METRICS_SERVICE.name}.${METRICS_SERVICE.namespace}.svc`;
    const issued = issueCert(this.ca, host, { names: [host, 'localhost', '127.0.0.1'], usages: ['serverAuth'] });
    this.server = createServer({ cert: issued.cert, key: issued.key }, (req, res) => {
      this.serveMetrics(req, res).catch((e: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e));
      });
    });
    await new Promise<void>((res) => this.server?.listen(port, '127.0.0.1', res));
    const objects: Manifest[] = [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { ...METRICS_SERVICE },
        spec: { type: 'ExternalName', externalName: 'localhost', ports: [{ name: 'https', port, protocol: 'TCP' }] },
      },
      {
        apiVersion: 'apiregistration.k8s.io/v1',
        kind: 'APIService',
        metadata: { name: `${METRICS_VERSION}.${METRICS_GROUP}` },
        spec: {
          group: METRICS_GROUP,
          version: METRICS_VERSION,
          groupPriorityMinimum: 100,
          versionPriority: 100,
          service: { ...METRICS_SERVICE, port },
          caBundle: Buffer.from(issued.ca).toString('base64'),
        },
      },
    ];
    for (const o of objects) {
      const r = await this.kube.apply(o, { manager: FIELD_MANAGER });
      if (r.status > 299) throw new Error(`${o.kind} ${o.metadata?.name}: HTTP ${r.status}: ${r.message}`);
    }
    // Available once the aggregator has reached this server.
    let last: unknown;
    await waitFor(
      'the metrics APIService Available',
      async () => {
        const r = await this.kube.req<Any>(
          'GET',
          `/apis/apiregistration.k8s.io/v1/apiservices/${METRICS_VERSION}.${METRICS_GROUP}`,
        );
        last = (r.body?.status?.conditions ?? []).find((x: Any) => x.type === 'Available');
        return (last as Any)?.status === 'True';
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}; its condition: ${JSON.stringify(last)}`);
    });
    this.act(
      `metrics API ${METRICS_GROUP}/${METRICS_VERSION}: Available (pods report ${(this.opts.utilisation ?? 0.5) * 100}% of their requests)`,
    );
  }

  private async serveMetrics(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://localhost');
    const base = `/apis/${METRICS_GROUP}/${METRICS_VERSION}`;
    const json = (code: number, body: unknown) =>
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (url.pathname === base || url.pathname === `${base}/`) {
      return void json(200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: `${METRICS_GROUP}/${METRICS_VERSION}`,
        resources: [{ name: 'pods', singularName: '', namespaced: true, kind: 'PodMetrics', verbs: ['get', 'list'] }],
      });
    }
    const m = new RegExp(`^${base}/(?:namespaces/([^/]+)/)?pods(?:/([^/]+))?$`).exec(url.pathname);
    if (!m)
      return void json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
    const [, ns, name] = m;
    const selector = url.searchParams.get('labelSelector');
    const q = new URLSearchParams({
      fieldSelector: 'status.phase=Running',
      ...(selector ? { labelSelector: selector } : {}),
    });
    const pods = await this.kube.list<Any>('v1', 'Pod', ns, q.toString());
    const share = this.opts.utilisation ?? 0.5;
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const items = pods
      .filter((p) => name === undefined || p.metadata.name === name)
      .map((p) => ({
        metadata: {
          name: p.metadata.name,
          namespace: p.metadata.namespace,
          labels: p.metadata.labels ?? {},
          creationTimestamp: now,
        },
        timestamp: now,
        window: '10s',
        containers: (p.spec.containers ?? []).map((c: Any) => ({
          name: c.name,
          usage: {
            cpu: `${Math.round(parseCpu(String(c.resources?.requests?.cpu ?? '0')) * share)}m`,
            memory: `${Math.round(parseMemory(String(c.resources?.requests?.memory ?? '0')) * share)}`,
          },
        })),
      }));
    if (name !== undefined) {
      const one = items[0];
      return void (one
        ? json(200, { kind: 'PodMetrics', apiVersion: `${METRICS_GROUP}/${METRICS_VERSION}`, ...one })
        : json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
    }
    json(200, { kind: 'PodMetricsList', apiVersion: `${METRICS_GROUP}/${METRICS_VERSION}`, metadata: {}, items });
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */
