// The NOTIFY_SOCKET proxy's parts that need no container (container/notify.ts,
// container/notify-socket.ts): READY= parsing, sockaddr_un encoding, the spec runc's setupSpec makes,
// and the datagram sockets themselves (unprivileged: sockets in a temp dir and abstract names).
// The fd-counting test is serial: concurrent tests of this file open fds of their own.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CONTAINER_NOTIFY_SOCKET, makeNotifyDir, notifyHost, NotifyListener, notifySocketPath, notifySpec, readyLine } from '../../src/container/notify.js';
import type { Logger } from '../../src/logger.js';
import { bindDgram, connectDgram, drainDgrams, sendDgram, sockaddrUn } from '../../src/container/notify-socket.js';
import { readProcStat } from '../../src/state/status.js';
import { waitFor } from '../helpers/wait.js';
import type { Spec } from '../../src/spec/types.js';

function tmpDir(t: import('ava').ExecutionContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-notify-unit-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** This process's open sockets, as "fd socket:[inode]". */
function openSockets(): Set<string> {
  const out = new Set<string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile (the readdir's own fd)
    }
    if (target.startsWith('socket:')) out.add(`${fd} ${target}`);
  }
  return out;
}

/**
 * Sockets open now that were not at `before`. Not a count of all fds: the test's process (ava's
 * worker, Node) opens and closes fds of its own meanwhile, which once made a count one lower than
 * before (CI).
 */
function newSockets(before: Set<string>): string[] {
  return [...openSockets()].filter((s) => !before.has(s));
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, debug() {}, info() {}, error() {}, warn: (m) => warnings.push(m) };
}

test('readyLine takes the READY= line of a datagram wherever it stands, and nothing else', (t) => {
  t.is(readyLine('READY=1'), 'READY=1');
  t.is(readyLine('READY=1\nSTATUS=serving'), 'READY=1', 'runc forwards the first line only');
  t.is(readyLine(Buffer.from('STATUS=almost\nREADY=1\n')), 'READY=1');
  t.is(readyLine('STATUS=starting'), null);
  t.is(readyLine('WATCHDOG=1\nMAINPID=5'), null);
  t.is(readyLine('NOTREADY=1'), null);
  t.is(readyLine(''), null);
});

test('sockaddrUn encodes paths with their NUL and abstract names without, within sun_path', (t) => {
  const p = sockaddrUn('/run/x.sock');
  t.is(p.addr.readUInt16LE(0), 1, 'AF_UNIX');
  t.is(p.len, 2 + '/run/x.sock'.length + 1);
  t.is(p.addr.subarray(2, p.len).toString('latin1'), '/run/x.sock\0');
  const a = sockaddrUn('@sd-notify');
  t.is(a.len, 2 + '@sd-notify'.length, 'an abstract name has no terminator');
  t.is(a.addr[2], 0, 'the "@" becomes the leading NUL');
  t.is(a.addr.subarray(3, a.len).toString('latin1'), 'sd-notify');
  t.notThrows(() => sockaddrUn(`/${'a'.repeat(106)}`), '107 bytes and the NUL fill sun_path');
  t.throws(() => sockaddrUn(`/${'a'.repeat(107)}`), { code: 'ENAMETOOLONG' });
  t.notThrows(() => sockaddrUn(`@${'a'.repeat(107)}`), 'an abstract name may use all 108 bytes');
  t.throws(() => sockaddrUn(`@${'a'.repeat(108)}`), { code: 'ENAMETOOLONG' });
  t.throws(() => sockaddrUn('/a\0b'), { code: 'EINVAL' });
  t.throws(() => sockaddrUn(''), { code: 'EINVAL' });
});

test("notifySpec adds runc's read-only /run/notify bind last and makes NOTIFY_SOCKET the container's", (t) => {
  const spec: Spec = {
    ociVersion: '1.2.0',
    process: { cwd: '/', user: { uid: 0, gid: 0 }, args: ['sh'], env: ['PATH=/bin', 'NOTIFY_SOCKET=/old', 'TERM=xterm'] },
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
  };
  const before = structuredClone(spec);
  const out = notifySpec(spec, '/run/tsrun/c1');
  t.deepEqual(spec, before, 'the config is not changed (exec and state keep it as written)');
  t.deepEqual(out.mounts, [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/run/notify', source: '/run/tsrun/c1/notify', options: ['bind', 'nosuid', 'noexec', 'nodev', 'ro'] },
  ]);
  t.deepEqual(out.process?.env, ['PATH=/bin', 'TERM=xterm', 'NOTIFY_SOCKET=/run/notify/notify.sock']);
  t.is(CONTAINER_NOTIFY_SOCKET, '/run/notify/notify.sock');
  t.is(notifySocketPath('/run/tsrun/c1'), '/run/tsrun/c1/notify/notify.sock');
  t.is(notifySpec({ ociVersion: '1.2.0' }, '/r/c').process, undefined, 'no process, nothing to add env to');
});

