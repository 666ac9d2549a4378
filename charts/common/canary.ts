/**
 * Canary releases with Argo Rollouts: a service's defaults by tier, its cross-field rules, and the
 * construct that renders its Rollout and AnalysisTemplate.
 *
 * The Rollout does not copy the pod template: `workloadRef` points at the service's Deployment, which
 * stays the one place the template is written (and the one the linters and policy rules read). Argo
 * Rollouts scales that Deployment down progressively as its own pods become available, so the
 * Deployment renders without `replicas` (Argo CD then leaves the count to the controller).
 *
 * Two signals judge a canary: its pods must become available within `progressDeadlineSeconds`
 * (`progressDeadlineAbort`), and a background analysis queries Prometheus for the service's error
 * ratio from the first step until promotion. The Rollout renders in a sync wave after every other
 * object of the platform, so a canary in progress (Progressing, or Suspended during a pause, in Argo
 * CD) holds back no other object; the AnalysisTemplate renders in the service's own wave, before the
 * Deployment change that starts a canary.
 */
import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import type { CanaryInput, PathProblem } from '../../src/model/schema';

/** One canary step: the share of pods on the new image, or a timed pause. */
export type CanaryStep = { readonly setWeight: number } | { readonly pause: string };

/** A service's canary settings with the tier's defaults applied. */
export interface CanaryConfig {
  /** Whether the service releases as a canary at all. */
  readonly enabled: boolean;
  /** Weights and timed pauses, in order. */
  readonly steps: readonly CanaryStep[];
  /** The Prometheus analysis. */
  readonly analysis: {
    /** Highest 5xx share that passes a measurement. */
    readonly maxErrorRatio: number;
    /** Time between measurements (a duration such as 1m). */
    readonly interval: string;
    /** The query's rate() window. */
    readonly window: string;
    /** Failed measurements tolerated before the canary aborts. */
    readonly failureLimit: number;
  };
  /** Whether a failed analysis or a missed deadline aborts by itself. */
  readonly autoAbort: boolean;
  /** How long a step may wait for its canary pods to become available. */
  readonly progressDeadlineSeconds: number;
}

/** The tiers of src/model/platform.ts. */
export type Tier = 'production' | 'non-production';

/**
 * The defaults by tier. Production releases as a canary: a quarter, half, three quarters of the pods,
 * five minutes each, aborting on the second failed measurement. Non-production keeps the plain rolling
 * update unless its file enables a canary; one that does gets a short one (half the pods for two
 * minutes, aborting on the first failed measurement).
 */
export const CANARY_DEFAULTS: Readonly<Record<Tier, CanaryConfig>> = {
  production: {
    enabled: true,
    steps: [{ setWeight: 25 }, { pause: '5m' }, { setWeight: 50 }, { pause: '5m' }, { setWeight: 75 }, { pause: '5m' }],
    analysis: { maxErrorRatio: 0.05, interval: '1m', window: '2m', failureLimit: 1 },
    autoAbort: true,
    progressDeadlineSeconds: 300,
  },
  'non-production': {
    enabled: false,
    steps: [{ setWeight: 50 }, { pause: '2m' }],
    analysis: { maxErrorRatio: 0.05, interval: '1m', window: '2m', failureLimit: 0 },
    autoAbort: true,
    progressDeadlineSeconds: 300,
  },
};

/** `services.<name>.canary` with the tier's defaults for every field left out. */
export function canaryDefaults(tier: Tier, input: CanaryInput | undefined): CanaryConfig {
  const d = CANARY_DEFAULTS[tier];
  return {
    enabled: input?.enabled ?? d.enabled,
    // The schema lets each step have exactly one of setWeight and pause.
    steps:
      input?.steps?.map((s): CanaryStep =>
        s.setWeight !== undefined ? { setWeight: s.setWeight } : { pause: s.pause ?? '' },
      ) ?? d.steps,
    analysis: { ...d.analysis, ...input?.analysis },
    autoAbort: input?.autoAbort ?? d.autoAbort,
    progressDeadlineSeconds: input?.progressDeadlineSeconds ?? d.progressDeadlineSeconds,
  };
}

/** Seconds of a duration such as 90s, 5m or 1h. */
export function durationSeconds(d: string): number {
  const m = /^([1-9][0-9]*)(s|m|h)$/.exec(d);
  if (!m) throw new Error(`duration '${d}' is not a number followed by s, m or h`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600 }[m[2] as 's' | 'm' | 'h'];
}

