/* eslint-disable @typescript-eslint/no-explicit-any -- tests break manifests on purpose */
import { describe, expect, it } from 'vitest';
import type { K8sObject } from '../support/committed';
import { committed, pick, withReplaced } from './fixtures';
import { formatViolations, isDefaultDeny, networkPolicyCoverageRule, runRule } from './rules';

const check = (objects: readonly K8sObject[], envName = 'prod') =>
  formatViolations(runRule(networkPolicyCoverageRule, objects, committed(envName).env).violations);

describe('rule network-policy-coverage', () => {
  it('recognises the committed default deny', () => {
    expect(isDefaultDeny(pick('prod', 'NetworkPolicy', 'default-deny'))).toBe(true);
    expect(isDefaultDeny(pick('prod', 'NetworkPolicy', 'frontend'))).toBe(false);
  });

  it('fails when a namespace has no default deny', () => {
    const objects = committed('prod').objects.filter(
      (o) =>
        !(
          o.kind === 'NetworkPolicy' &&
          o.metadata.name === 'default-deny' &&
          o.metadata.namespace === 'coderun-executors'
        ),
    );
    expect(check(objects)).toContain(
      'Namespace coderun-executors: has no default-deny NetworkPolicy (empty podSelector, policyTypes Ingress and Egress, no rules)',
    );
  });

  it('fails when the default deny only denies ingress', () => {
    const p: any = structuredClone(
      committed('staging').objects.find(
        (o) => o.metadata.name === 'default-deny' && o.metadata.namespace === 'coderun',
      ),
    );
    p.spec.policyTypes = ['Ingress'];
    expect(check(withReplaced('staging', p), 'staging')).toContain(
      'Namespace coderun: has no default-deny NetworkPolicy',
    );
  });

  it('fails when a pod template has no policy of its own', () => {
    const objects = committed('dev').objects.filter(
      (o) => !(o.kind === 'NetworkPolicy' && o.metadata.name === 'middleware'),
    );
    expect(check(objects, 'dev')).toContain(
      'Deployment coderun/middleware: its pods are selected by no NetworkPolicy of their own',
    );
  });

  it("fails when a policy's podSelector selects nothing", () => {
    const p: any = pick('prod', 'NetworkPolicy', 'executor');
    p.spec.podSelector.matchLabels['app.kubernetes.io/component'] = 'executors';
    const out = check(withReplaced('prod', p));
    expect(out).toContain('NetworkPolicy coderun-executors/executor: podSelector matches no rendered pod template');
    expect(out).toContain('PodTemplate coderun-executors/executor-go: its pods are selected by no NetworkPolicy');
  });

  it('fails when a peer podSelector selects nothing, in the same or another namespace of the environment', () => {
    const p: any = pick('prod', 'NetworkPolicy', 'nats');
    p.spec.ingress[0].from[0].podSelector.matchLabels['app.kubernetes.io/name'] = 'web';
    p.spec.ingress[0].from[2].podSelector.matchLabels['app.kubernetes.io/instance'] = 'coderun-staging';
    const out = check(withReplaced('prod', p));
    expect(out).toContain('ingress[0].from[0] podSelector matches no rendered pod template in coderun');
    expect(out).toContain('ingress[0].from[2] podSelector matches no rendered pod template in coderun-executors');
  });

  it('matches peers outside the environment by namespace only, and only known ones', () => {
    const p: any = pick('prod', 'NetworkPolicy', 'oauth2-proxy');
    p.spec.ingress[0].from[0].podSelector.matchLabels['app.kubernetes.io/name'] = 'anything'; // not checked
    expect(check(withReplaced('prod', p))).toBe('');
    p.spec.ingress[0].from[0].namespaceSelector.matchLabels['kubernetes.io/metadata.name'] = 'default';
    expect(check(withReplaced('prod', p))).toContain(
      'ingress[0].from[0] names namespace default, which is neither in the environment nor a known dependency',
    );
  });

  it('does not accept Prometheus as a dependency where monitoring is off', () => {
    const p: any = pick('dev', 'NetworkPolicy', 'nats');
    p.spec.ingress.push(structuredClone(pick('staging', 'NetworkPolicy', 'nats') as any).spec.ingress[1]);
    expect(check(withReplaced('dev', p), 'dev')).toContain('names namespace monitoring');
  });
});
