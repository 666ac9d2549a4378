/** dist/ and argocd/ in git are exactly what the sources render, byte for byte. */
import { describe, expect, it } from 'vitest';
import { listEnvironments } from '../src/model/loader';
import { loadEnvironment } from '../apps/environment';
import { synth } from '../src/commands/cli';
import { renderEnvironment } from '../src/commands/render';
import { ROOT } from './support/committed';

describe('committed output is in sync with the sources', () => {
  it('a fresh render changes nothing under dist/ or argocd/', () => {
    const result = synth(ROOT, { envs: [], check: true });
    expect(result.lines.join('\n')).toMatch(/up to date/);
    expect(result.exitCode).toBe(0);
  });

  it('renders byte-identical files on every run', () => {
    for (const name of listEnvironments(ROOT)) {
      const env = loadEnvironment(ROOT, name);
      const a = renderEnvironment(env).files;
      const b = renderEnvironment(env).files;
      expect([...b.entries()]).toEqual([...a.entries()]);
    }
  });

  it('never writes a hash-suffixed name', () => {
    for (const name of listEnvironments(ROOT)) {
      for (const path of renderEnvironment(loadEnvironment(ROOT, name)).files.keys()) {
        expect(path).not.toMatch(/-[0-9a-f]{8}\.yaml$/);
      }
    }
  });
});