/**
 * A canary's cross-field rules. `path` is e.g. `services.frontend`; `monitoringEnabled` whether the
 * environment has the Prometheus its analysis queries.
 */
export function canaryRules(path: string, c: CanaryConfig, monitoringEnabled: boolean): PathProblem[] {
  if (!c.enabled) return [];
  const out: PathProblem[] = [];
  const at = `${path}.canary`;
  if (!monitoringEnabled) {
    out.push({
      path: `${at}.enabled`,
      message:
        'a canary is judged by a Prometheus analysis, but monitoring.enabled is false. ' +
        'Enable monitoring (and set monitoring.prometheusUrl if needed), or set canary.enabled: false.',
    });
  }
  const weights = c.steps.flatMap((s, i) => ('setWeight' in s ? [{ i, w: s.setWeight }] : []));
  if (weights.length === 0) {
    out.push({
      path: `${at}.steps`,
      message: 'no setWeight step: the canary would go to 100% at once. Start with e.g. { setWeight: 25 }.',
    });
  }
  for (let k = 1; k < weights.length; k++) {
    const prev = weights[k - 1];
    const cur = weights[k];
    if (prev && cur && cur.w <= prev.w) {
      out.push({
        path: `${at}.steps.${cur.i}.setWeight`,
        message: `${cur.w} is not above the previous weight ${prev.w}. Weights only grow; the last step promotes to 100%.`,
      });
    }
  }
  const first = weights[0];
  if (first) {
    // The first measurement is taken when the canary starts (often before its pods serve): the
    // analysis needs failureLimit + 2 intervals to abort, and the first pause must give it that time
    // before the weight grows.
    const needed = (c.analysis.failureLimit + 2) * durationSeconds(c.analysis.interval);
    const next = c.steps[first.i + 1];
    const pause = next && 'pause' in next ? durationSeconds(next.pause) : 0;
    if (pause < needed) {
      out.push({
        path: `${at}.steps.${first.i + 1}`,
        message:
          `the first weight is held for ${pause} s, but the analysis needs ${needed} s ((failureLimit ${c.analysis.failureLimit} + 2) × interval ` +
          `${c.analysis.interval}) to abort a bad canary. Follow the first setWeight with { pause: ${Math.ceil(needed / 60)}m } or longer.`,
      });
    }
  }
  return out;
}

/** What a service's canary needs from its plan: its settings and how its error ratio is measured. */
export interface CanaryPlan {
  /** The settings, enabled. */
  readonly config: CanaryConfig;
  /**
   * The PromQL query for the error ratio (0 to 1) over the configured window; `{{args.canary-hash}}`
   * stands for the canary pods' rollouts-pod-template-hash.
   */
  readonly query: string;
  /** Prometheus' HTTP API. */
  readonly prometheusUrl: string;
}

/**
 * The error ratio of a request counter with a `code` label (status code): 5xx answers over all
 * answers in `window`, for the series `selector` picks. No series, or no request in the window, gives
 * 0: a canary that serves nothing passes, and the progress deadline judges whether its pods are ready.
 */
export function errorRatioQuery(metric: string, selector: string, window: string): string {
  durationSeconds(window);
  const rate = (extra: string) => `sum(rate(${metric}{${selector}${extra}}[${window}]))`;
  return `(${rate(',code=~"5.."')} or on() vector(0)) / (${rate('')} > 0) or on() vector(0)`;
}

/** The name of the canary pods' hash argument, filled in from the Rollout's newest ReplicaSet. */
export const CANARY_HASH_ARG = 'canary-hash';
/** The one metric of every canary analysis. */
export const ERROR_RATIO_METRIC = 'error-ratio';

/** Props of {@link CanaryRelease}. */
export interface CanaryReleaseProps {
  /** Name of the Rollout and of the Deployment it references (the service's name). */
  readonly name: string;
  /** Namespace of the Rollout, the Deployment and the AnalysisTemplate. */
  readonly namespace: string;
  /** The service's standard labels. */
  readonly labels: Readonly<Record<string, string>>;
  /** The Deployment's pod selector, which the Rollout uses too. */
  readonly selector: Readonly<Record<string, string>>;
  /**
   * The pod count.
   * @default - left out: an HPA scales the Rollout
   */
  readonly replicas?: number;
  /** The canary's settings and query. */
  readonly plan: CanaryPlan;
  /** The Argo CD sync wave of the Rollout: after every other object. */
  readonly rolloutWave: number;
}

/** A Rollout that releases the service's Deployment as a canary, and the AnalysisTemplate that judges it. */
export class CanaryRelease extends Construct {
  /** Name of the AnalysisTemplate. */
  public readonly analysisTemplateName: string;

