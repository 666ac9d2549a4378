/* eslint-disable @typescript-eslint/no-explicit-any -- tests break manifests on purpose */
/**
 * The rules for the README's further promises (rules/claims.ts): each way of breaking a promise in
 * the committed output that no other test caught now fails. That the committed output passes is
 * committed-policy.test.ts's job.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EXECUTOR_LANGUAGES } from '../../charts/executors/schema';
import type { Manifest } from '../../src/model/objects';
import { check, committed, committedByEnv, container, pick, pod, withReplaced } from './fixtures';
import {
  argocdApplicationOptionsRule,
  argocdProjectKindsRule,
  autoscalingRule,
  configChecksumRule,
  containerHardeningRule,
  executorExactImagesRule,
  executorLaunchRule,
  executorReaperRule,
  executorSizingRule,
  externalSecretsRule,
  goMemLimit,
  goMemoryLimitRule,
  imageReference,
  jetstreamReplicasRule,
  natsCredentialsRule,
  natsLeastPrivilegeRule,
  natsTlsRule,
  natsUsers,
  natsVolumeRule,
  oauth2ProxyDeclaredRule,
  README_REAPER,
  resourcesDeclaredRule,
  spreadDeclaredRule,
  subjectMatches,
  tokenHoldersRule,
} from '../../src/policy/rules';

const ENVS = [...committedByEnv().keys()];
/** An environment's dist/ objects with one object (kind, name) changed by `edit`. */
const edited = (env: string, kind: string, name: string, edit: (o: any) => void): Manifest[] => {
  const o: any = pick(env, kind, name);
  edit(o);
  return withReplaced(env, o);
};
/** An environment's argocd/ objects, a deep copy, with the object (kind, name) changed by `edit`. */
const argocdEdited = (env: string, kind: string, name: string, edit: (o: any) => void): Manifest[] => {
  const os: any[] = structuredClone(committed(env).argocd) as any[];
  const o = os.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`no ${kind} ${name} in argocd/${env}`);
  edit(o);
  return os;
};
const envOf = (env: string) => committed(env).env;

describe('rule executor-exact-images', () => {
  const GUARD = 'coderun-executor-guard';
  // A guard that admits any image of the environment's registry (the first path segment of its images).
  const prefixOnly = (s: any, env: string) => {
    const host = envOf(env).executors.images.go.repository.split('/')[0] ?? '';
    const v = s.validations.find((x: any) => /\.image\b/.test(x.expression));
    v.expression = `object.spec.containers.all(c, c.image.startsWith('${host}/'))`;
  };

  it.each(ENVS)('fails in %s when the guard admits any image of the registry (another tag, another image)', (env) => {
    const out = check(
      executorExactImagesRule,
      edited(env, 'ValidatingAdmissionPolicy', GUARD, (p) => prefixOnly(p.spec, env)),
      env,
    );
    const repo = envOf(env).executors.images.go.repository;
    expect(out).toContain(`admits a pod from PodTemplate executor-go with its container running ${repo}:untrusted`);
    expect(out).toContain('with an init container running');
  });

  it('fails when the guard checks the containers but not the init containers', () => {
    const out = check(
      executorExactImagesRule,
      edited('prod', 'ValidatingAdmissionPolicy', GUARD, (p) => {
        const v = p.spec.validations.find((x: any) => /\.image\b/.test(x.expression));
        v.expression = v.expression.replace(
          '(object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : []))',
          'object.spec.containers',
        );
      }),
    );
    expect(out).toContain('with an init container running');
    expect(out).not.toContain('with its container running');
  });

  it('fails when a PodTemplate runs an image the environment does not declare, or the guard refuses its own pods', () => {
    const out = check(
      executorExactImagesRule,
      edited('prod', 'PodTemplate', 'executor-c', (t) => {
        t.template.spec.containers[0].image = 'docker.io/miguellomot/cc-executor-c:2.0.0';
      }),
    );
    expect(out).toContain('runs docker.io/miguellomot/cc-executor-c:2.0.0, not one of env.executors.images');
    expect(out).toContain('refuses a pod made from PodTemplate executor-c: executor images must be exactly');
  });

  it('writes image references as repository[:tag][@digest]', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    expect(imageReference({ repository: 'r/x', tag: '1' })).toBe('r/x:1');
    expect(imageReference({ repository: 'r/x', digest })).toBe(`r/x@${digest}`);
    expect(imageReference({ repository: 'r/x', tag: '1', digest })).toBe(`r/x:1@${digest}`);
  });
});

