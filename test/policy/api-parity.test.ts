/* eslint-disable @typescript-eslint/no-explicit-any -- tests break manifests on purpose */
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/model/objects';
import { natsCredentialKeys } from '../../charts/nats/plan';
import { check, committed, container, pick, pod, withGateway, withReplaced } from './fixtures';
import {
  autoscalersRule,
  isIanaSvcName,
  labelKeyProblem,
  pdbValidRule,
  portsAndNamesRule,
  probePortsRule,
  probeTimingRule,
  providedByCluster,
  referencesRule,
  uniqueIdentityRule,
  validNamesRule,
  workloadSelectorsRule,
} from '../../src/policy/rules';

describe('rule valid-names', () => {
  it('accepts the committed objects', () => {
    expect(check(validNamesRule, committed('prod').objects)).toBe('');
  });

  it('fails on a Service name that is not a DNS-1035 label', () => {
    const s: any = pick('prod', 'Service', 'frontend');
    s.metadata.name = '1frontend';
    expect(check(validNamesRule, [s])).toContain("name '1frontend' is not a DNS-1035 label");
  });

  it('fails on an object name that is not a DNS-1123 subdomain', () => {
    const d: any = pick('prod', 'Deployment', 'frontend');
    d.metadata.name = 'Frontend_v2';
    expect(check(validNamesRule, [d])).toContain("name 'Frontend_v2' is not a DNS-1123 subdomain");
  });

  it('fails on invalid label keys and values, in metadata and in selectors', () => {
    const d: any = pick('prod', 'Deployment', 'frontend');
    d.metadata.labels['example.com/team/web'] = 'x';
    d.spec.template.metadata.labels['app.kubernetes.io/version'] = '1.0.0+build';
    d.spec.selector.matchLabels['-bad'] = 'x';
    d.metadata.labels.owner = 'a'.repeat(64);
    const out = check(validNamesRule, [d]);
    expect(out).toContain(`metadata.labels key 'example.com/team/web' has more than one "/"`);
    expect(out).toContain(
      "spec.template.metadata.labels value '1.0.0+build' of app.kubernetes.io/version has characters",
    );
    expect(out).toContain("spec.selector.matchLabels key '-bad' has a name part");
    expect(out).toContain('of owner is longer than 63 characters');
  });

  it('knows label key syntax', () => {
    expect(labelKeyProblem('app.kubernetes.io/name')).toBeUndefined();
    expect(labelKeyProblem('Example.com/x')).toContain('prefix');
    expect(labelKeyProblem(`x/${'a'.repeat(64)}`)).toContain('longer than 63');
  });
});

describe('rule unique-identity', () => {
  it('fails when an object is rendered twice', () => {
    const cm = pick('prod', 'ConfigMap', 'nats-config');
    expect(check(uniqueIdentityRule, [...committed('prod').objects, cm])).toContain(
      'ConfigMap coderun/nats-config: is rendered more than once (core/ConfigMap coderun/nats-config)',
    );
  });

  it('tells kinds of different groups and namespaces apart', () => {
    const a: any = pick('prod', 'NetworkPolicy', 'frontend');
    const b: any = structuredClone(a);
    b.metadata.namespace = 'coderun-executors';
    const c: any = structuredClone(a);
    c.apiVersion = 'crd.projectcalico.org/v1';
    expect(check(uniqueIdentityRule, [a, b, c])).toBe('');
  });
});

