/**
 * Strict Kubernetes + CRD schema validator for tests.
 *
 * Schema data is vendored under `test/schemas/` (see test/schemas/README.md):
 *   - `k8s-<major.minor>/_definitions.json`: Kubernetes API definitions as
 *     published by cdk8s (one JSON-schema "definitions" map per version).
 *   - `crds/<group>/*.yaml`: CustomResourceDefinitions (e.g. Argo CD).
 *
 * "Strict" means unknown fields are errors, mirroring what the API server
 * would prune/reject with `kubectl apply --validate=strict`. The cdk8s
 * definitions carry no `additionalProperties: false`, so on load a deep copy
 * is rewritten: every schema node with `properties` (and, for CRDs, every
 * structural `type: object` node) that neither declares `additionalProperties`
 * nor sets `x-kubernetes-preserve-unknown-fields: true` gets
 * `additionalProperties: false`.
 *
 * Compilation is lazy: the definitions of a version are registered with ajv
 * as one (uncompiled) schema, and only the definitions reachable from a
 * requested kind are compiled, once per (Kubernetes version, group/version/kind).
 *
 * Compiling is the slow part (the Argo CD Application alone takes ~0.4 s), parsing
 * the CRD YAML the next. Both are pure functions of their inputs, so every
 * validator of a process shares the parsed CRDs, the strict definitions and the
 * compiled functions, and across runs ajv's standalone code of each compiled kind
 * and the parsed CRD files are kept in `.build/schema-validator/` (see
 * {@link cacheStamp}), as src/model/loader.ts keeps the environment schema's.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';

import { Ajv } from 'ajv';
import type { CodeOptions, ErrorObject, ValidateFunction } from 'ajv';
import standaloneCode from 'ajv/dist/standalone';
import addFormats from 'ajv-formats';
import { parseAllDocuments } from 'yaml';

export type SchemaIssue = { readonly path: string; readonly message: string };

export interface SchemaValidatorOptions {
  /** Kubernetes minor versions to validate against, e.g. `['1.28', '1.33']`. */
  readonly kubernetesVersions: readonly string[];
  /**
   * CRD YAML files to load. Relative paths are resolved against `test/schemas/`.
   * Defaults to every `*.yaml` under `test/schemas/crds/`; pass `[]` for none.
   */
  readonly crdFiles?: readonly string[];
  /**
   * Where compiled validators and parsed CRD files are kept between runs.
   * Defaults to `.build/schema-validator/`; pass `null` for no disk cache.
   */
  readonly cacheDir?: string | null;
}

type JsonObject = { [key: string]: unknown };

interface Gvk {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
}

interface KubernetesDefinitions {
  /** Raw `definitions` map exactly as parsed from the vendored file. */
  readonly definitions: Readonly<Record<string, unknown>>;
  /** `group/version/kind` -> definition name. */
  readonly gvkIndex: ReadonlyMap<string, string>;
  /** sha256 of the vendored file's text. */
  readonly hash: string;
}

interface CrdVersionSchema {
  readonly file: string;
  /** sha256 of the CRD file's text. */
  readonly fileHash: string;
  /** openAPIV3Schema as declared (see {@link strictCrdSchema}). */
  readonly schema: JsonObject;
}

/**
 * Directory holding the vendored schema data (`test/schemas`). package.json
 * sets `"type": "commonjs"`, so this uses `__dirname` (tsc rejects `import.meta`
 * in CommonJS output). Vitest also provides `__dirname`. If the package moves to
 * ESM, switch to `fileURLToPath(new URL('../schemas', import.meta.url))`.
 */
export const SCHEMAS_DIR: string = resolve(__dirname, '..', 'schemas');

// ---------------------------------------------------------------------------
// On-disk cache (.build/schema-validator/)
// ---------------------------------------------------------------------------

/** Default {@link SchemaValidatorOptions.cacheDir}. */
export const DEFAULT_CACHE_DIR: string = resolve(__dirname, '..', '..', '.build', 'schema-validator');

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function packageVersion(name: string): string {
  return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
}

let stamp: string | null | undefined;

