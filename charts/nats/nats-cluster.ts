import { createHash } from 'node:crypto';
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import * as kplus from 'cdk8s-plus-28';
import type { PlatformConfig } from '../../src/model/platform';
import { imageString } from '../../src/model/schema';
import { formatMemory, parseMemory } from '../../src/model/quantity';
import { nats, NATS_ACCOUNT, subjectNeed, type NatsSubject, type NatsUserDefinition } from './definition';
import { CALLOUT_ISSUER_KEY, nkeyKey, type NatsPlan } from './plan';
import * as k8s from '../../imports/k8s';
import { attachPullSecrets } from '../common/pod-spec';
import {
  containerPorts,
  containerResources,
  httpProbe,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  selectorLabels,
  spreadConstraints,
  standardLabels,
} from '../common/pod-spec';

/** Props of {@link NatsCluster}. */
export interface NatsClusterProps {
  /** The NATS plan (planNats): replicas, names, routes, TLS, users. */
  readonly plan: NatsPlan;
  /** The platform-wide settings (instance labels, spread). */
  readonly platform: PlatformConfig;
  /**
   * PriorityClass of the NATS pods (the platform's highest: NATS is evicted last).
   * @default - no priority class
   */
  readonly priorityClassName?: string;
}

/**
 * NATS with JetStream as a StatefulSet: a ConfigMap rendered from typed options (its checksum
 * rolls the pods), least-privilege nkey users and an auth callout for the executors' per-job credentials, a PVC-backed file
 * store, a headless Service for routes and identity, a client Service, a lame-duck preStop, a
 * Prometheus exporter sidecar, optional TLS from cert-manager, and a PodDisruptionBudget when
 * clustered.
 */