describe('rule workload-selectors', () => {
  it('fails when the selector does not match the template', () => {
    const d: any = pick('prod', 'Deployment', 'middleware');
    d.spec.selector.matchLabels['app.kubernetes.io/name'] = 'dispatcher';
    expect(check(workloadSelectorsRule, [d])).toContain('spec.selector does not match the pod template labels');
  });

  it('evaluates matchExpressions', () => {
    const d: any = pick('prod', 'Deployment', 'middleware');
    d.spec.selector.matchExpressions = [
      { key: 'app.kubernetes.io/component', operator: 'NotIn', values: ['job-dispatcher'] },
    ];
    expect(check(workloadSelectorsRule, [d])).toContain('does not match');
  });

  it("fails when a controller's selector also matches another workload's pods", () => {
    const d: any = pick('prod', 'Deployment', 'middleware');
    d.spec.selector = { matchLabels: { 'app.kubernetes.io/instance': 'coderun-prod' } };
    const out = check(workloadSelectorsRule, withReplaced('prod', d));
    expect(out).toContain(
      'Deployment coderun/middleware: spec.selector also matches the pods of Deployment frontend; the controllers would fight over them',
    );
    expect(out).toContain('also matches the pods of StatefulSet nats');
    expect(out).not.toContain('PodTemplate'); // the executors live in another namespace
  });

  it("fails when the StatefulSet's serviceName is missing or not headless", () => {
    const sts: any = pick('prod', 'StatefulSet', 'nats');
    sts.spec.serviceName = 'nats';
    expect(check(workloadSelectorsRule, withReplaced('prod', sts))).toContain(
      'serviceName nats is not headless (clusterIP: None)',
    );
    sts.spec.serviceName = 'nats-routes';
    expect(check(workloadSelectorsRule, withReplaced('prod', sts))).toContain(
      'serviceName nats-routes is not a rendered Service in coderun',
    );
  });
});

describe('rule ports-and-names', () => {
  it('knows IANA service names', () => {
    for (const ok of ['http', 'metrics', 'h2c', 'nats-client']) expect(isIanaSvcName(ok)).toBe(true);
    for (const bad of ['HTTP', '8080', 'a--b', '-http', 'http-', 'a-very-long-port-name'])
      expect(isIanaSvcName(bad)).toBe(false);
  });

  it('fails on invalid and duplicate port names', () => {
    const sts: any = pick('prod', 'StatefulSet', 'nats');
    container(sts).ports[1].name = 'cluster_routes';
    container(sts).ports[2].name = 'client';
    const out = check(portsAndNamesRule, [sts]);
    expect(out).toContain("container nats port name 'cluster_routes' is not an IANA service name");
    expect(out).toContain('container nats declares port name client twice');
  });

  it('fails on duplicate container names and env vars', () => {
    const sts: any = pick('prod', 'StatefulSet', 'nats');
    pod(sts).containers[1].name = 'nats';
    container(sts).env.push({ name: 'GOMEMLIMIT', value: '1GiB' });
    const out = check(portsAndNamesRule, [sts]);
    expect(out).toContain('container name nats is used twice in the pod');
    expect(out).toContain('container nats sets env GOMEMLIMIT twice');
  });

  it('fails on an unnamed port of a multi-port Service', () => {
    const s: any = pick('prod', 'Service', 'nats-headless');
    delete s.spec.ports[2].name;
    expect(check(portsAndNamesRule, [s])).toContain('ports[2] has no name, but the Service has several');
  });
});

describe('rule pdb-valid', () => {
  it('fails with both or neither of minAvailable and maxUnavailable', () => {
    const p: any = pick('prod', 'PodDisruptionBudget', 'frontend');
    p.spec.minAvailable = 1;
    expect(check(pdbValidRule, withReplaced('prod', p))).toContain('exactly one of minAvailable and maxUnavailable');
    delete p.spec.minAvailable;
    delete p.spec.maxUnavailable;
    expect(check(pdbValidRule, withReplaced('prod', p))).toContain('exactly one of minAvailable and maxUnavailable');
  });

  it('fails when the budget allows no disruption at the HPA minimum', () => {
    const p: any = pick('prod', 'PodDisruptionBudget', 'frontend');
    delete p.spec.maxUnavailable;
    p.spec.minAvailable = 3; // the HPA's minReplicas
    expect(check(pdbValidRule, withReplaced('prod', p))).toContain(
      'allows 0 disruptions at 3 replica(s) (frontend); drains would block',
    );
    p.spec.minAvailable = '67%'; // rounds up to 3 of 3
    expect(check(pdbValidRule, withReplaced('prod', p))).toContain('allows 0 disruptions');
    p.spec.minAvailable = '50%';
    expect(check(pdbValidRule, withReplaced('prod', p))).toBe('');
  });

  it('fails on maxUnavailable 0 and on a budget that selects nothing', () => {
    const p: any = pick('prod', 'PodDisruptionBudget', 'nats');
    p.spec.maxUnavailable = 0;
    expect(check(pdbValidRule, withReplaced('prod', p))).toContain('allows 0 disruptions at 3 replica(s) (nats)');
    p.spec.maxUnavailable = 1;
    p.spec.selector.matchLabels['app.kubernetes.io/name'] = 'jetstream';
    expect(check(pdbValidRule, withReplaced('prod', p))).toContain('selects the pods of no rendered workload');
  });
});

