// The bench's environment: which runtimes exist, a busybox rootfs, and the cgroup arrangement that
// is the same for every runtime.
//
// This host's cgroups may be hybrid (v1 controllers under /sys/fs/cgroup/<controller>, v2 at
// /sys/fs/cgroup/unified). runc and crun then create directories in every v1 hierarchy, which this
// project must never touch. So, as reference/runtime-contract.md §4.2 measured runc and crun, the
// bench runs in a private mount namespace (`unshare -m`, made by scripts/bench.mjs) where the v1
// mounts are gone and the v2 hierarchy is mounted at /sys/fs/cgroup: every runtime sees a pure,
// controller-less cgroup v2 host and places its containers under the same parent cgroup.
import { spawnSync } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  realpathSync,
  rmdirSync,
  statSync,
  symlinkSync,
  copyFileSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';

/** The first cgroup2 mount point in this mount namespace, or null. */
export function cgroup2Mount() {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep > 0 && line.slice(sep + 3).startsWith('cgroup2 ')) return line.split(' ')[4].replace(/\\040/g, ' ');
  }
  return null;
}

/** An executable on PATH, or null. */
export function which(name) {
  for (const dir of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = path.join(dir || '.', name);
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

/**
 * Finds each requested runtime. tsrun-<engine> is this checkout's bin/tsrun (or --tsrun) run with
 * TSRUN_ENGINE=<engine>, and needs the built bundle and addon and that engine (its launcher says
 * when it is missing); with jsOnly also TSRUN_FAST=0, so that its launcher runs state, kill, start
 * and delete on the engine too, not through the static front. `front` says which ran. runc and
 * crun come from PATH. A missing one is skipped with the reason.
 * @returns {{found: Record<string,{path:string, version:string, env?:Record<string,string>, engine?:string, cjs?:string, front?:string}>, skipped: Record<string,string>}}
 */
export function findRuntimes(names, repo, tsrunOverride, { jsOnly = false } = {}) {
  const found = {};
  const skipped = {};
  for (const name of names) {
    let exe;
    let cjs;
    let env;
    let front;
    if (name.startsWith('tsrun')) {
      // bin/tsrun runs ../dist/tsrun.cjs, which loads ../build/Release/tsrun.node.
      exe = tsrunOverride ? path.resolve(tsrunOverride) : path.join(repo, 'bin/tsrun');
      const top = existsSync(exe) ? path.dirname(path.dirname(realpathSync(exe))) : repo;
      if (existsSync(path.join(top, 'dist/tsrun.cjs')) || !tsrunOverride) {
        const missing = ['dist/tsrun.cjs', 'build/Release/tsrun.node'].filter((f) => !existsSync(path.join(top, f)));
        if (missing.length) {
          skipped[name] = `not built (${missing.map((f) => path.join(top, f)).join(', ')} missing): run \`npm run build\``;
          continue;
        }
        cjs = path.join(top, 'dist/tsrun.cjs');
      }
      env = { TSRUN_ENGINE: name.slice('tsrun-'.length), ...(jsOnly && { TSRUN_FAST: '0' }) };
      front = fastFrontOf(top, jsOnly);
    } else exe = which(name);
    if (!exe || !existsSync(exe)) {
      skipped[name] = `not installed (apt-get install ${name})`;
      continue;
    }
    const r = spawnSync(exe, ['--version'], { encoding: 'utf8', timeout: 20000, env: { ...process.env, ...env } });
    if (r.status !== 0) {
      skipped[name] =
        `\`${env ? `TSRUN_ENGINE=${env.TSRUN_ENGINE} ` : ''}${exe} --version\` failed: ${(r.stderr || r.error?.message || '').trim().slice(0, 300)}`;
      continue;
    }
    const engine = /^engine: (.*)$/m.exec(r.stdout)?.[1];
    found[name] = {
      path: exe,
      version: r.stdout.split('\n')[0].trim() + (engine ? ` on ${engine}` : ''),
      ...(env && { env }),
      ...(engine && { engine }),
      ...(cjs && { cjs }),
      ...(front && { front }),
    };
  }
  return { found, skipped };
}

/** Which front bin/tsrun (in the package at top) runs state, kill, start and delete through. */
function fastFrontOf(top, jsOnly) {
  if (jsOnly) return 'the JS engine (--js-only: TSRUN_FAST=0)';
  const fast = path.join(top, 'build/Release/tsrun-fast');
  try {
    accessSync(fast, constants.X_OK);
    return `the static front ${fast}`;
  } catch {
    return `the JS engine (${fast} is not built)`;
  }
}

/** True when the ELF file has no PT_INTERP program header (statically linked). */
function isStaticElf(file) {
  const fd = openSync(file, 'r');
  try {
    const h = Buffer.alloc(64);
    readSync(fd, h, 0, 64, 0);
    if (h.readUInt32BE(0) !== 0x7f454c46 || h[4] !== 2) return false; // ELF64 only
    const phoff = Number(h.readBigUInt64LE(32));
    const phentsize = h.readUInt16LE(54);
    const phnum = h.readUInt16LE(56);
    const ph = Buffer.alloc(phentsize * phnum);
    readSync(fd, ph, 0, ph.length, phoff);
    for (let i = 0; i < phnum; i++) if (ph.readUInt32LE(i * phentsize) === 3) return false; // PT_INTERP
    return true;
  } finally {
    closeSync(fd);
  }
}

/** A static busybox from busybox-static, or throws saying what to install. */
export function findBusybox() {
  for (const p of ['/bin/busybox', '/usr/bin/busybox', which('busybox')]) {
    if (p && existsSync(p) && isStaticElf(p)) return p;
  }
  throw new Error('bench: no statically linked busybox found (apt-get install busybox-static)');
}

/**
 * A minimal rootfs shared read-only by every container: busybox with `true`, `sh` and `sleep`, and the
 * mount points of the default spec made in advance so that no runtime pays for creating them.
 */
export function makeRootfs(dir, busybox) {
  for (const d of ['bin', 'proc', 'sys', 'dev', 'dev/pts', 'dev/shm', 'dev/mqueue', 'tmp', 'etc']) mkdirSync(path.join(dir, d), { recursive: true });
  copyFileSync(busybox, path.join(dir, 'bin/busybox'));
  for (const applet of ['true', 'sh', 'sleep']) symlinkSync('busybox', path.join(dir, 'bin', applet));
  writeFileSync(path.join(dir, 'etc/passwd'), 'root:x:0:0:root:/:/bin/sh\n');
  writeFileSync(path.join(dir, 'etc/group'), 'root:x:0:\n');
}

/**
 * Inside the bench's private mount namespace: removes whatever is mounted at /sys/fs/cgroup and
 * mounts the cgroup2 hierarchy there. Nothing propagates to the host (`unshare -m` makes every
 * mount private). On a pure v2 host /sys/fs/cgroup already is the v2 hierarchy and stays as is.
 * @returns {string} a description of the arrangement, for the report
 */
export function arrangeCgroups() {
  const cg = cgroup2Mount();
  if (cg === '/sys/fs/cgroup') return 'cgroup v2 host: /sys/fs/cgroup as is';
  if (!cg) throw new Error('bench: no cgroup2 hierarchy is mounted; the bench needs one (it never uses cgroup v1)');
  const run = (args) => {
    const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`bench: ${args.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`);
  };
  run(['umount', '-R', '/sys/fs/cgroup']);
  run(['mount', '-t', 'cgroup2', 'cgroup2', '/sys/fs/cgroup']);
  const ctl = readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').trim();
  return `hybrid host (v2 was at ${cg}): private mount namespace, v1 mounts removed, cgroup2 at /sys/fs/cgroup (controllers available: ${ctl || 'none'}, none enabled)`;
}

/**
 * Kills every process left in a cgroup subtree (cgroup.kill, Linux 5.14) and removes its
 * directories innermost first. Used for the bench's own parent cgroup only.
 * @returns {string[]} problems (empty when all is gone)
 */
export function removeCgroupTree(dir) {
  if (!existsSync(dir)) return [];
  const problems = [];
  try {
    writeFileSync(path.join(dir, 'cgroup.kill'), '1');
  } catch {
    /* empty or old kernel: rmdir below says what is left */
  }
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(path.join(d, e.name));
    for (let attempt = 0; ; attempt++) {
      try {
        rmdirSync(d);
        return;
      } catch (err) {
        if (err.code === 'ENOENT') return;
        if (err.code !== 'EBUSY' || attempt >= 50) {
          problems.push(`rmdir ${d}: ${err.code}`);
          return;
        }
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20); // killed processes take a moment to go
      }
    }
  };
  walk(dir);
  return problems;
}
