// Every controller's effect on a real cgroup v2 system (the tsrun VM: cgroup2 at /sys/fs/cgroup,
// every controller enabled): OOM kill (exit 137 and an "oom" event), fork failing at pids.max,
// cpu.max throttling measured, cpuset affinity seen inside, io.max read throttling, a denied
// device, `update` changing live limits, pause stopping a counter and resume restarting it, and
// a 2 MiB memory.max container running /bin/true (the runtime is never charged to it).
import type { ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { makeBundle, TSRUN_BIN, waitFor, type Bundle, type TsrunResult } from '../helpers/bundle.js';
import { sleep, VM } from './helpers/guest.js';
import { needs } from '../helpers/skip.js';

// serial: timings under TCG are only meaningful one container at a time.
const vmTest = needs(VM).serial;
const MiB = 1 << 20;

function ok(t: ExecutionContext, r: TsrunResult, what: string): void {
  t.is(r.code, 0, `${what} failed (status ${r.code}): ${r.stderr}`);
}

function cgroupOf(b: Bundle, id = b.id): string {
  return JSON.parse(fs.readFileSync(path.join(b.root, id, 'state.json'), 'utf8')).cgroup.dir as string;
}

const readCg = (dir: string, f: string) => fs.readFileSync(path.join(dir, f), 'utf8').trim();
const kv = (text: string) =>
  Object.fromEntries(
    text
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [k, v] = l.split(' ');
        return [k, Number(v)];
      }),
  );

async function started(t: ExecutionContext, mutate: Parameters<typeof makeBundle>[1]): Promise<{ b: Bundle; dir: string; run: TsrunResult }> {
  const b = await makeBundle(t, mutate);
  const run = await b.tsrun(['create', '--bundle', b.dir, b.id], { timeoutMs: 120_000 });
  ok(t, run, 'create');
  ok(t, await b.tsrun(['start', b.id], { timeoutMs: 60_000 }), 'start');
  return { b, dir: cgroupOf(b), run };
}

vmTest('memory: OOM kill gives exit 137, memory.events counts it, and events streams an "oom" event', async (t) => {
  let goDir = '';
  const b = await makeBundle(t, (s, ctx) => {
    // The init waits for /go/now (a bind mount of a test directory), so `events` is surely
    // watching before dd's 64 MiB buffer, touched as /dev/zero fills it, meets the 16 MiB limit.
    goDir = path.join(ctx.dir, 'go');
    fs.mkdirSync(goDir);
    s.mounts = [...(s.mounts ?? []), { destination: '/go', type: 'bind', source: goDir, options: ['rbind', 'ro'] }];
    s.process!.args = ['sh', '-c', 'until [ -e /go/now ]; do sleep 0.2; done; exec dd if=/dev/zero of=/dev/null bs=64M count=1'];
    s.linux!.resources = { ...s.linux!.resources, memory: { limit: 16 * MiB, swap: 16 * MiB } };
  });
  // --keep: the cgroup outlives the init until delete, so the oom_kill count is still there when
  // the events stream reads it (without it, run removes the cgroup at once and, under TCG, can beat
  // the stream's read of memory.events; engines likewise read events before they delete).
  const running = b.tsrun(['run', '--keep', b.id], { timeoutMs: 300_000 });
  const stateFile = path.join(b.root, b.id, 'state.json');
  await waitFor(
    () => fs.existsSync(stateFile) && !!JSON.parse(fs.readFileSync(stateFile, 'utf8')).cgroup,
    120_000,
    () => 'the container to exist',
  );
  const dir = cgroupOf(b);
  // state.json names the cgroup before it is made and limited: wait for the limit itself.
  const limitOf = () => (fs.existsSync(path.join(dir, 'memory.max')) ? readCg(dir, 'memory.max') : '');
  await waitFor(
    () => limitOf() === String(16 * MiB),
    60_000,
    () => `${dir}/memory.max to be ${16 * MiB} (is ${limitOf()})`,
  );
  t.is(readCg(dir, 'memory.swap.max'), '0', 'swap = limit: no swap');
  const events = spawn(TSRUN_BIN, ['--root', b.root, 'events', '--interval', '250ms', b.id], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  events.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const ended = new Promise<void>((resolve) => events.on('exit', () => resolve()));
  t.teardown(() => events.kill('SIGKILL'));
  await waitFor(
    () => out.includes('"type":"stats"'),
    120_000,
    () => 'events to report once',
  );
  fs.writeFileSync(path.join(goDir, 'now'), '');
  const r = await running;
  t.is(r.code, 137, `run exits 128+SIGKILL when the OOM killer hits the init: ${r.stderr}`);
  await Promise.race([ended, sleep(60_000)]);
  const lines = out
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; id: string; data?: { memory: { usage: { limit: number } } } });
  t.true(
    lines.some((e) => e.type === 'oom' && e.id === b.id),
    `an oom event in:\n${out}`,
  );
  const stats = lines.find((e) => e.type === 'stats');
  t.is(stats?.data?.memory.usage.limit, 16 * MiB, 'stats report the limit');
});

