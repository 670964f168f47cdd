// Synchronous D-Bus method calls to systemd, with a hard timeout. create/delete are synchronous
// (the init must be parked before create returns), and dbus-next is asynchronous: the call runs in
// a worker thread (dbus-next, not a hand-rolled protocol) while this thread waits on an Atomics
// flag for at most timeoutMs. A busy or dead systemd therefore gives a clear error instead of the
// hang runc has (runc#3904, #3464, #4853).
import path from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { CgroupError } from '../errors.js';
import { packageRoot } from '../sys/addon.js';

export interface DbusCall {
  member: string;
  signature: string;
  /** Body; in a(sv) arguments, a variant is written as [signature, value]. */
  body: unknown[];
  /** Which body arguments are a(sv) property lists to wrap into Variants. */
  propertyArgs?: number[];
}

export interface DbusTarget {
  destination: string;
  path: string;
  interface: string;
}

export const SYSTEMD_MANAGER: DbusTarget = {
  destination: 'org.freedesktop.systemd1',
  path: '/org/freedesktop/systemd1',
  interface: 'org.freedesktop.systemd1.Manager',
};

/** The default for each call: TSRUN_SYSTEMD_TIMEOUT (ms) or 30 s. */
export function dbusTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.TSRUN_SYSTEMD_TIMEOUT);
  return Number.isFinite(v) && v > 0 ? v : 30_000;
}

// The worker: plain CommonJS, dbus-next resolved from tsrun's own package (the bundle has no
// node_modules of its own at run time). It lives as long as the process and keeps one bus
// connection, so only the first call pays for starting it (seconds on a slow machine).
const WORKER = `
const { workerData } = require('node:worker_threads');
const { port, flag, base } = workerData;
let dbus;
let bus;
let pending;
const send = (msg) => { port.postMessage(msg); Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); };
const done = (msg) => { pending = undefined; send(msg); };
const failure = (e) => ({ name: e.type || e.name || 'Error', message: e.text || e.message });
const ready = (async () => {
  try {
    dbus = require('node:module').createRequire(base)('dbus-next');
    bus = dbus.systemBus();
    await new Promise((resolve, reject) => { bus.once('connect', resolve); bus.once('error', reject); });
    bus.on('error', (e) => {
      bus = undefined;
      if (pending !== undefined) done({ seq: pending, error: { name: 'ConnectionError', message: e.message } });
    });
    send({ seq: 0 });
    return true;
  } catch (e) {
    send({ seq: 0, error: failure(e) });
    return false;
  }
})();
port.on('message', async ({ seq, target, call }) => {
  pending = seq;
  try {
    if (!(await ready) || !bus) throw new Error('not connected to the system bus');
    const body = call.body.map((arg, i) => (call.propertyArgs || []).includes(i)
      ? arg.map(([name, sig, value]) => [name, new dbus.Variant(sig, sig === 'ay' ? Buffer.from(value) : value)]) : arg);
    const reply = await bus.call(new dbus.Message({ ...target, member: call.member, signature: call.signature, body }));
    done({ seq, body: reply ? reply.body.map((b) => (typeof b === 'bigint' ? String(b) : b)) : [] });
  } catch (e) {
    done({ seq, error: failure(e) });
  }
});
`;

export class DbusError extends CgroupError {
  constructor(
    message: string,
    readonly dbusName?: string,
  ) {
    super(message);
  }
}

interface Bridge {
  worker: Worker;
  port: MessagePort;
  flag: Int32Array;
}

let bridge: Bridge | undefined;
let seq = 0;

/** The worker's start (Node, dbus-next, the connection and Hello) gets its own allowance. */
const STARTUP_MS = 60_000;

type Reply = { seq: number; body?: unknown[]; error?: { name: string; message: string } };

/** Waits for the reply numbered `seq` (replies to calls that timed out are dropped). */
function awaitReply(b: Bridge, want: number, timeoutMs: number): Reply | undefined {
  const until = Date.now() + timeoutMs;
  for (;;) {
    // Arm, then look, then sleep: a reply posted after the look sets the flag and ends the wait.
    Atomics.store(b.flag, 0, 0);
    let msg: Reply | undefined;
    while ((msg = receiveMessageOnPort(b.port)?.message as Reply | undefined) && msg.seq !== want) {
      /* a late reply to an earlier call */
    }
    if (msg) return msg;
    const left = until - Date.now();
    if (left <= 0) return undefined;
    Atomics.wait(b.flag, 0, 0, left);
  }
}

function getBridge(): Bridge {
  if (bridge) return bridge;
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: { port: port2, flag, base: path.join(packageRoot(), 'package.json') },
    transferList: [port2],
    env: process.env,
    stdout: false,
    stderr: true,
  });
  worker.unref();
  bridge = { worker, port: port1, flag };
  const where = process.env.DBUS_SYSTEM_BUS_ADDRESS ?? 'unix:path=/var/run/dbus/system_bus_socket';
  const hello = awaitReply(bridge, 0, Math.max(STARTUP_MS, dbusTimeoutMs()));
  if (!hello || hello.error) {
    dropBridge();
    const why = hello?.error ? `${hello.error.name}: ${hello.error.message}` : `no answer within ${Math.max(STARTUP_MS, dbusTimeoutMs())} ms`;
    throw new DbusError(`systemd: connect to the system bus at ${where}: ${why}`, hello?.error?.name);
  }
  return bridge;
}

/** Ends the worker: after a timeout its connection may be stuck, and a late reply must not count. */
function dropBridge(): void {
  if (!bridge) return;
  bridge.port.close();
  void bridge.worker.terminate();
  bridge = undefined;
}

/** One method call; throws DbusError naming the method on a D-Bus error or after timeoutMs. */
export function dbusCallSync(call: DbusCall, timeoutMs = dbusTimeoutMs(), target: DbusTarget = SYSTEMD_MANAGER): unknown[] {
  const b = getBridge();
  const mine = ++seq;
  b.port.postMessage({ seq: mine, target, call });
  const msg = awaitReply(b, mine, timeoutMs);
  if (!msg) {
    dropBridge();
    throw new DbusError(
      `systemd: ${call.member}: no reply from D-Bus within ${timeoutMs} ms (systemd busy or not running; TSRUN_SYSTEMD_TIMEOUT sets the limit)`,
    );
  }
  if (msg.error) throw new DbusError(`systemd: ${call.member}: ${msg.error.name}: ${msg.error.message}`, msg.error.name);
  return msg.body ?? [];
}
