/* eslint-disable @typescript-eslint/no-explicit-any -- tests break manifests on purpose */
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/model/objects';
import { committed, pick, withGateway, withReplaced } from './fixtures';
import { formatViolations, isDefaultDeny, networkPolicyCoverageRule, runRule } from '../../src/policy/rules';

const check = (objects: readonly Manifest[], envName = 'prod') =>
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

  it('accepts peers outside the environment only in known namespaces', () => {
    const p: any = pick('prod', 'NetworkPolicy', 'oauth2-proxy');
    expect(check(withReplaced('prod', p))).toBe('');
    p.spec.ingress[0].from[0].namespaceSelector.matchLabels['kubernetes.io/metadata.name'] = 'default';
    expect(check(withReplaced('prod', p))).toContain(
      'ingress[0].from[0] names namespace default, which is neither in the environment nor a known dependency',
    );
  });

  it('fails when a peer outside the environment selects pods other than the ones the environment documents there', () => {
    const p: any = pick('prod', 'NetworkPolicy', 'oauth2-proxy');
    p.spec.ingress[0].from[0].podSelector.matchLabels['app.kubernetes.io/name'] = 'nginx';
    p.spec.egress[2].to[0].podSelector.matchLabels = { 'k8s-app': 'coredns' };
    const out = check(withReplaced('prod', p));
    expect(out).toContain(
      'NetworkPolicy coderun/oauth2-proxy: ingress[0].from[0] podSelector {"matchLabels":{"app.kubernetes.io/name":"nginx"}} matches no pod the environment documents in ingress-nginx (ingress-controller: {"app.kubernetes.io/name":"ingress-nginx"})',
    );
    expect(out).toContain(
      'egress[2].to[0] podSelector {"matchLabels":{"k8s-app":"coredns"}} matches no pod the environment documents in kube-system (dns: {"k8s-app":"kube-dns"})',
    );
  });

  it("matches a peer in a dependency's namespace whose pods the environment does not describe (a Gateway's) by namespace only", () => {
    const env = withGateway('prod');
    const p: any = pick('prod', 'NetworkPolicy', 'oauth2-proxy');
    p.spec.ingress[0].from[0].namespaceSelector.matchLabels['kubernetes.io/metadata.name'] = 'gateway-system';
    p.spec.ingress[0].from[0].podSelector.matchLabels = { 'gateway.networking.k8s.io/gateway-name': 'public' };
    expect(formatViolations(runRule(networkPolicyCoverageRule, withReplaced('prod', p), env).violations)).toBe('');
  });

  it('fails when a namespaceSelector without a name selects no namespace, and checks pods in those it selects', () => {
    const p: any = pick('prod', 'NetworkPolicy', 'nats');
    p.spec.ingress[0].from[2].namespaceSelector = { matchLabels: { team: 'coderun' } };
    expect(check(withReplaced('prod', p))).toContain(
      'NetworkPolicy coderun/nats: ingress[0].from[2] namespaceSelector {"matchLabels":{"team":"coderun"}} selects no namespace of the environment nor a known dependency',
    );
    p.spec.ingress[0].from[2].namespaceSelector = {
      matchLabels: { 'pod-security.kubernetes.io/enforce': 'restricted' },
    };
    expect(check(withReplaced('prod', p))).toBe('');
    p.spec.ingress[0].from[2].podSelector.matchLabels['app.kubernetes.io/component'] = 'runner';
    expect(check(withReplaced('prod', p))).toContain(
      'ingress[0].from[2] podSelector matches no rendered pod template in coderun, coderun-executors',
    );
  });

  it('fails when an ingress rule opens a port no selected pod declares', () => {
    const p: any = pick('prod', 'NetworkPolicy', 'nats');
    p.spec.ingress[0].ports[0].port = 4223;
    p.spec.ingress[1].ports = [{ port: 'metric', protocol: 'TCP' }];
    const out = check(withReplaced('prod', p));
    expect(out).toContain(
      'NetworkPolicy coderun/nats: ingress[0].ports[0] opens 4223/TCP, which no pod the policy selects declares (StatefulSet nats)',
    );
    expect(out).toContain('ingress[1].ports[0] opens metric/TCP');
    p.spec.ingress[0].ports[0] = { port: 'client', protocol: 'TCP' };
    p.spec.ingress[1].ports = [{ port: 7777, protocol: 'TCP' }];
    expect(check(withReplaced('prod', p))).toBe('');
  });

  it('does not accept Prometheus as a dependency where monitoring is off', () => {
    const p: any = pick('dev', 'NetworkPolicy', 'nats');
    p.spec.ingress.push(structuredClone(pick('staging', 'NetworkPolicy', 'nats') as any).spec.ingress[1]);
    expect(check(withReplaced('dev', p), 'dev')).toContain('names namespace monitoring');
  });
});
