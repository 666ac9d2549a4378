/**
 * The release commands' parts that need no registry: in-place edits of environment files, image
 * names, Docker config parsing, endpoints, argument parsing and the refusals that come before any
 * request. The registry client's Bearer challenge runs against a small in-process stand-in (the
 * release suite, npm run test:release, covers Basic against the real registry program).
 */
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnvironment } from '../apps/environment';
import { listEnvironments } from '../src/model/loader';
import { editImages } from '../src/commands/env-file';
import { parsePinArgs, pin } from '../src/commands/pin';
import { parsePromoteArgs } from '../src/commands/promote';
import {
  dockerConfigJson,
  endpointOf,
  parseDockerConfig,
  RegistryClient,
  RegistryError,
  splitRepository,
} from '../src/commands/registry-client';
import { imageName, namedImages, Registries, ReleaseUsageError } from '../src/commands/release';
import { ROOT } from './support/committed';

const D = (c: string) => `sha256:${c.repeat(64)}`;

describe('editImages: in-place edits of an environment file', () => {
  const text = [
    '# a comment that stays',
    'services:',
    '  frontend:',
    '    image:',
    '      repository: registry.example.com/app   # trailing comment',
    '      tag: "1.0.0"',
    '    replicas: 2',
    'other:',
    '  image: {repository: registry.example.com/x, tag: v1}',
    '',
  ].join('\n');

  it('adds a digest on its own line after the tag, indented like it, and changes nothing else', () => {
    const out = editImages(text, [{ path: 'services.frontend.image', digest: D('a') }]);
    expect(out).toBe(text.replace('      tag: "1.0.0"\n', `      tag: "1.0.0"\n      digest: ${D('a')}\n`));
  });

  it('replaces a digest and a tag in place, keeping the quoting of the tag', () => {
    const pinned = editImages(text, [{ path: 'services.frontend.image', digest: D('a') }]);
    const out = editImages(pinned, [{ path: 'services.frontend.image', tag: '1.1.0', digest: D('b') }]);
    expect(out).toBe(pinned.replace('"1.0.0"', '"1.1.0"').replace(D('a'), D('b')));
    expect(editImages(out, [{ path: 'services.frontend.image', tag: '1.1.0', digest: D('b') }])).toBe(out);
  });

  it('refuses a flow mapping and a path that is no image', () => {
    expect(() => editImages(text, [{ path: 'other.image', digest: D('a') }])).toThrow(/flow mapping/);
    expect(() => editImages(text, [{ path: 'services.backend.image', digest: D('a') }])).toThrow(/no image mapping/);
  });

  it.each(listEnvironments(ROOT))('%s: rewriting every image with its own tag and digest changes no byte', (env) => {
    const file = join(ROOT, 'environments', `${env}.yaml`);
    const original = readFileSync(file, 'utf8');
    const edits = namedImages(loadEnvironment(ROOT, env))
      .filter((i) => i.image.digest !== undefined)
      .map((i) => ({ path: i.path, ...(i.image.tag ? { tag: i.image.tag } : {}), digest: i.image.digest ?? '' }));
    expect(editImages(original, edits)).toBe(original);
  });
});

