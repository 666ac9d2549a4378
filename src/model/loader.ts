/**
 * The environment model's loader: reads `environments/<env>.yaml`, parses it strictly and
 * validates it against a schema (the assembled environment schema, apps/environment.ts, which also
 * applies each component's defaults and runs its cross-field rules).
 *
 * Every problem is reported as `<file>:<line>: <field path>: <what is wrong>. <fix>`.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import standaloneCode from 'ajv/dist/standalone';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';

/** One problem in one environment file. */
export interface ConfigProblem {
  readonly file: string;
  readonly line?: number;
  readonly path: string;
  readonly message: string;
}

/** Thrown when one or more environment files are invalid; `message` lists every problem. */
export class ConfigError extends Error {
  public readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}`;
  return `${where}: ${p.path || '(top level)'}: ${p.message}`;
}

const validators = new Map<string, ValidateFunction>();

/** ajv settings: verbose errors carry the schema, so messages can list allowed keys and values. */
const AJV_OPTIONS = {
  allErrors: true,
  verbose: true,
  strict: true,
  strictRequired: false,
  allowUnionTypes: true,
  code: { source: true },
} as const;
const AJV_VERSION = (JSON.parse(readFileSync(require.resolve('ajv/package.json'), 'utf8')) as { version: string })
  .version;

/**
 * The compiled validator of a schema (the environment schema). Compiling takes ~60 ms, a third of a
 * synth run, so the generated code is cached in .build/ under the schema's hash and reused
 * until the schema changes.
 */
function schemaValidator(schema: object, root: string): ValidateFunction {
  const text = JSON.stringify(schema);
  // The cached code depends on the schema, the ajv options and the ajv version: all are in the key.
  const hash = createHash('sha256')
    .update(text)
    .update(JSON.stringify(AJV_OPTIONS))
    .update(AJV_VERSION)
    .digest('hex')
    .slice(0, 16);
  const cached = validators.get(hash);
  if (cached) return cached;
  const cacheFile = join(root, '.build', `environment-schema-${hash}.cjs`);
  let validate: ValidateFunction | undefined;
  if (existsSync(cacheFile)) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loads generated code from .build/
      validate = (require(cacheFile) as { default: ValidateFunction }).default;
    } catch {
      validate = undefined; // a damaged cache is rebuilt below
    }
  }
  if (!validate) {
    const ajv = new Ajv(AJV_OPTIONS);
    validate = ajv.compile(schema);
    try {
      mkdirSync(dirname(cacheFile), { recursive: true });
      // Write then rename, so a concurrent run (parallel test workers) never reads half a file.
      const partial = `${cacheFile}.${process.pid}.tmp`;
      writeFileSync(partial, standaloneCode(ajv, validate));
      renameSync(partial, cacheFile);
    } catch {
      // The cache only saves time; a read-only checkout still validates.
    }
  }
  validators.set(hash, validate);
  return validate;
}

/** Names of all environments: every `environments/*.yaml`, sorted. */
export function listEnvironments(root: string): string[] {
  return readdirSync(join(root, 'environments'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.slice(0, -'.yaml'.length))
    .sort();
}

/** Files environments/ may hold besides `<env>.yaml`. */
const ENVIRONMENT_DIR_FILES: ReadonlySet<string> = new Set(['schema.json']);

/**
 * Files in environments/ that synth would silently skip: `<env>.yml` (environment files end in
 * .yaml) and anything else that is neither an environment nor the schema.
 */
export function environmentFileProblems(root: string): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  for (const f of readdirSync(join(root, 'environments')).sort()) {
    const file = `environments/${f}`;
    if (f.endsWith('.yaml') || ENVIRONMENT_DIR_FILES.has(f)) continue;
    if (f.endsWith('.yml')) {
      out.push({
        file,
        path: '',
        message: `environment files end in .yaml; this one would be skipped. Rename it to environments/${f.slice(0, -'.yml'.length)}.yaml.`,
      });
    } else {
      out.push({
        file,
        path: '',
        message: `unknown file; environments/ holds only <env>.yaml files and schema.json. Move it elsewhere or remove it.`,
      });
    }
  }
  return out;
}

/** The text of `environments/<name>.yaml` and its path relative to `root`; an unknown name is a ConfigError. */
export function readEnvironmentFile(root: string, name: string): { readonly text: string; readonly file: string } {
  const file = join(root, 'environments', `${name}.yaml`);
  const rel = relative(root, file);
  try {
    return { text: readFileSync(file, 'utf8'), file: rel };
  } catch {
    const known = listEnvironments(root).join(', ');
    throw new ConfigError([
      { file: rel, path: '', message: `no such environment '${name}'. Known environments: ${known}.` },
    ]);
  }
}

/** A YAML document the schema accepted, and the line of any field in it. */
export interface ValidatedDocument {
  readonly value: unknown;
  /** 1-based line of the field at a dotted path, or of its nearest existing parent. */
  readonly lineOf: (path: string) => number | undefined;
}

/**
 * Parses YAML text (duplicate keys are errors) and validates it against `schema` (ajv). Throws a
 * ConfigError naming every problem with its line. `file` is only used in messages.
 */