describe('rule autoscalers', () => {
  it('fails when min exceeds max', () => {
    const h: any = pick('prod', 'HorizontalPodAutoscaler', 'frontend');
    h.spec.minReplicas = 10;
    expect(check(autoscalersRule, withReplaced('prod', h))).toContain('min replicas 10 is more than max 9');
  });

  it('fails when the target is missing', () => {
    const h: any = pick('prod', 'HorizontalPodAutoscaler', 'frontend');
    h.spec.scaleTargetRef.name = 'web';
    expect(check(autoscalersRule, withReplaced('prod', h))).toContain(
      'scaleTargetRef Rollout coderun/web is not rendered',
    );
  });

  // A Rollout that an HPA scales, and a Deployment an HPA is pointed at, each with spec.replicas set.
  it.each([
    ['Rollout', 'frontend', (r: any) => withReplaced('prod', { ...r, spec: { ...r.spec, replicas: 3 } })],
    [
      'Deployment',
      'middleware',
      () => {
        const h: any = pick('prod', 'HorizontalPodAutoscaler', 'frontend');
        h.spec.scaleTargetRef = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'middleware' };
        return withReplaced('prod', h);
      },
    ],
  ] as const)('fails when the target %s %s also sets replicas', (kind, name, objects) => {
    expect(check(autoscalersRule, objects(pick('prod', kind, name)))).toContain(
      `target ${kind} ${name} sets spec.replicas; leave it out when an autoscaler owns the count`,
    );
  });

  it('fails when the target has no scale subresource', () => {
    const h: any = pick('prod', 'HorizontalPodAutoscaler', 'frontend');
    h.spec.scaleTargetRef = { apiVersion: 'v1', kind: 'ConfigMap', name: 'nats-config' };
    expect(check(autoscalersRule, withReplaced('prod', h))).toContain(
      'HorizontalPodAutoscaler coderun/frontend: scaleTargetRef ConfigMap nats-config has no scale subresource',
    );
  });

  it('fails on a ContainerResource metric for a container the target does not have', () => {
    const h: any = pick('prod', 'HorizontalPodAutoscaler', 'frontend');
    h.spec.metrics.push({
      type: 'ContainerResource',
      containerResource: { name: 'cpu', container: 'web', target: { type: 'Utilization', averageUtilization: 70 } },
    });
    expect(check(autoscalersRule, withReplaced('prod', h))).toContain(
      'metrics[2] reads container web, which Rollout frontend does not have (frontend)',
    );
    h.spec.metrics[2].containerResource.container = 'frontend';
    expect(check(autoscalersRule, withReplaced('prod', h))).toBe('');
  });

  it('fails on a KEDA trigger authentication that is not rendered', () => {
    const d: any = pick('prod', 'Deployment', 'middleware');
    delete d.spec.replicas;
    const scaled: Manifest = {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: 'middleware', namespace: 'coderun' },
      spec: {
        scaleTargetRef: { name: 'middleware' },
        minReplicaCount: 3,
        maxReplicaCount: 6,
        triggers: [{ type: 'nats-jetstream', authenticationRef: { name: 'nats-monitor' } }],
      },
    };
    expect(check(autoscalersRule, [...withReplaced('prod', d), scaled])).toContain(
      'ScaledObject coderun/middleware: triggers[0] authenticationRef TriggerAuthentication coderun/nats-monitor is not rendered',
    );
    const auth: Manifest = {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'TriggerAuthentication',
      metadata: { name: 'nats-monitor', namespace: 'coderun' },
    };
    expect(check(autoscalersRule, [...withReplaced('prod', d), scaled, auth])).toBe('');
  });

  it('counts a KEDA ScaledObject as an autoscaler', () => {
    const scaled: Manifest = {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: 'middleware', namespace: 'coderun' },
      spec: { scaleTargetRef: { name: 'middleware' }, minReplicaCount: 3, maxReplicaCount: 6 },
    };
    expect(check(autoscalersRule, [...committed('prod').objects, scaled])).toContain(
      'target Deployment middleware sets spec.replicas',
    );
  });
});

