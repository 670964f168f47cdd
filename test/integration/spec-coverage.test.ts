// What a process inside the container sees, for each part of config.json tsrun applies
// (runtime-spec config.md, config-linux.md), asserted from the probe's report (test/probe).
// Every container is started through the built CLI, as an engine would.
import type { ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Spec } from '../../src/spec/types.js';
import { makeBundle, type Bundle, type BundleContext, type RunOptions } from '../helpers/bundle.js';
import { parseProbeJson, parseProbeOutput, type ProbeMount, type ProbeReport } from '../helpers/rootfs.js';
import { need, needs, root } from '../helpers/skip.js';

const rootTest = needs(root('namespaces, mounts, devices'));

const TMPFS_MAGIC = 0x01021994;
type Mutate = (spec: Spec, ctx: BundleContext) => void | Promise<void>;

/** `tsrun run` of a bundle; returns stdout (the container's output) after checking exit 0. */
async function runOk(t: ExecutionContext, b: Bundle, extra: string[] = [], o: RunOptions = {}): Promise<string> {
  const r = await b.tsrun(['run', ...extra, '--bundle', b.dir, b.newId('run')], o);
  t.is(r.code, 0, `tsrun run failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

async function probeAll(t: ExecutionContext, mutate?: Mutate, extra: string[] = [], o: RunOptions = {}): Promise<{ report: ProbeReport; b: Bundle }> {
  const b = await makeBundle(t, mutate);
  const report = parseProbeOutput(await runOk(t, b, extra, o));
  t.deepEqual(report.errors, {}, 'the probe could read everything it reports');
  return { report, b };
}

function hostNs(name: string): number {
  return Number(/\[(\d+)\]/.exec(fs.readlinkSync(`/proc/self/ns/${name}`))![1]);
}

function mountAt(report: ProbeReport, mountPoint: string): ProbeMount {
  const all = (report.mounts ?? []).filter((m) => m.mountPoint === mountPoint);
  if (!all.length) throw new Error(`no mount at ${mountPoint}: ${(report.mounts ?? []).map((m) => m.mountPoint).join(' ')}`);
  return all[all.length - 1]; // the top one
}

const sorted = (a: readonly string[]) => [...a].sort();

rootTest('pid 1 in new pid, uts, ipc, net and mount namespaces; hostname and domainname', async (t) => {
  const { report } = await probeAll(t, (s) => {
    s.hostname = 'box-one';
    s.domainname = 'example.test';
  });
  t.is(report.pid, 1);
  t.is(report.ppid, 0);
  t.is(report.uts?.hostname, 'box-one');
  t.is(report.uts?.domainname, 'example.test');
  t.not(os.hostname(), 'box-one', 'the host name is untouched');
  for (const [inside, host] of [
    ['pid', 'pid'],
    ['uts', 'uts'],
    ['ipc', 'ipc'],
    ['net', 'net'],
    ['mnt', 'mnt'],
  ] as const) {
    t.not(report.namespaces[inside], hostNs(host), `${inside} namespace is new`);
  }
  for (const shared of ['user', 'cgroup', 'time'] as const) {
    t.is(report.namespaces[shared], hostNs(shared), `${shared} namespace is the host's (not requested)`);
  }
});

rootTest('user: uid, gid, additionalGids, umask; env and argv passed verbatim', async (t) => {
  const env = ['PATH=/usr/bin:/bin', 'FOO=bar baz', 'EMPTY=', 'MULTI=a=b=c'];
  const { report } = await probeAll(t, (s) => {
    s.process!.user = { uid: 1000, gid: 1000, additionalGids: [2000, 3000], umask: 0o027 };
    s.process!.env = env;
    s.process!.args = ['probe', 'all'];
  });
  t.like(report.ids, { uid: 1000, euid: 1000, suid: 1000, fsuid: 1000, gid: 1000, egid: 1000, sgid: 1000, fsgid: 1000 });
  t.deepEqual([...report.ids.groups].sort(), [2000, 3000]);
  t.is(report.umask, 0o027);
  // runc adds HOME from the container's /etc/passwd when the env has none (issue 14 item 6)
  t.deepEqual(report.env, [...env, 'HOME=/home/tester']);
  t.deepEqual(report.argv, ['probe', 'all']);
});

