/**
 * Unit-test inputs for every alert of the platform's PrometheusRule, run through `promtool test rules`
 * by prometheus-rules.real.test.ts. Keyed by alert name; each case is a small timeline of the series
 * the alert reads, written the way Prometheus would see them, and what the alert must do at chosen
 * evaluation times. Series names and labels are those the real exporters emit (kube-state-metrics,
 * prometheus-nats-exporter, oauth2-proxy), plus the target labels a PodMonitor scrape adds.
 *
 * Every alert needs: a case that fires (and is silent just before its `for:` has elapsed), a healthy
 * case, and a blip (a failure shorter or smaller than the alert's threshold) that stays silent.
 *
 * Timelines use promtool's expanding notation at a 1m interval: `run(v, n)` is n samples of v,
 * `ramp(start, step, n)` n samples counting up, `stale` ends a series as a scrape that no longer returns
 * it does (the series is absent at once, not after the 5m lookback).
 */

/** What a case needs to know about the environment under test; read from its committed dist/ objects. */
export interface AlertContext {
  /** Environment name: the `environment` label every alert carries. */
  readonly env: string;
  /** Application namespace (NATS, Deployments, oauth2-proxy). */
  readonly app: string;
  /** Executor namespace (job pods, their ResourceQuota). */
  readonly executor: string;
  /** The job label Prometheus Operator gives the nats PodMonitor's targets (<namespace>/<name>). */
  readonly natsJob: string;
  /** The NATS StatefulSet's pods, nats-0 … nats-(replicas-1). */
  readonly natsPods: readonly string[];
  /** The Deployments the app namespace ships. */
  readonly deployments: readonly string[];
}

export type Labels = Readonly<Record<string, string>>;

export interface InputSeries {
  readonly series: string;
  readonly values: string;
}

/** One expected firing alert: its labels besides alertname, severity and environment, and its summary. */
export interface ExpectedAlert {
  readonly labels: Labels;
  readonly summary: string;
}

export interface Evaluation {
  /** Minutes after the first sample. */
  readonly at: number;
  /** The alerts firing at that time; empty means the alert must be silent. */
  readonly firing: readonly ExpectedAlert[];
}

export type CaseKind =
  /** The failure the summary names: silent before `for:` has elapsed, firing after. */
  | 'fires'
  /** Everything working: silent. */
  | 'healthy'
  /** A failure shorter (or smaller) than the alert's threshold: silent. */
  | 'blip'
  /** Any other situation the alert must not fire on. */
  | 'silent';

export interface AlertCase {
  readonly name: string;
  readonly kind: CaseKind;
  readonly series: readonly InputSeries[];
  readonly evals: readonly Evaluation[];
}

export interface AlertSpec {
  readonly severity: 'warning' | 'critical';
  readonly cases: (ctx: AlertContext) => AlertCase[];
}

// ---- helpers -------------------------------------------------------------------------------------

/** `name{k="v", …}`. */
export function series(name: string, labels: Labels): string {
  const body = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
  return `${name}{${body}}`;
}

/** n samples of v ('_': n minutes without a sample). promtool expands `axN` to N+1 samples but `_xN` to N. */
export function run(v: number | '_', n: number): string {
  if (n < 1) throw new Error(`run(${v}, ${n}): n must be at least 1`);
  if (v === '_') return `_x${n}`;
  return n === 1 ? `${v}` : `${v}x${n - 1}`;
}

/** n samples start, start+step, … */
export function ramp(start: number, step: number, n: number): string {
  if (n < 1) throw new Error(`ramp(${start}, ${step}, ${n}): n must be at least 1`);
  return n === 1 ? `${start}` : `${start}+${step}x${n - 1}`;
}

const timeline = (...parts: string[]) => parts.join(' ');
const silentAt = (...at: number[]): Evaluation[] => at.map((t) => ({ at: t, firing: [] }));
const WHOLE = 31; // samples of a series that lives through a whole case (0m … 30m)

// ---- NATS ----------------------------------------------------------------------------------------

