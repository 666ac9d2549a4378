/**
 * NATS passwords reach nats.conf through environment variables, and nats-server lexes such a value
 * again as config text. With the committed StatefulSet env (the kubelet quotes each password), no
 * generated password may break the config or be cut short: the full password signs in, and a prefix
 * or an extension of it does not. The one character that cannot be quoted, `'`, must make the server
 * refuse to start (loudly), never start with a different password.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../../src/model/objects';
import { loadCommitted } from '../../support/committed';
import { prepareCluster } from '../../../tools/harness/nats-server';
import { stopAll, waitFor } from '../../../tools/harness/process';
import { tool } from '../../../tools/harness/tools';

const committed = loadCommitted();
const envNames = [...new Set(committed.map((d) => d.env.name))];
const USERS = ['frontend', 'middleware', 'executor'] as const;

const EDGE_CASES = [
  '12345678901234567890',
  '0',
  '2e7',
  '1e10abcdef',
  '10MB',
  'true',
  'no',
  '2024-01-01T00:00:00Z',
  'abc;def',
  'a,b,c',
  'x}y',
  '{a}',
  '[list]',
  'a#b',
  'a//b',
  '$HOME',
  '$(NATS_FRONTEND_PASSWORD_SECRET)',
  'with space',
  ' leading and trailing ',
  '"quoted"',
  'back\\slash\\n',
  'tab\there',
  'contraseña-ñandú',
  'a=b:c',
  'include other.conf',
];

/** Printable ASCII (space to ~) except the single quote, 8 to 40 characters. */
function randomPassword(): string {
  const chars = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).filter((c) => c !== "'");
  return Array.from({ length: randomInt(8, 41) }, () => chars[randomInt(chars.length)]).join('');
}

const RANDOM = Array.from({ length: 64 }, randomPassword);
const ALL = [...EDGE_CASES, ...RANDOM, randomBytes(24).toString('hex')];

function find(env: string, kind: string, name: string): Manifest {
  const d = committed.find((x) => x.env.name === env && x.object.kind === kind && x.object.metadata.name === name);
  if (!d) throw new Error(`${env}: no committed ${kind} ${name}`);
  return d.object;
}

function secretsFor(env: string, pw: Readonly<Record<(typeof USERS)[number], string>>) {
  const cfg = committed.find((d) => d.env.name === env)?.env;
  if (!cfg) throw new Error(env);
  return {
    [cfg.secrets.nats]: {
      'frontend-password': pw.frontend,
      'middleware-password': pw.middleware,
      'executor-password': pw.executor,
    },
  };
}

afterAll(async () => {
  await stopAll();
});

describe.each(envNames)('NATS passwords in %s', (envName) => {
  const sts = find(envName, 'StatefulSet', 'nats');
  const cm = find(envName, 'ConfigMap', 'nats-config');

  /** Starts node 0 with these passwords; returns a sign-in check, or the refusal. */
  async function serverWith(pw: Record<(typeof USERS)[number], string>) {
    const cluster = await prepareCluster(sts, cm, secretsFor(envName, pw));
    const server = tool('nats', 'nats-server');
    const signIn = async (user: string, pass: string): Promise<boolean> => {
      try {
        const nc = await connect({
          servers: cluster.url(0),
          user,
          pass,
          // A refusal comes at once; a sign-in under load may take seconds (TLS, bcrypt).
          timeout: 20_000,
          reconnect: false,
          ...(cluster.pki ? { tls: { caFile: cluster.pki.caFile } } : {}),
        });
        await nc.close();
        return true;
      } catch {
        return false;
      }
    };
    return { cluster, server, signIn };
  }

  it(`signs in with each of ${ALL.length} generated passwords, and with no prefix or extension of one`, async () => {
    const failures: string[] = [];
    for (let i = 0; i < ALL.length; i += USERS.length) {
      const batch = USERS.map((_, j) => ALL[(i + j) % ALL.length] ?? '');
      const pw = { frontend: batch[0] ?? '', middleware: batch[1] ?? '', executor: batch[2] ?? '' };
      const { cluster, server, signIn } = await serverWith(pw);
      const proc = await cluster.startNode(0, server, '/varz');
      for (const user of USERS) {
        const p = pw[user];
        if (!(await signIn(user, p))) failures.push(`${user} ${JSON.stringify(p)}: refused`);
        const cut = p.search(/[^A-Za-z0-9]/);
        if (cut > 0 && (await signIn(user, p.slice(0, cut))))
          failures.push(
            `${user} ${JSON.stringify(p)}: its prefix ${JSON.stringify(p.slice(0, cut))} signs in (truncated)`,
          );
        if (await signIn(user, `${p}x`)) failures.push(`${user} ${JSON.stringify(p)}: an extension signs in`);
      }
      await proc.stop();
    }
    expect(failures).toEqual([]);
  }, 300_000);

  it("refuses to start, loudly, when a password holds a single quote (the README's one forbidden character)", async () => {
    const { cluster, server } = await serverWith({ frontend: "it's", middleware: 'm', executor: 'e' });
    await expect(cluster.startNode(0, server, '/varz')).rejects.toThrow(/exited with [1-9]/);
    await waitFor('process gone', () => cluster.nodes[0]?.proc?.child.exitCode !== null);
  });
});
