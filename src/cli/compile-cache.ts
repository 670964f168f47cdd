// Node's on-disk code cache for the CLI's bundles (issue 15): on Node >= 22.1,
// module.enableCompileCache(dir) keeps V8's compiled code of every module loaded after it (the
// verb bundles, 60-200 KB each), so a verb is not parsed and compiled again on each call. Node 20
// has no such call and gets nothing; Bun keeps its own cache (bin/tsrun places it).
//
// The cache holds code that will run, so where it lives matters when the CLI runs as root: root's
// cache is /var/cache/tsrun/node (beside Bun's /var/cache/tsrun/bun), another user's is under
// their XDG cache directory. Each level tsrun uses is checked to be a real directory (not a
// symlink), owned by the caller and writable by no one else; a directory tsrun makes is 0700.
// When a check fails, the cache is simply not used.
import { lstatSync, mkdirSync } from 'node:fs';
import path from 'node:path';

/** The cache directory for a caller with this effective uid and environment, or undefined. */
export function compileCacheDir(euid: number, env: NodeJS.ProcessEnv): string | undefined {
  if (euid === 0) return '/var/cache/tsrun/node';
  const xdg = env.XDG_CACHE_HOME;
  // XDG Base Directory: a relative XDG_CACHE_HOME is invalid and ignored.
  const base = xdg && path.isAbsolute(xdg) ? xdg : env.HOME && path.isAbsolute(env.HOME) ? path.join(env.HOME, '.cache') : undefined;
  return base && path.join(base, 'tsrun', 'node');
}

/** A real directory (lstat: a symlink is not one), owned by euid, not writable by group or others. */
function privateDir(dir: string, euid: number): boolean {
  const st = lstatSync(dir, { throwIfNoEntry: false });
  return !!st && st.isDirectory() && st.uid === euid && (st.mode & 0o022) === 0;
}

/**
 * Makes `dir` and its parent (mode 0700) below an existing grandparent, checking both levels
 * (privateDir). True when the cache may be used there.
 */
export function preparePrivateDir(dir: string, euid: number): boolean {
  for (const d of [path.dirname(dir), dir]) {
    try {
      mkdirSync(d, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false;
    }
    if (!privateDir(d, euid)) return false;
  }
  return true;
}

/** Turns Node's compile cache on where the engine has it and a safe directory can be had. */
export function enableCompileCache(): void {
  if (process.versions.bun) return;
  const mod = process.getBuiltinModule('node:module') as { enableCompileCache?: (dir: string) => unknown };
  if (typeof mod.enableCompileCache !== 'function' || process.env.NODE_DISABLE_COMPILE_CACHE) return;
  const euid = process.geteuid?.() ?? -1;
  const dir = compileCacheDir(euid, process.env);
  if (!dir) return;
  // A user's ~/.cache may not exist yet; root's /var/cache always does.
  if (euid !== 0) {
    try {
      mkdirSync(path.dirname(path.dirname(dir)), { recursive: true, mode: 0o700 });
    } catch {
      return;
    }
  }
  if (preparePrivateDir(dir, euid)) mod.enableCompileCache(dir);
}
