import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The real-software suites have their own config and commands (npm run test:real, test:cluster).
    exclude: ['test/real/**', 'node_modules/**'],
    // One module registry per worker: cdk8s, cdk8s-plus-28, ajv and the committed YAML load once per
    // worker instead of once per test file (half the wall time). Tests keep no global state between files.
    isolate: false,
    // One worker per core. Vitest's default is cores - 1, which is a single worker on a 2-core
    // machine; the main process only collects results while the workers run.
    maxWorkers: availableParallelism(),
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
