// compileSeccomp: OCI profiles → BPF, checked by running the program over synthetic seccomp_data
// (src/seccomp/seccomp-bpf.ts evaluate). Expected values are derived from the profile and the kernel's
// SECCOMP_RET_* encoding (linux/seccomp.h), never from a previous run.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compileSeccomp, seccompFeatures } from '../../src/seccomp/seccomp.js';
import { decodeProgram, evaluate, X32_SYSCALL_BIT, type SeccompData } from '../../src/seccomp/seccomp-bpf.js';
import { seccompLib } from '../../src/seccomp/seccomp-lib.js';
import { SECCOMP_FILTER_FLAG_NEW_LISTENER, SECCOMP_FILTER_FLAG_SPEC_ALLOW, seccompSupportedFlags } from '../../src/seccomp/seccomp-flags.js';
import { InvalidSpecError } from '../../src/errors.js';
import type { LinuxSeccomp, LinuxSyscall } from '../../src/spec/types.js';
import { need, needs } from '../helpers/skip.js';

// linux/seccomp.h SECCOMP_RET_*
const RET = {
  KILL_PROCESS: 0x80000000,
  KILL_THREAD: 0,
  TRAP: 0x00030000,
  ERRNO: (e: number) => (0x00050000 | e) >>> 0,
  USER_NOTIF: 0x7fc00000,
  TRACE: (e: number) => (0x7ff00000 | e) >>> 0,
  LOG: 0x7ffc0000,
  ALLOW: 0x7fff0000,
};
const EPERM = 1,
  ENOSYS = 38;

const lib = seccompLib();
const NATIVE = lib.archNative() >>> 0;
const X86 = lib.archResolveName('x86') >>> 0;
const X32 = lib.archResolveName('x32') >>> 0;
const AUDIT_X86_64 = 0xc000003e;
const nr = (name: string, arch = NATIVE) => lib.resolveNameArch(arch, name);
const run = (s: LinuxSeccomp, d: Partial<SeccompData> & { name?: string }) => {
  const c = compileSeccomp(s)!;
  return evaluate(decodeProgram(c.bpf), { arch: NATIVE, nr: d.name ? nr(d.name) : d.nr!, args: d.args });
};

// Docker's default profile in shape: default ERRNO(EPERM), a few hundred plain ALLOW names, argument
// rules for personality/clone/socket, clone3 → ENOSYS, names of other arches and an unknown one.
const DENY = new Set([
  'acct',
  'add_key',
  'bpf',
  'clock_adjtime',
  'clock_settime',
  'create_module',
  'delete_module',
  'finit_module',
  'get_kernel_syms',
  'get_mempolicy',
  'init_module',
  'ioperm',
  'iopl',
  'kcmp',
  'kexec_file_load',
  'kexec_load',
  'keyctl',
  'lookup_dcookie',
  'mbind',
  'mount',
  'move_pages',
  'name_to_handle_at',
  'nfsservctl',
  'open_by_handle_at',
  'perf_event_open',
  'pivot_root',
  'process_vm_readv',
  'process_vm_writev',
  'ptrace',
  'query_module',
  'quotactl',
  'reboot',
  'request_key',
  'set_mempolicy',
  'setns',
  'settimeofday',
  'swapon',
  'swapoff',
  'sysfs',
  '_sysctl',
  'umount2',
  'unshare',
  'uselib',
  'userfaultfd',
  'ustat',
  'vm86',
  'vm86old',
  'personality',
  'clone',
  'clone3',
  'socket',
]);
const LAST = 'faccessat2';

function dockerLike(): { profile: LinuxSeccomp; allowed: string[] } {
  const allowed: string[] = [];
  for (let n = 0; n <= nr(LAST); n++) {
    const name = lib.resolveNumArch(NATIVE, n);
    if (name && !DENY.has(name)) allowed.push(name);
  }
  const syscalls: LinuxSyscall[] = [
    { names: [...allowed, 'socketcall', '_llseek', 'arm_fadvise64_64', 'ugetrlimit', 'waitpid', 'not_a_syscall_xyz'], action: 'SCMP_ACT_ALLOW' },
    ...[0, 8, 131072, 131080, 4294967295].map((v) => ({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: v, op: 'SCMP_CMP_EQ' }] })),
    { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }] },
  ];
  return {
    profile: { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: EPERM, architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], syscalls },
    allowed,
  };
}