rootTest('capabilities: all five sets as configured, the bounding set drops the rest (root, noNewPrivileges)', async (t) => {
  // For uid 0, execve makes permitted = inheritable|bounding (capabilities(7), "root"), clipped
  // to the old permitted set by no_new_privs; effective = permitted. So effective equals
  // permitted here, as in every engine config.
  const caps = {
    bounding: ['CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETGID', 'CAP_SETUID'],
    permitted: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETUID'],
    effective: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETUID'],
    inheritable: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'],
    ambient: ['CAP_KILL'],
  };
  const { report } = await probeAll(t, (s) => {
    s.process!.capabilities = caps;
    s.process!.noNewPrivileges = true;
  });
  for (const set of ['bounding', 'permitted', 'effective', 'inheritable', 'ambient'] as const) {
    t.deepEqual(sorted(report.caps[set].names), sorted(caps[set]), `${set} set`);
  }
  t.true(report.noNewPrivs);
});

rootTest('capabilities of a non-root user survive execve through the ambient set; noNewPrivileges false', async (t) => {
  const { report } = await probeAll(t, (s) => {
    s.process!.user = { uid: 1000, gid: 1000 };
    s.process!.noNewPrivileges = false;
    s.process!.capabilities = {
      bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      permitted: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      effective: ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      inheritable: ['CAP_KILL', 'CAP_NET_BIND_SERVICE'],
      ambient: ['CAP_NET_BIND_SERVICE'],
    };
  });
  // capabilities(7): for a non-root execve of a file without capabilities, P' = ambient.
  t.deepEqual(report.caps.permitted.names, ['CAP_NET_BIND_SERVICE']);
  t.deepEqual(report.caps.effective.names, ['CAP_NET_BIND_SERVICE']);
  t.deepEqual(report.caps.ambient.names, ['CAP_NET_BIND_SERVICE']);
  t.deepEqual(sorted(report.caps.inheritable.names), ['CAP_KILL', 'CAP_NET_BIND_SERVICE']);
  t.deepEqual(sorted(report.caps.bounding.names), ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']);
  t.false(report.noNewPrivs);
});

rootTest('rlimits from the config, including values above 32 bits', async (t) => {
  const { report } = await probeAll(t, (s) => {
    s.process!.rlimits = [
      { type: 'RLIMIT_NOFILE', soft: 512, hard: 1000 },
      { type: 'RLIMIT_CORE', soft: 1048576, hard: 2097152 },
      { type: 'RLIMIT_FSIZE', soft: 2 ** 33, hard: 2 ** 34 + 5 },
      { type: 'RLIMIT_MSGQUEUE', soft: 4096, hard: 8192 },
    ];
  });
  t.deepEqual(report.rlimits.RLIMIT_NOFILE, { soft: 512, hard: 1000 });
  t.deepEqual(report.rlimits.RLIMIT_CORE, { soft: 1048576, hard: 2097152 });
  t.deepEqual(report.rlimits.RLIMIT_FSIZE, { soft: 2 ** 33, hard: 2 ** 34 + 5 });
  t.deepEqual(report.rlimits.RLIMIT_MSGQUEUE, { soft: 4096, hard: 8192 });
});

rootTest("RLIMIT_NOFILE defaults to the caller's limit when the config sets none (not Node's raised one)", async (t) => {
  const hard = Number(fs.readFileSync('/proc/self/limits', 'utf8').match(/Max open files\s+\d+\s+(\d+)/)![1]);
  const { report } = await probeAll(
    t,
    (s) => {
      delete s.process!.rlimits;
    },
    [],
    { prefix: ['prlimit', `--nofile=777:${hard}`, '--'] },
  );
  t.deepEqual(report.rlimits.RLIMIT_NOFILE, { soft: 777, hard });
});

rootTest('oomScoreAdj (a positive value)', async (t) => {
  const { report } = await probeAll(t, (s) => {
    s.process!.oomScoreAdj = 500;
  });
  t.is(report.oomScoreAdj, 500);
});

rootTest('mounts: tmpfs with flags and data, bind of a dir and a file read-only, propagation, rro via mount_setattr', async (t) => {
  let shared = '';
  const b = await makeBundle(t, (s, { dir, rootfs }) => {
    shared = path.join(dir, 'shared');
    fs.mkdirSync(shared);
    fs.writeFileSync(path.join(shared, 'inside'), 'from the host');
    fs.writeFileSync(path.join(dir, 'file.txt'), 'a bound file');
    fs.mkdirSync(path.join(rootfs, 'mnt/a'), { recursive: true });
    s.root!.readonly = false;
    s.process!.args = [
      'sh',
      '-c',
      'probe all; probe write-file /mnt/bdir/new x; probe write-file /mnt/t/new x; probe write-file /mnt/b/sub/new x; probe write-file /mnt/a/sub/new x; exit 0',
    ];
    s.mounts!.push(
      { destination: '/mnt/t', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'ro', 'size=1m', 'mode=750'] },
      { destination: '/mnt/bdir', type: 'bind', source: shared, options: ['bind', 'ro', 'nosuid'] },
      { destination: '/mnt/bfile', type: 'bind', source: 'file.txt', options: ['bind', 'ro', 'nodev'] },
      { destination: '/mnt/shr', type: 'tmpfs', source: 'tmpfs', options: ['shared'] },
      { destination: '/mnt/a/sub', type: 'tmpfs', source: 'tmpfs', options: ['size=64k'] },
      // rbind of a tree with a submount, made read-only recursively (mount_setattr AT_RECURSIVE).
      { destination: '/mnt/b', type: 'bind', source: path.join(rootfs, 'mnt/a'), options: ['rbind', 'rro', 'rnosuid'] },
    );
  });
  const lines = (await runOk(t, b)).trim().split('\n');
  const report = parseProbeOutput(lines[0]);
  const writes = lines.slice(1).map((l) => parseProbeJson<{ path: string; ok: boolean; errno: string | null }>(l));

  const tm = mountAt(report, '/mnt/t');
  t.is(tm.fstype, 'tmpfs');
  for (const f of ['ro', 'nosuid', 'nodev', 'noexec']) t.true(tm.options.includes(f), `/mnt/t has ${f}: ${tm.options}`);
  t.true(tm.superOptions.includes('size=1024k'), `size: ${tm.superOptions}`);
  t.true(tm.superOptions.includes('mode=750'), `mode: ${tm.superOptions}`);

  const bd = mountAt(report, '/mnt/bdir');
  t.true(bd.options.includes('ro') && bd.options.includes('nosuid'), `/mnt/bdir: ${bd.options}`);
  t.true(bd.root.endsWith('/shared'), `bind root ${bd.root}`);
  const bf = mountAt(report, '/mnt/bfile');
  t.true(bf.options.includes('ro') && bf.options.includes('nodev'), `/mnt/bfile: ${bf.options}`);
  t.true(bf.root.endsWith('/file.txt'), `file bind root ${bf.root}`);

  const shr = mountAt(report, '/mnt/shr');
  t.true(
    shr.propagation.some((p) => p.startsWith('shared:')),
    `/mnt/shr propagation: ${shr.propagation}`,
  );
  t.deepEqual(
    mountAt(report, '/mnt/t').propagation.filter((p) => p.startsWith('shared:')),
    [],
    'others stay private/slave',
  );

  for (const mp of ['/mnt/b', '/mnt/b/sub']) {
    const m = mountAt(report, mp);
    t.true(m.options.includes('ro') && m.options.includes('nosuid'), `${mp} is recursively ro,nosuid: ${m.options}`);
  }
  t.false(mountAt(report, '/mnt/a/sub').options.includes('ro'), 'the source of the rbind stays rw');

  const byPath = new Map(writes.map((w) => [w.path, w]));
  t.is(byPath.get('/mnt/bdir/new')?.errno, 'EROFS');
  t.is(byPath.get('/mnt/t/new')?.errno, 'EROFS');
  t.is(byPath.get('/mnt/b/sub/new')?.errno, 'EROFS');
  t.true(byPath.get('/mnt/a/sub/new')?.ok, 'the rw submount is writable');
  t.false(fs.existsSync(path.join(shared, 'new')), 'nothing written through the ro bind');
});

