// The plan compiler (src/plan/compile.ts): which ops a config becomes, in which order, with
// which arguments, and how a failure at an op is worded. The plan is decoded back from its
// binary form (ops, string table, lists), as native/child.cc reads it.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InvalidSpecError } from '../../src/errors.js';
import { compilePlan, type CompileOptions } from '../../src/plan/compile.js';
import { CLONE, Detail, MountHow, NONE, Op, OP_WORDS, Resolve, Sync } from '../../src/plan/opcodes.js';
import type { CompiledPlan } from '../../src/plan/plan-builder.js';
import { describeChildError } from '../../src/process/protocol.js';
import { defaultSpec } from '../../src/spec/defaults.js';
import { MS } from '../../src/spec/mount-options.js';
import type { NamespaceType, Spec } from '../../src/spec/types.js';

const OP_NAME = Object.fromEntries(Object.entries(Op).map(([k, v]) => [v, k])) as Record<number, string>;

interface DecodedOp {
  index: number;
  name: string;
  /** Arguments without the trailing NONE padding. */
  args: number[];
  /** All seven argument words. */
  raw: number[];
  description: string;
}

function decode(plan: CompiledPlan): DecodedOp[] {
  const out: DecodedOp[] = [];
  for (let i = 0; i < plan.ops.length / OP_WORDS; i++) {
    const w = Array.from(plan.ops.subarray(i * OP_WORDS, (i + 1) * OP_WORDS));
    const args = w.slice(1);
    while (args.length && args[args.length - 1] === NONE) args.pop();
    out.push({ index: i, name: OP_NAME[w[0]] ?? `?${w[0]}`, args, raw: w.slice(1), description: plan.descriptions[i] });
  }
  return out;
}

/** The NUL-terminated string at off in the string table. */
function str(plan: CompiledPlan, off: number): string {
  const end = plan.strings.indexOf(0, off);
  return plan.strings.subarray(off, end).toString('utf8');
}

/** A list (argv, env, gids) by index: count, then string offsets. */
function list(plan: CompiledPlan, index: number): string[] {
  let p = 0;
  for (let i = 0; i < index; i++) p += 1 + plan.lists[p];
  const n = plan.lists[p];
  return Array.from(plan.lists.subarray(p + 1, p + 1 + n)).map((off) => str(plan, off));
}

const ROOTFS = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-plan-rootfs-'));
test.after.always(() => fs.rmSync(ROOTFS, { recursive: true, force: true }));

function spec(mutate?: (s: Spec) => void): Spec {
  const s = defaultSpec();
  s.process!.terminal = false;
  mutate?.(s);
  return s;
}

function compile(s: Spec, o: Partial<CompileOptions> = {}) {
  const r = compilePlan({
    spec: s,
    bundle: path.dirname(ROOTFS),
    rootfs: ROOTFS,
    mode: 'create',
    fifoFd: 9,
    preserveFds: 0,
    noPivot: false,
    nsFds: new Map(),
    ...o,
  });
  return { ...r, ops: decode(r.plan) };
}

const names = (ops: DecodedOp[]) => ops.map((o) => o.name);
const first = (ops: DecodedOp[], name: string) => ops.findIndex((o) => o.name === name);
const findDesc = (ops: DecodedOp[], d: string) => {
  const op = ops.find((o) => o.description === d);
  if (!op) throw new Error(`no op "${d}" in:\n${ops.map((o) => o.description).join('\n')}`);
  return op;
};

test('the default config: every namespace made by clone3, no setns/unshare/fork', (t) => {
  const { cloneFlags, ops } = compile(spec());
  t.is(cloneFlags, CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS);
  for (const n of ['SETNS', 'UNSHARE', 'FORK']) t.false(names(ops).includes(n), `no ${n}`);
  t.like(ops[0], { index: 0, name: 'PDEATHSIG', args: [9], description: 'set the parent-death signal' });
});

