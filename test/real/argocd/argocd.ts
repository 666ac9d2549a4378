/**
 * The real Argo CD (v3.5.1, built from tools/go/argocd) against the control-plane twin of one
 * environment, as Argo CD's own Procfile runs it for local development: one `argocd` binary started
 * as argocd-repo-server and argocd-application-controller (ARGOCD_BINARY_NAME), Redis from Debian's
 * redis-server, and this repository served by git's smart-HTTP server (`git http-backend`, over
 * HTTPS with a throwaway CA; support/git-https.ts) from a temporary bare clone.
 *
 * Nothing of dist/ is applied by the twin (apply: false): the user's bootstrap command
 * (`kubectl apply -n argocd -f argocd/<env>/bootstrap/`) starts it, and Argo CD does the rest.
 * The one change to the clone: environments/<env>.yaml's argocd.repoURL points at that server
 * (as a fork would point it at itself), re-rendered with `synth` and committed to `main`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main as synth } from '../../../src/commands/cli';
import type { Kube } from '../../../tools/harness/twin/api';
import type { Manifest } from '../../../src/model/objects';
import { StandIns } from '../../../tools/harness/twin/standins';
import { Twin, type TwinOptions } from '../../../tools/harness/twin/twin';
import { serveGitHttps, type GitHttps } from '../../../tools/harness/git-https';
import { makeServerTls } from '../../../tools/harness/pki';
import { freePorts } from '../../../tools/harness/ports';
import { start, waitFor, type Running } from '../../../tools/harness/process';
import { ROOT, tool } from '../../../tools/harness/tools';

const execFileAsync = promisify(execFile);

export const ARGOCD_NAMESPACE = 'argocd';
/** Application and AppProject resources (the vendored CRDs). */
export const APPS = `/apis/argoproj.io/v1alpha1/namespaces/${ARGOCD_NAMESPACE}/applications`;
export const PROJECTS = `/apis/argoproj.io/v1alpha1/namespaces/${ARGOCD_NAMESPACE}/appprojects`;
/** How often Argo CD looks at git (argocd-cm timeout.reconciliation; default 180 s). */
export const RECONCILIATION = '5s';
/** The same, in milliseconds. */
export const RECONCILIATION_MS = 5_000;

/** redis-server from PATH (Debian's package; tools/install-redis.sh). Fails loudly when missing. */
export function redisServer(): string {
  try {
    return execFileSync('bash', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      'redis-server is not on PATH. Argo CD needs Redis; install it from Debian with `bash tools/install-redis.sh` (root) and re-run.',
    );
  }
}

export interface AppStatus {
  sync: string;
  health: string;
  revision: string;
  /** The revision the last sync operation applied (operationState.syncResult.revision). */
  syncedRevision: string;
  phase: string;
  message: string;
  conditions: { type: string; message: string }[];
  resources: { kind: string; name: string; namespace?: string; status?: string; syncPhase?: string }[];
  startedAt: string;
  finishedAt: string;
}

export function statusOf(app: Manifest): AppStatus {
  /* eslint-disable @typescript-eslint/no-explicit-any -- Application status as Argo CD writes it */
  const s: any = app.status ?? {};
  const op: any = s.operationState ?? {};
  return {
    sync: String(s.sync?.status ?? ''),
    health: String(s.health?.status ?? ''),
    revision: String(s.sync?.revision ?? ''),
    syncedRevision: String(op.syncResult?.revision ?? ''),
    phase: String(op.phase ?? ''),
    message: String(op.message ?? ''),
    conditions: (s.conditions ?? []).map((c: any) => ({ type: String(c.type), message: String(c.message) })),
    resources: op.syncResult?.resources ?? [],
    startedAt: String(op.startedAt ?? ''),
    finishedAt: String(op.finishedAt ?? ''),
  };
  /* eslint-enable @typescript-eslint/no-explicit-any */
}

