/**
 * Cluster suite scenario: the API server of the declared version accepts every object of dist/<env>
 * and argocd/<env>; CRD CEL rules are evaluated. On the environment's shared twin
 * (./scenario.ts); facts go to .build/twin-<env>-acceptance.md.
 */
import { expect, it } from 'vitest';
import { twinScenario } from './scenario';

export const acceptanceScenario = twinScenario('acceptance', (s) => {
  it(`the API server of the declared version accepts every object of dist/${s.envName} and argocd/${s.envName}`, async () => {
    const version = await s.kube.must<{ gitVersion: string }>('GET', '/version');
    expect(version.gitVersion.startsWith(`v${s.twin.env.kubernetesVersion}.`)).toBe(true);
    const refused = s.twin.refused.map((a) => `${a.id} (${a.file}): HTTP ${a.status}: ${a.message}`);
    expect(refused).toEqual([]);
    expect(s.twin.applied.length).toBe(s.objects.length);

    // CRD validation rules (x-kubernetes-validations) run in this API server: a probe that breaks one is refused.
    const probe = await s.kube.req(
      'POST',
      `/apis/gateway.networking.k8s.io/v1/namespaces/${s.ns().app}/httproutes?dryRun=All&fieldValidation=Strict`,
      {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'twin-cel-probe', namespace: s.ns().app },
        spec: { rules: [{ matches: [{ path: { type: 'PathPrefix', value: 'no-leading-slash' } }] }] },
      },
    );
    expect(probe.status).toBe(422);
    expect(probe.message).toContain('must be an absolute path');
    const customKinds = [
      ...new Set(
        s.objects
          .filter((o) => !/^(v1|[a-z.]*k8s\.io\/v1|apps\/v1|policy\/v1|autoscaling\/v2)$/.test(String(o.apiVersion)))
          .map((o) => `${String(o.kind)} (${String(o.apiVersion)})`),
      ),
    ];
    s.facts.section('Acceptance', [
      `- API server ${version.gitVersion} accepted ${s.twin.applied.length} of ${s.twin.applied.length} objects (server-side apply, fieldValidation=Strict, in sync-wave order; waves ${[...new Set(s.twin.applied.map((a) => a.wave))].join(', ')}).`,
      `- Namespaces the objects use but do not declare, created first (Argo CD's own): ${s.twin.providedNamespaces.join(', ') || 'none'}.`,
      `- Custom resources validated against the vendored CRDs: ${customKinds.join(', ') || 'none'}.`,
      `- CRD CEL rules are evaluated: an HTTPRoute probe breaking one was refused: "${probe.message.slice(0, 160)}".`,
    ]);
  });
});
