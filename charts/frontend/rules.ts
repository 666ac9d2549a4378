/** The frontend's cross-field rules, run by the loader after its defaults. */
import { serviceSettingsRules, type PlatformConfig } from '../../src/model/platform';
import type { ImageRef, PathProblem, ServiceConfig } from '../../src/model/schema';

export function frontendRules(c: PlatformConfig, svc: ServiceConfig): PathProblem[] {
  return serviceSettingsRules(c, 'services.frontend', svc);
}

/** The frontend's image, with its field path (checked against allowedRegistries). */
export function frontendImages(svc: ServiceConfig): [string, ImageRef][] {
  return [['services.frontend.image', svc.image]];
}
