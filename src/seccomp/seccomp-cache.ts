// A cache of compiled filters, as crun keeps one under .cache/seccomp: engines send the same
// profile (Docker's default) for every container, and compiling it costs ~40 ms to load koffi and
// libseccomp plus 15 ms (one arch) to 75 ms (x86_64 + x86 + x32) in libseccomp's BPF generator.
// A hit costs a hash and one read.
//
// The key covers everything the output depends on: the profile (minus the listener fields, which
// only the handshake uses), the CPU arch, the kernel release (flag support is probed from it) and
// the identity of the libseccomp.so.2 files on the usual library paths (a newer libseccomp knows
// more syscall names). Without a libseccomp found there is no key and no caching.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { LinuxSeccomp } from '../spec/types.js';

/** Bump when the generator's output changes for the same input. */
const FORMAT = 'tsrun-seccomp-1';
const MAGIC = Buffer.from('TSRUNSCF1\0');

export interface CachedFilter {
  bpf: Buffer;
  flags: number;
  notify: boolean;
}

const MULTIARCH: Partial<Record<string, string>> = {
  x64: 'x86_64-linux-gnu',
  arm64: 'aarch64-linux-gnu',
  riscv64: 'riscv64-linux-gnu',
  ppc64: 'powerpc64le-linux-gnu',
  s390x: 's390x-linux-gnu',
  loong64: 'loongarch64-linux-gnu',
};

let libIdentity: string | null | undefined;

function libseccompIdentity(): string | null {
  if (libIdentity !== undefined) return libIdentity;
  const triplet = MULTIARCH[process.arch];
  const dirs = ['/lib', '/usr/lib', '/lib64', '/usr/lib64', '/usr/local/lib', ...(triplet ? [`/lib/${triplet}`, `/usr/lib/${triplet}`] : [])];
  const seen: string[] = [];
  for (const d of dirs) {
    try {
      const real = fs.realpathSync(path.join(d, 'libseccomp.so.2'));
      const st = fs.statSync(real);
      seen.push(`${real}:${st.size}:${st.mtimeMs}:${st.ino}`);
    } catch {
      /* not there */
    }
  }
  libIdentity = seen.length ? [...new Set(seen)].sort().join('|') : null;
  return libIdentity;
}

/** The cache key of a profile, or undefined when this machine gives no stable key. */
export function cacheKey(s: LinuxSeccomp): string | undefined {
  const lib = libseccompIdentity();
  if (!lib) return undefined;
  const { defaultAction, defaultErrnoRet, architectures, flags, syscalls } = s;
  const input = JSON.stringify({ FORMAT, arch: process.arch, kernel: os.release(), lib, defaultAction, defaultErrnoRet, architectures, flags, syscalls });
  // node:crypto on first use (about 3 ms of CPU to load): create loads this module for every
  // container, most of which have no seccomp filter.
  return process.getBuiltinModule('node:crypto').createHash('sha256').update(input).digest('hex');
}

export function readCached(dir: string, key: string): CachedFilter | undefined {
  let buf: Buffer;
  try {
    const fd = fs.openSync(path.join(dir, key), fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      buf = fs.readFileSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const h = MAGIC.length;
  if (buf.length < h + 5 || !buf.subarray(0, h).equals(MAGIC) || (buf.length - h - 5) % 8 !== 0 || buf.length === h + 5) return undefined;
  return { flags: buf.readUInt32LE(h), notify: buf[h + 4] === 1, bpf: Buffer.from(buf.subarray(h + 5)) };
}

/** Atomic (write + rename), best effort: a cache that cannot be written is only slower. */
export function writeCached(dir: string, key: string, f: CachedFilter): boolean {
  const head = Buffer.alloc(5);
  head.writeUInt32LE(f.flags >>> 0, 0);
  head[4] = f.notify ? 1 : 0;
  const tmp = path.join(dir, `.${key}.${process.pid}.tmp`);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(tmp, Buffer.concat([MAGIC, head, f.bpf]), { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, path.join(dir, key));
    return true;
  } catch {
    fs.rmSync(tmp, { force: true });
    return false;
  }
}
