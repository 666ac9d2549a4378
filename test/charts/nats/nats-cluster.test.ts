import path from 'node:path';
import { createHash } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { App, Chart } from 'cdk8s';
import { loadEnvironment, type EnvironmentConfig } from '../../../apps/environment';
import type { NatsConfig } from '../../../charts/nats/schema';
import { podSpecOf } from '../../../src/model/objects';
import { parseMemory } from '../../../src/model/quantity';
import { NatsCluster } from '../../../charts/nats/nats-cluster';
import { planNats } from '../../../charts/nats/plan';
import { NATS_USERS, subjectNeed } from '../../../charts/nats/definition';
import { imageString } from '../../../src/model/schema';

/* eslint-disable @typescript-eslint/no-explicit-any */

const root = path.resolve(__dirname, '../../..');
const staging = loadEnvironment(root, 'staging');
const prod = loadEnvironment(root, 'prod');

interface Rendered {
  readonly objs: any[];
  readonly construct: NatsCluster;
}

/** Construct options the tests vary: the plan's name and credentials Secret, and the priority class. */
interface Extra {
  readonly name?: string;
  readonly credentialsSecretName?: string;
  readonly priorityClassName?: string;
}

function render(env: EnvironmentConfig, config: NatsConfig = env.services.nats, extra: Extra = {}): Rendered {
  const app = new App();
  const chart = new Chart(app, 'test', { disableResourceNameHashes: true });
  const plan = planNats(
    env,
    config,
    extra.credentialsSecretName ?? env.secrets.nats,
    extra.name === undefined ? {} : { name: extra.name },
  );
  const construct = new NatsCluster(chart, 'nats', {
    plan,
    platform: env,
    ...(extra.priorityClassName === undefined ? {} : { priorityClassName: extra.priorityClassName }),
  });
  return { objs: chart.toJson() as any[], construct };
}

function nats(env: EnvironmentConfig, patch: Partial<NatsConfig>): NatsConfig {
  return { ...env.services.nats, ...patch };
}

function find(objs: any[], kind: string, name?: string): any[] {
  return objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
}

function one(objs: any[], kind: string, name?: string): any {
  const found = find(objs, kind, name);
  expect(found, `exactly one ${kind} ${name ?? ''}`).toHaveLength(1);
  return found[0];
}

function serverConf(objs: any[]): string {
  return one(objs, 'ConfigMap').data['nats.conf'] as string;
}

/** A numeric setting of nats.conf, e.g. max_file_store. */
function confNumber(conf: string, key: string): number {
  const m = new RegExp(`^\\s*${key}: (\\d+)$`, 'm').exec(conf);
  expect(m, `${key} in nats.conf`).not.toBeNull();
  return Number(m?.[1]);
}

function natsContainer(objs: any[]): any {
  return (podSpecOf(one(objs, 'StatefulSet')) as any).containers[0];
}

function goMemLimitBytes(objs: any[]): number {
  const v = (natsContainer(objs).env as any[]).find((e) => e.name === 'GOMEMLIMIT')?.value as string;
  const m = /^(\d+)MiB$/.exec(v);
  expect(m, `GOMEMLIMIT ${v}`).not.toBeNull();
  return Number(m?.[1]) * 1024 ** 2;
}

function checksum(objs: any[]): string {
  return one(objs, 'StatefulSet').spec.template.metadata.annotations['checksum/config'] as string;
}

