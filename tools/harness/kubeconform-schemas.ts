/**
 * Writes kubeconform's local schema layout from the vendored schema data, so that kubeconform
 * validates offline against exactly the Kubernetes version an environment declares:
 *
 *   <root>/v<x.y.z>-standalone-strict/<kind>-<group prefix>-<version>.json   (core: <kind>-<version>.json)
 *
 * which is the path kubeconform looks up for `-schema-location <root> -strict -kubernetes-version x.y.z`.
 * Sources: test/schemas/k8s-<x.y>/_definitions.json (built-in kinds) and every CRD under
 * test/schemas/crds (custom resources).
 *
 * Each file is standalone: the kind's own schema at the root and, under `definitions`, every
 * definition it reaches, with `$ref`s kept local (`#/definitions/...`), so recursive types work.
 * Strict as kubeconform's own generator (openapi2jsonschema) and `kubectl --validate=strict`:
 * every schema with `properties` and no `additionalProperties` gets `additionalProperties: false`,
 * unless it says `x-kubernetes-preserve-unknown-fields: true`. CRD schemas also follow the API
 * server's structural rules: `x-kubernetes-int-or-string` becomes string-or-integer, `nullable` adds
 * null, an object without properties is closed (the server prunes its fields), and `metadata` is
 * the version's real ObjectMeta.
 *
 * Two kinds whose file names would be the same (kubeconform keeps only the group's first label) are
 * both left out, so neither is validated against the other's schema: kubeconform then reports the
 * object as having no schema, which the suite treats as a failure.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { SCHEMAS_DIR } from '../../test/support/schema-validator';

type Json = { [key: string]: unknown };
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';
const REF_PREFIX = '#/definitions/';

/** The x.y.z version kubeconform accepts for a declared "x.y" (our schemas are per minor version). */
export function kubeconformVersion(kubernetesVersion: string): string {
  const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?$/.exec(kubernetesVersion.trim());
  if (!m) throw new Error(`invalid Kubernetes version "${kubernetesVersion}"`);
  return `${m[1]}.${m[2]}.${m[3] ?? '0'}`;
}

/** kubeconform's file name for a kind (pkg/registry: ResourceKind + KindSuffix). */
export function kubeconformFileName(kind: string, apiVersion: string): string {
  const [groupOrVersion = '', version] = apiVersion.split('/');
  let suffix = `-${(groupOrVersion.split('.')[0] ?? '').toLowerCase()}`;
  if (version !== undefined) suffix += `-${version.toLowerCase()}`;
  return `${kind.toLowerCase()}${suffix}.json`;
}

type Flavor = 'kubernetes' | 'crd';

/** A strict copy of a schema node (see the file comment); descriptions are dropped. */
function strict(node: unknown, flavor: Flavor): unknown {
  if (Array.isArray(node)) return node.map((n) => strict(n, flavor));
  if (!isObject(node)) return node;
  const out: Json = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'description' || key === 'example' || key === 'nullable' || key.startsWith('x-kubernetes-')) continue;
    if ((key === 'properties' || key === 'patternProperties' || key === 'definitions') && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([k, v]) => [k, strict(v, flavor)]));
    } else if (typeof value === 'object' && value !== null) {
      out[key] = strict(value, flavor);
    } else {
      out[key] = value;
    }
  }
  if (out['format'] === 'int-or-string' || node['x-kubernetes-int-or-string'] === true) {
    delete out['format'];
    delete out['type'];
    if (out['oneOf'] === undefined && out['anyOf'] === undefined)
      out['oneOf'] = [{ type: 'string' }, { type: 'integer' }];
  }
  const open = node['x-kubernetes-preserve-unknown-fields'] === true;
  if (!open && out['additionalProperties'] === undefined) {
    const hasProperties = out['properties'] !== undefined || out['patternProperties'] !== undefined;
    if (hasProperties || (flavor === 'crd' && out['type'] === 'object')) out['additionalProperties'] = false;
  }
  if (flavor === 'crd' && node['nullable'] === true) {
    const t = out['type'];
    if (typeof t === 'string') out['type'] = [t, 'null'];
    if (Array.isArray(out['enum']) && !out['enum'].includes(null)) out['enum'] = [...out['enum'], null];
    if (Array.isArray(out['oneOf'])) out['oneOf'] = [...out['oneOf'], { type: 'null' }];
  }
  return out;
}

