/**
 * A throwaway CA and one certificate signed by it, made with openssl in a temp dir, for servers that
 * an environment runs with TLS. The certificate is valid for 127.0.0.1 and localhost, for server and
 * client auth (NATS routes are mutual TLS).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pki {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export function makePki(dir: string, commonName = 'coderun-test'): Pki {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  run(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key']);
  run(['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=coderun-test-ca', '-days', '2', '-out', 'ca.crt']);
  run(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'tls.key']);
  run(['req', '-new', '-key', 'tls.key', '-subj', `/CN=${commonName}`, '-out', 'tls.csr']);
  writeFileSync(
    join(dir, 'ext.cnf'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n',
  );
  run(
    ['x509', '-req', '-in', 'tls.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2'].concat([
      '-extfile',
      'ext.cnf',
      '-out',
      'tls.crt',
    ]),
  );
  return { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key') };
}
