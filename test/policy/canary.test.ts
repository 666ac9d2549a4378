/* eslint-disable @typescript-eslint/no-explicit-any -- tests break manifests on purpose */
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/model/objects';
import { canaryAnalysisRule, canaryTargetsRule, canaryTimedPausesRule, isDryRun } from '../../src/policy/rules';
import { check, committed } from './fixtures';

/** Drops the object (an edit that returns null). */
const drop = () => null;

/**
 * The committed objects of `envName`, with each `Kind/name` of `edits` replaced by an edited copy (or
 * dropped when its edit returns null).
 */
function edited(envName: string, edits: Record<string, (o: any) => unknown>): Manifest[] {
  const out: Manifest[] = [];
  for (const o of committed(envName).objects) {
    const edit = edits[`${o.kind}/${o.metadata.name}`];
    if (!edit) {
      out.push(o);
      continue;
    }
    const copy = structuredClone(o);
    if (edit(copy) !== null) out.push(copy);
  }
  return out;
}

const canary = (r: any) => r.spec.strategy.canary;
const metric = (t: any) => t.spec.metrics[0];

describe('rule canary-analysis', () => {
  it('fails when a prod Rollout has no background analysis', () => {
    const objects = edited('prod', { 'Rollout/frontend': (r) => delete canary(r).analysis });
    expect(check(canaryAnalysisRule, objects)).toBe(
      '[canary-analysis] Rollout coderun/frontend: has no background analysis (strategy.canary.analysis.templates): nothing judges the canary',
    );
  });

  it('fails when the template it names is not rendered, or lives in another namespace', () => {
    expect(check(canaryAnalysisRule, edited('prod', { 'AnalysisTemplate/oauth2-proxy-error-ratio': drop }))).toBe(
      '[canary-analysis] Rollout coderun/oauth2-proxy: analysis template oauth2-proxy-error-ratio is not rendered in coderun',
    );
    const elsewhere = edited('prod', { 'AnalysisTemplate/frontend-error-ratio': (t) => (t.metadata.namespace = 'x') });
    expect(check(canaryAnalysisRule, elsewhere)).toContain('analysis template frontend-error-ratio is not rendered');
    const cluster = edited('prod', {
      'Rollout/frontend': (r) => (canary(r).analysis.templates[0].clusterScope = true),
    });
    expect(check(canaryAnalysisRule, cluster)).toBe(
      '[canary-analysis] Rollout coderun/frontend: analysis template frontend-error-ratio is not rendered in the cluster',
    );
  });

  it('fails on a metric without provider or successCondition', () => {
    const objects = edited('prod', {
      'AnalysisTemplate/frontend-error-ratio': (t) => {
        delete metric(t).provider;
        delete metric(t).successCondition;
      },
    });
    expect(check(canaryAnalysisRule, objects).split('\n')).toEqual([
      '[canary-analysis] AnalysisTemplate coderun/frontend-error-ratio: metric error-ratio has no provider',
      '[canary-analysis] AnalysisTemplate coderun/frontend-error-ratio: metric error-ratio has no successCondition: no measurement fails the canary',
    ]);
  });

  it('fails on a template without metrics, or one whose argument the Rollout does not give', () => {
    const objects = edited('prod', {
      'AnalysisTemplate/frontend-error-ratio': (t) => (t.spec.metrics = []),
      'Rollout/oauth2-proxy': (r) => delete canary(r).analysis.args,
    });
    expect(check(canaryAnalysisRule, objects).split('\n')).toEqual([
      '[canary-analysis] AnalysisTemplate coderun/frontend-error-ratio: has no metrics: the analysis it runs always succeeds',
      '[canary-analysis] Rollout coderun/oauth2-proxy: analysis template oauth2-proxy-error-ratio needs argument canary-hash, which strategy.canary.analysis.args does not give: the analysis cannot start',
    ]);
  });

  it('fails on a metric in dryRun, in the Rollout (by name or pattern) or in the template', () => {
    const objects = edited('prod', {
      'Rollout/frontend': (r) => (canary(r).analysis.dryRun = [{ metricName: 'error-ratio' }]),
      'Rollout/oauth2-proxy': (r) => (canary(r).analysis.dryRun = [{ metricName: '.*' }]),
      'AnalysisTemplate/frontend-error-ratio': (t) => (t.spec.dryRun = [{ metricName: 'error-ratio' }]),
    });
    expect(check(canaryAnalysisRule, objects).split('\n')).toEqual([
      '[canary-analysis] Rollout coderun/frontend: metric error-ratio of frontend-error-ratio is in dryRun (strategy.canary.analysis.dryRun): it cannot abort',
      '[canary-analysis] AnalysisTemplate coderun/frontend-error-ratio: metric error-ratio is in dryRun: it cannot abort',
      '[canary-analysis] Rollout coderun/oauth2-proxy: metric error-ratio of oauth2-proxy-error-ratio is in dryRun (strategy.canary.analysis.dryRun): it cannot abort',
    ]);
    expect(isDryRun([{ metricName: 'other' }], 'error-ratio')).toBe(false);
    expect(isDryRun([{ metricName: '(' }], 'error-ratio')).toBe(false);
  });

  it('fails when progressDeadlineAbort is not true', () => {
    const objects = edited('prod', { 'Rollout/oauth2-proxy': (r) => (r.spec.progressDeadlineAbort = false) });
    expect(check(canaryAnalysisRule, objects)).toBe(
      '[canary-analysis] Rollout coderun/oauth2-proxy: spec.progressDeadlineAbort is not true: a canary whose pods never become available waits forever',
    );
  });

  it('follows the tier: a staging canary may go without an analysis until staging is production-tier', () => {
    const objects = edited('staging', { 'Rollout/frontend': (r) => delete canary(r).analysis });
    expect(check(canaryAnalysisRule, objects, 'staging')).toBe('');
    const production = { ...committed('staging').env, tier: 'production' as const };
    expect(check(canaryAnalysisRule, objects, 'staging', production)).toContain(
      'Rollout coderun/frontend: has no background analysis',
    );
  });
});

