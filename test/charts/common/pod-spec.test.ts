import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { listEnvironments } from '../../../src/model/loader';
import { loadEnvironment, type EnvironmentConfig } from '../../../apps/environment';
import {
  CONTAINER_LOG_STORAGE,
  PART_OF,
  containerPorts,
  containerResources,
  ephemeralStorage,
  envVars,
  httpProbe,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
  selectorLabels,
  spreadConstraints,
  standardLabels,
  writableVolumes,
} from '../../../charts/common/pod-spec';
import type { PortDefinition } from '../../../charts/common/service-definition';
import * as k8s from '../../../imports/k8s';

const root = path.resolve(__dirname, '../../..');
const staging = loadEnvironment(root, 'staging');
const prod = loadEnvironment(root, 'prod');

/** The value as it appears in rendered JSON: Quantity and IntOrString become their plain values. */
function json(v: unknown): unknown {
  return JSON.parse(
    JSON.stringify(v, (_k, x: unknown) => (x instanceof k8s.Quantity || x instanceof k8s.IntOrString ? x.value : x)),
  ) as unknown;
}

const ports: PortDefinition[] = [
  { name: 'http', containerPort: 8080, servicePort: 80 },
  { name: 'metrics', containerPort: 9090 },
];

/** Label values: at most 63 characters, alphanumeric at both ends (Kubernetes validation). */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

describe('labels', () => {
  it('selectorLabels names the workload and the environment instance only', () => {
    expect(selectorLabels('frontend', staging)).toEqual({
      'app.kubernetes.io/name': 'frontend',
      'app.kubernetes.io/instance': `${PART_OF}-staging`,
    });
  });

  it('standardLabels extends the selector labels and adds the version from the image tag', () => {
    const labels = standardLabels('nats', 'messaging', prod, {
      repository: 'docker.io/library/nats',
      tag: '2.10.24-alpine',
    });
    expect(labels).toEqual({
      'app.kubernetes.io/name': 'nats',
      'app.kubernetes.io/instance': 'coderun-prod',
      'app.kubernetes.io/component': 'messaging',
      'app.kubernetes.io/part-of': 'coderun',
      'app.kubernetes.io/managed-by': 'cdk8s',
      'app.kubernetes.io/version': '2.10.24-alpine',
    });
    expect(labels).toMatchObject(selectorLabels('nats', prod));
  });

  it('standardLabels has no version without an image or with a digest-only image', () => {
    expect(standardLabels('x', 'y', prod)).not.toHaveProperty('app.kubernetes.io/version');
    expect(
      standardLabels('x', 'y', prod, { repository: 'r/x', digest: `sha256:${'f'.repeat(64)}` }),
    ).not.toHaveProperty('app.kubernetes.io/version');
  });

  it('every label value of the real environments is a valid Kubernetes label value', () => {
    for (const name of listEnvironments(root)) {
      const env = loadEnvironment(root, name);
      for (const svc of Object.values(env.services)) {
        for (const v of Object.values(standardLabels('svc', 'c', env, svc.image))) expect(v).toMatch(LABEL_VALUE);
      }
    }
  });

  // environments/schema.json allows tags of up to 128 characters that may end in '.', '-' or '_'
  // (and start with '_'); app.kubernetes.io/version must be <= 63 characters and alphanumeric at both ends,
  // so such a tag must not be copied into the label.
  it.each(['1.0.0-', '_build', 'v'.repeat(64)])(
    'never turns a schema-valid tag %j into an invalid version label',
    (tag) => {
      const labels = standardLabels('x', 'y', prod, { repository: 'docker.io/x/y', tag });
      expect(labels['app.kubernetes.io/version'] ?? '').toMatch(LABEL_VALUE);
      expect((labels['app.kubernetes.io/version'] ?? '').length).toBeLessThanOrEqual(63);
    },
  );
});

