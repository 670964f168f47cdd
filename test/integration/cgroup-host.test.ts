// cgroup v2 on this kind of host (hybrid: cgroup2 at /sys/fs/cgroup/unified, most controllers
// bound to v1): placement of the init alone, freeze (pause/resume, state "paused"), kill --all
// through cgroup.kill, ps, events --stats, the eBPF device filter (a program on the unified
// cgroup is enforced on hybrid hosts too), nested cgroupsPath cleanup, and a limit whose
// controller is missing failing create with the controller and cgroup named. The v1
// hierarchies are never touched.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { attachedDevicePrograms, setDevices } from '../../src/cgroups/devices.js';
import { unifiedMount } from '../../src/cgroups/v2.js';
import { isRoot, makeBundle, procStat, TSRUN_BIN, waitFor, type Bundle, type TsrunResult } from '../helpers/bundle.js';

const unified = unifiedMount();
const reason = !isRoot ? 'needs root' : !unified ? 'no cgroup2 hierarchy is mounted' : '';
const hostTest = reason ? test.skip : test;
if (reason) console.log(`cgroup-host: skipped, ${reason}`);
// On a hybrid host most controllers are bound to v1: the first one missing from the unified root.
const missing = unified ? ['memory', 'pids', 'cpu', 'io'].find((c) => !controllersAt(unified).includes(c)) : undefined;
const missingTest = reason || !missing ? test.skip : test;
const pidsMissingTest = reason || !unified || controllersAt(unified).includes('pids') ? test.skip : test;

function ok(t: ExecutionContext, r: TsrunResult, what: string): void {
  t.is(r.code, 0, `${what} failed: ${r.stderr}`);
}

function controllersAt(dir: string): string[] {
  return fs.readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/).filter(Boolean);
}

function procs(dir: string): number[] {
  return fs.readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
}

/** The container's cgroup directory from its state file. */
function cgroupDir(b: Bundle, id = b.id): string {
  const rec = JSON.parse(fs.readFileSync(path.join(b.root, id, 'state.json'), 'utf8'));
  return rec.cgroup.dir as string;
}

/** Started container running `probe sleep 300` (the init). */
async function sleeper(t: ExecutionContext, mutate?: Parameters<typeof makeBundle>[1]): Promise<{ b: Bundle; pid: number; dir: string }> {
  const b = await makeBundle(t, async (s, ctx) => {
    s.process!.args = ['probe', 'sleep', '300'];
    await mutate?.(s, ctx);
  });
  ok(t, await b.tsrun(['create', '--bundle', b.dir, b.id]), 'create');
  ok(t, await b.tsrun(['start', b.id]), 'start');
  const st = await b.waitStatus(b.id, 'running');
  return { b, pid: st.pid as number, dir: cgroupDir(b) };
}

hostTest('the init alone is placed in the unified cgroup (never tsrun), ps lists it, delete removes the cgroup', async (t) => {
  const { b, pid, dir } = await sleeper(t);
  t.true(dir.startsWith(unified! + '/'), `cgroup ${dir} is under ${unified}`);
  t.deepEqual(procs(dir), [pid], 'only the init is in the container cgroup');
  const own = fs
    .readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  t.is(path.join(unified!, own!.slice(3)), dir);
  const json = await b.tsrun(['ps', '--format', 'json', b.id]);
  ok(t, json, 'ps --format json');
  t.deepEqual(JSON.parse(json.stdout), [pid]);
  const table = await b.tsrun(['ps', b.id]);
  ok(t, table, 'ps');
  const lines = table.stdout.trim().split('\n');
  t.regex(lines[0]!, /\bPID\b/);
  t.is(lines.length, 2, table.stdout);
  t.regex(lines[1]!, new RegExp(`\\b${pid}\\b.*probe sleep 300`));
  ok(t, await b.tsrun(['delete', '--force', b.id]), 'delete --force');
  t.false(fs.existsSync(dir), 'the cgroup is removed');
});

hostTest("pause freezes every process (state paused), resume thaws them; invalid transitions use runc's words", async (t) => {
  const { b, pid, dir } = await sleeper(t);
  const resumeRunning = await b.tsrun(['resume', b.id]);
  t.not(resumeRunning.code, 0);
  t.regex(resumeRunning.stderr, /container not paused/);
  ok(t, await b.tsrun(['pause', b.id]), 'pause');
  t.is((await b.state()).status, 'paused');
  t.regex(fs.readFileSync(path.join(dir, 'cgroup.events'), 'utf8'), /^frozen 1$/m);
  // A frozen task sleeps in the freezer (do_freezer_trap): /proc shows it stopped-like, not running.
  const again = await b.tsrun(['pause', b.id]);
  t.not(again.code, 0, 'pausing a paused container fails as in runc');
  t.regex(again.stderr, /container not running/);
  ok(t, await b.tsrun(['resume', b.id]), 'resume');
  t.is((await b.state()).status, 'running');
  t.regex(fs.readFileSync(path.join(dir, 'cgroup.events'), 'utf8'), /^frozen 0$/m);
  t.truthy(procStat(pid), 'the init survived');
});

