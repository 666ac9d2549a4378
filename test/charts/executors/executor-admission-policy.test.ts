import path from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { App, Chart } from 'cdk8s';
import { parse } from 'yaml';
import { evaluate } from '@marcbachmann/cel-js';
import { imageString } from '../../../src/model/schema';
import { loadEnvironment, type EnvironmentConfig } from '../../../apps/environment';
import { EXECUTOR_LANGUAGES } from '../../../charts/executors/schema';
import { ExecutorAdmissionPolicy, type AdmissionRule } from '../../../charts/executors/executor-admission-policy';
import { ExecutorSandbox } from '../../../charts/executors/executor-sandbox';
import { planPlatform } from '../../../apps/plans';
import { ExecutorTemplate } from '../../../charts/executors/executor-template';
import { SchemaValidator } from '../../support/schema-validator';

/* eslint-disable @typescript-eslint/no-explicit-any */

const root = path.resolve(__dirname, '../../..');
const dev = loadEnvironment(root, 'dev');
const staging = loadEnvironment(root, 'staging');
const prod = loadEnvironment(root, 'prod');
// The committed prod images (repository:tag@sha256:…), and the go image's repository and tag alone.
const GO = imageString(prod.executors.images.go);
const C = imageString(prod.executors.images.c);
const GO_REPO = prod.executors.images.go.repository;
const GO_TAG = prod.executors.images.go.tag ?? '';
const validator = new SchemaValidator({ kubernetesVersions: ['1.28', '1.30', '1.33'] });

/** The ServiceAccount the platform gives executors (what buildPlatform passes to the policy). */
function sandboxServiceAccount(env: EnvironmentConfig): string {
  const chart = new Chart(new App(), 'sandbox', { disableResourceNameHashes: true });
  return new ExecutorSandbox(chart, 'sandbox', { plan: planPlatform(env).executors, platform: env }).serviceAccountName;
}

function render(
  env: EnvironmentConfig,
  serviceAccountName = sandboxServiceAccount(env),
  name?: string,
): { objs: any[]; rules: readonly AdmissionRule[] } {
  const app = new App();
  const chart = new Chart(app, 'test', { disableResourceNameHashes: true });
  const plan = { ...planPlatform(env).executors, serviceAccountName };
  const guard = new ExecutorAdmissionPolicy(chart, 'guard', { plan, platform: env, ...(name ? { name } : {}) });
  return { objs: chart.toJson() as any[], rules: guard.rules };
}

function one(objs: any[], kind: string): any {
  const found = objs.filter((o) => o.kind === kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0];
}

