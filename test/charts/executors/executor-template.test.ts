import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { App, Chart } from 'cdk8s';
import { loadEnvironment, type EnvironmentConfig } from '../../../apps/environment';
import type { ImageRef } from '../../../src/model/schema';
import { ExecutorTemplate } from '../../../charts/executors/executor-template';
import {
  EXECUTOR_COMPONENT,
  EXECUTORS,
  EXECUTOR_USER,
  type ExecutorDefinition,
  type ExecutorsPlan,
} from '../../../charts/executors/plan';
import { planPlatform } from '../../../apps/plans';
import { ephemeralStorage } from '../../../charts/common/pod-spec';
import { imageString } from '../../../src/model/schema';

/* eslint-disable @typescript-eslint/no-explicit-any */

const root = path.resolve(__dirname, '../../..');
const staging = loadEnvironment(root, 'staging');
const prod = loadEnvironment(root, 'prod');

const goExecutor = EXECUTORS.find((e) => e.language === 'go') as ExecutorDefinition;

function render(
  env: EnvironmentConfig,
  executor: ExecutorDefinition = goExecutor,
  image?: ImageRef,
  extra: { readonly caSecretName?: string; readonly priorityClassName?: string } = {},
): any {
  const app = new App();
  const chart = new Chart(app, 'test', { disableResourceNameHashes: true });
  const planned = planPlatform(env).executors;
  const plan: ExecutorsPlan = {
    ...planned,
    serviceAccountName: 'executor-sa',
    ...(extra.caSecretName ? { caSecretName: extra.caSecretName } : {}),
  };
  new ExecutorTemplate(chart, executor.language, {
    plan,
    job: { ...executor, image: image ?? env.executors.images[executor.language] },
    platform: env,
    ...(extra.priorityClassName ? { priorityClassName: extra.priorityClassName } : {}),
  });
  const objs = chart.toJson() as any[];
  expect(objs).toHaveLength(1);
  return objs[0];
}

function withExecutors(env: EnvironmentConfig, patch: Partial<EnvironmentConfig['executors']>): EnvironmentConfig {
  return { ...env, executors: { ...env.executors, ...patch } };
}

