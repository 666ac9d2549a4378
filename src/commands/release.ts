/**
 * What `npm run pin` and `npm run promote` share: the environment's images by name, the
 * `--endpoint HOST=URL` option, and the registry clients.
 */
import { imageFields, type EnvironmentConfig } from '../../apps/environment';
import type { ImageRef } from '../model/schema';
import { clientFor, readDockerConfig, splitRepository, type Credentials, type RegistryClient } from './registry-client';

/** One image of an environment: its name (`frontend`, `nats-exporter`, `executor-go`), field path and value. */
export interface NamedImage {
  readonly name: string;
  readonly path: string;
  readonly image: ImageRef;
}

/** The name of the image at a field path: the service, `nats-exporter`, `executor-<language>`, `executor-reaper`. */
export function imageName(path: string): string {
  const p = path.split('.');
  if (p[0] === 'services' && p[2] === 'image') return p[1] ?? path;
  if (p[0] === 'services' && p[2] === 'exporterImage') return `${p[1] ?? ''}-exporter`;
  if (p[0] === 'executors' && p[1] === 'images') return `executor-${p[2] ?? ''}`;
  if (p[0] === 'executorReaper') return 'executor-reaper';
  return path;
}

/** Every image of `env`, named. */
export function namedImages(env: EnvironmentConfig): NamedImage[] {
  return imageFields(env).map(([path, image]) => ({ name: imageName(path), path, image }));
}

/** A usage or input problem: exit 2. */
export class ReleaseUsageError extends Error {}

/** Parses one `--endpoint HOST=URL`. */
export function parseEndpoint(v: string | undefined, into: Map<string, string>): void {
  const m = /^([^=\s]+)=(https?:\/\/\S+)$/.exec(v ?? '');
  if (!m?.[1] || !m[2])
    throw new ReleaseUsageError(
      `--endpoint needs HOST=URL (e.g. registry.example.com=http://127.0.0.1:5000), not '${v ?? ''}'`,
    );
  into.set(m[1], m[2]);
}

/** Environment variable with `HOST=URL` endpoints, comma-separated (the release sandbox sets it); `--endpoint` wins. */
export const ENDPOINTS_VARIABLE = 'CODERUN_REGISTRY_ENDPOINTS';

/** Registry clients by host, sharing one read of the Docker config. */
export class Registries {
  private readonly clients = new Map<string, RegistryClient>();
  private readonly auths: ReadonlyMap<string, Credentials>;
  private readonly endpoints = new Map<string, string>();

  constructor(endpoints: ReadonlyMap<string, string>, env: NodeJS.ProcessEnv = process.env) {
    this.auths = readDockerConfig(env);
    for (const e of (env[ENDPOINTS_VARIABLE] ?? '').split(',').filter((x) => x.trim() !== '')) {
      parseEndpoint(e.trim(), this.endpoints);
    }
    for (const [host, url] of endpoints) this.endpoints.set(host, url);
  }

  /** The client and path of an image repository. */
  of(repository: string): { readonly client: RegistryClient; readonly path: string; readonly host: string } {
    const { host, path } = splitRepository(repository);
    let client = this.clients.get(host);
    if (!client) {
      client = clientFor(host, this.endpoints, this.auths);
      this.clients.set(host, client);
    }
    return { client, path, host };
  }
}
