import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { App, Chart } from 'cdk8s';
import { loadEnvironment, type EnvironmentConfig } from '../../../apps/environment';
import { MiddlewareScaler } from '../../../charts/middleware/middleware-scaler';
import { buildPlatform } from '../../../apps/platform';
import { SchemaValidator } from '../../support/schema-validator';

/* eslint-disable @typescript-eslint/no-explicit-any */

const root = path.resolve(__dirname, '../../..');
const dev = loadEnvironment(root, 'dev');
const staging = loadEnvironment(root, 'staging');
const prod = loadEnvironment(root, 'prod');
const validator = new SchemaValidator({ kubernetesVersions: ['1.30'] });

const ENDPOINT = 'nats-headless.coderun.svc.cluster.local:8222';
type Keda = NonNullable<EnvironmentConfig['services']['middleware']['keda']>;
const keda: Keda = { maxReplicas: 8, lagThreshold: 25, stream: 'jobs', consumer: 'middleware' };

function withKeda(env: EnvironmentConfig, patch: Partial<Keda> = {}, replicas?: number): EnvironmentConfig {
  const mw = env.services.middleware;
  return {
    ...env,
    services: {
      ...env.services,
      middleware: { ...mw, replicas: replicas ?? mw.replicas, keda: { ...keda, ...patch } },
    },
  };
}

function render(env: EnvironmentConfig, deploymentName = 'middleware', endpoint = ENDPOINT): any[] {
  const app = new App();
  const chart = new Chart(app, 'test', { disableResourceNameHashes: true });
  new MiddlewareScaler(chart, 'scaler', {
    platform: env,
    config: env.services.middleware,
    deploymentName,
    natsMonitoringEndpoint: endpoint,
  });
  return chart.toJson() as any[];
}

function scaledObject(env: EnvironmentConfig): any {
  const objs = render(env);
  expect(objs.map((o) => o.kind)).toEqual(['ScaledObject']);
  return objs[0];
}

/** All objects buildPlatform renders for an environment. */
function platform(env: EnvironmentConfig): any[] {
  return buildPlatform(env).charts.flatMap((c) => c.toJson() as any[]);
}

function middlewareDeployment(env: EnvironmentConfig): any {
  const found = platform(env).filter((o) => o.kind === 'Deployment' && o.metadata.name === 'middleware');
  expect(found).toHaveLength(1);
  return found[0];
}

describe('MiddlewareScaler', () => {
  it.each([
    ['dev', dev],
    ['staging', staging],
    ['prod', prod],
  ] as const)('%s (no keda): renders nothing', (_n, env) => {
    expect(env.services.middleware.keda).toBeUndefined();
    expect(render(env)).toEqual([]);
  });

  it('with keda: renders a valid KEDA ScaledObject for the middleware Deployment', () => {
    const so = scaledObject(withKeda(prod));
    expect(so.apiVersion).toBe('keda.sh/v1alpha1');
    expect(so.metadata.name).toBe('middleware');
    expect(so.metadata.namespace).toBe('coderun');
    expect(so.metadata.labels['app.kubernetes.io/component']).toBe('job-dispatcher');
    expect(so.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'middleware' });
    expect(validator.validate(so, '1.30')).toEqual([]);
  });

  it('scales between replicas and keda.maxReplicas', () => {
    expect(prod.services.middleware.replicas).toBe(3);
    const so = scaledObject(withKeda(prod));
    expect(so.spec.minReplicaCount).toBe(3);
    expect(so.spec.maxReplicaCount).toBe(8);
    const other = scaledObject(withKeda(staging, { maxReplicas: 5 }, 1));
    expect(other.spec.minReplicaCount).toBe(1);
    expect(other.spec.maxReplicaCount).toBe(5);
  });

  it('triggers on JetStream consumer lag from the NATS monitoring endpoint', () => {
    const so = scaledObject(withKeda(prod));
    expect(so.spec.triggers).toEqual([
      {
        type: 'nats-jetstream',
        metadata: {
          natsServerMonitoringEndpoint: ENDPOINT,
          account: '$G',
          stream: 'jobs',
          consumer: 'middleware',
          lagThreshold: '25',
        },
      },
    ]);
    expect(typeof so.spec.triggers[0].metadata.lagThreshold).toBe('string');
  });

  it('uses the stream, consumer, threshold, endpoint and Deployment name it is given', () => {
    const env = withKeda(prod, { stream: 'cola', consumer: 'dispatch', lagThreshold: 3 });
    const objs = render(env, 'dispatcher', 'nats.example:8222');
    const so = objs[0];
    expect(so.metadata.name).toBe('dispatcher');
    expect(so.spec.scaleTargetRef.name).toBe('dispatcher');
    expect(so.spec.triggers[0].metadata).toMatchObject({
      natsServerMonitoringEndpoint: 'nats.example:8222',
      stream: 'cola',
      consumer: 'dispatch',
      lagThreshold: '3',
    });
  });

  it.each([
    [3, 3],
    [2, 3],
  ])('fails when maxReplicas (%i) is not above replicas (%i), naming both', (max, replicas) => {
    expect(() => render(withKeda(prod, { maxReplicas: max }, replicas))).toThrow(
      `services.middleware.keda.maxReplicas (${max}) must be larger than replicas (${replicas})`,
    );
  });

  describe('in the platform', () => {
    it('without keda: the middleware Deployment keeps its replicas and no ScaledObject exists', () => {
      const objs = platform(prod);
      expect(objs.filter((o) => o.kind === 'ScaledObject')).toEqual([]);
      expect(middlewareDeployment(prod).spec.replicas).toBe(3);
    });

    it('with keda: the Deployment leaves spec.replicas to KEDA', () => {
      const env = withKeda(prod);
      expect(middlewareDeployment(env).spec).not.toHaveProperty('replicas');
    });

    it('with keda: the ScaledObject targets the Deployment and polls the headless NATS Service', () => {
      const env = withKeda(prod);
      const objs = platform(env);
      const scaled = objs.filter((o) => o.kind === 'ScaledObject');
      expect(scaled).toHaveLength(1);
      const so = scaled[0];
      expect(so.spec.scaleTargetRef.name).toBe(middlewareDeployment(env).metadata.name);
      const endpoint: string = so.spec.triggers[0].metadata.natsServerMonitoringEndpoint;
      const [host, port] = endpoint.split(':');
      expect(port).toBe('8222');
      const headless = objs.filter(
        (o) => o.kind === 'Service' && `${o.metadata.name}.${o.metadata.namespace}.svc.cluster.local` === host,
      );
      expect(headless, host).toHaveLength(1);
      expect(headless[0].spec.clusterIP).toBe('None');
      expect(validator.validate(so, '1.30')).toEqual([]);
    });

    it('with keda: other Deployments keep their replicas', () => {
      const objs = platform(withKeda(dev));
      const frontend = objs.find((o) => o.kind === 'Deployment' && o.metadata.name === 'frontend');
      expect(frontend.spec.replicas).toBe(1);
    });
  });
});
