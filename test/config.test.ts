import path from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { parseDocument, type Document } from 'yaml';
import { ConfigError, formatProblem, listEnvironments } from '../src/model/loader';
import { loadEnvironment, parseEnvironment, type EnvironmentConfig } from '../apps/environment';
import { environmentSchema } from '../apps/environment';
import { natsCredentialKeys } from '../charts/nats/plan';

const root = path.resolve(__dirname, '..');
const FILE = 'environments/staging.yaml';
const STAGING = readFileSync(path.join(root, FILE), 'utf8');

/** The staging file after `edit`, re-serialised without line folding so lines stay where they were. */
function mutate(edit: (doc: Document) => void): string {
  const doc = parseDocument(STAGING);
  edit(doc);
  return doc.toString({ lineWidth: 0 });
}

function parse(text: string, expectedName = 'staging'): EnvironmentConfig {
  return parseEnvironment(text, FILE, expectedName, root);
}

/** Runs `fn`, asserts it throws a ConfigError and returns it. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

/**
 * 1-based number of the first line matching `pattern` after the line matching `after` (if given).
 * Computed from the text itself, independently of the code under test.
 */
function lineOf(text: string, pattern: RegExp, after?: RegExp): number {
  const lines = text.split('\n');
  let start = 0;
  if (after) {
    start = lines.findIndex((l) => after.test(l));
    expect(start, `line matching ${String(after)}`).toBeGreaterThanOrEqual(0);
  }
  const i = lines.findIndex((l, n) => n >= start && pattern.test(l));
  expect(i, `line matching ${String(pattern)}`).toBeGreaterThanOrEqual(0);
  return i + 1;
}

/** Asserts the one problem's message reads `file:LINE: path: …` and returns the message. */
function expectSingle(err: ConfigError, fieldPath: string, line: number | undefined): string {
  expect(err.problems).toHaveLength(1);
  const p = err.problems[0];
  expect(p?.path).toBe(fieldPath);
  expect(p?.file).toBe(FILE);
  expect(p?.line).toBe(line);
  const where = line === undefined ? FILE : `${FILE}:${line}`;
  expect(err.message.startsWith(`${where}: ${fieldPath}: `), err.message).toBe(true);
  return err.message;
}