/**
 * The first part of every cache file name: a hash of this file's source and of the ajv,
 * ajv-formats and yaml versions. The rest of a name hashes the vendored files the entry was made
 * from, so any change to the code or the data is a new name (a miss), never a stale hit.
 * null (no disk cache) when this source file is not next to the code (a bundle).
 */
function cacheStamp(): string | null {
  if (stamp === undefined) {
    const source = join(__dirname, 'schema-validator.ts');
    stamp = existsSync(source)
      ? sha256([readFileSync(source, 'utf8'), ...['ajv', 'ajv-formats', 'yaml'].map(packageVersion)].join('\0')).slice(
          0,
          16,
        )
      : null;
  }
  return stamp;
}

function cacheFile(dir: string | null, name: string): string | undefined {
  const s = cacheStamp();
  return s === null || dir === null ? undefined : join(dir, `${s}-${name}`);
}

const pruned = new Set<string>();

/** Writes a cache entry (write then rename: a parallel worker never reads half a file). */
function writeCacheFile(file: string, text: string): void {
  const dir = dirname(file);
  try {
    mkdirSync(dir, { recursive: true });
    if (!pruned.has(dir)) {
      pruned.add(dir);
      // Entries of an older source or older packages are never read again.
      const current = `${cacheStamp() ?? ''}-`;
      for (const f of readdirSync(dir)) if (!f.startsWith(current)) rmSync(join(dir, f), { force: true });
    }
    const partial = `${file}.${process.pid}.tmp`;
    writeFileSync(partial, text);
    renameSync(partial, file);
  } catch {
    // The cache only saves time; a read-only checkout still validates.
  }
}

const OBJECT_META_DEF = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
const QUANTITY_DEF = 'io.k8s.apimachinery.pkg.api.resource.Quantity';

/**
 * resource.Quantity string syntax (same regex controller-gen emits for
 * Quantity fields in CRDs). The cdk8s defs type Quantity as
 * `oneOf: [string, number]` with no pattern, which would accept "128MB".
 */
const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';

// ---------------------------------------------------------------------------
// Version / apiVersion helpers
// ---------------------------------------------------------------------------

/** Accepts `1.30`, `v1.30`, `1.30.2` and returns `1.30`. */
function normalizeVersion(kubernetesVersion: string): string {
  const m = /^v?(\d+)\.(\d+)(?:\.\d+)?$/.exec(kubernetesVersion.trim());
  if (m === null) {
    throw new Error(`invalid Kubernetes version "${kubernetesVersion}" (expected e.g. "1.30")`);
  }
  return `${m[1]}.${m[2]}`;
}

function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash === -1
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

function gvkKey(group: string, version: string, kind: string): string {
  return `${group}/${version}/${kind}`;
}

/** Kubernetes versions for which schema data is vendored, sorted ascending. */
export function availableKubernetesVersions(): string[] {
  return readdirSync(SCHEMAS_DIR, { withFileTypes: true })
    .filter((e) => e.isDirectory() && /^k8s-\d+\.\d+$/.test(e.name))
    .map((e) => e.name.slice('k8s-'.length))
    .sort((a, b) => {
      const [aMaj = 0, aMin = 0] = a.split('.').map(Number);
      const [bMaj = 0, bMin = 0] = b.split('.').map(Number);
      return aMaj - bMaj || aMin - bMin;
    });
}

// ---------------------------------------------------------------------------
// Loading (module-level cache so isKindInVersion and validators share parses)
// ---------------------------------------------------------------------------

const definitionsCache = new Map<string, KubernetesDefinitions>();

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function definitionsFile(version: string): string {
  return join(SCHEMAS_DIR, `k8s-${version}`, '_definitions.json');
}

