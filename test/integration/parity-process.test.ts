// runc parity (issue 14, items 4 and 6-11): what the container process gets from runc's init that
// tsrun lacked: HOME from the container's /etc/passwd, a cwd only root can enter, its own
// session, a pty without ONLCR chowned to the user (and stdio files, fixStdioPermissions),
// consoleSize on exec, `lo` up in a new network namespace, `exec --cap` in the ambient set, and no
// host procfs left reachable under --no-pivot. Where Debian's runc (1.1.5) is installed and
// behaves the same, the same bundle runs under it too and the answers are compared.
import type { ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import type { Spec } from '../../src/spec/types.js';
import { makeBundle } from '../helpers/bundle.js';
import { hasRunc, runcRun } from '../helpers/runc-parity.js';
import { parseProbeJson, TESTER_UID, type ProbeReport } from '../helpers/rootfs.js';
import { need, needs, root } from '../helpers/skip.js';
import { listenForFds, readPty } from '../helpers/unix-socket.js';

const rootTest = needs(root('namespaces'));
// runc 1.1.5 through runcRun: its own mount namespace with the cgroup v2 tree at /sys/fs/cgroup
// (on this hybrid host runc would otherwise make cgroups in the v1 hierarchies) and a cgroup
// namespace in the config (a fresh cgroup2 mount in the host's would clear nsdelegate).
const runc = runcRun;

async function run(t: ExecutionContext, mutate: (s: Spec) => void, args: readonly string[] = []) {
  const b = await makeBundle(t, (s) => mutate(s));
  const r = await b.tsrun(['run', ...args, '--bundle', b.dir, b.id]);
  return { b, r, stdout: b.output(r) };
}

// ---- item 6: HOME ----

const homeCases: [string, number, string[], string][] = [
  ['no HOME, uid 1000: its passwd home', TESTER_UID, ['PATH=/bin'], '/home/tester'],
  ['"HOME=" with uid 0: root’s home', 0, ['PATH=/bin', 'HOME='], '/root'],
  ['no HOME, a uid without a passwd entry: /', 4242, ['PATH=/bin'], '/'],
  ['HOME set: kept', TESTER_UID, ['PATH=/bin', 'HOME=/elsewhere'], '/elsewhere'],
];
for (const [title, uid, env, want] of homeCases) {
  rootTest(`HOME (run): ${title}`, async (t) => {
    const mutate = (s: Spec) => {
      s.process!.user = { uid, gid: uid };
      s.process!.env = env;
      s.process!.args = ['sh', '-c', 'echo "[$HOME]"; env | grep -c ^HOME='];
    };
    const { b, r, stdout } = await run(t, mutate);
    t.is(r.code, 0, r.stderr);
    t.is(stdout, `[${want}]\n1\n`);
    if (hasRunc) {
      const rr = await runc(b);
      t.is(rr.stdout, stdout, 'runc says the same');
    }
  });
}

rootTest('HOME (run): /etc/passwd is read inside the rootfs (an absolute symlink resolves in it)', async (t) => {
  const b = await makeBundle(t, (s, { rootfs }) => {
    s.process!.user = { uid: TESTER_UID, gid: TESTER_UID };
    s.process!.env = ['PATH=/bin'];
    s.process!.args = ['sh', '-c', 'echo "[$HOME]"'];
    fs.writeFileSync(path.join(rootfs, 'etc/passwd.real'), `tester:x:${TESTER_UID}:${TESTER_UID}::/confined:/bin/sh\n`);
    fs.rmSync(path.join(rootfs, 'etc/passwd'));
    fs.symlinkSync('/etc/passwd.real', path.join(rootfs, 'etc/passwd'));
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.is(r.code, 0, r.stderr);
  t.is(b.output(r), '[/confined]\n');
});

rootTest('HOME (exec): from the container’s /etc/passwd for the exec user', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.env = ['PATH=/bin'];
    s.process!.args = ['sleep', '100'];
  });
  t.is((await b.tsrun(['run', '-d', '--bundle', b.dir, b.id])).code, 0);
  const e = await b.tsrun(['exec', '--user', `${TESTER_UID}:${TESTER_UID}`, b.id, 'sh', '-c', 'echo "[$HOME]"']);
  t.is(e.code, 0, e.stderr);
  t.is(b.output(e), '[/home/tester]\n');
  const e0 = await b.tsrun(['exec', '--env', 'HOME=', b.id, 'sh', '-c', 'echo "[$HOME]"']);
  t.is(b.output(e0), '[/root]\n');
  await b.tsrun(['kill', b.id, 'KILL']);
  await b.waitStatus(b.id, 'stopped');
});

