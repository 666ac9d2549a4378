/**
 * Text imports (src/commands/text-files.ts) mean the same in synth's bundle and in vitest: run.cjs
 * gives esbuild a text loader for exactly TEXT_EXTENSIONS, and the Vite plugin gives a module whose
 * default export is the file's exact contents.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TEXT_EXTENSIONS, TEXT_LOADERS, textFilesPlugin } from '../src/commands/text-files';
import { ROOT } from './support/committed';

describe('text imports', () => {
  it("run.cjs's esbuild loader option is TEXT_LOADERS", () => {
    const runCjs = readFileSync(join(ROOT, 'src/commands/run.cjs'), 'utf8');
    const options = [...runCjs.matchAll(/^ {4}loader: (\{[^}]*\}),$/gm)].map((m) => m[1] ?? '');
    expect(options, 'src/commands/run.cjs: one line `    loader: { ... },`').toHaveLength(1);
    expect(JSON.parse((options[0] ?? '').replace(/'/g, '"'))).toEqual(TEXT_LOADERS);
    expect(Object.keys(TEXT_LOADERS)).toEqual([...TEXT_EXTENSIONS]);
  });

  it("the vitest plugin's module of a text file default-exports its exact contents, and leaves other files alone", () => {
    const file = join(ROOT, 'charts/executor-reaper/reap.py');
    const load = textFilesPlugin().load as (this: { addWatchFile(f: string): void }, id: string) => string | null;
    const watched: string[] = [];
    const ctx = { addWatchFile: (f: string) => void watched.push(f) };
    const code = load.call(ctx, file);
    const m = /^export default (".*");\n$/s.exec(code ?? '');
    expect(m, code ?? 'null').not.toBeNull();
    expect(JSON.parse(m?.[1] ?? '""')).toBe(readFileSync(file, 'utf8'));
    expect(watched).toEqual([file]);
    expect(load.call(ctx, join(ROOT, 'charts/executor-reaper/script.ts'))).toBeNull();
  });
});