describe('image names', () => {
  it.each(listEnvironments(ROOT))('%s: every image has a name of its own', (env) => {
    const names = namedImages(loadEnvironment(ROOT, env)).map((i) => i.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('frontend');
    expect(names).toContain('executor-reaper');
  });

  it('names services, the exporter, executors and the reaper', () => {
    expect(imageName('services.frontend.image')).toBe('frontend');
    expect(imageName('services.nats.exporterImage')).toBe('nats-exporter');
    expect(imageName('executors.images.go')).toBe('executor-go');
    expect(imageName('executorReaper.image')).toBe('executor-reaper');
  });
});

describe('registry client parts', () => {
  it('splits a repository into host and path', () => {
    expect(splitRepository('registry.example.com:5000/team/app')).toEqual({
      host: 'registry.example.com:5000',
      path: 'team/app',
    });
    expect(() => splitRepository('app')).toThrow(RegistryError);
  });

  it('reads the Docker config it writes (the pull Secret form), by host', () => {
    const json = dockerConfigJson('registry.example.com', { username: 'u', password: 'p:w' });
    expect(parseDockerConfig(json).get('registry.example.com')).toEqual({ username: 'u', password: 'p:w' });
    const auth = Buffer.from('a:b').toString('base64');
    expect(
      parseDockerConfig(JSON.stringify({ auths: { 'https://h.example/v1/': { auth } } })).get('h.example'),
    ).toEqual({
      username: 'a',
      password: 'b',
    });
    expect(() => parseDockerConfig('{')).toThrow(RegistryError);
  });

  it('reaches loopback hosts over http, others over https, and a given endpoint as given', () => {
    const none = new Map<string, string>();
    expect(endpointOf('127.0.0.1:5000', none)).toBe('http://127.0.0.1:5000');
    expect(endpointOf('localhost:5000', none)).toBe('http://localhost:5000');
    expect(endpointOf('registry.example.com', none)).toBe('https://registry.example.com');
    expect(endpointOf('registry.example.com', new Map([['registry.example.com', 'http://127.0.0.1:9/']]))).toBe(
      'http://127.0.0.1:9',
    );
  });

  it('takes endpoints from CODERUN_REGISTRY_ENDPOINTS, the command line winning', () => {
    const env = {
      CODERUN_REGISTRY_ENDPOINTS: 'a.example=http://127.0.0.1:1,b.example=http://127.0.0.1:2',
      DOCKER_CONFIG: '/nonexistent',
    };
    const r = new Registries(new Map([['b.example', 'http://127.0.0.1:3']]), env);
    expect(r.of('a.example/x').client.baseUrl).toBe('http://127.0.0.1:1');
    expect(r.of('b.example/x').client.baseUrl).toBe('http://127.0.0.1:3');
    expect(() => new Registries(new Map(), { CODERUN_REGISTRY_ENDPOINTS: 'nourl' })).toThrow(ReleaseUsageError);
  });

  describe('a Bearer challenge (token registries such as GCR, Harbor, distribution with token auth)', () => {
    let server: Server;
    let base = '';
    const seen: string[] = [];
    beforeAll(async () => {
      server = createServer((req, res) => {
        seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
        if (req.url?.startsWith('/token')) {
          const ok = req.headers.authorization === `Basic ${Buffer.from('u:p').toString('base64')}`;
          res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' }).end(ok ? '{"token":"t0k"}' : '{}');
          return;
        }
        if (req.headers.authorization !== 'Bearer t0k') {
          res
            .writeHead(401, {
              'www-authenticate': `Bearer realm="${base}/token",service="registry.test",scope="repository:app:pull"`,
            })
            .end();
          return;
        }
        res.writeHead(200, { 'docker-content-digest': D('c') }).end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const addr = server.address();
      base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('fetches a token with the credentials and resolves with it', async () => {
      const client = new RegistryClient('registry.test', base, { username: 'u', password: 'p' });
      expect(await client.resolve('app', '1.0.0')).toBe(D('c'));
      expect(
        seen.some((l) => l.startsWith('GET /token?service=registry.test&scope=repository%3Aapp%3Apull Basic ')),
      ).toBe(true);
    });

    it('says which credentials were refused', async () => {
      const client = new RegistryClient('registry.test', base, { username: 'u', password: 'wrong' });
      await expect(client.resolve('app', '1.0.0')).rejects.toThrow(
        'registry.test refused the credentials for u (HTTP 401)',
      );
    });
  });
});

describe('pin and promote: usage and refusals before any request', () => {
  it('parses their arguments and refuses bad ones', () => {
    expect(parsePinArgs(['--env', 'staging', '--endpoint', 'h.example=http://127.0.0.1:1'])).toEqual({
      env: 'staging',
      endpoints: new Map([['h.example', 'http://127.0.0.1:1']]),
    });
    expect(() => parsePinArgs([])).toThrow('--env NAME is required');
    expect(() => parsePinArgs(['--env', 'x', '--endpoint', 'h.example'])).toThrow('--endpoint needs HOST=URL');
    expect(parsePromoteArgs(['--from', 'staging', '--to', 'prod', '--service', 'frontend'])).toMatchObject({
      from: 'staging',
      to: 'prod',
      services: ['frontend'],
    });
    expect(() => parsePromoteArgs(['--from', 'prod', '--to', 'prod'])).toThrow('name the same environment');
    expect(() => parsePromoteArgs(['--from', 'staging'])).toThrow('--from and --to are required');
  });

  it('pin refuses an environment without a registry', async () => {
    const publicEnv = listEnvironments(ROOT).find((n) => loadEnvironment(ROOT, n).registry === undefined);
    if (!publicEnv) return;
    await expect(pin(ROOT, { env: publicEnv, endpoints: new Map() })).rejects.toThrow(
      `${publicEnv} names no registry; pin resolves digests in the environment's own registry`,
    );
  });
});
