// File copy into and out of a running container, with `docker cp`'s semantics for a file and a
// directory (docs.docker.com/reference/cli/docker/container/cp/):
//   - a file to a path that does not exist: saved under that name (its parent must exist; a path
//     ending in "/" must be an existing directory); to a directory: saved in it under its own
//     name; to a file: overwrites it;
//   - a directory to a path that does not exist: made, and the source's content copied into it;
//     to a directory: copied into it as <dest>/<name>, or only its content when the source ends
//     in "/."; to a file: refused.
// The container's side is reached from its init's root (/proc/<pid>/root, so its volumes and
// other mounts are seen as the container sees them); a container that is not running is reached
// through its rootfs and the sources of its bind mounts (volumes), each path by the longest mount
// destination that holds it (a symlink is then resolved in that one mount's tree: still never
// outside it, though a link from the rootfs into a volume is not followed into the volume). Every
// path below a root is resolved with
// openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): an absolute or "../" symlink in the image is
// resolved as the container would resolve it, never to the host's files. A directory travels as a
// tar stream (tar -c on the source side) unpacked by image/apply.ts, the layer unpacker that
// confines every entry to the destination directory and never follows a symlink it did not
// resolve in that root. Host files are written to a fresh O_EXCL|O_NOFOLLOW file and renamed
// into place. A symlink given as the container-side source is followed inside the container's
// root (`docker cp -L`); names starting ".wh." inside a copied directory are read as layer
// whiteouts (they remove the entry they name), as the unpacker reads them.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, NotFoundError, TsrunError } from '../errors.js';
import { applyLayer } from '../image/apply.js';
import * as x from '../image/fsx.js';

const IN_ROOT = x.RESOLVE_IN_ROOT | x.RESOLVE_NO_MAGICLINKS;
const CHUNK = 1 << 20;

/** What a copy did: the final path on the destination side and what was copied there. */
export interface CopyResult {
  /** The path written (inside the container for copyIn, on the host for copyOut). */
  path: string;
  kind: 'file' | 'directory';
}

/** Where a container's paths are resolved: one root, or a rootfs with mounts on it. */
export class ContainerRoot {
  readonly #fds: { destination: string; fd: number }[];

  private constructor(fds: { destination: string; fd: number }[]) {
    // Longest destination first: a path is resolved in the innermost mount holding it.
    this.#fds = fds.sort((a, b) => b.destination.length - a.destination.length);
  }

  /** A running (or created) container: its init's root, with every mount as the container sees it. */
  static ofProcess(pid: number): ContainerRoot {
    try {
      return new ContainerRoot([{ destination: '/', fd: x.openat2(x.AT_FDCWD, `/proc/${pid}/root`, x.O_PATH | x.O_DIRECTORY | x.O_CLOEXEC, 0, 0) }]);
    } catch (cause) {
      throw new TsrunError('TSRUN_SYSTEM', `copy: open the root of container process ${pid}`, { cause });
    }
  }

  /** A container that is not running: its rootfs, and the directories bind-mounted on it (its volumes). */
  static ofRootfs(rootfs: string, mounts: readonly { destination: string; source?: string; type?: string; options?: string[] }[]): ContainerRoot {
    const fds: { destination: string; fd: number }[] = [];
    try {
      fds.push({ destination: '/', fd: x.openat2(x.AT_FDCWD, rootfs, x.O_PATH | x.O_DIRECTORY | x.O_CLOEXEC, 0, 0) });
      for (const m of mounts) {
        const bind = m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind');
        if (!bind || !m.source?.startsWith('/') || !fs.statSync(m.source, { throwIfNoEntry: false })?.isDirectory()) continue;
        fds.push({ destination: path.posix.normalize(m.destination), fd: x.openat2(x.AT_FDCWD, m.source, x.O_PATH | x.O_DIRECTORY | x.O_CLOEXEC, 0, 0) });
      }
    } catch (cause) {
      for (const f of fds) x.close(f.fd);
      throw new TsrunError('TSRUN_SYSTEM', `copy: open the rootfs ${rootfs} and its mounts`, { cause });
    }
    return new ContainerRoot(fds);
  }