describe('rule canary-timed-pauses', () => {
  it('fails in every environment on a pause without duration', () => {
    for (const envName of ['prod', 'staging']) {
      const objects = edited(envName, { 'Rollout/frontend': (r) => canary(r).steps.splice(1, 0, { pause: {} }) });
      expect(check(canaryTimedPausesRule, objects, envName), envName).toBe(
        '[canary-timed-pauses] Rollout coderun/frontend: strategy.canary.steps[1] is a pause without duration, which waits for a manual promotion',
      );
    }
  });
});

describe('rule canary-targets', () => {
  it('fails on a Rollout without workloadRef (an inline template the linters do not read)', () => {
    const objects = edited('prod', { 'Rollout/frontend': (r) => delete r.spec.workloadRef });
    expect(check(canaryTargetsRule, objects)).toBe(
      '[canary-targets] Rollout coderun/frontend: has no workloadRef: its pod template is invisible to the policy rules and linters, which read Deployments',
    );
  });

  it('fails when workloadRef names no rendered Deployment of its namespace', () => {
    const missing = edited('prod', { 'Deployment/frontend': drop });
    expect(check(canaryTargetsRule, missing)).toContain(
      'Rollout coderun/frontend: workloadRef Deployment coderun/frontend (apps/v1) is not a rendered apps/v1 Deployment',
    );
    const moved = edited('prod', { 'Deployment/oauth2-proxy': (d) => (d.metadata.namespace = 'other') });
    expect(check(canaryTargetsRule, moved)).toContain('workloadRef Deployment coderun/oauth2-proxy');
    const both = edited('prod', {
      'Rollout/frontend': (r) => (r.spec.template = { metadata: { labels: r.spec.selector.matchLabels } }),
    });
    expect(check(canaryTargetsRule, both)).toBe(
      '[canary-targets] Rollout coderun/frontend: sets both spec.template and workloadRef, which Argo Rollouts refuses (InvalidSpec)',
    );
  });

  it('fails when the selector differs from the Deployment, or does not match its template', () => {
    const objects = edited('prod', {
      'Rollout/frontend': (r) => (r.spec.selector.matchLabels['app.kubernetes.io/component'] = 'web'),
      'Deployment/oauth2-proxy': (d) => (d.spec.selector.matchLabels['app.kubernetes.io/name'] = 'other'),
      'Rollout/oauth2-proxy': (r) => (r.spec.selector.matchLabels['app.kubernetes.io/name'] = 'other'),
    });
    expect(check(canaryTargetsRule, objects).split('\n')).toEqual([
      '[canary-targets] Rollout coderun/frontend: spec.selector differs from the selector of Deployment frontend, whose pods it runs',
      '[canary-targets] Rollout coderun/oauth2-proxy: spec.selector does not match the template labels of Deployment oauth2-proxy',
    ]);
  });

  it('fails when the Deployment keeps spec.replicas', () => {
    const objects = edited('staging', { 'Deployment/oauth2-proxy': (d) => (d.spec.replicas = 2) });
    expect(check(canaryTargetsRule, objects, 'staging')).toBe(
      '[canary-targets] Deployment coderun/oauth2-proxy: sets spec.replicas, but Rollout oauth2-proxy owns the count (leave it out)',
    );
  });

  it('fails when the HPA scales the Deployment rather than the Rollout', () => {
    const objects = edited('prod', {
      'HorizontalPodAutoscaler/frontend': (h) =>
        (h.spec.scaleTargetRef = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'frontend' }),
    });
    expect(check(canaryTargetsRule, objects)).toBe(
      '[canary-targets] HorizontalPodAutoscaler coderun/frontend: scales Deployment frontend, which Rollout frontend runs: scale the Rollout (argoproj.io/v1alpha1 Rollout frontend)',
    );
  });

  it('fails when no PDB selects the template labels, or one selects a single ReplicaSet by its hash', () => {
    expect(check(canaryTargetsRule, edited('prod', { 'PodDisruptionBudget/frontend': drop }))).toBe(
      '[canary-targets] Rollout coderun/frontend: no PodDisruptionBudget in coderun selects the template labels of Deployment frontend (stable and canary pods)',
    );
    const byHash = edited('prod', {
      'PodDisruptionBudget/oauth2-proxy': (p) =>
        (p.spec.selector.matchExpressions = [
          { key: 'rollouts-pod-template-hash', operator: 'NotIn', values: ['abc'] },
        ]),
    });
    expect(check(canaryTargetsRule, byHash)).toBe(
      '[canary-targets] PodDisruptionBudget coderun/oauth2-proxy: selects by rollouts-pod-template-hash: it budgets one ReplicaSet of Rollout oauth2-proxy, not its stable and canary pods alike',
    );
  });
});
