/* eslint-disable @typescript-eslint/no-explicit-any -- tests break manifests on purpose */
import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/model/objects';
import { check, committed, committedByEnv, container, pick, pod, withReplaced } from './fixtures';
import {
  allowedRegistriesRule,
  executorGuardrailsRule,
  isReference,
  macroPrecedenceTraps,
  namespacePodSecurityRule,
  noSecretsInGitRule,
  podSecurityRestrictedRule,
  readOnlyRootRule,
  registryPullRule,
  secretLooking,
  serviceAccountTokensRule,
} from '../../src/policy/rules';

describe('rule allowed-registries', () => {
  it('fails on an image outside allowedRegistries', () => {
    const d: any = pick('prod', 'Deployment', 'frontend');
    container(d).image = 'ghcr.io/someone/cc-fronted:1.0.0';
    expect(check(allowedRegistriesRule, [d])).toContain(
      "container frontend image 'ghcr.io/someone/cc-fronted:1.0.0' is not under allowedRegistries",
    );
  });

  it('fails on a short name that only implies docker.io', () => {
    const s: any = pick('prod', 'StatefulSet', 'nats');
    container(s).image = 'nats:2.10.24-alpine';
    expect(check(allowedRegistriesRule, [s])).toContain("image 'nats:2.10.24-alpine' is not under allowedRegistries");
  });

  it('checks executor templates', () => {
    const t: any = pick('dev', 'PodTemplate', 'executor-go');
    t.template.spec.containers[0].image = 'docker.io/golang:1.22';
    expect(check(allowedRegistriesRule, [t], 'dev')).toContain("image 'docker.io/golang:1.22'");
  });
});

describe('rule registry-as-declared', () => {
  it('passes the committed output of every environment', () => {
    for (const env of committedByEnv().keys()) expect(check(registryPullRule, committed(env).objects, env)).toBe('');
  });

  it('fails on an image without its digest, and on one from another registry', () => {
    const d: any = pick('prod', 'Deployment', 'frontend');
    const pinned = String(container(d).image);
    container(d).image = pinned.slice(0, pinned.indexOf('@'));
    expect(check(registryPullRule, withReplaced('prod', d))).toContain(
      `container frontend image '${pinned.slice(0, pinned.indexOf('@'))}' is not registry.prod.coderun.example.com/<path>:<tag>@sha256:<digest>`,
    );
    container(d).image = pinned.replace('registry.prod.', 'registry.staging.');
    expect(check(registryPullRule, withReplaced('prod', d))).toContain('is not registry.prod.coderun.example.com/');
  });

  it("fails when a pod's ServiceAccount does not name the pull Secret: the executors', the reaper's", () => {
    for (const name of ['executor', 'executor-reaper']) {
      const sa: any = pick('prod', 'ServiceAccount', name);
      delete sa.imagePullSecrets;
      const out = check(registryPullRule, withReplaced('prod', sa));
      expect(out).toContain(
        `ServiceAccount ${String(sa.metadata.namespace)}/${name}, which does not name the pull Secret registry-credentials`,
      );
    }
    const d: any = pick('staging', 'Deployment', 'middleware');
    d.spec.template.spec.serviceAccountName = 'default';
    expect(check(registryPullRule, withReplaced('staging', d), 'staging')).toContain(
      'ServiceAccount coderun/default, which is not rendered to name the pull Secret',
    );
  });

  it('fails on a pull Secret in an environment without a registry', () => {
    const sa: any = pick('dev', 'ServiceAccount', 'nats');
    sa.imagePullSecrets = [{ name: 'registry-credentials' }];
    expect(check(registryPullRule, withReplaced('dev', sa), 'dev')).toContain(
      'names pull Secret(s) registry-credentials, but the environment names no registry',
    );
  });
});