  /** openat2 of a container path in the root that holds it (RESOLVE_IN_ROOT: confined to that root). */
  open(p: string, flags: number, mode = 0): number {
    const norm = path.posix.normalize(`/${p}`);
    const m = this.#fds.find((f) => f.destination === '/' || norm === f.destination || norm.startsWith(`${f.destination}/`))!;
    const rest = m.destination === '/' ? norm : norm.slice(m.destination.length) || '/';
    // A trailing "/" or "/." of the caller's path is kept: it asks for a directory.
    const tail = /\/\.?$/.test(p) && rest !== '/' ? '/' : '';
    return x.openat2(m.fd, `${rest}${tail}`, flags | x.O_CLOEXEC, mode, IN_ROOT);
  }

  close(): void {
    for (const f of this.#fds) x.close(f.fd);
  }
}

/** The fd of a container path resolved in its root, or undefined when nothing is there. */
function tryResolve(root: ContainerRoot, p: string, flags = x.O_PATH): number | undefined {
  try {
    return root.open(p, flags);
  } catch (err) {
    if (x.codeOf(err) === 'ENOENT') return undefined;
    throw err;
  }
}

function isDirFd(fd: number): boolean {
  return fs.fstatSync(fd).isDirectory();
}

function withFd<T>(fd: number, fn: (fd: number) => T): T {
  try {
    return fn(fd);
  } finally {
    x.close(fd);
  }
}

async function withFdAsync<T>(fd: number, fn: (fd: number) => Promise<T>): Promise<T> {
  try {
    return await fn(fd);
  } finally {
    x.close(fd);
  }
}

function copyBytes(from: number, to: number): void {
  const buf = Buffer.allocUnsafe(CHUNK);
  for (;;) {
    const n = fs.readSync(from, buf, 0, CHUNK, null);
    if (n === 0) return;
    let off = 0;
    while (off < n) off += fs.writeSync(to, buf, off, n - off);
  }
}

/** Runs tar -c in `dir` (a path the caller keeps valid) into applyLayer at `dest`. */
async function tarInto(dir: string, dest: string, o: { rootOwner: boolean }): Promise<void> {
  const args = ['-C', dir, '--numeric-owner', ...(o.rootOwner ? ['--owner=0', '--group=0'] : []), '-cf', '-', '.'];
  const tar = spawn('tar', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  tar.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((resolve, reject) => {
    tar.once('error', reject);
    tar.once('close', (code) => resolve(code));
  });
  try {
    await applyLayer(tar.stdout, dest, { mode: 'flatten' });
  } catch (err) {
    tar.kill('SIGKILL');
    await exited.catch(() => {});
    throw err;
  }
  const code = await exited;
  if (code !== 0) throw new TsrunError('TSRUN_SYSTEM', `copy: tar -c of ${dir} failed (exit ${code}): ${stderr.trim()}`);
}

/** Docker's rule for the name a copy lands under: `dest` itself, or `dest/<name of src>` when dest is a directory. */
function splitDest(dest: string): { parent: string; base: string } {
  const trimmed = dest.replace(/\/+$/, '') || '/';
  return { parent: path.posix.dirname(trimmed), base: path.posix.basename(trimmed) };
}

/**
 * Copies the host path `src` into the container whose init is `pid`, at `dest` (a container path).
 * `who` names the container in errors.
 */
export async function copyIn(root: ContainerRoot, src: string, dest: string, who: string): Promise<CopyResult> {
  if (!dest.startsWith('/')) throw new InvalidArgumentError(`copy to ${who}: the container path must be absolute: "${dest}"`);
  let st: fs.Stats;
  try {
    st = fs.statSync(src);
  } catch {
    throw new InvalidArgumentError(`copy to ${who}: no such file or directory on the host: ${src}`);
  }
  if (!st.isFile() && !st.isDirectory()) throw new InvalidArgumentError(`copy to ${who}: ${src} is neither a file nor a directory`);
  const contentsOnly = /(^|\/)\.$/.test(src);
  const srcName = path.basename(path.resolve(src));
  const destFd = tryResolve(root, dest);
  const destIsDir = destFd !== undefined && withFd(destFd, isDirFd);
  if (destFd === undefined && dest.endsWith('/')) throw new NotFoundError(`copy to ${who}: destination directory ${dest} does not exist`);
  if (st.isFile()) {
    const target = destIsDir ? path.posix.join(dest, srcName) : dest;
    writeContainerFile(root, target, src, st.mode & 0o7777, who);
    return { path: target, kind: 'file' as const };
  }
  if (destFd !== undefined && !destIsDir) throw new InvalidArgumentError(`copy to ${who}: cannot copy a directory to the file ${dest}`);
  let target = dest;
  if (destFd === undefined) makeContainerDir(root, dest, st.mode & 0o7777, who);
  else if (!contentsOnly) {
    target = path.posix.join(dest, srcName);
    makeContainerDir(root, target, st.mode & 0o7777, who, true);
  }
  const tfd = root.open(target, x.O_PATH | x.O_DIRECTORY);
  await withFdAsync(tfd, (fd) => tarInto(src, `/proc/self/fd/${fd}`, { rootOwner: true }));
  return { path: target, kind: 'directory' as const };
}

function makeContainerDir(root: ContainerRoot, p: string, mode: number, who: string, existingOk = false): void {
  const { parent, base } = splitDest(p);
  const pfd = tryResolve(root, parent, x.O_PATH | x.O_DIRECTORY);
  if (pfd === undefined) throw new NotFoundError(`copy to ${who}: the parent directory ${parent} does not exist`);
  withFd(pfd, (fd) => {
    try {
      x.mkdirat(fd, base, mode || 0o755);
    } catch (err) {
      if (!(existingOk && x.codeOf(err) === 'EEXIST')) throw err;
    }
  });
}

function writeContainerFile(root: ContainerRoot, target: string, src: string, mode: number, who: string): void {
  const { parent } = splitDest(target);
  const pfd = tryResolve(root, parent, x.O_PATH | x.O_DIRECTORY);
  if (pfd === undefined) throw new NotFoundError(`copy to ${who}: the parent directory ${parent} does not exist`);
  x.close(pfd);
  // Resolved from the container's root again: a symlink at the target is followed as the
  // container would follow it, and stays in its root.
  const out = root.open(target, x.O_WRONLY | x.O_CREAT | x.O_TRUNC, mode);
  try {
    if (!fs.fstatSync(out).isFile()) throw new InvalidArgumentError(`copy to ${who}: ${target} is not a regular file`);
    const input = fs.openSync(src, 'r');
    try {
      copyBytes(input, out);
    } finally {
      fs.closeSync(input);
    }
    x.fchmod(out, mode);
  } finally {
    x.close(out);
  }
}

/** Copies the container path `src` (of the container whose init is `pid`) to the host path `dest`. */
export async function copyOut(root: ContainerRoot, src: string, dest: string, who: string): Promise<CopyResult> {
  if (!src.startsWith('/')) throw new InvalidArgumentError(`copy from ${who}: the container path must be absolute: "${src}"`);
  const contentsOnly = /(^|\/)\.$/.test(src);
  const sfd = tryResolve(root, src);
  if (sfd === undefined) throw new NotFoundError(`copy from ${who}: no such file or directory in the container: ${src}`);
  return withFdAsync(sfd, async (fd) => {
    const st = fs.fstatSync(fd);
    let dst: fs.Stats | undefined;
    try {
      dst = fs.statSync(dest);
    } catch {
      dst = undefined;
    }
    if (!dst && dest.endsWith('/')) throw new NotFoundError(`copy from ${who}: destination directory ${dest} does not exist`);
    const srcName = path.posix.basename(src.replace(/\/+\.?$/, '')) || 'root';
    if (st.isFile()) {
      const target = dst?.isDirectory() ? path.join(dest, srcName) : dest;
      writeHostFile(root, src, target, st.mode & 0o7777);
      return { path: target, kind: 'file' as const };
    }
    if (!st.isDirectory()) throw new InvalidArgumentError(`copy from ${who}: ${src} is neither a file nor a directory`);
    if (dst && !dst.isDirectory()) throw new InvalidArgumentError(`copy from ${who}: cannot copy a directory to the file ${dest}`);
    let target = dest;
    if (!dst) fs.mkdirSync(dest, { mode: st.mode & 0o7777 });
    else if (!contentsOnly) {
      target = path.join(dest, srcName);
      try {
        fs.mkdirSync(target, { mode: st.mode & 0o7777 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !fs.lstatSync(target).isDirectory()) throw err;
      }
    }
    // tar runs in this process's view of the directory fd: it never leaves the directory the
    // resolver returned (tar archives symlinks as links and follows none).
    await tarInto(`/proc/${process.pid}/fd/${fd}`, target, { rootOwner: false });
    return { path: target, kind: 'directory' as const };
  });
}

function writeHostFile(root: ContainerRoot, src: string, target: string, mode: number): void {
  const input = root.open(src, x.O_RDONLY);
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.tsrun-cp-${randomBytes(4).toString('hex')}`);
  try {
    const out = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    try {
      copyBytes(input, out);
      fs.fchmodSync(out, mode);
    } finally {
      fs.closeSync(out);
    }
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  } finally {
    x.close(input);
  }
}
