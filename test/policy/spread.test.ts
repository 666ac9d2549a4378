/* eslint-disable @typescript-eslint/no-explicit-any -- tests break manifests on purpose */
import { describe, expect, it } from 'vitest';
import { committed, pick, pod, withReplaced } from './fixtures';
import { formatViolations, runRule, spreadHardInProductionRule, spreadRule } from '../../src/policy/rules';

describe('rule spread', () => {
  it('passes on the committed prod frontend', () => {
    const { env } = committed('prod');
    expect(runRule(spreadRule, [pick('prod', 'Deployment', 'frontend')], env).violations).toEqual([]);
  });

  it('fails when a workload has no constraints', () => {
    const d: any = pick('prod', 'Deployment', 'frontend');
    delete pod(d).topologySpreadConstraints;
    const { violations } = runRule(spreadRule, withReplaced('prod', d), committed('prod').env);
    expect(formatViolations(violations)).toContain('Deployment coderun/frontend: has no topologySpreadConstraints');
  });

  it("fails when a constraint selects labels the pod doesn't carry", () => {
    const d: any = pick('staging', 'Deployment', 'middleware');
    pod(d).topologySpreadConstraints[0].labelSelector.matchLabels['app.kubernetes.io/name'] = 'frontend';
    const { violations } = runRule(spreadRule, [d], committed('staging').env);
    expect(formatViolations(violations)).toContain(
      'selects app.kubernetes.io/name=frontend, which its own pods do not carry',
    );
  });

  it('fails when a constraint has an empty selector', () => {
    const d: any = pick('staging', 'StatefulSet', 'nats');
    pod(d).topologySpreadConstraints[0].labelSelector = {};
    const { violations } = runRule(spreadRule, [d], committed('staging').env);
    expect(formatViolations(violations)).toContain('has an empty labelSelector');
  });

  it('fails in prod when the zone key is missing', () => {
    const d: any = pick('prod', 'StatefulSet', 'nats');
    pod(d).topologySpreadConstraints = pod(d).topologySpreadConstraints.filter(
      (c: any) => c.topologyKey !== 'topology.kubernetes.io/zone',
    );
    const { violations } = runRule(spreadRule, [d], committed('prod').env);
    expect(formatViolations(violations)).toContain('does not spread over topology.kubernetes.io/zone');
  });

  it('fails when the hostname key is missing', () => {
    const d: any = pick('dev', 'Deployment', 'oauth2-proxy');
    pod(d).topologySpreadConstraints[0].topologyKey = 'example.com/rack';
    const { violations } = runRule(spreadRule, [d], committed('dev').env);
    expect(formatViolations(violations)).toContain('does not spread over kubernetes.io/hostname');
  });

  it('fails on maxSkew 0', () => {
    const d: any = pick('dev', 'Deployment', 'oauth2-proxy');
    pod(d).topologySpreadConstraints[0].maxSkew = 0;
    const { violations } = runRule(spreadRule, [d], committed('dev').env);
    expect(formatViolations(violations)).toContain('maxSkew 0');
  });
});

describe('rule spread-hard-in-production', () => {
  it('fails when a prod workload uses ScheduleAnyway', () => {
    const d: any = pick('prod', 'Deployment', 'oauth2-proxy');
    pod(d).topologySpreadConstraints[1].whenUnsatisfiable = 'ScheduleAnyway';
    const { violations } = runRule(spreadHardInProductionRule, [d], committed('prod').env);
    expect(formatViolations(violations)).toContain(
      'topology.kubernetes.io/zone uses ScheduleAnyway, not DoNotSchedule',
    );
  });

  it('does not apply outside the production tier', () => {
    const d = pick('staging', 'Deployment', 'oauth2-proxy');
    expect(runRule(spreadHardInProductionRule, [d], committed('staging').env).violations).toEqual([]);
  });

  it('follows the tier, not the name: fails for any production environment, passes prod marked non-production', () => {
    const d: any = pick('staging', 'Deployment', 'oauth2-proxy');
    const staging = committed('staging').env;
    expect(runRule(spreadHardInProductionRule, [d], { ...staging, tier: 'production' }).violations).not.toEqual([]);
    const p: any = pick('prod', 'Deployment', 'oauth2-proxy');
    pod(p).topologySpreadConstraints[1].whenUnsatisfiable = 'ScheduleAnyway';
    const prod = committed('prod').env;
    expect(runRule(spreadHardInProductionRule, [p], { ...prod, tier: 'non-production' }).violations).toEqual([]);
  });

  it('lets the executor exception through only for executor templates', () => {
    const t: any = pick('prod', 'PodTemplate', 'executor-go');
    expect(runRule(spreadHardInProductionRule, [t], committed('prod').env).violations).toEqual([]);
    t.metadata.name = 'sneaky-go';
    expect(runRule(spreadHardInProductionRule, [t], committed('prod').env).violations).not.toEqual([]);
  });
});
