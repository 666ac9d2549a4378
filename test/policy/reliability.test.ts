/* eslint-disable @typescript-eslint/no-explicit-any -- tests break manifests on purpose */
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/model/objects';
import { check, committed, pick, pod, withReplaced } from './fixtures';
import {
  clusterNodes,
  inClusterAddresses,
  jobDeadlinesRule,
  monitorTargetsRule,
  pdbCoverageRule,
  placeablePods,
  replicasHaRule,
  serviceRoutingRule,
  spreadSatisfiableRule,
  tlsCovers,
} from '../../src/policy/rules';

const without = (envName: string, kind: string, name: string) =>
  committed(envName).objects.filter((o) => !(o.kind === kind && o.metadata.name === name));

describe('rule replicas-ha', () => {
  it('fails on a single-replica Deployment in staging', () => {
    const d: any = pick('staging', 'Deployment', 'middleware');
    d.spec.replicas = 1;
    expect(check(replicasHaRule, withReplaced('staging', d), 'staging')).toContain(
      'Deployment coderun/middleware: runs 1 replica(s); staging needs at least 2',
    );
  });

  it('uses the HPA minimum for autoscaled Deployments', () => {
    const h: any = pick('prod', 'HorizontalPodAutoscaler', 'frontend');
    h.spec.minReplicas = 1;
    expect(check(replicasHaRule, withReplaced('prod', h))).toContain(
      'runs 1 replica(s) at its autoscaler minimum; prod needs at least 2',
    );
  });

  it('fails on a NATS cluster of fewer than three in prod', () => {
    const s: any = pick('prod', 'StatefulSet', 'nats');
    s.spec.replicas = 1;
    expect(check(replicasHaRule, withReplaced('prod', s))).toContain('runs 1 NATS server(s); production needs 3');
  });

  it('does not apply to dev', () => {
    expect(check(replicasHaRule, committed('dev').objects, 'dev')).toBe('');
  });

  it('follows the tier, not the name: a one-node production environment still needs HA', () => {
    const dev = committed('dev').env;
    expect(check(replicasHaRule, committed('dev').objects, 'dev', { ...dev, tier: 'production' })).toContain(
      'runs 1 replica(s); dev needs at least 2',
    );
    const s: any = pick('prod', 'StatefulSet', 'nats');
    s.spec.replicas = 1;
    const prod = committed('prod').env;
    expect(check(replicasHaRule, withReplaced('prod', s), 'prod', { ...prod, tier: 'non-production' })).toBe('');
  });
});

describe('rule pdb-coverage', () => {
  it('fails when a replicated Deployment has no budget', () => {
    expect(check(pdbCoverageRule, without('staging', 'PodDisruptionBudget', 'middleware'), 'staging')).toContain(
      'Deployment coderun/middleware: runs up to 2 replicas but no PodDisruptionBudget selects its pods',
    );
  });

  it('fails when an autoscaled Deployment has no budget', () => {
    expect(check(pdbCoverageRule, without('prod', 'PodDisruptionBudget', 'frontend'))).toContain(
      'Deployment coderun/frontend: runs up to 9 replicas',
    );
  });

  it('fails when the budget selects other pods', () => {
    const p: any = pick('prod', 'PodDisruptionBudget', 'nats');
    p.spec.selector.matchLabels['app.kubernetes.io/instance'] = 'coderun-staging';
    expect(check(pdbCoverageRule, withReplaced('prod', p))).toContain(
      'StatefulSet coderun/nats: runs up to 3 replicas',
    );
  });

  it('fails when two budgets select the same pods', () => {
    const p: any = pick('prod', 'PodDisruptionBudget', 'frontend');
    p.metadata.name = 'frontend-web';
    p.spec.selector = { matchLabels: { 'app.kubernetes.io/name': 'frontend' } };
    expect(check(pdbCoverageRule, [...committed('prod').objects, p])).toContain(
      'Deployment coderun/frontend: its pods are selected by 2 PodDisruptionBudgets (frontend, frontend-web); the eviction API refuses pods with more than one',
    );
  });

  it('does not ask single-replica workloads for a budget', () => {
    expect(check(pdbCoverageRule, committed('dev').objects, 'dev')).toBe('');
  });
});

