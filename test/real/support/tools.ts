/**
 * Finds the real programs built by tools/build.sh. The first call for a module builds it (minutes,
 * once); later calls reuse the cache. A missing or failing build fails the test loudly: the suites
 * never skip because a program is absent.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '..', '..', '..');
const built = new Map<string, string>();

/** The bin dir of Go module tools/go/<module>, building it if needed. */
export function toolDir(module: string): string {
  const cached = built.get(module);
  if (cached) return cached;
  let out: string;
  try {
    out = execFileSync('bash', [join(ROOT, 'tools', 'build.sh'), module], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 20,
    });
  } catch (e) {
    throw new Error(`tools/build.sh ${module} failed; the real program is required, not optional: ${String(e)}`);
  }
  const dir = out.trim().split('\n').pop() ?? '';
  if (!existsSync(dir)) throw new Error(`tools/build.sh ${module} printed '${dir}', which does not exist`);
  built.set(module, dir);
  return dir;
}

/** Path of program `name` built from tools/go/<module>; throws if the module does not provide it. */
export function tool(module: string, name: string): string {
  const path = join(toolDir(module), name);
  if (!existsSync(path)) throw new Error(`tools/go/${module} did not build '${name}' (looked for ${path})`);
  return path;
}

/** The bin dir of the checkov venv of tools/install-checkov.sh, installing it (once, about a minute) if needed. */
export function checkovDir(): string {
  const cached = built.get('python:checkov');
  if (cached) return cached;
  let out: string;
  try {
    out = execFileSync('bash', [join(ROOT, 'tools', 'install-checkov.sh')], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 20,
    });
  } catch (e) {
    throw new Error(`tools/install-checkov.sh failed; checkov is required, not optional: ${String(e)}`);
  }
  const dir = out.trim().split('\n').pop() ?? '';
  if (!existsSync(join(dir, 'checkov')))
    throw new Error(`tools/install-checkov.sh printed '${dir}', which has no checkov`);
  built.set('python:checkov', dir);
  return dir;
}

/** What `program args...` prints (stdout and stderr together), for version checks. */
export function output(program: string, args: readonly string[]): string {
  try {
    return execFileSync(program, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string };
    return `${err.stdout ?? ''}${err.stderr ?? ''}`;
  }
}
