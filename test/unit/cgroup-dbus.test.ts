// The D-Bus module (src/cgroups/dbus.ts) alone, plain async over dbus-next, against the stand-in
// systemd of test/helpers/fake-systemd.ts (a private dbus-daemon; no cgroup is touched, no root
// needed): replies and Variants, D-Bus errors by name, one connection per process, every wait
// bounded (a call never answered, a bus that never answers, a bus that dies), and a process that
// exits after its work without closing anything. Serial: the module keeps one connection per
// process and reads DBUS_SYSTEM_BUS_ADDRESS when it connects.
import test from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeDbus, dbusCall, DbusError, dbusTimeoutMs } from '../../src/cgroups/dbus.js';
import { CgroupError } from '../../src/errors.js';
import { fakeSystemdUnavailable, startFakeSystemd, type FakeSystemd } from '../helpers/fake-systemd.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const busTest = fakeSystemdUnavailable ? test.serial.skip : test.serial;
const skipped = fakeSystemdUnavailable ? ` (skipped: ${fakeSystemdUnavailable})` : '';

test.afterEach.always(() => {
  closeDbus();
  delete process.env.DBUS_SYSTEM_BUS_ADDRESS;
});

/** Points the module at the fake (it reads the address when it connects). */
function use(fake: FakeSystemd): void {
  closeDbus();
  process.env.DBUS_SYSTEM_BUS_ADDRESS = fake.address;
}

const reset = (unit: string) => ({ member: 'ResetFailedUnit', signature: 's', body: [unit] });

test('TSRUN_SYSTEMD_TIMEOUT bounds each wait; 30 s by default, nonsense ignored', (t) => {
  t.is(dbusTimeoutMs({}), 30_000);
  t.is(dbusTimeoutMs({ TSRUN_SYSTEMD_TIMEOUT: '1500' }), 1500);
  t.is(dbusTimeoutMs({ TSRUN_SYSTEMD_TIMEOUT: 'soon' }), 30_000);
  t.is(dbusTimeoutMs({ TSRUN_SYSTEMD_TIMEOUT: '-5' }), 30_000);
});

busTest(`a call resolves with the reply's body; a(sv) properties are sent as Variants, ay as bytes${skipped}`, async (t) => {
  const fake = await startFakeSystemd(t);
  use(fake);
  const started = await dbusCall({
    member: 'StartTransientUnit',
    signature: 'ssa(sv)a(sa(sv))',
    body: ['tsrun-v.scope', 'replace', [['Description', 's', 'x']], []],
    propertyArgs: [2],
  });
  t.regex(String(started[0]), /^\/org\/freedesktop\/systemd1\/job\/\d+$/);
  t.deepEqual(
    await dbusCall({
      member: 'SetUnitProperties',
      signature: 'sba(sv)',
      body: [
        'tsrun-v.scope',
        true,
        [
          ['TasksMax', 't', 30n],
          ['AllowedCPUs', 'ay', [3, 1]],
        ],
      ],
      propertyArgs: [2],
    }),
    [],
  );
  const sent = fake.calls.find((c) => c.member === 'SetUnitProperties')!;
  t.is(sent.body[0], 'tsrun-v.scope');
  t.is(sent.body[1], true);
  const props = new Map((sent.body[2] as [string, { signature: string; value: unknown }][]).map(([n, v]) => [n, v]));
  t.is(props.get('TasksMax')?.signature, 't');
  t.is(props.get('TasksMax')?.value, 30n);
  t.is(props.get('AllowedCPUs')?.signature, 'ay');
  t.deepEqual([...(props.get('AllowedCPUs')?.value as Buffer)], [3, 1]);
});

busTest(`a D-Bus error is a DbusError (a CgroupError) naming the call, with the error's name in dbusName${skipped}`, async (t) => {
  const fake = await startFakeSystemd(t);
  use(fake);
  const err = await t.throwsAsync(dbusCall({ member: 'StopUnit', signature: 'ss', body: ['nope.scope', 'replace'] }), { instanceOf: DbusError });
  t.true(err instanceof CgroupError);
  t.is(err!.dbusName, 'org.freedesktop.systemd1.NoSuchUnit');
  t.is(err!.message, 'systemd: StopUnit: org.freedesktop.systemd1.NoSuchUnit: Unit nope.scope not loaded.');
  fake.units.set('dup.scope', '');
  const exists = await t.throwsAsync(
    dbusCall({ member: 'StartTransientUnit', signature: 'ssa(sv)a(sa(sv))', body: ['dup.scope', 'replace', [], []], propertyArgs: [2] }),
    { instanceOf: DbusError },
  );
  t.is(exists!.dbusName, 'org.freedesktop.systemd1.UnitExists');
});

busTest(`one connection per process: calls in turn and at once share it; closeDbus ends it and the next call connects again${skipped}`, async (t) => {
  const fake = await startFakeSystemd(t);
  use(fake);
  await dbusCall(reset('a.scope'));
  await dbusCall(reset('b.scope'));
  await Promise.all(['c', 'd', 'e'].map((u) => dbusCall(reset(`${u}.scope`))));
  const senders = new Set(fake.calls.map((c) => c.sender));
  t.is(fake.calls.length, 5);
  t.is(senders.size, 1, `one sender: ${[...senders].join(', ')}`);
  closeDbus();
  await dbusCall(reset('f.scope'));
  t.not(fake.calls.at(-1)!.sender, fake.calls[0]!.sender, 'a new connection after closeDbus');
});

