/**
 * Building blocks shared by every pod this repository renders: labels, the restricted
 * security context, probes, resources and topology spread. One place, so every workload
 * gets the same guarantees.
 */
import type { PlatformConfig } from '../../src/model/platform';
import type { ImageRef, Resources } from '../../src/model/schema';
import type { EnvVarDefinition, HttpProbeDefinition, PortDefinition, WritablePath } from './service-definition';
import { ApiObject, JsonPatch } from 'cdk8s';
import type { IConstruct } from 'constructs';
import * as k8s from '../../imports/k8s';
import { formatMemory, parseMemory } from '../../src/model/quantity';

/** Value of app.kubernetes.io/part-of on everything we render. */
export const PART_OF = 'coderun';

/** The labels that select one workload's pods. Never includes the version: selectors are immutable. */
export function selectorLabels(name: string, platform: PlatformConfig): Record<string, string> {
  return {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/instance': `${PART_OF}-${platform.name}`,
  };
}

/** The full app.kubernetes.io/* label set. */
export function standardLabels(
  name: string,
  component: string,
  platform: PlatformConfig,
  image?: ImageRef,
): Record<string, string> {
  const labels: Record<string, string> = {
    ...selectorLabels(name, platform),
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': PART_OF,
    'app.kubernetes.io/managed-by': 'cdk8s',
  };
  // A tag may be longer or use more characters than a label value allows; then the label is left out.
  if (image?.tag && isLabelValue(image.tag)) labels['app.kubernetes.io/version'] = image.tag;
  return labels;
}

/**
 * The imagePullSecrets of a ServiceAccount that runs pods: the environment's registry pull Secret, or
 * nothing where images are public (no registry). Spread into the ServiceAccount; the ServiceAccount
 * admission plugin copies them into every pod that runs as it, so pods created by controllers or by
 * the middleware carry them without anyone naming the Secret.
 */
export function pullSecretsOf(platform: PlatformConfig): { imagePullSecrets?: k8s.LocalObjectReference[] } {
  return platform.registry ? { imagePullSecrets: [{ name: platform.registry.pullSecret }] } : {};
}

/** Adds {@link pullSecretsOf} to a cdk8s-plus ServiceAccount, which has no prop for them. */
export function attachPullSecrets(serviceAccount: IConstruct, platform: PlatformConfig): void {
  const { imagePullSecrets } = pullSecretsOf(platform);
  if (imagePullSecrets) ApiObject.of(serviceAccount).addJsonPatch(JsonPatch.add('/imagePullSecrets', imagePullSecrets));
}

/** Whether a string is a valid label value: at most 63 characters, alphanumeric at both ends. */
export function isLabelValue(v: string): boolean {
  return v.length <= 63 && /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v);
}

