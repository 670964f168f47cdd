// `tsrun exec` with every runc flag (runc exec.go), against a running container that has every
// namespace, user and time included: the exec'd process must be in the init's namespaces and
// cgroup, get the container's seccomp, capabilities and rlimits, and only its own fds.
import type { ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import type { Spec } from '../../src/spec/types.js';
import { makeBundle, procStat, waitFor, type Bundle } from '../helpers/bundle.js';
import { EXTRA_GID, parseProbeJson, type ProbeReport } from '../helpers/rootfs.js';
import { listenForFds, readPty } from '../helpers/unix-socket.js';
import { need, needs, root } from '../helpers/skip.js';

const rootTest = needs(root());

const NS = ['cgroup', 'ipc', 'mnt', 'net', 'pid', 'time', 'user', 'uts'] as const;
const nsInode = (pid: number | string, n: string) => Number(/\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${pid}/ns/${n}`))![1]);

/** A running container (sleep) with every namespace; returns it with the init's pid. */
async function running(t: ExecutionContext, mutate?: (s: Spec) => void): Promise<{ b: Bundle; pid: number }> {
  const b = await makeBundle(t, (s) => {
    s.linux!.namespaces = [
      { type: 'pid' },
      { type: 'network' },
      { type: 'ipc' },
      { type: 'uts' },
      { type: 'mount' },
      { type: 'cgroup' },
      { type: 'user' },
      { type: 'time' },
    ];
    // Identity maps: the rootfs stays usable; the user namespace is still a new one.
    s.linux!.uidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
    s.linux!.timeOffsets = { monotonic: { secs: 86400 * 10, nanosecs: 0 }, boottime: { secs: 86400 * 20, nanosecs: 0 } };
    s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdirat', 'mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 42 }] };
    s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 321, hard: 654 }];
    s.process!.args = ['sleep', '600'];
    mutate?.(s);
  });
  const r = await b.tsrun(['run', '-d', '--bundle', b.dir, b.id]);
  if (r.code !== 0) throw new Error(`run -d: ${r.stderr}`);
  const { pid } = (await b.state()) as { pid: number };
  return { b, pid };
}

async function execJson<T>(t: ExecutionContext, b: Bundle, args: string[]): Promise<T> {
  const r = await b.tsrun(['exec', ...args]);
  t.is(r.code, 0, `exec ${args.join(' ')}: ${r.stderr}`);
  return parseProbeJson<T>(r.stdout);
}

rootTest('exec joins every namespace of the init (user and time included), its cgroup, seccomp, capabilities and rlimits', async (t) => {
  const { b, pid } = await running(t);
  const r = await execJson<ProbeReport>(t, b, [b.id, 'probe', 'namespaces', 'cgroup', 'caps', 'rlimits', 'seccomp', 'noNewPrivs', 'clocks', 'fds']);
  const names: Record<string, string> = { cgroup: 'cgroup', ipc: 'ipc', mnt: 'mnt', net: 'net', pid: 'pid', time: 'time', user: 'user', uts: 'uts' };
  for (const n of NS) {
    t.is(r.namespaces[names[n] as keyof ProbeReport['namespaces']], nsInode(pid, n), `${n} namespace is the init's`);
    t.not(nsInode(pid, n), nsInode('self', n), `(the init's ${n} namespace is not the host's)`);
  }
  t.true((r.clocks.monotonic ?? 0) > 86400 * 10, "the time namespace offsets apply to the exec'd process");
  t.is(r.cgroup?.find((c) => c.hierarchy === 0)?.path, '/', 'at its cgroup namespace root');
  t.deepEqual(r.rlimits.RLIMIT_NOFILE, { soft: 321, hard: 654 });
  t.is(r.seccomp.mode, 2, "the container's seccomp filter");
  t.true(r.noNewPrivs ?? false);
  t.deepEqual(r.caps.effective.names.sort(), [...(b.spec.process!.capabilities!.effective ?? [])].sort());
  t.deepEqual(
    r.fds.map((f) => f.fd),
    [0, 1, 2],
    'no host fd',
  );
  const mk = await b.tsrun(['exec', b.id, 'mkdir', '/tmp/x']);
  t.regex(mk.stderr, /No message of desired type/, "mkdir gets the profile's errno 42");
  // Seen from the host: the exec'd process is in the init's cgroup (CLONE_INTO_CGROUP).
  const pidFile = path.join(b.dir, 'sleeper.pid');
  t.is((await b.tsrun(['exec', '-d', '--pid-file', pidFile, b.id, 'sleep', '60'])).code, 0);
  const execPid = Number(fs.readFileSync(pidFile, 'utf8'));
  const v2 = (p: number) =>
    fs
      .readFileSync(`/proc/${p}/cgroup`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'));
  t.is(v2(execPid), v2(pid), 'the same v2 cgroup as the init');
  await b.tsrun(['delete', '--force', b.id]);
});