/** Names of the definitions `node` refers to, directly or through other definitions. */
function reachable(node: unknown, defs: Json, into = new Set<string>()): Set<string> {
  if (Array.isArray(node)) for (const n of node) reachable(n, defs, into);
  else if (isObject(node)) {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') {
        if (!value.startsWith(REF_PREFIX)) throw new Error(`non-local $ref ${value} in the vendored definitions`);
        const name = value.slice(REF_PREFIX.length);
        if (!(name in defs)) throw new Error(`$ref to missing definition ${name}`);
        if (!into.has(name)) {
          into.add(name);
          reachable(defs[name], defs, into);
        }
      } else reachable(value, defs, into);
    }
  }
  return into;
}

function standalone(root: unknown, defs: Json, flavor: Flavor): Json {
  const names = [...reachable(root, defs)].sort();
  const out = strict(root, flavor) as Json;
  if (names.length > 0) {
    out['definitions'] = Object.fromEntries(names.map((n) => [n, strict(defs[n], 'kubernetes')]));
  }
  return out;
}

function crdFiles(dir = join(SCHEMAS_DIR, 'crds')): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? crdFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : [],
    )
    .sort();
}

export interface KubeconformSchemas {
  /** Pass as -schema-location. */
  readonly location: string;
  /** Pass as -kubernetes-version. */
  readonly kubernetesVersion: string;
  /** apiVersion/kind of every schema written. */
  readonly kinds: readonly string[];
  /** apiVersion/kind pairs left out because their file names collide. */
  readonly ambiguous: readonly string[];
}

/** Writes the schemas of Kubernetes `kubernetesVersion` (e.g. "1.30") and every vendored CRD under `root`. */
export function writeKubeconformSchemas(kubernetesVersion: string, root: string): KubeconformSchemas {
  const minor = kubernetesVersion.replace(/^v/, '').split('.').slice(0, 2).join('.');
  const parsed = JSON.parse(readFileSync(join(SCHEMAS_DIR, `k8s-${minor}`, '_definitions.json'), 'utf8')) as unknown;
  if (!isObject(parsed) || !isObject(parsed['definitions'])) throw new Error(`k8s-${minor}: no definitions`);
  const defs = parsed['definitions'];

  const schemas = new Map<string, Map<string, () => Json>>(); // file name -> apiVersion/kind -> schema
  const add = (apiVersion: string, kind: string, make: () => Json): void => {
    const file = kubeconformFileName(kind, apiVersion);
    const byKind = schemas.get(file) ?? new Map<string, () => Json>();
    byKind.set(`${apiVersion}/${kind}`, make);
    schemas.set(file, byKind);
  };

  for (const def of Object.values(defs)) {
    if (!isObject(def) || !Array.isArray(def['x-kubernetes-group-version-kind'])) continue;
    for (const gvk of def['x-kubernetes-group-version-kind'] as unknown[]) {
      if (!isObject(gvk)) continue;
      const { group, version, kind } = gvk;
      if (typeof group !== 'string' || typeof version !== 'string' || typeof kind !== 'string') continue;
      add(group ? `${group}/${version}` : version, kind, () => standalone(def, defs, 'kubernetes'));
    }
  }

  for (const file of crdFiles()) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const crd: unknown = doc.toJS();
      if (!isObject(crd) || crd['kind'] !== 'CustomResourceDefinition') continue;
      const spec = crd['spec'] as Json;
      const group = String(spec['group']);
      const kind = String((spec['names'] as Json)['kind']);
      for (const v of spec['versions'] as Json[]) {
        if (v['served'] !== true) continue;
        const schema = (v['schema'] as Json | undefined)?.['openAPIV3Schema'];
        if (!isObject(schema)) throw new Error(`${file}: ${group}/${String(v['name'])} ${kind} has no schema`);
        add(`${group}/${String(v['name'])}`, kind, () => {
          const root = strict(schema, 'crd') as Json;
          root['properties'] = {
            ...(root['properties'] as Json),
            metadata: { $ref: `${REF_PREFIX}${OBJECT_META}` },
          };
          const names = [...reachable({ $ref: `${REF_PREFIX}${OBJECT_META}` }, defs)].sort();
          root['definitions'] = Object.fromEntries(names.map((n) => [n, strict(defs[n], 'kubernetes')]));
          return root;
        });
      }
    }
  }

  const dir = join(root, `v${kubeconformVersion(minor)}-standalone-strict`);
  mkdirSync(dir, { recursive: true });
  const kinds: string[] = [];
  const ambiguous: string[] = [];
  for (const [file, byKind] of schemas) {
    if (byKind.size > 1) {
      ambiguous.push(...byKind.keys());
      continue;
    }
    for (const [key, make] of byKind) {
      writeFileSync(join(dir, file), JSON.stringify(make()));
      kinds.push(key);
    }
  }
  return {
    location: root,
    kubernetesVersion: kubeconformVersion(minor),
    kinds: kinds.sort(),
    ambiguous: ambiguous.sort(),
  };
}
