/**
 * Runs the peers' Kubernetes linters (kube-score, checkov, kubeconform) over one environment's
 * committed dist/<env>/ and argocd/<env>/ and turns their machine-readable output into findings
 * (linter, check id, object). The programs are the authority: this file only runs them, checks
 * that they looked at every object, and reads what they say.
 *
 * None of them may reach the network: kubeconform gets only local schemas (kubeconform-schemas.ts),
 * checkov runs with --skip-download, and both run with a proxy that refuses every connection.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { EnvironmentConfig } from '../../apps/environment';
import type { Linter, LinterException } from '../../src/policy/exceptions';
import type { Manifest } from '../../src/model/objects';
import type { CommittedDoc } from '../../test/support/committed';
import { writeKubeconformSchemas } from './kubeconform-schemas';
import { ROOT } from './tools';

export interface Finding {
  readonly linter: Linter;
  readonly check: string;
  readonly env: string;
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly name: string;
  /** The committed file, relative to the repository root. */
  readonly file: string;
  readonly message: string;
}

export interface LinterRun {
  readonly findings: readonly Finding[];
  /** Objects the linter did not look at although it should have (must be empty). */
  readonly unchecked: readonly string[];
  /** What the linter was told to ignore through annotations in the manifests (must be empty). */
  readonly suppressed: readonly string[];
  /** Objects whose kind the linter has no checks for, as it reported them (kube-score only). */
  readonly noChecks: readonly string[];
}

/** `linter check Kind namespace/name`. */
export function findingId(f: Finding): string {
  return `${f.linter} ${f.check} ${f.kind} ${f.namespace ? `${f.namespace}/` : ''}${f.name}`;
}

export function formatFindings(fs: readonly Finding[]): string {
  return fs.map((f) => `${findingId(f)} (${f.file}): ${f.message}`).join('\n');
}

/** Whether exception object 'Kind/name' (a trailing '*' matches a prefix) names the finding's object. */
function objectMatches(pattern: string, f: Finding): boolean {
  const slash = pattern.indexOf('/');
  const kind = pattern.slice(0, slash);
  const name = pattern.slice(slash + 1);
  return kind === f.kind && (name.endsWith('*') ? f.name.startsWith(name.slice(0, -1)) : f.name === name);
}

/** `linter check env Kind/name` of one object of an exception. */
export function exceptionObjectId(e: LinterException, object: string): string {
  return `${e.linter} ${e.check} ${e.env === '*' ? 'all environments' : e.env} ${object}`;
}

/**
 * Findings not covered by an exception, and the exception objects (exceptionObjectId) that covered
 * some finding.
 */
export function applyExceptions(
  findings: readonly Finding[],
  exceptions: readonly LinterException[],
): { open: Finding[]; used: Set<string> } {
  const used = new Set<string>();
  const open = findings.filter((f) => {
    for (const e of exceptions) {
      if (e.linter !== f.linter || e.check !== f.check || (e.env !== '*' && e.env !== f.env)) continue;
      const object = e.objects.find((o) => objectMatches(o, f));
      if (object !== undefined) {
        used.add(exceptionObjectId(e, object));
        return false;
      }
    }
    return true;
  });
  return { open, used };
}

/** No network for the linters: any proxied connection is refused. */
const OFFLINE_ENV: NodeJS.ProcessEnv = {
  ...process.env,
  HTTP_PROXY: 'http://127.0.0.1:9',
  HTTPS_PROXY: 'http://127.0.0.1:9',
  http_proxy: 'http://127.0.0.1:9',
  https_proxy: 'http://127.0.0.1:9',
  NO_PROXY: '',
  no_proxy: '',
};