test('op order follows runc init: rootfs, pivot, masks, hostname, rlimits, caps/user, fds, lookup, nnp, ready, fifo, execve', (t) => {
  const { ops } = compile(spec());
  const order = [
    'MOUNT',
    'PIVOT_ROOT',
    'MASK_PATH',
    'READONLY_PATH',
    'REMOUNT_ROOT_RO',
    'SETHOSTNAME',
    'RLIMIT',
    'CAPBSET_DROP',
    'CHDIR', // runc finalizeNamespace: before the user switch (and again after it if refused)
    'SETGROUPS',
    'SETRESGID',
    'SETRESUID',
    'CAPSET',
    'AMBIENT',
    'UMASK',
    'CLOSE_FDS',
    'LOOKUP_EXEC',
    'NO_NEW_PRIVS',
    'WAIT_FIFO',
    'EXECVE',
  ];
  const at = order.map((n) => first(ops, n));
  t.false(at.includes(-1), `all present: ${order.filter((_, i) => at[i] < 0)}`);
  t.deepEqual(
    [...at].sort((a, b) => a - b),
    at,
    `in order: ${order.map((n, i) => `${n}@${at[i]}`).join(' ')}`,
  );
  t.is(ops.at(-1)?.name, 'EXECVE', 'execve is last');
  // The parent-death signal is cleared before READY: create's parent exits right after
  // answering READY, and a clear after it would race with that exit (a pending SIGKILL).
  const ready = ops.findIndex((o) => o.name === 'SYNC' && o.args[0] === Sync.READY);
  t.deepEqual(names(ops.slice(ready - 1, ready + 2)), ['PDEATHSIG', 'SYNC', 'WAIT_FIFO']);
  t.deepEqual(ops[ready - 1].args, [0]);
  t.deepEqual(ops[ready + 1].args, [9], 'waits on the fifo fd it was given');
  t.is(ops.filter((o) => o.name === 'PDEATHSIG' && o.args[0] === 0).length, 1);
  // Setting user before capset: KEEPCAPS 1 … SETRESUID … KEEPCAPS 0.
  const keep = ops.filter((o) => o.name === 'KEEPCAPS').map((o) => o.args[0]);
  t.deepEqual(keep, [1, 0]);
});

test('run mode has no fifo wait; create without a fifo fd is a programming error', (t) => {
  const { ops } = compile(spec(), { mode: 'run', fifoFd: undefined });
  t.false(names(ops).includes('WAIT_FIFO'));
  t.throws(() => compile(spec(), { fifoFd: undefined }), { instanceOf: TypeError });
});

test('mounts: descriptions name the op and the destination; targets go through the resolver', (t) => {
  const { plan, ops } = compile(spec());
  const proc = findDesc(ops, 'mount proc on /proc');
  // MOUNT args: source, target (none: via slot), fstype, flags, data, slot
  t.is(str(plan, proc.args[0]), 'proc');
  t.is(proc.args[1], NONE, 'no target path: the mount goes through the resolved fd');
  t.is(str(plan, proc.args[2]), 'proc');
  const resolve = ops[proc.index - 1];
  t.is(resolve.name, 'RESOLVE');
  t.is(resolve.description, 'create mount point /proc');
  t.is(str(plan, resolve.args[2]), 'proc', 'relative to the rootfs');
  t.is(resolve.args[3], Resolve.MKDIR | Resolve.NOFOLLOW, 'procfs is never mounted through a symlink');
  const shm = findDesc(ops, 'mount tmpfs on /dev/shm');
  t.is(shm.args[3], MS.NOSUID | MS.NOEXEC | MS.NODEV);
  t.is(str(plan, shm.args[4]), 'mode=1777,size=65536k');
  const pivot = findDesc(ops, `pivot_root ${ROOTFS}`);
  t.is(pivot.name, 'PIVOT_ROOT');
  t.is(ops[1].description, 'make / rslave');
  t.is(ops[1].args[3], MS.SLAVE | MS.REC);
});

test('rootfsPropagation and --no-pivot', (t) => {
  const { ops } = compile(
    spec((s) => (s.linux!.rootfsPropagation = 'private')),
    { noPivot: true },
  );
  t.is(ops[1].description, 'make / private');
  t.is(ops[1].args[3], MS.PRIVATE, 'as given: "private" is not recursive (runc)');
  t.is(ops[2].name, 'MOUNT');
  t.is(ops[2].args[3], MS.PRIVATE, 'the mount holding the rootfs is made private');
  t.is(ops[2].raw[6], MountHow.WALK_UP, 'up to the nearest mount point');
  t.false(names(ops).includes('PIVOT_ROOT'));
  t.is(findDesc(ops, `move ${ROOTFS} to / and chroot`).name, 'MOVE_CHROOT');
});