rootTest('maskedPaths show /dev/null or an empty read-only tmpfs; readonlyPaths are read-only', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.linux!.maskedPaths = [...s.linux!.maskedPaths!, '/proc/interrupts'];
    s.process!.args = ['sh', '-c', 'probe all; probe write-file /proc/sys/kernel/hostname x; probe write-file /proc/acpi/x y; exit 0'];
  });
  const lines = (await runOk(t, b)).trim().split('\n');
  const report = parseProbeOutput(lines[0]);
  const masked = report.paths['/proc/interrupts'];
  t.is(masked.stat?.type, 'char', 'a masked file is the null device');
  t.is(masked.stat?.major, 1);
  t.is(masked.stat?.minor, 3);
  t.is(masked.head, '', 'reads as empty');
  for (const dir of ['/proc/acpi', '/sys/firmware']) {
    const p = report.paths[dir];
    if (p.statErrno === 'ENOENT') {
      t.log(`${dir} does not exist on this kernel`);
      continue;
    }
    t.is(p.fsMagic, TMPFS_MAGIC, `${dir} is covered by a tmpfs`);
    t.is(p.entries, 0, `${dir} is empty`);
    t.true(p.readOnly, `${dir} is read-only`);
  }
  for (const ro of ['/proc/sys', '/proc/bus', '/proc/fs', '/proc/irq']) {
    if (report.paths[ro].statErrno === 'ENOENT') continue;
    t.true(report.paths[ro].readOnly, `${ro} is read-only`);
  }
  const writes = lines.slice(1).map((l) => parseProbeJson<{ path: string; errno: string | null }>(l));
  t.is(writes[0].errno, 'EROFS', 'writing under a readonlyPath fails');
  t.not(writes[1].errno, null, 'writing into a masked dir fails');

  // The control: without the mask, the same file has content.
  const c = await makeBundle(t);
  const control = parseProbeOutput(await runOk(t, c));
  t.not(control.paths['/proc/interrupts'].head, '', '/proc/interrupts has content when not masked');
});