/** Pod-level security context that meets Pod Security Standards "restricted". */
export function restrictedPodSecurityContext(uid: number, fsGroup?: number): k8s.PodSecurityContext {
  if (!Number.isInteger(uid) || uid <= 0) {
    throw new Error(`runAsUser (${uid}) must be a positive UID: pods never run as root`);
  }
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    ...(fsGroup === undefined ? {} : { fsGroup, fsGroupChangePolicy: 'OnRootMismatch' }),
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Container-level security context: no privilege, no capabilities, read-only root. */
export function restrictedContainerSecurityContext(): k8s.SecurityContext {
  return {
    allowPrivilegeEscalation: false,
    privileged: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * Node disk a container may fill besides its emptyDirs: its logs, which the kubelet rotates at
 * 5 files of 10Mi by default (every root filesystem is read-only, so nothing else grows).
 */
export const CONTAINER_LOG_STORAGE = '64Mi';

/**
 * The ephemeral-storage a container requests and is limited to: its logs plus the size limits of the
 * emptyDirs it writes to. Requested as much as limited, so the scheduler only places the pod on a
 * node with that much disk free, and the kubelet evicts the pod that overflows, not its neighbours.
 */
export function ephemeralStorage(emptyDirSizeLimits: readonly string[] = []): string {
  return formatMemory([CONTAINER_LOG_STORAGE, ...emptyDirSizeLimits].reduce((sum, q) => sum + parseMemory(q), 0));
}

/** Requests and limits as Kubernetes quantities; ephemeral-storage as from ephemeralStorage(). */
export function containerResources(r: Resources, storage = ephemeralStorage()): k8s.ResourceRequirements {
  const disk = k8s.Quantity.fromString(storage);
  return {
    requests: {
      cpu: k8s.Quantity.fromString(r.requests.cpu),
      memory: k8s.Quantity.fromString(r.requests.memory),
      'ephemeral-storage': disk,
    },
    limits: {
      cpu: k8s.Quantity.fromString(r.limits.cpu),
      memory: k8s.Quantity.fromString(r.limits.memory),
      'ephemeral-storage': disk,
    },
  };
}

/** An HTTP probe on a named port; throws if the port is not declared. */
export function httpProbe(probe: HttpProbeDefinition, ports: readonly PortDefinition[], owner: string): k8s.Probe {
  if (!ports.some((p) => p.name === probe.port)) {
    throw new Error(
      `${owner}: probe ${probe.path} uses port '${probe.port}', which is not one of the declared ports (${ports.map((p) => p.name).join(', ')})`,
    );
  }
  return {
    httpGet: { path: probe.path, port: k8s.IntOrString.fromString(probe.port), scheme: 'HTTP' },
    periodSeconds: probe.periodSeconds,
    failureThreshold: probe.failureThreshold,
    timeoutSeconds: probe.timeoutSeconds ?? 2,
    successThreshold: 1,
  };
}

/** Container ports from definitions, validating IANA-style names. */
export function containerPorts(ports: readonly PortDefinition[], owner: string): k8s.ContainerPort[] {
  const seen = new Set<string>();
  return ports.map((p) => {
    if (!/^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/.test(p.name) || !/[a-z]/.test(p.name)) {
      throw new Error(
        `${owner}: port name '${p.name}' must be an IANA service name: 1-15 lower-case letters, digits or '-'`,
      );
    }
    if (seen.has(p.name)) throw new Error(`${owner}: port name '${p.name}' is declared twice`);
    seen.add(p.name);
    return { name: p.name, containerPort: p.containerPort, protocol: 'TCP' };
  });
}

/** Environment variables; secret-backed ones are references, never values. */
export function envVars(vars: readonly EnvVarDefinition[]): k8s.EnvVar[] {
  return vars.map((v) =>
    'value' in v
      ? { name: v.name, value: v.value }
      : { name: v.name, valueFrom: { secretKeyRef: { name: v.secretName, key: v.secretKey } } },
  );
}

/** Size-limited emptyDir volumes and their mounts for writable paths. */
export function writableVolumes(paths: readonly WritablePath[]): {
  volumes: k8s.Volume[];
  mounts: k8s.VolumeMount[];
} {
  return {
    volumes: paths.map((p) => ({ name: p.name, emptyDir: { sizeLimit: k8s.Quantity.fromString(p.sizeLimit) } })),
    mounts: paths.map((p) => ({ name: p.name, mountPath: p.mountPath })),
  };
}

/**
 * Topology spread over hostnames, and over zones where the environment has zones.
 * The selector is the pod's own selector labels. `matchLabelKeys` lets Deployments spread
 * each ReplicaSet on its own during a rolling update. `whenUnsatisfiable` overrides the
 * environment's (executors spread softly everywhere: a job never waits for balance).
 */
export function spreadConstraints(
  platform: Pick<PlatformConfig, 'cluster' | 'spread'>,
  selector: Record<string, string>,
  matchLabelKeys: readonly string[] = [],
  whenUnsatisfiable: PlatformConfig['spread']['whenUnsatisfiable'] = platform.spread.whenUnsatisfiable,
): k8s.TopologySpreadConstraint[] {
  const keys = ['kubernetes.io/hostname'];
  if (platform.cluster.zones.length > 0) keys.push('topology.kubernetes.io/zone');
  return keys.map((topologyKey) => ({
    maxSkew: platform.spread.maxSkew,
    topologyKey,
    whenUnsatisfiable,
    labelSelector: { matchLabels: { ...selector } },
    ...(matchLabelKeys.length > 0 ? { matchLabelKeys: [...matchLabelKeys] } : {}),
  }));
}
