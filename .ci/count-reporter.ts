/**
 * The vitest reporter .ci/run counts with (see .ci/suite.sh). Vitest's JSON report counts only
 * failed tests, so a failed beforeAll (its tests end "skipped"), a file that fails to import, or an
 * unhandled error counted as 0 failed. Here each of these is a failure:
 *
 * - a failed test;
 * - a test that did not pass because a suite or file around it failed (its setup or teardown);
 * - a suite or file that failed with no test to carry the failure (an import failure, a failing
 *   afterAll after passing tests);
 * - an unhandled error;
 * - a test that vitest still reports as pending or queued when the run ends.
 *
 * A test skipped on purpose (it.skip, skipIf, ctx.skip) in a suite that did not fail counts as
 * skipped, and the count is printed. The counts go to the JSON file named by $CI_COUNTS_FILE.
 */
import { writeFileSync } from 'node:fs';
import type { Reporter, SerializedError, TestCase, TestModule, TestSuite } from 'vitest/node';

export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
  /** One line per failure, saying what failed. */
  failures: string[];
}

const firstLine = (e: { message?: string } | undefined) => (e?.message ?? 'unknown error').split('\n')[0] ?? '';

/** The nearest suite or file around `t` that failed, if any. */
function failedAncestor(t: TestCase): TestSuite | TestModule | undefined {
  for (let p: TestSuite | TestModule = t.parent; ; p = p.parent) {
    if (p.state() === 'failed' && p.errors().length > 0) return p;
    if (p.type === 'module') return undefined;
  }
}

export function count(modules: readonly TestModule[], unhandled: readonly SerializedError[]): Counts {
  const c: Counts = { passed: 0, failed: 0, skipped: 0, failures: [] };
  const fail = (what: string) => {
    c.failed++;
    c.failures.push(what);
  };
  const carried = new Set<TestSuite | TestModule>();
  for (const m of modules) {
    for (const t of m.children.allTests()) {
      const r = t.result();
      const where = `${m.relativeModuleId} > ${t.fullName}`;
      const broken = failedAncestor(t);
      if (r.state === 'passed') c.passed++;
      else if (r.state === 'failed') fail(`${where}: ${firstLine(r.errors[0])}`);
      else if (broken) {
        carried.add(broken);
        fail(
          `${where}: not run, because ${broken.type === 'module' ? 'its file' : `'${broken.fullName}'`} failed: ${firstLine(broken.errors()[0])}`,
        );
      } else if (r.state === 'skipped') c.skipped++;
      else fail(`${where}: still ${r.state} when the run ended`);
    }
    for (const s of [m, ...m.children.allSuites()]) {
      if (carried.has(s) || s.errors().length === 0) continue;
      const name = s.type === 'module' ? m.relativeModuleId : `${m.relativeModuleId} > ${s.fullName}`;
      fail(`${name}: ${firstLine(s.errors()[0])}`);
    }
  }
  for (const e of unhandled) fail(`unhandled error: ${firstLine(e)}`);
  return c;
}

export default class CountReporter implements Reporter {
  onTestRunEnd(modules: readonly TestModule[], unhandled: readonly SerializedError[]): void {
    const file = process.env.CI_COUNTS_FILE;
    if (!file) throw new Error('.ci/count-reporter.ts: set CI_COUNTS_FILE to the file the counts go to');
    writeFileSync(file, JSON.stringify(count(modules, unhandled), null, 2));
  }
}