vmTest('memory: a 2 MiB memory.max container runs /bin/true (tsrun itself is never in the cgroup)', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['true'];
    s.linux!.resources = { ...s.linux!.resources, memory: { limit: 2 * MiB, swap: 2 * MiB } };
  });
  const r = await b.tsrun(['run', b.id], { timeoutMs: 120_000 });
  t.is(r.code, 0, `run true under 2 MiB: ${r.stderr}`);
});

vmTest('pids: pids.max stops fork inside the container (EAGAIN)', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'fork', '30'];
    s.linux!.resources = { ...s.linux!.resources, pids: { limit: 10 } };
  });
  const r = await b.tsrun(['run', b.id], { timeoutMs: 120_000 });
  ok(t, r, 'run probe fork 30');
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as { requested: number; succeeded: number; failed: number; errno: string };
  t.true(res.succeeded <= 9, `at most 9 children next to the init: ${r.stdout}`);
  t.true(res.failed >= 21, r.stdout);
  t.is(res.errno, 'EAGAIN');
});

vmTest('cpu: a 20% cpu.max quota throttles a busy loop (usage ≤ ~25% of wall time, throttled periods counted)', async (t) => {
  const { b, dir } = await started(t, (s) => {
    s.process!.args = ['sh', '-c', 'while :; do :; done'];
    s.linux!.resources = { ...s.linux!.resources, cpu: { quota: 20000, period: 100000, shares: 512 } };
  });
  t.is(readCg(dir, 'cpu.max'), '20000 100000');
  t.is(readCg(dir, 'cpu.weight'), '59', "shares 512 → weight 59 (runc's conversion)");
  const before = kv(readCg(dir, 'cpu.stat'));
  const t0 = process.hrtime.bigint();
  await sleep(4000);
  const after = kv(readCg(dir, 'cpu.stat'));
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  const share = (after.usage_usec! - before.usage_usec!) / wallUs;
  t.log(
    `busy loop used ${(share * 100).toFixed(1)}% of one CPU over ${(wallUs / 1e6).toFixed(1)} s; throttled ${after.nr_throttled! - before.nr_throttled!} of ${after.nr_periods! - before.nr_periods!} periods`,
  );
  t.true(share <= 0.25, `usage share ${share}`);
  t.true(share >= 0.05, `the loop did run: ${share}`);
  t.true(after.nr_throttled! - before.nr_throttled! > 10, 'throttled periods');
  const ev = await b.tsrun(['events', '--stats', b.id], { timeoutMs: 60_000 });
  ok(t, ev, 'events --stats');
  t.true(JSON.parse(ev.stdout).data.cpu.throttling.throttledPeriods > 0);
});

