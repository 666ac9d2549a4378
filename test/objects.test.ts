/**
 * The object library (src/model/objects.ts) on small hand-made objects: what each reading gives
 * for every kind it knows and for the defaults the API server applies.
 */
import { describe, expect, it } from 'vitest';
import {
  allContainers,
  autoscalers,
  jobSpecOf,
  jsonEqual,
  namespaceLabels,
  objectId,
  podContainers,
  podRequests,
  podSpecOf,
  podTemplateOf,
  policyTypes,
  replicaRange,
  rolloutSurge,
  selectorMatches,
  workloads,
  type Json,
  type Manifest,
} from '../src/model/objects';
import { parseCpu, parseMemory } from '../src/model/quantity';

const obj = (kind: string, name: string, body: Json = {}, namespace = 'app'): Manifest => ({
  apiVersion: kind === 'HorizontalPodAutoscaler' ? 'autoscaling/v2' : 'apps/v1',
  kind,
  metadata: { name, namespace },
  ...body,
});
const pod = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'c' }] } };

describe('objectId', () => {
  it('is Kind namespace/name, or Kind name without a namespace', () => {
    expect(objectId(obj('Deployment', 'web'))).toBe('Deployment app/web');
    expect(objectId({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'app' } })).toBe('Namespace app');
  });
});

describe('pod templates', () => {
  it.each([
    ['Deployment', { spec: { template: pod } }],
    ['StatefulSet', { spec: { template: pod } }],
    ['DaemonSet', { spec: { template: pod } }],
    ['ReplicaSet', { spec: { template: pod } }],
    ['Job', { spec: { template: pod } }],
    ['CronJob', { spec: { jobTemplate: { spec: { template: pod } } } }],
    ['PodTemplate', { template: pod }],
    ['Pod', { spec: pod.spec }],
  ])('reads the pod template of a %s', (kind, body) => {
    const o = obj(kind, 'w', body as Json);
    const withLabels = kind === 'Pod' ? { ...o, metadata: { ...o.metadata, labels: { app: 'web' } } } : o;
    expect(podTemplateOf(withLabels)).toEqual({ labels: { app: 'web' }, spec: pod.spec });
    expect(podSpecOf(withLabels)).toEqual(pod.spec);
    expect(workloads([withLabels])).toEqual([{ object: withLabels, namespace: 'app', pod: podTemplateOf(withLabels) }]);
  });

  it('has none for other kinds', () => {
    expect(podTemplateOf(obj('Service', 's', { spec: { template: pod } }))).toBeUndefined();
    expect(podSpecOf(obj('ConfigMap', 'c'))).toBeUndefined();
    expect(workloads([obj('Service', 's')])).toEqual([]);
  });

  it('reads the job spec of a Job and of a CronJob', () => {
    expect(jobSpecOf(obj('Job', 'j', { spec: { parallelism: 2 } }))).toEqual({ parallelism: 2 });
    expect(jobSpecOf(obj('CronJob', 'c', { spec: { jobTemplate: { spec: { parallelism: 3 } } } }))).toEqual({
      parallelism: 3,
    });
    expect(jobSpecOf(obj('Deployment', 'd'))).toBeUndefined();
  });

  it('lists init then regular containers, and all with ephemeral ones', () => {
    const spec = { containers: [{ name: 'b' }], initContainers: [{ name: 'a' }], ephemeralContainers: [{ name: 'c' }] };
    expect(podContainers(spec).map((c) => c.name)).toEqual(['a', 'b']);
    expect(allContainers(spec).map((c) => c.name)).toEqual(['a', 'b', 'c']);
  });
});

describe('selectorMatches', () => {
  const labels = { app: 'web', tier: 'front' };
  it.each([
    [{}, true],
    [{ matchLabels: { app: 'web' } }, true],
    [{ matchLabels: { app: 'api' } }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['front', 'back'] }] }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['back'] }] }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['back'] }] }, true],
    [{ matchExpressions: [{ key: 'zone', operator: 'NotIn', values: ['a'] }] }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, true],
    [{ matchExpressions: [{ key: 'zone', operator: 'Exists' }] }, false],
    [{ matchExpressions: [{ key: 'zone', operator: 'DoesNotExist' }] }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'Gt', values: ['1'] }] }, false],
  ])('%j matches app=web,tier=front: %s', (selector, want) => {
    expect(selectorMatches(selector, labels)).toBe(want);
  });
});