export class NatsCluster extends Construct {
  /** Name of the client Service. */
  public readonly serviceName: string;
  /** Name of the headless Service that governs the StatefulSet. */
  public readonly headlessServiceName: string;
  /** The rendered nats.conf. */
  public readonly serverConfig: string;
  /** Labels that select the NATS pods. */
  public readonly selector: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: NatsClusterProps) {
    super(scope, id);
    const { plan, platform } = props;
    const { config, name, namespace, replicas, resources } = plan;
    if (!Number.isInteger(replicas) || replicas < 1 || (replicas > 1 && replicas % 2 === 0)) {
      throw new Error(`nats: replicas (${replicas}) must be 1 or an odd number (3, 5, 7) for a JetStream quorum`);
    }
    for (const u of plan.users) {
      // nats-server reads an empty allow list as "everything".
      if (u.publish.length === 0 || u.subscribe.length === 0) {
        throw new Error(
          `nats: user ${u.user} has an empty publish or subscribe list, which nats-server reads as "allow all"`,
        );
      }
    }
    this.serviceName = plan.serviceName;
    this.headlessServiceName = plan.headlessServiceName;
    this.selector = selectorLabels(name, platform);
    const labels = standardLabels(name, nats.component, platform, config.image);
    const meta = (n: string) => ({ name: n, namespace, labels });
    const credentials = plan.credentialsSecretName;

    const memoryLimit = parseMemory(resources.limits.memory);
    const fileStore = Math.floor(parseMemory(config.storage.size) * nats.fileStoreRatio);
    const memoryStore = Math.floor(memoryLimit * nats.memoryStoreRatio);
    const goMemLimitMiB = Math.floor((memoryLimit * nats.goMemLimitRatio) / 1024 ** 2);
    if (memoryLimit < 128 * 1024 ** 2) {
      throw new Error(`nats: memory limit (${resources.limits.memory}) is too small; give NATS at least 128Mi`);
    }
    const tls = plan.tls;
    this.serverConfig = renderServerConfig({
      tls: tls !== undefined,
      name,
      fileStoreBytes: fileStore,
      memoryStoreBytes: memoryStore,
      pvcSize: config.storage.size,
      memoryLimit: resources.limits.memory,
      routes: plan.routes,
      users: plan.users,
      keys: publicKeyVariables(plan),
    });
    const checksum = createHash('sha256').update(this.serverConfig).digest('hex');

    const sa = new kplus.ServiceAccount(this, 'service-account', { metadata: meta(name), automountToken: false });
    attachPullSecrets(sa, platform); // the registry's pull Secret (issue 16)
    if (tls) {
      // Server certificate; its Secret also carries ca.crt, which the app-namespace clients mount.
      new ApiObject(this, 'certificate', {
        apiVersion: 'cert-manager.io/v1',
        kind: 'Certificate',
        metadata: meta(tls.secretName),
        spec: {
          secretName: tls.secretName,
          duration: '2160h',
          renewBefore: '360h',
          privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
          // Routes between servers are mutual TLS: each server is also a client of its peers.
          usages: ['server auth', 'client auth'],
          dnsNames: [
            name,
            `${name}.${namespace}.svc`,
            `${name}.${namespace}.svc.cluster.local`,
            `*.${this.headlessServiceName}.${namespace}.svc.cluster.local`,
          ],
          issuerRef: { group: 'cert-manager.io', kind: tls.issuer.kind, name: tls.issuer.name },
        },
      });
    }
    const configMap = new kplus.ConfigMap(this, 'config', { metadata: meta(`${name}-config`) });
    configMap.addData('nats.conf', this.serverConfig);

    const ports = containerPorts(nats.ports, name);
    new k8s.KubeService(this, 'headless', {
      metadata: meta(this.headlessServiceName),
      spec: {
        clusterIp: 'None',
        publishNotReadyAddresses: true,
        selector: { ...this.selector },
        ports: nats.ports.map((p) => ({
          name: p.name,
          port: p.containerPort,
          targetPort: k8s.IntOrString.fromString(p.name),
          protocol: 'TCP',
        })),
      },
    });
    new k8s.KubeService(this, 'client', {
      metadata: meta(this.serviceName),
      spec: {
        type: 'ClusterIP',
        selector: { ...this.selector },
        ports: [{ name: 'client', port: 4222, targetPort: k8s.IntOrString.fromString('client'), protocol: 'TCP' }],
      },
    });

    new k8s.KubeStatefulSet(this, 'statefulset', {
      metadata: meta(name),
      spec: {
        serviceName: this.headlessServiceName,
        replicas,
        podManagementPolicy: 'Parallel',
        revisionHistoryLimit: 5,
        updateStrategy: { type: 'RollingUpdate' },
        selector: { matchLabels: { ...this.selector } },
        persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
        template: {
          metadata: { labels, annotations: { 'checksum/config': checksum } },
          spec: {
            serviceAccountName: name,
            ...(props.priorityClassName ? { priorityClassName: props.priorityClassName } : {}),
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: restrictedPodSecurityContext(nats.runAsUser, nats.runAsUser),
            terminationGracePeriodSeconds: nats.lameDuckSeconds + 30,
            topologySpreadConstraints: spreadConstraints(platform, this.selector),
            containers: [
              {
                name: 'nats',
                image: imageString(config.image),
                imagePullPolicy: 'IfNotPresent',
                command: ['nats-server'],
                args: ['--config', `${nats.configPath}/nats.conf`],
                env: [
                  { name: 'SERVER_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                  { name: 'GOMEMLIMIT', value: `${goMemLimitMiB}MiB` },
                  // Only what verifies a client: the users' public nkeys and the auth callout issuer's public
                  // key (charts/nats/plan.ts). The seeds stay with the clients; no password exists.
                  ...publicKeyVariables(plan).map((v) => ({
                    name: v.variable,
                    valueFrom: { secretKeyRef: { name: credentials, key: v.key } },
                  })),
                ],
                ports,
                resources: containerResources(resources),
                securityContext: restrictedContainerSecurityContext(),
                startupProbe: httpProbe(nats.probes.startup, nats.ports, name),
                readinessProbe: httpProbe(nats.probes.readiness, nats.ports, name),
                livenessProbe: httpProbe(nats.probes.liveness, nats.ports, name),
                lifecycle: {
                  preStop: { exec: { command: ['nats-server', '-sl=ldm=/var/run/nats/nats.pid'] } },
                },
                volumeMounts: [
                  { name: 'config', mountPath: nats.configPath, readOnly: true },
                  { name: 'data', mountPath: nats.dataPath },
                  { name: 'pid', mountPath: '/var/run/nats' },
                  ...(tls ? [{ name: 'tls', mountPath: '/etc/nats-tls', readOnly: true }] : []),
                ],
              },
              {
                name: 'metrics',
                image: imageString(config.exporterImage),
                imagePullPolicy: 'IfNotPresent',
                args: [
                  '-port=7777',
                  '-connz',
                  '-routez',
                  '-subz',
                  '-varz',
                  '-jsz=all',
                  '-healthz',
                  'http://localhost:8222',
                ],
                ports: containerPorts(nats.exporterPorts, `${name} metrics`),
                resources: containerResources(nats.exporterResources),
                securityContext: restrictedContainerSecurityContext(),
                readinessProbe: httpProbe(nats.exporterReadiness, nats.exporterPorts, `${name} metrics`),
                livenessProbe: httpProbe(nats.exporterLiveness, nats.exporterPorts, `${name} metrics`),
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: `${name}-config` } },
              { name: 'pid', emptyDir: { sizeLimit: k8s.Quantity.fromString('1Mi') } },
              ...(tls ? [{ name: 'tls', secret: { secretName: tls.secretName } }] : []),
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data', labels: { ...this.selector } },
            spec: {
              accessModes: ['ReadWriteOnce'],
              storageClassName: config.storage.storageClassName,
              resources: { requests: { storage: k8s.Quantity.fromString(config.storage.size) } },
            },
          },
        ],
      },
    });

    if (plan.clustered) {
      new k8s.KubePodDisruptionBudget(this, 'pdb', {
        metadata: meta(name),
        spec: { maxUnavailable: k8s.IntOrString.fromNumber(1), selector: { matchLabels: { ...this.selector } } },
      });
    }
  }
}