test('a Docker-like profile: every native syscall number gets the action the profile says', (t) => {
  const { profile, allowed } = dockerLike();
  const debug: string[] = [];
  const t0 = performance.now();
  const c = compileSeccomp(profile, { logger: { debug: (m) => debug.push(m) } })!;
  const ms = performance.now() - t0;
  const prog = decodeProgram(c.bpf);
  t.log(`${profile.syscalls![0].names.length + 8} names → ${prog.length} BPF instructions in ${ms.toFixed(1)} ms`);
  t.true(prog.length <= 4096);
  t.false(c.notify);
  t.deepEqual(debug, ['seccomp: unknown syscall "not_a_syscall_xyz" ignored']);
  const allow = new Set(allowed.map((n) => nr(n)));
  const max = nr(LAST);
  for (let n = 0; n < max + 64; n++) {
    const name = lib.resolveNumArch(NATIVE, n) ?? `#${n}`;
    let want: number;
    if (n > max)
      want = RET.ERRNO(ENOSYS); // newer than the profile
    else if (name === 'clone3') want = RET.ERRNO(ENOSYS);
    else if (allow.has(n)) want = RET.ALLOW;
    else if (name === 'socket')
      want = RET.ALLOW; // arg 0 = 0 ≠ AF_VSOCK
    else if (name === 'personality')
      want = RET.ALLOW; // arg 0 = 0 is listed
    else if (name === 'clone')
      want = RET.ALLOW; // no namespace flag in arg 0 = 0
    else want = RET.ERRNO(EPERM);
    t.is(evaluate(prog, { arch: NATIVE, nr: n }), want, `syscall ${name} (${n})`);
  }
});

function dockerLikeProgram() {
  const { profile } = dockerLike();
  const prog = decodeProgram(compileSeccomp(profile)!.bpf);
  const ev = (name: string, args: bigint[] = [], arch = NATIVE) => evaluate(prog, { arch: arch === X32 ? AUDIT_X86_64 : arch, nr: nr(name, arch), args });
  return { profile, prog, ev };
}

test('Docker-like profile: argument rules', (t) => {
  const { ev } = dockerLikeProgram();
  t.is(ev('personality', [8n]), RET.ALLOW);
  t.is(ev('personality', [0xffffffffn]), RET.ALLOW);
  t.is(ev('personality', [1n]), RET.ERRNO(EPERM));
  t.is(ev('clone', [0x11n]), RET.ALLOW); // SIGCHLD | CLONE_VM-free flags
  t.is(ev('clone', [0x10000000n]), RET.ERRNO(EPERM)); // CLONE_NEWUSER
  t.is(ev('socket', [2n]), RET.ALLOW);
  t.is(ev('socket', [40n]), RET.ERRNO(EPERM));
  t.is(ev('mount'), RET.ERRNO(EPERM));
});

needs(need(NATIVE === AUDIT_X86_64, 'the x86 and x32 ABIs are checked on x86_64 only'))('Docker-like profile: the other ABIs (x86, x32)', (t) => {
  const { profile, prog, ev } = dockerLikeProgram();
  t.is(ev('read', [], X86), RET.ALLOW);
  t.is(ev('mount', [], X86), RET.ERRNO(EPERM));
  t.is(ev('read', [], X32), RET.ALLOW);
  t.is(ev('clone3', [], X32), RET.ERRNO(ENOSYS));
  // Above each ABI's own newest named syscall: ENOSYS.
  const maxOn = (arch: number) => Math.max(...profile.syscalls!.flatMap((s) => s.names).map((n) => nr(n, arch)));
  t.is(evaluate(prog, { arch: X86, nr: maxOn(X86) + 1 }), RET.ERRNO(ENOSYS));
  t.is(evaluate(prog, { arch: AUDIT_X86_64, nr: maxOn(X32) + 1 }), RET.ERRNO(ENOSYS));
  t.not(evaluate(prog, { arch: AUDIT_X86_64, nr: maxOn(X32) }), RET.ERRNO(ENOSYS));
  t.is(evaluate(prog, { arch: AUDIT_X86_64, nr: X32_SYSCALL_BIT | nr('mount') }), RET.ERRNO(EPERM));
  // An arch the filter does not have: libseccomp's bad-arch action (KILL by default).
  t.is(evaluate(prog, { arch: lib.archResolveName('aarch64') >>> 0, nr: 0 }), RET.KILL_THREAD);
});

