/**
 * The semantic diff on small object pairs, one or more per risk flag (and changes that must not
 * be flagged), plus the exit codes and the text and Markdown output.
 */
import { describe, expect, it } from 'vitest';
import {
  diffEnvironment,
  exitCodeOf,
  formatMarkdown,
  formatText,
  headroomOf,
  RISK_CATEGORIES,
  imageDigests,
  unpinnedReason,
  type DiffInput,
  type RiskCategory,
} from '../../src/inspect/diff';
import type { Json, Manifest } from '../../src/model/objects';
import { capacityReport } from '../../src/inspect/capacity';
import { headroomFor } from '../../src/commands/diff-cli';
import { committed } from '../policy/fixtures';

const obj = (kind: string, name: string, body: Json = {}, namespace: string | null = 'app'): Manifest => ({
  apiVersion: 'v1',
  kind,
  metadata: { name, ...(namespace ? { namespace } : {}), ...((body.metadata as Json | undefined) ?? {}) },
  ...Object.fromEntries(Object.entries(body).filter(([k]) => k !== 'metadata')),
});

const container = (over: Json = {}): Json => ({
  name: 'app',
  image: 'registry.example/app:1.4.0',
  securityContext: {
    runAsNonRoot: true,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
  },
  ...over,
});

const deployment = (c: Json = container(), spec: Json = {}): Manifest =>
  obj('Deployment', 'frontend', {
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: 'frontend' } },
      template: { metadata: { labels: { app: 'frontend' } }, spec: { containers: [c] } },
      ...spec,
    },
  });

const statefulSet = (spec: Json = {}): Manifest =>
  obj('StatefulSet', 'nats', {
    spec: {
      replicas: 3,
      serviceName: 'nats-headless',
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: { app: 'nats' } },
      template: { metadata: { labels: { app: 'nats' } }, spec: { containers: [container({ name: 'nats' })] } },
      volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { resources: { requests: { storage: '5Gi' } } } }],
      ...spec,
    },
  });

const role = (rules: Json[], kind = 'Role'): Manifest =>
  obj(kind, 'launcher', { rules }, kind === 'Role' ? 'app' : null);
const binding = (subjects: Json[], roleName = 'launcher'): Manifest =>
  obj('RoleBinding', 'launcher-mw', {
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: roleName },
    subjects,
  });
const sa = (name: string): Json => ({ kind: 'ServiceAccount', name, namespace: 'app' });

const netpol = (spec: Json): Manifest =>
  obj('NetworkPolicy', 'frontend', {
    spec: { podSelector: { matchLabels: { app: 'frontend' } }, policyTypes: ['Ingress', 'Egress'], ...spec },
  });
const fromProxy = {
  from: [{ podSelector: { matchLabels: { app: 'proxy' } } }],
  ports: [{ port: 3000, protocol: 'TCP' }],
};

const namespace = (level: string): Manifest =>
  obj('Namespace', 'app', { metadata: { labels: { 'pod-security.kubernetes.io/enforce': level } } }, null);

const vap = (spec: Json = {}): Manifest =>
  obj(
    'ValidatingAdmissionPolicy',
    'guard',
    {
      spec: {
        failurePolicy: 'Fail',
        matchConstraints: { resourceRules: [{ operations: ['CREATE'], resources: ['pods'] }] },
        validations: [{ expression: 'a' }, { expression: 'b' }],
        ...spec,
      },
    },
    null,
  );

/** A canary Rollout (production's defaults: 25/50/75%, timed pauses, analysed, aborting by itself). */
const rollout = (canary: Json = {}, spec: Json = {}): Manifest =>
  obj('Rollout', 'frontend', {
    apiVersion: 'argoproj.io/v1alpha1',
    spec: {
      progressDeadlineAbort: true,
      workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'frontend' },
      strategy: {
        canary: {
          analysis: { templates: [{ templateName: 'frontend-error-ratio' }] },
          steps: [25, 50, 75].flatMap((w) => [{ setWeight: w }, { pause: { duration: '5m' } }]),
          ...canary,
        },
      },
      ...spec,
    },
  });

