/**
 * Unit-test inputs for every alert of the platform's PrometheusRule, run through `promtool test rules`
 * by prometheus-rules.real.test.ts. Keyed by alert name; each case is a 31-minute timeline (minute 0 to
 * 30, one sample a minute) of the series the alert reads, and what the alert must do at chosen
 * evaluation times.
 *
 * The series are those Prometheus would hold, not ones written to suit the rule:
 *  - a series exists only while its source answers the scrape and reports it. When an object, a
 *    counter child or a whole target goes away, Prometheus writes a staleness marker the first minute
 *    it is missing (the series is gone at once, not after the 5-minute lookback);
 *  - a replaced pod is a new target: new `instance` (pod IP), and for a Deployment's pod a new `pod`;
 *  - labels are the ones the scrape gives: our PodMonitors (`container`, `endpoint`, `instance`,
 *    `job` = <namespace>/<PodMonitor>, `namespace`, `pod`) for NATS and oauth2-proxy; for
 *    kube-state-metrics, the ServiceMonitor of kube-prometheus-stack (job `kube-state-metrics`,
 *    `honorLabels: true`, so an object's own `namespace` and `pod` win over the target's, and metrics
 *    without a `pod` label carry the kube-state-metrics pod's name).
 * What the exporters emit when their source fails is taken from their code, not from a run (the
 * suites here run neither kube-state-metrics nor prometheus-nats-exporter); each place says so.
 *
 * Every alert needs: a case that fires (and is silent just before its `for:` has elapsed), a healthy
 * case, and a blip (a failure shorter or smaller than the alert's threshold) that stays silent. Each
 * event an alert lists in `events` needs a case that fires and one that stays silent during it.
 */

/** What a case needs to know about the environment under test; read from its committed dist/ objects. */
export interface AlertContext {
  /** Environment name: the `environment` label every alert carries. */
  readonly env: string;
  /** Application namespace (NATS, Deployments, oauth2-proxy). */
  readonly app: string;
  /** Executor namespace (job pods, their ResourceQuota). */
  readonly executor: string;
  /** How the nats PodMonitor scrapes the NATS pods (the exporter sidecar). */
  readonly nats: ScrapeTarget;
  /** How the oauth2-proxy PodMonitor scrapes the oauth2-proxy pods. */
  readonly proxy: ScrapeTarget;
  /** The server_id label of the NATS exporter's metrics (from its monitor URL argument). */
  readonly natsServerId: string;
  /** The NATS StatefulSet's pods, nats-0 … nats-(replicas-1). */
  readonly natsPods: readonly string[];
  /** The Deployments the app namespace ships. */
  readonly deployments: readonly string[];
  /**
   * Whole minutes a failed executor pod stays, at most, before the executor reaper deletes it: its
   * REAPER_MIN_AGE_SECONDS plus the interval of its schedule (from the committed CronJob).
   */
  readonly failedPodRetention: number;
}

/**
 * What a PodMonitor's targets have in common, from the committed PodMonitor and the pod template it
 * selects: Prometheus Operator labels each target with job (<namespace>/<PodMonitor>), container (the
 * container that has the port), endpoint (the port's name), namespace, pod and instance (podIP:port).
 */
export interface ScrapeTarget {
  readonly job: string;
  readonly container: string;
  readonly endpoint: string;
  readonly port: number;
}

export type Labels = Readonly<Record<string, string>>;

/** The labels a scrape of `target` gives the pod `pod` at `ip`. */
function targetLabels(ctx: AlertContext, target: ScrapeTarget, pod: string, ip: string): Labels {
  return {
    container: target.container,
    endpoint: target.endpoint,
    instance: `${ip}:${target.port}`,
    job: target.job,
    namespace: ctx.app,
    pod,
  };
}

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

/** The events on-call meets, which an alert must neither miss nor page for by mistake. */
export type AlertEvent =
  /** A node drained: its pods evicted and replaced elsewhere (new pod IP, for a Deployment a new name). */
  | 'drain'
  /** A rollout of the workload: its pods replaced one after the other. */
  | 'rolling restart'
  /** kube-state-metrics replaced with an overlap (the new pod answers before the old one goes). */
  | 'kube-state-metrics rolling update'
  /** kube-state-metrics away for at least one evaluation, then back under a new pod IP and name. */
  | 'kube-state-metrics restart'
  /** An object removed by a sync (prune): its series end. */
  | 'prune'
  /** Many things at once for a short time. */
  | 'burst'
  /** Little traffic, where a handful of events is a large share. */
  | 'quiet night';

export interface AlertCase {
  readonly name: string;
  readonly kind: CaseKind;
  /** The events this case plays out. */
  readonly events?: readonly AlertEvent[];
  readonly series: readonly InputSeries[];
  readonly evals: readonly Evaluation[];
}

export interface AlertSpec {
  readonly severity: 'warning' | 'critical';
  /** The events meaningful for this alert: each needs a case that fires and one that does not. */
  readonly events: readonly AlertEvent[];
  readonly cases: (ctx: AlertContext) => AlertCase[];
}

// ---- timelines -----------------------------------------------------------------------------------

/** Samples a case spans: minute 0 to minute 30. */
const WHOLE = 31;

/** What minute m of a timeline holds. */
type Sample = number | '_' | 'stale';

/**
 * A timeline per minute from [value, minutes] parts; a last part without minutes lasts to the end.
 * Throws unless the parts fill exactly the WHOLE minutes of a case.
 */
export function span<T>(...parts: readonly (readonly [T, number?])[]): T[] {
  const out: T[] = [];
  parts.forEach(([v, n], i) => {
    const count = n ?? (i === parts.length - 1 ? WHOLE - out.length : -1);
    if (!Number.isInteger(count) || count < 0) throw new Error(`span: part ${i} needs a whole number of minutes`);
    for (let k = 0; k < count; k++) out.push(v);
  });
  if (out.length !== WHOLE) throw new Error(`span: ${out.length} minutes, a case has ${WHOLE}`);
  return out;
}

/** A quantity per minute; undefined where its series does not exist. */
type Minutes = readonly (number | undefined)[];

/**
 * The samples Prometheus stores for one series: its value in each minute it is scraped, and the
 * staleness marker it writes the first minute the series is missing from a scrape (or its target is
 * gone); '_' (no sample) in the other minutes. `alive(m)` says whether the target answers in minute m.
 */
function scraped(values: Minutes, alive: (m: number) => boolean = () => true): string {
  const out: Sample[] = [];
  let had = false;
  for (let m = 0; m < WHOLE; m++) {
    const v = alive(m) ? values[m] : undefined;
    out.push(v !== undefined ? v : had ? 'stale' : '_');
    had = v !== undefined;
  }
  return out.join(' ');
}

/** `name{k="v", …}`. */
export function series(name: string, labels: Labels): string {
  const body = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(', ');
  return `${name}{${body}}`;
}

/** A series with at least one sample, or nothing. */
function input(name: string, labels: Labels, values: Minutes, alive?: (m: number) => boolean): InputSeries[] {
  const v = scraped(values, alive);
  return /\d/.test(v) ? [{ series: series(name, labels), values: v }] : [];
}

const silentAt = (...at: number[]): Evaluation[] => at.map((t) => ({ at: t, firing: [] }));
const firingAt = (firing: readonly ExpectedAlert[], ...at: number[]): Evaluation[] =>
  at.map((t) => ({ at: t, firing }));

