/**
 * Every rule over every environment's committed dist/ (or argocd/, for the Argo CD rules): what ships passes, and every
 * exception in exceptions.ts is still needed.
 */
import { describe, expect, it } from 'vitest';
import { EXCEPTIONS, type PolicyException } from '../../src/policy/exceptions';
import { listEnvironments } from '../../src/model/loader';
import { ROOT } from '../support/committed';
import { committedByEnv, inputOf } from './fixtures';
import { formatViolations, RULES, runRule } from '../../src/policy/rules';

describe('committed manifests pass every policy rule', () => {
  const envs = [...committedByEnv().values()];
  const used = new Set<PolicyException>();

  it('covers every environment in environments/', () => {
    expect(envs.map((e) => e.env.name).sort()).toEqual(listEnvironments(ROOT));
  });

  for (const e of envs) {
    const { env } = e;
    for (const rule of RULES) {
      it(`${env.name}: ${rule.id}`, () => {
        const result = runRule(rule, inputOf(rule, e), env);
        result.used.forEach((e) => used.add(e));
        expect(formatViolations(result.violations)).toBe('');
      });
    }
  }

  it('uses every exception (no stale entries) and gives each a reason', () => {
    for (const e of envs)
      for (const rule of RULES) runRule(rule, inputOf(rule, e), e.env).used.forEach((x) => used.add(x));
    const stale = EXCEPTIONS.filter((e) => !used.has(e)).map((e) => `${e.rule} ${e.kind}/${e.name}`);
    expect(stale).toEqual([]);
    for (const e of EXCEPTIONS) expect(e.reason.length).toBeGreaterThan(40);
  });
});
