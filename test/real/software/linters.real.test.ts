/**
 * The peers' Kubernetes linters over what ships: per environment (environments/*.yaml), kube-score,
 * checkov and kubeconform run over the committed dist/<env>/ and argocd/<env>/. Any finding that is
 * not a reviewed exception in test/policy/exceptions.ts (LINTER_EXCEPTIONS) fails, and so does an
 * exception that no longer matches a finding. Each linter must have looked at every object.
 *
 * The programs are built or installed on first use (tools/build.sh kube-score kubeconform,
 * tools/install-checkov.sh); a missing program fails the suite. LINTERS_REPORT=<file> writes every
 * finding, excepted or not, as JSON.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listEnvironments } from '../../../src/model/loader';
import { loadEnvironment } from '../../../apps/environment';
import { LINTER_EXCEPTIONS, type Linter } from '../../../src/policy/exceptions';
import { loadCommitted, type CommittedDoc } from '../../support/committed';
import {
  applyExceptions,
  exceptionObjectId,
  formatFindings,
  kubeconformSchemas,
  runCheckov,
  runKubeconform,
  runKubeScore,
  type Finding,
  type LinterRun,
} from '../../../tools/harness/linters';
import { checkovDir, output, ROOT, tool } from '../../../tools/harness/tools';

const ENVS = listEnvironments(ROOT).map((name) => loadEnvironment(ROOT, name));
const DOCS = new Map<string, CommittedDoc[]>();
for (const d of loadCommitted()) DOCS.set(d.env.name, [...(DOCS.get(d.env.name) ?? []), d]);
const LINTERS: readonly Linter[] = ['kube-score', 'checkov', 'kubeconform'];

const bin: Record<Linter, string> = { 'kube-score': '', checkov: '', kubeconform: '' };
let work = '';
const runs = new Map<string, LinterRun>();

/** Runs `linter` over environment `envName` once; later calls reuse the result. */
function run(linter: Linter, envName: string): LinterRun {
  const id = `${linter} ${envName}`;
  const cached = runs.get(id);
  if (cached) return cached;
  const env = ENVS.find((e) => e.name === envName);
  const docs = DOCS.get(envName) ?? [];
  if (!env || docs.length === 0) throw new Error(`no committed objects for environment ${envName}`);
  const result =
    linter === 'kube-score'
      ? runKubeScore(bin[linter], env, docs, work)
      : linter === 'checkov'
        ? runCheckov(bin[linter], env, docs, work)
        : runKubeconform(bin[linter], env, docs, work);
  runs.set(id, result);
  return result;
}

/** The version a tools/go module pins for `module`, from its go.mod. */
function goModVersion(toolModule: string, module: string): string {
  const gomod = readFileSync(join(ROOT, 'tools', 'go', toolModule, 'go.mod'), 'utf8');
  const m = new RegExp(`^\\s*${module.replace(/[.]/g, '\\.')} (v\\S+)`, 'm').exec(gomod);
  if (!m?.[1]) throw new Error(`tools/go/${toolModule}/go.mod does not require ${module}`);
  return m[1];
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'coderun-linters-'));
  bin['kube-score'] = tool('kube-score', 'kube-score');
  bin.kubeconform = tool('kubeconform', 'kubeconform');
  bin.checkov = join(checkovDir(), 'checkov');
});