// ---- NATS ----------------------------------------------------------------------------------------

/**
 * One NATS pod in one minute, as its exporter sidecar (prometheus-nats-exporter 0.15.0 with -varz
 * -healthz) shows it. From the exporter's code at tag v0.15.0, not a run (the Go module proxy does not
 * serve that version): gnatsd_healthz_status (0 = ok) is exported only when the exporter gets a JSON
 * answer from nats-server's /healthz, and is 1 when its status is not "ok" (collector/healthz.go);
 * when /varz cannot be read, makeRequests still keeps an empty answer for the server, so the varz
 * GaugeVecs, never reset, go on exporting the last values read (collector/collector.go).
 *  - ok: nats-server healthy;
 *  - unhealthy: nats-server answers, /healthz not ok (starting, JetStream not current);
 *  - dead: nats-server gone, the exporter sidecar still answers (up 1, no healthz, varz frozen);
 *  - unreachable: the pod is there but its scrape fails (up 0, no other series);
 *  - gone: no pod, so no target and no series at all (drained, deleted, pruned).
 * A pod that comes back after `gone` is a new pod of the same name: a new IP (instance).
 */
type NatsState = 'ok' | 'unhealthy' | 'dead' | 'unreachable' | 'gone';

/** Labels the nats PodMonitor's scrape of the exporter sidecar gives generation `gen` of pod i. */
function natsTarget(ctx: AlertContext, i: number, gen = 0): Labels {
  const pod = ctx.natsPods[i];
  if (pod === undefined) throw new Error(`no NATS pod ${i} in ${ctx.env}`);
  return targetLabels(ctx, ctx.nats, pod, `10.0.${1 + gen}.${10 + i}`);
}

/**
 * The exporter's metrics also carry server_id: exporter 0.15.0 started with one monitor URL and no
 * -use_internal_server_id names the server scheme://host of that URL (main.go, parseServerIDAndURL),
 * the same for every pod and every restart.
 */
const natsServer = (ctx: AlertContext, i: number, gen = 0): Labels => ({
  ...natsTarget(ctx, i, gen),
  server_id: ctx.natsServerId,
});

const JS_MAX = 20 * 1024 ** 3;

/**
 * Series of NATS pod i through `states`; `storage` is the JetStream file store used per minute as a
 * share of max_file_store (only when given: the JetStream varz gauges).
 */
function natsPod(ctx: AlertContext, i: number, states: readonly NatsState[], storage?: Minutes): InputSeries[] {
  const gens: number[] = [];
  states.forEach((s, m) => gens.push((gens[m - 1] ?? 0) + (m > 0 && states[m - 1] === 'gone' && s !== 'gone' ? 1 : 0)));
  const out: InputSeries[] = [];
  for (const gen of [...new Set(gens)]) {
    const mine = (f: (s: NatsState, m: number) => number | undefined): Minutes =>
      states.map((s, m) => (gens[m] === gen && s !== 'gone' ? f(s, m) : undefined));
    // varz keeps its last value while nats-server is dead (the exporter never resets its gauges).
    let lastStorage: number | undefined;
    const varz = mine((s, m) => {
      if (s === 'ok' || s === 'unhealthy') lastStorage = storage?.[m];
      return s === 'ok' || s === 'unhealthy' || s === 'dead' ? lastStorage : undefined;
    });
    const exporting = mine((s) => (s === 'unreachable' ? undefined : 1));
    out.push(
      ...input(
        'up',
        natsTarget(ctx, i, gen),
        mine((s) => (s === 'unreachable' ? 0 : 1)),
      ),
      ...input(
        'gnatsd_healthz_status',
        natsServer(ctx, i, gen),
        mine((s) => (s === 'ok' ? 0 : s === 'unhealthy' ? 1 : undefined)),
      ),
      ...input(
        'gnatsd_varz_connections',
        natsServer(ctx, i, gen),
        exporting.map((v) => (v === undefined ? v : 12)),
      ),
    );
    if (storage) {
      out.push(
        ...input(
          'gnatsd_varz_jetstream_stats_storage',
          natsServer(ctx, i, gen),
          varz.map((v) => (v === undefined ? v : v * JS_MAX)),
        ),
        ...input(
          'gnatsd_varz_jetstream_config_max_storage',
          natsServer(ctx, i, gen),
          varz.map((v) => (v === undefined ? v : JS_MAX)),
        ),
      );
    }
  }
  return out;
}

const ALL_OK = span<NatsState>(['ok']);

/** nats-server dies at minute 5; its exporter sidecar lives on. */
const DIES_AT_5 = span<NatsState>(['ok', 5], ['dead']);
/** A drain: the server stops at minute 5, no pod at 6, a new pod (new IP) at 7, healthy from 8. */
const DRAINED_3M = span<NatsState>(['ok', 5], ['dead', 1], ['gone', 1], ['unhealthy', 1], ['ok']);
/** A quick drain: the server stops at minute 5, no pod at 6, a new pod healthy at 7. */
const DRAINED_QUICKLY = span<NatsState>(['ok', 5], ['dead', 1], ['gone', 1], ['ok']);
/** The StatefulSet pruned at minute 5. */
const PRUNED_AT_5 = span<NatsState>(['ok', 5], ['gone']);
/** The StatefulSet pruned at minute 5 and its pods back healthy, from the next sync, at 6. */
const RESYNCED_AT_6 = span<NatsState>(['ok', 5], ['gone', 1], ['ok']);

/** The same states for every NATS pod. */
const everyPod = (ctx: AlertContext, states: readonly NatsState[]): Record<number, readonly NatsState[]> =>
  Object.fromEntries(ctx.natsPods.map((_p, i) => [i, states]));

/** Every NATS pod: those in `pods` follow their states, the others stay ok. */
function natsCluster(
  ctx: AlertContext,
  pods: Readonly<Record<number, readonly NatsState[]>>,
  storage?: (i: number) => Minutes,
): InputSeries[] {
  return ctx.natsPods.flatMap((_p, i) => natsPod(ctx, i, pods[i] ?? ALL_OK, storage?.(i)));
}

/** A rolling restart of the StatefulSet from minute `from`: pods from the highest ordinal down, each gone
 * for one minute and back ok the next, then `every` minutes later the next one. */
function natsRollingRestart(ctx: AlertContext, from: number, every = 3): Record<number, NatsState[]> {
  const n = ctx.natsPods.length;
  return Object.fromEntries(
    ctx.natsPods.map((_p, i) => {
      const at = from + (n - 1 - i) * every;
      return [i, span<NatsState>(['ok', at], ['gone', 1], ['ok'])];
    }),
  );
}

const natsDownSummary = (pod: string) =>
  `NATS server ${pod} is down: its /healthz has not been ok through the exporter sidecar for 2 minutes.`;
const natsShortSummary = (ctx: AlertContext, live: number) =>
  `Only ${live} of ${ctx.natsPods.length} NATS server(s) are healthy.`;

/** NatsServerDown's labels: the StatefulSet pod, which a replacement keeps (its IP it does not). */
function natsDown(ctx: AlertContext, i: number): ExpectedAlert {
  const pod = ctx.natsPods[i];
  if (pod === undefined) throw new Error(`no NATS pod ${i} in ${ctx.env}`);
  return { labels: { namespace: ctx.app, pod }, summary: natsDownSummary(pod) };
}