const analysisTemplate = (spec: Json = {}): Manifest =>
  obj('AnalysisTemplate', 'frontend-error-ratio', {
    apiVersion: 'argoproj.io/v1alpha1',
    spec: {
      metrics: ['error-ratio', 'latency'].map((name) => ({
        name,
        successCondition: 'result[0] <= 0.05',
        provider: { prometheus: { query: 'q' } },
      })),
      ...spec,
    },
  });

/** Diffs one pair and returns the categories raised (sorted, unique) and the report. */
function run(before: Manifest[], after: Manifest[], headroom?: DiffInput['headroom'], production = false) {
  const d = diffEnvironment({ env: 'test', before, after, headroom, production });
  return { d, categories: [...new Set(d.risks.map((r) => r.category))].sort() };
}

interface Case {
  readonly name: string;
  readonly before: Manifest[];
  readonly after: Manifest[];
  readonly expect: readonly RiskCategory[];
  /** A word the risk message must contain. */
  readonly says?: string;
  /** Diff a production-tier environment (default: not). */
  readonly production?: boolean;
}

/** A change to a canary, flagged in a production-tier environment (saying `says`) and not elsewhere. */
const canaryCases = (name: string, before: Manifest[], after: Manifest[], says: string): Case[] => [
  { name: `prod: ${name}`, before, after, expect: ['canary-weakened'], says, production: true },
  { name: `non-production: ${name}`, before, after, expect: [] },
];

