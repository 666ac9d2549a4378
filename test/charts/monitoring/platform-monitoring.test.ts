import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { App, Chart } from 'cdk8s';
import { loadEnvironment, type EnvironmentConfig } from '../../../apps/environment';
import { PlatformMonitoring } from '../../../charts/monitoring/platform-monitoring';
import { platformAlerts, scrapeTargets } from '../../../apps/alerts';
import { planPlatform } from '../../../apps/plans';
import { SchemaValidator } from '../../support/schema-validator';
import { loadCommitted } from '../../support/committed';

/* eslint-disable @typescript-eslint/no-explicit-any */

const root = path.resolve(__dirname, '../../..');
const dev = loadEnvironment(root, 'dev');
const staging = loadEnvironment(root, 'staging');
const prod = loadEnvironment(root, 'prod');
const validator = new SchemaValidator({ kubernetesVersions: ['1.30', '1.33'] });

function render(env: EnvironmentConfig): any[] {
  const app = new App();
  const chart = new Chart(app, 'test', { disableResourceNameHashes: true });
  new PlatformMonitoring(chart, 'monitoring', {
    platform: env,
    monitoring: env.monitoring,
    targets: scrapeTargets(planPlatform(env)),
    alerts: platformAlerts(env),
  });
  return chart.toJson() as any[];
}

function find(objs: any[], kind: string, name: string): any {
  const found = objs.filter((o) => o.kind === kind && o.metadata.name === name);
  expect(found, `${kind} ${name}`).toHaveLength(1);
  return found[0];
}

function alerts(env: EnvironmentConfig): any[] {
  const rule = find(render(env), 'PrometheusRule', 'coderun-alerts');
  expect(rule.spec.groups).toHaveLength(1);
  return rule.spec.groups[0].rules as any[];
}

function alert(env: EnvironmentConfig, name: string): any {
  const found = alerts(env).filter((a) => a.alert === name);
  expect(found, name).toHaveLength(1);
  return found[0];
}

function withNamespaces(env: EnvironmentConfig, app: string, executor: string): EnvironmentConfig {
  return { ...env, namespaces: { app, executor } };
}

const ENABLED = [
  ['staging', staging],
  ['prod', prod],
] as const;