const NATS_SERVER_DOWN: AlertSpec = {
  severity: 'critical',
  events: ['drain', 'rolling restart', 'prune'],
  cases: (ctx) => {
    const down0 = [natsDown(ctx, 0)];
    const last = ctx.natsPods.length - 1;
    return [
      {
        name: 'every server healthy',
        kind: 'healthy',
        series: natsCluster(ctx, {}),
        evals: silentAt(1, 10, 30),
      },
      {
        name: 'nats-server dead while its exporter lives (up == 1, gnatsd_healthz_status gone, varz frozen)',
        kind: 'fires',
        series: natsCluster(ctx, { 0: DIES_AT_5 }),
        evals: [...silentAt(4, 6), ...firingAt(down0, 7, 20)],
      },
      {
        name: 'nats-server up but /healthz not ok (e.g. JetStream not current)',
        kind: 'fires',
        series: natsCluster(ctx, { 0: span<NatsState>(['ok', 5], ['unhealthy']) }),
        evals: [...silentAt(6), ...firingAt(down0, 7)],
      },
      {
        name: 'the whole pod unreachable: exporter scrape fails (up == 0)',
        kind: 'fires',
        series: natsCluster(ctx, { 0: span<NatsState>(['ok', 5], ['unreachable']) }),
        evals: [...silentAt(6), ...firingAt(down0, 7)],
      },
      {
        name: 'nats-server restarts within a minute',
        kind: 'blip',
        series: natsCluster(ctx, { 0: span<NatsState>(['ok', 5], ['dead', 1], ['ok']) }),
        evals: silentAt(5, 6, 7, 8, 20),
      },
      {
        name: 'drain: nats-0 stops at minute 5, has no pod at 6, comes back as a new pod (new IP) not healthy until 8',
        kind: 'fires',
        events: ['drain'],
        series: natsCluster(ctx, { 0: DRAINED_3M }),
        evals: [...silentAt(4, 6), ...firingAt(down0, 7), ...silentAt(8, 20)],
      },
      {
        name: 'drain: nats-0 stops at minute 5, has no pod at 6, is back healthy as a new pod at 7',
        kind: 'blip',
        events: ['drain'],
        series: natsCluster(ctx, { 0: DRAINED_QUICKLY }),
        evals: silentAt(5, 6, 7, 8, 20),
      },
      {
        name: 'rolling restart: every pod replaced in turn, each away for one minute',
        kind: 'silent',
        events: ['rolling restart'],
        series: natsCluster(ctx, natsRollingRestart(ctx, 4)),
        evals: silentAt(4, 5, 6, 7, 8, 9, 10, 11, 12, 20),
      },
      {
        name: `rolling restart: ${ctx.natsPods[0]} (the last one) comes back unhealthy and stays so`,
        kind: 'fires',
        events: ['rolling restart'],
        series: natsCluster(ctx, {
          ...natsRollingRestart(ctx, 4),
          0: span<NatsState>(['ok', 4 + 3 * last], ['gone', 1], ['unhealthy']),
        }),
        evals: [...silentAt(4 + 3 * last + 1), ...firingAt(down0, 4 + 3 * last + 2, 30)],
      },
      {
        name: 'prune: the StatefulSet is removed at minute 5, every pod and target with it',
        kind: 'fires',
        events: ['prune'],
        series: natsCluster(ctx, everyPod(ctx, PRUNED_AT_5)),
        evals: [
          ...silentAt(4, 6),
          ...firingAt(
            ctx.natsPods.map((_p, i) => natsDown(ctx, i)),
            7,
            30,
          ),
        ],
      },
      {
        name: 'prune: the StatefulSet is removed at minute 5 and the next sync brings its pods back healthy at 6',
        kind: 'silent',
        events: ['prune'],
        series: natsCluster(ctx, everyPod(ctx, RESYNCED_AT_6)),
        evals: silentAt(5, 6, 7, 8, 20),
      },
    ];
  },
};

const NATS_CLUSTER_SIZE_SHORT: AlertSpec = {
  severity: 'critical',
  events: ['drain', 'rolling restart', 'prune'],
  cases: (ctx) => {
    const n = ctx.natsPods.length;
    const short = (live: number) => [{ labels: {}, summary: natsShortSummary(ctx, live) }];
    return [
      {
        name: `all ${n} server(s) healthy`,
        kind: 'healthy',
        series: natsCluster(ctx, {}),
        evals: silentAt(1, 10, 30),
      },
      {
        name: 'one nats-server dead while its exporter lives (up == 1, gnatsd_healthz_status gone)',
        kind: 'fires',
        series: natsCluster(ctx, { 0: DIES_AT_5 }),
        evals: [...silentAt(4, 9), ...firingAt(short(n - 1), 10, 25)],
      },
      {
        name: 'one server away for 3 minutes (a restart)',
        kind: 'blip',
        series: natsCluster(ctx, { 0: span<NatsState>(['ok', 5], ['dead', 3], ['ok']) }),
        evals: silentAt(6, 9, 10, 12, 20),
      },
      {
        name: 'drain: nats-0 replaced, 3 minutes without a healthy server there',
        kind: 'blip',
        events: ['drain'],
        series: natsCluster(ctx, { 0: DRAINED_3M }),
        evals: silentAt(5, 7, 9, 10, 20),
      },
      {
        name: 'drain: nats-0 evicted at minute 5 and not scheduled again (its volume cannot attach)',
        kind: 'fires',
        events: ['drain'],
        series: natsCluster(ctx, { 0: span<NatsState>(['ok', 5], ['gone']) }),
        evals: [...silentAt(4, 9), ...firingAt(short(n - 1), 10, 25)],
      },
      {
        name: 'rolling restart: every pod replaced in turn, each away for one minute',
        kind: 'silent',
        events: ['rolling restart'],
        series: natsCluster(ctx, natsRollingRestart(ctx, 4)),
        evals: silentAt(4, 8, 12, 16, 20),
      },
      {
        name: `rolling restart: ${ctx.natsPods[0]} (the last one) comes back unhealthy and stays so`,
        kind: 'fires',
        events: ['rolling restart'],
        series: natsCluster(ctx, {
          ...natsRollingRestart(ctx, 4),
          0: span<NatsState>(['ok', 4 + 3 * (n - 1)], ['gone', 1], ['unhealthy']),
        }),
        evals: [...silentAt(4 + 3 * (n - 1) + 4), ...firingAt(short(n - 1), 4 + 3 * (n - 1) + 5, 30)],
      },
      {
        name: 'prune: the StatefulSet is removed at minute 5 (no NATS series at all)',
        kind: 'fires',
        events: ['prune'],
        series: natsCluster(ctx, everyPod(ctx, PRUNED_AT_5)),
        evals: [...silentAt(4, 9), ...firingAt(short(0), 10)],
      },
      {
        name: 'prune: the StatefulSet is removed at minute 5 and the next sync brings its pods back healthy at 6',
        kind: 'silent',
        events: ['prune'],
        series: natsCluster(ctx, everyPod(ctx, RESYNCED_AT_6)),
        evals: silentAt(5, 6, 9, 10, 20),
      },
    ];
  },
};

