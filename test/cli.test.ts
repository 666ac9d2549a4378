/**
 * The command line: bad input names the file, the field and the fix, exits non-zero and
 * leaves dist/ and argocd/ exactly as they were; good input replaces whole folders.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { parseArgs, synth, UsageError } from '../src/commands/cli';
import { listEnvironments } from '../src/model/loader';
import { listFiles } from '../src/commands/output';
import { ROOT } from './support/committed';
import { ScratchCopy } from './support/scratch-copy';

let copy: ScratchCopy;
let root: string;

/** A throwaway copy of the inputs and committed outputs, as copied at the start of every test. */
beforeAll(() => {
  copy = new ScratchCopy(ROOT, ['environments', 'dist', 'argocd'], 'synth-cli-');
  root = copy.root;
});
beforeEach(() => void copy.reset());
afterAll(() => copy.remove());

/** Every output file and its content, to prove nothing moved. */
function snapshot(): Map<string, string> {
  const files = [...listFiles(root, 'dist'), ...listFiles(root, 'argocd')];
  return new Map(files.map((f) => [f, readFileSync(join(root, f), 'utf8')]));
}

function editEnv(name: string, edit: (doc: ReturnType<typeof parseDocument>) => void): void {
  const file = join(root, 'environments', `${name}.yaml`);
  const doc = parseDocument(readFileSync(file, 'utf8'));
  edit(doc);
  writeFileSync(file, doc.toString());
}

