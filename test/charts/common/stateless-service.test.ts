import path from 'node:path';
import { describe, it, expect } from 'vitest';
import { App, Chart } from 'cdk8s';
import { loadEnvironment, type EnvironmentConfig } from '../../../apps/environment';
import type { ServiceConfig } from '../../../src/model/schema';
import { StatelessService } from '../../../charts/common/stateless-service';
import type { ServiceDefinition, ServicePlan } from '../../../charts/common/service-definition';
import { planPlatform } from '../../../apps/plans';
import { podSpecOf } from '../../../src/model/objects';
import { frontend } from '../../../charts/frontend/definition';
import { middleware } from '../../../charts/middleware/definition';
import { oauth2Proxy } from '../../../charts/oauth2-proxy/definition';
import { imageString } from '../../../src/model/schema';

/* eslint-disable @typescript-eslint/no-explicit-any */

const root = path.resolve(__dirname, '../../..');
const staging = loadEnvironment(root, 'staging');
const prod = loadEnvironment(root, 'prod');
const dev = loadEnvironment(root, 'dev');

/** Construct options the tests vary, beside the service's own plan. */
interface Extra {
  readonly namespace?: string;
  readonly priorityClassName?: string;
  readonly replicasManagedExternally?: boolean;
  readonly natsCaSecretName?: string;
}

/** The plan the platform makes for `definition` in `env` (its config replaced by `config` when given). */
function planFor(definition: ServiceDefinition, env: EnvironmentConfig, config?: ServiceConfig): ServicePlan {
  const name = definition.name as 'frontend' | 'middleware' | 'oauth2-proxy';
  const patched = config
    ? { ...env, services: { ...env.services, [name]: { ...env.services[name], ...config } } }
    : env;
  const plans = planPlatform(patched as EnvironmentConfig);
  return name === 'frontend' ? plans.frontend : name === 'middleware' ? plans.middleware : plans.oauth2Proxy;
}

function render(
  definition: ServiceDefinition,
  env: EnvironmentConfig,
  config?: ServiceConfig,
  extra: Extra = {},
): any[] {
  const app = new App();
  const chart = new Chart(app, 'test', { disableResourceNameHashes: true });
  const planned = planFor(definition, env, config);
  const plan: ServicePlan = {
    ...planned,
    ...(extra.replicasManagedExternally === undefined
      ? {}
      : { replicasManagedExternally: extra.replicasManagedExternally }),
    ...(extra.natsCaSecretName && planned.natsCa
      ? { natsCa: { ...planned.natsCa, secretName: extra.natsCaSecretName } }
      : {}),
  };
  new StatelessService(chart, 'svc', {
    definition,
    platform: env,
    plan,
    ...(extra.namespace ? { namespace: extra.namespace } : {}),
    ...(extra.priorityClassName ? { priorityClassName: extra.priorityClassName } : {}),
    ...(plan.canary ? { rolloutWave: 5 } : {}),
  });
  return chart.toJson() as any[];
}

function one(objs: any[], kind: string): any {
  const found = objs.filter((o) => o.kind === kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0];
}

function podSpec(objs: any[]): any {
  return podSpecOf(one(objs, 'Deployment'));
}

function container(objs: any[]): any {
  const containers = podSpec(objs).containers as any[];
  expect(containers).toHaveLength(1);
  return containers[0];
}

/** The environment with the frontend's config patched. */
function withFrontend(env: EnvironmentConfig, patch: Partial<ServiceConfig>): EnvironmentConfig {
  return { ...env, services: { ...env.services, frontend: { ...env.services.frontend, ...patch } } };
}

/** The frontend with a fixed count and a plain rolling update (no HPA, no canary). */
function withReplicas(env: EnvironmentConfig, replicas: number): EnvironmentConfig {
  return withFrontend(env, { replicas, autoscaling: undefined, canary: { enabled: false } });
}