describe('namespaces and NetworkPolicies', () => {
  it('adds the kubernetes.io/metadata.name label to rendered namespaces', () => {
    const ns: Manifest = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'app', labels: { team: 'a' } } };
    expect(namespaceLabels([ns]).get('app')).toEqual({ team: 'a', 'kubernetes.io/metadata.name': 'app' });
  });

  it('defaults policyTypes to Ingress, plus Egress when there are egress rules', () => {
    expect(policyTypes(obj('NetworkPolicy', 'p', { spec: {} }))).toEqual(['Ingress']);
    expect(policyTypes(obj('NetworkPolicy', 'p', { spec: { egress: [] } }))).toEqual(['Ingress', 'Egress']);
    expect(policyTypes(obj('NetworkPolicy', 'p', { spec: { policyTypes: ['Egress'] } }))).toEqual(['Egress']);
  });
});

describe('replicas', () => {
  const web = obj('Deployment', 'web', { spec: { replicas: 2 } });
  const hpa = obj('HorizontalPodAutoscaler', 'web', {
    spec: { scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' }, maxReplicas: 5 },
  });
  const keda = obj('ScaledObject', 'web', { spec: { scaleTargetRef: { name: 'web' } } });

  it('reads HPA and KEDA targets and ranges with their defaults', () => {
    expect(autoscalers([hpa, keda]).map(({ object, ...a }) => ({ kind: object.kind, ...a }))).toEqual([
      {
        kind: 'HorizontalPodAutoscaler',
        targetKind: 'Deployment',
        targetName: 'web',
        targetGroup: 'apps',
        min: 1,
        max: 5,
      },
      { kind: 'ScaledObject', targetKind: 'Deployment', targetName: 'web', targetGroup: 'apps', min: 0, max: 100 },
    ]);
  });

  it('takes the range from the autoscaler, else spec.replicas, else 1', () => {
    expect(replicaRange([web, hpa], web)).toMatchObject({ min: 1, max: 5, autoscaled: true });
    expect(replicaRange([web], web)).toEqual({ min: 2, max: 2, autoscaled: false });
    expect(replicaRange([], obj('StatefulSet', 's'))).toEqual({ min: 1, max: 1, autoscaled: false });
    expect(replicaRange([], obj('Job', 'j'))).toBeUndefined();
  });

  it.each([
    [{ maxSurge: 2 }, 4, 2],
    [{ maxSurge: '50%' }, 3, 2],
    [{}, 4, 1],
    [{}, 5, 2],
  ])('rolloutSurge with rollingUpdate %j at %i replicas is %i', (rollingUpdate, replicas, want) => {
    expect(rolloutSurge(obj('Deployment', 'd', { spec: { strategy: { rollingUpdate } } }), replicas)).toBe(want);
  });
});

describe('podRequests', () => {
  const parse = { cpu: parseCpu, memory: parseMemory };
  const c = (cpu?: string, memory?: string) => ({ resources: { requests: { cpu, memory } } });

  it('sums the containers, and takes the largest init container when it is larger', () => {
    expect(podRequests({ containers: [c('100m', '64Mi'), c('50m')] }, parse)).toEqual({
      cpu: 150,
      memory: 64 * 1024 ** 2,
    });
    expect(podRequests({ containers: [c('100m', '64Mi')], initContainers: [c('1', '32Mi')] }, parse)).toEqual({
      cpu: 1000,
      memory: 64 * 1024 ** 2,
    });
    expect(podRequests({}, parse)).toEqual({ cpu: 0, memory: 0 });
  });
});

describe('jsonEqual', () => {
  it('ignores key order and nothing else', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(jsonEqual([1, 2], [2, 1])).toBe(false);
    expect(jsonEqual(null, {})).toBe(false);
  });
});