test('bind mounts: the source is opened when the mount is made (its kind decides the mount point), flags by a remount', (t) => {
  const file = path.join(ROOTFS, '..', 'tsrun-plan-file');
  const { plan, ops } = compile(
    spec((s) => {
      s.mounts!.push({ destination: '/etc/x', type: 'bind', source: file, options: ['bind', 'ro', 'nosuid'] });
      s.mounts!.push({ destination: '/mnt/d', type: 'none', source: os.tmpdir(), options: ['rbind'] });
    }),
  );
  // BIND args: source, root slot, destination, flags, target slot, host token
  const bind = findDesc(ops, `bind ${file} on /etc/x`);
  t.is(bind.name, 'BIND');
  t.is(str(plan, bind.args[0]), file);
  t.is(str(plan, bind.args[2]), 'etc/x', 'relative to the rootfs');
  t.is(bind.args[3], MS.BIND);
  t.is(bind.raw[5], NONE, 'no user namespace: nothing to ask the parent');
  t.deepEqual(plan.meta[bind.index], { mountSource: file });
  t.false(
    ops.some((o) => o.description === 'create mount point /etc/x'),
    'the mount point is made by BIND, from the source it opened',
  );
  const remount = findDesc(ops, 'remount /etc/x with bind,ro,nosuid');
  t.is(remount.args[3], MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID);
  t.is(findDesc(ops, `bind ${os.tmpdir()} on /mnt/d`).args[3], MS.BIND | MS.REC);
  t.false(
    ops.some((o) => o.description === 'remount /mnt/d with rbind'),
    'no remount without extra flags',
  );
});

test('bind mounts in a user namespace may ask the parent for the source (SYNC_MOUNT_SOURCE)', (t) => {
  const { ops } = compile(
    spec((s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.mounts!.push({ destination: '/a', type: 'bind', source: '/srv/a', options: ['rbind'] });
    }),
  );
  t.is(findDesc(ops, 'bind /srv/a on /a').args[5], process.geteuid?.() === 0 ? Sync.MOUNT_SOURCE : NONE);
});

test('a missing bind source is not refused at compile time: it is resolved when its mount is made (runc)', (t) => {
  // An earlier mount may make it (issue 14 item 19): the child reports it at that mount.
  const { plan, ops } = compile(
    spec((s) => {
      s.mounts!.push({ destination: '/a', type: 'bind', source: '/nonexistent/tsrun-a', options: ['bind'] });
    }),
  );
  const bind = findDesc(ops, 'bind /nonexistent/tsrun-a on /a');
  t.is(bind.name, 'BIND');
  t.is(describeChildError(plan, bind.index, 2, Detail.NONE).message, 'bind /nonexistent/tsrun-a on /a: no such file or directory');
});

test('recursive attributes become one mount_setattr with AT_RECURSIVE', (t) => {
  const { ops } = compile(
    spec((s) => {
      s.mounts!.push({ destination: '/mnt/r', type: 'bind', source: os.tmpdir(), options: ['rbind', 'rro', 'rnosuid'] });
    }),
  );
  const op = findDesc(ops, 'set recursive attributes of /mnt/r');
  t.is(op.name, 'MOUNT_SETATTR');
  // slot, attr_set (MOUNT_ATTR_RDONLY|NOSUID), attr_clr, propagation, recursive
  t.deepEqual(op.args.slice(1), [0x1 | 0x2, 0, 0, 1]);
});

