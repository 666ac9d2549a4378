/**
 * charts/executor-reaper/reap.py is what runs: the ConfigMap in every committed dist/<env>/ holds
 * exactly its bytes, and the Python version its linters check against (ruff.toml's target-version,
 * which tools/lint-python.sh also gives vermin) is the Python of the image it runs in. Fast: reads
 * files only; npm run lint:py runs the linters themselves.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listEnvironments } from '../../../src/model/loader';
import { loadEnvironment } from '../../../apps/environment';
import { embeddedScript, REAPER_NAME, REAPER_SCRIPT, REAPER_SCRIPT_KEY } from '../../../charts/executor-reaper/script';
import { REAPER_IMAGE } from '../../../charts/executor-reaper/schema';
import { parseYamlDocuments, ROOT } from '../../support/committed';

const DIR = 'charts/executor-reaper';
const SCRIPT_FILE = `${DIR}/${REAPER_SCRIPT_KEY}`;
const RUFF_CONFIG = `${DIR}/ruff.toml`;
const REQUIREMENTS = 'tools/python/python-lint-requirements.txt';

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** ruff's target-version for a Python image tag: '3.13.1-alpine' → 'py313'. */
function ruffTarget(tag: string): string {
  const m = /^(\d+)\.(\d+)(?:[.-]|$)/.exec(tag);
  if (!m) throw new Error(`${REAPER_NAME}: image tag '${tag}' does not start with a Python version MAJOR.MINOR`);
  return `py${m[1]}${m[2]}`;
}

describe(`${SCRIPT_FILE}`, () => {
  const script = read(SCRIPT_FILE);
  const envs = listEnvironments(ROOT);

  it('is what the sources embed (the imported text equals the file)', () => {
    expect(REAPER_SCRIPT === script, `REAPER_SCRIPT (charts/executor-reaper/script.ts) equals ${SCRIPT_FILE}`).toBe(
      true,
    );
  });

  it('is refused, naming the file, when an import does not give its text', () => {
    const named = /executor-reaper: charts\/executor-reaper\/reap\.py must be imported as text/;
    expect(() => embeddedScript(undefined)).toThrow(named);
    expect(() => embeddedScript({ default: script })).toThrow(/; got object$/);
    expect(() => embeddedScript('./reap-3F2A.py')).toThrow(/; got "\.\/reap-3F2A\.py"…$/);
    expect(() => embeddedScript(script.slice(0, -1))).toThrow(named);
    expect(embeddedScript(script)).toBe(script);
  });

  it.each(envs)('is, byte for byte, the ConfigMap in the committed dist/%s', (env) => {
    const file = `dist/${env}/${REAPER_NAME}/configmap-${REAPER_NAME}.yaml`;
    const [cm] = parseYamlDocuments(read(file), file);
    const data = (cm as { data?: Record<string, unknown> } | undefined)?.data ?? {};
    expect(Object.keys(data), `${file}: data keys`).toEqual([REAPER_SCRIPT_KEY]);
    const committed = data[REAPER_SCRIPT_KEY];
    if (committed !== script) {
      const a = String(committed);
      let i = 0;
      while (i < a.length && a[i] === script[i]) i++;
      const line = script.slice(0, i).split('\n').length;
      expect.fail(
        `${file} data.${REAPER_SCRIPT_KEY} differs from ${SCRIPT_FILE} at line ${line} (committed ${a.length} characters, file ${script.length}); run npm run synth and commit dist/`,
      );
    }
  });

  it("is linted for the Python of the image it runs in (ruff.toml's target-version)", () => {
    const targets = [...read(RUFF_CONFIG).matchAll(/^target-version = "(py\d+)"$/gm)].map((m) => m[1]);
    expect(targets, `${RUFF_CONFIG}: one line target-version = "pyNNN"`).toHaveLength(1);
    const image = `${REAPER_IMAGE.repository}:${REAPER_IMAGE.tag}`;
    expect(
      targets[0],
      `${RUFF_CONFIG} target-version must be the Python of REAPER_IMAGE (${image}, charts/executor-reaper/schema.ts); change both together`,
    ).toBe(ruffTarget(REAPER_IMAGE.tag));
    // And of every environment's executorReaper.image (a mirror of it in the environment's registry).
    for (const env of listEnvironments(ROOT)) {
      const tag = loadEnvironment(ROOT, env).executorReaper.image.tag ?? '';
      expect(targets[0], `environments/${env}.yaml executorReaper.image.tag ${tag}`).toBe(ruffTarget(tag));
    }
  });

  it('is checked by linters pinned to exact versions', () => {
    const lines = read(REQUIREMENTS)
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(lines.map((l) => l.split('==')[0]).sort(), REQUIREMENTS).toEqual(['ruff', 'vermin']);
    for (const l of lines) expect(l, `${REQUIREMENTS}: exact pin`).toMatch(/^[A-Za-z0-9._-]+==\d+(\.\d+)+$/);
  });

  it('maps image tags to ruff target versions', () => {
    expect(ruffTarget('3.13.1-alpine')).toBe('py313');
    expect(ruffTarget('3.9-slim')).toBe('py39');
    expect(ruffTarget('3.14')).toBe('py314');
    expect(() => ruffTarget('alpine')).toThrow("image tag 'alpine' does not start with a Python version");
  });
});
