/**
 * Kubernetes resource quantities, as far as this repository uses them:
 * CPU as millicores ("250m") or cores ("1", "0.5"); memory with binary suffixes ("512Mi").
 */

const MEMORY_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  k: 1000,
  M: 1000 ** 2,
  G: 1000 ** 3,
};

/** Parses a CPU quantity into millicores. Throws on anything else, naming the value. */
export function parseCpu(q: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(m?)$/.exec(q);
  if (!m) throw new Error(`'${q}' is not a CPU quantity (use millicores like 250m or cores like 0.5)`);
  const n = Number(m[1]);
  return Math.round(m[2] === 'm' ? n : n * 1000);
}

/** Parses a memory quantity into bytes. Throws on anything else, naming the value. */
export function parseMemory(q: string): number {
  const m = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G)?$/.exec(q);
  if (!m) throw new Error(`'${q}' is not a memory quantity (use a number with Ki, Mi, Gi or Ti, like 512Mi)`);
  return Math.round(Number(m[1]) * (MEMORY_UNITS[m[2] ?? ''] ?? 1));
}

/** Formats millicores the way Kubernetes prints them: whole cores without a suffix, else "m". */
export function formatCpu(millis: number): string {
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}

/** Formats bytes with the largest binary suffix that divides them exactly. */
export function formatMemory(bytes: number): string {
  for (const unit of ['Ti', 'Gi', 'Mi', 'Ki'] as const) {
    const size = MEMORY_UNITS[unit] ?? 1;
    if (bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}
