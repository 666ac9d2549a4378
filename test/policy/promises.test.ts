/* eslint-disable @typescript-eslint/no-explicit-any -- tests break manifests on purpose */
/**
 * The rules that guard the README's promises (rules/promises.ts): each way of breaking a promise in
 * the committed output fails. That the committed output passes is committed-policy.test.ts's job.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/model/objects';
import { ROOT } from '../support/committed';
import { check, committed, committedByEnv, container, pick, withReplaced } from './fixtures';
import {
  argocdSyncSettingsRule,
  executorDeadlineLimitRule,
  executorGuardUpdatesRule,
  formatViolations,
  hidesPodSpec,
  JETSTREAM_HEADROOM,
  jetstreamStorageRule,
  natsSize,
  oauth2ProxyCookieRule,
  runRule,
  startOrderRule,
} from '../../src/policy/rules';

const GUARD = 'coderun-executor-guard';
const WAVE = 'argocd.argoproj.io/sync-wave';
/** prod's objects with the executor guard policy changed by `edit`. */
const withPolicy = (edit: (spec: any) => void): Manifest[] => {
  const p: any = pick('prod', 'ValidatingAdmissionPolicy', GUARD);
  edit(p.spec);
  return withReplaced('prod', p);
};
const validation = (spec: any, re: RegExp): any => {
  const v = spec.validations.find((x: any) => re.test(x.expression));
  if (!v) throw new Error(`no validation matching ${re}`);
  return v;
};
const LIMIT = committed('prod').env.executors.deadlineSeconds;

