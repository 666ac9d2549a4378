import { describe, it, expect } from 'vitest';
import { App, Chart } from 'cdk8s';
import { ArgoCdProject, type ArgoCdProjectProps } from '../../../charts/argocd/argocd-project';

/* eslint-disable @typescript-eslint/no-explicit-any */

const base: ArgoCdProjectProps = {
  name: 'coderun-staging',
  argocdNamespace: 'argocd',
  description: 'Code-execution platform, staging',
  sourceRepo: 'https://github.com/coderun-platform/coderun-gitops.git',
  destinations: [
    { name: 'staging', namespace: 'coderun' },
    { name: 'staging', namespace: 'coderun-executors' },
  ],
  clusterResources: [{ group: '', kind: 'Namespace' }],
  namespaceResources: [
    { group: 'apps', kind: 'StatefulSet' },
    { group: '', kind: 'Service' },
    { group: 'apps', kind: 'Deployment' },
    { group: 'rbac.authorization.k8s.io', kind: 'Role' },
  ],
  labels: { 'app.kubernetes.io/name': 'coderun-staging' },
};

function render(props: Partial<ArgoCdProjectProps> = {}): { obj: any; project: ArgoCdProject } {
  const app = new App();
  const chart = new Chart(app, 'test', { disableResourceNameHashes: true });
  const project = new ArgoCdProject(chart, 'project', { ...base, ...props });
  const objs = chart.toJson() as any[];
  expect(objs).toHaveLength(1);
  return { obj: objs[0], project };
}

describe('ArgoCdProject', () => {
  it('renders an AppProject in the Argo CD namespace with the resources finalizer', () => {
    const { obj, project } = render();
    expect(obj.apiVersion).toBe('argoproj.io/v1alpha1');
    expect(obj.kind).toBe('AppProject');
    expect(obj.metadata.name).toBe('coderun-staging');
    expect(obj.metadata.namespace).toBe('argocd');
    expect(obj.metadata.finalizers).toEqual(['resources-finalizer.argocd.argoproj.io']);
    expect(obj.metadata.labels).toEqual(base.labels);
    expect(project.projectName).toBe('coderun-staging');
  });

  it('allows exactly one source repository and the given destinations', () => {
    const { obj } = render();
    expect(obj.spec.sourceRepos).toEqual([base.sourceRepo]);
    expect(obj.spec.destinations).toEqual(base.destinations);
    expect(JSON.stringify(obj.spec)).not.toContain('"*"');
  });

  it('whitelists only the given kinds, sorted by group/kind', () => {
    const { obj } = render();
    expect(obj.spec.clusterResourceWhitelist).toEqual([{ group: '', kind: 'Namespace' }]);
    expect(obj.spec.namespaceResourceWhitelist).toEqual([
      { group: '', kind: 'Service' },
      { group: 'apps', kind: 'Deployment' },
      { group: 'apps', kind: 'StatefulSet' },
      { group: 'rbac.authorization.k8s.io', kind: 'Role' },
    ]);
  });

  it('renders an empty cluster whitelist as an empty list (nothing cluster-wide)', () => {
    expect(render({ clusterResources: [] }).obj.spec.clusterResourceWhitelist).toEqual([]);
  });

  it('does not reorder the caller’s arrays', () => {
    const namespaceResources = [...base.namespaceResources];
    render({ namespaceResources });
    expect(namespaceResources).toEqual(base.namespaceResources);
  });

  it('warns about orphaned resources', () => {
    expect(render().obj.spec.orphanedResources).toEqual({ warn: true });
  });

  it('fails for an empty destination list', () => {
    expect(() => render({ destinations: [] })).toThrow('AppProject coderun-staging: destinations must not be empty');
  });

  it('fails for a destination with both server and name, naming its namespace', () => {
    expect(() => render({ destinations: [{ server: 'https://k8s', name: 'staging', namespace: 'coderun' }] })).toThrow(
      'AppProject coderun-staging: destination coderun needs exactly one of server or name',
    );
  });

  it('fails for a destination with neither server nor name', () => {
    expect(() => render({ destinations: [{ server: 'https://k8s', namespace: 'a' }, { namespace: 'b' }] })).toThrow(
      'destination b needs exactly one of server or name',
    );
  });
});