describe('rule probe-ports', () => {
  it('fails on a probe port the container does not declare', () => {
    const d: any = pick('prod', 'Deployment', 'oauth2-proxy');
    container(d).readinessProbe.httpGet.port = 'web';
    container(d).livenessProbe.httpGet.port = 8080;
    const out = check(probePortsRule, [d]);
    expect(out).toContain('container oauth2-proxy readinessProbe uses port web, which the container does not declare');
    expect(out).toContain('livenessProbe uses port 8080');
  });

  it('accepts a declared port number', () => {
    const d: any = pick('prod', 'Deployment', 'oauth2-proxy');
    container(d).livenessProbe.httpGet.port = 4180;
    expect(check(probePortsRule, [d])).toBe('');
  });

  it('checks probes of sidecars: the port must be on the same container', () => {
    const sts: any = pick('prod', 'StatefulSet', 'nats');
    pod(sts).containers[1].readinessProbe.httpGet.port = 'monitor';
    expect(check(probePortsRule, [sts])).toContain('container metrics readinessProbe uses port monitor');
  });
});

describe('rule probe-timing', () => {
  it('passes on the committed frontend (liveness 60s, readiness 30s, different timeouts)', () => {
    expect(check(probeTimingRule, [pick('prod', 'Deployment', 'frontend')])).toBe('');
  });

  it('fails when liveness is identical to readiness', () => {
    const d: any = pick('prod', 'Deployment', 'middleware');
    container(d).livenessProbe = structuredClone(container(d).readinessProbe);
    expect(check(probeTimingRule, [d])).toContain(
      'container middleware livenessProbe is identical to its readinessProbe (same handler and thresholds)',
    );
  });

  it('fails when liveness gives up before readiness (defaults applied)', () => {
    const d: any = pick('prod', 'Deployment', 'middleware');
    container(d).livenessProbe.periodSeconds = 5;
    delete container(d).livenessProbe.failureThreshold; // default 3: 15s against readiness 30s
    expect(check(probeTimingRule, [d])).toContain(
      'livenessProbe gives up after 15s, before readinessProbe (30s): liveness must not be stricter',
    );
  });
});

