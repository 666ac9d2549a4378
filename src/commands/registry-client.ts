/**
 * A small client of the OCI distribution API (the registry HTTP API), for `npm run pin` and
 * `npm run promote`: resolve a tag to its digest, and copy an image (manifests and blobs) from one
 * registry to another by digest. No Docker daemon, no credential helper: credentials are read from a
 * Docker config file (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`), keyed by registry
 * host, the same `auths` map a kubernetes.io/dockerconfigjson pull Secret holds.
 *
 * Authentication follows the registry's challenge: Basic (the credentials on every request) or
 * Bearer (a token from the challenge's realm, fetched with the credentials).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** What the registry said no to, in words for the command's user. */
export class RegistryError extends Error {}

/** Media types of manifests the client accepts and copies. */
export const MANIFEST_TYPES = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
] as const;

const INDEX_TYPES: readonly string[] = [MANIFEST_TYPES[0], MANIFEST_TYPES[2]];

/** A repository reference split into registry host and path: `registry.example.com:5000/team/app`. */
export interface RepositoryName {
  readonly host: string;
  readonly path: string;
}

/** Splits `host[:port]/path` (environment files always name the host). */
export function splitRepository(repository: string): RepositoryName {
  const slash = repository.indexOf('/');
  if (slash < 1) throw new RegistryError(`${repository}: a repository names its registry host, e.g. host/path`);
  return { host: repository.slice(0, slash), path: repository.slice(slash + 1) };
}

/** Basic credentials for one registry. */
export interface Credentials {
  readonly username: string;
  readonly password: string;
}

/** The `auths` of a Docker config file, by registry host. */
export function readDockerConfig(env: NodeJS.ProcessEnv = process.env): Map<string, Credentials> {
  const file = join(env.DOCKER_CONFIG ?? join(homedir(), '.docker'), 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return new Map();
  }
  return parseDockerConfig(text, file);
}

/** The `auths` of Docker config JSON (also a pull Secret's `.dockerconfigjson`), by registry host. */
export function parseDockerConfig(text: string, where = 'docker config'): Map<string, Credentials> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new RegistryError(`${where}: not JSON (${(e as Error).message})`);
  }
  const auths = (parsed as { auths?: Record<string, { auth?: string; username?: string; password?: string }> }).auths;
  const out = new Map<string, Credentials>();
  for (const [key, v] of Object.entries(auths ?? {})) {
    const host = key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (v.auth) {
      const plain = Buffer.from(v.auth, 'base64').toString('utf8');
      const colon = plain.indexOf(':');
      if (colon > 0) out.set(host, { username: plain.slice(0, colon), password: plain.slice(colon + 1) });
    } else if (v.username !== undefined && v.password !== undefined) {
      out.set(host, { username: v.username, password: v.password });
    }
  }
  return out;
}

/** Docker config JSON with one registry's credentials (what a pull Secret's `.dockerconfigjson` holds). */
export function dockerConfigJson(host: string, c: Credentials): string {
  const auth = Buffer.from(`${c.username}:${c.password}`).toString('base64');
  return JSON.stringify({ auths: { [host]: { username: c.username, password: c.password, auth } } });
}

/**
 * Where a registry host is reached: `https://<host>`, or `http://` for loopback hosts (as Docker and
 * go-containerregistry do), or an endpoint given on the command line (`--endpoint HOST=URL`: a
 * tunnel, a port-forward, the loopback registry of the release suite).
 */
export function endpointOf(host: string, endpoints: ReadonlyMap<string, string>): string {
  const given = endpoints.get(host);
  if (given) return given.replace(/\/+$/, '');
  const name = host.replace(/:\d+$/, '');
  const loopback = name === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(name) || name === '[::1]';
  return `${loopback ? 'http' : 'https'}://${host}`;
}

/** A manifest as the registry serves it: its exact bytes (the digest is over them) and media type. */
export interface ImageManifest {
  readonly bytes: Buffer;
  readonly mediaType: string;
  readonly digest: string;
}

/** One registry host, reached at `baseUrl`, with optional credentials. */
export class RegistryClient {
  private readonly tokens = new Map<string, string>();
  private challenge: string | undefined;

  constructor(
    /** The registry host as images name it. */
    readonly host: string,
    /** Where it is reached, without a trailing slash. */
    readonly baseUrl: string,
    private readonly credentials: Credentials | undefined,
  ) {}

