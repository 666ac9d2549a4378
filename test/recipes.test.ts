/**
 * The README recipes work with zero test edits: on a copy of the repository, add an environment
 * `qa` (a copy of staging with the fields the recipe says to change) and an executor language
 * `rust` (the one list plus an image per environment), synth there, and run the suite's
 * list-deriving checks (every policy rule over every environment, a template per language) there.
 */
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseDocument } from 'yaml';
import { capacityRow, markdownRow } from './support/capacity-table';
import { listEnvironments } from '../src/model/loader';
import { parseYamlDocuments, ROOT } from './support/committed';

const COPY = [
  'apps',
  'argocd',
  'charts',
  'dist',
  'environments',
  'imports',
  'src',
  'test/policy',
  'test/support',
  'README.md',
];
let root: string;

const synth = (...args: string[]) =>
  spawnSync(process.execPath, [join(root, 'src/commands/run.cjs'), 'cli', ...args], { cwd: root, encoding: 'utf8' });

/**
 * The same command in this process: main() of the bundle that src/commands/run.cjs last built in the copy
 * (the copy's sources, language edit included), and what it printed.
 */
function synthInProcess(...args: string[]): { status: number; stdout: string; stderr: string } {
  const bundle = join(root, '.build/cli.cjs');
  const { main } = createRequire(bundle)(bundle) as { main: (argv: string[], root: string) => number };
  const printed = { stdout: '', stderr: '' };
  const capture = (stream: 'stdout' | 'stderr') =>
    vi.spyOn(process[stream], 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed[stream] += String(chunk);
      return true;
    });
  const spies = [capture('stdout'), capture('stderr')];
  try {
    return { status: main(args, root), ...printed };
  } finally {
    for (const s of spies) s.mockRestore();
  }
}

