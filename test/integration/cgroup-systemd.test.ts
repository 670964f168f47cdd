// The systemd driver against a stand-in systemd: a private dbus-daemon (the real D-Bus protocol,
// a system-bus config of its own) on which this test owns org.freedesktop.systemd1 and answers
// StartTransientUnit/StopUnit as systemd does for a scope (makes the cgroup under the slice and
// moves the pid in; stops by killing and removing it). tsrun is pointed at it with
// DBUS_SYSTEM_BUS_ADDRESS (test/helpers/fake-systemd.ts). Also: a systemd that never answers gives a clear error within
// TSRUN_SYSTEMD_TIMEOUT (runc#3904, #3464, #4853) and create leaves nothing behind.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { unifiedMount } from '../../src/cgroups/v2.js';
import { isRoot, makeBundle } from '../helpers/bundle.js';
import { fakeSystemdUnavailable, startFakeSystemd as startFake } from '../helpers/fake-systemd.js';

const unified = unifiedMount();
const reason = !isRoot ? 'needs root' : !unified ? 'no cgroup2 hierarchy' : fakeSystemdUnavailable;
const sdTest = reason ? test.skip : test;
/** Per tsrun call: generous, Node starts slowly under the VM's emulation (TCG) when loaded. */
const SLOW = 120_000;
const hasPids = !!unified && fs.readFileSync(path.join(unified, 'cgroup.controllers'), 'utf8').split(/\s+/).includes('pids');
const sdPidsTest = reason || !hasPids ? test.skip : test;
if (reason) console.log(`cgroup-systemd: skipped, ${reason}`);

const startFakeSystemd = (t: Parameters<typeof startFake>[0]) => startFake(t, { cgroupRoot: unified! });

/** Removes a cgroup directory tree, deepest first (cgroupfs files cannot be unlinked, only dirs). */
function rmCgroupTree(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmCgroupTree(path.join(dir, e.name));
  fs.rmdirSync(dir);
}

function sliceName(): string {
  return `tsruntest${randomBytes(3).toString('hex')}.slice`;
}

sdTest(
  '--systemd-cgroup: a transient scope with Delegate in the slice, started holding tsrun, which leaves it to the init alone; delete stops it',
  async (t) => {
    const fake = await startFakeSystemd(t);
    const slice = sliceName();
    const sliceDir = path.join(unified!, slice);
    t.teardown(() => rmCgroupTree(sliceDir));
    const b = await makeBundle(t, (s) => {
      s.process!.args = ['probe', 'sleep', '300'];
      s.linux!.cgroupsPath = `${slice}:tsrun:${'x'}`;
    });
    const env = { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: fake.address };
    const create = await b.tsrun(['--systemd-cgroup', 'create', '--bundle', b.dir, b.id], { env, timeoutMs: SLOW });
    t.is(create.code, 0, create.stderr);
    const start = fake.calls.find((c) => c.member === 'StartTransientUnit');
    t.truthy(start);
    const [unit, mode, props] = start!.body as [string, string, [string, { signature: string; value: unknown }][]];
    t.is(unit, 'tsrun-x.scope');
    t.is(mode, 'replace');
    const p = new Map(props.map(([n, v]) => [n, v]));
    t.is(p.get('Delegate')?.value, true);
    t.is(p.get('Slice')?.value, slice);
    const st = await b.state();
    t.deepEqual(p.get('PIDs')?.value, [create.pid], 'the scope is started with tsrun, so the init can be cloned into it');
    const dir = path.join(sliceDir, 'tsrun-x.scope');
    t.deepEqual(fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').trim().split('\n').map(Number), [st.pid], 'only the init stays');
    const initCg = fs
      .readFileSync(`/proc/${st.pid}/cgroup`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('0::'))!
      .slice(3);
    t.is(path.join(unified!, initCg), dir, 'the init was cloned into the scope');
    t.is(JSON.parse(fs.readFileSync(path.join(b.root, b.id, 'state.json'), 'utf8')).cgroup.systemdUnit, 'tsrun-x.scope');
    // Later verbs find the scope from the state file, without the flag (conmon passes it to create only).
    t.is((await b.tsrun(['pause', b.id], { timeoutMs: SLOW })).code, 0);
    t.is((await b.state()).status, 'paused');
    t.is((await b.tsrun(['resume', b.id], { timeoutMs: SLOW })).code, 0);
    const del = await b.tsrun(['delete', '--force', b.id], { env, timeoutMs: SLOW });
    t.is(del.code, 0, del.stderr);
    t.truthy(fake.calls.find((c) => c.member === 'StopUnit' && c.body[0] === 'tsrun-x.scope'));
    t.false(fs.existsSync(dir), 'the scope cgroup is gone');
  },
);

sdTest('a systemd that never answers: create fails within TSRUN_SYSTEMD_TIMEOUT naming the call, and leaves nothing', async (t) => {
  const fake = await startFakeSystemd(t);
  fake.hang = true;
  const slice = sliceName();
  t.teardown(() => rmCgroupTree(path.join(unified!, slice)));
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'sleep', '300'];
    s.linux!.cgroupsPath = `${slice}:tsrun:hang`;
  });
  const env = { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: fake.address, TSRUN_SYSTEMD_TIMEOUT: '1500' };
  const t0 = Date.now();
  const r = await b.tsrun(['--systemd-cgroup', 'create', '--bundle', b.dir, b.id], { env, timeoutMs: SLOW });
  const took = Date.now() - t0;
  t.not(r.code, 0);
  t.regex(r.stderr, /systemd: StartTransientUnit: no reply from D-Bus within 1500 ms/);
  // Bounded: a D-Bus call without a timeout would never return (the fake never answers).
  t.true(took < SLOW - 10_000, `took ${took} ms`);
  t.false(fs.existsSync(path.join(b.root, b.id)), 'no state dir left');
});