describe('synth: bad environment files', () => {
  const cases: {
    name: string;
    env: string;
    edit: (d: ReturnType<typeof parseDocument>) => void;
    expected: RegExp[];
  }[] = [
    {
      name: 'unknown key',
      env: 'prod',
      edit: (d) => d.setIn(['services', 'frontend', 'replica'], 3),
      expected: [
        /environments\/prod\.yaml:\d+: services\.frontend\.replica: unknown key 'replica'/,
        /Allowed keys here: image, replicas, resources/,
      ],
    },
    {
      name: 'wrong type',
      env: 'staging',
      edit: (d) => d.setIn(['services', 'middleware', 'replicas'], 'two'),
      expected: [
        /environments\/staging\.yaml:\d+: services\.middleware\.replicas: "two" has the wrong type; it must be integer/,
      ],
    },
    {
      name: 'negative replicas',
      env: 'dev',
      edit: (d) => d.setIn(['services', 'nats', 'replicas'], -1),
      expected: [/environments\/dev\.yaml:\d+: services\.nats\.replicas: -1 must be >= 1/],
    },
    {
      name: 'missing image tag and digest',
      env: 'prod',
      edit: (d) => {
        d.deleteIn(['services', 'oauth2-proxy', 'image', 'tag']);
        d.deleteIn(['services', 'oauth2-proxy', 'image', 'digest']);
      },
      expected: [
        /environments\/prod\.yaml:\d+: services\.oauth2-proxy\.image: needs a tag \(not "latest"\) or a digest/,
      ],
    },
    {
      name: 'missing digest in an environment with a registry',
      env: 'staging',
      edit: (d) => d.deleteIn(['executors', 'images', 'go', 'digest']),
      expected: [
        /environments\/staging\.yaml:\d+: executors\.images\.go: registry\.staging\.coderun\.example\.com\/miguellomot\/cc-executor-go:1\.0\.0 has no digest; .*Run npm run pin -- --env staging\./,
      ],
    },
    {
      name: 'latest tag',
      env: 'prod',
      edit: (d) => d.setIn(['executors', 'images', 'c', 'tag'], 'latest'),
      expected: [/executors\.images\.c\.tag: "latest" is not valid: .*may not be "latest"/],
    },
    {
      name: 'floating tag',
      env: 'staging',
      edit: (d) => d.setIn(['services', 'frontend', 'image', 'tag'], 'stable'),
      expected: [
        /services\.frontend\.image\.tag: "stable" is not valid: .*another floating tag \(main, master, stable, edge/,
      ],
    },
    {
      name: 'replicas that cannot spread',
      env: 'prod',
      edit: (d) => d.setIn(['services', 'frontend', 'replicas'], 2),
      expected: [
        /environments\/prod\.yaml:\d+: services\.frontend\.replicas: 2 replicas leave at least one of the 3 zones .*without a replica.*Use at least 3/,
      ],
    },
    {
      name: 'unknown environment field value',
      env: 'staging',
      edit: (d) => d.setIn(['spread', 'whenUnsatisfiable'], 'Sometimes'),
      expected: [
        /spread\.whenUnsatisfiable: "Sometimes" is not allowed\. Allowed values: "DoNotSchedule", "ScheduleAnyway"/,
      ],
    },
  ];

  for (const c of cases) {
    it(`fails on ${c.name}, names file and field, and leaves dist/ and argocd/ untouched`, () => {
      const before = snapshot();
      editEnv(c.env, c.edit);
      const result = synth(root, { envs: [], check: false });
      const text = result.lines.join('\n');
      expect(result.exitCode).toBe(2);
      for (const re of c.expected) expect(text).toMatch(re);
      expect(text).toMatch(/nothing was written/);
      expect(snapshot()).toEqual(before);
    });
  }

  it('reports problems in several files at once', () => {
    editEnv('dev', (d) => d.setIn(['bogus'], true));
    editEnv('prod', (d) => d.setIn(['services', 'nats', 'replicas'], 4));
    const text = synth(root, { envs: [], check: false }).lines.join('\n');
    expect(text).toMatch(/environments\/dev\.yaml:\d+: bogus: unknown key/);
    expect(text).toMatch(/environments\/prod\.yaml:\d+: services\.nats\.replicas: 4 is even/);
  });

  it('fails on duplicate keys and names the line', () => {
    const file = join(root, 'environments', 'dev.yaml');
    writeFileSync(file, `${readFileSync(file, 'utf8')}name: dev\n`);
    const result = synth(root, { envs: ['dev'], check: false });
    expect(result.exitCode).toBe(2);
    expect(result.lines.join('\n')).toMatch(
      /environments\/dev\.yaml:\d+: \(top level\): invalid YAML: Map keys must be unique/,
    );
  });

  it('fails on an unknown --env', () => {
    const result = synth(root, { envs: ['no-such-env-x'], check: false });
    expect(result.exitCode).toBe(2);
    expect(result.lines.join('\n')).toContain(
      `no such environment 'no-such-env-x'. Known environments: ${listEnvironments(root).join(', ')}`,
    );
  });
});

describe('synth: writing', () => {
  it('replaces an environment folder as a whole, removing stale files', () => {
    writeFileSync(join(root, 'dist/prod/frontend/configmap-old.yaml'), 'stale: true\n');
    writeFileSync(join(root, 'dist/dev/frontend/configmap-old.yaml'), 'stale: true\n');
    const result = synth(root, { envs: ['prod'], check: false });
    expect(result.exitCode).toBe(0);
    expect(existsSync(join(root, 'dist/prod/frontend/configmap-old.yaml'))).toBe(false);
    // --env prod owns only prod's folders.
    expect(existsSync(join(root, 'dist/dev/frontend/configmap-old.yaml'))).toBe(true);
    expect(result.lines.join('\n')).toMatch(/^prod +\d+ objects, \d+ files: 0 added, 0 changed, 1 removed/m);
  });

  it('removes the output of an environment whose file is gone, on a full run', () => {
    rmSync(join(root, 'environments', 'staging.yaml'));
    const result = synth(root, { envs: [], check: false });
    expect(result.exitCode).toBe(0);
    expect(existsSync(join(root, 'dist/staging'))).toBe(false);
    expect(existsSync(join(root, 'argocd/staging'))).toBe(false);
    expect(result.lines.join('\n')).toMatch(/removed stale dist\/staging\//);
  });

  it('restores a hand-edited file and says so', () => {
    const file = join(root, 'dist/staging/nats/statefulset-nats.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('replicas: 1', 'replicas: 5'));
    const result = synth(root, { envs: [], check: false });
    expect(result.lines.join('\n')).toMatch(/^staging +\d+ objects, \d+ files: 0 added, 1 changed, 0 removed/m);
    expect(readFileSync(file, 'utf8')).toBe(
      readFileSync(join(ROOT, 'dist/staging/nats/statefulset-nats.yaml'), 'utf8'),
    );
  });
});

describe('synth --check', () => {
  it('passes on the committed output', () => {
    expect(synth(root, { envs: [], check: true }).exitCode).toBe(0);
  });

  it('exits 1, lists what would change, and writes nothing', () => {
    const edited = join(root, 'argocd/prod/application-coderun-prod.yaml');
    writeFileSync(edited, readFileSync(edited, 'utf8').replace('selfHeal: true', 'selfHeal: false'));
    const extra = join(root, 'dist/dev/nats/secret-leaked.yaml');
    writeFileSync(extra, 'kind: Secret\n');
    const before = snapshot();
    const result = synth(root, { envs: [], check: true });
    expect(result.exitCode).toBe(1);
    const text = result.lines.join('\n');
    expect(text).toContain('changed: argocd/prod/application-coderun-prod.yaml');
    expect(text).toContain('removed: dist/dev/nats/secret-leaked.yaml');
    expect(snapshot()).toEqual(before);
  });
});

describe('synth: environments/schema.json (generated from apps/environment.ts)', () => {
  const schemaFile = () => join(root, 'environments/schema.json');
  const generated = () => readFileSync(join(ROOT, 'environments/schema.json'), 'utf8');

  it('--check exits 1 naming a hand-edited or missing schema.json, and writes nothing', () => {
    writeFileSync(schemaFile(), generated().replace('"Environment"', '"Environmnt"'));
    const edited = synth(root, { envs: [], check: true });
    expect(edited.exitCode).toBe(1);
    expect(edited.lines).toContain('  changed: environments/schema.json');
    expect(readFileSync(schemaFile(), 'utf8')).toContain('"Environmnt"');
    rmSync(schemaFile());
    const missing = synth(root, { envs: ['dev'], check: true });
    expect(missing.exitCode).toBe(1);
    expect(missing.lines).toContain('  added:   environments/schema.json');
    expect(existsSync(schemaFile())).toBe(false);
  });

  it('rewrites it on any run, --env included, and says so', () => {
    writeFileSync(schemaFile(), '{}\n');
    const r = synth(root, { envs: ['dev'], check: false });
    expect(r.exitCode).toBe(0);
    expect(r.lines).toContain('environments/schema.json changed (from apps/environment.ts)');
    expect(readFileSync(schemaFile(), 'utf8')).toBe(generated());
    expect(synth(root, { envs: [], check: false }).lines.join('\n')).not.toContain('schema.json');
  });

  it('leaves it alone when an environment file is invalid', () => {
    writeFileSync(schemaFile(), '{}\n');
    editEnv('dev', (d) => d.set('bogus', true));
    expect(synth(root, { envs: [], check: false }).exitCode).toBe(2);
    expect(readFileSync(schemaFile(), 'utf8')).toBe('{}\n');
  });
});

describe('synth: environments/ contents, languages and conflicts', () => {
  it('refuses an <env>.yml file, saying to rename it, and writes nothing', () => {
    const before = snapshot();
    cpSync(join(root, 'environments/staging.yaml'), join(root, 'environments/no-such-env-x.yml'));
    const r = synth(root, { envs: [], check: false });
    expect(r.exitCode).toBe(2);
    expect(r.lines.join('\n')).toContain(
      'environments/no-such-env-x.yml: (top level): environment files end in .yaml; this one would be skipped. Rename it to environments/no-such-env-x.yaml.',
    );
    expect(snapshot()).toEqual(before);
  });

  it('refuses an unknown file in environments/', () => {
    writeFileSync(join(root, 'environments/notes.txt'), 'hello\n');
    const r = synth(root, { envs: ['dev'], check: true });
    expect(r.exitCode).toBe(2);
    expect(r.lines.join('\n')).toContain('environments/notes.txt: (top level): unknown file;');
  });

  it('refuses an image of an unknown language, and a missing language image, naming the field', () => {
    editEnv('dev', (d) => {
      d.setIn(['executors', 'images', 'cobol'], { repository: 'docker.io/library/cobol', tag: '1' });
      d.deleteIn(['executors', 'images', 'go']);
    });
    const text = synth(root, { envs: ['dev'], check: true }).lines.join('\n');
    expect(text).toMatch(/environments\/dev\.yaml:\d+: executors\.images\.cobol: 'cobol' is not an executor language/);
    expect(text).toMatch(/environments\/dev\.yaml:\d+: executors\.images: has no image for executor language\(s\) go/);
  });

  it('refuses a new environment that conflicts with one it does not render (--env), and writes nothing', () => {
    const before = snapshot();
    cpSync(join(root, 'environments/staging.yaml'), join(root, 'environments/no-such-env-x.yaml'));
    editEnv('no-such-env-x', (d) => d.set('name', 'no-such-env-x'));
    const r = synth(root, { envs: ['no-such-env-x'], check: false });
    expect(r.exitCode).toBe(2);
    const text = r.lines.join('\n');
    expect(text).toMatch(/environments\/no-such-env-x\.yaml:\d+: hostname: .* is also the hostname of staging/);
    expect(text).not.toMatch(/^environments\/staging\.yaml/m);
    expect(snapshot()).toEqual(before);
  });

  it('--list prints every environment with tier, destination and namespaces', () => {
    const r = synth(root, { envs: [], check: false, list: true });
    expect(r.exitCode).toBe(0);
    for (const name of listEnvironments(root))
      expect(r.lines.join('\n')).toMatch(new RegExp(`^${name} +(production|non-production) +(server|name) `, 'm'));
  });
});

describe('argument parsing', () => {
  it('accepts --help, -h and --list', () => {
    expect(parseArgs(['--help'])).toEqual({ envs: [], check: false, help: true });
    expect(parseArgs(['-h'])).toEqual({ envs: [], check: false, help: true });
    expect(parseArgs(['--list'])).toEqual({ envs: [], check: false, list: true });
    expect(() => parseArgs(['--list', '--check'])).toThrow(UsageError);
  });
  it('accepts --env (repeated), --env=, and --check', () => {
    expect(parseArgs(['--env', 'dev', '--env=prod', '--check'])).toEqual({ envs: ['dev', 'prod'], check: true });
  });
  it('fails on unknown arguments and on --env without a value', () => {
    expect(() => parseArgs(['--force'])).toThrow(UsageError);
    expect(() => parseArgs(['--env'])).toThrow(/--env needs an environment name/);
  });
});

describe('npm run synth entry point (subprocess)', () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [join(ROOT, 'src/commands/run.cjs'), 'cli', ...args], { cwd: ROOT, encoding: 'utf8' });
  /** `node src/commands/run.cjs cli --check`, run once for the two tests that check it. */
  let checkRun: ReturnType<typeof run> | undefined;
  const check = () => (checkRun ??= run('--check'));

  it('--check exits 0 on the committed tree', () => {
    const r = check();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('exits 2 with a usage message on a bad argument', () => {
    const r = run('--frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown argument '--frobnicate'/);
  });

  it('exits 2 naming the file on an unknown environment', () => {
    const r = run('--env', 'no-such-env-x', '--check');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/environments\/no-such-env-x\.yaml/);
  });

  it('--help exits 0 with the usage and the exit codes', () => {
    const r = run('--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: npm run synth/);
    expect(r.stdout).toContain('3 internal error');
  });

  it('exits 3 on an internal error, saying it is a bug and writing nothing', () => {
    const r = spawnSync(
      process.execPath,
      [
        '-e',
        `process.exitCode = require(${JSON.stringify(join(ROOT, '.build/cli.cjs'))}).main([], '/nonexistent-root-x')`,
      ],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/internal error \(a bug in the generator/);
  });

  it('is usable without npm (node only)', () => {
    // The same command as above: node and src/commands/run.cjs, no npm and no TypeScript loader.
    const r = check();
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
  });
});