describe('rule spread-satisfiable', () => {
  const prod = committed('prod').env;
  const staging = committed('staging').env;

  it('fails on an invalid whenUnsatisfiable, maxSkew and minDomains', () => {
    const d: any = pick('staging', 'Deployment', 'frontend');
    const c = pod(d).topologySpreadConstraints[0];
    c.whenUnsatisfiable = 'Never';
    c.maxSkew = 0;
    c.minDomains = 2;
    const out = check(spreadSatisfiableRule, [d], 'staging');
    expect(out).toContain('whenUnsatisfiable Never; use DoNotSchedule or ScheduleAnyway');
    expect(out).toContain('maxSkew 0; it must be > 0');
    expect(out).toContain('sets minDomains without DoNotSchedule');
  });

  it('fails on a key in both matchLabelKeys and labelSelector', () => {
    const d: any = pick('prod', 'Deployment', 'frontend');
    pod(d).topologySpreadConstraints[0].matchLabelKeys.push('app.kubernetes.io/name');
    expect(check(spreadSatisfiableRule, [d])).toContain(
      'has app.kubernetes.io/name in both matchLabelKeys and labelSelector',
    );
  });

  it('fails on a hard zone constraint in an environment without zones', () => {
    const d: any = pick('staging', 'Deployment', 'middleware');
    pod(d).topologySpreadConstraints.push({
      ...structuredClone(pod(d).topologySpreadConstraints[0]),
      topologyKey: 'topology.kubernetes.io/zone',
      whenUnsatisfiable: 'DoNotSchedule',
    });
    const out = check(spreadSatisfiableRule, [d], 'staging');
    expect(out).toContain('hard constraint on topology.kubernetes.io/zone: no node of staging carries that label');
  });

  it('fails on minDomains above the number of domains', () => {
    const d: any = pick('prod', 'Deployment', 'middleware');
    pod(d).topologySpreadConstraints[1].minDomains = 4;
    expect(check(spreadSatisfiableRule, [d])).toContain(
      'has minDomains 4 but prod has 3 domain(s): scheduling blocks beyond 3 pod(s)',
    );
  });

  it('fails when the replicas cannot all be placed', () => {
    // 9 frontend pods (the HPA maximum) with minDomains 7 over 6 hostnames: at most 6 fit.
    const d: any = pick('prod', 'Deployment', 'frontend');
    pod(d).topologySpreadConstraints[0].minDomains = 7;
    expect(check(spreadSatisfiableRule, withReplaced('prod', d))).toContain(
      'hard spread constraints let only 6 of 9 pod(s) be placed on 6 node(s) in 3 zone(s)',
    );
  });

  it('models the scheduler: hard hostname + zone spread over 6 nodes in 3 zones', () => {
    const nodes = clusterNodes(prod);
    const hard = [
      { topologyKey: 'kubernetes.io/hostname', maxSkew: 1 },
      { topologyKey: 'topology.kubernetes.io/zone', maxSkew: 1 },
    ];
    expect(placeablePods(nodes, hard, 9)).toBe(9);
    expect(placeablePods(nodes, [{ ...hard[1]!, minDomains: 4 }], 9)).toBe(3);
    expect(placeablePods(clusterNodes(staging), hard, 2)).toBe(0);
    expect(placeablePods(clusterNodes(staging), [hard[0]!], 5)).toBe(5);
  });

  it('fails on a hard constraint on a label no node carries', () => {
    const d: any = pick('prod', 'Deployment', 'oauth2-proxy');
    pod(d).topologySpreadConstraints[0].topologyKey = 'example.com/rack';
    expect(check(spreadSatisfiableRule, [d])).toContain(
      'hard constraint on example.com/rack: no node of prod carries that label',
    );
  });
});