describe('rule pod-security-restricted', () => {
  it('passes on every committed pod', () => {
    expect(check(podSecurityRestrictedRule, committed('prod').objects)).toBe('');
  });

  it('fails on host namespaces, hostPath, hostPort and privilege', () => {
    const d: any = pick('prod', 'Deployment', 'middleware');
    pod(d).hostNetwork = true;
    pod(d).hostPID = true;
    pod(d).volumes.push({ name: 'docker', hostPath: { path: '/var/run/docker.sock' } });
    container(d).ports[0].hostPort = 8080;
    container(d).securityContext.privileged = true;
    const out = check(podSecurityRestrictedRule, [d]);
    expect(out).toContain('sets hostNetwork: true');
    expect(out).toContain('sets hostPID: true');
    expect(out).toContain('volume docker is of type hostPath, which "restricted" forbids');
    expect(out).toContain('container middleware binds hostPort 8080');
    expect(out).toContain('container middleware is privileged');
  });

  it('fails on root, escalation and capabilities', () => {
    const d: any = pick('prod', 'Deployment', 'frontend');
    delete pod(d).securityContext.runAsNonRoot;
    delete container(d).securityContext.runAsNonRoot;
    container(d).securityContext.runAsUser = 0;
    container(d).securityContext.allowPrivilegeEscalation = true;
    container(d).securityContext.capabilities = { drop: ['NET_RAW'], add: ['SYS_ADMIN', 'NET_BIND_SERVICE'] };
    const out = check(podSecurityRestrictedRule, [d]);
    expect(out).toContain(
      'container frontend may run as root: runAsNonRoot is true neither on the pod nor on the container',
    );
    expect(out).toContain('container frontend runAsUser is 0 (root)');
    expect(out).toContain('container frontend does not set allowPrivilegeEscalation: false');
    expect(out).toContain('container frontend does not drop ALL capabilities');
    expect(out).toContain('container frontend adds capability SYS_ADMIN; only NET_BIND_SERVICE is allowed');
    expect(out).not.toContain('adds capability NET_BIND_SERVICE');
  });

  it('fails without seccomp RuntimeDefault or Localhost, and on Unconfined', () => {
    const s: any = pick('prod', 'StatefulSet', 'nats');
    delete pod(s).securityContext.seccompProfile;
    delete container(s).securityContext.seccompProfile;
    container(s, 1).securityContext.seccompProfile = { type: 'Unconfined' };
    const out = check(podSecurityRestrictedRule, [s]);
    expect(out).toContain('container nats has no seccompProfile RuntimeDefault or Localhost');
    expect(out).toContain('container metrics seccompProfile is Unconfined');
  });

  it('accepts seccomp on the container only', () => {
    const s: any = pick('prod', 'StatefulSet', 'nats');
    delete pod(s).securityContext.seccompProfile;
    expect(check(podSecurityRestrictedRule, [s])).toBe('');
  });

  it('checks PodTemplates and init containers', () => {
    const t: any = pick('prod', 'PodTemplate', 'executor-javascript');
    t.template.spec.initContainers = [{ name: 'fetch', image: 'docker.io/library/busybox:1.36', securityContext: {} }];
    t.template.spec.securityContext.sysctls = [{ name: 'kernel.msgmax', value: '65536' }];
    const out = check(podSecurityRestrictedRule, [t]);
    expect(out).toContain('container fetch does not set allowPrivilegeEscalation: false');
    expect(out).toContain('sets sysctl kernel.msgmax, which is not in the safe set');
  });
});

describe('rule read-only-root', () => {
  it('fails on a writable root filesystem', () => {
    const s: any = pick('prod', 'StatefulSet', 'nats');
    container(s, 1).securityContext.readOnlyRootFilesystem = false;
    expect(check(readOnlyRootRule, [s])).toContain('container metrics does not set readOnlyRootFilesystem: true');
  });

  it('fails on an emptyDir without sizeLimit', () => {
    const t: any = pick('prod', 'PodTemplate', 'executor-go');
    delete t.template.spec.volumes[0].emptyDir.sizeLimit;
    expect(check(readOnlyRootRule, [t])).toContain('emptyDir volume workspace has no sizeLimit');
  });
});

describe('rule service-account-tokens', () => {
  it('fails when a pod other than the middleware mounts a token', () => {
    const d: any = pick('prod', 'Deployment', 'frontend');
    pod(d).automountServiceAccountToken = true;
    const t: any = pick('prod', 'PodTemplate', 'executor-c');
    delete t.template.spec.automountServiceAccountToken;
    const out = check(serviceAccountTokensRule, [d, t]);
    expect(out).toContain('Deployment coderun/frontend: pod spec does not set automountServiceAccountToken: false');
    expect(out).toContain('PodTemplate coderun-executors/executor-c: pod spec does not set');
  });

  it('lets the middleware mount its token', () => {
    expect(check(serviceAccountTokensRule, [pick('prod', 'Deployment', 'middleware')])).toBe('');
  });

  it('fails on the default ServiceAccount, named or implied', () => {
    const d: any = pick('prod', 'Deployment', 'middleware');
    pod(d).serviceAccountName = 'default';
    const s: any = pick('prod', 'StatefulSet', 'nats');
    delete pod(s).serviceAccountName;
    const out = check(serviceAccountTokensRule, [d, s]);
    expect(out).toContain("Deployment coderun/middleware: runs as the namespace's default ServiceAccount");
    expect(out).toContain("StatefulSet coderun/nats: runs as the namespace's default ServiceAccount");
  });
});

