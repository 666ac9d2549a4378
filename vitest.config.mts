import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { textFilesPlugin } from './src/commands/text-files';

/**
 * The longest files (they wait on node, git and esbuild processes, and copy the repository) start
 * first, so the workers finish together. Vitest would order by the last run's durations, which
 * other checkouts sharing node_modules/.vite overwrite, and without them by file size, which
 * leaves these for the end.
 */
const LONGEST_FIRST = ['test/cli.test.ts', 'test/recipes.test.ts', 'test/diff/history.test.ts'];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = LONGEST_FIRST.indexOf(relative(f.project.config.root, f.moduleId).split('\\').join('/'));
      return i < 0 ? LONGEST_FIRST.length : i;
    };
    return (await super.sort(files)).sort((a, b) => rank(a) - rank(b)); // stable: the rest keep vitest's order
  }
}

export default defineConfig({
  // charts/executor-reaper/reap.py and other files the sources import as text, as synth's bundle does.
  plugins: [textFilesPlugin()],
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
    sequence: { sequencer: LongestFirst },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
