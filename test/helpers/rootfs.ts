// The shared test rootfs: Debian's static busybox with every applet linked in /bin, our static
// probe (test/probe) at /probe and /bin/probe, and a minimal /etc. Built once per content hash
// into <repo>/.cache/test-rootfs-<hash>, atomically (temp dir + rename), so parallel ava workers
// may race to build it and all end up with the same complete directory.
//
// The cached directory is shared: treat it as read-only (root.readonly in the spec, or an overlay
// lower dir). A test that needs to write into its rootfs takes a copy with copyTestRootfs().

import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

const HELPER_FILE = fileURLToPath(import.meta.url);
export const REPO_ROOT = path.resolve(path.dirname(HELPER_FILE), '../..');
export const PROBE_SOURCE_DIR = path.join(REPO_ROOT, 'test/probe');
/** Debian's busybox-static installs a statically linked busybox here. */
export const BUSYBOX_PATH = '/bin/busybox';
export const PROBE_PATH_IN_ROOTFS = '/probe';
export const TESTER_UID = 1000;
export const TESTER_GID = 1000;
export const EXTRA_GID = 2000;

const PASSWD = `root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
tester:x:${TESTER_UID}:${TESTER_GID}:tester:/home/tester:/bin/sh
`;
const GROUP = `root:x:0:
nogroup:x:65534:
tester:x:${TESTER_GID}:
extra:x:${EXTRA_GID}:tester
`;
const OS_RELEASE = `NAME="tsrun test rootfs"
ID=tsrun-test
PRETTY_NAME="tsrun test rootfs (busybox + probe)"
`;

let pending: Promise<string> | undefined;

/** Path of the cached, complete test rootfs; builds it on first use. Never modify it. */
export function ensureTestRootfs(): Promise<string> {
  pending ??= buildCached().catch((err: unknown) => {
    pending = undefined;
    throw err;
  });
  return pending;
}

/** Builds the probe alone into outDir (test/probe/build.sh); returns the binary's path. */
export async function buildProbe(outDir: string): Promise<string> {
  try {
    await run('sh', [path.join(PROBE_SOURCE_DIR, 'build.sh'), outDir]);
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`building the probe from ${PROBE_SOURCE_DIR} failed (needs gcc and libc6-dev): ${stderr || String(err)}`, { cause: err });
  }
  return path.join(outDir, 'probe');
}

/** A private, writable copy of the test rootfs (cp -a keeps owners, modes and symlinks). */
export async function copyTestRootfs(parentDir = os.tmpdir()): Promise<{ path: string; cleanup(): Promise<void> }> {
  const source = await ensureTestRootfs();
  const dir = await fs.mkdtemp(path.join(parentDir, 'tsrun-rootfs-'));
  const dest = path.join(dir, 'rootfs');
  const cleanup = () => fs.rm(dir, { recursive: true, force: true });
  try {
    await run('cp', ['-a', source, dest]);
  } catch (err) {
    await cleanup();
    throw err;
  }
  return { path: dest, cleanup };
}

/** <repo>/.cache, or $TSRUN_TEST_CACHE_DIR (used by the test that races fresh builds). */
export function testCacheDir(): string {
  return process.env.TSRUN_TEST_CACHE_DIR || path.join(REPO_ROOT, '.cache');
}

