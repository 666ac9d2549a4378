/**
 * The policy section of README.md, generated from RULES and EXCEPTIONS.
 * readme-table.test.ts fails when README.md drifts from it; to rewrite the section run
 *   UPDATE_README=1 npx vitest run test/policy/readme-table.test.ts
 */
import { join } from 'node:path';
import * as prettier from 'prettier';
import { ROOT } from '../support/committed';
import { EXCEPTIONS } from '../../src/policy/exceptions';
import { RULES } from '../../src/policy/rules';

export const README = join(ROOT, 'README.md');
export const START = '<!-- policy-rules:start -->';
export const END = '<!-- policy-rules:end -->';
export const UPDATE_COMMAND = 'UPDATE_README=1 npx vitest run test/policy/readme-table.test.ts';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

/** The Markdown between the markers, formatted as prettier formats README.md. */
export async function policySection(): Promise<string> {
  const lines = [
    `<!-- Generated from src/policy/rules.ts and src/policy/exceptions.ts. To update: ${UPDATE_COMMAND} -->`,
    '',
    '| Rule | Why |',
    '| --- | --- |',
    ...RULES.map((r) => `| \`${r.id}\` | ${cell(r.reason)} |`),
    '',
    'What the NetworkPolicies allow, flow by flow (including the ingress controller, DNS, Prometheus, the API server and ' +
      'the internet), is asserted against an intended table in ' +
      '[`test/policy/reachability.test.ts`](test/policy/reachability.test.ts).',
    '',
    'Exceptions are made only in [`src/policy/exceptions.ts`](src/policy/exceptions.ts), each with its reason. ' +
      (EXCEPTIONS.length === 0 ? 'There are none.' : 'Current exceptions:'),
    '',
  ];
  if (EXCEPTIONS.length > 0) {
    lines.push('| Rule | Environment | Object | Reason |', '| --- | --- | --- | --- |');
    for (const e of EXCEPTIONS) {
      lines.push(`| \`${e.rule}\` | ${e.env === '*' ? 'all' : e.env} | ${e.kind} \`${e.name}\` | ${cell(e.reason)} |`);
    }
    lines.push('');
  }
  const options = (await prettier.resolveConfig(README)) ?? {};
  return (await prettier.format(lines.join('\n'), { ...options, parser: 'markdown' })).trimEnd();
}

/** The text between the markers, without surrounding blank lines; undefined without markers. */
export function currentSection(readme: string): string | undefined {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) return undefined;
  return readme.slice(start + START.length, end).trim();
}

/** README text with the section replaced. */
export function withSection(readme: string, section: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START} ... ${END} markers`);
  return `${readme.slice(0, start + START.length)}\n\n${section}\n\n${readme.slice(end)}`;
}
