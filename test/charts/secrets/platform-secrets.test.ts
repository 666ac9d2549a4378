import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { App, Chart } from 'cdk8s';
import { loadEnvironment, type EnvironmentConfig } from '../../../apps/environment';
import {
  PlatformSecrets,
  platformSecrets,
  EXTERNAL_SECRET_API_VERSION,
} from '../../../charts/secrets/platform-secrets';
import { natsCredentialKeys } from '../../../charts/nats/plan';
import { SchemaValidator } from '../../support/schema-validator';

/* eslint-disable @typescript-eslint/no-explicit-any */

const root = path.resolve(__dirname, '../../..');
const dev = loadEnvironment(root, 'dev');
const staging = loadEnvironment(root, 'staging');
const prod = loadEnvironment(root, 'prod');
const validator = new SchemaValidator({ kubernetesVersions: ['1.30'] });

function render(env: EnvironmentConfig): any[] {
  const app = new App();
  const chart = new Chart(app, 'test', { disableResourceNameHashes: true });
  new PlatformSecrets(chart, 'secrets', {
    platform: env,
    secrets: env.secrets,
    natsKeys: natsCredentialKeys(env.services.nats),
  });
  return chart.toJson() as any[];
}

function byName(objs: any[], name: string): any {
  const found = objs.filter((o) => o.metadata.name === name);
  expect(found, name).toHaveLength(1);
  return found[0];
}

type Sealed = NonNullable<EnvironmentConfig['secrets']['sealedSecrets']>;

/** Fake kubeseal output: recognisable per secret and key. */
const fakeSealed: Sealed = {
  oauth2Proxy: {
    'client-id': 'AgB-client-id-ciphertext',
    'client-secret': 'AgB-client-secret-ciphertext',
    'cookie-secret': 'AgB-cookie-secret-ciphertext',
  },
  nats: {
    'frontend-nkey': 'AgB-frontend-nkey-ciphertext',
    'frontend-nkey-seed': 'AgB-frontend-seed-ciphertext',
    'middleware-nkey': 'AgB-middleware-nkey-ciphertext',
    'middleware-nkey-seed': 'AgB-middleware-seed-ciphertext',
    'callout-issuer': 'AgB-callout-issuer-ciphertext',
    'callout-issuer-seed': 'AgB-callout-issuer-seed-ciphertext',
  },
};

/** The environment as if it named no registry: the platform's two Secrets alone. */
function publicImages(env: EnvironmentConfig): EnvironmentConfig {
  const { registry: _unused, ...rest } = env;
  return rest;
}

const NATS_KEYS = [
  'frontend-nkey',
  'frontend-nkey-seed',
  'middleware-nkey',
  'middleware-nkey-seed',
  'callout-issuer',
  'callout-issuer-seed',
];

function withSealed(env: EnvironmentConfig, sealedSecrets: Sealed = fakeSealed): EnvironmentConfig {
  const { externalSecrets: _unused, ...rest } = env.secrets;
  return { ...publicImages(env), secrets: { ...rest, provider: 'sealed-secrets', sealedSecrets } };
}

