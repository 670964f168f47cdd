// Every failure path of the addon's spawn and of tsrun-init must come back as an error, never end
// the process (issue 12). Until native/addon.h, spawn.cc called a 3-argument errnoError that
// nothing defined: with Node's lazy binding, the first failing socketpair/clone3/memfd/posix_spawn
// ended the CLI or the embedding service with "symbol lookup error" (exit 127). So the addon is
// driven in a short-lived child Node: a crash shows as that child's exit status and stderr and
// fails the test, rather than killing ava's worker.
//
// Each failure is made by a limit on the child alone: RLIMIT_NOFILE (socketpair EMFILE, the
// helper's fd moves above 1024 EINVAL) and RLIMIT_NPROC for a non-root uid (clone3 and
// posix_spawn EAGAIN; root is exempt, and this host's pids controller is v1, which tests must not
// touch). TSRUN_TEST_ADDON / TSRUN_TEST_HELPER point the tests at another build (e.g. the one
// before the fix, to see them fail).
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { closeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRoot, makeBundle } from '../helpers/bundle.js';
import { ChildSetupError, SyscallError, TsrunError } from '../../src/errors.js';
import { Detail, HelperStep, Msg } from '../../src/plan/opcodes.js';
import type { CompiledPlan } from '../../src/plan/plan-builder.js';
import { describeChildError } from '../../src/process/protocol.js';
import { addon } from '../../src/sys/addon.js';
import { TIME_SCALE } from '../helpers/wait.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ADDON = process.env.TSRUN_TEST_ADDON || path.join(REPO_ROOT, 'build/Release/tsrun.node');
const HELPER = process.env.TSRUN_TEST_HELPER || path.join(REPO_ROOT, 'build/Release/tsrun-init');
const EBADF = 9;
const EINVAL = 22;

const rootTest = isRoot ? test : test.skip;
if (!isRoot) console.log('native-errors: the RLIMIT_NPROC and CLI cases are skipped: they need root (setpriv to another uid, containers)');