const JETSTREAM_STORAGE_HIGH: AlertSpec = {
  severity: 'warning',
  events: ['drain', 'rolling restart', 'burst'],
  cases: (ctx) => {
    const half = span<number | undefined>([0.5]);
    const storage0 = (s: Minutes) => (i: number) => (i === 0 ? s : half);
    const firing = [
      {
        labels: { namespace: ctx.app, pod: ctx.natsPods[0]! },
        summary: `JetStream file store above 80% on ${ctx.natsPods[0]}.`,
      },
    ];
    const high = span<number | undefined>([0.5, 2], [0.85]);
    return [
      {
        name: 'file store half full',
        kind: 'healthy',
        series: natsCluster(ctx, {}, () => half),
        evals: silentAt(1, 15, 30),
      },
      {
        name: 'burst: published jobs fill the file store to 85% at minute 2 and it stays so',
        kind: 'fires',
        events: ['burst'],
        series: natsCluster(ctx, {}, storage0(high)),
        evals: [...silentAt(1, 11), ...firingAt(firing, 12, 30)],
      },
      {
        name: 'burst: the file store at 85% for 5 minutes, then compacted',
        kind: 'blip',
        events: ['burst'],
        series: natsCluster(ctx, {}, storage0(span<number | undefined>([0.5, 2], [0.85, 5], [0.5]))),
        evals: silentAt(5, 7, 12, 20),
      },
      {
        name: 'file store at exactly 80%',
        kind: 'silent',
        series: natsCluster(ctx, {}, storage0(span<number | undefined>([0.8]))),
        evals: silentAt(15, 30),
      },
      {
        name: 'file store at 85% from minute 2; nats-server dies at 15 and the exporter keeps its last /varz',
        kind: 'fires',
        series: natsCluster(ctx, { 0: span<NatsState>(['ok', 15], ['dead']) }, storage0(high)),
        evals: [...silentAt(11), ...firingAt(firing, 12, 14), ...silentAt(15, 16, 25, 30)],
      },
      {
        name: 'drain: nats-0 replaced (3 minutes without a healthy server) while the file stores are half full',
        kind: 'silent',
        events: ['drain'],
        series: natsCluster(ctx, { 0: DRAINED_3M }, () => half),
        evals: silentAt(5, 7, 10, 20, 30),
      },
      {
        name: 'drain: nats-0 replaced (healthy again at minute 8) while its file store stays at 85%',
        kind: 'fires',
        events: ['drain'],
        // Unknown while away: the 10 minutes start again when the new pod is healthy.
        series: natsCluster(ctx, { 0: DRAINED_3M }, storage0(high)),
        evals: [...silentAt(12, 17), ...firingAt(firing, 18, 30)],
      },
      {
        name: 'rolling restart: every pod replaced in turn while the file stores are half full',
        kind: 'silent',
        events: ['rolling restart'],
        series: natsCluster(ctx, natsRollingRestart(ctx, 4), () => half),
        evals: silentAt(5, 10, 20, 30),
      },
      {
        name: 'rolling restart: every pod replaced in turn while the first file store stays at 85%',
        kind: 'fires',
        events: ['rolling restart'],
        // The replaced pod's /varz is unknown while it is away, so its 10 minutes start again when it is back.
        series: natsCluster(ctx, natsRollingRestart(ctx, 4), storage0(high)),
        evals: (() => {
          const back = 4 + 3 * (ctx.natsPods.length - 1) + 1;
          return [...silentAt(back + 9), ...firingAt(firing, back + 10, 30)];
        })(),
      },
    ];
  },
};

// ---- kube-state-metrics --------------------------------------------------------------------------

/** One kube-state-metrics pod, answering Prometheus' scrapes in minutes [from, to). */
interface KsmReplica {
  /** Which pod: 0 the first, 1 its replacement. */
  readonly gen: number;
  readonly from: number;
  readonly to: number;
}

const KSM_STEADY: readonly KsmReplica[] = [{ gen: 0, from: 0, to: WHOLE }];

/** kube-state-metrics goes at minute `at` and its replacement answers `away` minutes later. */
const ksmRestart = (at: number, away: number): KsmReplica[] => [
  { gen: 0, from: 0, to: at },
  { gen: 1, from: at + away, to: WHOLE },
];

/** kube-state-metrics replaced at minute `at`: old and new answer together for one minute. */
const ksmRollingUpdate = (at: number): KsmReplica[] => [
  { gen: 0, from: 0, to: at + 1 },
  { gen: 1, from: at, to: WHOLE },
];

/** kube-state-metrics replaced at minute 8 both ways: away for one evaluation, or with an overlap. */
const KSM_EVENTS_AT_8: readonly (readonly [AlertEvent, readonly KsmReplica[]])[] = [
  ['kube-state-metrics restart', ksmRestart(8, 1)],
  ['kube-state-metrics rolling update', ksmRollingUpdate(8)],
];

/**
 * Target labels kube-prometheus-stack's ServiceMonitor (endpoints role, port http, job from the
 * Service's app.kubernetes.io/name) gives kube-state-metrics pod `gen`; read from the chart, not run.
 */
function ksmTarget(gen: number): Labels {
  return {
    container: 'kube-state-metrics',
    endpoint: 'http',
    instance: `10.0.2.${5 + gen}:8080`,
    job: 'kube-state-metrics',
    namespace: 'monitoring',
    pod: `kube-prometheus-stack-kube-state-metrics-6f8d9c7b5-${['x7k2p', 'q4m9z'][gen] ?? `g${gen}`}`,
    service: 'kube-prometheus-stack-kube-state-metrics',
  };
}

const answering = (r: KsmReplica) => (m: number) => m >= r.from && m < r.to;

/** `up` of every kube-state-metrics pod: 1 while it answers, stale when its target goes. */
const ksmUp = (ksm: readonly KsmReplica[]): InputSeries[] =>
  ksm.flatMap((r) => input('up', ksmTarget(r.gen), span<number | undefined>([1]), answering(r)));

/**
 * A kube-state-metrics metric of one object as every kube-state-metrics pod reports it while it
 * answers (honorLabels: the object's labels win over the target's). `values` per minute; undefined
 * while the object does not exist. From kube-state-metrics' code, not a run: it reports what its
 * informer holds, so a deleted object's series is gone from the next scrape.
 */
function ksmMetric(name: string, object: Labels, values: Minutes, ksm: readonly KsmReplica[]): InputSeries[] {
  return ksm.flatMap((r) => input(name, { ...ksmTarget(r.gen), ...object }, values, answering(r)));
}

type Phase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';
const PHASES: readonly Phase[] = ['Pending', 'Running', 'Succeeded', 'Failed'];

/**
 * kube_pod_status_phase of one executor pod: one series per phase (1 for the current phase, 0 for
 * the others). `life` lists the phase of each minute from minute `from`; after it the pod is deleted.
 */
function podPhases(
  ctx: AlertContext,
  pod: string,
  from: number,
  life: readonly Phase[],
  ksm: readonly KsmReplica[] = KSM_STEADY,
  namespace = ctx.executor,
): InputSeries[] {
  return PHASES.flatMap((phase) =>
    ksmMetric(
      'kube_pod_status_phase',
      { namespace, phase, pod, uid: `uid-${pod}` },
      Array.from({ length: WHOLE }, (_x, m) => {
        const p = life[m - from];
        return m < from || p === undefined ? undefined : p === phase ? 1 : 0;
      }),
      ksm,
    ),
  );
}

const repeat = (p: Phase, n: number): Phase[] => Array.from({ length: n }, () => p);

/** A case over kube-state-metrics series: adds the `up` of its pods, which the rules read too. */
function ksmCase(c: Omit<AlertCase, 'series'>, ksm: readonly KsmReplica[], series: InputSeries[]): AlertCase {
  return { ...c, series: [...ksmUp(ksm), ...series] };
}