afterAll(() => {
  if (process.env['LINTERS_REPORT']) {
    const all: Finding[] = [...runs.values()].flatMap((r) => r.findings);
    writeFileSync(process.env['LINTERS_REPORT'], JSON.stringify(all, null, 2));
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the linters are the pinned programs', () => {
  it('kube-score reports the version tools/go/kube-score pins', () => {
    const want = goModVersion('kube-score', 'github.com/zegl/kube-score');
    expect(output(bin['kube-score'], ['version'])).toContain(`kube-score version: ${want},`);
  });

  it('kubeconform reports the version tools/go/kubeconform pins', () => {
    expect(output(bin.kubeconform, ['-v']).trim()).toBe(goModVersion('kubeconform', 'github.com/yannh/kubeconform'));
  });

  it('checkov reports the version tools/python/checkov-requirements.txt pins', () => {
    const req = readFileSync(join(ROOT, 'tools', 'python', 'checkov-requirements.txt'), 'utf8');
    const want = /^checkov==(\S+)$/m.exec(req)?.[1];
    expect(want).toBeDefined();
    expect(output(bin.checkov, ['--version']).trim()).toBe(want);
  });
});

describe("kubeconform's local schemas", () => {
  const versions = [...new Set(ENVS.map((e) => e.kubernetesVersion))].sort();
  for (const version of versions) {
    it(`Kubernetes ${version}: cover every kind the environments use and reject unknown fields and wrong types`, () => {
      const schemas = kubeconformSchemas(version, work);
      expect(schemas.ambiguous).toEqual([]);
      const used = ENVS.filter((e) => e.kubernetesVersion === version).flatMap((e) =>
        (DOCS.get(e.name) ?? []).map((d) => `${d.object.apiVersion}/${d.object.kind}`),
      );
      expect([...new Set(used)].filter((k) => !schemas.kinds.includes(k))).toEqual([]);

      // Broken copies of a committed built-in object and a committed custom resource must be rejected.
      const env = ENVS.find((e) => e.kubernetesVersion === version);
      const docs = DOCS.get(env?.name ?? '') ?? [];
      const deployment = docs.find((d) => d.object.kind === 'Deployment');
      const custom = docs.find((d) => d.object.apiVersion.startsWith('argoproj.io/'));
      if (!env || !deployment || !custom) throw new Error(`no Deployment and Argo CD object for Kubernetes ${version}`);
      const broken = (d: CommittedDoc, name: string, change: (o: Record<string, unknown>) => void): CommittedDoc => {
        const object = structuredClone(d.object) as Record<string, unknown>;
        change(object);
        (object['metadata'] as Record<string, unknown>)['name'] = name;
        const file = join(work, `broken-${version}-${name}.yaml`);
        writeFileSync(file, JSON.stringify(object));
        return { ...d, file, object: { ...(object as typeof d.object), metadata: { ...d.object.metadata, name } } };
      };
      const cases = [
        broken(deployment, 'unknown-field', (o) => {
          (o['spec'] as Record<string, unknown>)['replicaz'] = 2;
        }),
        broken(deployment, 'wrong-type', (o) => {
          (o['spec'] as Record<string, unknown>)['minReadySeconds'] = 'soon';
        }),
        broken(custom, 'unknown-cr-field', (o) => {
          (o['spec'] as Record<string, unknown>)['unknownField'] = true;
        }),
        broken(custom, 'unknown-cr-metadata', (o) => {
          (o['metadata'] as Record<string, unknown>)['labelz'] = { a: 'b' };
        }),
      ];
      const result = runKubeconform(bin.kubeconform, env, cases, work);
      expect(result.unchecked).toEqual([]);
      expect(result.findings.map((f) => `${f.name}: ${f.check}`).sort()).toEqual(
        cases.map((c) => `${c.object.metadata.name}: invalid`).sort(),
      );
    });
  }
});

for (const env of ENVS) {
  describe(`${env.name} (Kubernetes ${env.kubernetesVersion})`, () => {
    it(`${env.name}: kube-score, every test enabled, finds nothing beyond the reviewed exceptions`, () => {
      const r = run('kube-score', env.name);
      expect(r.unchecked, 'objects kube-score neither scored nor reported as a kind it has no tests for').toEqual([]);
      expect(formatFindings(applyExceptions(r.findings, LINTER_EXCEPTIONS).open)).toBe('');
    });

    it(`${env.name}: checkov (kubernetes framework) finds nothing beyond the reviewed exceptions`, () => {
      const r = run('checkov', env.name);
      expect(r.unchecked).toEqual([]);
      expect(r.suppressed, 'checks skipped through annotations in the manifests').toEqual([]);
      expect(formatFindings(applyExceptions(r.findings, LINTER_EXCEPTIONS).open)).toBe('');
    });

    it(`${env.name}: kubeconform -strict validates every object against Kubernetes ${env.kubernetesVersion} and CRD schemas`, () => {
      const r = run('kubeconform', env.name);
      expect(r.unchecked, 'objects kubeconform did not report on').toEqual([]);
      expect(formatFindings(applyExceptions(r.findings, LINTER_EXCEPTIONS).open)).toBe('');
    });
  });
}

describe('linter exceptions (test/policy/exceptions.ts)', () => {
  it('each object of each entry still matches a finding (no stale entries); each names a known linter, environment and reason', () => {
    const used = new Set<string>();
    for (const env of ENVS) {
      for (const linter of LINTERS) {
        applyExceptions(run(linter, env.name).findings, LINTER_EXCEPTIONS).used.forEach((id) => used.add(id));
      }
    }
    const all = LINTER_EXCEPTIONS.flatMap((e) => e.objects.map((o) => exceptionObjectId(e, o)));
    expect(all.filter((id) => !used.has(id))).toEqual([]);
    expect(new Set(all).size, 'an object listed twice for the same check').toBe(all.length);
    for (const e of LINTER_EXCEPTIONS) {
      const id = `${e.linter} ${e.check} ${e.env}`;
      expect(LINTERS, id).toContain(e.linter);
      expect(['*', ...ENVS.map((x) => x.name)], id).toContain(e.env);
      expect(e.objects.length, id).toBeGreaterThan(0);
      for (const o of e.objects) expect(o, id).toMatch(/^[A-Za-z]+\/[a-z0-9.-]+\*?$/);
      expect(e.reason.length, id).toBeGreaterThan(40);
    }
  });
});
