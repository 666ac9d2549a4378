/**
 * Cluster suite scenario: executor pods that break the template are refused (Pod Security, the
 * ValidatingAdmissionPolicy, RBAC), and the guard holds at its limit and on updates. On the environment's shared
 * twin (./scenario.ts); facts go to .build/twin-<env>-executor-admission.md.
 */
import { beforeAll, expect, it } from 'vitest';
import { waitFor } from '../../../tools/harness/process';
import type { Manifest } from '../../../src/model/objects';
import { twinScenario } from './scenario';

export const executorAdmissionScenario = twinScenario('executor-admission', (s) => {
  beforeAll(() => s.executorGuardInForce());

  it('refuses executor pods that break the template, and says why', async () => {
    const mw = await s.asMiddleware();
    const lang = s.languages()[0] ?? '';
    type PodSpec = {
      containers: {
        image: string;
        securityContext: Record<string, unknown>;
        volumeMounts?: { name: string; mountPath: string }[];
      }[];
      volumes?: Record<string, unknown>[];
      activeDeadlineSeconds?: number;
      automountServiceAccountToken?: boolean;
    };
    const cases: { name: string; namespace?: string; change: (spec: PodSpec) => void; expect: RegExp }[] = [
      {
        name: 'privileged',
        change: (spec) => {
          const c = spec.containers[0];
          if (c) c.securityContext = { ...c.securityContext, privileged: true, allowPrivilegeEscalation: true };
        },
        expect: /violates PodSecurity "restricted:v1\.\d+": .*privileged/,
      },
      {
        name: 'another image',
        change: (spec) => {
          const c = spec.containers[0];
          if (c) c.image = 'docker.io/library/busybox:1.36';
        },
        expect:
          /ValidatingAdmissionPolicy 'coderun-executor-guard' .*denied request: executor images must be exactly one of/,
      },
      {
        name: 'hostPath volume',
        change: (spec) => {
          spec.volumes = [...(spec.volumes ?? []), { name: 'host', hostPath: { path: '/var/run' } }];
          spec.containers[0]?.volumeMounts?.push({ name: 'host', mountPath: '/host' });
        },
        expect:
          /violates PodSecurity "restricted:v1\.\d+": restricted volume types \(volume "host" uses restricted volume type "hostPath"\)/,
      },
      {
        name: 'service-account token mount (automount)',
        change: (spec) => {
          spec.automountServiceAccountToken = true;
        },
        expect: /denied request: executor pods must set automountServiceAccountToken: false/,
      },
      {
        name: 'service-account token mount (projected volume)',
        change: (spec) => {
          spec.volumes = [
            ...(spec.volumes ?? []),
            {
              name: 'token',
              projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3600 } }] },
            },
          ];
          spec.containers[0]?.volumeMounts?.push({ name: 'token', mountPath: '/var/run/secrets/tokens' });
        },
        expect: /denied request: executor pods may not mount a service-account token/,
      },
      {
        name: 'no deadline',
        change: (spec) => {
          delete spec.activeDeadlineSeconds;
        },
        expect: /denied request: executor pods need activeDeadlineSeconds of at most \d+/,
      },
      {
        name: `another namespace (${s.ns().app})`,
        namespace: s.ns().app,
        change: () => undefined,
        expect:
          /User "system:serviceaccount:[^"]+:middleware" cannot create resource "pods" in API group "" in the namespace/,
      },
      {
        name: 'another namespace (default)',
        namespace: 'default',
        change: () => undefined,
        expect:
          /User "system:serviceaccount:[^"]+:middleware" cannot create resource "pods" in API group "" in the namespace "default"/,
      },
    ];
    // The unmodified template is admitted (so each refusal is the change's doing).
    const ok = await mw.req(
      'POST',
      `/api/v1/namespaces/${s.ns().executor}/pods?dryRun=All`,
      await s.executorPod(mw, lang),
    );
    expect(ok.status, ok.message).toBe(201);
    const lines = ['| executor pod | HTTP | refused by | message |', '| --- | ---: | --- | --- |'];
    const got: Record<string, string> = {};
    for (const c of cases) {
      const made = await s.executorPod(mw, lang);
      c.change(made.spec as unknown as PodSpec);
      const target = c.namespace ?? s.ns().executor;
      const pod = { ...made, metadata: { ...made.metadata, namespace: target } };
      const r = await mw.req('POST', `/api/v1/namespaces/${target}/pods?dryRun=All`, pod);
      got[c.name] = `${r.status}: ${r.message}`;
      const by = /PodSecurity/.test(r.message)
        ? 'Pod Security (restricted)'
        : /ValidatingAdmissionPolicy/.test(r.message)
          ? 'ValidatingAdmissionPolicy'
          : r.status === 403
            ? 'RBAC'
            : r.status === 201
              ? 'NOBODY (admitted)'
              : 'validation';
      lines.push(
        `| ${c.name} | ${r.status} | ${by} | ${(r.status === 201 ? 'admitted' : r.message).replace(/\|/g, '\\|')} |`,
      );
    }
    s.facts.section('Security: refused executor pods', lines);
    for (const c of cases) expect(got[c.name], c.name).toMatch(new RegExp(`^(403|422): .*${c.expect.source}`));
  });

  it('holds the executor guard at its limit and on updates: the deadline limit exactly, an image swap, an ephemeral container', async () => {
    const mw = await s.asMiddleware();
    const lang = s.languages()[0] ?? '';
    const limit = s.twin.env.executors.deadlineSeconds;
    const exe = s.ns().executor;
    const guard = (what: string) =>
      new RegExp(`ValidatingAdmissionPolicy 'coderun-executor-guard' .*denied request: ${what}`);
    const lines = ['| executor pod | HTTP | message |', '| --- | ---: | --- |'];
    const row = (what: string, r: { status: number; message: string }) =>
      lines.push(`| ${what} | ${r.status} | ${(r.status < 300 ? 'admitted' : r.message).replace(/\|/g, '\\|')} |`);
    // Created by the middleware with a deadline of exactly the limit, and one second more (dry run).
    const withDeadline = async (seconds: number) => {
      const pod = await s.executorPod(mw, lang);
      (pod.spec as { activeDeadlineSeconds?: number }).activeDeadlineSeconds = seconds;
      const r = await mw.req('POST', `/api/v1/namespaces/${exe}/pods?dryRun=All`, pod);
      row(`activeDeadlineSeconds ${seconds}`, r);
      return r;
    };
    const atLimit = await withDeadline(limit);
    expect(atLimit.status, atLimit.message).toBe(201);
    const above = await withDeadline(limit + 1);
    expect(`${above.status}: ${above.message}`).toMatch(
      new RegExp(
        `^(403|422): .*${guard(`executor pods need activeDeadlineSeconds of at most ${limit}(?!\\d)`).source}`,
      ),
    );
    // A real executor pod, then updates to it by the cluster admin (admission binds admins too).
    const created = await mw.must<Manifest>('POST', `/api/v1/namespaces/${exe}/pods`, await s.executorPod(mw, lang));
    const name = String(created.metadata?.name);
    try {
      const spec = created.spec as { containers: { name: string; image: string }[] };
      const first = spec.containers[0]?.name ?? '';
      const swap = await s.kube.req(
        'PATCH',
        `/api/v1/namespaces/${exe}/pods/${name}?dryRun=All`,
        { spec: { containers: [{ name: first, image: 'docker.io/library/busybox:1.36' }] } },
        'application/strategic-merge-patch+json',
      );
      row('image changed by an update (PATCH pods)', swap);
      expect(`${swap.status}: ${swap.message}`).toMatch(
        new RegExp(`^(403|422): .*${guard('executor images must be exactly one of').source}`),
      );
      // What `kubectl debug` sends: the ephemeralcontainers subresource. The debug container meets
      // Pod Security (restricted), so only the guard can refuse it.
      const debug = await s.kube.req(
        'PATCH',
        `/api/v1/namespaces/${exe}/pods/${name}/ephemeralcontainers?dryRun=All`,
        {
          spec: {
            ephemeralContainers: [
              {
                name: 'debugger',
                image: 'docker.io/library/busybox:1.36',
                command: ['sh'],
                stdin: true,
                tty: true,
                targetContainerName: first,
                securityContext: {
                  allowPrivilegeEscalation: false,
                  runAsNonRoot: true,
                  runAsUser: 65534,
                  capabilities: { drop: ['ALL'] },
                  seccompProfile: { type: 'RuntimeDefault' },
                },
              },
            ],
          },
        },
        'application/strategic-merge-patch+json',
      );
      row('ephemeral container of another image (PATCH pods/ephemeralcontainers, as kubectl debug)', debug);
      expect(`${debug.status}: ${debug.message}`).toMatch(
        new RegExp(`^(403|422): .*${guard('executor pods may not get ephemeral \\(debug\\) containers').source}`),
      );
    } finally {
      await s.kube.req('DELETE', `/api/v1/namespaces/${exe}/pods/${name}?gracePeriodSeconds=0`);
      await waitFor(
        `executor pod ${name} gone`,
        async () => (await s.kube.req('GET', `/api/v1/namespaces/${exe}/pods/${name}`)).status === 404,
        { timeoutMs: 60_000 },
      );
    }
    s.facts.section('Security: the executor guard at its limit and on updates', lines);
  });

  it('hands an executor its NATS ticket as the contract says: a Secret the middleware may create but not read, owned by the pod and gone with it', async () => {
    const mw = await s.asMiddleware();
    const lang = s.languages()[0] ?? '';
    const exe = s.ns().executor;
    const job = `j${Date.now().toString(36)}`;
    const template = await s.executorPod(mw, lang);
    const name = `executor-${lang}-${job}`;
    const { generateName: _generated, ...metadata } = template.metadata as Manifest['metadata'] & {
      generateName?: string;
    };
    const pod: Manifest = { ...template, metadata: { ...metadata, name } };
    const spec = pod.spec as {
      containers: { env?: { name: string; value: string }[]; volumeMounts?: Record<string, unknown>[] }[];
      volumes?: Record<string, unknown>[];
    };
    const c = spec.containers[0];
    if (!c) throw new Error('no executor container');
    const ticketFile = c.env?.find((e) => e.name === 'NATS_TICKET_FILE')?.value ?? '';
    expect(ticketFile, 'the PodTemplate names NATS_TICKET_FILE').not.toBe('');
    // What the middleware adds (README, Image contract): the job's env and the ticket volume.
    c.env = [
      ...(c.env ?? []),
      { name: 'USER_ID', value: 'u1' },
      { name: 'JOB_ID', value: job },
      { name: 'NATS_INBOX_PREFIX', value: `_INBOX_executor.${job}` },
    ];
    const dir = ticketFile.slice(0, ticketFile.lastIndexOf('/'));
    const key = ticketFile.slice(ticketFile.lastIndexOf('/') + 1);
    c.volumeMounts = [...(c.volumeMounts ?? []), { name: 'nats-ticket', mountPath: dir, readOnly: true }];
    spec.volumes = [
      ...(spec.volumes ?? []),
      { name: 'nats-ticket', secret: { secretName: name, defaultMode: 0o400, items: [{ key, path: key }] } },
    ];
    const created = await mw.must<Manifest>('POST', `/api/v1/namespaces/${exe}/pods`, pod);
    const lines = ['| step (as the middleware unless said) | HTTP |', '| --- | ---: |'];
    try {
      const secret = await mw.req('POST', `/api/v1/namespaces/${exe}/secrets`, {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name,
          ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name, uid: String(created.metadata?.uid) }],
        },
        stringData: { [key]: 'a ticket' },
      });
      lines.push(`| create the ticket Secret, owned by the pod | ${secret.status} |`);
      expect(secret.status, secret.message).toBe(201);
      for (const [what, method, path] of [
        ['read it', 'GET', `/api/v1/namespaces/${exe}/secrets/${name}`],
        ['list Secrets', 'GET', `/api/v1/namespaces/${exe}/secrets`],
        ['delete it', 'DELETE', `/api/v1/namespaces/${exe}/secrets/${name}`],
      ] as const) {
        const r = await mw.req(method, path);
        lines.push(`| ${what} | ${r.status} |`);
        expect(`${what}: ${r.status}`).toBe(`${what}: 403`);
      }
    } finally {
      await s.kube.req('DELETE', `/api/v1/namespaces/${exe}/pods/${name}?gracePeriodSeconds=0`);
    }
    // The garbage collector (the real kube-controller-manager) deletes the Secret with its pod.
    const began = Date.now();
    await waitFor(
      `ticket Secret ${name} deleted with its pod`,
      async () => (await s.kube.req('GET', `/api/v1/namespaces/${exe}/secrets/${name}`)).status === 404,
      { timeoutMs: 60_000 },
    );
    lines.push(`| (cluster) the Secret is gone ${((Date.now() - began) / 1000).toFixed(1)} s after its pod | 404 |`);
    s.facts.section("Executor tickets: the middleware's create-only Secret", lines);
  });
});