describe('rule service-routing', () => {
  it('fails when a Service selects no pods', () => {
    const s: any = pick('prod', 'Service', 'frontend');
    s.spec.selector['app.kubernetes.io/name'] = 'web';
    expect(check(serviceRoutingRule, withReplaced('prod', s))).toContain(
      'Service coderun/frontend: selects the pods of no rendered workload',
    );
  });

  it('fails when a targetPort is not declared', () => {
    const s: any = pick('prod', 'Service', 'nats-headless');
    s.spec.ports[2].targetPort = 'monitoring';
    s.spec.ports[1].targetPort = 6223;
    const out = check(serviceRoutingRule, withReplaced('prod', s));
    expect(out).toContain('port monitor targets monitoring/TCP, which StatefulSet nats does not declare');
    expect(out).toContain('port cluster targets 6223/TCP');
  });

  it('fails when an Ingress points to a missing Service or port', () => {
    const i: any = pick('prod', 'Ingress', 'oauth2-proxy');
    i.spec.rules[0].http.paths[0].backend.service.port.number = 4180;
    expect(check(serviceRoutingRule, withReplaced('prod', i))).toContain(
      'backend: Service coderun/oauth2-proxy does not expose port 4180',
    );
    i.spec.rules[0].http.paths[0].backend.service = { name: 'frontend-direct', port: { name: 'http' } };
    expect(check(serviceRoutingRule, withReplaced('prod', i))).toContain(
      'backend: Service coderun/frontend-direct is not rendered',
    );
  });

  it('fails when TLS does not cover a host', () => {
    const i: any = pick('staging', 'Ingress', 'oauth2-proxy');
    i.spec.rules.push({ ...structuredClone(i.spec.rules[0]), host: 'admin.example.com' });
    delete i.spec.tls[0].secretName;
    const out = check(serviceRoutingRule, withReplaced('staging', i), 'staging');
    expect(out).toContain('host admin.example.com is not covered by spec.tls');
    expect(out).toContain('has a tls entry without secretName');
  });

  it('knows TLS wildcards', () => {
    expect(tlsCovers('*.example.com', 'coderun.example.com')).toBe(true);
    expect(tlsCovers('*.example.com', 'a.b.example.com')).toBe(false);
    expect(tlsCovers('*.example.com', 'example.com')).toBe(false);
  });

  it('checks HTTPRoute backendRefs', () => {
    const route: Manifest = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'oauth2-proxy', namespace: 'coderun' },
      spec: { rules: [{ backendRefs: [{ name: 'oauth2-proxy', port: 4180 }, { name: 'frontend' }] }] },
    };
    const out = check(serviceRoutingRule, [...committed('prod').objects, route]);
    expect(out).toContain('backendRef: Service coderun/oauth2-proxy does not expose port 4180');
    expect(out).toContain('backendRef frontend has no port');
  });
});