test('the listener is world-writable, drops other messages and returns the READY= line', async (t) => {
  const dir = tmpDir(t);
  makeNotifyDir(dir);
  t.is(fs.statSync(path.join(dir, 'notify')).mode & 0o777, 0o755);
  const l = NotifyListener.bind(dir);
  t.teardown(() => l.close());
  t.is(fs.statSync(l.socketPath).mode & 0o777, 0o777, 'any container user may send (runc chmods 0777)');
  const c = connectDgram(l.socketPath);
  try {
    sendDgram(c, 'STATUS=warming up');
    sendDgram(c, 'STATUS=nearly\nREADY=1');
  } finally {
    fs.closeSync(c);
  }
  t.is(await l.waitReady(process.pid, readProcStat(process.pid)?.startTime), 'READY=1');
});

test('waitReady gives up on an init that is gone, or whose pid now names another process', async (t) => {
  const dir = tmpDir(t);
  makeNotifyDir(dir);
  const l = NotifyListener.bind(dir);
  t.teardown(() => l.close());
  const gone = spawnSync('true').pid!;
  const began = Date.now();
  t.is(await l.waitReady(gone), null);
  // A listener is closed once its wait ends: a second one for the second case.
  const dir2 = tmpDir(t);
  makeNotifyDir(dir2);
  const l2 = NotifyListener.bind(dir2);
  t.teardown(() => l2.close());
  t.is(await l2.waitReady(process.pid, 'not-my-start-time'), null, 'a start time that differs means the init is gone');
  t.true(Date.now() - began < 2000);
});

test.serial('waitAsync resolves with READY=, or with null once the process stopped, and closes the socket', async (t) => {
  const dir = tmpDir(t);
  makeNotifyDir(dir);
  // A first wait, so that whatever the addon sets up once per process for polling (a watcher
  // thread's epoll and eventfd) exists before the fds are counted.
  const warm = NotifyListener.bind(dir);
  const warmed = warm.waitAsync(new Promise<void>(() => {}));
  const w = connectDgram(warm.socketPath);
  sendDgram(w, 'READY=1');
  fs.closeSync(w);
  t.is(await warmed, 'READY=1');
  fs.rmSync(warm.socketPath);
  const fds = openSockets();
  const l = NotifyListener.bind(dir);
  const never = new Promise<void>(() => {});
  // waitAsync arms its poll before it returns. A datagram is queued by the time sendDgram returns,
  // and setImmediate runs after the next poll phase: the listener has woken for STATUS=x (and
  // armed again) before READY=1 is sent.
  const waiting = l.waitAsync(never);
  const c = connectDgram(l.socketPath);
  sendDgram(c, 'STATUS=x');
  await new Promise((r) => setImmediate(r));
  sendDgram(c, 'READY=1');
  fs.closeSync(c);
  t.is(await waiting, 'READY=1');
  t.deepEqual(newSockets(fds), [], 'the socket fd is closed');

  fs.rmSync(l.socketPath);
  const l2 = NotifyListener.bind(dir);
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const waiting2 = l2.waitAsync(stopped);
  await new Promise((r) => setImmediate(r)); // a poll phase went by with the poll armed
  stop();
  t.is(await waiting2, null);
  // close() shuts the socket down; the watcher thread reports that and the callback closes the fd,
  // a moment later on another turn of the loop (not a fixed number of turns).
  await waitFor(() => newSockets(fds).length === 0, { timeoutMs: 5000, what: () => `the listener's socket closed (open: ${newSockets(fds).join(', ')})` });
  t.deepEqual(newSockets(fds), [], 'the pending poll was woken and the fd closed');
});

test('notifyHost sends READY, MAINPID and BARRIER=1 with a pipe, and gives up on a host that never closes it', async (t) => {
  const dir = tmpDir(t);
  const hostPath = path.join(dir, 'host.sock');
  const host = bindDgram(hostPath);
  t.teardown(() => fs.closeSync(host));
  const client = connectDgram(hostPath);
  t.teardown(() => fs.closeSync(client));
  const log = recordingLogger();
  const began = Date.now();
  await notifyHost(client, 'READY=1', 4242, log, 150);
  t.true(Date.now() - began >= 140, 'it waited for the barrier');
  t.deepEqual(log.warnings, ['timeout after waiting 0.15s for barrier; ignored']);
  t.deepEqual(
    drainDgrams(host).map((d) => d.toString()),
    ['READY=1\n', 'MAINPID=4242\n', 'BARRIER=1'],
  );
});

test('sockets past sun_path are reached through their directory, and abstract names work', (t) => {
  let deep = tmpDir(t);
  while (deep.length < 120) deep = path.join(deep, 'a-rather-long-directory-name');
  fs.mkdirSync(deep, { recursive: true });
  const long = path.join(deep, 'notify.sock');
  t.true(Buffer.byteLength(long) >= 108);
  const s = bindDgram(long);
  t.teardown(() => fs.closeSync(s));
  t.true(fs.statSync(long).isSocket(), 'bound at the long path itself');
  const c = connectDgram(long);
  sendDgram(c, 'READY=1');
  fs.closeSync(c);
  t.deepEqual(drainDgrams(s).map(String), ['READY=1']);

  const name = `@tsrun-unit-${randomBytes(6).toString('hex')}`;
  const a = bindDgram(name);
  t.teardown(() => fs.closeSync(a));
  const ac = connectDgram(name);
  sendDgram(ac, 'READY=1');
  fs.closeSync(ac);
  t.deepEqual(drainDgrams(a).map(String), ['READY=1']);
  t.throws(() => connectDgram(`@tsrun-unit-absent-${randomBytes(6).toString('hex')}`), { code: 'ECONNREFUSED' });
});