const CASES: readonly Case[] = [
  // rbac
  {
    name: 'Role gains a verb',
    before: [role([{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }])],
    after: [role([{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'delete'] }])],
    expect: ['rbac'],
    says: 'delete pods',
  },
  {
    name: 'Role gains a resource',
    before: [role([{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }])],
    after: [role([{ apiGroups: [''], resources: ['pods', 'secrets'], verbs: ['get'] }])],
    expect: ['rbac'],
    says: 'get secrets',
  },
  {
    name: 'Role gains a rule',
    before: [role([{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }])],
    after: [
      role([
        { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
        { apiGroups: [''], resources: ['pods/exec'], verbs: ['create'] },
      ]),
    ],
    expect: ['rbac'],
    says: 'create pods/exec',
  },
  { name: 'new ClusterRole', before: [], after: [role([], 'ClusterRole')], expect: ['rbac'], says: 'ClusterRole' },
  {
    name: 'new RoleBinding',
    before: [],
    after: [binding([sa('mw')])],
    expect: ['rbac'],
    says: 'ServiceAccount app/mw',
  },
  {
    name: 'binding gains a subject',
    before: [binding([sa('mw')])],
    after: [binding([sa('mw'), sa('frontend')])],
    expect: ['rbac'],
    says: 'app/frontend',
  },
  {
    name: 'Role narrowed',
    before: [role([{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'delete'] }])],
    after: [role([{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }])],
    expect: [],
  },
  // exposure
  {
    name: 'new Ingress',
    before: [],
    after: [obj('Ingress', 'web', { spec: { rules: [{ host: 'a.example', http: { paths: [{ path: '/' }] } }] } })],
    expect: ['exposure'],
    says: 'a.example/',
  },
  {
    name: 'new HTTPRoute',
    before: [],
    after: [obj('HTTPRoute', 'web', { spec: { hostnames: ['b.example'] } })],
    expect: ['exposure'],
    says: 'b.example',
  },
  {
    name: 'Service becomes LoadBalancer',
    before: [obj('Service', 'web', { spec: { type: 'ClusterIP' } })],
    after: [obj('Service', 'web', { spec: { type: 'LoadBalancer' } })],
    expect: ['exposure'],
    says: 'LoadBalancer',
  },
  {
    name: 'new NodePort Service',
    before: [],
    after: [obj('Service', 'web', { spec: { type: 'NodePort' } })],
    expect: ['exposure'],
    says: 'NodePort',
  },
  {
    name: 'NetworkPolicy gains a peer',
    before: [netpol({ ingress: [fromProxy] })],
    after: [netpol({ ingress: [{ ...fromProxy, from: [...fromProxy.from, { namespaceSelector: {} }] }] })],
    expect: ['exposure'],
    says: 'namespaceSelector',
  },
  {
    name: 'NetworkPolicy gains a port',
    before: [netpol({ egress: [{ to: [{ podSelector: {} }], ports: [{ port: 4222, protocol: 'TCP' }] }] })],
    after: [
      netpol({
        egress: [
          {
            to: [{ podSelector: {} }],
            ports: [
              { port: 4222, protocol: 'TCP' },
              { port: 8222, protocol: 'TCP' },
            ],
          },
        ],
      }),
    ],
    expect: ['exposure'],
    says: '8222/TCP',
  },
  {
    name: 'NetworkPolicy drops Egress isolation',
    before: [netpol({ ingress: [fromProxy] })],
    after: [netpol({ ingress: [fromProxy], policyTypes: ['Ingress'] })],
    expect: ['exposure'],
    says: 'Egress',
  },
  {
    name: 'NetworkPolicy narrowed',
    before: [netpol({ ingress: [fromProxy, { from: [{ podSelector: {} }] }] })],
    after: [netpol({ ingress: [fromProxy] })],
    expect: [],
  },
  // policy removed (a deleted NetworkPolicy is exposure too)
  { name: 'NetworkPolicy deleted', before: [netpol({})], after: [], expect: ['exposure', 'policy-removed'] },
  ...[
    'PodDisruptionBudget',
    'ValidatingAdmissionPolicy',
    'ValidatingAdmissionPolicyBinding',
    'ResourceQuota',
    'LimitRange',
  ].map((kind): Case => ({ name: `${kind} deleted`, before: [obj(kind, 'x')], after: [], expect: ['policy-removed'] })),
  // admission and Pod Security
  {
    name: 'Pod Security lowered',
    before: [namespace('restricted')],
    after: [namespace('baseline')],
    expect: ['admission'],
    says: 'restricted → baseline',
  },
  { name: 'Pod Security raised', before: [namespace('baseline')], after: [namespace('restricted')], expect: [] },
  {
    name: 'VAP validation removed',
    before: [vap()],
    after: [vap({ validations: [{ expression: 'a' }] })],
    expect: ['admission'],
    says: 'removed',
  },
  {
    name: 'VAP failurePolicy Ignore',
    before: [vap()],
    after: [vap({ failurePolicy: 'Ignore' })],
    expect: ['admission'],
    says: 'Ignore',
  },
  {
    name: 'VAP binding stops denying',
    before: [
      obj('ValidatingAdmissionPolicyBinding', 'guard', { spec: { policyName: 'guard', validationActions: ['Deny'] } }),
    ],
    after: [
      obj('ValidatingAdmissionPolicyBinding', 'guard', { spec: { policyName: 'guard', validationActions: ['Audit'] } }),
    ],
    expect: ['admission'],
    says: 'Deny',
  },
  {
    name: 'privileged',
    before: [deployment()],
    after: [deployment(container({ securityContext: { ...(container().securityContext as Json), privileged: true } }))],
    expect: ['admission'],
    says: 'privileged',
  },
  {
    name: 'runAsNonRoot false',
    before: [deployment()],
    after: [
      deployment(container({ securityContext: { ...(container().securityContext as Json), runAsNonRoot: false } })),
    ],
    expect: ['admission'],
    says: 'runAsNonRoot',
  },
  {
    name: 'capabilities added',
    before: [deployment()],
    after: [
      deployment(
        container({
          securityContext: {
            ...(container().securityContext as Json),
            capabilities: { drop: ['ALL'], add: ['NET_ADMIN'] },
          },
        }),
      ),
    ],
    expect: ['admission'],
    says: 'NET_ADMIN',
  },
  {
    name: 'readOnlyRootFilesystem false',
    before: [deployment()],
    after: [
      deployment(
        container({ securityContext: { ...(container().securityContext as Json), readOnlyRootFilesystem: false } }),
      ),
    ],
    expect: ['admission'],
    says: 'readOnlyRootFilesystem',
  },
  // immutable fields
  ...(
    [
      ['selector', { selector: { matchLabels: { app: 'nats', tier: 'x' } } }],
      ['serviceName', { serviceName: 'other' }],
      ['volumeClaimTemplates', { volumeClaimTemplates: [] }],
      ['podManagementPolicy', { podManagementPolicy: 'OrderedReady' }],
    ] as const
  ).map(([field, spec]): Case => ({
    name: `StatefulSet ${field}`,
    before: [statefulSet()],
    after: [statefulSet(spec)],
    expect: ['immutable'],
    says: `spec.${field}`,
  })),
  {
    name: 'StatefulSet replicas (mutable)',
    before: [statefulSet()],
    after: [statefulSet({ replicas: 5 })],
    expect: [],
  },
  {
    name: 'Deployment selector',
    before: [deployment()],
    after: [deployment(container(), { selector: { matchLabels: { app: 'web' } } })],
    expect: ['immutable'],
    says: 'spec.selector',
  },
  {
    name: 'Service clusterIP',
    before: [obj('Service', 'nats-headless', { spec: { clusterIP: 'None' } })],
    after: [obj('Service', 'nats-headless', { spec: {} })],
    expect: ['immutable'],
    says: 'spec.clusterIP',
  },
  {
    name: 'PVC storageClassName',
    before: [
      obj('PersistentVolumeClaim', 'data', {
        spec: { storageClassName: 'a', resources: { requests: { storage: '1Gi' } } },
      }),
    ],
    after: [
      obj('PersistentVolumeClaim', 'data', {
        spec: { storageClassName: 'b', resources: { requests: { storage: '1Gi' } } },
      }),
    ],
    expect: ['immutable'],
    says: 'storageClassName',
  },
  {
    name: 'PVC grows (mutable)',
    before: [obj('PersistentVolumeClaim', 'data', { spec: { resources: { requests: { storage: '1Gi' } } } })],
    after: [obj('PersistentVolumeClaim', 'data', { spec: { resources: { requests: { storage: '2Gi' } } } })],
    expect: [],
  },
  {
    name: 'Job template',
    before: [obj('Job', 'migrate', { spec: { template: { spec: { containers: [container()] } } } })],
    after: [obj('Job', 'migrate', { spec: { template: { spec: { containers: [container({ args: ['--x'] })] } } } })],
    expect: ['immutable'],
    says: 'spec.template',
  },
  {
    name: 'RoleBinding roleRef',
    before: [binding([sa('mw')])],
    after: [binding([sa('mw')], 'other')],
    expect: ['immutable', 'rbac'],
    says: 'roleRef',
  },
  // images
  ...['latest', 'main', 'stable', 'edge'].map((tag): Case => ({
    name: `image :${tag}`,
    before: [deployment()],
    after: [deployment(container({ image: `registry.example/app:${tag}` }))],
    expect: ['unpinned-image'],
    says: tag,
  })),
  {
    name: 'image without a tag',
    before: [deployment()],
    after: [deployment(container({ image: 'registry.example:5000/app' }))],
    expect: ['unpinned-image'],
    says: 'no tag',
  },
  {
    name: 'image digest removed',
    before: [deployment(container({ image: 'registry.example/app:1.4.0@sha256:abc' }))],
    after: [deployment(container({ image: 'registry.example/app:1.4.0' }))],
    expect: ['unpinned-image'],
    says: 'digest removed',
  },
  {
    name: 'image digest replaced by another (a promotion)',
    before: [deployment(container({ image: `registry.example/app:1.4.0@sha256:${'1'.repeat(64)}` }))],
    after: [deployment(container({ image: `registry.example/app:1.5.0@sha256:${'2'.repeat(64)}` }))],
    expect: [],
  },
  {
    name: 'image bumped to a release tag',
    before: [deployment()],
    after: [deployment(container({ image: 'registry.example/app:1.5.0' }), { replicas: 4 })],
    expect: [],
  },
  // canary-weakened
  ...canaryCases('Rollout loses its analysis', [rollout()], [rollout({ analysis: undefined })], 'analysis removed'),
  ...canaryCases(
    'Rollout loses one of its templates',
    [rollout({ analysis: { templates: [{ templateName: 'a' }, { templateName: 'b' }] } })],
    [rollout({ analysis: { templates: [{ templateName: 'a' }] } })],
    'analysis template(s) b removed',
  ),
  ...canaryCases(
    'a metric goes dryRun in the Rollout',
    [rollout()],
    [rollout({ analysis: { templates: [{ templateName: 'frontend-error-ratio' }], dryRun: [{ metricName: '.*' }] } })],
    'metric(s) .* now in dryRun',
  ),
  ...canaryCases(
    'a metric goes dryRun in the AnalysisTemplate',
    [analysisTemplate()],
    [analysisTemplate({ dryRun: [{ metricName: 'latency' }] })],
    'metric(s) latency now in dryRun',
  ),
  ...canaryCases(
    'an AnalysisTemplate loses a metric',
    [analysisTemplate()],
    [analysisTemplate({ metrics: [{ name: 'latency', provider: { job: {} } }] })],
    'metric(s) error-ratio removed',
  ),
  ...canaryCases('AnalysisTemplate deleted', [analysisTemplate()], [], 'AnalysisTemplate deleted'),
  ...canaryCases(
    'fewer steps',
    [rollout()],
    [rollout({ steps: [{ setWeight: 25 }, { pause: { duration: '5m' } }, { setWeight: 75 }] })],
    'steps 6 → 3',
  ),
  ...canaryCases(
    'a higher first weight',
    [rollout()],
    [rollout({ steps: [50, 60, 75].flatMap((w) => [{ setWeight: w }, { pause: { duration: '5m' } }]) })],
    'first setWeight 25 → 50',
  ),
  ...canaryCases(
    'progressDeadlineAbort dropped',
    [rollout()],
    [rollout({}, { progressDeadlineAbort: false })],
    'progressDeadlineAbort no longer true',
  ),
  ...canaryCases(
    'a Rollout replaced by a plain Deployment rollout',
    [rollout(), deployment(container(), { replicas: undefined })],
    [deployment()],
    'Rollout deleted',
  ),
  {
    name: 'prod: a canary made more careful (more steps, a lower first weight)',
    before: [rollout()],
    after: [rollout({ steps: [10, 25, 50, 75].flatMap((w) => [{ setWeight: w }, { pause: { duration: '5m' } }]) })],
    expect: [],
    production: true,
  },
];

