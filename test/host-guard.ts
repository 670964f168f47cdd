// The host-damage check: runs a command (the test suite) and fails when the host is not as it was.
//
//   node --import=tsx test/host-guard.ts [--watch DIR]... [--no-default-watch] [--cgroup-root DIR]
//                                        [--no-system] -- COMMAND [ARG]...
//
// (--no-default-watch, --cgroup-root and --no-system narrow the check to what a test of this file
// controls: test/integration/host-guard.test.ts runs beside other tests that mount and make cgroups.)
//
// Tests run as root on a real host; a runtime bug can hurt things far outside the test's own files
// (a device filter left on a shared cgroup, `cgroup.kill` on a cgroup other processes are in, a
// pid-file write that follows a symlink). Each test cleans up after itself, and this wrapper checks
// the sum of them from outside:
//  - signals: every signal sent by a process of the suite (the command and everything it forks, as
//    the kernel's tracing sees them) to a process that existed before the suite began is damage,
//    except SIGCHLD/SIGWINCH/SIGURG/SIGCONT, which change nothing;
//  - processes: a process forked by the suite and still alive when the command has exited is left
//    behind (it is reported, then killed: it is ours);
//  - device programs: every cgroup v2 directory keeps exactly the BPF_CGROUP_DEVICE programs it had,
//    and no cgroup made by the suite is left;
//  - files: nothing changed, appeared or went under the watched trees (the system's directories;
//    not /tmp, /proc, /sys, /run, logs, caches, tsrun's own stores, nor the checkout);
//  - mounts, network interfaces, firewall rules and /dev/null's owner are as they were.
// The exit status is the command's when it failed, else 1 when damage was found, else 0. Without
// root nothing can be checked (the suite's root tests skip too) and the wrapper says so.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { attachedDevicePrograms } from '../src/cgroups/devices.js';
import { unifiedMount } from '../src/cgroups/v2.js';

const HARMLESS_SIGNALS = new Set([17, 18, 23, 28]); // SIGCHLD SIGCONT SIGURG SIGWINCH

// The system's trees, minus what the suite or the machine writes by design.
const DEFAULT_WATCH = ['/etc', '/usr', '/bin', '/sbin', '/lib', '/lib64', '/opt', '/boot', '/root', '/home', '/srv', '/var', '/dev'];
const DEFAULT_SKIP = [
  '/var/log',
  '/var/cache',
  '/var/tmp',
  '/var/lib/tsrun', // the image store: tsrun's own
  '/var/lib/systemd',
  '/var/lib/apt',
  '/var/lib/dpkg',
  '/var/lib/containers/cache', // skopeo's blob-info cache (the registry tests' reference client)
  '/root/.npm',
  '/root/.cache',
  '/root/.local',
  '/root/.config',
  '/root/.bash_history',
  '/dev/pts', // ptys come and go with every terminal
  '/dev/shm', // checked as "left behind" below, not for changes
  '/dev/mqueue',
  '/dev/hugepages',
];

interface Options {
  watch: string[];
  cgroupRoot: string | undefined;
  system: boolean;
  command: string[];
}

function parseArgs(argv: string[]): Options {
  const watch: string[] = [];
  let defaults = true;
  let cgroupRoot = unifiedMount() ?? undefined;
  let system = true;
  let i = 0;
  for (; i < argv.length && argv[i] !== '--'; i++) {
    if (argv[i] === '--watch' && i + 1 < argv.length) watch.push(argv[++i]!);
    else if (argv[i] === '--cgroup-root' && i + 1 < argv.length) cgroupRoot = argv[++i]!;
    else if (argv[i] === '--no-default-watch') defaults = false;
    else if (argv[i] === '--no-system') system = false;
    else
      throw new Error(
        `host-guard: unknown argument ${argv[i]} (usage: host-guard [--watch DIR]... [--no-default-watch] [--cgroup-root DIR] [--no-system] -- COMMAND...)`,
      );
  }
  const command = argv.slice(i + 1);
  if (command.length === 0) throw new Error('host-guard: no command after --');
  return { watch: defaults ? [...DEFAULT_WATCH, ...watch] : watch, cgroupRoot, system, command };
}