/** A pod as the middleware creates it from a PodTemplate: the template's labels and spec. */
function podFromTemplate(template: any, jobId = 'job-1'): any {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${template.metadata.name}-${jobId}`,
      namespace: template.metadata.namespace,
      labels: structuredClone(template.template.metadata.labels),
    },
    spec: structuredClone(template.template.spec),
  };
}

const committedTemplate: any = parse(
  readFileSync(path.join(root, 'dist/prod/executors/podtemplate-executor-go.yaml'), 'utf8'),
);
const prodPod = podFromTemplate(committedTemplate);
const prodRules = render(prod).rules;

/** Evaluates every rule for a pod; the result must be a boolean. */
function results(rules: readonly AdmissionRule[], pod: any): boolean[] {
  return rules.map((r) => {
    const v: unknown = evaluate(r.expression, { object: pod });
    expect(typeof v, r.expression).toBe('boolean');
    return v as boolean;
  });
}

/** Messages of the rules a pod violates. */
function violations(pod: any, rules: readonly AdmissionRule[] = prodRules): string[] {
  const r = results(rules, pod);
  return rules.filter((_, i) => r[i] === false).map((x) => x.message);
}

/** The message of the one rule whose message contains `text`. */
function rule(text: string, rules: readonly AdmissionRule[] = prodRules): string {
  const found = rules.filter((r) => r.message.includes(text));
  expect(found, text).toHaveLength(1);
  return (found[0] as AdmissionRule).message;
}

function mutate(f: (pod: any) => void, base: any = prodPod): any {
  const pod = structuredClone(base);
  f(pod);
  return pod;
}

const limited = { limits: { cpu: '100m', memory: '64Mi' }, requests: { cpu: '100m', memory: '64Mi' } };

describe('ExecutorAdmissionPolicy', () => {
  describe('objects', () => {
    it.each([
      ['1.28', 'admissionregistration.k8s.io/v1beta1'],
      ['1.30', 'admissionregistration.k8s.io/v1'],
      ['1.33', 'admissionregistration.k8s.io/v1'],
    ] as const)('Kubernetes %s: renders a policy and its binding as %s, both valid', (version, apiVersion) => {
      const env: EnvironmentConfig = { ...prod, kubernetesVersion: version };
      const { objs } = render(env);
      expect(objs.map((o) => `${o.apiVersion} ${o.kind}`)).toEqual([
        `${apiVersion} ValidatingAdmissionPolicy`,
        `${apiVersion} ValidatingAdmissionPolicyBinding`,
      ]);
      for (const o of objs) {
        expect(o.metadata).not.toHaveProperty('namespace');
        expect(validator.validate(o, version)).toEqual([]);
      }
    });

    it('committed environments: dev (1.33) and staging/prod (1.30) get v1', () => {
      for (const env of [dev, staging, prod]) {
        expect(render(env).objs.map((o) => o.apiVersion)).toEqual([
          'admissionregistration.k8s.io/v1',
          'admissionregistration.k8s.io/v1',
        ]);
      }
    });

    it('fails closed on pod creation and update', () => {
      const policy = one(render(prod).objs, 'ValidatingAdmissionPolicy');
      expect(policy.metadata.name).toBe('coderun-executor-guard');
      expect(policy.spec.failurePolicy).toBe('Fail');
      const rules = policy.spec.matchConstraints.resourceRules as any[];
      const podRules = rules.filter((r) => r.resources.includes('pods'));
      expect(podRules).toHaveLength(1);
      expect(podRules[0]).toMatchObject({ apiGroups: [''], apiVersions: ['v1'] });
      expect([...podRules[0].operations].sort()).toEqual(['CREATE', 'UPDATE']);
    });

    it('binds the policy to the executor namespace only, denying violations', () => {
      const env: EnvironmentConfig = { ...prod, namespaces: { app: 'cr', executor: 'cr-jobs' } };
      const binding = one(render(env).objs, 'ValidatingAdmissionPolicyBinding');
      expect(binding.metadata.name).toBe('coderun-executor-guard');
      expect(binding.spec).toEqual({
        policyName: 'coderun-executor-guard',
        validationActions: ['Deny'],
        matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'cr-jobs' } } },
      });
    });

    it('uses a custom name for the policy, the binding and the binding reference', () => {
      const { objs } = render(prod, 'executor', 'my-guard');
      expect(objs.map((o) => o.metadata.name)).toEqual(['my-guard', 'my-guard']);
      expect(one(objs, 'ValidatingAdmissionPolicyBinding').spec.policyName).toBe('my-guard');
    });

    it.each([
      ['dev', dev],
      ['staging', staging],
      ['prod', prod],
    ] as const)('%s: the rules property is exactly what spec.validations renders', (_n, env) => {
      const { objs, rules } = render(env);
      const policy = one(objs, 'ValidatingAdmissionPolicy');
      expect(policy.spec.validations).toEqual(rules.map((r) => ({ expression: r.expression, message: r.message })));
      expect(policy.spec.validations.length).toBeGreaterThan(0);
    });

    it('has one rule per guarantee of the executor template', () => {
      for (const text of [
        `executor images must be exactly one of ${EXECUTOR_LANGUAGES.map((l) => imageString(prod.executors.images[l])).join(', ')}`,
        'activeDeadlineSeconds of at most 300',
        'automountServiceAccountToken: false',
        'must run as ServiceAccount executor',
        'restartPolicy: Never',
        'CPU and memory limits',
        'app.kubernetes.io/component=executor',
        'enableServiceLinks: false',
        'ephemeral',
        'service-account token',
      ]) {
        expect(
          prodRules.filter((r) => r.message.includes(text)),
          text,
        ).toHaveLength(1);
      }
    });

    // Ephemeral containers can only be added through the pods/ephemeralcontainers subresource
    // (kubectl debug); a resource rule for 'pods' alone does not match subresources.
    it('intercepts the pods/ephemeralcontainers subresource its ephemeral-container rule is about', () => {
      const policy = one(render(prod).objs, 'ValidatingAdmissionPolicy');
      const resources = policy.spec.matchConstraints.resourceRules.flatMap((r: any) => r.resources as string[]);
      expect(resources).toEqual(expect.arrayContaining(['pods', 'pods/ephemeralcontainers']));
    });
  });

  describe('CEL rules on a pod made from the committed prod PodTemplate', () => {
    it('the committed template is the one the rules are written for', () => {
      expect(committedTemplate.kind).toBe('PodTemplate');
      expect(prodPod.spec.serviceAccountName).toBe(sandboxServiceAccount(prod));
      expect(prodPod.spec.activeDeadlineSeconds).toBe(prod.executors.deadlineSeconds);
    });

    it('every rule is true for it', () => {
      expect(results(prodRules, prodPod)).toEqual(prodRules.map(() => true));
    });

    it.each(EXECUTOR_LANGUAGES.map((l) => [l] as const))('accepts a pod of the committed %s template', (language) => {
      const t = parse(
        readFileSync(path.join(root, `dist/prod/executors/podtemplate-executor-${language}.yaml`), 'utf8'),
      );
      expect(violations(podFromTemplate(t))).toEqual([]);
    });

    it.each([
      ['dev', dev],
      ['staging', staging],
      ['prod', prod],
    ] as const)('%s: accepts pods from every template ExecutorTemplate renders for it', (_n, env) => {
      const serviceAccountName = sandboxServiceAccount(env);
      const { rules } = render(env, serviceAccountName);
      const chart = new Chart(new App(), 'templates', { disableResourceNameHashes: true });
      const plan = { ...planPlatform(env).executors, serviceAccountName };
      for (const job of plan.jobs) new ExecutorTemplate(chart, job.language, { plan, job, platform: env });
      const templates = chart.toJson() as any[];
      expect(templates).toHaveLength(3);
      for (const t of templates) expect(violations(podFromTemplate(t), rules), t.metadata.name).toEqual([]);
    });

    describe('images', () => {
      const images = 'executor images must be exactly one of';

      it.each([
        ['from another registry', 'docker.io/library/alpine:3.20'],
        ['of the right repository without a tag', GO_REPO],
        ['of the right repository and tag without the digest', `${GO_REPO}:${GO_TAG}`],
        ['of a repository that only starts like an executor', `${GO_REPO}-debug:${GO_TAG}`],
        ['of the right path on another registry', `ghcr.io/${GO_REPO.split('/').slice(1).join('/')}:${GO_TAG}`],
        ['named without its registry', GO.split('/').slice(1).join('/')],
        ['pinned by another digest', `${GO_REPO}:${GO_TAG}@sha256:${'a'.repeat(64)}`],
        ['pinned by digest alone', `${GO_REPO}@${prod.executors.images.go.digest ?? ''}`],
        ['pinned by another tag', `${GO_REPO}:1.0.1`],
        ['tagged latest', `${GO_REPO}:latest`],
      ])('rejects an image %s (%s)', (_what, image) => {
        const pod = mutate((p) => {
          p.spec.containers[0].image = image;
        });
        expect(violations(pod)).toEqual([rule(images)]);
      });

      it.each([
        ['of this language', GO],
        ['of another language', C],
      ])('accepts the template image %s', (_what, image) => {
        const pod = mutate((p) => {
          p.spec.containers[0].image = image;
        });
        expect(violations(pod)).toEqual([]);
      });

      it('checks init containers too', () => {
        const pod = mutate((p) => {
          p.spec.initContainers = [{ name: 'fetch', image: 'docker.io/library/alpine:3.20', resources: limited }];
        });
        expect(violations(pod)).toEqual([rule(images)]);
        const ok = mutate((p) => {
          p.spec.initContainers = [{ name: 'fetch', image: GO, resources: limited }];
        });
        expect(violations(ok)).toEqual([]);
      });

      it('uses the images of the environment', () => {
        const env: EnvironmentConfig = {
          ...prod,
          executors: {
            ...prod.executors,
            images: { ...prod.executors.images, go: { repository: 'docker.io/library/golang', tag: '1.23' } },
          },
        };
        const rules = render(env).rules;
        expect(violations(prodPod, rules)).toEqual([rule(images, rules)]);
        const pod = mutate((p) => {
          p.spec.containers[0].image = 'docker.io/library/golang:1.23';
        });
        expect(violations(pod, rules)).toEqual([]);
      });
    });

    describe('deadline', () => {
      const deadline = 'activeDeadlineSeconds';

      it('rejects a pod without activeDeadlineSeconds', () => {
        const pod = mutate((p) => {
          delete p.spec.activeDeadlineSeconds;
        });
        expect(violations(pod)).toEqual([rule(deadline)]);
      });

      it('rejects a deadline above executors.deadlineSeconds, and accepts it up to that', () => {
        expect(prod.executors.deadlineSeconds).toBe(300);
        const at = (s: number) =>
          violations(
            mutate((p) => {
              p.spec.activeDeadlineSeconds = s;
            }),
          );
        expect(at(301)).toEqual([rule(deadline)]);
        expect(at(3600)).toEqual([rule(deadline)]);
        expect(at(300)).toEqual([]);
        expect(at(1)).toEqual([]);
      });

      it("uses the environment's deadline: staging (120 s) refuses the prod pod (300 s)", () => {
        const rules = render(staging).rules;
        // With staging's image (its registry, its digest): only the deadline is wrong.
        const pod = mutate((p) => {
          p.spec.containers[0].image = imageString(staging.executors.images.go);
        });
        expect(violations(pod, rules)).toEqual([rule(deadline, rules)]);
        expect(rule(deadline, rules)).toBe('executor pods need activeDeadlineSeconds of at most 120');
      });
    });

    describe('service account', () => {
      it.each([
        ['set to true', true],
        ['absent', undefined],
      ])('rejects automountServiceAccountToken %s', (_what, value) => {
        const pod = mutate((p) => {
          if (value === undefined) delete p.spec.automountServiceAccountToken;
          else p.spec.automountServiceAccountToken = value;
        });
        expect(violations(pod)).toEqual([rule('automountServiceAccountToken')]);
      });

      it.each([
        ['another ServiceAccount', 'default'],
        ['no ServiceAccount', undefined],
      ])('rejects %s', (_what, value) => {
        const pod = mutate((p) => {
          if (value === undefined) delete p.spec.serviceAccountName;
          else p.spec.serviceAccountName = value;
        });
        expect(violations(pod)).toEqual([rule('must run as ServiceAccount executor')]);
      });

      it('compares with the ServiceAccount it is given, quoting it safely', () => {
        const rules = render(prod, "odd'name\\x").rules;
        expect(violations(prodPod, rules)).toEqual([rule('must run as ServiceAccount', rules)]);
        const pod = mutate((p) => {
          p.spec.serviceAccountName = "odd'name\\x";
        });
        expect(violations(pod, rules)).toEqual([]);
      });
    });

    describe('restart policy', () => {
      it.each([['Always'], ['OnFailure'], [undefined]])('rejects restartPolicy %s', (value) => {
        const pod = mutate((p) => {
          if (value === undefined) delete p.spec.restartPolicy;
          else p.spec.restartPolicy = value;
        });
        expect(violations(pod)).toEqual([rule('restartPolicy: Never')]);
      });
    });

    describe('limits', () => {
      const limits = 'CPU and memory limits';

      it('rejects a container without a memory limit', () => {
        const pod = mutate((p) => {
          delete p.spec.containers[0].resources.limits.memory;
        });
        expect(violations(pod)).toEqual([rule(limits)]);
      });

      it('rejects a container without a CPU limit', () => {
        const pod = mutate((p) => {
          delete p.spec.containers[0].resources.limits.cpu;
        });
        expect(violations(pod)).toEqual([rule(limits)]);
      });

      it('rejects a container with requests only, or no resources', () => {
        const requestsOnly = mutate((p) => {
          delete p.spec.containers[0].resources.limits;
        });
        expect(violations(requestsOnly)).toEqual([rule(limits)]);
        const none = mutate((p) => {
          delete p.spec.containers[0].resources;
        });
        expect(violations(none)).toEqual([rule(limits)]);
      });

      it('rejects a second container without limits', () => {
        const pod = mutate((p) => {
          p.spec.containers.push({ name: 'sidecar', image: GO });
        });
        expect(violations(pod)).toEqual([rule(limits)]);
      });

      it('rejects an init container without limits', () => {
        const pod = mutate((p) => {
          p.spec.initContainers = [{ name: 'prepare', image: GO }];
        });
        expect(violations(pod)).toEqual([rule(limits)]);
      });
    });

    describe('labels', () => {
      const label = 'app.kubernetes.io/component=executor';

      it.each([
        ['a missing component label', (p: any) => delete p.metadata.labels['app.kubernetes.io/component']],
        ['another component', (p: any) => (p.metadata.labels['app.kubernetes.io/component'] = 'web')],
        ['no labels at all', (p: any) => delete p.metadata.labels],
      ])('rejects %s', (_what, f) => {
        expect(violations(mutate(f))).toEqual([rule(label)]);
      });
    });

    describe('service links', () => {
      it('rejects enableServiceLinks true', () => {
        const pod = mutate((p) => {
          p.spec.enableServiceLinks = true;
        });
        expect(violations(pod)).toEqual([rule('enableServiceLinks')]);
      });

      it('rejects a pod that leaves enableServiceLinks unset (Kubernetes defaults it to true)', () => {
        const pod = mutate((p) => {
          delete p.spec.enableServiceLinks;
        });
        expect(violations(pod)).toEqual([rule('enableServiceLinks')]);
      });
    });

    describe('ephemeral containers', () => {
      it('rejects a pod with an ephemeral (debug) container, even of an allowed image', () => {
        const pod = mutate((p) => {
          p.spec.ephemeralContainers = [{ name: 'debug', image: GO }];
        });
        expect(violations(pod)).toEqual([rule('ephemeral')]);
      });

      it('accepts an empty ephemeralContainers list', () => {
        const pod = mutate((p) => {
          p.spec.ephemeralContainers = [];
        });
        expect(violations(pod)).toEqual([]);
      });
    });

    describe('service-account token volumes', () => {
      it('rejects a projected serviceAccountToken volume (automountServiceAccountToken: false does not cover it)', () => {
        const pod = mutate((p) => {
          p.spec.volumes.push({
            name: 'token',
            projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3600 } }] },
          });
        });
        expect(violations(pod)).toEqual([rule('service-account token')]);
      });

      it('accepts projected volumes of other sources', () => {
        const pod = mutate((p) => {
          p.spec.volumes.push({ name: 'info', projected: { sources: [{ downwardAPI: { items: [] } }] } });
        });
        expect(violations(pod)).toEqual([]);
      });
    });

    it('reports every broken guarantee at once', () => {
      const pod = mutate((p) => {
        p.spec.containers[0].image = 'docker.io/library/alpine:3.20';
        p.spec.restartPolicy = 'Always';
        p.spec.enableServiceLinks = true;
      });
      expect(violations(pod)).toEqual([rule('images must be'), rule('restartPolicy'), rule('enableServiceLinks')]);
    });
  });
});
