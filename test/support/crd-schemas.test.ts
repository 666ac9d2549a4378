/**
 * Checks that the vendored third-party CRDs (see test/schemas/README.md) load,
 * compile and validate realistic custom resources: one minimal valid example
 * per kind (no issues) and one invalid variant per kind (at least one issue).
 */
import { describe, it, expect } from 'vitest';

import { SchemaValidator } from './schema-validator';

const K8S = '1.30';
const validator = new SchemaValidator({ kubernetesVersions: [K8S] });

type Doc = Record<string, unknown>;

/** Shallow-ish helper: returns a copy of `doc` with `spec` replaced. */
function withSpec(doc: Doc, spec: unknown): Doc {
  return { ...doc, spec };
}

function specOf(doc: Doc): Doc {
  return doc['spec'] as Doc;
}

const certificate: Doc = {
  apiVersion: 'cert-manager.io/v1',
  kind: 'Certificate',
  metadata: { name: 'web-tls', namespace: 'apps' },
  spec: {
    secretName: 'web-tls',
    dnsNames: ['web.example.com', 'www.example.com'],
    duration: '2160h',
    renewBefore: '360h',
    privateKey: { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' },
    issuerRef: { name: 'letsencrypt-prod', kind: 'ClusterIssuer', group: 'cert-manager.io' },
  },
};

const externalSecret: Doc = {
  apiVersion: 'external-secrets.io/v1',
  kind: 'ExternalSecret',
  metadata: { name: 'db-credentials', namespace: 'apps' },
  spec: {
    refreshInterval: '1h',
    secretStoreRef: { kind: 'ClusterSecretStore', name: 'vault' },
    target: { name: 'db-credentials', creationPolicy: 'Owner' },
    data: [
      { secretKey: 'username', remoteRef: { key: 'apps/db', property: 'username' } },
      { secretKey: 'password', remoteRef: { key: 'apps/db', property: 'password' } },
    ],
  },
};

const sealedSecret: Doc = {
  apiVersion: 'bitnami.com/v1alpha1',
  kind: 'SealedSecret',
  metadata: { name: 'api-token', namespace: 'apps' },
  spec: {
    encryptedData: { token: 'AgBy8hCi8erQ5Ew0p2sR1vNCQ9o6cR0e0z7yQ2w7X5u4o0nM==' },
    template: {
      metadata: {
        name: 'api-token',
        namespace: 'apps',
        labels: { 'app.kubernetes.io/name': 'api' },
      },
      type: 'Opaque',
    },
  },
};

const serviceMonitor: Doc = {
  apiVersion: 'monitoring.coreos.com/v1',
  kind: 'ServiceMonitor',
  metadata: { name: 'web', namespace: 'apps', labels: { release: 'prometheus' } },
  spec: {
    selector: { matchLabels: { 'app.kubernetes.io/name': 'web' } },
    namespaceSelector: { matchNames: ['apps'] },
    endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s', scrapeTimeout: '10s', scheme: 'http' }],
  },
};

const podMonitor: Doc = {
  apiVersion: 'monitoring.coreos.com/v1',
  kind: 'PodMonitor',
  metadata: { name: 'worker', namespace: 'apps' },
  spec: {
    selector: { matchLabels: { 'app.kubernetes.io/name': 'worker' } },
    podMetricsEndpoints: [{ port: 'metrics', path: '/metrics', interval: '15s' }],
  },
};

const prometheusRule: Doc = {
  apiVersion: 'monitoring.coreos.com/v1',
  kind: 'PrometheusRule',
  metadata: { name: 'web-alerts', namespace: 'apps' },
  spec: {
    groups: [
      {
        name: 'web.rules',
        rules: [
          {
            alert: 'WebHighErrorRate',
            expr: 'sum(rate(http_requests_total{job="web",code=~"5.."}[5m])) / sum(rate(http_requests_total{job="web"}[5m])) > 0.05',
            for: '10m',
            labels: { severity: 'warning' },
            annotations: { summary: 'web 5xx rate above 5%', runbook_url: 'https://runbooks.example.com/web' },
          },
          { record: 'job:http_requests:rate5m', expr: 'sum by (job) (rate(http_requests_total[5m]))' },
        ],
      },
    ],
  },
};

const scaledObject: Doc = {
  apiVersion: 'keda.sh/v1alpha1',
  kind: 'ScaledObject',
  metadata: { name: 'worker', namespace: 'apps' },
  spec: {
    scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'worker' },
    minReplicaCount: 1,
    maxReplicaCount: 10,
    pollingInterval: 15,
    cooldownPeriod: 120,
    triggers: [
      {
        type: 'nats-jetstream',
        metadata: {
          natsServerMonitoringEndpoint: 'nats.nats.svc.cluster.local:8222',
          account: '$G',
          stream: 'jobs',
          consumer: 'worker',
          lagThreshold: '10',
        },
        authenticationRef: { name: 'nats-auth', kind: 'TriggerAuthentication' },
      },
    ],
  },
};