describe('rule token-holders', () => {
  it.each(ENVS)('fails in %s when the frontend mounts a projected service-account token', (env) => {
    const out = check(
      tokenHoldersRule,
      edited(env, 'Deployment', 'frontend', (d) => {
        pod(d).volumes.push({ name: 'kube-api', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } });
      }),
      env,
    );
    expect(out).toContain('Deployment coderun/frontend: volume kube-api projects a service-account token');
  });

  it('fails when an executor PodTemplate projects a token (the pod that runs user code)', () => {
    const os = edited('prod', 'PodTemplate', `executor-${EXECUTOR_LANGUAGES[0]}`, (t) => {
      t.template.spec.volumes.push({
        name: 'kube-api',
        projected: { sources: [{ serviceAccountToken: { path: 't' } }] },
      });
    });
    expect(check(tokenHoldersRule, os)).toContain('volume kube-api projects a service-account token');
  });

  it('lets the middleware and the reaper hold one', () => {
    const os = edited('prod', 'Deployment', 'middleware', (d) => {
      pod(d).volumes = [{ name: 'kube-api', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } }];
    });
    expect(check(tokenHoldersRule, os)).toBe('');
  });
});

describe('rule capabilities-and-seccomp', () => {
  it('fails when a container adds NET_BIND_SERVICE (which "restricted" allows)', () => {
    const os = edited('prod', 'Deployment', 'frontend', (d) => {
      container(d).securityContext.capabilities.add = ['NET_BIND_SERVICE'];
    });
    expect(check(containerHardeningRule, os)).toContain('container frontend adds capabilities NET_BIND_SERVICE');
  });

  it('fails on a Localhost seccomp profile, on the container or inherited from the pod', () => {
    const localhost = { type: 'Localhost', localhostProfile: 'profiles/audit.json' };
    const onContainer = edited('prod', 'Deployment', 'frontend', (d) => {
      container(d).securityContext.seccompProfile = localhost;
    });
    expect(check(containerHardeningRule, onContainer)).toContain(
      'container frontend runs under seccomp Localhost, not RuntimeDefault',
    );
    const inherited = edited('prod', 'StatefulSet', 'nats', (s) => {
      pod(s).securityContext.seccompProfile = localhost;
      for (const c of pod(s).containers) delete c.securityContext.seccompProfile;
    });
    expect(check(containerHardeningRule, inherited)).toContain('container metrics runs under seccomp Localhost');
  });
});

describe('rule config-checksum', () => {
  it.each(ENVS)('fails in %s when nats.conf changes and the checksum does not (the pods would not roll)', (env) => {
    const os = edited(env, 'ConfigMap', 'nats-config', (cm) => {
      cm.data['nats.conf'] = cm.data['nats.conf'].replace('lame_duck_duration: 30s', 'lame_duck_duration: 5s');
    });
    expect(check(configChecksumRule, os, env)).toContain('pod template checksum/config is');
  });

  it('fails when the annotation is missing, and passes when it is the sha256 of the new file', () => {
    const nats = pick('prod', 'StatefulSet', 'nats') as any;
    delete nats.spec.template.metadata.annotations['checksum/config'];
    expect(check(configChecksumRule, withReplaced('prod', nats))).toContain('checksum/config is undefined');
    const cm: any = pick('prod', 'ConfigMap', 'nats-config');
    cm.data['nats.conf'] += '# changed\n';
    nats.spec.template.metadata.annotations['checksum/config'] = createHash('sha256')
      .update(cm.data['nats.conf'])
      .digest('hex');
    const os = withReplaced('prod', cm).map((o) => (o.kind === 'StatefulSet' && o.metadata.name === 'nats' ? nats : o));
    expect(check(configChecksumRule, os)).toBe('');
  });
});

describe('rule nats-go-memory-limit', () => {
  const withGoMemLimit = (value: string | undefined, env = 'prod') =>
    edited(env, 'StatefulSet', 'nats', (s) => {
      const c = container(s);
      c.env = c.env.filter((e: any) => e.name !== 'GOMEMLIMIT');
      if (value !== undefined) c.env.push({ name: 'GOMEMLIMIT', value });
    });

  it.each(ENVS)('fails in %s when GOMEMLIMIT is the whole limit, or missing', (env) => {
    const limit = container(pick(env, 'StatefulSet', 'nats')).resources.limits.memory as string;
    expect(check(goMemoryLimitRule, withGoMemLimit(limit.replace(/i$/, 'iB')), env)).toContain(
      `GOMEMLIMIT is ${limit.replace(/i$/, 'iB')}, not 80% of its memory limit ${limit}`,
    );
    expect(check(goMemoryLimitRule, withGoMemLimit(undefined, env), env)).toContain('GOMEMLIMIT is undefined');
  });

  it('fails on a GOMEMLIMIT well below 80% (the runtime would collect all the time)', () => {
    expect(check(goMemoryLimitRule, withGoMemLimit('512MiB'))).toContain('GOMEMLIMIT is 512MiB, not 80%');
  });

  it('reads Go memory sizes', () => {
    expect(goMemLimit('819MiB')).toBe(819 * 2 ** 20);
    expect(goMemLimit('1GiB')).toBe(2 ** 30);
    expect(goMemLimit('1000')).toBe(1000);
    expect(goMemLimit('1Gi')).toBeUndefined();
  });
});