/** Labels a PodMonitor scrape of the exporter sidecar on port "metrics" gives pod i of the StatefulSet. */
function natsTarget(ctx: AlertContext, i: number): Labels {
  const pod = ctx.natsPods[i];
  if (pod === undefined) throw new Error(`no NATS pod ${i} in ${ctx.env}`);
  return {
    container: 'metrics',
    endpoint: 'metrics',
    instance: `10.0.1.${10 + i}:7777`,
    job: ctx.natsJob,
    namespace: ctx.app,
    pod,
  };
}

/** The exporter's metrics carry the server_id it read from /varz when it started. */
const natsServer = (ctx: AlertContext, i: number): Labels => ({ ...natsTarget(ctx, i), server_id: `NSRV${i}` });

interface NatsTimeline {
  /** The exporter's own scrape health (Prometheus `up`). */
  readonly up: string;
  /** gnatsd_healthz_status (0 = ok): present only while the exporter reaches nats-server's /healthz. */
  readonly healthz: string;
  /** A gnatsd_varz gauge. prometheus-nats-exporter 0.15.0 keeps exporting the last /varz values when the
   * server stops answering (its GaugeVecs are never reset), so varz series do NOT disappear. */
  readonly varz: string;
}

const HEALTHY_NATS: NatsTimeline = { up: run(1, WHOLE), healthz: run(0, WHOLE), varz: run(12, WHOLE) };

/** Series of every NATS pod: pod `victim` follows `t`, the others are healthy throughout. */
function natsSeries(ctx: AlertContext, victim: number, t: NatsTimeline): InputSeries[] {
  return ctx.natsPods.flatMap((_pod, i) => {
    const tl = i === victim ? t : HEALTHY_NATS;
    return [
      { series: series('up', natsTarget(ctx, i)), values: tl.up },
      { series: series('gnatsd_healthz_status', natsServer(ctx, i)), values: tl.healthz },
      { series: series('gnatsd_varz_connections', natsServer(ctx, i)), values: tl.varz },
    ];
  });
}

/** nats-server of pod 0 dies at minute `from` (for `minutes`, or for good); its exporter sidecar lives. */
function natsServerDead(from: number, minutes?: number): NatsTimeline {
  const gone =
    minutes === undefined ? [] : [...(minutes > 1 ? [run('_', minutes - 1)] : []), run(0, WHOLE - from - minutes)];
  return {
    up: run(1, WHOLE),
    healthz: timeline(run(0, from), 'stale', ...gone),
    varz: run(12, WHOLE),
  };
}

const natsDownSummary = (pod: string) =>
  `NATS server ${pod} is down: its /healthz has not been ok through the exporter sidecar for 2 minutes.`;
const natsShortSummary = (ctx: AlertContext, live: number) =>
  `Only ${live} of ${ctx.natsPods.length} NATS server(s) are healthy.`;

const NATS_SERVER_DOWN: AlertSpec = {
  severity: 'critical',
  cases: (ctx) => {
    const pod0 = natsTarget(ctx, 0);
    return [
      {
        name: 'every server healthy',
        kind: 'healthy',
        series: natsSeries(ctx, 0, HEALTHY_NATS),
        evals: silentAt(1, 10, 30),
      },
      {
        name: 'nats-server dead while its exporter lives (up == 1, gnatsd_healthz_status gone, varz frozen)',
        kind: 'fires',
        series: natsSeries(ctx, 0, natsServerDead(5)),
        evals: [
          ...silentAt(4, 6),
          { at: 7, firing: [{ labels: pod0, summary: natsDownSummary(pod0.pod!) }] },
          { at: 20, firing: [{ labels: pod0, summary: natsDownSummary(pod0.pod!) }] },
        ],
      },
      {
        name: 'nats-server up but /healthz not ok (e.g. JetStream not current)',
        kind: 'fires',
        series: natsSeries(ctx, 0, { ...HEALTHY_NATS, healthz: timeline(run(0, 5), run(1, WHOLE - 5)) }),
        evals: [...silentAt(6), { at: 7, firing: [{ labels: pod0, summary: natsDownSummary(pod0.pod!) }] }],
      },
      {
        name: 'the whole pod unreachable: exporter scrape fails (up == 0)',
        kind: 'fires',
        series: natsSeries(ctx, 0, {
          up: timeline(run(1, 5), run(0, WHOLE - 5)),
          healthz: timeline(run(0, 5), 'stale'),
          varz: timeline(run(12, 5), 'stale'),
        }),
        evals: [...silentAt(6), { at: 7, firing: [{ labels: pod0, summary: natsDownSummary(pod0.pod!) }] }],
      },
      {
        name: 'nats-server restarts within a minute',
        kind: 'blip',
        series: natsSeries(ctx, 0, natsServerDead(5, 1)),
        evals: silentAt(5, 6, 7, 8, 20),
      },
    ];
  },
};

