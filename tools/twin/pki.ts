/**
 * Throwaway credentials for one twin: a CA and the API server's serving certificate (openssl), the
 * service-account signing key pair (node:crypto), and static bearer tokens for the admin, the
 * controller manager, the scheduler and kwok. Everything lives in the twin's state directory and
 * dies with it.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Who holds which static token (kube-apiserver --token-auth-file). */
export interface Tokens {
  /** system:masters: the test client and the kubeconfig printed for users. */
  readonly admin: string;
  /** system:kube-controller-manager (bootstrap RBAC role of that name). */
  readonly controllerManager: string;
  /** system:kube-scheduler (bootstrap RBAC role of that name). */
  readonly scheduler: string;
  /** kwok stands in for every kubelet; it gets system:masters, as kwok's own setups do. */
  readonly kwok: string;
}

export interface Pki {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly saKey: string;
  readonly saPub: string;
  readonly tokenFile: string;
  readonly tokens: Tokens;
}

function openssl(args: readonly string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(
      `openssl ${args[0]} failed (openssl is required for the twin's certificates): ${err.stderr?.toString() ?? err.message}`,
    );
  }
}

/** `<name>.key` and `<name>.crt` in `dir`: ECDSA P-256, two days, self-signed unless `extra` names a CA. */
function newCert(dir: string, name: string, commonName: string, extra: readonly string[]): void {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-subj',
      `/CN=${commonName}`,
      ...extra,
    ],
    dir,
  );
}

/** Creates (or, when already there, reuses) the credentials in `dir`. */
export function makePki(dir: string, serviceIp: string): Pki {
  const p = (f: string) => join(dir, f);
  if (!existsSync(p('ca.crt'))) {
    newCert(dir, 'ca', 'coderun-twin-ca', []);
    newCert(dir, 'apiserver', 'kube-apiserver', [
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-addext',
      `subjectAltName=IP:127.0.0.1,IP:${serviceIp},DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local`,
      '-addext',
      'extendedKeyUsage=serverAuth',
      '-addext',
      'basicConstraints=critical,CA:FALSE',
    ]);
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(p('sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(p('sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    const t = () => randomBytes(24).toString('hex');
    const tokens: Tokens = { admin: t(), controllerManager: t(), scheduler: t(), kwok: t() };
    writeFileSync(p('tokens.json'), JSON.stringify(tokens), { mode: 0o600 });
    writeFileSync(
      p('tokens.csv'),
      [
        `${tokens.admin},twin-admin,twin-admin,"system:masters"`,
        `${tokens.controllerManager},system:kube-controller-manager,system:kube-controller-manager`,
        `${tokens.scheduler},system:kube-scheduler,system:kube-scheduler`,
        `${tokens.kwok},twin-kwok,twin-kwok,"system:masters"`,
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
  }
  const tokens = JSON.parse(readFileSync(p('tokens.json'), 'utf8')) as Tokens;
  return {
    dir,
    caCert: p('ca.crt'),
    serverCert: p('apiserver.crt'),
    serverKey: p('apiserver.key'),
    saKey: p('sa.key'),
    saPub: p('sa.pub'),
    tokenFile: p('tokens.csv'),
    tokens,
  };
}

/** A kubeconfig that reaches `server` with `token`, trusting the twin's CA. */
export function kubeconfig(name: string, server: string, caCert: string, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${name}`,
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority: ${caCert}`,
    'users:',
    `- name: ${name}`,
    '  user:',
    `    token: ${token}`,
    'contexts:',
    `- name: ${name}`,
    '  context:',
    `    cluster: ${name}`,
    `    user: ${name}`,
    `current-context: ${name}`,
    '',
  ].join('\n');
}

/** A certificate and its key, PEM. */
export interface Issued {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/**
 * A certificate signed by the twin's CA (ECDSA P-256, two days), for a server or a client that
 * stands in for part of the cluster: `names` become DNS subject alternative names (IPs for
 * dotted quads), `usages` the extended key usages (serverAuth, clientAuth), `isCA` a CA certificate.
 */
export function issueCert(
  pki: Pki,
  commonName: string,
  opts: { readonly names?: readonly string[]; readonly usages?: readonly string[]; readonly isCA?: boolean } = {},
): Issued {
  const dir = mkdtempSync(join(pki.dir, 'issued-'));
  try {
    const san = (opts.names ?? []).map((n) => (/^\d+\.\d+\.\d+\.\d+$/.test(n) ? `IP:${n}` : `DNS:${n}`));
    const usages = opts.usages ?? [];
    newCert(dir, 'tls', commonName, [
      '-CA',
      pki.caCert,
      '-CAkey',
      join(pki.dir, 'ca.key'),
      ...(san.length > 0 ? ['-addext', `subjectAltName=${san.join(',')}`] : []),
      ...(usages.length > 0 ? ['-addext', `extendedKeyUsage=${usages.join(',')}`] : []),
      '-addext',
      `basicConstraints=critical,CA:${opts.isCA ? 'TRUE' : 'FALSE'}`,
    ]);
    return {
      cert: readFileSync(join(dir, 'tls.crt'), 'utf8'),
      key: readFileSync(join(dir, 'tls.key'), 'utf8'),
      ca: readFileSync(pki.caCert, 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
