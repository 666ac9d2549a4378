/**
 * npm run synth embeds reap.py as it is now, not as the last bundle saw it: src/commands/run.cjs
 * reuses .build/cli.cjs until an input of esbuild's metafile changes, and the text-loaded .py file
 * is one. On a copy of the repository: --check passes, an edit of reap.py alone makes it fail on the
 * three ConfigMaps, and synth then writes the edited script into them.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listEnvironments } from '../../../src/model/loader';
import { parseYamlDocuments, ROOT } from '../../support/committed';
import { ScratchCopy } from '../../support/scratch-copy';

let copy: ScratchCopy;
const synth = (...args: string[]) =>
  spawnSync(process.execPath, [join(copy.root, 'src/commands/run.cjs'), 'cli', ...args], {
    cwd: copy.root,
    encoding: 'utf8',
  });

beforeAll(() => {
  copy = new ScratchCopy(ROOT, ['apps', 'argocd', 'charts', 'dist', 'environments', 'imports', 'src'], 'reap-py-');
  cpSync(join(ROOT, 'package.json'), join(copy.root, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(copy.root, 'node_modules'));
});
afterAll(() => copy.remove());

describe('synth after an edit of charts/executor-reaper/reap.py', () => {
  it('rebuilds its bundle and renders the edited script', () => {
    const first = synth('--check');
    expect(first.stderr).toBe('');
    expect(first.status, first.stdout).toBe(0);

    const script = join(copy.root, 'charts/executor-reaper/reap.py');
    appendFileSync(script, '# edited after the last bundle\n');
    const edited = readFileSync(script, 'utf8');
    const files = listEnvironments(copy.root).map(
      (env) => `dist/${env}/executor-reaper/configmap-executor-reaper.yaml`,
    );

    const stale = synth('--check');
    expect(stale.status, `${stale.stdout}${stale.stderr}`).toBe(1);
    expect([...`${stale.stdout}${stale.stderr}`.matchAll(/^ {2}changed: (\S+)$/gm)].map((m) => m[1]).sort()).toEqual(
      files.sort(),
    );

    const written = synth();
    expect(written.status, `${written.stdout}${written.stderr}`).toBe(0);
    for (const file of files) {
      const [cm] = parseYamlDocuments(readFileSync(join(copy.root, file), 'utf8'), file);
      expect((cm?.data as Record<string, string> | undefined)?.['reap.py'], file).toBe(edited);
    }
  });
});
