import path from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { App, Chart } from 'cdk8s';
import { parseDocument } from 'yaml';
import {
  CANARY_DEFAULTS,
  CanaryRelease,
  canaryDefaults,
  canaryRules,
  durationSeconds,
  errorRatioQuery,
  type CanaryConfig,
  type CanaryReleaseProps,
} from '../../../charts/common/canary';
import { ConfigError } from '../../../src/model/loader';
import { loadEnvironment, parseEnvironment } from '../../../apps/environment';
import { planPlatform } from '../../../apps/plans';
import { buildPlatform } from '../../../apps/platform';

/* eslint-disable @typescript-eslint/no-explicit-any */

const root = path.resolve(__dirname, '../../..');
const prod = loadEnvironment(root, 'prod');
const dev = loadEnvironment(root, 'dev');
const PROD = CANARY_DEFAULTS.production;

function render(over: Partial<CanaryReleaseProps> = {}, config: Partial<CanaryConfig> = {}): any[] {
  const chart = new Chart(new App(), 'test', { disableResourceNameHashes: true });
  new CanaryRelease(chart, 'canary', {
    name: 'web',
    namespace: 'apps',
    labels: { 'app.kubernetes.io/name': 'web' },
    selector: { 'app.kubernetes.io/name': 'web' },
    replicas: 4,
    plan: {
      config: { ...PROD, ...config },
      query: 'sum(up{pod=~"web-{{args.canary-hash}}-.*"})',
      prometheusUrl: 'http://p:9090',
    },
    rolloutWave: 7,
    ...over,
  });
  return chart.toJson() as any[];
}
const kind = (objs: any[], k: string) => objs.find((o) => o.kind === k);

describe('canary defaults by tier', () => {
  it('releases production as a canary and keeps the rolling update elsewhere', () => {
    expect(canaryDefaults('production', undefined)).toEqual(PROD);
    expect(PROD.enabled).toBe(true);
    expect(canaryDefaults('non-production', undefined).enabled).toBe(false);
  });

  it('fills in each field left out, analysis field by field', () => {
    const c = canaryDefaults('non-production', { enabled: true, analysis: { maxErrorRatio: 0.01 } });
    expect(c.enabled).toBe(true);
    expect(c.steps).toEqual(CANARY_DEFAULTS['non-production'].steps);
    expect(c.analysis).toEqual({ ...CANARY_DEFAULTS['non-production'].analysis, maxErrorRatio: 0.01 });
  });

  it('gives the tier defaults their own rules a pass', () => {
    for (const d of Object.values(CANARY_DEFAULTS)) expect(canaryRules('s', { ...d, enabled: true }, true)).toEqual([]);
  });
});

describe('canary rules', () => {
  const rule = (c: Partial<CanaryConfig>, monitoring = true) =>
    canaryRules('services.web', { ...PROD, ...c }, monitoring).map((p) => `${p.path}: ${p.message}`);

  it.each([
    [
      'no Prometheus to judge it',
      {},
      false,
      'services.web.canary.enabled: a canary is judged by a Prometheus analysis',
    ],
    ['no setWeight step', { steps: [{ pause: '5m' }] }, true, 'services.web.canary.steps: no setWeight step'],
    [
      'a weight that does not grow',
      { steps: [{ setWeight: 50 }, { pause: '5m' }, { setWeight: 50 }] },
      true,
      'services.web.canary.steps.2.setWeight: 50 is not above the previous weight 50',
    ],
    [
      'a first weight held too briefly for the analysis to abort',
      { steps: [{ setWeight: 25 }, { pause: '2m' }, { setWeight: 50 }] },
      true,
      'services.web.canary.steps.1: the first weight is held for 120 s, but the analysis needs 180 s',
    ],
    [
      'no pause after the first weight',
      { steps: [{ setWeight: 25 }, { setWeight: 50 }, { pause: '5m' }] },
      true,
      'services.web.canary.steps.1: the first weight is held for 0 s',
    ],
  ] as const)('refuses %s', (_what, c, monitoring, message) => {
    const problems = rule(c as Partial<CanaryConfig>, monitoring);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(message);
  });

  it('checks nothing for a disabled canary', () => {
    expect(rule({ enabled: false, steps: [{ pause: '1s' }] }, false)).toEqual([]);
  });
});

