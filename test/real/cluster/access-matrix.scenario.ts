/**
 * Cluster suite scenario: real SubjectAccessReviews for every ServiceAccount against what the
 * committed Roles grant. On the environment's shared twin (./scenario.ts); facts go to
 * .build/twin-<env>-access-matrix.md.
 */
import { expect, it } from 'vitest';
import { twinScenario } from './scenario';

export const accessMatrixScenario = twinScenario('access-matrix', (s) => {
  it('access matrix: the middleware may do exactly what its Role allows, nobody else creates pods, nobody reads Secrets', async () => {
    type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };
    const roles = s.byKind('Role');
    const bindings = s.byKind('RoleBinding');
    const accounts = new Set<string>();
    for (const sa of s.byKind('ServiceAccount')) accounts.add(`${sa.metadata?.namespace}/${sa.metadata?.name}`);
    for (const n of [s.ns().app, s.ns().executor]) accounts.add(`${n}/default`);
    const checks: { group: string; resource: string; sub?: string; verb: string }[] = [];
    for (const verb of ['create', 'get', 'list', 'watch', 'update', 'patch', 'delete', 'deletecollection']) {
      checks.push({ group: '', resource: 'pods', verb });
    }
    checks.push(
      { group: '', resource: 'pods', sub: 'exec', verb: 'create' },
      { group: '', resource: 'pods', sub: 'log', verb: 'get' },
      { group: '', resource: 'pods', sub: 'eviction', verb: 'create' },
      { group: '', resource: 'pods', sub: 'ephemeralcontainers', verb: 'patch' },
      { group: '', resource: 'podtemplates', verb: 'get' },
      { group: '', resource: 'podtemplates', verb: 'list' },
      { group: '', resource: 'podtemplates', verb: 'update' },
      { group: '', resource: 'secrets', verb: 'get' },
      { group: '', resource: 'secrets', verb: 'list' },
      { group: '', resource: 'secrets', verb: 'watch' },
      // The middleware creates each executor job's ticket Secret, and may do nothing else with Secrets.
      { group: '', resource: 'secrets', verb: 'create' },
      { group: '', resource: 'secrets', verb: 'update' },
      { group: '', resource: 'secrets', verb: 'delete' },
      { group: '', resource: 'configmaps', verb: 'get' },
      { group: '', resource: 'serviceaccounts', sub: 'token', verb: 'create' },
      { group: '', resource: 'resourcequotas', verb: 'update' },
      { group: 'batch', resource: 'jobs', verb: 'create' },
      { group: 'apps', resource: 'deployments', verb: 'create' },
      { group: 'rbac.authorization.k8s.io', resource: 'roles', verb: 'create' },
      { group: 'rbac.authorization.k8s.io', resource: 'rolebindings', verb: 'create' },
    );
    /** What the committed Roles and RoleBindings grant `sa` in `namespace` (no ClusterRoles are rendered). */
    const expected = (sa: string, namespace: string, c: (typeof checks)[number]) => {
      const [saNs, saName] = sa.split('/');
      const resource = c.sub ? `${c.resource}/${c.sub}` : c.resource;
      return bindings.some((b) => {
        if (b.metadata?.namespace !== namespace) return false;
        const subjects = (b.subjects as { kind: string; name: string; namespace?: string }[]) ?? [];
        if (
          !subjects.some((s) => s.kind === 'ServiceAccount' && s.name === saName && (s.namespace ?? namespace) === saNs)
        )
          return false;
        const ref = b.roleRef as { kind: string; name: string };
        const role = roles.find(
          (r) => r.metadata?.namespace === namespace && r.metadata?.name === ref.name && ref.kind === 'Role',
        );
        return ((role?.rules as Rule[]) ?? []).some(
          (r) =>
            (r.apiGroups.includes(c.group) || r.apiGroups.includes('*')) &&
            (r.resources.includes(resource) || r.resources.includes('*')) &&
            (r.verbs.includes(c.verb) || r.verbs.includes('*')),
        );
      });
    };
    const namespaces = [s.ns().executor, s.ns().app, 'default', 'kube-system', ''];
    const wrong: string[] = [];
    const lines = ['| ServiceAccount | namespace | allowed (from real SubjectAccessReviews) |', '| --- | --- | --- |'];
    let reviews = 0;
    for (const sa of [...accounts].sort()) {
      const [saNs, saName] = sa.split('/');
      for (const namespace of namespaces) {
        const allowed: string[] = [];
        await Promise.all(
          checks.map(async (c) => {
            const r = await s.kube.must<{ status: { allowed: boolean } }>(
              'POST',
              '/apis/authorization.k8s.io/v1/subjectaccessreviews',
              {
                apiVersion: 'authorization.k8s.io/v1',
                kind: 'SubjectAccessReview',
                spec: {
                  user: `system:serviceaccount:${saNs}:${saName}`,
                  groups: ['system:serviceaccounts', `system:serviceaccounts:${saNs}`, 'system:authenticated'],
                  resourceAttributes: {
                    namespace,
                    group: c.group,
                    resource: c.resource,
                    ...(c.sub ? { subresource: c.sub } : {}),
                    verb: c.verb,
                  },
                },
              },
            );
            reviews++;
            const what = `${c.verb} ${c.resource}${c.sub ? `/${c.sub}` : ''}`;
            if (r.status.allowed) allowed.push(what);
            if (r.status.allowed !== (namespace !== '' && expected(sa, namespace, c))) {
              wrong.push(
                `${sa} in ${namespace || '(all namespaces)'}: ${what} is ${r.status.allowed ? 'allowed' : 'denied'}`,
              );
            }
          }),
        );
        if (allowed.length || namespace === s.ns().executor) {
          lines.push(`| ${sa} | ${namespace || '(all)'} | ${allowed.sort().join(', ') || 'nothing'} |`);
        }
      }
    }
    lines.push(
      '',
      `${reviews} SubjectAccessReviews (${checks.length} verb/resource pairs × ${namespaces.length} namespaces incl. cluster-wide × ${accounts.size} ServiceAccounts); rows omitted where nothing is allowed.`,
      `Pod creators: ${[...accounts].filter((sa) => namespaces.some((n) => n && expected(sa, n, { group: '', resource: 'pods', verb: 'create' }))).join(', ')} (in ${s.ns().executor} only). Secret creators (executor tickets): ${[...accounts].filter((sa) => namespaces.some((n) => n && expected(sa, n, { group: '', resource: 'secrets', verb: 'create' }))).join(', ')}. Secret readers: none.`,
    );
    s.facts.section('Access matrix', lines);
    expect(wrong).toEqual([]);
  });
});
