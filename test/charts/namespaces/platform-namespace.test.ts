import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { App, Chart } from 'cdk8s';
import { loadEnvironment } from '../../../apps/environment';
import { PlatformNamespace, POD_SECURITY_VERSION } from '../../../charts/namespaces/platform-namespace';

/* eslint-disable @typescript-eslint/no-explicit-any */

const root = path.resolve(__dirname, '../../..');
const prod = loadEnvironment(root, 'prod');

function render(name: string, component = 'platform'): any[] {
  const app = new App();
  const chart = new Chart(app, 'test', { disableResourceNameHashes: true });
  new PlatformNamespace(chart, 'ns', { name, platform: prod, component });
  return chart.toJson() as any[];
}

describe('PlatformNamespace', () => {
  it('renders one cluster-scoped Namespace with the given name', () => {
    const objs = render('coderun-executors');
    expect(objs).toHaveLength(1);
    expect(objs[0].apiVersion).toBe('v1');
    expect(objs[0].kind).toBe('Namespace');
    expect(objs[0].metadata.name).toBe('coderun-executors');
    expect(objs[0].metadata).not.toHaveProperty('namespace');
  });

  it('enforces, audits and warns at Pod Security "restricted", pinned to one version', () => {
    const labels = render('coderun')[0].metadata.labels as Record<string, string>;
    expect(POD_SECURITY_VERSION).toMatch(/^v1\.\d+$/);
    for (const mode of ['enforce', 'audit', 'warn']) {
      expect(labels[`pod-security.kubernetes.io/${mode}`], mode).toBe('restricted');
      expect(labels[`pod-security.kubernetes.io/${mode}-version`], mode).toBe(POD_SECURITY_VERSION);
    }
  });

  it('carries the standard labels for the environment and component', () => {
    const labels = render('coderun', 'executors')[0].metadata.labels;
    expect(labels).toMatchObject({
      'app.kubernetes.io/name': 'coderun',
      'app.kubernetes.io/instance': 'coderun-prod',
      'app.kubernetes.io/component': 'executors',
      'app.kubernetes.io/part-of': 'coderun',
      'app.kubernetes.io/managed-by': 'cdk8s',
    });
  });

  it('accepts a 63-character name', () => {
    expect(render('a'.repeat(63))[0].metadata.name).toHaveLength(63);
  });

  it.each(['Coderun', 'code_run', '-coderun', 'coderun-', 'a'.repeat(64), '', 'code.run'])(
    'fails for the invalid name %j, naming it',
    (name) => {
      expect(() => render(name)).toThrow(`namespace name '${name}' must be a DNS-1123 label`);
    },
  );
});
