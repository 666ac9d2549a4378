/* eslint-disable @typescript-eslint/no-explicit-any -- tests break manifests on purpose */
import { describe, expect, it } from 'vitest';
import { committed, pick, withReplaced } from './fixtures';
import { formatViolations, rbacRule, runRule } from '../../src/policy/rules';
import type { Manifest } from '../../src/model/objects';

const env = committed('prod').env;
const check = (objects: readonly Manifest[]) => formatViolations(runRule(rbacRule, objects, env).violations);

describe('rule rbac', () => {
  it('passes on the committed prod RBAC', () => {
    expect(check(committed('prod').objects)).toBe('');
  });

  it('fails on a wildcard verb', () => {
    const role: any = pick('prod', 'Role', 'executor-launcher');
    role.rules[0].verbs = ['*'];
    expect(check(withReplaced('prod', role))).toContain('rules[0].verbs contains a wildcard');
  });

  it('fails on a wildcard resource', () => {
    const role: any = pick('prod', 'Role', 'executor-launcher');
    role.rules[0].resources = ['*'];
    expect(check(withReplaced('prod', role))).toContain('rules[0].resources contains a wildcard');
  });

  it('fails on pods/exec and on secrets', () => {
    const role: any = pick('prod', 'Role', 'executor-launcher');
    role.rules.push({ apiGroups: [''], resources: ['pods/exec'], verbs: ['create'] });
    role.rules.push({ apiGroups: [''], resources: ['secrets'], verbs: ['get'] });
    const out = check(withReplaced('prod', role));
    expect(out).toContain('grants core/pods/exec, which is not on the allow-list');
    expect(out).toContain("grants 'get' on secrets; allowed: create");
  });

  it('fails on a verb beyond the allow-list', () => {
    const role: any = pick('prod', 'Role', 'executor-launcher');
    role.rules[0].verbs.push('patch');
    expect(check(withReplaced('prod', role))).toContain("grants 'patch' on pods");
  });

  it('fails on a Role outside the executor namespace', () => {
    const role: any = pick('prod', 'Role', 'executor-launcher');
    role.metadata.namespace = 'coderun';
    expect(check([...committed('prod').objects, role])).toContain('Roles may only live in the executor namespace');
  });

  it('fails on cluster-wide grants', () => {
    const crb: any = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'middleware-admin' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name: 'middleware', namespace: 'coderun' }],
    };
    const out = check([...committed('prod').objects, crb]);
    expect(out).toContain('ClusterRoleBindings grant cluster-wide power');
    expect(out).toContain('refers to ClusterRole cluster-admin');
  });

  it('fails when a binding refers to a missing Role or ServiceAccount', () => {
    const rb: any = pick('prod', 'RoleBinding', 'executor-launcher-middleware');
    rb.roleRef.name = 'pod-creator-role';
    rb.subjects[0].name = 'middleware-serviceaccount';
    const out = check(withReplaced('prod', rb));
    expect(out).toContain('refers to Role pod-creator-role, which is not rendered');
    expect(out).toContain('binds ServiceAccount coderun/middleware-serviceaccount, which is not rendered');
  });

  it('fails on escalation verbs', () => {
    const role: any = pick('prod', 'Role', 'executor-launcher');
    role.rules.push({ apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'], verbs: ['bind', 'escalate'] });
    role.rules.push({ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['impersonate'] });
    const out = check(withReplaced('prod', role));
    expect(out).toContain("rules[3] grants 'bind', which lets the holder grant itself more");
    expect(out).toContain("rules[3] grants 'escalate'");
    expect(out).toContain("rules[4] grants 'impersonate'");
  });

  it('fails on every way into running pods, nodes or tokens', () => {
    const role: any = pick('prod', 'Role', 'executor-launcher');
    role.rules.push({
      apiGroups: [''],
      resources: [
        'pods/attach',
        'pods/portforward',
        'pods/ephemeralcontainers',
        'serviceaccounts/token',
        'nodes/proxy',
      ],
      verbs: ['create', 'get'],
    });
    const out = check(withReplaced('prod', role));
    for (const r of [
      'pods/attach',
      'pods/portforward',
      'pods/ephemeralcontainers',
      'serviceaccounts/token',
      'nodes/proxy',
    ]) {
      expect(out).toContain(`rules[3] grants ${r}, a way into running pods, nodes or tokens`);
    }
  });

  it('fails on reading secrets, whatever the verb', () => {
    const role: any = pick('prod', 'Role', 'executor-launcher');
    role.rules.push({ apiGroups: [''], resources: ['secrets'], verbs: ['watch'] });
    expect(check(withReplaced('prod', role))).toContain('rules[3] can read secrets (get, list or watch)');
  });

  it('fails when pods may be created outside the executor namespace, directly or through a controller', () => {
    const role: any = pick('prod', 'Role', 'executor-launcher');
    role.metadata.namespace = 'coderun';
    role.metadata.name = 'app-launcher';
    role.rules.push({ apiGroups: ['batch'], resources: ['jobs'], verbs: ['create'] });
    const out = check([...committed('prod').objects, role]);
    expect(out).toContain(
      'rules[0] creates pods; pods may be created only in coderun-executors, through a namespaced Role',
    );
    expect(out).toContain('rules[3] creates pods');
  });

  it('fails when a ServiceAccount of the executor namespace is bound', () => {
    const rb: any = pick('prod', 'RoleBinding', 'executor-launcher-middleware');
    rb.subjects.push({ kind: 'ServiceAccount', name: 'executor', namespace: 'coderun-executors' });
    const out = check(withReplaced('prod', rb));
    expect(out).toContain(
      'binds ServiceAccount coderun-executors/executor: nothing in the executor namespace may hold API permissions',
    );
    expect(out).toContain('lets coderun-executors/executor create pods; only the middleware (coderun/middleware) may');
  });

  it('fails when anyone but the middleware may create pods', () => {
    const rb: any = pick('prod', 'RoleBinding', 'executor-launcher-middleware');
    rb.subjects[0].name = 'frontend';
    expect(check(withReplaced('prod', rb))).toContain(
      'lets coderun/frontend create pods; only the middleware (coderun/middleware) may',
    );
  });

  it('fails on a RoleBinding to cluster-admin', () => {
    const rb: any = pick('prod', 'RoleBinding', 'executor-launcher-middleware');
    rb.roleRef = { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' };
    expect(check(withReplaced('prod', rb))).toContain(
      'RoleBinding coderun-executors/executor-launcher-middleware: refers to cluster-admin',
    );
  });
});
