// Node's on-disk code cache for the CLI's bundles (issue 15): on Node >= 22.1,
// module.enableCompileCache(dir) keeps V8's compiled code of every module loaded after it (the
// verb bundles, 60-200 KB each), so a verb is not parsed and compiled again on each call. Node 20
// has no such call: there the CLI's own .cjs bundles are compiled with V8's code cache
// (vm.Script cachedData), written at exit when there was none. Bun keeps its own cache (bin/tsrun
// places it).
//
// The cache holds code that will run, so where it lives matters when the CLI runs as root: root's
// cache is /var/cache/tsrun/node (beside Bun's /var/cache/tsrun/bun), another user's is under
// their XDG cache directory. Each level tsrun uses is checked to be a real directory (not a
// symlink), owned by the caller and writable by no one else; a directory tsrun makes is 0700.
// When a check fails, the cache is simply not used.
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
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
    // lstat first: once made, each call costs two lstat(2) and no exception.
    if (privateDir(d, euid)) continue;
    try {
      mkdirSync(d, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return false; // else made meanwhile: checked below
    }
    if (!privateDir(d, euid)) return false;
  }
  return true;
}

interface CjsLoader {
  _extensions: Record<string, (module: { exports: unknown }, filename: string) => void>;
  wrap(source: string): string;
  createRequire(filename: string): NodeJS.Require;
  enableCompileCache?: (dir: string) => unknown;
}

/** The CLI's own bundles: dist/verbs/<verb>.cjs and dist/dbus-next.cjs. */
const OWN_BUNDLE = /\/dist\/(verbs\/[\w-]+|dbus-next)\.cjs$/;

/** A cache file tsrun wrote: a regular file of the caller's, writable by no one else (no symlink followed). */
function readCache(file: string, euid: number): Buffer | undefined {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    return st.isFile() && st.uid === euid && (st.mode & 0o022) === 0 ? readFileSync(fd) : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** FNV-1a (32 bits) of a path, in hex: each install of tsrun keeps its own cache files. */
function pathTag(p: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < p.length; i++) h = Math.imul(h ^ p.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, '0');
}

/**
 * Written whole or not at all: a new 0600 file (O_EXCL), renamed into place. The same bundle's
 * older files (an earlier build of this install) go then.
 */
function writeCache(file: string, data: Buffer, prefix: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(tmp, data, { flag: 'wx', mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    try {
      unlinkSync(tmp);
    } catch {
      /* not made */
    }
    return;
  }
  const dir = path.dirname(file);
  try {
    for (const f of readdirSync(dir)) if (f.startsWith(prefix) && f.endsWith('.v8') && f !== path.basename(file)) unlinkSync(path.join(dir, f));
  } catch {
    /* another process pruned it */
  }
}

/**
 * Node 20: the CLI's own .cjs bundles are compiled through vm.Script with V8's cached data from
 * `dir` (named by the bundle, its path, size and mtime and the Node version; V8 also rejects data made
 * for another source length, V8 or flags). Where there was none, or V8 rejected it, it is made
 * at exit, when it holds the functions the verb compiled as it ran. Any other file loads as usual.
 */
export function cacheOwnBundles(loader: CjsLoader, dir: string, euid: number): { used: string[]; flush(): void } {
  // Node 20 has no '.cjs' entry: it loads a .cjs file with the '.js' one.
  const original = loader._extensions['.cjs'] ?? loader._extensions['.js'];
  const pending: { file: string; prefix: string; script: import('node:vm').Script }[] = [];
  const used: string[] = [];
  const flush = (): void => {
    for (const p of pending.splice(0)) writeCache(p.file, p.script.createCachedData(), p.prefix);
  };
  loader._extensions['.cjs'] = function (module, filename) {
    if (!OWN_BUNDLE.test(filename)) return original.call(this, module, filename);
    const st = statSync(filename, { bigint: true });
    const prefix = `${path.basename(filename, '.cjs')}-${pathTag(filename)}-`;
    const file = path.join(dir, `${prefix}${st.size}-${st.mtimeNs}-${process.version}.v8`);
    const cachedData = readCache(file, euid);
    const vm = process.getBuiltinModule('node:vm');
    const script = new vm.Script(loader.wrap(readFileSync(filename, 'utf8')), { filename, cachedData });
    if (cachedData && !script.cachedDataRejected) used.push(file);
    else {
      if (!pending.length) process.once('exit', flush);
      pending.push({ file, prefix, script });
    }
    const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: unknown, filename: string, dirname: string) => void;
    wrapper.call(module.exports, module.exports, loader.createRequire(filename), module, filename, path.dirname(filename));
  };
  return { used, flush };
}

/** Turns a compile cache on where a safe directory can be had: Node's own (>= 22.1), else V8's cached data. */
export function enableCompileCache(): void {
  if (process.versions.bun || process.env.NODE_DISABLE_COMPILE_CACHE) return;
  const mod = process.getBuiltinModule('node:module') as unknown as CjsLoader;
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
  if (!preparePrivateDir(dir, euid)) return;
  if (typeof mod.enableCompileCache === 'function') mod.enableCompileCache(dir);
  else if (mod._extensions?.['.js']) cacheOwnBundles(mod, dir, euid);
}
