/**
 * npm run release-sandbox -- [--seed ENV]... [--] COMMAND [ARGS...]
 *
 * Runs COMMAND while a loopback stand-in for each environment's private registry is up (inside
 * tools/loopback-only.sh: nothing else can reach them). There is no real private registry for this
 * repository's fictional hosts (registry.*.coderun.example.com), so `npm run pin` and
 * `npm run promote` on this repository run here:
 *
 * - one registry (tools/go/registry, htpasswd basic auth) per environment that names `registry`;
 * - the registries of environments that are promoted from nowhere (no `promotedFrom`: staging) hold
 *   a reproducible placeholder image for each of their image tags (tools/harness/registry.ts), so
 *   the digests pin writes are the same on every run and machine; the others (prod) start empty:
 *   their images arrive by promote (`--seed ENV` seeds the environments named instead: the bootstrap
 *   of prod's first digests, README: How to release);
 * - COMMAND gets DOCKER_CONFIG (credentials for every registry host) and CODERUN_REGISTRY_ENDPOINTS
 *   (each registry host -> its loopback URL), which pin and promote read.
 *
 * The registries keep nothing: each run seeds them again. Exit code: COMMAND's.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { imageFields, loadEnvironment } from '../../apps/environment';
import { listEnvironments } from '../../src/model/loader';
import { stopAll } from './process';
import {
  registryTools,
  seedPlaceholders,
  startRegistry,
  writeDockerConfig,
  type RegistryServer,
  type RegistryUser,
} from './registry';

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

export async function main(args: string[], root: string): Promise<number> {
  const seed: string[] = [];
  let i = 0;
  for (; args[i] === '--seed'; i += 2) seed.push(args[i + 1] ?? '');
  const command = args[i] === '--' ? args.slice(i + 1) : args.slice(i);
  if (command.length === 0 || seed.some((s) => !s)) {
    process.stderr.write('usage: npm run release-sandbox -- [--seed ENV]... [--] COMMAND [ARGS...]\n');
    return 2;
  }
  const tools = registryTools(root);
  const work = mkdtempSync(join(tmpdir(), 'release-sandbox-'));
  const pusher: RegistryUser = { username: 'release', password: randomBytes(12).toString('hex') };
  const puller: RegistryUser = { username: 'cluster', password: randomBytes(12).toString('hex') };
  try {
    const envs = listEnvironments(root)
      .map((n) => loadEnvironment(root, n, { digests: 'pending' }))
      .filter((e) => e.registry !== undefined);
    const servers = new Map<string, RegistryServer>();
    for (const env of envs) {
      const host = env.registry?.host ?? '';
      if (servers.has(host)) continue;
      servers.set(host, await startRegistry(tools, join(work, host), { pusher, puller }));
    }
    const auths: Record<string, RegistryUser> = {};
    for (const [host, s] of servers) {
      auths[host] = pusher;
      auths[s.host] = pusher;
    }
    const dockerConfig = writeDockerConfig(join(work, 'docker'), auths);
    for (const [host, s] of servers)
      out(`release-sandbox: ${host} is ${s.url} (users ${pusher.username}, ${puller.username} pull-only)`);
    const seeded = envs.filter((e) => (seed.length > 0 ? seed.includes(e.name) : e.promotedFrom === undefined));
    for (const env of seeded) {
      const host = env.registry?.host ?? '';
      const server = servers.get(host);
      if (!server) continue;
      const images = imageFields(env).map(([, image]) => image);
      for (const { image, digest } of seedPlaceholders(
        tools,
        work,
        images,
        { registry: host, push: server.host },
        dockerConfig,
      )) {
        out(`release-sandbox: pushed ${image} ${digest}`);
      }
    }
    const endpoints = [...servers].map(([host, s]) => `${host}=${s.url}`).join(',');
    out(`release-sandbox: running ${command.join(' ')}`);
    // crane on PATH too, to push an image the way a team's build would.
    const path = `${dirname(tools.crane)}:${process.env.PATH ?? ''}`;
    const r = spawnSync(command[0] ?? '', command.slice(1), {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, PATH: path, DOCKER_CONFIG: dockerConfig, CODERUN_REGISTRY_ENDPOINTS: endpoints },
    });
    return r.status ?? 1;
  } finally {
    await stopAll();
    rmSync(work, { recursive: true, force: true });
  }
}
