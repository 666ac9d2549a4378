/**
 * Rotating a NATS credential (README, "Rotating a NATS credential"), with the real nats-server and
 * a real client, for every user whose nkey can rotate (all at once) and every environment:
 *
 *   before  the committed render; the Secret holds the old public key: only the old seed signs in.
 *   during  the environment file lists the users under services.nats.rotating (rendered by the
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

/** The environment rendered by the generator with `users` listed under services.nats.rotating. */
function rotatingRender(envName: string, users: readonly string[]): { sts: Manifest; cm: Manifest; keys: string[] } {
  const file = `environments/${envName}.yaml`;
  const doc = parseDocument(readFileSync(path.join(root, file), 'utf8'));
  doc.setIn(['services', 'nats', 'rotating'], [...users]);
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

  it("rotates every user's nkey: before only the old keys, during both, after only the new", async () => {
    const server = tool('nats', 'nats-server');
    const users = NATS_USERS.map((u) => u.user);
    const keys = newTestKeys(users);
    const next = { ...keys, next: Object.fromEntries(users.map((u) => [u, userKey()])) };

    /** Starts the server from sts/cm with `values` in the NATS Secret; returns a sign-in probe. */
    const step = async (s: Manifest, c: Manifest, values: Record<string, string>) => {
      const secrets = natsSecrets(env.secrets.nats, values);
      const cluster: NatsCluster = await prepareCluster(s, c, secrets);
      // One server is enough to prove what it accepts; the cluster's members run the same config.
      await cluster.startNode(0, server, cluster.nodes.length > 1 ? '/varz' : '/healthz');
      /** Why each refused sign-in was refused (the client's error), for failure messages. */
      const why: string[] = [];
      /** "<user> <which>: signed in" (with its own permissions) or "...: refused". */
      const signIns = async () => {
        const one = async (user: string, which: 'old' | 'new') => {
          const seed = (which === 'old' ? keys.users[user] : next.next[user])?.seed ?? '';
          const deployment = committedObject(envName, 'Deployment', user);
          const vars = containerEnv(container(deployment, user).env, { secrets, podName: `${user}-test` });
          const conn = await client
            .connect({
              ...vars,
              NATS_NKEY_SEED: seed,
              NATS_URL: cluster.url(0),
              ...(vars.NATS_CA_FILE && cluster.pki ? { NATS_CA_FILE: cluster.pki.caFile } : {}),
            })
            .catch((e: Error) => e);
          // A key the server does not know goes to the auth callout, which no middleware answers
          // here: the server refuses it after the callout's timeout, so the sign-ins run side by side.
          if (conn instanceof Error) {
            why.push(`${user} ${which}: ${conn.message}`);
            return `${user} ${which}: refused`;
          }
          // The same permissions whichever key: its own inbox yes, another user's inbox no.
          const own = await conn.attempt({ name: 'own inbox', op: 'sub', args: [`_INBOX_${user}.probe`] });
          const other = await conn.attempt({ name: 'shared inbox', op: 'sub', args: ['_INBOX.>'] });
          await conn.close();
          return `${user} ${which}: ${own.ok && !other.ok ? 'signed in' : `other permissions (${own.error})`}`;
        };
        return Promise.all(users.flatMap((u) => [one(u, 'old'), one(u, 'new')]));
      };
      return { cluster, signIns, why };
    };
    const expected = (old: string, now: string) => users.flatMap((u) => [`${u} old: ${old}`, `${u} new: ${now}`]);

    const before = await step(sts, cm, credentialValues(keys, natsCredentialKeys(env.services.nats)));
    expect(await before.signIns(), before.why.join('; ')).toEqual(expected('signed in', 'refused'));
    await before.cluster.nodes[0]?.proc?.stop();

    const rotating = rotatingRender(envName, users);
    const during = await step(rotating.sts, rotating.cm, credentialValues(next, rotating.keys, 'next'));
    for (const u of users)
      expect(during.cluster.nodes[0]?.config).toContain(`nkey: $NATS_${u.toUpperCase()}_NKEY_NEXT`);
    expect(await during.signIns(), during.why.join('; ')).toEqual(expected('signed in', 'signed in'));
    await during.cluster.nodes[0]?.proc?.stop();

    // Done: the new keys move to <user>-nkey; <user>-nkey-next and the rotating entries go.
    const done = { ...keys, users: next.next };
    const after = await step(sts, cm, credentialValues(done, natsCredentialKeys(env.services.nats)));
    expect(await after.signIns(), after.why.join('; ')).toEqual(expected('refused', 'signed in'));
    await after.cluster.nodes[0]?.proc?.stop();
  }, 120_000);
});
