import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { App, Chart } from 'cdk8s';
import { loadEnvironment, type EnvironmentConfig } from '../../../apps/environment';
import { EntryPoint } from '../../../charts/oauth2-proxy/entry-point';
import { SchemaValidator } from '../../support/schema-validator';

/* eslint-disable @typescript-eslint/no-explicit-any */

const root = path.resolve(__dirname, '../../..');
const dev = loadEnvironment(root, 'dev');
const staging = loadEnvironment(root, 'staging');
const prod = loadEnvironment(root, 'prod');
const validator = new SchemaValidator({ kubernetesVersions: ['1.30', '1.33'] });

function render(env: EnvironmentConfig, serviceName = 'oauth2-proxy', servicePort = 80): any[] {
  const app = new App();
  const chart = new Chart(app, 'test', { disableResourceNameHashes: true });
  new EntryPoint(chart, 'entry', { platform: env, entrypoint: env.entrypoint, serviceName, servicePort });
  return chart.toJson() as any[];
}

function only(objs: any[], kind: string): any {
  expect(objs.map((o) => o.kind)).toEqual([kind]);
  return objs[0];
}

function withEntrypoint(env: EnvironmentConfig, patch: Partial<EnvironmentConfig['entrypoint']>): EnvironmentConfig {
  return { ...env, entrypoint: { ...env.entrypoint, ...patch } };
}

const gatewayEnv = withEntrypoint(
  { ...prod, hostname: 'coderun.gw.example.com' },
  {
    mode: 'gateway',
    className: undefined,
    issuer: undefined,
    gateway: { name: 'public', namespace: 'gateways', sectionName: 'https' },
    controllerNamespace: 'envoy-gateway-system',
    controllerPodLabels: { 'app.kubernetes.io/name': 'envoy' },
  },
);

