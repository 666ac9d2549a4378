/**
 * Files the TypeScript sources import as text: `import script from './reap.py'` gives the file's
 * exact contents as a string, so a script keeps its own file (read by its own linters) and is still
 * embedded byte for byte in what synth renders. src/commands/run.cjs gives esbuild the same list as
 * its `loader` option ('text'); vitest, which runs the sources without that bundle, uses
 * {@link textFilesPlugin} (vitest.config.mts, vitest.real.config.mts). The types are in
 * src/text-files.d.ts.
 */
import { readFileSync } from 'node:fs';
import type { Plugin } from 'vitest/config';

/** Extensions imported as text. Keep in step with the `loader` option of src/commands/run.cjs. */
export const TEXT_EXTENSIONS = ['.py'] as const;

/** esbuild's `loader` option for {@link TEXT_EXTENSIONS}. */
export const TEXT_LOADERS: Record<string, 'text'> = Object.fromEntries(TEXT_EXTENSIONS.map((e) => [e, 'text']));

/** A Vite plugin: a text file's module default-exports its contents (UTF-8), as esbuild's text loader does. */
export function textFilesPlugin(): Plugin {
  return {
    name: 'coderun-text-files',
    enforce: 'pre',
    load(id: string) {
      const file = id.split('?')[0] ?? id;
      if (!TEXT_EXTENSIONS.some((e) => file.endsWith(e))) return null;
      this.addWatchFile(file);
      return `export default ${JSON.stringify(readFileSync(file, 'utf8'))};\n`;
    },
  };
}
