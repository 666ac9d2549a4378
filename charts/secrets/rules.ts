/** The secrets' cross-field rules, run by the loader after their defaults. */
import type { PlatformConfig } from '../../src/model/platform';
import type { PathProblem } from '../../src/model/schema';
import { platformSecrets } from './platform-secrets';
import type { SecretsConfig } from './schema';

/** `natsKeys`: the keys of NATS's credentials Secret (the NATS plan's natsCredentialKeys). */
export function secretsRules(c: PlatformConfig, s: SecretsConfig, natsKeys: readonly string[]): PathProblem[] {
  const out: PathProblem[] = [];
  if (s.provider === 'external-secrets' && !s.externalSecrets) {
    out.push({
      path: 'secrets.externalSecrets',
      message: 'is required when secrets.provider is external-secrets. Add the store and remote keys.',
    });
  }
  if (s.provider === 'sealed-secrets' && !s.sealedSecrets) {
    out.push({
      path: 'secrets.sealedSecrets',
      message: 'is required when secrets.provider is sealed-secrets. Add the kubeseal output.',
    });
  }
  if (s.provider !== 'external-secrets' && s.externalSecrets) {
    out.push({
      path: 'secrets.externalSecrets',
      message: `is only used with provider external-secrets, not ${s.provider}. Remove it.`,
    });
  }
  if (s.provider !== 'sealed-secrets' && s.sealedSecrets) {
    out.push({
      path: 'secrets.sealedSecrets',
      message: `is only used with provider sealed-secrets, not ${s.provider}. Remove it.`,
    });
  }
  if (c.registry && s.provider === 'external-secrets' && s.externalSecrets && !s.externalSecrets.remoteKeys.registry) {
    out.push({
      path: 'secrets.externalSecrets.remoteKeys',
      message: `has no registry key, but registry.pullSecret ${c.registry.pullSecret} comes from the store. Add remoteKeys.registry: the remote secret whose property dockerconfigjson holds the registry's Docker config JSON.`,
    });
  }
  if (c.registry && s.provider === 'sealed-secrets') {
    out.push({
      path: 'registry',
      message:
        'a registry pull Secret has no sealed-secrets form yet. Use secrets.provider external-secrets or pre-created, or remove registry.',
    });
  }
  if (!c.registry && s.externalSecrets?.remoteKeys.registry) {
    out.push({
      path: 'secrets.externalSecrets.remoteKeys.registry',
      message: 'is only used with a registry, and this environment names none. Remove it or add registry.',
    });
  }
  if (s.sealedSecrets) {
    // The keys each Secret must hold: the same list the Secrets are rendered from.
    for (const secret of platformSecrets(c, s, natsKeys)) {
      if (secret.ref === 'registry') continue;
      const have = Object.keys(s.sealedSecrets[secret.ref]);
      const missing = secret.keys.map((x) => x.key).filter((x) => !have.includes(x));
      if (missing.length > 0) {
        out.push({
          path: `secrets.sealedSecrets.${secret.ref}`,
          message: `is missing encrypted key(s) ${missing.join(', ')}. Seal them with kubeseal.`,
        });
      }
    }
  }
  return out;
}
