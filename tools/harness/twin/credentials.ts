/**
 * Throwaway credentials for one twin: its CA and the API server's serving certificate (the
 * harness's PKI), the front-proxy CA and the client certificate the API server's aggregator presents
 * to add-on API servers (metrics-server), the service-account signing key pair (node:crypto), and
 * static bearer tokens for the admin, the controller manager, the scheduler, kwok and the cluster
 * add-ons. Everything lives in the twin's state directory and dies with it.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  /** The real metrics-server, as user twin-metrics-server with metrics-server's own RBAC (addons.ts). */
  readonly metricsServer: string;
  /** The real cert-manager controllers, as user twin-cert-manager with their RBAC (addons.ts). */
  readonly certManager: string;
  /** The real External Secrets reconcilers, as user twin-external-secrets with their RBAC (addons.ts). */
  readonly externalSecrets: string;
  /** The real Argo Rollouts controller, as user twin-argo-rollouts with its release ClusterRole (addons.ts). */
  readonly argoRollouts: string;
  /** A Prometheus server's Kubernetes service discovery, as user twin-prometheus (pods: get, list, watch). */
  readonly prometheus: string;
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
  /** CA the API server trusts for the aggregator's requests to add-on API servers (--requestheader-client-ca-file). */
  readonly frontProxyCa: string;
  /** The aggregator's client certificate (--proxy-client-cert-file) and key, CN front-proxy-client. */
  readonly proxyClientCert: string;
  readonly proxyClientKey: string;
}

/** The common name the aggregator's client certificate carries (--requestheader-allowed-names). */
export const FRONT_PROXY_CLIENT = 'front-proxy-client';

/** The user names of the add-ons' static tokens (their RBAC binds these users). */
export const ADDON_USERS = {
  metricsServer: 'twin-metrics-server',
  certManager: 'twin-cert-manager',
  externalSecrets: 'twin-external-secrets',
  argoRollouts: 'twin-argo-rollouts',
  prometheus: 'twin-prometheus',
} as const;

/** Creates (or, when already there, reuses) the credentials in `dir`. */
export function makeCredentials(dir: string, serviceIp: string): Credentials {
  const p = (f: string) => join(dir, f);
  const fresh = !existsSync(p('ca.crt'));
  const ca = makeCa(dir, 'coderun-twin-ca');
  // A CA of its own: a client certificate of the twin's CA must not be able to assert identities.
  const frontProxyDir = p('front-proxy');
  mkdirSync(frontProxyDir, { recursive: true });
  const frontProxy = makeCa(frontProxyDir, 'coderun-twin-front-proxy-ca');
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
    issueFiles(frontProxy, frontProxyDir, 'proxy-client', FRONT_PROXY_CLIENT, { usages: ['clientAuth'] });
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(p('sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(p('sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    const t = () => randomBytes(24).toString('hex');
    const tokens: Tokens = {
      admin: t(),
      controllerManager: t(),
      scheduler: t(),
      kwok: t(),
      metricsServer: t(),
      certManager: t(),
      externalSecrets: t(),
      argoRollouts: t(),
      prometheus: t(),
    };
    writeFileSync(p('tokens.json'), JSON.stringify(tokens), { mode: 0o600 });
    writeFileSync(
      p('tokens.csv'),
      [
        `${tokens.admin},twin-admin,twin-admin,"system:masters"`,
        `${tokens.controllerManager},system:kube-controller-manager,system:kube-controller-manager`,
        `${tokens.scheduler},system:kube-scheduler,system:kube-scheduler`,
        `${tokens.kwok},twin-kwok,twin-kwok,"system:masters"`,
        `${tokens.metricsServer},${ADDON_USERS.metricsServer},${ADDON_USERS.metricsServer}`,
        `${tokens.certManager},${ADDON_USERS.certManager},${ADDON_USERS.certManager}`,
        `${tokens.externalSecrets},${ADDON_USERS.externalSecrets},${ADDON_USERS.externalSecrets}`,
        `${tokens.argoRollouts},${ADDON_USERS.argoRollouts},${ADDON_USERS.argoRollouts}`,
        `${tokens.prometheus},${ADDON_USERS.prometheus},${ADDON_USERS.prometheus}`,
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
    frontProxyCa: frontProxy.certFile,
    proxyClientCert: join(frontProxyDir, 'proxy-client.crt'),
    proxyClientKey: join(frontProxyDir, 'proxy-client.key'),
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
