import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, it, expect, afterAll } from 'vitest';

import { SchemaValidator, forgetProcessCaches, isKindInVersion, type SchemaIssue } from './schema-validator';

const VERSIONS = ['1.28', '1.30', '1.33'] as const;
const validator = new SchemaValidator({ kubernetesVersions: VERSIONS });

type Doc = Record<string, unknown>;

function deployment(container: Doc = {}, spec: Doc = {}): Doc {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'web',
      namespace: 'apps',
      labels: { 'app.kubernetes.io/name': 'web' },
      annotations: { 'example.com/checksum': 'abc' },
    },
    spec: {
      replicas: 2,
      selector: { matchLabels: { 'app.kubernetes.io/name': 'web' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      template: {
        metadata: { labels: { 'app.kubernetes.io/name': 'web' } },
        spec: {
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'web',
              image: 'ghcr.io/example/web:1.2.3',
              ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
              env: [{ name: 'LOG_LEVEL', value: 'info' }],
              resources: {
                requests: { cpu: '250m', memory: '128Mi' },
                limits: { cpu: 1, memory: '1Gi', 'ephemeral-storage': '2G' },
              },
              readinessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10 },
              livenessProbe: { tcpSocket: { port: 8080 } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              ...container,
            },
          ],
        },
      },
      ...spec,
    },
  };
}

function service(targetPort: number | string): Doc {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web' },
    spec: {
      selector: { 'app.kubernetes.io/name': 'web' },
      ports: [{ name: 'http', port: 80, targetPort }],
    },
  };
}

const application: Doc = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Application',
  metadata: {
    name: 'platform',
    namespace: 'argocd',
    finalizers: ['resources-finalizer.argocd.argoproj.io'],
  },
  spec: {
    project: 'platform',
    source: {
      repoURL: 'https://github.com/example/gitops.git',
      path: 'dist/prod',
      targetRevision: 'main',
    },
    destination: { server: 'https://kubernetes.default.svc', namespace: 'apps' },
    syncPolicy: {
      automated: { prune: true, selfHeal: true },
      syncOptions: ['CreateNamespace=true', 'ServerSideApply=true'],
      retry: { limit: 5, backoff: { duration: '5s', factor: 2, maxDuration: '3m' } },
    },
  },
};

const appProject: Doc = {
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'AppProject',
  metadata: { name: 'platform', namespace: 'argocd' },
  spec: {
    description: 'Platform workloads',
    sourceRepos: ['https://github.com/example/gitops.git'],
    destinations: [{ server: 'https://kubernetes.default.svc', namespace: 'apps' }],
    clusterResourceWhitelist: [{ group: '', kind: 'Namespace' }],
    namespaceResourceBlacklist: [{ group: '', kind: 'ResourceQuota' }],
  },
};

function withSpec(doc: Doc, extra: Doc): Doc {
  return { ...doc, spec: { ...(doc['spec'] as Doc), ...extra } };
}

function paths(issues: readonly SchemaIssue[]): string[] {
  return issues.map((i) => i.path);
}

