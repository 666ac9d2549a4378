/**
 * The release path with the real software (npm run test:release): our registry program
 * (tools/go/registry, go-containerregistry's registry behind htpasswd basic auth) standing in for
 * each environment's private registry on loopback, crane pushing and pulling images, and
 * `npm run pin` / `npm run promote` (in process) on a scratch clone of this repository whose
 * environments name those registries instead of their fictional hosts.
 *
 * The pairs come from the environment files: every environment with `promotedFrom` (prod) and its
 * source (staging). For each pair:
 * - pin writes the registry's real digests (crane's), keeping every other line of the file;
 * - pin refuses an image the registry lacks and credentials it refuses; writes nothing then;
 * - promote copies the images into the target's registry, rewrites the target's file, renders it,
 *   prints the semantic diff and a commit message with the Promoted-From trailer; twice is a no-op;
 * - promote refuses a dirty tree, a stale source render, a source without a digest, and a source
 *   tag pushed again (which pin then reports as changed);
 * - the rendered pull Secret (the ExternalSecret's template filled from a stand-in store) pulls the
 *   rendered image; without it the registry refuses; its pull-only user cannot push.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnvironment, type EnvironmentConfig } from '../../../apps/environment';
import { listEnvironments } from '../../../src/model/loader';
import type { Manifest } from '../../../src/model/objects';
import { synth } from '../../../src/commands/cli';
import { pin } from '../../../src/commands/pin';
import { promote, PROMOTED_FROM_TRAILER } from '../../../src/commands/promote';
import { dockerConfigJson, RegistryError } from '../../../src/commands/registry-client';
import { namedImages, ReleaseUsageError } from '../../../src/commands/release';
import { stopAll } from '../../../tools/harness/process';
import {
  crane,
  pushPlaceholder,
  registryTools,
  seedPlaceholders,
  startRegistry,
  writeDockerConfig,
  type RegistryServer,
  type RegistryTools,
  type RegistryUser,
} from '../../../tools/harness/registry';
import { parseYamlDocuments, ROOT } from '../../support/committed';

const PUSHER: RegistryUser = { username: 'release', password: 'push-3b1f0c9e2d' };
const PULLER: RegistryUser = { username: 'cluster', password: 'pull-8c2e5a7d41' };
const NO_ENDPOINTS = new Map<string, string>();

/** Every (source, target) pair of the committed environments: target.promotedFrom = source. */
const PAIRS = listEnvironments(ROOT)
  .map((n) => loadEnvironment(ROOT, n))
  .filter((e) => e.promotedFrom !== undefined && e.registry !== undefined)
  .map((e) => [e.promotedFrom ?? '', e.name] as const);

let tools: RegistryTools;
let work = '';
const savedDockerConfig = process.env.DOCKER_CONFIG;

beforeAll(() => {
  tools = registryTools();
  work = mkdtempSync(join(tmpdir(), 'release-suite-'));
});
afterAll(async () => {
  await stopAll();
  if (savedDockerConfig === undefined) delete process.env.DOCKER_CONFIG;
  else process.env.DOCKER_CONFIG = savedDockerConfig;
  rmSync(work, { recursive: true, force: true });
});

