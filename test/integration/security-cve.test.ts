// Regression tests for runc's CVE record (issue 7 "Security record"): each case builds the hostile
// bundle of the advisory and checks tsrun does not repeat the bug. Each test says how it would
// have failed. Mount-destination symlink escapes in depth are in escape.test.ts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeBundle, mountsUnder, uniqueId, waitFor } from '../helpers/bundle.js';
import { parseProbeJson, type ProbeOpenOutput, type ProbeReport } from '../helpers/rootfs.js';
import { installSecurityTool, scResults } from '../helpers/sc-tool.js';
import { needs, root } from '../helpers/skip.js';

const rootTest = needs(root());

const EACCES = 13;

rootTest("CVE-2019-5736: a container process cannot reach the runtime binary through /proc/<init>/exe or the init's fds", async (t) => {
  // While created, the init is parked in a copy of the runtime: its exe is the host's node or bun
  // (bin/tsrun's engine). Before the fix (the child was dumpable), an exec'd process could open
  // /proc/1/exe read-only (it got an fd to the host /usr/bin/node; O_WRONLY was ETXTBSY only while
  // some node ran) and reopen /proc/self/fd/N for writing once no node ran: the host binary
  // overwritten. It could also
  // read /proc/1/fd/* (the exec.fifo, the sync socket). Now the runtime copy is non-dumpable.
  const b = await makeBundle(t, (s, { rootfs }) => {
    installSecurityTool(rootfs);
    s.process!.args = ['sleep', '60'];
  });
  t.is((await b.tsrun(['create', '--bundle', b.dir, b.id])).code, 0);
  const { pid } = (await b.state()) as { pid: number };
  const runtimeExe = fs.readlinkSync(`/proc/${pid}/exe`);
  t.regex(runtimeExe, /\/(node|bun)[^/]*$/, 'precondition: the parked init is a copy of the runtime (node or bun)');

  const ro = await b.tsrun(['exec', b.id, '/sc', 'openfd', '/proc/1/exe', 'r']);
  t.is(ro.code, 0, ro.stderr);
  t.deepEqual(scResults(ro.stdout)[0], [-1, EACCES], 'open(/proc/1/exe, O_RDONLY) is refused');
  for (const flags of ['w', 'rw']) {
    const w = await b.tsrun(['exec', b.id, 'probe', 'open', '/proc/1/exe', flags]);
    const o = parseProbeJson<ProbeOpenOutput>(w.stdout);
    t.false(o.ok, `open(/proc/1/exe, ${flags}) fails`);
    t.is(o.errno, 'EACCES', 'because the link is not followable, not merely ETXTBSY');
  }
  const ls = await b.tsrun([
    'exec',
    b.id,
    'sh',
    '-c',
    'for f in /proc/1/fd/*; do readlink $f || echo "denied $f"; done; cat /proc/1/maps >/dev/null 2>&1 || echo maps-denied',
  ]);
  t.false(/exec\.fifo|socket:|\/dev\/null|\.out|\.err/.test(ls.stdout), `no fd of the init is readable: ${ls.stdout}`);
  t.regex(ls.stdout, /maps-denied/, '/proc/1/maps (paths of the runtime and its addon) is not readable either');

  t.is((await b.tsrun(['start', b.id])).code, 0);
  await b.waitStatus(b.id, 'running');
  await waitFor(() => fs.readlinkSync(`/proc/${pid}/exe`) !== runtimeExe, { timeoutMs: 10_000, what: () => `the init ${pid} to execve its program` });
  const after = await b.tsrun(['exec', b.id, 'sh', '-c', 'readlink /proc/1/exe; readlink /proc/self/exe']);
  t.deepEqual(after.stdout.trim().split('\n'), ['/bin/busybox', '/bin/busybox'], "after execve, /proc/self/exe is the container's binary");
  t.is((await b.tsrun(['delete', '--force', b.id])).code, 0);
});