const triggerAuthentication: Doc = {
  apiVersion: 'keda.sh/v1alpha1',
  kind: 'TriggerAuthentication',
  metadata: { name: 'nats-auth', namespace: 'apps' },
  spec: {
    secretTargetRef: [{ parameter: 'natsServerMonitoringEndpoint', name: 'nats-monitoring', key: 'endpoint' }],
  },
};

const httpRoute: Doc = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: 'web', namespace: 'apps' },
  spec: {
    parentRefs: [{ name: 'public', namespace: 'gateway', sectionName: 'https' }],
    hostnames: ['web.example.com'],
    rules: [
      {
        matches: [{ path: { type: 'PathPrefix', value: '/' } }],
        backendRefs: [{ name: 'web', port: 80, weight: 1 }],
      },
    ],
  },
};

interface Case {
  readonly name: string;
  readonly valid: Doc;
  /** Invalid variant and the issue path we expect among the reported issues. */
  readonly invalid: Doc;
  readonly expectedPath: string;
}

const CASES: readonly Case[] = [
  {
    name: 'cert-manager.io/v1 Certificate',
    valid: certificate,
    // unknown field (typo of dnsNames)
    invalid: withSpec(certificate, { ...specOf(certificate), dnsName: ['web.example.com'] }),
    expectedPath: '/spec/dnsName',
  },
  {
    name: 'external-secrets.io/v1 ExternalSecret',
    valid: externalSecret,
    // wrong type: data must be an array
    invalid: withSpec(externalSecret, { ...specOf(externalSecret), data: { secretKey: 'x' } }),
    expectedPath: '/spec/data',
  },
  {
    name: 'bitnami.com/v1alpha1 SealedSecret',
    valid: sealedSecret,
    // wrong type: encrypted values are strings
    invalid: withSpec(sealedSecret, { ...specOf(sealedSecret), encryptedData: { token: 42 } }),
    expectedPath: '/spec/encryptedData/token',
  },
  {
    name: 'monitoring.coreos.com/v1 ServiceMonitor',
    valid: serviceMonitor,
    // unknown field in an endpoint (Prometheus config spelling, not the CRD's)
    invalid: withSpec(serviceMonitor, {
      ...specOf(serviceMonitor),
      endpoints: [{ port: 'metrics', scrape_interval: '30s' }],
    }),
    expectedPath: '/spec/endpoints/0/scrape_interval',
  },
  {
    name: 'monitoring.coreos.com/v1 PodMonitor',
    valid: podMonitor,
    // wrong type: podMetricsEndpoints is a list
    invalid: withSpec(podMonitor, { ...specOf(podMonitor), podMetricsEndpoints: { port: 'metrics' } }),
    expectedPath: '/spec/podMetricsEndpoints',
  },
  {
    name: 'monitoring.coreos.com/v1 PrometheusRule',
    valid: prometheusRule,
    // unknown field: "severity" belongs under labels
    invalid: withSpec(prometheusRule, {
      groups: [{ name: 'g', rules: [{ alert: 'A', expr: 'up == 0', severity: 'critical' }] }],
    }),
    expectedPath: '/spec/groups/0/rules/0/severity',
  },
  {
    name: 'keda.sh/v1alpha1 ScaledObject',
    valid: scaledObject,
    // wrong type: replica counts are integers
    invalid: withSpec(scaledObject, { ...specOf(scaledObject), maxReplicaCount: '10' }),
    expectedPath: '/spec/maxReplicaCount',
  },
  {
    name: 'keda.sh/v1alpha1 TriggerAuthentication',
    valid: triggerAuthentication,
    // missing required "parameter"/"key" and unknown "secretName"
    invalid: withSpec(triggerAuthentication, { secretTargetRef: [{ name: 'nats-monitoring', secretName: 'x' }] }),
    expectedPath: '/spec/secretTargetRef/0/secretName',
  },
  {
    name: 'gateway.networking.k8s.io/v1 HTTPRoute',
    valid: httpRoute,
    // unknown field: backendRefs use "name", not "serviceName"
    invalid: withSpec(httpRoute, {
      ...specOf(httpRoute),
      rules: [{ backendRefs: [{ serviceName: 'web', port: 80 }] }],
    }),
    expectedPath: '/spec/rules/0/backendRefs/0/serviceName',
  },
];