describe('SchemaValidator: built-in kinds', () => {
  it.each(VERSIONS)('accepts a valid Deployment for Kubernetes %s', (v) => {
    expect(validator.validate(deployment(), v)).toEqual([]);
  });

  it.each(VERSIONS)('rejects an unknown container field for Kubernetes %s and names it', (v) => {
    const issues = validator.validate(deployment({ imagePullPolicyy: 'Always' }), v);
    expect(issues).toEqual([
      { path: '/spec/template/spec/containers/0/imagePullPolicyy', message: 'unknown field "imagePullPolicyy"' },
    ]);
  });

  it('rejects unknown fields at the top level, in metadata and in nested specs', () => {
    const doc: Doc = { ...deployment({}, { paused: false, replica: 3 }), extra: true };
    (doc['metadata'] as Doc)['label'] = { a: 'b' };
    const issues = validator.validate(doc, '1.33');
    expect(paths(issues).sort()).toEqual(['/extra', '/metadata/label', '/spec/replica']);
    expect(issues.every((i) => i.message.startsWith('unknown field "'))).toBe(true);
  });

  it('rejects a wrong type (replicas: "two")', () => {
    const issues = validator.validate(deployment({}, { replicas: 'two' }), '1.30');
    expect(issues).toEqual([{ path: '/spec/replicas', message: 'must be integer (got string)' }]);
  });

  it('rejects an out-of-range int32 and non-integral numbers', () => {
    expect(validator.validate(deployment({}, { replicas: 2 ** 31 }), '1.30')).toEqual([
      { path: '/spec/replicas', message: 'must match format "int32"' },
    ]);
    expect(validator.validate(deployment({}, { replicas: 1.5 }), '1.30')).toEqual([
      { path: '/spec/replicas', message: 'must be integer (got number)' },
    ]);
  });

  it('rejects a container without a name (required field)', () => {
    const doc = deployment();
    const containers = (((doc['spec'] as Doc)['template'] as Doc)['spec'] as Doc)['containers'] as Doc[];
    const { name: _name, ...nameless } = containers[0] as Doc;
    containers[0] = nameless;
    expect(validator.validate(doc, '1.28')).toEqual([
      { path: '/spec/template/spec/containers/0/name', message: 'missing required field "name"' },
    ]);
  });

  it('rejects a Deployment without spec.selector', () => {
    const doc = deployment();
    delete (doc['spec'] as Doc)['selector'];
    expect(validator.validate(doc, '1.33')).toEqual([
      { path: '/spec/selector', message: 'missing required field "selector"' },
    ]);
  });

  it.each([8080, 'http'])('accepts IntOrString targetPort %j', (targetPort) => {
    for (const v of VERSIONS) expect(validator.validate(service(targetPort), v)).toEqual([]);
  });

  it('rejects IntOrString values that are neither integer nor string', () => {
    expect(validator.validate(service(true as unknown as string), '1.33')).toEqual([
      { path: '/spec/ports/0/targetPort', message: 'must be string or integer (got boolean)' },
    ]);
    expect(paths(validator.validate(service(80.5 as unknown as string), '1.33'))).toEqual(['/spec/ports/0/targetPort']);
  });

  it('accepts resource quantities as strings and numbers, rejects other types', () => {
    expect(
      validator.validate(deployment({ resources: { requests: { cpu: '250m', memory: '128Mi' } } }), '1.33'),
    ).toEqual([]);
    expect(validator.validate(deployment({ resources: { limits: { cpu: 0.5, memory: 134217728 } } }), '1.33')).toEqual(
      [],
    );
    for (const q of ['1', '0.5', '1e3', '1.5Gi', '500M', '100k', '+1Ki', '.5']) {
      expect(validator.validate(deployment({ resources: { requests: { memory: q } } }), '1.28')).toEqual([]);
    }
    const issues = validator.validate(deployment({ resources: { limits: { cpu: true } } }), '1.33');
    expect(issues).toEqual([
      {
        path: '/spec/template/spec/containers/0/resources/limits/cpu',
        message: 'must be string or number (got boolean)',
      },
    ]);
    // "128MB" is a classic mistake: not a valid Quantity suffix.
    const bad = validator.validate(deployment({ resources: { limits: { memory: '128MB' } } }), '1.33');
    expect(bad).toEqual([
      {
        path: '/spec/template/spec/containers/0/resources/limits/memory',
        message: 'invalid quantity "128MB" (expected e.g. "250m", "128Mi", "1Gi", "0.5")',
      },
    ]);
  });

  it('validates base64 Secret data and RFC3339 timestamps', () => {
    const secret = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's' },
      type: 'Opaque',
      data: { k: 'aGVsbG8=' },
    };
    expect(validator.validate(secret, '1.33')).toEqual([]);
    expect(paths(validator.validate({ ...secret, data: { k: 'not base64!' } }, '1.33'))).toEqual(['/data/k']);
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'e', creationTimestamp: 'yesterday' },
      involvedObject: {},
    };
    expect(paths(validator.validate(event, '1.33'))).toEqual(['/metadata/creationTimestamp']);
  });

  it('keeps free-form built-in objects (RawExtension) open', () => {
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'widgets.example.com' },
      spec: {
        group: 'example.com',
        scope: 'Namespaced',
        names: { kind: 'Widget', plural: 'widgets' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
              },
            },
          },
        ],
      },
    };
    expect(validator.validate(crd, '1.33')).toEqual([]);
  });

  it('reports unknown kinds with a single issue', () => {
    const doc = { apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } };
    expect(validator.validate(doc, '1.30')).toEqual([
      { path: '/', message: 'unknown kind example.com/v1/Widget for Kubernetes 1.30' },
    ]);
  });

  it('rejects versions that were not configured', () => {
    const only128 = new SchemaValidator({ kubernetesVersions: ['1.28'], crdFiles: [] });
    expect(() => only128.validate(deployment(), '1.33')).toThrow(/not configured/);
    expect(() => new SchemaValidator({ kubernetesVersions: ['1.99'] })).toThrow(/no vendored schemas/);
  });
});

