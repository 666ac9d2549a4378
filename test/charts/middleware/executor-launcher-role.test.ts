import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { App, Chart } from 'cdk8s';
import { loadEnvironment, type EnvironmentConfig } from '../../../apps/environment';
import { ExecutorLauncherRole } from '../../../charts/middleware/executor-launcher-role';
import { middleware } from '../../../charts/middleware/definition';

/* eslint-disable @typescript-eslint/no-explicit-any */

const root = path.resolve(__dirname, '../../..');
const staging = loadEnvironment(root, 'staging');

function render(env: EnvironmentConfig, name?: string): { objs: any[]; role: ExecutorLauncherRole } {
  const app = new App();
  const chart = new Chart(app, 'test', { disableResourceNameHashes: true });
  const role = new ExecutorLauncherRole(chart, 'launcher', {
    platform: env,
    serviceAccountName: middleware.name,
    ...(name ? { name } : {}),
  });
  return { objs: chart.toJson() as any[], role };
}

function one(objs: any[], kind: string): any {
  const found = objs.filter((o) => o.kind === kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0];
}

const custom: EnvironmentConfig = { ...staging, namespaces: { app: 'apps-ns', executor: 'jobs-ns' } };

describe('ExecutorLauncherRole', () => {
  it('renders exactly one namespaced Role and one RoleBinding, nothing cluster-wide', () => {
    const { objs } = render(staging);
    expect(objs.map((o) => o.kind).sort()).toEqual(['Role', 'RoleBinding']);
    for (const o of objs) expect(o.metadata.namespace).toBe(staging.namespaces.executor);
  });

  it('grants only pods, podtemplates and secrets in the core group', () => {
    const rules = one(render(staging).objs, 'Role').rules as any[];
    const resources = rules.flatMap((r) => r.resources as string[]);
    expect(new Set(resources)).toEqual(new Set(['pods', 'podtemplates', 'secrets']));
    for (const r of rules) expect(r.apiGroups).toEqual(['']);
  });

  it('lets the middleware create, read, watch and delete pods, only read podtemplates, only create secrets', () => {
    const rules = one(render(staging).objs, 'Role').rules as any[];
    const verbsOf = (resource: string) =>
      rules
        .filter((r) => (r.resources as string[]).includes(resource))
        .flatMap((r) => r.verbs as string[])
        .sort();
    expect(verbsOf('pods')).toEqual(['create', 'delete', 'get', 'list', 'watch']);
    expect(verbsOf('podtemplates')).toEqual(['get', 'list']);
    // The job's ticket Secret: create only, never read, list, change or delete one.
    expect(verbsOf('secrets')).toEqual(['create']);
  });

  it('has no wildcard, no subresource (exec, log…), no reading of secrets and no escalation verbs', () => {
    const rules = one(render(staging).objs, 'Role').rules as any[];
    for (const r of rules) {
      for (const field of ['apiGroups', 'resources', 'verbs'] as const) {
        expect(r[field] as string[], field).not.toContain('*');
      }
      for (const res of r.resources as string[]) expect(res).not.toMatch(/\//);
      if ((r.resources as string[]).includes('secrets')) expect(r.verbs).toEqual(['create']);
      for (const v of r.verbs as string[])
        expect(['bind', 'escalate', 'impersonate', 'patch', 'update']).not.toContain(v);
      expect(r).not.toHaveProperty('resourceNames');
    }
  });

  it('binds the Role to the middleware ServiceAccount in the app namespace', () => {
    const { objs, role } = render(custom);
    const binding = one(objs, 'RoleBinding');
    expect(binding.metadata.namespace).toBe('jobs-ns');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.roleName });
    expect(binding.subjects).toHaveLength(1);
    expect(binding.subjects[0]).toMatchObject({ kind: 'ServiceAccount', name: 'middleware', namespace: 'apps-ns' });
    expect(one(objs, 'Role').metadata.namespace).toBe('jobs-ns');
  });

  it('names the Role executor-launcher by default, and the binding after it and the ServiceAccount', () => {
    const { objs, role } = render(staging);
    expect(role.roleName).toBe('executor-launcher');
    expect(one(objs, 'Role').metadata.name).toBe('executor-launcher');
    expect(one(objs, 'RoleBinding').metadata.name).toBe('executor-launcher-middleware');
  });

  it('uses a custom name for the Role and binding', () => {
    const { objs, role } = render(staging, 'job-starter');
    expect(role.roleName).toBe('job-starter');
    expect(one(objs, 'Role').metadata.name).toBe('job-starter');
    expect(one(objs, 'RoleBinding').roleRef.name).toBe('job-starter');
    expect(one(objs, 'RoleBinding').metadata.name).toBe('job-starter-middleware');
  });
});
