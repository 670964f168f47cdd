// A stand-in systemd on a private bus: a dbus-daemon of its own (the real D-Bus protocol, a
// system-bus config of its own) on which the test owns org.freedesktop.systemd1 and answers
// StartTransientUnit/StopUnit as systemd does for a scope (makes the cgroup under the slice and
// moves the pids in; stops by killing and removing it), SetUnitProperties and ResetFailedUnit.
// tsrun is pointed at it with DBUS_SYSTEM_BUS_ADDRESS. Used by test/integration/cgroup-systemd
// (the driver, as root) and test/unit/cgroup-dbus (the D-Bus module alone, no cgroup touched).
import type { ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from './bundle.js';

// TSRUN_TEST_DBUS_DAEMON: another dbus-daemon (a wrapper script, e.g. the host's binary shared
// into the VM with its libraries) where the system has none.
export const DBUS_DAEMON = process.env.TSRUN_TEST_DBUS_DAEMON || '/usr/bin/dbus-daemon';

type DbusNext = typeof import('dbus-next');
type Message = import('dbus-next').Message;

let loaded: DbusNext | undefined;
try {
  loaded = (await import('dbus-next')).default as unknown as DbusNext;
} catch {
  loaded = undefined;
}

/** Why the stand-in cannot run here ('' when it can). */
export const fakeSystemdUnavailable = !fs.existsSync(DBUS_DAEMON)
  ? `${DBUS_DAEMON} is missing (apt-get install dbus-daemon, or set TSRUN_TEST_DBUS_DAEMON)`
  : !loaded
    ? 'dbus-next is not installed'
    : '';

export interface FakeSystemd {
  address: string;
  /** Every Manager call, in order, with the unique bus name of its sender. */
  calls: { member: string; body: unknown[]; sender: string }[];
  /** Stop answering StartTransientUnit (a systemd stuck in a reload). */
  hang: boolean;
  /** Members that are never answered (any method). */
  hangMembers: Set<string>;
  units: Map<string, string>;
  /** Stops the bus daemon now (a dying dbus-daemon). */
  killDaemon(): void;
}

export interface FakeSystemdOptions {
  /** The cgroup2 mount where StartTransientUnit makes scopes; without it, none are made. */
  cgroupRoot?: string;
}

const slicePath = (slice: string) => {
  const base = slice.slice(0, -'.slice'.length);
  let out = '';
  let prefix = '';
  for (const c of base.split('-')) {
    prefix = prefix ? `${prefix}-${c}` : c;
    out += `/${prefix}.slice`;
  }
  return out;
};

/**
 * The fake's own connection, holding the name org.freedesktop.systemd1. dbus-daemon makes its
 * socket file at bind(2), a moment before listen(2): a connect in between is refused, and
 * dbus-next then never answers requestName. So each attempt is bounded and a refused one retried.
 */
async function connectFake(dbus: typeof import('dbus-next'), address: string): Promise<import('dbus-next').MessageBus> {
  let last: unknown;
  for (let attempt = 0; attempt < 20; attempt++) {
    const saved = process.env.DBUS_SYSTEM_BUS_ADDRESS;
    process.env.DBUS_SYSTEM_BUS_ADDRESS = address;
    const conn = dbus.systemBus();
    if (saved === undefined) delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
    else process.env.DBUS_SYSTEM_BUS_ADDRESS = saved;
    let failed: ((err: unknown) => void) | undefined;
    const error = new Promise<never>((_, reject) => (failed = reject));
    error.catch(() => undefined);
    conn.on('error', (err: unknown) => failed?.(err)); // later: the daemon killed on purpose
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from dbus-daemon at ${address} in 5 s`)), 5000);
    });
    try {
      await Promise.race([conn.requestName('org.freedesktop.systemd1', 0), error, bound]);
      failed = undefined;
      return conn;
    } catch (err) {
      last = err;
      conn.disconnect();
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      clearTimeout(timer);
    }
  }
  throw new Error(`the stand-in systemd could not connect to ${address}: ${(last as Error)?.message}`, { cause: last });
}

export async function startFakeSystemd(t: ExecutionContext, o: FakeSystemdOptions = {}): Promise<FakeSystemd> {
  const dbus = loaded!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-dbus-'));
  const sock = path.join(dir, 'bus');
  fs.writeFileSync(
    path.join(dir, 'bus.conf'),
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${sock}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`,
  );
  const daemon: ChildProcess = spawn(DBUS_DAEMON, ['--nofork', `--config-file=${path.join(dir, 'bus.conf')}`], { stdio: 'ignore' });
  const address = `unix:path=${sock}`;
  await waitFor(
    () => fs.existsSync(sock),
    10_000,
    () => `dbus-daemon's socket ${sock}`,
  );
  const conn = await connectFake(dbus, address);
  const fake: FakeSystemd = {
    address,
    calls: [],
    hang: false,
    hangMembers: new Set(),
    units: new Map(),
    killDaemon: () => daemon.kill('SIGKILL'),
  };
  const { Message } = dbus;
  // types.d.ts has newError's first parameter as a string; it takes the call being answered.
  const newError = (msg: Message, name: string, text: string) =>
    (Message.newError as unknown as (m: Message, n: string, t: string) => Message)(msg, name, text);
  conn.addMethodHandler((msg: Message) => {
    if (msg.interface !== 'org.freedesktop.systemd1.Manager') return false;
    fake.calls.push({ member: msg.member!, body: msg.body as unknown[], sender: msg.sender ?? '' });
    if (fake.hangMembers.has(msg.member!)) return true; // never reply
    if (msg.member === 'StartTransientUnit') {
      if (fake.hang) return true; // never reply
      const [name, , props] = msg.body as [string, string, [string, { value: unknown }][]];
      const prop = (n: string) => props.find((p) => p[0] === n)?.[1].value;
      if (fake.units.has(name)) {
        conn.send(newError(msg, 'org.freedesktop.systemd1.UnitExists', `Unit ${name} was already loaded or has a fragment file.`));
        return true;
      }
      if (!o.cgroupRoot) {
        fake.units.set(name, '');
      } else {
        const sliceDir = path.join(o.cgroupRoot, slicePath(prop('Slice') as string));
        const unitDir = path.join(sliceDir, name);
        fs.mkdirSync(unitDir, { recursive: true });
        // Delegate=yes: systemd enables the slice's controllers for the scope.
        const ctrls = fs.readFileSync(path.join(sliceDir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
        for (const c of ctrls) {
          try {
            fs.writeFileSync(path.join(sliceDir, 'cgroup.subtree_control'), `+${c}`);
          } catch {
            /* as systemd: best effort */
          }
        }
        for (const pid of prop('PIDs') as number[]) fs.writeFileSync(path.join(unitDir, 'cgroup.procs'), String(pid));
        fake.units.set(name, unitDir);
      }
      conn.send(Message.newMethodReturn(msg, 'o', [`/org/freedesktop/systemd1/job/${fake.calls.length}`]));
      return true;
    }
    if (msg.member === 'StopUnit') {
      const [name] = msg.body as [string];
      const unitDir = fake.units.get(name);
      if (unitDir === undefined) {
        conn.send(newError(msg, 'org.freedesktop.systemd1.NoSuchUnit', `Unit ${name} not loaded.`));
        return true;
      }
      fake.units.delete(name);
      if (!unitDir) {
        conn.send(Message.newMethodReturn(msg, 'o', ['/org/freedesktop/systemd1/job/stop']));
        return true;
      }
      try {
        fs.writeFileSync(path.join(unitDir, 'cgroup.kill'), '1');
      } catch {
        /* empty */
      }
      void waitFor(() => {
        try {
          fs.rmdirSync(unitDir);
          return true;
        } catch {
          return false;
        }
      }, 5000)
        .catch(() => undefined)
        .then(() => conn.send(Message.newMethodReturn(msg, 'o', ['/org/freedesktop/systemd1/job/stop'])));
      return true;
    }
    if (msg.member === 'SetUnitProperties' || msg.member === 'ResetFailedUnit') {
      conn.send(Message.newMethodReturn(msg, '', []));
      return true;
    }
    return false;
  });
  t.teardown(() => {
    conn.disconnect();
    daemon.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return fake;
}
