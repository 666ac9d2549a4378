/** Committed objects per environment, loaded once per test file, and helpers to break them. */
import type { EnvironmentConfig } from '../../apps/environment';
import { formatViolations, ruleInput, runRule, type Rule } from '../../src/policy/rules';
import { podSpecOf, type Manifest } from '../../src/model/objects';
import { sharedCommitted } from '../support/committed';

export interface EnvObjects {
  readonly env: EnvironmentConfig;
  /** Objects under dist/<env>/ (the platform, not Argo CD). */
  readonly objects: readonly Manifest[];
  /** Objects under argocd/<env>/, bootstrap/ included (what rules with reads: 'argocd' check). */
  readonly argocd: readonly Manifest[];
  /** Files under argocd/<env>/bootstrap/ and the objects in each. */
  readonly bootstrapFiles: ReadonlyMap<string, readonly Manifest[]>;
}

let cache: Map<string, EnvObjects> | undefined;

/** The committed platform objects of every environment, keyed by environment name. */
export function committedByEnv(): Map<string, EnvObjects> {
  if (cache) return cache;
  cache = new Map();
  for (const d of sharedCommitted()) {
    const entry = cache.get(d.env.name) ?? { env: d.env, objects: [], argocd: [], bootstrapFiles: new Map() };
    if (d.file.startsWith('dist/')) {
      cache.set(d.env.name, { ...entry, objects: [...entry.objects, d.object] });
    } else {
      const files = new Map(entry.bootstrapFiles);
      if (d.file.startsWith(`argocd/${d.env.name}/bootstrap/`))
        files.set(d.file, [...(files.get(d.file) ?? []), d.object]);
      cache.set(d.env.name, { ...entry, argocd: [...entry.argocd, d.object], bootstrapFiles: files });
    }
  }
  return cache;
}

/** The committed objects of one environment. */
export function committed(envName: string): EnvObjects {
  const e = committedByEnv().get(envName);
  if (!e) throw new Error(`no committed output for environment ${envName}`);
  return e;
}

/** The objects a rule reads in an environment: dist/<env>/, argocd/<env>/ (reads: 'argocd'), or both (reads: 'all'). */
export function inputOf(rule: Rule, e: EnvObjects): readonly Manifest[] {
  return ruleInput(rule, e.objects, e.argocd);
}

/** A deep copy of the one committed object of this kind and name. */
export function pick(envName: string, kind: string, name: string): Manifest {
  const o = committed(envName).objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} in dist/${envName}`);
  return structuredClone(o);
}

/** Replace one object (same kind and name) in a copy of the environment's objects. */
export function withReplaced(envName: string, replacement: Manifest): Manifest[] {
  return committed(envName).objects.map((o) =>
    o.kind === replacement.kind &&
    o.metadata.name === replacement.metadata.name &&
    o.metadata.namespace === replacement.metadata.namespace
      ? replacement
      : o,
  );
}

/**
 * The violations of one rule over some objects, as text ('' when none), in an environment
 * (or in `env`, a variant of it).
 */
export function check(rule: Rule, objects: readonly Manifest[], envName = 'prod', env?: EnvironmentConfig): string {
  return formatViolations(runRule(rule, objects, env ?? committed(envName).env).violations);
}

/** The environment, with its entry point switched to a Gateway (public in gateway-system), as a gateway-mode environment would declare. */
export function withGateway(envName: string): EnvironmentConfig {
  const env = committed(envName).env;
  return {
    ...env,
    entrypoint: { mode: 'gateway', gateway: { name: 'public', namespace: 'gateway-system' }, trustedProxyCidrs: [] },
  };
}

/* eslint-disable @typescript-eslint/no-explicit-any -- tests reach into manifests they break on purpose */
/** The pod spec of a workload under test (src/model/objects.ts's podSpecOf, untyped to be broken). */
export const pod = (o: Manifest): any => podSpecOf(o);
/** Its i-th container. */
export const container = (o: any, i = 0): any => pod(o).containers[i];
/* eslint-enable @typescript-eslint/no-explicit-any */
