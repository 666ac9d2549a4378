/** The executors' cross-field rules, run by the loader after their defaults. */
import type { PlatformConfig } from '../../src/model/platform';
import { parseCpu, parseMemory } from '../../src/model/quantity';
import type { ImageRef, PathProblem } from '../../src/model/schema';
import { EXECUTOR_LANGUAGES, type ExecutorsConfig } from './schema';

export function executorsRules(c: PlatformConfig, x: ExecutorsConfig): PathProblem[] {
  const out: PathProblem[] = [];
  const alloc = { cpu: parseCpu(c.cluster.nodeAllocatable.cpu), memory: parseMemory(c.cluster.nodeAllocatable.memory) };
  for (const k of ['cpu', 'memory'] as const) {
    const job = k === 'cpu' ? parseCpu(x.cpu) : parseMemory(x.memory);
    if (job > alloc[k]) {
      out.push({
        path: `executors.${k}`,
        message: `one job's ${k} (${x[k]}) does not fit a node (${c.cluster.nodeAllocatable[k]} allocatable). Lower executors.${k} or use bigger nodes.`,
      });
    }
  }
  const declared: readonly string[] = EXECUTOR_LANGUAGES;
  const missing = EXECUTOR_LANGUAGES.filter((l) => !(l in x.images));
  if (missing.length > 0) {
    out.push({
      path: 'executors.images',
      message: `has no image for executor language(s) ${missing.join(', ')} (EXECUTOR_LANGUAGES in charts/executors/schema.ts). Add executors.images.${missing[0] ?? ''} with a repository and tag to every environment file.`,
    });
  }
  for (const l of Object.keys(x.images).filter((k) => !declared.includes(k))) {
    out.push({
      path: `executors.images.${l}`,
      message: `'${l}' is not an executor language (known: ${EXECUTOR_LANGUAGES.join(', ')}). Add it to EXECUTOR_LANGUAGES in charts/executors/schema.ts, or remove this image.`,
    });
  }
  if (parseMemory(x.workspaceSize) > parseMemory(x.memory)) {
    out.push({
      path: 'executors.workspaceSize',
      message: `${x.workspaceSize} exceeds the job memory limit ${x.memory} (emptyDir counts against it). Lower it.`,
    });
  }
  return out;
}

/** The executor images, with their field paths (checked against allowedRegistries). */
export function executorsImages(x: ExecutorsConfig): [string, ImageRef][] {
  return Object.entries(x.images).map(([l, img]): [string, ImageRef] => [`executors.images.${l}`, img]);
}