/** Runs a linter that exits 0 (clean) or 1 (findings); anything else, or no JSON, is an error. */
function runJson(program: string, args: readonly string[], cwd: string): { json: unknown; stderr: string } {
  const r = spawnSync(program, args, { cwd, env: OFFLINE_ENV, encoding: 'utf8', maxBuffer: 256 << 20 });
  const what = `${program} ${args.slice(0, 12).join(' ')}${args.length > 12 ? ' ...' : ''}`;
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  if (r.status !== 0 && r.status !== 1) {
    throw new Error(`${what} exited with ${String(r.status ?? r.signal)}\n${r.stderr.slice(-4000)}`);
  }
  try {
    return { json: JSON.parse(r.stdout) as unknown, stderr: r.stderr };
  } catch {
    throw new Error(
      `${what} printed no JSON (exit ${String(r.status)}):\n${r.stdout.slice(0, 2000)}\n${r.stderr.slice(-4000)}`,
    );
  }
}

const key = (kind: string, namespace: string | undefined, name: string) => `${kind} ${namespace ?? ''}/${name}`;
const docKey = (d: CommittedDoc) => key(d.object.kind, d.object.metadata.namespace, d.object.metadata.name);

function gvkString(o: Manifest): string {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') : ['', o.apiVersion];
  return `${group ?? ''}/${version ?? ''}, Kind=${o.kind}`;
}

// ---------------------------------------------------------------------------------------------
// kube-score
// ---------------------------------------------------------------------------------------------

interface KubeScoreObject {
  file_name: string;
  type_meta: { kind: string };
  object_meta: { name: string; namespace?: string; annotations?: Record<string, string> };
  checks: {
    check: { id: string };
    grade: number;
    skipped: boolean;
    comments: { path: string; summary: string; description: string }[] | null;
  }[];
}

/** kube-score's grade for a check that found nothing (scorecard.GradeAllOK). */
const GRADE_ALL_OK = 10;

/**
 * kube-score with every test it has (--all-default-optional), annotations in the manifests unable
 * to switch tests off or on, for the environment's Kubernetes version. kube-score scores Pods but
 * not PodTemplates, so each executor PodTemplate is also given to it as the Pod it becomes
 * (metadata and spec of its template); findings on that Pod are reported on the PodTemplate.
 */
export function runKubeScore(
  kubeScore: string,
  env: EnvironmentConfig,
  docs: readonly CommittedDoc[],
  work: string,
): LinterRun {
  const dir = join(work, `kube-score-${env.name}`);
  mkdirSync(dir, { recursive: true });
  const byFile = new Map<string, CommittedDoc>();
  for (const d of docs) byFile.set(join(ROOT, d.file), d);
  const asPod = new Map<string, CommittedDoc>();
  for (const d of docs.filter((x) => x.object.kind === 'PodTemplate')) {
    const template = (d.object['template'] ?? {}) as { metadata?: Record<string, unknown>; spec?: unknown };
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { ...template.metadata, name: d.object.metadata.name, namespace: d.object.metadata.namespace },
      spec: template.spec,
    };
    const file = join(dir, `pod-from-podtemplate-${d.object.metadata.name}.yaml`);
    writeFileSync(file, stringify(pod));
    asPod.set(file, d);
  }
  const { json, stderr } = runJson(
    kubeScore,
    [
      'score',
      '--all-default-optional',
      '--disable-ignore-checks-annotations',
      '--disable-optional-checks-annotations',
      '--kubernetes-version',
      `v${env.kubernetesVersion}`,
      '--output-format',
      'json',
      '-v',
      '-v',
      ...byFile.keys(),
      ...asPod.keys(),
    ],
    ROOT,
  );
  const scored = json as KubeScoreObject[];
  if (!Array.isArray(scored)) throw new Error('kube-score: expected a JSON array');
  const noChecks = new Set([...stderr.matchAll(/Unknown datatype: (.+)$/gm)].map((m) => (m[1] ?? '').trim()));

  const findings: Finding[] = [];
  const seen = new Set<string>();
  for (const o of scored) {
    const fromTemplate = asPod.get(o.file_name);
    const doc = fromTemplate ?? byFile.get(o.file_name);
    if (!doc)
      throw new Error(`kube-score scored ${o.type_meta.kind} ${o.object_meta.name} from unknown file ${o.file_name}`);
    if (!fromTemplate && (doc.object.kind !== o.type_meta.kind || doc.object.metadata.name !== o.object_meta.name)) {
      throw new Error(
        `kube-score read ${o.type_meta.kind} ${o.object_meta.name} from ${doc.file}, which holds ${docKey(doc)}`,
      );
    }
    seen.add(fromTemplate ? `pod:${doc.file}` : doc.file);
    for (const c of o.checks) {
      if (c.skipped || c.grade >= GRADE_ALL_OK) continue;
      const comments = (c.comments ?? []).map((x) => `${x.path ? `${x.path}: ` : ''}${x.summary}`);
      findings.push({
        linter: 'kube-score',
        check: c.check.id,
        env: env.name,
        kind: doc.object.kind,
        namespace: doc.object.metadata.namespace,
        name: doc.object.metadata.name,
        file: doc.file,
        message: `grade ${c.grade}${fromTemplate ? ' (as the Pod it becomes)' : ''}: ${[...new Set(comments)].join('; ')}`,
      });
    }
  }
  const unchecked: string[] = [];
  const noChecksObjects: string[] = [];
  for (const d of docs) {
    if (seen.has(d.file)) continue;
    if (noChecks.has(gvkString(d.object))) noChecksObjects.push(`${docKey(d)} (${gvkString(d.object)})`);
    else unchecked.push(`${docKey(d)} (${d.file})`);
  }
  for (const [file, d] of asPod) if (!seen.has(`pod:${d.file}`)) unchecked.push(`Pod from ${docKey(d)} (${file})`);
  return { findings, unchecked, suppressed: [], noChecks: noChecksObjects };
}