function loadDefinitions(kubernetesVersion: string): KubernetesDefinitions {
  const version = normalizeVersion(kubernetesVersion);
  const cached = definitionsCache.get(version);
  if (cached !== undefined) return cached;

  const file = definitionsFile(version);
  if (!existsSync(file)) {
    throw new Error(
      `no vendored schemas for Kubernetes ${version} (missing ${file}); ` +
        `available: ${availableKubernetesVersions().join(', ')}`,
    );
  }
  const text = readFileSync(file, 'utf8');
  const parsed: unknown = JSON.parse(text);
  if (!isObject(parsed) || !isObject(parsed['definitions'])) {
    throw new Error(`${file}: expected an object with "definitions"`);
  }
  const definitions = parsed['definitions'];
  const gvkIndex = new Map<string, string>();
  for (const [name, def] of Object.entries(definitions)) {
    if (!isObject(def)) continue;
    const gvks = def['x-kubernetes-group-version-kind'];
    if (!Array.isArray(gvks)) continue;
    for (const gvk of gvks) {
      if (!isObject(gvk)) continue;
      const { group, version: v, kind } = gvk;
      if (typeof group === 'string' && typeof v === 'string' && typeof kind === 'string') {
        gvkIndex.set(gvkKey(group, v, kind), name);
      }
    }
  }
  const result: KubernetesDefinitions = { definitions, gvkIndex, hash: sha256(text) };
  definitionsCache.set(version, result);
  return result;
}

/**
 * True if `apiVersion`/`kind` is a built-in kind of the given Kubernetes
 * version (CRDs are not considered; see {@link SchemaValidator.isKnownKind}).
 */
export function isKindInVersion(apiVersion: string, kind: string, kubernetesVersion: string): boolean {
  const { group, version } = parseApiVersion(apiVersion);
  return loadDefinitions(kubernetesVersion).gvkIndex.has(gvkKey(group, version, kind));
}

// ---------------------------------------------------------------------------
// Schema transformation (strictification)
// ---------------------------------------------------------------------------

/** Keywords whose value is a single subschema. */
const SUBSCHEMA_KEYS = new Set(['items', 'additionalItems', 'not', 'contains', 'if', 'then', 'else', 'propertyNames']);
/** Keywords whose value is an array of subschemas. */
const SUBSCHEMA_ARRAY_KEYS = new Set(['allOf', 'anyOf', 'oneOf']);
/** Keywords whose value is a map name -> subschema. */
const SUBSCHEMA_MAP_KEYS = new Set(['properties', 'patternProperties', 'definitions']);
/** Keys dropped from the copy (annotations only, or handled here). */
const DROPPED_KEYS = new Set(['description', 'example', 'nullable']);

type SchemaFlavor = 'kubernetes' | 'crd';

/**
 * Returns a strict deep copy of a schema node. `formats` collects every
 * `format` value seen so unknown ones can be registered as no-ops.
 *
 * - `properties` without `additionalProperties` -> `additionalProperties: false`
 *   unless `x-kubernetes-preserve-unknown-fields: true`.
 * - CRD flavor only: structural `type: object` nodes with neither properties nor
 *   additionalProperties are closed too (the API server prunes every field of
 *   such objects). Built-in definitions like RawExtension / FieldsV1 are
 *   deliberately free-form, so this is not applied to them.
 * - `x-kubernetes-int-or-string: true` -> `anyOf: [integer, string]`.
 * - `nullable: true` -> `null` added to `type` (and `enum`, `anyOf`).
 * - Every other `x-kubernetes-*` keyword is dropped.
 */