const NATS_CLUSTER_SIZE_SHORT: AlertSpec = {
  severity: 'critical',
  cases: (ctx) => {
    const n = ctx.natsPods.length;
    const short = (live: number) => [{ labels: {}, summary: natsShortSummary(ctx, live) }];
    return [
      {
        name: `all ${n} server(s) healthy`,
        kind: 'healthy',
        series: natsSeries(ctx, 0, HEALTHY_NATS),
        evals: silentAt(1, 10, 30),
      },
      {
        name: 'one nats-server dead while its exporter lives (up == 1, gnatsd_healthz_status gone)',
        kind: 'fires',
        series: natsSeries(ctx, 0, natsServerDead(5)),
        evals: [...silentAt(4, 9), { at: 10, firing: short(n - 1) }, { at: 25, firing: short(n - 1) }],
      },
      {
        name: 'no NATS series at all (every target gone)',
        kind: 'fires',
        series: ctx.natsPods.flatMap((_p, i) => [
          { series: series('up', natsTarget(ctx, i)), values: timeline(run(1, 5), 'stale') },
          { series: series('gnatsd_healthz_status', natsServer(ctx, i)), values: timeline(run(0, 5), 'stale') },
        ]),
        evals: [...silentAt(4, 9), { at: 10, firing: short(0) }],
      },
      {
        name: 'one server away for 3 minutes (a restart)',
        kind: 'blip',
        series: natsSeries(ctx, 0, natsServerDead(5, 3)),
        evals: silentAt(6, 9, 10, 12, 20),
      },
    ];
  },
};

const JETSTREAM_STORAGE_HIGH: AlertSpec = {
  severity: 'warning',
  cases: (ctx) => {
    const max = 20 * 1024 ** 3;
    const storage = (i: number, values: string): InputSeries[] => [
      { series: series('gnatsd_varz_jetstream_stats_storage', natsServer(ctx, i)), values },
      { series: series('gnatsd_varz_jetstream_config_max_storage', natsServer(ctx, i)), values: run(max, WHOLE) },
    ];
    const others = ctx.natsPods.slice(1).flatMap((_p, j) => storage(j + 1, run(0.5 * max, WHOLE)));
    const pod0 = natsServer(ctx, 0);
    const firing = [{ labels: pod0, summary: `JetStream file store above 80% on ${pod0.pod}.` }];
    return [
      {
        name: 'file store half full',
        kind: 'healthy',
        series: [...storage(0, run(0.5 * max, WHOLE)), ...others],
        evals: silentAt(1, 15, 30),
      },
      {
        name: 'file store at 85% from minute 2',
        kind: 'fires',
        series: [...storage(0, timeline(run(0.5 * max, 2), run(0.85 * max, WHOLE - 2))), ...others],
        evals: [...silentAt(1, 11), { at: 12, firing }, { at: 30, firing }],
      },
      {
        name: 'file store at 85% for 5 minutes, then compacted',
        kind: 'blip',
        series: [...storage(0, timeline(run(0.5 * max, 2), run(0.85 * max, 5), run(0.5 * max, WHOLE - 7))), ...others],
        evals: silentAt(5, 7, 12, 20),
      },
      {
        name: 'file store at exactly 80%',
        kind: 'silent',
        series: [...storage(0, run(0.8 * max, WHOLE)), ...others],
        evals: silentAt(15, 30),
      },
    ];
  },
};

// ---- executors (kube-state-metrics) --------------------------------------------------------------

const KSM = { job: 'kube-state-metrics', instance: '10.0.2.5:8080' } as const;
type Phase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';
const PHASES: readonly Phase[] = ['Pending', 'Running', 'Succeeded', 'Failed'];