// ---- snapshots ---------------------------------------------------------------------------------

/** pid → "starttime comm": a pid is the same process only while its start time is the same. */
function processes(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const id = identity(Number(name));
    if (id !== undefined) out.set(Number(name), id);
  }
  return out;
}

function identity(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = stat.lastIndexOf(')');
  const comm = stat.slice(stat.indexOf('(') + 1, close);
  const fields = stat.slice(close + 2).split(' ');
  // fields[0] is the state (field 3); the start time is field 22.
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return `${fields[19]} ${comm}`;
}

type FileTable = Map<string, string>;

function files(roots: readonly string[], skip: ReadonlySet<string>): FileTable {
  const out: FileTable = new Map();
  const walk = (path: string, dev: number): void => {
    if (skip.has(path)) return;
    let st;
    try {
      st = lstatSync(path, { bigint: false });
    } catch {
      return;
    }
    // One file system per root: whatever is mounted below is checked as a mount.
    if (st.dev !== dev) return;
    const device = st.isCharacterDevice() || st.isBlockDevice();
    // A terminal's times move with its I/O (/dev/ptmx's with every pty opened): a device node is
    // its mode, owner, numbers and ctime.
    let what = `${st.mode.toString(8)} ${st.uid}:${st.gid} ino=${st.ino} size=${st.size}${device ? '' : ` mtime=${st.mtimeMs}`} ctime=${st.ctimeMs}`;
    if (device) what += ` rdev=${st.rdev}`;
    if (st.isSymbolicLink()) what += ` -> ${readlinkSync(path)}`;
    out.set(path, what);
    if (!st.isDirectory()) return;
    let names: string[];
    try {
      names = readdirSync(path);
    } catch {
      return;
    }
    for (const name of names) walk(join(path, name), dev);
  };
  for (const root of roots) {
    let dev: number;
    try {
      dev = statSync(root).dev;
    } catch {
      continue;
    }
    walk(root, dev);
  }
  return out;
}

function mounts(): string[] {
  // Mount ids and peer groups change with every remount; what is mounted where does not.
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pre, post] = line.split(' - ');
      const f = pre!.split(' ');
      const [type, source] = post!.split(' ');
      return `${f[4]} ${type} ${source}`;
    })
    .sort();
}

/** cgroup directory → its device programs' ids. */
function cgroups(root: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!root) return out;
  const walk = (dir: string): void => {
    let ids = '?';
    try {
      ids = attachedDevicePrograms(dir)
        .sort((a, b) => a - b)
        .join(',');
    } catch {
      /* a cgroup removed while walking, or no query: listed all the same */
    }
    out.set(dir, ids);
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(join(dir, e.name));
  };
  walk(root);
  return out;
}

function tool(cmd: string, args: string[]): string | undefined {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) {
    if (!existsSync(join(dir, cmd))) continue;
    const r = spawnSync(join(dir, cmd), args, { encoding: 'utf8' });
    return r.status === 0 ? r.stdout : undefined;
  }
  return undefined;
}

function firewall(): string {
  const strip = (s: string | undefined): string =>
    (s ?? '')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/g, ''))
      .join('\n');
  return ['iptables-save', 'ip6tables-save'].map((t) => strip(tool(t, []))).join('\n') + strip(tool('nft', ['list', 'ruleset']));
}

interface Snapshot {
  processes: Map<number, string>;
  files: FileTable;
  mounts: string[];
  cgroups: Map<string, string>;
  links: string[];
  firewall: string;
  devNull: string;
  shm: string[];
}