describe('rule monitor-targets', () => {
  /** A ServiceMonitor on the nats Service, as a team might add one. */
  const serviceMonitor = (): any => ({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: { name: 'nats', namespace: 'coderun', labels: { release: 'kube-prometheus-stack' } },
    spec: {
      selector: { matchLabels: { 'app.kubernetes.io/name': 'nats', 'app.kubernetes.io/instance': 'coderun-prod' } },
      endpoints: [{ port: 'client' }],
    },
  });

  it('passes on the committed PodMonitors and a ServiceMonitor on a real Service port', () => {
    expect(check(monitorTargetsRule, [...committed('prod').objects, serviceMonitor()])).toBe('');
  });

  it("fails when a PodMonitor's selector matches no pod template", () => {
    const m: any = pick('prod', 'PodMonitor', 'nats');
    m.spec.selector.matchLabels['app.kubernetes.io/name'] = 'nats-exporter';
    expect(check(monitorTargetsRule, withReplaced('prod', m))).toContain(
      'PodMonitor coderun/nats: selector matches no rendered pod template in coderun',
    );
  });

  it('fails when a PodMonitor scrapes a port its pods do not declare', () => {
    const m: any = pick('prod', 'PodMonitor', 'oauth2-proxy');
    m.spec.podMetricsEndpoints[0].port = 'prometheus';
    expect(check(monitorTargetsRule, withReplaced('prod', m))).toContain(
      'PodMonitor coderun/oauth2-proxy: podMetricsEndpoints[0] port prometheus is declared by no container of Deployment oauth2-proxy',
    );
  });

  it('fails on an empty selector and on a namespace outside the environment', () => {
    const m: any = pick('prod', 'PodMonitor', 'nats');
    m.spec.namespaceSelector.matchNames = ['nats-system'];
    m.spec.selector = {};
    const out = check(monitorTargetsRule, withReplaced('prod', m));
    expect(out).toContain(
      'PodMonitor coderun/nats: namespaceSelector names nats-system, which is not in the environment',
    );
    expect(out).toContain('PodMonitor coderun/nats: has an empty selector');
  });

  it('fails when a monitor lacks the labels Prometheus selects by', () => {
    const m: any = pick('prod', 'PodMonitor', 'nats');
    delete m.metadata.labels.release;
    const r: any = pick('prod', 'PrometheusRule', 'coderun-alerts');
    r.metadata.labels.release = 'prometheus';
    const out = check(monitorTargetsRule, [...withReplaced('prod', m).filter((o) => o.kind !== 'PrometheusRule'), r]);
    expect(out).toContain(
      "PodMonitor coderun/nats: metadata.labels lacks release=kube-prometheus-stack (it has none), which the environment's Prometheus selects by",
    );
    expect(out).toContain(
      'PrometheusRule coderun/coderun-alerts: metadata.labels lacks release=kube-prometheus-stack (it has prometheus)',
    );
  });

  it('fails on a monitor where monitoring is off', () => {
    const m: any = pick('prod', 'PodMonitor', 'nats');
    expect(check(monitorTargetsRule, [...committed('dev').objects, m], 'dev')).toContain(
      'PodMonitor coderun/nats: is rendered, but env.monitoring.enabled is false',
    );
  });

  it("fails when a ServiceMonitor's selector matches no Service, or its port is not a Service port", () => {
    const sm = serviceMonitor();
    sm.spec.endpoints[0].port = 'monitor';
    expect(check(monitorTargetsRule, [...committed('prod').objects, sm])).toContain(
      'ServiceMonitor coderun/nats: endpoints[0] port monitor is not a named port of Service coderun/nats',
    );
    sm.spec.selector.matchLabels['app.kubernetes.io/component'] = 'metrics';
    expect(check(monitorTargetsRule, [...committed('prod').objects, sm])).toContain(
      'ServiceMonitor coderun/nats: selector matches the labels of no rendered Service in coderun',
    );
  });
});

/** A ConfigMap in the app namespace holding one string. */
const configMap = (text: string): Manifest => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'x', namespace: 'coderun' },
  data: { a: text },
});

describe('in-cluster addresses', () => {
  it('finds every [pod.]service.namespace.svc name in the committed prod objects, with its port', () => {
    const found = committed('prod').objects.flatMap((o) =>
      inClusterAddresses(o).map(
        (a) => `${o.kind} ${o.metadata.name}: ${a.text} -> ${a.pod ?? ''}|${a.service}|${a.namespace}|${a.port ?? ''}`,
      ),
    );
    expect(found).toContain('Deployment oauth2-proxy: frontend.coderun.svc.cluster.local:80 -> |frontend|coderun|80');
    expect(found).toContain('Deployment frontend: nats.coderun.svc.cluster.local:4222 -> |nats|coderun|4222');
    expect(found).toContain(
      'ConfigMap nats-config: nats-2.nats-headless.coderun.svc.cluster.local:6222 -> nats-2|nats-headless|coderun|6222',
    );
    expect(found).toContain(
      'Certificate nats-tls: *.nats-headless.coderun.svc.cluster.local -> *|nats-headless|coderun|',
    );
  });

  it('gives http and https URLs without a port their default port', () => {
    const cm = configMap('http://frontend.coderun.svc/ and https://kubernetes.default.svc');
    expect(inClusterAddresses(cm).map((a) => a.port)).toEqual([80, 443]);
  });
});