test('joining namespaces: setns by fd in user-first order, unshare the rest, fork for the pid namespace', (t) => {
  const nsFds = new Map<NamespaceType, number>([
    ['network', 11],
    ['user', 12],
    ['pid', 13],
  ]);
  const { cloneFlags, ops } = compile(
    spec((s) => {
      s.linux!.namespaces = [
        { type: 'pid', path: '/proc/42/ns/pid' },
        { type: 'network', path: '/proc/42/ns/net' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
        { type: 'user', path: '/proc/42/ns/user' },
      ];
    }),
    { nsFds },
  );
  t.is(cloneFlags, 0, 'clone3 makes no namespace when any is joined');
  const head = ops.slice(1, 8);
  t.deepEqual(
    head.map((o) => [o.name, ...o.args]),
    [
      ['SETNS', 12, CLONE.NEWUSER],
      ['SETRESGID', 0],
      ['SETRESUID', 0],
      ['SETNS', 11, CLONE.NEWNET],
      ['SETNS', 13, CLONE.NEWPID],
      ['UNSHARE', CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS],
      ['FORK'],
    ],
  );
  t.is(head[0].description, 'join user namespace /proc/42/ns/user');
  t.is(head[3].description, 'join network namespace /proc/42/ns/net');
  t.deepEqual([ops[8].name, ...ops[8].args], ['PDEATHSIG', 9], 'the forked child sets its own parent-death signal');
  t.throws(
    () => compile(spec((s) => (s.linux!.namespaces = [{ type: 'mount' }, { type: 'network', path: '/x' }]))),
    { instanceOf: TypeError },
    'a joined namespace needs its fd',
  );
});

test('a new user namespace by clone waits for the id maps, then becomes root; setgroups is skipped without gids', (t) => {
  const { cloneFlags, ops } = compile(spec((s) => s.linux!.namespaces!.push({ type: 'user' })));
  t.true((cloneFlags & CLONE.NEWUSER) !== 0);
  t.deepEqual(
    ops.slice(1, 4).map((o) => [o.name, ...o.args]),
    [
      ['SYNC', Sync.USERMAP],
      ['SETRESGID', 0],
      ['SETRESUID', 0],
    ],
  );
  t.false(names(ops).includes('SETGROUPS'), 'setgroups is denied in a user namespace');
  const withGids = compile(
    spec((s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.process!.user.additionalGids = [5, 6];
    }),
  );
  const sg = withGids.ops.find((o) => o.name === 'SETGROUPS')!;
  t.deepEqual(list(withGids.plan, sg.args[0]), ['5', '6']);
  t.is(sg.description, 'setgroups [5,6]');
});

test('a new time namespace is unshared, its offsets written, then the child forks into it', (t) => {
  const { cloneFlags, ops } = compile(spec((s) => s.linux!.namespaces!.push({ type: 'time' })));
  t.is(cloneFlags, 0);
  const u = ops.find((o) => o.name === 'UNSHARE')!;
  t.is(u.args[0], CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS | CLONE.NEWTIME);
  t.deepEqual(
    ops.slice(u.index + 1, u.index + 3).map((o) => [o.name, ...o.args]),
    [['SYNC', Sync.TIMENS], ['FORK']],
  );
});

test('tsrun refuses a config without a new mount namespace', (t) => {
  const err = t.throws(() => compile(spec((s) => (s.linux!.namespaces = [{ type: 'pid' }]))), { instanceOf: InvalidSpecError });
  t.regex(err!.message, /new mount namespace/);
});

test('rlimits are split into 32-bit words; the caller RLIMIT_NOFILE is restored when none is set', (t) => {
  const { ops } = compile(
    spec((s) => {
      s.process!.rlimits = [{ type: 'RLIMIT_FSIZE', soft: 2 ** 33 + 7, hard: 2 ** 40 }];
    }),
  );
  const fsize = findDesc(ops, 'setrlimit RLIMIT_FSIZE');
  t.deepEqual(fsize.args, [1, 7, 2, 0, 2 ** 8]);

  const saved = process.env.TSRUN_NOFILE;
  process.env.TSRUN_NOFILE = '777:unlimited';
  try {
    const r = compile(spec((s) => delete s.process!.rlimits));
    const nofile = findDesc(r.ops, 'restore the caller RLIMIT_NOFILE');
    t.deepEqual(nofile.raw.slice(0, 5), [7, 777, 0, 0xffffffff, 0xffffffff], 'unlimited is all ones');
    // bin/tsrun's form: both from one subshell, a line each.
    process.env.TSRUN_NOFILE = '1024\n4096';
    const lines = findDesc(compile(spec((s) => delete s.process!.rlimits)).ops, 'restore the caller RLIMIT_NOFILE');
    t.deepEqual(lines.raw.slice(0, 5), [7, 1024, 0, 4096, 0]);
  } finally {
    if (saved === undefined) delete process.env.TSRUN_NOFILE;
    else process.env.TSRUN_NOFILE = saved;
  }
});

test('capability sets become 64-bit masks split in two words', (t) => {
  const { ops } = compile(
    spec((s) => {
      s.process!.capabilities = {
        bounding: ['CAP_CHOWN', 'CAP_KILL', 'CAP_SYSLOG', 'CAP_BPF'],
        effective: ['CAP_CHOWN', 'CAP_KILL'],
        permitted: ['CAP_CHOWN', 'CAP_KILL', 'CAP_BPF'],
        inheritable: ['CAP_SYSLOG'],
        ambient: ['CAP_CHECKPOINT_RESTORE'],
      };
    }),
  );
  const lastCap = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));
  // CAP_CHOWN 0, CAP_KILL 5, CAP_SYSLOG 34, CAP_BPF 39, CAP_CHECKPOINT_RESTORE 40
  t.deepEqual(findDesc(ops, 'drop capabilities from the bounding set').args, [0b100001, (1 << 2) | (1 << 7), lastCap]);
  t.deepEqual(findDesc(ops, 'capset').args, [0b100001, 0, 0b100001, 1 << 7, 0, 1 << 2]);
  t.deepEqual(findDesc(ops, 'set ambient capabilities').args, [0, 1 << 8]);
});

