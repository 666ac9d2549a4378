/**
 * README.md's policy section (between the policy-rules markers) equals the table generated from
 * RULES and EXCEPTIONS. With UPDATE_README=1 the test rewrites the section first.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { currentSection, policySection, README, UPDATE_COMMAND, withSection } from './readme';
import { RULES } from '../../src/policy/rules';

describe('README policy section', () => {
  it('lists every rule, exception and known defect', async () => {
    const expected = await policySection();
    if (process.env.UPDATE_README) writeFileSync(README, withSection(readFileSync(README, 'utf8'), expected));
    const actual = currentSection(readFileSync(README, 'utf8'));
    expect(actual, 'README.md has no policy-rules markers').toBeDefined();
    expect(actual, `README.md's policy section is out of date: run \`${UPDATE_COMMAND}\` to update it`).toBe(expected);
  });

  it('has unique rule ids, each with a one-line reason', () => {
    const ids = RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of RULES) {
      expect(r.id).toMatch(/^[a-z]+(-[a-z]+)*$/);
      expect(r.reason.length, r.id).toBeGreaterThan(30);
      expect(r.reason, r.id).not.toContain('\n');
    }
  });
});
