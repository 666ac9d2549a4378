/**
 * Canary rules (Argo Rollouts): a production canary is judged by an analysis that can abort it, no
 * step waits for a human forever, and the Rollout, its Deployment, the HPA and the PDB all target the
 * same pods.
 */
import {
  apiGroup,
  asArr,
  asObj,
  asStrRecord,
  autoscalers,
  isRollout,
  type Json,
  jsonEqual,
  type Manifest,
  nsOf,
  podTemplateOf,
  rolloutWorkload,
  scales,
  selectorMatches,
} from '../../model/objects';
import { claimRule, named, type Report } from './core';

/** The label Argo Rollouts adds to the pods of each ReplicaSet (stable and canary differ by it). */
export const POD_TEMPLATE_HASH = 'rollouts-pod-template-hash';

/** strategy.canary of a Rollout ({} when it has none). */
export function canaryOf(rollout: Manifest): Json {
  return asObj(asObj(asObj(rollout.spec).strategy).canary);
}

/** The AnalysisTemplate (or, with clusterScope, ClusterAnalysisTemplate) a template reference names, if rendered. */
export function analysisTemplate(objects: readonly Manifest[], rollout: Manifest, ref: Json): Manifest | undefined {
  const cluster = ref.clusterScope === true;
  return objects.find(
    (o) =>
      o.kind === (cluster ? 'ClusterAnalysisTemplate' : 'AnalysisTemplate') &&
      apiGroup(o.apiVersion) === 'argoproj.io' &&
      o.metadata.name === ref.templateName &&
      nsOf(o) === (cluster ? '' : nsOf(rollout)),
  );
}

/** Whether a dryRun list ([{metricName}], a name or a regular expression, as Argo Rollouts reads it) names a metric. */
export function isDryRun(dryRun: unknown, metric: string): boolean {
  return asArr(dryRun).some((d) => {
    const n = String(d.metricName ?? '');
    if (n === metric) return true;
    try {
      return new RegExp(`^(?:${n})$`).test(metric);
    } catch {
      return false;
    }
  });
}

/**
 * Every Rollout of a production-tier environment runs a background analysis (strategy.canary.analysis)
 * whose templates are rendered and given every argument they need, whose every metric has a provider and a successCondition and is not in
 * dryRun (in the Rollout or in the template), and aborts by itself when its canary pods miss the
 * progress deadline (progressDeadlineAbort).
 */
export const canaryAnalysisRule = claimRule({
  id: 'canary-analysis',
  reason:
    'A production canary without an analysis that can fail it (a missing template, a metric without provider or successCondition, a dryRun metric) or without progressDeadlineAbort promotes a bad release step by step to every pod: the canary only delays the outage.',
  check(objects, env, report) {
    if (env.tier !== 'production') return;
    for (const r of objects.filter(isRollout)) {
      if (asObj(r.spec).progressDeadlineAbort !== true) {
        report(r, 'spec.progressDeadlineAbort is not true: a canary whose pods never become available waits forever');
      }
      const analysis = asObj(canaryOf(r).analysis);
      const refs = asArr(analysis.templates);
      if (refs.length === 0) {
        report(r, 'has no background analysis (strategy.canary.analysis.templates): nothing judges the canary');
        continue;
      }
      for (const ref of refs) {
        const name = named(ref.templateName) ?? '(no templateName)';
        const t = analysisTemplate(objects, r, ref);
        if (!t) {
          report(
            r,
            `analysis template ${name} is not rendered in ${ref.clusterScope === true ? 'the cluster' : nsOf(r)}`,
          );
          continue;
        }
        const given = new Set(asArr(analysis.args).map((a) => String(a.name)));
        for (const a of asArr(asObj(t.spec).args)) {
          if (a.value === undefined && a.valueFrom === undefined && !given.has(String(a.name))) {
            report(
              r,
              `analysis template ${name} needs argument ${String(a.name)}, which strategy.canary.analysis.args does not give: the analysis cannot start`,
            );
          }
        }
        const metrics = asArr(asObj(t.spec).metrics);
        if (metrics.length === 0) report(t, 'has no metrics: the analysis it runs always succeeds');
        for (const m of metrics) {
          const metric = String(m.name);
          if (Object.keys(asObj(m.provider)).length === 0) report(t, `metric ${metric} has no provider`);
          if (named(m.successCondition) === undefined) {
            report(t, `metric ${metric} has no successCondition: no measurement fails the canary`);
          }
          if (isDryRun(analysis.dryRun, metric)) {
            report(r, `metric ${metric} of ${name} is in dryRun (strategy.canary.analysis.dryRun): it cannot abort`);
          }
          if (isDryRun(asObj(t.spec).dryRun, metric)) report(t, `metric ${metric} is in dryRun: it cannot abort`);
        }
      }
    }
  },
});

/**
 * No canary step pauses without a duration, in any environment: the loader cannot write one, and the
 * rule keeps a hand-made Rollout from adding one.
 */