function git(cwd: string, args: readonly string[]): string {
  return execFileSync('git', ['-c', 'user.name=release-suite', '-c', 'user.email=release@suite.invalid', ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** What the function throws (it must throw). */
async function refusal(fn: () => Promise<unknown>): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a refusal, but it succeeded');
}

it('has environments to promote between (prod from staging)', () => {
  expect(PAIRS.length).toBeGreaterThan(0);
});

describe.each(PAIRS)('%s -> %s', (from, to) => {
  let scratch = '';
  const servers = new Map<string, RegistryServer>();
  let source: EnvironmentConfig;
  let target: EnvironmentConfig;

  beforeAll(async () => {
    for (const env of [from, to])
      servers.set(env, await startRegistry(tools, join(work, env), { pusher: PUSHER, puller: PULLER }));
    process.env.DOCKER_CONFIG = writeDockerConfig(
      join(work, 'docker'),
      Object.fromEntries([...servers.values()].map((s) => [s.host, PUSHER])),
    );
    // A scratch clone of HEAD whose source and target name the loopback registries, digests removed.
    scratch = mkdtempSync(join(work, 'repo-'));
    git(ROOT, ['clone', '--quiet', '--shared', ROOT, scratch]);
    symlinkSync(join(ROOT, 'node_modules'), join(scratch, 'node_modules'));
    writeFileSync(join(scratch, '.git', 'info', 'exclude'), 'node_modules\n');
    for (const env of [from, to]) {
      const file = join(scratch, 'environments', `${env}.yaml`);
      const host = loadEnvironment(scratch, env).registry?.host ?? '';
      const text = readFileSync(file, 'utf8')
        .split(host)
        .join(servers.get(env)?.host ?? '')
        .replace(/^ *digest: sha256:[0-9a-f]{64}\n/gm, '');
      writeFileSync(file, text);
    }
    source = loadEnvironment(scratch, from, { digests: 'pending' });
    target = loadEnvironment(scratch, to, { digests: 'pending' });
    // The team's build pushes every image of the source under its tag.
    const host = servers.get(from)?.host ?? '';
    const images = namedImages(source).map((i) => i.image);
    seedPlaceholders(tools, work, images, { registry: host, push: host }, process.env.DOCKER_CONFIG ?? '');
  });

  it('pin writes the registry digests, changing nothing else in the file', async () => {
    const file = join(scratch, 'environments', `${from}.yaml`);
    const before = readFileSync(file, 'utf8');
    const { lines } = await pin(scratch, { env: from, endpoints: NO_ENDPOINTS });
    expect(lines.map((l) => l.name).sort()).toEqual(
      namedImages(source)
        .map((i) => i.name)
        .sort(),
    );
    for (const l of lines) {
      expect(l.was).toBe('new');
      expect(l.digest, l.reference).toBe(crane(tools, ['digest', l.reference], process.env.DOCKER_CONFIG).trim());
    }
    const after = readFileSync(file, 'utf8');
    // Only digest lines were added: without them, the file is byte for byte what it was.
    expect(after.replace(/^ *digest: sha256:[0-9a-f]{64}\n/gm, '')).toBe(before);
    expect(after.match(/^ *digest: sha256:/gm)).toHaveLength(lines.length);
    // Pinning again finds every digest unchanged and writes nothing.
    const again = await pin(scratch, { env: from, endpoints: NO_ENDPOINTS });
    expect(again.lines.every((l) => l.was === 'unchanged')).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(after);
    // The source renders with its digests; commit it as a team would.
    expect(synth(scratch, { envs: [from], check: false }).exitCode).toBe(0);
    expect(synth(scratch, { envs: [from], check: true }).exitCode).toBe(0);
    git(scratch, ['commit', '--quiet', '-am', `${from}: pin`]);
  });

  it('pin refuses an image the registry does not have, and credentials it refuses; nothing is written', async () => {
    const file = join(scratch, 'environments', `${to}.yaml`);
    const before = readFileSync(file, 'utf8');
    const missing = await refusal(() => pin(scratch, { env: to, endpoints: NO_ENDPOINTS }));
    expect(missing).toBeInstanceOf(RegistryError);
    expect(missing.message).toMatch(/the registry has no such image/);
    expect(readFileSync(file, 'utf8')).toBe(before);

    const good = process.env.DOCKER_CONFIG;
    const host = servers.get(from)?.host ?? '';
    try {
      process.env.DOCKER_CONFIG = writeDockerConfig(join(work, 'wrong'), { [host]: { ...PUSHER, password: 'wrong' } });
      const refused = await refusal(() => pin(scratch, { env: from, endpoints: NO_ENDPOINTS }));
      expect(refused).toBeInstanceOf(RegistryError);
      expect(refused.message).toContain(`${host} refused the credentials for ${PUSHER.username} (HTTP 401)`);
      process.env.DOCKER_CONFIG = writeDockerConfig(join(work, 'none'), {});
      const anonymous = await refusal(() => pin(scratch, { env: from, endpoints: NO_ENDPOINTS }));
      expect(anonymous.message).toContain(`${host} needs credentials (HTTP 401)`);
    } finally {
      process.env.DOCKER_CONFIG = good;
    }
    expect(git(scratch, ['status', '--porcelain'])).toBe('');
  });

  it('promote copies every image into the target registry, renders the target and prints a commit message with its source', async () => {
    const head = git(scratch, ['rev-parse', 'HEAD']).trim();
    const r = await promote(scratch, { from, to, services: [], endpoints: NO_ENDPOINTS });
    const pinned = loadEnvironment(scratch, from);
    expect(r.moved.map((m) => m.name).sort()).toEqual(
      namedImages(pinned)
        .map((i) => i.name)
        .sort(),
    );
    expect(r.moved.every((m) => m.copied)).toBe(true);
    const promoted = loadEnvironment(scratch, to);
    const byName = new Map(namedImages(pinned).map((i) => [i.name, i.image]));
    for (const img of namedImages(promoted)) {
      const src = byName.get(img.name);
      expect(img.image.digest, img.name).toBe(src?.digest);
      expect(img.image.tag, img.name).toBe(src?.tag);
      // The target registry serves that digest under the tag: the bytes staging verified.
      expect(
        crane(tools, ['digest', `${img.image.repository}:${img.image.tag ?? ''}`], process.env.DOCKER_CONFIG).trim(),
      ).toBe(src?.digest);
    }
    expect(synth(scratch, { envs: [to], check: true }).exitCode).toBe(0);
    expect(r.diff).toContain(`${to}:`);
    expect(r.message).toContain(`${PROMOTED_FROM_TRAILER}: ${from}@${head}`);
    expect(r.message?.split('\n')[0]).toBe(`Promote ${from} to ${to}: ${r.moved.map((m) => m.name).join(', ')}`);
    git(scratch, ['commit', '--quiet', '-am', r.message ?? '']);
    expect(git(scratch, ['log', '-1', '--format=%(trailers:key=Promoted-From,valueonly)']).trim()).toBe(
      `${from}@${head}`,
    );
  });

  it('promoting again changes nothing', async () => {
    const r = await promote(scratch, { from, to, services: [], endpoints: NO_ENDPOINTS });
    expect(r.moved).toEqual([]);
    expect(r.message).toBeUndefined();
    expect(r.unchanged.length).toBe(namedImages(source).length);
    expect(git(scratch, ['status', '--porcelain'])).toBe('');
  });

  it('promote refuses a dirty working tree and a source whose committed render is not current', async () => {
    const notes = join(scratch, 'NOTES.md');
    writeFileSync(notes, 'work in progress\n');
    const dirty = await refusal(() => promote(scratch, { from, to, services: [], endpoints: NO_ENDPOINTS }));
    expect(dirty).toBeInstanceOf(ReleaseUsageError);
    expect(dirty.message).toContain('the working tree has changes');
    rmSync(notes);

    const file = join(scratch, 'environments', `${from}.yaml`);
    const text = readFileSync(file, 'utf8');
    const edited = text.replace(
      /^( {6}cpuUtilization: )(\d+)$/m,
      (_m, key: string, v: string) => `${key}${Number(v) - 5}`,
    );
    expect(edited).not.toBe(text);
    writeFileSync(file, edited);
    git(scratch, ['commit', '--quiet', '-am', 'an edit without its render']);
    const stale = await refusal(() => promote(scratch, { from, to, services: [], endpoints: NO_ENDPOINTS }));
    expect(stale).toBeInstanceOf(ReleaseUsageError);
    expect(stale.message).toContain(`${from}'s committed render is not current`);
    git(scratch, ['reset', '--quiet', '--hard', 'HEAD~1']);
  });

  it('promote refuses a source without digests (an environment with public images)', async () => {
    const unpinned = listEnvironments(scratch)
      .map((n) => loadEnvironment(scratch, n, { digests: 'pending' }))
      .find((e) => e.registry === undefined);
    if (!unpinned) return;
    const r = await refusal(() =>
      promote(scratch, { from: unpinned.name, to, services: ['frontend'], endpoints: NO_ENDPOINTS }),
    );
    expect(r).toBeInstanceOf(ReleaseUsageError);
    expect(r.message).toContain('frontend has no digest, so there is nothing verified to promote');
  });

  it('a tag pushed again: promote refuses the source, pin reports the change', async () => {
    const frontend = namedImages(loadEnvironment(scratch, from)).find((i) => i.name === 'frontend')?.image;
    if (!frontend?.tag || !frontend.digest) throw new Error(`${from} pins its frontend`);
    const ref = `${frontend.repository}:${frontend.tag}`;
    const pushed = pushPlaceholder(
      tools,
      work,
      ref,
      'rebuilt and pushed under the same tag',
      process.env.DOCKER_CONFIG ?? '',
    );
    expect(pushed).not.toBe(frontend.digest);
    const r = await refusal(() => promote(scratch, { from, to, services: ['frontend'], endpoints: NO_ENDPOINTS }));
    expect(r).toBeInstanceOf(ReleaseUsageError);
    expect(r.message).toContain(`${ref} now points to ${pushed}, not to ${frontend.digest}`);
    expect(git(scratch, ['status', '--porcelain'])).toBe('');

    const { lines } = await pin(scratch, { env: from, endpoints: NO_ENDPOINTS });
    const line = lines.find((l) => l.name === 'frontend');
    expect(line).toMatchObject({ was: 'changed', previous: frontend.digest, digest: pushed });
    expect(lines.filter((l) => l.was === 'changed')).toHaveLength(1);
    git(scratch, ['checkout', '--quiet', '--', '.']);
  });

  it('the rendered pull Secret pulls the rendered image; without it the registry refuses; it cannot push', async () => {
    expect(synth(scratch, { envs: [to], check: true }).exitCode).toBe(0);
    const read = (path: string): Manifest[] => parseYamlDocuments(readFileSync(join(scratch, path), 'utf8'), path);
    const pullSecret = target.registry?.pullSecret ?? '';
    const externalSecrets = read(`dist/${to}/secrets/externalsecret-${pullSecret}.yaml`);
    const es = externalSecrets[0] as Manifest & { spec: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    const host = servers.get(to)?.host ?? '';
    // The stand-in store: the remote secret the ExternalSecret names holds the Docker config of the pull-only user.
    const store = new Map([
      [String(es.spec.data[0].remoteRef.key), { dockerconfigjson: dockerConfigJson(host, PULLER) }],
    ]);
    // What External Secrets Operator makes of it: a Secret of the template's type with spec.data's keys.
    const secret = {
      type: es.spec.target.template.type,
      name: es.spec.target.name,
      data: Object.fromEntries(
        (es.spec.data as { secretKey: string; remoteRef: { key: string; property: string } }[]).map((d) => [
          d.secretKey,
          (store.get(d.remoteRef.key) as Record<string, string>)[d.remoteRef.property],
        ]),
      ),
    };
    expect(secret).toMatchObject({ type: 'kubernetes.io/dockerconfigjson', name: pullSecret });
    const dir = join(work, 'pull-secret');
    execFileSync('mkdir', ['-p', dir]);
    writeFileSync(join(dir, 'config.json'), secret.data['.dockerconfigjson'] ?? '');

    const deployment = read(`dist/${to}/frontend/deployment-frontend.yaml`)[0] as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    const image: string = deployment.spec.template.spec.containers[0].image;
    expect(image).toMatch(new RegExp(`^${host.replace(/\./g, '\\.')}/.+:.+@sha256:[0-9a-f]{64}$`));
    const manifest = crane(tools, ['manifest', image], dir);
    expect(JSON.parse(manifest).layers).toHaveLength(1);
    const exported = crane(tools, ['export', image, '-'], dir);
    expect(exported).toContain('coderun release placeholder');

    let anonymous = '';
    try {
      crane(tools, ['manifest', image], undefined);
    } catch (e) {
      anonymous = String((e as { stderr?: string }).stderr);
    }
    expect(anonymous).toContain('UNAUTHORIZED');
    let push = '';
    try {
      crane(tools, ['tag', image, 'overwritten'], dir);
    } catch (e) {
      push = String((e as { stderr?: string }).stderr);
    }
    expect(push).toContain('DENIED');
  });
});