rootTest('CVE-2019-5736 (library, helper spawn): the init parked in tsrun-init does not expose that binary either', async (t) => {
  const { Runtime } = await import('../../src/index.js');
  const { helperPath } = await import('../../src/process/spawn.js');
  const { ensureTestRootfs } = await import('../helpers/rootfs.js');
  t.true(fs.existsSync(helperPath()), `${helperPath()} is built by npm ci`);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-cve5736-'));
  const rt = new Runtime({ root, spawn: 'helper' });
  const id = uniqueId('cve5736');
  t.teardown(async () => {
    await rt.delete(id, { force: true, missingOk: true }).catch(() => {});
    fs.rmSync(root, { recursive: true, force: true });
  });
  const c = await rt.create(id, { rootfs: await ensureTestRootfs(), args: ['sleep', '60'] });
  t.is(fs.readlinkSync(`/proc/${c.pid}/exe`), '/memfd:tsrun-init (deleted)', 'the parked init runs a sealed copy of tsrun-init, not the file');
  for (const flags of ['r', 'w']) {
    const e = await c.exec({ args: ['probe', 'open', '/proc/1/exe', flags] });
    const out = await e.output();
    const o = parseProbeJson<ProbeOpenOutput>(out.stdout);
    t.false(o.ok, `open(/proc/1/exe, ${flags}) fails`);
    t.is(o.errno, 'EACCES');
  }
});

rootTest('CVE-2019-5736 with CAP_SYS_PTRACE and no user namespace: the init runs a sealed copy, not a host binary', async (t) => {
  // Non-dumpable does not stop a process holding CAP_SYS_PTRACE over the initial user namespace:
  // before this defence, such a container opened /proc/1/exe of its parked init and got the host's
  // node binary (the first test's precondition), free to rewrite it once no node ran. Now such
  // containers start through tsrun-init executed from a sealed memfd: the link leads to the copy.
  const b = await makeBundle(t, (s, { rootfs }) => {
    installSecurityTool(rootfs);
    s.process!.args = ['sleep', '60'];
    for (const set of ['bounding', 'effective', 'permitted'] as const) s.process!.capabilities![set]!.push('CAP_SYS_PTRACE');
  });
  t.is((await b.tsrun(['create', '--bundle', b.dir, b.id])).code, 0);
  const { pid } = (await b.state()) as { pid: number };
  t.is(fs.readlinkSync(`/proc/${pid}/exe`), '/memfd:tsrun-init (deleted)', 'the parked init is the sealed copy');
  const host = [process.execPath, path.resolve('build/Release/tsrun-init')].map((f) => fs.statSync(f)).map((st) => `${st.dev} ${st.ino}`);
  const seen = await b.tsrun(['exec', b.id, 'sh', '-c', 'stat -L -c "%d %i" /proc/1/exe; printf x >> /proc/1/exe && echo WRITTEN || echo refused']);
  t.is(seen.code, 0, seen.stderr);
  const [devIno, verdict] = seen.stdout.trim().split('\n');
  t.regex(devIno ?? '', /^\d+ \d+$/, `CAP_SYS_PTRACE lets the container follow the link: ${seen.stdout} ${seen.stderr}`);
  t.false(host.includes(devIno!), "what it reaches is neither the host's node nor tsrun-init");
  t.is(verdict, 'refused', 'and it cannot be written (executing, and sealed)');
  t.is((await b.tsrun(['start', b.id])).code, 0);
  t.is((await b.tsrun(['delete', '--force', b.id])).code, 0);
});

