/**
 * Rotating a NATS credential (README, "Rotating a NATS credential"), with the real nats-server and
 * the real clients, for every user whose nkey can rotate and every environment:
 *
 *   before  the committed render; the Secret holds the old public key: only the old seed signs in.
 *   during  the environment file lists the user under services.nats.rotating (rendered by the
 *           generator from the committed file plus that one line); the Secret holds the old key and
 *           the new one under <user>-nkey-next: both seeds sign in, with the same permissions.
 *   after   the committed render again, the Secret holding only the new key: the new seed signs in,
 *           the old one is refused.
 *
 * Between the steps the server restarts, as the rolling update the changed config checksum causes.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEnvironment } from '../../../apps/environment';
import { platformObjects } from '../../../apps/platform';
import { NATS_USERS } from '../../../charts/nats/definition';
import { natsCredentialKeys } from '../../../charts/nats/plan';
import type { Manifest } from '../../../src/model/objects';
import { loadCommitted } from '../../support/committed';
import { containerEnv } from '../../../tools/harness/kubelet-env';
import { credentialValues, natsSecrets, newTestKeys, userKey } from '../../../tools/harness/nats-auth';
import { JS_DRIVERS } from '../../../tools/harness/nats-js';
import { container, prepareCluster, type NatsCluster } from '../../../tools/harness/nats-server';
import { stopAll } from '../../../tools/harness/process';
import { tool } from '../../../tools/harness/tools';

const root = path.resolve(__dirname, '../../..');
const committed = loadCommitted();
const envNames = [...new Set(committed.map((d) => d.env.name))];

afterAll(async () => {
  await stopAll();
});

function committedObject(env: string, kind: string, name: string): Manifest {
  const d = committed.find((x) => x.env.name === env && x.object.kind === kind && x.object.metadata.name === name);
  if (!d) throw new Error(`${env}: no committed ${kind} ${name}`);
  return d.object;
}

/** The environment rendered by the generator with `user` listed under services.nats.rotating. */
function rotatingRender(envName: string, user: string): { sts: Manifest; cm: Manifest; keys: string[] } {
  const file = `environments/${envName}.yaml`;
  const doc = parseDocument(readFileSync(path.join(root, file), 'utf8'));
  doc.setIn(['services', 'nats', 'rotating'], [user]);
  const env = parseEnvironment(doc.toString(), file, envName, root);
  const objects = platformObjects(env).flatMap((c) => c.objects);
  const pick = (kind: string, name: string) => {
    const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
    if (!o) throw new Error(`${kind} ${name} not rendered`);
    return o;
  };
  return {
    sts: pick('StatefulSet', 'nats'),
    cm: pick('ConfigMap', 'nats-config'),
    keys: natsCredentialKeys(env.services.nats),
  };
}

describe.each(envNames)('NATS credential rotation in %s', (envName) => {
  const env = committed.find((d) => d.env.name === envName)?.env;
  if (!env) throw new Error(envName);
  const sts = committedObject(envName, 'StatefulSet', 'nats');
  const cm = committedObject(envName, 'ConfigMap', 'nats-config');
  const client = JS_DRIVERS.at(-1);
  if (!client) throw new Error('no nats.js driver');

  it.each(NATS_USERS.map((u) => u.user))(
    'rotates the nkey of %s: before only the old, during both, after only the new',
    async (user) => {
      const server = tool('nats', 'nats-server');
      const keys = newTestKeys(NATS_USERS.map((u) => u.user));
      const next = { ...keys, next: { [user]: userKey() } };
      const deployment = committedObject(envName, 'Deployment', user);

      /** Starts the server from sts/cm with `values` in the NATS Secret; returns a sign-in probe. */
      const step = async (s: Manifest, c: Manifest, values: Record<string, string>) => {
        const secrets = natsSecrets(env.secrets.nats, values);
        const cluster: NatsCluster = await prepareCluster(s, c, secrets);
        // One server is enough to prove what it accepts; the cluster's members run the same config.
        await cluster.startNode(0, server, cluster.nodes.length > 1 ? '/varz' : '/healthz');
        const signsIn = async (seed: string) => {
          const vars = containerEnv(container(deployment, user).env, { secrets, podName: `${user}-test` });
          const conn = await client
            .connect({
              ...vars,
              NATS_NKEY_SEED: seed,
              NATS_URL: cluster.url(0),
              ...(vars.NATS_CA_FILE && cluster.pki ? { NATS_CA_FILE: cluster.pki.caFile } : {}),
            })
            .catch((e: Error) => e);
          if (conn instanceof Error) return `refused (${conn.message})`;
          // The same permissions whichever key: its own inbox yes, another user's inbox no.
          const own = await conn.attempt({ name: 'own inbox', op: 'sub', args: [`_INBOX_${user}.probe`] });
          const other = await conn.attempt({ name: 'shared inbox', op: 'sub', args: ['_INBOX.>'] });
          await conn.close();
          return own.ok && !other.ok
            ? 'signed in'
            : `signed in with other permissions (${own.error} ${String(other.ok)})`;
        };
        return { cluster, signsIn };
      };
      const seeds = { old: keys.users[user]?.seed ?? '', new: next.next[user]?.seed ?? '' };

      const before = await step(sts, cm, credentialValues(keys, natsCredentialKeys(env.services.nats)));
      expect([await before.signsIn(seeds.old), await before.signsIn(seeds.new)]).toEqual([
        'signed in',
        expect.stringMatching(/^refused/),
      ]);
      await before.cluster.nodes[0]?.proc?.stop();

      const rotating = rotatingRender(envName, user);
      const during = await step(rotating.sts, rotating.cm, credentialValues(next, rotating.keys, 'next'));
      expect(during.cluster.nodes[0]?.config).toContain(`nkey: $NATS_${user.toUpperCase()}_NKEY_NEXT`);
      expect([await during.signsIn(seeds.old), await during.signsIn(seeds.new)]).toEqual(['signed in', 'signed in']);
      await during.cluster.nodes[0]?.proc?.stop();

      // Done: the new key moves to <user>-nkey, <user>-nkey-next and the rotating entry go.
      const done = { ...keys, users: { ...keys.users, [user]: next.next[user] ?? userKey() } };
      const after = await step(sts, cm, credentialValues(done, natsCredentialKeys(env.services.nats)));
      expect([await after.signsIn(seeds.old), await after.signsIn(seeds.new)]).toEqual([
        expect.stringMatching(/^refused/),
        'signed in',
      ]);
      await after.cluster.nodes[0]?.proc?.stop();
    },
    120_000,
  );
});
