/**
 * Compares rendered files with the working tree and replaces whole folders atomically:
 * every folder is first written next to its target, then swapped in with renames, so a failed
 * run leaves dist/ and argocd/ exactly as they were.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/** What a render would change in one folder. */
export interface FolderDiff {
  /** Folder relative to the repository root, e.g. dist/prod. */
  readonly folder: string;
  readonly added: readonly string[];
  readonly changed: readonly string[];
  readonly removed: readonly string[];
  readonly unchanged: number;
}

/** Every file below `dir`, as paths relative to `root`. Missing folder: none. */
export function listFiles(root: string, dir: string): string[] {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else out.push(relative(root, p).split('\\').join('/'));
    }
  };
  walk(abs);
  return out.sort();
}

/** Compares the wanted files of `folder` with what is on disk. */
export function diffFolder(root: string, folder: string, wanted: ReadonlyMap<string, string>): FolderDiff {
  const prefix = `${folder}/`;
  const mine = [...wanted.keys()].filter((p) => p.startsWith(prefix)).sort();
  const existing = new Set(listFiles(root, folder));
  const added: string[] = [];
  const changed: string[] = [];
  let unchanged = 0;
  for (const p of mine) {
    if (!existing.has(p)) added.push(p);
    else if (readFileSync(join(root, p), 'utf8') !== wanted.get(p)) changed.push(p);
    else unchanged++;
    existing.delete(p);
  }
  return { folder, added, changed, removed: [...existing].sort(), unchanged };
}

/** What writing `content` to one file would do. */
export type FileChange = 'added' | 'changed' | 'unchanged';

/** Compares the wanted content of one file (relative to `root`) with what is on disk. */
export function diffFile(root: string, path: string, content: string): FileChange {
  const abs = join(root, path);
  if (!existsSync(abs)) return 'added';
  return readFileSync(abs, 'utf8') === content ? 'unchanged' : 'changed';
}

/** Writes one file next to its target, then renames it into place: readers never see half of it. */
export function replaceFile(root: string, path: string, content: string): void {
  const abs = join(root, path);
  const partial = `${abs}.synth-tmp-${process.pid}`;
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(partial, content);
  renameSync(partial, abs);
}

/** True when the folder needs no change. */
export function isClean(d: FolderDiff): boolean {
  return d.added.length === 0 && d.changed.length === 0 && d.removed.length === 0;
}

/**
 * Replaces each folder with exactly the wanted files (a folder with no wanted files is removed).
 * All folders are staged first; only then are they swapped in.
 */
export function replaceFolders(root: string, folders: readonly string[], wanted: ReadonlyMap<string, string>): void {
  const tag = `${process.pid}`;
  const staged: { target: string; stage: string }[] = [];
  try {
    for (const folder of folders) {
      const target = join(root, folder);
      const stage = `${target}.synth-tmp-${tag}`;
      rmSync(stage, { recursive: true, force: true });
      staged.push({ target, stage });
      const prefix = `${folder}/`;
      let any = false;
      for (const [path, content] of wanted) {
        if (!path.startsWith(prefix)) continue;
        const file = join(stage, path.slice(prefix.length));
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, content);
        any = true;
      }
      if (!any) mkdirSync(stage, { recursive: true });
    }
  } catch (e) {
    for (const s of staged) rmSync(s.stage, { recursive: true, force: true });
    throw e;
  }
  for (const { target, stage } of staged) {
    const old = `${target}.synth-old-${tag}`;
    mkdirSync(dirname(target), { recursive: true });
    if (existsSync(target)) renameSync(target, old);
    if (readdirSync(stage).length > 0) renameSync(stage, target);
    else rmSync(stage, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
}
