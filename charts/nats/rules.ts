/** NATS's cross-field rules, run by the loader after its defaults. */
import { serviceSettingsRules, type PlatformConfig } from '../../src/model/platform';
import type { ImageRef, PathProblem } from '../../src/model/schema';
import type { NatsConfig } from './schema';

export function natsRules(c: PlatformConfig, nats: NatsConfig): PathProblem[] {
  const out = serviceSettingsRules(c, 'services.nats', nats);
  const n = nats.replicas;
  if (n > 1 && n % 2 === 0) {
    out.push({
      path: 'services.nats.replicas',
      message: `${n} is even; a JetStream cluster needs an odd number of servers for a RAFT quorum. Use ${n - 1} or ${n + 1}.`,
    });
  }
  if (c.spread.whenUnsatisfiable === 'DoNotSchedule' && n > c.cluster.nodes) {
    out.push({
      path: 'services.nats.replicas',
      message: `${n} NATS servers cannot each get their own node on a ${c.cluster.nodes}-node cluster with DoNotSchedule. Use at most ${c.cluster.nodes}.`,
    });
  }
  if (nats.tls && nats.tls.issuer.kind !== 'ClusterIssuer') {
    out.push({
      path: 'services.nats.tls.issuer.kind',
      message: `${nats.tls.issuer.kind} cannot issue in both namespaces; NATS TLS needs a ClusterIssuer.`,
    });
  }
  return out;
}

/** NATS's images, with their field paths (checked against allowedRegistries). */
export function natsImages(nats: NatsConfig): [string, ImageRef][] {
  return [
    ['services.nats.image', nats.image],
    ['services.nats.exporterImage', nats.exporterImage],
  ];
}
