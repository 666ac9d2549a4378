/**
 * A private image registry on loopback, and images to put in it, for the release suite
 * (test/real/release) and the release sandbox (npm run release-sandbox): our registry program
 * (tools/go/registry: go-containerregistry's registry behind htpasswd basic auth) and crane
 * (tools/go/crane), which builds and pushes images without a Docker daemon.
 *
 * Images are placeholders: one layer with one text file naming the image, built reproducibly (the
 * layer tar has fixed owners and times; crane leaves the config's dates at zero), so the same
 * repository path and tag always give the same digest, on any machine, in any registry.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePorts } from './ports';
import { start, waitFor, type Running } from './process';
import type { ImageRef } from '../../src/model/schema';
import { ROOT, tool } from './tools';

/** The two programs, built by tools/build.sh (on first use). `root`: the repository (the bundled sandbox passes its own). */
export interface RegistryTools {
  readonly registry: string;
  readonly crane: string;
}

export function registryTools(root = ROOT): RegistryTools {
  return { registry: tool('registry', 'registry', root), crane: tool('crane', 'crane', root) };
}

/** A user of a registry. */
export interface RegistryUser {
  readonly username: string;
  readonly password: string;
}

/** A running registry. */
export interface RegistryServer {
  /** `127.0.0.1:<port>`: the host part of its image references. */
  readonly host: string;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly proc: Running;
}

/**
 * Starts a registry on a free loopback port (or `port`) that admits `pusher` (pull and push) and
 * `puller` (pull only). `dir` holds its htpasswd file.
 */
export async function startRegistry(
  tools: RegistryTools,
  dir: string,
  users: { readonly pusher: RegistryUser; readonly puller: RegistryUser },
  port?: number,
): Promise<RegistryServer> {
  const registry = tools.registry;
  mkdirSync(dir, { recursive: true });
  const lines = [users.pusher, users.puller].map((u) => {
    const hash = execFileSync(registry, ['-hash'], { input: `${u.password}\n`, encoding: 'utf8' }).trim();
    return `${u.username}:${hash}`;
  });
  const htpasswd = join(dir, 'htpasswd');
  writeFileSync(htpasswd, `${lines.join('\n')}\n`, { mode: 0o600 });
  const p = port ?? (await freePorts(1))[0];
  const host = `127.0.0.1:${String(p)}`;
  const proc = start(`registry ${host}`, registry, [
    '-addr',
    host,
    '-htpasswd',
    htpasswd,
    '-pull-only-users',
    users.puller.username,
  ]);
  await waitFor(`registry on ${host}`, () => proc.log().includes(`listening on http://${host}`), {
    from: proc,
    proc,
  });
  return { host, url: `http://${host}`, proc };
}

/** Writes `<dir>/config.json`, a Docker config with `auths` for each host, and returns `dir` (for DOCKER_CONFIG). */
export function writeDockerConfig(dir: string, auths: Readonly<Record<string, RegistryUser>>): string {
  mkdirSync(dir, { recursive: true });
  const entries = Object.entries(auths).map(([host, u]) => [
    host,
    { auth: Buffer.from(`${u.username}:${u.password}`).toString('base64') },
  ]);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: Object.fromEntries(entries) }), { mode: 0o600 });
  return dir;
}

/** What crane prints or the error it ends with; `dockerConfig` is the DOCKER_CONFIG dir (none: anonymous). */
export function crane(tools: RegistryTools, args: readonly string[], dockerConfig: string | undefined): string {
  const env = { ...process.env, DOCKER_CONFIG: dockerConfig ?? '/nonexistent-docker-config' };
  return execFileSync(tools.crane, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Builds the placeholder image whose one file says `text` and pushes it as `reference`
 * (`host/path:tag`) with crane; returns the digest the registry stored.
 */
export function pushPlaceholder(
  tools: RegistryTools,
  workDir: string,
  reference: string,
  text: string,
  dockerConfig: string,
): string {
  const dir = join(workDir, `layer-${reference.replace(/[^A-Za-z0-9.-]+/g, '_')}`);
  const rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs, { recursive: true });
  writeFileSync(join(rootfs, 'coderun-placeholder.txt'), `${text}\n`);
  const tar = join(dir, 'layer.tar');
  execFileSync('tar', [
    '--sort=name',
    '--mtime=@0',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--mode=a+rX,u+w,go-w',
    '-C',
    rootfs,
    '-cf',
    tar,
    '.',
  ]);
  crane(tools, ['append', '-f', tar, '-t', reference], dockerConfig);
  return crane(tools, ['digest', reference], dockerConfig).trim();
}

/** The text of the placeholder for a repository path and tag: the same in every registry. */
export function placeholderText(path: string, tag: string): string {
  return `coderun release placeholder: ${path}:${tag} (not the real image; built by tools/harness/registry.ts)`;
}

/**
 * Pushes the placeholder of every tagged image of `images` that lives in `registryHost`, to the same
 * path and tag at `pushHost` (the loopback address of that registry; the same host when images name
 * it directly). Returns each image as named and the digest it got.
 */
export function seedPlaceholders(
  tools: RegistryTools,
  workDir: string,
  images: readonly ImageRef[],
  hosts: { readonly registry: string; readonly push: string },
  dockerConfig: string,
): { readonly image: string; readonly digest: string }[] {
  return images
    .filter((i) => i.tag !== undefined && i.repository.startsWith(`${hosts.registry}/`))
    .map((i) => {
      const path = i.repository.slice(hosts.registry.length + 1);
      const tag = i.tag ?? '';
      const ref = `${hosts.push}/${path}:${tag}`;
      return {
        image: `${i.repository}:${tag}`,
        digest: pushPlaceholder(tools, workDir, ref, placeholderText(path, tag), dockerConfig),
      };
    });
}