/**
 * kube_pod_status_phase of one executor pod: one series per phase (1 for the current phase, 0 for
 * the others). `life` lists the phase of each minute from minute `from`; after it the pod is deleted.
 */
function podPhases(ctx: AlertContext, pod: string, from: number, life: readonly Phase[]): InputSeries[] {
  return PHASES.map((phase) => ({
    series: series('kube_pod_status_phase', {
      ...KSM,
      namespace: ctx.executor,
      phase,
      pod,
      uid: `uid-${pod}`,
    }),
    values: timeline(
      ...(from > 0 ? [run('_', from)] : []),
      ...life.map((p) => (p === phase ? '1' : '0')),
      ...(from + life.length < WHOLE ? ['stale'] : []),
    ),
  }));
}

const repeat = (p: Phase, n: number): Phase[] => Array.from({ length: n }, () => p);

const EXECUTOR_PODS_PENDING: AlertSpec = {
  severity: 'warning',
  cases: (ctx) => {
    const stuckLabels = { namespace: ctx.executor, pod: 'exec-stuck' };
    const firing = [
      {
        labels: stuckLabels,
        summary: 'Executor pod exec-stuck has been Pending for 5 minutes: jobs are waiting for capacity.',
      },
    ];
    const quickJob = (pod: string, from: number) =>
      podPhases(ctx, pod, from, [...repeat('Pending', 1), ...repeat('Running', 2), 'Succeeded']);
    return [
      {
        name: 'jobs start within a minute',
        kind: 'healthy',
        series: [...quickJob('exec-a', 0), ...quickJob('exec-b', 4), ...quickJob('exec-c', 8)],
        evals: silentAt(1, 5, 10, 20),
      },
      {
        name: 'one pod stuck Pending from minute 1 while others run',
        kind: 'fires',
        series: [
          ...podPhases(ctx, 'exec-stuck', 1, repeat('Pending', WHOLE - 1)),
          ...quickJob('exec-a', 0),
          ...quickJob('exec-b', 6),
        ],
        evals: [...silentAt(5), { at: 6, firing }, { at: 20, firing }],
      },
      {
        name: 'a pod stuck Pending while kube-state-metrics restarts (new instance label at minute 4)',
        kind: 'fires',
        series: [
          {
            series: series('kube_pod_status_phase', {
              ...KSM,
              namespace: ctx.executor,
              phase: 'Pending',
              pod: 'exec-stuck',
              uid: 'uid-exec-stuck',
            }),
            values: timeline(run('_', 1), run(1, 3), 'stale'),
          },
          {
            series: series('kube_pod_status_phase', {
              ...KSM,
              instance: '10.0.2.9:8080',
              namespace: ctx.executor,
              phase: 'Pending',
              pod: 'exec-stuck',
              uid: 'uid-exec-stuck',
            }),
            values: timeline(run('_', 4), run(1, WHOLE - 4)),
          },
        ],
        evals: [...silentAt(5), { at: 6, firing }],
      },
      {
        name: 'a pod Pending for 3 minutes, then Running',
        kind: 'blip',
        series: podPhases(ctx, 'exec-a', 1, [...repeat('Pending', 3), ...repeat('Running', 5), 'Succeeded']),
        evals: silentAt(3, 4, 6, 8, 12),
      },
      {
        name: 'two different pods each Pending for 3 minutes, one after the other',
        kind: 'blip',
        series: [
          ...podPhases(ctx, 'exec-a', 0, [...repeat('Pending', 3), ...repeat('Running', 3), 'Succeeded']),
          ...podPhases(ctx, 'exec-b', 3, [...repeat('Pending', 3), ...repeat('Running', 3), 'Succeeded']),
        ],
        evals: silentAt(4, 5, 6, 7, 10),
      },
      {
        name: 'a pod stuck Pending in another namespace',
        kind: 'silent',
        series: podPhases({ ...ctx, executor: 'someone-else' }, 'exec-x', 0, repeat('Pending', WHOLE)),
        evals: silentAt(10, 30),
      },
    ];
  },
};

const failedSummary = (n: number) =>
  `${n} executor pods ended in phase Failed in the last 10 minutes (deadline, OOM or image errors).`;

