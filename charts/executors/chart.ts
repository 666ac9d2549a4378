/** The executors component: the executor namespace's limits, its admission guard and one PodTemplate per language. */
import type { Construct } from 'constructs';
import { ComponentChart, type WorkloadChartProps } from '../common/component-chart';
import { ExecutorAdmissionPolicy } from './executor-admission-policy';
import { ExecutorSandbox } from './executor-sandbox';
import { ExecutorTemplate } from './executor-template';
import type { ExecutorsPlan } from './plan';

/** Props of the chart. */
export type ExecutorsChartProps = WorkloadChartProps<ExecutorsPlan>;

export class ExecutorsChart extends ComponentChart {
  /** With the guards: the policy must exist before the middleware can create a pod. */
  public readonly syncWave = 0;

  constructor(scope: Construct, props: ExecutorsChartProps) {
    super(scope, 'executors');
    const { plan, platform } = props;
    new ExecutorSandbox(this, 'sandbox', { plan, platform });
    new ExecutorAdmissionPolicy(this, 'guard', { plan, platform });
    for (const job of plan.jobs) {
      new ExecutorTemplate(this, job.language, {
        plan,
        job,
        platform,
        ...(props.priorityClassName ? { priorityClassName: props.priorityClassName } : {}),
      });
    }
  }
}