// ---- item 7: cwd ----

rootTest('cwd /root (0700) with uid 1000: chdir happens before the user switch', async (t) => {
  const mutate = (s: Spec) => {
    s.process!.user = { uid: TESTER_UID, gid: TESTER_UID };
    s.process!.cwd = '/root';
    s.process!.args = ['pwd'];
  };
  const { b, r, stdout } = await run(t, mutate);
  t.is(r.code, 0, r.stderr);
  t.is(stdout, '/root\n');
  if (hasRunc) t.is((await runc(b)).stdout, '/root\n', 'as runc');
});

rootTest('cwd only the user can enter: the chdir is retried after the user switch', async (t) => {
  const { r, stdout } = await run(t, (s) => {
    s.process!.user = { uid: TESTER_UID, gid: TESTER_UID };
    s.process!.cwd = '/home/tester';
    s.process!.args = ['pwd'];
    s.hooks = undefined;
  });
  t.is(r.code, 0, r.stderr);
  t.is(stdout, '/home/tester\n');
});

rootTest('cwd 0700 of the user, root without CAP_DAC_*: refused before the switch, entered after', async (t) => {
  const b = await makeBundle(t, (s, { rootfs }) => {
    s.process!.cwd = '/home/tester/private';
    s.process!.user = { uid: TESTER_UID, gid: TESTER_UID };
    s.process!.args = ['pwd'];
    // root without CAP_DAC_*: only the owner (1000) may enter the 0700 directory
    const c = s.process!.capabilities!;
    for (const set of ['bounding', 'effective', 'permitted'] as const) c[set] = (c[set] ?? []).filter((x) => !x.startsWith('CAP_DAC_'));
    fs.mkdirSync(path.join(rootfs, 'home/tester/private'), { mode: 0o700 });
    fs.chownSync(path.join(rootfs, 'home/tester/private'), TESTER_UID, TESTER_UID);
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.is(r.code, 0, r.stderr);
  t.is(b.output(r), '/home/tester/private\n', 'refused as root without DAC caps, then entered as the owner');
});

// ---- item 8: session ----

rootTest('the container process leads its own session and process group (run and exec)', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['sleep', '100'];
  });
  t.is((await b.tsrun(['run', '-d', '--bundle', b.dir, b.id])).code, 0);
  const state = await b.state();
  const pid = state.pid as number;
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  t.is(Number(f[2]), pid, 'pgrp (host view) is the init');
  t.is(Number(f[3]), pid, 'session (host view) is the init');
  const e = await b.tsrun(['exec', b.id, 'probe', 'pid', 'tty']);
  t.is(e.code, 0, e.stderr);
  const rep = parseProbeJson<Pick<ProbeReport, 'pid' | 'tty'>>(b.output(e));
  t.is(rep.tty.sid, rep.pid, 'exec: its own session');
  t.is(rep.tty.pgid, rep.pid, 'exec: its own process group');
  await b.tsrun(['kill', b.id, 'KILL']);
  await b.waitStatus(b.id, 'stopped');
});