describe('rule jetstream-replicas', () => {
  it('fails in every environment when the middleware creates buckets with another replica count, or none', () => {
    for (const env of ENVS) check1(env);
  });

  /** The middleware's bucket replicas in `env` set to `value` (undefined: not set). */
  const withReplicas = (env: string, value: string | undefined) =>
    edited(env, 'Deployment', 'middleware', (d) => {
      const c = container(d);
      c.env = c.env.filter((e: any) => e.name !== 'NATS_JETSTREAM_REPLICAS');
      if (value !== undefined) c.env.push({ name: 'NATS_JETSTREAM_REPLICAS', value });
    });

  function check1(env: string) {
    const servers = envOf(env).services.nats.replicas;
    expect(check(jetstreamReplicasRule, withReplicas(env, String(servers + 2)), env)).toContain(
      `NATS_JETSTREAM_REPLICAS is ${servers + 2}, not the ${servers} NATS server(s)`,
    );
    expect(check(jetstreamReplicasRule, withReplicas(env, undefined), env)).toContain(
      'NATS_JETSTREAM_REPLICAS is undefined',
    );
  }
});

describe('rule nats-tls-as-declared', () => {
  const tlsEnv = ENVS.find((e) => envOf(e).services.nats.tls !== undefined);
  const plainEnv = ENVS.find((e) => envOf(e).services.nats.tls === undefined);

  it('has an environment of each kind to test with', () => {
    expect(tlsEnv).toBeDefined();
    expect(plainEnv).toBeDefined();
  });

  it('fails when nats.conf loses its client tls block where the environment turns TLS on', () => {
    const env = tlsEnv ?? '';
    const os = edited(env, 'ConfigMap', 'nats-config', (cm) => {
      cm.data['nats.conf'] = cm.data['nats.conf'].replace(/^tls \{[^}]*\}\n/m, '');
    });
    expect(check(natsTlsRule, os, env)).toContain('nats.conf: no top-level tls block with cert_file and key_file');
  });

  it('fails when a client connects with nats:// to a TLS server, or with tls:// to a plain one', () => {
    const toggle = (env: string, from: string, to: string) =>
      edited(env, 'Deployment', 'frontend', (d) => {
        const e = container(d).env.find((x: any) => x.name === 'NATS_URL');
        e.value = e.value.replace(from, to);
      });
    expect(check(natsTlsRule, toggle(tlsEnv ?? '', 'tls://', 'nats://'), tlsEnv)).toContain(
      'NATS_URL is nats://nats.coderun.svc.cluster.local:4222, but NATS TLS is on',
    );
    expect(check(natsTlsRule, toggle(plainEnv ?? '', 'nats://', 'tls://'), plainEnv)).toContain('but NATS TLS is off');
  });
});

describe('rule executor-sizing', () => {
  it.each(ENVS)('fails in %s when a job requests less than its limit, or gets a larger workspace', (env) => {
    const os = edited(env, 'PodTemplate', `executor-${EXECUTOR_LANGUAGES[0]}`, (t) => {
      const c = t.template.spec.containers[0];
      c.resources.requests.cpu = '100m';
      t.template.spec.volumes.find((v: any) => v.name === 'workspace').emptyDir.sizeLimit = '10Gi';
    });
    const out = check(executorSizingRule, os, env);
    expect(out).toContain(`requests.cpu is 100m, not env.executors.cpu ${envOf(env).executors.cpu}`);
    expect(out).toContain(`/workspace is an emptyDir of 10Gi, not env.executors.workspaceSize`);
  });

  it('fails when the LimitRange lets one container take more than one job', () => {
    const os = edited('prod', 'LimitRange', 'executor-limits', (r) => {
      r.spec.limits[0].max.cpu = '4';
    });
    expect(check(executorSizingRule, os)).toContain('Container max.cpu is 4, not env.executors.cpu');
  });
});

