// A throw-away OCI bundle for one integration test: its own writable copy of the test rootfs, its
// own --root state dir and a unique container id, and a runner for the built CLI (bin/tsrun), so
// the tests exercise exactly what engines call. t.teardown force-deletes every container left in
// the root, kills what survived, removes cgroup directories and mounts under the temp dirs, then
// the dirs themselves, and fails the test if any of that had to be done by force (a leak is a bug).
//
// stdio: every CLI call writes to two fresh files rather than pipes. A container made by `create`
// or `run -d` inherits them and keeps them open after tsrun exits; with pipes the caller could not
// tell "tsrun finished" from "the container closed its stdout". The files also hold the container's
// output, readable later with Bundle.output(result).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { defaultSpec } from '../../src/spec/defaults.js';
import type { Spec } from '../../src/spec/types.js';
import { copyTestRootfs, REPO_ROOT } from './rootfs.js';
import { TIME_SCALE, waitFor } from './wait.js';

// Time limits here are liveness limits (a hung tsrun is killed, a wait gives up), not performance
// bounds; TIME_SCALE stretches them under qemu TCG (helpers/wait.ts).
export { TIME_SCALE, waitFor } from './wait.js';
export { isRoot } from './skip.js';

/** The CLI under test: bin/tsrun of this checkout, or $TSRUN_TEST_BIN (an installed or snapshot copy). */
export const TSRUN_BIN = process.env.TSRUN_TEST_BIN || path.join(REPO_ROOT, 'bin/tsrun');

export interface TsrunResult {
  /** Exit status, or null when killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  stdoutFile: string;
  stderrFile: string;
  /** Pid of the tsrun process (gone by now). */
  pid: number;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill tsrun (only it, by pid) after this long; default 30 s. */
  timeoutMs?: number;
  /** A file whose content is tsrun's stdin (default /dev/null). */
  stdinFile?: string;
  /** fds given to tsrun as 3, 4, … (for --preserve-fds). */
  extraFds?: number[];
  /** Directory for the stdout/stderr files (kept); default a temp dir removed on return. */
  ioDir?: string;
  /** A command that execs tsrun after changing something (e.g. ['prlimit', '--nofile=7:9', '--']). */
  prefix?: string[];
  /** Called with tsrun's pid once spawned (to signal it). */
  onSpawn?: (pid: number) => void;
}

let ioCounter = 0;

/** Runs bin/tsrun with exactly argv (no --root added). */
export async function runTsrun(argv: readonly string[], o: RunOptions = {}): Promise<TsrunResult> {
  const ioDir = o.ioDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-io-'));
  const n = ioCounter++;
  const stdoutFile = path.join(ioDir, `${n}.out`);
  const stderrFile = path.join(ioDir, `${n}.err`);
  const out = fs.openSync(stdoutFile, 'w');
  const err = fs.openSync(stderrFile, 'w');
  const input = o.stdinFile ? fs.openSync(o.stdinFile, 'r') : 'ignore';
  let child;
  try {
    const [cmd, ...pre] = [...(o.prefix ?? []), TSRUN_BIN];
    child = spawn(cmd, [...pre, ...argv], {
      cwd: o.cwd,
      env: o.env ?? process.env,
      stdio: [input, out, err, ...(o.extraFds ?? [])],
    });
  } finally {
    fs.closeSync(out);
    fs.closeSync(err);
    if (typeof input === 'number') fs.closeSync(input);
  }
  // A failed spawn has no pid: never hand 0 on (process.kill(0) would signal the whole test
  // runner's process group); the 'error' event below reports the failure.
  const pid = child.pid ?? 0;
  if (pid > 0) o.onSpawn?.(pid);
  const timeoutMs = (o.timeoutMs ?? 30_000) * TIME_SCALE;
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    const timer = setTimeout(() => {
      try {
        if (pid > 0) process.kill(pid, 'SIGKILL');
      } catch {
        /* exited meanwhile */
      }
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('exit', (c, s) => {
      clearTimeout(timer);
      resolve({ code: c, signal: s });
    });
  });
  const result = {
    code,
    signal,
    stdout: fs.readFileSync(stdoutFile, 'utf8'),
    stderr: fs.readFileSync(stderrFile, 'utf8'),
    stdoutFile,
    stderrFile,
    pid,
  };
  if (!o.ioDir) fs.rmSync(ioDir, { recursive: true, force: true });
  return result;
}

export interface BundleContext {
  dir: string;
  rootfs: string;
}

