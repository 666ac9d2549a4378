/**
 * Rules over the committed argocd/<env>/ (AppProject, Application and bootstrap/), as Argo CD reads
 * them. They take the environment's Argo CD objects (reads: 'argocd'), not dist/.
 */
import type { EnvironmentConfig } from '../../../apps/environment';
import { asArr, asObj, asStrArr, type Json, type Manifest } from '../../model/objects';
import { violation, type Rule, type Violation } from './core';

const APP = 'Application';
const PROJECT = 'AppProject';
const isApp = (o: Manifest) => o.apiVersion.startsWith('argoproj.io/') && o.kind === APP;
const isProject = (o: Manifest) => o.apiVersion.startsWith('argoproj.io/') && o.kind === PROJECT;

/** The path of the Application that keeps argocd/<env>/ applied (the bootstrap's root Application). */
export const bootstrapPath = (env: EnvironmentConfig) => `argocd/${env.name}`;
/** The path of the environment's platform Application. */
export const platformPath = (env: EnvironmentConfig) => `dist/${env.name}`;
/**
 * What the README tells a user to run, once per cluster (section "Argo CD", **Bootstrap**):
 * README.md must contain this command with <env> as written; test/policy/argocd.test.ts checks it.
 */
export const README_BOOTSTRAP_COMMAND = 'kubectl apply -n argocd -f argocd/<env>/bootstrap/';

function sourceOf(app: Manifest): Json {
  return asObj(asObj(app.spec).source);
}
function destinationOf(app: Manifest): Json {
  return asObj(asObj(app.spec).destination);
}
/** The server or name an environment's Argo CD objects must target. */
function envCluster(env: EnvironmentConfig): { server?: string; name?: string } {
  return env.argocd.destination.server !== undefined
    ? { server: env.argocd.destination.server }
    : { name: env.argocd.destination.name };
}

/** Every string under `value` that contains '*' or is a negation ('!'), with its path. */
function wildcards(value: unknown, path: string): string[] {
  if (typeof value === 'string') return value.includes('*') || value.startsWith('!') ? [`${path} = '${value}'`] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => wildcards(v, `${path}[${i}]`));
  if (typeof value === 'object' && value !== null)
    return Object.entries(value).flatMap(([k, v]) => wildcards(v, path ? `${path}.${k}` : k));
  return [];
}

export const argocdProjectWildcardsRule: Rule = {
  id: 'argocd-project-no-wildcards',
  reason:
    'An AppProject is the fence around what git may do to the cluster; a wildcard repository, destination or kind, or a missing namespaced-kind list (Argo CD then allows every kind), removes it (reads argocd/).',
  reads: 'argocd',
  check: (objects) => {
    const out: Violation[] = [];
    for (const p of objects.filter(isProject)) {
      const spec = asObj(p.spec);
      for (const w of wildcards(spec, 'spec')) out.push(violation(argocdProjectWildcardsRule.id, p, `wildcard: ${w}`));
      if (!Array.isArray(spec.namespaceResourceWhitelist))
        out.push(
          violation(
            argocdProjectWildcardsRule.id,
            p,
            'has no namespaceResourceWhitelist: every namespaced kind is allowed',
          ),
        );
      if (spec.clusterResourceBlacklist !== undefined || spec.namespaceResourceBlacklist !== undefined)
        out.push(violation(argocdProjectWildcardsRule.id, p, 'uses a blacklist; list the allowed kinds instead'));
      if (asStrArr(spec.sourceRepos).length === 0)
        out.push(violation(argocdProjectWildcardsRule.id, p, 'has no sourceRepos'));
    }
    return out;
  },
};

