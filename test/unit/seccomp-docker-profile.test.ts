// Docker's seccomp profile format → linux.seccomp (src/seccomp/docker-profile.ts), decided as
// moby's setupSeccomp: archMap for the native arch, includes/excludes by arch, bounding
// capabilities and kernel version; and the built-in policy (our data, src/seccomp/default-profile.json,
// with Docker's default profile's semantics) applied to image runs unless --security-opt
// seccomp=unconfined (issue 13).
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildImageBundle } from '../../src/image/bundle.js';
import {
  applyImageSeccomp,
  builtinProfile,
  builtinProfileToSpec,
  dockerProfileToSpec,
  loadSeccompChoice,
  parseKernelVersion,
  type DockerSeccompProfile,
  type ProfileContext,
} from '../../src/seccomp/docker-profile.js';
import { seccompOption } from '../../src/cli/verbs/run-image.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { seccompLib } from '../../src/seccomp/seccomp-lib.js';
import { compileSeccomp } from '../../src/seccomp/seccomp.js';
import { decodeProgram, evaluate, AUDIT_ARCH_X86_64 } from '../../src/seccomp/seccomp-bpf.js';
import { need, needs } from '../helpers/skip.js';
import type { LinuxSeccomp } from '../../src/spec/types.js';
import { DOCKER_CAPS } from '../../src/image/bundle.js';

const amd64 = (capabilities: string[] = DOCKER_CAPS, kernel: [number, number] = [6, 18]): ProfileContext => ({ arch: 'amd64', capabilities, kernel });

/** The action the profile gives `name` with no argument filter (undefined: the default action). */
function plainAction(s: LinuxSeccomp, name: string): string | undefined {
  return s.syscalls?.find((c) => c.names.includes(name) && !c.args?.length)?.action;
}

