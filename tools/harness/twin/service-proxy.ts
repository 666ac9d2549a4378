/**
 * The twin's stand-in for cluster DNS and Service routing, for the HTTP clients of its add-ons.
 *
 * A rendered object may name an in-cluster address, such as the Prometheus an AnalysisTemplate
 * queries (`http://prometheus-operated.monitoring.svc:9090`). In the twin no cluster DNS exists, and a
 * lookup would go to the machine's resolver, off loopback. An add-on whose HTTP client honours
 * HTTP_PROXY (Go's net/http ProxyFromEnvironment: Argo Rollouts' Prometheus provider) is started
 * with HTTP_PROXY pointing here, so it sends `POST http://<service>.<namespace>.svc:<port>/…` to this
 * proxy instead of resolving the name. The proxy forwards a request to the loopback address the test
 * registered for that Service and port, and answers 502 for any other host, without dialling it.
 * Requests to 127.0.0.1 and localhost never come here (Go does not proxy loopback).
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Where requests for one in-cluster host:port go. */
export interface ServiceTarget {
  /** A loopback address (127.0.0.0/8). */
  readonly host: string;
  readonly port: number;
}

/** `<service>.<namespace>.svc[.cluster.local]:<port>` as the key of a route, without .cluster.local. */
function routeKey(host: string, port: number): string {
  return `${host.replace(/\.cluster\.local\.?$/, '').replace(/\.$/, '')}:${port}`;
}

export class ServiceProxy {
  private readonly routes = new Map<string, ServiceTarget>();
  private server: Server | undefined;
  /** Requests answered, by route key (or `refused <host>` for hosts with no route). */
  readonly seen = new Map<string, number>();

  /** The port the proxy listens on (127.0.0.1), once started. */
  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  /** The HTTP_PROXY environment for a client of the twin. */
  env(): Record<string, string> {
    const url = `http://127.0.0.1:${this.port}`;
    return { HTTP_PROXY: url, http_proxy: url, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' };
  }

  /** Sends requests for `service.namespace.svc:port` to `target` (a loopback address). */
  route(service: string, namespace: string, port: number, target: ServiceTarget): void {
    if (!target.host.startsWith('127.')) throw new Error(`service proxy: ${target.host} is not a loopback address`);
    this.routes.set(routeKey(`${service}.${namespace}.svc`, port), target);
  }

  /** Listens on 127.0.0.1 (a free port). */
  async start(): Promise<void> {
    const server = createServer((req, res) => this.forward(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private count(key: string): void {
    this.seen.set(key, (this.seen.get(key) ?? 0) + 1);
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    let url: URL;
    try {
      // A proxied request carries the absolute URL.
      url = new URL(req.url ?? '');
    } catch {
      res.writeHead(400).end('service proxy: expected an absolute http:// URL\n');
      return;
    }
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const key = routeKey(url.hostname, port);
    const target = url.protocol === 'http:' ? this.routes.get(key) : undefined;
    if (!target) {
      this.count(`refused ${key}`);
      res.writeHead(502).end(`service proxy: no Service routed for ${url.protocol}//${key} in the twin\n`);
      return;
    }
    this.count(key);
    const upstream = request(
      {
        host: target.host,
        port: target.port,
        method: req.method,
        path: `${url.pathname}${url.search}`,
        headers: { ...req.headers, host: `${url.hostname}:${port}` },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (e) => {
      if (!res.headersSent) res.writeHead(502);
      res.end(`service proxy: ${key} → ${target.host}:${target.port}: ${e.message}\n`);
    });
    req.pipe(upstream);
  }
}