rootTest('CVE-2024-21626: only 0, 1, 2 (and preserved fds) reach the init and exec; a cwd through /proc/self/fd/N is refused', async (t) => {
  // runc 1.1.11 leaked an fd of the host /sys/fs/cgroup into the init; cwd /proc/self/fd/7 then
  // put the container's working directory on the host. Here: tsrun itself holds extra fds, the
  // container lists its own, and every small N is tried as a cwd, for the init and for exec.
  const b = await makeBundle(t, (s) => {
    // Long enough for the eleven execs below under qemu TCG too (each takes seconds there).
    s.process!.args = ['sh', '-c', 'ls /proc/self/fd; sleep 600'];
  });
  const extra = [0, 1, 2, 3].map((i) => fs.openSync(path.join(b.dir, `held-${i}`), 'w'));
  t.teardown(() => extra.forEach((fd) => fs.closeSync(fd)));
  const r = await b.tsrun(['run', '-d', '--preserve-fds', '1', '--bundle', b.dir, b.id], { extraFds: extra });
  t.is(r.code, 0, r.stderr);
  await waitFor(
    () => /^2$/m.test(b.output(r)),
    10_000,
    () => `the init's fd list: ${b.output(r)}`,
  );
  const initFds = b
    .output(r)
    .split('\n')
    .filter((l) => /^\d+$/.test(l))
    .map(Number);
  t.deepEqual(
    initFds.filter((n) => n !== 4),
    [0, 1, 2, 3],
    `init: stdio, the preserved fd 3 (and ls's own fd): ${initFds.join(' ')}`,
  );

  const e = await b.tsrun(['exec', b.id, 'probe', 'fds'], { extraFds: extra });
  t.is(e.code, 0, e.stderr);
  t.deepEqual(
    parseProbeJson<{ fds: { fd: number }[] }>(e.stdout).fds.map((f) => f.fd),
    [0, 1, 2],
    'exec: stdio only',
  );

  for (let n = 3; n <= 12; n++) {
    const x = await b.tsrun(['exec', '--cwd', `/proc/self/fd/${n}`, b.id, 'probe', 'cwd']);
    if (x.code === 0) {
      const cwd = parseProbeJson<{ cwd: string }>(x.stdout).cwd;
      t.false(cwd === null || cwd.startsWith('(unreachable)'), `exec --cwd /proc/self/fd/${n} left the container: ${cwd}`);
    } else {
      t.regex(x.stderr, new RegExp(`/proc/self/fd/${n}`), `exec --cwd /proc/self/fd/${n} refused, naming it: ${x.stderr.trim()}`);
    }
  }
  await b.tsrun(['delete', '--force', b.id]);
  for (const n of [3, 4, 5, 6, 7, 8]) {
    b.spec.process!.cwd = `/proc/self/fd/${n}`;
    b.spec.process!.args = ['probe', 'cwd'];
    b.writeSpec();
    const c = await b.tsrun(['run', '--bundle', b.dir, b.newId(`cwd${n}`)], { extraFds: extra });
    t.not(c.code, 0, `cwd /proc/self/fd/${n} is refused for the init: ${c.stdout}`);
    t.regex(c.stderr, /cwd \/proc\/self\/fd\/\d+/);
  }
});