// ---------------------------------------------------------------------------------------------
// checkov
// ---------------------------------------------------------------------------------------------

interface CheckovCheck {
  check_id: string;
  check_name: string;
  resource: string;
  file_path: string;
  check_result: { result: string; evaluated_keys?: string[] };
}
interface CheckovReport {
  check_type: string;
  results: {
    passed_checks: CheckovCheck[];
    failed_checks: CheckovCheck[];
    skipped_checks: CheckovCheck[];
    parsing_errors: string[];
  };
  summary: { resource_count: number; parsing_errors: number; checkov_version: string };
}

/**
 * checkov --framework kubernetes over one folder holding copies of dist/<env>/ (as dist/) and
 * argocd/<env>/ (as argocd/): one run, one JSON report. Every check of the framework runs.
 */
export function runCheckov(
  checkov: string,
  env: EnvironmentConfig,
  docs: readonly CommittedDoc[],
  work: string,
): LinterRun {
  const stage = join(work, `checkov-${env.name}`);
  cpSync(join(ROOT, 'dist', env.name), join(stage, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'argocd', env.name), join(stage, 'argocd'), { recursive: true });
  const { json } = runJson(
    checkov,
    ['--framework', 'kubernetes', '--directory', '.', '--output', 'json', '--compact', '--skip-download'],
    stage,
  );
  const report = json as CheckovReport;
  if (Array.isArray(report) || report.check_type !== 'kubernetes') {
    throw new Error(`checkov: expected one kubernetes report, got ${JSON.stringify(json).slice(0, 300)}`);
  }
  const byFile = new Map<string, CommittedDoc>();
  for (const d of docs) {
    const rel = d.file.startsWith(`dist/${env.name}/`)
      ? `/dist/${d.file.slice(`dist/${env.name}/`.length)}`
      : `/argocd/${d.file.slice(`argocd/${env.name}/`.length)}`;
    byFile.set(rel, d);
  }
  const docOf = (c: CheckovCheck): CommittedDoc => {
    const d = byFile.get(c.file_path);
    if (!d) throw new Error(`checkov reported ${c.check_id} on ${c.resource} in unknown file ${c.file_path}`);
    return d;
  };
  const findings = new Map<string, Finding>();
  for (const c of report.results.failed_checks) {
    const d = docOf(c);
    const f: Finding = {
      linter: 'checkov',
      check: c.check_id,
      env: env.name,
      kind: d.object.kind,
      namespace: d.object.metadata.namespace,
      name: d.object.metadata.name,
      file: d.file,
      message: `${c.check_name} [${(c.check_result.evaluated_keys ?? []).join(', ')}]${c.resource.startsWith(`${d.object.kind}.`) ? '' : ` (on ${c.resource.split('.').slice(0, 3).join('.')})`}`,
    };
    // A workload and the Pod checkov derives from its template may fail the same check: one finding.
    findings.set(findingId(f), findings.get(findingId(f)) ?? f);
  }
  const unchecked: string[] = report.results.parsing_errors.map((p) => `parsing error: ${p}`);
  if (report.summary.resource_count < docs.length) {
    unchecked.push(`checkov counted ${report.summary.resource_count} resources, but ${docs.length} objects were given`);
  }
  return {
    findings: [...findings.values()],
    unchecked,
    suppressed: report.results.skipped_checks.map((c) => `${c.check_id} on ${c.resource} (${c.file_path})`),
    noChecks: [],
  };
}

