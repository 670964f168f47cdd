// tsrun's systemd cgroup driver (--systemd-cgroup, cgroupsPath "slice:prefix:name") against a
// real systemd: the VM booted with TSRUN_VM_INIT=systemd (vagrant/vm-run.sh; npm run test:vm does
// it for this directory), where systemd is PID 1, mounts cgroup2 and owns the system bus. What
// systemd itself reports (systemctl show) is checked next to what the kernel has (the cgroup
// files): the scope and its Delegate=yes, the init inside it, MemoryMax / TasksMax /
// CPUQuotaPerSecUSec at create and after `update`, pause/resume, kill --all, and the scope gone
// after delete; a stalled bus and a busy systemd end in a clear error. Serial: one file, one
// container at a time, and the last two tests stall the bus and systemd.
import type { ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { makeBundle, waitFor, type TsrunResult } from '../../helpers/bundle.js';
import { argvLogOffset, IMAGE_REF, IMAGES, IN_VM, mustSh, runtimeCallsSince, sh, verbOf, VM } from '../helpers/guest.js';
import { need, needs } from '../../helpers/skip.js';

const CG = '/sys/fs/cgroup';
// systemd(1): /run/systemd/system exists iff systemd is the running init (sd_booted(3)).
const SYSTEMD_PID1 = IN_VM && fs.existsSync('/run/systemd/system') && fs.readlinkSync('/proc/1/exe').endsWith('/systemd');
const sdTest = needs(VM, need(SYSTEMD_PID1, 'PID 1 is not systemd (boot the VM with TSRUN_VM_INIT=systemd)')).serial;
/** Per tsrun call: Node starts in seconds under TCG. */
const SLOW = 180_000;
const MiB = 1 << 20;

function ok(t: ExecutionContext, r: TsrunResult, what: string): void {
  t.is(r.code, 0, `${what} failed (status ${r.code}): ${r.stderr}`);
}

/** systemctl show UNIT -p A -p B: {A: value, B: value} (systemctl(1), "show"). */
async function show(unit: string, ...props: string[]): Promise<Record<string, string>> {
  const out = await mustSh('systemctl', ['show', unit, ...props.flatMap((p) => ['-p', p])]);
  return Object.fromEntries(
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

const read = (dir: string, f: string) => fs.readFileSync(path.join(dir, f), 'utf8').trim();
const cgroupOfPid = (pid: number) =>
  fs
    .readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'))!
    .slice(3);

/** A container created (not started) with the systemd driver; its unit and cgroup dir. */
async function created(t: ExecutionContext, cgroupsPath: (id: string) => string, unit: (id: string) => string, mutate?: Parameters<typeof makeBundle>[1]) {
  const b = await makeBundle(t, (s, ctx) => {
    s.process!.args = ['sh', '-c', 'sleep 600 & sleep 600 & exec sleep 600'];
    return mutate?.(s, ctx);
  });
  b.spec.linux!.cgroupsPath = cgroupsPath(b.id);
  b.writeSpec();
  ok(t, await b.tsrun(['--systemd-cgroup', 'create', '--bundle', b.dir, b.id], { timeoutMs: SLOW }), 'create');
  const st = await b.state();
  return { b, unit: unit(b.id), pid: st.pid as number };
}

/** After delete (or the scope's end): systemd has forgotten the unit and removed its cgroup. */
async function assertGone(t: ExecutionContext, unit: string, dir: string): Promise<void> {
  // systemd stops an emptied scope on its own; a stop job can still be finishing.
  await waitFor(
    async () => (await show(unit, 'LoadState', 'ActiveState')).ActiveState === 'inactive',
    60_000,
    () => `${unit} to be inactive`,
  );
  t.false(fs.existsSync(dir), `${dir} is removed`);
}

sdTest('system.slice:tsrun:<id>: a transient scope with Delegate=yes holds the init alone; delete stops it', async (t) => {
  const { b, unit, pid } = await created(
    t,
    (id) => `system.slice:tsrun:${id}`,
    (id) => `tsrun-${id}.scope`,
  );
  const dir = path.join(CG, 'system.slice', unit);
  const p = await show(unit, 'LoadState', 'ActiveState', 'Delegate', 'Slice', 'ControlGroup', 'Description');
  t.like(p, { LoadState: 'loaded', ActiveState: 'active', Delegate: 'yes', Slice: 'system.slice', ControlGroup: `/system.slice/${unit}` });
  t.is(p.Description, `tsrun container ${b.id}`);
  t.is(cgroupOfPid(pid), `/system.slice/${unit}`, 'the init is in the scope');
  // tsrun started the scope holding itself (a scope cannot start empty), then left it.
  t.deepEqual(read(dir, 'cgroup.procs').split('\n').map(Number), [pid], 'only the init is in it (tsrun left)');
  // Delegate=yes: systemd enabled the controllers a delegated subtree can use (systemd.resource-control(5)).
  const parentCtl = read(path.join(CG, 'system.slice'), 'cgroup.subtree_control').split(' ');
  for (const c of ['memory', 'pids', 'cpu']) t.true(parentCtl.includes(c), `${c} enabled for the scope (${parentCtl.join(' ')})`);
  t.is(JSON.parse(fs.readFileSync(path.join(b.root, b.id, 'state.json'), 'utf8')).cgroup.systemdUnit, unit);
  ok(t, await b.tsrun(['start', b.id], { timeoutMs: SLOW }), 'start');
  ok(t, await b.tsrun(['delete', '--force', b.id], { timeoutMs: SLOW }), 'delete --force');
  await assertGone(t, unit, dir);
});

sdTest('a custom slice (tsrun-test.slice:x:<id>): systemd makes the slice, the scope is x-<id>.scope under /tsrun.slice/tsrun-test.slice', async (t) => {
  t.teardown(() => sh('systemctl', ['stop', 'tsrun-test.slice']).then(() => undefined));
  const { b, unit, pid } = await created(
    t,
    (id) => `tsrun-test.slice:x:${id}`,
    (id) => `x-${id}.scope`,
  );
  const dir = path.join(CG, 'tsrun.slice/tsrun-test.slice', unit);
  t.like(await show(unit, 'ActiveState', 'Slice', 'Delegate'), { ActiveState: 'active', Slice: 'tsrun-test.slice', Delegate: 'yes' });
  t.is((await show('tsrun-test.slice', 'ActiveState')).ActiveState, 'active');
  t.is(cgroupOfPid(pid), `/tsrun.slice/tsrun-test.slice/${unit}`, 'systemd.slice(5): the dashes nest the slice');
  ok(t, await b.tsrun(['delete', '--force', b.id], { timeoutMs: SLOW }), 'delete --force');
  await assertGone(t, unit, dir);
});

sdTest(
  'limits land as unit properties and in the cgroup: MemoryMax/memory.max, TasksMax/pids.max, CPUQuotaPerSecUSec/cpu.max; update changes both live',
  async (t) => {
    const { b, unit } = await created(
      t,
      (id) => `system.slice:tsrun:${id}`,
      (id) => `tsrun-${id}.scope`,
      (s) => {
        s.linux!.resources = { ...s.linux!.resources, memory: { limit: 64 * MiB }, pids: { limit: 40 }, cpu: { quota: 50000, period: 100000 } };
      },
    );
    const dir = path.join(CG, 'system.slice', unit);
    // systemd.resource-control(5): CPUQuota= is kept per second, 50 ms per 100 ms = 500 ms/s.
    t.like(await show(unit, 'MemoryMax', 'TasksMax', 'CPUQuotaPerSecUSec', 'CPUQuotaPeriodUSec'), {
      MemoryMax: String(64 * MiB),
      TasksMax: '40',
      CPUQuotaPerSecUSec: '500ms',
      CPUQuotaPeriodUSec: '100ms',
    });
    t.is(read(dir, 'memory.max'), String(64 * MiB));
    t.is(read(dir, 'pids.max'), '40');
    t.is(read(dir, 'cpu.max'), '50000 100000');

    ok(t, await b.tsrun(['start', b.id], { timeoutMs: SLOW }), 'start');
    ok(t, await b.tsrun(['update', '--memory', String(96 * MiB), '--pids-limit', '20', '--cpu-quota', '25000', b.id], { timeoutMs: SLOW }), 'update');
    t.like(await show(unit, 'MemoryMax', 'TasksMax', 'CPUQuotaPerSecUSec'), { MemoryMax: String(96 * MiB), TasksMax: '20', CPUQuotaPerSecUSec: '250ms' });
    t.is(read(dir, 'memory.max'), String(96 * MiB));
    t.is(read(dir, 'pids.max'), '20');
    t.is(read(dir, 'cpu.max'), '25000 100000');
    // A daemon-reload makes systemd re-apply its unit properties to the cgroup: what tsrun set
    // through systemd must survive it (runc#3280: a limit written only to the cgroup is lost).
    await mustSh('systemctl', ['daemon-reload']);
    t.is(read(dir, 'memory.max'), String(96 * MiB), 'memory.max after daemon-reload');
    t.is(read(dir, 'pids.max'), '20', 'pids.max after daemon-reload');
    t.is(read(dir, 'cpu.max'), '25000 100000', 'cpu.max after daemon-reload');
    ok(t, await b.tsrun(['delete', '--force', b.id], { timeoutMs: SLOW }), 'delete --force');
    await assertGone(t, unit, dir);
  },
);

sdTest('pause/resume freeze and thaw the scope; kill --all ends every process and systemd stops the emptied scope', async (t) => {
  const { b, unit, pid } = await created(
    t,
    (id) => `system.slice:tsrun:${id}`,
    (id) => `tsrun-${id}.scope`,
  );
  const dir = path.join(CG, 'system.slice', unit);
  ok(t, await b.tsrun(['start', b.id], { timeoutMs: SLOW }), 'start');
  await waitFor(
    () => read(dir, 'cgroup.procs').split('\n').length >= 3,
    60_000,
    () => 'the init and its two sleeps',
  );
  const procs = read(dir, 'cgroup.procs').split('\n').map(Number);
  // ps lists the scope's processes (runc: `ps --format json` is the pids of the cgroup).
  const ps = await b.tsrun(['ps', '--format', 'json', b.id], { timeoutMs: SLOW });
  ok(t, ps, 'ps');
  t.deepEqual((JSON.parse(ps.stdout) as number[]).sort(), [...procs].sort(), 'ps: the pids in the scope');

  ok(t, await b.tsrun(['pause', b.id], { timeoutMs: SLOW }), 'pause');
  t.is((await b.state()).status, 'paused');
  t.regex(read(dir, 'cgroup.events'), /^frozen 1$/m);
  t.is((await show(unit, 'ActiveState')).ActiveState, 'active', 'the scope stays active while frozen');
  ok(t, await b.tsrun(['resume', b.id], { timeoutMs: SLOW }), 'resume');
  t.is((await b.state()).status, 'running');
  t.regex(read(dir, 'cgroup.events'), /^frozen 0$/m);

  ok(t, await b.tsrun(['kill', '--all', b.id, 'KILL'], { timeoutMs: SLOW }), 'kill --all');
  await waitFor(
    () => procs.every((p) => !fs.existsSync(`/proc/${p}`) || fs.readFileSync(`/proc/${p}/stat`, 'utf8').includes(') Z')),
    60_000,
    () => `${procs.join(' ')} to be gone`,
  );
  t.true(procs.includes(pid));
  await b.waitStatus(b.id, 'stopped', 60_000);
  // systemd.scope(5): a scope whose processes are all gone is stopped by systemd itself.
  await assertGone(t, unit, dir);
  ok(t, await b.tsrun(['delete', b.id], { timeoutMs: SLOW }), 'delete of the stopped container (its scope already gone)');
  t.false(fs.existsSync(path.join(b.root, b.id)), 'state dir removed');
});

sdTest('run --systemd-cgroup: the init runs in its scope, exits 0, and run leaves no unit behind', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['cat', '/proc/self/cgroup'];
  });
  b.spec.linux!.cgroupsPath = `system.slice:tsrun:${b.id}`;
  b.writeSpec();
  const unit = `tsrun-${b.id}.scope`;
  const r = await b.tsrun(['--systemd-cgroup', 'run', b.id], { timeoutMs: SLOW });
  ok(t, r, 'run');
  // With a cgroup namespace (rooted at the scope) the init sees itself at "/", else the scope.
  const cgroupns = b.spec.linux!.namespaces!.some((n) => n.type === 'cgroup');
  t.is(r.stdout.trim(), cgroupns ? '0::/' : `0::/system.slice/${unit}`);
  await assertGone(t, unit, path.join(CG, 'system.slice', unit));
  t.false(fs.existsSync(path.join(b.root, b.id)), 'run deleted the container');
});