rootTest('run: probe sees sid = pgid = 1 (not 0, the caller’s outside the pid namespace)', async (t) => {
  const { b, r, stdout } = await run(t, (s) => (s.process!.args = ['probe', 'pid', 'tty']));
  t.is(r.code, 0, r.stderr);
  const rep = parseProbeJson<Pick<ProbeReport, 'pid' | 'tty'>>(stdout);
  t.is(rep.pid, 1);
  t.is(rep.tty.sid, 1);
  t.is(rep.tty.pgid, 1);
  if (hasRunc) {
    const rr = parseProbeJson<Pick<ProbeReport, 'pid' | 'tty'>>((await runc(b)).stdout);
    t.deepEqual([rr.tty.sid, rr.tty.pgid], [1, 1], 'as runc');
  }
});

// ---- item 9: the pty and stdio ownership ----

rootTest('terminal: no ONLCR (output is \\n, not \\r\\n); the pty slave belongs to the user', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.terminal = true;
    s.process!.user = { uid: TESTER_UID, gid: TESTER_UID };
    s.process!.args = ['sh', '-c', 'echo one; stat -L -c "owner=%u" /proc/self/fd/0; echo END-OF-TEST'];
  });
  const rx = await listenForFds(path.join(b.dir, 'console.sock'));
  t.teardown(() => rx.close());
  t.is((await b.tsrun(['create', '--console-socket', rx.path, '--bundle', b.dir, b.id])).code, 0);
  const got = await rx.next();
  t.is((await b.tsrun(['start', b.id])).code, 0);
  const text = await readPty(got.fd, (s) => s.includes('END-OF-TEST'));
  t.false(text.includes('\r'), JSON.stringify(text));
  t.true(text.includes('one\nowner=1000\n'), JSON.stringify(text));
  await b.waitStatus(b.id, 'stopped');
  t.is((await b.tsrun(['delete', b.id])).code, 0);
});

rootTest('stdio files are chowned to the user (runc fixStdioPermissions), /dev/null is not', async (t) => {
  const { b, r, stdout } = await run(t, (s) => {
    s.process!.user = { uid: TESTER_UID, gid: TESTER_UID };
    s.process!.args = ['sh', '-c', 'stat -L -c "%u" /proc/self/fd/1; stat -L -c "%u" /proc/self/fd/0'];
  });
  t.is(r.code, 0, r.stderr);
  t.is(stdout, '1000\n0\n', 'stdout (a file) now the user’s; stdin (/dev/null) untouched');
  t.is(fs.statSync(r.stdoutFile).uid, TESTER_UID);
  t.is(fs.statSync('/dev/null').uid, 0);
  if (hasRunc) t.is((await runc(b)).stdout.split('\n')[0], '1000', 'runc chowns its stdout pipe too');
});

rootTest('exec -t with consoleSize in --process: the size applies (stty size)', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['sleep', '100'];
  });
  t.is((await b.tsrun(['run', '-d', '--bundle', b.dir, b.id])).code, 0);
  const proc = {
    ...b.spec.process!,
    terminal: true,
    consoleSize: { height: 27, width: 99 },
    args: ['sh', '-c', 'stty size; echo END-OF-TEST'],
  };
  const pfile = path.join(b.dir, 'process.json');
  fs.writeFileSync(pfile, JSON.stringify(proc));
  const rx = await listenForFds(path.join(b.dir, 'exec.sock'));
  t.teardown(() => rx.close());
  const e = b.tsrun(['exec', '-d', '--console-socket', rx.path, '--process', pfile, b.id]);
  const got = await rx.next();
  const text = await readPty(got.fd, (s) => s.includes('END-OF-TEST'));
  t.is((await e).code, 0);
  t.true(text.startsWith('27 99\n'), JSON.stringify(text));
  await b.tsrun(['kill', b.id, 'KILL']);
  await b.waitStatus(b.id, 'stopped');
});

// ---- item 10: loopback ----

