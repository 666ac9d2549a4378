/**
 * The Argo CD component: the objects of argocd/<env>/, its AppProject and Application, and the
 * bootstrap pair that keeps argocd/<env>/ itself applied. Its AppProject allows exactly the kinds
 * the platform renders, so it is built from the platform's objects.
 */
import { App, Chart } from 'cdk8s';
import type { PlatformConfig } from '../../src/model/platform';
import { CLUSTER_SCOPED_KINDS, type Manifest } from '../../src/model/objects';
import { ArgoCdApplication } from './argocd-application';
import { ArgoCdProject, type GroupKind } from './argocd-project';
import { PART_OF } from '../common/pod-spec';
import type { ArgoCdConfig } from './schema';

/** The AppProject and Application of an environment, plus the bootstrap pair applied once by hand. */
export function renderArgoCd(env: PlatformConfig, a: ArgoCdConfig, platform: readonly Manifest[]): Manifest[] {
  const app = new App({ outdir: '.build/unused' });
  const chart = new Chart(app, 'argocd', { disableResourceNameHashes: true });
  const name = `${PART_OF}-${env.name}`;
  const labels = {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/instance': name,
    'app.kubernetes.io/part-of': PART_OF,
    'app.kubernetes.io/managed-by': 'cdk8s',
  };
  const destination =
    a.destination.server !== undefined ? { server: a.destination.server } : { name: a.destination.name };
  const kinds = (clusterScoped: boolean): GroupKind[] => {
    const seen = new Map<string, GroupKind>();
    for (const o of platform) {
      if (CLUSTER_SCOPED_KINDS.has(o.kind) !== clusterScoped) continue;
      const group = o.apiVersion.includes('/') ? (o.apiVersion.split('/')[0] ?? '') : '';
      seen.set(`${group}/${o.kind}`, { group, kind: o.kind });
    }
    return [...seen.values()];
  };

  new ArgoCdProject(chart, 'project', {
    name,
    argocdNamespace: a.namespace,
    description: `Code-execution platform, ${env.name}: only this repository, its two namespaces and the kinds it renders.`,
    sourceRepo: a.repoURL,
    destinations: [env.namespaces.app, env.namespaces.executor].map((namespace) => ({ ...destination, namespace })),
    clusterResources: kinds(true),
    namespaceResources: kinds(false),
    labels,
  });
  new ArgoCdApplication(chart, 'application', {
    name,
    argocdNamespace: a.namespace,
    project: name,
    repoURL: a.repoURL,
    targetRevision: a.targetRevision,
    path: `dist/${env.name}`,
    destination: { ...destination, namespace: env.namespaces.app },
    prune: a.prune,
    selfHeal: a.selfHeal,
    labels,
    notifications: {
      'on-sync-failed': a.notifications.onSyncFailed,
      'on-health-degraded': a.notifications.onHealthDegraded,
    },
  });

  // Bootstrap: applied once with kubectl; from then on Argo CD keeps argocd/<env>/ applied,
  // so changes to the project or application above reach the cluster through git.
  const bootstrap = `${name}-bootstrap`;
  const inCluster = { server: 'https://kubernetes.default.svc' };
  new ArgoCdProject(chart, 'bootstrap-project', {
    name: bootstrap,
    argocdNamespace: a.namespace,
    description: `Bootstrap of ${env.name}: manages the AppProject and Application in argocd/${env.name}/.`,
    sourceRepo: a.repoURL,
    destinations: [{ ...inCluster, namespace: a.namespace }],
    clusterResources: [],
    namespaceResources: [
      { group: 'argoproj.io', kind: 'AppProject' },
      { group: 'argoproj.io', kind: 'Application' },
    ],
    labels: { ...labels, 'app.kubernetes.io/name': bootstrap },
  });
  new ArgoCdApplication(chart, 'bootstrap-application', {
    name: bootstrap,
    argocdNamespace: a.namespace,
    project: bootstrap,
    repoURL: a.repoURL,
    targetRevision: a.targetRevision,
    path: `argocd/${env.name}`,
    recurse: false,
    destination: { ...inCluster, namespace: a.namespace },
    prune: true,
    selfHeal: true,
    labels: { ...labels, 'app.kubernetes.io/name': bootstrap },
  });
  return chart.toJson() as Manifest[];
}