sdTest(
  'podman --cgroup-manager=systemd with tsrun: --systemd-cgroup, the container in machine.slice/libpod-<id>.scope with its limits, no scope left after --rm',
  async (t) => {
    // Podman (containers.conf(5) cgroup_manager) passes --systemd-cgroup and "machine.slice:libpod:<id>".
    await mustSh('podman', ['load', '-q', '-i', `${IMAGES}/docker.tar`], 600_000);
    const offset = argvLogOffset();
    const name = `tsrun-sd-${process.pid}-${Date.now()}`;
    t.teardown(() => sh('podman', ['rm', '-f', name]).then(() => undefined));
    const r = await sh(
      'podman',
      [
        '--cgroup-manager=systemd',
        'run',
        '--rm',
        '--runtime',
        'tsrun',
        '--network',
        'none',
        '--cgroupns=host',
        '--memory',
        '32m',
        '--pids-limit',
        '20',
        '--name',
        name,
        IMAGE_REF,
        // --cgroupns=host shows the real path; the "cgroup" mount is then the container's own cgroup
        'sh',
        '-c',
        'grep ^0:: /proc/self/cgroup; cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max',
      ],
      600_000,
    );
    t.is(r.code, 0, `podman run: ${r.stderr}${r.stdout}`);
    const [cgLine, mem, pids] = r.stdout.trim().split('\n');
    const m = /^0::\/machine\.slice\/(libpod-[0-9a-f]{64}\.scope)$/.exec(cgLine ?? '');
    t.truthy(m, `the container's cgroup is a libpod scope in machine.slice: ${cgLine}`);
    t.is(mem, String(32 * MiB));
    t.is(pids, '20');
    const creates = runtimeCallsSince(offset).filter((c) => verbOf(c.args) === 'create');
    t.is(creates.length, 1, 'one create through the wrapper');
    t.true(creates[0]!.args.includes('--systemd-cgroup'), `podman passed --systemd-cgroup: ${creates[0]?.args.join(' ')}`);
    if (m) await assertGone(t, m[1]!, path.join(CG, 'machine.slice', m[1]!));
  },
);