describe('the real environments', () => {
  it('lists every environments/*.yaml, sorted', () => {
    const files = readdirSync(path.join(root, 'environments')).filter((f) => f.endsWith('.yaml'));
    expect(listEnvironments(root)).toEqual(files.map((f) => f.replace(/\.yaml$/, '')).sort());
  });

  it.each(listEnvironments(root))('%s loads without error and names its source file', (name) => {
    const env = loadEnvironment(root, name);
    expect(env.name).toBe(name);
    expect(env.sourceFile).toBe(`environments/${name}.yaml`);
  });

  it('applies defaults to staging: tls true, argocd namespace/prune/selfHeal, spread.maxSkew 1, workspaceSize 256Mi', () => {
    const env = loadEnvironment(root, 'staging');
    expect(STAGING).not.toMatch(/^tls:/m);
    expect(env.tls).toBe(true);
    expect(env.argocd.namespace).toBe('argocd');
    expect(env.argocd.prune).toBe(true);
    expect(env.argocd.selfHeal).toBe(true);
    expect(env.spread).toEqual({ whenUnsatisfiable: 'ScheduleAnyway', maxSkew: 1 });
    expect(env.executors.workspaceSize).toBe('256Mi');
  });

  it('applies the defaults of the optional blocks', () => {
    const staging = loadEnvironment(root, 'staging');
    expect(staging.oauth2Proxy).toEqual({ emailDomains: ['*'], cookieRefresh: '1h', cookieExpire: '24h' });
    expect(staging.network).toEqual({
      apiServerCidrs: ['192.168.1.10/32'],
      apiServerPort: 6443,
      cni: 'flannel',
      dnsNamespace: 'kube-system',
      dnsPodLabels: { 'k8s-app': 'kube-dns' },
    });
    expect(staging.monitoring.namespace).toBe('monitoring');
    expect(staging.secrets.externalSecrets?.refreshInterval).toBe('1h');
    expect(staging.argocd.notifications).toEqual({ onSyncFailed: { slack: 'coderun-staging' }, onHealthDegraded: {} });
    expect(loadEnvironment(root, 'dev').entrypoint.trustedProxyCidrs).toEqual([]);
  });

  it('keeps explicit values of the optional blocks (prod)', () => {
    const prod = loadEnvironment(root, 'prod');
    expect(prod.network.apiServerPort).toBe(443);
    expect(prod.secrets.externalSecrets?.refreshInterval).toBe('15m');
  });

  it('keeps explicit values over defaults (dev has tls: false)', () => {
    expect(loadEnvironment(root, 'dev').tls).toBe(false);
  });

  it('keeps explicit optional values from the file', () => {
    const env = parse(
      mutate((d) => {
        d.setIn(['spread', 'maxSkew'], 2);
        d.setIn(['argocd', 'namespace'], 'gitops');
        d.setIn(['argocd', 'prune'], false);
        d.setIn(['executors', 'workspaceSize'], '128Mi');
      }),
    );
    expect(env.spread.maxSkew).toBe(2);
    expect(env.argocd.namespace).toBe('gitops');
    expect(env.argocd.prune).toBe(false);
    expect(env.argocd.selfHeal).toBe(true);
    expect(env.executors.workspaceSize).toBe('128Mi');
  });

  it('parseEnvironment of the unmodified text equals loadEnvironment', () => {
    expect(parse(STAGING)).toEqual(loadEnvironment(root, 'staging'));
  });

  it('the mutate helper round-trips the file unchanged in meaning and line layout', () => {
    const same = mutate(() => undefined);
    expect(parse(same)).toEqual(parse(STAGING));
    expect(lineOf(same, /^ {4}replicas: 2$/, /^ {2}frontend:$/)).toBe(
      lineOf(STAGING, /^ {4}replicas: 2$/, /^ {2}frontend:$/),
    );
  });

  it('fails for an unknown environment, listing the known ones', () => {
    const err = configError(() => loadEnvironment(root, 'no-such-env-x'));
    expect(err.problems).toHaveLength(1);
    expect(err.message).toBe(
      `environments/no-such-env-x.yaml: (top level): no such environment 'no-such-env-x'. Known environments: ${listEnvironments(root).join(', ')}.`,
    );
  });
});

