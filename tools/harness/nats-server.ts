/**
 * Runs the committed NATS StatefulSet of an environment as real nats-server processes on loopback.
 * Only addresses and paths are rewritten: each container port moves to a free loopback port, each
 * volume mount to a temp dir, and the route URLs to the peers' loopback cluster ports. Everything
 * else (JetStream limits, accounts, users, permissions, the auth callout, TLS settings, lame duck) is the
 * committed text.
 */
import { mkdirSync, mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Manifest } from '../../src/model/objects';
import { containerEnv, type EnvVarSpec, type SecretValues } from './kubelet-env';
import { makeServerTls, type TlsFiles } from './pki';
import { freePorts } from './ports';
import { httpGet, start, waitFor, type Running } from './process';

export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: readonly EnvVarSpec[];
  readonly ports?: readonly { name?: string; containerPort: number }[];
  readonly volumeMounts?: readonly { name: string; mountPath: string }[];
  readonly startupProbe?: { httpGet?: { path: string; port: string | number } };
  readonly readinessProbe?: { httpGet?: { path: string; port: string | number } };
  readonly livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readonly lifecycle?: { preStop?: { exec?: { command: readonly string[] } } };
}

export interface PodTemplateSpec {
  readonly terminationGracePeriodSeconds?: number;
  readonly containers: readonly ContainerSpec[];
  readonly volumes?: readonly { name: string; configMap?: { name: string }; secret?: { secretName: string } }[];
}

/** The pod template of a Deployment, StatefulSet or PodTemplate object. */
export function podSpec(o: Manifest): PodTemplateSpec {
  const spec = (o as unknown as { spec?: { template?: { spec?: PodTemplateSpec } } }).spec;
  const t = (o as unknown as { template?: { spec?: PodTemplateSpec } }).template;
  const s = spec?.template?.spec ?? t?.spec;
  if (!s) throw new Error(`${o.kind} ${o.metadata.name} has no pod template`);
  return s;
}

export function container(o: Manifest, name: string): ContainerSpec {
  const c = podSpec(o).containers.find((x) => x.name === name);
  if (!c) throw new Error(`${o.kind} ${o.metadata.name} has no container '${name}'`);
  return c;
}

/** Replaces every occurrence of `from` in `text`; throws if there is none, so no rewrite is silently missed. */
function replaceAll(text: string, from: RegExp, to: string, what: string): string {
  if (!from.test(text)) throw new Error(`rewriting nats.conf for loopback: found no ${what} (${String(from)})`);
  return text.replace(from, to);
}

export interface NatsNode {
  readonly index: number;
  readonly podName: string;
  readonly clientPort: number;
  readonly httpPort: number;
  readonly clusterPort: number;
  readonly dir: string;
  /** Local path of each volume mount of the nats container, by mountPath. */
  readonly mounts: Readonly<Record<string, string>>;
  readonly config: string;
  readonly env: Record<string, string>;
  proc?: Running;
}

export interface NatsCluster {
  readonly nodes: NatsNode[];
  readonly pki?: TlsFiles;
  /** Client URL of node i, with the scheme the environment's clients use (tls:// when TLS is on). */
  url(i?: number): string;
  /**
   * Starts node i and waits for /healthz (or only /varz: a lone member of a cluster has no JetStream
   * quorum) and for its client port to accept connections: nats-server serves monitoring before it
   * listens for clients, and under load the gap is seconds.
   */
  startNode(i: number, bin: string, ready?: '/healthz' | '/varz'): Promise<Running>;
}

/**
 * Prepares one loopback node per StatefulSet replica from the committed StatefulSet and ConfigMap.
 * `secrets` gives the Secret values the test made (public nkeys for the server).
 */