rootTest('root.readonly makes / read-only; without it / is writable', async (t) => {
  const ro = await makeBundle(t, (s) => {
    s.root!.readonly = true;
    s.process!.args = ['sh', '-c', 'probe mounts; probe write-file /newfile x; exit 0'];
  });
  const [roMounts, roWrite] = (await runOk(t, ro)).trim().split('\n');
  t.true(mountAt(parseProbeOutput2(roMounts), '/').options.includes('ro'));
  t.is(parseProbeJson<{ errno: string }>(roWrite).errno, 'EROFS');

  const rw = await makeBundle(t, (s) => {
    s.root!.readonly = false;
    s.process!.args = ['sh', '-c', 'probe mounts; probe write-file /newfile x; exit 0'];
  });
  const [rwMounts, rwWrite] = (await runOk(t, rw)).trim().split('\n');
  t.true(mountAt(parseProbeOutput2(rwMounts), '/').options.includes('rw'));
  t.true(parseProbeJson<{ ok: boolean }>(rwWrite).ok);
  t.is(fs.readFileSync(path.join(rw.rootfs, 'newfile'), 'utf8'), 'x', 'the write landed in the rootfs');
});

/** A report with only some sections (probe SECTION...). */
function parseProbeOutput2(line: string): ProbeReport {
  return parseProbeJson<ProbeReport>(line);
}