test("the built-in profile: ERRNO(EPERM) by default, the native arch and its sub-arches, Docker's conditional rules by capability", (t) => {
  const s = builtinProfileToSpec(amd64());
  t.is(s.defaultAction, 'SCMP_ACT_ERRNO');
  t.is(s.defaultErrnoRet, 1);
  t.deepEqual(s.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  for (const n of ['read', 'write', 'execve', 'openat', 'arch_prctl', 'modify_ldt', 'chroot']) t.is(plainAction(s, n), 'SCMP_ACT_ALLOW', n);
  // Need CAP_SYS_ADMIN (not in Docker's default set): refused by the default action.
  for (const n of ['mount', 'umount2', 'unshare', 'setns', 'keyctl', 'add_key', 'bpf', 'reboot', 'init_module']) {
    t.is(plainAction(s, n), undefined, n);
  }
  // ptrace: minKernel 4.8, met here.
  t.is(plainAction(s, 'ptrace'), 'SCMP_ACT_ALLOW');
  // clone3 without CAP_SYS_ADMIN: ENOSYS, so that libcs fall back to clone (whose flags are filtered).
  const clone3 = s.syscalls!.find((c) => c.names.includes('clone3'))!;
  t.is(clone3.action, 'SCMP_ACT_ERRNO');
  t.is(clone3.errnoRet, 38);
  const clone = s.syscalls!.filter((c) => c.names.includes('clone'));
  t.is(clone.length, 1, 'one clone rule: the flag-filtered one for non-s390');
  t.true(clone[0].args!.length > 0);
  // Arch-only rules of other arches are left out.
  t.is(plainAction(s, 's390_runtime_instr'), undefined);
  t.is(plainAction(s, 'riscv_flush_icache'), undefined);
  t.is(plainAction(s, 'arm_fadvise64_64'), undefined);
});

test('the built-in profile with CAP_SYS_ADMIN (and others) in the bounding set allows what they guard', (t) => {
  const s = builtinProfileToSpec(amd64([...DOCKER_CAPS, 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE', 'CAP_SYS_TIME', 'CAP_BPF']));
  for (const n of ['mount', 'unshare', 'setns', 'bpf', 'clone3', 'kcmp', 'clock_settime']) t.is(plainAction(s, n), 'SCMP_ACT_ALLOW', n);
  t.false(
    s.syscalls!.some((c) => c.names.includes('clone3') && c.action === 'SCMP_ACT_ERRNO'),
    'the clone3 ENOSYS rule is excluded',
  );
  t.true(
    s.syscalls!.some((c) => c.names.includes('clone') && !c.args?.length),
    'clone unfiltered',
  );
  t.false(
    s.syscalls!.some((c) => c.names.includes('clone') && c.args?.length),
    'the flag-filtered clone rule is excluded',
  );
});

test('other arches: arm64 gets AARCH64+ARM and its own calls, not amd64 ones', (t) => {
  const s = builtinProfileToSpec({ ...amd64(), arch: 'arm64' });
  t.deepEqual(s.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  t.is(plainAction(s, 'arm_fadvise64_64'), 'SCMP_ACT_ALLOW');
  t.is(plainAction(s, 'arch_prctl'), undefined);
});

test('includes and excludes: all caps needed to include, any cap excludes; arches; minKernel both ways', (t) => {
  const p: DockerSeccompProfile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [
      { names: ['a'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_X', 'CAP_Y'] } },
      { names: ['b'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_Z', 'CAP_X'] } },
      { names: ['c'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] } },
      { names: ['d'], action: 'SCMP_ACT_ALLOW', excludes: { arches: ['amd64'] } },
      { names: ['e'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '5.10' } },
      { names: ['f'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '5.10' } },
      { name: 'g', action: 'SCMP_ACT_LOG' },
    ],
  };
  const names = (ctx: ProfileContext) => dockerProfileToSpec(p, ctx)!.syscalls!.flatMap((c) => c.names);
  t.deepEqual(names(amd64(['CAP_X'], [5, 4])), ['f', 'g']);
  t.deepEqual(names(amd64(['CAP_X', 'CAP_Y'], [5, 10])), ['a', 'e', 'g']);
  t.deepEqual(names(amd64([], [6, 1])), ['b', 'e', 'g']);
  t.deepEqual(names({ arch: 'arm64', capabilities: [], kernel: [4, 19] }), ['b', 'c', 'd', 'f', 'g']);
  t.deepEqual(dockerProfileToSpec(p, amd64())!.architectures, ['SCMP_ARCH_X86_64'], 'architectures kept as given');
});

test('bad profiles are refused naming the profile and the rule; an empty one means no filter', (t) => {
  const bad = (p: unknown) =>
    t.throws(() => dockerProfileToSpec(p as DockerSeccompProfile, amd64(), 'seccomp profile /x.json'), { instanceOf: InvalidArgumentError });
  t.regex(
    bad({ defaultAction: 'SCMP_ACT_ALLOW', archMap: [{ architecture: 'SCMP_ARCH_X86_64' }], architectures: ['SCMP_ARCH_X86'] })!.message,
    /both 'architectures' and 'archMap'/,
  );
  t.regex(
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'a', names: ['b'], action: 'SCMP_ACT_ALLOW' }] })!.message,
    /^seccomp profile \/x.json: syscalls\[0\]: both 'name' and 'names'/,
  );
  t.regex(
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: 'five' } }] })!.message,
    /minKernel "five"/,
  );
  t.regex(bad({ syscalls: [{ names: ['a'], action: 'SCMP_ACT_ALLOW' }] })!.message, /no defaultAction/);
  t.regex(bad([])!.message, /not a JSON object/);
  t.is(dockerProfileToSpec({}, amd64()), null);
  t.deepEqual(parseKernelVersion('6.18.0-1-amd64'), [6, 18]);
});

test('loadSeccompChoice: default, unconfined, a file read and checked at once, errors naming the file', (t) => {
  t.deepEqual(loadSeccompChoice(undefined), { kind: 'default' });
  t.deepEqual(loadSeccompChoice('unconfined'), { kind: 'unconfined' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-seccomp-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const good = path.join(dir, 'good.json');
  fs.writeFileSync(good, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW' }));
  t.deepEqual(loadSeccompChoice(good), { kind: 'file', path: good, profile: { defaultAction: 'SCMP_ACT_ALLOW' } });
  t.throws(() => loadSeccompChoice(path.join(dir, 'nope.json')), { message: `seccomp profile ${path.join(dir, 'nope.json')}: ENOENT` });
  const notJson = path.join(dir, 'bad.json');
  fs.writeFileSync(notJson, '{');
  t.throws(() => loadSeccompChoice(notJson), { message: new RegExp(`^seccomp profile ${notJson}: not valid JSON`) });
  const noNames = path.join(dir, 'nonames.json');
  fs.writeFileSync(noNames, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ action: 'SCMP_ACT_ERRNO' }] }));
  t.throws(() => loadSeccompChoice(noNames), { message: `seccomp profile ${noNames}: syscalls[0]: no syscall names` });
});