describe('PlatformSecrets', () => {
  it('lists the two Secrets the platform reads, with their namespaces and keys', () => {
    expect(
      platformSecrets(publicImages(prod), prod.secrets, natsCredentialKeys(prod.services.nats)).map((s) => ({
        ns: s.namespace,
        name: s.name,
        remote: s.remote,
        keys: s.keys.map((k) => `${k.key}<-${k.remoteProperty}`),
      })),
    ).toEqual([
      {
        ns: 'coderun',
        name: 'oauth2-proxy-credentials',
        remote: 'oauth2Proxy',
        keys: ['client-id<-client-id', 'client-secret<-client-secret', 'cookie-secret<-cookie-secret'],
      },
      {
        ns: 'coderun',
        name: 'nats-credentials',
        remote: 'nats',
        keys: NATS_KEYS.map((k) => `${k}<-${k}`),
      },
    ]);
  });

  it("adds a user's next nkey while services.nats.rotating names it", () => {
    const rotating = { ...prod.services.nats, rotating: ['middleware' as const] };
    expect(natsCredentialKeys(rotating)).toEqual([
      'frontend-nkey',
      'frontend-nkey-seed',
      'middleware-nkey',
      'middleware-nkey-next',
      'middleware-nkey-seed',
      'callout-issuer',
      'callout-issuer-seed',
    ]);
  });

  describe('pre-created', () => {
    it('dev: renders nothing', () => {
      expect(dev.secrets.provider).toBe('pre-created');
      expect(render(dev)).toEqual([]);
    });
  });

  describe('external-secrets', () => {
    it.each([
      [
        'staging',
        staging,
        'ClusterSecretStore',
        'coderun-vault',
        '1h',
        'coderun/staging/oauth2-proxy',
        'coderun/staging/nats',
      ],
      [
        'prod',
        prod,
        'ClusterSecretStore',
        'coderun-gcp-secret-manager',
        '15m',
        'coderun-prod-oauth2-proxy',
        'coderun-prod-nats',
      ],
    ] as const)(
      '%s: renders two ExternalSecrets from %s %s, refreshed every %s',
      (_n, env, storeKind, storeName, refresh, oauthKey, natsKey) => {
        const objs = render(publicImages(env));
        expect(objs).toHaveLength(2);
        for (const o of objs) {
          expect(o.apiVersion).toBe('external-secrets.io/v1');
          expect(o.kind).toBe('ExternalSecret');
          expect(o.spec.secretStoreRef).toEqual({ kind: storeKind, name: storeName });
          expect(o.spec.refreshInterval).toBe(refresh);
          expect(o.spec.target).toEqual({ name: o.metadata.name, creationPolicy: 'Owner', deletionPolicy: 'Retain' });
          expect(validator.validate(o, '1.30')).toEqual([]);
        }
        expect(EXTERNAL_SECRET_API_VERSION).toBe('external-secrets.io/v1');

        const oauth = byName(objs, 'oauth2-proxy-credentials');
        expect(oauth.metadata.namespace).toBe('coderun');
        expect(oauth.spec.data).toEqual(
          ['client-id', 'client-secret', 'cookie-secret'].map((k) => ({
            secretKey: k,
            remoteRef: { key: oauthKey, property: k },
          })),
        );

        const nats = byName(objs, 'nats-credentials');
        expect(nats.metadata.namespace).toBe('coderun');
        expect(nats.spec.data).toEqual(
          NATS_KEYS.map((k) => ({
            secretKey: k,
            remoteRef: { key: natsKey, property: k },
          })),
        );
      },
    );

    it('never renders a Secret or any value', () => {
      const objs = render(prod);
      expect(objs.filter((o) => o.kind === 'Secret')).toEqual([]);
      for (const o of objs) {
        expect(o).not.toHaveProperty('data');
        expect(o).not.toHaveProperty('stringData');
      }
    });

    it('uses a namespaced SecretStore and the configured Secret names', () => {
      const env: EnvironmentConfig = {
        ...publicImages(staging),
        secrets: {
          ...staging.secrets,
          oauth2Proxy: 'edge-creds',
          nats: 'bus-creds',
          externalSecrets: {
            store: { kind: 'SecretStore', name: 'local-vault' },
            refreshInterval: '5m',
            remoteKeys: { oauth2Proxy: 'edge', nats: 'bus' },
          },
        },
      };
      const objs = render(env);
      expect(objs.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
        'coderun/edge-creds',
        'coderun/bus-creds',
      ]);
      expect(objs.map((o) => o.spec.target.name)).toEqual(['edge-creds', 'bus-creds']);
      expect(objs.map((o) => o.spec.secretStoreRef.kind)).toEqual(['SecretStore', 'SecretStore']);
      expect(objs.map((o) => o.spec.data[0].remoteRef.key)).toEqual(['edge', 'bus']);
      for (const o of objs) expect(validator.validate(o, '1.30')).toEqual([]);
    });

    it.each([
      ['staging', staging],
      ['prod', prod],
    ] as const)(
      '%s: renders the registry pull Secret in both namespaces, typed kubernetes.io/dockerconfigjson',
      (_n, env) => {
        const registry = env.registry;
        const es = env.secrets.externalSecrets;
        if (!registry || !es?.remoteKeys.registry) throw new Error(`${env.name} names a registry and its remote key`);
        const objs = render(env).filter((o) => o.spec.target.name === registry.pullSecret);
        expect(objs.map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
          `${env.namespaces.app}/${registry.pullSecret}`,
          `${env.namespaces.executor}/${registry.pullSecret}-executor`,
        ]);
        for (const o of objs) {
          expect(o.spec.target).toEqual({
            name: registry.pullSecret,
            creationPolicy: 'Owner',
            deletionPolicy: 'Retain',
            template: { type: 'kubernetes.io/dockerconfigjson' },
          });
          expect(o.spec.data).toEqual([
            {
              secretKey: '.dockerconfigjson',
              remoteRef: { key: es.remoteKeys.registry, property: 'dockerconfigjson' },
            },
          ]);
          expect(validator.validate(o, '1.30')).toEqual([]);
        }
      },
    );

    it('refuses a registry without its remote key, and sealed-secrets with a registry', () => {
      const es = staging.secrets.externalSecrets;
      if (!es) throw new Error('staging uses external-secrets');
      const { registry: _unused, ...keys } = es.remoteKeys;
      expect(() =>
        render({ ...staging, secrets: { ...staging.secrets, externalSecrets: { ...es, remoteKeys: keys } } }),
      ).toThrow('secrets.externalSecrets.remoteKeys.registry is missing');
      const { externalSecrets: _es, ...rest } = staging.secrets;
      expect(() =>
        render({ ...staging, secrets: { ...rest, provider: 'sealed-secrets', sealedSecrets: fakeSealed } }),
      ).toThrow('registry pull Secrets have no sealed-secrets form yet');
    });

    it('fails when externalSecrets is missing', () => {
      const { externalSecrets: _unused, ...rest } = prod.secrets;
      expect(() => render({ ...prod, secrets: rest })).toThrow(
        'secrets.provider is external-secrets but secrets.externalSecrets is missing',
      );
    });
  });

  describe('sealed-secrets', () => {
    const env = withSealed(prod);

    it('renders two SealedSecrets holding only the ciphertext, in the right namespaces', () => {
      const objs = render(env);
      expect(objs.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
        'SealedSecret coderun/oauth2-proxy-credentials',
        'SealedSecret coderun/nats-credentials',
      ]);
      expect(byName(objs, 'oauth2-proxy-credentials').spec.encryptedData).toEqual(fakeSealed.oauth2Proxy);
      expect(byName(objs, 'nats-credentials').spec.encryptedData).toEqual(fakeSealed.nats);
      for (const o of objs) {
        expect(o.apiVersion).toBe('bitnami.com/v1alpha1');
        expect(validator.validate(o, '1.30')).toEqual([]);
      }
      expect(objs.filter((o) => o.kind === 'Secret')).toEqual([]);
    });

    it('gives the unsealed Secret the same name, namespace and labels through the template', () => {
      for (const o of render(env)) {
        expect(o.spec.template).toEqual({
          metadata: { name: o.metadata.name, namespace: o.metadata.namespace, labels: o.metadata.labels },
          type: 'Opaque',
        });
        expect(o.metadata.labels['app.kubernetes.io/component']).toBe('credentials');
        expect(o.metadata.labels['app.kubernetes.io/name']).toBe(o.metadata.name);
      }
    });

    it('copies only the keys the platform reads', () => {
      const extra = withSealed(prod, { ...fakeSealed, nats: { ...fakeSealed.nats, 'executor-password': 'AgB-y' } });
      expect(byName(render(extra), 'nats-credentials').spec.encryptedData).toEqual(fakeSealed.nats);
    });

    it('fails when a sealed key is missing, naming it', () => {
      const { 'middleware-nkey-seed': _gone, ...nats } = fakeSealed.nats;
      expect(() => render(withSealed(prod, { ...fakeSealed, nats }))).toThrow(
        'secrets.sealedSecrets.nats lacks encrypted key(s) middleware-nkey-seed',
      );
    });

    it('fails naming every missing key of a secret', () => {
      const oauth2Proxy = { 'client-secret': 'AgB' };
      expect(() => render(withSealed(prod, { ...fakeSealed, oauth2Proxy }))).toThrow(
        'secrets.sealedSecrets.oauth2Proxy lacks encrypted key(s) client-id, cookie-secret',
      );
    });

    it('fails when a whole secret is missing, naming it', () => {
      const { oauth2Proxy: _gone, ...partial } = fakeSealed;
      expect(() => render(withSealed(prod, partial as Sealed))).toThrow('secrets.sealedSecrets.oauth2Proxy is missing');
    });
  });
});