function strictify(node: unknown, flavor: SchemaFlavor, formats: Set<string>): unknown {
  if (Array.isArray(node)) return node.map((n) => strictify(n, flavor, formats));
  if (!isObject(node)) return node;

  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-kubernetes-') || DROPPED_KEYS.has(key)) continue;
    if (SUBSCHEMA_MAP_KEYS.has(key) && isObject(value)) {
      const mapped: JsonObject = {};
      for (const [name, sub] of Object.entries(value)) mapped[name] = strictify(sub, flavor, formats);
      out[key] = mapped;
    } else if (SUBSCHEMA_ARRAY_KEYS.has(key) && Array.isArray(value)) {
      out[key] = value.map((sub) => strictify(sub, flavor, formats));
    } else if ((SUBSCHEMA_KEYS.has(key) || key === 'additionalProperties') && typeof value === 'object') {
      out[key] = strictify(value, flavor, formats);
    } else {
      if (key === 'format' && typeof value === 'string') formats.add(value);
      out[key] = value;
    }
  }

  const preserveUnknown = node['x-kubernetes-preserve-unknown-fields'] === true;

  if (node['x-kubernetes-int-or-string'] === true && out['anyOf'] === undefined && out['oneOf'] === undefined) {
    delete out['type'];
    out['anyOf'] = [{ type: 'integer' }, { type: 'string' }];
  }

  if (!preserveUnknown && out['additionalProperties'] === undefined) {
    const hasProps = out['properties'] !== undefined || out['patternProperties'] !== undefined;
    const closedCrdObject = flavor === 'crd' && out['type'] === 'object';
    if (hasProps || closedCrdObject) out['additionalProperties'] = false;
  }

  if (node['nullable'] === true) {
    const type = out['type'];
    if (typeof type === 'string') out['type'] = [type, 'null'];
    else if (Array.isArray(type) && !type.includes('null')) out['type'] = [...type, 'null'];
    if (Array.isArray(out['enum']) && !out['enum'].includes(null)) out['enum'] = [...out['enum'], null];
    if (Array.isArray(out['anyOf'])) out['anyOf'] = [...out['anyOf'], { type: 'null' }];
  }
  return out;
}

// ---------------------------------------------------------------------------
// CRD loading
// ---------------------------------------------------------------------------

function defaultCrdFiles(): string[] {
  const root = join(SCHEMAS_DIR, 'crds');
  if (!existsSync(root)) return [];
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(e.name)) files.push(p);
    }
  };
  walk(root);
  return files.sort();
}

/** The documents of a CRD file as plain data; read from the cache when this text was parsed before. */
function parseCrdFile(file: string, text: string, hash: string, dir: string | null): unknown[] {
  const cached = cacheFile(dir, `crd-${hash.slice(0, 32)}.json`);
  if (cached !== undefined && existsSync(cached)) {
    try {
      const docs: unknown = JSON.parse(readFileSync(cached, 'utf8'));
      if (Array.isArray(docs)) return docs;
    } catch {
      // a damaged entry is parsed again below
    }
  }
  const docs = parseAllDocuments(text).map((yamlDoc) => {
    if (yamlDoc.errors.length > 0) throw new Error(`${file}: ${yamlDoc.errors[0]?.message ?? 'YAML error'}`);
    return yamlDoc.toJS() as unknown;
  });
  if (cached !== undefined) {
    const json = JSON.stringify(docs);
    // Only data that JSON carries unchanged is cached (no dates, no infinities).
    if (isDeepStrictEqual(JSON.parse(json), docs)) writeCacheFile(cached, json);
  }
  return docs;
}

/** Served versions of the CRDs of one file, by `group/version/kind`. */
interface CrdFile {
  readonly file: string;
  readonly hash: string;
  readonly versions: ReadonlyArray<readonly [string, JsonObject]>;
}

/** Parsed CRD files of this process, by path and content. */
const crdFileCache = new Map<string, CrdFile>();

function loadCrdFile(file: string, dir: string | null): CrdFile {
  const text = readFileSync(file, 'utf8');
  const hash = sha256(text);
  const cacheKey = `${file}\0${hash}`;
  const cached = crdFileCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const versions: [string, JsonObject][] = [];
  for (const crd of parseCrdFile(file, text, hash, dir)) {
    if (!isObject(crd) || crd['kind'] !== 'CustomResourceDefinition') continue;
    const spec = crd['spec'];
    if (!isObject(spec) || !isObject(spec['names']) || !Array.isArray(spec['versions'])) {
      throw new Error(`${file}: malformed CustomResourceDefinition`);
    }
    const group = spec['group'];
    const kind = spec['names']['kind'];
    if (typeof group !== 'string' || typeof kind !== 'string') {
      throw new Error(`${file}: CRD without spec.group / spec.names.kind`);
    }
    for (const v of spec['versions']) {
      if (!isObject(v) || v['served'] !== true || typeof v['name'] !== 'string') continue;
      const schema = isObject(v['schema']) ? v['schema']['openAPIV3Schema'] : undefined;
      if (!isObject(schema)) throw new Error(`${file}: ${group}/${v['name']} ${kind} has no openAPIV3Schema`);
      versions.push([gvkKey(group, v['name'], kind), schema]);
    }
  }
  const result: CrdFile = { file, hash, versions };
  crdFileCache.set(cacheKey, result);
  return result;
}