describe('rule no-secrets-in-git', () => {
  it('fails on a rendered Secret with data', () => {
    const secret: Manifest = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'nats-credentials', namespace: 'coderun' },
      stringData: { 'frontend-password': 'hunter2' },
    };
    expect(check(noSecretsInGitRule, [...committed('dev').objects, secret], 'dev')).toContain(
      'Secret coderun/nats-credentials: is a Secret with stringData in git',
    );
  });

  it('fails on a literal password in env', () => {
    const d: any = pick('dev', 'Deployment', 'frontend');
    container(d).env[2] = { name: 'NATS_PASSWORD', value: 'correct-horse-battery-staple' };
    expect(check(noSecretsInGitRule, [d], 'dev')).toContain(
      'container frontend env NATS_PASSWORD is named like a secret and has a literal value; use valueFrom.secretKeyRef',
    );
  });

  it('fails on key material in any env var or argument', () => {
    const d: any = pick('dev', 'Deployment', 'oauth2-proxy');
    container(d).env.push({ name: 'EXTRA', value: 'AKIAIOSFODNN7EXAMPLE' });
    container(d).args.push('--client-secret=GOCSPX-abc123');
    container(d).args.push(`--jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.${'a'.repeat(20)}`);
    const out = check(noSecretsInGitRule, [d], 'dev');
    expect(out).toContain('env EXTRA contains what looks like an AWS access key id');
    expect(out).toContain('argument --client-secret has a literal value; read it from a Secret');
    expect(out).toContain('argument contains what looks like a JWT');
  });

  it('accepts env-variable references in the NATS config but not literal passwords', () => {
    expect(check(noSecretsInGitRule, [pick('prod', 'ConfigMap', 'nats-config')])).toBe('');
    const cm: any = pick('prod', 'ConfigMap', 'nats-config');
    cm.data['nats.conf'] = cm.data['nats.conf'].replace(
      'nkey: $NATS_FRONTEND_NKEY',
      'user: frontend\n        password: s3cr3t-pw',
    );
    expect(check(noSecretsInGitRule, [cm])).toContain(
      'data.nats.conf sets password to a literal; use an environment variable reference filled from a Secret',
    );
  });

  it('fails on a private key or a long base64 blob in a ConfigMap', () => {
    const cm: any = pick('prod', 'ConfigMap', 'nats-config');
    cm.data['tls.key'] = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----\n';
    cm.data['seed'] = 'U0FMVEVEX19zb21lUmFuZG9tS2V5TWF0ZXJpYWwxMjM0NTY3ODkw';
    const out = check(noSecretsInGitRule, [cm]);
    expect(out).toContain('data.tls.key contains what looks like a private key');
    expect(out).toContain('data.seed contains what looks like a 52-character base64 blob');
  });

  it('knows references and key-looking values', () => {
    for (const r of ['$NATS_PASSWORD', '${TOKEN}', '$(API_KEY)', '"$X"', '', '/etc/secret/key']) {
      expect(isReference(r), r).toBe(true);
    }
    expect(isReference('hunter2')).toBe(false);
    expect(secretLooking('/etc/nats-tls/tls.crt')).toBeUndefined();
    expect(
      secretLooking('checksum sha256 05edb20f8fd1a4c09768403b98b33db473a98fe73046c7af2d92eca7f4b9a1c5'),
    ).toBeUndefined();
  });
});