describe('rule references', () => {
  it('fails on a missing ConfigMap, Secret, ServiceAccount and PriorityClass', () => {
    const sts: any = pick('staging', 'StatefulSet', 'nats');
    pod(sts).volumes[0].configMap.name = 'nats-conf';
    container(sts).env.find((e: any) => e.valueFrom?.secretKeyRef).valueFrom.secretKeyRef.name = 'nats-creds';
    pod(sts).serviceAccountName = 'nats-server';
    pod(sts).priorityClassName = 'coderun-critical';
    const out = check(referencesRule, withReplaced('staging', sts), 'staging');
    expect(out).toContain('volume config reads ConfigMap coderun/nats-conf, which is neither rendered nor provided');
    expect(out).toContain('env NATS_FRONTEND_NKEY reads Secret coderun/nats-creds');
    expect(out).toContain('runs as ServiceAccount coderun/nats-server, which is not rendered');
    expect(out).toContain('uses PriorityClass coderun-critical, which is not rendered');
  });

  it('fails when the ExternalSecret that provides a Secret is gone', () => {
    const objects = committed('staging').objects.filter(
      (o) => !(o.kind === 'ExternalSecret' && o.metadata.name === 'oauth2-proxy-credentials'),
    );
    expect(check(referencesRule, objects, 'staging')).toContain(
      'reads Secret coderun/oauth2-proxy-credentials, which is neither rendered nor provided by the cluster',
    );
  });

  it('fails when a Secret is read in the wrong namespace', () => {
    const t: any = pick('prod', 'PodTemplate', 'executor-go');
    t.template.spec.volumes.find((v: any) => v.name === 'nats-ca').secret.secretName = 'nats-credentials';
    expect(check(referencesRule, withReplaced('prod', t), 'prod')).toContain(
      'reads Secret coderun-executors/nats-credentials',
    );
  });

  it('fails when a cert-manager Secret is read without its Certificate', () => {
    const objects = committed('prod').objects.filter((o) => o.kind !== 'Certificate');
    const out = check(referencesRule, objects);
    expect(out).toContain('volume nats-ca reads Secret coderun/nats-tls');
    expect(out).toContain('volume nats-ca reads Secret coderun-executors/nats-ca');
  });

  it('fails on a volumeMount or volumeDevice without its volume', () => {
    const d: any = pick('prod', 'Deployment', 'frontend');
    pod(d).volumes = pod(d).volumes.filter((v: any) => v.name !== 'nats-ca');
    container(d).volumeDevices = [{ name: 'scratch', devicePath: '/dev/xvdb' }];
    const out = check(referencesRule, withReplaced('prod', d));
    expect(out).toContain(
      'Deployment coderun/frontend: container frontend volumeMounts nats-ca (/etc/nats-ca) names no volume of the pod',
    );
    expect(out).toContain('container frontend volumeDevices scratch (/dev/xvdb) names no volume of the pod');
  });

  it("accepts a StatefulSet's mount of a volumeClaimTemplate, and fails when the template is gone", () => {
    const sts: any = pick('prod', 'StatefulSet', 'nats');
    expect(container(sts).volumeMounts.map((m: any) => m.name)).toContain('data');
    expect(check(referencesRule, withReplaced('prod', sts))).toBe('');
    sts.spec.volumeClaimTemplates[0].metadata.name = 'jetstream';
    expect(check(referencesRule, withReplaced('prod', sts))).toContain(
      'StatefulSet coderun/nats: container nats volumeMounts data (/data) names no volume of the pod nor a volumeClaimTemplate',
    );
  });

  it('fails on a PersistentVolumeClaim that is not rendered', () => {
    const d: any = pick('prod', 'Deployment', 'frontend');
    pod(d).volumes.push({ name: 'cache', persistentVolumeClaim: { claimName: 'frontend-cache' } });
    expect(check(referencesRule, withReplaced('prod', d))).toContain(
      'volume cache reads PersistentVolumeClaim coderun/frontend-cache, which is neither rendered nor provided by the cluster',
    );
  });

  it('fails on a key a rendered ConfigMap does not hold', () => {
    const cj: any = pick('prod', 'CronJob', 'executor-reaper');
    cj.spec.jobTemplate.spec.template.spec.volumes[0].configMap.items[0].key = 'reap.sh';
    expect(check(referencesRule, withReplaced('prod', cj))).toContain(
      'CronJob coderun/executor-reaper: volume script reads key reap.sh of ConfigMap coderun/executor-reaper, which holds only reap.py',
    );
  });

  it('fails on a key the ExternalSecret or Certificate behind a Secret does not provide', () => {
    const d: any = pick('prod', 'Deployment', 'frontend');
    container(d).env.find((e: any) => e.valueFrom?.secretKeyRef).valueFrom.secretKeyRef.key = 'password';
    pod(d).volumes.find((v: any) => v.name === 'nats-ca').secret.items[0].key = 'ca.pem';
    const out = check(referencesRule, withReplaced('prod', d));
    expect(out).toContain(
      'reads key password of Secret coderun/nats-credentials, which holds only frontend-nkey, frontend-nkey-seed, middleware-nkey, middleware-nkey-seed, callout-issuer, callout-issuer-seed (ExternalSecret coderun/nats-credentials)',
    );
    expect(out).toContain(
      'volume nats-ca reads key ca.pem of Secret coderun/nats-tls, which holds only tls.crt, tls.key, ca.crt (Certificate coderun/nats-tls)',
    );
  });

  it('does not guess the keys of pre-created Secrets, nor of optional references', () => {
    const d: any = pick('dev', 'Deployment', 'frontend');
    container(d).env.find((e: any) => e.valueFrom?.secretKeyRef).valueFrom.secretKeyRef.key = 'password';
    expect(check(referencesRule, withReplaced('dev', d), 'dev')).toBe('');
    const s: any = pick('staging', 'Deployment', 'frontend');
    const ref = container(s).env.find((e: any) => e.valueFrom?.secretKeyRef).valueFrom.secretKeyRef;
    ref.key = 'password';
    ref.optional = true;
    expect(check(referencesRule, withReplaced('staging', s), 'staging')).toBe('');
  });

  it('fails on an Ingress tls Secret that nothing provides', () => {
    const ing: any = pick('prod', 'Ingress', 'oauth2-proxy');
    expect(check(referencesRule, withReplaced('prod', ing))).toBe('');
    delete ing.metadata.annotations['cert-manager.io/cluster-issuer'];
    expect(check(referencesRule, withReplaced('prod', ing))).toContain(
      'Ingress coderun/oauth2-proxy: tls secretName coderun/oauth2-proxy-tls is neither rendered nor provided by the cluster',
    );
  });

  it('fails on an issuer, secret store or ingress class the environment does not document', () => {
    const c: any = pick('prod', 'Certificate', 'nats-tls');
    c.spec.issuerRef.name = 'internal-ca';
    const es: any = pick('prod', 'ExternalSecret', 'nats-credentials');
    es.spec.secretStoreRef = { name: 'vault' };
    const ing: any = pick('prod', 'Ingress', 'oauth2-proxy');
    ing.spec.ingressClassName = 'traefik';
    ing.metadata.annotations['cert-manager.io/cluster-issuer'] = 'letsencrypt-staging';
    const objects = [c, es, ing].reduce<Manifest[]>(
      (all, x) => all.map((o) => (o.kind === x.kind && o.metadata.name === x.metadata.name ? x : o)),
      [...committed('prod').objects],
    );
    const out = check(referencesRule, objects);
    expect(out).toContain(
      'Certificate coderun/nats-tls: spec.issuerRef names ClusterIssuer internal-ca, which is neither rendered nor documented by the environment (env.entrypoint.issuer: ClusterIssuer letsencrypt-prod; env.services.nats.tls.issuer: ClusterIssuer coderun-internal-ca;',
    );
    expect(out).toContain(
      'ExternalSecret coderun/nats-credentials: spec.secretStoreRef names SecretStore coderun/vault, which is neither rendered nor documented',
    );
    expect(out).toContain('Ingress coderun/oauth2-proxy: spec.ingressClassName names IngressClass traefik');
    expect(out).toContain(
      'Ingress coderun/oauth2-proxy: annotation cert-manager.io/cluster-issuer names ClusterIssuer letsencrypt-staging',
    );
  });

  it("fails on an HTTPRoute whose Gateway is not the environment's", () => {
    const env = withGateway('prod');
    const route: Manifest = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'oauth2-proxy', namespace: 'coderun' },
      spec: { parentRefs: [{ name: 'public', namespace: 'gateway-system' }, { name: 'internal' }] },
    };
    const out = check(referencesRule, [...committed('prod').objects, route], 'prod', env);
    expect(out).not.toContain('parentRefs[0]');
    expect(out).toContain(
      'HTTPRoute coderun/oauth2-proxy: spec.parentRefs[1] names Gateway coderun/internal, which is neither rendered nor documented',
    );
  });

  it('fails on an object in a namespace that is not rendered', () => {
    const cm: any = pick('prod', 'ConfigMap', 'nats-config');
    cm.metadata.namespace = 'nats-system';
    expect(check(referencesRule, [...committed('prod').objects, cm])).toContain(
      'lives in namespace nats-system, which is not rendered',
    );
  });
});