rootTest('devices: default nodes, linux.devices with mode/uid/gid, /dev symlinks', async (t) => {
  const { report } = await probeAll(t, (s) => {
    s.linux!.devices = [
      { path: '/dev/tsrun-null', type: 'c', major: 1, minor: 3, fileMode: 0o640, uid: 1000, gid: 2000 },
      { path: '/dev/sub/zero2', type: 'c', major: 1, minor: 5, fileMode: 0o600, uid: 0, gid: 0 },
    ];
  });
  const dev = new Map(report.dev.map((d) => [d.path, d]));
  for (const [p, major, minor] of [
    ['/dev/null', 1, 3],
    ['/dev/zero', 1, 5],
    ['/dev/full', 1, 7],
    ['/dev/random', 1, 8],
    ['/dev/urandom', 1, 9],
    ['/dev/tty', 5, 0],
  ] as const) {
    t.like(dev.get(p), { type: 'char', major, minor, mode: 0o666, uid: 0, gid: 0 }, p);
  }
  t.like(dev.get('/dev/tsrun-null'), { type: 'char', major: 1, minor: 3, mode: 0o640, uid: 1000, gid: 2000 });
  t.like(dev.get('/dev/sub/zero2'), { type: 'char', major: 1, minor: 5, mode: 0o600 });
  for (const [p, target] of [
    ['/dev/fd', '/proc/self/fd'],
    ['/dev/stdin', '/proc/self/fd/0'],
    ['/dev/stdout', '/proc/self/fd/1'],
    ['/dev/stderr', '/proc/self/fd/2'],
    ['/dev/ptmx', 'pts/ptmx'],
  ] as const) {
    t.like(dev.get(p), { type: 'symlink', target }, p);
  }
  t.like(dev.get('/dev/pts/ptmx'), { type: 'char', major: 5, minor: 2 });
  const hostNull = fs.statSync('/dev/null');
  t.is(hostNull.uid, 0, 'the host /dev/null keeps its owner');
  t.is(hostNull.mode & 0o777, 0o666);
});

rootTest('sysctl: net.ipv4.ip_forward in the new netns and kernel.shmmax in the new ipc ns; the host keeps its values', async (t) => {
  const hostFwd = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim();
  const hostShm = fs.readFileSync('/proc/sys/kernel/shmmax', 'utf8').trim();
  const want = { fwd: hostFwd === '1' ? '0' : '1', shm: '123456789' };
  const b = await makeBundle(t, (s) => {
    s.linux!.sysctl = { 'net.ipv4.ip_forward': want.fwd, 'kernel.shmmax': want.shm };
    s.process!.args = ['probe', 'sysctl', 'net.ipv4.ip_forward', 'kernel.shmmax'];
  });
  const out = parseProbeJson<{ sysctl: Record<string, string | null> }>(await runOk(t, b));
  t.is(out.sysctl['net.ipv4.ip_forward'], want.fwd);
  t.is(out.sysctl['kernel.shmmax'], want.shm);
  t.is(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), hostFwd);
  t.is(fs.readFileSync('/proc/sys/kernel/shmmax', 'utf8').trim(), hostShm);
});

rootTest('no leaked fds: only 0, 1, 2 even when tsrun has more open', async (t) => {
  const b = await makeBundle(t);
  const extra = fs.openSync(path.join(b.dir, 'extra'), 'w');
  t.teardown(() => fs.closeSync(extra));
  const report = parseProbeOutput(await runOk(t, b, [], { extraFds: [extra] }));
  t.deepEqual(
    report.fds.map((f) => f.fd),
    [0, 1, 2],
    JSON.stringify(report.fds),
  );
});

