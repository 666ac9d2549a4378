/**
 * Conflicts between environments: two environments that would fight over one thing in the real
 * world. Each file is valid alone; together they would overwrite each other's objects, serve two
 * platforms under one hostname, or share credentials. Synth refuses them before writing anything.
 */
import type { ConfigProblem } from '../model/loader';
import type { EnvironmentConfig } from '../../apps/environment';
import { CLUSTER_SCOPED_KINDS, type Manifest } from '../model/objects';

/** An environment and, when rendered, its platform objects (dist/<env>/). */
export interface ConflictInput {
  readonly env: EnvironmentConfig;
  /** Rendered platform objects; without them cluster-scoped objects are not compared. */
  readonly objects?: readonly Manifest[];
}

/** The Argo CD destination cluster as one string: `server <url>` or `name <name>`. */
export function destinationCluster(env: EnvironmentConfig): string {
  const d = env.argocd.destination;
  return d.server !== undefined ? `server ${d.server}` : `name ${d.name ?? ''}`;
}

/** A located problem without its line; the caller finds the line in the file. */
export type ConflictProblem = Omit<ConfigProblem, 'line'>;

/**
 * Every conflict between any two of `inputs`, reported once in each of the two files (each names
 * the other), so whichever file is new shows the problem.
 */
export function environmentConflicts(inputs: readonly ConflictInput[]): ConflictProblem[] {
  const out: ConflictProblem[] = [];
  const sorted = [...inputs].sort((a, b) => a.env.name.localeCompare(b.env.name));
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length; j++) {
      const a = sorted[i];
      const b = sorted[j];
      if (a && b) out.push(...pairConflicts(a, b), ...pairConflicts(b, a));
    }
  }
  return out;
}

/** Conflicts of `a` with `b`, reported in a's file. */
function pairConflicts(a: ConflictInput, b: ConflictInput): ConflictProblem[] {
  const out: ConflictProblem[] = [];
  const file = a.env.sourceFile;
  const other = `${b.env.name} (${b.env.sourceFile})`;
  if (a.env.hostname === b.env.hostname) {
    out.push({
      file,
      path: 'hostname',
      message: `'${a.env.hostname}' is also the hostname of ${other}; two platforms cannot serve one hostname. Give each environment its own hostname.`,
    });
  }
  const sameCluster = destinationCluster(a.env) === destinationCluster(b.env);
  if (sameCluster) {
    const theirs = new Set([b.env.namespaces.app, b.env.namespaces.executor]);
    const shared = new Set<string>();
    for (const key of ['app', 'executor'] as const) {
      const ns = a.env.namespaces[key];
      if (theirs.has(ns)) {
        shared.add(`Namespace ${ns}`);
        out.push({
          file,
          path: `namespaces.${key}`,
          message: `'${ns}' on Argo CD destination ${destinationCluster(a.env)} is also used by ${other}; the two Applications would overwrite each other. Use another namespace or another argocd.destination.`,
        });
      }
    }
    if (a.objects && b.objects) {
      const theirNames = new Set(b.objects.filter(isClusterScoped).map(clusterKey));
      const seen = new Set<string>();
      for (const o of a.objects.filter(isClusterScoped)) {
        const k = clusterKey(o);
        if (!theirNames.has(k) || seen.has(k) || shared.has(k)) continue; // a shared namespace is reported above
        seen.add(k);
        out.push({
          file,
          path: 'argocd.destination',
          message: `cluster-scoped ${k} is also rendered by ${other} for the same cluster (${destinationCluster(a.env)}); the two Applications would fight over it. Deploy the environments to different clusters (argocd.destination).`,
        });
      }
    }
  }
  const mine = remoteKeys(a.env);
  const theirs = new Map(remoteKeys(b.env).map(([k, v]) => [v, k]));
  for (const [key, path] of mine) {
    const shared = theirs.get(path);
    if (shared === undefined) continue;
    out.push({
      file,
      path: `secrets.externalSecrets.remoteKeys.${key}`,
      message: `secret path '${path}' is also ${b.env.name}'s remoteKeys.${shared} (${b.env.sourceFile}); environments must not share credentials. Use a path of this environment's own.`,
    });
  }
  return out;
}

function remoteKeys(env: EnvironmentConfig): [string, string][] {
  return Object.entries(env.secrets.externalSecrets?.remoteKeys ?? {});
}

function isClusterScoped(o: Manifest): boolean {
  return CLUSTER_SCOPED_KINDS.has(o.kind);
}

function clusterKey(o: Manifest): string {
  return `${o.kind} ${o.metadata.name}`;
}