async function buildCached(): Promise<string> {
  const busybox = await readStaticBusybox();
  const key = await cacheKey(busybox);
  const cacheDir = testCacheDir();
  const final = path.join(cacheDir, `test-rootfs-${key}`);
  if (await exists(final)) return final;

  await fs.mkdir(cacheDir, { recursive: true });
  await removeAbandonedBuilds(cacheDir);
  const tmp = path.join(cacheDir, `.tmp-rootfs-${key}-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await populate(tmp, busybox);
    try {
      await fs.rename(tmp, final);
    } catch (err) {
      // Another worker renamed its copy first; theirs is complete and identical.
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !(await exists(final))) throw err;
    }
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
  return final;
}

/** Temp dirs of builders that died mid-build (their pid is gone) would stay forever. */
async function removeAbandonedBuilds(cacheDir: string): Promise<void> {
  for (const name of await fs.readdir(cacheDir)) {
    const pid = Number(/^\.tmp-rootfs-[0-9a-f]+-(\d+)-[0-9a-f]+$/.exec(name)?.[1]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
    await fs.rm(path.join(cacheDir, name), { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Keyed by everything that shapes the result: probe sources, busybox, this file, and
 * whether ownership could be set (only root can chown home/tester). */
async function cacheKey(busybox: Buffer): Promise<string> {
  const hash = createHash('sha256');
  const names = (await fs.readdir(PROBE_SOURCE_DIR)).filter((n) => /\.(c|h|sh)$/.test(n)).sort();
  for (const name of names) {
    hash.update(`${name}\0`);
    hash.update(await fs.readFile(path.join(PROBE_SOURCE_DIR, name)));
  }
  hash.update(busybox);
  hash.update(await fs.readFile(HELPER_FILE));
  hash.update(process.getuid?.() === 0 ? 'root' : 'user');
  return hash.digest('hex').slice(0, 16);
}

async function populate(root: string, busybox: Buffer): Promise<void> {
  for (const dir of ['bin', 'proc', 'sys', 'dev', 'tmp', 'etc', 'root', 'home/tester', 'run', 'mnt']) {
    await fs.mkdir(path.join(root, dir), { recursive: true, mode: 0o755 });
  }
  await fs.chmod(path.join(root, 'tmp'), 0o1777);
  await fs.chmod(path.join(root, 'root'), 0o700);
  if (process.getuid?.() === 0) await fs.chown(path.join(root, 'home/tester'), TESTER_UID, TESTER_GID);

  const bin = path.join(root, 'bin');
  await fs.writeFile(path.join(bin, 'busybox'), busybox, { mode: 0o755 });
  for (const applet of await busyboxApplets()) {
    if (applet !== 'busybox') await fs.symlink('busybox', path.join(bin, applet));
  }

  const probe = await buildProbe(root);
  if (path.join(root, PROBE_PATH_IN_ROOTFS) !== probe) throw new Error(`probe built at ${probe}, expected ${PROBE_PATH_IN_ROOTFS}`);
  await fs.chmod(probe, 0o755);
  await fs.link(probe, path.join(bin, 'probe'));

  const etc = path.join(root, 'etc');
  await fs.writeFile(path.join(etc, 'passwd'), PASSWD, { mode: 0o644 });
  await fs.writeFile(path.join(etc, 'group'), GROUP, { mode: 0o644 });
  await fs.writeFile(path.join(etc, 'os-release'), OS_RELEASE, { mode: 0o644 });
  // Engines bind-mount over these; a destination that exists keeps the runtime from creating it.
  for (const name of ['hosts', 'resolv.conf', 'hostname']) {
    await fs.writeFile(path.join(etc, name), '', { mode: 0o644 });
  }
}

async function busyboxApplets(): Promise<string[]> {
  const { stdout } = await run(BUSYBOX_PATH, ['--list']);
  const applets = stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = applets.find((a) => a.includes('/') || a.startsWith('.'));
  if (bad !== undefined || applets.length === 0) throw new Error(`${BUSYBOX_PATH} --list gave an unusable applet list`);
  return applets;
}

/** Reads busybox and refuses a dynamically linked one (it could not run in the rootfs). */
async function readStaticBusybox(): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await fs.readFile(BUSYBOX_PATH);
  } catch (err) {
    throw new Error(`${BUSYBOX_PATH} is missing: install the Debian package busybox-static (${(err as Error).message})`, { cause: err });
  }
  if (hasElfInterpreter(data)) {
    throw new Error(`${BUSYBOX_PATH} is dynamically linked: install busybox-static instead of busybox`);
  }
  return data;
}

/** True for an ELF64 little-endian file with a PT_INTERP program header (elf(5)). */
function hasElfInterpreter(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) {
    throw new Error(`${BUSYBOX_PATH} is not a 64-bit little-endian ELF executable`);
  }
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const off = phoff + i * phentsize;
    if (off + 4 <= elf.length && elf.readUInt32LE(off) === 3 /* PT_INTERP */) return true;
  }
  return false;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.access(p);
    return true;
  } catch {
    return false;
  }
}

// The report's types and parsers live next to the C sources they describe.
export * from '../probe/probe-report.js';
