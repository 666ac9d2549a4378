/**
 * Stand-ins for the cluster add-ons an environment's cluster provides and the twin cannot run for
 * real. Argo CD judges a sync by the health of what it applied, and its health checks for these
 * kinds wait on status that only those add-ons write; without them an environment that uses them
 * never gets past its wave. Each stand-in does the part of its add-on's job that the rest of the
 * cluster sees, for what the environment file declares the cluster provides, and refuses the rest
 * as the add-on would. metrics-server, cert-manager and External Secrets are not stood in for: the
 * twin runs the real ones (addons.ts). What remains:
 *
 * - ingress controller: an Ingress of the environment's class (`entrypoint.className`) gets a load
 *   balancer address in its status. A real controller (ingress-nginx) needs a data plane (nginx and
 *   a load balancer in front of it) that the twin does not have.
 *
 * An environment that needs an add-on no stand-in covers (sealed-secrets, KEDA, the Gateway API) is
 * refused when the stand-ins start, so the loop fails loudly rather than waiting forever.
 */
import type { EnvironmentConfig } from '../../../apps/environment';
import type { Kube } from './api';

/** Address the ingress-controller stand-in publishes: on loopback, like every address the twin hands out (nothing dials it). */
export const INGRESS_ADDRESS = '127.0.0.10';

/* eslint-disable @typescript-eslint/no-explicit-any -- objects as the API server returns them */
type Any = any;

export interface StandInOptions {
  /** How often the controllers look at the cluster. @default 1000 */
  readonly intervalMs?: number;
  /** Where each action is reported. @default - nowhere */
  readonly log?: (line: string) => void;
}

export class StandIns {
  /** One line per action taken, in order (for the suites' facts). */
  readonly actions: string[] = [];
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly kube: Kube,
    private readonly env: EnvironmentConfig,
    private readonly opts: StandInOptions = {},
  ) {
    if (env.secrets.provider === 'sealed-secrets') {
      throw new Error(
        `${env.name}: secrets.provider sealed-secrets has no stand-in in the twin (tools/harness/twin/standins.ts); Argo CD would wait for the SealedSecrets forever.`,
      );
    }
    if (env.services.middleware.keda) {
      throw new Error(
        `${env.name}: services.middleware.keda has no stand-in in the twin (tools/harness/twin/standins.ts); Argo CD would wait for the ScaledObject forever.`,
      );
    }
    if (env.entrypoint.mode === 'gateway') {
      throw new Error(
        `${env.name}: entrypoint.mode gateway has no stand-in in the twin (tools/harness/twin/standins.ts); Argo CD would wait for the HTTPRoute forever.`,
      );
    }
  }

  private act(line: string): void {
    this.actions.push(line);
    this.opts.log?.(`stand-in: ${line}`);
  }

  /** Starts the controllers' loop (its first pass before returning). */
  async start(): Promise<void> {
    const tick = async () => {
      if (this.stopped) return;
      try {
        await this.reconcile();
      } catch (e) {
        this.opts.log?.(`stand-in: reconcile failed: ${String(e)}`);
      }
      if (!this.stopped) this.timer = setTimeout(() => (this.running = tick()), this.opts.intervalMs ?? 1000);
    };
    this.running = tick();
    await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** Every object of a kind; list items carry no apiVersion or kind, so they are set here. */
  private async all(apiVersion: string, kind: string): Promise<Any[]> {
    return (await this.kube.list<Any>(apiVersion, kind)).map((o) => ({ apiVersion, kind, ...o }));
  }

  private async reconcile(): Promise<void> {
    if (this.env.entrypoint.mode === 'ingress') await this.ingresses();
  }

  private async status(o: Any, status: Record<string, unknown>): Promise<void> {
    const path = `${await this.kube.pathOf(o)}/status`;
    const r = await this.kube.req('PATCH', path, { status }, 'application/merge-patch+json');
    if (r.status > 299)
      throw new Error(`${o.kind} ${o.metadata.namespace}/${o.metadata.name} status: HTTP ${r.status}: ${r.message}`);
  }

  private async ingresses(): Promise<void> {
    for (const o of await this.all('networking.k8s.io/v1', 'Ingress')) {
      if (o.spec.ingressClassName !== this.env.entrypoint.className) continue;
      if ((o.status?.loadBalancer?.ingress ?? []).length > 0) continue;
      await this.status(o, { loadBalancer: { ingress: [{ ip: INGRESS_ADDRESS }] } });
      this.act(
        `Ingress ${o.metadata.namespace}/${o.metadata.name}: address ${INGRESS_ADDRESS} (class ${o.spec.ingressClassName})`,
      );
    }
  }
}
/* eslint-enable @typescript-eslint/no-explicit-any */