test('--security-opt: seccomp=… (the last wins, "seccomp:" too); anything else is refused', (t) => {
  t.is(seccompOption(undefined), undefined);
  t.is(seccompOption(['seccomp=unconfined']), 'unconfined');
  t.is(seccompOption(['seccomp=/a.json', 'seccomp:/b.json']), '/b.json');
  t.throws(() => seccompOption(['apparmor=unconfined']), { message: /only seccomp=unconfined or seccomp=FILE/ });
  t.throws(() => seccompOption(['seccomp=']), { message: /want seccomp=unconfined or seccomp=FILE/ });
});

test('applyImageSeccomp on an image bundle: the default profile for its caps; none when unconfined; a file profile as given', (t) => {
  const user = { uid: 0, gid: 0, additionalGids: [], home: '/root' };
  const base = { id: 'abc', network: 'none' as const, containerDir: '/c', command: ['x'] };
  const host = { arch: 'amd64', kernel: [6, 18] as [number, number] };
  const def = buildImageBundle({ config: {} }, user, base).spec;
  applyImageSeccomp(def, { kind: 'default' }, host);
  t.deepEqual(def.linux!.seccomp, builtinProfileToSpec(amd64(def.process!.capabilities!.bounding!)));
  t.deepEqual(def.linux!.seccomp, builtinProfileToSpec(amd64()), "the bundle's caps are Docker's default set");
  const unconfined = buildImageBundle({ config: {} }, user, base).spec;
  applyImageSeccomp(unconfined, { kind: 'unconfined' }, host);
  t.is(unconfined.linux!.seccomp, undefined);
  const file = buildImageBundle({ config: {} }, user, base).spec;
  const profile = { defaultAction: 'SCMP_ACT_LOG', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } }] };
  applyImageSeccomp(file, { kind: 'file', path: '/p.json', profile }, host);
  t.deepEqual(file.linux!.seccomp, { defaultAction: 'SCMP_ACT_LOG' });
});

const onX64 = needs(need(process.arch === 'x64', 'syscall numbers and names checked for x86_64'));

// What busybox and a glibc program (ash, ls, cat, ps, wget, a pthread program) make on x86_64.
const EVERYDAY = [
  'execve',
  'brk',
  'mmap',
  'munmap',
  'mprotect',
  'mremap',
  'madvise',
  'arch_prctl',
  'set_tid_address',
  'set_robust_list',
  'rseq',
  'prlimit64',
  'getrandom',
  'uname',
  'sysinfo',
  'readlink',
  'access',
  'faccessat2',
  'open',
  'openat',
  'close',
  'read',
  'write',
  'readv',
  'writev',
  'pread64',
  'lseek',
  'fstat',
  'newfstatat',
  'statx',
  'statfs',
  'getdents64',
  'ioctl',
  'fcntl',
  'dup2',
  'dup3',
  'pipe2',
  'chdir',
  'getcwd',
  'umask',
  'mkdir',
  'rmdir',
  'unlink',
  'rename',
  'symlink',
  'chmod',
  'chown',
  'utimensat',
  'poll',
  'ppoll',
  'pselect6',
  'epoll_create1',
  'epoll_ctl',
  'epoll_wait',
  'rt_sigaction',
  'rt_sigprocmask',
  'rt_sigreturn',
  'rt_sigsuspend',
  'sigaltstack',
  'kill',
  'tgkill',
  'alarm',
  'wait4',
  'waitid',
  'vfork',
  'fork',
  'exit',
  'exit_group',
  'getpid',
  'getppid',
  'gettid',
  'getuid',
  'geteuid',
  'getgid',
  'getegid',
  'getgroups',
  'setuid',
  'setgid',
  'setgroups',
  'setpgid',
  'getpgrp',
  'setsid',
  'futex',
  'clock_gettime',
  'clock_nanosleep',
  'nanosleep',
  'gettimeofday',
  'sched_getaffinity',
  'sched_yield',
  'prctl',
  'capget',
  'socketpair',
  'connect',
  'bind',
  'sendto',
  'recvfrom',
  'sendmsg',
  'recvmsg',
  'getsockname',
  'setsockopt',
  'shutdown',
];