describe('PlatformMonitoring', () => {
  it('dev (monitoring disabled): renders nothing', () => {
    expect(dev.monitoring.enabled).toBe(false);
    expect(render(dev)).toEqual([]);
  });

  it('renders nothing when monitoring is switched off in an environment that has it', () => {
    expect(render({ ...prod, monitoring: { ...prod.monitoring, enabled: false } })).toEqual([]);
  });

  it.each(ENABLED)('%s: renders two PodMonitors and one PrometheusRule in the app namespace, all valid', (_n, env) => {
    const objs = render(env);
    expect(objs.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      'monitoring.coreos.com/v1 PodMonitor coderun/nats',
      'monitoring.coreos.com/v1 PodMonitor coderun/oauth2-proxy',
      'monitoring.coreos.com/v1 PrometheusRule coderun/coderun-alerts',
    ]);
    for (const o of objs) expect(validator.validate(o, env.kubernetesVersion)).toEqual([]);
  });

  it('dev with monitoring enabled renders valid objects for Kubernetes 1.33', () => {
    const objs = render({ ...dev, monitoring: { ...dev.monitoring, enabled: true } });
    expect(objs).toHaveLength(3);
    for (const o of objs) expect(validator.validate(o, '1.33')).toEqual([]);
  });

  describe('PodMonitors', () => {
    it.each([
      ['nats', 'messaging'],
      ['oauth2-proxy', 'auth-proxy'],
    ])('%s: selects its pods in the app namespace and scrapes port "metrics"', (name, component) => {
      const m = find(render(prod), 'PodMonitor', name);
      expect(m.spec.selector).toEqual({
        matchLabels: { 'app.kubernetes.io/name': name, 'app.kubernetes.io/instance': 'coderun-prod' },
      });
      expect(m.spec.namespaceSelector).toEqual({ matchNames: ['coderun'] });
      expect(m.spec.podMetricsEndpoints).toEqual([
        { port: 'metrics', path: '/metrics', interval: '30s', scheme: 'http' },
      ]);
      expect(m.metadata.labels['app.kubernetes.io/component']).toBe(component);
    });

    it.each(ENABLED)('%s: every object carries monitoring.selectorLabels so Prometheus picks it up', (_n, env) => {
      expect(env.monitoring.selectorLabels).toEqual({ release: 'kube-prometheus-stack' });
      for (const o of render(env)) expect(o.metadata.labels.release, o.metadata.name).toBe('kube-prometheus-stack');
    });

    it('uses the configured selector labels and app namespace', () => {
      const env: EnvironmentConfig = {
        ...withNamespaces(prod, 'cr', 'cr-jobs'),
        monitoring: { ...prod.monitoring, selectorLabels: { prometheus: 'platform', team: 'sre' } },
      };
      const objs = render(env);
      for (const o of objs) {
        expect(o.metadata.namespace).toBe('cr');
        expect(o.metadata.labels).toMatchObject({ prometheus: 'platform', team: 'sre' });
        expect(o.metadata.labels).not.toHaveProperty('release');
      }
      expect(find(objs, 'PodMonitor', 'nats').spec.namespaceSelector).toEqual({ matchNames: ['cr'] });
    });
  });

  describe('PrometheusRule', () => {
    it('executor alerts are per pod: Pending keeps pod and namespace, Failing counts pods that became Failed', () => {
      const pending = alert(prod, 'ExecutorPodsPending');
      expect(pending.expr).not.toMatch(/^sum\(/);
      expect(pending.expr).toMatch(/^max by \(namespace, pod\) /);
      expect(pending.for).toBe('5m');
      expect(pending.annotations.summary).toMatch(
        /^Executor pod \{\{ \$labels\.pod \}\} has been Pending for 5 minutes/,
      );
      // Seen Failed in the last 10 minutes, unless already seen Failed in the 10 minutes before: the
      // reaper keeps failed pods 10 to 15 minutes, so "seen Failed" alone counts one failure twice.
      const failing = alert(prod, 'ExecutorPodsFailing');
      expect(failing.expr).toMatch(
        /^count\(\(max by \(namespace, pod\) \(max_over_time\(.*\[10m\]\)\) == 1\) unless on \(namespace, pod\) \(max by \(namespace, pod\) \(max_over_time\(.*\[10m\] offset 10m\)\) == 1\)\) >= 3$/,
      );
      expect(failing.annotations.summary).toContain('in the last 10 minutes');
    });

    it.each(ENABLED)('%s: has the platform alerts, each with severity, environment and summary', (_n, env) => {
      const rules = alerts(env);
      expect(rules.map((a) => a.alert)).toEqual([
        'NatsServerDown',
        'NatsClusterSizeShort',
        'JetStreamStorageHigh',
        'ExecutorPodsFailing',
        'ExecutorPodsPending',
        'ExecutorQuotaExhausted',
        'PlatformDeploymentUnavailable',
        'PlatformDeploymentDegraded',
        'OAuth2Proxy5xxRate',
      ]);
      for (const a of rules) {
        expect(['warning', 'critical'], a.alert).toContain(a.labels.severity);
        expect(a.labels.environment, a.alert).toBe(env.name);
        expect(a.annotations.summary, a.alert).toMatch(/\S/);
        expect(a.expr, a.alert).toMatch(/\S/);
        expect(a.for, a.alert).toMatch(/^\d+m$/);
      }
    });

    it('renders exactly the alerts platformAlerts defines', () => {
      expect(
        alerts(staging).map((a) => ({
          alert: a.alert,
          expr: a.expr,
          for: a.for,
          severity: a.labels.severity,
          summary: a.annotations.summary,
        })),
      ).toEqual(platformAlerts(staging));
    });

    it.each([
      ['NatsServerDown', 'critical'],
      ['NatsClusterSizeShort', 'critical'],
      ['PlatformDeploymentUnavailable', 'critical'],
      ['JetStreamStorageHigh', 'warning'],
      ['ExecutorPodsFailing', 'warning'],
      ['ExecutorPodsPending', 'warning'],
      ['ExecutorQuotaExhausted', 'warning'],
    ])('%s is %s', (name, severity) => {
      expect(alert(prod, name).labels.severity).toBe(severity);
    });

    it.each([
      ['staging', staging, 1],
      ['prod', prod, 3],
    ] as const)('%s: the cluster-size alert expects %i NATS server(s)', (_n, env, replicas) => {
      expect(env.services.nats.replicas).toBe(replicas);
      const a = alert(env, 'NatsClusterSizeShort');
      expect(a.expr).toBe(`(count(gnatsd_healthz_status{job="coderun/nats"} == 0) or vector(0)) < ${replicas}`);
      expect(a.annotations.summary).toBe(`Only {{ $value }} of ${replicas} NATS server(s) are healthy.`);
    });

    it('the cluster-size alert follows the replicas of the environment', () => {
      const env: EnvironmentConfig = {
        ...prod,
        services: { ...prod.services, nats: { ...prod.services.nats, replicas: 5 } },
      };
      expect(alert(env, 'NatsClusterSizeShort').expr).toMatch(/ < 5$/);
    });

    it("NATS server health is read from the exporter's -healthz metric, not from the sidecar's own up", () => {
      // up stays 1 while nats-server is dead: the sidecar still answers scrapes. gnatsd_healthz_status
      // disappears when the exporter cannot reach the server and is 1 when /healthz fails.
      const down: string = alert(prod, 'NatsServerDown').expr;
      expect(down).toMatch(/ unless on \(namespace, pod\) \(gnatsd_healthz_status\{job="coderun\/nats"\} == 0\)$/);
      expect(alert(prod, 'NatsClusterSizeShort').expr).not.toContain('up{');
    });

    it.each([
      ['staging', staging],
      ['prod', prod],
    ] as const)(
      '%s: NatsServerDown keeps only namespace and pod, and counts every StatefulSet pod without a target',
      (_n, env) => {
        const pods = Array.from({ length: env.services.nats.replicas }, (_x, i) => `nats-${i}`);
        const absent = pods.map((p) => `absent(up{job="coderun/nats", namespace="coderun", pod="${p}"})`);
        expect(alert(env, 'NatsServerDown').expr).toBe(
          `max by (namespace, pod) (up{job="coderun/nats"} or ${absent.join(' or ')}) ` +
            'unless on (namespace, pod) (gnatsd_healthz_status{job="coderun/nats"} == 0)',
        );
      },
    );

    it('NatsServerDown expects the pods of the configured replicas, no more', () => {
      const env: EnvironmentConfig = {
        ...prod,
        services: { ...prod.services, nats: { ...prod.services.nats, replicas: 5 } },
      };
      const pods = [...(alert(env, 'NatsServerDown').expr as string).matchAll(/absent\(up\{[^}]*pod="([^"]*)"\}\)/g)];
      expect(pods.map((m) => m[1])).toEqual(['nats-0', 'nats-1', 'nats-2', 'nats-3', 'nats-4']);
    });

    it('JetStreamStorageHigh trusts /varz only while the server is healthy', () => {
      expect(alert(prod, 'JetStreamStorageHigh').expr).toMatch(
        /^\(max by \(namespace, pod\) \(.*\) > 0\.8\) and on \(namespace, pod\) \(gnatsd_healthz_status\{job="coderun\/nats"\} == 0\)$/,
      );
    });

    it('kube-state-metrics alerts fall back to the last values only while no kube-state-metrics pod answers', () => {
      const bridged = (sel: string) =>
        `${sel} or (last_over_time(${sel}[5m]) unless on () (up{job="kube-state-metrics"} == 1))`;
      expect(alert(prod, 'ExecutorPodsPending').expr).toBe(
        `max by (namespace, pod) (${bridged('kube_pod_status_phase{namespace="coderun-executors", phase="Pending"}')}) == 1`,
      );
      for (const name of ['ExecutorQuotaExhausted', 'PlatformDeploymentUnavailable', 'PlatformDeploymentDegraded']) {
        const expr: string = alert(prod, name).expr;
        const selectors = [...expr.matchAll(/last_over_time\((.*?)\[5m\]\)/g)].map((m) => m[1]!);
        expect(selectors.length, name).toBeGreaterThan(0);
        for (const sel of selectors) expect(expr, name).toContain(bridged(sel));
      }
    });

    it('PlatformDeploymentUnavailable fires for each platform Deployment that is gone while kube-state-metrics answers', () => {
      const expr: string = alert(prod, 'PlatformDeploymentUnavailable').expr;
      const gone = ['middleware', 'frontend', 'oauth2-proxy'].map(
        (d) => `absent(kube_deployment_status_replicas_available{namespace="coderun", deployment="${d}"})`,
      );
      expect(expr).toMatch(/^\(max by \(namespace, deployment\) \(.*\) == 0\) or /);
      expect(expr.endsWith(` or ((${gone.join(' or ')}) and on () (up{job="kube-state-metrics"} == 1))`)).toBe(true);
    });

    it('OAuth2Proxy5xxRate needs at least 0.2 requests a second', () => {
      expect(alert(prod, 'OAuth2Proxy5xxRate').expr).toBe(
        '(sum(rate(oauth2_proxy_requests_total{namespace="coderun", code=~"5.."}[5m])) / sum(rate(oauth2_proxy_requests_total{namespace="coderun"}[5m])) > 0.05) ' +
          'and (sum(rate(oauth2_proxy_requests_total{namespace="coderun"}[5m])) >= 0.2)',
      );
    });

    it('every environment that ships the rule runs the NATS exporter sidecar with -healthz', () => {
      const docs = loadCommitted();
      const envs = new Set(docs.filter((d) => d.object.kind === 'PrometheusRule').map((d) => d.env.name));
      expect(envs.size).toBeGreaterThan(0);
      for (const name of envs) {
        const sts = docs.filter(
          (d) => d.env.name === name && d.object.kind === 'StatefulSet' && d.object.metadata.name === 'nats',
        );
        expect(sts, name).toHaveLength(1);
        const containers: any[] = (sts[0]!.object as any).spec.template.spec.containers;
        const exporter = containers.find((c) => c.name === 'metrics');
        expect(exporter?.args, name).toContain('-healthz');
      }
    });

    it('NATS alerts use the job Prometheus Operator gives the nats PodMonitor (<namespace>/<name>)', () => {
      const objs = render(prod);
      const m = find(objs, 'PodMonitor', 'nats');
      const job = `${m.metadata.namespace}/${m.metadata.name}`;
      for (const name of ['NatsServerDown', 'NatsClusterSizeShort', 'JetStreamStorageHigh']) {
        const expr: string = alert(prod, name).expr;
        const jobs = [...expr.matchAll(/job="([^"]*)"/g)].map((x) => x[1]);
        expect(jobs.length, name).toBeGreaterThan(0);
        for (const j of jobs) expect(j, name).toBe(job);
      }
    });

    it("expressions name the environment's namespaces", () => {
      const env = withNamespaces(prod, 'cr-app', 'cr-jobs');
      const ns = (name: string) =>
        [...(alert(env, name).expr as string).matchAll(/namespace="([^"]*)"/g)].map((x) => x[1]);
      for (const name of ['ExecutorPodsFailing', 'ExecutorPodsPending', 'ExecutorQuotaExhausted']) {
        expect(ns(name).length, name).toBeGreaterThan(0);
        expect(new Set(ns(name)), name).toEqual(new Set(['cr-jobs']));
      }
      for (const name of ['PlatformDeploymentUnavailable', 'PlatformDeploymentDegraded', 'OAuth2Proxy5xxRate']) {
        expect(ns(name).length, name).toBeGreaterThan(0);
        expect(new Set(ns(name)), name).toEqual(new Set(['cr-app']));
      }
      expect(new Set(ns('NatsServerDown')), 'NatsServerDown').toEqual(new Set(['cr-app']));
      expect(alert(env, 'NatsServerDown').expr).toContain('gnatsd_healthz_status{job="cr-app/nats"} == 0');
      for (const a of alerts(env)) expect(a.expr, a.alert).not.toMatch(/"coderun(-executors)?[/"]/);
    });

    it('watches the executor phases and quota, and the three Deployments', () => {
      expect(alert(prod, 'ExecutorPodsFailing').expr).toBe(
        'count((max by (namespace, pod) (max_over_time(kube_pod_status_phase{namespace="coderun-executors", phase="Failed"}[10m])) == 1) ' +
          'unless on (namespace, pod) (max by (namespace, pod) (max_over_time(kube_pod_status_phase{namespace="coderun-executors", phase="Failed"}[10m] offset 10m)) == 1)) >= 3',
      );
      expect(alert(prod, 'ExecutorPodsPending').expr).toContain(
        'kube_pod_status_phase{namespace="coderun-executors", phase="Pending"}',
      );
      expect(alert(prod, 'ExecutorQuotaExhausted').expr).toContain(
        'kube_resourcequota{namespace="coderun-executors", type="used"}',
      );
      expect(alert(prod, 'ExecutorQuotaExhausted').expr).toContain(
        'kube_resourcequota{namespace="coderun-executors", type="hard"}',
      );
      expect(alert(prod, 'PlatformDeploymentUnavailable').expr).toContain(
        'max by (namespace, deployment) (kube_deployment_status_replicas_available{namespace="coderun", deployment=~"middleware|frontend|oauth2-proxy"} or ',
      );
      expect(alert(prod, 'PlatformDeploymentDegraded').expr).toMatch(
        /^max by \(namespace, deployment\) \(kube_deployment_status_replicas_unavailable\{namespace="coderun", deployment=~"middleware\|frontend\|oauth2-proxy"\} or .*\) > 0$/,
      );
      expect(alert(prod, 'JetStreamStorageHigh').expr).toContain(') > 0.8) and on (namespace, pod) (');
    });
  });
});
