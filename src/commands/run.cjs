#!/usr/bin/env node
// Runs a TypeScript entry point without a TypeScript loader: esbuild bundles the project's own
// code (not node_modules) into .build/<entry>.cjs once, and reuses it until a source file changes.
// Usage: node src/commands/run.cjs <entry> [args...]   (entry: cli | bench | twin | diff | pin | promote | release-sandbox)
'use strict';
const { existsSync, readFileSync, renameSync, statSync, writeFileSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..', '..');
const entry = process.argv[2];
const entries = {
  cli: 'src/commands/cli.ts',
  bench: 'src/commands/bench.ts',
  twin: 'tools/harness/twin/cli.ts',
  diff: 'src/commands/diff-cli.ts',
  pin: 'src/commands/pin.ts',
  promote: 'src/commands/promote.ts',
  'release-sandbox': 'tools/harness/release-sandbox.ts',
};
if (!entries[entry]) {
  process.stderr.write(`usage: node src/commands/run.cjs <${Object.keys(entries).join('|')}> [args]\n`);
  process.exit(2);
}
const outfile = join(root, '.build', `${entry}.cjs`);
const stampFile = `${outfile}.inputs.json`;

/** Size and mtime of every input of the last build; any difference means rebuild. */
function stamp(inputs) {
  return inputs.map((p) => {
    try {
      const s = statSync(join(root, p));
      return [p, s.size, s.mtimeMs];
    } catch {
      return [p, -1, -1];
    }
  });
}

function upToDate() {
  if (!existsSync(outfile) || !existsSync(stampFile)) return false;
  try {
    const saved = JSON.parse(readFileSync(stampFile, 'utf8'));
    return JSON.stringify(stamp(saved.map((s) => s[0]))) === JSON.stringify(saved);
  } catch {
    return false;
  }
}

if (!upToDate()) {
  mkdirSync(join(root, '.build'), { recursive: true });
  const result = require('esbuild').buildSync({
    absWorkingDir: root,
    entryPoints: [entries[entry]],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    // Files the sources import as text (charts/executor-reaper/reap.py); the list is TEXT_EXTENSIONS
    // of src/commands/text-files.ts. The metafile lists them as inputs, so editing one rebuilds.
    loader: { '.py': 'text' },
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    write: false,
  });
  // Write then rename: a run started at the same moment never loads half a bundle.
  for (const file of result.outputFiles) {
    const partial = `${file.path}.${process.pid}.tmp`;
    writeFileSync(partial, file.contents);
    renameSync(partial, file.path);
  }
  const inputs = Object.keys(result.metafile.inputs)
    .filter((p) => !p.startsWith('node_modules/'))
    .sort();
  writeFileSync(stampFile, JSON.stringify(stamp(inputs)));
}

const code = require(outfile).main(process.argv.slice(3), root);
if (code && typeof code.then === 'function') {
  code.then(
    (c) => {
      if (typeof c === 'number') process.exitCode = c;
    },
    (e) => {
      process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
      process.exitCode = 1;
    },
  );
} else if (typeof code === 'number') process.exitCode = code;
