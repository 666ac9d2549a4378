/**
 * A throwaway copy of some folders of the repository for tests that edit files: copied once, and
 * before each test put back to exactly the copied state (the same files, folders and bytes), by
 * rewriting only what the last test changed and removing what it added. Copying the whole tree
 * again for every test costs far more than a walk that compares.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Content of every file (a Buffer) and folder (null) below `dir`, by path relative to `dir`. */
function readTree(dir: string, rel = '', out = new Map<string, Buffer | null>()): Map<string, Buffer | null> {
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const p = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) {
      out.set(p, null);
      readTree(dir, p, out);
    } else out.set(p, readFileSync(join(dir, p)));
  }
  return out;
}

export class ScratchCopy {
  /** The copy's root: the copied folders sit below it as in the repository. */
  readonly root: string;
  private readonly pristine: ReadonlyMap<string, Buffer | null>;

  /** Copies `folders` (relative to `from`) into a new temporary directory named after `prefix`. */
  constructor(from: string, folders: readonly string[], prefix: string) {
    this.root = mkdtempSync(join(tmpdir(), prefix));
    for (const f of folders) cpSync(join(from, f), join(this.root, f), { recursive: true });
    this.pristine = readTree(this.root);
  }

  /** Puts the copy back to the state it was copied in; returns the paths it had to restore. */
  reset(): string[] {
    const restored: string[] = [];
    const now = readTree(this.root);
    let removed: string | undefined;
    for (const [p, content] of now) {
      if (removed !== undefined && p.startsWith(`${removed}/`)) continue; // gone with its folder
      const want = this.pristine.get(p);
      if (want === undefined || (want === null) !== (content === null)) {
        // Added by a test, or a file where a folder was (or the reverse): remove it.
        rmSync(join(this.root, p), { recursive: true, force: true });
        restored.push(p);
        removed = p;
      } else if (want !== null && content !== null && !want.equals(content)) {
        writeFileSync(join(this.root, p), want);
        restored.push(p);
      }
    }
    // Paths sort parents first, so folders exist before their files are written.
    for (const [p, want] of [...this.pristine].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const content = now.get(p);
      if (content !== undefined && (content === null) === (want === null)) continue;
      if (want === null) mkdirSync(join(this.root, p), { recursive: true });
      else writeFileSync(join(this.root, p), want);
      if (content === undefined) restored.push(p);
    }
    return restored;
  }

  /** True when the copy holds exactly the copied files, folders and bytes. */
  isPristine(): boolean {
    const now = readTree(this.root);
    if (now.size !== this.pristine.size) return false;
    for (const [p, want] of this.pristine) {
      const content = now.get(p);
      if (content === undefined || (content === null) !== (want === null)) return false;
      if (want !== null && content !== null && !want.equals(content)) return false;
    }
    return true;
  }

  remove(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