describe('providedByCluster', () => {
  it('lists ExternalSecret targets and Certificate secrets', () => {
    const { env, objects } = committed('prod');
    const names = providedByCluster(env, objects).map((p) => `${p.namespace}/${p.name}`);
    expect(names.sort()).toEqual([
      'coderun-executors/nats-ca',
      'coderun-executors/registry-credentials',
      'coderun/nats-credentials',
      'coderun/nats-tls',
      'coderun/oauth2-proxy-credentials',
      'coderun/oauth2-proxy-tls',
      'coderun/registry-credentials',
    ]);
  });

  it('knows the keys of ExternalSecret targets, Certificate and ingress-shim Secrets', () => {
    const { env, objects } = committed('prod');
    const keys = new Map(providedByCluster(env, objects).map((p) => [`${p.namespace}/${p.name}`, p.keys]));
    // The ExternalSecret copies what the NATS plan says the Secret holds.
    expect(keys.get('coderun/nats-credentials')).toEqual(natsCredentialKeys(env.services.nats));
    expect(keys.get('coderun/nats-tls')).toEqual(['tls.crt', 'tls.key', 'ca.crt']);
    expect(keys.get('coderun/oauth2-proxy-tls')).toEqual(['tls.crt', 'tls.key', 'ca.crt']);
    const es: any = structuredClone(objects.find((o) => o.kind === 'ExternalSecret'));
    es.spec.dataFrom = [{ extract: { key: 'all' } }];
    expect(providedByCluster(env, [es])[0]?.keys).toBeUndefined();
    delete es.spec.dataFrom;
    es.spec.target.template = { data: { 'nats.creds': '{{ .x }}' } };
    expect(providedByCluster(env, [es])[0]?.keys).toEqual(['nats.creds']);
    es.spec.target.template.mergePolicy = 'Merge';
    expect(providedByCluster(env, [es])[0]?.keys).toContain('nats.creds');
    expect(providedByCluster(env, [es])[0]?.keys).toContain(es.spec.data[0].secretKey);
  });

  it('lists the pre-created Secrets of env.secrets only with provider pre-created', () => {
    const { env, objects } = committed('dev');
    expect(providedByCluster(env, objects).map((p) => `${p.namespace}/${p.name} (${p.by})`)).toEqual([
      'coderun/oauth2-proxy-credentials (pre-created (env.secrets))',
      'coderun/nats-credentials (pre-created (env.secrets))',
    ]);
    const sealed = { ...env, secrets: { ...env.secrets, provider: 'sealed-secrets' as const } };
    expect(providedByCluster(sealed, objects)).toEqual([]);
  });

  it('lists SealedSecrets by their template name', () => {
    const { env } = committed('dev');
    const sealed: Manifest = {
      apiVersion: 'bitnami.com/v1alpha1',
      kind: 'SealedSecret',
      metadata: { name: 'nats-credentials', namespace: 'coderun' },
      spec: { encryptedData: { x: 'AgB' }, template: { metadata: { name: 'nats-auth' } } },
    };
    expect(providedByCluster({ ...env, secrets: { ...env.secrets, provider: 'sealed-secrets' } }, [sealed])).toEqual([
      { namespace: 'coderun', name: 'nats-auth', by: 'SealedSecret coderun/nats-credentials', keys: ['x'] },
    ]);
  });
});