// dbus.ts bounds the connection (socket, SASL, Hello) by TSRUN_SYSTEMD_TIMEOUT, as each call: a
// stopped dbus-daemon costs that long, then a clear error naming the bus, never a hang.
sdTest('a stalled system bus (dbus-daemon stopped): create fails after the connect allowance, naming the bus, and leaves no unit and no state', async (t) => {
  const main = Number((await show('dbus.service', 'MainPID')).MainPID);
  t.true(main > 1, 'dbus-daemon runs');
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['true'];
  });
  b.spec.linux!.cgroupsPath = `system.slice:tsrun:${b.id}`;
  b.writeSpec();
  process.kill(main, 'SIGSTOP');
  t.teardown(() => process.kill(main, 'SIGCONT'));
  const t0 = Date.now();
  const r = await b.tsrun(['--systemd-cgroup', 'create', '--bundle', b.dir, b.id], {
    timeoutMs: 300_000,
    env: { ...process.env, TSRUN_SYSTEMD_TIMEOUT: '2000' },
  });
  const took = Date.now() - t0;
  process.kill(main, 'SIGCONT');
  t.not(r.code, 0, 'create fails');
  t.regex(r.stderr, /systemd: connect to the system bus at \S+: no answer within \d+ ms/);
  t.true(took < 240_000, `bounded: took ${took} ms`);
  t.false(fs.existsSync(path.join(b.root, b.id)), 'no state dir left');
  // The bus answers again: systemd never heard of the unit.
  const unit = `tsrun-${b.id}.scope`;
  t.is((await show(unit, 'ActiveState')).ActiveState, 'inactive');
  t.false(fs.existsSync(path.join(CG, 'system.slice', unit)));
  t.log(`create failed after ${took} ms: ${r.stderr.trim()}`);
});