describe('schema problems', () => {
  // Needs Ajv's `verbose` (parentSchema); without it schemaProblem() threw a TypeError here.
  it('fails for an unknown top-level key, naming it and listing the allowed keys', () => {
    const text = mutate((d) => d.set('replicaCount', 3));
    const err = configError(() => parse(text));
    const msg = expectSingle(err, 'replicaCount', lineOf(text, /^replicaCount: 3$/));
    expect(msg).toContain("unknown key 'replicaCount'");
    expect(msg).toContain(`Allowed keys here: ${Object.keys(environmentSchema.properties).join(', ')}.`);
    expect(msg).toMatch(/Allowed keys here: name, description, .*services, .*argocd/);
  });

  it('fails for a typo in a nested key (services.frontend.replica), naming the path and the allowed keys', () => {
    const text = mutate((d) => {
      d.deleteIn(['services', 'frontend', 'replicas']);
      d.setIn(['services', 'frontend', 'replica'], 2);
    });
    const err = configError(() => parse(text));
    // The typo is one unknown key plus one missing required key.
    expect(err.problems).toHaveLength(2);
    const unknown = err.problems.find((p) => p.path === 'services.frontend.replica');
    expect(unknown?.line).toBe(lineOf(text, /^ {4}replica: 2$/, /^ {2}frontend:$/));
    const allowed = /Allowed keys here: (.*)\.$/.exec(unknown?.message ?? '')?.[1]?.split(', ');
    expect(allowed).toEqual(expect.arrayContaining(['image', 'replicas', 'resources']));
    expect(allowed).not.toContain('replica');
    expect(err.message).toContain(`${FILE}:${unknown?.line}: services.frontend.replica: unknown key 'replica'`);
    expect(err.problems.map((p) => p.path)).toContain('services.frontend.replicas');
  });

  it('fails for an unknown key deep inside a definition (cluster.nodeAllocatable.gpu)', () => {
    const text = mutate((d) => d.setIn(['cluster', 'nodeAllocatable', 'gpu'], 1));
    const err = configError(() => parse(text));
    const msg = expectSingle(err, 'cluster.nodeAllocatable.gpu', lineOf(text, /^ {4}gpu: 1$/));
    expect(msg).toContain("unknown key 'gpu'. Allowed keys here: cpu, memory.");
  });

  it('fails for a missing required key, naming its full path', () => {
    const text = mutate((d) => d.deleteIn(['services', 'nats', 'storage']));
    const err = configError(() => parse(text));
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]?.path).toBe('services.nats.storage');
    expect(err.message).toMatch(/^environments\/staging\.yaml:\d+: services\.nats\.storage: is required but missing/);
  });

  it('fails for a wrong type (replicas: "two"), naming path, line and expected type', () => {
    const text = mutate((d) => d.setIn(['services', 'frontend', 'replicas'], 'two'));
    const err = configError(() => parse(text));
    const msg = expectSingle(err, 'services.frontend.replicas', lineOf(text, /^ {4}replicas: two$/, /^ {2}frontend:$/));
    expect(msg).toContain('"two" has the wrong type; it must be integer');
  });

  it('fails for negative replicas, naming the minimum', () => {
    const text = mutate((d) => d.setIn(['services', 'frontend', 'replicas'], -1));
    const err = configError(() => parse(text));
    const msg = expectSingle(err, 'services.frontend.replicas', lineOf(text, /^ {4}replicas: -1$/, /^ {2}frontend:$/));
    expect(msg).toContain('-1 must be >= 1');
  });

  it('fails for an image with neither tag nor digest, saying a tag or digest is needed', () => {
    const text = mutate((d) => {
      d.deleteIn(['services', 'frontend', 'image', 'tag']);
      d.deleteIn(['services', 'frontend', 'image', 'digest']);
    });
    const err = configError(() => parse(text));
    expect(err.problems).toHaveLength(1);
    const p = err.problems[0];
    expect(p?.path).toBe('services.frontend.image');
    // The line of the image mapping: its key or its first entry.
    const imageKey = lineOf(text, /^ {4}image:$/, /^ {2}frontend:$/);
    expect(p?.line).toBeGreaterThanOrEqual(imageKey);
    expect(p?.line).toBeLessThanOrEqual(imageKey + 1);
    expect(err.message).toContain(`${FILE}:${p?.line}: services.frontend.image: `);
    expect(p?.message).toMatch(/tag/);
    expect(p?.message).toMatch(/digest/);
  });

  it('accepts a digest instead of a tag', () => {
    const digest = `sha256:${'ab'.repeat(32)}`;
    const env = parse(
      mutate((d) => {
        d.deleteIn(['services', 'frontend', 'image', 'tag']);
        d.setIn(['services', 'frontend', 'image', 'digest'], digest);
      }),
    );
    const { repository } = parse(STAGING).services.frontend.image;
    expect(env.services.frontend.image).toEqual({ repository, digest });
  });

  it('fails for the tag "latest"', () => {
    const text = mutate((d) => d.setIn(['services', 'frontend', 'image', 'tag'], 'latest'));
    const err = configError(() => parse(text));
    const msg = expectSingle(
      err,
      'services.frontend.image.tag',
      lineOf(text, /^ {6}tag: "?latest"?$/, /^ {2}frontend:$/),
    );
    expect(msg).toContain('"latest" is not valid');
    expect(msg).toContain('may not be "latest"');
  });

  it('fails for a malformed CPU quantity with a hint', () => {
    const text = mutate((d) => d.setIn(['executors', 'cpu'], '500x'));
    const err = configError(() => parse(text));
    const msg = expectSingle(err, 'executors.cpu', lineOf(text, /^ {2}cpu: 500x$/, /^executors:$/));
    expect(msg).toContain('CPU is millicores like "250m"');
  });

  it('reports every schema problem at once', () => {
    const text = mutate((d) => {
      d.setIn(['services', 'frontend', 'replicas'], 'two');
      d.setIn(['services', 'middleware', 'image', 'tag'], 'latest');
    });
    const err = configError(() => parse(text));
    expect(err.problems.map((p) => p.path).sort()).toEqual([
      'services.frontend.replicas',
      'services.middleware.image.tag',
    ]);
    expect(err.message.split('\n')).toHaveLength(2);
  });

  it('fails for a Kubernetes version outside the enum, naming the value', () => {
    const text = mutate((d) => d.set('kubernetesVersion', '1.29'));
    const err = configError(() => parse(text));
    const msg = expectSingle(err, 'kubernetesVersion', lineOf(text, /^kubernetesVersion:/));
    expect(msg).toContain('"1.29" is not allowed');
  });

  it('lists the allowed Kubernetes versions', () => {
    const err = configError(() => parse(mutate((d) => d.set('kubernetesVersion', '1.29'))));
    expect(err.message).toContain('Allowed values: "1.28", "1.30", "1.33".');
  });

  it('fails for an empty file without crashing', () => {
    const err = configError(() => parse(''));
    expect(err.problems).toHaveLength(1);
    expect(err.message).toContain(`${FILE}: (top level): null has the wrong type; it must be object.`);
  });
});