describe('semantic diff: risk flags', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { d, categories } = run(c.before, c.after, undefined, c.production);
    expect(categories).toEqual([...c.expect].sort());
    if (c.says) expect(d.risks.map((r) => r.message).join('\n')).toContain(c.says);
    expect(d.changes.length).toBeGreaterThan(0);
  });

  it('every risk category has a fixture that raises it', () => {
    const raised = new Set(CASES.flatMap((c) => c.expect));
    raised.add('headroom'); // below
    raised.add('unverified-image'); // below
    expect(RISK_CATEGORIES.filter((c) => !raised.has(c))).toEqual([]);
  });

  it("computes an environment's headroom with its Rollouts (a canary service runs at the Rollout's HPA maximum)", () => {
    const { env, objects, argocd } = committed('prod');
    expect(objects.some((o) => o.kind === 'Rollout')).toBe(true);
    expect(headroomFor(env, [...objects, ...argocd])).toEqual(headroomOf(capacityReport(env, objects)));
  });

  it('flags headroom that falls below the threshold, and only then', () => {
    const pair = [[deployment()], [deployment(container(), { replicas: 4 })]] as const;
    const at = (before: number, after: number, threshold = 20) =>
      run([...pair[0]], [...pair[1]], {
        before: { cpuPct: before, memoryPct: 50 },
        after: { cpuPct: after, memoryPct: 50 },
        threshold,
      }).d.risks.filter((r) => r.category === 'headroom');
    expect(at(30, 15).map((r) => r.message)).toEqual(['CPU headroom 30% → 15%, below the 20% threshold']);
    expect(at(30, 25)).toEqual([]);
    expect(at(30, 25, 40)).toHaveLength(1);
    expect(at(15, 15)).toEqual([]); // already below: not this change's doing
  });

  describe('unverified-image: an environment promoted from another runs only what that one runs', () => {
    const digest = (c: string) => `sha256:${c.repeat(64)}`;
    const staging = [deployment(container({ image: `registry.staging.example/app:1.5.0@${digest('a')}` }))];
    const verified = { from: 'staging', digests: imageDigests(staging) };
    const flag = (before: string, after: string) =>
      diffEnvironment({
        env: 'prod',
        before: [deployment(container({ image: before }))],
        after: [deployment(container({ image: after }))],
        verified,
      }).risks.filter((r) => r.category === 'unverified-image');

    it('passes a digest staging runs, under another registry and tag', () => {
      expect(imageDigests(staging)).toEqual(new Set([digest('a')]));
      expect(
        flag(`registry.prod.example/app:1.4.0@${digest('0')}`, `registry.prod.example/app:1.5.0@${digest('a')}`),
      ).toEqual([]);
    });

    it('flags a digest staging does not run', () => {
      const r = flag(
        `registry.prod.example/app:1.4.0@${digest('0')}`,
        `registry.prod.example/app:1.5.0@${digest('b')}`,
      );
      expect(r.map((x) => x.message)).toEqual([
        `app: registry.prod.example/app:1.4.0@${digest('0')} → registry.prod.example/app:1.5.0@${digest('b')}: staging runs no image with digest ${digest('b')}`,
      ]);
    });

    it('flags a dropped digest (nothing to compare), as unpinned-image does', () => {
      const r = flag(`registry.prod.example/app:1.5.0@${digest('a')}`, 'registry.prod.example/app:1.5.0');
      expect(r.map((x) => x.message)).toEqual([
        `app: registry.prod.example/app:1.5.0@${digest('a')} → registry.prod.example/app:1.5.0: no digest to compare`,
      ]);
    });

    it('says nothing of an unchanged image or an environment promoted from nowhere', () => {
      const same = `registry.prod.example/app:1.4.0@${digest('0')}`;
      expect(flag(same, same)).toEqual([]);
      const { categories } = run(
        [deployment(container({ image: same }))],
        [deployment(container({ image: `registry.prod.example/app:1.5.0@${digest('b')}` }))],
      );
      expect(categories).toEqual([]);
    });
  });

  it('names unpinned references', () => {
    expect(unpinnedReason('quay.io/oauth2-proxy/oauth2-proxy:v7.15.2')).toBeUndefined();
    expect(unpinnedReason('nats@sha256:0123')).toBeUndefined();
    expect(unpinnedReason('localhost:5000/nats')).toBe('no tag (means latest)');
    expect(unpinnedReason('nats:latest')).toBe("floating tag 'latest'");
  });
});