rootTest('--preserve-fds N passes fds 3..3+N-1 and no others', async (t) => {
  const b = await makeBundle(t);
  const files = ['p3', 'p4', 'p5'].map((n) => path.join(b.dir, n));
  const fds = files.map((f) => fs.openSync(f, 'w'));
  t.teardown(() => fds.forEach((fd) => fs.closeSync(fd)));
  const report = parseProbeOutput(await runOk(t, b, ['--preserve-fds', '2'], { extraFds: fds }));
  t.deepEqual(
    report.fds.map((f) => f.fd),
    [0, 1, 2, 3, 4],
    JSON.stringify(report.fds),
  );
  const byFd = new Map(report.fds.map((f) => [f.fd, f]));
  // The container sees the host path of a file outside its root as it was opened.
  t.true(byFd.get(3)?.target?.endsWith('/p3'), `fd 3 → ${byFd.get(3)?.target}`);
  t.true(byFd.get(4)?.target?.endsWith('/p4'), `fd 4 → ${byFd.get(4)?.target}`);
  t.false(byFd.get(3)?.cloexec, 'preserved fds survive execve');
});

rootTest('time namespace: monotonic and boottime offsets', async (t) => {
  const mono = 86400;
  const boot = 2 * 86400;
  const { report } = await probeAll(t, (s) => {
    s.linux!.namespaces!.push({ type: 'time' });
    s.linux!.timeOffsets = { monotonic: { secs: mono, nanosecs: 0 }, boottime: { secs: boot, nanosecs: 0 } };
  });
  const hostMono = Number(process.hrtime.bigint()) / 1e9;
  const hostBoot = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  t.not(report.namespaces.time, hostNs('time'));
  const dMono = report.clocks.monotonic! - hostMono;
  const dBoot = report.clocks.boottime! - hostBoot;
  t.true(Math.abs(dMono - mono) < 30, `monotonic differs by ${dMono}, want ${mono}`);
  t.true(Math.abs(dBoot - boot) < 30, `boottime differs by ${dBoot}, want ${boot}`);
});