export const argocdApplicationPathRule: Rule = {
  id: 'argocd-application-path',
  reason:
    "An environment's Applications sync only its own folders, from this repository and the environment's branch: dist/<env> for the platform, argocd/<env> for the bootstrap (reads argocd/).",
  reads: 'argocd',
  check: (objects, env) => {
    const out: Violation[] = [];
    const allowed = [platformPath(env), bootstrapPath(env)];
    for (const app of objects.filter(isApp)) {
      const src = asObj(asObj(app.spec).source);
      const sources = asArr(asObj(app.spec).sources);
      if (sources.length > 0)
        out.push(violation(argocdApplicationPathRule.id, app, 'uses spec.sources; one source (this repository) only'));
      const path = String(src.path ?? '').replace(/\/+$/, '');
      if (!allowed.includes(path))
        out.push(
          violation(
            argocdApplicationPathRule.id,
            app,
            `syncs path '${path}', not one of ${allowed.join(', ')} (another environment's or no folder)`,
          ),
        );
      if (src.repoURL !== env.argocd.repoURL)
        out.push(
          violation(
            argocdApplicationPathRule.id,
            app,
            `syncs repository ${String(src.repoURL)}, not ${env.argocd.repoURL}`,
          ),
        );
      if (src.targetRevision !== env.argocd.targetRevision)
        out.push(
          violation(
            argocdApplicationPathRule.id,
            app,
            `follows revision ${String(src.targetRevision)}, not ${env.argocd.targetRevision}`,
          ),
        );
    }
    return out;
  },
};

export const argocdApplicationDestinationRule: Rule = {
  id: 'argocd-application-destination',
  reason:
    "The platform Application deploys to the environment's cluster and app namespace, the bootstrap to Argo CD's namespace, and each stays within its AppProject's destinations (reads argocd/).",
  reads: 'argocd',
  check: (objects, env) => {
    const out: Violation[] = [];
    const projects = new Map(objects.filter(isProject).map((p) => [p.metadata.name, p]));
    for (const app of objects.filter(isApp)) {
      const d = destinationOf(app);
      const bootstrap = String(sourceOf(app).path ?? '').replace(/\/+$/, '') === bootstrapPath(env);
      const want = bootstrap
        ? { server: 'https://kubernetes.default.svc', namespace: env.argocd.namespace }
        : { ...envCluster(env), namespace: env.namespaces.app };
      const got = { server: d.server, name: d.name, namespace: d.namespace };
      for (const k of ['server', 'name', 'namespace'] as const)
        if ((got[k] ?? undefined) !== (want as Record<string, string | undefined>)[k])
          out.push(
            violation(
              argocdApplicationDestinationRule.id,
              app,
              `destination.${k} is ${String(got[k])}, expected ${String((want as Record<string, string | undefined>)[k])}`,
            ),
          );
      if (app.metadata.namespace !== env.argocd.namespace)
        out.push(
          violation(
            argocdApplicationDestinationRule.id,
            app,
            `lives in namespace ${String(app.metadata.namespace)}, not ${env.argocd.namespace}`,
          ),
        );
      const project = projects.get(String(asObj(app.spec).project));
      if (project) {
        const ok = asArr(asObj(project.spec).destinations).some(
          (x) => x.namespace === d.namespace && x.server === d.server && x.name === d.name,
        );
        if (!ok)
          out.push(
            violation(
              argocdApplicationDestinationRule.id,
              app,
              `destination is not among AppProject ${project.metadata.name}'s destinations`,
            ),
          );
      }
    }
    return out;
  },
};

export const argocdApplicationProjectRule: Rule = {
  id: 'argocd-application-project',
  reason:
    "Every Application belongs to an AppProject committed beside it, never to Argo CD's unrestricted `default` project (reads argocd/).",
  reads: 'argocd',
  check: (objects) => {
    const out: Violation[] = [];
    const projects = new Set(objects.filter(isProject).map((p) => p.metadata.name));
    for (const app of objects.filter(isApp)) {
      const project = asObj(app.spec).project;
      if (project === undefined || project === '' || project === 'default')
        out.push(
          violation(
            argocdApplicationProjectRule.id,
            app,
            `uses the '${String(project ?? 'default')}' project, which allows everything`,
          ),
        );
      else if (!projects.has(String(project)))
        out.push(
          violation(
            argocdApplicationProjectRule.id,
            app,
            `uses AppProject ${String(project)}, which is not committed in argocd/`,
          ),
        );
    }
    return out;
  },
};

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}

