// Synchronous D-Bus method calls to systemd, with a hard timeout. create/delete are synchronous
// (the init must be parked before create returns), and dbus-next is asynchronous: the call runs in
// a worker thread (dbus-next, not a hand-rolled protocol) while this thread waits on an Atomics
// flag for at most timeoutMs. A busy or dead systemd therefore gives a clear error instead of the
// hang runc has (runc#3904, #3464, #4853).
import path from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { CgroupError } from '../errors.js';
import { packageRoot } from '../native/addon.js';

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
// node_modules of its own at run time).
const WORKER = `
const { workerData } = require('node:worker_threads');
const { port, flag, base, target, call } = workerData;
const done = (msg) => { port.postMessage(msg); Atomics.store(flag, 0, 1); Atomics.notify(flag, 0); };
(async () => {
  const dbus = require('node:module').createRequire(base)('dbus-next');
  const bus = dbus.systemBus();
  bus.on('error', (e) => done({ error: { name: 'ConnectionError', message: e.message } }));
  const body = call.body.map((arg, i) => (call.propertyArgs || []).includes(i)
    ? arg.map(([name, sig, value]) => [name, new dbus.Variant(sig, sig === 'ay' ? Buffer.from(value) : value)]) : arg);
  const reply = await bus.call(new dbus.Message({ ...target, member: call.member, signature: call.signature, body }));
  done({ body: reply ? reply.body.map((b) => (typeof b === 'bigint' ? String(b) : b)) : [] });
  bus.disconnect();
})().catch((e) => done({ error: { name: e.type || e.name || 'Error', message: e.text || e.message } }));
`;

export class DbusError extends CgroupError {
  constructor(message: string, readonly dbusName?: string) {
    super(message);
  }
}

/** One method call; throws DbusError naming the method on a D-Bus error or after timeoutMs. */
export function dbusCallSync(call: DbusCall, timeoutMs = dbusTimeoutMs(), target: DbusTarget = SYSTEMD_MANAGER): unknown[] {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: { port: port2, flag, base: path.join(packageRoot(), 'package.json'), target, call },
    transferList: [port2],
    env: process.env,
    stdout: false,
    stderr: true,
  });
  worker.unref();
  try {
    const waited = Atomics.wait(flag, 0, 0, timeoutMs);
    const msg = receiveMessageOnPort(port1)?.message as { body?: unknown[]; error?: { name: string; message: string } } | undefined;
    if (waited === 'timed-out' && !msg) {
      throw new DbusError(`systemd: ${call.member}: no reply from D-Bus within ${timeoutMs} ms (systemd busy or not running; TSRUN_SYSTEMD_TIMEOUT sets the limit)`);
    }
    if (!msg) throw new DbusError(`systemd: ${call.member}: the D-Bus worker ended without a reply`);
    if (msg.error) throw new DbusError(`systemd: ${call.member}: ${msg.error.name}: ${msg.error.message}`, msg.error.name);
    return msg.body ?? [];
  } finally {
    port1.close();
    void worker.terminate();
  }
}
