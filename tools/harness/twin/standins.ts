/**
 * Stand-ins for the cluster add-ons an environment's cluster provides and the twin cannot run for
 * real. Argo CD judges a sync by the health of what it applied, and its health checks for these
 * kinds wait on status that only those add-ons write; without them an environment that uses them
 * never gets past its wave. Each stand-in does the part of its add-on's job that the rest of the
 * cluster sees, for what the environment file declares the cluster provides, and refuses the rest
 * as the add-on would. metrics-server and cert-manager are no longer stood in for: the twin runs
 * the real ones (addons.ts).
 *
 * - secret store (External Secrets Operator): an ExternalSecret that reads the environment's store
 *   (`secrets.externalSecrets.store`) and one of its remote keys gets its target Secret, owned by it,
 *   with a generated value per remote property, and `Ready=True`; any other store or key gets
 *   `Ready=False` and no Secret.
 * - ingress controller: an Ingress of the environment's class (`entrypoint.className`) gets a load
 *   balancer address in its status. A real controller (ingress-nginx) needs a data plane (nginx and
 *   a load balancer in front of it) that the twin does not have.
 *
 * An environment that needs an add-on no stand-in covers (sealed-secrets, KEDA, the Gateway API) is
 * refused when the stand-ins start, so the loop fails loudly rather than waiting forever.
 */
import { randomBytes } from 'node:crypto';
import type { EnvironmentConfig } from '../../../apps/environment';
import type { Kube } from './api';
import type { Manifest } from '../../../src/model/objects';

/** Address the ingress-controller stand-in publishes: on loopback, like every address the twin hands out (nothing dials it). */
export const INGRESS_ADDRESS = '127.0.0.10';
const FIELD_MANAGER = 'twin-standins';

/* eslint-disable @typescript-eslint/no-explicit-any -- objects as the API server returns them */
type Any = any;

export interface StandInOptions {
  /** How often the controllers look at the cluster. @default 1000 */
  readonly intervalMs?: number;
  /** Where each action is reported. @default - nowhere */
  readonly log?: (line: string) => void;
}

const sameRef = (a: { kind?: string; name?: string } | undefined, b: { kind: string; name: string }) =>
  a?.kind === b.kind && a?.name === b.name;

export class StandIns {
  /** One line per action taken, in order (for the suites' facts). */
  readonly actions: string[] = [];
  private readonly done = new Map<string, string>();
  private readonly values = new Map<string, string>();
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
    if (this.env.secrets.provider === 'external-secrets') await this.externalSecrets();
    if (this.env.entrypoint.mode === 'ingress') await this.ingresses();
  }

  private static key(o: Any): string {
    return `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`;
  }

  /** Is this object, at this generation, not handled yet? */
  private fresh(o: Any): boolean {
    return this.done.get(StandIns.key(o)) !== `${o.metadata.uid}@${o.metadata.generation}`;
  }

  /** Handled (after its Secret and status are written; a failure is retried on the next pass). */
  private handled(o: Any): void {
    this.done.set(StandIns.key(o), `${o.metadata.uid}@${o.metadata.generation}`);
  }

  private async status(o: Any, status: Record<string, unknown>): Promise<void> {
    const path = `${await this.kube.pathOf(o)}/status`;
    const r = await this.kube.req('PATCH', path, { status }, 'application/merge-patch+json');
    if (r.status > 299)
      throw new Error(`${o.kind} ${o.metadata.namespace}/${o.metadata.name} status: HTTP ${r.status}: ${r.message}`);
  }

  private async putSecret(secret: Manifest): Promise<void> {
    const r = await this.kube.apply(secret, { manager: FIELD_MANAGER });
    if (r.status > 299)
      throw new Error(`Secret ${secret.metadata?.namespace}/${secret.metadata?.name}: HTTP ${r.status}: ${r.message}`);
  }

  private condition(ready: boolean, reason: string, message: string, generation?: number): Record<string, unknown> {
    return {
      type: 'Ready',
      status: ready ? 'True' : 'False',
      reason,
      message,
      lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
    };
  }

  private async externalSecrets(): Promise<void> {
    const es = this.env.secrets.externalSecrets;
    if (!es) return;
    const keys = new Set(Object.values(es.remoteKeys));
    for (const o of await this.all('external-secrets.io/v1', 'ExternalSecret')) {
      if (!this.fresh(o)) continue;
      const id = `ExternalSecret ${o.metadata.namespace}/${o.metadata.name}`;
      const ref = o.spec.secretStoreRef ?? {};
      const data: Any[] = o.spec.data ?? [];
      const wrongStore = !sameRef({ kind: ref.kind ?? 'SecretStore', name: ref.name }, es.store);
      const missing = data.map((d) => String(d.remoteRef?.key)).filter((k) => !keys.has(k));
      if (wrongStore || missing.length > 0 || (o.spec.dataFrom ?? []).length > 0) {
        const message = wrongStore
          ? `could not get store: ${ref.kind ?? 'SecretStore'} "${ref.name}" is not the environment's ${es.store.kind} "${es.store.name}"`
          : missing.length > 0
            ? `could not get secret data from provider: remote key(s) ${missing.join(', ')} not in the store`
            : 'dataFrom has no stand-in';
        await this.status(o, { conditions: [this.condition(false, 'SecretSyncedError', message)] });
        this.act(`${id}: refused (${message})`);
        this.handled(o);
        continue;
      }
      const target = o.spec.target?.name ?? o.metadata.name;
      const stringData: Record<string, string> = {};
      for (const d of data) {
        const k = `${d.remoteRef.key}/${d.remoteRef.property ?? ''}`;
        if (!this.values.has(k)) this.values.set(k, randomBytes(24).toString('base64url'));
        stringData[String(d.secretKey)] = this.values.get(k) ?? '';
      }
      const owner = (o.spec.target?.creationPolicy ?? 'Owner') === 'Owner';
      await this.putSecret({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: {
          name: target,
          namespace: o.metadata.namespace,
          labels: { 'reconcile.external-secrets.io/managed': 'true' },
          ...(owner
            ? {
                ownerReferences: [
                  {
                    apiVersion: o.apiVersion,
                    kind: o.kind,
                    name: o.metadata.name,
                    uid: o.metadata.uid,
                    controller: true,
                    blockOwnerDeletion: true,
                  },
                ],
              }
            : {}),
        },
        type: 'Opaque',
        stringData,
      });
      await this.status(o, {
        conditions: [this.condition(true, 'SecretSynced', 'secret synced')],
        refreshTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        syncedResourceVersion: `${o.metadata.generation}-stand-in`,
        binding: { name: target },
      });
      this.handled(o);
      this.act(
        `${id}: Secret ${target} synced (${Object.keys(stringData).length} keys from ${es.store.kind} ${es.store.name})`,
      );
    }
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
