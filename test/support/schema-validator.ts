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
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

import { Ajv } from 'ajv';
import type { CodeOptions, ErrorObject, ValidateFunction } from 'ajv';
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
}

interface CrdVersionSchema {
  readonly file: string;
  /** Strictified openAPIV3Schema (metadata still as declared by the CRD). */
  readonly schema: JsonObject;
}

/**
 * Directory holding the vendored schema data (`test/schemas`). package.json
 * sets `"type": "commonjs"`, so this uses `__dirname` (tsc rejects `import.meta`
 * in CommonJS output). Vitest also provides `__dirname`. If the package moves to
 * ESM, switch to `fileURLToPath(new URL('../schemas', import.meta.url))`.
 */
export const SCHEMAS_DIR: string = resolve(__dirname, '..', 'schemas');

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
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
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
  const result: KubernetesDefinitions = { definitions, gvkIndex };
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

function loadCrds(files: readonly string[], formats: Set<string>): Map<string, CrdVersionSchema> {
  const byGvk = new Map<string, CrdVersionSchema>();
  for (const f of files) {
    const file = isAbsolute(f) ? f : join(SCHEMAS_DIR, f);
    for (const yamlDoc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      if (yamlDoc.errors.length > 0) throw new Error(`${file}: ${yamlDoc.errors[0]?.message ?? 'YAML error'}`);
      const crd: unknown = yamlDoc.toJS();
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
        const key = gvkKey(group, v['name'], kind);
        if (byGvk.has(key)) throw new Error(`${file}: ${key} already defined by ${byGvk.get(key)?.file ?? '?'}`);
        byGvk.set(key, { file, schema: strictify(schema, 'crd', formats) as JsonObject });
      }
    }
  }
  return byGvk;
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
    code: { regExp: goPatternRegExp }, // Go RE2 inline flags in CRD patterns
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

export class SchemaValidator {
  private readonly versions: ReadonlySet<string>;
  private readonly crdFiles: readonly string[];
  private crds: Map<string, CrdVersionSchema> | undefined;
  private readonly crdFormats = new Set<string>();
  private readonly ajvByVersion = new Map<string, Ajv>();
  private readonly compiled = new Map<string, ValidateFunction>();

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
    this.crds ??= loadCrds(this.crdFiles, this.crdFormats);
    return this.crds;
  }

  /** Ajv instance per version with that version's strict defs registered (not compiled). */
  private ajvFor(version: string): Ajv {
    let ajv = this.ajvByVersion.get(version);
    if (ajv === undefined) {
      this.loadedCrds(); // CRD formats must be known before ajv is built
      const formats = new Set<string>(this.crdFormats);
      const strictDefs: JsonObject = {};
      for (const [name, def] of Object.entries(loadDefinitions(version).definitions)) {
        strictDefs[name] = strictify(def, 'kubernetes', formats);
      }
      const quantity = strictDefs[QUANTITY_DEF];
      if (isObject(quantity) && Array.isArray(quantity['oneOf'])) {
        quantity['oneOf'] = quantity['oneOf'].map((branch: unknown) =>
          isObject(branch) && branch['type'] === 'string' ? { ...branch, pattern: QUANTITY_PATTERN } : branch,
        );
      }
      ajv = createAjv(formats);
      ajv.addSchema({ $id: this.defsId(version), definitions: strictDefs });
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

  private validatorFor(apiVersion: string, kind: string, version: string): ValidateFunction | undefined {
    const target = this.resolve(apiVersion, kind, version);
    if (target === undefined) return undefined;
    const cacheKey = `${version}|${gvkKey(target.gvk.group, target.gvk.version, target.gvk.kind)}`;
    let fn = this.compiled.get(cacheKey);
    if (fn !== undefined) return fn;

    const ajv = this.ajvFor(version);
    const defsRef = `${this.defsId(version)}#/definitions/`;
    if (target.kind === 'builtin') {
      fn = ajv.compile({ $ref: `${defsRef}${target.def}` });
    } else {
      // Custom resources get their metadata validated as a real ObjectMeta of
      // that Kubernetes version (CRD schemas only say `metadata: {type: object}`).
      const schema = target.crd.schema;
      const properties = isObject(schema['properties']) ? schema['properties'] : {};
      fn = ajv.compile({
        ...schema,
        properties: { ...properties, metadata: { $ref: `${defsRef}${OBJECT_META_DEF}` } },
      });
    }
    this.compiled.set(cacheKey, fn);
    return fn;
  }
}