rootTest('a new network namespace has lo up (flags 0x9: IFF_UP|IFF_LOOPBACK)', async (t) => {
  const { b, r, stdout } = await run(t, (s) => {
    if (!s.linux!.namespaces!.some((n) => n.type === 'network')) s.linux!.namespaces!.push({ type: 'network' });
    s.process!.args = ['cat', '/sys/class/net/lo/flags'];
  });
  t.is(r.code, 0, r.stderr);
  t.is(stdout.trim(), '0x9');
  if (hasRunc) t.is((await runc(b)).stdout.trim(), '0x9', 'as runc');
});

// ---- item 11: ambient capabilities on exec ----

rootTest('exec --cap X: X joins the ambient set when inheritable; a non-inheritable ambient cap warns', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['sleep', '100'];
    // in the bounding set (capset refuses an inheritable cap outside it) but not permitted
    s.process!.capabilities!.inheritable = ['CAP_SYS_PTRACE'];
    s.process!.capabilities!.bounding = [...s.process!.capabilities!.bounding!, 'CAP_SYS_PTRACE', 'CAP_SYS_NICE'];
  });
  const d = await b.tsrun(['run', '-d', '--bundle', b.dir, b.id]);
  t.is(d.code, 0, d.stderr);
  const e = await b.tsrun(['exec', '--cap', 'CAP_SYS_PTRACE', '--cap', 'CAP_SYS_NICE', b.id, 'probe', 'caps']);
  t.is(e.code, 0, e.stderr);
  const caps = parseProbeJson<Pick<ProbeReport, 'caps'>>(b.output(e)).caps;
  t.true(caps.ambient.names.includes('CAP_SYS_PTRACE'), JSON.stringify(caps.ambient));
  t.false(caps.ambient.names.includes('CAP_SYS_NICE'), 'not inheritable: not ambient');
  t.true(caps.effective.names.includes('CAP_SYS_NICE'));

  const proc = { ...b.spec.process!, args: ['probe', 'caps'], capabilities: { ...b.spec.process!.capabilities!, ambient: ['CAP_SYS_NICE'] } };
  const pfile = path.join(b.dir, 'process.json');
  fs.writeFileSync(pfile, JSON.stringify(proc));
  const w = await b.tsrun(['exec', '--process', pfile, b.id]);
  t.is(w.code, 0, w.stderr);
  t.regex(w.stderr, /can't raise ambient capability sys_nice: operation not permitted/);
  await b.tsrun(['kill', b.id, 'KILL']);
  await b.waitStatus(b.id, 'stopped');
});

// ---- item 4: --no-pivot ----

function maxUserNamespaces(): number {
  try {
    return Number(fs.readFileSync('/proc/sys/user/max_user_namespaces', 'utf8'));
  } catch {
    return 0;
  }
}

rootTest.and(need(maxUserNamespaces() > 0, 'needs user namespaces (user.max_user_namespaces > 0)'))(
  '--no-pivot: a nested user+mount+pid namespace cannot mount a fresh procfs (host proc hidden)',
  async (t) => {
    const b = await makeBundle(t, (s) => {
      s.process!.args = ['unshare', '-Urmpf', 'sh', '-c', 'mount -t proc proc /proc && echo MOUNTED || echo REFUSED'];
      // mapping uid 0 of a new user namespace needs CAP_SETFCAP (Linux 5.12, user_namespaces(7))
      const c = s.process!.capabilities!;
      for (const set of ['bounding', 'effective', 'permitted'] as const) c[set] = [...(c[set] ?? []), 'CAP_SETFCAP'];
      delete s.linux!.seccomp;
    });
    const pivoted = await b.tsrun(['run', '--bundle', b.dir, b.newId('pivot')]);
    t.is(b.output(pivoted).trim(), 'REFUSED', `with pivot_root the container's masked /proc is all there is (${pivoted.stderr})`);
    const r = await b.tsrun(['run', '--no-pivot', '--bundle', b.dir, b.id]);
    t.is(r.code, 0, r.stderr);
    t.is(b.output(r).trim(), 'REFUSED');
    if (hasRunc) t.is((await runc(b, ['--no-pivot'])).stdout.trim(), 'REFUSED', 'as runc');
  },
);