vmTest('cpuset: cpus "1" is the affinity seen inside the container', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['grep', 'Cpus_allowed_list', '/proc/self/status'];
    s.linux!.resources = { ...s.linux!.resources, cpu: { cpus: '1', mems: '0' } };
  });
  const r = await b.tsrun(['run', b.id], { timeoutMs: 120_000 });
  ok(t, r, 'run');
  t.regex(r.stdout, /^Cpus_allowed_list:\s+1$/m);
});

vmTest('io: io.max rbps throttles direct reads of the disk; the unthrottled read is much faster', async (t) => {
  const [major, minor] = fs.readFileSync('/sys/block/vda/dev', 'utf8').trim().split(':').map(Number) as [number, number];
  const read = async (rbps?: number) => {
    const b = await makeBundle(t, (s) => {
      s.linux!.devices = [...(s.linux!.devices ?? []), { path: '/dev/vda', type: 'b', major, minor, fileMode: 0o600, uid: 0, gid: 0 }];
      const devices = [...(s.linux!.resources?.devices ?? []), { allow: true, type: 'b', major, minor, access: 'r' }];
      s.linux!.resources = { ...s.linux!.resources, devices, ...(rbps ? { blockIO: { throttleReadBpsDevice: [{ major, minor, rate: rbps }] } } : {}) };
      s.process!.args = ['time', 'dd', 'if=/dev/vda', 'of=/dev/null', 'bs=64k', 'count=64', 'skip=1000', 'iflag=direct'];
    });
    const r = await b.tsrun(['run', b.id], { timeoutMs: 180_000 });
    ok(t, r, `dd (rbps ${rbps ?? 'none'})`);
    // busybox time prints "real\t0m 4.00s" on stderr: the read alone, without the container's
    // start-up (seconds under TCG).
    const m = /real\s+(\d+)m\s*([\d.]+)s/.exec(r.stderr);
    if (!m) throw new Error(`no timing from time(1): ${r.stderr}`);
    return (Number(m[1]) * 60 + Number(m[2])) * 1000;
  };
  const free = await read();
  const throttled = await read(MiB);
  t.log(`4 MiB direct read: ${Math.round(free)} ms unthrottled, ${Math.round(throttled)} ms at 1 MiB/s`);
  t.true(throttled >= 2500, `throttled read took ${throttled} ms`);
  t.true(throttled > 3 * free, `throttled ${throttled} ms vs free ${free} ms`);
});

vmTest("devices: outside runc's default list a device cannot be opened; an allow rule opens it", async (t) => {
  const run = async (allow: boolean) => {
    const b = await makeBundle(t, (s) => {
      s.linux!.devices = [...(s.linux!.devices ?? []), { path: '/dev/kmsg', type: 'c', major: 1, minor: 11, fileMode: 0o644, uid: 0, gid: 0 }];
      if (allow)
        s.linux!.resources = {
          ...s.linux!.resources,
          devices: [...(s.linux!.resources?.devices ?? []), { allow: true, type: 'c', major: 1, minor: 11, access: 'w' }],
        };
      s.process!.args = ['probe', 'open', '/dev/kmsg', 'w'];
    });
    const r = await b.tsrun(['run', b.id], { timeoutMs: 120_000 });
    ok(t, r, 'run probe open');
    return JSON.parse(r.stdout.trim().split('\n').pop()!) as { ok: boolean; errno: string | null };
  };
  t.like(await run(false), { ok: false, errno: 'EPERM' });
  t.like(await run(true), { ok: true });
});