describe('SchemaValidator: Argo CD CRDs', () => {
  it.each(VERSIONS)('accepts a valid Application and AppProject for Kubernetes %s', (v) => {
    expect(validator.validate(application, v)).toEqual([]);
    expect(validator.validate(appProject, v)).toEqual([]);
  });

  it('accepts free-form helm valuesObject (x-kubernetes-preserve-unknown-fields)', () => {
    const doc = withSpec(application, {
      source: {
        repoURL: 'https://charts.example.com',
        chart: 'web',
        targetRevision: '1.0.0',
        helm: { valuesObject: { anything: { goes: [1, 'two'] } } },
      },
    });
    expect(validator.validate(doc, '1.33')).toEqual([]);
  });

  it('rejects an Application with an unknown spec field', () => {
    expect(validator.validate(withSpec(application, { syncPolicyy: {} }), '1.33')).toEqual([
      { path: '/spec/syncPolicyy', message: 'unknown field "syncPolicyy"' },
    ]);
  });

  it('rejects unknown nested fields, wrong types and missing required fields in an Application', () => {
    const doc = withSpec(application, {
      syncPolicy: { automated: { prune: 'yes', selfheal: true }, retry: { limit: '5' } },
      source: { path: 'dist/prod' },
    });
    const issues = validator.validate(doc, '1.33');
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: '/spec/syncPolicy/automated/selfheal', message: 'unknown field "selfheal"' },
        { path: '/spec/syncPolicy/automated/prune', message: 'must be boolean (got string)' },
        { path: '/spec/syncPolicy/retry/limit', message: 'must be integer (got string)' },
        { path: '/spec/source/repoURL', message: 'missing required field "repoURL"' },
      ]),
    );
    expect(issues).toHaveLength(4);
  });

  it('handles x-kubernetes-int-or-string (kustomize replica count)', () => {
    const withCount = (count: unknown): Doc =>
      withSpec(application, {
        source: {
          repoURL: 'https://github.com/example/gitops.git',
          path: 'k',
          kustomize: { replicas: [{ name: 'web', count }] },
        },
      });
    expect(validator.validate(withCount(3), '1.33')).toEqual([]);
    expect(validator.validate(withCount('3'), '1.33')).toEqual([]);
    expect(validator.validate(withCount(false), '1.33')).toEqual([
      { path: '/spec/source/kustomize/replicas/0/count', message: 'must be integer or string (got boolean)' },
    ]);
  });

  it('validates custom resource metadata as ObjectMeta', () => {
    const doc = { ...application, metadata: { name: 'platform', labelz: {} } };
    expect(validator.validate(doc, '1.30')).toEqual([{ path: '/metadata/labelz', message: 'unknown field "labelz"' }]);
  });

  it('knows CRD kinds via isKnownKind but not via isKindInVersion', () => {
    expect(validator.isKnownKind('argoproj.io/v1alpha1', 'Application', '1.28')).toBe(true);
    expect(isKindInVersion('argoproj.io/v1alpha1', 'Application', '1.28')).toBe(false);
    const noCrds = new SchemaValidator({ kubernetesVersions: ['1.33'], crdFiles: [] });
    expect(noCrds.validate(application, '1.33')).toEqual([
      { path: '/', message: 'unknown kind argoproj.io/v1alpha1/Application for Kubernetes 1.33' },
    ]);
  });
});

