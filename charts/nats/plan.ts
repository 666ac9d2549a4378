/**
 * The NATS plan: every fact about NATS that its constructs and the other components need, derived
 * once from the environment. "Is NATS clustered?", its Service names, client URL, TLS Secret and
 * CA path are decided here and nowhere else.
 */
import type { PlatformConfig } from '../../src/model/platform';
import type { Resources } from '../../src/model/schema';
import type { EnvVarDefinition } from '../common/service-definition';
import { inboxPrefix, nats, NATS_USERS, type NatsUserDefinition } from './definition';
import { NATS_DEFAULT_RESOURCES, type NatsConfig } from './schema';

/** NATS's facts, derived once from the environment. */
export interface NatsPlan {
  /** The environment's `services.nats` settings. */
  readonly config: NatsConfig;
  /** Name of the StatefulSet, the client Service and the ConfigMap. */
  readonly name: string;
  /** Namespace NATS runs in (the app namespace). */
  readonly namespace: string;
  /** The client Service (port 4222). */
  readonly serviceName: string;
  /** The headless Service that governs the StatefulSet (routes, identity, monitoring). */
  readonly headlessServiceName: string;
  readonly replicas: number;
  /** More than one server: a JetStream cluster with routes, a PodDisruptionBudget and cluster alerts. */
  readonly clustered: boolean;
  /** The route URL of every server; empty when not clustered. */
  readonly routes: readonly string[];
  /** What clients dial: nats:// or tls:// to the client Service. */
  readonly clientUrl: string;
  /** host:port of the monitoring endpoint behind the headless Service (KEDA reads consumer lag there). */
  readonly monitoringEndpoint: string;
  /** Requests and limits of the server container, defaults applied. */
  readonly resources: Resources;
  /** Secret (app namespace) with one password per user in `users`, under each user's passwordKey. */
  readonly credentialsSecretName: string;
  readonly users: readonly NatsUserDefinition[];
  /** TLS for clients and routes: the cert-manager issuer and the server certificate's Secret. */
  readonly tls?: { readonly issuer: { readonly kind: string; readonly name: string }; readonly secretName: string };
  /** Where clients mount the CA that signed the server (NATS_CA_FILE is ca.crt below it). */
  readonly caMountPath: string;
}

/** Options of {@link planNats}. */
export interface NatsPlanOptions {
  /**
   * Name of the StatefulSet, the client Service and the ConfigMap (and the prefix of every other name).
   * @default 'nats'
   */
  readonly name?: string;
}

/** Plans NATS from the platform, its settings and the Secret that holds its users' passwords. */
export function planNats(
  platform: PlatformConfig,
  config: NatsConfig,
  credentialsSecretName: string,
  options: NatsPlanOptions = {},
): NatsPlan {
  const name = options.name ?? nats.name;
  const namespace = platform.namespaces.app;
  const headlessServiceName = `${name}-headless`;
  const clustered = config.replicas > 1;
  const scheme = config.tls ? 'tls' : 'nats';
  return {
    config,
    name,
    namespace,
    serviceName: name,
    headlessServiceName,
    replicas: config.replicas,
    clustered,
    routes: clustered
      ? Array.from(
          { length: config.replicas },
          (_, i) => `nats://${name}-${i}.${headlessServiceName}.${namespace}.svc.cluster.local:6222`,
        )
      : [],
    clientUrl: `${scheme}://${name}.${namespace}.svc.cluster.local:4222`,
    monitoringEndpoint: `${headlessServiceName}.${namespace}.svc.cluster.local:8222`,
    resources: config.resources ?? NATS_DEFAULT_RESOURCES,
    credentialsSecretName,
    users: NATS_USERS,
    ...(config.tls ? { tls: { issuer: config.tls.issuer, secretName: `${name}-tls` } } : {}),
    caMountPath: '/etc/nats-ca',
  };
}

/** NATS client settings for a platform user whose password is key `passwordKey` of Secret `secretName`. */
export function natsClientEnv(
  plan: NatsPlan,
  user: string,
  secretName: string,
  passwordKey: string,
): EnvVarDefinition[] {
  return [
    { name: 'NATS_URL', value: plan.clientUrl },
    { name: 'NATS_USER', value: user },
    { name: 'NATS_PASSWORD', secretName, secretKey: passwordKey },
    // The only inbox this user may subscribe to (charts/nats/definition.ts): replies to others stay private.
    { name: 'NATS_INBOX_PREFIX', value: inboxPrefix(user) },
    ...(plan.tls ? [{ name: 'NATS_CA_FILE', value: `${plan.caMountPath}/ca.crt` }] : []),
  ];
}
