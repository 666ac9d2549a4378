/**
 * A small Kubernetes API client over node:https: bearer token, the twin's CA, JSON in and out.
 * Resource paths come from the API server's own discovery, so any kind it serves (CRDs included)
 * can be applied, read and deleted by apiVersion and kind.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import type { Manifest } from '../../../src/model/objects';

export interface Reply<T = Manifest> {
  readonly status: number;
  readonly body: T;
  /** The Status message for errors, the raw text when the body is not JSON. */
  readonly message: string;
}

interface ResourceInfo {
  readonly name: string;
  readonly namespaced: boolean;
}

export class Kube {
  private readonly agent: Agent;
  private readonly url: URL;
  private readonly discovery = new Map<string, Map<string, ResourceInfo>>();

  constructor(
    readonly server: string,
    caFile: string,
    readonly token: string,
    private readonly extraHeaders: Record<string, string> = {},
  ) {
    this.url = new URL(server);
    this.agent = new Agent({ ca: readFileSync(caFile), keepAlive: true, maxSockets: 32 });
  }

  /** The same server and CA with another bearer token (e.g. a ServiceAccount's). */
  as(token: string, headers: Record<string, string> = {}): Kube {
    const k = new Kube(this.server, '/dev/null', token, headers);
    (k as unknown as { agent: Agent }).agent = this.agent;
    return k;
  }

  close(): void {
    this.agent.destroy();
  }

  /** One HTTP request; never throws on HTTP errors. */
  req<T = Manifest>(
    method: string,
    path: string,
    body?: unknown,
    contentType = 'application/json',
    timeoutMs = 30_000,
  ): Promise<Reply<T>> {
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const r = request(
        {
          agent: this.agent,
          host: this.url.hostname,
          port: this.url.port,
          method,
          path,
          timeout: timeoutMs,
          headers: {
            authorization: `Bearer ${this.token}`,
            accept: 'application/json',
            ...(data === undefined ? {} : { 'content-type': contentType, 'content-length': Buffer.byteLength(data) }),
            ...this.extraHeaders,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : {};
            } catch {
              /* not JSON */
            }
            const message =
              typeof parsed === 'object' && parsed !== null && 'message' in parsed
                ? String((parsed as { message: unknown }).message)
                : text;
            resolve({ status: res.statusCode ?? 0, body: parsed as T, message });
          });
        },
      );
      r.on('timeout', () => r.destroy(new Error(`${method} ${path}: timed out after ${timeoutMs} ms`)));
      r.on('error', reject);
      if (data !== undefined) r.write(data);
      r.end();
    });
  }

  /** Like req, but throws unless the status is 2xx. */
  async must<T = Manifest>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const r = await this.req<T>(method, path, body, contentType);
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path}: HTTP ${r.status}: ${r.message}`);
    return r.body;
  }

  /** Forgets discovery (after CRDs are installed). */
  rediscover(): void {
    this.discovery.clear();
  }

  private async resources(apiVersion: string): Promise<Map<string, ResourceInfo>> {
    const known = this.discovery.get(apiVersion);
    if (known) return known;
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const list = await this.must<{ resources: { name: string; kind: string; namespaced: boolean }[] }>('GET', base);
    const m = new Map<string, ResourceInfo>();
    for (const r of list.resources)
      if (!r.name.includes('/')) m.set(r.kind, { name: r.name, namespaced: r.namespaced });
    this.discovery.set(apiVersion, m);
    return m;
  }

  /** The collection path for apiVersion/kind in namespace (ignored for cluster-scoped kinds). */
  async collection(apiVersion: string, kind: string, namespace?: string): Promise<string> {
    const info = (await this.resources(apiVersion)).get(kind);
    if (!info) throw new Error(`the API server does not serve ${kind} in ${apiVersion}`);
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    if (!info.namespaced) return `${base}/${info.name}`;
    return `${base}/namespaces/${namespace ?? 'default'}/${info.name}`;
  }

  /** The path of one object. */
  async pathOf(o: Manifest): Promise<string> {
    return `${await this.collection(String(o.apiVersion), String(o.kind), o.metadata?.namespace)}/${encodeURIComponent(String(o.metadata?.name))}`;
  }

  /** Server-side apply with strict field validation; returns the reply (the caller judges it). */
  async apply(o: Manifest, opts: { manager?: string; dryRun?: boolean; force?: boolean } = {}): Promise<Reply> {
    const q = new URLSearchParams({ fieldManager: opts.manager ?? 'coderun-twin', fieldValidation: 'Strict' });
    if (opts.force !== false) q.set('force', 'true');
    if (opts.dryRun) q.set('dryRun', 'All');
    return this.req('PATCH', `${await this.pathOf(o)}?${q}`, o, 'application/apply-patch+yaml');
  }

  async list<T = Manifest>(apiVersion: string, kind: string, namespace?: string, query = ''): Promise<T[]> {
    const path =
      namespace === undefined && (await this.resources(apiVersion)).get(kind)?.namespaced
        ? `${apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`}/${(await this.resources(apiVersion)).get(kind)?.name}`
        : await this.collection(apiVersion, kind, namespace);
    const r = await this.must<{ items: T[] }>('GET', `${path}${query ? `?${query}` : ''}`);
    return r.items;
  }
}
