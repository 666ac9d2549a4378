import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { App, Chart } from 'cdk8s';
import { loadEnvironment, type EnvironmentConfig } from '../../../apps/environment';
import {
  ExecutorReaper,
  REAPER_DEFAULTS,
  scheduleIntervalSeconds,
  type ExecutorReaperProps,
} from '../../../charts/executor-reaper/executor-reaper';
import { REAPER_SCRIPT, REAPER_USER } from '../../../charts/executor-reaper/script';
import { REAPER_IMAGE } from '../../../charts/executor-reaper/schema';

/* eslint-disable @typescript-eslint/no-explicit-any */

const root = path.resolve(__dirname, '../../..');
const staging = loadEnvironment(root, 'staging');

function render(env: EnvironmentConfig, props: Partial<ExecutorReaperProps> = {}): any[] {
  const app = new App();
  const chart = new Chart(app, 'test', { disableResourceNameHashes: true });
  new ExecutorReaper(chart, 'reaper', { platform: env, ...props });
  return chart.toJson() as any[];
}

function one(objs: any[], kind: string): any {
  const found = objs.filter((o) => o.kind === kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0];
}

const custom: EnvironmentConfig = { ...staging, namespaces: { app: 'apps-ns', executor: 'jobs-ns' } };

describe('ExecutorReaper', () => {
  it('renders a ServiceAccount, ConfigMap and CronJob in the app namespace, a Role and RoleBinding in the executor namespace', () => {
    const objs = render(custom);
    expect(objs.map((o) => `${o.kind} ${o.metadata.namespace}/${o.metadata.name}`).sort()).toEqual([
      'ConfigMap apps-ns/executor-reaper',
      'CronJob apps-ns/executor-reaper',
      'Role jobs-ns/executor-reaper',
      'RoleBinding jobs-ns/executor-reaper',
      'ServiceAccount apps-ns/executor-reaper',
    ]);
    for (const o of objs) {
      expect(o.metadata.labels).toMatchObject({
        'app.kubernetes.io/name': 'executor-reaper',
        'app.kubernetes.io/component': 'executor-reaper',
        'app.kubernetes.io/part-of': 'coderun',
        'app.kubernetes.io/managed-by': 'cdk8s',
        'app.kubernetes.io/instance': `coderun-${staging.name}`,
      });
    }
  });

  it('grants get, list and delete of pods in the executor namespace, to its own ServiceAccount only', () => {
    const objs = render(custom);
    expect(one(objs, 'Role').rules).toEqual([
      { apiGroups: [''], resources: ['pods'], verbs: ['delete', 'get', 'list'] },
    ]);
    const binding = one(objs, 'RoleBinding');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'executor-reaper' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'executor-reaper', namespace: 'apps-ns' }]);
    expect(one(objs, 'ServiceAccount').automountServiceAccountToken).toBe(false);
  });

  it('schedules every 5 minutes, one run at a time, with bounded runs and history', () => {
    const cj = one(render(staging), 'CronJob');
    expect(cj.apiVersion).toBe('batch/v1');
    expect(cj.spec).toMatchObject({
      schedule: '*/5 * * * *',
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 120,
      successfulJobsHistoryLimit: 1,
      failedJobsHistoryLimit: 3,
    });
    expect(cj.spec.jobTemplate.spec).toMatchObject({
      backoffLimit: 1,
      activeDeadlineSeconds: 120,
      ttlSecondsAfterFinished: 3600,
    });
  });

  it('runs our script from the ConfigMap in a pinned python image, restricted, sized, with the token mounted', () => {
    const objs = render(custom);
    const cm = one(objs, 'ConfigMap');
    expect(cm.data).toEqual({ 'reap.py': REAPER_SCRIPT });
    const pod = one(objs, 'CronJob').spec.jobTemplate.spec.template.spec;
    expect(pod.serviceAccountName).toBe('executor-reaper');
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(pod.restartPolicy).toBe('Never');
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: REAPER_USER,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.containers).toHaveLength(1);
    const c = pod.containers[0];
    expect(c.image).toBe(`${REAPER_IMAGE.repository}:${REAPER_IMAGE.tag}`);
    expect(c.image).toMatch(/^docker\.io\/library\/python:3\.\d+\.\d+-alpine$/);
    expect(c.command).toEqual(['python3', '/script/reap.py']);
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.resources.requests).toEqual({ cpu: '50m', memory: '64Mi', 'ephemeral-storage': '64Mi' });
    expect(c.resources.limits).toEqual(c.resources.requests);
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
    expect(env).toMatchObject({
      REAPER_NAMESPACE: 'jobs-ns',
      REAPER_MIN_AGE_SECONDS: '600',
      REAPER_LABEL_SELECTOR: `app.kubernetes.io/component=executor,app.kubernetes.io/instance=coderun-${staging.name}`,
    });
    expect(c.volumeMounts).toEqual([{ name: 'script', mountPath: '/script', readOnly: true }]);
    expect(pod.volumes).toEqual([
      { name: 'script', configMap: { name: 'executor-reaper', items: [{ key: 'reap.py', path: 'reap.py' }] } },
    ]);
  });

  it('takes overrides', () => {
    const objs = render(staging, {
      schedule: '*/10 * * * *',
      minAgeSeconds: 3600,
      activeDeadlineSeconds: 300,
      priorityClassName: 'low',
    });
    const cj = one(objs, 'CronJob');
    expect(cj.spec.schedule).toBe('*/10 * * * *');
    expect(cj.spec.jobTemplate.spec.activeDeadlineSeconds).toBe(300);
    const pod = cj.spec.jobTemplate.spec.template.spec;
    expect(pod.priorityClassName).toBe('low');
    expect(pod.containers[0].env).toContainEqual({ name: 'REAPER_MIN_AGE_SECONDS', value: '3600' });
  });

  it.each<[string, Partial<ExecutorReaperProps>, RegExp]>([
    [
      'a four-field schedule',
      { schedule: '*/5 * * *' },
      /schedule '\*\/5 \* \* \*' must be a cron expression of five fields/,
    ],
    ['a negative age', { minAgeSeconds: -1 }, /minAgeSeconds \(-1\) must be a whole number of at least 0/],
    ['a fractional age', { minAgeSeconds: 1.5 }, /minAgeSeconds \(1\.5\) must be a whole number/],
    [
      'a tiny deadline',
      { activeDeadlineSeconds: 1 },
      /activeDeadlineSeconds \(1\) must be a whole number of at least 10/,
    ],
    [
      'a deadline as long as the interval',
      { activeDeadlineSeconds: 300 },
      /activeDeadlineSeconds \(300\) must be shorter than the schedule interval \(300 s of '\*\/5 \* \* \* \*'\)/,
    ],
    ['a negative backoff', { backoffLimit: -1 }, /backoffLimit \(-1\) must be a whole number of at least 0/],
    ['a short starting deadline', { startingDeadlineSeconds: 5 }, /startingDeadlineSeconds \(5\) must be/],
    ['a negative ttl', { ttlSecondsAfterFinished: -5 }, /ttlSecondsAfterFinished \(-5\) must be/],
  ])('refuses %s, naming the value', (_what, props, message) => {
    expect(() => render(staging, props)).toThrow(message);
  });

  it('knows the interval of simple schedules', () => {
    expect(scheduleIntervalSeconds(REAPER_DEFAULTS.schedule)).toBe(300);
    expect(scheduleIntervalSeconds('* * * * *')).toBe(60);
    expect(scheduleIntervalSeconds('7 * * * *')).toBe(3600);
    expect(scheduleIntervalSeconds('0 3 * * *')).toBeUndefined();
  });
});