  /** The digest `path:tag` points to now (a HEAD request; the registry's Docker-Content-Digest). */
  async resolve(path: string, tag: string): Promise<string> {
    const res = await this.request('HEAD', `/v2/${path}/manifests/${tag}`, { accept: MANIFEST_TYPES.join(', ') });
    if (res.status === 404) throw new RegistryError(`${this.host}/${path}:${tag}: the registry has no such image`);
    await this.expectOk(res, `${this.host}/${path}:${tag}`);
    const digest = res.headers.get('docker-content-digest');
    if (digest) return digest;
    // A registry may omit the header on HEAD; the digest is then over the bytes of a GET.
    return (await this.manifest(path, tag)).digest;
  }

  /** The manifest `path@reference` (a tag or a digest), with its bytes, media type and digest. */
  async manifest(path: string, reference: string): Promise<ImageManifest> {
    const res = await this.request('GET', `/v2/${path}/manifests/${reference}`, { accept: MANIFEST_TYPES.join(', ') });
    if (res.status === 404)
      throw new RegistryError(`${this.host}/${path}@${reference}: the registry has no such manifest`);
    await this.expectOk(res, `${this.host}/${path}@${reference}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = `sha256:${sha256(bytes)}`;
    if (reference.startsWith('sha256:') && reference !== digest) {
      throw new RegistryError(
        `${this.host}/${path}@${reference}: the registry served a manifest with digest ${digest}`,
      );
    }
    const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
    return { bytes, mediaType: mediaType || mediaTypeOf(bytes), digest };
  }

  /** Whether the registry has blob `digest` in repository `path`. */
  async hasBlob(path: string, digest: string): Promise<boolean> {
    const res = await this.request('HEAD', `/v2/${path}/blobs/${digest}`);
    if (res.status === 404) return false;
    await this.expectOk(res, `${this.host}/${path} blob ${digest}`);
    return true;
  }

  /** Blob `digest` of repository `path`. */
  async blob(path: string, digest: string): Promise<Buffer> {
    const res = await this.request('GET', `/v2/${path}/blobs/${digest}`);
    await this.expectOk(res, `${this.host}/${path} blob ${digest}`);
    const bytes = Buffer.from(await res.arrayBuffer());
    if (`sha256:${sha256(bytes)}` !== digest)
      throw new RegistryError(`${this.host}/${path}: blob ${digest} is corrupt`);
    return bytes;
  }

  /** Uploads a blob in one request after opening an upload session (POST, then PUT ?digest=). */
  async putBlob(path: string, digest: string, bytes: Buffer): Promise<void> {
    const start = await this.request('POST', `/v2/${path}/blobs/uploads/`);
    await this.expectOk(start, `${this.host}/${path} blob upload`);
    const location = start.headers.get('location');
    if (!location) throw new RegistryError(`${this.host}/${path}: the registry opened an upload without a Location`);
    const url = new URL(location, `${this.baseUrl}/`);
    url.searchParams.set('digest', digest);
    const put = await this.request('PUT', url.toString(), { contentType: 'application/octet-stream', body: bytes });
    await this.expectOk(put, `${this.host}/${path} blob ${digest}`);
  }

  /** Puts a manifest under `reference` (a tag); returns the digest the registry reports. */
  async putManifest(path: string, reference: string, m: ImageManifest): Promise<string> {
    const res = await this.request('PUT', `/v2/${path}/manifests/${reference}`, {
      contentType: m.mediaType,
      body: m.bytes,
    });
    await this.expectOk(res, `${this.host}/${path}:${reference}`);
    return res.headers.get('docker-content-digest') ?? m.digest;
  }

  private async expectOk(res: Response, what: string): Promise<void> {
    if (res.ok) return;
    const body = (await res.text().catch(() => '')).trim().slice(0, 300);
    if (res.status === 401) {
      throw new RegistryError(
        this.credentials
          ? `${what}: ${this.host} refused the credentials for ${this.credentials.username} (HTTP 401). Check the Docker config's auths["${this.host}"].`
          : `${what}: ${this.host} needs credentials (HTTP 401) and the Docker config has none for it. Run docker login ${this.host} or set DOCKER_CONFIG.`,
      );
    }
    if (res.status === 403)
      throw new RegistryError(`${what}: ${this.host} denied the request (HTTP 403)${body ? `: ${body}` : ''}`);
    throw new RegistryError(`${what}: HTTP ${res.status}${body ? `: ${body}` : ''}`);
  }

  /** One request, answering the registry's authentication challenge once if it sends one. */
  private async request(
    method: string,
    pathOrUrl: string,
    opts: { readonly accept?: string; readonly contentType?: string; readonly body?: Buffer } = {},
  ): Promise<Response> {
    const url = pathOrUrl.startsWith('/') ? `${this.baseUrl}${pathOrUrl}` : pathOrUrl;
    const send = async (authorization?: string) => {
      const headers: Record<string, string> = {};
      if (opts.accept) headers.accept = opts.accept;
      if (opts.contentType) headers['content-type'] = opts.contentType;
      if (authorization) headers.authorization = authorization;
      try {
        return await fetch(url, { method, headers, ...(opts.body ? { body: opts.body } : {}), redirect: 'follow' });
      } catch (e) {
        const cause = (e as { cause?: { message?: string } }).cause?.message ?? (e as Error).message;
        throw new RegistryError(`${method} ${url}: cannot reach ${this.host} (${cause})`);
      }
    };
    let res = await send(await this.authorization(this.challenge));
    if (res.status === 401 && this.credentials) {
      const challenge = res.headers.get('www-authenticate') ?? '';
      if (challenge !== this.challenge) {
        this.challenge = challenge;
        await res.arrayBuffer().catch(() => undefined);
        res = await send(await this.authorization(challenge));
      }
    }
    return res;
  }

  /** The Authorization header for a challenge: Basic, or a Bearer token from the challenge's realm. */
  private async authorization(challenge: string | undefined): Promise<string | undefined> {
    const c = this.credentials;
    if (!c || !challenge) return undefined;
    const basic = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
    if (/^basic\b/i.test(challenge)) return basic;
    if (!/^bearer\b/i.test(challenge)) return undefined;
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    if (!params.realm) return undefined;
    const key = `${params.realm} ${params.service ?? ''} ${params.scope ?? ''}`;
    const cached = this.tokens.get(key);
    if (cached) return `Bearer ${cached}`;
    const url = new URL(params.realm);
    if (params.service) url.searchParams.set('service', params.service);
    if (params.scope) url.searchParams.set('scope', params.scope);
    const res = await fetch(url, { headers: { authorization: basic } });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) return undefined;
    this.tokens.set(key, token);
    return `Bearer ${token}`;
  }
}