describe('StatelessService', () => {
  describe('objects', () => {
    it('renders ServiceAccount, Deployment, Service and PodDisruptionBudget when replicas > 1', () => {
      // GIVEN staging's frontend with 2 fixed replicas
      const env = withReplicas(staging, 2);
      // WHEN
      const objs = render(frontend, env);
      // THEN
      expect(objs.map((o) => o.kind).sort()).toEqual([
        'Deployment',
        'PodDisruptionBudget',
        'Service',
        'ServiceAccount',
      ]);
      for (const o of objs) {
        expect(o.metadata.name).toBe('frontend');
        expect(o.metadata.namespace).toBe(staging.namespaces.app);
      }
      expect(one(objs, 'PodDisruptionBudget').spec.maxUnavailable).toBe(1);
    });

    it('renders no PodDisruptionBudget for a single replica, and never takes the only pod down during a rollout', () => {
      const objs = render(frontend, withReplicas(staging, 1));
      expect(objs.map((o) => o.kind).sort()).toEqual(['Deployment', 'Service', 'ServiceAccount']);
      const strategy = one(objs, 'Deployment').spec.strategy;
      expect(strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
    });

    it('allows one unavailable pod during a rollout when there are several replicas', () => {
      const objs = render(frontend, withReplicas(prod, 3));
      const dep = one(objs, 'Deployment');
      expect(dep.spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 1 });
    });

    it('sets replicas from the environment when nothing else owns them', () => {
      expect(one(render(frontend, withReplicas(staging, 7)), 'Deployment').spec.replicas).toBe(7);
    });

    it('leaves replicas out when they are managed externally (KEDA)', () => {
      const objs = render(middleware, staging, undefined, { replicasManagedExternally: true });
      expect(one(objs, 'Deployment').spec).not.toHaveProperty('replicas');
      expect(objs.some((o) => o.kind === 'HorizontalPodAutoscaler')).toBe(false);
    });

    it('exposes only ports that declare a servicePort, targeting them by name', () => {
      // oauth2-proxy: http (servicePort 80) and metrics (no servicePort)
      const svc = one(render(oauth2Proxy, staging), 'Service');
      expect(svc.spec.type).toBe('ClusterIP');
      expect(svc.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
    });

    it('renders no Service for a definition without service ports (middleware)', () => {
      const objs = render(middleware, staging);
      expect(objs.filter((o) => o.kind === 'Service')).toHaveLength(0);
      expect(objs.map((o) => o.kind)).toContain('Deployment');
    });

    it('uses the namespace override for every object', () => {
      const objs = render(frontend, staging, undefined, { namespace: 'elsewhere' });
      expect(new Set(objs.map((o) => o.metadata.namespace))).toEqual(new Set(['elsewhere']));
    });
  });

  describe('autoscaling', () => {
    it('renders an HPA from the environment (staging frontend: min 2, max 4, cpu 70%, memory 80%)', () => {
      const objs = render(frontend, withFrontend(staging, { canary: { enabled: false } }));
      expect(objs.map((o) => o.kind).sort()).toEqual([
        'Deployment',
        'HorizontalPodAutoscaler',
        'PodDisruptionBudget',
        'Service',
        'ServiceAccount',
      ]);
      const hpa = one(objs, 'HorizontalPodAutoscaler');
      expect(hpa.apiVersion).toBe('autoscaling/v2');
      expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'frontend' });
      expect(hpa.spec.minReplicas).toBe(staging.services.frontend.replicas);
      expect(hpa.spec.maxReplicas).toBe(4);
      const targets = (hpa.spec.metrics as any[]).map((m) => [m.resource.name, m.resource.target.averageUtilization]);
      expect(targets).toEqual([
        ['cpu', 70],
        ['memory', 80],
      ]);
    });

    it('scales on CPU only when no memory target is set (oauth2-proxy)', () => {
      const hpa = one(render(oauth2Proxy, staging), 'HorizontalPodAutoscaler');
      expect((hpa.spec.metrics as any[]).map((m) => m.resource.name)).toEqual(['cpu']);
      expect(hpa.spec.maxReplicas).toBe(3);
    });

    it('lets the HPA own the replica count: the Deployment has no replicas', () => {
      expect(one(render(frontend, staging), 'Deployment').spec).not.toHaveProperty('replicas');
    });

    it('scales down slowly, one pod at a time', () => {
      const scaleDown = one(render(frontend, prod), 'HorizontalPodAutoscaler').spec.behavior.scaleDown;
      expect(scaleDown.stabilizationWindowSeconds).toBeGreaterThanOrEqual(60);
      expect(scaleDown.policies).toEqual([{ type: 'Pods', value: 1, periodSeconds: 60 }]);
    });

    it('renders no HPA without autoscaling', () => {
      expect(render(frontend, withReplicas(staging, 2)).some((o) => o.kind === 'HorizontalPodAutoscaler')).toBe(false);
    });

    it.each([2, 1])('fails when autoscaling.maxReplicas (%s) is not above replicas (2), naming both', (maxReplicas) => {
      const env = withFrontend(staging, { replicas: 2, autoscaling: { maxReplicas, cpuUtilization: 70 } });
      expect(() => render(frontend, env)).toThrow(
        `frontend: autoscaling.maxReplicas (${maxReplicas}) must be larger than replicas (2)`,
      );
    });
  });

  describe('selectors and labels', () => {
    it.each([
      ['staging', staging],
      ['prod', prod],
    ])(
      'selects only its own pods in %s: selector ⊆ template labels, Service and PDB use the same selector',
      (_n, env) => {
        const objs = render(frontend, env);
        const dep = one(objs, 'Deployment');
        const selector = dep.spec.selector.matchLabels as Record<string, string>;
        const templateLabels = dep.spec.template.metadata.labels as Record<string, string>;
        expect(Object.keys(selector).length).toBeGreaterThan(0);
        for (const [k, v] of Object.entries(selector)) expect(templateLabels[k], k).toBe(v);
        expect(selector).toEqual({
          'app.kubernetes.io/name': 'frontend',
          'app.kubernetes.io/instance': `coderun-${env.name}`,
        });
        expect(one(objs, 'Service').spec.selector).toEqual(selector);
        expect(one(objs, 'PodDisruptionBudget').spec.selector.matchLabels).toEqual(selector);
      },
    );

    it('keeps the version out of the selector (selectors are immutable) but labels pods with it', () => {
      const dep = one(render(frontend, staging), 'Deployment');
      expect(dep.spec.selector.matchLabels).not.toHaveProperty('app.kubernetes.io/version');
      expect(dep.spec.template.metadata.labels['app.kubernetes.io/version']).toBe(staging.services.frontend.image.tag);
      expect(dep.spec.template.metadata.labels['app.kubernetes.io/component']).toBe('web');
    });

    it('renders a digest-only image as repo@digest without a version label', () => {
      const digest = `sha256:${'a'.repeat(64)}`;
      const config: ServiceConfig = { ...staging.services.frontend, image: { repository: 'docker.io/x/web', digest } };
      const objs = render(frontend, staging, config);
      expect(container(objs).image).toBe(`docker.io/x/web@${digest}`);
      expect(one(objs, 'Deployment').spec.template.metadata.labels).not.toHaveProperty('app.kubernetes.io/version');
    });

    it('pins the image from the environment', () => {
      expect(container(render(frontend, staging)).image).toBe(imageString(staging.services.frontend.image));
    });
  });

  describe('topology spread', () => {
    it('spreads over hostnames only, softly, where the cluster has no zones (staging)', () => {
      const tsc = podSpec(render(frontend, staging)).topologySpreadConstraints as any[];
      expect(tsc.map((c) => c.topologyKey)).toEqual(['kubernetes.io/hostname']);
      expect(tsc[0].whenUnsatisfiable).toBe('ScheduleAnyway');
    });

    it('spreads over hostnames and zones with DoNotSchedule in prod, per ReplicaSet', () => {
      const objs = render(frontend, withReplicas(prod, 3));
      const selector = one(objs, 'Deployment').spec.selector.matchLabels;
      const tsc = podSpec(objs).topologySpreadConstraints as any[];
      expect(tsc.map((c) => c.topologyKey).sort()).toEqual(['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
      for (const c of tsc) {
        expect(c.whenUnsatisfiable).toBe('DoNotSchedule');
        expect(c.maxSkew).toBe(1);
        expect(c.labelSelector.matchLabels).toEqual(selector);
        expect(c.matchLabelKeys).toEqual(['pod-template-hash']);
      }
    });

    it('uses spread.maxSkew from the environment', () => {
      const env = { ...prod, spread: { ...prod.spread, maxSkew: 3 } };
      const tsc = podSpec(render(frontend, env)).topologySpreadConstraints as any[];
      expect(tsc.map((c) => c.maxSkew)).toEqual([3, 3]);
    });
  });

  describe('resources', () => {
    it('uses the app default when the environment does not override (staging frontend)', () => {
      expect(staging.services.frontend.resources).toBeUndefined();
      expect(container(render(frontend, staging)).resources).toEqual({
        // ephemeral-storage: 64Mi of logs, next-cache 256Mi, tmp 64Mi.
        requests: { cpu: '100m', memory: '192Mi', 'ephemeral-storage': '384Mi' },
        limits: { cpu: '500m', memory: '384Mi', 'ephemeral-storage': '384Mi' },
      });
    });

    it('uses the environment override when present (prod frontend)', () => {
      expect(container(render(frontend, prod)).resources).toEqual({
        requests: { cpu: '250m', memory: '384Mi', 'ephemeral-storage': '384Mi' },
        limits: { cpu: '1', memory: '768Mi', 'ephemeral-storage': '384Mi' },
      });
    });
  });

  describe('security', () => {
    it.each([
      ['frontend', frontend, false],
      ['oauth2-proxy', oauth2Proxy, false],
      ['middleware', middleware, true],
    ] as const)('%s: mounts an API token only for the middleware', (_name, definition, token) => {
      const objs = render(definition, staging);
      expect(podSpec(objs).automountServiceAccountToken).toBe(token);
      // The ServiceAccount itself never automounts; the pod opts in.
      expect(one(objs, 'ServiceAccount').automountServiceAccountToken).toBe(false);
      expect(podSpec(objs).serviceAccountName).toBe(definition.name);
    });

    it.each([frontend, oauth2Proxy, middleware])(
      '$name runs restricted: non-root, read-only root, no privilege',
      (definition) => {
        const objs = render(definition, prod);
        const spec = podSpec(objs);
        expect(spec.securityContext).toMatchObject({
          runAsNonRoot: true,
          runAsUser: definition.runAsUser,
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(spec.enableServiceLinks).toBe(false);
        expect(container(objs).securityContext).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          privileged: false,
          capabilities: { drop: ['ALL'] },
        });
      },
    );

    it('gives every writable path a size-limited emptyDir mounted at that path (frontend)', () => {
      const objs = render(frontend, staging);
      const volumes = podSpec(objs).volumes as any[];
      expect(volumes).toEqual([
        { name: 'next-cache', emptyDir: { sizeLimit: '256Mi' } },
        { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
      ]);
      expect(container(objs).volumeMounts).toEqual([
        { name: 'next-cache', mountPath: '/app/.next/cache' },
        { name: 'tmp', mountPath: '/tmp' },
      ]);
    });

    it('renders no volumes for a service without writable paths (oauth2-proxy), even with NATS TLS', () => {
      expect(prod.services.nats.tls).toBeDefined();
      const objs = render(oauth2Proxy, prod);
      expect(podSpec(objs).volumes).toBeUndefined();
      expect(container(objs).volumeMounts).toBeUndefined();
    });

    it('trusts the NATS CA only where NATS TLS is on and the service uses NATS', () => {
      // prod: NATS TLS on
      const objs = render(frontend, prod);
      expect(podSpec(objs).volumes).toContainEqual({
        name: 'nats-ca',
        secret: { secretName: 'nats-tls', items: [{ key: 'ca.crt', path: 'ca.crt' }] },
      });
      expect(container(objs).volumeMounts).toContainEqual({
        name: 'nats-ca',
        mountPath: '/etc/nats-ca',
        readOnly: true,
      });
      expect(container(objs).env).toContainEqual({ name: 'NATS_CA_FILE', value: '/etc/nats-ca/ca.crt' });
      expect(container(objs).env).toContainEqual({
        name: 'NATS_URL',
        value: `tls://nats.${prod.namespaces.app}.svc.cluster.local:4222`,
      });
      // custom Secret name
      const custom = render(middleware, prod, undefined, { natsCaSecretName: 'my-ca' });
      expect((podSpec(custom).volumes as any[]).find((v) => v.name === 'nats-ca').secret.secretName).toBe('my-ca');
      // staging: NATS TLS off
      expect(staging.services.nats.tls).toBeUndefined();
      const plain = render(frontend, staging);
      expect((podSpec(plain).volumes as any[]).map((v) => v.name)).not.toContain('nats-ca');
      expect((container(plain).env as any[]).map((v) => v.name)).not.toContain('NATS_CA_FILE');
      expect(container(plain).env).toContainEqual({
        name: 'NATS_URL',
        value: `nats://nats.${staging.namespaces.app}.svc.cluster.local:4222`,
      });
    });

    it.each([
      ['frontend', frontend, 'frontend-nkey-seed'],
      ['middleware', middleware, 'middleware-nkey-seed'],
    ] as const)('%s: signs in to NATS with its own nkey, the seed from the NATS Secret', (name, def, key) => {
      const vars = container(render(def, staging)).env as any[];
      expect(vars).toContainEqual({ name: 'NATS_INBOX_PREFIX', value: `_INBOX_${name}` });
      const seed = vars.find((v) => v.name === 'NATS_NKEY_SEED');
      expect(seed).not.toHaveProperty('value');
      expect(seed.valueFrom.secretKeyRef).toEqual({ name: staging.secrets.nats, key });
      expect(vars.map((v) => v.name)).not.toContain('NATS_PASSWORD');
    });

    it('middleware: answers the auth callout with the issuer seed from the NATS Secret and the per-job scope', () => {
      const vars = container(render(middleware, staging)).env as any[];
      const seed = vars.find((v) => v.name === 'NATS_CALLOUT_ISSUER_SEED');
      expect(seed.valueFrom.secretKeyRef).toEqual({ name: staging.secrets.nats, key: 'callout-issuer-seed' });
      const scope = JSON.parse(vars.find((v) => v.name === 'NATS_EXECUTOR_SCOPE').value);
      expect(scope.publish).toContain('$KV.{user}.{job}');
      expect(scope.subscribe).toEqual(['_INBOX_executor.{job}.>']);
      expect(vars).toContainEqual({
        name: 'NATS_TICKET_SECONDS',
        value: String(staging.executors.deadlineSeconds + 60),
      });
    });

    it.each([frontend, middleware, oauth2Proxy])('$name: every secret-looking variable is a secretKeyRef', (def) => {
      for (const env of [dev, staging, prod]) {
        for (const v of (container(render(def, env)).env ?? []) as any[]) {
          if (/PASSWORD|SECRET|TOKEN|CLIENT_ID|KEY|SEED/.test(v.name)) {
            expect(v, v.name).not.toHaveProperty('value');
            expect(v.valueFrom?.secretKeyRef?.name, v.name).toBeTruthy();
          }
        }
      }
    });

    it('references oauth2-proxy credentials through secretKeyRef, never as literal values', () => {
      const env = { ...staging, secrets: { ...staging.secrets, oauth2Proxy: 'my-oauth-secret' } };
      const vars = container(render(oauth2Proxy, env)).env as any[];
      const secretVars = vars.filter((v) => /CLIENT_ID|CLIENT_SECRET|COOKIE_SECRET/.test(v.name));
      expect(secretVars.map((v) => v.name).sort()).toEqual([
        'OAUTH2_PROXY_CLIENT_ID',
        'OAUTH2_PROXY_CLIENT_SECRET',
        'OAUTH2_PROXY_COOKIE_SECRET',
      ]);
      for (const v of secretVars) {
        expect(v).not.toHaveProperty('value');
        expect(v.valueFrom.secretKeyRef.name).toBe('my-oauth-secret');
      }
      expect(secretVars.map((v) => v.valueFrom.secretKeyRef.key).sort()).toEqual([
        'client-id',
        'client-secret',
        'cookie-secret',
      ]);
      // No Secret object is rendered either.
      expect(render(oauth2Proxy, env).some((o) => o.kind === 'Secret')).toBe(false);
    });
  });

  describe('probes and arguments', () => {
    it('probes named, declared ports; startup probe only where defined', () => {
      const fe = container(render(frontend, staging));
      const declared = (fe.ports as any[]).map((p) => p.name);
      for (const probe of [fe.readinessProbe, fe.livenessProbe, fe.startupProbe]) {
        expect(declared).toContain(probe.httpGet.port);
      }
      expect(fe.startupProbe.httpGet.path).toBe('/api/health');
      expect(container(render(oauth2Proxy, staging)).startupProbe).toBeUndefined();
    });

    it('builds the OAuth redirect URL from the environment (https in staging, http with port in dev)', () => {
      const argsOf = (env: EnvironmentConfig) => container(render(oauth2Proxy, env)).args as string[];
      expect(argsOf(staging)).toContain('--redirect-url=https://coderun.staging.example.com/oauth2/callback');
      expect(argsOf(staging)).toContain('--cookie-secure=true');
      expect(argsOf(dev)).toContain('--redirect-url=http://localhost:8087/oauth2/callback');
      expect(argsOf(dev)).toContain('--cookie-secure=false');
    });

    it('trusts forwarded headers only from the configured proxy CIDRs', () => {
      const args = container(render(oauth2Proxy, staging)).args as string[];
      expect(args.filter((a) => a.startsWith('--trusted-proxy-ip='))).toEqual(['--trusted-proxy-ip=10.244.0.0/16']);
      const devArgs = container(render(oauth2Proxy, dev)).args as string[];
      expect(devArgs.some((a) => a.startsWith('--trusted-proxy-ip='))).toBe(false);
    });

    it('sets the priority class only when given', () => {
      expect(
        podSpec(render(frontend, staging, undefined, { priorityClassName: 'coderun-service' })).priorityClassName,
      ).toBe('coderun-service');
      expect(podSpec(render(frontend, staging))).not.toHaveProperty('priorityClassName');
    });

    it('omits args when the definition has none', () => {
      expect(container(render(frontend, staging)).args).toBeUndefined();
    });
  });

  describe('invalid input', () => {
    it.each([0, -1, 1.5])('fails for replicas %s, naming the value', (replicas) => {
      expect(() => render(frontend, withReplicas(staging, replicas))).toThrow(`frontend: replicas (${replicas})`);
    });

    it('fails when a probe uses an undeclared port, naming the port', () => {
      const broken: ServiceDefinition = {
        ...frontend,
        probes: { ...frontend.probes, readiness: { ...frontend.probes.readiness, port: 'nope' } },
      };
      expect(() => render(broken, staging, staging.services.frontend)).toThrow(
        /'nope'.*not one of the declared ports \(http\)/,
      );
    });

    it('fails for a root UID', () => {
      const root0: ServiceDefinition = { ...frontend, runAsUser: 0 };
      expect(() => render(root0, staging, staging.services.frontend)).toThrow(/runAsUser \(0\)/);
    });
  });
});