sdTest('a unit that already exists is reported by name', async (t) => {
  const fake = await startFakeSystemd(t);
  const slice = sliceName();
  t.teardown(() => rmCgroupTree(path.join(unified!, slice)));
  fake.units.set('tsrun-dup.scope', path.join(unified!, slice, 'elsewhere'));
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['true'];
    s.linux!.cgroupsPath = `${slice}:tsrun:dup`;
  });
  const r = await b.tsrun(['--systemd-cgroup', 'create', '--bundle', b.dir, b.id], {
    env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: fake.address },
    timeoutMs: SLOW,
  });
  t.not(r.code, 0);
  t.regex(r.stderr, /unit tsrun-dup\.scope already exists/);
});

sdPidsTest(
  `--systemd-cgroup limits: TasksMax at create and update (SetUnitProperties), and pids.max in the delegated cgroup${hasPids ? '' : ' (skipped: no pids controller in the unified hierarchy)'}`,
  async (t) => {
    const fake = await startFakeSystemd(t);
    const slice = sliceName();
    t.teardown(() => rmCgroupTree(path.join(unified!, slice)));
    const b = await makeBundle(t, (s) => {
      s.process!.args = ['probe', 'sleep', '300'];
      s.linux!.cgroupsPath = `${slice}:tsrun:lim`;
      s.linux!.resources = { ...s.linux!.resources, pids: { limit: 30 } };
    });
    const env = { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: fake.address };
    const create = await b.tsrun(['--systemd-cgroup', 'create', '--bundle', b.dir, b.id], { env, timeoutMs: SLOW });
    t.is(create.code, 0, create.stderr);
    const dir = path.join(unified!, slice, 'tsrun-lim.scope');
    t.is(fs.readFileSync(path.join(dir, 'pids.max'), 'utf8').trim(), '30');
    const props = (member: string) =>
      fake.calls.filter((c) => c.member === member).map((c) => new Map((c.body[2] as [string, { value: unknown }][]).map(([n, v]) => [n, v.value])));
    t.is(props('SetUnitProperties')[0]?.get('TasksMax'), 30n, 'the limit reaches systemd once tsrun left the scope');
    const up = await b.tsrun(['update', '--pids-limit', '7', b.id], { env, timeoutMs: SLOW });
    t.is(up.code, 0, up.stderr);
    t.is(props('SetUnitProperties')[1]?.get('TasksMax'), 7n);
    t.is(fs.readFileSync(path.join(dir, 'pids.max'), 'utf8').trim(), '7');
    t.is((await b.tsrun(['delete', '--force', b.id], { env, timeoutMs: SLOW })).code, 0);
  },
);
