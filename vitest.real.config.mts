import { defineConfig } from 'vitest/config';
import { textFilesPlugin } from './src/commands/text-files';

// The real-software suites (npm run test:real, npm run test:cluster): they start the real programs
// the repository configures, built by tools/build.sh. One file at a time: each starts servers and
// the machine has two cores. Builds happen on first use, so hooks may take minutes once.
export default defineConfig({
  // charts/executor-reaper/reap.py and other files the sources import as text, as synth's bundle does.
  plugins: [textFilesPlugin()],
  test: {
    include: ['test/real/**/*.real.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 1_800_000,
    reporters: ['default'],
  },
});