export interface Bundle extends BundleContext {
  /** The --root state dir. */
  root: string;
  /** Where the CLI calls' stdout/stderr files go (inside dir). */
  ioDir: string;
  /** A unique container id (more: newId()). */
  id: string;
  spec: Spec;
  /** bin/tsrun --root <root> ...args */
  tsrun(args: readonly string[], o?: RunOptions): Promise<TsrunResult>;
  /** Rewrites config.json (after changing b.spec, or with a new spec). */
  writeSpec(spec?: Spec): void;
  /** The current content of a call's stdout (what a container started from it printed since). */
  output(r: TsrunResult): string;
  /** Another unique id for a second container in the same root. */
  newId(tag?: string): string;
  /** Waits until `state` reports the status (or throws after timeoutMs). */
  waitStatus(id: string, status: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** The container's state as JSON, or throws with tsrun's stderr. */
  state(id?: string): Promise<Record<string, unknown>>;
  cleanup(): Promise<string[]>;
}

// At most this many tests of one worker hold bundles at once: every container start forks a
// Node process, so dozens at once on a small machine turn waits of milliseconds into timeouts.
// A test takes one slot on its first makeBundle and frees it in its teardown.
const SLOTS = Number(process.env.TSRUN_TEST_CONCURRENCY) || Math.max(2, os.availableParallelism() * 2);
let slotsInUse = 0;
const waiting: (() => void)[] = [];
const holders = new WeakSet<object>();

async function takeSlot(t: ExecutionContext): Promise<void> {
  if (holders.has(t)) return;
  holders.add(t);
  if (slotsInUse >= SLOTS) await new Promise<void>((resolve) => waiting.push(resolve));
  else slotsInUse++;
  t.teardown(() => {
    const next = waiting.shift();
    if (next) next();
    else slotsInUse--;
  });
}

export function uniqueId(tag = 't'): string {
  return `tsrun-${tag}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/**
 * A bundle whose config.json is defaultSpec() with terminal:false and args ["probe","all"]; mutate
 * may change the spec and the rootfs before config.json is written.
 */
export async function makeBundle(t: ExecutionContext, mutate?: (spec: Spec, ctx: BundleContext) => void | Promise<void>): Promise<Bundle> {
  await takeSlot(t);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-bundle-'));
  // The state root is a directory of its own temp dir: what tsrun keeps beside its root (the
  // compiled seccomp filters, .<root>-seccomp-cache) goes with it at cleanup.
  const rootParent = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-root-'));
  fs.chmodSync(rootParent, 0o711); // as /tmp itself for the root below it: traversable
  const root = path.join(rootParent, 'state');
  fs.mkdirSync(root, { mode: 0o700 });
  const ioDir = path.join(dir, 'io');
  fs.mkdirSync(ioDir);
  let cleaned: Promise<string[]> | undefined;
  const issued: string[] = [];
  const cleanup = () => (cleaned ??= cleanupAll(dir, root, rootParent, issued));
  t.teardown(async () => {
    const leaks = await cleanup();
    if (leaks.length) throw new Error(`the test leaked (cleaned up by force): ${leaks.join('; ')}`);
  });

  const copy = await copyTestRootfs(dir);
  const rootfs = path.join(dir, 'rootfs');
  fs.renameSync(copy.path, rootfs);
  fs.rmdirSync(path.dirname(copy.path));

  const spec = defaultSpec();
  spec.process!.terminal = false;
  spec.process!.args = ['probe', 'all'];
  await mutate?.(spec, { dir, rootfs });
  const configPath = path.join(dir, 'config.json');
  const writeSpec = (s: Spec = b.spec) => {
    b.spec = s;
    fs.writeFileSync(configPath, JSON.stringify(s, null, '\t'));
  };

  const b: Bundle = {
    dir,
    rootfs,
    root,
    ioDir,
    id: '',
    spec,
    tsrun: (args, o = {}) => runTsrun(['--root', root, ...args], { ioDir, cwd: dir, ...o }),
    writeSpec,
    output: (r) => fs.readFileSync(r.stdoutFile, 'utf8'),
    newId: (tag) => {
      const id = uniqueId(tag);
      issued.push(id);
      return id;
    },
    state: async (id = b.id) => {
      const r = await b.tsrun(['state', id]);
      if (r.code !== 0) throw new Error(`tsrun state ${id} exited ${r.code}: ${r.stderr.trim()}`);
      return JSON.parse(r.stdout) as Record<string, unknown>;
    },
    waitStatus: async (id, status, timeoutMs = 20_000) => {
      let last: Record<string, unknown> | undefined;
      let lastError = '';
      await waitFor(
        async () => {
          // "does not exist" is expected while a concurrent create/run has not claimed the id yet.
          last = await b.state(id).catch((e: Error) => ((lastError = e.message), undefined));
          return last?.status === status;
        },
        timeoutMs,
        () => `container ${id} to be ${status} (last state: ${JSON.stringify(last) ?? lastError})`,
      );
      return last!;
    },
    cleanup,
  };
  b.id = b.newId();
  writeSpec(spec);
  return b;
}

interface Leftover {
  id: string;
  pid: number;
  pidStartTime?: string;
  cgroupCreated: string[];
}

function readLeftover(root: string, id: string): Leftover {
  try {
    const rec = JSON.parse(fs.readFileSync(path.join(root, id, 'state.json'), 'utf8'));
    return { id, pid: rec.pid ?? 0, pidStartTime: rec.pidStartTime, cgroupCreated: rec.cgroup?.created ?? [] };
  } catch {
    return { id, pid: 0, cgroupCreated: [] };
  }
}

/** /proc/<pid>/stat field 22 and the state letter, or undefined when the pid is gone. */
export function procStat(pid: number): { state: string; startTime: string; ppid: number } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: rest[0], ppid: Number(rest[1]), startTime: rest[19] };
  } catch {
    return undefined;
  }
}

function aliveAs(pid: number, startTime: string | undefined): boolean {
  if (!pid) return false;
  const st = procStat(pid);
  if (!st || st.state === 'Z' || st.state === 'X') return false;
  return startTime === undefined || st.startTime === startTime;
}

/** Mount points at or below any of dirs, deepest first. */
export function mountsUnder(dirs: readonly string[]): string[] {
  const points: string[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const p = mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (dirs.some((d) => p === d || p.startsWith(d + '/'))) points.push(p);
  }
  return points.sort((a, b) => b.length - a.length);
}

/** The cgroup2 mount point, or undefined. */
function unifiedRoot(): string | undefined {
  const line = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.includes(' - cgroup2 '));
  return line?.split(' ')[4];
}

/** Where tsrun places a container without cgroupsPath: <our cgroup, or its parent for a scope>/<id>. */
export function defaultCgroupDir(id: string): string | undefined {
  const root = unifiedRoot();
  if (!root) return undefined;
  let own =
    fs
      .readFileSync('/proc/self/cgroup', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'))
      ?.slice(3) ?? '/';
  if (own.endsWith('.scope')) own = path.posix.dirname(own);
  return path.join(root, own, id);
}

async function removeLeakedCgroup(cg: string, what: string, leaks: string[]): Promise<void> {
  leaks.push(`cgroup ${cg} ${what}`);
  try {
    fs.writeFileSync(path.join(cg, 'cgroup.kill'), '1');
  } catch {
    /* empty already */
  }
  await waitFor(() => {
    try {
      fs.rmdirSync(cg);
      return true;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ENOENT';
    }
  }, 5000).catch(() => leaks.push(`could not remove cgroup ${cg}`));
}

async function cleanupAll(dir: string, root: string, rootParent: string, issued: readonly string[]): Promise<string[]> {
  const leaks: string[] = [];
  let ids: string[] = [];
  try {
    ids = fs.readdirSync(root).filter((n) => !n.startsWith('.'));
  } catch {
    /* root never used */
  }
  for (const id of ids) {
    const left = readLeftover(root, id);
    const r = await runTsrun(['--root', root, 'delete', '--force', id], { ioDir: path.join(dir, 'io'), timeoutMs: 20_000 }).catch((e: Error) => ({
      code: -1,
      stderr: e.message,
    }));
    if (r.code !== 0) leaks.push(`delete --force ${id} failed: ${r.stderr.trim()}`);
    if (fs.existsSync(path.join(root, id))) {
      leaks.push(`state dir of ${id} survived delete --force`);
      fs.rmSync(path.join(root, id), { recursive: true, force: true });
    }
    if (aliveAs(left.pid, left.pidStartTime)) {
      await waitFor(() => !aliveAs(left.pid, left.pidStartTime), 2000).catch(() => {
        leaks.push(`init ${left.pid} of ${id} survived delete --force`);
        try {
          process.kill(left.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      });
    }
    for (const cg of [...left.cgroupCreated].reverse()) {
      if (!fs.existsSync(cg) || cg === unifiedRoot()) continue;
      await removeLeakedCgroup(cg, `of ${id} survived delete --force`, leaks);
    }
  }
  // Containers whose state is gone (deleted, or never recorded) must not have left a cgroup.
  for (const id of issued) {
    const cg = defaultCgroupDir(id);
    if (cg && fs.existsSync(cg)) await removeLeakedCgroup(cg, `of ${id} outlived its container`, leaks);
  }
  // Mounts on the host below our dirs would be an escape; rm -rf must never walk into one.
  const mounts = mountsUnder([dir, rootParent]);
  for (const mp of mounts) {
    leaks.push(`host mount at ${mp}`);
    await runCommand('umount', ['-l', mp]);
  }
  if (mountsUnder([dir, rootParent]).length) {
    leaks.push(`mounts remain under ${dir} or ${root}; not removing them`);
    return leaks;
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(rootParent, { recursive: true, force: true });
  return leaks;
}

/** Runs a host command; resolves with its exit code and output (never rejects on exit status). */
export function runCommand(cmd: string, args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