vmTest('update: --pids-limit, --memory and --resources (file and stdin) change live limits with effect', async (t) => {
  const { b, dir, run } = await started(t, (s) => {
    // Every half second: try 8 forks and print the result.
    s.process!.args = ['sh', '-c', 'while :; do probe fork 8; sleep 0.5; done'];
    s.linux!.resources = { ...s.linux!.resources, pids: { limit: 100 }, memory: { limit: 256 * MiB } };
  });
  const lines = () =>
    b
      .output(run)
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { failed: number });
  await waitFor(
    () => lines().length >= 1,
    60_000,
    () => 'a fork report',
  );
  t.is(lines().at(-1)!.failed, 0, 'all forks succeed under pids.max 100');
  ok(t, await b.tsrun(['update', '--pids-limit', '5', b.id], { timeoutMs: 60_000 }), 'update --pids-limit');
  t.is(readCg(dir, 'pids.max'), '5');
  const n = lines().length;
  await waitFor(
    () => lines().length > n + 1,
    60_000,
    () => 'fork reports after the update',
  );
  t.true(lines().at(-1)!.failed > 0, 'forks fail once pids.max is 5');

  ok(t, await b.tsrun(['update', '--memory', '128m', '--memory-swap', '128m', b.id], { timeoutMs: 60_000 }), 'update --memory');
  t.is(readCg(dir, 'memory.max'), String(128 * MiB));
  t.is(readCg(dir, 'memory.swap.max'), '0');

  const file = path.join(b.dir, 'res.json');
  fs.writeFileSync(file, JSON.stringify({ cpu: { quota: 50000, period: 100000 } }));
  ok(t, await b.tsrun(['update', '--resources', file, b.id], { timeoutMs: 60_000 }), 'update --resources FILE');
  t.is(readCg(dir, 'cpu.max'), '50000 100000');

  // containerd's way: update --resources - with LinuxResources JSON on stdin
  const child = spawn(TSRUN_BIN, ['--root', b.root, 'update', '--resources', '-', b.id], { stdio: ['pipe', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin.end(JSON.stringify({ pids: { limit: 50 }, cpu: { shares: 2048 } }));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  t.is(code, 0, err);
  t.is(readCg(dir, 'pids.max'), '50');
  t.is(readCg(dir, 'cpu.max'), '50000 100000', 'fields the update does not set are kept');
  const state = JSON.parse(fs.readFileSync(path.join(b.root, b.id, 'state.json'), 'utf8'));
  t.like(state.config.linux.resources, { pids: { limit: 50 }, memory: { limit: 128 * MiB }, cpu: { quota: 50000, shares: 2048 } });
});

vmTest('pause stops a running counter; resume restarts it; state says paused', async (t) => {
  const { b, dir, run } = await started(t, (s) => {
    // The counter prints to the container's stdout (a file of the test's): its last line is the count.
    s.process!.args = ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done'];
  });
  const counter = () => Number(b.output(run).trim().split('\n').pop() || 0);
  await waitFor(
    () => counter() > 3,
    60_000,
    () => 'the counter to run',
  );
  ok(t, await b.tsrun(['pause', b.id], { timeoutMs: 60_000 }), 'pause');
  t.is((await b.state()).status, 'paused');
  t.regex(readCg(dir, 'cgroup.events'), /^frozen 1$/m);
  const c1 = counter();
  await sleep(1500);
  t.is(counter(), c1, 'the counter does not move while paused');
  ok(t, await b.tsrun(['resume', b.id], { timeoutMs: 60_000 }), 'resume');
  t.is((await b.state()).status, 'running');
  await waitFor(
    () => counter() > c1 + 3,
    30_000,
    () => `the counter to move past ${c1}`,
  );
  t.pass();
});

vmTest('hugetlb: hugetlb.2MB.max and its rsvd.max are set', async (t) => {
  const { dir } = await started(t, (s) => {
    s.process!.args = ['sleep', '300'];
    s.linux!.resources = { ...s.linux!.resources, hugepageLimits: [{ pageSize: '2MB', limit: 4 * MiB }] };
  });
  t.is(readCg(dir, 'hugetlb.2MB.max'), String(4 * MiB));
  if (fs.existsSync(path.join(dir, 'hugetlb.2MB.rsvd.max'))) t.is(readCg(dir, 'hugetlb.2MB.rsvd.max'), String(4 * MiB));
});