const EXECUTOR_PODS_FAILING: AlertSpec = {
  severity: 'warning',
  cases: (ctx) => {
    /** A job pod that runs for 2 minutes, fails, and is deleted by the middleware a minute later. */
    const failedJob = (pod: string, from: number) => podPhases(ctx, pod, from, [...repeat('Running', 2), 'Failed']);
    const okJob = (pod: string, from: number) => podPhases(ctx, pod, from, [...repeat('Running', 2), 'Succeeded']);
    return [
      {
        name: 'every job succeeds',
        kind: 'healthy',
        series: [0, 3, 6, 9, 12, 15].flatMap((t) => okJob(`exec-ok-${t}`, t)),
        evals: silentAt(5, 10, 20),
      },
      {
        name: 'three job pods fail within 10 minutes (each deleted right after)',
        kind: 'fires',
        series: [
          ...failedJob('exec-f1', 0),
          ...failedJob('exec-f2', 3),
          ...failedJob('exec-f3', 7),
          ...okJob('exec-ok', 4),
        ],
        evals: [
          ...silentAt(2, 6, 8),
          { at: 9, firing: [{ labels: {}, summary: failedSummary(3) }] },
          { at: 11, firing: [{ labels: {}, summary: failedSummary(3) }] },
          // Range selectors are left-open: at minute 12 the first failure (minute 2) has left the window.
          ...silentAt(12, 20),
        ],
      },
      {
        name: 'one failed pod left undeleted for 20 minutes (a single job over its deadline)',
        kind: 'silent',
        series: podPhases(ctx, 'exec-slow', 0, [...repeat('Running', 2), ...repeat('Failed', 20)]),
        evals: silentAt(3, 12, 15, 21),
      },
      {
        name: 'three failures spread over more than 10 minutes',
        kind: 'blip',
        series: [...failedJob('exec-f1', 0), ...failedJob('exec-f2', 6), ...failedJob('exec-f3', 13)],
        evals: silentAt(3, 9, 15, 18),
      },
    ];
  },
};

const EXECUTOR_QUOTA_EXHAUSTED: AlertSpec = {
  severity: 'warning',
  cases: (ctx) => {
    const quota = (resource: string, type: 'used' | 'hard', values: string): InputSeries => ({
      series: series('kube_resourcequota', {
        ...KSM,
        namespace: ctx.executor,
        resource,
        resourcequota: 'executor-quota',
        type,
      }),
      values,
    });
    const pods = (used: string): InputSeries[] => [
      quota('pods', 'hard', run(24, WHOLE)),
      quota('pods', 'used', used),
      quota('requests.cpu', 'hard', run(24, WHOLE)),
      quota('requests.cpu', 'used', run(6, WHOLE)),
    ];
    const firing = [
      {
        labels: { resource: 'pods' },
        summary: 'The executor ResourceQuota (pods) is fully used: new jobs are refused.',
      },
    ];
    return [
      { name: 'quota partly used', kind: 'healthy', series: pods(run(10, WHOLE)), evals: silentAt(1, 15, 30) },
      {
        name: 'every pod slot taken from minute 2',
        kind: 'fires',
        series: pods(timeline(run(10, 2), run(24, WHOLE - 2))),
        evals: [...silentAt(1, 11), { at: 12, firing }, { at: 30, firing }],
      },
      {
        name: 'every pod slot taken for 5 minutes',
        kind: 'blip',
        series: pods(timeline(run(10, 2), run(24, 5), run(10, WHOLE - 7))),
        evals: silentAt(5, 7, 12, 20),
      },
      {
        name: "another namespace's quota full",
        kind: 'silent',
        series: [
          {
            series: series('kube_resourcequota', {
              ...KSM,
              namespace: 'other',
              resource: 'pods',
              resourcequota: 'q',
              type: 'hard',
            }),
            values: run(4, WHOLE),
          },
          {
            series: series('kube_resourcequota', {
              ...KSM,
              namespace: 'other',
              resource: 'pods',
              resourcequota: 'q',
              type: 'used',
            }),
            values: run(4, WHOLE),
          },
        ],
        evals: silentAt(15, 30),
      },
    ];
  },
};

// ---- platform Deployments (kube-state-metrics) ---------------------------------------------------

function first(ctx: AlertContext): string {
  const d = ctx.deployments[0];
  if (d === undefined) throw new Error(`${ctx.env}: no Deployments in ${ctx.app}`);
  return d;
}

