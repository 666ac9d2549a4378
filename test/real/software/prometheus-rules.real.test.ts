/**
 * The committed PrometheusRule of every environment that has one, checked and unit-tested by the real
 * promtool (tools/go/promtool). The rule groups are taken from dist/<env>/ as committed, so what is
 * tested is what ships; the unit-test inputs are ours (alert-cases.ts), filled in with the environment's
 * namespaces, NATS pods, Deployments, the PodMonitors' target labels and the reaper's retention, read
 * from the same committed objects.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadCommitted, type CommittedDoc } from '../../support/committed';
import { scheduleIntervalSeconds } from '../../../charts/executor-reaper/executor-reaper';
import { ROOT, output, tool } from '../../../tools/harness/tools';
import { ALERT_CASES, type AlertCase, type AlertContext, type AlertSpec, type ScrapeTarget } from './alert-cases';

/* eslint-disable @typescript-eslint/no-explicit-any */

interface RenderedAlert {
  readonly alert: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
}

interface EnvUnderTest {
  readonly name: string;
  readonly file: string;
  readonly groups: any[];
  readonly alerts: RenderedAlert[];
  readonly ctx: AlertContext;
}

const committed = loadCommitted();

function one(docs: CommittedDoc[], kind: string, name: string, env: string): any {
  const found = docs.filter((d) => d.env.name === env && d.object.kind === kind && d.object.metadata.name === name);
  if (found.length !== 1) throw new Error(`${env}: expected one committed ${kind} ${name}, found ${found.length}`);
  return found[0]!.object;
}

/** How PodMonitor `name` scrapes the pods of `kind` `name`: job, and the container and port of its endpoint. */
function scrapeTarget(env: string, name: string, kind: string): ScrapeTarget {
  const monitor = one(committed, 'PodMonitor', name, env);
  const endpoints: any[] = monitor.spec.podMetricsEndpoints;
  if (endpoints.length !== 1) throw new Error(`${env}: PodMonitor ${name} has ${endpoints.length} endpoints, not one`);
  const portName: string = endpoints[0].port;
  const containers: any[] = one(committed, kind, name, env).spec.template.spec.containers;
  const found = containers.flatMap((c) =>
    (c.ports ?? [])
      .filter((p: any) => p.name === portName)
      .map((p: any) => ({ container: c.name, port: p.containerPort })),
  );
  if (found.length !== 1)
    throw new Error(`${env}: ${kind} ${name} has ${found.length} container ports named ${portName}`);
  return { job: `${monitor.metadata.namespace}/${monitor.metadata.name}`, endpoint: portName, ...found[0]! };
}

/**
 * The server_id label prometheus-nats-exporter gives its metrics when started with one monitor URL
 * and no -use_internal_server_id: scheme://host of that URL (0.15.0 main.go, parseServerIDAndURL).
 */
function natsServerId(env: string, container: string): string {
  const containers: any[] = one(committed, 'StatefulSet', 'nats', env).spec.template.spec.containers;
  const args: string[] = containers.find((c) => c.name === container)?.args ?? [];
  const urls = args.filter((a) => !a.startsWith('-'));
  if (
    urls.length !== 1 ||
    args.some((a) => a.startsWith('-use_internal_server_id') || a.startsWith('-use_server_name'))
  )
    throw new Error(`${env}: the NATS exporter does not name its server by one monitor URL: ${args.join(' ')}`);
  const url = new URL(urls[0]!);
  return `${url.protocol}//${url.host}`;
}

/** Every environment with a committed PrometheusRule, with the context its alert cases need. */
const environments: EnvUnderTest[] = committed
  .filter((d) => d.object.kind === 'PrometheusRule')
  .map((d) => {
    const env = d.env;
    const rule = d.object as any;
    const nats = one(committed, 'StatefulSet', 'nats', env.name);
    const replicas: number = nats.spec.replicas;
    const deployments = committed
      .filter((x) => x.env.name === env.name && x.object.kind === 'Deployment')
      .filter((x) => x.object.metadata.namespace === env.namespaces.app)
      .map((x) => x.object.metadata.name)
      .sort();
    const groups: any[] = rule.spec.groups;
    const natsTarget = scrapeTarget(env.name, 'nats', 'StatefulSet');
    // How long the reaper leaves a failed executor pod, at most: its minimum age plus one schedule interval.
    const reaper = one(committed, 'CronJob', 'executor-reaper', env.name);
    const reaperEnv: any[] = reaper.spec.jobTemplate.spec.template.spec.containers[0].env;
    const minAge = Number(reaperEnv.find((e) => e.name === 'REAPER_MIN_AGE_SECONDS')?.value);
    const interval = scheduleIntervalSeconds(reaper.spec.schedule);
    if (!Number.isFinite(minAge) || interval === undefined)
      throw new Error(`${env.name}: cannot read the executor reaper's REAPER_MIN_AGE_SECONDS and schedule interval`);
    return {
      name: env.name,
      file: d.file,
      groups,
      alerts: groups.flatMap((g) => g.rules).filter((r: any) => typeof r.alert === 'string'),
      ctx: {
        env: env.name,
        app: env.namespaces.app,
        executor: env.namespaces.executor,
        nats: natsTarget,
        natsServerId: natsServerId(env.name, natsTarget.container),
        proxy: scrapeTarget(env.name, 'oauth2-proxy', 'Deployment'),
        natsPods: Array.from({ length: replicas }, (_x, i) => `${nats.metadata.name}-${i}`),
        deployments,
        failedPodRetention: Math.ceil((minAge + interval) / 60),
      },
    };
  });

