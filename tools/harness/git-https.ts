/**
 * Serves bare repositories over HTTPS on 127.0.0.1 with git's own smart-HTTP server, `git
 * http-backend` (a CGI program that ships with git), behind a small node:https front that only
 * translates requests to CGI. The certificate comes from a throwaway CA; clients trust that CA.
 *
 * HTTPS, not `git daemon`'s git://: environments/schema.json accepts only https://, ssh:// and git@
 * repository URLs, and the tests must not change what a user may write.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { TlsFiles } from './pki';

export interface GitHttps {
  readonly url: string;
  close(): Promise<void>;
}

export async function serveGitHttps(projectRoot: string, pki: TlsFiles): Promise<GitHttps> {
  const server: Server = createServer(
    { cert: readFileSync(pki.certFile), key: readFileSync(pki.keyFile) },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const u = new URL(req.url ?? '/', 'https://127.0.0.1');
        const env: NodeJS.ProcessEnv = {
          PATH: process.env.PATH,
          GIT_PROJECT_ROOT: projectRoot,
          GIT_HTTP_EXPORT_ALL: '1',
          GATEWAY_INTERFACE: 'CGI/1.1',
          REQUEST_METHOD: req.method ?? 'GET',
          PATH_INFO: decodeURIComponent(u.pathname),
          QUERY_STRING: u.search.replace(/^\?/, ''),
          CONTENT_TYPE: req.headers['content-type'] ?? '',
          CONTENT_LENGTH: String(body.length),
          REMOTE_ADDR: '127.0.0.1',
          ...(req.headers['content-encoding']
            ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) }
            : {}),
          ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
        };
        const cgi = spawn('git', ['http-backend'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
        const out: Buffer[] = [];
        let err = '';
        cgi.stdout.on('data', (c: Buffer) => out.push(c));
        cgi.stderr.on('data', (c: Buffer) => (err += c.toString()));
        cgi.on('close', () => {
          const all = Buffer.concat(out);
          let split = all.indexOf('\r\n\r\n');
          let sep = 4;
          if (split < 0) {
            split = all.indexOf('\n\n');
            sep = 2;
          }
          if (split < 0) {
            res.writeHead(500, { 'content-type': 'text/plain' }).end(`git http-backend: ${err}`);
            return;
          }
          let status = 200;
          const headers: Record<string, string> = {};
          for (const line of all.subarray(0, split).toString().split(/\r?\n/)) {
            const i = line.indexOf(':');
            if (i < 0) continue;
            const k = line.slice(0, i).trim();
            const v = line.slice(i + 1).trim();
            if (k.toLowerCase() === 'status') status = Number(v.split(' ')[0]);
            else headers[k] = v;
          }
          res.writeHead(status, headers).end(all.subarray(split + sep));
        });
        // git http-backend may exit before reading the whole request (e.g. nothing to send); its
        // answer is what it wrote, so a closed stdin is no error.
        cgi.stdin.on('error', () => undefined);
        cgi.stdin.end(body);
      });
    },
  );
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `https://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((res) => {
        server.closeAllConnections();
        server.close(() => res());
      }),
  };
}