rootTest('foreground exec returns the exit status; -e, --cwd, -u, -g, --cap, --no-new-privs', async (t) => {
  const { b } = await running(t, (s) => {
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'user');
    delete s.linux!.uidMappings;
    delete s.linux!.gidMappings;
    s.process!.noNewPrivileges = false;
  });
  t.is((await b.tsrun(['exec', b.id, 'sh', '-c', 'exit 7'])).code, 7);
  t.is((await b.tsrun(['exec', b.id, 'sh', '-c', 'kill -9 $$'])).code, 137, '128 + SIGKILL');
  const r = await execJson<ProbeReport>(t, b, [
    '-e',
    'FOO=bar',
    '-e',
    'PATH=/bin',
    '--cwd',
    '/tmp',
    '-u',
    '1000:1000',
    '-g',
    String(EXTRA_GID),
    '--cap',
    'CAP_SYS_ADMIN',
    '--no-new-privs',
    b.id,
    'probe',
    'env',
    'cwd',
    'ids',
    'caps',
    'noNewPrivs',
  ]);
  t.true(r.env.includes('FOO=bar'));
  t.is(r.env.filter((e) => e.startsWith('PATH=')).pop(), 'PATH=/bin', '-e overrides');
  t.is(r.cwd, '/tmp');
  t.like(r.ids, { uid: 1000, euid: 1000, gid: 1000, egid: 1000 });
  t.deepEqual(r.ids.groups, [EXTRA_GID]);
  t.true(r.caps.bounding.names.includes('CAP_SYS_ADMIN'), '--cap adds to the bounding set');
  t.true(r.noNewPrivs ?? false, '--no-new-privs');
  const plain = await execJson<ProbeReport>(t, b, [b.id, 'probe', 'noNewPrivs', 'caps']);
  t.false(plain.noNewPrivs ?? true, "without the flag, the container's value (false)");
  t.false(plain.caps.bounding.names.includes('CAP_SYS_ADMIN'));
  await b.tsrun(['delete', '--force', b.id]);
});

rootTest('--process FILE, -d with --pid-file, --preserve-fds', async (t) => {
  const { b } = await running(t);
  const procFile = path.join(b.dir, 'process.json');
  fs.writeFileSync(
    procFile,
    JSON.stringify({
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ['sh', '-c', 'echo from-process-file $X >&3; sleep 60'],
      env: ['X=42', 'PATH=/bin'],
      cwd: '/etc',
    }),
  );
  const out = path.join(b.dir, 'fd3');
  const fd = fs.openSync(out, 'w');
  t.teardown(() => fs.closeSync(fd));
  const pidFile = path.join(b.dir, 'exec.pid');
  const r = await b.tsrun(['exec', '--process', procFile, '-d', '--pid-file', pidFile, '--preserve-fds', '1', b.id], { extraFds: [fd] });
  t.is(r.code, 0, r.stderr);
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  t.true(pid > 0);
  // While sh execs sleep, the new image's cmdline is briefly empty (the kernel sets the argument
  // area after it switches the mm): read it again until it is filled in.
  let argv0 = '';
  await waitFor(
    () => (argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]!) !== '',
    5000,
    () => `a cmdline for pid ${pid}`,
  );
  t.true(argv0 === 'sh' || argv0 === 'sleep', `the pid file names the exec'd process (sh, or the sleep it exec'd): ${argv0}`);
  t.true(fs.readlinkSync(`/proc/${pid}/cwd`).endsWith('/etc'));
  await waitFor(
    () => fs.readFileSync(out, 'utf8') === 'from-process-file 42\n',
    5000,
    () => `fd 3 output: ${fs.readFileSync(out, 'utf8')}`,
  );
  t.not(procStat(pid)?.state, 'Z', '-d returned with the process still running');
  await b.tsrun(['delete', '--force', b.id]);
});

rootTest('-t with --console-socket: the exec gets its own pty', async (t) => {
  const { b } = await running(t);
  const rx = await listenForFds(path.join(b.dir, 'exec-console.sock'));
  t.teardown(() => rx.close());
  const r = await b.tsrun(['exec', '-t', '-d', '--console-socket', rx.path, b.id, 'sh', '-c', 'tty; echo exec-tty-done']);
  t.is(r.code, 0, r.stderr);
  const { fd } = await rx.next();
  const text = await readPty(fd, (s) => s.includes('exec-tty-done'));
  t.regex(text, /^\/dev\/pts\/\d+\r?$/m, JSON.stringify(text));
  const detached = await b.tsrun(['exec', '-t', '-d', b.id, 'true']);
  t.not(detached.code, 0);
  t.regex(detached.stderr, /cannot allocate tty if tsrun will detach without setting console socket/);
  await b.tsrun(['delete', '--force', b.id]);
});

const unifiedMounted = fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(' - cgroup2 ');