/** A public key the server config reads from its environment, and the Secret key it comes from. */
export interface PublicKeyVariable {
  /** The user it verifies, or `callout-issuer`. */
  readonly user: string;
  readonly variable: string;
  readonly key: string;
}

/** The public keys nats.conf reads: each user's nkey (two while it rotates) and the callout issuer. */
export function publicKeyVariables(plan: NatsPlan): PublicKeyVariable[] {
  return [
    ...plan.users.flatMap((u) => [
      { user: u.user, variable: `NATS_${u.user.toUpperCase()}_NKEY`, key: nkeyKey(u.user) },
      ...(plan.rotating.includes(u.user)
        ? [{ user: u.user, variable: `NATS_${u.user.toUpperCase()}_NKEY_NEXT`, key: nkeyKey(u.user, 'next') }]
        : []),
    ]),
    { user: CALLOUT_ISSUER_KEY, variable: 'NATS_CALLOUT_ISSUER', key: CALLOUT_ISSUER_KEY },
  ];
}

interface ServerConfigOptions {
  readonly tls: boolean;
  readonly name: string;
  readonly fileStoreBytes: number;
  readonly memoryStoreBytes: number;
  readonly pvcSize: string;
  readonly memoryLimit: string;
  readonly routes: readonly string[];
  readonly users: readonly NatsUserDefinition[];
  readonly keys: readonly PublicKeyVariable[];
}

/** nats.conf from typed options. Sizes are bytes, so the file says exactly what it means. */
function renderServerConfig(o: ServerConfigOptions): string {
  const lines = [
    'server_name: $SERVER_NAME',
    'listen: 0.0.0.0:4222',
    'http_port: 8222',
    'pid_file: /var/run/nats/nats.pid',
    `lame_duck_duration: ${nats.lameDuckSeconds}s`,
    'lame_duck_grace_period: 10s',
    'jetstream {',
    `  store_dir: ${nats.dataPath}/jetstream`,
    `  # ${Math.round(nats.memoryStoreRatio * 100)}% of the ${o.memoryLimit} memory limit (${formatMemory(o.memoryStoreBytes)})`,
    `  max_memory_store: ${o.memoryStoreBytes}`,
    `  # ${Math.round(nats.fileStoreRatio * 100)}% of the ${o.pvcSize} volume`,
    `  max_file_store: ${o.fileStoreBytes}`,
    '}',
  ];
  if (o.tls) {
    lines.push(
      'tls {',
      '  cert_file: /etc/nats-tls/tls.crt',
      '  key_file: /etc/nats-tls/tls.key',
      '  ca_file: /etc/nats-tls/ca.crt',
      '  timeout: 2',
      '}',
    );
  }
  // Every client is in one account with JetStream. The frontend and the middleware sign in with
  // nkeys (charts/nats/definition.ts); anyone else is an executor, whose per-job ticket the server
  // hands to the middleware (auth callout), which answers with a credential scoped to that job.
  const list = (subjects: readonly NatsSubject[], indent: string) =>
    subjects.map((x) => `${indent}${JSON.stringify(x.subject)}  # ${subjectNeed(x)}`);
  const userKeys = (user: string) => o.keys.filter((k) => k.user === user);
  lines.push('accounts {', `  ${NATS_ACCOUNT} {`, '    jetstream: enabled', '    users: [');
  for (const u of o.users) {
    for (const k of userKeys(u.user)) {
      lines.push(
        `      # ${u.user}: ${u.why}`,
        '      {',
        `        nkey: $${k.variable}`,
        '        permissions: {',
        '          publish: { allow: [',
        ...list(u.publish, '            '),
        '          ] }',
        '          subscribe: { allow: [',
        ...list(u.subscribe, '            '),
        '          ] }',
        ...(u.allowResponses ? ['          allow_responses: { max: 1 }'] : []),
        '        }',
        '      }',
      );
    }
  }
  const issuer = o.keys.find((k) => k.user === CALLOUT_ISSUER_KEY);
  if (!issuer) throw new Error('nats: no auth callout issuer key');
  lines.push(
    '    ]',
    '  }',
    '}',
    'authorization {',
    '  auth_callout {',
    `    issuer: $${issuer.variable}`,
    `    account: ${NATS_ACCOUNT}`,
    `    auth_users: [${o.users.flatMap((u) => userKeys(u.user).map((k) => `$${k.variable}`)).join(', ')}]`,
    '  }',
    '}',
  );
  if (o.routes.length > 0) {
    lines.push(
      'cluster {',
      `  name: ${o.name}`,
      '  listen: 0.0.0.0:6222',
      ...(o.tls
        ? [
            '  tls {',
            '    cert_file: /etc/nats-tls/tls.crt',
            '    key_file: /etc/nats-tls/tls.key',
            '    ca_file: /etc/nats-tls/ca.crt',
            '    verify: true',
            '    timeout: 2',
            '  }',
          ]
        : []),
      '  routes: [',
      ...o.routes.map((r) => `    ${r}`),
      '  ]',
      '}',
    );
  }
  return `${lines.join('\n')}\n`;
}
