// D-Bus method calls to systemd (org.freedesktop.systemd1.Manager), plain async over dbus-next.
// One system-bus connection per process, made at the first call and reused; every wait is bounded:
// the connection (socket, SASL, Hello) and each call by TSRUN_SYSTEMD_TIMEOUT (default 30 s), so a
// busy or dead systemd gives an error naming the call or the bus instead of the hang runc has
// (runc#3904, #3464, #4853).
//
// The connection never keeps a process alive: its socket is unref'd (a call in flight is held by
// its own timer), and it is closed once idle for IDLE_MS, after a timeout (a late reply must not
// count, and the connection may be stuck) and when the bus fails (the next call reconnects).
// dbus-next is loaded at the first call, from dist/dbus-next.cjs (bundled by scripts/build.mjs: the
// package ships it rather than depending on it): no verb that does not talk to systemd pays for it
// (DESIGN.md).
import { createRequire } from 'node:module';
import path from 'node:path';
import { CgroupError } from '../errors.js';
import { packageRoot } from '../sys/addon.js';

type DbusNext = typeof import('dbus-next');
type MessageBus = import('dbus-next').MessageBus;

export interface DbusCall {
  member: string;
  signature: string;
  /** Body; in a(sv) arguments, a property is written as [name, signature, value]. */
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

const DEFAULT_ADDRESS = 'unix:path=/var/run/dbus/system_bus_socket';

/** An idle connection is closed after this long (a service should not hold the bus forever). */
const IDLE_MS = 5_000;

/** The bound for the connection and for each call: TSRUN_SYSTEMD_TIMEOUT (ms) or 30 s. */
export function dbusTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.TSRUN_SYSTEMD_TIMEOUT);
  return Number.isFinite(v) && v > 0 ? v : 30_000;
}

export class DbusError extends CgroupError {
  constructor(
    message: string,
    /** The D-Bus error name (org.freedesktop.systemd1.NoSuchUnit …) when the peer sent one. */
    readonly dbusName?: string,
  ) {
    super(message);
  }
}

/** The socket under dbus-next's MessageBus (0.10: bus._connection.stream, a net.Socket). */
interface Stream {
  unref?: () => unknown;
  destroy(): unknown;
  once(event: 'close', listener: () => void): unknown;
}

/** Why a connection ended, for whoever still waited on it. */
interface Cause {
  name: string;
  text: string;
}

interface Connection {
  lib: DbusNext;
  bus: MessageBus;
  stream?: Stream;
  /** Rejecters of what waits on this connection (its Hello, the calls in flight). */
  waiting: Set<(why: Cause) => void>;
  idle?: NodeJS.Timeout;
  closed: boolean;
}

let lib: DbusNext | undefined;
let current: Promise<Connection> | undefined;
let active: Connection | undefined;

function dbusNext(): DbusNext {
  lib ??= createRequire(import.meta.filename)(path.join(packageRoot(), 'dist', 'dbus-next.cjs')) as DbusNext;
  return lib;
}

/** A dbus-next DBusError (type, text), a socket error (code, message) or anything else. */
function causeOf(err: unknown): Cause {
  const e = (err ?? {}) as { type?: unknown; text?: unknown; name?: unknown; code?: unknown; message?: unknown };
  if (typeof e.type === 'string') return { name: e.type, text: String(e.text ?? '') };
  const name = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'Error';
  return { name, text: typeof e.message === 'string' ? e.message : String(err) };
}

/** Ends a connection for good; whoever still waits on it is rejected with `why`. */
function close(c: Connection, why: Cause): void {
  if (c.closed) return;
  c.closed = true;
  if (active === c) {
    active = undefined;
    current = undefined;
  }
  if (c.idle) clearTimeout(c.idle);
  // destroy, not end(): a stopped peer would never finish a graceful close.
  try {
    if (c.stream) c.stream.destroy();
    else c.bus.disconnect();
  } catch {
    /* closed already */
  }
  for (const reject of [...c.waiting]) reject(why);
  c.waiting.clear();
}

const CLOSED: Cause = { name: 'Disconnected', text: 'the connection to the system bus was closed' };

/** Closes the system-bus connection, if one is open (a service shutting down; tests). */
export function closeDbus(): void {
  if (active) close(active, CLOSED);
}

function maybeIdle(c: Connection): void {
  if (c.closed || c.waiting.size) return;
  // Without an unref-able socket the connection would hold the process open: close it at once.
  if (!c.stream?.unref) return close(c, CLOSED);
  c.idle = setTimeout(() => close(c, CLOSED), IDLE_MS);
  c.idle.unref();
}