describe('rule executor-guard-on-updates', () => {
  it('fails when the policy matches only CREATE (an update could add a container)', () => {
    const os = withPolicy((s) => {
      for (const r of s.matchConstraints.resourceRules) r.operations = ['CREATE'];
    });
    const out = check(executorGuardUpdatesRule, os);
    expect(out).toContain('matchConstraints do not cover UPDATE of pods');
    expect(out).toContain('matchConstraints do not cover UPDATE of pods/ephemeralcontainers');
  });

  it('fails when pods/ephemeralcontainers is not matched (kubectl debug writes that subresource)', () => {
    const os = withPolicy((s) => {
      for (const r of s.matchConstraints.resourceRules) r.resources = ['pods'];
    });
    expect(check(executorGuardUpdatesRule, os)).toContain('do not cover UPDATE of pods/ephemeralcontainers');
  });

  it('fails when no validation refuses an ephemeral container', () => {
    const os = withPolicy((s) => {
      s.validations = s.validations.filter((v: any) => !/ephemeralContainers/.test(v.expression));
    });
    expect(check(executorGuardUpdatesRule, os)).toMatch(
      /admits a pod from PodTemplate executor-\w+ with an ephemeral container/,
    );
  });

  it('fails on matchConditions or excludeResourceRules that let executor pods skip the guard', () => {
    const os = withPolicy((s) => {
      s.matchConditions = [{ name: 'only-new', expression: "request.operation == 'CREATE'" }];
      s.matchConstraints.excludeResourceRules = [
        { apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods/ephemeralcontainers'] },
      ];
    });
    const out = check(executorGuardUpdatesRule, os);
    expect(out).toContain('has matchConditions');
    expect(out).toContain('excludeResourceRules exclude pods/ephemeralcontainers');
  });
});

describe('rule executor-deadline-limit', () => {
  it('fails when the policy admits ten times the limit while its message still names the limit', () => {
    const os = withPolicy((s) => {
      const v = validation(s, /activeDeadlineSeconds/);
      v.expression = v.expression.replace(/<= \d+/, `<= ${LIMIT * 10}`);
    });
    expect(check(executorDeadlineLimitRule, os)).toContain(
      `with activeDeadlineSeconds ${LIMIT + 1}, above executors.deadlineSeconds ${LIMIT}`,
    );
  });

  it('fails when the message names another limit than the one enforced', () => {
    const os = withPolicy((s) => {
      const v = validation(s, /activeDeadlineSeconds/);
      v.message = `executor pods need activeDeadlineSeconds of at most ${LIMIT * 10}`;
    });
    expect(check(executorDeadlineLimitRule, os)).toContain(`which does not state the limit ${LIMIT}`);
  });

  it('fails when the policy refuses a deadline of exactly the limit (off by one)', () => {
    const os = withPolicy((s) => {
      const v = validation(s, /activeDeadlineSeconds/);
      v.expression = v.expression.replace('<=', '<');
    });
    expect(check(executorDeadlineLimitRule, os)).toContain(`with activeDeadlineSeconds ${LIMIT} (the limit)`);
  });

  it("follows the environment's limit, not a number in the rule", () => {
    const env = committed('prod').env;
    const out = formatViolations(
      runRule(executorDeadlineLimitRule, committed('prod').objects, {
        ...env,
        executors: { ...env.executors, deadlineSeconds: LIMIT + 60 },
      }).violations,
    );
    expect(out).toContain(`with activeDeadlineSeconds ${LIMIT + 60} (the limit)`);
  });
});

describe('rule argocd-sync-settings', () => {
  const apps = (env = 'prod'): any[] => structuredClone(committed(env).argocd) as any[];
  const platform = (os: any[], env = 'prod'): any =>
    os.find((o) => o.kind === 'Application' && o.metadata.name === `coderun-${env}`);
  const run = (os: any[], env = 'prod', config = committed(env).env) =>
    formatViolations(runRule(argocdSyncSettingsRule, os, config).violations);

  it('fails when selfHeal is turned off in the committed prod Application', () => {
    const os = apps();
    platform(os).spec.syncPolicy.automated.selfHeal = false;
    const out = run(os);
    expect(out).toContain('automated.selfHeal is false, the environment says true');
    expect(out).toContain('a production Application must selfHeal');
  });

  it('fails in production even when the environment itself turns selfHeal off (the tier decides)', () => {
    const os = apps();
    platform(os).spec.syncPolicy.automated.selfHeal = false;
    const env = committed('prod').env;
    const out = run(os, 'prod', { ...env, argocd: { ...env.argocd, selfHeal: false } });
    expect(out).not.toContain('the environment says');
    expect(out).toContain('a production Application must selfHeal');
    // ...while a non-production environment may turn it off.
    expect(run(os, 'prod', { ...env, tier: 'non-production', argocd: { ...env.argocd, selfHeal: false } })).toBe('');
  });

  it('fails when prune differs from the environment, or automated sync is gone', () => {
    const os = apps();
    platform(os).spec.syncPolicy.automated.prune = false;
    expect(run(os)).toContain('automated.prune is false, the environment says true');
    delete platform(os).spec.syncPolicy.automated;
    expect(run(os)).toContain('does not sync automatically');
  });

  it('fails when retry.refresh is dropped, in the platform or the bootstrap Application', () => {
    for (const name of ['coderun-prod', 'coderun-prod-bootstrap']) {
      const os = apps();
      delete os.find((o) => o.metadata.name === name && o.kind === 'Application').spec.syncPolicy.retry.refresh;
      expect(run(os), name).toContain(`Application argocd/${name}: retry.refresh is not true`);
    }
  });

  it("fails on an ignoreDifferences that hides a workload's pod spec; the replica count may be ignored", () => {
    const os = apps();
    platform(os).spec.ignoreDifferences = [
      { group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] },
      { group: 'apps', kind: 'Deployment', name: 'frontend', jsonPointers: ['/spec/template/spec/containers'] },
    ];
    const out = run(os);
    expect(out).toContain('ignoreDifferences for Deployment frontend ignores /spec/template/spec/containers');
    expect(out).not.toContain('/spec/replicas');
  });

  it('knows every way an ignoreDifferences entry can cover a pod spec', () => {
    expect(
      hidesPodSpec({ kind: 'StatefulSet', jqPathExpressions: ['.spec.template.spec.containers[].image'] }),
    ).toBeDefined();
    expect(hidesPodSpec({ kind: 'Deployment', managedFieldsManagers: ['kube-controller-manager'] })).toBeDefined();
    expect(hidesPodSpec({ kind: 'PodTemplate', jsonPointers: ['/template/spec'] })).toBeDefined();
    expect(hidesPodSpec({ kind: 'CronJob', jsonPointers: ['/spec'] })).toBeDefined();
    expect(hidesPodSpec({ kind: '*', jsonPointers: ['/spec/template'] })).toBeDefined();
    expect(hidesPodSpec({ kind: 'HorizontalPodAutoscaler', jsonPointers: ['/spec'] })).toBeUndefined();
    expect(hidesPodSpec({ kind: 'Deployment', jqPathExpressions: ['.spec.replicas'] })).toBeUndefined();
  });
});