describe('rule executor-reaper-as-documented', () => {
  const reaper = (edit: (c: any) => void, env = 'prod') => edited(env, 'CronJob', README_REAPER.name, edit);

  it.each(ENVS)('fails in %s when two runs may overlap or a run is not bounded', (env) => {
    const out = check(
      executorReaperRule,
      reaper((c) => {
        c.spec.concurrencyPolicy = 'Allow';
        c.spec.jobTemplate.spec.activeDeadlineSeconds = 3600;
      }, env),
      env,
    );
    expect(out).toContain('concurrencyPolicy is "Allow", not "Forbid"');
    expect(out).toContain('jobTemplate.spec.activeDeadlineSeconds is 3600, not 120');
  });

  it('fails on another schedule, threshold, user or size than the README states', () => {
    const out = check(
      executorReaperRule,
      reaper((c) => {
        c.spec.schedule = '0 */6 * * *';
        const p = c.spec.jobTemplate.spec.template.spec;
        p.securityContext.runAsUser = 1000;
        p.containers[0].env.find((e: any) => e.name === 'REAPER_MIN_AGE_SECONDS').value = '0';
        p.containers[0].resources.requests.cpu = '10m';
      }),
    );
    expect(out).toContain('schedule is "0 */6 * * *", not "*/5 * * * *"');
    expect(out).toContain('runAsUser is 1000, not 65534');
    expect(out).toContain('REAPER_MIN_AGE_SECONDS is "0", not "600"');
    expect(out).toContain('requests.cpu is "10m", not "50m"');
  });

  it('fails when its Role can also watch pods', () => {
    const os = edited('prod', 'Role', README_REAPER.name, (r) => {
      r.rules[0].verbs.push('watch');
    });
    expect(check(executorReaperRule, os)).toContain('Role rules is "/pods: delete,get,list,watch"');
  });
});

describe('rule autoscaling-as-declared', () => {
  const scaled = ENVS.filter((e) => envOf(e).services.frontend.autoscaling !== undefined);

  it.each(scaled)('fails in %s when the frontend HPA strays from its declared bounds and target', (env) => {
    const declared = envOf(env).services.frontend;
    const os = edited(env, 'HorizontalPodAutoscaler', 'frontend', (h) => {
      h.spec.minReplicas += 1;
      h.spec.maxReplicas -= 1;
      h.spec.metrics.find((m: any) => m.resource.name === 'cpu').resource.target.averageUtilization = 95;
    });
    const out = check(autoscalingRule, os, env);
    expect(out).toContain(`minReplicas is ${declared.replicas + 1}, not ${declared.replicas}`);
    expect(out).toContain(`maxReplicas is ${(declared.autoscaling?.maxReplicas ?? 0) - 1}`);
    expect(out).toContain(`cpu averageUtilization is 95, not ${declared.autoscaling?.cpuUtilization}`);
  });

  it('fails on an HPA for a service that declares no autoscaling', () => {
    const hpa: any = { ...structuredClone(pick('prod', 'HorizontalPodAutoscaler', 'frontend')) };
    hpa.metadata.name = 'middleware';
    hpa.spec.scaleTargetRef.name = 'middleware';
    expect(check(autoscalingRule, [...committed('prod').objects, hpa])).toContain(
      'scales middleware, which declares no autoscaling',
    );
  });
});

describe('rule auth-proxy-as-declared', () => {
  const withArg = (env: string, flag: string, value: string) =>
    edited(env, 'Deployment', 'oauth2-proxy', (d) => {
      const c = container(d);
      c.args = [...c.args.filter((a: string) => !a.startsWith(`--${flag}=`)), `--${flag}=${value}`];
    });

  it.each(ENVS)('fails in %s when the redirect URL names another host', (env) => {
    expect(
      check(oauth2ProxyDeclaredRule, withArg(env, 'redirect-url', 'https://evil.example.net/oauth2/callback'), env),
    ).toContain('--redirect-url is [https://evil.example.net/oauth2/callback]');
  });

  it('fails when oauth2-proxy trusts X-Forwarded-* from everyone, or sessions last longer', () => {
    expect(check(oauth2ProxyDeclaredRule, withArg('prod', 'trusted-proxy-ip', '0.0.0.0/0'))).toContain(
      '--trusted-proxy-ip is [0.0.0.0/0], not [10.8.0.0/14]',
    );
    expect(check(oauth2ProxyDeclaredRule, withArg('prod', 'cookie-expire', '720h'))).toContain(
      '--cookie-expire is [720h], not [24h]',
    );
  });

  it('fails when an environment with no trusted proxies gets one', () => {
    const plain = ENVS.find((e) => envOf(e).entrypoint.trustedProxyCidrs.length === 0) ?? '';
    expect(check(oauth2ProxyDeclaredRule, withArg(plain, 'trusted-proxy-ip', '10.0.0.0/8'), plain)).toContain(
      '--trusted-proxy-ip is [10.0.0.0/8], not []',
    );
  });
});