describe('NatsCluster', () => {
  describe('objects', () => {
    it('renders ServiceAccount, ConfigMap, headless and client Services and a StatefulSet, without PDB for one server', () => {
      expect(staging.services.nats.replicas).toBe(1);
      const { objs } = render(staging);
      expect(objs.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual([
        'ConfigMap/nats-config',
        'Service/nats',
        'Service/nats-headless',
        'ServiceAccount/nats',
        'StatefulSet/nats',
      ]);
    });

    it('adds a PodDisruptionBudget allowing one disruption when clustered (prod, 3 servers)', () => {
      const { objs } = render(prod);
      const pdb = one(objs, 'PodDisruptionBudget');
      expect(pdb.spec.maxUnavailable).toBe(1);
      expect(pdb.spec.selector.matchLabels).toEqual(one(objs, 'StatefulSet').spec.selector.matchLabels);
    });

    it('governs the StatefulSet with a headless Service that publishes not-ready addresses', () => {
      const { objs, construct } = render(prod);
      const sts = one(objs, 'StatefulSet');
      const headless = one(objs, 'Service', construct.headlessServiceName);
      expect(sts.spec.serviceName).toBe('nats-headless');
      expect(sts.spec.replicas).toBe(3);
      expect(headless.spec.clusterIP).toBe('None');
      expect(headless.spec.publishNotReadyAddresses).toBe(true);
      expect((headless.spec.ports as any[]).map((p) => p.port).sort()).toEqual([4222, 6222, 8222]);
      // The client Service exposes only the client port.
      const client = one(objs, 'Service', construct.serviceName);
      expect(client.spec.ports).toEqual([{ name: 'client', port: 4222, targetPort: 'client', protocol: 'TCP' }]);
    });

    it('selects only its pods: selector ⊆ template labels, both Services use it', () => {
      const { objs } = render(prod);
      const sts = one(objs, 'StatefulSet');
      const selector = sts.spec.selector.matchLabels as Record<string, string>;
      for (const [k, v] of Object.entries(selector)) expect(sts.spec.template.metadata.labels[k]).toBe(v);
      expect(selector).not.toHaveProperty('app.kubernetes.io/version');
      for (const svc of find(objs, 'Service')) expect(svc.spec.selector).toEqual(selector);
    });

    it('uses the name prop for every object and route', () => {
      const { objs } = render(prod, prod.services.nats, { name: 'queue' });
      expect(one(objs, 'StatefulSet').metadata.name).toBe('queue');
      expect(one(objs, 'ConfigMap').metadata.name).toBe('queue-config');
      expect(serverConf(objs)).toContain('nats://queue-0.queue-headless.coderun.svc.cluster.local:6222');
      expect(one(objs, 'StatefulSet').spec.template.spec.volumes[0].configMap.name).toBe('queue-config');
      expect(one(objs, 'Certificate').spec.secretName).toBe('queue-tls');
    });
  });

  describe('server configuration', () => {
    it('has no cluster block or routes for a single server', () => {
      const conf = serverConf(render(staging).objs);
      expect(conf).not.toMatch(/routes/);
      expect(conf).not.toMatch(/^cluster \{/m);
      expect(conf).toMatch(/^jetstream \{/m);
    });

    it('routes to every server through the headless Service when clustered', () => {
      const conf = serverConf(render(prod).objs);
      const routes = conf.match(/nats:\/\/[^\s]+:6222/g);
      expect(routes).toEqual(
        [0, 1, 2].map((i) => `nats://nats-${i}.nats-headless.${prod.namespaces.app}.svc.cluster.local:6222`),
      );
    });

    it('exposes the rendered config as serverConfig, identical to the ConfigMap', () => {
      const { objs, construct } = render(prod);
      expect(construct.serverConfig).toBe(serverConf(objs));
    });

    it.each([
      ['staging', staging],
      ['prod', prod],
    ])('%s: max_file_store fits in the PVC (90%% of it)', (_n, env) => {
      const { objs } = render(env);
      const pvc = one(objs, 'StatefulSet').spec.volumeClaimTemplates[0];
      const pvcBytes = parseMemory(pvc.spec.resources.requests.storage as string);
      expect(pvc.spec.resources.requests.storage).toBe(env.services.nats.storage.size);
      const fileStore = confNumber(serverConf(objs), 'max_file_store');
      expect(fileStore).toBeLessThanOrEqual(pvcBytes);
      expect(fileStore).toBe(Math.floor(pvcBytes * 0.9));
    });

    it('recomputes max_file_store when the storage size changes', () => {
      const conf = serverConf(
        render(staging, nats(staging, { storage: { size: '10Gi', storageClassName: 'x' } })).objs,
      );
      expect(confNumber(conf, 'max_file_store')).toBe(Math.floor(10 * 1024 ** 3 * 0.9));
    });

    it.each([
      ['default resources', undefined],
      ['override 2Gi', { requests: { cpu: '500m', memory: '2Gi' }, limits: { cpu: '2', memory: '2Gi' } }],
      ['override 256Mi', { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '500m', memory: '256Mi' } }],
    ])('%s: max_memory_store < memory limit and GOMEMLIMIT ≈ 80%% of it', (_n, resources) => {
      const { objs } = render(prod, nats(prod, { resources }));
      const limit = parseMemory(natsContainer(objs).resources.limits.memory as string);
      expect(natsContainer(objs).resources.limits.memory).toBe(resources?.limits.memory ?? '1Gi');
      const memStore = confNumber(serverConf(objs), 'max_memory_store');
      expect(memStore).toBeLessThan(limit);
      expect(memStore).toBe(Math.floor(limit * 0.25));
      const goMem = goMemLimitBytes(objs);
      expect(goMem).toBeLessThan(limit);
      expect(goMem / limit).toBeGreaterThan(0.79);
      expect(goMem / limit).toBeLessThanOrEqual(0.8);
      // JetStream memory store plus the Go heap target must not need more than the limit by themselves.
      expect(memStore).toBeLessThan(goMem);
    });

    it('renders exactly 819MiB GOMEMLIMIT for a 1Gi limit', () => {
      expect((natsContainer(render(staging).objs).env as any[]).find((e) => e.name === 'GOMEMLIMIT')?.value).toBe(
        '819MiB',
      );
    });

    it('takes the server name from the pod name', () => {
      const env = natsContainer(render(prod).objs).env as any[];
      expect(env.find((e) => e.name === 'SERVER_NAME')?.valueFrom).toEqual({
        fieldRef: { fieldPath: 'metadata.name' },
      });
      expect(serverConf(render(prod).objs)).toContain('server_name: $SERVER_NAME');
    });
  });

  describe('rollout', () => {
    it('annotates the pod template with the sha256 of nats.conf', () => {
      const { objs } = render(prod);
      expect(checksum(objs)).toBe(createHash('sha256').update(serverConf(objs)).digest('hex'));
    });

    it('keeps the checksum stable for the same input', () => {
      expect(checksum(render(prod).objs)).toBe(checksum(render(prod).objs));
    });

    it.each<[string, Partial<NatsConfig>]>([
      ['storage size', { storage: { size: '40Gi', storageClassName: 'premium-rwo' } }],
      ['replicas', { replicas: 5 }],
      [
        'memory limit',
        { resources: { requests: { cpu: '200m', memory: '512Mi' }, limits: { cpu: '1', memory: '2Gi' } } },
      ],
      ['TLS off', { tls: undefined }],
    ])('changes the checksum when the config changes (%s)', (_n, patch) => {
      const before = render(prod);
      const after = render(prod, nats(prod, patch));
      expect(serverConf(after.objs)).not.toBe(serverConf(before.objs));
      expect(checksum(after.objs)).not.toBe(checksum(before.objs));
    });

    it('gives the pod more time to terminate than lame-duck mode needs (≥ lame duck + 20s)', () => {
      const { objs } = render(prod);
      const m = /lame_duck_duration: (\d+)s/.exec(serverConf(objs));
      expect(m).not.toBeNull();
      const lameDuck = Number(m?.[1]);
      expect(lameDuck).toBeGreaterThan(0);
      expect(one(objs, 'StatefulSet').spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(
        lameDuck + 20,
      );
    });

    it('enters lame-duck mode on preStop using the configured pid file', () => {
      const { objs } = render(prod);
      const pidFile = /^pid_file: (\S+)$/m.exec(serverConf(objs))?.[1];
      expect(pidFile).toBe('/var/run/nats/nats.pid');
      expect(natsContainer(objs).lifecycle.preStop.exec.command).toEqual(['nats-server', `-sl=ldm=${pidFile}`]);
      const pidMount = (natsContainer(objs).volumeMounts as any[]).find((m) => m.name === 'pid');
      expect(pidFile?.startsWith(`${pidMount.mountPath}/`)).toBe(true);
    });
  });

  describe('pod', () => {
    it('runs restricted and without an API token', () => {
      const { objs } = render(prod);
      const spec = one(objs, 'StatefulSet').spec.template.spec;
      expect(spec.automountServiceAccountToken).toBe(false);
      expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, fsGroup: 1000 });
      expect(natsContainer(objs).securityContext.readOnlyRootFilesystem).toBe(true);
      expect(one(objs, 'ServiceAccount').automountServiceAccountToken).toBe(false);
    });

    it('mounts the config read-only and the PVC at the store directory', () => {
      const { objs } = render(prod);
      const mounts = natsContainer(objs).volumeMounts as any[];
      expect(mounts.find((m) => m.name === 'config')).toEqual({
        name: 'config',
        mountPath: '/etc/nats',
        readOnly: true,
      });
      const data = mounts.find((m) => m.name === 'data');
      expect(serverConf(objs)).toContain(`store_dir: ${data.mountPath}/jetstream`);
      expect(one(objs, 'StatefulSet').spec.volumeClaimTemplates[0].metadata.name).toBe('data');
    });

    it('sets the PVC storageClassName from the environment', () => {
      const pvc = (env: EnvironmentConfig, config?: NatsConfig) =>
        one(render(env, config).objs, 'StatefulSet').spec.volumeClaimTemplates[0].spec;
      expect(pvc(prod).storageClassName).toBe('premium-rwo');
      expect(pvc(staging).storageClassName).toBe('local-path');
      expect(pvc(prod, nats(prod, { storage: { size: '20Gi', storageClassName: 'fast-ssd' } })).storageClassName).toBe(
        'fast-ssd',
      );
      expect(pvc(prod).accessModes).toEqual(['ReadWriteOnce']);
    });

    it('sets the priority class only when given', () => {
      const spec = (extra: Extra) => one(render(prod, undefined, extra).objs, 'StatefulSet').spec.template.spec;
      expect(spec({ priorityClassName: 'coderun-messaging' }).priorityClassName).toBe('coderun-messaging');
      expect(spec({})).not.toHaveProperty('priorityClassName');
    });

    it('spreads over hostnames and zones with DoNotSchedule in prod', () => {
      const tsc = one(render(prod).objs, 'StatefulSet').spec.template.spec.topologySpreadConstraints as any[];
      expect(tsc.map((c) => c.topologyKey).sort()).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
      for (const c of tsc) expect(c.whenUnsatisfiable).toBe('DoNotSchedule');
    });
  });

  describe('authentication', () => {
    it('declares one nkey user per NATS_USERS entry with its permissions, and an auth callout; no password', () => {
      const conf = serverConf(render(prod).objs);
      expect(NATS_USERS.map((u) => u.user)).toEqual(['frontend', 'middleware']);
      for (const u of NATS_USERS) {
        expect(conf).toContain(`nkey: $NATS_${u.user.toUpperCase()}_NKEY\n`);
        for (const x of u.publish) expect(conf).toContain(`${JSON.stringify(x.subject)}  # ${subjectNeed(x)}\n`);
      }
      expect(conf).toContain('auth_callout {\n    issuer: $NATS_CALLOUT_ISSUER\n    account: coderun\n');
      expect(conf).toContain('auth_users: [$NATS_FRONTEND_NKEY, $NATS_MIDDLEWARE_NKEY]');
      expect(conf).not.toMatch(/password|token/i);
      // Only the middleware may answer the callout, once per request.
      expect(conf.match(/allow_responses: \{ max: 1 \}/g)).toHaveLength(1);
    });

    it('accepts both nkeys of a rotating user, with the same permissions', () => {
      const conf = serverConf(render(prod, nats(prod, { rotating: ['frontend'] })).objs);
      expect(conf).toContain('nkey: $NATS_FRONTEND_NKEY_NEXT\n');
      expect(conf).toContain('auth_users: [$NATS_FRONTEND_NKEY, $NATS_FRONTEND_NKEY_NEXT, $NATS_MIDDLEWARE_NKEY]');
      const block = (v: string) =>
        conf
          .slice(conf.indexOf(`nkey: ${v}\n`))
          .split('\n      }\n')[0]
          ?.split('\n')
          .slice(1);
      expect(block('$NATS_FRONTEND_NKEY_NEXT')).toEqual(block('$NATS_FRONTEND_NKEY'));
    });

    it('no user may publish or subscribe to everything, nor delete streams or consumers', () => {
      for (const u of NATS_USERS) {
        expect(
          u.subscribe.map((x) => x.subject).filter((x) => x.startsWith('_INBOX')),
          u.user,
        ).toEqual([`${u.inboxPrefix}.>`]);
        for (const { subject } of [...u.publish, ...u.subscribe]) {
          expect(subject, u.user).not.toBe('>');
          expect(subject, u.user).not.toMatch(/^\$JS\.API\.>$|DELETE|PURGE/);
          // Wildcards match whole tokens only: `KV_*` would be a literal that matches nothing.
          for (const token of subject.split('.'))
            expect(token === '*' || token === '>' || !/[*>]/.test(token), subject).toBe(true);
        }
      }
    });

    it.each([
      ['env.secrets.nats', undefined, prod.secrets.nats],
      ['the credentialsSecretName prop', 'other-creds', 'other-creds'],
    ])('reads only public keys from %s via secretKeyRef, never a seed', (_n, credentialsSecretName, secret) => {
      const { objs } = render(prod, undefined, credentialsSecretName ? { credentialsSecretName } : {});
      const vars = natsContainer(objs).env as any[];
      const refs = vars.filter((e) => e.valueFrom?.secretKeyRef).map((e) => [e.name, e.valueFrom.secretKeyRef]);
      expect(refs).toEqual([
        ['NATS_FRONTEND_NKEY', { name: secret, key: 'frontend-nkey' }],
        ['NATS_MIDDLEWARE_NKEY', { name: secret, key: 'middleware-nkey' }],
        ['NATS_CALLOUT_ISSUER', { name: secret, key: 'callout-issuer' }],
      ]);
    });
  });

  describe('TLS', () => {
    it('requests a server certificate from the configured issuer covering the client and every server name (prod)', () => {
      const { objs } = render(prod);
      const cert = one(objs, 'Certificate');
      expect(cert.apiVersion).toBe('cert-manager.io/v1');
      expect(cert.metadata).toMatchObject({ name: 'nats-tls', namespace: prod.namespaces.app });
      expect(cert.spec.secretName).toBe('nats-tls');
      expect(cert.spec.issuerRef).toEqual({
        group: 'cert-manager.io',
        kind: 'ClusterIssuer',
        name: 'coderun-internal-ca',
      });
      // Server auth for clients; client auth too, because each server dials its peers' routes.
      expect(cert.spec.usages).toEqual(['server auth', 'client auth']);
      expect(cert.spec.dnsNames).toEqual(
        expect.arrayContaining([
          `nats.${prod.namespaces.app}.svc.cluster.local`,
          `*.nats-headless.${prod.namespaces.app}.svc.cluster.local`,
        ]),
      );
    });

    it('runs the cluster routes over verified TLS when TLS is on (prod), and in clear otherwise (staging)', () => {
      const tlsConf = serverConf(render(prod).objs);
      const cluster = tlsConf.slice(tlsConf.indexOf('cluster {'));
      expect(cluster).toMatch(/^ {2}tls \{\n {4}cert_file: \/etc\/nats-tls\/tls\.crt\n(.*\n){2} {4}verify: true$/m);
      const clear = serverConf(
        render({ ...prod, services: { ...prod.services, nats: { ...prod.services.nats, tls: undefined } } }).objs,
      );
      expect(clear).toContain('cluster {');
      expect(clear).not.toContain('tls {');
    });

    it('serves TLS with the mounted certificate files', () => {
      const { objs } = render(prod);
      const conf = serverConf(objs);
      expect(conf).toMatch(/^tls \{$/m);
      const mount = (natsContainer(objs).volumeMounts as any[]).find((m) => m.name === 'tls');
      expect(mount).toEqual({ name: 'tls', mountPath: '/etc/nats-tls', readOnly: true });
      for (const f of ['tls.crt', 'tls.key', 'ca.crt']) expect(conf).toContain(`${mount.mountPath}/${f}`);
      const volume = (one(objs, 'StatefulSet').spec.template.spec.volumes as any[]).find((v) => v.name === 'tls');
      expect(volume.secret.secretName).toBe(one(objs, 'Certificate').spec.secretName);
    });

    it('renders no certificate, tls block or tls volume without TLS (staging)', () => {
      const { objs } = render(staging);
      expect(find(objs, 'Certificate')).toHaveLength(0);
      expect(serverConf(objs)).not.toMatch(/^tls \{/m);
      expect((one(objs, 'StatefulSet').spec.template.spec.volumes as any[]).map((v) => v.name)).not.toContain('tls');
    });
  });

  describe('metrics exporter', () => {
    it('runs a restricted, sized, probed exporter sidecar against the local monitor port', () => {
      const { objs } = render(prod);
      const containers = one(objs, 'StatefulSet').spec.template.spec.containers as any[];
      expect(containers.map((c) => c.name)).toEqual(['nats', 'metrics']);
      const exporter = containers[1];
      expect(exporter.image).toBe(imageString(prod.services.nats.exporterImage));
      expect(exporter.args).toContain('http://localhost:8222');
      expect(exporter.ports).toEqual([{ name: 'metrics', containerPort: 7777, protocol: 'TCP' }]);
      expect(exporter.args).toContain('-port=7777');
      expect(exporter.securityContext.readOnlyRootFilesystem).toBe(true);
      expect(exporter.resources.limits).toEqual({ cpu: '100m', 'ephemeral-storage': '64Mi', memory: '64Mi' });
      expect(exporter.readinessProbe.httpGet.port).toBe('metrics');
      // The monitor port the exporter scrapes is the one NATS serves.
      expect(serverConf(objs)).toContain('http_port: 8222');
    });
  });

  describe('invalid input', () => {
    it.each([2, 4, 6])('fails for an even number of replicas (%s), naming the value', (replicas) => {
      expect(() => render(prod, nats(prod, { replicas }))).toThrow(`nats: replicas (${replicas})`);
    });

    it.each([0, -1, 2.5])('fails for replicas %s', (replicas) => {
      expect(() => render(prod, nats(prod, { replicas }))).toThrow(`replicas (${replicas})`);
    });

    it.each([1, 3, 5, 7])('accepts %s replicas', (replicas) => {
      expect(one(render(prod, nats(prod, { replicas })).objs, 'StatefulSet').spec.replicas).toBe(replicas);
    });

    it('fails for a memory limit too small for the Go runtime, naming it', () => {
      const resources = { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '1', memory: '64Mi' } };
      expect(() => render(prod, nats(prod, { resources }))).toThrow(/memory limit \(64Mi\) is too small/);
    });
  });
});
