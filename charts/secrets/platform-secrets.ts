import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { PlatformConfig } from '../../src/model/platform';
import type { SecretsConfig } from './schema';
import { standardLabels } from '../common/pod-spec';

/** API version of External Secrets Operator's ExternalSecret this repository renders. */
export const EXTERNAL_SECRET_API_VERSION = 'external-secrets.io/v1';

/** One Secret the platform reads, and the keys it must hold. */
export interface PlatformSecret {
  /**
   * Key of `secrets` naming the Secret (and of sealedSecrets / remoteKeys); `registry` is the pull
   * Secret that `registry.pullSecret` names, one in each namespace.
   */
  readonly ref: 'oauth2Proxy' | 'nats' | 'registry';
  readonly namespace: string;
  readonly name: string;
  /** Keys in the Secret, and the property of the remote secret each comes from. */
  readonly keys: readonly { readonly key: string; readonly remoteProperty: string }[];
  /** Which remote secret (secrets.externalSecrets.remoteKeys) holds the values. */
  readonly remote: 'oauth2Proxy' | 'nats' | 'registry';
  /** The Secret's type. */
  readonly type: 'Opaque' | 'kubernetes.io/dockerconfigjson';
}

/** The key of a kubernetes.io/dockerconfigjson Secret, and the remote property it is copied from. */
export const DOCKER_CONFIG_KEY = { key: '.dockerconfigjson', remoteProperty: 'dockerconfigjson' } as const;

/**
 * The Secrets the platform needs in an environment: names, namespaces and keys. `natsKeys` are the
 * keys of NATS's credentials Secret (the NATS plan's natsCredentialKeys). With a registry, its pull
 * Secret in both namespaces (the kubelet reads a pod's pull Secrets from the pod's namespace).
 */
export function platformSecrets(
  platform: PlatformConfig,
  secrets: SecretsConfig,
  natsKeys: readonly string[],
): PlatformSecret[] {
  const registry = platform.registry;
  const pull: PlatformSecret[] = registry
    ? [platform.namespaces.app, platform.namespaces.executor].map((namespace) => ({
        ref: 'registry',
        namespace,
        name: registry.pullSecret,
        remote: 'registry',
        type: 'kubernetes.io/dockerconfigjson',
        keys: [DOCKER_CONFIG_KEY],
      }))
    : [];
  return [
    {
      ref: 'oauth2Proxy',
      namespace: platform.namespaces.app,
      name: secrets.oauth2Proxy,
      remote: 'oauth2Proxy',
      type: 'Opaque',
      keys: ['client-id', 'client-secret', 'cookie-secret'].map((k) => ({ key: k, remoteProperty: k })),
    },
    {
      ref: 'nats',
      namespace: platform.namespaces.app,
      name: secrets.nats,
      remote: 'nats',
      type: 'Opaque',
      keys: natsKeys.map((k) => ({ key: k, remoteProperty: k })),
    },
    ...pull,
  ];
}

/** Props of {@link PlatformSecrets}. */
export interface PlatformSecretsProps {
  /** The platform-wide settings (namespaces, instance labels). */
  readonly platform: PlatformConfig;
  /** The environment's `secrets` settings; `provider` decides what is rendered. */
  readonly secrets: SecretsConfig;
  /** The keys of NATS's credentials Secret (the NATS plan's credentialKeys). */
  readonly natsKeys: readonly string[];
}

/**
 * How the platform's Secrets reach the cluster without their values entering git:
 * ExternalSecrets that copy them from a secret store, SealedSecrets that hold only ciphertext,
 * or nothing at all when they are pre-created by hand (README: "Secrets").
 */
export class PlatformSecrets extends Construct {
  constructor(scope: Construct, id: string, props: PlatformSecretsProps) {
    super(scope, id);
    const { platform } = props;
    const s = props.secrets;
    for (const secret of platformSecrets(platform, s, props.natsKeys)) {
      const labels = standardLabels(secret.name, 'credentials', platform);
      // The pull Secret has one name in both namespaces; its executor-namespace ExternalSecret gets a
      // name of its own, so that dist/ (one file per kind and name) keeps both.
      const objectName =
        secret.ref === 'registry' && secret.namespace === platform.namespaces.executor
          ? `${secret.name}-executor`
          : secret.name;
      const metadata = { name: objectName, namespace: secret.namespace, labels };
      if (s.provider === 'external-secrets') {
        const es = s.externalSecrets;
        if (!es) throw new Error('secrets.provider is external-secrets but secrets.externalSecrets is missing');
        const remoteKey = es.remoteKeys[secret.remote];
        if (remoteKey === undefined) throw new Error(`secrets.externalSecrets.remoteKeys.${secret.remote} is missing`);
        // A typed Secret (the pull Secret) gets its type through the target's template; its data stays spec.data.
        const template = secret.type === 'Opaque' ? {} : { template: { type: secret.type } };
        new ApiObject(this, `${secret.ref}-${secret.namespace}-external`, {
          apiVersion: EXTERNAL_SECRET_API_VERSION,
          kind: 'ExternalSecret',
          metadata,
          spec: {
            refreshInterval: es.refreshInterval,
            secretStoreRef: { kind: es.store.kind, name: es.store.name },
            target: { name: secret.name, creationPolicy: 'Owner', deletionPolicy: 'Retain', ...template },
            data: secret.keys.map((k) => ({
              secretKey: k.key,
              remoteRef: { key: remoteKey, property: k.remoteProperty },
            })),
          },
        });
      } else if (s.provider === 'sealed-secrets') {
        if (secret.ref === 'registry') throw new Error('registry pull Secrets have no sealed-secrets form yet');
        const sealed = s.sealedSecrets?.[secret.ref];
        if (!sealed) throw new Error(`secrets.sealedSecrets.${secret.ref} is missing`);
        const missing = secret.keys.filter((k) => sealed[k.key] === undefined).map((k) => k.key);
        if (missing.length > 0) {
          throw new Error(`secrets.sealedSecrets.${secret.ref} lacks encrypted key(s) ${missing.join(', ')}`);
        }
        new ApiObject(this, `${secret.ref}-sealed`, {
          apiVersion: 'bitnami.com/v1alpha1',
          kind: 'SealedSecret',
          metadata,
          spec: {
            encryptedData: Object.fromEntries(secret.keys.map((k) => [k.key, sealed[k.key]])),
            template: { metadata: { name: secret.name, namespace: secret.namespace, labels }, type: 'Opaque' },
          },
        });
      }
    }
  }
}
