/**
 * The NATS plan: every fact about NATS that its constructs and the other components need, derived
 * once from the environment. "Is NATS clustered?", its Service names, client URL, TLS Secret and
 * CA path are decided here and nowhere else.
 */
import type { PlatformConfig } from '../../src/model/platform';
import type { Resources } from '../../src/model/schema';
import type { EnvVarDefinition } from '../common/service-definition';
import { EXECUTOR_JOB_SCOPE, nats, NATS_ACCOUNT, NATS_USERS, type NatsUserDefinition } from './definition';
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
  /**
   * Secret (app namespace) with each user's nkey (`<user>-nkey`, public; `<user>-nkey-next` while it
   * rotates; `<user>-nkey-seed`, the client's) and the auth callout's issuer key (`callout-issuer`,
   * public; `callout-issuer-seed`, the middleware's).
   */
  readonly credentialsSecretName: string;
  readonly users: readonly NatsUserDefinition[];
  /** Users whose nkey is rotating: the server accepts `<user>-nkey` and `<user>-nkey-next`. */
  readonly rotating: readonly NatsUserDefinition['user'][];
  /** The Secret keys the NATS server and its clients read from credentialsSecretName. */
  readonly credentialKeys: readonly string[];
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
    rotating: config.rotating ?? [],
    credentialKeys: natsCredentialKeys(config),
    ...(config.tls ? { tls: { issuer: config.tls.issuer, secretName: `${name}-tls` } } : {}),
    caMountPath: '/etc/nats-ca',
  };
}

/**
 * The keys of NATS's credentials Secret: per user its public nkey (and the next one while it
 * rotates) and its seed, then the auth callout issuer's public key and seed.
 */
export function natsCredentialKeys(config: NatsConfig): string[] {
  return [
    ...NATS_USERS.flatMap((u) => [
      nkeyKey(u.user),
      ...((config.rotating ?? []).includes(u.user) ? [nkeyKey(u.user, 'next')] : []),
      seedKey(u.user),
    ]),
    CALLOUT_ISSUER_KEY,
    `${CALLOUT_ISSUER_KEY}-seed`,
  ];
}

/** Secret key of a user's public nkey (`next`: the one a rotation adds). */
export function nkeyKey(user: string, which: 'current' | 'next' = 'current'): string {
  return which === 'next' ? `${user}-nkey-next` : `${user}-nkey`;
}

/** Secret key of a user's nkey seed (its client's credential). */
export function seedKey(user: string): string {
  return `${user}-nkey-seed`;
}

/** Secret key of the auth callout issuer's public account nkey; its seed is under `<key>-seed`. */
export const CALLOUT_ISSUER_KEY = 'callout-issuer';

/**
 * Where an executor finds its per-job credential: the middleware creates a Secret named after the
 * pod holding the ticket under `key`, and adds it to the pod as volume `volume` (defaultMode 0400)
 * mounted read-only at `mountPath` (README, "Image contract").
 */
export const EXECUTOR_TICKET = { volume: 'nats-ticket', mountPath: '/var/run/coderun/nats', key: 'ticket' } as const;

/** NATS client settings for platform user `user`, whose seed is in the NATS credentials Secret. */
export function natsClientEnv(plan: NatsPlan, user: NatsUserDefinition['user']): EnvVarDefinition[] {
  const def = plan.users.find((u) => u.user === user);
  if (!def) throw new Error(`nats: no NATS user ${user}`);
  return [
    { name: 'NATS_URL', value: plan.clientUrl },
    { name: 'NATS_NKEY_SEED', secretName: plan.credentialsSecretName, secretKey: seedKey(user) },
    // The only inbox this user may subscribe to (charts/nats/definition.ts): replies to others stay private.
    { name: 'NATS_INBOX_PREFIX', value: def.inboxPrefix },
    ...(plan.tls ? [{ name: 'NATS_CA_FILE', value: `${plan.caMountPath}/ca.crt` }] : []),
  ];
}

/**
 * NATS client settings of an executor: no credential in the environment. The middleware adds
 * USER_ID, JOB_ID and NATS_INBOX_PREFIX (`_INBOX_executor.<JOB_ID>`) and mounts the job's ticket at
 * NATS_TICKET_FILE (README, "Image contract").
 */
export function natsExecutorEnv(plan: NatsPlan): EnvVarDefinition[] {
  return [
    { name: 'NATS_URL', value: plan.clientUrl },
    { name: 'NATS_TICKET_FILE', value: `${EXECUTOR_TICKET.mountPath}/${EXECUTOR_TICKET.key}` },
    ...(plan.tls ? [{ name: 'NATS_CA_FILE', value: `${plan.caMountPath}/ca.crt` }] : []),
  ];
}

/**
 * What the middleware needs to answer the auth callout: the issuer seed, and the per-job scope it
 * fills in for each executor (charts/nats/definition.ts, EXECUTOR_JOB_SCOPE), as JSON.
 */
export function natsCalloutEnv(plan: NatsPlan, ticketSeconds: number): EnvVarDefinition[] {
  return [
    {
      name: 'NATS_CALLOUT_ISSUER_SEED',
      secretName: plan.credentialsSecretName,
      secretKey: `${CALLOUT_ISSUER_KEY}-seed`,
    },
    { name: 'NATS_CALLOUT_ACCOUNT', value: NATS_ACCOUNT },
    {
      name: 'NATS_EXECUTOR_SCOPE',
      value: JSON.stringify({
        inboxPrefix: EXECUTOR_JOB_SCOPE.inboxPrefix,
        publish: EXECUTOR_JOB_SCOPE.publish.map((s) => s.subject),
        subscribe: EXECUTOR_JOB_SCOPE.subscribe.map((s) => s.subject),
      }),
    },
    // A ticket, and the credential the callout makes of it, expire this long after the job starts.
    { name: 'NATS_TICKET_SECONDS', value: String(ticketSeconds) },
  ];
}