const EXECUTOR_PODS_PENDING: AlertSpec = {
  severity: 'warning',
  events: ['kube-state-metrics restart', 'kube-state-metrics rolling update', 'burst'],
  cases: (ctx) => {
    const firing = [
      {
        labels: { namespace: ctx.executor, pod: 'exec-stuck' },
        summary: 'Executor pod exec-stuck has been Pending for 5 minutes: jobs are waiting for capacity.',
      },
    ];
    const quickJob = (pod: string, from: number, ksm: readonly KsmReplica[] = KSM_STEADY) =>
      podPhases(ctx, pod, from, [...repeat('Pending', 1), ...repeat('Running', 2), 'Succeeded'], ksm);
    const stuck = (ksm: readonly KsmReplica[]) => podPhases(ctx, 'exec-stuck', 1, repeat('Pending', WHOLE - 1), ksm);
    const briefly = (pod: string, from: number, ksm: readonly KsmReplica[]) =>
      podPhases(ctx, pod, from, [...repeat('Pending', 3), ...repeat('Running', 5), 'Succeeded'], ksm);
    const burst = (ksm: readonly KsmReplica[]) =>
      Array.from({ length: 12 }, (_x, k) =>
        podPhases(
          ctx,
          `exec-burst-${k}`,
          2,
          [...repeat('Pending', 1 + (k % 3)), ...repeat('Running', 3), 'Succeeded'],
          ksm,
        ),
      ).flat();
    return [
      ksmCase({ name: 'jobs start within a minute', kind: 'healthy', evals: silentAt(1, 5, 10, 20) }, KSM_STEADY, [
        ...quickJob('exec-a', 0),
        ...quickJob('exec-b', 4),
        ...quickJob('exec-c', 8),
      ]),
      ksmCase(
        {
          name: 'one pod stuck Pending from minute 1 while others run',
          kind: 'fires',
          evals: [...silentAt(5), ...firingAt(firing, 6, 20)],
        },
        KSM_STEADY,
        [...stuck(KSM_STEADY), ...quickJob('exec-a', 0), ...quickJob('exec-b', 6)],
      ),
      ksmCase(
        {
          name: 'a pod stuck Pending from minute 1 while kube-state-metrics is away at minute 3 (restart)',
          kind: 'fires',
          events: ['kube-state-metrics restart'],
          evals: [...silentAt(5), ...firingAt(firing, 6, 20)],
        },
        ksmRestart(3, 1),
        stuck(ksmRestart(3, 1)),
      ),
      ksmCase(
        {
          name: 'a pod Pending for 3 minutes across a kube-state-metrics restart, then Running',
          kind: 'blip',
          events: ['kube-state-metrics restart'],
          evals: silentAt(3, 4, 6, 8, 12),
        },
        ksmRestart(2, 2),
        briefly('exec-a', 1, ksmRestart(2, 2)),
      ),
      ksmCase(
        {
          name: 'a pod stuck Pending while kube-state-metrics is replaced at minute 3 (rolling update)',
          kind: 'fires',
          events: ['kube-state-metrics rolling update'],
          evals: [...silentAt(5), ...firingAt(firing, 6)],
        },
        ksmRollingUpdate(3),
        stuck(ksmRollingUpdate(3)),
      ),
      ksmCase(
        {
          name: 'a pod Pending for 3 minutes across a kube-state-metrics rolling update, then Running',
          kind: 'blip',
          events: ['kube-state-metrics rolling update'],
          evals: silentAt(3, 4, 6, 8, 12),
        },
        ksmRollingUpdate(2),
        briefly('exec-a', 1, ksmRollingUpdate(2)),
      ),
      ksmCase(
        {
          name: 'a pod Pending for 3 minutes, then Running',
          kind: 'blip',
          evals: silentAt(3, 4, 6, 8, 12),
        },
        KSM_STEADY,
        briefly('exec-a', 1, KSM_STEADY),
      ),
      ksmCase(
        {
          name: 'a pod Pending for 4 minutes, then deleted (its job cancelled)',
          kind: 'silent',
          evals: silentAt(4, 5, 6, 7, 10),
        },
        KSM_STEADY,
        podPhases(ctx, 'exec-a', 1, repeat('Pending', 4)),
      ),
      ksmCase(
        {
          name: 'two different pods each Pending for 3 minutes, one after the other',
          kind: 'blip',
          evals: silentAt(4, 5, 6, 7, 10),
        },
        KSM_STEADY,
        [
          ...podPhases(ctx, 'exec-a', 0, [...repeat('Pending', 3), ...repeat('Running', 3), 'Succeeded']),
          ...podPhases(ctx, 'exec-b', 3, [...repeat('Pending', 3), ...repeat('Running', 3), 'Succeeded']),
        ],
      ),
      ksmCase(
        {
          name: 'burst: 12 jobs at minute 2, each Pending for 1 to 3 minutes',
          kind: 'blip',
          events: ['burst'],
          evals: silentAt(3, 5, 7, 9, 12),
        },
        KSM_STEADY,
        burst(KSM_STEADY),
      ),
      ksmCase(
        {
          name: 'burst: 12 jobs at minute 2, one of them never scheduled',
          kind: 'fires',
          events: ['burst'],
          evals: [...silentAt(6), ...firingAt(firing, 7, 12)],
        },
        KSM_STEADY,
        [...burst(KSM_STEADY), ...podPhases(ctx, 'exec-stuck', 2, repeat('Pending', WHOLE - 2))],
      ),
      ksmCase(
        {
          name: 'a pod stuck Pending in another namespace',
          kind: 'silent',
          evals: silentAt(10, 30),
        },
        KSM_STEADY,
        podPhases(ctx, 'exec-x', 0, repeat('Pending', WHOLE), KSM_STEADY, 'someone-else'),
      ),
    ];
  },
};

const failedSummary = (n: number) =>
  `${n} executor pods ended in phase Failed in the last 10 minutes (deadline, OOM or image errors).`;

