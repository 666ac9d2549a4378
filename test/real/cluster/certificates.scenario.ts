/**
 * Cluster suite scenario: the real cert-manager (its CA-issuing controllers, tools/go/cert-manager)
 * issues every rendered Certificate from the CA ClusterIssuer the twin creates under the name the
 * environment declares: the Secret holds a certificate of that CA with exactly the requested names
 * and usages. The NATS certificate's names satisfy the hostname check of every route in the
 * committed nats.conf, as openssl verifies it (server and client purpose: routes are mutual TLS).
 * A Certificate naming an issuer the environment does not declare gets no Secret. On the
 * environment's shared twin (./scenario.ts); facts go to .build/twin-<env>-certificates.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { expect, it } from 'vitest';
import type { Manifest } from '../../../src/model/objects';
import { waitFor } from '../../../tools/harness/process';
import { declaredIssuers } from '../../../tools/harness/twin/addons';
import { twinScenario, type TwinScenario } from './scenario';

/* eslint-disable @typescript-eslint/no-explicit-any -- objects as the API server returns them */
type Any = any;

const EKU: Record<string, string> = {
  'server auth': '1.3.6.1.5.5.7.3.1',
  'client auth': '1.3.6.1.5.5.7.3.2',
};

const ready = (o: Any) => (o?.status?.conditions ?? []).some((c: Any) => c.type === 'Ready' && c.status === 'True');

