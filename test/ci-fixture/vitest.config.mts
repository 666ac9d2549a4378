import { defineConfig } from 'vitest/config';

// A deliberately broken suite, run only by test/ci.test.ts through .ci/suite.sh: each file fails in
// a way vitest's own JSON counts missed (a failed setup, an import failure, an unhandled error, a
// failed teardown), next to plain passes and skips. Not one test in it fails: vitest's own counts
// say 0 failed for this run, which exits 1.
export default defineConfig({
  test: {
    include: ['test/ci-fixture/*.fixture.ts'],
    fileParallelism: false,
    reporters: ['default'],
  },
});