const EXECUTOR_PODS_FAILING: AlertSpec = {
  severity: 'warning',
  events: ['burst', 'quiet night', 'kube-state-metrics restart', 'kube-state-metrics rolling update'],
  cases: (ctx) => {
    /** A job pod that runs for 2 minutes, fails, and stays Failed until the reaper deletes it. */
    const failedJob = (pod: string, from: number, ksm: readonly KsmReplica[] = KSM_STEADY) =>
      podPhases(ctx, pod, from, [...repeat('Running', 2), ...repeat('Failed', ctx.failedPodRetention)], ksm);
    const okJob = (pod: string, from: number, ksm: readonly KsmReplica[] = KSM_STEADY) =>
      podPhases(ctx, pod, from, [...repeat('Running', 2), ...repeat('Succeeded', ctx.failedPodRetention)], ksm);
    const fired = (n: number, ...at: number[]) => firingAt([{ labels: {}, summary: failedSummary(n) }], ...at);
    return [
      ksmCase(
        { name: 'every job succeeds', kind: 'healthy', evals: silentAt(5, 10, 20) },
        KSM_STEADY,
        [0, 3, 6, 9, 12, 15].flatMap((t) => okJob(`exec-ok-${t}`, t)),
      ),
      ksmCase(
        {
          name: 'three job pods fail within 10 minutes (minutes 2, 5 and 9)',
          kind: 'fires',
          // Range selectors are left-open: at minute 12 the first failure (minute 2) has left the window.
          evals: [...silentAt(2, 6, 8), ...fired(3, 9, 11), ...silentAt(12, 20)],
        },
        KSM_STEADY,
        [...failedJob('exec-f1', 0), ...failedJob('exec-f2', 3), ...failedJob('exec-f3', 7), ...okJob('exec-ok', 4)],
      ),
      ksmCase(
        {
          name: 'one failed pod (a single job over its deadline) kept Failed for 20 minutes',
          kind: 'silent',
          evals: silentAt(3, 12, 15, 21),
        },
        KSM_STEADY,
        podPhases(ctx, 'exec-slow', 0, [...repeat('Running', 2), ...repeat('Failed', 20)]),
      ),
      ksmCase(
        {
          name: 'quiet night: one job fails every 11 minutes (minutes 2, 13, 24), each kept until the reaper runs',
          kind: 'blip',
          events: ['quiet night'],
          evals: silentAt(3, 14, 24, 25, 26, 30),
        },
        KSM_STEADY,
        [...failedJob('exec-f1', 0), ...failedJob('exec-f2', 11), ...failedJob('exec-f3', 22)],
      ),
      ksmCase(
        {
          name: 'quiet night: three of four jobs fail within 8 minutes (minutes 14, 18, 22)',
          kind: 'fires',
          events: ['quiet night'],
          evals: [...silentAt(21), ...fired(3, 22, 23), ...silentAt(24, 30)],
        },
        KSM_STEADY,
        [...okJob('exec-ok', 1), ...failedJob('exec-f1', 12), ...failedJob('exec-f2', 16), ...failedJob('exec-f3', 20)],
      ),
      ksmCase(
        {
          name: 'burst: five jobs fail at minute 6',
          kind: 'fires',
          events: ['burst'],
          evals: [...silentAt(5), ...fired(5, 6, 15), ...silentAt(16, 25)],
        },
        KSM_STEADY,
        [1, 2, 3, 4, 5].flatMap((k) => failedJob(`exec-f${k}`, 4)),
      ),
      ksmCase(
        {
          name: 'burst: two jobs fail at minute 6 while ten succeed',
          kind: 'silent',
          events: ['burst'],
          evals: silentAt(6, 10, 15, 20),
        },
        KSM_STEADY,
        [
          ...[1, 2].flatMap((k) => failedJob(`exec-f${k}`, 4)),
          ...Array.from({ length: 10 }, (_x, k) => okJob(`exec-ok-${k}`, 4)).flat(),
        ],
      ),
      // The kept Failed pods come back under the new kube-state-metrics pod's labels: not new failures.
      ...KSM_EVENTS_AT_8.flatMap(([event, ksm]): AlertCase[] => [
        ksmCase(
          {
            name: `jobs fail at minutes 4 and 6, ${event} at 8, one more fails at 14`,
            kind: 'silent',
            events: [event],
            evals: silentAt(6, 9, 10, 14, 15, 20),
          },
          ksm,
          [...failedJob('exec-f1', 2, ksm), ...failedJob('exec-f2', 4, ksm), ...failedJob('exec-f3', 12, ksm)],
        ),
        ksmCase(
          {
            name: `three jobs fail (minutes 4, 6, 10) across a ${event} at minute 8`,
            kind: 'fires',
            events: [event],
            evals: [...silentAt(9), ...fired(3, 10, 13), ...silentAt(14, 20)],
          },
          ksm,
          [...failedJob('exec-f1', 2, ksm), ...failedJob('exec-f2', 4, ksm), ...failedJob('exec-f3', 8, ksm)],
        ),
      ]),
    ];
  },
};