rootTest('joined namespaces: a second container joins the first one’s network, uts, ipc and pid namespaces by path', async (t) => {
  const first = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'signals'];
    s.hostname = 'first-box';
  });
  const r = await first.tsrun(['run', '-d', '--bundle', first.dir, first.id]);
  t.is(r.code, 0, r.stderr);
  const { pid } = (await first.state()) as { pid: number };
  const nsOf = (type: string) => Number(/\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${pid}/ns/${type}`))![1]);

  const { report } = await probeAll(t, (s) => {
    delete s.hostname;
    s.linux!.namespaces = [
      { type: 'network', path: `/proc/${pid}/ns/net` },
      { type: 'uts', path: `/proc/${pid}/ns/uts` },
      { type: 'ipc', path: `/proc/${pid}/ns/ipc` },
      { type: 'pid', path: `/proc/${pid}/ns/pid` },
      { type: 'mount' },
    ];
  });
  t.is(report.namespaces.net, nsOf('net'));
  t.is(report.namespaces.uts, nsOf('uts'));
  t.is(report.namespaces.ipc, nsOf('ipc'));
  t.is(report.namespaces.pid, nsOf('pid'));
  t.not(report.namespaces.mnt, nsOf('mnt'), 'its own mount namespace');
  t.is(report.uts?.hostname, 'first-box', 'the joined uts namespace carries the first one’s hostname');
  t.true(report.pid > 1, `a joined pid namespace already has its pid 1 (got ${report.pid})`);
});

rootTest('user namespace with uid/gid mappings: uid 0 inside, maps as configured', async (t) => {
  const b = await makeBundle(t, (s, { dir }) => {
    // The mapped root (host uid 100000) must be able to reach the rootfs.
    fs.chmodSync(dir, 0o755);
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    s.process!.args = ['sh', '-c', 'probe ids namespaces; probe cat /proc/self/uid_map; probe cat /proc/self/gid_map'];
  });
  const [json, ...maps] = (await runOk(t, b)).trim().split('\n');
  const report = parseProbeJson<ProbeReport>(json);
  t.like(report.ids, { uid: 0, euid: 0, gid: 0, egid: 0 });
  t.not(report.namespaces.user, hostNs('user'));
  t.deepEqual(
    maps.map((l) => l.trim().split(/\s+/).map(Number)),
    [
      [0, 100000, 65536],
      [0, 200000, 65536],
    ],
  );
});

rootTest('cwd is created when missing', async (t) => {
  const { report, b } = await probeAll(t, (s) => {
    s.process!.cwd = '/work/deep/dir';
  });
  t.is(report.cwd, '/work/deep/dir');
  t.true(fs.statSync(path.join(b.rootfs, 'work/deep/dir')).isDirectory());
});

rootTest('args[0] is looked up in the container PATH', async (t) => {
  const { report } = await probeAll(t, (s, { rootfs }) => {
    fs.mkdirSync(path.join(rootfs, 'opt/tools'), { recursive: true });
    fs.copyFileSync(path.join(rootfs, 'probe'), path.join(rootfs, 'opt/tools/myprobe'));
    fs.chmodSync(path.join(rootfs, 'opt/tools/myprobe'), 0o755);
    s.process!.env = ['PATH=/nonexistent:/opt/tools'];
    s.process!.args = ['myprobe', 'all'];
  });
  t.deepEqual(report.argv, ['myprobe', 'all']);
});

for (const [what, args, env, words] of [
  ['not in PATH', ['no-such-tool'], ['PATH=/bin:/usr/bin'], 'exec: "no-such-tool": executable file not found in $PATH'],
  ['in PATH only on the host', ['node'], ['PATH=/bin'], 'executable file not found in $PATH'],
  ['absolute and missing', ['/no/such/binary'], ['PATH=/bin'], 'no such file or directory'],
] as const) {
  for (const verb of ['create', 'run'] as const) {
    rootTest(`a missing binary (${what}) fails ${verb} with runc's words`, async (t) => {
      const b = await makeBundle(t, (s) => {
        s.process!.args = [...args];
        s.process!.env = [...env];
      });
      const r = await b.tsrun([verb, '--bundle', b.dir, b.id]);
      t.not(r.code, 0);
      t.not(r.code, 127, 'not a silent exit 127 from the container');
      // The text log escapes quotes: compare without them.
      const plain = r.stderr.replace(/\\"/g, '"').toLowerCase();
      t.true(plain.includes(words.toLowerCase()), `stderr: ${r.stderr}`);
      t.false(fs.existsSync(path.join(b.root, b.id)), 'nothing left in the state dir');
    });
  }
}

rootTest('a failing mount names the op and the errno', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.mounts!.push({ destination: '/mnt/x', type: 'nosuchfs', source: 'none' });
  });
  const r = await b.tsrun(['create', '--bundle', b.dir, b.id]);
  t.not(r.code, 0);
  t.true(r.stderr.includes('mount nosuchfs on /mnt/x'), `names the op: ${r.stderr}`);
  t.true(/no such device/i.test(r.stderr), `names the errno (ENODEV): ${r.stderr}`);
  t.false(fs.existsSync(path.join(b.root, b.id)));
});

rootTest('--no-pivot: MS_MOVE + chroot instead of pivot_root', async (t) => {
  const { report, b } = await probeAll(t, undefined, ['--no-pivot']);
  t.is(report.pid, 1);
  t.is(report.cwd, '/');
  const root = mountAt(report, '/');
  t.true(root.root.endsWith(path.basename(b.dir) + '/rootfs'), `/ is the bundle rootfs: ${root.root}`);
  t.true(root.options.includes('ro'), 'root.readonly still applies');
});

