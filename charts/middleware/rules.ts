/** The middleware's cross-field rules, run by the loader after its defaults. */
import { serviceSettingsRules, type PlatformConfig } from '../../src/model/platform';
import type { ImageRef, PathProblem } from '../../src/model/schema';
import type { MiddlewareConfig } from './schema';

export function middlewareRules(c: PlatformConfig, svc: MiddlewareConfig): PathProblem[] {
  const out = serviceSettingsRules(c, 'services.middleware', svc);
  if (svc.keda && svc.keda.maxReplicas <= svc.replicas) {
    out.push({
      path: 'services.middleware.keda.maxReplicas',
      message: `${svc.keda.maxReplicas} must be larger than replicas (${svc.replicas}), the minimum.`,
    });
  }
  return out;
}

/** The middleware's image, with its field path (checked against allowedRegistries). */
export function middlewareImages(svc: MiddlewareConfig): [string, ImageRef][] {
  return [['services.middleware.image', svc.image]];
}