describe('rule argocd-project-kinds', () => {
  const withProject = (env: string, edit: (spec: any) => void) => [
    ...committed(env).objects,
    ...argocdEdited(env, 'AppProject', `coderun-${env}`, (p) => edit(p.spec)),
  ];

  it.each(ENVS)('fails in %s when the AppProject allows ClusterRoleBindings or Secrets', (env) => {
    const out = check(
      argocdProjectKindsRule,
      withProject(env, (s) => {
        s.clusterResourceWhitelist.push({ group: 'rbac.authorization.k8s.io', kind: 'ClusterRoleBinding' });
        s.namespaceResourceWhitelist.push({ group: '', kind: 'Secret' });
      }),
      env,
    );
    expect(out).toContain(
      `clusterResourceWhitelist allows rbac.authorization.k8s.io/ClusterRoleBinding, which dist/${env} does not render`,
    );
    expect(out).toContain("not one of the README's cluster-scoped kinds");
    expect(out).toContain(`namespaceResourceWhitelist allows core/Secret, which dist/${env} does not render`);
  });

  it('fails when the AppProject lacks a kind the environment renders (its sync would fail)', () => {
    const out = check(
      argocdProjectKindsRule,
      withProject('prod', (s) => {
        s.namespaceResourceWhitelist = s.namespaceResourceWhitelist.filter((k: any) => k.kind !== 'CronJob');
      }),
    );
    expect(out).toContain('namespaceResourceWhitelist lacks batch/CronJob, which dist/prod renders');
  });
});

describe('rule argocd-application-options', () => {
  const withApp = (env: string, edit: (app: any) => void) => argocdEdited(env, 'Application', `coderun-${env}`, edit);

  it.each(ENVS)('fails in %s without PruneLast, the finalizer or the declared retry', (env) => {
    const out = check(
      argocdApplicationOptionsRule,
      withApp(env, (a) => {
        a.spec.syncPolicy.syncOptions = a.spec.syncPolicy.syncOptions.filter((o: string) => o !== 'PruneLast=true');
        delete a.metadata.finalizers;
        a.spec.syncPolicy.retry.limit = 1;
        a.spec.syncPolicy.retry.backoff.factor = 1;
      }),
      env,
    );
    expect(out).toContain('syncOptions lack PruneLast=true');
    expect(out).toContain('has no resources-finalizer.argocd.argoproj.io');
    expect(out).toContain('retry.limit is 1, not 5');
    expect(out).toContain('retry.backoff.factor is 1: the backoff is not exponential');
  });

  it('fails when a subscription the environment declares is missing, or one it does not declare is added', () => {
    const env = ENVS.find((e) => Object.keys(envOf(e).argocd.notifications.onSyncFailed).length > 0) ?? '';
    const [service, recipient] = Object.entries(envOf(env).argocd.notifications.onSyncFailed)[0] ?? [];
    const out = check(
      argocdApplicationOptionsRule,
      withApp(env, (a) => {
        delete a.metadata.annotations[`notifications.argoproj.io/subscribe.on-sync-failed.${service}`];
        a.metadata.annotations['notifications.argoproj.io/subscribe.on-deployed.webhook'] = 'someone';
      }),
      env,
    );
    expect(out).toContain(`subscribe.on-sync-failed.${service} is undefined, not ${recipient}`);
    expect(out).toContain('subscribe.on-deployed.webhook subscribes to what the environment does not declare');
  });
});

