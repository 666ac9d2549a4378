/**
 * The CI script's own totals (.ci/suite.sh with .ci/count-reporter.ts), on a deliberately broken
 * suite (test/ci-fixture/): a failed setup, a file that fails to import, an unhandled error and a
 * failed teardown each count as failures, though no test in it fails (vitest's JSON report, which
 * .ci/run used to count with, says 0 failed for it). A suite that exits non-zero with no counts
 * counts one failure. The closing line never says 0 failed for a red run.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..');

/**
 * Runs `suite NAME COMMAND...; totals` in bash with .ci/suite.sh sourced, from the repository root;
 * with `background`, as `suite_start NAME COMMAND...; suite_join NAME; totals` (.ci/run's test:real).
 */
function ci(name: string, command: string, background = false): { status: number | null; out: string } {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'CI_COUNTS_FILE'),
  );
  const run = background ? `suite_start ${name} ${command}; suite_join ${name}` : `suite ${name} ${command}`;
  const r = spawnSync('bash', ['-c', `source .ci/suite.sh; ${run}; totals; exit "$status"`], {
    cwd: ROOT,
    env: { ...env, NO_COLOR: '1', FORCE_COLOR: '0' },
    encoding: 'utf8',
    timeout: 50_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const lines = (out: string, re: RegExp) => out.split('\n').filter((l) => re.test(l));

describe('.ci/run counts honestly', () => {
  it('counts a failed setup, an import failure, an unhandled error and a failed teardown as failures', () => {
    const { status, out } = ci('ci-fixture', 'node_modules/.bin/vitest run -c test/ci-fixture/vitest.config.mts');
    expect(status, out).toBe(1);
    expect(lines(out, /^ {2}FAILED /).sort(), out).toEqual([
      '  FAILED test/ci-fixture/import-fails.fixture.ts: broken import',
      "  FAILED test/ci-fixture/setup-fails.fixture.ts > a suite whose setup fails > one: not run, because 'a suite whose setup fails' failed: broken setup",
      "  FAILED test/ci-fixture/setup-fails.fixture.ts > a suite whose setup fails > three: not run, because 'a suite whose setup fails' failed: broken setup",
      "  FAILED test/ci-fixture/setup-fails.fixture.ts > a suite whose setup fails > two: not run, because 'a suite whose setup fails' failed: broken setup",
      '  FAILED test/ci-fixture/teardown-fails.fixture.ts > a suite whose teardown fails: broken teardown',
      '  FAILED unhandled error: unhandled rejection',
    ]);
    expect(lines(out, /^ci-fixture: /)[0], out).toMatch(/^ci-fixture: 4 passed, 6 failed, 2 skipped, exit 1, \d+ s$/);
    expect(lines(out, /^tests: /), out).toEqual(['tests: 4 passed, 6 failed, 2 skipped']);
  });

  it('counts a suite run in the background like one in the foreground', () => {
    const { status, out } = ci(
      'ci-fixture-bg',
      'node_modules/.bin/vitest run -c test/ci-fixture/vitest.config.mts',
      true,
    );
    expect(status, out).toBe(1);
    expect(lines(out, /^ {2}FAILED /), out).toHaveLength(6);
    expect(lines(out, /^ci-fixture-bg: /)[0], out).toMatch(
      /^ci-fixture-bg: 4 passed, 6 failed, 2 skipped, exit 1, \d+ s$/,
    );
    expect(lines(out, /^tests: /), out).toEqual(['tests: 4 passed, 6 failed, 2 skipped']);
    const quiet = ci('ci-no-report-bg', 'false', true);
    expect(quiet.status, quiet.out).toBe(1);
    expect(lines(quiet.out, /^tests: /), quiet.out).toEqual(['tests: 0 passed, 1 failed, 0 skipped']);
  });

  it('counts a suite that exits non-zero without reporting as one failure', () => {
    const { status, out } = ci('ci-no-report', 'false');
    expect(status, out).toBe(1);
    expect(out).toMatch(/FAILED no counts from the reporter .*ci-no-report-counts\.json/);
    expect(out).toMatch(/^ci-no-report: 0 passed, 1 failed, 0 skipped, exit 1, \d+ s$/m);
    expect(lines(out, /^tests: /), out).toEqual(['tests: 0 passed, 1 failed, 0 skipped']);
  });
});