describe('semantic diff: changes, output and exit codes', () => {
  const before = [deployment(), obj('ConfigMap', 'old')];
  const after = [
    deployment(container({ image: 'registry.example/app:1.5.0' }), { replicas: 4 }),
    obj('ConfigMap', 'new'),
  ];

  it('reports field-level changes, added and removed objects', () => {
    const { d } = run(before, after);
    expect(d.changes.map((c) => [c.change, c.id])).toEqual([
      ['added', 'ConfigMap app/new'],
      ['removed', 'ConfigMap app/old'],
      ['changed', 'Deployment app/frontend'],
    ]);
    const text = formatText({ title: 't', environments: [d] });
    expect(text).toContain(
      '~ test: Deployment app/frontend: replicas 3 → 4; containers[app].image registry.example/app:1.4.0 → registry.example/app:1.5.0',
    );
    expect(text).toContain('+ test: ConfigMap app/new (added)');
    expect(text).toContain('- test: ConfigMap app/old (removed)');
  });

  it('exits 0 without changes, 1 with changes, 2 with risky changes', () => {
    const report = (b: Manifest[], a: Manifest[]) => ({ title: 't', environments: [run(b, a).d] });
    expect(exitCodeOf(report(before, before))).toBe(0);
    expect(exitCodeOf(report(before, after))).toBe(1);
    expect(exitCodeOf(report([deployment()], [deployment(container({ image: 'app:latest' }))]))).toBe(2);
  });

  it('writes Markdown with a risk table per environment', () => {
    const { d } = run([namespace('restricted')], [namespace('privileged')]);
    const text = formatMarkdown({ title: 'working tree vs main', environments: [d] });
    expect(text).toContain('## Rendered changes');
    expect(text).toContain('⚠️ **Risky changes.**');
    expect(text).toContain('### test');
    expect(text).toContain('| ⚠️ admission | Namespace app | Pod Security enforce restricted → privileged |');
  });
});