test('each action maps to its SECCOMP_RET value', (t) => {
  const names = ['getpid', 'getppid', 'getuid', 'geteuid', 'getgid', 'getegid', 'gettid', 'getpgrp', 'setsid', 'sched_yield'];
  const actions: [string, number | undefined, number][] = [
    ['SCMP_ACT_KILL', undefined, RET.KILL_THREAD],
    ['SCMP_ACT_KILL_THREAD', undefined, RET.KILL_THREAD],
    ['SCMP_ACT_KILL_PROCESS', undefined, RET.KILL_PROCESS],
    ['SCMP_ACT_TRAP', undefined, RET.TRAP],
    ['SCMP_ACT_ERRNO', undefined, RET.ERRNO(EPERM)],
    ['SCMP_ACT_ERRNO', 42, RET.ERRNO(42)],
    ['SCMP_ACT_TRACE', undefined, RET.TRACE(EPERM)],
    ['SCMP_ACT_TRACE', 7, RET.TRACE(7)],
    ['SCMP_ACT_LOG', undefined, RET.LOG],
    ['SCMP_ACT_NOTIFY', undefined, RET.USER_NOTIF],
  ];
  const profile: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    listenerPath: '/run/agent.sock',
    syscalls: actions.map(([action, errnoRet], i) => ({ names: [names[i]], action, ...(errnoRet === undefined ? {} : { errnoRet }) })),
  };
  const c = compileSeccomp(profile)!;
  t.true(c.notify);
  t.truthy(c.flags & SECCOMP_FILTER_FLAG_NEW_LISTENER);
  const prog = decodeProgram(c.bpf);
  actions.forEach(([action, , want], i) => t.is(evaluate(prog, { arch: NATIVE, nr: nr(names[i]) }), want, `${action} on ${names[i]}`));
  t.is(evaluate(prog, { arch: NATIVE, nr: nr('read') }), RET.ALLOW);
  // Default ALLOW: no ENOSYS prologue, so an unnamed future number is allowed.
  t.is(evaluate(prog, { arch: NATIVE, nr: 1000 }), RET.ALLOW);
});

test('default actions and defaultErrnoRet', (t) => {
  const rules: LinuxSyscall[] = [{ names: ['read', 'write', 'openat'], action: 'SCMP_ACT_ALLOW' }];
  const cases: [Partial<LinuxSeccomp>, number][] = [
    [{ defaultAction: 'SCMP_ACT_ERRNO' }, RET.ERRNO(EPERM)],
    [{ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 95 }, RET.ERRNO(95)],
    [{ defaultAction: 'SCMP_ACT_KILL_PROCESS' }, RET.KILL_PROCESS],
    [{ defaultAction: 'SCMP_ACT_KILL' }, RET.KILL_THREAD],
    [{ defaultAction: 'SCMP_ACT_TRAP' }, RET.TRAP],
    [{ defaultAction: 'SCMP_ACT_LOG' }, RET.LOG],
    [{ defaultAction: 'SCMP_ACT_TRACE', defaultErrnoRet: 3 }, RET.TRACE(3)],
  ];
  for (const [d, want] of cases) {
    const s = { ...d, syscalls: rules } as LinuxSeccomp;
    t.is(run(s, { name: 'getpid' }), want, JSON.stringify(d));
    t.is(run(s, { name: 'read' }), RET.ALLOW, JSON.stringify(d));
    // Newer than the profile (max = openat): ENOSYS unless the default is permissive (runc isAllowAction).
    const permissive = ['SCMP_ACT_LOG', 'SCMP_ACT_TRACE'].includes(d.defaultAction!);
    t.is(run(s, { name: 'clone3' }), permissive ? want : RET.ERRNO(ENOSYS), `clone3 with ${JSON.stringify(d)}`);
  }
  // Default already ENOSYS: no prologue needed, and the answer is the same.
  t.is(run({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: ENOSYS, syscalls: rules }, { name: 'clone3' }), RET.ERRNO(ENOSYS));
});

