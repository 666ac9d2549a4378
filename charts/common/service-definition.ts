/**
 * What a service *is*, independent of Kubernetes objects: image contract, ports, probes,
 * and what it needs at run time; its plan adds what depends on the environment.
 */
import type { PlatformConfig } from '../../src/model/platform';
import type { AutoscalingConfig, ImageRef, Resources } from '../../src/model/schema';
import type { CanaryPlan } from './canary';

/** A named container port. Names are IANA service names (at most 15 characters). */
export interface PortDefinition {
  /** Port name, used by Services and probes. */
  readonly name: string;
  /** Port the process listens on. */
  readonly containerPort: number;
  /** Port the Service exposes; omit to keep the port off the Service. */
  readonly servicePort?: number;
}

/** An HTTP GET probe against one of the service's named ports. */
export interface HttpProbeDefinition {
  readonly path: string;
  /** Name of a port in `ports`. */
  readonly port: string;
  readonly periodSeconds: number;
  readonly failureThreshold: number;
  readonly timeoutSeconds?: number;
}

/** An environment variable: a literal, or a key of a Secret that is created outside git. */
export type EnvVarDefinition =
  | { readonly name: string; readonly value: string }
  | { readonly name: string; readonly secretKey: string; readonly secretName: string };

/** A writable directory on an otherwise read-only root filesystem. */
export interface WritablePath {
  /** Volume name. */
  readonly name: string;
  readonly mountPath: string;
  /** emptyDir size limit, e.g. 64Mi. */
  readonly sizeLimit: string;
}

/** A long-running service of the platform. */
export interface ServiceDefinition {
  /** app.kubernetes.io/name and the name of its Deployment and Service. */
  readonly name: string;
  /** app.kubernetes.io/component. */
  readonly component: string;
  readonly description: string;
  readonly ports: readonly PortDefinition[];
  readonly probes: {
    readonly startup?: HttpProbeDefinition;
    readonly readiness: HttpProbeDefinition;
    readonly liveness: HttpProbeDefinition;
  };
  /** UID and GID the image runs as (never 0). */
  readonly runAsUser: number;
  readonly writablePaths: readonly WritablePath[];
  /** Whether the pod needs a Kubernetes API token (only the middleware does). */
  readonly needsApiToken: boolean;
}

/** In-cluster DNS name of a Service in the app namespace. */
export function serviceHost(platform: PlatformConfig, service: string): string {
  return `${service}.${platform.namespaces.app}.svc.cluster.local`;
}

/** The URL users open. */
export function publicUrl(platform: PlatformConfig): string {
  const scheme = platform.tls ? 'https' : 'http';
  const port = platform.publicPort === undefined ? '' : `:${platform.publicPort}`;
  return `${scheme}://${platform.hostname}${port}`;
}

/** What a service's plan gives its StatelessService: settings, size, arguments and environment. */
export interface ServicePlan {
  /** The environment's settings for the service (image, replicas, autoscaling). */
  readonly config: {
    readonly image: ImageRef;
    readonly replicas: number;
    readonly autoscaling?: AutoscalingConfig;
  };
  /** Requests and limits, the service's defaults applied. */
  readonly resources: Resources;
  readonly args: readonly string[];
  readonly env: readonly EnvVarDefinition[];
  /** The NATS CA the pods trust: a Secret in the workload's namespace with ca.crt, and where it is mounted. */
  readonly natsCa?: { readonly secretName: string; readonly mountPath: string };
  /** Leave spec.replicas out because something in the cluster (a KEDA ScaledObject) owns it. */
  readonly replicasManagedExternally: boolean;
  /** Release new images as a canary (an Argo Rollout over the Deployment); absent: a rolling update. */
  readonly canary?: CanaryPlan;
}
