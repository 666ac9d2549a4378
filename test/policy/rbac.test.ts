/* eslint-disable @typescript-eslint/no-explicit-any -- tests break manifests on purpose */
import { describe, expect, it } from 'vitest';
import { committed, pick, withReplaced } from './fixtures';
import { formatViolations, rbacRule, runRule } from './rules';
import type { K8sObject } from '../support/committed';

const env = committed('prod').env;
const check = (objects: readonly K8sObject[]) => formatViolations(runRule(rbacRule, objects, env).violations);

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
    expect(out).toContain('grants core/secrets, which is not on the allow-list');
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
});