test('user, umask, cwd, sysctl, hostname and the exec', (t) => {
  const { plan, ops } = compile(
    spec((s) => {
      s.process!.user = { uid: 1000, gid: 100, umask: 0o077 };
      s.process!.cwd = '/srv/app';
      s.process!.args = ['probe', 'all'];
      s.process!.env = ['PATH=/opt/bin', 'A=b'];
      s.linux!.sysctl = { 'net.ipv4.ip_forward': '1' };
      s.hostname = 'h1';
      s.domainname = 'd1';
    }),
    { preserveFds: 2 },
  );
  t.deepEqual(findDesc(ops, 'setresuid 1000').args, [1000]);
  t.deepEqual(findDesc(ops, 'setresgid 100').args, [100]);
  t.deepEqual(findDesc(ops, 'set umask').args, [0o077]);
  t.is(str(plan, findDesc(ops, 'chdir to /srv/app').args[0]), '/srv/app');
  t.is(findDesc(ops, 'create cwd /srv/app').args[3], Resolve.MKDIR);
  const sys = findDesc(ops, 'write sysctl net.ipv4.ip_forward');
  t.is(str(plan, sys.args[0]), '/proc/sys/net/ipv4/ip_forward');
  t.is(str(plan, sys.args[1]), '1');
  t.is(str(plan, findDesc(ops, 'sethostname h1').args[0]), 'h1');
  t.is(str(plan, findDesc(ops, 'setdomainname d1').args[0]), 'd1');
  t.deepEqual(findDesc(ops, 'close inherited fds').args, [5, 9], 'keeps 0-4 and the fifo');
  const lookup = findDesc(ops, 'exec: "probe"');
  t.is(str(plan, lookup.args[0]), 'probe');
  t.is(str(plan, lookup.args[1]), '/opt/bin', "the container's PATH, not the host's");
  const exec = ops.at(-1)!;
  t.deepEqual(list(plan, exec.args[0]), ['probe', 'all']);
  // HOME=/ until the child reads the user's home from the container's /etc/passwd (runc setupUser)
  t.deepEqual(list(plan, exec.args[1]), ['PATH=/opt/bin', 'A=b', 'HOME=/']);
});

test('no hostname op without a uts namespace; no read-only remount unless root.readonly', (t) => {
  const { ops } = compile(
    spec((s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'uts');
      s.root!.readonly = false;
    }),
  );
  t.false(names(ops).includes('SETHOSTNAME'));
  t.false(names(ops).includes('REMOUNT_ROOT_RO'));
});

test('device nodes: mknod with type, mode, owner; bind from the host in a user namespace', (t) => {
  const dev = { path: '/dev/fuse', type: 'c' as const, major: 10, minor: 229, fileMode: 0o640, uid: 5, gid: 6 };
  const { plan, ops } = compile(spec((s) => (s.linux!.devices = [dev])));
  const mk = findDesc(ops, 'mknod /dev/fuse');
  t.is(str(plan, mk.args[1]), 'dev/fuse');
  t.deepEqual(mk.args.slice(2), [0o020000 | 0o640, 10, 229, 5, 6]);
  t.true(
    ops.some((o) => o.description === 'mknod /dev/null'),
    'default devices in a fresh /dev',
  );
  t.true(ops.some((o) => o.description === 'symlink /dev/ptmx -> pts/ptmx'));

  const userns = compile(
    spec((s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.devices = [dev];
    }),
  );
  t.false(names(userns.ops).includes('MKNOD'), 'mknod is impossible in a user namespace');
  t.is(findDesc(userns.ops, 'bind /dev/fuse from the host').name, 'MOUNT');
});