function snapshot(opts: Options, skip: ReadonlySet<string>): Snapshot {
  const devNull = statSync('/dev/null');
  return {
    processes: processes(),
    files: files(opts.watch, skip),
    mounts: opts.system ? mounts() : [],
    cgroups: cgroups(opts.cgroupRoot),
    links: opts.system ? readdirSync('/sys/class/net').sort() : [],
    firewall: opts.system ? firewall() : '',
    devNull: opts.system ? `${devNull.uid}:${devNull.gid} ${devNull.mode.toString(8)} rdev=${devNull.rdev}` : '',
    shm: opts.system && existsSync('/dev/shm') ? readdirSync('/dev/shm').sort() : [],
  };
}

// ---- the suite's processes and signals, from the kernel's tracing -------------------------------

interface Trace {
  forked: Set<number>;
  signals: { sender: string; sig: number; target: number; comm: string }[];
}

const TRACER = `
set -e
d=$(mktemp -d /tmp/.tsrun-host-guard.XXXXXX)
mount -t tracefs nodev "$d"
i="$d/instances/tsrun-host-guard-$$"
mkdir "$i"
cleanup() {
  echo 0 > "$i/tracing_on" || true
  [ -z "\${cat:-}" ] || { kill "$cat" 2>/dev/null || true; wait "$cat" 2>/dev/null || true; }
  rmdir "$i" || true
  umount "$d" || true
  rmdir "$d" || true
}
trap cleanup EXIT
echo 8192 > "$i/buffer_size_kb"
echo 1 > "$i/options/event-fork"
echo "$GUARD_PID" > "$i/set_event_pid"
echo 1 > "$i/events/signal/signal_generate/enable"
echo 1 > "$i/events/sched/sched_process_fork/enable"
cat "$i/trace_pipe" &
cat=$!
echo READY >&2
read -r _ || true
echo TSRUN-HOST-GUARD-END > "$i/trace_marker"
read -r _ || true
`;

class Tracer {
  readonly trace: Trace = { forked: new Set(), signals: [] };
  private readonly child;
  private ended: Promise<void>;
  readonly ready: Promise<boolean>;