hostTest('kill --all KILL empties the cgroup through cgroup.kill, even with processes the init forked', async (t) => {
  const { b, pid, dir } = await sleeper(t, (s) => {
    s.process!.args = ['sh', '-c', 'probe sleep 300 & probe sleep 300 & exec probe sleep 300'];
  });
  await waitFor(
    () => procs(dir).length === 3,
    10_000,
    () => `3 processes in ${dir} (have ${procs(dir).join(',')})`,
  );
  const ps = await b.tsrun(['ps', '--format', 'json', b.id]);
  t.is((JSON.parse(ps.stdout) as number[]).length, 3);
  ok(t, await b.tsrun(['kill', '--all', b.id, 'KILL']), 'kill --all');
  await waitFor(
    () => procs(dir).length === 0,
    10_000,
    () => `an empty ${dir}`,
  );
  await b.waitStatus(b.id, 'stopped');
  t.falsy(procStat(pid) && procStat(pid)!.state !== 'Z', 'the init is gone');
  ok(t, await b.tsrun(['delete', b.id]), 'delete');
  t.false(fs.existsSync(dir));
});

hostTest('a nested relative cgroupsPath is created and every created level removed on delete, after the init died', async (t) => {
  const top = `tsrun-cgtest-${process.pid}-${Date.now().toString(36)}`;
  const { b, dir } = await sleeper(t, (s) => {
    s.linux!.cgroupsPath = `${top}/mid/leaf`;
  });
  t.true(dir.endsWith(`/${top}/mid/leaf`), dir);
  ok(t, await b.tsrun(['kill', b.id, 'KILL']), 'kill');
  await b.waitStatus(b.id, 'stopped');
  ok(t, await b.tsrun(['delete', b.id]), 'delete');
  t.false(fs.existsSync(path.dirname(path.dirname(dir))), `${top} removed`);
});

hostTest('events --stats prints one runc stats event with cpu usage and the pids count', async (t) => {
  const { b } = await sleeper(t);
  const r = await b.tsrun(['events', '--stats', b.id]);
  ok(t, r, 'events --stats');
  const lines = r.stdout.trim().split('\n');
  t.is(lines.length, 1);
  const e = JSON.parse(lines[0]!);
  t.is(e.type, 'stats');
  t.is(e.id, b.id);
  t.true(typeof e.data.cpu.usage.kernel === 'number' && typeof e.data.cpu.usage.user === 'number');
  t.deepEqual(Object.keys(e.data).sort(), ['blkio', 'cpu', 'cpuset', 'hugetlb', 'intel_rdt', 'memory', 'network_interfaces', 'pids']);
  ok(t, await b.tsrun(['kill', b.id, 'KILL']), 'kill');
  await b.waitStatus(b.id, 'stopped');
  const stopped = await b.tsrun(['events', '--stats', b.id]);
  t.not(stopped.code, 0);
  t.regex(stopped.stderr, new RegExp(`container with id ${b.id} is not running`));
});

hostTest('the eBPF device filter: the default list allows /dev/null, a device outside it cannot be opened, an allow rule opens it write-only', async (t) => {
  const kmsg = { path: '/dev/kmsg', type: 'c', major: 1, minor: 11, fileMode: 0o644, uid: 0, gid: 0 };
  const run = async (devices: { allow: boolean; type?: string; major?: number; minor?: number; access?: string }[], args: string[]) => {
    const b = await makeBundle(t, (s) => {
      s.linux!.devices = [kmsg];
      s.linux!.resources = { devices };
      s.process!.args = args;
    });
    const r = await b.tsrun(['run', b.id]);
    ok(t, r, `run ${args.join(' ')}`);
    return JSON.parse(r.stdout.trim().split('\n').pop()!);
  };
  const denyAll = [{ allow: false, access: 'rwm' }];
  t.like(await run(denyAll, ['probe', 'open', '/dev/null', 'rw']), { ok: true });
  // /dev/kmsg opened write-only needs no capability (devkmsg_open), so only the filter decides.
  t.like(await run(denyAll, ['probe', 'open', '/dev/kmsg', 'w']), { ok: false, errno: 'EPERM' });
  const writeOnly = [...denyAll, { allow: true, type: 'c', major: 1, minor: 11, access: 'w' }];
  t.like(await run(writeOnly, ['probe', 'open', '/dev/kmsg', 'w']), { ok: true });
  t.like(await run(writeOnly, ['probe', 'open', '/dev/kmsg', 'rw']), { ok: false, errno: 'EPERM' });
});

