// Loads what compileSeccomp produces into a real process, without a container: a tiny static C
// harness sets no_new_privs, loads the blob with seccomp(SECCOMP_SET_MODE_FILTER, flags) exactly as
// OP_SECCOMP does in native/child.cc, then makes the syscalls it is told to and prints the result.
// Needs gcc and a static libc (build-essential, libc6-dev), not root. The NOTIFY test also hands the
// listener fd to an agent through sendSeccompListener (needs the built addon).
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { compileSeccomp, sendSeccompListener } from '../../src/seccomp/seccomp.js';
import { seccompLib } from '../../src/seccomp/seccomp-lib.js';
import { addon, packageRoot } from '../../src/sys/addon.js';
import type { LinuxSeccomp, LinuxSyscall } from '../../src/spec/types.js';
import { file, gate, tool } from '../helpers/skip.js';

const HARNESS_C = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/* One write(2) per line: stdio buffering would lose lines when seccomp kills the process. */
static void out(const char *fmt, ...) {
  char buf[8192];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof buf - 1) n = sizeof buf - 1;
  for (int off = 0; off < n;) { ssize_t w = write(1, buf + off, n - off); if (w <= 0) _exit(99); off += w; }
}

static void on_sigsys(int sig, siginfo_t *si, void *uc) {
  (void)sig; (void)uc;
  out("sigsys %d %d\n", si->si_syscall, si->si_code);
}

struct call { long nr; long a[6]; long ret; int err; };

static void parse(const char *spec, struct call *c) {
  memset(c, 0, sizeof *c);
  char *end;
  c->nr = strtol(spec, &end, 0);
  for (int i = 0; i < 6 && *end == ':'; i++) c->a[i] = strtol(end + 1, &end, 0);
}

static void *run_call(void *p) {
  struct call *c = p;
  errno = 0;
  c->ret = syscall(c->nr, c->a[0], c->a[1], c->a[2], c->a[3], c->a[4], c->a[5]);
  c->err = c->ret < 0 ? errno : 0;
  return NULL;
}

