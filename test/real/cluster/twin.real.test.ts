/**
 * The control-plane twin suite (npm run test:cluster): the real kube-apiserver, scheduler and
 * controller manager with kwok nodes, one twin per environment, and every scenario module of this
 * folder run on it in turn (./scenario.ts). Each scenario sets up and undoes its own state, so the
 * order below is only the order of the report; CODERUN_TWIN_SHUFFLE=<seed> runs them shuffled.
 */
import { acceptanceScenario } from './acceptance.scenario';
import { autoscalingScenario } from './autoscaling.scenario';
import { certificatesScenario } from './certificates.scenario';
import { accessMatrixScenario } from './access-matrix.scenario';
import { drainScenario } from './drain.scenario';
import { executorAdmissionScenario } from './executor-admission.scenario';
import { executorReaperScenario } from './executor-reaper.scenario';
import { externalSecretsScenario } from './external-secrets.scenario';
import { fullScaleScenario } from './full-scale.scenario';
import { placementScenario } from './placement.scenario';
import { pullSecretsScenario } from './pull-secrets.scenario';
import { twinScenarios, type TwinScenarioModule } from './scenario';
import { zoneLossScenario } from './zone-loss.scenario';

const SCENARIOS: readonly TwinScenarioModule[] = [
  acceptanceScenario,
  placementScenario,
  fullScaleScenario,
  executorAdmissionScenario,
  accessMatrixScenario,
  executorReaperScenario,
  certificatesScenario,
  externalSecretsScenario,
  drainScenario,
  zoneLossScenario,
  pullSecretsScenario,
  // Last: pod metrics need two scrapes (20-30 s) after a pod starts; by now the committed pods have them.
  autoscalingScenario,
];

/** The scenarios in a seeded random order (a small LCG), to prove none depends on another's leftovers. */
function shuffled(list: readonly TwinScenarioModule[], seed: number): TwinScenarioModule[] {
  const out = [...list];
  let x = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j] as TwinScenarioModule, out[i] as TwinScenarioModule];
  }
  return out;
}

const seed = process.env.CODERUN_TWIN_SHUFFLE;
if (seed !== undefined) {
  console.log(`[control-plane twin] scenarios shuffled with seed ${seed}`);
}
twinScenarios(seed === undefined ? SCENARIOS : shuffled(SCENARIOS, Number(seed)));