/**
 * Waits for `start` to settle the promise, bounded by timeoutMs; a connection failure meanwhile
 * rejects with `failed(cause)`, the bound with `late()` (which also closes the connection).
 */
function bounded<T>(
  c: Connection,
  timeoutMs: number,
  start: (resolve: (v: T) => void, reject: (err: unknown) => void) => void,
  failed: (why: Cause) => Error,
  late: () => Error,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const settle = (): boolean => {
      if (done) return false;
      done = true;
      clearTimeout(timer);
      c.waiting.delete(onFail);
      return true;
    };
    const onFail = (why: Cause) => {
      if (settle()) reject(failed(why));
    };
    const timer = setTimeout(() => {
      if (!settle()) return;
      // The connection may be stuck, and a late reply must not count: start afresh next time.
      close(c, { name: 'Timeout', text: 'an earlier wait timed out' });
      reject(late());
    }, timeoutMs);
    c.waiting.add(onFail);
    start(
      (v) => {
        if (settle()) resolve(v);
      },
      (err) => {
        if (settle()) reject(failed(causeOf(err)));
      },
    );
  });
}

async function open(timeoutMs: number): Promise<Connection> {
  const dbus = dbusNext();
  const address = process.env.DBUS_SYSTEM_BUS_ADDRESS || DEFAULT_ADDRESS;
  const where = `systemd: connect to the system bus at ${address}`;
  let bus: MessageBus;
  try {
    bus = dbus.systemBus();
  } catch (err) {
    const why = causeOf(err);
    throw new DbusError(`${where}: ${why.name}: ${why.text}`, why.name);
  }
  const stream = (bus as unknown as { _connection?: { stream?: Stream } })._connection?.stream;
  stream?.unref?.();
  const c: Connection = { lib: dbus, bus, stream, waiting: new Set(), closed: false };
  // Always listened to: an 'error' event without a listener would throw out of the event loop.
  bus.on('error', (err: unknown) => close(c, causeOf(err)));
  stream?.once('close', () => close(c, CLOSED));
  await bounded<void>(
    c,
    timeoutMs,
    (resolve) => bus.once('connect', () => resolve()),
    (why) => new DbusError(`${where}: ${why.name}: ${why.text}`, why.name),
    () => new DbusError(`${where}: no answer within ${timeoutMs} ms`),
  );
  return c;
}

function connection(timeoutMs: number): Promise<Connection> {
  if (!current) {
    const opening: Promise<Connection> = open(timeoutMs).then(
      (c) => {
        if (current === opening) active = c;
        else close(c, CLOSED); // closed while it was being made
        return c;
      },
      (err: unknown) => {
        if (current === opening) current = undefined;
        throw err;
      },
    );
    current = opening;
  }
  return current;
}

/** Wraps the a(sv) arguments' [name, signature, value] triples into Variants. */
function messageBody(dbus: DbusNext, call: DbusCall): unknown[] {
  const props = call.propertyArgs ?? [];
  return call.body.map((arg, i) =>
    props.includes(i)
      ? (arg as [string, string, unknown][]).map(([name, sig, value]) => [name, new dbus.Variant(sig, sig === 'ay' ? Buffer.from(value as number[]) : value)])
      : arg,
  );
}

/**
 * One method call; resolves with the reply's body. Throws DbusError naming the method: with the
 * D-Bus error name (dbusName) when the peer answered with an error, or after timeoutMs.
 */
export async function dbusCall(call: DbusCall, timeoutMs = dbusTimeoutMs(), target: DbusTarget = SYSTEMD_MANAGER): Promise<unknown[]> {
  let c = await connection(timeoutMs);
  if (c.closed) c = await connection(timeoutMs); // it failed or went idle just now
  if (c.idle) clearTimeout(c.idle);
  c.idle = undefined;
  try {
    const msg = new c.lib.Message({ ...target, member: call.member, signature: call.signature, body: messageBody(c.lib, call) });
    return await bounded<unknown[]>(
      c,
      timeoutMs,
      (resolve, reject) => void c.bus.call(msg).then((reply) => resolve(reply?.body ?? []), reject),
      (why) => new DbusError(`systemd: ${call.member}: ${why.name}: ${why.text}`, why.name),
      () =>
        new DbusError(
          `systemd: ${call.member}: no reply from D-Bus within ${timeoutMs} ms (systemd busy or not running; TSRUN_SYSTEMD_TIMEOUT sets the limit)`,
        ),
    );
  } finally {
    maybeIdle(c);
  }
}