function deploymentSeries(
  ctx: AlertContext,
  metric: string,
  victim: string,
  victimValues: string,
  others: string,
  namespace = ctx.app,
): InputSeries[] {
  return ctx.deployments.map((deployment) => ({
    series: series(metric, { ...KSM, deployment, namespace }),
    values: deployment === victim ? victimValues : others,
  }));
}

/**
 * Like deploymentSeries, but kube-state-metrics restarts at minute `at` (rescheduled: a new instance
 * label), so the victim's series continues under another identity.
 */
function deploymentSeriesAcrossRestart(
  ctx: AlertContext,
  metric: string,
  victim: string,
  victimValues: readonly (number | string)[],
  others: string,
  at: number,
): InputSeries[] {
  const moved = { ...KSM, instance: '10.0.2.9:8080' };
  return [
    ...deploymentSeries(ctx, metric, '', '', others).filter((x) => !x.series.includes(`deployment="${victim}"`)),
    {
      series: series(metric, { ...KSM, deployment: victim, namespace: ctx.app }),
      values: timeline(...victimValues.slice(0, at).map(String), 'stale'),
    },
    {
      series: series(metric, { ...moved, deployment: victim, namespace: ctx.app }),
      values: timeline(run('_', at), ...victimValues.slice(at).map(String)),
    },
  ];
}

const minutes = (...parts: [number, number][]): number[] =>
  parts.flatMap(([v, n]) => Array.from({ length: n }, () => v));

const PLATFORM_DEPLOYMENT_UNAVAILABLE: AlertSpec = {
  severity: 'critical',
  cases: (ctx) => {
    const m = 'kube_deployment_status_replicas_available';
    const healthy = run(2, WHOLE);
    return [
      {
        name: 'every Deployment available',
        kind: 'healthy',
        series: deploymentSeries(ctx, m, '', '', healthy),
        evals: silentAt(1, 15, 30),
      },
      ...ctx.deployments.map((d): AlertCase => ({
        name: `${d} has no available replica from minute 2`,
        kind: 'fires',
        series: deploymentSeries(ctx, m, d, timeline(run(2, 2), run(0, WHOLE - 2)), healthy),
        evals: [
          ...silentAt(1, 4),
          {
            at: 5,
            firing: [{ labels: { deployment: d, namespace: ctx.app }, summary: `${d} has no available replicas.` }],
          },
        ],
      })),
      {
        name: `${first(ctx)} without available replicas for 2 minutes (a restart)`,
        kind: 'blip',
        series: deploymentSeries(ctx, m, first(ctx), timeline(run(2, 2), run(0, 2), run(2, WHOLE - 4)), healthy),
        evals: silentAt(3, 4, 5, 10),
      },
      {
        name: `${first(ctx)} without replicas from minute 2 while kube-state-metrics restarts at minute 3`,
        kind: 'fires',
        series: deploymentSeriesAcrossRestart(ctx, m, first(ctx), minutes([2, 2], [0, WHOLE - 2]), healthy, 3),
        evals: [
          ...silentAt(1, 4),
          {
            at: 5,
            firing: [
              {
                labels: { deployment: first(ctx), namespace: ctx.app },
                summary: `${first(ctx)} has no available replicas.`,
              },
            ],
          },
        ],
      },
      {
        name: 'the same Deployment names in another namespace unavailable',
        kind: 'silent',
        series: deploymentSeries(ctx, m, '', '', run(0, WHOLE), 'other'),
        evals: silentAt(10, 30),
      },
    ];
  },
};

