/**
 * Conflicts between environments: each kind is refused, naming both files; the committed
 * environments have none.
 */
import { describe, expect, it } from 'vitest';
import { listEnvironments } from '../src/model/loader';
import { loadEnvironment, type EnvironmentConfig } from '../apps/environment';
import { environmentConflicts, type ConflictInput } from '../src/inspect/conflicts';
import type { Manifest } from '../src/model/objects';
import { ROOT } from './support/committed';

const staging = loadEnvironment(ROOT, 'staging');
/** A second environment that shares nothing with staging. */
const qa: EnvironmentConfig = {
  ...staging,
  name: 'no-such-env-x',
  sourceFile: 'environments/no-such-env-x.yaml',
  hostname: 'coderun.x.example.com',
  argocd: { ...staging.argocd, destination: { name: 'x' } },
  secrets: {
    ...staging.secrets,
    externalSecrets: {
      store: { kind: 'ClusterSecretStore', name: 'v' },
      refreshInterval: '1h',
      remoteKeys: { oauth2Proxy: 'x/oauth2-proxy', nats: 'x/nats' },
    },
  },
};
const pc = (name: string): Manifest => ({
  apiVersion: 'scheduling.k8s.io/v1',
  kind: 'PriorityClass',
  metadata: { name },
});
const text = (inputs: ConflictInput[]) =>
  environmentConflicts(inputs)
    .map((p) => `${p.file}: ${p.path}: ${p.message}`)
    .join('\n');

describe('conflicts between environments', () => {
  it('finds none among the committed environments', () => {
    expect(text(listEnvironments(ROOT).map((n) => ({ env: loadEnvironment(ROOT, n) })))).toBe('');
  });

  it('finds none between staging and an environment that shares nothing', () => {
    expect(
      text([
        { env: staging, objects: [pc('a')] },
        { env: qa, objects: [pc('a')] },
      ]),
    ).toBe('');
  });

  it('fails on one hostname, naming both files', () => {
    const out = text([{ env: staging }, { env: { ...qa, hostname: staging.hostname } }]);
    expect(out).toContain(
      `environments/no-such-env-x.yaml: hostname: '${staging.hostname}' is also the hostname of staging`,
    );
    expect(out).toContain('environments/staging.yaml: hostname: ');
  });

  it('fails on one namespace on one Argo CD destination, and not on different destinations', () => {
    const same = { ...qa, argocd: staging.argocd };
    expect(text([{ env: staging }, { env: same }])).toContain(
      "namespaces.app: 'coderun' on Argo CD destination name staging is also used by staging",
    );
    expect(text([{ env: staging }, { env: qa }])).toBe('');
  });

  it('fails on a same-named cluster-scoped object rendered for one cluster, but not for namespaced ones', () => {
    const same = { ...qa, argocd: staging.argocd, namespaces: { app: 'a2', executor: 'e2' } };
    const cm: Manifest = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c', namespace: 'coderun' } };
    expect(
      text([
        { env: staging, objects: [pc('p'), cm] },
        { env: same, objects: [pc('p'), cm] },
      ]),
    ).toContain('argocd.destination: cluster-scoped PriorityClass p is also rendered by staging');
    expect(
      text([
        { env: staging, objects: [pc('p'), cm] },
        { env: same, objects: [pc('q'), cm] },
      ]),
    ).toBe('');
  });

  it('fails on a shared External Secrets path', () => {
    const es = qa.secrets.externalSecrets;
    if (!es) throw new Error('fixture');
    const shared: EnvironmentConfig = {
      ...qa,
      secrets: {
        ...qa.secrets,
        externalSecrets: { ...es, remoteKeys: { ...es.remoteKeys, nats: 'coderun/staging/nats' } },
      },
    };
    expect(text([{ env: staging }, { env: shared }])).toContain(
      "secrets.externalSecrets.remoteKeys.nats: secret path 'coderun/staging/nats' is also staging's remoteKeys.nats",
    );
  });
});