describe('rule spread-as-declared', () => {
  const constraints = (o: any): any[] => (o.template ?? o.spec.template).spec.topologySpreadConstraints;

  it.each(ENVS)('fails in %s when a constraint has another maxSkew than spread.maxSkew', (env) => {
    const os = edited(env, 'Deployment', 'frontend', (d) => {
      constraints(d)[0].maxSkew = envOf(env).spread.maxSkew + 2;
    });
    expect(check(spreadDeclaredRule, os, env)).toContain(
      `has maxSkew ${envOf(env).spread.maxSkew + 2}, not spread.maxSkew ${envOf(env).spread.maxSkew}`,
    );
  });

  it('fails when a workload is spread otherwise than the environment says, or an executor template hard', () => {
    for (const env of ENVS) {
      const declared = envOf(env).spread.whenUnsatisfiable;
      const other = declared === 'DoNotSchedule' ? 'ScheduleAnyway' : 'DoNotSchedule';
      const os = edited(env, 'StatefulSet', 'nats', (s) => {
        for (const c of constraints(s)) c.whenUnsatisfiable = other;
      });
      expect(check(spreadDeclaredRule, os, env), env).toContain(`is ${other}, not ${declared}`);
    }
    const hard = edited('prod', 'PodTemplate', `executor-${EXECUTOR_LANGUAGES[0]}`, (t) => {
      for (const c of constraints(t)) c.whenUnsatisfiable = 'DoNotSchedule';
    });
    expect(check(spreadDeclaredRule, hard)).toContain('is DoNotSchedule, not ScheduleAnyway');
  });
});

describe('rule nats-least-privilege', () => {
  const withConf = (env: string, edit: (conf: string) => string) =>
    edited(env, 'ConfigMap', 'nats-config', (cm) => {
      const next = edit(cm.data['nats.conf']);
      if (next === cm.data['nats.conf']) throw new Error('the edit changed nothing');
      cm.data['nats.conf'] = next;
    });
  /** Adds `subject` to the first allow list of `what` (publish or subscribe) of `user`. */
  const allow = (user: string, what: string, subject: string) => (conf: string) =>
    conf.replace(
      new RegExp(`(nkey: \\$NATS_${user.toUpperCase()}_NKEY\\b[\\s\\S]*?${what}: \\{ allow: \\[)`),
      `$1"${subject}", `,
    );

  it.each(ENVS)('fails in %s when the executors may inject jobs, create streams or read other inboxes', (env) => {
    const os = edited(env, 'Deployment', 'middleware', (d) => {
      const v = container(d).env.find((e: any) => e.name === 'NATS_EXECUTOR_SCOPE');
      const scope = JSON.parse(v.value);
      scope.publish.push('cola.>', '$JS.API.STREAM.CREATE.*');
      scope.subscribe.push('_INBOX_executor.>');
      v.value = JSON.stringify(scope);
    });
    const out = check(natsLeastPrivilegeRule, os, env);
    for (const l of EXECUTOR_LANGUAGES) expect(out).toContain(`an executor may publish jobs to cola.${l}`);
    expect(out).toContain('an executor may publish $JS.API.STREAM.CREATE.KV_someone (stream administration)');
    expect(out).toContain(
      "an executor may subscribe to _INBOX_executor.>, beyond its job's inbox _INBOX_executor.job1.>",
    );
  });

  it("fails when a client may subscribe beyond its inbox (another client's replies, or the job queues)", () => {
    const out = check(
      natsLeastPrivilegeRule,
      withConf('prod', (c) =>
        allow('frontend', 'subscribe', 'cola.go')(allow('middleware', 'subscribe', '_INBOX_frontend.>')(c)),
      ),
    );
    expect(out).toContain(
      'user middleware may subscribe to _INBOX_frontend.>, beyond its inbox, the job queues and the auth callout',
    );
    expect(out).toContain('user frontend may subscribe to cola.go, beyond its inbox');
  });

  it('fails when a client connects with another inbox prefix than its user may subscribe to', () => {
    const os = edited('prod', 'Deployment', 'frontend', (d) => {
      container(d).env.find((e: any) => e.name === 'NATS_INBOX_PREFIX').value = '_INBOX';
    });
    expect(check(natsLeastPrivilegeRule, os)).toContain(
      'user frontend may subscribe to _INBOX_frontend.>, beyond its inbox',
    );
  });

  it('reads the users of the committed nats.conf and matches NATS subjects', () => {
    const conf = (pick('prod', 'ConfigMap', 'nats-config') as any).data['nats.conf'];
    expect(natsUsers(conf).map((u) => u.user)).toEqual(['frontend', 'middleware']);
    expect(natsUsers(conf).every((u) => u.publish.length > 0 && u.subscribe.length > 0)).toBe(true);
    expect(subjectMatches('cola.>', 'cola.go')).toBe(true);
    expect(subjectMatches('cola.*', 'cola.go')).toBe(true);
    expect(subjectMatches('>', 'cola.go')).toBe(true);
    expect(subjectMatches('cola.>', 'cola')).toBe(false);
    expect(subjectMatches('$KV.*.>', 'cola.go')).toBe(false);
    expect(subjectMatches('cola.go', 'cola.go.x')).toBe(false);
  });
});