hostTest('a created container has exactly one device program attached to its cgroup', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'sleep', '300'];
  });
  ok(t, await b.tsrun(['create', '--bundle', b.dir, b.id]), 'create');
  t.is(attachedDevicePrograms(cgroupDir(b)).length, 1);
});

missingTest(
  `a limit whose controller the unified hierarchy lacks fails create naming controller and cgroup, leaving nothing${missing ? '' : ' (skipped: every controller is available here)'}`,
  async (t) => {
    const b = await makeBundle(t, (s) => {
      s.process!.args = ['true'];
      s.linux!.cgroupsPath = `/tsrun-cgtest-missing-${process.pid}`;
      const r = (s.linux!.resources ??= {});
      if (missing === 'memory') r.memory = { limit: 32 << 20 };
      if (missing === 'pids') r.pids = { limit: 10 };
      if (missing === 'cpu') r.cpu = { shares: 512 };
      if (missing === 'io') r.blockIO = { weight: 100 };
    });
    const r = await b.tsrun(['create', '--bundle', b.dir, b.id]);
    t.not(r.code, 0);
    t.regex(r.stderr, new RegExp(`controller \\\\?"${missing}\\\\?" is not available in ${unified}`));
    t.false(fs.existsSync(path.join(unified!, `tsrun-cgtest-missing-${process.pid}`)), 'no cgroup left');
    t.false(fs.existsSync(path.join(b.root, b.id)), 'no state left');
  },
);

pidsMissingTest(
  `update on a host without the pids controller: --pids-limit is refused by name; the container keeps running${unified && controllersAt(unified).includes('pids') ? ' (skipped: pids is available here; the VM tests update it)' : ''}`,
  async (t) => {
    const { b } = await sleeper(t);
    const r = await b.tsrun(['update', '--pids-limit', '10', b.id]);
    t.not(r.code, 0);
    t.regex(r.stderr, /controller \\?"pids\\?" is not available in cgroup/);
    t.is((await b.state()).status, 'running');
  },
);

hostTest('the kernel verifier accepts the filters for allow-lists, deny-lists, wildcards and 32-bit majors; updates replace, never add', (t) => {
  const dir = path.join(unified!, `tsrun-cgtest-bpf-${process.pid}`);
  fs.mkdirSync(dir);
  t.teardown(() => fs.rmdirSync(dir));
  const lists = [
    undefined,
    [{ allow: false, access: 'rwm' }],
    [
      { allow: true, access: 'rwm' },
      { allow: false, type: 'b', major: 8, access: 'rw' },
    ],
    [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 2 ** 31 + 5, minor: 2 ** 32 - 1, access: 'r' },
      { allow: true, type: 'b', access: 'w' },
    ],
  ];
  for (const devices of lists) {
    t.notThrows(() => setDevices(dir, devices), JSON.stringify(devices));
    t.is(attachedDevicePrograms(dir).length, 1, 'the old program was detached');
  }
});

hostTest('with a cgroup namespace the container sees its own cgroup as the root (0::/)', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.linux!.namespaces = [...(s.linux!.namespaces ?? []), { type: 'cgroup' }];
    s.process!.args = ['cat', '/proc/self/cgroup'];
  });
  const r = await b.tsrun(['run', b.id]);
  ok(t, r, 'run cat /proc/self/cgroup');
  t.regex(r.stdout, /^0::\/$/m, r.stdout);
});

hostTest('events --interval streams stats lines until the container stops, then exits 0', async (t) => {
  const { b } = await sleeper(t);
  const ev = spawn(TSRUN_BIN, ['--root', b.root, 'events', '--interval', '100ms', b.id], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => ev.kill('SIGKILL'));
  let out = '';
  ev.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => ev.on('close', (c) => resolve(c)));
  await waitFor(
    () => out.split('\n').filter(Boolean).length >= 3,
    20_000,
    () => `3 stats lines (have: ${out})`,
  );
  ok(t, await b.tsrun(['kill', b.id, 'KILL']), 'kill');
  t.is(await exited, 0, 'events ends with the container');
  const lines = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; id: string });
  t.true(lines.every((e) => e.type === 'stats' && e.id === b.id));
});