test('a failing op is worded with its description and the errno words', (t) => {
  const { plan, ops } = compile(spec((s) => (s.process!.args = ['nosuch'])));
  const proc = findDesc(ops, 'mount proc on /proc');
  const e = describeChildError(plan, proc.index, 1, Detail.NONE);
  t.is(e.message, 'mount proc on /proc: operation not permitted');
  t.is(e.syscallCode, 'EPERM');
  t.is(e.code, 'TSRUN_CHILD_SETUP');
  const lookup = findDesc(ops, 'exec: "nosuch"');
  t.is(describeChildError(plan, lookup.index, 2, Detail.NOT_IN_PATH).message, 'exec: "nosuch": executable file not found in $PATH');
  t.is(describeChildError(plan, lookup.index, 2, Detail.NONE).message, 'exec: "nosuch": stat nosuch: no such file or directory');
  const sys = compile(spec((s) => (s.linux!.sysctl = { 'kernel.shmmax': '1' })));
  const w = findDesc(sys.ops, 'write sysctl kernel.shmmax');
  t.is(describeChildError(sys.plan, w.index, 18, Detail.NOT_PROCFS).message, 'write sysctl kernel.shmmax: the target is not on procfs');
});

test('a NUL byte in a string is refused', (t) => {
  t.throws(() => compile(spec((s) => (s.process!.args = ['a\0b']))), { instanceOf: TypeError, message: /NUL/ });
});

// ---- issue 14 items 13, 20-22, 24, 25: what the compiler emits for them ----

test('hooks in the interpreter: createContainer hooks after a chdir to the rootfs; with noNewPrivileges seccomp before READY (init) or last (exec)', (t) => {
  const seccomp = { bpf: Buffer.alloc(8), flags: 0, notify: false };
  const { ops } = compile(
    spec((s) => {
      s.process!.noNewPrivileges = true;
      s.hooks = { createContainer: [{ path: '/bin/true' }], startContainer: [{ path: '/bin/true' }] };
    }),
    { seccomp },
  );
  const chdir = findDesc(ops, 'chdir to the rootfs for createContainer hooks');
  t.is(chdir.name, 'FCHDIR');
  t.is(chdir.args[0], 0, 'the rootfs slot');
  t.true(chdir.index < findDesc(ops, 'createContainer hook #0 (/bin/true)').index);
  const sec = first(ops, 'SECCOMP');
  const ready = ops.findIndex((o) => o.name === 'SYNC' && o.args[0] === Sync.READY);
  t.true(sec < ready, 'the filter is loaded before READY (runc standard_init)');
  t.true(sec < findDesc(ops, 'startContainer hook #0 (/bin/true)').index, 'so the startContainer hooks run under it');
  t.true(first(ops, 'NO_NEW_PRIVS') < sec);
});

test('masked paths: each once (lexically cleaned), directories share one tmpfs slot, closed after', (t) => {
  const { plan, ops } = compile(spec((s) => (s.linux!.maskedPaths = ['/proc/acpi', '/proc/acpi/', '//proc/kcore', '/proc/kcore', '/proc/./kcore'])));
  const masks = ops.filter((o) => o.name === 'MASK_PATH');
  t.deepEqual(
    masks.map((o) => str(plan, o.args[0])),
    ['/proc/acpi', '/proc/kcore'],
  );
  t.true(masks.every((o) => o.args[1] === masks[0].args[1] && o.args[1] !== NONE));
  const close = ops.find((o) => o.name === 'CLOSE_SLOT' && o.args[0] === masks[0].args[1] && o.index > masks[1].index);
  t.truthy(close, 'the shared tmpfs slot is closed after the masks');
});

