import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { App, Chart } from 'cdk8s';
import { loadEnvironment } from '../../../apps/environment';
import { ArgoCdApplication, type ArgoCdApplicationProps } from '../../../charts/argocd/argocd-application';

/* eslint-disable @typescript-eslint/no-explicit-any */

const root = path.resolve(__dirname, '../../..');
const staging = loadEnvironment(root, 'staging');

const base: ArgoCdApplicationProps = {
  name: 'coderun-staging',
  argocdNamespace: staging.argocd.namespace,
  project: 'coderun-staging',
  repoURL: staging.argocd.repoURL,
  targetRevision: staging.argocd.targetRevision,
  path: 'dist/staging',
  destination: { name: 'staging', namespace: staging.namespaces.app },
  prune: staging.argocd.prune,
  selfHeal: staging.argocd.selfHeal,
  labels: { 'app.kubernetes.io/name': 'coderun-staging' },
};

function render(props: Partial<ArgoCdApplicationProps> = {}): any {
  const app = new App();
  const chart = new Chart(app, 'test', { disableResourceNameHashes: true });
  new ArgoCdApplication(chart, 'application', { ...base, ...props });
  const objs = chart.toJson() as any[];
  expect(objs).toHaveLength(1);
  return objs[0];
}

describe('ArgoCdApplication', () => {
  it('renders an Application in the Argo CD namespace with the resources finalizer', () => {
    const obj = render();
    expect(obj.apiVersion).toBe('argoproj.io/v1alpha1');
    expect(obj.kind).toBe('Application');
    expect(obj.metadata).toMatchObject({ name: 'coderun-staging', namespace: 'argocd', labels: base.labels });
    expect(obj.metadata.finalizers).toEqual(['resources-finalizer.argocd.argoproj.io']);
    expect(obj.spec.project).toBe('coderun-staging');
  });

  it('syncs the folder from the repository at the target revision, recursively by default', () => {
    expect(render().spec.source).toEqual({
      repoURL: staging.argocd.repoURL,
      targetRevision: 'main',
      path: 'dist/staging',
      directory: { recurse: true },
    });
    expect(render({ recurse: false }).spec.source.directory).toEqual({ recurse: false });
  });

  it('deploys to the destination by name or by server, not both', () => {
    expect(render().spec.destination).toEqual({ name: 'staging', namespace: 'coderun' });
    const byServer = render({ destination: { server: 'https://kubernetes.default.svc', namespace: 'coderun' } });
    expect(byServer.spec.destination).toEqual({ server: 'https://kubernetes.default.svc', namespace: 'coderun' });
  });

  it('syncs automatically with prune and selfHeal from the props', () => {
    expect(render().spec.syncPolicy.automated).toEqual({ prune: true, selfHeal: true });
    expect(render({ prune: false, selfHeal: false }).spec.syncPolicy.automated).toEqual({
      prune: false,
      selfHeal: false,
    });
  });

  it('retries failed syncs with exponential backoff', () => {
    const retry = render().spec.syncPolicy.retry;
    expect(retry.limit).toBeGreaterThan(0);
    expect(retry.backoff).toEqual({ duration: '10s', factor: 2, maxDuration: '5m' });
    expect(retry.backoff.factor).toBeGreaterThan(1);
  });

  it('never creates namespaces and prunes last', () => {
    const opts = render().spec.syncPolicy.syncOptions as string[];
    expect(opts).toContain('CreateNamespace=false');
    expect(opts).toContain('PruneLast=true');
  });

  it('fails when the destination has both server and name', () => {
    expect(() =>
      render({ destination: { server: 'https://kubernetes.default.svc', name: 'staging', namespace: 'coderun' } }),
    ).toThrow('Application coderun-staging: destination needs exactly one of server or name');
  });

  it('fails when the destination has neither server nor name', () => {
    expect(() => render({ destination: { namespace: 'coderun' } })).toThrow(
      'destination needs exactly one of server or name',
    );
  });

  it.each(['/dist/staging', '../other-repo', 'dist/../../etc'])(
    'fails for the non-relative path %j, naming it',
    (p) => {
      expect(() => render({ path: p })).toThrow(
        `Application coderun-staging: path '${p}' must be relative to the repository root`,
      );
    },
  );
});