function loadCrds(files: readonly string[], dir: string | null): Map<string, CrdVersionSchema> {
  const byGvk = new Map<string, CrdVersionSchema>();
  for (const f of files) {
    const crdFile = loadCrdFile(isAbsolute(f) ? f : join(SCHEMAS_DIR, f), dir);
    for (const [key, schema] of crdFile.versions) {
      const file = crdFile.file;
      if (byGvk.has(key)) throw new Error(`${file}: ${key} already defined by ${byGvk.get(key)?.file ?? '?'}`);
      byGvk.set(key, { file, fileHash: crdFile.hash, schema });
    }
  }
  return byGvk;
}

/** A strictified schema (or definitions map) and the formats it uses. */
interface Strict {
  readonly schema: JsonObject;
  readonly formats: ReadonlySet<string>;
}

/** Strict copies of CRD schemas, by the declared schema. */
const strictCrdCache = new WeakMap<JsonObject, Strict>();

/** The strictified openAPIV3Schema of a CRD version (metadata still as declared by the CRD). */
function strictCrdSchema(crd: CrdVersionSchema): Strict {
  let strict = strictCrdCache.get(crd.schema);
  if (strict === undefined) {
    const formats = new Set<string>();
    strict = { schema: strictify(crd.schema, 'crd', formats) as JsonObject, formats };
    strictCrdCache.set(crd.schema, strict);
  }
  return strict;
}

/** Strict definitions of each Kubernetes version (the `definitions` map as `schema`). */
const strictDefinitionsCache = new Map<string, Strict>();

function strictDefinitions(version: string): Strict {
  let strict = strictDefinitionsCache.get(version);
  if (strict === undefined) {
    const formats = new Set<string>();
    const definitions: JsonObject = {};
    for (const [name, def] of Object.entries(loadDefinitions(version).definitions)) {
      definitions[name] = strictify(def, 'kubernetes', formats);
    }
    const quantity = definitions[QUANTITY_DEF];
    if (isObject(quantity) && Array.isArray(quantity['oneOf'])) {
      quantity['oneOf'] = quantity['oneOf'].map((branch: unknown) =>
        isObject(branch) && branch['type'] === 'string' ? { ...branch, pattern: QUANTITY_PATTERN } : branch,
      );
    }
    strict = { schema: definitions, formats };
    strictDefinitionsCache.set(version, strict);
  }
  return strict;
}

// ---------------------------------------------------------------------------
// Error formatting
// ---------------------------------------------------------------------------

function escapePointerSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function valueAt(doc: unknown, pointer: string): unknown {
  if (pointer === '') return doc;
  let cur: unknown = doc;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) cur = cur[Number(seg)];
    else if (isObject(cur)) cur = cur[seg];
    else return undefined;
  }
  return cur;
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function toIssues(errors: readonly ErrorObject[], doc: unknown): SchemaIssue[] {
  // oneOf/anyOf failures: branches that failed only on `type` at the
  // combinator's location are folded into one message ("must be integer or
  // string"). If a branch matched the type but failed something else (e.g. a
  // Quantity string failing its pattern), that specific error is reported
  // instead of the combinator's generic one.
  const combinators = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf');
  const branchOf = (e: ErrorObject): ErrorObject | undefined =>
    combinators.find(
      (c) =>
        c !== e &&
        e.schemaPath.startsWith(`${c.schemaPath}/`) &&
        (e.instancePath === c.instancePath || e.instancePath.startsWith(`${c.instancePath}/`)),
    );
  const isFoldedTypeError = (e: ErrorObject): boolean => {
    const c = e.keyword === 'type' ? branchOf(e) : undefined;
    return c !== undefined && c.instancePath === e.instancePath;
  };

  const issues: SchemaIssue[] = [];
  const seen = new Set<string>();
  const push = (path: string, message: string): void => {
    const key = `${path}\u0000${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    issues.push({ path, message });
  };

  for (const e of errors) {
    if (isFoldedTypeError(e)) continue;
    // A format error on a value of the wrong type only repeats the type error.
    if (e.keyword === 'format' && errors.some((t) => t.keyword === 'type' && t.instancePath === e.instancePath)) {
      continue;
    }
    const base = e.instancePath;
    const params = e.params as Record<string, unknown>;
    switch (e.keyword) {
      case 'additionalProperties': {
        const field = String(params['additionalProperty']);
        push(`${base}/${escapePointerSegment(field)}`, `unknown field "${field}"`);
        break;
      }
      case 'required': {
        const field = String(params['missingProperty']);
        push(`${base}/${escapePointerSegment(field)}`, `missing required field "${field}"`);
        break;
      }
      case 'type':
        push(base || '/', `must be ${String(params['type'])} (got ${jsonType(valueAt(doc, base))})`);
        break;
      case 'enum': {
        const allowed = Array.isArray(params['allowedValues']) ? params['allowedValues'] : [];
        push(
          base || '/',
          `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')} (got ${JSON.stringify(valueAt(doc, base))})`,
        );
        break;
      }
      case 'pattern':
        push(
          base || '/',
          params['pattern'] === QUANTITY_PATTERN
            ? `invalid quantity ${JSON.stringify(valueAt(doc, base))} (expected e.g. "250m", "128Mi", "1Gi", "0.5")`
            : `must match pattern "${String(params['pattern'])}" (got ${JSON.stringify(valueAt(doc, base))})`,
        );
        break;
      case 'oneOf':
      case 'anyOf': {
        const branchErrors = errors.filter((b) => branchOf(b) === e);
        if (branchErrors.some((b) => !isFoldedTypeError(b))) break; // reported individually
        const branchTypes = branchErrors.map((b) => String((b.params as Record<string, unknown>)['type']));
        const message =
          branchTypes.length > 0
            ? `must be ${[...new Set(branchTypes)].join(' or ')} (got ${jsonType(valueAt(doc, base))})`
            : (e.message ?? `must match ${e.keyword} schemas`);
        push(base || '/', message);
        break;
      }
      default:
        push(base || '/', e.message ?? `failed "${e.keyword}" check`);
    }
  }
  return issues;
}

// ---------------------------------------------------------------------------
// Validator
// ---------------------------------------------------------------------------

/** Go `time.ParseDuration` syntax, used by CRDs with `format: duration`. */
const GO_DURATION = /^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$/;

/**
 * CRD `pattern`s use Go RE2 syntax. JavaScript has no RE2 leading inline-flag
 * group (prometheus-operator's PrometheusRule uses `^(?i)(abort|warn)?$`), so
 * an `(?i)` / `(?s)` group at the start (optionally after `^`) becomes a
 * RegExp flag; neither flag changes the meaning of a leading `^`. Every other
 * pattern is compiled as-is, exactly like ajv's default engine.
 */
const goPatternRegExp: NonNullable<CodeOptions['regExp']> = Object.assign(
  (pattern: string, flags: string): RegExp => {
    const m = /^(\^?)\(\?([is]+)\)/.exec(pattern);
    if (m === null) return new RegExp(pattern, flags);
    const extra = [...new Set(m[2])].filter((f) => !flags.includes(f)).join('');
    return new RegExp(`${m[1] ?? ''}${pattern.slice(m[0].length)}`, flags + extra);
  },
  { code: 'goPatternRegExp' },
);

function createAjv(formats: ReadonlySet<string>): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    // Go RE2 inline flags in CRD patterns; source: true keeps the code for the cache (standaloneCode).
    code: { regExp: goPatternRegExp, source: true },
    strict: false, // ignore leftover vendor keywords and OpenAPI-isms
    validateSchema: false, // vendored data; skip meta-validation of ~1 MB of defs
    addUsedSchema: false,
  });
  addFormats(ajv);
  // Kubernetes-specific formats. ajv-formats' "duration" is ISO 8601, but
  // Kubernetes means Go durations ("30s", "1h30m").
  ajv.addFormat('duration', GO_DURATION);
  ajv.addFormat('int-or-string', true);
  // Any other format used by the schemas (e.g. "cidr", "mac") is accepted
  // without checking rather than failing compilation.
  for (const f of formats) {
    if (!(f in ajv.formats)) ajv.addFormat(f, true);
  }
  return ajv;
}