  constructor() {
    this.child = spawn('/usr/bin/unshare', ['-m', '--propagation', 'private', '/bin/sh', '-c', TRACER], {
      env: { ...process.env, GUARD_PID: String(process.pid) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let endSeen: () => void = () => {};
    this.ended = new Promise((resolve) => (endSeen = resolve));
    const lines = createInterface({ input: this.child.stdout });
    lines.on('line', (line) => {
      if (line.includes('TSRUN-HOST-GUARD-END')) return endSeen();
      const fork = /sched_process_fork: .*child_pid=(\d+)/.exec(line);
      if (fork) return void this.trace.forked.add(Number(fork[1]));
      const sig = /^\s*(.+?-\d+)\s+\[.*signal_generate: sig=(\d+) .*comm=(.*) pid=(\d+) grp=/.exec(line);
      if (sig) this.trace.signals.push({ sender: sig[1]!, sig: Number(sig[2]), comm: sig[3]!, target: Number(sig[4]) });
    });
    let err = '';
    this.ready = new Promise((resolve) => {
      this.child.stderr.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('READY')) resolve(true);
      });
      this.child.on('exit', () => {
        if (!err.includes('READY')) process.stderr.write(`host-guard: kernel tracing unavailable, signals and processes not checked: ${err.trim()}\n`);
        resolve(false);
        endSeen();
      });
    });
  }

  async stop(): Promise<Trace> {
    this.child.stdin.write('end\n');
    await this.ended;
    const exited = new Promise((resolve) => this.child.on('exit', resolve));
    this.child.stdin.end('quit\n');
    if (this.child.exitCode === null) await exited;
    return this.trace;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }
}

// ---- comparison --------------------------------------------------------------------------------

function difference<T>(a: Iterable<T>, b: ReadonlySet<T>): T[] {
  return [...a].filter((x) => !b.has(x));
}

function compare(before: Snapshot, after: Snapshot, trace: Trace | undefined, tracerPid: number | undefined): string[] {
  const damage: string[] = [];
  if (trace) {
    for (const s of trace.signals) {
      if (HARMLESS_SIGNALS.has(s.sig) || s.target === process.pid) continue;
      if (before.processes.has(s.target)) damage.push(`signal ${s.sig} sent by ${s.sender} to pid ${s.target} (${s.comm}), which was running before the suite`);
    }
    for (const pid of trace.forked) {
      if (pid === tracerPid || before.processes.has(pid)) continue;
      const id = after.processes.get(pid);
      if (id === undefined) continue;
      damage.push(`process ${pid} (${id.split(' ').slice(1).join(' ')}) forked by the suite is still running`);
    }
  }
  for (const [path, was] of before.files) {
    const now = after.files.get(path);
    if (now === undefined) damage.push(`file removed: ${path}`);
    else if (now !== was) damage.push(`file changed: ${path} (${was} → ${now})`);
  }
  for (const path of after.files.keys()) if (!before.files.has(path)) damage.push(`file added: ${path}`);
  const mountsBefore = new Set(before.mounts);
  const mountsAfter = new Set(after.mounts);
  for (const m of difference(mountsAfter, mountsBefore)) damage.push(`mount left: ${m}`);
  for (const m of difference(mountsBefore, mountsAfter)) damage.push(`mount gone: ${m}`);
  for (const [dir, ids] of after.cgroups) {
    const was = before.cgroups.get(dir);
    if (was === undefined) damage.push(`cgroup left: ${dir}${ids && ids !== '?' ? ` (device programs ${ids})` : ''}`);
    else if (was !== ids) damage.push(`device programs of ${dir} changed: [${was}] → [${ids}]`);
  }
  for (const dir of before.cgroups.keys()) if (!after.cgroups.has(dir)) damage.push(`cgroup removed: ${dir}`);
  for (const l of difference(after.links, new Set(before.links))) damage.push(`network interface left: ${l}`);
  for (const l of difference(before.links, new Set(after.links))) damage.push(`network interface gone: ${l}`);
  if (before.firewall !== after.firewall) damage.push('firewall rules changed');
  if (before.devNull !== after.devNull) damage.push(`/dev/null changed: ${before.devNull} → ${after.devNull}`);
  for (const f of difference(after.shm, new Set(before.shm))) damage.push(`left in /dev/shm: ${f}`);
  return damage;
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const run = (): Promise<number> =>
    new Promise((resolve) => {
      const child = spawn(opts.command[0]!, opts.command.slice(1), { stdio: 'inherit' });
      child.on('error', (err) => {
        process.stderr.write(`host-guard: ${opts.command[0]}: ${err.message}\n`);
        resolve(127);
      });
      child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? constants.signals[signal] : 0)));
    });
  if (process.getuid?.() !== 0) {
    process.stderr.write('host-guard: not root: the host-damage checks need root and are skipped (so are the root tests)\n');
    return run();
  }
  const skip = new Set(DEFAULT_SKIP);
  const tracer = new Tracer();
  const tracing = await tracer.ready;
  const before = snapshot(opts, skip);
  const status = await run();
  const trace = tracing ? await tracer.stop() : undefined;
  const after = snapshot(opts, skip);
  const damage = compare(before, after, trace, tracer.pid);
  // What the suite left running is ours: it goes now that it has been reported.
  for (const pid of trace?.forked ?? []) {
    if (pid !== tracer.pid && !before.processes.has(pid) && after.processes.has(pid) && identity(pid) === after.processes.get(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone meanwhile */
      }
    }
  }
  const checked = `${before.files.size} files, ${before.cgroups.size} cgroups, ${before.processes.size} processes, ${trace ? `${trace.signals.length} signals and ${trace.forked.size} forks traced` : 'signals not traced'}`;
  if (damage.length === 0) {
    process.stderr.write(`host-guard: the host is as it was (${checked})\n`);
    return status;
  }
  process.stderr.write(`host-guard: the suite changed the host (${checked}):\n`);
  for (const d of damage.slice(0, 200)) process.stderr.write(`  ${d}\n`);
  if (damage.length > 200) process.stderr.write(`  … and ${damage.length - 200} more\n`);
  return status !== 0 ? status : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