export function validateDocument(text: string, file: string, schema: object, root: string): ValidatedDocument {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({
        file,
        line: e.linePos?.[0]?.line,
        path: '',
        message: `invalid YAML: ${e.message.split('\n')[0]}. Fix the syntax (duplicate keys are not allowed).`,
      })),
    );
  }
  const raw: unknown = doc.toJS();
  const validate = schemaValidator(schema, root);
  if (!validate(raw)) {
    const problems = (validate.errors ?? [])
      .filter((e) => !isImageBranchError(e))
      .map((e) => schemaProblem(e, file, doc, lineCounter));
    throw new ConfigError(dedupe(problems));
  }
  return { value: raw, lineOf: (path) => lineOf(doc, lineCounter, path) };
}

/** The per-branch errors of the image's tag-or-digest anyOf; the anyOf error itself says it better. */
function isImageBranchError(e: ErrorObject): boolean {
  return e.schemaPath.startsWith('#/definitions/image/anyOf/');
}

function schemaProblem(e: ErrorObject, file: string, doc: Document, lc: LineCounter): ConfigProblem {
  const segments = e.instancePath.split('/').slice(1).map(unescapePointer);
  const path = segments.join('.');
  const params = e.params as Record<string, unknown>;
  const schema = e.parentSchema as { enum?: unknown[]; description?: string } | undefined;
  const at = (p: string): number | undefined => lineOf(doc, lc, p);
  switch (e.keyword) {
    case 'additionalProperty':
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const allowed = Object.keys((e.parentSchema as { properties?: object }).properties ?? {}).join(', ');
      const full = path ? `${path}.${key}` : key;
      return { file, line: at(full), path: full, message: `unknown key '${key}'. Allowed keys here: ${allowed}.` };
    }
    case 'required': {
      const missing = String(params.missingProperty);
      return {
        file,
        line: at(path),
        path: path ? `${path}.${missing}` : missing,
        message: `is required but missing. Add it.`,
      };
    }
    case 'anyOf':
    case 'if':
      break;
    case 'enum':
      return {
        file,
        line: at(path),
        path,
        message: `${JSON.stringify(valueAt(doc, segments))} is not allowed. Allowed values: ${(schema?.enum ?? []).map((v) => JSON.stringify(v)).join(', ')}.`,
      };
    case 'type':
      return {
        file,
        line: at(path),
        path,
        message: `${JSON.stringify(valueAt(doc, segments))} has the wrong type; it must be ${String(params.type)}.`,
      };
    case 'minimum':
    case 'maximum':
      return {
        file,
        line: at(path),
        path,
        message: `${JSON.stringify(valueAt(doc, segments))} must be ${e.keyword === 'minimum' ? '>=' : '<='} ${String(params.limit)}.`,
      };
    case 'pattern': {
      const hint = describePattern(segments, schema?.description);
      return {
        file,
        line: at(path),
        path,
        message: `${JSON.stringify(valueAt(doc, segments))} is not valid${hint ? `: ${hint}` : ` (must match ${String(params.pattern)})`}.`,
      };
    }
    default:
      break;
  }
  if (e.schemaPath.startsWith('#/definitions/image')) {
    return {
      file,
      line: at(path),
      path,
      message: 'needs a tag (not "latest") or a digest (sha256:…). Add image.tag or image.digest.',
    };
  }
  return { file, line: at(path), path, message: `${e.message ?? 'is invalid'}.` };
}

function describePattern(segments: readonly string[], description: string | undefined): string | undefined {
  const last = segments[segments.length - 1];
  if (last === 'tag')
    return 'a tag is 1-128 letters, digits, "_", "." or "-", and may not be "latest" or another floating tag (main, master, stable, edge, nightly, dev); pin a version';
  if (last === 'digest') return 'a digest looks like sha256:<64 hex digits>';
  if (last === 'cpu') return 'CPU is millicores like "250m" or cores like "1" or "0.5"';
  if (last === 'memory' || last === 'size' || last === 'workspaceSize')
    return 'memory is a whole number with Ki, Mi, Gi or Ti, like "512Mi"';
  if (last === 'repository') return 'write the full registry host and path in lower case, e.g. docker.io/library/nats';
  return description;
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, '/').replace(/~0/g, '~');
}

function valueAt(doc: Document, segments: readonly string[]): unknown {
  const v: unknown = doc.getIn(segments);
  return isNode(v) ? v.toJSON() : v;
}

/**
 * Adds the line of each problem's field in its file (relative to `root`); for problems found after
 * loading, such as conflicts between environments.
 */
export function locateProblems(root: string, problems: readonly Omit<ConfigProblem, 'line'>[]): ConfigProblem[] {
  const docs = new Map<string, { doc: Document; lc: LineCounter } | undefined>();
  return problems.map((p) => {
    if (!docs.has(p.file)) {
      try {
        const lc = new LineCounter();
        docs.set(p.file, { doc: parseDocument(readFileSync(join(root, p.file), 'utf8'), { lineCounter: lc }), lc });
      } catch {
        docs.set(p.file, undefined);
      }
    }
    const d = docs.get(p.file);
    return { ...p, line: d ? lineOf(d.doc, d.lc, p.path) : undefined };
  });
}

/** 1-based line of the node at a dotted path, or of its nearest existing parent. */
function lineOf(doc: Document, lc: LineCounter, dotted: string): number | undefined {
  const segs = dotted ? dotted.split('.') : [];
  for (let n = segs.length; n >= 0; n--) {
    const node = doc.getIn(segs.slice(0, n), true);
    if (isNode(node) && node.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = formatProblem(p);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
