/**
 * npm run twin -- up|down|status --env <env>
 *
 *   up      start the control-plane twin of environments/<env>.yaml on 127.0.0.1 (processes keep
 *           running), apply dist/<env> and argocd/<env>, print the kubeconfig path
 *   down    stop that twin's processes and delete its state
 *   status  what runs, the nodes and the pods
 *
 * State (certificates, kubeconfig, etcd data, logs): .build/twin-<env>/.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { listEnvironments } from '../../../src/model/loader';
import { alive, stopPids } from '../process';
import { Kube } from './api';
import type { Manifest } from '../../../src/model/objects';
import { Twin, type TwinState } from './twin';

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}
function err(line: string): void {
  process.stderr.write(`${line}\n`);
}

function usage(root: string): number {
  err(`usage: npm run twin -- up|down|status --env <${listEnvironments(root).join('|')}>`);
  return 2;
}

export function stateDir(root: string, env: string): string {
  return join(root, '.build', `twin-${env}`);
}

function readState(dir: string): TwinState | undefined {
  const f = join(dir, 'state.json');
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as TwinState) : undefined;
}

export async function main(args: string[], root: string): Promise<number> {
  const cmd = args[0];
  const i = args.indexOf('--env');
  const env = i >= 0 ? args[i + 1] : undefined;
  if (!cmd || !['up', 'down', 'status'].includes(cmd) || !env) return usage(root);
  if (!listEnvironments(root).includes(env)) {
    err(`no environment '${env}' (environments: ${listEnvironments(root).join(', ')})`);
    return 2;
  }
  const dir = stateDir(root, env);
  const state = readState(dir);
  const running = state?.procs.filter((p) => alive(p.pid)) ?? [];

  if (cmd === 'down') {
    await stopPids(running.map((p) => p.pid));
    rmSync(dir, { recursive: true, force: true });
    out(`twin ${env}: stopped ${running.length} process(es), removed ${dir}`);
    return 0;
  }

  if (cmd === 'status') {
    if (!state || running.length === 0) {
      out(`twin ${env}: not running`);
      return 3;
    }
    out(`twin ${env}: Kubernetes ${state.kubernetesVersion} at ${state.server}`);
    for (const p of state.procs)
      out(`  ${alive(p.pid) ? 'running' : 'STOPPED'}  ${p.name} (pid ${p.pid}, log ${p.log})`);
    const tokens = JSON.parse(readFileSync(join(dir, 'tokens.json'), 'utf8')) as { admin: string };
    const kube = new Kube(state.server, join(dir, 'ca.crt'), tokens.admin);
    try {
      const nodes = await kube.list<Manifest>('v1', 'Node');
      const pods = await kube.list<Manifest>('v1', 'Pod');
      for (const n of nodes) {
        const name = String(n.metadata?.name);
        const on = pods.filter((p) => (p.spec as { nodeName?: string })?.nodeName === name);
        const zone = (n.metadata?.labels as Record<string, string>)?.['topology.kubernetes.io/zone'] ?? '-';
        out(`  node ${name} zone ${zone}: ${on.length} pod(s)`);
      }
      const byPhase = new Map<string, number>();
      for (const p of pods) {
        const ph = String((p.status as { phase?: string })?.phase);
        byPhase.set(ph, (byPhase.get(ph) ?? 0) + 1);
      }
      out(`  pods: ${[...byPhase].map(([k, v]) => `${v} ${k}`).join(', ')}`);
    } finally {
      kube.close();
    }
    out(`  kubectl --kubeconfig ${state.kubeconfig} get pods -A -o wide`);
    return 0;
  }

  // up
  if (running.length > 0) {
    err(`twin ${env} is already running (npm run twin -- down --env ${env} first)`);
    return 1;
  }
  rmSync(dir, { recursive: true, force: true });
  const twin = new Twin({ root, env, dir, detached: true, log: (l) => out(`twin ${env}: ${l}`) });
  try {
    await twin.up();
  } catch (e) {
    err(`twin ${env}: ${String(e)}`);
    await twin.down();
    return 1;
  }
  twin.kube.close();
  for (const a of twin.refused) err(`REFUSED ${a.id} (${a.file}): HTTP ${a.status}: ${a.message}`);
  out(
    `twin ${env}: Kubernetes ${twin.env.kubernetesVersion} at ${twin.server}; ${twin.applied.length - twin.refused.length}/${twin.applied.length} objects applied`,
  );
  out(`export KUBECONFIG=${twin.kubeconfigPath}`);
  out(`kubectl get nodes -L topology.kubernetes.io/zone; kubectl get pods -A -o wide`);
  return twin.refused.length > 0 ? 1 : 0;
}