describe('rule start-order', () => {
  const moved = (env: string, kind: string, name: string, wave: number): Manifest[] => {
    const o: any = pick(env, kind, name);
    o.metadata.annotations[WAVE] = String(wave);
    return withReplaced(env, o);
  };
  const waveOf = (env: string, kind: string, name: string) =>
    Number((pick(env, kind, name).metadata.annotations ?? {})[WAVE]);

  for (const env of [...committedByEnv().keys()].sort())
    it(`fails in ${env} when oauth2-proxy starts in the frontend's and middleware's wave or earlier`, () => {
      const w = waveOf(env, 'Deployment', 'frontend');
      const out = check(startOrderRule, moved(env, 'Deployment', 'oauth2-proxy', w), env);
      expect(out).toContain(`Deployment coderun/oauth2-proxy: is in sync wave ${w}, not after Deployment frontend`);
      expect(out).toContain('not after Deployment middleware');
    });

  it('fails when the frontend starts with NATS', () => {
    const out = check(startOrderRule, moved('prod', 'Deployment', 'frontend', waveOf('prod', 'StatefulSet', 'nats')));
    expect(out).toContain('Deployment coderun/frontend: is in sync wave 1, not after StatefulSet nats');
  });

  it('fails when a Secret a workload reads is made by an ExternalSecret in its wave (applied after it)', () => {
    const nats = waveOf('prod', 'StatefulSet', 'nats');
    const out = check(startOrderRule, moved('prod', 'ExternalSecret', 'nats-credentials', nats));
    expect(out).toMatch(
      /StatefulSet coderun\/nats: .* needs env NATS_\w+ from ExternalSecret nats-credentials \(wave 1\)/,
    );
  });

  it('fails when a ConfigMap comes after the workload that mounts it', () => {
    const out = check(startOrderRule, moved('prod', 'ConfigMap', 'nats-config', 2));
    expect(out).toMatch(
      /StatefulSet coderun\/nats: is in sync wave 1 but needs volume \S+ from ConfigMap nats-config \(wave 2\)/,
    );
  });

  it("fails when the middleware may create executor pods before the namespace's admission guard is in place", () => {
    const mw = waveOf('prod', 'Deployment', 'middleware');
    const out = check(startOrderRule, moved('prod', 'ValidatingAdmissionPolicyBinding', GUARD, mw));
    expect(out).toContain(
      `may create pods in coderun-executors (RoleBinding executor-launcher-middleware) but starts in wave ${mw}, not after ValidatingAdmissionPolicyBinding ${GUARD}`,
    );
  });

  it('fails when an object comes before its Namespace', () => {
    const out = check(startOrderRule, moved('prod', 'Namespace', 'coderun', 0));
    expect(out).toContain('NetworkPolicy coderun/default-deny: is in sync wave -1, before its Namespace (wave 0)');
  });
});

