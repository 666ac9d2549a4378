/** oauth2-proxy's and the entry point's cross-field rules, run by the loader after their defaults. */
import { serviceSettingsRules, type PlatformConfig } from '../../src/model/platform';
import type { ImageRef, PathProblem, ServiceConfig } from '../../src/model/schema';
import { canaryDefaults, canaryRules } from '../common/canary';
import type { EntrypointConfig } from './schema';

/** oauth2-proxy's settings and its canary's (`monitoringEnabled`: whether Prometheus is there to judge it). */
export function oauth2ProxyRules(
  c: PlatformConfig,
  svc: ServiceConfig,
  e: EntrypointConfig,
  monitoringEnabled: boolean,
): PathProblem[] {
  const out = [
    ...serviceSettingsRules(c, 'services.oauth2-proxy', svc),
    ...canaryRules('services.oauth2-proxy', canaryDefaults(c.tier, svc.canary), monitoringEnabled),
  ];
  if (e.mode === 'ingress') {
    for (const k of ['className', 'issuer', 'controllerNamespace', 'controllerPodLabels'] as const) {
      if (e[k] === undefined)
        out.push({ path: `entrypoint.${k}`, message: `is required when entrypoint.mode is ingress. Add it.` });
    }
  }
  if (e.mode === 'gateway') {
    for (const k of ['gateway', 'controllerNamespace', 'controllerPodLabels'] as const) {
      if (e[k] === undefined)
        out.push({ path: `entrypoint.${k}`, message: `is required when entrypoint.mode is gateway. Add it.` });
    }
  }
  if (e.mode !== 'port-forward' && e.trustedProxyCidrs.length === 0) {
    out.push({
      path: 'entrypoint.trustedProxyCidrs',
      message: `must list the ${e.mode} controller's pod addresses (oauth2-proxy runs with --reverse-proxy and trusts only these). Add e.g. the pod CIDR.`,
    });
  }
  if (e.mode !== 'port-forward' && !c.tls) {
    out.push({
      path: 'tls',
      message: `entrypoint.mode ${e.mode} always serves HTTPS (cert-manager certificate); set tls: true.`,
    });
  }
  if (e.mode === 'port-forward' && c.tls) {
    out.push({
      path: 'tls',
      message: 'port-forward serves plain http; set tls: false or use entrypoint.mode ingress.',
    });
  }
  return out;
}

/** oauth2-proxy's image, with its field path (checked against allowedRegistries). */
export function oauth2ProxyImages(svc: ServiceConfig): [string, ImageRef][] {
  return [['services.oauth2-proxy.image', svc.image]];
}