test('a rule with the default action is skipped; an unknown name is ignored with a debug log', (t) => {
  const debug: string[] = [];
  const s: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ERRNO',
    syscalls: [
      { names: ['getpid'], action: 'SCMP_ACT_ERRNO' },
      { names: ['read', 'no_such_call'], action: 'SCMP_ACT_ALLOW' },
    ],
  };
  const c = compileSeccomp(s, { logger: { debug: (m) => debug.push(m) } })!;
  t.deepEqual(debug, ['seccomp: unknown syscall "no_such_call" ignored']);
  const prog = decodeProgram(c.bpf);
  t.is(evaluate(prog, { arch: NATIVE, nr: nr('getpid') }), RET.ERRNO(EPERM));
  t.is(evaluate(prog, { arch: NATIVE, nr: nr('read') }), RET.ALLOW);
});

test('argument conditions: distinct indexes AND, a repeated index OR (runc matchCall)', (t) => {
  const and: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      {
        names: ['dup3'],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: 33,
        args: [
          { index: 0, value: 1000, op: 'SCMP_CMP_EQ' },
          { index: 1, value: 1001, op: 'SCMP_CMP_EQ' },
        ],
      },
    ],
  };
  t.is(run(and, { name: 'dup3', args: [1000n, 1001n] }), RET.ERRNO(33));
  t.is(run(and, { name: 'dup3', args: [1000n, 1002n] }), RET.ALLOW);
  t.is(run(and, { name: 'dup3', args: [999n, 1001n] }), RET.ALLOW);
  const or: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      {
        names: ['dup3'],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: 33,
        args: [
          { index: 0, value: 1000, op: 'SCMP_CMP_EQ' },
          { index: 0, value: 1003, op: 'SCMP_CMP_EQ' },
          { index: 1, value: 7, op: 'SCMP_CMP_EQ' },
        ],
      },
    ],
  };
  t.is(run(or, { name: 'dup3', args: [1000n, 1n] }), RET.ERRNO(33));
  t.is(run(or, { name: 'dup3', args: [1003n, 1n] }), RET.ERRNO(33));
  t.is(run(or, { name: 'dup3', args: [5n, 7n] }), RET.ERRNO(33));
  t.is(run(or, { name: 'dup3', args: [5n, 1n] }), RET.ALLOW);
});

test('comparison operators, MASKED_EQ (value = mask, valueTwo = datum) and 64-bit values', (t) => {
  const rule = (op: string, value: number | bigint, valueTwo?: number): LinuxSeccomp => ({
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      { names: ['lseek'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: value as number, op, ...(valueTwo === undefined ? {} : { valueTwo }) }] },
    ],
  });
  const hit = (s: LinuxSeccomp, v: bigint) => run(s, { name: 'lseek', args: [0n, v] }) === RET.ERRNO(EPERM);
  const cases: [string, number, bigint, boolean][] = [
    ['SCMP_CMP_EQ', 10, 10n, true],
    ['SCMP_CMP_EQ', 10, 11n, false],
    ['SCMP_CMP_NE', 10, 11n, true],
    ['SCMP_CMP_NE', 10, 10n, false],
    ['SCMP_CMP_LT', 10, 9n, true],
    ['SCMP_CMP_LT', 10, 10n, false],
    ['SCMP_CMP_LE', 10, 10n, true],
    ['SCMP_CMP_LE', 10, 11n, false],
    ['SCMP_CMP_GT', 10, 11n, true],
    ['SCMP_CMP_GT', 10, 10n, false],
    ['SCMP_CMP_GE', 10, 10n, true],
    ['SCMP_CMP_GE', 10, 9n, false],
    // 64-bit: the high word is compared too.
    ['SCMP_CMP_EQ', 10, (1n << 32n) | 10n, false],
    ['SCMP_CMP_GT', 10, 1n << 40n, true],
  ];
  for (const [op, value, arg, want] of cases) t.is(hit(rule(op, value), arg), want, `${op} ${value} vs ${arg}`);
  const masked = rule('SCMP_CMP_MASKED_EQ', 0x80000, 0x80000);
  t.true(hit(masked, 0x80002n));
  t.false(hit(masked, 0x2n));
  const big = rule('SCMP_CMP_EQ', 0x1_0000_0001n);
  t.true(hit(big, 0x1_0000_0001n));
  t.false(hit(big, 1n));
});

