/** The secrets' cross-field rules, run by the loader after their defaults. */
import type { PathProblem } from '../../src/model/schema';
import type { SecretsConfig } from './schema';

export function secretsRules(s: SecretsConfig): PathProblem[] {
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
  if (s.sealedSecrets) {
    const needed = {
      oauth2Proxy: ['client-id', 'client-secret', 'cookie-secret'],
      nats: ['frontend-password', 'middleware-password', 'executor-password'],
      natsExecutor: ['password'],
    } as const;
    for (const [k, keys] of Object.entries(needed) as [keyof typeof needed, readonly string[]][]) {
      const have = Object.keys(s.sealedSecrets[k]);
      const missing = keys.filter((x) => !have.includes(x));
      if (missing.length > 0) {
        out.push({
          path: `secrets.sealedSecrets.${k}`,
          message: `is missing encrypted key(s) ${missing.join(', ')}. Seal them with kubeseal.`,
        });
      }
    }
  }
  return out;
}