describe('vendored third-party CRDs', () => {
  for (const c of CASES) {
    describe(c.name, () => {
      it('is a known kind', () => {
        expect(validator.isKnownKind(String(c.valid['apiVersion']), String(c.valid['kind']), K8S)).toBe(true);
      });

      it('accepts a minimal realistic resource', () => {
        expect(validator.validate(c.valid, K8S)).toEqual([]);
      });

      it('rejects an invalid resource', () => {
        const issues = validator.validate(c.invalid, K8S);
        expect(issues.length).toBeGreaterThan(0);
        expect(issues.map((i) => i.path)).toContain(c.expectedPath);
      });
    });
  }

  it('rejects unknown metadata fields on custom resources (ObjectMeta is strict)', () => {
    const issues = validator.validate({ ...certificate, metadata: { name: 'x', label: {} } }, K8S);
    expect(issues).toContainEqual({ path: '/metadata/label', message: 'unknown field "label"' });
  });

  it('serves only the versions the CRDs serve', () => {
    // ExternalSecret v1beta1 is present in the CRD but `served: false`.
    expect(validator.isKnownKind('external-secrets.io/v1beta1', 'ExternalSecret', K8S)).toBe(false);
    // HTTPRoute v1beta1 is still served (v1 is the storage version).
    expect(validator.isKnownKind('gateway.networking.k8s.io/v1beta1', 'HTTPRoute', K8S)).toBe(true);
  });

  it('handles Go RE2 inline flags in CRD patterns (PrometheusRule partial_response_strategy "^(?i)(abort|warn)?$")', () => {
    const withStrategy = (strategy: string): Doc =>
      withSpec(prometheusRule, {
        groups: [{ name: 'g', partial_response_strategy: strategy, rules: [{ alert: 'A', expr: 'up == 0' }] }],
      });
    expect(validator.validate(withStrategy('warn'), K8S)).toEqual([]);
    expect(validator.validate(withStrategy('ABORT'), K8S)).toEqual([]);
    expect(validator.validate(withStrategy('ignore'), K8S).map((i) => i.path)).toEqual([
      '/spec/groups/0/partial_response_strategy',
    ]);
  });

  it('accepts preserve-unknown-fields template metadata in SealedSecret', () => {
    const spec = specOf(sealedSecret);
    const template = spec['template'] as Doc;
    const doc = withSpec(sealedSecret, {
      ...spec,
      template: { ...template, metadata: { ...(template['metadata'] as Doc), annotations: { a: 'b' } } },
    });
    expect(validator.validate(doc, K8S)).toEqual([]);
  });
});
