/**
 * What a service *is*, independent of Kubernetes objects: image contract, ports, probes,
 * default sizes and what it needs at run time. Constructs in charts/ turn these into objects.
 */
import type { EnvironmentConfig, Resources } from '../../src/model/config';

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
  /** Requests and limits used unless the environment overrides them. */
  readonly defaultResources: Resources;
  /** UID and GID the image runs as (never 0). */
  readonly runAsUser: number;
  readonly writablePaths: readonly WritablePath[];
  /** Whether the pod needs a Kubernetes API token (only the middleware does). */
  readonly needsApiToken: boolean;
  /** Whether it connects to NATS (then it trusts the NATS CA when NATS TLS is on). */
  readonly usesNats: boolean;
  readonly args: (env: EnvironmentConfig) => readonly string[];
  readonly env: (env: EnvironmentConfig) => readonly EnvVarDefinition[];
}

/** In-cluster DNS name of a Service in the app namespace. */
export function serviceHost(env: EnvironmentConfig, service: string): string {
  return `${service}.${env.namespaces.app}.svc.cluster.local`;
}

/** The URL users open. */
export function publicUrl(env: EnvironmentConfig): string {
  const scheme = env.tls ? 'https' : 'http';
  const port = env.publicPort === undefined ? '' : `:${env.publicPort}`;
  return `${scheme}://${env.hostname}${port}`;
}

/** The inbox prefix of a NATS platform user: `_INBOX_<user>`, never the shared `_INBOX`. */
export function inboxPrefix(user: string): string {
  return `_INBOX_${user}`;
}

/** NATS client settings for a platform user whose password is key `passwordKey` of Secret `secretName`. */
export function natsClientEnv(
  env: EnvironmentConfig,
  user: string,
  secretName: string,
  passwordKey: string,
): EnvVarDefinition[] {
  const scheme = env.services.nats.tls ? 'tls' : 'nats';
  return [
    { name: 'NATS_URL', value: `${scheme}://${serviceHost(env, 'nats')}:4222` },
    { name: 'NATS_USER', value: user },
    { name: 'NATS_PASSWORD', secretName, secretKey: passwordKey },
    // The only inbox this user may subscribe to (charts/nats/definition.ts): replies to others stay private.
    { name: 'NATS_INBOX_PREFIX', value: inboxPrefix(user) },
    ...(env.services.nats.tls ? [{ name: 'NATS_CA_FILE', value: '/etc/nats-ca/ca.crt' }] : []),
  ];
}