sdTest('a busy systemd (PID 1 frozen in init.scope, the bus up): StartTransientUnit fails after TSRUN_SYSTEMD_TIMEOUT, naming the call', async (t) => {
  // The bus answers (dbus-daemon runs, Hello succeeds) but systemd does not: the per-call timeout,
  // not the connect allowance, ends the wait (runc#3904: runc hangs here). cgroup.freeze on
  // init.scope stops PID 1 alone (cgroup-v2 freezer); nothing in this test may call systemctl then.
  const freeze = path.join(CG, 'init.scope/cgroup.freeze');
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['true'];
  });
  b.spec.linux!.cgroupsPath = `system.slice:tsrun:${b.id}`;
  b.writeSpec();
  const unit = `tsrun-${b.id}.scope`;
  fs.writeFileSync(freeze, '1');
  t.teardown(() => fs.writeFileSync(freeze, '0'));
  const t0 = Date.now();
  const r = await b.tsrun(['--systemd-cgroup', 'create', '--bundle', b.dir, b.id], {
    timeoutMs: 300_000,
    env: { ...process.env, TSRUN_SYSTEMD_TIMEOUT: '3000' },
  });
  const took = Date.now() - t0;
  fs.writeFileSync(freeze, '0');
  t.not(r.code, 0, 'create fails');
  t.regex(r.stderr, /systemd: StartTransientUnit: no reply from D-Bus within 3000 ms/);
  t.true(took < 120_000, `bounded: took ${took} ms`);
  t.false(fs.existsSync(path.join(b.root, b.id)), 'no state dir left');
  // Thawed, systemd runs the queued request; its only pid (tsrun) is gone, so no scope runs
  // (systemd refuses it, or starts and fails it at once: reset-failed forgets it).
  t.teardown(() => sh('systemctl', ['reset-failed', unit]).then(() => undefined));
  await waitFor(
    async () => ['inactive', 'failed'].includes((await show(unit, 'ActiveState')).ActiveState!),
    60_000,
    () => `${unit} not to run`,
  );
  t.false(fs.existsSync(path.join(CG, 'system.slice', unit)), 'no scope cgroup');
  t.log(`create failed after ${took} ms: ${r.stderr.trim()}`);
});