/** The cgroup v2 directory of a process, as the host sees it. */
function hostCgroupDir(pid: number): string {
  const rel = fs
    .readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'))
    ?.slice(3);
  const mount = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.includes(' - cgroup2 '))
    ?.split(' ')[4];
  if (rel === undefined || mount === undefined) throw new Error(`no cgroup v2 path for ${pid}`);
  return path.join(mount, rel);
}

rootTest.and(need(unifiedMounted, 'pause needs a cgroup v2 hierarchy (cgroup.freeze)'))(
  '--ignore-paused: refused without it in a paused container, accepted with it (the process runs once resumed)',
  async (t) => {
    const { b, pid } = await running(t);
    const cg = hostCgroupDir(pid);
    t.is((await b.tsrun(['pause', b.id])).code, 0);
    const refused = await b.tsrun(['exec', b.id, 'true']);
    t.not(refused.code, 0);
    t.regex(refused.stderr, /cannot exec in a paused container/);
    let settled = false;
    const accepted = b.tsrun(['exec', '--ignore-paused', b.id, 'echo', 'ran-after-resume']).finally(() => (settled = true));
    // The exec'd process joins the container's cgroup, and the cgroup is frozen again with it inside:
    // from then on it cannot run until resume.
    const procs = () => fs.readFileSync(path.join(cg, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    const frozen = () => /^frozen 1$/m.test(fs.readFileSync(path.join(cg, 'cgroup.events'), 'utf8'));
    await waitFor(() => settled || (procs().some((p) => p !== pid) && frozen()), {
      timeoutMs: 20_000,
      what: () => `the exec'd process to be frozen in ${cg} (procs ${procs().join(' ')}, frozen ${frozen()})`,
    });
    t.false(settled, 'the exec waits in the frozen cgroup instead of failing');
    t.is((await b.tsrun(['resume', b.id])).code, 0);
    const r = await accepted;
    t.is(r.code, 0, r.stderr);
    t.is(r.stdout.trim(), 'ran-after-resume');
    await b.tsrun(['delete', '--force', b.id]);
  },
);

rootTest.and(need(unifiedMounted, 'no cgroup v2 hierarchy is mounted, so --cgroup cannot be shown'))(
  '--cgroup SUB runs the process in an existing sub-cgroup; a path leaving the container cgroup is refused',
  async (t) => {
    const { b } = await running(t);
    const rec = JSON.parse(fs.readFileSync(path.join(b.root, b.id, 'state.json'), 'utf8')) as { cgroup?: { dir: string } };
    if (!rec.cgroup) return t.fail(`a cgroup2 hierarchy is mounted, but the container has no cgroup: ${JSON.stringify(rec)}`);
    const sub = path.join(rec.cgroup.dir, 'sub');
    fs.mkdirSync(sub);
    t.teardown(() => {
      try {
        fs.rmdirSync(sub);
      } catch {
        /* removed by the test already */
      }
    });
    const r = await b.tsrun(['exec', '--cgroup', 'sub', b.id, 'cat', '/proc/self/cgroup']);
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, /^0::\/sub$/m, 'in <container cgroup>/sub (seen from its cgroup namespace)');
    const named = await b.tsrun(['exec', '--cgroup', 'memory:sub', b.id, 'cat', '/proc/self/cgroup']);
    t.regex(named.stdout, /^0::\/sub$/m, 'controller:path form');
    const sibling = path.basename(rec.cgroup.dir);
    const out = await b.tsrun(['exec', '--cgroup', `../${sibling}-x`, b.id, 'true']);
    t.not(out.code, 0);
    t.regex(out.stderr, /leaves the container's cgroup/, out.stderr);
    fs.rmdirSync(sub);
    await b.tsrun(['delete', '--force', b.id]);
  },
);

const selinux = fs.existsSync('/sys/fs/selinux/enforce');
let apparmorOn = false;
try {
  apparmorOn = fs.readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
} catch {
  /* not built in */
}

rootTest.and(need(!selinux, 'SELinux is on here, so the --process-label error cannot be shown'))(
  "--process-label without SELinux gets runc's error",
  async (t) => {
    const { b } = await running(t);
    const l = await b.tsrun(['exec', '--process-label', 'system_u:system_r:container_t:s0', b.id, 'true']);
    t.not(l.code, 0);
    t.regex(l.stderr, /selinux label is specified in config, but selinux is disabled or not supported/);
    await b.tsrun(['delete', '--force', b.id]);
  },
);

rootTest.and(need(!apparmorOn, 'AppArmor is on here: applying a profile is not implemented, so --apparmor is refused'))(
  '--apparmor is accepted with AppArmor off (ignored, as runc does)',
  async (t) => {
    const { b } = await running(t);
    const a = await b.tsrun(['exec', '--apparmor', 'docker-default', b.id, 'echo', 'apparmor-ignored']);
    t.is(a.code, 0, a.stderr);
    t.is(a.stdout.trim(), 'apparmor-ignored');
    await b.tsrun(['delete', '--force', b.id]);
  },
);