export class ArgoLoop {
  readonly twin: Twin;
  readonly timings: Record<string, number> = {};
  /** The bare repository the git server serves, and the clone the tests commit in. */
  readonly bare: string;
  readonly work: string;
  repoURL = '';
  kubectl = '';
  private procs: Running[] = [];
  private gitServer?: GitHttps;
  /** The cluster add-ons the environment's cluster provides (tools/harness/twin/standins.ts). */
  standIns?: StandIns;
  caFile = '';
  repoServer!: Running;
  controller!: Running;

  constructor(
    readonly envName: string,
    readonly dir: string,
    private readonly log: (line: string) => void = () => undefined,
    private readonly options: {
      readonly twin?: Pick<TwinOptions, 'podAddressBlock'>;
      /** More flags for the application controller (the canary suite: --persist-resource-health). */
      readonly controllerArgs?: readonly string[];
    } = {},
  ) {
    this.twin = new Twin({ ...options.twin, root: ROOT, env: envName, dir: join(dir, 'twin'), apply: false, log });
    this.bare = join(dir, 'srv', 'coderun-gitops.git');
    this.work = join(dir, 'work');
  }

  get kube(): Kube {
    return this.twin.kube;
  }

  private async timed<T>(phase: string, f: () => Promise<T> | T): Promise<T> {
    const t = Date.now();
    const v = await f();
    this.timings[phase] = Date.now() - t;
    this.log(`${this.envName}: ${phase}: ${((Date.now() - t) / 1000).toFixed(1)} s`);
    return v;
  }

