/**
 * Throwaway credentials for one twin: its CA and the API server's serving certificate (the
 * harness's PKI), the service-account signing key pair (node:crypto), and static bearer tokens for
 * the admin, the controller manager, the scheduler and kwok. Everything lives in the twin's state
 * directory and dies with it.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { issueFiles, makeCa, type Ca } from '../pki';

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

export interface Credentials {
  readonly dir: string;
  /** The twin's CA, which also signs the stand-ins' certificates. */
  readonly ca: Ca;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly saKey: string;
  readonly saPub: string;
  readonly tokenFile: string;
  readonly tokens: Tokens;
}

/** Creates (or, when already there, reuses) the credentials in `dir`. */
export function makeCredentials(dir: string, serviceIp: string): Credentials {
  const p = (f: string) => join(dir, f);
  const fresh = !existsSync(p('ca.crt'));
  const ca = makeCa(dir, 'coderun-twin-ca');
  if (fresh) {
    issueFiles(ca, dir, 'apiserver', 'kube-apiserver', {
      names: [
        '127.0.0.1',
        serviceIp,
        'localhost',
        'kubernetes',
        'kubernetes.default',
        'kubernetes.default.svc',
        'kubernetes.default.svc.cluster.local',
      ],
      usages: ['serverAuth'],
    });
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
    ca,
    caCert: ca.certFile,
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
