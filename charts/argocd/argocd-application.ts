import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';

/** Props of {@link ArgoCdApplication}. */
export interface ArgoCdApplicationProps {
  /** Application name. */
  readonly name: string;
  /** Namespace Argo CD runs in. */
  readonly argocdNamespace: string;
  /** AppProject the application belongs to. */
  readonly project: string;
  /** Repository URL. */
  readonly repoURL: string;
  /** Branch, tag or commit. */
  readonly targetRevision: string;
  /** Folder in the repository holding the rendered YAML. */
  readonly path: string;
  /** Destination cluster (server URL or registered name) and default namespace. */
  readonly destination: { readonly server?: string; readonly name?: string; readonly namespace: string };
  /** Let automated sync delete what left git. */
  readonly prune: boolean;
  /** Let automated sync revert drift made in the cluster. */
  readonly selfHeal: boolean;
  /**
   * Sync the folder's subfolders too.
   * @default true
   */
  readonly recurse?: boolean;
  /** Labels for the Application. */
  readonly labels: Readonly<Record<string, string>>;
  /**
   * Argo CD notifications subscriptions: trigger (e.g. on-sync-failed) to service to recipient.
   * @default - no subscriptions
   */
  readonly notifications?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

/**
 * An Argo CD Application that keeps one folder of this repository applied: automated sync,
 * retry with exponential backoff (each retry takes the newest commit), and the resources finalizer so deleting the Application
 * deletes what it deployed.
 */
export class ArgoCdApplication extends Construct {
  constructor(scope: Construct, id: string, props: ArgoCdApplicationProps) {
    super(scope, id);
    const { destination } = props;
    if ((destination.server === undefined) === (destination.name === undefined)) {
      throw new Error(`Application ${props.name}: destination needs exactly one of server or name`);
    }
    if (props.path === '' || props.path.startsWith('/') || props.path.split('/').includes('..')) {
      throw new Error(`Application ${props.name}: path '${props.path}' must be relative to the repository root`);
    }
    const annotations: Record<string, string> = {};
    for (const [trigger, services] of Object.entries(props.notifications ?? {})) {
      for (const [service, recipient] of Object.entries(services)) {
        annotations[`notifications.argoproj.io/subscribe.${trigger}.${service}`] = recipient;
      }
    }
    new ApiObject(this, 'application', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Application',
      metadata: {
        name: props.name,
        namespace: props.argocdNamespace,
        labels: { ...props.labels },
        ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
        finalizers: ['resources-finalizer.argocd.argoproj.io'],
      },
      spec: {
        project: props.project,
        source: {
          repoURL: props.repoURL,
          targetRevision: props.targetRevision,
          path: props.path,
          directory: { recurse: props.recurse ?? true },
        },
        destination: { ...destination },
        revisionHistoryLimit: 10,
        syncPolicy: {
          automated: { prune: props.prune, selfHeal: props.selfHeal },
          syncOptions: ['CreateNamespace=false', 'PrunePropagationPolicy=foreground', 'PruneLast=true'],
          // refresh: a retry syncs the branch's newest commit, not the one that failed, so a fix or
          // a revert pushed while a broken commit is being retried lands at the next retry.
          retry: { limit: 5, refresh: true, backoff: { duration: '10s', factor: 2, maxDuration: '5m' } },
        },
      },
    });
  }
}