onX64('the built-in profile compiles and lets a busybox/glibc process run: everyday calls, clone without namespaces, plain sockets', (t) => {
  const lib = seccompLib();
  const x64 = lib.archResolveName('x86_64') >>> 0;
  const prog = decodeProgram(compileSeccomp(builtinProfileToSpec(amd64()))!.bpf);
  const ev = (name: string, args: bigint[] = []) => evaluate(prog, { arch: AUDIT_ARCH_X86_64, nr: lib.resolveNameArch(x64, name), args });
  const ALLOW = 0x7fff0000;
  const ERRNO = (e: number) => (0x00050000 | e) >>> 0;
  for (const n of EVERYDAY) t.is(ev(n), ALLOW, n);
  t.is(ev('clone', [0x003d0f00n]), ALLOW, "glibc pthread_create's flags");
  t.is(ev('clone', [0x01200011n]), ALLOW, "glibc fork's flags (CLONE_CHILD_SETTID|CLONE_CHILD_CLEARTID|SIGCHLD)");
  t.is(ev('clone', [0x10000000n | 17n]), ERRNO(1), 'CLONE_NEWUSER');
  t.is(ev('clone', [0x00020000n | 17n]), ERRNO(1), 'CLONE_NEWNS');
  t.is(ev('clone3'), ERRNO(38), 'clone3: ENOSYS, so that glibc falls back to clone');
  t.is(ev('socket', [2n]), ALLOW, 'AF_INET');
  t.is(ev('socket', [1n]), ALLOW, 'AF_UNIX');
  t.is(ev('socket', [16n]), ALLOW, 'AF_NETLINK');
  t.is(ev('socket', [39n]), ALLOW, 'AF_NFC, between the two refused families');
  t.is(ev('socket', [41n]), ALLOW, 'past AF_VSOCK');
  t.is(ev('socket', [38n]), ERRNO(1), 'AF_ALG');
  t.is(ev('socket', [40n]), ERRNO(1), 'AF_VSOCK');
  t.is(ev('personality', [0xffffffffn]), ALLOW, 'the personality query');
  t.is(ev('personality', [0n]), ALLOW, 'PER_LINUX');
  t.is(ev('personality', [0x0040000n]), ERRNO(1), 'ADDR_NO_RANDOMIZE');
  for (const n of ['mount', 'unshare', 'setns', 'bpf', 'io_uring_setup', 'kexec_load', 'open_by_handle_at', 'keyctl']) t.is(ev(n), ERRNO(1), n);
});

onX64('every group of the data names syscalls libseccomp knows for x86_64, unless the group is for other arches or newer than libseccomp', (t) => {
  const lib = seccompLib();
  const x64 = lib.archResolveName('x86_64') >>> 0;
  const p = builtinProfile();
  const unknown: string[] = [];
  const seen = new Set<string>();
  for (const g of p.groups) {
    t.true(g.name.length > 0 && g.why.length > 0 && g.allow.length > 0, `group ${g.name}: a name, a reason and syscalls`);
    t.is(new Set(g.allow).size, g.allow.length, `group ${g.name}: no name twice`);
    const otherArches = g.when?.arches !== undefined && !g.when.arches.includes('amd64');
    for (const n of g.allow) {
      seen.add(n);
      // -1 (__NR_SCMP_ERROR): a name libseccomp does not know at all; other negatives are its
      // pseudo-numbers for calls x86_64 lacks (chown32, _llseek…), which it still knows.
      if (lib.resolveNameArch(x64, n) === -1 && !otherArches && g.since === undefined) unknown.push(`${g.name}: ${n}`);
    }
  }
  for (const r of [...p.argumentRules, ...p.refusals]) {
    t.true(r.why.length > 0, r.syscall);
    t.not(lib.resolveNameArch(x64, r.syscall), -1, r.syscall);
  }
  t.deepEqual(unknown, []);
  t.true(seen.size > 350, `${seen.size} syscalls named`);
  t.deepEqual(Object.keys(p.architectures).sort(), ['amd64', 'arm64', 'loong64', 'mips64', 'mips64n32', 'mipsel64', 'mipsel64n32', 'riscv64', 's390x']);
});

test('s390 clone: the flags are checked in the second argument', (t) => {
  const s = builtinProfileToSpec({ arch: 's390x', capabilities: DOCKER_CAPS, kernel: [6, 1] });
  const clone = s.syscalls!.filter((c) => c.names.includes('clone'));
  t.deepEqual(clone, [{ names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] }]);
  t.deepEqual(s.architectures, ['SCMP_ARCH_S390X', 'SCMP_ARCH_S390']);
  t.is(plainAction(s, 's390_runtime_instr'), 'SCMP_ACT_ALLOW');
  t.is(plainAction(s, 'ptrace'), 'SCMP_ACT_ALLOW', 'kernel 6.1 ≥ 4.8');
  t.is(
    plainAction(builtinProfileToSpec({ arch: 's390x', capabilities: DOCKER_CAPS, kernel: [4, 4] }), 'ptrace'),
    undefined,
    'kernel 4.4: only with CAP_SYS_PTRACE',
  );
});
