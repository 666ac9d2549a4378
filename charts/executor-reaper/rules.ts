/** The executor reaper's image, for the registry rules (allowedRegistries, the environment's registry, digests). */
import type { ImageField } from '../../src/model/platform';
import type { ExecutorReaperConfig } from './schema';

export function executorReaperImages(x: ExecutorReaperConfig): ImageField[] {
  return [['executorReaper.image', x.image]];
}