busTest(`a call never answered fails after its bound, naming the call; the next call gets a fresh connection${skipped}`, async (t) => {
  const fake = await startFakeSystemd(t);
  use(fake);
  fake.hangMembers.add('StartTransientUnit');
  const t0 = Date.now();
  await t.throwsAsync(dbusCall({ member: 'StartTransientUnit', signature: 'ssa(sv)a(sa(sv))', body: ['h.scope', 'replace', [], []], propertyArgs: [2] }, 300), {
    instanceOf: DbusError,
    message: 'systemd: StartTransientUnit: no reply from D-Bus within 300 ms (systemd busy or not running; TSRUN_SYSTEMD_TIMEOUT sets the limit)',
  });
  t.true(Date.now() - t0 < 5000, `bounded: ${Date.now() - t0} ms`);
  const first = fake.calls.at(-1)!.sender;
  await dbusCall(reset('h.scope'));
  t.not(fake.calls.at(-1)!.sender, first, 'the stuck connection was dropped');
});

busTest(`a bus that dies mid-call fails the call at once, naming it, and the next call reports the bus${skipped}`, async (t) => {
  const fake = await startFakeSystemd(t);
  use(fake);
  await dbusCall(reset('x.scope')); // connected
  fake.hangMembers.add('StopUnit');
  const t0 = Date.now();
  const pending = dbusCall({ member: 'StopUnit', signature: 'ss', body: ['x.scope', 'replace'] }, 20_000);
  await new Promise((r) => setImmediate(r));
  fake.killDaemon();
  const err = await t.throwsAsync(pending, { instanceOf: DbusError });
  t.regex(err!.message, /^systemd: StopUnit: /);
  t.true(Date.now() - t0 < 10_000, `not the 20 s bound: ${Date.now() - t0} ms`);
  await t.throwsAsync(dbusCall(reset('x.scope'), 2000), { instanceOf: DbusError, message: /^systemd: connect to the system bus at unix:path=.*: / });
});

test.serial('no bus at the address: the connect fails naming the bus and the errno', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-nobus-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  process.env.DBUS_SYSTEM_BUS_ADDRESS = `unix:path=${dir}/bus`;
  await t.throwsAsync(dbusCall(reset('a.scope'), 5000), {
    instanceOf: DbusError,
    message: new RegExp(`^systemd: connect to the system bus at unix:path=${dir}/bus: ENOENT: `),
  });
});

test.serial('a bus that accepts and never answers (a stopped dbus-daemon): the connect fails after its bound, naming the bus', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-stalled-'));
  const sock = path.join(dir, 'bus');
  const held: net.Socket[] = [];
  const server = net.createServer((s) => {
    held.push(s);
    s.resume(); // read (and drop) the AUTH line, so the end of the stream is seen
  });
  await new Promise<void>((r) => server.listen(sock, r));
  t.teardown(() => {
    held.forEach((s) => s.destroy());
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  process.env.DBUS_SYSTEM_BUS_ADDRESS = `unix:path=${sock}`;
  const t0 = Date.now();
  await t.throwsAsync(dbusCall(reset('a.scope'), 400), {
    instanceOf: DbusError,
    message: `systemd: connect to the system bus at unix:path=${sock}: no answer within 400 ms`,
  });
  t.true(Date.now() - t0 < 5000, `bounded: ${Date.now() - t0} ms`);
  t.is(held.length, 1, 'one connection was made');
  await new Promise<void>((r) => (held[0]!.destroyed ? r() : held[0]!.once('close', () => r())));
  t.pass('tsrun closed its end after the bound');
});

/** Runs an ES module snippet in a child node (tsx), in the repository. */
function child(code: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string; err: string; doneToExitMs: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let doneAt = 0;
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!doneAt && out.includes('done')) doneAt = Date.now();
    });
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const kill = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('error', reject);
    // 'close', not 'exit': the exit can be reported before the pipes are drained
    p.on('close', (c) => {
      clearTimeout(kill);
      resolve({ code: c, out, err, doneToExitMs: doneAt ? Date.now() - doneAt : -1 });
    });
  });
}

busTest(`the connection never keeps a process alive: after its last call the process exits at once, without closing anything${skipped}`, async (t) => {
  const fake = await startFakeSystemd(t);
  const r = await child(
    `const { dbusCall } = await import('./src/cgroups/dbus.ts');
     await dbusCall({ member: 'ResetFailedUnit', signature: 's', body: ['k.scope'] });
     console.log('done');`,
    { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: fake.address },
  );
  t.is(r.code, 0, r.err);
  t.is(r.out.trim(), 'done');
  t.truthy(fake.calls.find((c) => c.member === 'ResetFailedUnit'));
  // An open socket (or the 5 s idle timer) holding the loop would show here.
  t.true(r.doneToExitMs >= 0 && r.doneToExitMs < 2000, `exited ${r.doneToExitMs} ms after its work`);
});

test.serial('dbus-next is loaded by the first call only: importing the cgroup drivers does not load it', async (t) => {
  const r = await child(
    `await import('./src/cgroups/select.ts');
     await import('./src/cgroups/dbus.ts');
     const { createRequire } = await import('node:module');
     const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes('dbus-next'));
     console.log(JSON.stringify(loaded));`,
    process.env,
  );
  t.is(r.code, 0, r.err);
  t.deepEqual(JSON.parse(r.out.trim()), []);
});