describe('EntryPoint', () => {
  describe('ingress mode', () => {
    it.each([
      ['staging', staging, 'coderun.staging.example.com'],
      ['prod', prod, 'coderun.example.com'],
    ] as const)('%s: renders one Ingress for %s', (_n, env, host) => {
      const ing = only(render(env), 'Ingress');
      expect(ing.apiVersion).toBe('networking.k8s.io/v1');
      expect(ing.metadata.name).toBe('oauth2-proxy');
      expect(ing.metadata.namespace).toBe(env.namespaces.app);
      expect(ing.spec.ingressClassName).toBe('nginx');
      expect(ing.spec.tls).toEqual([{ hosts: [host], secretName: 'oauth2-proxy-tls' }]);
      expect(ing.spec.rules).toEqual([
        {
          host,
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: 'oauth2-proxy', port: { number: 80 } } },
              },
            ],
          },
        },
      ]);
      expect(validator.validate(ing, env.kubernetesVersion)).toEqual([]);
    });

    it('asks cert-manager for the certificate from the ClusterIssuer', () => {
      const ing = only(render(prod), 'Ingress');
      expect(ing.metadata.annotations).toEqual({ 'cert-manager.io/cluster-issuer': 'letsencrypt-prod' });
    });

    it('uses the namespaced issuer annotation for an Issuer', () => {
      const env = withEntrypoint(prod, { issuer: { kind: 'Issuer', name: 'local-ca' } });
      const ing = only(render(env), 'Ingress');
      expect(ing.metadata.annotations).toEqual({ 'cert-manager.io/issuer': 'local-ca' });
      expect(ing.metadata.annotations).not.toHaveProperty('cert-manager.io/cluster-issuer');
    });

    it('follows the class name, the hostname and the backend it is given', () => {
      const env = withEntrypoint({ ...staging, hostname: 'run.example.org' }, { className: 'traefik' });
      const ing = only(render(env, 'edge', 8080), 'Ingress');
      expect(ing.spec.ingressClassName).toBe('traefik');
      expect(ing.metadata.name).toBe('edge');
      expect(ing.spec.tls).toEqual([{ hosts: ['run.example.org'], secretName: 'edge-tls' }]);
      expect(ing.spec.rules[0].host).toBe('run.example.org');
      expect(ing.spec.rules[0].http.paths[0].backend).toEqual({ service: { name: 'edge', port: { number: 8080 } } });
    });

    it('carries the oauth2-proxy labels of the environment', () => {
      expect(only(render(prod), 'Ingress').metadata.labels).toEqual({
        'app.kubernetes.io/name': 'oauth2-proxy',
        'app.kubernetes.io/instance': 'coderun-prod',
        'app.kubernetes.io/component': 'auth-proxy',
        'app.kubernetes.io/part-of': 'coderun',
        'app.kubernetes.io/managed-by': 'cdk8s',
      });
    });

    it('fails without className, naming what is missing', () => {
      const env = withEntrypoint(prod, { className: undefined });
      expect(() => render(env)).toThrow(/mode ingress needs className and issuer .*"issuer":\{"kind":"ClusterIssuer"/);
      expect(() => render(env)).not.toThrow(/"className"/);
    });

    it('fails without issuer, naming what is missing', () => {
      const env = withEntrypoint(prod, { issuer: undefined });
      expect(() => render(env)).toThrow(/mode ingress needs className and issuer .*"className":"nginx"/);
    });
  });

  describe('gateway mode', () => {
    it('renders one HTTPRoute on the shared Gateway for the hostname, to the service', () => {
      const route = only(render(gatewayEnv), 'HTTPRoute');
      expect(route.apiVersion).toBe('gateway.networking.k8s.io/v1');
      expect(route.metadata.name).toBe('oauth2-proxy');
      expect(route.metadata.namespace).toBe('coderun');
      expect(route.metadata).not.toHaveProperty('annotations');
      expect(route.spec.parentRefs).toEqual([
        {
          group: 'gateway.networking.k8s.io',
          kind: 'Gateway',
          name: 'public',
          namespace: 'gateways',
          sectionName: 'https',
        },
      ]);
      expect(route.spec.hostnames).toEqual(['coderun.gw.example.com']);
      expect(route.spec.rules).toEqual([
        {
          matches: [{ path: { type: 'PathPrefix', value: '/' } }],
          backendRefs: [{ group: '', kind: 'Service', name: 'oauth2-proxy', port: 80, weight: 1 }],
        },
      ]);
      expect(validator.validate(route, '1.30')).toEqual([]);
    });

    it('leaves sectionName out when the gateway has none', () => {
      const env = withEntrypoint(gatewayEnv, { gateway: { name: 'shared', namespace: 'infra' } });
      const route = only(render(env, 'oauth2-proxy', 8080), 'HTTPRoute');
      expect(route.spec.parentRefs).toEqual([
        { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'shared', namespace: 'infra' },
      ]);
      expect(route.spec.rules[0].backendRefs[0].port).toBe(8080);
      expect(validator.validate(route, '1.30')).toEqual([]);
    });

    it('renders no Ingress even when className and issuer are still set', () => {
      const env = withEntrypoint(prod, { mode: 'gateway', gateway: { name: 'public', namespace: 'gateways' } });
      expect(render(env).map((o) => o.kind)).toEqual(['HTTPRoute']);
    });

    it('fails without a gateway', () => {
      const env = withEntrypoint(gatewayEnv, { gateway: undefined });
      expect(() => render(env)).toThrow('entrypoint: mode gateway needs gateway (name, namespace)');
    });
  });

  describe('port-forward mode', () => {
    it('dev: renders nothing', () => {
      expect(dev.entrypoint.mode).toBe('port-forward');
      expect(render(dev)).toEqual([]);
    });

    it('renders nothing even with ingress settings present', () => {
      expect(render(withEntrypoint(prod, { mode: 'port-forward' }))).toEqual([]);
    });
  });
});
