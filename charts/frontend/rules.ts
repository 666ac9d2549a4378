/** The frontend's cross-field rules, run by the loader after its defaults. */
import { serviceSettingsRules, type PlatformConfig } from '../../src/model/platform';
import type { ImageRef, PathProblem, ServiceConfig } from '../../src/model/schema';
import { canaryDefaults, canaryRules } from '../common/canary';

/** The frontend's settings, and its canary's (`monitoringEnabled`: whether Prometheus is there to judge it). */
export function frontendRules(c: PlatformConfig, svc: ServiceConfig, monitoringEnabled: boolean): PathProblem[] {
  return [
    ...serviceSettingsRules(c, 'services.frontend', svc),
    ...canaryRules('services.frontend', canaryDefaults(c.tier, svc.canary), monitoringEnabled),
  ];
}

/** The frontend's image, with its field path (checked against allowedRegistries). */
export function frontendImages(svc: ServiceConfig): [string, ImageRef][] {
  return [['services.frontend.image', svc.image]];
}