export const canaryTimedPausesRule = claimRule({
  id: 'canary-timed-pauses',
  reason:
    'A pause without duration waits for a human: the Application stays Suspended and later sync waves wait behind it (argo-cd #25054, #19422). That blocks staging and dev syncs as surely as prod ones, so it holds in every environment; promote by hand with a timed pause and the plugin instead.',
  check(objects, _env, report) {
    for (const r of objects.filter(isRollout)) {
      for (const [i, s] of asArr(canaryOf(r).steps).entries()) {
        if (s.pause !== undefined && asObj(s.pause).duration === undefined) {
          report(r, `strategy.canary.steps[${i}] is a pause without duration, which waits for a manual promotion`);
        }
      }
    }
  },
});

/** What a Rollout's workloadRef must name: a Deployment in its namespace. */
function checkWorkload(objects: readonly Manifest[], r: Manifest, report: Report): Manifest | undefined {
  const spec = asObj(r.spec);
  const ref = asObj(spec.workloadRef);
  if (spec.workloadRef === undefined) {
    report(
      r,
      'has no workloadRef: its pod template is invisible to the policy rules and linters, which read Deployments',
    );
    return undefined;
  }
  if (spec.template !== undefined) {
    report(r, 'sets both spec.template and workloadRef, which Argo Rollouts refuses (InvalidSpec)');
  }
  const d = rolloutWorkload(objects, r);
  if (!d || d.kind !== 'Deployment' || apiGroup(d.apiVersion) !== 'apps') {
    report(
      r,
      `workloadRef ${String(ref.kind)} ${nsOf(r)}/${String(ref.name)} (${String(ref.apiVersion)}) is not a rendered apps/v1 Deployment`,
    );
    return undefined;
  }
  return d;
}

/**
 * A Rollout, its Deployment, the HPA and the PDB target the same pods: workloadRef names a rendered
 * Deployment in the Rollout's namespace; the Rollout's selector equals the Deployment's and matches
 * its template labels; the Deployment leaves spec.replicas to the Rollout; no autoscaler scales the
 * Deployment (one may scale the Rollout); a PodDisruptionBudget selects the template labels, which
 * stable and canary pods share, and none keys on rollouts-pod-template-hash.
 */
export const canaryTargetsRule = claimRule({
  id: 'canary-targets',
  reason:
    "A Rollout owns its Deployment's pods: a selector that differs from the Deployment's, a Deployment that keeps spec.replicas, or an HPA on the Deployment scales the wrong ReplicaSet (argo-rollouts #2857, #3849); a PDB that selects only stable or canary pods leaves the others unbudgeted during a drain.",
  check(objects, _env, report) {
    const scalers = autoscalers(objects);
    const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget');
    for (const r of objects.filter(isRollout)) {
      const d = checkWorkload(objects, r, report);
      if (!d) continue;
      const id = `Deployment ${d.metadata.name}`;
      const selector = asObj(r.spec).selector;
      const labels = podTemplateOf(d)?.labels ?? {};
      if (!jsonEqual(selector, asObj(d.spec).selector)) {
        report(r, `spec.selector differs from the selector of ${id}, whose pods it runs`);
      } else if (!selectorMatches(selector, labels)) {
        report(r, `spec.selector does not match the template labels of ${id}`);
      }
      if (asObj(d.spec).replicas !== undefined) {
        report(d, `sets spec.replicas, but Rollout ${r.metadata.name} owns the count (leave it out)`);
      }
      for (const a of scalers.filter((x) => scales(x, d))) {
        report(
          a.object,
          `scales ${id}, which Rollout ${r.metadata.name} runs: scale the Rollout (argoproj.io/v1alpha1 Rollout ${r.metadata.name})`,
        );
      }
      const budgets = pdbs.filter((p) => nsOf(p) === nsOf(r) && selectorMatches(asObj(p.spec).selector, labels));
      if (budgets.length === 0) {
        report(r, `no PodDisruptionBudget in ${nsOf(r)} selects the template labels of ${id} (stable and canary pods)`);
      }
      for (const p of pdbs.filter((x) => nsOf(x) === nsOf(r))) {
        const s = asObj(asObj(p.spec).selector);
        const { [POD_TEMPLATE_HASH]: hash, ...others } = asStrRecord(s.matchLabels);
        const byHash = hash !== undefined || asArr(s.matchExpressions).some((e) => e.key === POD_TEMPLATE_HASH);
        if (byHash && selectorMatches({ matchLabels: others }, labels)) {
          report(
            p,
            `selects by ${POD_TEMPLATE_HASH}: it budgets one ReplicaSet of Rollout ${r.metadata.name}, not its stable and canary pods alike`,
          );
        }
      }
    }
  },
});

export const CANARY_RULES = [canaryAnalysisRule, canaryTimedPausesRule, canaryTargetsRule] as const;