describe('rule executor-launch-targets', () => {
  const withEnvVar = (env: string, name: string, value: string) =>
    edited(env, 'Deployment', 'middleware', (d) => {
      container(d).env.find((e: any) => e.name === name).value = value;
    });

  it.each(ENVS)('fails in %s when the middleware looks for executors in the app namespace', (env) => {
    const app = envOf(env).namespaces.app;
    const out = check(executorLaunchRule, withEnvVar(env, 'EXECUTOR_NAMESPACE', app), env);
    expect(out).toContain(`EXECUTOR_NAMESPACE is ${app}, not namespaces.executor`);
    expect(out).toContain(`from PodTemplate ${app}/executor-${EXECUTOR_LANGUAGES[0]}, which is not rendered`);
  });

  it('fails when the template prefix names no PodTemplate', () => {
    expect(check(executorLaunchRule, withEnvVar('prod', 'EXECUTOR_TEMPLATE_PREFIX', 'exec-'))).toContain(
      `would launch ${EXECUTOR_LANGUAGES[0]} jobs from PodTemplate`,
    );
  });
});

describe('rule resources-as-declared', () => {
  const overridden = ENVS.flatMap((env) =>
    Object.entries(envOf(env).services)
      .filter(([, s]) => s.resources?.requests?.cpu !== undefined && s.resources.limits?.cpu !== undefined)
      .map(([name]) => [env, name] as const),
  );

  it('has an environment that overrides a service', () => {
    expect(overridden.length).toBeGreaterThan(0);
  });

  it('fails when a container requests less CPU, or may use more, than its environment declares', () => {
    for (const [env, name] of overridden) {
      const kind = name === 'nats' ? 'StatefulSet' : 'Deployment';
      const os = edited(env, kind, name, (d) => {
        container(d).resources.requests.cpu = '1m';
        container(d).resources.limits.cpu = '64';
      });
      const out = check(resourcesDeclaredRule, os, env);
      expect(out, `${env} ${name}`).toContain('requests.cpu is 1m, not');
      expect(out, `${env} ${name}`).toContain('limits.cpu is 64, not');
    }
  });
});

describe('rule nats-volume-as-declared', () => {
  it.each(ENVS)('fails in %s when the NATS claim is of another size or class', (env) => {
    const want = envOf(env).services.nats.storage;
    const os = edited(env, 'StatefulSet', 'nats', (s) => {
      s.spec.volumeClaimTemplates[0].spec.resources.requests.storage = '1Ti';
      s.spec.volumeClaimTemplates[0].spec.storageClassName = 'elsewhere';
    });
    const out = check(natsVolumeRule, os, env);
    expect(out).toContain(`requests 1Ti, not services.nats.storage.size ${want.size}`);
    expect(out).toContain(`has storageClassName elsewhere, not ${String(want.storageClassName)}`);
  });

  it('fails when the NATS StatefulSet claims no volume (JetStream would write to the node)', () => {
    const os = edited('prod', 'StatefulSet', 'nats', (s) => {
      delete s.spec.volumeClaimTemplates;
    });
    expect(check(natsVolumeRule, os)).toContain('StatefulSet coderun/nats: has no volumeClaimTemplates');
  });
});