const PLATFORM_DEPLOYMENT_DEGRADED: AlertSpec = {
  severity: 'warning',
  cases: (ctx) => {
    const m = 'kube_deployment_status_replicas_unavailable';
    const healthy = run(0, WHOLE);
    return [
      {
        name: 'no unavailable replicas',
        kind: 'healthy',
        series: deploymentSeries(ctx, m, '', '', healthy),
        evals: silentAt(1, 20, 30),
      },
      ...ctx.deployments.map((d): AlertCase => ({
        name: `${d} one replica short from minute 2`,
        kind: 'fires',
        series: deploymentSeries(ctx, m, d, timeline(run(0, 2), run(1, WHOLE - 2)), healthy),
        evals: [
          ...silentAt(1, 16),
          {
            at: 17,
            firing: [
              {
                labels: { deployment: d, namespace: ctx.app },
                summary: `${d} has had unavailable replicas for 15 minutes.`,
              },
            ],
          },
        ],
      })),
      {
        name: `${first(ctx)} one replica short from minute 2 while kube-state-metrics restarts at minute 8`,
        kind: 'fires',
        series: deploymentSeriesAcrossRestart(ctx, m, first(ctx), minutes([0, 2], [1, WHOLE - 2]), healthy, 8),
        evals: [
          ...silentAt(1, 16),
          {
            at: 17,
            firing: [
              {
                labels: { deployment: first(ctx), namespace: ctx.app },
                summary: `${first(ctx)} has had unavailable replicas for 15 minutes.`,
              },
            ],
          },
        ],
      },
      {
        name: `${first(ctx)} one replica short for 10 minutes (a slow rollout)`,
        kind: 'blip',
        series: deploymentSeries(ctx, m, first(ctx), timeline(run(0, 2), run(1, 10), run(0, WHOLE - 12)), healthy),
        evals: silentAt(5, 11, 12, 17, 25),
      },
    ];
  },
};

// ---- oauth2-proxy --------------------------------------------------------------------------------

const OAUTH2_PROXY_5XX_RATE: AlertSpec = {
  severity: 'warning',
  cases: (ctx) => {
    const target = (code: string) =>
      series('oauth2_proxy_requests_total', {
        code,
        container: 'oauth2-proxy',
        endpoint: 'metrics',
        instance: '10.0.3.7:44180',
        job: `${ctx.app}/oauth2-proxy`,
        namespace: ctx.app,
        pod: 'oauth2-proxy-6d5f8c7b9-x2x4p',
      });
    const ok: InputSeries = { series: target('200'), values: ramp(0, 60, WHOLE) }; // 1 request/s
    const errors = (values: string): InputSeries => ({ series: target('502'), values });
    const firing = [{ labels: {}, summary: 'More than 5% of requests through oauth2-proxy end in 5xx.' }];
    return [
      {
        name: '1% of requests end in 5xx',
        kind: 'healthy',
        series: [ok, errors(ramp(0, 0.6, WHOLE))],
        evals: silentAt(5, 15, 30),
      },
      {
        name: 'a third of requests end in 502 from minute 5',
        kind: 'fires',
        series: [ok, errors(timeline(run(0, 6), ramp(30, 30, WHOLE - 6)))],
        evals: [...silentAt(5, 15), { at: 16, firing }, { at: 30, firing }],
      },
      {
        name: 'a third of requests end in 502 for 3 minutes',
        kind: 'blip',
        series: [ok, errors(timeline(run(0, 6), ramp(30, 30, 3), run(90, WHOLE - 9)))],
        evals: silentAt(8, 12, 16, 20),
      },
      {
        name: 'no traffic at all',
        kind: 'silent',
        series: [
          { series: target('200'), values: run(0, WHOLE) },
          { series: target('502'), values: run(0, WHOLE) },
        ],
        evals: silentAt(10, 30),
      },
    ];
  },
};

/** Unit-test inputs per alert. An alert the PrometheusRule renders without an entry here fails the suite. */
export const ALERT_CASES: Readonly<Record<string, AlertSpec>> = {
  NatsServerDown: NATS_SERVER_DOWN,
  NatsClusterSizeShort: NATS_CLUSTER_SIZE_SHORT,
  JetStreamStorageHigh: JETSTREAM_STORAGE_HIGH,
  ExecutorPodsFailing: EXECUTOR_PODS_FAILING,
  ExecutorPodsPending: EXECUTOR_PODS_PENDING,
  ExecutorQuotaExhausted: EXECUTOR_QUOTA_EXHAUSTED,
  PlatformDeploymentUnavailable: PLATFORM_DEPLOYMENT_UNAVAILABLE,
  PlatformDeploymentDegraded: PLATFORM_DEPLOYMENT_DEGRADED,
  OAuth2Proxy5xxRate: OAUTH2_PROXY_5XX_RATE,
};
