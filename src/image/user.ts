// `-u USER[:GROUP]` and the image's `User`, resolved against the image's /etc/passwd and
// /etc/group as Docker does (moby/sys/user GetExecUser): names or numbers; a numeric user not in
// passwd is still valid (gid 0); supplementary groups come from /etc/group membership unless a
// group was given. The files are read from the rootfs through openat2(RESOLVE_IN_ROOT): the image
// is hostile input, and a symlink /etc/passwd -> /../../etc/shadow must resolve inside it.
import { closeSync, fstatSync, openSync, readSync, constants, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { ImageError } from '../errors.js';
import * as x from './fsx.js';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export interface ExecUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home?: string;
}

const ID = /^\d+$/;
const MAX_ID = 2 ** 32 - 2;

function num(s: string): number | undefined {
  if (!ID.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
}

/** passwd(5) lines `name:pw:uid:gid:gecos:home:shell`; malformed lines are skipped, as libc does. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || line.startsWith('#')) continue;
    const uid = num(f[2]);
    const gid = num(f[3]);
    if (uid === undefined || gid === undefined || f[0] === '') continue;
    out.push({ name: f[0], uid, gid, home: f[5] ?? '', shell: f[6] ?? '' });
  }
  return out;
}

/** group(5) lines `name:pw:gid:member,member`. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < 3 || line.startsWith('#')) continue;
    const gid = num(f[2]);
    if (gid === undefined || f[0] === '') continue;
    out.push({
      name: f[0],
      gid,
      members: (f[3] ?? '')
        .split(',')
        .map((m) => m.trim())
        .filter(Boolean),
    });
  }
  return out;
}

/**
 * Resolve `user[:group]` (empty = root). Unknown names are errors naming the file; numbers always
 * resolve. `passwd`/`group` undefined means the image has no such file.
 */
export function resolveUser(spec: string, passwd: PasswdEntry[] | undefined, group: GroupEntry[] | undefined): ExecUser {
  const [userPart, groupPart, extra] = spec.split(':');
  if (extra !== undefined) throw new ImageError('TSRUN_IMAGE', `user "${spec}": want USER[:GROUP]`);
  const u = userPart === '' ? '0' : userPart;
  const uidNum = num(u);
  const entry = uidNum !== undefined ? passwd?.find((p) => p.uid === uidNum) : passwd?.find((p) => p.name === u);
  if (!entry && uidNum === undefined) {
    throw new ImageError(
      'TSRUN_IMAGE',
      `unable to find user ${u}: no matching entries in ${passwd ? "the image's /etc/passwd" : 'passwd (the image has no /etc/passwd)'}`,
    );
  }
  const uid = uidNum ?? entry!.uid;
  let gid = entry?.gid ?? 0;
  let additionalGids: number[] = [];
  if (groupPart !== undefined && groupPart !== '') {
    const g = num(groupPart);
    if (g !== undefined) gid = g;
    else {
      const ge = group?.find((x) => x.name === groupPart);
      if (!ge)
        throw new ImageError(
          'TSRUN_IMAGE',
          `unable to find group ${groupPart}: no matching entries in ${group ? "the image's /etc/group" : 'group (the image has no /etc/group)'}`,
        );
      gid = ge.gid;
    }
  } else if (entry && group) {
    additionalGids = [...new Set(group.filter((g) => g.members.includes(entry.name) && g.gid !== gid).map((g) => g.gid))];
  }
  return { uid, gid, additionalGids, ...(entry?.home ? { home: entry.home } : {}) };
}

function openRoot(root: string): number {
  return openSync(root, constants.O_RDONLY | constants.O_DIRECTORY);
}

function kindOf(st: Stats): string {
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symlink';
  return 'not a regular file';
}

/**
 * A regular file inside `root`, every symlink resolved as if root were `/`; undefined when it
 * does not exist. The file is first opened with O_PATH, which runs no device or FIFO open, and its
 * type checked with fstat; only a regular file is then reopened for reading (through
 * /proc/self/fd, so it is the very inode checked, with O_NONBLOCK|O_NOCTTY all the same). The size
 * is capped: a 1 GiB /etc/passwd is an attack, not a user list.
 */
export function readFileInRoot(root: string, file: string, limit = 4 << 20): Buffer | undefined {
  const rootFd = openRoot(root);
  let pathFd: number;
  try {
    pathFd = x.openat2(rootFd, file, x.O_PATH | x.O_CLOEXEC, 0, x.RESOLVE_IN_ROOT | x.RESOLVE_NO_MAGICLINKS);
  } catch (err) {
    if (x.codeOf(err) === 'ENOENT' || x.codeOf(err) === 'ENOTDIR') return undefined;
    throw new ImageError('TSRUN_IMAGE', `open ${file} in the image: ${(err as Error).message}`, { cause: err });
  } finally {
    closeSync(rootFd);
  }
  let fd: number;
  try {
    const st = fstatSync(pathFd);
    if (!st.isFile()) throw new ImageError('TSRUN_IMAGE', `${file} in the image is ${kindOf(st)}, not a regular file`);
    if (st.size > limit) throw new ImageError('TSRUN_IMAGE', `${file} in the image is ${st.size} bytes (limit ${limit})`);
    fd = openSync(`/proc/self/fd/${pathFd}`, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | x.O_CLOEXEC);
  } finally {
    closeSync(pathFd);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ImageError('TSRUN_IMAGE', `${file} in the image is ${kindOf(st)}, not a regular file`);
    if (st.size > limit) throw new ImageError('TSRUN_IMAGE', `${file} in the image is ${st.size} bytes (limit ${limit})`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n <= 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

/** mkdir -p of an absolute container path inside root, each step resolved in root. */
export function mkdirInRoot(root: string, dir: string, mode = 0o755): void {
  const clean = posix.normalize(`/${dir}`);
  const parts = clean.split('/').filter(Boolean);
  const rootFd = openRoot(root);
  try {
    let prefix = '';
    for (const part of parts) {
      const parent = prefix || '/';
      prefix = `${prefix}/${part}`;
      const resolve = x.RESOLVE_IN_ROOT | x.RESOLVE_NO_MAGICLINKS;
      try {
        closeSync(x.openat2(rootFd, prefix, x.O_PATH | x.O_DIRECTORY | x.O_CLOEXEC, 0, resolve));
        continue;
      } catch (err) {
        if (x.codeOf(err) !== 'ENOENT') throw new ImageError('TSRUN_IMAGE', `working directory ${clean}: ${prefix}: ${(err as Error).message}`, { cause: err });
      }
      const pfd = x.openat2(rootFd, parent, x.O_PATH | x.O_DIRECTORY | x.O_CLOEXEC, 0, resolve);
      try {
        x.mkdirat(pfd, part, mode);
      } catch (err) {
        if (x.codeOf(err) !== 'EEXIST') throw err;
      } finally {
        closeSync(pfd);
      }
    }
  } finally {
    closeSync(rootFd);
  }
}

/** Users and groups of the image at `root` (undefined for a missing file). */
export function readAccounts(root: string): { passwd?: PasswdEntry[]; group?: GroupEntry[] } {
  const p = readFileInRoot(root, '/etc/passwd');
  const g = readFileInRoot(root, '/etc/group');
  return { ...(p ? { passwd: parsePasswd(p.toString('utf8')) } : {}), ...(g ? { group: parseGroup(g.toString('utf8')) } : {}) };
}