describe('isKindInVersion', () => {
  it('knows admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy in 1.30+ but not in 1.28', () => {
    expect(isKindInVersion('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy', '1.28')).toBe(false);
    expect(isKindInVersion('admissionregistration.k8s.io/v1beta1', 'ValidatingAdmissionPolicy', '1.28')).toBe(true);
    expect(isKindInVersion('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy', '1.30')).toBe(true);
    expect(isKindInVersion('admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy', '1.33')).toBe(true);
  });

  it('maps core and grouped apiVersions', () => {
    expect(isKindInVersion('v1', 'ConfigMap', '1.28')).toBe(true);
    expect(isKindInVersion('apps/v1', 'Deployment', 'v1.33.1')).toBe(true);
    expect(isKindInVersion('extensions/v1beta1', 'Deployment', '1.28')).toBe(false);
  });

  it('validates a ValidatingAdmissionPolicy in 1.30 and reports it unknown in 1.28', () => {
    const vap = {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: 'replica-limit' },
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: {
          resourceRules: [
            { apiGroups: ['apps'], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['deployments'] },
          ],
        },
        validations: [{ expression: 'object.spec.replicas <= 5' }],
      },
    };
    expect(validator.validate(vap, '1.30')).toEqual([]);
    expect(validator.validate(vap, '1.28')).toEqual([
      {
        path: '/',
        message: 'unknown kind admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy for Kubernetes 1.28',
      },
    ]);
  });
});

/** A synthetic CRD with the schema features the validator handles (served and unserved versions). */
const WIDGET_CRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: { kind: Widget, plural: widgets }
  versions:
    - name: v1alpha1
      served: false
      storage: false
      schema:
        openAPIV3Schema: { type: object }
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            apiVersion: { type: string }
            kind: { type: string }
            metadata: { type: object }
            spec:
              type: object
              required: [size]
              properties:
                size:
                  x-kubernetes-int-or-string: true
                note:
                  type: string
                  nullable: true
                mode:
                  type: string
                  enum: [fast, slow]
                interval:
                  type: string
                  format: duration
                config:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
                  properties:
                    known: { type: integer }
                selector:
                  type: object
                  x-kubernetes-map-type: atomic
                  properties:
                    app: { type: string }
                  x-kubernetes-validations:
                    - rule: has(self.app)
                empty:
                  type: object
                code:
                  type: string
                  pattern: '^(?i)[a-z]+$'