/* A seccomp agent: accept one connection on PATH, take the state and fd, answer one notification. */
static int agent(const char *path) {
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 1) < 0) { perror("bind"); return 2; }
  out("ready\n");
  int c = accept(s, NULL, NULL);
  if (c < 0) { perror("accept"); return 2; }
  static char data[65536];
  char ctrl[CMSG_SPACE(sizeof(int))];
  struct iovec iov = {data, sizeof data - 1};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl, .msg_controllen = sizeof ctrl};
  ssize_t n = recvmsg(c, &msg, 0);
  if (n < 0) { perror("recvmsg"); return 2; }
  data[n] = 0;
  int fd = -1;
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm))
    if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(cm), sizeof fd);
  out("state %s\n", data);
  if (fd < 0) { out("no-fd\n"); return 3; }
  struct seccomp_notif req;
  memset(&req, 0, sizeof req);
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) { perror("NOTIF_RECV"); return 4; }
  out("notif %d %d\n", req.data.nr, req.pid);
  struct seccomp_notif_resp resp = {.id = req.id, .error = -77, .val = 0, .flags = 0};
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0) { perror("NOTIF_SEND"); return 5; }
  out("responded\n");
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "agent") == 0) return agent(argv[2]);
  if (argc < 3) { fprintf(stderr, "usage: %s BPF FLAGS OP...\n", argv[0]); return 2; }
  static unsigned char prog_buf[4096 * 8 + 8];
  int f = open(argv[1], O_RDONLY);
  ssize_t len = f < 0 ? -1 : read(f, prog_buf, sizeof prog_buf);
  if (len <= 0 || len % 8) { perror("read bpf"); return 2; }
  close(f);
  struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};
  sigaction(SIGSYS, &sa, NULL);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) { perror("no_new_privs"); return 2; }
  struct sock_fprog prog = {.len = (unsigned short)(len / 8), .filter = (struct sock_filter *)prog_buf};
  unsigned long flags = strtoul(argv[2], NULL, 0);
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (r < 0) { out("load-error %d\n", errno); return 3; }
  out("loaded %ld\n", r);
  for (int i = 3; i < argc; i++) {
    const char *op = argv[i];
    if (op[0] == 'w') { char b[16]; if (read(0, b, sizeof b) <= 0) return 4; continue; }
    struct call c;
    parse(op + 2, &c);
    if (op[0] == 't') {
      pthread_t t;
      if (pthread_create(&t, NULL, run_call, &c) != 0) { out("thread-error\n"); return 4; }
      pthread_join(t, NULL);
      out("thread %ld done\n", c.nr);
      continue;
    }
    run_call(&c);
    out("call %ld %ld %d\n", c.nr, c.ret, c.err);
  }
  return 0;
}
`;

const gcc = tool('gcc', 'build-essential');
const haveGcc = gcc.ok;
const it = gate(test, gcc).serial;
const itAddon = gate(test, gcc, file(path.join(packageRoot(), 'build', 'Release', 'tsrun.node'), 'build/Release/tsrun.node is not built')).serial;

let dir = '';
let harness = '';
let seq = 0;

test.before(() => {
  if (!haveGcc) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-seccomp-'));
  fs.writeFileSync(path.join(dir, 'harness.c'), HARNESS_C);
  harness = path.join(dir, 'harness');
  const cc = spawnSync('gcc', ['-static', '-pthread', '-O1', '-Wall', '-Werror', '-o', harness, path.join(dir, 'harness.c')], { encoding: 'utf8' });
  if (cc.status !== 0) throw new Error(`gcc failed: ${cc.stderr}`);
});

test.after.always(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const lib = haveGcc ? seccompLib() : undefined;
const NATIVE = lib ? lib.archNative() >>> 0 : 0;
const nr = (name: string) => {
  const n = lib!.resolveNameArch(NATIVE, name);
  if (n < 0) throw new Error(`no syscall ${name} here`);
  return n;
};
const EPERM = 1,
  EBADF = 9,
  EACCES = 13,
  EFAULT = 14,
  ENOSYS = 38;

interface Result {
  calls: Map<number, { ret: number; err: number }[]>;
  lines: string[];
  status: number | null;
  signal: NodeJS.Signals | null;
}

function writeBlob(s: LinuxSeccomp): { file: string; flags: number } {
  const c = compileSeccomp(s)!;
  const file = path.join(dir, `filter-${process.pid}-${seq++}.bpf`);
  fs.writeFileSync(file, c.bpf);
  return { file, flags: c.flags };
}

/** ops: "s:NR:a0:a1…" (syscall), "t:NR:…" (the same in a new thread). */
function runWith(s: LinuxSeccomp, ops: string[]): Result {
  const { file, flags } = writeBlob(s);
  const r = spawnSync(harness, [file, String(flags), ...ops], { encoding: 'utf8', timeout: 20_000 });
  const lines = r.stdout.split('\n').filter(Boolean);
  const calls = new Map<number, { ret: number; err: number }[]>();
  for (const l of lines) {
    const m = /^call (\d+) (-?\d+) (\d+)$/.exec(l);
    if (m) calls.set(Number(m[1]), [...(calls.get(Number(m[1])) ?? []), { ret: Number(m[2]), err: Number(m[3]) }]);
  }
  return { calls, lines, status: r.status, signal: r.signal };
}

const call = (name: string, ...args: (number | bigint)[]) => `s:${[nr(name), ...args].join(':')}`;
const errs = (r: Result, name: string) => (r.calls.get(nr(name)) ?? []).map((c) => c.err);

it('ERRNO with errnoRet, the default errno, ALLOW, and arguments (AND, OR, MASKED_EQ)', (t) => {
  const s: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      { names: ['mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 42 },
      { names: ['getcwd'], action: 'SCMP_ACT_ERRNO' },
      {
        names: ['dup3'],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: 33,
        args: [
          { index: 0, value: 1000, op: 'SCMP_CMP_EQ' },
          { index: 1, value: 1001, op: 'SCMP_CMP_EQ' },
        ],
      },
      {
        names: ['fchdir'],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: 34,
        args: [
          { index: 0, value: 2000, op: 'SCMP_CMP_EQ' },
          { index: 0, value: 2001, op: 'SCMP_CMP_EQ' },
        ],
      },
      { names: ['fcntl'], action: 'SCMP_ACT_ERRNO', errnoRet: 35, args: [{ index: 1, value: 0xff00, valueTwo: 0x0400, op: 'SCMP_CMP_MASKED_EQ' }] },
    ],
  };
  const r = runWith(s, [
    call('mkdirat', -100, 0, 0o755),
    call('getcwd', 0, 0),
    call('dup3', 1000, 1001, 0),
    call('dup3', 1000, 1002, 0),
    call('fchdir', 2000),
    call('fchdir', 2001),
    call('fchdir', 2002),
    call('fcntl', 3000, 0x0406),
    call('fcntl', 3000, 0x0506),
    call('getppid'),
  ]);
  t.is(r.status, 0, r.lines.join('\n'));
  t.deepEqual(errs(r, 'mkdirat'), [42]);
  t.deepEqual(errs(r, 'getcwd'), [EPERM]);
  t.deepEqual(errs(r, 'dup3'), [33, EBADF]); // AND: both must match; otherwise the real dup3 runs
  t.deepEqual(errs(r, 'fchdir'), [34, 34, EBADF]); // repeated index: OR
  t.deepEqual(errs(r, 'fcntl'), [35, EBADF]); // (0x406 & 0xff00) == 0x400
  t.is(r.calls.get(nr('getppid'))![0].ret, process.pid);
});

it('syscalls newer than the profile return ENOSYS; older unnamed ones the default errno', (t) => {
  const s: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EACCES,
    syscalls: [{ names: ['read', 'write', 'exit_group', 'openat'], action: 'SCMP_ACT_ALLOW' }],
  };
  const r = runWith(s, [call('getpid'), call('mkdir', 0, 0), call('clone3', 0, 0), call('faccessat2', -100, 0, 0, 0), call('openat', -100, 0, 0)]);
  t.is(r.status, 0, r.lines.join('\n'));
  t.deepEqual(errs(r, 'getpid'), [EACCES]);
  t.deepEqual(errs(r, 'mkdir'), [EACCES]);
  t.deepEqual(errs(r, 'clone3'), [ENOSYS]);
  t.deepEqual(errs(r, 'faccessat2'), [ENOSYS]);
  t.deepEqual(errs(r, 'openat'), [EFAULT]); // allowed: the kernel ran it and read the NULL path
});

it('KILL_PROCESS and KILL end the process with SIGSYS; KILL_THREAD in a thread spares the process', (t) => {
  for (const action of ['SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_THREAD']) {
    const r = runWith({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpgid'], action }] }, [call('getppid'), call('getpgid', 0), call('getppid')]);
    t.is(r.signal, 'SIGSYS', `${action}: ${r.lines.join('|')}`);
    t.is(r.calls.get(nr('getppid'))?.length, 1, action);
  }
  const thread = (action: string) =>
    runWith({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpgid'], action }] }, [`t:${nr('getpgid')}:0`, call('getppid')]);
  const kt = thread('SCMP_ACT_KILL_THREAD');
  t.is(kt.status, 0, kt.lines.join('|'));
  t.true(kt.lines.includes(`thread ${nr('getpgid')} done`));
  t.is(kt.calls.get(nr('getppid'))?.length, 1);
  const kp = thread('SCMP_ACT_KILL_PROCESS');
  t.is(kp.signal, 'SIGSYS');
  t.is(kp.calls.get(nr('getppid')), undefined);
});

it('TRAP raises SIGSYS with si_code SYS_SECCOMP, and the process goes on', (t) => {
  const r = runWith({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpgid'], action: 'SCMP_ACT_TRAP' }] }, [call('getpgid', 0), call('getppid')]);
  t.is(r.status, 0, r.lines.join('|'));
  t.true(r.lines.includes(`sigsys ${nr('getpgid')} 1`), r.lines.join('|')); // SYS_SECCOMP = 1
  t.is(r.calls.get(nr('getppid'))![0].ret, process.pid);
});

it('LOG allows (with the LOG flag), TRACE without a tracer returns ENOSYS', (t) => {
  const r = runWith(
    {
      defaultAction: 'SCMP_ACT_ALLOW',
      flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
      syscalls: [
        { names: ['getppid'], action: 'SCMP_ACT_LOG' },
        { names: ['getpgid'], action: 'SCMP_ACT_TRACE', errnoRet: 5 },
      ],
    },
    [call('getppid'), call('getpgid', 0)],
  );
  t.is(r.status, 0, r.lines.join('|'));
  t.is(r.calls.get(nr('getppid'))![0].ret, process.pid);
  // seccomp_filter.rst: "If there is no tracer present, ... returns a failure status with errno set to ENOSYS".
  t.deepEqual(errs(r, 'getpgid'), [ENOSYS]);
});

it('a Docker-like profile loads and behaves, with SPEC_ALLOW by default', (t) => {
  const deny = new Set(['mount', 'umount2', 'unshare', 'setns', 'ptrace', 'personality', 'clone3', 'reboot', 'bpf', 'keyctl']);
  const names: string[] = [];
  for (let n = 0; n <= nr('faccessat2'); n++) {
    const name = lib!.resolveNumArch(NATIVE, n);
    if (name && !deny.has(name)) names.push(name);
  }
  const syscalls: LinuxSyscall[] = [
    { names, action: 'SCMP_ACT_ALLOW' },
    ...[0, 8, 4294967295].map((v) => ({ names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: v, op: 'SCMP_CMP_EQ' }] })),
    { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
  ];
  const s: LinuxSeccomp = { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], syscalls };
  t.log(`${names.length + 4} names, ${compileSeccomp(s)!.bpf.length / 8} instructions, flags ${compileSeccomp(s)!.flags}`);
  const r = runWith(s, [
    call('getppid'),
    call('mount', 0, 0, 0, 0, 0),
    call('unshare', 0),
    call('personality', 0xffffffff),
    call('personality', 1),
    call('clone3', 0, 0),
    `s:${nr('faccessat2') + 30}`,
  ]);
  t.is(r.status, 0, r.lines.join('|'));
  t.true(r.lines[0].startsWith('loaded 0'));
  t.is(r.calls.get(nr('getppid'))![0].ret, process.pid);
  t.deepEqual(errs(r, 'mount'), [EPERM]);
  t.deepEqual(errs(r, 'unshare'), [EPERM]);
  t.deepEqual(errs(r, 'personality'), [0, EPERM]);
  t.deepEqual(errs(r, 'clone3'), [ENOSYS]);
  t.deepEqual(
    r.calls.get(nr('faccessat2') + 30)!.map((c) => c.err),
    [ENOSYS],
  );
});

itAddon('NOTIFY: the listener fd reaches the agent at listenerPath with the state JSON, and answers', async (t) => {
  const s: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    listenerPath: path.join(dir, `agent-${process.pid}.sock`),
    listenerMetadata: 'tsrun-test-meta',
    syscalls: [{ names: ['getpgid'], action: 'SCMP_ACT_NOTIFY' }],
  };
  const { file, flags } = writeBlob(s);
  t.truthy(flags & (1 << 3), 'NEW_LISTENER');
  const agent = spawn(harness, ['agent', s.listenerPath!], { stdio: ['ignore', 'pipe', 'inherit'] });
  const target = spawn(harness, [file, String(flags), 'w', call('getpgid', 0)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const kill = () => {
    for (const p of [agent, target]) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  };
  t.teardown(kill);
  const agentOut = lineReader(agent.stdout!);
  const targetOut = lineReader(target.stdout!);
  t.is(await agentOut.next(), 'ready');
  const loaded = /^loaded (\d+)$/.exec(await targetOut.next());
  t.truthy(loaded, 'the harness got a listener fd');
  const listenerInTarget = Number(loaded![1]);
  t.true(listenerInTarget >= 3);

  // Take the listener out of the target as the runtime receives it from the child, then send it on.
  const native = addon();
  const pidfd = native.pidfdOpen(target.pid!);
  const fd = pidfdGetfd(pidfd, listenerInTarget);
  fs.closeSync(pidfd);
  const state = { ociVersion: '1.2.0', id: 'seccomp-test', status: 'creating' as const, pid: target.pid!, bundle: dir, annotations: { a: 'b' } };
  try {
    sendSeccompListener(s.listenerPath!, fd, state, s.listenerMetadata);
  } finally {
    fs.closeSync(fd);
  }
  const got = JSON.parse((await agentOut.next()).replace(/^state /, '')) as Record<string, unknown>;
  t.deepEqual(got, { ociVersion: '1.2.0', fds: ['seccompFd'], pid: target.pid, metadata: 'tsrun-test-meta', state });

  target.stdin!.end('go\n');
  t.is(await agentOut.next(), `notif ${nr('getpgid')} ${target.pid}`);
  t.is(await agentOut.next(), 'responded');
  t.is(await targetOut.next(), `call ${nr('getpgid')} -1 77`);
  t.throws(() => sendSeccompListener(path.join(dir, 'nobody-listens.sock'), 0, state), {
    message: /failed to connect with seccomp agent.*nobody-listens\.sock/,
  });
});

function pidfdGetfd(pidfd: number, fd: number): number {
  const require = createRequire(import.meta.url);
  const koffi = require('koffi') as typeof import('koffi');
  const sys = koffi.load('libc.so.6').func('long syscall(long nr, int pidfd, int fd, unsigned int flags)');
  const r = Number(sys(438 /* pidfd_getfd, same number on every arch */, pidfd, fd, 0));
  if (r < 0) throw new Error(`pidfd_getfd: errno ${koffi.errno()}`);
  return r;
}

function lineReader(stream: NodeJS.ReadableStream): { next(): Promise<string> } {
  let buf = '';
  const queue: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  let ended = false;
  const flush = () => {
    while (queue.length && waiters.length) waiters.shift()!(queue.shift()!);
    if (ended) while (waiters.length) waiters.shift()!('<eof>');
  };
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      queue.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    flush();
  });
  stream.on('end', () => {
    ended = true;
    flush();
  });
  return {
    next: () =>
      new Promise((resolve) => {
        waiters.push(resolve);
        flush();
      }),
  };
}