describe('the loader names the line of a bad canary', () => {
  const FILE = 'environments/staging.yaml';
  const STAGING = readFileSync(path.join(root, FILE), 'utf8');
  const withCanary = (canary: unknown) => {
    const doc = parseDocument(STAGING);
    doc.setIn(['services', 'frontend', 'canary'], canary);
    return doc.toString({ lineWidth: 0 });
  };
  const errorOf = (text: string): ConfigError => {
    try {
      parseEnvironment(text, FILE, 'staging', root);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return e as ConfigError;
    }
    throw new Error('expected a ConfigError');
  };
  const lineOf = (text: string, pattern: RegExp) => text.split('\n').findIndex((l) => pattern.test(l)) + 1;

  it('refuses an indefinite pause (a pause without a duration) at its line', () => {
    const text = withCanary({ enabled: true, steps: [{ setWeight: 50 }, { pause: {} }] });
    const err = errorOf(text);
    expect(err.message).toContain(
      `${FILE}:${lineOf(text, /pause: \{\}/)}: services.frontend.canary.steps.1.pause: {} has the wrong type`,
    );
  });

  it('refuses a weight of 100 (the last step promotes by itself)', () => {
    const text = withCanary({ enabled: true, steps: [{ setWeight: 100 }, { pause: '5m' }] });
    const err = errorOf(text);
    expect(err.message).toContain(
      `${FILE}:${lineOf(text, /setWeight: 100/)}: services.frontend.canary.steps.0.setWeight: 100 must be <= 99`,
    );
  });

  it('refuses a canary where monitoring is disabled, naming the fix', () => {
    const text = readFileSync(path.join(root, 'environments/dev.yaml'), 'utf8').replace(
      /(\n {2}frontend:\n)/,
      '$1    canary:\n      enabled: true\n',
    );
    expect(text).toContain('canary:');
    try {
      parseEnvironment(text, 'environments/dev.yaml', 'dev', root);
      throw new Error('expected a ConfigError');
    } catch (e) {
      expect(String((e as Error).message)).toMatch(
        /environments\/dev\.yaml:\d+: services\.frontend\.canary\.enabled: a canary is judged by a Prometheus analysis, but monitoring\.enabled is false\. Enable monitoring/,
      );
    }
  });
});