describe('rule namespace-pod-security', () => {
  it('fails when enforce is not restricted', () => {
    const n: any = pick('prod', 'Namespace', 'coderun-executors');
    n.metadata.labels['pod-security.kubernetes.io/enforce'] = 'baseline';
    expect(check(namespacePodSecurityRule, withReplaced('prod', n))).toContain(
      'Namespace coderun-executors: pod-security.kubernetes.io/enforce is baseline, not restricted',
    );
  });

  it('fails when enforce-version is latest, missing or newer than the cluster', () => {
    const n: any = pick('prod', 'Namespace', 'coderun');
    n.metadata.labels['pod-security.kubernetes.io/enforce-version'] = 'latest';
    expect(check(namespacePodSecurityRule, withReplaced('prod', n))).toContain(
      'enforce-version is latest; pin it to a version like v1.30',
    );
    delete n.metadata.labels['pod-security.kubernetes.io/enforce-version'];
    expect(check(namespacePodSecurityRule, withReplaced('prod', n))).toContain('enforce-version is undefined');
    n.metadata.labels['pod-security.kubernetes.io/enforce-version'] = 'v1.33';
    expect(check(namespacePodSecurityRule, withReplaced('prod', n))).toContain(
      'enforce-version v1.33 is newer than the cluster (1.30)',
    );
  });

  it('fails when a namespace of the environment is not rendered', () => {
    const objects = committed('dev').objects.filter((o) => o.kind !== 'Namespace' || o.metadata.name !== 'coderun');
    expect(check(namespacePodSecurityRule, objects, 'dev')).toContain('Namespace coderun: is not rendered');
  });
});

describe('rule executor-guardrails', () => {
  it('fails without quota, LimitRange or admission binding', () => {
    const objects = committed('staging').objects.filter(
      (o) => !['ResourceQuota', 'LimitRange', 'ValidatingAdmissionPolicyBinding'].includes(o.kind),
    );
    const out = check(executorGuardrailsRule, objects, 'staging');
    expect(out).toContain('Namespace coderun-executors: has no ResourceQuota');
    expect(out).toContain('Namespace coderun-executors: has no LimitRange');
    expect(out).toContain('no ValidatingAdmissionPolicyBinding selects the executor namespace');
  });

  it('fails when the quota misses a resource', () => {
    const q: any = pick('staging', 'ResourceQuota', 'executor-quota');
    delete q.spec.hard['limits.memory'];
    delete q.spec.hard.pods;
    const out = check(executorGuardrailsRule, withReplaced('staging', q), 'staging');
    expect(out).toContain('ResourceQuota does not limit pods');
    expect(out).toContain('ResourceQuota does not limit limits.memory');
  });

  it('fails when the binding warns instead of denying, or selects another namespace', () => {
    const b: any = pick('prod', 'ValidatingAdmissionPolicyBinding', 'coderun-executor-guard');
    b.spec.validationActions = ['Warn', 'Audit'];
    expect(check(executorGuardrailsRule, withReplaced('prod', b))).toContain('validationActions does not include Deny');
    b.spec.matchResources.namespaceSelector.matchLabels['kubernetes.io/metadata.name'] = 'coderun';
    expect(check(executorGuardrailsRule, withReplaced('prod', b))).toContain(
      'no ValidatingAdmissionPolicyBinding selects the executor namespace',
    );
  });

  it('fails when the policy fails open or stops checking a guarantee', () => {
    const p: any = pick('prod', 'ValidatingAdmissionPolicy', 'coderun-executor-guard');
    p.spec.failurePolicy = 'Ignore';
    p.spec.validations = p.spec.validations.filter(
      (v: any) => !v.expression.includes('activeDeadlineSeconds') && !v.expression.includes('limits'),
    );
    const out = check(executorGuardrailsRule, withReplaced('prod', p));
    expect(out).toContain('failurePolicy is Ignore, not Fail');
    expect(out).toContain('the admission policy does not check activeDeadlineSeconds');
    expect(out).toContain('the admission policy does not check resource limits');
  });

  it('fails on a CEL macro that binds tighter than + (the list concatenation it was meant for)', () => {
    const p: any = pick('prod', 'ValidatingAdmissionPolicy', 'coderun-executor-guard');
    p.spec.validations[0].expression =
      "object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : []).all(c, c.image.startsWith('docker.io/'))";
    expect(check(executorGuardrailsRule, withReplaced('prod', p))).toContain(
      "validations[0]: '+ (…).all(…)' applies all to the right operand only; wrap the whole concatenation in parentheses",
    );
  });

  it('finds the precedence trap only where it is', () => {
    expect(macroPrecedenceTraps("(a + (b ? c : [])).all(x, x.image.startsWith('(+'))")).toEqual([]);
    expect(macroPrecedenceTraps("a + (b).exists(x, x == ')')")).toHaveLength(1);
    expect(macroPrecedenceTraps('size(a) + (b).size()')).toEqual([]);
  });
});