/** Compiled validators of this process, by cache key (see {@link SchemaValidator.compiledKey}). */
const compiledCache = new Map<string, ValidateFunction>();

/** For tests of the cache: forgets what this process compiled and parsed, so the next use reads the disk cache. */
export function forgetProcessCaches(): void {
  compiledCache.clear();
  crdFileCache.clear();
}

/** A validator compiled by an earlier run: ajv's standalone code, from the cache. */
function loadCompiled(file: string | undefined): ValidateFunction | undefined {
  if (file === undefined || !existsSync(file)) return undefined;
  try {
    const module: { exports: unknown } = { exports: {} };
    // The code is ajv's own output (standaloneCode below). Its free names: module, exports, require
    // (ajv's runtime helpers and ajv-formats) and the regExp function named by goPatternRegExp.code.
    const run = new Function('module', 'exports', 'require', goPatternRegExp.code, readFileSync(file, 'utf8')) as (
      ...args: unknown[]
    ) => void;
    run(module, module.exports, createRequire(file), goPatternRegExp);
    return typeof module.exports === 'function' ? (module.exports as ValidateFunction) : undefined;
  } catch {
    return undefined; // a damaged entry is compiled again
  }
}

export class SchemaValidator {
  private readonly versions: ReadonlySet<string>;
  private readonly crdFiles: readonly string[];
  private readonly cacheDir: string | null;
  private crds: Map<string, CrdVersionSchema> | undefined;
  private readonly ajvByVersion = new Map<string, Ajv>();

  constructor(opts: SchemaValidatorOptions) {
    if (opts.kubernetesVersions.length === 0) throw new Error('SchemaValidator: kubernetesVersions is empty');
    this.versions = new Set(opts.kubernetesVersions.map(normalizeVersion));
    for (const v of this.versions) {
      if (!existsSync(definitionsFile(v))) {
        throw new Error(
          `no vendored schemas for Kubernetes ${v}; available: ${availableKubernetesVersions().join(', ')}`,
        );
      }
    }
    this.crdFiles = opts.crdFiles ?? defaultCrdFiles();
    this.cacheDir = opts.cacheDir === undefined ? DEFAULT_CACHE_DIR : opts.cacheDir;
  }

  /** Kubernetes versions this validator was configured for (normalized). */
  get kubernetesVersions(): readonly string[] {
    return [...this.versions];
  }

  /** True if apiVersion/kind is a built-in of that version or a loaded CRD. */
  isKnownKind(apiVersion: string, kind: string, kubernetesVersion: string): boolean {
    return this.resolve(apiVersion, kind, this.checkVersion(kubernetesVersion)) !== undefined;
  }

  /**
   * Validates one manifest. Returns `[]` when valid. An unknown
   * apiVersion/kind yields a single issue at path "/" whose message starts
   * with "unknown kind"; callers decide whether that's acceptable.
   */
  validate(doc: Record<string, unknown>, kubernetesVersion: string): SchemaIssue[] {
    const version = this.checkVersion(kubernetesVersion);
    const { apiVersion, kind } = doc;
    if (typeof apiVersion !== 'string' || typeof kind !== 'string' || apiVersion === '' || kind === '') {
      return [{ path: '/', message: 'document has no string apiVersion/kind' }];
    }
    const fn = this.validatorFor(apiVersion, kind, version);
    if (fn === undefined) {
      return [{ path: '/', message: `unknown kind ${apiVersion}/${kind} for Kubernetes ${version}` }];
    }
    if (fn(doc)) return [];
    return toIssues(fn.errors ?? [], doc);
  }

