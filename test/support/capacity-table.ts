/**
 * README.md's capacity table (section "Capacity and headroom") against the committed reports: one
 * row per environment, with the figures of its dist/<env>/README.md. Used by test/capacity.test.ts
 * and by the recipe check (test/recipes.test.ts), which adds a row as the README's recipe says.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const cells = (line: string) =>
  line
    .split('|')
    .slice(1, -1)
    .map((c) => c.trim());

/** The row README.md's capacity table needs for `env`, from its committed dist/<env>/README.md. */
export function capacityRow(root: string, env: string): string[] {
  const report = readFileSync(join(root, `dist/${env}/README.md`), 'utf8');
  const cell = (label: string) =>
    report.match(new RegExp(`\\| \\*\\*${label}\\*\\* \\| \\| \\| \\*\\*([^*]+)\\*\\*`))?.[1] ?? '?';
  const jobs = report.match(/\| (\d+) concurrent executor jobs \|/)?.[1] ?? '?';
  return [env, cell('requested'), cell('cluster'), cell('headroom'), jobs];
}

/** `| a | b | ... |`: the row as Markdown. */
export function markdownRow(row: readonly string[]): string {
  return `| ${row.join(' | ')} |`;
}

/** One message per environment whose row in README.md is missing or differs from its report. */
export function capacityTableProblems(root: string, envs: readonly string[]): string[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8').split('\n');
  return envs.flatMap((env) => {
    const expected = capacityRow(root, env);
    const row = readme.map(cells).find((c) => c.length === 5 && c[0] === env);
    return JSON.stringify(row) === JSON.stringify(expected)
      ? []
      : [`README.md capacity table needs: ${markdownRow(expected)}${row ? ` (has ${markdownRow(row)})` : ''}`];
  });
}