rootTest('CVE-2021-30465: a mount destination that is a symlink to a host directory lands inside the rootfs', async (t) => {
  // runc mounted on the path after resolving it once; a symlink (swapped in, or planted) sent the
  // mount to the host. tsrun resolves destinations with openat2(RESOLVE_IN_ROOT) and mounts on the fd.
  let hostDir = '';
  const b = await makeBundle(t, (s, { rootfs, dir }) => {
    hostDir = path.join(dir, 'host-target');
    fs.mkdirSync(hostDir);
    fs.writeFileSync(path.join(hostDir, 'host-file'), 'host');
    fs.mkdirSync(path.join(rootfs, hostDir), { recursive: true });
    fs.symlinkSync(hostDir, path.join(rootfs, 'abs-link'));
    fs.symlinkSync(`../../../../../../../..${hostDir}`, path.join(rootfs, 'rel-link'));
    s.mounts!.push(
      { destination: '/abs-link', type: 'tmpfs', source: 'tmpfs', options: ['size=64k'] },
      { destination: '/rel-link', type: 'tmpfs', source: 'tmpfs', options: ['size=64k'] },
    );
    s.process!.args = ['sh', '-c', `grep -c " ${hostDir} " /proc/self/mountinfo; ls /abs-link /rel-link`];
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.is(mountsUnder([hostDir]).length, 0, 'nothing was mounted on the host directory');
  t.deepEqual(fs.readdirSync(hostDir), ['host-file']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^2$/m, 'both tmpfs mounts are in the container (on the same directory inside the rootfs)');
  t.false(r.stdout.includes('host-file'), 'the container never sees the host directory');
});

rootTest('CVE-2025-31133: a /dev/null that is not the null device (a regular file, or a symlink to a procfs file) makes masking refuse', async (t) => {
  // runc bind-mounted whatever /dev/null was over the masked paths; a container that made it a
  // symlink to /proc/sys/kernel/core_pattern got that file bound writable. tsrun opens /dev/null
  // with O_NOFOLLOW, checks it is char 1:3, and binds that fd.
  for (const kind of ['file', 'symlink'] as const) {
    const b = await makeBundle(t, (s, { dir }) => {
      const fake = path.join(dir, 'fake-dev');
      fs.mkdirSync(fake);
      if (kind === 'file') fs.writeFileSync(path.join(fake, 'null'), 'not the null device');
      else fs.symlinkSync('/proc/sys/kernel/core_pattern', path.join(fake, 'null'));
      s.mounts = s.mounts!.map((m) => (m.destination === '/dev' ? { destination: '/dev', type: 'bind', source: fake, options: ['rbind', 'rw'] } : m));
      s.linux!.maskedPaths = ['/proc/kcore', '/proc/sys/kernel/core_pattern'];
    });
    const core = fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8');
    const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
    t.not(r.code, 0, `${kind}: create fails`);
    t.regex(r.stderr, /mask \/proc\/[a-z_/]+: \/dev\/null is not the null device/, `${kind}: ${r.stderr}`);
    t.is(fs.readFileSync('/proc/sys/kernel/core_pattern', 'utf8'), core, 'the host core_pattern is unchanged');
  }
});

rootTest('CVE-2025-52565: /dev/console as a symlink (rootfs without a /dev tmpfs) is refused, not bound through', async (t) => {
  // runc bind-mounted the pty slave on /dev/console by path; a symlink there redirected the bind
  // onto any file (e.g. /proc/sys/kernel/core_pattern). tsrun creates it with O_NOFOLLOW.
  const b = await makeBundle(t, (s, { rootfs }) => {
    s.mounts = s.mounts!.filter((m) => m.destination !== '/dev');
    // Masking needs /dev/null, which tsrun creates only in a /dev tmpfs of its own.
    s.linux!.maskedPaths = [];
    fs.mkdirSync(path.join(rootfs, 'dev', 'pts'), { recursive: true });
    fs.mkdirSync(path.join(rootfs, 'dev', 'shm'), { recursive: true });
    fs.mkdirSync(path.join(rootfs, 'dev', 'mqueue'), { recursive: true });
    fs.symlinkSync('pts/ptmx', path.join(rootfs, 'dev', 'ptmx'));
    fs.symlinkSync('/proc/sys/kernel/core_pattern', path.join(rootfs, 'dev', 'console'));
    s.process!.terminal = true;
  });
  const { listenForFds } = await import('../helpers/unix-socket.js');
  const rx = await listenForFds(path.join(b.dir, 'console.sock'));
  t.teardown(() => rx.close());
  const r = await b.tsrun(['create', '--console-socket', rx.path, '--bundle', b.dir, b.id]);
  t.not(r.code, 0, 'create fails');
  t.regex(r.stderr, /console: too many symbolic links/, r.stderr);
  t.true(fs.lstatSync(path.join(b.rootfs, 'dev', 'console')).isSymbolicLink(), 'the link was left alone');
  t.false(fs.readFileSync('/proc/self/mountinfo', 'utf8').includes('core_pattern'), 'nothing bound on core_pattern');
});

rootTest('CVE-2025-52881: sysctl and oom_score_adj writes refuse a /proc that is not procfs', async (t) => {
  // runc wrote sysctls by path; with /proc not a procfs (or a racing bind over it) the write went
  // to an attacker-chosen file. tsrun opens the file and checks fstatfs is PROC_SUPER_MAGIC.
  for (const what of ['sysctl', 'oom_score_adj'] as const) {
    const b = await makeBundle(t, (s, { rootfs }) => {
      s.mounts = s.mounts!.filter((m) => m.type !== 'proc');
      s.linux!.maskedPaths = [];
      s.linux!.readonlyPaths = [];
      fs.mkdirSync(path.join(rootfs, 'proc/sys/net/ipv4'), { recursive: true });
      fs.writeFileSync(path.join(rootfs, 'proc/sys/net/ipv4/ip_forward'), 'fake\n');
      fs.mkdirSync(path.join(rootfs, 'proc/self'), { recursive: true });
      fs.writeFileSync(path.join(rootfs, 'proc/self/oom_score_adj'), 'fake\n');
      s.root!.readonly = false; // so that the open for writing gets as far as the procfs check
      if (what === 'sysctl') s.linux!.sysctl = { 'net.ipv4.ip_forward': '1' };
      else s.process!.oomScoreAdj = 100;
    });
    const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
    t.not(r.code, 0, `${what}: create fails`);
    t.regex(
      r.stderr,
      what === 'sysctl' ? /sysctl net\.ipv4\.ip_forward: the target is not on procfs/ : /oom_score_adj .*: the target is not on procfs/,
      r.stderr,
    );
    t.is(fs.readFileSync(path.join(b.rootfs, 'proc/sys/net/ipv4/ip_forward'), 'utf8'), 'fake\n', 'the fake file was not written');
    t.is(fs.readFileSync(path.join(b.rootfs, 'proc/self/oom_score_adj'), 'utf8'), 'fake\n');
  }
});

rootTest('CVE-2019-16884 / CVE-2023-27561: a fake /proc cannot defeat masking', async (t) => {
  // runc let a rootfs /proc that was a symlink (or a volume mounted over /proc) make procfs
  // writes and LSM set-up land on fake files. tsrun: proc is never mounted through a symlink, and
  // masking applies to whatever the path is when masks are applied.
  const linked = await makeBundle(t, (s, { rootfs }) => {
    fs.rmSync(path.join(rootfs, 'proc'), { recursive: true });
    fs.mkdirSync(path.join(rootfs, 'fakeproc'));
    fs.symlinkSync('fakeproc', path.join(rootfs, 'proc'));
  });
  const r1 = await linked.tsrun(['run', '--bundle', linked.dir, linked.id]);
  t.not(r1.code, 0, 'proc is not mounted through a symlink, even one inside the rootfs');
  t.regex(r1.stderr, /proc/);

  const covered = await makeBundle(t, (s, { dir }) => {
    const fake = path.join(dir, 'fake-proc');
    fs.mkdirSync(path.join(fake, 'sys'), { recursive: true });
    fs.writeFileSync(path.join(fake, 'kcore'), 'SECRET-FROM-FAKE-PROC');
    s.mounts!.push({ destination: '/proc', type: 'bind', source: fake, options: ['rbind', 'rw'] });
    s.process!.args = ['probe', 'stat', '/proc/kcore', '/proc/sys'];
  });
  const r2 = await covered.tsrun(['run', '--bundle', covered.dir, covered.id]);
  if (r2.code !== 0) {
    t.log(`refused: ${r2.stderr}`);
    t.pass('create failed rather than leave anything unmasked');
  } else {
    const paths = parseProbeJson<{ paths: Record<string, { stat: { type: string; major: number | null; minor: number | null }; readOnly: boolean }> }>(
      r2.stdout,
    ).paths;
    t.is(paths['/proc/kcore'].stat.type, 'char', '/proc/kcore is still masked with /dev/null');
    t.deepEqual([paths['/proc/kcore'].stat.major, paths['/proc/kcore'].stat.minor], [1, 3]);
    t.true(paths['/proc/sys'].readOnly, '/proc/sys is still read-only');
    t.false(r2.stdout.includes('SECRET'));
  }
});

rootTest('CVE-2019-16884 / CVE-2023-27561: a tmpfs mounted over /proc by the config exposes no unmasked procfs file', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.mounts!.push({ destination: '/proc', type: 'tmpfs', source: 'tmpfs', options: ['size=64k'] });
    s.process!.args = ['sh', '-c', 'cat /proc/kcore /proc/sys/kernel/core_pattern /proc/self/status 2>&1 | head -c 200; echo; echo done'];
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  if (r.code !== 0) {
    t.log(`refused: ${r.stderr}`);
    t.pass('create failed rather than leave anything unmasked');
    return;
  }
  t.regex(r.stdout, /done/);
  t.notRegex(r.stdout, /Name:|core|\|/, `no procfs content is readable through the fake /proc: ${r.stdout}`);
});

rootTest('the host /dev/null keeps its owner and mode after a container (non-root user) ran with stdin=/dev/null', async (t) => {
  // crun 1.8.1 chowned its stdio to the container user, including the host /dev/null.
  const before = fs.statSync('/dev/null');
  const b = await makeBundle(t, (s) => {
    s.process!.user = { uid: 1000, gid: 1000 };
    s.process!.args = ['probe', 'ids', 'fds'];
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id], { stdinFile: '/dev/null' });
  t.is(r.code, 0, r.stderr);
  const report = parseProbeJson<Pick<ProbeReport, 'ids' | 'fds'>>(r.stdout);
  t.is(report.ids.uid, 1000);
  t.is(report.fds.find((f) => f.fd === 0)?.target, '/dev/null', 'stdin was the host /dev/null');
  const after = fs.statSync('/dev/null');
  t.deepEqual([after.uid, after.gid, after.mode, after.rdev, after.ino], [before.uid, before.gid, before.mode, before.rdev, before.ino]);
});
