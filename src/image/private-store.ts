// The image store is private to its owner: private images' layers and
// configs must not be readable by other local users. The root is 0710 as Docker's /var/lib/docker
// (owner all, group may only traverse, others nothing); every directory tsrun makes below it is
// 0700 and every file 0600. A store made by an older tsrun (0755 dirs, 0644 blobs and records) is
// tightened when it is opened: the directories at once (which already locks others out, since
// nothing below can be reached without search permission on the root), the blobs and records once.
//
// Unpacked layers (layers/<chainID>/diff) keep the modes the image gave them: overlayfs reads them
// with the mounter's credentials, and their modes are the image's content.
import fs from 'node:fs';
import path from 'node:path';
import { SyscallError } from '../errors.js';

export const ROOT_MODE = 0o710;
export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/** Directories of the store tsrun owns outright (beside `layers/` and `containers/`). */
const DIRS = ['blobs', 'blobs/sha256', 'blobs/sha512', 'images', 'leases', 'layers', 'containers'];
/** Directories whose plain files are store metadata or blobs (never image content). */
const FILE_DIRS = ['blobs/sha256', 'blobs/sha512', 'images', 'leases'];

const opened = new Set<string>();

function wrap(err: unknown, syscall: string, p: string): SyscallError {
  return SyscallError.fromErrnoException(err as NodeJS.ErrnoException, { syscall, path: p, context: 'make the image store private' });
}

/** Clears the group and other bits `keep` does not allow; returns whether it changed anything. */
function tighten(p: string, keep: number, dirOnly: boolean): boolean {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw wrap(err, 'lstat', p);
  }
  if (st.isSymbolicLink() || (dirOnly ? !st.isDirectory() : !st.isFile())) return false;
  const mode = st.mode & 0o7777;
  const want = mode & ~(0o077 & ~keep);
  if (want === mode) return false;
  try {
    fs.chmodSync(p, want);
  } catch (err) {
    throw wrap(err, 'chmod', p);
  }
  return true;
}

/**
 * Creates the store root (0710) if needed and tightens an existing store: its own directories to
 * 0700, and when the root was found open to others (a store from before this rule) every blob,
 * record and lease to 0600, the root itself last (so a migration cut short is redone next time).
 * After the first call in a process, one stat. Without `create`, a missing root is left missing.
 */
export function openPrivateStore(imageRoot: string, opts: { create?: boolean } = {}): void {
  const root = path.resolve(imageRoot);
  let st: fs.Stats;
  try {
    if (opts.create) fs.mkdirSync(root, { recursive: true, mode: ROOT_MODE });
    st = fs.statSync(root);
  } catch (err) {
    if (!opts.create && (err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw wrap(err, opts.create ? 'mkdir' : 'stat', root);
  }
  // Someone else's store (a user reading root's): not ours to change; the kernel decides access.
  if (typeof process.geteuid === 'function' && st.uid !== process.geteuid()) return;
  const open = (st.mode & 0o077 & ~ROOT_MODE) !== 0;
  if (!open && opened.has(root)) return;
  for (const d of DIRS) tighten(path.join(root, d), 0, true);
  if (open) {
    for (const d of FILE_DIRS) {
      const dir = path.join(root, d);
      let names: string[];
      try {
        names = fs.readdirSync(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw wrap(err, 'readdir', dir);
      }
      for (const n of names) tighten(path.join(dir, n), 0, false);
    }
    tighten(root, ROOT_MODE & 0o077, true);
  }
  opened.add(root);
}

/** mkdir -p for a directory inside the store (whose root exists): 0700 for every level it creates. */
export async function mkdirPrivate(imageRoot: string, dir: string): Promise<void> {
  openPrivateStore(imageRoot, { create: true });
  await fs.promises.mkdir(dir, { recursive: true, mode: DIR_MODE });
}
