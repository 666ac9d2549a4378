/** Every rule in RULES has a `describe('rule <id>')` block with at least one "fails ..." test. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { RULES } from '../../src/policy/rules';

it('every rule has a negative test', () => {
  const blocks = new Map<string, string>();
  for (const file of readdirSync(__dirname).filter((f) => f.endsWith('.test.ts'))) {
    const parts = readFileSync(join(__dirname, file), 'utf8').split("describe('rule ");
    for (const part of parts.slice(1)) {
      const id = part.slice(0, part.indexOf("'"));
      blocks.set(id, (blocks.get(id) ?? '') + part);
    }
  }
  const missing = RULES.map((r) => r.id).filter((id) => !/\bit\(\s*'fails/.test(blocks.get(id) ?? ''));
  expect(missing, 'rules without a "fails ..." test in a describe(\'rule <id>\') block').toEqual([]);
});