describe('rule external-secrets-as-declared', () => {
  const external = ENVS.filter((e) => envOf(e).secrets.provider === 'external-secrets');
  const nameOf = (env: string, secret: 'nats' | 'oauth2Proxy') => envOf(env).secrets[secret];
  const withSecret = (env: string, secret: 'nats' | 'oauth2Proxy', edit: (spec: any) => void) => {
    const os: any[] = structuredClone(committed(env).objects) as any[];
    const o = os.find((x) => x.kind === 'ExternalSecret' && x.spec.target.name === nameOf(env, secret));
    edit(o.spec);
    return os as Manifest[];
  };

  it.each(external)("fails in %s when a Secret is read from another environment's remote secret", (env) => {
    const other = 'coderun-other-nats';
    const out = check(
      externalSecretsRule,
      withSecret(env, 'nats', (s) => {
        s.data[0].remoteRef.key = other;
      }),
      env,
    );
    expect(out).toContain(`${other}:`);
    expect(out).toContain(`not [`);
  });

  it('fails on another store or refresh interval, or a seed from another property', () => {
    const env = external[0] ?? '';
    const out = check(
      externalSecretsRule,
      withSecret(env, 'nats', (s) => {
        s.secretStoreRef.name = 'somewhere-else';
        s.refreshInterval = '720h';
        s.data.find((d: any) => d.secretKey === 'frontend-nkey-seed').remoteRef.property = 'middleware-nkey-seed';
      }),
      env,
    );
    expect(out).toContain('reads store ClusterSecretStore/somewhere-else');
    expect(out).toContain(
      `refreshInterval is 720h, not ${String(envOf(env).secrets.externalSecrets?.refreshInterval)}`,
    );
    expect(out).toContain('frontend-nkey-seed <- ');
    expect(out).toContain(':middleware-nkey-seed, ');
  });

  it("fails when a rotating user's next nkey is not copied, or copied when nothing rotates", () => {
    const env = external[0] ?? '';
    const base = envOf(env);
    const rotating = {
      ...base,
      services: { ...base.services, nats: { ...base.services.nats, rotating: ['frontend'] } },
    };
    expect(check(externalSecretsRule, committed(env).objects, env, rotating as any)).toContain(
      'frontend-nkey-next <- ',
    );
    const extra = withSecret(env, 'nats', (s) => {
      s.data.push({
        secretKey: 'frontend-nkey-next',
        remoteRef: { ...s.data[0].remoteRef, property: 'frontend-nkey-next' },
      });
    });
    expect(check(externalSecretsRule, extra, env)).toContain('frontend-nkey-next <- ');
  });

  it('fails when a Secret has no ExternalSecret', () => {
    const env = external[0] ?? '';
    const os = committed(env).objects.filter(
      (o: any) => !(o.kind === 'ExternalSecret' && o.spec.target.name === nameOf(env, 'nats')),
    );
    expect(check(externalSecretsRule, os, env)).toContain(
      `Secret ${nameOf(env, 'nats')} comes from 0 ExternalSecrets, not one`,
    );
  });
});

describe('rule nats-no-plaintext-credentials', () => {
  const conf = (cm: any) => cm.data['nats.conf'] as string;

  it.each(ENVS)('passes on the committed %s render', (env) => {
    expect(check(natsCredentialsRule, committed(env).objects, env)).toBe('');
  });

  it('fails on a password or a token in nats.conf, or a user that signs in otherwise than by an nkey', () => {
    const os = edited('prod', 'ConfigMap', 'nats-config', (cm) => {
      cm.data['nats.conf'] = conf(cm)
        .replace('nkey: $NATS_FRONTEND_NKEY\n', 'user: frontend\n        password: $NATS_FRONTEND_PASSWORD\n')
        .replace('nkey: $NATS_MIDDLEWARE_NKEY\n', 'nkey: UABCDEF\n        token: s3cr3t\n');
    });
    const out = check(natsCredentialsRule, os);
    expect(out).toContain('nats.conf: sets password; users sign in by nkey');
    expect(out).toContain('nats.conf: sets token; users sign in by nkey');
    expect(out).toContain('a user signs in by user frontend, not by an nkey read from the environment');
    expect(out).toContain('a user signs in by nkey UABCDEF, not by an nkey read from the environment');
  });

  it('fails without an auth callout whose issuer comes from the environment', () => {
    const os = edited('dev', 'ConfigMap', 'nats-config', (cm) => {
      cm.data['nats.conf'] = conf(cm).replace('issuer: $NATS_CALLOUT_ISSUER', 'issuer: AABC');
    });
    expect(check(natsCredentialsRule, os, 'dev')).toContain(
      'has no auth_callout with an issuer read from the environment',
    );
  });

  it('fails when the server reads a seed, or an executor template a Secret', () => {
    const sts = edited('prod', 'StatefulSet', 'nats', (s) => {
      container(s).env.find((e: any) => e.name === 'NATS_FRONTEND_NKEY').valueFrom.secretKeyRef.key =
        'frontend-nkey-seed';
    });
    expect(check(natsCredentialsRule, sts)).toContain(
      'env NATS_FRONTEND_NKEY reads Secret key frontend-nkey-seed: the server needs public keys only',
    );
    const t = edited('prod', 'PodTemplate', `executor-${EXECUTOR_LANGUAGES[0]}`, (x) => {
      container(x).env.push({
        name: 'NATS_TOKEN',
        valueFrom: { secretKeyRef: { name: 'nats-credentials', key: 'x' } },
      });
    });
    expect(check(natsCredentialsRule, t)).toContain(
      'env NATS_TOKEN reads Secret key x: executors run user code and get no credential in their environment',
    );
  });
});
