/**
 * The semantic diff on this repository: a real commit of its history, and a scratch clone whose
 * environment files are edited (never this checkout). Needs the git history (CI checks out with
 * fetch-depth 0); without it these tests are skipped.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { parseDocument } from 'yaml';
import { listEnvironments } from '../../src/model/loader';
import { exitCodeOf } from '../../src/inspect/diff';
import { DiffError, main, semanticDiff } from '../../src/commands/diff-cli';
import { ROOT } from '../support/committed';

const git = (args: string[], cwd = ROOT) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

/** The commit that first rendered oauth2-proxy v7.15.2 (found by content, not by hash). */
function pinningCommit(): string | undefined {
  try {
    const hits = git(['log', '--format=%H', '--reverse', '-S', 'oauth2-proxy:v7.15.2', '--', 'dist']).split('\n');
    return hits[0] || undefined;
  } catch {
    return undefined;
  }
}
const commit = pinningCommit();
const opts = { format: 'text', threshold: 20, envs: [] } as const;

describe.skipIf(commit === undefined)('semantic diff on the repository history', () => {
  it('reports the oauth2-proxy image moving to v7.15.2 in every environment of that commit', () => {
    const report = semanticDiff(ROOT, { ...opts, base: `${commit}^`, head: commit });
    const envs = git(['ls-tree', '--name-only', `${commit}`, 'environments/'])
      .split('\n')
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => f.slice('environments/'.length, -'.yaml'.length));
    expect(envs.length).toBeGreaterThan(0);
    for (const env of envs) {
      const e = report.environments.find((x) => x.env === env);
      const dep = e?.changes.find((c) => c.id.startsWith('Deployment ') && c.id.endsWith('/oauth2-proxy'));
      const image = dep?.fields.find((f) => /containers\[oauth2-proxy\]\.image$/.test(f.path));
      expect(String(image?.before)).toMatch(/oauth2-proxy:v7\.7\.1$/);
      expect(String(image?.after)).toMatch(/oauth2-proxy:v7\.15\.2$/);
      expect(e?.risks).toEqual([]);
    }
    expect(exitCodeOf(report)).toBe(1);
  });

  it('finds no change between a commit and itself', () => {
    const report = semanticDiff(ROOT, { ...opts, base: commit, head: commit });
    expect(exitCodeOf(report)).toBe(0);
  });

  it('exits 3 on a ref that does not exist', () => {
    expect(() => semanticDiff(ROOT, { ...opts, base: 'no-such-ref-anywhere' })).toThrow(DiffError);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(main(['no-such-ref-anywhere'], ROOT)).toBe(3);
      expect(main(['--format', 'html'], ROOT)).toBe(3);
    } finally {
      err.mockRestore();
    }
  });
});

describe.skipIf(commit === undefined)('semantic diff of the working tree (a scratch clone)', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'coderun-diff-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));
  git(['clone', '--quiet', '--shared', '--no-checkout', ROOT, scratch]);
  git(['checkout', '--quiet', git(['rev-parse', 'HEAD'])], scratch);
  const env = listEnvironments(scratch)[0] ?? '';
  const file = join(scratch, 'environments', `${env}.yaml`);
  const original = readFileSync(file, 'utf8');
  /** Sets the frontend image tag in the scratch clone's first environment. */
  const setFrontendTag = (tag: string) =>
    writeFileSync(
      file,
      original.replace(/(\n {2}frontend:\n {4}image:\n {6}repository: .*\n {6}tag: ).*/, `$1"${tag}"`),
    );

  it('shows a bumped frontend image as a change (exit 1) in that environment only', () => {
    setFrontendTag('9.9.9');
    const report = semanticDiff(scratch, { ...opts, base: 'HEAD' });
    const changed = report.environments.filter((e) => e.changes.length > 0).map((e) => e.env);
    expect(changed).toEqual([env]);
    const dep = report.environments[0]?.changes.find((c) => c.id.endsWith('/frontend') && c.kind === 'Deployment');
    expect(dep?.fields.some((f) => String(f.after).endsWith(':9.9.9'))).toBe(true);
    expect(exitCodeOf(report)).toBe(1);
  });

  it('refuses an environment file the schema rejects (exit 3)', () => {
    setFrontendTag('latest');
    expect(() => semanticDiff(scratch, { ...opts, base: 'HEAD' })).toThrow(/services\.frontend\.image\.tag/);
  });

  it('refuses a floating tag such as edge like latest (exit 3); the unpinned-image flag covers rendered objects', () => {
    // The environment schema refuses floating tags, so an environment file cannot reach the
    // unpinned-image risk; test/diff/diff.test.ts covers that flag with rendered fixture pairs.
    setFrontendTag('edge');
    expect(() => semanticDiff(scratch, { ...opts, base: 'HEAD' })).toThrow(/services\.frontend\.image\.tag/);
  });

  it('flags a production canary made weaker (canary-weakened, exit 2), and not the same change in staging', () => {
    const steps = [{ setWeight: 60 }, { pause: '5m' }, { setWeight: 80 }, { pause: '5m' }];
    const edit = (name: string) => {
      const path = join(scratch, 'environments', `${name}.yaml`);
      const text = readFileSync(path, 'utf8');
      const doc = parseDocument(text);
      doc.setIn(['services', 'frontend', 'canary'], { enabled: true, steps });
      writeFileSync(path, doc.toString());
      return () => writeFileSync(path, text);
    };
    writeFileSync(file, original);
    const restore = ['prod', 'staging'].map(edit);
    try {
      const report = semanticDiff(scratch, { ...opts, base: 'HEAD' });
      const risks = (env: string) => report.environments.find((e) => e.env === env)?.risks ?? [];
      expect(risks('prod').map((r) => `${r.category} ${r.object}: ${r.message}`)).toEqual([
        'canary-weakened Rollout coderun/frontend: steps 6 → 4',
        'canary-weakened Rollout coderun/frontend: first setWeight 25 → 60',
      ]);
      expect(risks('staging')).toEqual([]);
      expect(report.environments.find((e) => e.env === 'staging')?.changes.length).toBeGreaterThan(0);
      expect(exitCodeOf(report)).toBe(2);
    } finally {
      restore.forEach((r) => r());
    }
  });

  it('finds no change in an unedited clone (exit 0)', () => {
    writeFileSync(file, original);
    expect(exitCodeOf(semanticDiff(scratch, { ...opts, base: 'HEAD' }))).toBe(0);
  });
});