  constructor(scope: Construct, id: string, props: CanaryReleaseProps) {
    super(scope, id);
    const { config, query, prometheusUrl } = props.plan;
    if (!config.enabled) throw new Error(`${props.name}: canary.enabled is false, so there is no canary to render`);
    if (!query.includes(`{{args.${CANARY_HASH_ARG}}}`) && /\{\{/.test(query)) {
      throw new Error(`${props.name}: the analysis query names an argument other than ${CANARY_HASH_ARG}: ${query}`);
    }
    if (props.replicas !== undefined && (!Number.isInteger(props.replicas) || props.replicas < 1)) {
      throw new Error(`${props.name}: replicas (${props.replicas}) must be a whole number of at least 1`);
    }
    if (!Number.isInteger(props.rolloutWave)) {
      throw new Error(`${props.name}: rolloutWave (${props.rolloutWave}) must be a whole number`);
    }
    for (const s of config.steps) {
      if ('setWeight' in s && !(Number.isInteger(s.setWeight) && s.setWeight >= 1 && s.setWeight <= 99)) {
        throw new Error(`${props.name}: setWeight (${s.setWeight}) must be a whole number from 1 to 99`);
      }
      if ('pause' in s) durationSeconds(s.pause);
    }
    const a = config.analysis;
    if (!(a.maxErrorRatio > 0 && a.maxErrorRatio <= 1)) {
      throw new Error(`${props.name}: analysis.maxErrorRatio (${a.maxErrorRatio}) must be above 0 and at most 1`);
    }
    this.analysisTemplateName = `${props.name}-${ERROR_RATIO_METRIC}`;
    const metadata = (name: string) => ({ name, namespace: props.namespace, labels: { ...props.labels } });

    new ApiObject(this, 'analysis-template', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'AnalysisTemplate',
      metadata: metadata(this.analysisTemplateName),
      spec: {
        args: [{ name: CANARY_HASH_ARG }],
        metrics: [
          {
            name: ERROR_RATIO_METRIC,
            interval: a.interval,
            failureLimit: a.failureLimit,
            successCondition: `result[0] <= ${a.maxErrorRatio}`,
            provider: { prometheus: { address: prometheusUrl, query } },
          },
        ],
      },
    });

    new ApiObject(this, 'rollout', {
      apiVersion: 'argoproj.io/v1alpha1',
      kind: 'Rollout',
      metadata: {
        ...metadata(props.name),
        annotations: { 'argocd.argoproj.io/sync-wave': String(props.rolloutWave) },
      },
      spec: {
        ...(props.replicas === undefined ? {} : { replicas: props.replicas }),
        revisionHistoryLimit: 5,
        selector: { matchLabels: { ...props.selector } },
        workloadRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: props.name, scaleDown: 'progressively' },
        progressDeadlineSeconds: config.progressDeadlineSeconds,
        progressDeadlineAbort: config.autoAbort,
        strategy: {
          canary: {
            // One extra pod at a time and never one fewer available: the PDB's budget stays untouched.
            maxSurge: 1,
            maxUnavailable: 0,
            analysis: {
              templates: [{ templateName: this.analysisTemplateName }],
              args: [{ name: CANARY_HASH_ARG, valueFrom: { podTemplateHashValue: 'Latest' } }],
              ...(config.autoAbort ? {} : { dryRun: [{ metricName: ERROR_RATIO_METRIC }] }),
            },
            steps: config.steps.map((s) =>
              'setWeight' in s ? { setWeight: s.setWeight } : { pause: { duration: s.pause } },
            ),
          },
        },
      },
    });
  }
}

/** What judges a service's canary: the Prometheus to ask, and its error-ratio query for a rate() window. */
export interface CanaryJudge {
  /** Prometheus' HTTP API (monitoring.prometheusUrl). */
  readonly prometheusUrl: string;
  /** The error-ratio query over `window`; `{{args.canary-hash}}` may stand for the canary pods' hash. */
  readonly query: (window: string) => string;
}

/**
 * A service's canary plan: its settings with the tier's defaults, or undefined when it keeps the
 * rolling update.
 */
export function planCanary(tier: Tier, input: CanaryInput | undefined, judge: CanaryJudge): CanaryPlan | undefined {
  const config = canaryDefaults(tier, input);
  return config.enabled
    ? { config, query: judge.query(config.analysis.window), prometheusUrl: judge.prometheusUrl }
    : undefined;
}