/** A client for `host`, reached at its endpoint, with the Docker config's credentials for it. */
export function clientFor(
  host: string,
  endpoints: ReadonlyMap<string, string>,
  auths: ReadonlyMap<string, Credentials>,
): RegistryClient {
  return new RegistryClient(host, endpointOf(host, endpoints), auths.get(host));
}

/**
 * Copies `from.path@digest` to `to.path:tag`, manifests (every manifest of an index) and blobs, and
 * returns what was copied (blobs the target already has are not sent again). The manifest bytes are
 * copied as they are, so the digest is the same on both sides.
 */
export async function copyImage(
  from: { readonly client: RegistryClient; readonly path: string },
  to: { readonly client: RegistryClient; readonly path: string },
  digest: string,
  tag: string,
): Promise<{ readonly blobs: number; readonly manifests: number }> {
  const counts = { blobs: 0, manifests: 0 };
  const copyManifest = async (reference: string, asTag?: string): Promise<void> => {
    const m = await from.client.manifest(from.path, reference);
    const doc = JSON.parse(m.bytes.toString('utf8')) as {
      manifests?: { digest: string }[];
      config?: { digest: string };
      layers?: { digest: string }[];
    };
    if (INDEX_TYPES.includes(m.mediaType) || doc.manifests) {
      for (const child of doc.manifests ?? []) await copyManifest(child.digest);
    } else {
      for (const blob of [doc.config, ...(doc.layers ?? [])]) {
        if (!blob || (await to.client.hasBlob(to.path, blob.digest))) continue;
        await to.client.putBlob(to.path, blob.digest, await from.client.blob(from.path, blob.digest));
        counts.blobs++;
      }
    }
    const put = await to.client.putManifest(to.path, asTag ?? m.digest, m);
    if (put !== m.digest) throw new RegistryError(`${to.client.host}/${to.path}: stored ${put}, not ${m.digest}`);
    counts.manifests++;
  };
  await copyManifest(digest, tag);
  return counts;
}

function mediaTypeOf(bytes: Buffer): string {
  try {
    const t = (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType;
    return t ?? MANIFEST_TYPES[1];
  } catch {
    return MANIFEST_TYPES[1];
  }
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
