/* eslint-disable @typescript-eslint/no-explicit-any -- tests break manifests on purpose */
import { describe, expect, it } from 'vitest';
import { committed, container, pick } from './fixtures';
import {
  formatViolations,
  labelsRule,
  pinnedImagesRule,
  probesRule,
  resourcesRule,
  runRule,
} from '../../src/policy/rules';

const env = committed('staging').env;

describe('rule resources', () => {
  it('passes on the committed frontend', () => {
    expect(runRule(resourcesRule, [pick('staging', 'Deployment', 'frontend')], env).violations).toEqual([]);
  });

  it('fails when a limit is missing', () => {
    const d: any = pick('staging', 'Deployment', 'frontend');
    delete container(d).resources.limits.memory;
    expect(formatViolations(runRule(resourcesRule, [d], env).violations)).toContain(
      'container frontend has no memory limit',
    );
  });

  it('fails when a request is larger than its limit', () => {
    const d: any = pick('staging', 'StatefulSet', 'nats');
    container(d).resources.requests.cpu = '2';
    expect(formatViolations(runRule(resourcesRule, [d], env).violations)).toContain(
      'requests cpu 2, more than its limit 1',
    );
  });

  it('checks init containers too', () => {
    const d: any = pick('staging', 'Deployment', 'middleware');
    d.spec.template.spec.initContainers = [{ name: 'wait-for-nats', image: 'busybox:1.36' }];
    const out = formatViolations(runRule(resourcesRule, [d], env).violations);
    expect(out).toContain('container wait-for-nats has no cpu request');
  });

  it('checks executor pod templates', () => {
    const t: any = pick('staging', 'PodTemplate', 'executor-c');
    delete t.template.spec.containers[0].resources;
    expect(formatViolations(runRule(resourcesRule, [t], env).violations)).toContain(
      'container executor has no cpu limit',
    );
  });
});

describe('rule probes', () => {
  it('fails when readiness is missing', () => {
    const d: any = pick('staging', 'Deployment', 'oauth2-proxy');
    delete container(d).readinessProbe;
    expect(formatViolations(runRule(probesRule, [d], env).violations)).toContain('has no readinessProbe');
  });
});

describe('rule pinned-images', () => {
  it('fails on latest and on no tag', () => {
    const a: any = pick('staging', 'Deployment', 'frontend');
    container(a).image = 'docker.io/miguellomot/cc-fronted:latest';
    const b: any = pick('staging', 'Deployment', 'middleware');
    container(b).image = 'localhost:5000/middleware';
    const out = formatViolations(runRule(pinnedImagesRule, [a, b], env).violations);
    expect(out).toContain("'docker.io/miguellomot/cc-fronted:latest' is not pinned");
    expect(out).toContain("'localhost:5000/middleware' is not pinned");
  });

  it.each(['main', 'stable', 'edge', 'master', 'nightly'])('fails on the floating tag %s like latest', (tag) => {
    const a: any = pick('staging', 'Deployment', 'frontend');
    container(a).image = `docker.io/miguellomot/cc-fronted:${tag}`;
    expect(formatViolations(runRule(pinnedImagesRule, [a], env).violations)).toContain(
      `'docker.io/miguellomot/cc-fronted:${tag}' is not pinned`,
    );
  });

  it('accepts a digest, which pins any tag (even a floating one)', () => {
    const a: any = pick('staging', 'Deployment', 'frontend');
    container(a).image = `docker.io/miguellomot/cc-fronted@sha256:${'a'.repeat(64)}`;
    expect(runRule(pinnedImagesRule, [a], env).violations).toEqual([]);
    container(a).image = `docker.io/miguellomot/cc-fronted:main@sha256:${'a'.repeat(64)}`;
    expect(runRule(pinnedImagesRule, [a], env).violations).toEqual([]);
  });
});

describe('rule labels', () => {
  it('fails when app.kubernetes.io/part-of is missing', () => {
    const s: any = pick('staging', 'Service', 'frontend');
    delete s.metadata.labels['app.kubernetes.io/part-of'];
    expect(formatViolations(runRule(labelsRule, [s], env).violations)).toContain('missing app.kubernetes.io/part-of');
  });
});