  /** git in the work clone, with a fixed identity. */
  git(...args: string[]): string {
    return execFileSync(
      'git',
      ['-c', 'user.name=coderun test', '-c', 'user.email=test@coderun.invalid', '-c', 'commit.gpgsign=false', ...args],
      { cwd: this.work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    ).trim();
  }

  /** Renders the environment in the work clone (npm run synth -- --env <env>, in process). */
  synth(): void {
    const code = synth(['--env', this.envName], this.work);
    if (code !== 0) throw new Error(`synth --env ${this.envName} in the clone exited ${code}`);
  }

  /** Commits everything in the work clone and pushes it to main; returns the commit. */
  commit(message: string): string {
    this.git('add', '-A');
    this.git('commit', '-q', '-m', message);
    this.git('push', '-q', 'origin', 'HEAD:main');
    return this.git('rev-parse', 'HEAD');
  }

  async up(): Promise<void> {
    const t0 = Date.now();
    const argocd = await this.timed('build argocd', () => tool('argocd', 'argocd'));
    this.kubectl = await this.timed('build kubectl', () => tool('kubectl', 'kubectl'));
    const redis = redisServer();
    await this.timed('twin', () => this.twin.up());
    await this.timed('stand-ins', async () => {
      this.standIns = new StandIns(this.kube, this.twin.env, { log: this.log });
      await this.standIns.start();
    });
    const [redisPort, repoPort, repoMetrics, ctrlMetrics] = await freePorts(4);
    await this.timed('git server', () => this.startGit());
    await this.timed('redis', async () => {
      const p = start('redis', redis, [
        '--bind',
        '127.0.0.1',
        '--port',
        String(redisPort),
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.dir,
      ]);
      this.procs.push(p);
      await waitFor('redis ready', () => p.log().includes('Ready to accept connections'), {
        proc: p,
        from: p,
        timeoutMs: 120_000,
      });
    });
    await this.timed('argocd config', () => this.installConfig());
    const dirs = ['tls', 'ssh', 'gpg/keys', 'gpg/source', 'cmp', 'home'].map((d) => join(this.dir, 'argocd', d));
    for (const d of dirs) mkdirSync(d, { recursive: true });
    const env: NodeJS.ProcessEnv = {
      PATH: `${this.argocdScripts()}:${process.env.PATH ?? ''}`,
      HOME: join(this.dir, 'argocd', 'home'),
      KUBECONFIG: this.twin.kubeconfigPath,
      ARGOCD_FAKE_IN_CLUSTER: 'true',
      ARGOCD_RECONCILIATION_TIMEOUT: RECONCILIATION,
      // No random delay on top (default up to 60 s), so a push is seen within one period.
      ARGOCD_RECONCILIATION_JITTER: '0s',
      ARGOCD_TLS_DATA_PATH: dirs[0],
      ARGOCD_SSH_DATA_PATH: dirs[1],
      ARGOCD_GNUPGHOME: dirs[2],
      ARGOCD_GPG_DATA_PATH: dirs[3],
      ARGOCD_PLUGINSOCKFILEPATH: dirs[4],
      ARGOCD_GPG_ENABLED: 'false',
      GIT_CONFIG_NOSYSTEM: '1',
    };
    await this.timed('repo-server', async () => {
      this.repoServer = start('argocd-repo-server', argocd, [
        '--loglevel=info',
        '--logformat=text',
        '--address=127.0.0.1',
        `--port=${repoPort}`,
        '--metrics-address=127.0.0.1',
        `--metrics-port=${repoMetrics}`,
        `--redis=127.0.0.1:${redisPort}`,
        '--parallelismlimit=2',
      ], { env: { ...env, ARGOCD_BINARY_NAME: 'argocd-repo-server' } });
      this.procs.push(this.repoServer);
      await waitFor('repo-server healthz', async () => (await fetch(`http://127.0.0.1:${repoMetrics}/healthz`)).ok, {
        proc: this.repoServer,
        from: this.repoServer,
        timeoutMs: 120_000,
      });
    });
    await this.timed('application-controller', async () => {
      // Its metrics server listens on 0.0.0.0 (hard-coded in v3.5.1); the suite runs in its own
      // network namespace (npm run test:argocd), so that is loopback too.
      this.controller = start('argocd-application-controller', argocd, [
        '--loglevel=info',
        '--logformat=text',
        `--namespace=${ARGOCD_NAMESPACE}`,
        `--redis=127.0.0.1:${redisPort}`,
        `--repo-server=127.0.0.1:${repoPort}`,
        `--metrics-port=${ctrlMetrics}`,
        '--status-processors=4',
        '--operation-processors=4',
        ...(this.options.controllerArgs ?? []),
      ], { env: { ...env, ARGOCD_BINARY_NAME: 'argocd-application-controller' } });
      this.procs.push(this.controller);
      await waitFor('application-controller healthz', async () => (await fetch(`http://127.0.0.1:${ctrlMetrics}/healthz`)).ok, {
        proc: this.controller,
        from: this.controller,
        timeoutMs: 120_000,
      });
    });
    this.timings.up = Date.now() - t0;
  }

  /**
   * Argo CD's image puts hack/git-verify-wrapper.sh on PATH; the repo-server runs it for every
   * manifest generation (v3.5.1). It comes from the pinned module (go.sum), copied out of the
   * read-only module cache to make it executable.
   */
  private argocdScripts(): string {
    const moduleDir = execFileSync('go', ['list', '-m', '-f', '{{.Dir}}', 'github.com/argoproj/argo-cd/v3'], {
      cwd: join(ROOT, 'tools', 'go', 'argocd'),
      encoding: 'utf8',
      env: { ...process.env, GOFLAGS: '-mod=readonly', GOPROXY: 'off' },
    }).trim();
    const bin = join(this.dir, 'argocd', 'bin');
    mkdirSync(bin, { recursive: true });
    const script = join(bin, 'git-verify-wrapper.sh');
    copyFileSync(join(moduleDir, 'hack', 'git-verify-wrapper.sh'), script);
    chmodSync(script, 0o755);
    return bin;
  }

  /** A bare clone of this repository's HEAD as `main`, the work clone, and a git server for it. */
  private async startGit(): Promise<void> {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    mkdirSync(join(this.dir, 'srv'), { recursive: true });
    execFileSync('git', ['init', '-q', '--bare', '-b', 'main', this.bare]);
    execFileSync('git', ['clone', '-q', '--no-checkout', ROOT, this.work]);
    this.git('checkout', '-q', '-B', 'main', head);
    this.git('remote', 'set-url', 'origin', this.bare);
    this.git('push', '-q', 'origin', 'main');
    const pkiDir = join(this.dir, 'git-pki');
    mkdirSync(pkiDir, { recursive: true });
    const pki = makeServerTls(pkiDir, '127.0.0.1');
    this.gitServer = await serveGitHttps(join(this.dir, 'srv'), pki);
    this.repoURL = `${this.gitServer.url}/coderun-gitops.git`;
    // Argo CD trusts a repository server's certificate from ARGOCD_TLS_DATA_PATH/<host> (argocd-tls-certs-cm).
    mkdirSync(join(this.dir, 'argocd', 'tls'), { recursive: true });
    writeFileSync(join(this.dir, 'argocd', 'tls', '127.0.0.1'), readFileSync(pki.caFile));
    this.caFile = pki.caFile;
    await waitFor(
      'the git server serving',
      // Asynchronously: the server runs in this process.
      async () => {
        const { stdout } = await execFileAsync('git', ['ls-remote', this.repoURL, 'main'], {
          encoding: 'utf8',
          env: { ...process.env, GIT_SSL_CAINFO: pki.caFile },
          timeout: 10_000,
        });
        return stdout.includes(head);
      },
      { timeoutMs: 60_000 },
    );
    // The one change a fork makes: argocd.repoURL points at where Argo CD reads the repository.
    const file = join(this.work, 'environments', `${this.envName}.yaml`);
    const text = readFileSync(file, 'utf8');
    const next = text.replace(/^(argocd:\n(?:[ \t].*\n|\n)*?[ \t]+repoURL:)[ \t]*\S+/m, `$1 ${this.repoURL}`);
    if (next === text) throw new Error(`no argocd.repoURL in ${file}`);
    writeFileSync(file, next);
    this.synth();
    const changed = this.git('diff', '--name-only', 'HEAD').split('\n');
    const unexpected = changed.filter(
      // The environment's audit report (dist/<env>/README.md) names the repository, too; Argo CD
      // reads only manifests from dist/<env>, so that is no change to the cluster.
      (f) =>
        f !== `environments/${this.envName}.yaml` &&
        f !== `dist/${this.envName}/README.md` &&
        !f.startsWith(`argocd/${this.envName}/`),
    );
    if (unexpected.length > 0) throw new Error(`changing repoURL changed more than argocd/: ${unexpected.join(', ')}`);
    // ...and argocd/ changed in the repository's address alone, so Argo CD runs the committed sync
    // settings (a hand edit of the committed Applications that synth would undo fails here).
    const before = execFileSync('git', ['show', `HEAD:environments/${this.envName}.yaml`], { cwd: this.work, encoding: 'utf8' });
    const oldURL = /^argocd:\n(?:[ \t].*\n|\n)*?[ \t]+repoURL:[ \t]*(\S+)/m.exec(before)?.[1] ?? '';
    for (const f of changed.filter((x) => x.startsWith(`argocd/${this.envName}/`))) {
      const committed = execFileSync('git', ['show', `HEAD:${f}`], { cwd: this.work, encoding: 'utf8' });
      if (committed.split(oldURL).join(this.repoURL) !== readFileSync(join(this.work, f), 'utf8'))
        throw new Error(
          `${f}: synth renders more than a new repoURL here; the committed argocd/ is not what synth renders (run npm run synth)`,
        );
    }
    this.commit(`${this.envName}: Argo CD reads this repository from ${this.repoURL}`);
  }

  /** What Argo CD's install provides in its namespace and the controllers read: argocd-cm, argocd-secret. */
  private async installConfig(): Promise<void> {
    const labels = { 'app.kubernetes.io/part-of': 'argocd' };
    for (const o of [
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'argocd-cm', namespace: ARGOCD_NAMESPACE, labels: { ...labels, 'app.kubernetes.io/name': 'argocd-cm' } },
        data: { 'timeout.reconciliation': RECONCILIATION },
      },
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'argocd-secret', namespace: ARGOCD_NAMESPACE, labels: { ...labels, 'app.kubernetes.io/name': 'argocd-secret' } },
        type: 'Opaque',
      },
    ]) {
      const r = await this.kube.apply(o, { manager: 'argocd-install' });
      if (r.status > 299) throw new Error(`${o.kind} ${o.metadata.name}: HTTP ${r.status}: ${r.message}`);
    }
    // An environment whose destination is a cluster name (argocd.destination.name) expects that
    // cluster registered in Argo CD, as `argocd cluster add` does: a cluster Secret. The twin is it.
    const name = this.twin.env.argocd.destination.name;
    if (name !== undefined) {
      const config = {
        bearerToken: this.twin.credentials.tokens.admin,
        tlsClientConfig: { caData: readFileSync(this.twin.credentials.caCert).toString('base64') },
      };
      const r = await this.kube.apply(
        {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: {
            name: `cluster-${name}`,
            namespace: ARGOCD_NAMESPACE,
            labels: { 'argocd.argoproj.io/secret-type': 'cluster' },
          },
          type: 'Opaque',
          stringData: { name, server: this.twin.server, config: JSON.stringify(config) },
        },
        { manager: 'argocd-cluster-add' },
      );
      if (r.status > 299) throw new Error(`cluster Secret ${name}: HTTP ${r.status}: ${r.message}`);
    }
  }

  /** The README's bootstrap: `kubectl apply -n argocd -f argocd/<env>/bootstrap/`, from the clone. */
  bootstrap(): string {
    return execFileSync(
      this.kubectl,
      ['--kubeconfig', this.twin.kubeconfigPath, 'apply', '-n', ARGOCD_NAMESPACE, '-f', `argocd/${this.envName}/bootstrap/`],
      { cwd: this.work, encoding: 'utf8' },
    );
  }

  /** kubectl against the twin, as the admin. */
  kubectlRun(args: string[], input?: string): { code: number; out: string } {
    try {
      const out = execFileSync(this.kubectl, ['--kubeconfig', this.twin.kubeconfigPath, ...args], {
        cwd: this.work,
        encoding: 'utf8',
        input,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      return { code: 0, out };
    } catch (e) {
      const err = e as { status?: number; stdout?: string; stderr?: string };
      return { code: err.status ?? 1, out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
    }
  }

  async app(name: string): Promise<Manifest | undefined> {
    const r = await this.kube.req('GET', `${APPS}/${name}`);
    return r.status === 200 ? (r.body as Manifest) : undefined;
  }

  /** Waits until the Application's status satisfies `ok`; the error names its last status and the logs' tail. */
  async waitApp(name: string, what: string, ok: (s: AppStatus) => boolean, timeoutMs = 180_000): Promise<AppStatus> {
    let last: AppStatus | undefined;
    try {
      return await waitFor(
        `${name}: ${what}`,
        async () => {
          const a = await this.app(name);
          if (!a) return false;
          last = statusOf(a);
          return ok(last) ? last : false;
        },
        { timeoutMs, intervalMs: 500, proc: this.controller },
      );
    } catch (e) {
      throw new Error(
        `${String(e)}\nlast status: ${JSON.stringify({ ...last, resources: undefined })}\n--- controller ---\n${this.controller
          .log()
          .slice(-3000)}\n--- repo-server ---\n${this.repoServer.log().slice(-1500)}`,
      );
    }
  }

  async down(): Promise<void> {
    await this.standIns?.stop();
    await Promise.all([...this.procs].reverse().map((p) => p.stop()));
    await this.gitServer?.close();
    await this.twin.down();
  }
}