test('tmpfs mounts take the mount point mode (MOUNT_TMPFS_MODE); tmpcopyup copies after the mount', (t) => {
  const { ops } = compile(spec((s) => s.mounts!.push({ destination: '/var/x', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'ro'] })));
  const m = findDesc(ops, 'mount tmpfs on /var/x');
  t.is(m.raw[6], MountHow.TMPFS_MODE);
  t.is(m.args[3] & MS.RDONLY, 0, 'read-only only after the copy');
  const copy = findDesc(ops, 'copy the content under /var/x into its tmpfs');
  t.is(copy.name, 'COPYUP');
  t.is(copy.index, m.index + 1);
  const ro = findDesc(ops, 'remount /var/x read-only');
  t.true(ro.index > first(ops, 'PIVOT_ROOT'));
  t.is(ro.args[3], MS.RDONLY | MS.BIND | MS.REMOUNT);
});

test('a read-only /dev is mounted read-write, then remounted read-only after the pivot', (t) => {
  const { plan, ops } = compile(spec((s) => s.mounts!.find((m) => m.destination === '/dev')!.options!.push('ro')));
  const dev = findDesc(ops, 'mount tmpfs on /dev');
  t.is(dev.args[3] & MS.RDONLY, 0);
  const ro = findDesc(ops, 'remount /dev read-only');
  t.is(str(plan, ro.args[1]), '/dev', 'by path, inside the container');
  t.is(ro.raw[6], MountHow.KEEP_LOCKED);
  t.true(ro.index > findDesc(ops, 'symlink /dev/ptmx -> pts/ptmx').index);
});

test('proc and sysfs: their mount point ops carry the fstype for runc\'s "must be mounted on ordinary directory"', (t) => {
  const { plan, ops } = compile(spec());
  const resolve = findDesc(ops, 'create mount point /proc');
  t.is(
    describeChildError(plan, resolve.index, 40, Detail.NOT_ORDINARY_DIR).message,
    'create mount point /proc: filesystem "proc" must be mounted on ordinary directory',
  );
});

test('rootfsPropagation: "/" as given, the mount holding the rootfs private (slave for slave), shared/unbindable again after the pivot', (t) => {
  for (const [prop, parent, after] of [
    ['shared', MS.PRIVATE, MS.SHARED],
    ['runbindable', MS.PRIVATE, MS.UNBINDABLE | MS.REC],
    ['rslave', MS.SLAVE, undefined],
    [undefined, MS.PRIVATE, undefined],
  ] as const) {
    const { ops } = compile(spec((s) => (prop ? (s.linux!.rootfsPropagation = prop) : delete s.linux!.rootfsPropagation)));
    t.is(ops[2].args[3], parent, `${prop}: parent`);
    const again = ops.filter((o) => o.description.endsWith('(after the pivot)'));
    t.deepEqual(
      again.map((o) => o.args[3]),
      after === undefined ? [] : [after],
      `${prop}: after the pivot`,
    );
  }
});

test('binds: a remount when flags are only cleared, with the cleared ones passed for the locked-flag check', (t) => {
  const { ops } = compile(spec((s) => s.mounts!.push({ destination: '/mnt', type: 'bind', source: '/srv', options: ['rbind', 'suid', 'rw'] })));
  const re = findDesc(ops, 'remount /mnt with rbind,suid,rw');
  t.is(re.args[3], MS.BIND | MS.REMOUNT);
  t.is(re.raw[6], MountHow.KEEP_LOCKED | ((MS.NOSUID | MS.RDONLY) << MountHow.CLEARED_SHIFT));
});

test('a fresh cgroup2 mount announces its bind fallback: exactly the ops that follow it', (t) => {
  const { plan, ops } = compile(
    spec((s) => s.linux!.namespaces!.push({ type: 'cgroup' })),
    { cgroupDir: '/sys/fs/cgroup/unified/x' },
  );
  const m = findDesc(ops, 'mount cgroup2 on /sys/fs/cgroup');
  t.true((m.raw[6] & MountHow.FALLBACK) !== 0);
  const n = m.raw[6] >>> MountHow.FALLBACK_SHIFT;
  const fallback = ops.slice(m.index + 1, m.index + 1 + n);
  t.is(fallback[0].name, 'BIND');
  t.is(str(plan, fallback[0].args[0]), '/sys/fs/cgroup/unified/x');
  t.is(fallback[n - 1].description, 'remount /sys/fs/cgroup with nosuid,noexec,nodev,relatime,ro');
});
