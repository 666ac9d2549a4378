/**
 * Every number in each committed dist/<env>/README.md agrees with the committed objects: object
 * counts, grants, tokens, flows, Secrets, exceptions, and the capacity sum (rows add up to the
 * requested total, headroom is cluster minus requested, percentages are headroom over cluster).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { capacityReport } from '../src/inspect/capacity';
import { exceptionsFor, grants, reachability, secretNeeds, tokenMounts } from '../src/inspect/audit';
import { listEnvironments } from '../src/model/loader';
import { loadEnvironment } from '../apps/environment';
import { asArr, podContainers, podSpecOf, type Manifest } from '../src/model/objects';
import { parseCpu, parseMemory } from '../src/model/quantity';
import { ROOT, sharedCommitted } from './support/committed';

const committed = sharedCommitted();

function section(text: string, title: string): string {
  const start = text.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`no '## ${title}' section`);
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}
const rows = (s: string) => s.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| ---'));
const num = (re: RegExp, s: string) => Number(re.exec(s)?.[1] ?? NaN);

describe.each(listEnvironments(ROOT))('dist/%s/README.md', (name) => {
  const env = loadEnvironment(ROOT, name);
  const text = readFileSync(join(ROOT, 'dist', name, 'README.md'), 'utf8');
  const objects = committed
    .filter((d) => d.env.name === name && d.file.startsWith(`dist/${name}/`))
    .map((d) => d.object as Manifest);

  it('gives every Deployment its release: a canary exactly where a Rollout runs it, with its steps and first share', () => {
    const releases = rows(section(text, 'Releases')).slice(1);
    const deployments = objects.filter((o) => o.kind === 'Deployment');
    expect(releases).toHaveLength(deployments.length);
    for (const d of deployments) {
      const row = releases.find((r) => r.startsWith(`| ${d.metadata.namespace}/${d.metadata.name} |`)) ?? '';
      const rollout = objects.find(
        (o) =>
          o.kind === 'Rollout' && (o.spec as { workloadRef?: { name?: string } }).workloadRef?.name === d.metadata.name,
      );
      if (!rollout) {
        expect(row).toContain('| rolling update |');
        continue;
      }
      expect(row).toContain(`| canary (Rollout ${rollout.metadata.name}) |`);
      const steps = asArr((rollout.spec as { strategy: { canary: { steps: unknown } } }).strategy.canary.steps);
      // Each step, then the promotion.
      expect(row.split(' | ')[2]?.split(' → ')).toHaveLength(steps.length + 1);
      const first = Number(steps.find((x) => x.setWeight !== undefined)?.setWeight);
      const hpa = objects.find(
        (o) =>
          o.kind === 'HorizontalPodAutoscaler' &&
          (o.spec as { scaleTargetRef: { name: string } }).scaleTargetRef.name === rollout.metadata.name,
      )?.spec as { minReplicas: number; maxReplicas: number } | undefined;
      const n = hpa ? hpa.minReplicas : Number((rollout.spec as { replicas?: number }).replicas ?? 1);
      expect(row).toContain(`${Math.ceil((n * first) / 100)} of ${n}`);
    }
  });

  it('counts every object and every kind', () => {
    const row = /\| Objects \| (\d+): (.*) \|/.exec(text);
    expect(Number(row?.[1])).toBe(objects.length);
    for (const part of (row?.[2] ?? '').split(', ')) {
      const [n, kind] = part.split(' ');
      expect(objects.filter((o) => o.kind === kind).length, kind).toBe(Number(n));
    }
    expect(rows(section(text, 'Objects')).length - 1).toBe(objects.length);
  });

  it('adds up the capacity table', () => {
    const cap = capacityReport(env, objects);
    const table = rows(section(text, 'Capacity')).slice(1);
    const cpuMem = (cell: string) => {
      const m = /([\d.]+m?) CPU,? \(?.*?([\d.]+Mi)/.exec(cell.replace(/\*/g, ''));
      return { cpu: parseCpu(m?.[1] ?? 'NaN'), memory: parseMemory(m?.[2] ?? 'NaN') };
    };
    const lines = table.filter((r) => !r.startsWith('| **'));
    expect(lines.length).toBe(cap.lines.length);
    let cpu = 0;
    let memory = 0;
    for (const r of lines) {
      const cells = r.split(' | ');
      const pods = Number(cells[1]);
      const per = cpuMem(cells[2] ?? '');
      const total = cpuMem(cells[3] ?? '');
      if (!r.startsWith('| ResourceQuota')) {
        expect(Math.abs(total.cpu - per.cpu * pods), r).toBeLessThanOrEqual(pods);
        expect(Math.abs(total.memory - per.memory * pods), r).toBeLessThanOrEqual(pods * 1024 ** 2);
      }
      cpu += total.cpu;
      memory += total.memory;
    }
    const bold = (what: string) => table.find((r) => r.startsWith(`| **${what}**`)) ?? '';
    const requested = cpuMem(bold('requested'));
    expect(Math.abs(requested.cpu - cpu)).toBeLessThanOrEqual(lines.length);
    expect(Math.abs(requested.memory - memory)).toBeLessThanOrEqual(lines.length * 1024 ** 2);
    const cluster = cpuMem(bold('cluster'));
    expect(cluster.cpu).toBe(parseCpu(env.cluster.nodeAllocatable.cpu) * env.cluster.nodes);
    expect(cluster.memory).toBe(parseMemory(env.cluster.nodeAllocatable.memory) * env.cluster.nodes);
    const head = bold('headroom');
    const headroom = cpuMem(head);
    expect(headroom.cpu).toBe(cluster.cpu - requested.cpu);
    expect(Math.abs(headroom.memory - (cluster.memory - requested.memory))).toBeLessThanOrEqual(1024 ** 2);
    expect(num(/CPU \((\d+)%\)/, head)).toBe(Math.round((headroom.cpu / cluster.cpu) * 100));
    expect(num(/Mi \((\d+)%\)/, head)).toBe(Math.round(((cluster.memory - requested.memory) / cluster.memory) * 100));
    const quota = objects.find((o) => o.kind === 'ResourceQuota' && o.metadata.namespace === env.namespaces.executor);
    expect(num(/(\d+) concurrent executor jobs \|$/m, head)).toBe(
      Number((quota?.spec as { hard?: { pods?: string } } | undefined)?.hard?.pods ?? 0),
    );
  });

  it('lists every grant of every binding', () => {
    const s = section(text, 'Who can do what');
    const bindings = objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding');
    const expected = bindings.reduce((n, b) => {
      const role = objects.find(
        (r) =>
          r.kind === (b.roleRef as { kind: string }).kind && r.metadata.name === (b.roleRef as { name: string }).name,
      );
      return n + asArr(b.subjects).length * Math.max(asArr(role?.rules).length, 1);
    }, 0);
    expect(rows(s).length - 1).toBe(expected);
    expect(grants(objects).length).toBe(expected);
    expect(num(/(\d+) grant\(s\)/, s)).toBe(expected);
    expect(num(/from (\d+) binding/, s)).toBe(bindings.length);
    expect(num(/; (\d+) ClusterRole/, s)).toBe(
      objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding').length,
    );
  });

  it('counts the pods that mount a token', () => {
    const s = section(text, 'API tokens');
    const templates = objects.filter((o) => podSpecOf(o) !== undefined);
    expect(rows(s).length - 1).toBe(templates.length);
    expect(num(/of (\d+) pod template/, s)).toBe(templates.length);
    const mounting = rows(s).filter((r) => r.includes('| yes |') || !r.endsWith('| none |')).length - 1;
    expect(num(/(\d+) of \d+ pod template/, s)).toBe(mounting);
    expect(mounting).toBe(tokenMounts(objects).filter((t) => t.automount || t.projected.length > 0).length);
  });

  it('counts the flows of the matrix and the diagram', () => {
    const s = section(text, 'Reachability');
    const r = reachability(env, objects);
    expect(num(/(\d+) allowed flow/, s)).toBe(r.flows.length);
    expect(num(/between (\d+) pair/, s)).toBe(r.pairs.size);
    const matrix = rows(s).filter((l) => l.startsWith('| **'));
    const cells = matrix.flatMap((l) => l.split(' | ').slice(1)).filter((c) => c.replace(/\|/g, '').trim() !== '');
    expect(cells.length).toBe(r.pairs.size);
    const ports = cells.reduce((n, c) => n + c.replace(/\|/g, '').trim().split(' ').length, 0);
    expect(ports).toBe(r.flows.length);
    expect(s.split('\n').filter((l) => l.includes(' -->|')).length).toBe(r.pairs.size);
    expect(s.includes('Not enforced here')).toBe(env.network.cni === 'flannel' || env.network.cni === 'kindnet');
  });

  it('counts the Secrets and the exceptions', () => {
    const s = section(text, 'Secrets to provide');
    const needs = secretNeeds(objects);
    expect(rows(s).length - 1).toBe(needs.length);
    expect(num(/(\d+) Secret\(s\) are read/, s)).toBe(needs.length);
    expect(num(/; (\d+) must be pre-created/, s)).toBe(
      rows(s).filter((r) => r.includes('pre-created by an operator')).length,
    );
    if (env.secrets.provider === 'external-secrets') {
      expect(needs.filter((n) => n.provider.startsWith('ExternalSecret')).length).toBe(
        objects.filter((o) => o.kind === 'ExternalSecret').length,
      );
    }
    const e = section(text, 'Policy exceptions');
    expect(num(/(\d+) reviewed exception/, e)).toBe(exceptionsFor(name).length);
    expect(rows(e).length - 1).toBe(exceptionsFor(name).length);
  });

  it('lists every image once', () => {
    const images = new Set(
      objects.flatMap((o) => {
        const spec = podSpecOf(o);
        return spec ? podContainers(spec).map((c) => String(c.image)) : [];
      }),
    );
    expect(rows(section(text, 'Images')).length - 1).toBe(images.size);
  });

  it('gives each image its registry, digest and pull secret, as the objects and the environment say', () => {
    const listed = rows(section(text, 'Images'))
      .slice(1)
      .map((r) => r.split(' | ').map((c) => c.replace(/^\| |`| \|$/g, '')));
    const images = objects.flatMap((o) => {
      const spec = podSpecOf(o);
      return spec ? podContainers(spec).map((c) => String(c.image)) : [];
    });
    for (const [image, registry, digest, secret] of listed) {
      const full = images.find((i) => i === image || i.startsWith(`${image ?? ''}@`));
      expect(full, image).toBeDefined();
      expect(registry).toBe(image?.split('/')[0]);
      expect(digest).toBe(full?.includes('@') ? full.slice(full.indexOf('@') + 1) : 'none (tag only)');
      expect(secret).toBe(env.registry?.pullSecret ?? 'none');
      if (env.registry) expect(registry).toBe(env.registry.host);
    }
  });
});