`;

const widget = (spec: Doc): Doc => ({
  apiVersion: 'example.com/v1',
  kind: 'Widget',
  metadata: { name: 'w' },
  spec,
});

describe('SchemaValidator: CRD schema features (synthetic CRD)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'schema-validator-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const crdFile = join(dir, 'widget-crd.yaml');
  writeFileSync(crdFile, WIDGET_CRD);
  const sv = new SchemaValidator({ kubernetesVersions: ['1.33'], crdFiles: [crdFile] });

  it('accepts valid values, including null for nullable and extra fields under preserve-unknown-fields', () => {
    expect(
      sv.validate(
        widget({
          size: 3,
          note: null,
          mode: 'fast',
          interval: '1h30m',
          config: { known: 1, whatever: { nested: true } },
          selector: { app: 'x' },
          empty: {},
        }),
        '1.33',
      ),
    ).toEqual([]);
    expect(sv.validate(widget({ size: '50%', note: 'hi' }), '1.33')).toEqual([]);
  });

  it('rejects unknown fields, bad enums, bad durations and typed known fields under preserve-unknown-fields', () => {
    const issues = sv.validate(
      widget({
        size: 1.5,
        mode: 'medium',
        interval: 'PT1H',
        config: { known: 'one' },
        selector: { app: 'x', extra: 'y' },
        empty: { anything: 1 },
        bogus: 1,
      }),
      '1.33',
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        { path: '/spec/size', message: 'must be integer or string (got number)' },
        { path: '/spec/mode', message: 'must be one of "fast", "slow" (got "medium")' },
        { path: '/spec/config/known', message: 'must be integer (got string)' },
        { path: '/spec/selector/extra', message: 'unknown field "extra"' },
        { path: '/spec/empty/anything', message: 'unknown field "anything"' },
        { path: '/spec/bogus', message: 'unknown field "bogus"' },
      ]),
    );
    expect(issues.find((i) => i.path === '/spec/interval')?.message).toContain('duration');
    expect(issues).toHaveLength(7);
  });

  it('only serves served versions', () => {
    expect(sv.isKnownKind('example.com/v1', 'Widget', '1.33')).toBe(true);
    expect(sv.isKnownKind('example.com/v1alpha1', 'Widget', '1.33')).toBe(false);
  });
});

describe('SchemaValidator: cache of compiled validators and parsed CRDs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'schema-validator-cache-'));
  const cacheDir = join(dir, 'cache');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const crdFile = join(dir, 'widget-crd.yaml');
  writeFileSync(crdFile, WIDGET_CRD);
  const docs: Doc[] = [
    service(8080),
    service('http'),
    service(1.5),
    { ...service(80), metadata: { name: 'web', labelz: {} } },
    widget({ size: '50%', mode: 'fast', interval: '1m30s', code: 'ABC', config: { any: 1 } }),
    widget({ size: 1.5, mode: 'medium', interval: 'PT1M', code: '123', extra: true }),
    { ...widget({ size: 1 }), metadata: { name: 'w', labelz: {} } },
  ];
  const validateAll = (): SchemaIssue[][] => {
    forgetProcessCaches();
    const sv = new SchemaValidator({ kubernetesVersions: ['1.33'], crdFiles: [crdFile], cacheDir });
    return docs.map((d) => sv.validate(d, '1.33'));
  };
  const entries = () => new Map(readdirSync(cacheDir).map((f) => [f, readFileSync(join(cacheDir, f), 'utf8')]));

  it('validates from the cache exactly as when compiling, and compiles again over a damaged entry', () => {
    const compiled = validateAll(); // nothing cached yet: compiles, then writes the cache
    expect(compiled.map((issues) => issues.length > 0)).toEqual([false, false, true, true, false, true, true]);
    // The Go (?i) flag in a CRD pattern: 'ABC' matches ^(?i)[a-z]+$, '123' does not.
    expect(compiled[5]?.find((i) => i.path === '/spec/code')?.message).toMatch(/must match pattern/);
    const written = entries();
    // Standalone code of the two kinds, and the parsed CRD file.
    expect([...written.keys()].map((f) => f.replace(/^[0-9a-f]+-/, '').replace(/[0-9a-f]{32}/, 'H')).sort()).toEqual([
      'H.cjs',
      'H.cjs',
      'crd-H.json',
    ]);

    expect(validateAll()).toEqual(compiled); // from the cache
    expect(entries()).toEqual(written); // read, not written again

    for (const f of written.keys()) writeFileSync(join(cacheDir, f), 'damaged {');
    expect(validateAll()).toEqual(compiled);
    expect(entries()).toEqual(written); // rewritten
  });
});
