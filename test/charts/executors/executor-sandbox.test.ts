import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { App, Chart } from 'cdk8s';
import { loadEnvironment, type EnvironmentConfig } from '../../../apps/environment';
import { parseCpu, parseMemory } from '../../../src/model/quantity';
import { ExecutorSandbox } from '../../../charts/executors/executor-sandbox';
import { planPlatform } from '../../../apps/plans';

/* eslint-disable @typescript-eslint/no-explicit-any */

const root = path.resolve(__dirname, '../../..');
const envs = {
  dev: loadEnvironment(root, 'dev'),
  staging: loadEnvironment(root, 'staging'),
  prod: loadEnvironment(root, 'prod'),
};

function render(env: EnvironmentConfig, serviceAccountName?: string): { objs: any[]; sandbox: ExecutorSandbox } {
  const app = new App();
  const chart = new Chart(app, 'test', { disableResourceNameHashes: true });
  const plan = planPlatform(env).executors;
  const sandbox = new ExecutorSandbox(chart, 'sandbox', {
    plan: serviceAccountName ? { ...plan, serviceAccountName } : plan,
    platform: env,
  });
  return { objs: chart.toJson() as any[], sandbox };
}

function one(objs: any[], kind: string): any {
  const found = objs.filter((o) => o.kind === kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0];
}

function withExecutors(env: EnvironmentConfig, patch: Partial<EnvironmentConfig['executors']>): EnvironmentConfig {
  return { ...env, executors: { ...env.executors, ...patch } };
}

describe('ExecutorSandbox', () => {
  it('renders a ServiceAccount, a ResourceQuota and a LimitRange, all in the executor namespace', () => {
    const { objs } = render(envs.staging);
    expect(objs.map((o) => o.kind).sort()).toEqual(['LimitRange', 'ResourceQuota', 'ServiceAccount']);
    for (const o of objs) expect(o.metadata.namespace).toBe('coderun-executors');
  });

  it('gives the executor ServiceAccount no token', () => {
    const { objs, sandbox } = render(envs.prod);
    const sa = one(objs, 'ServiceAccount');
    expect(sa.automountServiceAccountToken).toBe(false);
    expect(sa.metadata.name).toBe('executor');
    expect(sandbox.serviceAccountName).toBe('executor');
  });

  it('uses a custom ServiceAccount name', () => {
    const { objs, sandbox } = render(envs.prod, 'runner');
    expect(one(objs, 'ServiceAccount').metadata.name).toBe('runner');
    expect(sandbox.serviceAccountName).toBe('runner');
  });

  it.each([
    // env, pods, cpu (jobs × per-job cpu), memory (jobs × per-job memory)
    ['dev', '2', '1', '512Mi'], // 2 × 500m, 2 × 256Mi
    ['staging', '4', '2', '2Gi'], // 4 × 500m, 4 × 512Mi
    ['prod', '24', '24', '24Gi'], // 24 × 1, 24 × 1Gi
  ] as const)('%s: the quota admits maxConcurrentJobs jobs of the per-job size', (name, pods, cpu, memory) => {
    const quota = one(render(envs[name]).objs, 'ResourceQuota');
    expect(quota.spec.hard).toEqual({
      pods,
      'requests.cpu': cpu,
      'limits.cpu': cpu,
      'requests.memory': memory,
      'limits.memory': memory,
    });
  });

  it('multiplies non-round sizes exactly (3 × 300m, 3 × 768Mi)', () => {
    const env = withExecutors(envs.staging, { maxConcurrentJobs: 3, cpu: '300m', memory: '768Mi' });
    const hard = one(render(env).objs, 'ResourceQuota').spec.hard;
    expect(hard.pods).toBe('3');
    expect(hard['requests.cpu']).toBe('900m');
    expect(hard['requests.memory']).toBe('2304Mi');
  });

  it.each(Object.entries(envs))('%s: quota = maxConcurrentJobs × per-job size, as quantities', (_n, env) => {
    const hard = one(render(env).objs, 'ResourceQuota').spec.hard;
    const n = env.executors.maxConcurrentJobs;
    expect(parseCpu(hard['limits.cpu'])).toBe(parseCpu(env.executors.cpu) * n);
    expect(parseMemory(hard['limits.memory'])).toBe(parseMemory(env.executors.memory) * n);
    expect(hard['requests.cpu']).toBe(hard['limits.cpu']);
    expect(hard['requests.memory']).toBe(hard['limits.memory']);
  });

  it('gives every container the per-job size by default and refuses anything larger', () => {
    const lr = one(render(envs.prod).objs, 'LimitRange');
    const size = { cpu: '1', memory: '1Gi' };
    expect(lr.spec.limits).toEqual([{ type: 'Container', default: size, defaultRequest: size, max: size }]);
  });

  it('gives the executor namespace its own copy of the NATS CA when NATS TLS is on (prod)', () => {
    const { objs } = render(envs.prod);
    const cert = one(objs, 'Certificate');
    expect(cert.apiVersion).toBe('cert-manager.io/v1');
    expect(cert.metadata).toMatchObject({ name: 'nats-ca', namespace: 'coderun-executors' });
    expect(cert.spec.secretName).toBe('nats-ca');
    expect(cert.spec.usages).toEqual(['client auth']);
    expect(cert.spec.issuerRef).toEqual({ group: 'cert-manager.io', ...envs.prod.services.nats.tls?.issuer });
  });

  it('renders no certificate without NATS TLS (staging)', () => {
    expect(render(envs.staging).objs.some((o) => o.kind === 'Certificate')).toBe(false);
  });

  it.each([0, -1, 1.5])('fails for maxConcurrentJobs %s, naming the value', (maxConcurrentJobs) => {
    expect(() => render(withExecutors(envs.staging, { maxConcurrentJobs }))).toThrow(
      `executors.maxConcurrentJobs (${maxConcurrentJobs})`,
    );
  });
});
