/**
 * Credentials for the real NATS suites: fresh nkeys for every user and the auth callout issuer,
 * the Secret values the committed containers read (the same keys the NATS plan lists), and the
 * ticket file an executor pod gets (mode 0400, as the middleware's Secret is mounted).
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from '@nats-io/nats-core';
import type { SecretValues } from './kubelet-env';

/** An nkey pair as text. */
export interface NkeyPair {
  readonly seed: string;
  readonly publicKey: string;
}

const dec = new TextDecoder();

function pair(kp: { getSeed(): Uint8Array; getPublicKey(): string }): NkeyPair {
  return { seed: dec.decode(kp.getSeed()), publicKey: kp.getPublicKey() };
}

/** A new user nkey (U...). */
export function userKey(): NkeyPair {
  return pair(nkeys.createUser());
}

/** A new account nkey (A...), as the auth callout issuer is. */
export function accountKey(): NkeyPair {
  return pair(nkeys.createAccount());
}

/** The keys of one test: a current nkey per user, optionally a next one, and the issuer. */
export interface NatsTestKeys {
  readonly users: Readonly<Record<string, NkeyPair>>;
  readonly next?: Readonly<Record<string, NkeyPair>>;
  readonly issuer: NkeyPair;
}

export function newTestKeys(users: readonly string[]): NatsTestKeys {
  return { users: Object.fromEntries(users.map((u) => [u, userKey()])), issuer: accountKey() };
}

/**
 * The values of NATS's credentials Secret for `keys`, by Secret key: `<user>-nkey` (public),
 * `<user>-nkey-next` (public, the rotation's), `<user>-nkey-seed` (the client's; the next seed once
 * the client has switched: `seeds: 'next'`), `callout-issuer` and `callout-issuer-seed`. Only the
 * keys in `wanted` (the NATS plan's credentialKeys) are given, so a missing key fails like in the
 * cluster.
 */
export function credentialValues(
  keys: NatsTestKeys,
  wanted: readonly string[],
  seeds: 'current' | 'next' = 'current',
): Record<string, string> {
  const all: Record<string, string> = { 'callout-issuer': keys.issuer.publicKey };
  all['callout-issuer-seed'] = keys.issuer.seed;
  for (const [user, k] of Object.entries(keys.users)) {
    all[`${user}-nkey`] = k.publicKey;
    const next = keys.next?.[user];
    if (next) all[`${user}-nkey-next`] = next.publicKey;
    all[`${user}-nkey-seed`] = seeds === 'next' && next ? next.seed : k.seed;
  }
  const out: Record<string, string> = {};
  for (const w of wanted) {
    const v = all[w];
    if (v === undefined) throw new Error(`the test has no value for Secret key ${w}`);
    out[w] = v;
  }
  return out;
}

/** SecretValues with NATS's credentials Secret `name` holding `values`. */
export function natsSecrets(name: string, values: Readonly<Record<string, string>>): SecretValues {
  return { [name]: values };
}

let ticketDir: string | undefined;
let tickets = 0;

/** Writes an executor's ticket as the kubelet mounts it (mode 0400); returns the file. */
export function ticketFile(job: string, ticket: string): string {
  ticketDir ??= mkdtempSync(join(tmpdir(), 'coderun-tickets-'));
  const file = join(ticketDir, `${job}-${++tickets}.ticket`);
  writeFileSync(file, ticket, { mode: 0o600 });
  chmodSync(file, 0o400);
  return file;
}