describe('rule service-routing', () => {
  it('fails on an address whose Service is not rendered or does not expose the port', () => {
    const d: any = pick('prod', 'Deployment', 'oauth2-proxy');
    const args: string[] = d.spec.template.spec.containers[0].args;
    args[args.findIndex((a) => a.startsWith('--upstream='))] = '--upstream=http://web.coderun.svc.cluster.local:80/';
    const f: any = pick('prod', 'Deployment', 'frontend');
    f.spec.template.spec.containers[0].env.find((e: any) => e.name === 'NATS_URL').value =
      'tls://nats.coderun.svc.cluster.local:4223';
    const out = check(
      serviceRoutingRule,
      withReplaced('prod', d).map((o) => (o.kind === 'Deployment' && o.metadata.name === 'frontend' ? f : o)),
    );
    expect(out).toContain(
      'Deployment coderun/oauth2-proxy: spec.template.spec.containers[0].args[3] names web.coderun.svc.cluster.local:80: Service coderun/web is not rendered',
    );
    expect(out).toContain(
      'Deployment coderun/frontend: spec.template.spec.containers[0].env[0].value names nats.coderun.svc.cluster.local:4223: Service coderun/nats does not expose port 4223 (it exposes 4222)',
    );
  });

  it('fails on a pod name that no StatefulSet under the headless Service has, or on a port its pods do not declare', () => {
    const cm: any = pick('prod', 'ConfigMap', 'nats-config');
    const key = Object.keys(cm.data)[0] as string;
    cm.data[key] = cm.data[key]
      .replace('nats-2.nats-headless', 'nats-3.nats-headless')
      .replace(
        'nats-1.nats-headless.coderun.svc.cluster.local:6222',
        'nats-1.nats-headless.coderun.svc.cluster.local:6223',
      )
      .replace('nats-0.nats-headless', 'nats-0.nats');
    const out = check(serviceRoutingRule, withReplaced('prod', cm));
    expect(out).toContain(
      'ConfigMap coderun/nats-config: data.nats.conf names nats-3.nats-headless.coderun.svc.cluster.local:6222: pod nats-3 is no pod of a StatefulSet governed by Service coderun/nats-headless (nats-0, nats-1, nats-2)',
    );
    expect(out).toContain(
      "names nats-1.nats-headless.coderun.svc.cluster.local:6223: port 6223 is declared by no container of StatefulSet nats (a headless Service's names resolve to pods)",
    );
    expect(out).toContain(
      'names nats-0.nats.coderun.svc.cluster.local:6222: pod names exist only under a headless Service; coderun/nats is not one',
    );
  });

  it("accepts the cluster's own Services", () => {
    const cm = configMap('https://kubernetes.default.svc dns://kube-dns.kube-system.svc.cluster.local:53');
    expect(check(serviceRoutingRule, [...committed('prod').objects, cm])).toBe('');
  });

  it('does not look behind an ExternalName Service', () => {
    const svc: Manifest = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'smtp', namespace: 'coderun' },
      spec: { type: 'ExternalName', externalName: 'smtp.example.com' },
    };
    const cm = configMap('smtp.coderun.svc.cluster.local:587');
    expect(check(serviceRoutingRule, [...committed('prod').objects, svc, cm])).toBe('');
    expect(check(serviceRoutingRule, [...committed('prod').objects, cm])).toContain(
      'ConfigMap coderun/x: data.a names smtp.coderun.svc.cluster.local:587: Service coderun/smtp is not rendered',
    );
  });
});

describe('rule job-deadlines', () => {
  it('fails on an executor template without activeDeadlineSeconds', () => {
    const t: any = pick('prod', 'PodTemplate', 'executor-c');
    delete t.template.spec.activeDeadlineSeconds;
    expect(check(jobDeadlinesRule, [t])).toContain(
      'PodTemplate coderun-executors/executor-c: has no positive activeDeadlineSeconds',
    );
  });

  it('fails on a deadline the admission policy would refuse', () => {
    const t: any = pick('staging', 'PodTemplate', 'executor-go');
    t.template.spec.activeDeadlineSeconds = 600;
    expect(check(jobDeadlinesRule, [t], 'staging')).toContain(
      'activeDeadlineSeconds 600 exceeds env.executors.deadlineSeconds (120)',
    );
  });

  it('checks Jobs too', () => {
    const t: any = pick('dev', 'PodTemplate', 'executor-go');
    const job: Manifest = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'migrate', namespace: 'coderun' },
      spec: { template: structuredClone(t.template) },
    };
    delete (job as any).spec.template.spec.activeDeadlineSeconds;
    expect(check(jobDeadlinesRule, [job], 'dev')).toContain(
      'Job coderun/migrate: has no positive activeDeadlineSeconds',
    );
    (job as any).spec.activeDeadlineSeconds = 60;
    expect(check(jobDeadlinesRule, [job], 'dev')).toBe('');
  });
});