describe('CanaryRelease', () => {
  it('renders a Rollout over the Deployment and the AnalysisTemplate that judges it', () => {
    const objs = render();
    expect(objs.map((o) => o.kind).sort()).toEqual(['AnalysisTemplate', 'Rollout']);
    const r = kind(objs, 'Rollout');
    expect(r.metadata.annotations['argocd.argoproj.io/sync-wave']).toBe('7');
    expect(r.spec.replicas).toBe(4);
    expect(r.spec.workloadRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'web',
      scaleDown: 'progressively',
    });
    expect(r.spec.progressDeadlineAbort).toBe(true);
    const canary = r.spec.strategy.canary;
    expect([canary.maxSurge, canary.maxUnavailable]).toEqual([1, 0]);
    expect(canary.steps[0]).toEqual({ setWeight: 25 });
    expect(canary.steps[1]).toEqual({ pause: { duration: '5m' } });
    expect(canary.analysis.templates).toEqual([{ templateName: 'web-error-ratio' }]);
    expect(canary.analysis.args).toEqual([{ name: 'canary-hash', valueFrom: { podTemplateHashValue: 'Latest' } }]);
    expect(canary.analysis.dryRun).toBeUndefined();
    const t = kind(objs, 'AnalysisTemplate');
    expect(t.metadata.name).toBe('web-error-ratio');
    expect(t.metadata.annotations).toBeUndefined();
    expect(t.spec.metrics[0]).toMatchObject({
      name: 'error-ratio',
      interval: '1m',
      failureLimit: 1,
      successCondition: 'result[0] <= 0.05',
      provider: { prometheus: { address: 'http://p:9090' } },
    });
  });

  it('leaves replicas to the HPA when none are given', () => {
    const chart = new Chart(new App(), 'test', { disableResourceNameHashes: true });
    new CanaryRelease(chart, 'c', {
      name: 'web',
      namespace: 'apps',
      labels: {},
      selector: { app: 'web' },
      plan: { config: PROD, query: 'up', prometheusUrl: 'http://p:9090' },
      rolloutWave: 7,
    });
    expect(kind(chart.toJson() as any[], 'Rollout').spec).not.toHaveProperty('replicas');
  });

  it('only reports (dry run) and never aborts by itself without autoAbort', () => {
    const r = kind(render({}, { autoAbort: false }), 'Rollout');
    expect(r.spec.progressDeadlineAbort).toBe(false);
    expect(r.spec.strategy.canary.analysis.dryRun).toEqual([{ metricName: 'error-ratio' }]);
  });

  it.each([
    ['a disabled canary', {}, { enabled: false }, /canary.enabled is false/],
    ['replicas 0', { replicas: 0 }, {}, /replicas \(0\) must be a whole number/],
    ['a weight of 0', {}, { steps: [{ setWeight: 0 }] }, /setWeight \(0\) must be a whole number from 1 to 99/],
    ['a pause that is no duration', {}, { steps: [{ setWeight: 5 }, { pause: '5 minutes' }] }, /duration '5 minutes'/],
    ['an error ratio of 0', {}, { analysis: { ...PROD.analysis, maxErrorRatio: 0 } }, /maxErrorRatio \(0\)/],
    ['a fractional wave', { rolloutWave: 1.5 }, {}, /rolloutWave \(1.5\)/],
  ] as const)('refuses %s, naming the value', (_what, over, config, message) => {
    expect(() => render(over as Partial<CanaryReleaseProps>, config as Partial<CanaryConfig>)).toThrow(message);
  });

  it('refuses a query with an argument it does not pass', () => {
    expect(() =>
      render({ plan: { config: PROD, query: 'up{pod="{{args.stable-hash}}"}', prometheusUrl: 'http://p:9090' } }),
    ).toThrow(/names an argument other than canary-hash/);
  });
});

describe('errorRatioQuery and durations', () => {
  it('divides 5xx by all answers, and gives 0 without series or traffic', () => {
    expect(errorRatioQuery('m_total', 'namespace="a"', '2m')).toBe(
      '(sum(rate(m_total{namespace="a",code=~"5.."}[2m])) or on() vector(0)) / (sum(rate(m_total{namespace="a"}[2m])) > 0) or on() vector(0)',
    );
  });

  it('reads s, m and h and refuses anything else', () => {
    expect([durationSeconds('90s'), durationSeconds('5m'), durationSeconds('1h')]).toEqual([90, 300, 3600]);
    expect(() => durationSeconds('1d')).toThrow(/duration '1d'/);
  });
});

describe('canary in the platform', () => {
  it('renders a Rollout only where the plan releases as a canary', () => {
    const kinds = (env: typeof prod) =>
      buildPlatform(env)
        .charts.flatMap((c) => c.toJson() as any[])
        .filter((o) => o.kind === 'Rollout')
        .map((o) => o.metadata.name)
        .sort();
    expect(kinds(prod)).toEqual(['frontend', 'oauth2-proxy']);
    expect(kinds(dev)).toEqual([]);
    expect(planPlatform(dev).frontend.canary).toBeUndefined();
  });

  it('judges oauth2-proxy by its canary pods and the frontend by everything oauth2-proxy answered', () => {
    const plans = planPlatform(prod);
    expect(plans.oauth2Proxy.canary?.query).toContain('pod=~"oauth2-proxy-{{args.canary-hash}}-.*"');
    expect(plans.frontend.canary?.query).toContain('oauth2_proxy_requests_total{namespace="coderun"}');
    expect(plans.frontend.canary?.query).not.toContain('pod=~');
    expect(plans.frontend.canary?.prometheusUrl).toBe('http://prometheus-operated.monitoring.svc:9090');
  });
});