test('validation names every bad rule at once', (t) => {
  const s = {
    defaultAction: 'SCMP_ACT_NOTIFY',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_NOPE'],
    syscalls: [
      { names: ['read'], action: 'SCMP_ACT_ALLOW' },
      { names: ['getpid'], action: 'SCMP_ACT_FROB' },
      { names: ['getppid'], action: 'SCMP_ACT_ALLOW', errnoRet: 5 },
      { names: ['write'], action: 'SCMP_ACT_NOTIFY' },
      {
        names: ['dup'],
        action: 'SCMP_ACT_ERRNO',
        args: [
          { index: 6, value: 1, op: 'SCMP_CMP_EQ' },
          { index: 0, value: -1, op: 'SCMP_CMP_XX' },
        ],
      },
      { names: [], action: 'SCMP_ACT_ALLOW' },
    ],
  } as LinuxSeccomp;
  const err = t.throws(() => compileSeccomp(s), { instanceOf: InvalidSpecError })!;
  const p = (err as InvalidSpecError).problems;
  const expect = [
    'linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be used as default action',
    'linux.seccomp.architectures[1]: architecture "SCMP_ARCH_NOPE" is not supported',
    'linux.seccomp.syscalls[1]: unknown seccomp action "SCMP_ACT_FROB"',
    'linux.seccomp.syscalls[2]: errnoRet is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not SCMP_ACT_ALLOW',
    'linux.seccomp.syscalls[3]: SCMP_ACT_NOTIFY cannot be used for the write syscall',
    'linux.seccomp.syscalls[4].args[0].index: 6 is not a syscall argument index',
    'linux.seccomp.syscalls[4].args[1].op: unknown seccomp operator "SCMP_CMP_XX"',
    'linux.seccomp.syscalls[4].args[1].value: -1 is not an unsigned 64-bit integer',
    'linux.seccomp.syscalls[5].names: must not be empty',
    'linux.seccomp.listenerPath: required when a rule uses SCMP_ACT_NOTIFY',
  ];
  for (const e of expect)
    t.true(
      p.some((m) => m.startsWith(e)),
      `missing: ${e}\nin: ${p.join('\n')}`,
    );
  t.is(p.length, expect.length, p.join('\n'));
  t.is(err.code, 'TSRUN_INVALID_SPEC');
  t.throws(() => compileSeccomp({ defaultAction: 'SCMP_ACT_KILL', defaultErrnoRet: 1 }), { message: /defaultAction: errnoRet is only valid/ });
  t.throws(() => compileSeccomp({ defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 70000 }), { message: /not an integer in 0\.\.65535/ });
});

test('flags: runc defaults and kernel support', (t) => {
  const base: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] };
  const supported = seccompSupportedFlags();
  t.log('kernel supports', supported.join(', '));
  // No flags key: SPEC_ALLOW when the kernel has it; an explicit empty list: none.
  t.is(compileSeccomp(base)!.flags, supported.includes('SECCOMP_FILTER_FLAG_SPEC_ALLOW') ? SECCOMP_FILTER_FLAG_SPEC_ALLOW : 0);
  t.is(compileSeccomp({ ...base, flags: [] })!.flags, 0);
  t.is(compileSeccomp({ ...base, flags: ['SECCOMP_FILTER_FLAG_TSYNC'] })!.flags, 0);
  if (supported.includes('SECCOMP_FILTER_FLAG_LOG')) t.is(compileSeccomp({ ...base, flags: ['SECCOMP_FILTER_FLAG_LOG'] })!.flags, 1 << 1);
  t.throws(() => compileSeccomp({ ...base, flags: ['SECCOMP_FILTER_FLAG_BOGUS'] }), {
    message: /flags\[0\]: seccomp flag "SECCOMP_FILTER_FLAG_BOGUS" is not known/,
  });
  if (supported.includes('SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV')) {
    t.throws(() => compileSeccomp({ ...base, flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] }), { message: /needs an SCMP_ACT_NOTIFY rule/ });
    const n = compileSeccomp({
      ...base,
      listenerPath: '/run/agent.sock',
      flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'],
      syscalls: [{ names: ['getppid'], action: 'SCMP_ACT_NOTIFY' }],
    })!;
    t.is(n.flags, (1 << 5) | SECCOMP_FILTER_FLAG_NEW_LISTENER);
  }
});

