/**
 * The list-deriving checks of the test suite, as one function, for test/recipes.test.ts: it is
 * bundled from a copy of the repository (with a new environment and a new language added by the
 * README recipes) and run there, so it sees that copy's environments, EXECUTOR_LANGUAGES and README.md.
 * Returns the problems found; [] means the committed output of the copy passes.
 */
import { EXECUTOR_LANGUAGES } from '../../charts/executors/schema';
import { listEnvironments } from '../../src/model/loader';
import { formatViolations, ruleInput, RULES, runRule } from '../../src/policy/rules';
import type { Manifest } from '../../src/model/objects';
import { capacityTableProblems } from './capacity-table';
import { loadCommitted } from './committed';

export function recipeProblems(root: string): string[] {
  const problems: string[] = [];
  const docs = loadCommitted(root);
  const envs = listEnvironments(root);
  const byEnv = new Map<string, { env: (typeof docs)[number]['env']; objects: Manifest[]; argocd: Manifest[] }>();
  for (const d of docs) {
    const e = byEnv.get(d.env.name) ?? { env: d.env, objects: [], argocd: [] };
    if (d.file.startsWith('dist/')) e.objects.push(d.object);
    else if (d.file.startsWith('argocd/')) e.argocd.push(d.object);
    else continue;
    byEnv.set(d.env.name, e);
  }
  const rendered = [...byEnv.keys()].sort();
  if (rendered.join() !== envs.join()) problems.push(`committed environments ${rendered.join()} != ${envs.join()}`);
  for (const { env, objects, argocd } of byEnv.values()) {
    for (const rule of RULES) {
      const v = formatViolations(runRule(rule, ruleInput(rule, objects, argocd), env).violations);
      if (v) problems.push(`${env.name}: ${v}`);
    }
    for (const l of EXECUTOR_LANGUAGES) {
      if (!objects.some((o) => o.kind === 'PodTemplate' && o.metadata.name === `executor-${l}`)) {
        problems.push(`${env.name}: no PodTemplate executor-${l}`);
      }
    }
  }
  problems.push(...capacityTableProblems(root, envs));
  return problems;
}
