import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { PlatformConfig } from '../../src/model/platform';
import type { SecretsConfig } from './schema';
import { standardLabels } from '../common/pod-spec';

/** API version of External Secrets Operator's ExternalSecret this repository renders. */
export const EXTERNAL_SECRET_API_VERSION = 'external-secrets.io/v1';

/** One Secret the platform reads, and the keys it must hold. */
export interface PlatformSecret {
  /** Key of `secrets` naming the Secret (and of sealedSecrets / remoteKeys). */
  readonly ref: 'oauth2Proxy' | 'nats';
  readonly namespace: string;
  readonly name: string;
  /** Keys in the Secret, and the property of the remote secret each comes from. */
  readonly keys: readonly { readonly key: string; readonly remoteProperty: string }[];
  /** Which remote secret (secrets.externalSecrets.remoteKeys) holds the values. */
  readonly remote: 'oauth2Proxy' | 'nats';
}

/**
 * The Secrets the platform needs in an environment: names, namespaces and keys. `natsKeys` are the
 * keys of NATS's credentials Secret (the NATS plan's natsCredentialKeys).
 */
export function platformSecrets(
  platform: PlatformConfig,
  secrets: SecretsConfig,
  natsKeys: readonly string[],
): PlatformSecret[] {
  return [
    {
      ref: 'oauth2Proxy',
      namespace: platform.namespaces.app,
      name: secrets.oauth2Proxy,
      remote: 'oauth2Proxy',
      keys: ['client-id', 'client-secret', 'cookie-secret'].map((k) => ({ key: k, remoteProperty: k })),
    },
    {
      ref: 'nats',
      namespace: platform.namespaces.app,
      name: secrets.nats,
      remote: 'nats',
      keys: natsKeys.map((k) => ({ key: k, remoteProperty: k })),
    },
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
      const metadata = { name: secret.name, namespace: secret.namespace, labels };
      if (s.provider === 'external-secrets') {
        const es = s.externalSecrets;
        if (!es) throw new Error('secrets.provider is external-secrets but secrets.externalSecrets is missing');
        new ApiObject(this, `${secret.ref}-external`, {
          apiVersion: EXTERNAL_SECRET_API_VERSION,
          kind: 'ExternalSecret',
          metadata,
          spec: {
            refreshInterval: es.refreshInterval,
            secretStoreRef: { kind: es.store.kind, name: es.store.name },
            target: { name: secret.name, creationPolicy: 'Owner', deletionPolicy: 'Retain' },
            data: secret.keys.map((k) => ({
              secretKey: k.key,
              remoteRef: { key: es.remoteKeys[secret.remote], property: k.remoteProperty },
            })),
          },
        });
      } else if (s.provider === 'sealed-secrets') {
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