test('an empty section is no filter at all (runc: seccomp disabled)', (t) => {
  t.is(compileSeccomp({ defaultAction: '' }), undefined);
  t.is(compileSeccomp({ defaultAction: '', syscalls: [] }), undefined);
});

test('the filter cache: a hit returns the same filter without libseccomp; a bad entry is regenerated', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-seccomp-cache-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { profile } = dockerLike();
  const logs: string[] = [];
  const logger = { debug: (m: string) => logs.push(m) };
  const t0 = performance.now();
  const first = compileSeccomp(profile, { cacheDir: dir, logger })!;
  const t1 = performance.now();
  const files = fs.readdirSync(dir);
  t.is(files.length, 1);
  const second = compileSeccomp({ ...profile, listenerPath: '/x.sock', listenerMetadata: 'm' }, { cacheDir: dir, logger })!;
  const t2 = performance.now();
  t.log(`miss ${(t1 - t0).toFixed(1)} ms, hit ${(t2 - t1).toFixed(2)} ms`);
  t.true(second.bpf.equals(first.bpf));
  t.is(second.flags, first.flags);
  t.is(second.notify, first.notify);
  t.regex(logs.at(-1)!, /from the cache/);
  // Another profile gets another entry.
  compileSeccomp({ ...profile, defaultErrnoRet: 13 }, { cacheDir: dir });
  t.is(fs.readdirSync(dir).length, 2);
  // A truncated entry is ignored and rewritten.
  fs.truncateSync(path.join(dir, files[0]), 20);
  const third = compileSeccomp(profile, { cacheDir: dir, logger })!;
  t.true(third.bpf.equals(first.bpf));
  t.is(fs.statSync(path.join(dir, files[0])).size, first.bpf.length + 15);
});

test('features: what this libseccomp and kernel support', (t) => {
  const f = seccompFeatures();
  t.log(`libseccomp ${f.libseccompVersion}; archs ${f.archs.join(' ')}; supported flags ${f.supportedFlags.join(' ')}`);
  t.regex(f.libseccompVersion, /^\d+\.\d+\.\d+$/);
  // Every arch claimed is known to libseccomp: it compiles, or is refused by name because it cannot
  // share a filter with the native one (libseccomp EDOM: other byte order or word size).
  const mixed: string[] = [];
  for (const a of f.archs) {
    try {
      t.truthy(compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', architectures: [a], syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' }] }), a);
    } catch (err) {
      t.true(err instanceof InvalidSpecError && /architectures\[0\]: \S+ cannot share a filter with the native architecture/.test(err.message), String(err));
      mixed.push(a);
    }
  }
  t.log(`not combinable with the native arch: ${mixed.join(' ')}`);
  t.true(f.archs.some((a) => lib.archResolveName(a.slice(10).toLowerCase()) >>> 0 === NATIVE));
  // Every supported flag compiles (WAIT_KILLABLE_RECV needs a NOTIFY rule).
  for (const flag of f.supportedFlags) {
    t.notThrows(
      () =>
        compileSeccomp({
          defaultAction: 'SCMP_ACT_ALLOW',
          listenerPath: '/run/agent.sock',
          flags: [flag],
          syscalls: [{ names: ['getppid'], action: 'SCMP_ACT_NOTIFY' }],
        }),
      flag,
    );
  }
  t.true(f.knownFlags.every((k) => k.startsWith('SECCOMP_FILTER_FLAG_')));
});