export async function prepareCluster(
  statefulSet: Manifest,
  configMap: Manifest,
  secrets: SecretValues,
): Promise<NatsCluster> {
  const sts = statefulSet as unknown as { metadata: { name: string }; spec: { replicas: number; serviceName: string } };
  const replicas = sts.spec.replicas;
  const conf = (configMap as unknown as { data: Record<string, string> }).data['nats.conf'];
  if (!conf) throw new Error(`ConfigMap ${configMap.metadata.name} has no nats.conf`);
  const c = container(statefulSet, 'nats');
  const root = mkdtempSync(join(tmpdir(), 'coderun-nats-'));
  const tls = /^tls \{/m.test(conf);
  let pki: TlsFiles | undefined;
  if (tls) {
    mkdirSync(join(root, 'pki'));
    pki = makeServerTls(join(root, 'pki'));
  }
  const free = await freePorts(3 * replicas);
  const ports = Array.from({ length: replicas }, (_, i) => ({
    client: free[3 * i] ?? 0,
    http: free[3 * i + 1] ?? 0,
    cluster: free[3 * i + 2] ?? 0,
  }));
  const nodes: NatsNode[] = ports.map((p, index) => {
    const podName = `${sts.metadata.name}-${index}`;
    const dir = join(root, podName);
    const mounts: Record<string, string> = {};
    for (const m of c.volumeMounts ?? []) {
      const local = join(dir, m.name);
      mkdirSync(local, { recursive: true });
      mounts[m.mountPath] = local;
    }
    let text = conf;
    // Addresses: each container port to its loopback port.
    text = replaceAll(text, /^listen: 0\.0\.0\.0:4222$/m, `listen: 127.0.0.1:${p.client}`, 'client listen');
    text = replaceAll(text, /^http_port: 8222$/m, `http: 127.0.0.1:${p.http}`, 'monitoring port');
    if (replicas > 1) {
      text = replaceAll(text, /^ {2}listen: 0\.0\.0\.0:6222$/m, `  listen: 127.0.0.1:${p.cluster}`, 'cluster listen');
      const route = new RegExp(
        `nats://${sts.metadata.name}-(\\d+)\\.${sts.spec.serviceName}\\.[a-z0-9-]+\\.svc\\.cluster\\.local:6222`,
        'g',
      );
      if (!route.test(text)) throw new Error('rewriting nats.conf for loopback: found no route URL');
      text = text.replace(route, (_m, i: string) => `nats://127.0.0.1:${ports[Number(i)]?.cluster ?? 0}`);
    }
    // Paths: each volume mount to its temp dir.
    for (const [mountPath, local] of Object.entries(mounts)) text = text.split(`${mountPath}/`).join(`${local}/`);
    if (pki) {
      const tlsMount = Object.entries(mounts).find(([, local]) => text.includes(`${local}/tls.crt`));
      if (!tlsMount) throw new Error('nats.conf has a tls block but no mounted tls.crt');
      copyFileSync(pki.certFile, join(tlsMount[1], 'tls.crt'));
      copyFileSync(pki.keyFile, join(tlsMount[1], 'tls.key'));
      copyFileSync(pki.caFile, join(tlsMount[1], 'ca.crt'));
    }
    const configMount = (c.args ?? []).find((a) => a.endsWith('.conf'));
    if (!configMount) throw new Error('nats container args name no .conf file');
    const configDir = Object.entries(mounts).find(([mp]) => configMount.startsWith(`${mp}/`));
    if (!configDir) throw new Error(`config ${configMount} is not under a volume mount`);
    writeFileSync(join(configDir[1], configMount.slice(configDir[0].length + 1)), text);
    const env = containerEnv(c.env, { secrets, podName });
    return {
      index,
      podName,
      clientPort: p.client,
      httpPort: p.http,
      clusterPort: p.cluster,
      dir,
      mounts,
      config: text,
      env,
    };
  });
  const scheme = tls ? 'tls' : 'nats';
  return {
    nodes,
    pki,
    url: (i = 0) => `${scheme}://127.0.0.1:${nodes[i]?.clientPort ?? 0}`,
    async startNode(i: number, bin: string, ready: '/healthz' | '/varz' = '/healthz') {
      const node = nodes[i];
      if (!node) throw new Error(`no node ${i}`);
      const args = (c.args ?? []).map((a) => localPath(a, node.mounts));
      const proc = start(node.podName, bin, args, { env: { PATH: process.env.PATH, ...node.env } });
      node.proc = proc;
      await waitFor(
        `${node.podName} ${ready} and its client port`,
        async () =>
          (await httpGet(`http://127.0.0.1:${node.httpPort}${ready}`)).status === 200 &&
          (await accepts(node.clientPort)),
        { proc, from: proc, timeoutMs: 120_000 },
      );
      return proc;
    },
  };
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

/** A container path rewritten to its local temp dir (for args and exec commands). */
export function localPath(arg: string, mounts: Readonly<Record<string, string>>): string {
  let out = arg;
  for (const [mountPath, local] of Object.entries(mounts)) out = out.split(`${mountPath}/`).join(`${local}/`);
  return out;
}
