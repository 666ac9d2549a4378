/**
 * Cluster suite scenario: the real External Secrets reconcilers (tools/go/external-secrets, ESO's
 * own ExternalSecret and ClusterSecretStore controllers with its fake provider) sync every rendered
 * ExternalSecret from the ClusterSecretStore the twin creates under the name the environment
 * declares, holding the properties the platform's Secrets read under the environment's remote keys:
 * every key of every target Secret exists with the store's value, as the remoteRefs are written. An
 * ExternalSecret reading a remote key the store lacks stays not Ready and gets no Secret. On the
 * environment's shared twin (./scenario.ts); facts go to .build/twin-<env>-external-secrets.md.
 */
import { expect, it } from 'vitest';
import type { Manifest } from '../../../src/model/objects';
import { waitFor } from '../../../tools/harness/process';
import { twinScenario } from './scenario';

/* eslint-disable @typescript-eslint/no-explicit-any -- objects as the API server returns them */
type Any = any;

const readyCondition = (o: Any) => (o?.status?.conditions ?? []).find((c: Any) => c.type === 'Ready');

export const externalSecretsScenario = twinScenario('external-secrets', (s) => {
  const rendered = s.byKind('ExternalSecret');
  if (s.env.secrets.provider !== 'external-secrets') {
    const why = `${s.envName} uses secrets.provider ${s.env.secrets.provider}, not external-secrets`;
    console.log(
      `[control-plane twin ${s.envName}] skipped 'External Secrets syncs every rendered ExternalSecret': ${why}`,
    );
    s.facts.section('External Secrets', [`Not run: ${why}.`]);
    it.skip(`External Secrets syncs every rendered ExternalSecret (skipped: ${why})`, () => undefined);
    return;
  }

  it('the real External Secrets syncs every rendered ExternalSecret from the declared store, every key with its value', async () => {
    const store = s.twin.secretStore;
    expect(store, 'the twin ran External Secrets (the environment uses it)').toBeDefined();
    expect(rendered.length).toBeGreaterThan(0);
    const lines: string[] = [];
    for (const o of rendered) {
      const spec = o.spec as {
        target?: { name?: string; creationPolicy?: string };
        data: { secretKey: string; remoteRef: { key: string; property?: string } }[];
      };
      const ns = o.metadata.namespace;
      const id = `ExternalSecret ${ns}/${o.metadata.name}`;
      const live = await waitFor(
        `${id} Ready`,
        async () => {
          const r = await s.kube.req<Any>(
            'GET',
            `/apis/external-secrets.io/v1/namespaces/${ns}/externalsecrets/${o.metadata.name}`,
          );
          return readyCondition(r.body)?.status === 'True' ? r.body : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      const target = spec.target?.name ?? o.metadata.name;
      const secret = await s.kube.must<Any>('GET', `/api/v1/namespaces/${ns}/secrets/${target}`);
      expect(Object.keys(secret.data ?? {}).sort(), `${id}: keys of Secret ${target}`).toEqual(
        spec.data.map((d) => d.secretKey).sort(),
      );
      for (const d of spec.data) {
        const want = store?.[d.remoteRef.key]?.[d.remoteRef.property ?? ''];
        expect(want, `${id}: the store holds ${d.remoteRef.key} ${d.remoteRef.property}`).toBeDefined();
        expect(Buffer.from(String(secret.data[d.secretKey]), 'base64').toString(), `${id}: ${d.secretKey}`).toBe(want);
      }
      if ((spec.target?.creationPolicy ?? 'Owner') === 'Owner') {
        expect(
          (secret.metadata.ownerReferences ?? []).map((r: Any) => `${r.kind}/${r.name}`),
          `${id}: owns its Secret`,
        ).toContain(`ExternalSecret/${o.metadata.name}`);
      }
      lines.push(
        `- ${id}: Ready (${readyCondition(live)?.reason}); Secret ${target} holds ${spec.data
          .map((d) => `${d.secretKey} ← ${d.remoteRef.key}.${d.remoteRef.property}`)
          .join(', ')}, each equal to the store's value.`,
      );
    }
    const es = s.env.secrets.externalSecrets;
    s.facts.section('External Secrets (the real reconcilers, fake provider)', [
      `${es?.store.kind} ${es?.store.name} (ESO's fake provider) holds ${Object.entries(store ?? {})
        .map(([k, props]) => `${k}: ${Object.keys(props).join(', ')}`)
        .join('; ')} (generated values).`,
      ...lines,
    ]);
  });

  it('an ExternalSecret reading a remote key the store lacks stays not Ready and gets no Secret', async () => {
    const es = s.env.secrets.externalSecrets;
    const ns = s.ns().app;
    const name = 'twin-probe-missing-remote-key';
    const probe: Manifest = {
      apiVersion: 'external-secrets.io/v1',
      kind: 'ExternalSecret',
      metadata: { name, namespace: ns },
      spec: {
        refreshInterval: '1h',
        secretStoreRef: { kind: es?.store.kind, name: es?.store.name },
        target: { name, creationPolicy: 'Owner' },
        data: [{ secretKey: 'value', remoteRef: { key: 'twin-no-such-remote-key', property: 'value' } }],
      },
    };
    const r = await s.kube.apply(probe);
    expect(r.status, r.message).toBeLessThan(300);
    try {
      const cond = await waitFor(
        `${name} not Ready`,
        async () => {
          const x = await s.kube.req<Any>(
            'GET',
            `/apis/external-secrets.io/v1/namespaces/${ns}/externalsecrets/${name}`,
          );
          const c = readyCondition(x.body);
          return c?.status === 'False' ? c : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      expect((await s.kube.req('GET', `/api/v1/namespaces/${ns}/secrets/${name}`)).status).toBe(404);
      s.facts.section('A missing remote key', [
        `ExternalSecret ${ns}/${name} reading twin-no-such-remote-key: Ready False (${cond.reason}: ${cond.message}); no Secret.`,
      ]);
    } finally {
      await s.kube.req('DELETE', `/apis/external-secrets.io/v1/namespaces/${ns}/externalsecrets/${name}`);
    }
  });
});
/* eslint-enable @typescript-eslint/no-explicit-any */