function editYaml(file: string, edit: (d: ReturnType<typeof parseDocument>) => void): void {
  const doc = parseDocument(readFileSync(file, 'utf8'));
  edit(doc);
  writeFileSync(file, doc.toString());
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'recipes-'));
  for (const dir of COPY) cpSync(join(ROOT, dir), join(root, dir), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(root, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('README recipes', () => {
  it('adding an environment: a plain copy is refused naming each conflict; the recipe fields fix it', () => {
    const qa = join(root, 'environments/qa.yaml');
    cpSync(join(root, 'environments/staging.yaml'), qa);
    editYaml(qa, (d) => d.set('name', 'qa'));
    const refused = synth('--check');
    expect(refused.status).toBe(2);
    for (const field of ['hostname', 'argocd.destination', 'secrets.externalSecrets.remoteKeys.nats']) {
      expect(refused.stderr).toMatch(new RegExp(`environments/qa\\.yaml:\\d+: ${field.replace(/\./g, '\\.')}: `));
    }
    // The recipe: what two environments may not share.
    editYaml(qa, (d) => {
      d.set('hostname', 'coderun.qa.example.com');
      d.setIn(['argocd', 'destination', 'name'], 'qa');
      d.setIn(['secrets', 'externalSecrets', 'remoteKeys', 'oauth2Proxy'], 'coderun/qa/oauth2-proxy');
      d.setIn(['secrets', 'externalSecrets', 'remoteKeys', 'nats'], 'coderun/qa/nats');
      d.setIn(['secrets', 'externalSecrets', 'remoteKeys', 'registry'], 'coderun/qa/registry');
    });
  });

  it('adding a language: a half addition is refused naming each file; the recipe completes it', () => {
    const config = join(root, 'charts/executors/schema.ts');
    const text = readFileSync(config, 'utf8');
    const line = /^export const EXECUTOR_LANGUAGES = \[(.*)\] as const;$/m;
    expect(text).toMatch(line);
    writeFileSync(config, text.replace(line, "export const EXECUTOR_LANGUAGES = [$1, 'rust'] as const;"));
    const envFiles = readdirSync(join(root, 'environments')).filter((f) => f.endsWith('.yaml'));
    const refused = synth('--check');
    expect(refused.status).toBe(2);
    for (const f of envFiles) {
      expect(refused.stderr).toMatch(
        new RegExp(`environments/${f}:\\d+: executors\\.images: has no image for executor language\\(s\\) rust`),
      );
    }
    for (const f of envFiles) {
      // From the environment's registry, pinned by digest, where it names one (npm run pin writes the
      // digest; this copy has no registry to ask, so it writes one by hand).
      editYaml(join(root, 'environments', f), (d) => {
        const host = d.getIn(['registry', 'host']) as string | undefined;
        d.setIn(['executors', 'images', 'rust'], {
          repository: `${host ?? 'docker.io'}/miguellomot/cc-executor-rust`,
          tag: '1.0.0',
          ...(host ? { digest: `sha256:${'e'.repeat(64)}` } : {}),
        });
      });
    }
  });

  it("synth renders both and the suite's list-deriving checks pass there", () => {
    // The tests above ran src/commands/run.cjs in the copy before and after the language edit (so it rebuilt
    // its bundle from the edited sources); its bundle now runs here without another node process.
    const r = synthInProcess();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(synthInProcess('--list').stdout).toMatch(/^qa +non-production +name qa /m);
    // The recipe's last step: qa's row in README.md's capacity table, from dist/qa/README.md.
    const readme = join(root, 'README.md');
    const lines = readFileSync(readme, 'utf8').split('\n');
    let end = lines.findIndex((l) => /^\| env +\| requested at full scale/.test(l));
    expect(end).toBeGreaterThan(0);
    while (lines[end]?.startsWith('|')) end++;
    lines.splice(end, 0, markdownRow(capacityRow(root, 'qa')));
    writeFileSync(readme, lines.join('\n'));
    const out = join(root, '.build/recipe-check.cjs');
    buildSync({
      absWorkingDir: root,
      entryPoints: ['test/support/recipe-check.ts'],
      outfile: out,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      packages: 'external',
      logLevel: 'warning',
    });
    // The bundle holds the copy's own sources (its EXECUTOR_LANGUAGES, its rules); it runs in this
    // process, with the packages from node_modules, and reads the copy's files.
    const { recipeProblems } = createRequire(out)(out) as { recipeProblems: (root: string) => string[] };
    expect(recipeProblems(root)).toEqual([]);
    expect(readdirSync(join(root, 'dist/qa')).length).toBeGreaterThan(0);
    for (const env of readdirSync(join(root, 'dist'))) {
      expect(readdirSync(join(root, 'dist', env, 'executors'))).toContain('podtemplate-executor-rust.yaml');
    }
  });

  // Moved here from its own copy of the repository: this copy's bundle is already built.
  it('synth after an edit of charts/executor-reaper/reap.py alone rebuilds its bundle and renders the edited script', () => {
    // src/commands/run.cjs reuses .build/cli.cjs until an input of esbuild's metafile changes, and
    // the text-loaded .py file is one; the tests above left the copy rendered and its bundle built.
    const script = join(root, 'charts/executor-reaper/reap.py');
    appendFileSync(script, '# edited after the last bundle\n');
    const edited = readFileSync(script, 'utf8');
    const files = listEnvironments(root).map((env) => `dist/${env}/executor-reaper/configmap-executor-reaper.yaml`);

    const stale = synth('--check');
    expect(stale.status, `${stale.stdout}${stale.stderr}`).toBe(1);
    expect([...`${stale.stdout}${stale.stderr}`.matchAll(/^ {2}changed: (\S+)$/gm)].map((m) => m[1]).sort()).toEqual(
      files.sort(),
    );

    const written = synth();
    expect(written.status, `${written.stdout}${written.stderr}`).toBe(0);
    for (const file of files) {
      const [cm] = parseYamlDocuments(readFileSync(join(root, file), 'utf8'), file);
      expect((cm?.data as Record<string, string> | undefined)?.['reap.py'], file).toBe(edited);
    }
  });
});
