/* eslint-disable @typescript-eslint/no-explicit-any -- tests break manifests on purpose */
/** The Argo CD rules over argocd/<env>/: the committed objects pass; each way of breaking them fails. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/model/objects';
import { ROOT } from '../support/committed';
import { committed, committedByEnv } from './fixtures';
import {
  argocdApplicationDestinationRule,
  argocdApplicationPathRule,
  argocdApplicationProjectRule,
  argocdBootstrapRule,
  argocdProjectWildcardsRule,
  formatViolations,
  README_BOOTSTRAP_COMMAND,
  runRule,
  type Rule,
} from '../../src/policy/rules';

const ENVS = [...committedByEnv().keys()].sort();
const ENV = ENVS[0] ?? 'dev';
const OTHER = ENVS.find((e) => e !== ENV) ?? ENV;

/** A deep copy of argocd/<env>/'s objects. */
const objects = (env = ENV): any[] => structuredClone(committed(env).argocd) as any[];
const find = (os: any[], kind: string, name: string): any => {
  const o = os.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name}`);
  return o;
};
const app = `coderun-${ENV}`;
const boot = `coderun-${ENV}-bootstrap`;
const check = (rule: Rule, os: readonly Manifest[], env = ENV) =>
  formatViolations(runRule(rule, os, committed(env).env).violations);

describe('committed argocd/<env>/', () => {
  it('exists for every environment file', () => {
    expect(ENVS.length).toBeGreaterThan(0);
    for (const env of ENVS) expect(committed(env).argocd.length, env).toBeGreaterThanOrEqual(4);
  });
});

describe('rule argocd-project-no-wildcards', () => {
  for (const env of ENVS)
    it(`passes on the committed ${env} projects`, () =>
      expect(check(argocdProjectWildcardsRule, objects(env), env)).toBe(''));

  it('fails on a wildcard source repository', () => {
    const os = objects();
    find(os, 'AppProject', app).spec.sourceRepos = ['*'];
    expect(check(argocdProjectWildcardsRule, os)).toContain("wildcard: spec.sourceRepos[0] = '*'");
  });

  it('fails on a wildcard destination namespace or server', () => {
    const os = objects();
    const p = find(os, 'AppProject', app);
    p.spec.destinations.push({ server: '*', namespace: 'coderun-*' });
    const out = check(argocdProjectWildcardsRule, os);
    expect(out).toContain("spec.destinations[2].server = '*'");
    expect(out).toContain("spec.destinations[2].namespace = 'coderun-*'");
  });

  it('fails on a wildcard kind or group', () => {
    const os = objects();
    find(os, 'AppProject', app).spec.clusterResourceWhitelist.push({ group: '*', kind: '*' });
    expect(check(argocdProjectWildcardsRule, os)).toMatch(/clusterResourceWhitelist\[\d+\]\.group = '\*'/);
  });

  it('fails on a missing namespaced-kind list and on a blacklist', () => {
    const os = objects();
    const p = find(os, 'AppProject', boot);
    delete p.spec.namespaceResourceWhitelist;
    p.spec.namespaceResourceBlacklist = [{ group: '', kind: 'Secret' }];
    const out = check(argocdProjectWildcardsRule, os);
    expect(out).toContain('has no namespaceResourceWhitelist: every namespaced kind is allowed');
    expect(out).toContain('uses a blacklist');
  });
});

describe('rule argocd-application-path', () => {
  for (const env of ENVS)
    it(`passes on the committed ${env} Applications`, () =>
      expect(check(argocdApplicationPathRule, objects(env), env)).toBe(''));

  it("fails on an Application that syncs another environment's path", () => {
    const os = objects();
    find(os, 'Application', app).spec.source.path = `dist/${OTHER === ENV ? 'other' : OTHER}`;
    expect(check(argocdApplicationPathRule, os)).toContain(`syncs path 'dist/${OTHER === ENV ? 'other' : OTHER}'`);
  });

  it('fails on another repository, another revision, or a second source', () => {
    const os = objects();
    const a = find(os, 'Application', boot);
    a.spec.source.repoURL = 'https://github.com/someone/else.git';
    a.spec.source.targetRevision = 'feature';
    a.spec.sources = [a.spec.source];
    const out = check(argocdApplicationPathRule, os);
    expect(out).toContain('syncs repository https://github.com/someone/else.git');
    expect(out).toContain('follows revision feature');
    expect(out).toContain('uses spec.sources');
  });
});

describe('rule argocd-application-destination', () => {
  for (const env of ENVS)
    it(`passes on the committed ${env} Applications`, () =>
      expect(check(argocdApplicationDestinationRule, objects(env), env)).toBe(''));

  it('fails on another destination namespace', () => {
    const os = objects();
    find(os, 'Application', app).spec.destination.namespace = 'kube-system';
    const out = check(argocdApplicationDestinationRule, os);
    expect(out).toContain('destination.namespace is kube-system');
    expect(out).toContain('destination is not among AppProject');
  });

  it('fails on another cluster', () => {
    const os = objects();
    find(os, 'Application', app).spec.destination.server = 'https://other.example:6443';
    expect(check(argocdApplicationDestinationRule, os)).toContain('destination.server is https://other.example:6443');
  });

  it('fails on a bootstrap Application that deploys outside the argocd namespace', () => {
    const os = objects();
    find(os, 'Application', boot).spec.destination.namespace = 'coderun';
    expect(check(argocdApplicationDestinationRule, os)).toContain('destination.namespace is coderun, expected argocd');
  });
});

describe('rule argocd-application-project', () => {
  for (const env of ENVS)
    it(`passes on the committed ${env} Applications`, () =>
      expect(check(argocdApplicationProjectRule, objects(env), env)).toBe(''));

  it('fails on the default project, explicit or implied', () => {
    const os = objects();
    find(os, 'Application', app).spec.project = 'default';
    delete find(os, 'Application', boot).spec.project;
    const out = check(argocdApplicationProjectRule, os);
    expect(out).toContain(`Application argocd/${app}: uses the 'default' project`);
    expect(out).toContain(`Application argocd/${boot}: uses the 'default' project`);
  });

  it('fails on a project that is not committed', () => {
    const os = objects();
    find(os, 'Application', app).spec.project = 'somebody-elses';
    expect(check(argocdApplicationProjectRule, os)).toContain('uses AppProject somebody-elses, which is not committed');
  });
});

describe('rule argocd-bootstrap-as-documented', () => {
  for (const env of ENVS)
    it(`passes on the committed ${env} bootstrap`, () =>
      expect(check(argocdBootstrapRule, objects(env), env)).toBe(''));

  it('the README gives the command the rule assumes', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toContain(README_BOOTSTRAP_COMMAND);
  });

  for (const env of ENVS)
    it(`${env}: bootstrap/ holds exactly the root Application and its AppProject, in the argocd namespace`, () => {
      const files = committed(env).bootstrapFiles;
      const inFolder = [...files.values()].flat();
      expect(inFolder.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`).sort()).toEqual([
        `AppProject/argocd/coderun-${env}-bootstrap`,
        `Application/argocd/coderun-${env}-bootstrap`,
      ]);
      expect((inFolder.find((o) => o.kind === 'Application') as any).spec.source.path).toBe(`argocd/${env}`);
    });

  it('fails on a recursive root Application (it would manage bootstrap/ itself)', () => {
    const os = objects();
    find(os, 'Application', boot).spec.source.directory.recurse = true;
    expect(check(argocdBootstrapRule, os)).toContain('must not recurse');
  });

  it('fails without automated prune and selfHeal', () => {
    const os = objects();
    find(os, 'Application', boot).spec.syncPolicy.automated.selfHeal = false;
    expect(check(argocdBootstrapRule, os)).toContain('must sync automatically with prune and selfHeal');
  });

  it('fails on a bootstrap project that allows more than Applications and AppProjects', () => {
    const os = objects();
    const p = find(os, 'AppProject', boot);
    p.spec.namespaceResourceWhitelist.push({ group: '', kind: 'ConfigMap' });
    p.spec.clusterResourceWhitelist = [{ group: '', kind: 'Namespace' }];
    p.spec.destinations.push({ server: 'https://kubernetes.default.svc', namespace: 'coderun' });
    const out = check(argocdBootstrapRule, os);
    expect(out).toContain('must allow exactly argoproj.io Application and AppProject');
    expect(out).toContain('must allow no cluster-scoped kind');
    expect(out).toContain('must allow only the in-cluster argocd namespace');
  });

  it('fails when there is no root Application, or two', () => {
    const none = objects().filter((o) => !(o.kind === 'Application' && o.metadata.name === boot));
    expect(check(argocdBootstrapRule, none)).toContain(
      `expected exactly one Application syncing argocd/${ENV}, found 0`,
    );
    const two = objects();
    two.push({ ...structuredClone(find(two, 'Application', boot)), metadata: { name: 'x', namespace: 'argocd' } });
    expect(check(argocdBootstrapRule, two)).toContain('found 2');
  });
});
