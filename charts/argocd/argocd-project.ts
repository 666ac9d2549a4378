import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';

/** A Kubernetes group and kind, as Argo CD whitelists them. */
export interface GroupKind {
  readonly group: string;
  readonly kind: string;
}

/** Where a project may deploy: one namespace in one cluster (by server URL or Argo CD cluster name). */
export interface ProjectDestination {
  readonly namespace: string;
  readonly server?: string;
  readonly name?: string;
}

/** Props of {@link ArgoCdProject}. */
export interface ArgoCdProjectProps {
  /** AppProject name. */
  readonly name: string;
  /** Namespace Argo CD runs in. */
  readonly argocdNamespace: string;
  /** One line shown in the Argo CD UI. */
  readonly description: string;
  /** The only repository the project may read. */
  readonly sourceRepo: string;
  /** The only namespaces (and cluster) it may deploy to. */
  readonly destinations: readonly ProjectDestination[];
  /** Cluster-scoped kinds it may manage; nothing else cluster-wide. */
  readonly clusterResources: readonly GroupKind[];
  /** Namespaced kinds it may manage. */
  readonly namespaceResources: readonly GroupKind[];
  /** Labels for the AppProject. */
  readonly labels: Readonly<Record<string, string>>;
}

/** An Argo CD AppProject that allows one repository, given namespaces and given kinds only. */
export class ArgoCdProject extends Construct {
  /** The AppProject name. */
  public readonly projectName: string;

  constructor(scope: Construct, id: string, props: ArgoCdProjectProps) {
    super(scope, id);
    if (props.destinations.length === 0) throw new Error(`AppProject ${props.name}: destinations must not be empty`);
    for (const d of props.destinations) {
      if ((d.server === undefined) === (d.name === undefined)) {
        throw new Error(`AppProject ${props.name}: destination ${d.namespace} needs exactly one of server or name`);
      }
    }
    this.projectName = props.name;
    const sortKinds = (kinds: readonly GroupKind[]) =>
      [...kinds].sort((a, b) => `${a.group}/${a.kind}`.localeCompare(`${b.group}/${b.kind}`));
    new ApiObject(this, 'project', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AppProject',
      metadata: {
        name: props.name,
        namespace: props.argocdNamespace,
        labels: { ...props.labels },
        finalizers: ['resources-finalizer.argocd.argoproj.io'],
      },
      spec: {
        description: props.description,
        sourceRepos: [props.sourceRepo],
        destinations: props.destinations.map((d) => ({ ...d })),
        clusterResourceWhitelist: sortKinds(props.clusterResources),
        namespaceResourceWhitelist: sortKinds(props.namespaceResources),
        orphanedResources: { warn: true },
      },
    });
  }
}