/** The Prometheus release tools/go/promtool pins: Go module v0.MMM.P is release (MMM/100).(MMM%100).P. */
function pinnedRelease(): string {
  const mod = readFileSync(join(ROOT, 'tools', 'go', 'promtool', 'go.mod'), 'utf8');
  const m = /github\.com\/prometheus\/prometheus v0\.(\d+)\.(\d+)/.exec(mod);
  if (!m) throw new Error('tools/go/promtool/go.mod does not require github.com/prometheus/prometheus v0.x.y');
  const mm = Number(m[1]);
  return `${Math.floor(mm / 100)}.${mm % 100}.${m[2]}`;
}

/** promtool's unit-test file for one case of one alert. */
function unitTest(env: EnvUnderTest, alert: string, spec: AlertSpec, c: AlertCase): object {
  return {
    rule_files: ['rules.yaml'],
    evaluation_interval: '1m',
    tests: [
      {
        name: `${env.name} ${alert}: ${c.name}`,
        interval: '1m',
        input_series: c.series.map((s) => ({ series: s.series, values: s.values })),
        alert_rule_test: c.evals.map((e) => ({
          eval_time: `${e.at}m`,
          alertname: alert,
          exp_alerts: e.firing.map((f) => ({
            exp_labels: { ...f.labels, severity: spec.severity, environment: env.ctx.env },
            exp_annotations: { summary: f.summary },
          })),
        })),
      },
    ],
  };
}

let promtool = '';
const dirs: string[] = [];

function run(args: string[], cwd: string): { status: number | null; out: string } {
  const r = spawnSync(promtool, args, { cwd, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

function rulesDir(env: EnvUnderTest): string {
  const dir = mkdtempSync(join(tmpdir(), `coderun-rules-${env.name}-`));
  dirs.push(dir);
  writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: env.groups }));
  return dir;
}

beforeAll(() => {
  promtool = tool('promtool', 'promtool');
});

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('promtool', () => {
  it('is the Prometheus release tools/go/promtool pins', () => {
    expect(output(promtool, ['--version'])).toMatch(
      new RegExp(`^promtool, version ${pinnedRelease().replace(/\./g, '\\.')} `),
    );
  });

  it('some environment ships a PrometheusRule, and every environment with monitoring enabled does', () => {
    expect(environments.length).toBeGreaterThan(0);
    const withMonitoring = [
      ...new Set(committed.filter((d) => d.env.monitoring.enabled).map((d) => d.env.name)),
    ].sort();
    expect(environments.map((e) => e.name).sort()).toEqual(withMonitoring);
  });
});

describe.each(environments.map((e) => [e.name, e] as const))('%s PrometheusRule', (_name, env) => {
  let dir = '';
  beforeAll(() => {
    dir = rulesDir(env);
  });

  it(`promtool check rules accepts the committed rule groups (${env.file})`, () => {
    const r = run(['check', 'rules', '--lint=all', '--lint-fatal', 'rules.yaml'], dir);
    expect(r.out).toContain(`SUCCESS: ${env.alerts.length} rules found`);
    expect(r.status, r.out).toBe(0);
  });

  it('every rendered alert has unit-test cases, and every case set names a rendered alert', () => {
    const rendered = env.alerts.map((a) => a.alert).sort();
    expect(
      rendered.filter((a) => !(a in ALERT_CASES)),
      'alerts without cases in alert-cases.ts',
    ).toEqual([]);
    expect(
      Object.keys(ALERT_CASES).filter((a) => !rendered.includes(a)),
      'cases for alerts not rendered',
    ).toEqual([]);
  });

  it.each(env.alerts.map((a) => [a.alert, a] as const))(
    '%s: cases prove it fires after its for: and stays silent when healthy and on a blip, and cover its events',
    (name, a) => {
      const spec = ALERT_CASES[name];
      expect(spec, name).toBeDefined();
      expect(a.labels.severity, `${name} severity`).toBe(spec!.severity);
      const cases = spec!.cases(env.ctx);
      const kinds = new Set(cases.map((c) => c.kind));
      for (const k of ['fires', 'healthy', 'blip'] as const)
        expect(kinds.has(k), `${name} has a '${k}' case`).toBe(true);
      for (const event of spec!.events) {
        const during = cases.filter((c) => c.events?.includes(event));
        expect(
          during.filter((c) => c.kind === 'fires').length,
          `${name}: a '${event}' case that fires`,
        ).toBeGreaterThan(0);
        expect(
          during.filter((c) => c.kind !== 'fires').length,
          `${name}: a '${event}' case that stays silent`,
        ).toBeGreaterThan(0);
      }
      for (const c of cases)
        for (const event of c.events ?? [])
          expect(spec!.events, `${c.name}: its event '${event}' is one ${name} lists`).toContain(event);
      for (const c of cases) {
        const firstFiring = c.evals.findIndex((e) => e.firing.length > 0);
        if (c.kind === 'fires') {
          expect(firstFiring, `${c.name}: fires`).toBeGreaterThan(0);
          expect(c.evals[firstFiring - 1]!.firing, `${c.name}: silent just before it fires`).toEqual([]);
        } else {
          expect(firstFiring, `${c.name}: never fires`).toBe(-1);
        }
      }
    },
  );

  const cases = env.alerts.flatMap((a) => {
    const spec = ALERT_CASES[a.alert];
    return spec ? spec.cases(env.ctx).map((c) => [a.alert, c.kind, c.name, spec, c] as const) : [];
  });
  it.each(cases)('promtool test rules: %s (%s) %s', (alert, _kind, _n, spec, c) => {
    const file = `test-${alert}-${cases.findIndex((x) => x[4] === c)}.yaml`;
    writeFileSync(join(dir, file), stringify(unitTest(env, alert, spec, c)));
    const r = run(['test', 'rules', file], dir);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain('SUCCESS');
  });
});