// ---------------------------------------------------------------------------------------------
// kubeconform
// ---------------------------------------------------------------------------------------------

interface KubeconformResource {
  filename: string;
  kind: string;
  name: string;
  version: string;
  status: 'statusValid' | 'statusInvalid' | 'statusError' | 'statusSkipped' | 'statusEmpty';
  msg: string;
}

/** Writes local schemas for the environment's Kubernetes version (once per version and work dir). */
export function kubeconformSchemas(
  kubernetesVersion: string,
  work: string,
): ReturnType<typeof writeKubeconformSchemas> {
  return writeKubeconformSchemas(kubernetesVersion, join(work, 'kubeconform-schemas'));
}

/**
 * kubeconform -strict against local schemas of the environment's Kubernetes version only. A check id
 * is kubeconform's status: `invalid` (the schema rejects the object), `error` (for instance no schema
 * for its kind), `skipped` or `empty`; every object must come back `valid`.
 */
export function runKubeconform(
  kubeconform: string,
  env: EnvironmentConfig,
  docs: readonly CommittedDoc[],
  work: string,
): LinterRun {
  const schemas = kubeconformSchemas(env.kubernetesVersion, work);
  const files = [...new Set(docs.map((d) => d.file))];
  const { json } = runJson(
    kubeconform,
    [
      '-strict',
      '-summary',
      '-verbose',
      '-output',
      'json',
      '-kubernetes-version',
      schemas.kubernetesVersion,
      '-schema-location',
      schemas.location,
      ...files,
    ],
    ROOT,
  );
  const resources = (json as { resources?: KubeconformResource[] }).resources ?? [];
  const byKey = new Map(docs.map((d) => [`${d.file}|${d.object.kind}|${d.object.metadata.name}`, d]));
  const seen = new Set<CommittedDoc>();
  const findings: Finding[] = [];
  for (const r of resources) {
    const d = byKey.get(`${r.filename}|${r.kind}|${r.name}`);
    if (!d)
      throw new Error(`kubeconform reported ${r.kind} ${r.name} in ${r.filename}, which is not a committed object`);
    seen.add(d);
    if (r.status === 'statusValid') continue;
    findings.push({
      linter: 'kubeconform',
      check: r.status.replace(/^status/, '').toLowerCase(),
      env: env.name,
      kind: d.object.kind,
      namespace: d.object.metadata.namespace,
      name: d.object.metadata.name,
      file: d.file,
      message: r.msg || r.status,
    });
  }
  const unchecked = docs.filter((d) => !seen.has(d)).map((d) => `${docKey(d)} (${d.file})`);
  return { findings, unchecked, suppressed: [], noChecks: [] };
}