const EXECUTOR_QUOTA_EXHAUSTED: AlertSpec = {
  severity: 'warning',
  events: ['kube-state-metrics restart', 'kube-state-metrics rolling update', 'burst'],
  cases: (ctx) => {
    const quota = (
      resource: string,
      type: 'used' | 'hard',
      values: Minutes,
      ksm: readonly KsmReplica[],
      ns = ctx.executor,
    ) =>
      ksmMetric('kube_resourcequota', { namespace: ns, resource, resourcequota: 'executor-quota', type }, values, ksm);
    const pods = (used: Minutes, ksm: readonly KsmReplica[] = KSM_STEADY): InputSeries[] => [
      ...ksmUp(ksm),
      ...quota('pods', 'hard', span([24]), ksm),
      ...quota('pods', 'used', used, ksm),
      ...quota('requests.cpu', 'hard', span([24]), ksm),
      ...quota('requests.cpu', 'used', span([6]), ksm),
    ];
    const firing = [
      {
        labels: { resource: 'pods' },
        summary: 'The executor ResourceQuota (pods) is fully used: new jobs are refused.',
      },
    ];
    const full = span([10, 2], [24]);
    return [
      { name: 'quota partly used', kind: 'healthy', series: pods(span([10])), evals: silentAt(1, 15, 30) },
      {
        name: 'burst: a burst of jobs takes every pod slot at minute 2 and the queue behind it keeps them taken',
        kind: 'fires',
        events: ['burst'],
        series: pods(full),
        evals: [...silentAt(1, 11), ...firingAt(firing, 12, 30)],
      },
      {
        name: 'burst: every pod slot taken for 5 minutes',
        kind: 'blip',
        events: ['burst'],
        series: pods(span([10, 2], [24, 5], [10])),
        evals: silentAt(5, 7, 12, 20),
      },
      {
        name: 'every pod slot taken from minute 2 while kube-state-metrics is away from minute 6 to 9 (restart)',
        kind: 'fires',
        events: ['kube-state-metrics restart'],
        series: pods(full, ksmRestart(6, 4)),
        evals: [...silentAt(1, 11), ...firingAt(firing, 12, 30)],
      },
      {
        name: 'every pod slot taken for 5 minutes across a kube-state-metrics restart',
        kind: 'blip',
        events: ['kube-state-metrics restart'],
        series: pods(span([10, 2], [24, 5], [10]), ksmRestart(4, 2)),
        evals: silentAt(5, 7, 12, 20),
      },
      {
        name: 'every pod slot taken from minute 2 while kube-state-metrics is replaced at minute 6 (rolling update)',
        kind: 'fires',
        events: ['kube-state-metrics rolling update'],
        series: pods(full, ksmRollingUpdate(6)),
        evals: [...silentAt(1, 11), ...firingAt(firing, 12, 30)],
      },
      {
        name: 'quota partly used while kube-state-metrics is replaced at minute 6 (rolling update)',
        kind: 'silent',
        events: ['kube-state-metrics rolling update'],
        series: pods(span([10]), ksmRollingUpdate(6)),
        evals: silentAt(6, 7, 12, 30),
      },
      {
        name: "another namespace's quota full",
        kind: 'silent',
        series: [
          ...ksmUp(KSM_STEADY),
          ...quota('pods', 'hard', span([4]), KSM_STEADY, 'other'),
          ...quota('pods', 'used', span([4]), KSM_STEADY, 'other'),
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

/** `metric` of every Deployment: `victim` follows `victimValues`, the others `others`. */
function deploymentSeries(
  ctx: AlertContext,
  metric: string,
  victim: string,
  victimValues: Minutes,
  others: Minutes,
  ksm: readonly KsmReplica[] = KSM_STEADY,
): InputSeries[] {
  return [
    ...ksmUp(ksm),
    ...ctx.deployments.flatMap((deployment) =>
      ksmMetric(metric, { deployment, namespace: ctx.app }, deployment === victim ? victimValues : others, ksm),
    ),
  ];
}

/**
 * The kube-state-metrics cases of a Deployment alert. `bad` (the first Deployment's values, the alert
 * it fires, from which minute) must fire on time through a restart (kube-state-metrics away for one
 * evaluation at minute `at`) and through a rolling update at `at`; with every Deployment `good`,
 * neither the rolling update nor a restart longer than the bridge (away for 8 minutes) may fire.
 */
function deploymentKsmCases(
  ctx: AlertContext,
  metric: string,
  {
    at,
    bad: [badName, badValues, firing, firesAt],
    good: [goodName, goodValues],
  }: {
    readonly at: number;
    readonly bad: readonly [string, Minutes, readonly ExpectedAlert[], number];
    readonly good: readonly [string, Minutes];
  },
): AlertCase[] {
  const d0 = first(ctx);
  const fires = (ksm: readonly KsmReplica[]) => deploymentSeries(ctx, metric, d0, badValues, goodValues, ksm);
  const quiet = (ksm: readonly KsmReplica[]) => deploymentSeries(ctx, metric, '', [], goodValues, ksm);
  const evals = [...silentAt(1, firesAt - 1), ...firingAt(firing, firesAt, 30)];
  return [
    {
      name: `${badName} while kube-state-metrics is away at minute ${at} (restart)`,
      kind: 'fires',
      events: ['kube-state-metrics restart'],
      series: fires(ksmRestart(at, 1)),
      evals,
    },
    {
      name: `${goodName} while kube-state-metrics is away for 8 minutes from minute ${at} (longer than the bridge)`,
      kind: 'silent',
      events: ['kube-state-metrics restart'],
      series: quiet(ksmRestart(at, 8)),
      evals: silentAt(at, at + 3, at + 5, at + 7, at + 9, 30),
    },
    {
      name: `${badName} while kube-state-metrics is replaced at minute ${at} (rolling update)`,
      kind: 'fires',
      events: ['kube-state-metrics rolling update'],
      series: fires(ksmRollingUpdate(at)),
      evals,
    },
    {
      name: `${goodName} while kube-state-metrics is replaced at minute ${at} (rolling update)`,
      kind: 'silent',
      events: ['kube-state-metrics rolling update'],
      series: quiet(ksmRollingUpdate(at)),
      evals: silentAt(at, at + 1, at + 3, 30),
    },
  ];
}

const PLATFORM_DEPLOYMENT_UNAVAILABLE: AlertSpec = {
  severity: 'critical',
  events: ['drain', 'prune', 'kube-state-metrics restart', 'kube-state-metrics rolling update'],
  cases: (ctx) => {
    const m = 'kube_deployment_status_replicas_available';
    const healthy = span<number | undefined>([2]);
    const none = span<number | undefined>([2, 2], [0]);
    const unavailable = (d: string) => [
      { labels: { deployment: d, namespace: ctx.app }, summary: `${d} has no available replicas.` },
    ];
    const d0 = first(ctx);
    return [
      {
        name: 'every Deployment available',
        kind: 'healthy',
        series: deploymentSeries(ctx, m, '', [], healthy),
        evals: silentAt(1, 15, 30),
      },
      ...ctx.deployments.map((d): AlertCase => ({
        name: `${d} has no available replica from minute 2`,
        kind: 'fires',
        series: deploymentSeries(ctx, m, d, none, healthy),
        evals: [...silentAt(1, 4), ...firingAt(unavailable(d), 5)],
      })),
      ...ctx.deployments.map((d): AlertCase => ({
        name: `prune: ${d} removed by a sync at minute 2 (its series end)`,
        kind: 'fires',
        events: ['prune'],
        series: deploymentSeries(ctx, m, d, span<number | undefined>([2, 2], [undefined]), healthy),
        evals: [...silentAt(1, 4), ...firingAt(unavailable(d), 5, 30)],
      })),
      {
        name: `prune: ${d0} removed at minute 2 and created again by the next sync, available at 4`,
        kind: 'blip',
        events: ['prune'],
        series: deploymentSeries(ctx, m, d0, span<number | undefined>([2, 2], [undefined, 1], [0, 1], [2]), healthy),
        evals: silentAt(2, 3, 4, 5, 10),
      },
      {
        name: `${d0} without available replicas for 2 minutes (a restart)`,
        kind: 'blip',
        series: deploymentSeries(ctx, m, d0, span<number | undefined>([2, 2], [0, 2], [2]), healthy),
        evals: silentAt(3, 4, 5, 10),
      },
      {
        name: `drain: ${d0} down from 2 to 1 available replica for 3 minutes`,
        kind: 'silent',
        events: ['drain'],
        series: deploymentSeries(ctx, m, d0, span<number | undefined>([2, 2], [1, 3], [2]), healthy),
        evals: silentAt(3, 5, 6, 10),
      },
      {
        name: `drain: both ${d0} replicas on the drained node, not scheduled again for lack of room`,
        kind: 'fires',
        events: ['drain'],
        series: deploymentSeries(ctx, m, d0, none, healthy),
        evals: [...silentAt(4), ...firingAt(unavailable(d0), 5, 20)],
      },
      ...deploymentKsmCases(ctx, m, {
        at: 3,
        bad: [`${d0} without replicas from minute 2`, none, unavailable(d0), 5],
        good: ['every Deployment available', healthy],
      }),
      {
        name: 'the same Deployment names in another namespace unavailable',
        kind: 'silent',
        series: [
          ...deploymentSeries(ctx, m, '', [], healthy),
          ...ctx.deployments.flatMap((deployment) =>
            ksmMetric(m, { deployment, namespace: 'other' }, span([0]), KSM_STEADY),
          ),
        ],
        evals: silentAt(10, 30),
      },
    ];
  },
};

const PLATFORM_DEPLOYMENT_DEGRADED: AlertSpec = {
  severity: 'warning',
  events: ['drain', 'rolling restart', 'kube-state-metrics restart', 'kube-state-metrics rolling update'],
  cases: (ctx) => {
    const m = 'kube_deployment_status_replicas_unavailable';
    const healthy = span<number | undefined>([0]);
    const short = span<number | undefined>([0, 2], [1]);
    const degraded = (d: string) => [
      { labels: { deployment: d, namespace: ctx.app }, summary: `${d} has had unavailable replicas for 15 minutes.` },
    ];
    const d0 = first(ctx);
    return [
      {
        name: 'no unavailable replicas',
        kind: 'healthy',
        series: deploymentSeries(ctx, m, '', [], healthy),
        evals: silentAt(1, 20, 30),
      },
      ...ctx.deployments.map((d): AlertCase => ({
        name: `${d} one replica short from minute 2`,
        kind: 'fires',
        series: deploymentSeries(ctx, m, d, short, healthy),
        evals: [...silentAt(1, 16), ...firingAt(degraded(d), 17)],
      })),
      ...deploymentKsmCases(ctx, m, {
        at: 8,
        bad: [`${d0} one replica short from minute 2`, short, degraded(d0), 17],
        good: ['no unavailable replicas', healthy],
      }),
      {
        name: `${d0} one replica short for 10 minutes across a kube-state-metrics restart (a slow rollout)`,
        kind: 'blip',
        events: ['kube-state-metrics restart'],
        series: deploymentSeries(ctx, m, d0, span<number | undefined>([0, 2], [1, 10], [0]), healthy, ksmRestart(8, 2)),
        evals: silentAt(5, 11, 12, 17, 25),
      },
      {
        name: `rolling restart: ${d0} one replica short for 10 minutes (a slow rollout)`,
        kind: 'blip',
        events: ['rolling restart'],
        series: deploymentSeries(ctx, m, d0, span<number | undefined>([0, 2], [1, 10], [0]), healthy),
        evals: silentAt(5, 11, 12, 17, 25),
      },
      {
        name: `rolling restart: ${d0}'s new pods never become ready (the rollout is stuck one short)`,
        kind: 'fires',
        events: ['rolling restart'],
        series: deploymentSeries(ctx, m, d0, short, healthy),
        evals: [...silentAt(16), ...firingAt(degraded(d0), 17, 30)],
      },
      {
        name: `drain: ${d0} one replica short for 2 minutes while it is rescheduled`,
        kind: 'blip',
        events: ['drain'],
        series: deploymentSeries(ctx, m, d0, span<number | undefined>([0, 4], [1, 2], [0]), healthy),
        evals: silentAt(5, 6, 10, 20),
      },
      {
        name: `drain: ${d0} one replica short for good (no room left after the drain)`,
        kind: 'fires',
        events: ['drain'],
        series: deploymentSeries(ctx, m, d0, span<number | undefined>([0, 4], [1]), healthy),
        evals: [...silentAt(18), ...firingAt(degraded(d0), 19, 30)],
      },
    ];
  },
};

// ---- oauth2-proxy --------------------------------------------------------------------------------

/** One oauth2-proxy pod, a target of the oauth2-proxy PodMonitor in minutes [from, to). */
interface ProxyPod {
  readonly name: string;
  readonly ip: string;
  readonly from: number;
  readonly to: number;
}

const PROXY_STEADY: readonly ProxyPod[] = [
  { name: 'oauth2-proxy-6d5f8c7b9-x2x4p', ip: '10.0.3.7', from: 0, to: WHOLE },
];

/** A rollout at minute `at`: the new pod answers from `at`, the old one until `at` (one minute together). */
const proxyRollout = (at: number): ProxyPod[] => [
  { name: 'oauth2-proxy-6d5f8c7b9-x2x4p', ip: '10.0.3.7', from: 0, to: at + 1 },
  { name: 'oauth2-proxy-7b4c9d8f6-m3n8q', ip: '10.0.4.2', from: at, to: WHOLE },
];

/**
 * oauth2-proxy's `up` and oauth2_proxy_requests_total of each pod, which serves `ok` requests with
 * 200 and `errors` with 502 each minute it lives. From the code, not a run: oauth2-proxy v7.15.2
 * (pkg/middleware/metrics.go) counts requests with promhttp.InstrumentHandlerCounter on a CounterVec
 * whose one label is `code`, so a code's series starts at its first request (none before it), and a
 * new pod's counters start from zero.
 */
function proxySeries(ctx: AlertContext, pods: readonly ProxyPod[], ok: Minutes, errors: Minutes): InputSeries[] {
  return pods.flatMap((p) => {
    const target = targetLabels(ctx, ctx.proxy, p.name, p.ip);
    const alive = (m: number) => m >= p.from && m < p.to;
    const counter = (perMinute: Minutes): Minutes => {
      let total = 0;
      return perMinute.map((v, m) => {
        if (!alive(m)) return undefined;
        total += v ?? 0;
        return total > 0 ? total : undefined;
      });
    };
    return [
      ...input('up', target, span<number | undefined>([1]), alive),
      ...input('oauth2_proxy_requests_total', { ...target, code: '200' }, counter(ok), alive),
      ...input('oauth2_proxy_requests_total', { ...target, code: '502' }, counter(errors), alive),
    ];
  });
}

const OAUTH2_PROXY_5XX_RATE: AlertSpec = {
  severity: 'warning',
  events: ['burst', 'quiet night', 'rolling restart'],
  cases: (ctx) => {
    const firing = [{ labels: {}, summary: 'More than 5% of requests through oauth2-proxy end in 5xx.' }];
    const third = span<number | undefined>([0, 6], [30]); // with 60 ok a minute: a third of the requests
    /** Requests a minute answered 200 and 502, and the name of that traffic. */
    type Traffic = readonly [name: string, ok: Minutes, errors: Minutes];
    /**
     * The two cases of one event: `quiet` traffic during it stays silent (at `silentAt`), `loud` fires
     * from minute `firesAt` on.
     */
    const during = (
      event: AlertEvent,
      pods: readonly ProxyPod[],
      [quiet, silentKind, quietAt]: readonly [Traffic, CaseKind, readonly number[]],
      [loud, firesAt]: readonly [Traffic, number],
    ): AlertCase[] => [
      {
        name: `${event}: ${quiet[0]}`,
        kind: silentKind,
        events: [event],
        series: proxySeries(ctx, pods, quiet[1], quiet[2]),
        evals: silentAt(...quietAt),
      },
      {
        name: `${event}: ${loud[0]}`,
        kind: 'fires',
        events: [event],
        series: proxySeries(ctx, pods, loud[1], loud[2]),
        evals: [...silentAt(firesAt - 1), ...firingAt(firing, firesAt, 30)],
      },
    ];
    const alternate = (odd: number, even: number): Minutes =>
      Array.from({ length: WHOLE }, (_x, m) => (m % 2 === 1 ? odd : even));
    return [
      {
        name: '1% of requests end in 5xx',
        kind: 'healthy',
        series: proxySeries(ctx, PROXY_STEADY, span([99]), span([1])),
        evals: silentAt(5, 15, 30),
      },
      {
        name: 'a third of requests end in 502 from minute 6',
        kind: 'fires',
        // The 502 counter starts at minute 6, so its rate exists from minute 7 on.
        series: proxySeries(ctx, PROXY_STEADY, span([60]), third),
        evals: [...silentAt(5, 16), ...firingAt(firing, 17, 30)],
      },
      ...during(
        'burst',
        PROXY_STEADY,
        [
          ['a third of requests end in 502 for 3 minutes', span([60]), span([0, 6], [30, 3], [0])],
          'blip',
          [8, 12, 16, 20],
        ],
        [['2000 requests a minute from minute 4, a tenth of them 502', span([60, 4], [1800]), span([0, 4], [200])], 15],
      ),
      // Below the minimum traffic a few errors are a large share: 3 requests a minute, a sixth of them 502.
      ...during(
        'quiet night',
        PROXY_STEADY,
        [
          ['3 requests a minute, one 502 every other minute', alternate(2, 3), alternate(1, 0)],
          'silent',
          [5, 12, 20, 30],
        ],
        [['30 requests a minute, a fifth of them 502 from minute 5', span([30, 5], [24]), span([0, 5], [6])], 16],
      ),
      ...during(
        'rolling restart',
        proxyRollout(12),
        [
          ['new pod at minute 12 while 1% of requests end in 5xx', span([99]), span([1])],
          'silent',
          [11, 12, 13, 16, 25],
        ],
        [['new pod at minute 12 while a third of requests end in 502', span([60]), third], 17],
      ),
      {
        name: 'no traffic at all (no request counter yet)',
        kind: 'silent',
        series: proxySeries(ctx, PROXY_STEADY, span([0]), span([0])),
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
