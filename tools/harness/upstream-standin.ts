/**
 * A stand-in upstream on 127.0.0.1: answers every request with 200 and records what reached it
 * (method, URL, headers), so a test can prove a proxy let a request through and what it added.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';

export interface UpstreamRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

export interface UpstreamStandIn {
  readonly url: string;
  readonly requests: UpstreamRequest[];
  close(): Promise<void>;
}

export const UPSTREAM_BODY = 'stand-in upstream reached';

export async function startUpstreamStandIn(): Promise<UpstreamStandIn> {
  const requests: UpstreamRequest[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(UPSTREAM_BODY);
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const addr = server.address();
  return {
    url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/`,
    requests,
    close: () =>
      new Promise<void>((res) => {
        server.closeAllConnections();
        server.close(() => res());
      }),
  };
}