describe('rule session-cookie-flags', () => {
  const withArg = (env: string, flag: string, value: string | undefined): Manifest[] => {
    const d: any = pick(env, 'Deployment', 'oauth2-proxy');
    const c = container(d);
    c.args = c.args.filter((a: string) => !a.startsWith(`--${flag}=`));
    if (value !== undefined) c.args.push(`--${flag}=${value}`);
    return withReplaced(env, d);
  };

  it('fails on --cookie-secure=false in production', () => {
    expect(check(oauth2ProxyCookieRule, withArg('prod', 'cookie-secure', 'false'))).toContain(
      "cookie-secure is 'false' in a production environment",
    );
  });

  it('fails on a non-HttpOnly cookie and on SameSite none or unset (oauth2-proxy sets no SameSite by default)', () => {
    expect(check(oauth2ProxyCookieRule, withArg('prod', 'cookie-httponly', 'false'))).toContain(
      "cookie-httponly is 'false'",
    );
    expect(check(oauth2ProxyCookieRule, withArg('prod', 'cookie-samesite', 'none'))).toContain(
      "cookie-samesite is 'none', not lax or strict",
    );
    expect(check(oauth2ProxyCookieRule, withArg('prod', 'cookie-samesite', undefined))).toContain(
      "cookie-samesite is '', not lax or strict",
    );
  });

  it('reads the environment variable when no flag is given', () => {
    const d: any = pick('prod', 'Deployment', 'oauth2-proxy');
    const c = container(d);
    c.args = c.args.filter((a: string) => !a.startsWith('--cookie-secure'));
    c.env = [...(c.env ?? []), { name: 'OAUTH2_PROXY_COOKIE_SECURE', value: 'false' }];
    expect(check(oauth2ProxyCookieRule, withReplaced('prod', d))).toContain("cookie-secure is 'false'");
  });

  it('follows the tier and TLS: an environment served over plain http may send the cookie without Secure', () => {
    const env = committed('prod').env;
    const os = withArg('prod', 'cookie-secure', 'false');
    expect(
      formatViolations(runRule(oauth2ProxyCookieRule, os, { ...env, tier: 'non-production', tls: false }).violations),
    ).toBe('');
    expect(
      formatViolations(runRule(oauth2ProxyCookieRule, os, { ...env, tier: 'non-production', tls: true }).violations),
    ).toContain('in an HTTPS environment');
  });
});

describe('rule jetstream-storage-fits', () => {
  const conf = (env = 'prod'): any => pick(env, 'ConfigMap', 'nats-config');
  const setStore = (text: string, key: string, value: string) =>
    text.replace(new RegExp(`(${key}:)\\s*\\S+`), `$1 ${value}`);

  it('fails when max_file_store is larger than the volume can hold', () => {
    const s: any = pick('prod', 'StatefulSet', 'nats');
    s.spec.volumeClaimTemplates[0].spec.resources.requests.storage = '10Gi';
    expect(check(jetstreamStorageRule, withReplaced('prod', s))).toMatch(
      /nats\.conf: max_file_store \d+ exceeds 90% of the 10Gi volume/,
    );
  });

  it('fails when max_memory_store is more than its share of the memory limit', () => {
    const c = conf();
    c.data['nats.conf'] = setStore(c.data['nats.conf'], 'max_memory_store', '1G');
    expect(check(jetstreamStorageRule, withReplaced('prod', c))).toMatch(
      /max_memory_store 1073741824 exceeds 25% of the \S+ memory limit/,
    );
  });

  it('fails when the file store is unbounded or has no volume', () => {
    const c = conf();
    c.data['nats.conf'] = c.data['nats.conf'].replace(/^\s*max_file_store:.*$/m, '');
    expect(check(jetstreamStorageRule, withReplaced('prod', c))).toContain('jetstream sets no max_file_store');
    const s: any = pick('prod', 'StatefulSet', 'nats');
    s.spec.volumeClaimTemplates = [];
    expect(check(jetstreamStorageRule, withReplaced('prod', s))).toContain('the file store has no volume');
  });

  it("reads nats-server's size units", () => {
    expect(natsSize('19327352832')).toBe(19327352832);
    expect(natsSize('18G')).toBe(18 * 1024 ** 3);
    expect(natsSize('256MB')).toBe(256 * 1024 ** 2);
    expect(natsSize('ten')).toBeUndefined();
  });

  it('holds the headroom the README states', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(`\`max_file_store\` is ${JETSTREAM_HEADROOM.fileStoreOfVolume * 100}% of it`);
    expect(readme).toContain(`\`max_memory_store\` is ${JETSTREAM_HEADROOM.memoryStoreOfLimit * 100}% of`);
  });
});