interface Thrown {
  ok?: boolean;
  name?: string;
  message?: string;
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

/**
 * Runs body in a fresh node with `addon` loaded and prints what it threw. prefix wraps the node
 * command (prlimit, setpriv). A body that unexpectedly succeeds must clean up what it made.
 */
function inChild(body: string, prefix: string[] = []): { status: number | null; signal: string | null; stderr: string; thrown?: Thrown } {
  const script = `
    const addon = require(process.env.TSRUN_ADDON);
    const helper = process.env.TSRUN_HELPER;
    const out = (v) => process.stdout.write(JSON.stringify(v));
    try {
      ${body};
      out({ ok: true });
    } catch (e) {
      out({ name: e.constructor.name, message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path });
    }`;
  const [cmd, ...pre] = [...prefix, process.execPath];
  const r = spawnSync(cmd, [...pre, '-e', script], {
    env: { ...process.env, TSRUN_ADDON: ADDON, TSRUN_HELPER: HELPER },
    encoding: 'utf8',
    timeout: 30_000 * TIME_SCALE,
  });
  if (r.error) throw r.error;
  let thrown: Thrown | undefined;
  try {
    thrown = JSON.parse(r.stdout) as Thrown;
  } catch {
    thrown = undefined;
  }
  return { status: r.status, signal: r.signal, stderr: r.stderr, thrown };
}

/** The child ran to the end (no "symbol lookup error", no signal) and reports this error. */
function assertError(t: import('ava').ExecutionContext, r: ReturnType<typeof inChild>, want: Thrown): void {
  t.is(r.status, 0, `the child node ended with status ${r.status} signal ${r.signal}: ${r.stderr.trim()}`);
  t.notRegex(r.stderr, /symbol lookup error/);
  t.truthy(r.thrown, `the child reported what was thrown (stderr: ${r.stderr.trim()})`);
  t.not(r.thrown?.ok, true, 'the call failed');
  t.like(r.thrown, { name: 'Error', ...want });
  if (want.code) t.true(r.thrown?.message?.startsWith(`${want.code}: `), r.thrown?.message);
}

// Opens /dev/null until EMFILE; the fds are closed again after the body under test.
const EXHAUST_FDS = `
    const fs = require('node:fs');
    const held = [];
    for (;;) { try { held.push(fs.openSync('/dev/null', 'r')); } catch (e) { if (e.code === 'EMFILE') break; throw e; } }`;
const RELEASE_FDS = `for (const fd of held) fs.closeSync(fd);`;
const EMPTY_PLAN = `{ ops: new Uint32Array(0), strings: Buffer.alloc(0), lists: new Uint32Array(0), cloneFlags: 0, keepFds: [] }`;
// A child that was made anyway (the test then fails on ok) is killed and reaped.
const REAP = `process.kill(c.pid, 'SIGKILL'); addon.waitPid(c.pid);`;

test('spawnHelper of a missing helper throws ENOENT naming the file', (t) => {
  const r = inChild(`addon.spawnHelper('/nonexistent/tsrun-init', Buffer.alloc(0), [], 3, 4, -1)`);
  assertError(t, r, { code: 'ENOENT', errno: -2, syscall: 'open', path: '/nonexistent/tsrun-init' });
});

test('spawn throws EMFILE from socketpair when the fd table is full', (t) => {
  const r = inChild(
    `${EXHAUST_FDS}
    try { const c = addon.spawn(${EMPTY_PLAN}); ${REAP} } finally { ${RELEASE_FDS} }`,
    ['prlimit', '--nofile=256:256', '--'],
  );
  assertError(t, r, { code: 'EMFILE', errno: -24, syscall: 'socketpair' });
});

test('spawnHelper throws EINVAL when RLIMIT_NOFILE leaves no room for its fd moves (fcntl F_DUPFD above 1024)', (t) => {
  const r = inChild(`const c = addon.spawnHelper(helper, Buffer.alloc(0), [], 3, 4, -1); ${REAP}`, ['prlimit', '--nofile=512:512', '--']);
  assertError(t, r, { code: 'EINVAL', errno: -22, syscall: 'fcntl(F_DUPFD_CLOEXEC)' });
});

// RLIMIT_NPROC binds a uid other than root without CAP_SYS_RESOURCE/CAP_SYS_ADMIN (fork(2),
// kernel/fork.c copy_process). The limit is set once node runs: its own threads count too.
const NOBODY = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--'];
const NPROC_0 = `require('node:child_process').execFileSync('prlimit', ['--pid', String(process.pid), '--nproc=0:0']);`;

rootTest('spawn throws EAGAIN from clone3 under RLIMIT_NPROC', (t) => {
  const r = inChild(`${NPROC_0} const c = addon.spawn(${EMPTY_PLAN}); ${REAP}`, NOBODY);
  assertError(t, r, { code: 'EAGAIN', errno: -11, syscall: 'clone3' });
});

rootTest('spawnHelper throws EAGAIN from posix_spawn under RLIMIT_NPROC', (t) => {
  const r = inChild(`${NPROC_0} const c = addon.spawnHelper(helper, Buffer.alloc(0), [], 3, 4, -1); ${REAP}`, NOBODY);
  assertError(t, r, { code: 'EAGAIN', errno: -11, syscall: 'posix_spawn' });
});

test('tsrun-init reports a bad plan fd over the sync socket: {READ_PLAN, EBADF, HELPER_SETUP}', async (t) => {
  // Run by hand with fd 3 as the sync socket and fd 9 (the plan) not open.
  const child = spawn(HELPER, ['9', '3', '-1'], { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  child.stdio[3]!.on('data', (d: Buffer) => chunks.push(d));
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code] = (await once(child, 'close')) as [number | null];
  t.is(code, 125);
  const msg = Buffer.concat(chunks);
  t.is(msg.length, 16, `one 16-byte message on the sync socket (stderr: ${stderr.trim()})`);
  if (msg.length !== 16) return;
  t.deepEqual(
    { type: msg.readUInt32LE(0), op: msg.readUInt32LE(4), value: msg.readInt32LE(8), extra: msg.readUInt32LE(12) },
    { type: Msg.ERROR, op: HelperStep.READ_PLAN, value: EBADF, extra: Detail.HELPER_SETUP },
  );
  t.regex(stderr, /tsrun-init: read plan: Bad file descriptor/);
});

test('tsrun-init reports a plan it cannot parse; the parent words it as a ChildSetupError', (t) => {
  const a = addon();
  const c = a.spawnHelper(HELPER, Buffer.from('not a plan at all, just bytes'), [], 3, 4, -1);
  let m: { fd: number; data: Buffer };
  try {
    m = a.recvFd(c.syncFd);
  } finally {
    closeSync(c.syncFd);
    closeSync(c.pidfd);
    t.like(a.waitPid(c.pid), { exitCode: 125 });
  }
  t.is(m.data.length, 16, 'an ERROR message, not only an exit status');
  if (m.data.length !== 16) return;
  const [type, op, value, extra] = [m.data.readUInt32LE(0), m.data.readUInt32LE(4), m.data.readInt32LE(8), m.data.readUInt32LE(12)];
  t.deepEqual([type, op, value, extra], [Msg.ERROR, HelperStep.PARSE_PLAN, EINVAL, Detail.HELPER_SETUP]);
  const plan: CompiledPlan = { ops: new Uint32Array(0), strings: Buffer.alloc(0), lists: new Uint32Array(0), descriptions: [], meta: {} };
  const err = describeChildError(plan, op, value, extra);
  t.true(err instanceof ChildSetupError);
  t.true(err instanceof TsrunError);
  t.is(err.code, 'TSRUN_CHILD_SETUP');
  t.is(err.message, 'tsrun-init: parse plan: invalid argument');
});

rootTest('tsrun run reports a failing helper spawn as an error and leaves nothing behind', async (t) => {
  // CAP_SYS_PTRACE without a user namespace: the init is started through tsrun-init
  // (spawnModeFor), whose fd moves fail under RLIMIT_NOFILE 512. Before the fix: exit 127.
  const b = await makeBundle(t, (s) => {
    for (const set of ['bounding', 'effective', 'permitted'] as const) s.process!.capabilities![set]!.push('CAP_SYS_PTRACE');
    s.process!.args = ['true'];
  });
  const id = b.newId('nerr');
  const r = await b.tsrun(['run', '--bundle', b.dir, id], { prefix: ['prlimit', '--nofile=512:512', '--'] });
  t.notRegex(r.stderr, /symbol lookup error/);
  t.is(r.code, 1, r.stderr);
  t.regex(r.stderr, /fcntl\(F_DUPFD_CLOEXEC\): invalid argument/i);
  const list = await b.tsrun(['list', '--format', 'json']);
  t.is(list.code, 0, list.stderr);
  t.false(list.stdout.includes(id), `no container record is left: ${list.stdout}`);
});

// Through the TypeScript layer (src/sys/addon.ts, which every spawn goes through) the same failures
// are TsrunErrors: a SyscallError with code TSRUN_SYSCALL naming the call, the errno and the path.
test('through src/sys/addon.ts a missing helper is a SyscallError naming open and the path', (t) => {
  const err = t.throws(() => addon().spawnHelper('/nonexistent/tsrun-init', Buffer.alloc(0), [], 3, 4, -1));
  t.true(err instanceof SyscallError, `${err?.constructor.name}: ${err?.message}`);
  t.true(err instanceof TsrunError);
  t.like(err as SyscallError, { code: 'TSRUN_SYSCALL', syscall: 'open', errnoCode: 'ENOENT', errno: 2, path: '/nonexistent/tsrun-init' });
});

/** Like inChild, with the addon loaded through src/sys/addon.ts (tsx) rather than required raw. */
function inChildTs(
  body: string,
  prefix: string[] = [],
): { status: number | null; signal: string | null; stderr: string; thrown?: Thrown & { errnoCode?: string } } {
  const script = `
    const require = (await import('node:module')).createRequire(import.meta.url);
    const { addon: load } = await import(${JSON.stringify(path.join(REPO_ROOT, 'src/sys/addon.ts'))});
    const addon = load();
    const out = (v) => process.stdout.write(JSON.stringify(v));
    try {
      ${body};
      out({ ok: true });
    } catch (e) {
      out({ name: e.constructor.name, message: e.message, code: e.code, errno: e.errno, errnoCode: e.errnoCode, syscall: e.syscall });
    }`;
  const [cmd, ...pre] = [...prefix, process.execPath];
  const r = spawnSync(cmd, [...pre, '--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 60_000 * TIME_SCALE,
  });
  if (r.error) throw r.error;
  let thrown;
  try {
    thrown = JSON.parse(r.stdout);
  } catch {
    thrown = undefined;
  }
  return { status: r.status, signal: r.signal, stderr: r.stderr, thrown };
}

rootTest('through src/sys/addon.ts clone3 refused by RLIMIT_NPROC is a SyscallError (EAGAIN, clone3)', (t) => {
  const r = inChildTs(`${NPROC_0} const c = addon.spawn(${EMPTY_PLAN}); ${REAP}`, NOBODY);
  t.is(r.status, 0, `the child node ended with status ${r.status} signal ${r.signal}: ${r.stderr.trim()}`);
  t.like(r.thrown ?? {}, { name: 'SyscallError', code: 'TSRUN_SYSCALL', errnoCode: 'EAGAIN', errno: 11, syscall: 'clone3' });
});