// Socket activation (sd_listen_fds(3)): LISTEN_FDS counts only when LISTEN_PID is tsrun's own pid;
// the fds then follow stdio and the container gets LISTEN_FDS=n, LISTEN_PID=1 (runc utils_linux.go).
rootTest('LISTEN_FDS meant for tsrun (LISTEN_PID = its pid) passes the fds and tells the container', async (t) => {
  const b = await makeBundle(t);
  const fd = fs.openSync(path.join(b.dir, 'listen'), 'w');
  t.teardown(() => fs.closeSync(fd));
  const report = parseProbeOutput(
    await runOk(t, b, [], {
      extraFds: [fd],
      // sh sets LISTEN_PID to its own pid, which bin/tsrun (and the node it execs) keeps.
      prefix: ['sh', '-c', 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"'],
    }),
  );
  t.deepEqual(
    report.fds.map((f) => f.fd),
    [0, 1, 2, 3],
  );
  t.true(report.fds[3].target?.endsWith('/listen'));
  t.true(report.env.includes('LISTEN_FDS=1'), report.env.join(' '));
  t.true(report.env.includes('LISTEN_PID=1'), report.env.join(' '));
});

rootTest('LISTEN_FDS meant for another process (LISTEN_PID differs) is ignored: no fd leaks in', async (t) => {
  const b = await makeBundle(t);
  const fd = fs.openSync(path.join(b.dir, 'not-for-us'), 'w');
  t.teardown(() => fs.closeSync(fd));
  const report = parseProbeOutput(
    await runOk(t, b, [], {
      extraFds: [fd],
      env: { ...process.env, LISTEN_FDS: '1', LISTEN_PID: '1' },
    }),
  );
  t.deepEqual(
    report.fds.map((f) => f.fd),
    [0, 1, 2],
    JSON.stringify(report.fds),
  );
  t.false(report.env.some((e) => e.startsWith('LISTEN_')));
});

/** Where tsrun puts a container without cgroupsPath: <our cgroup (or its parent if a scope)>/<id>. */
function expectedCgroup(id: string): string {
  let own = fs
    .readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'))!
    .slice(3);
  if (own.endsWith('.scope')) own = path.posix.dirname(own);
  return path.posix.join(own, id);
}

const unifiedMounted = fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(' - cgroup2 ');
const cgroupTest = rootTest.and(need(unifiedMounted, 'no cgroup2 hierarchy is mounted'));

cgroupTest('cgroup: the init is placed in <own cgroup>/<id>; without a cgroup namespace /sys/fs/cgroup is its own directory', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'cgroup', 'mounts', 'namespaces'];
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.is(r.code, 0, r.stderr);
  const report = parseProbeJson<ProbeReport>(r.stdout);
  const want = expectedCgroup(b.id);
  t.is(report.cgroup?.find((c) => c.hierarchy === 0)?.path, want, 'the host path is visible without a cgroup namespace');
  const m = mountAt(report, '/sys/fs/cgroup');
  t.is(m.fstype, 'cgroup2');
  t.is(m.root, want, 'only the container’s own directory is mounted');
  t.true(m.options.includes('ro'));
  t.is(report.namespaces.cgroup, hostNs('cgroup'));
});

cgroupTest('cgroup namespace: the container sees itself at / and a fresh cgroup2 mount', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.linux!.namespaces!.push({ type: 'cgroup' });
    s.process!.args = ['probe', 'cgroup', 'mounts', 'namespaces'];
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.is(r.code, 0, r.stderr);
  const report = parseProbeJson<ProbeReport>(r.stdout);
  t.is(report.cgroup?.find((c) => c.hierarchy === 0)?.path, '/');
  t.not(report.namespaces.cgroup, hostNs('cgroup'));
  const m = mountAt(report, '/sys/fs/cgroup');
  t.is(m.fstype, 'cgroup2');
  t.is(m.root, '/');
});
