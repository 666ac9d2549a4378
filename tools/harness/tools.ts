/**
 * The harness's one tool locator: where the real programs built by tools/build.sh are, in its cache
 * (~/.cache/coderun-tools, or $CODERUN_TOOLS_CACHE). The first call for a module builds it (minutes,
 * once); later calls reuse the cache. With CODERUN_TOOLS_NO_BUILD=1, tools/build.sh refuses to
 * compile and a module not built yet is an error. A missing module, a failing build or a missing
 * program fails loudly: nothing that needs a program skips because it is absent.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The repository root, for code loaded from its source (the bundled `npm run twin` passes its own). */
export const ROOT = resolve(__dirname, '..', '..');
const built = new Map<string, string>();

/** The last line `bash <script> args` prints: a directory, which must exist. Throws with `what` otherwise. */
function printedDir(root: string, script: string, args: readonly string[], what: string): string {
  let out: string;
  try {
    out = execFileSync('bash', [join(root, 'tools', script), ...args], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 20,
    });
  } catch (e) {
    throw new Error(`tools/${script} ${args.join(' ')} failed; ${what} is required, not optional: ${String(e)}`);
  }
  const dir = out.trim().split('\n').pop() ?? '';
  if (!existsSync(dir)) throw new Error(`tools/${script} ${args.join(' ')} printed '${dir}', which does not exist`);
  return dir;
}

/** The bin dir of Go module tools/go/<module>, building it if needed. */
export function toolDir(module: string, root = ROOT): string {
  const key = `${root}\0${module}`;
  const cached = built.get(key);
  if (cached) return cached;
  if (!existsSync(join(root, 'tools', 'go', module, 'go.mod'))) {
    throw new Error(`tools/go/${module} does not exist: add a Go module for it (see tools/build.sh)`);
  }
  const dir = printedDir(root, 'build.sh', [module], 'the real program');
  built.set(key, dir);
  return dir;
}

/** Path of program `name` built from tools/go/<module>; throws if the module does not provide it. */
export function tool(module: string, name: string, root = ROOT): string {
  const path = join(toolDir(module, root), name);
  if (!existsSync(path)) throw new Error(`tools/go/${module} did not build '${name}' (looked for ${path})`);
  return path;
}

/**
 * A file of Go module `modulePath` at the version tools/go/<toolModule> pins, from the Go module cache
 * (the module zip holds every file of the upstream repository at that version, not only Go code): the
 * add-ons' CRDs come from there rather than from copies in git. Downloads the module if the cache
 * lacks it; throws if the file is not in it.
 */
export function moduleFile(toolModule: string, modulePath: string, relPath: string, root = ROOT): string {
  const key = `${root}\0${toolModule}\0${modulePath}`;
  let dir = built.get(key);
  if (!dir) {
    const moduleDir = join(root, 'tools', 'go', toolModule);
    // The toolchain that module's build.env pins (tools/build.sh reads the same line), if any.
    const buildEnv = join(moduleDir, 'build.env');
    const toolchain = existsSync(buildEnv)
      ? /^GOTOOLCHAIN=(go[0-9.]+)$/m.exec(readFileSync(buildEnv, 'utf8'))?.[1]
      : undefined;
    const out = execFileSync('go', ['mod', 'download', '-json', modulePath], {
      cwd: moduleDir,
      encoding: 'utf8',
      env: toolchain ? { ...process.env, GOTOOLCHAIN: toolchain } : process.env,
    });
    dir = (JSON.parse(out) as { Dir?: string }).Dir ?? '';
    if (!dir) throw new Error(`go mod download ${modulePath} (tools/go/${toolModule}) printed no Dir: ${out}`);
    built.set(key, dir);
  }
  const file = join(dir, relPath);
  if (!existsSync(file)) throw new Error(`${modulePath} (tools/go/${toolModule}) has no ${relPath}`);
  return file;
}

/** The bin dir of the checkov venv of tools/install-checkov.sh, installing it (once, about a minute) if needed. */
export function checkovDir(): string {
  const cached = built.get('python:checkov');
  if (cached) return cached;
  const dir = printedDir(ROOT, 'install-checkov.sh', [], 'checkov');
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