  private checkVersion(kubernetesVersion: string): string {
    const version = normalizeVersion(kubernetesVersion);
    if (!this.versions.has(version)) {
      throw new Error(
        `Kubernetes ${version} not configured for this SchemaValidator (configured: ${[...this.versions].join(', ')})`,
      );
    }
    return version;
  }

  private loadedCrds(): Map<string, CrdVersionSchema> {
    this.crds ??= loadCrds(this.crdFiles, this.cacheDir);
    return this.crds;
  }

  /** Ajv instance per version with that version's strict defs registered (not compiled). */
  private ajvFor(version: string): Ajv {
    let ajv = this.ajvByVersion.get(version);
    if (ajv === undefined) {
      // Every format the definitions and the CRDs use must be known before ajv is built.
      const defs = strictDefinitions(version);
      const formats = new Set<string>(defs.formats);
      for (const crd of this.loadedCrds().values()) for (const f of strictCrdSchema(crd).formats) formats.add(f);
      ajv = createAjv(formats);
      ajv.addSchema({ $id: this.defsId(version), definitions: defs.schema });
      this.ajvByVersion.set(version, ajv);
    }
    return ajv;
  }

  private defsId(version: string): string {
    return `k8s-${version}`;
  }

  private resolve(
    apiVersion: string,
    kind: string,
    version: string,
  ): { kind: 'builtin'; def: string; gvk: Gvk } | { kind: 'crd'; crd: CrdVersionSchema; gvk: Gvk } | undefined {
    const { group, version: v } = parseApiVersion(apiVersion);
    const gvk: Gvk = { group, version: v, kind };
    const key = gvkKey(group, v, kind);
    const def = loadDefinitions(version).gvkIndex.get(key);
    if (def !== undefined) return { kind: 'builtin', def, gvk };
    const crd = this.loadedCrds().get(key);
    if (crd !== undefined) return { kind: 'crd', crd, gvk };
    return undefined;
  }

  /**
   * Everything a compiled validator depends on besides this file's source and the package versions
   * (in {@link cacheStamp}): the Kubernetes version and its definitions file, and for a custom
   * resource the CRD file and the group/version/kind in it. The extra no-op formats registered
   * for the other CRDs change no generated code (an unknown format generates none either).
   */
  private static compiledKey(target: NonNullable<ReturnType<SchemaValidator['resolve']>>, version: string): string {
    const parts =
      target.kind === 'builtin'
        ? ['builtin', version, loadDefinitions(version).hash, target.def]
        : [
            'crd',
            version,
            loadDefinitions(version).hash,
            target.crd.fileHash,
            gvkKey(target.gvk.group, target.gvk.version, target.gvk.kind),
          ];
    return sha256(parts.join('\0')).slice(0, 32);
  }

  private validatorFor(apiVersion: string, kind: string, version: string): ValidateFunction | undefined {
    const target = this.resolve(apiVersion, kind, version);
    if (target === undefined) return undefined;
    const key = SchemaValidator.compiledKey(target, version);
    const file = cacheFile(this.cacheDir, `${key}.cjs`);
    let fn = compiledCache.get(key) ?? loadCompiled(file);
    if (fn !== undefined) {
      compiledCache.set(key, fn);
      return fn;
    }

    const ajv = this.ajvFor(version);
    const defsRef = `${this.defsId(version)}#/definitions/`;
    if (target.kind === 'builtin') {
      fn = ajv.compile({ $ref: `${defsRef}${target.def}` });
    } else {
      // Custom resources get their metadata validated as a real ObjectMeta of
      // that Kubernetes version (CRD schemas only say `metadata: {type: object}`).
      const schema = strictCrdSchema(target.crd).schema;
      const properties = isObject(schema['properties']) ? schema['properties'] : {};
      fn = ajv.compile({
        ...schema,
        properties: { ...properties, metadata: { $ref: `${defsRef}${OBJECT_META_DEF}` } },
      });
    }
    if (file !== undefined) {
      let code: string | undefined;
      try {
        code = standaloneCode(ajv, fn);
      } catch {
        code = undefined; // not every schema has standalone code; this one is compiled each run
      }
      if (code !== undefined) writeCacheFile(file, code);
    }
    compiledCache.set(key, fn);
    return fn;
  }
}