describe('YAML problems', () => {
  const duplicated = STAGING.replace(/(\n {2}frontend:\n(?: {4,}.*\n)*? {4}replicas: 2\n)/, '$1    replicas: 3\n');

  it('fails for a duplicate key, saying keys must be unique', () => {
    expect(duplicated).not.toBe(STAGING);
    const err = configError(() => parse(duplicated));
    expect(err.problems).toHaveLength(1);
    expect(err.message).toContain(FILE);
    expect(err.message).toMatch(/unique/i);
    expect(err.message).toContain('duplicate keys are not allowed');
  });

  // Needs prettyErrors: true, without which yaml leaves YAMLError.linePos unset.
  it('reports the line of the duplicate key', () => {
    const err = configError(() => parse(duplicated));
    const line = lineOf(duplicated, /^ {4}replicas: 3$/);
    expect(err.problems[0]?.line).toBe(line);
    expect(err.message).toContain(`${FILE}:${line}:`);
  });

  it('fails for broken syntax with a ConfigError', () => {
    const err = configError(() => parse(STAGING.replace('  app: coderun', '  app: [coderun')));
    expect(err.problems.length).toBeGreaterThanOrEqual(1);
    expect(err.message).toContain('invalid YAML');
  });
});

describe('cross-field problems', () => {
  it('fails when name does not match the file name', () => {
    const err = configError(() => parse(STAGING, 'prod'));
    const msg = expectSingle(err, 'name', lineOf(STAGING, /^name: staging$/));
    expect(msg).toContain("'staging' must equal the file name 'prod'");
  });

  it('fails when the app and executor namespaces are the same', () => {
    const text = mutate((d) => d.setIn(['namespaces', 'executor'], 'coderun'));
    const err = configError(() => parse(text));
    const msg = expectSingle(err, 'namespaces.executor', lineOf(text, /^ {2}executor: coderun$/));
    expect(msg).toContain('must differ from namespaces.app');
  });

  /** Staging turned into a prod-like cluster: 3 zones, 6 nodes, hard spreading. */
  function zoned(edit: (d: Document) => void = () => undefined): string {
    return mutate((d) => {
      d.setIn(['cluster', 'zones'], d.createNode(['zone-a', 'zone-b', 'zone-c']));
      d.setIn(['cluster', 'nodes'], 6);
      d.setIn(['spread', 'whenUnsatisfiable'], 'DoNotSchedule');
      d.setIn(['services', 'oauth2-proxy', 'replicas'], 3);
      d.setIn(['services', 'oauth2-proxy', 'autoscaling', 'maxReplicas'], 6);
      d.setIn(['services', 'middleware', 'replicas'], 3);
      edit(d);
    });
  }

  it('accepts the prod-like shape when every multi-replica service covers the zones', () => {
    expect(() => parse(zoned((d) => d.setIn(['services', 'frontend', 'replicas'], 3)))).not.toThrow();
    expect(() => parse(zoned((d) => d.setIn(['services', 'frontend', 'replicas'], 1)))).not.toThrow();
  });

  it('fails for 2 replicas over 3 zones with DoNotSchedule', () => {
    const text = zoned();
    const err = configError(() => parse(text));
    const msg = expectSingle(err, 'services.frontend.replicas', lineOf(text, /^ {4}replicas: 2$/, /^ {2}frontend:$/));
    expect(msg).toContain('2 replicas leave at least one of the 3 zones in cluster.zones without a replica');
    expect(msg).toContain('Use at least 3, or 1.');
  });

  it('reports each service that cannot spread', () => {
    const text = zoned((d) => {
      d.setIn(['services', 'oauth2-proxy', 'replicas'], 2);
      d.setIn(['services', 'middleware', 'replicas'], 2);
    });
    const err = configError(() => parse(text));
    expect(err.problems.map((p) => p.path)).toEqual([
      'services.oauth2-proxy.replicas',
      'services.frontend.replicas',
      'services.middleware.replicas',
    ]);
  });

  it('allows 2 replicas over 3 zones with ScheduleAnyway', () => {
    expect(() => parse(zoned((d) => d.setIn(['spread', 'whenUnsatisfiable'], 'ScheduleAnyway')))).not.toThrow();
  });

  it('fails for more zones than nodes', () => {
    const text = mutate((d) => d.setIn(['cluster', 'zones'], d.createNode(['zone-a', 'zone-b', 'zone-c'])));
    const err = configError(() => parse(text));
    expect(err.problems).toHaveLength(1);
    const p = err.problems[0];
    expect(p?.path).toBe('cluster.zones');
    // The line of the zones sequence: its key or its first item.
    const zonesKey = lineOf(text, /^ {2}zones:/);
    expect(p?.line).toBeGreaterThanOrEqual(zonesKey);
    expect(p?.line).toBeLessThanOrEqual(zonesKey + 1);
    expect(err.message).toContain(
      `${FILE}:${p?.line}: cluster.zones: 3 zones need at least 3 nodes, but cluster.nodes is 2`,
    );
  });

  it('fails for an even number of NATS servers', () => {
    const text = mutate((d) => d.setIn(['services', 'nats', 'replicas'], 2));
    const err = configError(() => parse(text));
    const msg = expectSingle(err, 'services.nats.replicas', lineOf(text, /^ {4}replicas: 2$/, /^ {2}nats:$/));
    expect(msg).toContain('2 is even');
    expect(msg).toContain('Use 1 or 3.');
  });

  it('fails for more NATS servers than nodes with DoNotSchedule', () => {
    const text = mutate((d) => {
      d.setIn(['services', 'nats', 'replicas'], 3);
      d.setIn(['spread', 'whenUnsatisfiable'], 'DoNotSchedule');
    });
    const err = configError(() => parse(text));
    const msg = expectSingle(err, 'services.nats.replicas', lineOf(text, /^ {4}replicas: 3$/, /^ {2}nats:$/));
    expect(msg).toContain('on a 2-node cluster');
  });

  it('fails when a request exceeds its limit, naming the request field', () => {
    const text = mutate((d) =>
      d.setIn(
        ['services', 'frontend', 'resources'],
        d.createNode({ requests: { cpu: '2', memory: '64Mi' }, limits: { cpu: '1', memory: '128Mi' } }),
      ),
    );
    const err = configError(() => parse(text));
    const msg = expectSingle(
      err,
      'services.frontend.resources.requests.cpu',
      lineOf(text, /^ {8}cpu: "?2"?$/, /^ {2}frontend:$/),
    );
    expect(msg).toContain('request 2 is larger than limit 1');
  });

  it('reports CPU and memory separately when both requests exceed their limits', () => {
    const text = mutate((d) =>
      d.setIn(
        ['services', 'nats', 'resources'],
        d.createNode({ requests: { cpu: '1500m', memory: '2Gi' }, limits: { cpu: '1', memory: '1Gi' } }),
      ),
    );
    const err = configError(() => parse(text));
    expect(err.problems.map((p) => p.path)).toEqual([
      'services.nats.resources.requests.cpu',
      'services.nats.resources.requests.memory',
    ]);
  });

  it('compares quantities, not strings (1500m request under a limit of 2)', () => {
    const text = mutate((d) =>
      d.setIn(
        ['services', 'frontend', 'resources'],
        d.createNode({ requests: { cpu: '1500m', memory: '512Mi' }, limits: { cpu: '2', memory: '1Gi' } }),
      ),
    );
    expect(parse(text).services.frontend.resources?.requests.cpu).toBe('1500m');
  });

  it('fails for a job bigger than a node (CPU)', () => {
    const text = mutate((d) => d.setIn(['executors', 'cpu'], '4'));
    const err = configError(() => parse(text));
    const msg = expectSingle(err, 'executors.cpu', lineOf(text, /^ {2}cpu: "?4"?$/, /^executors:$/));
    expect(msg).toContain("one job's cpu (4) does not fit a node (2800m allocatable)");
  });

  it('fails for a job bigger than a node (memory)', () => {
    const text = mutate((d) => d.setIn(['executors', 'memory'], '8Gi'));
    const err = configError(() => parse(text));
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]?.path).toBe('executors.memory');
    expect(err.problems[0]?.line).toBe(lineOf(text, /^ {2}memory: 8Gi$/, /^executors:$/));
    expect(err.message).toContain("one job's memory (8Gi) does not fit a node (3584Mi allocatable)");
  });

  it('fails when the default workspace does not fit the job memory', () => {
    const text = mutate((d) => d.setIn(['executors', 'memory'], '128Mi'));
    const err = configError(() => parse(text));
    expect(err.problems).toHaveLength(1);
    const p = err.problems[0];
    expect(p?.path).toBe('executors.workspaceSize');
    // The key is absent, so the line is that of the nearest parent (the executors block).
    expect(p?.line).toBeGreaterThanOrEqual(lineOf(text, /^executors:$/));
    expect(p?.line).toBeLessThan(lineOf(text, /^ {2}images:$/, /^executors:$/));
    expect(err.message).toContain('256Mi exceeds the job memory limit 128Mi');
  });

  it('fails for an image outside allowedRegistries, naming the repository field', () => {
    const text = mutate((d) => d.setIn(['services', 'frontend', 'image', 'repository'], 'ghcr.io/someone/frontend'));
    const err = configError(() => parse(text));
    const line = lineOf(text, /^ {6}repository: ghcr\.io\/someone\/frontend$/);
    // Outside allowedRegistries, and outside the environment's registry: one problem each, on that line.
    expect(err.problems.map((p) => [p.path, p.line])).toEqual([
      ['services.frontend.image.repository', line],
      ['services.frontend.image.repository', line],
    ]);
    expect(err.message).toContain(
      `${FILE}:${line}: services.frontend.image.repository: ghcr.io/someone/frontend is not under allowedRegistries`,
    );
    expect(err.message).toContain(
      "ghcr.io/someone/frontend is not in the environment's registry registry.staging.coderun.example.com",
    );
  });

  it('matches allowedRegistries as path prefixes, not string prefixes', () => {
    // registry.staging.coderun.example.com/ is allowed; registry.staging.coderun.example.com-evil/ is not.
    const text = mutate((d) =>
      d.setIn(['executors', 'images', 'go', 'repository'], 'registry.staging.coderun.example.com-evil/go'),
    );
    const err = configError(() => parse(text));
    expect(err.problems.map((p) => p.path)).toEqual([
      'executors.images.go.repository',
      'executors.images.go.repository',
    ]);
    expect(err.message).toContain('is not under allowedRegistries');
    expect(err.message).toContain("is not in the environment's registry");
  });

  describe('the registry', () => {
    it("refuses an image of another allowed registry: with a registry, every image comes from the environment's own", () => {
      const text = mutate((d) => {
        d.setIn(['allowedRegistries'], ['registry.staging.coderun.example.com/', 'docker.io/library/']);
        d.setIn(['services', 'nats', 'image', 'repository'], 'docker.io/library/nats');
      });
      const err = configError(() => parse(text));
      const msg = expectSingle(
        err,
        'services.nats.image.repository',
        lineOf(text, /^ {6}repository: docker\.io\/library\/nats$/),
      );
      expect(msg).toContain(
        "docker.io/library/nats is not in the environment's registry registry.staging.coderun.example.com",
      );
      expect(msg).toContain('npm run promote');
    });

    it('refuses an image without a digest, naming the image and the pin command', () => {
      const text = mutate((d) => d.deleteIn(['services', 'frontend', 'image', 'digest']));
      const err = configError(() => parse(text));
      // The line of the image mapping's first entry, as for the schema's tag-or-digest problem.
      const msg = expectSingle(err, 'services.frontend.image', lineOf(text, /^ {6}repository:/, /^ {2}frontend:$/));
      expect(msg).toContain('registry.staging.coderun.example.com/miguellomot/cc-fronted:1.0.0 has no digest');
      expect(msg).toContain('repository:tag@sha256:');
      expect(msg).toContain('Run npm run pin -- --env staging.');
    });

    it('lets a missing digest pass only for pin (digests: pending)', () => {
      const text = mutate((d) => d.deleteIn(['services', 'frontend', 'image', 'digest']));
      const env = parseEnvironment(text, FILE, 'staging', root, { digests: 'pending' });
      expect(env.services.frontend.image.digest).toBeUndefined();
    });

    it('refuses production without a registry', () => {
      const text = mutate((d) => {
        d.set('tier', 'production');
        d.delete('registry');
      });
      const err = configError(() => parse(text));
      expect(err.problems.map((p) => p.path)).toContain('tier');
      expect(err.message).toContain(
        `${FILE}:${lineOf(text, /^tier: production$/)}: tier: production runs every image from its own registry`,
      );
    });

    it('needs the remote key of the pull Secret with external-secrets, and no remote key without a registry', () => {
      const missing = configError(() =>
        parse(mutate((d) => d.deleteIn(['secrets', 'externalSecrets', 'remoteKeys', 'registry']))),
      );
      expect(missing.problems.map((p) => p.path)).toEqual(['secrets.externalSecrets.remoteKeys']);
      expect(missing.message).toContain(
        'has no registry key, but registry.pullSecret registry-credentials comes from the store',
      );
      const stray = configError(() => parse(mutate((d) => d.delete('registry'))));
      expect(stray.problems.map((p) => p.path)).toEqual(['secrets.externalSecrets.remoteKeys.registry']);
    });

    it('refuses a registry with sealed-secrets (no sealed form of the pull Secret yet)', () => {
      const text = mutate((d) => {
        d.setIn(['secrets', 'provider'], 'sealed-secrets');
        d.deleteIn(['secrets', 'externalSecrets']);
        const ct = 'AgBciphertextciphertext';
        d.setIn(['secrets', 'sealedSecrets'], {
          oauth2Proxy: { 'client-id': ct, 'client-secret': ct, 'cookie-secret': ct },
          nats: Object.fromEntries(natsCredentialKeys(parse(STAGING).services.nats).map((k) => [k, ct])),
        });
      });
      const err = configError(() => parse(text));
      expect(err.problems.map((p) => p.path)).toEqual(['registry']);
      expect(err.message).toContain('a registry pull Secret has no sealed-secrets form yet');
    });
  });

  it('fails for an ingress entry point without className', () => {
    const err = configError(() => parse(mutate((d) => d.deleteIn(['entrypoint', 'className']))));
    expect(err.problems.map((p) => p.path)).toEqual(['entrypoint.className']);
    expect(err.message).toContain('entrypoint.className: is required when entrypoint.mode is ingress');
  });

  it('fails for an ingress entry point with tls: false', () => {
    const err = configError(() => parse(mutate((d) => d.setIn(['tls'], false))));
    expect(err.problems.map((p) => p.path)).toEqual(['tls']);
    expect(err.message).toContain('entrypoint.mode ingress always serves HTTPS');
  });

  it('fails for port-forward with tls (defaulted to true)', () => {
    const err = configError(() => parse(mutate((d) => d.setIn(['entrypoint', 'mode'], 'port-forward'))));
    expect(err.problems.map((p) => p.path)).toEqual(['tls']);
    expect(err.message).toContain('port-forward serves plain http');
  });

  it('fails for NATS TLS from a namespaced Issuer', () => {
    const text = mutate((d) =>
      d.setIn(['services', 'nats', 'tls'], d.createNode({ issuer: { kind: 'Issuer', name: 'ca' } })),
    );
    const err = configError(() => parse(text));
    const msg = expectSingle(err, 'services.nats.tls.issuer.kind', lineOf(text, /^ {8}kind: Issuer$/, /^ {2}nats:$/));
    expect(msg).toContain('NATS TLS needs a ClusterIssuer');
  });

  it('fails for provider external-secrets without externalSecrets', () => {
    const err = configError(() => parse(mutate((d) => d.deleteIn(['secrets', 'externalSecrets']))));
    expect(err.problems.map((p) => p.path)).toEqual(['secrets.externalSecrets']);
  });

  it('fails when autoscaling.maxReplicas is not above replicas', () => {
    const text = mutate((d) => d.setIn(['services', 'frontend', 'autoscaling', 'maxReplicas'], 2));
    const err = configError(() => parse(text));
    const msg = expectSingle(
      err,
      'services.frontend.autoscaling.maxReplicas',
      lineOf(text, /^ {6}maxReplicas: 2$/, /^ {2}frontend:$/),
    );
    expect(msg).toContain("2 must be larger than replicas (2), the HPA's minimum");
  });

  it('reports every cross-field problem at once', () => {
    const text = mutate((d) => {
      d.setIn(['namespaces', 'executor'], 'coderun');
      d.setIn(['services', 'nats', 'replicas'], 2);
    });
    const err = configError(() => parse(text, 'prod'));
    expect(err.problems.map((p) => p.path)).toEqual(['name', 'namespaces.executor', 'services.nats.replicas']);
    expect(err.message.split('\n')).toEqual(err.problems.map(formatProblem));
  });
});

describe('formatProblem', () => {
  it('writes file:line: path: message, or file: (top level): message', () => {
    expect(formatProblem({ file: 'f.yaml', line: 7, path: 'a.b', message: 'bad.' })).toBe('f.yaml:7: a.b: bad.');
    expect(formatProblem({ file: 'f.yaml', path: '', message: 'bad.' })).toBe('f.yaml: (top level): bad.');
  });
});