/** The route URLs of the committed nats.conf's cluster block, when that block has TLS. */
function natsRoutes(s: TwinScenario): string[] {
  const cm = s.byKind('ConfigMap').find((o) => /nats\.conf/.test(Object.keys((o.data as object) ?? {}).join(' ')));
  const conf = Object.values((cm?.data as Record<string, string>) ?? {}).join('\n');
  const cluster = /cluster\s*\{([\s\S]*)$/.exec(conf)?.[1] ?? '';
  if (!/tls\s*\{/.test(cluster)) return [];
  return [...cluster.matchAll(/nats(?:-route)?:\/\/([^\s:,\]]+):\d+/g)].map((m) => m[1] ?? '');
}

/** openssl verify of `cert` against `ca` for `host` and `purpose`; the output (throws on a failure). */
function opensslVerify(dir: string, host: string, purpose: 'sslserver' | 'sslclient'): string {
  return execFileSync(
    'openssl',
    ['verify', '-CAfile', join(dir, 'ca.crt'), '-purpose', purpose, '-verify_hostname', host, join(dir, 'tls.crt')],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  ).trim();
}

export const certificatesScenario = twinScenario('certificates', (s) => {
  const certs = s.byKind('Certificate');
  if (certs.length === 0) {
    const why = `${s.envName} renders no Certificate`;
    console.log(`[control-plane twin ${s.envName}] skipped 'cert-manager issues every rendered Certificate': ${why}`);
    s.facts.section('Certificates', [`Not run: ${why}.`]);
    it.skip(`cert-manager issues every rendered Certificate (skipped: ${why})`, () => undefined);
    return;
  }

  it('the real cert-manager issues every rendered Certificate from the declared CA ClusterIssuer', async () => {
    const issuerCa = s.twin.issuerCa;
    expect(issuerCa, 'the twin ran cert-manager (the environment declares issuers)').toBeDefined();
    const ca = new X509Certificate(readFileSync(String(issuerCa?.certFile)));
    const lines: string[] = [];
    for (const c of certs) {
      const spec = c.spec as {
        secretName: string;
        dnsNames?: string[];
        commonName?: string;
        usages?: string[];
        issuerRef: { kind: string; name: string };
      };
      const id = `Certificate ${c.metadata.namespace}/${c.metadata.name}`;
      expect(
        declaredIssuers(s.env).some((i) => i.kind === spec.issuerRef.kind && i.name === spec.issuerRef.name),
        `${id} names a declared issuer`,
      ).toBe(true);
      const path = `/apis/cert-manager.io/v1/namespaces/${c.metadata.namespace}/certificates/${c.metadata.name}`;
      const live = await waitFor(
        `${id} Ready`,
        async () => {
          const r = await s.kube.req<Any>('GET', path);
          return ready(r.body) ? r.body : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      const secret = await s.kube.must<Any>(
        'GET',
        `/api/v1/namespaces/${c.metadata.namespace}/secrets/${spec.secretName}`,
      );
      expect(secret.type).toBe('kubernetes.io/tls');
      expect(secret.metadata.annotations['cert-manager.io/issuer-name']).toBe(spec.issuerRef.name);
      const pem = (k: string) => Buffer.from(String(secret.data[k]), 'base64').toString();
      const cert = new X509Certificate(pem('tls.crt'));
      expect(cert.verify(ca.publicKey), `${id}: signed by the issuer's CA`).toBe(true);
      expect(new X509Certificate(pem('ca.crt')).fingerprint256).toBe(ca.fingerprint256);
      const sans = (cert.subjectAltName ?? '')
        .split(', ')
        .filter((x) => x.startsWith('DNS:'))
        .map((x) => x.slice(4))
        .sort();
      expect(sans, `${id}: DNS names`).toEqual([...(spec.dnsNames ?? [])].sort());
      if (spec.commonName) expect(cert.subject).toContain(`CN=${spec.commonName}`);
      for (const u of spec.usages ?? []) {
        if (EKU[u]) expect(cert.keyUsage ?? [], `${id}: usage ${u}`).toContain(EKU[u]);
      }
      lines.push(
        `- ${id}: Ready (revision ${live.status.revision}); Secret ${spec.secretName} signed by ${ca.subject.replace(/\n/g, ', ')} (${spec.issuerRef.kind} ${spec.issuerRef.name}), ${sans.length ? `DNS ${sans.join(', ')}` : `CN ${spec.commonName}`}, usages ${(spec.usages ?? []).join(', ')}, valid until ${cert.validTo}.`,
      );
    }
    s.facts.section('Certificates (the real cert-manager)', [
      `Issuers the environment declares, created as CA ClusterIssuers of the twin's issuer CA: ${declaredIssuers(s.env)
        .map((i) => `${i.kind} ${i.name}`)
        .join(', ')}.`,
      ...lines,
    ]);
  });

  const routes = natsRoutes(s);
  if (routes.length > 0) {
    it("the issued NATS certificate passes every route's TLS hostname check (openssl verify)", async () => {
      const nc = certs.find((c) => c.metadata.namespace === s.ns().app && /nats/.test(c.metadata.name));
      expect(nc, 'a rendered NATS Certificate').toBeDefined();
      const secretName = (nc?.spec as { secretName: string }).secretName;
      const secret = await waitFor(
        `Secret ${secretName} issued`,
        async () => {
          const r = await s.kube.req<Any>('GET', `/api/v1/namespaces/${s.ns().app}/secrets/${secretName}`);
          return r.status === 200 && r.body.data?.['tls.crt'] ? r.body : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      const dir = mkdtempSync(join(tmpdir(), 'twin-nats-tls-'));
      try {
        for (const k of ['tls.crt', 'ca.crt']) writeFileSync(join(dir, k), Buffer.from(secret.data[k], 'base64'));
        const results = routes.map((host) => {
          const server = opensslVerify(dir, host, 'sslserver');
          const client = opensslVerify(dir, host, 'sslclient');
          expect(server).toMatch(/: OK$/);
          expect(client).toMatch(/: OK$/);
          return `- ${host}: server ${server.split(': ').pop()}, client ${client.split(': ').pop()}`;
        });
        // The check bites: a name outside the certificate fails it.
        expect(() => opensslVerify(dir, 'nats-0.elsewhere.invalid', 'sslserver')).toThrow(/hostname mismatch/);
        s.facts.section('NATS routes on the issued certificate', [
          `Secret ${s.ns().app}/${secretName} from the real cert-manager, checked with \`openssl verify -CAfile ca.crt -purpose sslserver|sslclient -verify_hostname <route host>\` for each route of the committed nats.conf:`,
          ...results,
          '- nats-0.elsewhere.invalid: refused (hostname mismatch), so the check is real.',
        ]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('a Certificate naming an issuer the environment does not declare gets no Secret', async () => {
    const name = 'twin-probe-undeclared-issuer';
    const ns = s.ns().app;
    const probe: Manifest = {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name, namespace: ns },
      spec: {
        secretName: name,
        dnsNames: ['probe.invalid'],
        issuerRef: { group: 'cert-manager.io', kind: 'ClusterIssuer', name: 'twin-no-such-issuer' },
      },
    };
    const r = await s.kube.apply(probe);
    expect(r.status, r.message).toBeLessThan(300);
    try {
      const request = await waitFor(
        'its CertificateRequest waiting for the missing issuer',
        async () => {
          const list = await s.kube.list<Any>('cert-manager.io/v1', 'CertificateRequest', ns);
          const cr = list.find((x) => x.metadata.annotations?.['cert-manager.io/certificate-name'] === name);
          const cond = (cr?.status?.conditions ?? []).find((c: Any) => c.type === 'Ready');
          return cond?.status === 'False' && /not found/.test(String(cond.message)) ? cond : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      const cert = await s.kube.must<Any>('GET', `/apis/cert-manager.io/v1/namespaces/${ns}/certificates/${name}`);
      expect(ready(cert)).toBe(false);
      const secret = await s.kube.req('GET', `/api/v1/namespaces/${ns}/secrets/${name}`);
      expect(secret.status).toBe(404);
      s.facts.section('An undeclared issuer', [
        `Certificate ${ns}/${name} on ClusterIssuer twin-no-such-issuer: not Ready, no Secret; its CertificateRequest says: ${request.reason}: ${request.message}`,
      ]);
    } finally {
      await s.kube.req('DELETE', `/apis/cert-manager.io/v1/namespaces/${ns}/certificates/${name}`);
    }
  });
});
/* eslint-enable @typescript-eslint/no-explicit-any */
