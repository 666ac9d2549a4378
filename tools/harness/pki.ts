/**
 * The harness's one PKI: throwaway CAs and certificates signed by them (openssl; ECDSA P-256, valid
 * two days), for the twin (the API server's serving certificate, the cert-manager stand-in's
 * certificates, the metrics API) and for the servers the real-software suites run with TLS (NATS,
 * whose routes are mutual TLS, and the git server Argo CD reads). Everything lives in a temp or
 * state directory and dies with it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** A CA: its certificate and key, PEM files in `dir`. */
export interface Ca {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** A certificate, its key and the CA that signed it, as PEM files. */
export interface TlsFiles {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

/** A certificate, its key and the CA that signed it, as PEM text. */
export interface Issued {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

export interface CertOptions {
  /** Subject alternative names: IPs for dotted quads, DNS names otherwise. */
  readonly names?: readonly string[];
  /** Extended key usages (serverAuth, clientAuth). */
  readonly usages?: readonly string[];
  /** A CA certificate (for a cert-manager Certificate with isCA). */
  readonly isCA?: boolean;
}

function openssl(args: readonly string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(
      `openssl ${args[0]} failed (openssl is required for the harness's certificates): ${err.stderr?.toString() ?? err.message}`,
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

/** A CA in `dir` (ca.crt, ca.key); one already there is reused. */
export function makeCa(dir: string, commonName: string): Ca {
  if (!existsSync(join(dir, 'ca.crt'))) newCert(dir, 'ca', commonName, []);
  return { dir, certFile: join(dir, 'ca.crt'), keyFile: join(dir, 'ca.key') };
}

/** `<name>.crt` and `<name>.key` in `dir`, signed by `ca`. */
export function issueFiles(ca: Ca, dir: string, name: string, commonName: string, opts: CertOptions = {}): TlsFiles {
  const san = (opts.names ?? []).map((n) => (/^\d+\.\d+\.\d+\.\d+$/.test(n) ? `IP:${n}` : `DNS:${n}`));
  const usages = opts.usages ?? [];
  newCert(dir, name, commonName, [
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    ...(san.length > 0 ? ['-addext', `subjectAltName=${san.join(',')}`] : []),
    ...(usages.length > 0 ? ['-addext', `extendedKeyUsage=${usages.join(',')}`] : []),
    '-addext',
    `basicConstraints=critical,CA:${opts.isCA ? 'TRUE' : 'FALSE'}`,
  ]);
  return { caFile: ca.certFile, certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
}

/** A certificate signed by `ca`, as PEM text (made in a temp dir under the CA's, then removed). */
export function issueCert(ca: Ca, commonName: string, opts: CertOptions = {}): Issued {
  const dir = mkdtempSync(join(ca.dir, 'issued-'));
  try {
    const files = issueFiles(ca, dir, 'tls', commonName, opts);
    return {
      cert: readFileSync(files.certFile, 'utf8'),
      key: readFileSync(files.keyFile, 'utf8'),
      ca: readFileSync(ca.certFile, 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A throwaway CA and one certificate signed by it in `dir` (ca.crt, tls.crt, tls.key), for a server
 * on loopback: valid for 127.0.0.1 and localhost, for server and client auth (NATS routes are mutual TLS).
 */
export function makeServerTls(dir: string, commonName = 'coderun-test'): TlsFiles {
  const ca = makeCa(dir, 'coderun-test-ca');
  return issueFiles(ca, dir, 'tls', commonName, {
    names: ['127.0.0.1', 'localhost'],
    usages: ['serverAuth', 'clientAuth'],
  });
}