describe('ExecutorTemplate', () => {
  it.each(EXECUTORS.map((e) => [e.language, e] as const))(
    '%s: renders a PodTemplate named after the language in the executor namespace',
    (language, executor) => {
      const t = render(prod, executor);
      expect(t.kind).toBe('PodTemplate');
      expect(t.metadata.name).toBe(`executor-${language}`);
      expect(t.metadata.name).toBe(executor.templateName);
      expect(t.metadata.namespace).toBe(prod.namespaces.executor);
      expect(t.metadata.labels['coderun.dev/language']).toBe(language);
      expect(t.template.spec.containers[0].image).toBe(imageString(prod.executors.images[language]));
      expect(t.template.spec.containers[0].env).toContainEqual({ name: 'LANGUAGE', value: language });
    },
  );

  it('never restarts a job and stops it at the environment deadline', () => {
    const spec = render(staging).template.spec;
    expect(spec.restartPolicy).toBe('Never');
    expect(spec.activeDeadlineSeconds).toBe(staging.executors.deadlineSeconds);
    expect(spec.activeDeadlineSeconds).toBe(120);
    expect(render(withExecutors(staging, { deadlineSeconds: 77 })).template.spec.activeDeadlineSeconds).toBe(77);
  });

  it('gives the pod no API token and no service links, and runs it as the given ServiceAccount', () => {
    const spec = render(prod).template.spec;
    expect(spec.automountServiceAccountToken).toBe(false);
    expect(spec.enableServiceLinks).toBe(false);
    expect(spec.serviceAccountName).toBe('executor-sa');
  });

  it.each([
    ['staging', staging, '500m', '512Mi'],
    ['prod', prod, '1', '1Gi'],
  ] as const)('%s: requests equal limits at the per-job size (Guaranteed QoS)', (_n, env, cpu, memory) => {
    const containers = render(env).template.spec.containers as any[];
    expect(containers).toHaveLength(1);
    const { requests, limits } = containers[0].resources;
    expect(requests).toEqual(limits);
    // Disk: the logs allowance, the workspace and /tmp, so a job that fills its scratch space is evicted alone.
    const disk = ephemeralStorage([env.executors.workspaceSize, '64Mi']);
    expect(requests).toEqual({ cpu, memory, 'ephemeral-storage': disk });
    expect(requests).toEqual({ cpu: env.executors.cpu, memory: env.executors.memory, 'ephemeral-storage': disk });
  });

  it('runs non-root with a read-only root filesystem and size-limited scratch space', () => {
    const spec = render(staging).template.spec;
    expect(spec.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: EXECUTOR_USER,
      runAsGroup: EXECUTOR_USER,
    });
    const c = spec.containers[0];
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(spec.volumes).toEqual([
      { name: 'workspace', emptyDir: { sizeLimit: '256Mi' } },
      { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
    ]);
    expect(c.volumeMounts).toEqual([
      { name: 'workspace', mountPath: '/workspace' },
      { name: 'tmp', mountPath: '/tmp' },
    ]);
  });

  it('mounts the NATS CA read-only and points the client at it when NATS TLS is on (prod)', () => {
    const spec = render(prod).template.spec;
    expect(spec.volumes).toContainEqual({
      name: 'nats-ca',
      secret: { secretName: 'nats-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] },
    });
    const c = spec.containers[0];
    expect(c.volumeMounts).toContainEqual({ name: 'nats-ca', mountPath: '/etc/nats-ca', readOnly: true });
    expect(c.env).toContainEqual({ name: 'NATS_CA_FILE', value: '/etc/nats-ca/ca.crt' });
    expect(c.env).toContainEqual({ name: 'NATS_URL', value: 'tls://nats.coderun.svc.cluster.local:4222' });
    const custom = render(prod, goExecutor, undefined, { caSecretName: 'ca-copy' }).template.spec.volumes as any[];
    expect(custom.find((v) => v.name === 'nats-ca').secret.secretName).toBe('ca-copy');
  });

  it('holds no NATS credential: only where the middleware mounts the job ticket (README, Image contract)', () => {
    for (const env of [staging, prod]) {
      const vars = render(env).template.spec.containers[0].env as any[];
      expect(vars).toContainEqual({ name: 'NATS_TICKET_FILE', value: '/var/run/coderun/nats/ticket' });
      expect(vars.filter((v) => /USER|PASSWORD|SEED|TOKEN|NKEY|INBOX/.test(v.name))).toEqual([]);
      expect(vars.filter((v) => v.valueFrom !== undefined)).toEqual([]);
    }
  });

  it('sets the priority class only when given', () => {
    expect(
      render(staging, goExecutor, undefined, { priorityClassName: 'coderun-executor' }).template.spec.priorityClassName,
    ).toBe('coderun-executor');
    expect(render(staging).template.spec).not.toHaveProperty('priorityClassName');
  });

  it('sizes /workspace from executors.workspaceSize', () => {
    const volumes = render(withExecutors(staging, { workspaceSize: '384Mi' })).template.spec.volumes as any[];
    expect(volumes.find((v) => v.name === 'workspace').emptyDir.sizeLimit).toBe('384Mi');
  });

  it('labels pods as executors of this environment, identically on the template and its metadata', () => {
    const t = render(staging);
    expect(t.template.metadata.labels).toEqual(t.metadata.labels);
    expect(t.template.metadata.labels).toMatchObject({
      'app.kubernetes.io/component': EXECUTOR_COMPONENT,
      'app.kubernetes.io/instance': 'coderun-staging',
      'app.kubernetes.io/version': '1.0.0',
    });
  });

  it('spreads executors softly (ScheduleAnyway) even where the environment spreads hard, selecting all executors', () => {
    expect(prod.spread.whenUnsatisfiable).toBe('DoNotSchedule');
    const t = render(prod);
    const tsc = t.template.spec.topologySpreadConstraints as any[];
    expect(tsc.map((c) => c.topologyKey).sort()).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    for (const c of tsc) {
      expect(c.whenUnsatisfiable).toBe('ScheduleAnyway');
      expect(c.labelSelector.matchLabels).toEqual({
        'app.kubernetes.io/component': EXECUTOR_COMPONENT,
        'app.kubernetes.io/instance': 'coderun-prod',
      });
      // The selector matches the pods' own labels.
      for (const [k, v] of Object.entries(c.labelSelector.matchLabels)) expect(t.template.metadata.labels[k]).toBe(v);
    }
  });

  it('uses the given image, by digest when pinned by digest', () => {
    const digest = `sha256:${'0'.repeat(64)}`;
    const t = render(staging, goExecutor, { repository: 'ghcr.io/x/exec-go', digest });
    expect(t.template.spec.containers[0].image).toBe(`ghcr.io/x/exec-go@${digest}`);
    expect(t.metadata.labels).not.toHaveProperty('app.kubernetes.io/version');
  });

  it.each([4, 0, -10])('fails for deadlineSeconds %s, naming the value', (deadlineSeconds) => {
    expect(() => render(withExecutors(staging, { deadlineSeconds }))).toThrow(
      `executor go: deadlineSeconds (${deadlineSeconds})`,
    );
  });

  it('accepts the smallest deadline (5s)', () => {
    expect(render(withExecutors(staging, { deadlineSeconds: 5 })).template.spec.activeDeadlineSeconds).toBe(5);
  });
});
