import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { App, Chart } from 'cdk8s';
import { loadEnvironment, type EnvironmentConfig } from '../../../apps/environment';
import { PriorityClasses, PRIORITY } from '../../../charts/namespaces/priority-classes';
import { SchemaValidator } from '../../support/schema-validator';

/* eslint-disable @typescript-eslint/no-explicit-any */

const root = path.resolve(__dirname, '../../..');
const dev = loadEnvironment(root, 'dev');
const prod = loadEnvironment(root, 'prod');
const validator = new SchemaValidator({ kubernetesVersions: ['1.28', '1.30', '1.33'] });

function render(env: EnvironmentConfig): any[] {
  const app = new App();
  const chart = new Chart(app, 'test', { disableResourceNameHashes: true });
  new PriorityClasses(chart, 'priorities', { platform: env });
  return chart.toJson() as any[];
}

function byName(objs: any[], name: string): any {
  const found = objs.filter((o) => o.metadata.name === name);
  expect(found, name).toHaveLength(1);
  return found[0];
}

describe('PriorityClasses', () => {
  it('renders three cluster-scoped PriorityClasses: messaging, service, executor', () => {
    const objs = render(prod);
    expect(objs.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata.name}`)).toEqual([
      'scheduling.k8s.io/v1 PriorityClass coderun-messaging',
      'scheduling.k8s.io/v1 PriorityClass coderun-service',
      'scheduling.k8s.io/v1 PriorityClass coderun-executor',
    ]);
    for (const o of objs) expect(o.metadata).not.toHaveProperty('namespace');
  });

  it.each(['1.28', '1.30', '1.33'] as const)('is valid for Kubernetes %s', (version) => {
    for (const o of render({ ...prod, kubernetesVersion: version })) expect(validator.validate(o, version)).toEqual([]);
  });

  it('orders the tiers strictly: messaging > service > executor', () => {
    const objs = render(prod);
    const value = (name: string): number => byName(objs, name).value;
    const messaging = value('coderun-messaging');
    const service = value('coderun-service');
    const executor = value('coderun-executor');
    expect(messaging).toBeGreaterThan(service);
    expect(service).toBeGreaterThan(executor);
    expect(executor).toBeGreaterThan(0);
    for (const v of [messaging, service, executor]) {
      expect(Number.isInteger(v)).toBe(true);
      // Values above one billion are reserved for system-critical pods.
      expect(v).toBeLessThanOrEqual(1_000_000_000);
    }
  });

  it('renders the names and values of PRIORITY, which workloads refer to', () => {
    const objs = render(prod);
    for (const tier of Object.values(PRIORITY)) expect(byName(objs, tier.name).value, tier.name).toBe(tier.value);
  });

  it('executors never preempt; the other tiers may preempt lower priorities', () => {
    const objs = render(prod);
    expect(byName(objs, 'coderun-executor').preemptionPolicy).toBe('Never');
    expect(byName(objs, 'coderun-messaging').preemptionPolicy).toBe('PreemptLowerPriority');
    expect(byName(objs, 'coderun-service').preemptionPolicy).toBe('PreemptLowerPriority');
  });

  it('none is the global default', () => {
    for (const o of render(prod)) expect(o.globalDefault, o.metadata.name).toBe(false);
  });

  it('describes every tier', () => {
    for (const o of render(prod)) expect(o.description, o.metadata.name).toMatch(/\S{3,}/);
  });

  it.each([
    ['dev', dev],
    ['prod', prod],
  ] as const)('%s: labels them as the scheduling component of the environment', (name, env) => {
    for (const o of render(env)) {
      expect(o.metadata.labels).toEqual({
        'app.kubernetes.io/name': 'coderun',
        'app.kubernetes.io/instance': `coderun-${name}`,
        'app.kubernetes.io/component': 'scheduling',
        'app.kubernetes.io/part-of': 'coderun',
        'app.kubernetes.io/managed-by': 'cdk8s',
      });
    }
  });
});
