/**
 * Every environment's platform fits the cluster it declares: requests at full scale (HPA or
 * KEDA maxima, one surge pod per Deployment, the executor quota fully used) are within the nodes'
 * allocatable, and every pod fits one node. Computed from the committed YAML.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { capacityReport } from '../src/inspect/capacity';
import { synth } from '../src/commands/cli';
import { capacityRow, capacityTableProblems, markdownRow } from './support/capacity-table';
import { ROOT, sharedCommitted } from './support/committed';

const committed = sharedCommitted().filter((d) => d.file.startsWith('dist/'));
const byEnv = new Map<string, typeof committed>();
for (const d of committed) byEnv.set(d.env.name, [...(byEnv.get(d.env.name) ?? []), d]);

describe('capacity of the committed platform', () => {
  for (const [name, docs] of byEnv) {
    const env = docs[0]!.env;
    const report = capacityReport(
      env,
      docs.map((d) => d.object),
    );
    it(`${name}: requests at full scale fit the declared cluster`, () => {
      expect(report.headroom.cpu).toBeGreaterThanOrEqual(0);
      expect(report.headroom.memory).toBeGreaterThanOrEqual(0);
    });
    it(`${name}: every pod fits one node`, () => {
      expect(report.podsTooBig).toEqual([]);
    });
    it(`${name}: the executor quota admits executors.maxConcurrentJobs jobs`, () => {
      expect(report.executorJobs).toBe(env.executors.maxConcurrentJobs);
    });
  }

  it('counts HPA maxima, surge pods and the full executor quota (staging, by hand)', () => {
    const docs = byEnv.get('staging')!;
    const report = capacityReport(
      docs[0]!.env,
      docs.map((d) => d.object),
    );
    const line = (what: string) => report.lines.find((l) => l.what === what);
    // frontend: HPA max 4 + 1 surge, 100m / 192Mi each.
    expect(line('Deployment frontend')).toMatchObject({ pods: 5, total: { cpu: 500, memory: 5 * 192 * 1024 ** 2 } });
    // oauth2-proxy: HPA max 3 + 1 surge.
    expect(line('Deployment oauth2-proxy')?.pods).toBe(4);
    // middleware: 2 replicas + 1 surge; NATS: 1 server with its exporter sidecar, no surge.
    expect(line('Deployment middleware')?.pods).toBe(3);
    expect(line('StatefulSet nats')).toMatchObject({ pods: 1, total: { cpu: 210 } });
    // executors: 4 jobs x 500m / 512Mi.
    expect(line('ResourceQuota executor-quota')?.total).toEqual({ cpu: 2000, memory: 2048 * 1024 ** 2 });
    // the executor reaper: one run at a time (concurrencyPolicy Forbid), 50m / 64Mi.
    expect(line('CronJob executor-reaper')).toMatchObject({ pods: 1, total: { cpu: 50, memory: 64 * 1024 ** 2 } });
    expect(report.requested.cpu).toBe(3110);
    expect(report.capacity).toEqual({ cpu: 5600, memory: 2 * 3584 * 1024 ** 2 });
  });

  it('is reported in dist/<env>/README.md for auditors', () => {
    const text = readFileSync(join(ROOT, 'dist/staging/README.md'), 'utf8');
    expect(text).toContain('| **headroom** |');
    expect(text).toContain('4 concurrent executor jobs');
  });
});

describe('capacity errors', () => {
  it('fails a synth whose executor quota exceeds the cluster, saying by how much, and writes nothing', () => {
    const root = mkdtempSync(join(tmpdir(), 'capacity-'));
    try {
      for (const dir of ['environments', 'dist', 'argocd'])
        cpSync(join(ROOT, dir), join(root, dir), { recursive: true });
      const file = join(root, 'environments/staging.yaml');
      const doc = parseDocument(readFileSync(file, 'utf8'));
      doc.setIn(['executors', 'maxConcurrentJobs'], 12); // 12 x 500m = 6 CPU on a 5.6 CPU cluster
      writeFileSync(file, doc.toString());
      const before = readFileSync(join(root, 'dist/staging/executors/resourcequota-executor-quota.yaml'), 'utf8');
      const result = synth(root, { envs: [], check: false });
      const text = result.lines.join('\n');
      expect(result.exitCode).toBe(2);
      expect(text).toMatch(
        /environments\/staging\.yaml: executors\.maxConcurrentJobs: the platform at full scale requests 7110m CPU/,
      );
      expect(text).toMatch(/has 5600m CPU and 7168Mi: short by 1510m CPU and \d+Mi memory/);
      expect(readFileSync(join(root, 'dist/staging/executors/resourcequota-executor-quota.yaml'), 'utf8')).toBe(before);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('README capacity table', () => {
  it('matches what the committed reports say', () => {
    expect(capacityTableProblems(ROOT, [...byEnv.keys()])).toEqual([]);
  });

  it('names a missing row, and a row that differs, with the row it needs', () => {
    const root = mkdtempSync(join(tmpdir(), 'capacity-table-'));
    try {
      for (const env of ['staging', 'prod']) {
        mkdirSync(join(root, 'dist', env), { recursive: true });
        cpSync(join(ROOT, `dist/${env}/README.md`), join(root, `dist/${env}/README.md`));
      }
      const staging = capacityRow(ROOT, 'staging');
      writeFileSync(join(root, 'README.md'), `${markdownRow(['staging', '1m CPU, 1Mi', ...staging.slice(2)])}\n`);
      const found = capacityTableProblems(root, ['staging', 'prod']);
      expect(found).toHaveLength(2);
      expect(found[0]).toContain(`needs: ${markdownRow(staging)} (has | staging | 1m CPU, 1Mi |`);
      expect(found[1]).toBe(`README.md capacity table needs: ${markdownRow(capacityRow(ROOT, 'prod'))}`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