export const argocdBootstrapRule: Rule = {
  id: 'argocd-bootstrap-as-documented',
  reason:
    'The bootstrap is what the README says: one root Application in the argocd namespace that keeps argocd/<env>/ (not recursively) applied with automated prune and selfHeal, in a project allowing only Applications and AppProjects there (reads argocd/).',
  reads: 'argocd',
  check: (objects, env) => {
    const out: Violation[] = [];
    const id = argocdBootstrapRule.id;
    const apps = objects.filter(isApp);
    const roots = apps.filter((a) => String(sourceOf(a).path ?? '').replace(/\/+$/, '') === bootstrapPath(env));
    const platform = apps.filter((a) => String(sourceOf(a).path ?? '').replace(/\/+$/, '') === platformPath(env));
    const anchor = apps[0] ?? objects[0];
    if (anchor && roots.length !== 1)
      out.push(
        violation(id, anchor, `expected exactly one Application syncing ${bootstrapPath(env)}, found ${roots.length}`),
      );
    if (anchor && platform.length !== 1)
      out.push(
        violation(
          id,
          anchor,
          `expected exactly one Application syncing ${platformPath(env)}, found ${platform.length}`,
        ),
      );
    for (const root of roots) {
      const spec = asObj(root.spec);
      if (asObj(sourceOf(root).directory).recurse !== false)
        out.push(
          violation(id, root, 'must not recurse: bootstrap/ is applied by hand, as the README says, not by itself'),
        );
      const auto = asObj(asObj(spec.syncPolicy).automated);
      if (auto.prune !== true || auto.selfHeal !== true)
        out.push(violation(id, root, 'must sync automatically with prune and selfHeal'));
      if (root.metadata.namespace !== 'argocd' || env.argocd.namespace !== 'argocd')
        out.push(
          violation(
            id,
            root,
            `the README applies bootstrap/ with -n argocd; the root Application is in ${String(root.metadata.namespace)}`,
          ),
        );
      const project = objects.find((p) => isProject(p) && p.metadata.name === spec.project);
      if (!project) {
        out.push(violation(id, root, `its AppProject ${String(spec.project)} is not committed`));
        continue;
      }
      const ps = asObj(project.spec);
      const kinds = asArr(ps.namespaceResourceWhitelist).map((k) => `${String(k.group)}/${String(k.kind)}`);
      if (!sameSet(kinds, [`argoproj.io/${APP}`, `argoproj.io/${PROJECT}`]))
        out.push(
          violation(
            id,
            project,
            `must allow exactly argoproj.io Application and AppProject, allows ${kinds.join(', ') || 'nothing'}`,
          ),
        );
      if (asArr(ps.clusterResourceWhitelist).length > 0)
        out.push(violation(id, project, 'must allow no cluster-scoped kind'));
      const dests = asArr(ps.destinations).map((x) => `${String(x.server ?? x.name)}/${String(x.namespace)}`);
      if (!sameSet(dests, [`https://kubernetes.default.svc/${env.argocd.namespace}`]))
        out.push(
          violation(
            id,
            project,
            `must allow only the in-cluster ${env.argocd.namespace} namespace, allows ${dests.join(', ')}`,
          ),
        );
      if (!sameSet(asStrArr(ps.sourceRepos), [env.argocd.repoURL]))
        out.push(violation(id, project, `must allow only ${env.argocd.repoURL}`));
    }
    return out;
  },
};

export const ARGOCD_RULES: readonly Rule[] = [
  argocdProjectWildcardsRule,
  argocdApplicationPathRule,
  argocdApplicationDestinationRule,
  argocdApplicationProjectRule,
  argocdBootstrapRule,
];