describe('reap.py', () => {
  it('is valid Python 3 that uses only the standard library', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'reap-'));
    try {
      const file = path.join(dir, 'reap.py');
      writeFileSync(file, REAPER_SCRIPT);
      execFileSync('python3', ['-m', 'py_compile', file]);
      const imports = [...REAPER_SCRIPT.matchAll(/^(?:import|from) ([\w.]+)/gm)].map((m) => m[1]);
      expect(new Set(imports)).toEqual(
        new Set(['json', 'os', 'ssl', 'sys', 'time', 'urllib.error', 'urllib.parse', 'urllib.request', 'datetime']),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits non-zero, saying why, when the API server cannot be reached', () => {
    let status = 0;
    let out = '';
    try {
      execFileSync('python3', ['-c', REAPER_SCRIPT], {
        env: {
          PATH: process.env.PATH ?? '',
          REAPER_NAMESPACE: 'jobs-ns',
          REAPER_API_URL: 'https://127.0.0.1:1',
          REAPER_TOKEN: 'not-a-real-token',
          REAPER_CA_FILE: path.join(root, 'no-such-ca.crt'),
        },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (e) {
      const err = e as { status: number; stdout: string; stderr: string };
      status = err.status;
      out = err.stdout + err.stderr;
    }
    expect(status).not.toBe(0);
    expect(out).toMatch(/error reading the API credentials: .*No such file/);
    expect(out).not.toMatch(/Traceback/);
  });
});