describe('security contexts', () => {
  it('restrictedPodSecurityContext runs as the UID and GID, non-root, with the runtime seccomp profile', () => {
    expect(json(restrictedPodSecurityContext(1001))).toEqual({
      runAsNonRoot: true,
      runAsUser: 1001,
      runAsGroup: 1001,
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it('restrictedPodSecurityContext sets fsGroup with OnRootMismatch only when given', () => {
    expect(restrictedPodSecurityContext(1000, 2000)).toMatchObject({
      fsGroup: 2000,
      fsGroupChangePolicy: 'OnRootMismatch',
    });
    expect(restrictedPodSecurityContext(1000)).not.toHaveProperty('fsGroup');
  });

  it.each([0, -1, 1.5, Number.NaN])('fails for the UID %s, naming it', (uid) => {
    expect(() => restrictedPodSecurityContext(uid)).toThrow(`runAsUser (${uid}) must be a positive UID`);
  });

  it('restrictedContainerSecurityContext drops everything and makes the root filesystem read-only', () => {
    expect(json(restrictedContainerSecurityContext())).toEqual({
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
  });
});

describe('containerResources', () => {
  it('renders requests and limits as the given quantities', () => {
    const r = { requests: { cpu: '250m', memory: '384Mi' }, limits: { cpu: '1', memory: '768Mi' } };
    const disk = { 'ephemeral-storage': CONTAINER_LOG_STORAGE };
    expect(json(containerResources(r))).toEqual({
      requests: { ...r.requests, ...disk },
      limits: { ...r.limits, ...disk },
    });
  });

  it('requests and limits ephemeral-storage alike: the logs allowance plus the emptyDirs written to', () => {
    const r = { requests: { cpu: '250m', memory: '384Mi' }, limits: { cpu: '1', memory: '768Mi' } };
    expect(ephemeralStorage()).toBe('64Mi');
    expect(ephemeralStorage(['256Mi', '64Mi'])).toBe('384Mi');
    expect(ephemeralStorage(['1Gi', '512Ki'])).toBe('1114624Ki');
    expect(json(containerResources(r, '384Mi'))).toEqual({
      requests: { ...r.requests, 'ephemeral-storage': '384Mi' },
      limits: { ...r.limits, 'ephemeral-storage': '384Mi' },
    });
  });
});

describe('httpProbe', () => {
  it('probes a declared port by name over HTTP, defaulting the timeout to 2s', () => {
    const probe = httpProbe({ path: '/healthz', port: 'http', periodSeconds: 10, failureThreshold: 3 }, ports, 'web');
    expect(json(probe)).toEqual({
      httpGet: { path: '/healthz', port: 'http', scheme: 'HTTP' },
      periodSeconds: 10,
      failureThreshold: 3,
      timeoutSeconds: 2,
      successThreshold: 1,
    });
  });

  it('keeps an explicit timeout', () => {
    const probe = httpProbe(
      { path: '/', port: 'metrics', periodSeconds: 5, failureThreshold: 1, timeoutSeconds: 7 },
      ports,
      'w',
    );
    expect(probe.timeoutSeconds).toBe(7);
  });

  it('fails for an undeclared port, naming the owner, the port and the declared ports', () => {
    expect(() => httpProbe({ path: '/x', port: 'admin', periodSeconds: 1, failureThreshold: 1 }, ports, 'web')).toThrow(
      "web: probe /x uses port 'admin', which is not one of the declared ports (http, metrics)",
    );
  });
});

describe('containerPorts', () => {
  it('renders named TCP ports', () => {
    expect(containerPorts(ports, 'web')).toEqual([
      { name: 'http', containerPort: 8080, protocol: 'TCP' },
      { name: 'metrics', containerPort: 9090, protocol: 'TCP' },
    ]);
  });

  it('accepts a 15-character name', () => {
    expect(containerPorts([{ name: 'a'.repeat(15), containerPort: 1 }], 'web')).toHaveLength(1);
  });

  it.each(['HTTP', 'a'.repeat(16), '8080', '-http', 'http-', 'my_port', ''])(
    'fails for the port name %j, naming it',
    (name) => {
      expect(() => containerPorts([{ name, containerPort: 80 }], 'web')).toThrow(
        `web: port name '${name}' must be an IANA service name`,
      );
    },
  );

  it('fails for a duplicated port name', () => {
    expect(() =>
      containerPorts(
        [
          { name: 'http', containerPort: 80 },
          { name: 'http', containerPort: 81 },
        ],
        'web',
      ),
    ).toThrow("web: port name 'http' is declared twice");
  });
});

describe('envVars', () => {
  it('renders literals as values and secret keys as secretKeyRef without a value', () => {
    const vars = envVars([
      { name: 'PLAIN', value: 'x' },
      { name: 'TOKEN', secretName: 'creds', secretKey: 'token' },
    ]);
    expect(vars).toEqual([
      { name: 'PLAIN', value: 'x' },
      { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } },
    ]);
    expect(vars[1]).not.toHaveProperty('value');
  });
});

describe('writableVolumes', () => {
  it('gives each path a size-limited emptyDir and a mount with the same name', () => {
    const { volumes, mounts } = writableVolumes([
      { name: 'cache', mountPath: '/cache', sizeLimit: '128Mi' },
      { name: 'tmp', mountPath: '/tmp', sizeLimit: '16Mi' },
    ]);
    expect(json(volumes)).toEqual([
      { name: 'cache', emptyDir: { sizeLimit: '128Mi' } },
      { name: 'tmp', emptyDir: { sizeLimit: '16Mi' } },
    ]);
    expect(mounts).toEqual([
      { name: 'cache', mountPath: '/cache' },
      { name: 'tmp', mountPath: '/tmp' },
    ]);
  });

  it('renders nothing for no paths', () => {
    expect(writableVolumes([])).toEqual({ volumes: [], mounts: [] });
  });
});

describe('spreadConstraints', () => {
  const selector = { 'app.kubernetes.io/name': 'web' };

  it('spreads over hostnames only when the cluster has no zones', () => {
    const tsc = spreadConstraints(staging, selector);
    expect(json(tsc)).toEqual([
      {
        maxSkew: 1,
        topologyKey: 'kubernetes.io/hostname',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: selector },
      },
    ]);
  });

  it('adds the zone key when the cluster has zones, with the environment policy', () => {
    const tsc = spreadConstraints(prod, selector);
    expect(tsc.map((c) => c.topologyKey)).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
    for (const c of tsc) {
      expect(c.whenUnsatisfiable).toBe('DoNotSchedule');
      expect(c).not.toHaveProperty('matchLabelKeys');
    }
  });

  it('uses maxSkew and a single zone from a derived environment', () => {
    const env: EnvironmentConfig = {
      ...staging,
      cluster: { ...staging.cluster, zones: ['z1'] },
      spread: { whenUnsatisfiable: 'DoNotSchedule', maxSkew: 2 },
    };
    const tsc = spreadConstraints(env, selector);
    expect(tsc).toHaveLength(2);
    expect(tsc.map((c) => c.maxSkew)).toEqual([2, 2]);
  });

  it('adds matchLabelKeys when given, and copies the selector', () => {
    const sel = { a: 'b' };
    const tsc = spreadConstraints(prod, sel, ['pod-template-hash']);
    for (const c of tsc) expect(c.matchLabelKeys).toEqual(['pod-template-hash']);
    sel.a = 'changed';
    expect(tsc[0]?.labelSelector?.matchLabels).toEqual({ a: 'b' });
  });
});
