// Each controller against a fake cgroupfs: a tmpdir whose regular files stand for the interface
// files (writes append one line each, so every write is visible), with cgroup.controllers saying
// which controllers the cgroup has. Conversions are runc's; errors name the controller and cgroup.
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { applyResources, neededControllers } from '../../src/cgroups/controllers.js';
import { blkioToIoWeight, sharesToWeight, swapToV2 } from '../../src/cgroups/convert.js';
import { checkResources } from '../../src/cgroups/resources.js';
import type { LinuxResources } from '../../src/spec/types.js';

const ALL = ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma'];
const FILES = [
  'cgroup.procs',
  'cgroup.freeze',
  'cgroup.events',
  'memory.max',
  'memory.low',
  'memory.high',
  'memory.swap.max',
  'memory.current',
  'cpu.weight',
  'cpu.max',
  'cpu.max.burst',
  'cpu.idle',
  'cpuset.cpus',
  'cpuset.mems',
  'pids.max',
  'io.weight',
  'io.max',
  'hugetlb.2MB.max',
  'hugetlb.2MB.rsvd.max',
  'hugetlb.1GB.max',
  'hugetlb.1GB.rsvd.max',
  'rdma.max',
];

/** A fake cgroup directory; `files` replaces or adds content, null removes a file. */
function fakeCgroup(t: ExecutionContext, controllers = ALL, files: Record<string, string | null> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsrun-fakecg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(path.join(dir, 'cgroup.controllers'), `${controllers.join(' ')}\n`);
  for (const f of FILES) writeFileSync(path.join(dir, f), '');
  for (const [f, v] of Object.entries(files)) {
    if (v === null) rmSync(path.join(dir, f));
    else writeFileSync(path.join(dir, f), v);
  }
  return dir;
}

const read = (dir: string, f: string) => readFileSync(path.join(dir, f), 'utf8');

test("cpu shares convert to cpu.weight with runc's quadratic (PR#4785): 2→1, 1024→100, 262144→10000", (t) => {
  t.is(sharesToWeight(0), 0);
  t.is(sharesToWeight(2), 1);
  t.is(sharesToWeight(1024), 100);
  t.is(sharesToWeight(262144), 10000);
  t.is(sharesToWeight(512), 59); // ceil(10^((81+1125)/612 - 7/34))
  t.true(sharesToWeight(2048) > 100 && sharesToWeight(2048) < 10000);
});

test('blkio weight converts to io.weight linearly (10→1, 500→4950, 1000→10000)', (t) => {
  t.is(blkioToIoWeight(10), 1);
  t.is(blkioToIoWeight(500), 4950);
  t.is(blkioToIoWeight(1000), 10000);
});

test("swap: v2 memory.swap.max is memory+swap minus the limit, with runc's special cases", (t) => {
  t.is(swapToV2(200, 100), 100);
  t.is(swapToV2(100, 100), 0);
  t.is(swapToV2(-1, 100), -1);
  t.is(swapToV2(0, 100), 0);
  t.is(swapToV2(0, -1), -1, 'unlimited memory without a swap value means unlimited swap');
  t.throws(() => swapToV2(50, 100), { message: /should be >= memory limit/ });
  t.throws(() => swapToV2(100, 0), { message: /without memory limit/ });
});

test('memory: limit → memory.max, reservation → memory.low, swap → memory.swap.max', (t) => {
  const dir = fakeCgroup(t);
  applyResources(dir, { memory: { limit: 32 << 20, reservation: 16 << 20, swap: 48 << 20, swappiness: 10, kernel: 1 << 20, disableOOMKiller: true } });
  t.is(read(dir, 'memory.max'), `${32 << 20}\n`);
  t.is(read(dir, 'memory.low'), `${16 << 20}\n`);
  t.is(read(dir, 'memory.swap.max'), `${16 << 20}\n`);
});

test('memory: swap equal to the limit disables swap (memory.swap.max 0); -1 is max', (t) => {
  const a = fakeCgroup(t);
  applyResources(a, { memory: { limit: 1000, swap: 1000 } });
  t.is(read(a, 'memory.swap.max'), '0\n');
  const b = fakeCgroup(t);
  applyResources(b, { memory: { limit: -1 } });
  t.is(read(b, 'memory.max'), 'max\n');
  t.is(read(b, 'memory.swap.max'), 'max\n');
});

test('memory: no swap accounting (no memory.swap.max) is fine for "0" and "max", an error otherwise', (t) => {
  const a = fakeCgroup(t, ALL, { 'memory.swap.max': null });
  t.notThrows(() => applyResources(a, { memory: { limit: 1000, swap: 1000 } }));
  t.is(read(a, 'memory.max'), '1000\n');
  const b = fakeCgroup(t, ALL, { 'memory.swap.max': null });
  t.throws(() => applyResources(b, { memory: { limit: 1000, swap: 3000 } }), { message: /memory\.swap\.max.*ENOENT/ });
});

test('memory checkBeforeUpdate refuses a limit at or below memory.current', (t) => {
  const dir = fakeCgroup(t, ALL, { 'memory.current': '4096\n' });
  t.throws(() => applyResources(dir, { memory: { limit: 4096, checkBeforeUpdate: true } }), {
    message: /rejecting memory limit 4096 below current usage 4096/,
  });
  t.is(read(dir, 'memory.max'), '', 'nothing written');
  applyResources(dir, { memory: { limit: 8192, checkBeforeUpdate: true } });
  t.is(read(dir, 'memory.max'), '8192\n');
});

test('cpu: shares → weight, quota/period → cpu.max, burst, idle; quota ≤ 0 is max, period defaults to 100000', (t) => {
  const dir = fakeCgroup(t);
  applyResources(dir, { cpu: { shares: 1024, quota: 50000, period: 200000, burst: 10000, idle: 0 } });
  t.is(read(dir, 'cpu.weight'), '100\n');
  t.is(read(dir, 'cpu.max'), '50000 200000\n');
  t.is(read(dir, 'cpu.max.burst'), '10000\n');
  t.is(read(dir, 'cpu.idle'), '0\n');
  const b = fakeCgroup(t);
  applyResources(b, { cpu: { quota: -1 } });
  t.is(read(b, 'cpu.max'), 'max 100000\n');
  const c = fakeCgroup(t);
  applyResources(c, { cpu: { period: 50000 } });
  t.is(read(c, 'cpu.max'), 'max 50000\n');
});

test("cpu: realtime fields have no v2 file and are ignored, as runc's fs2 does", (t) => {
  const dir = fakeCgroup(t, ['memory']);
  t.deepEqual(neededControllers({ cpu: { realtimeRuntime: 950000, realtimePeriod: 1000000 } }), []);
  t.notThrows(() => applyResources(dir, { cpu: { realtimeRuntime: 950000, realtimePeriod: 1000000 } }));
});

test('cpuset: cpus and mems go to cpuset.cpus and cpuset.mems', (t) => {
  const dir = fakeCgroup(t);
  applyResources(dir, { cpu: { cpus: '0-1', mems: '0' } });
  t.is(read(dir, 'cpuset.cpus'), '0-1\n');
  t.is(read(dir, 'cpuset.mems'), '0\n');
});

test('pids: a limit, 0 (no new processes, runtime-spec 1.3) and negative (max)', (t) => {
  for (const [limit, want] of [
    [20, '20'],
    [0, '0'],
    [-1, 'max'],
  ] as const) {
    const dir = fakeCgroup(t);
    applyResources(dir, { pids: { limit } });
    t.is(read(dir, 'pids.max'), `${want}\n`, `limit ${limit}`);
  }
  const none = fakeCgroup(t);
  applyResources(none, { pids: {} });
  t.is(read(none, 'pids.max'), '', 'unset: untouched');
});

test('io: weight converted to io.weight without BFQ; throttles are one io.max line each', (t) => {
  const dir = fakeCgroup(t);
  applyResources(dir, {
    blockIO: {
      weight: 500,
      weightDevice: [{ major: 8, minor: 0, weight: 300 }],
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
      throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 2097152 }],
      throttleReadIOPSDevice: [{ major: 8, minor: 16, rate: 100 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 16, rate: 200 }],
    },
  });
  t.is(read(dir, 'io.weight'), '4950\n');
  t.is(read(dir, 'io.max'), '8:0 rbps=1048576\n8:0 wbps=2097152\n8:16 riops=100\n8:16 wiops=200\n');
});

test('io: with BFQ the weight is written unconverted to io.bfq.weight, and device weights too', (t) => {
  const dir = fakeCgroup(t, ALL, { 'io.bfq.weight': 'default 100\n' });
  applyResources(dir, { blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 300 }] } });
  t.is(read(dir, 'io.bfq.weight'), 'default 100\n500\n8:0 300\n');
  t.is(read(dir, 'io.weight'), '', 'io.weight untouched');
});

test('hugetlb: <size>.max and <size>.rsvd.max; a kernel without rsvd files is fine', (t) => {
  const dir = fakeCgroup(t);
  applyResources(dir, {
    hugepageLimits: [
      { pageSize: '2MB', limit: 4194304 },
      { pageSize: '1GB', limit: 0 },
    ],
  });
  t.is(read(dir, 'hugetlb.2MB.max'), '4194304\n');
  t.is(read(dir, 'hugetlb.2MB.rsvd.max'), '4194304\n');
  t.is(read(dir, 'hugetlb.1GB.rsvd.max'), '0\n');
  const old = fakeCgroup(t, ALL, { 'hugetlb.2MB.rsvd.max': null, 'hugetlb.1GB.rsvd.max': null });
  applyResources(old, { hugepageLimits: [{ pageSize: '2MB', limit: 2097152 }] });
  t.is(read(old, 'hugetlb.2MB.max'), '2097152\n');
  const bad = fakeCgroup(t);
  t.throws(() => applyResources(bad, { hugepageLimits: [{ pageSize: '16MB', limit: 1 }] }), { message: /hugetlb\.16MB\.max.*ENOENT/ });
});

test('rdma: one rdma.max line per device with the fields given', (t) => {
  const dir = fakeCgroup(t);
  applyResources(dir, { rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 }, mlx4_0: { hcaObjects: 50 } } });
  t.is(read(dir, 'rdma.max'), 'mlx5_1 hca_handle=3 hca_object=10000\nmlx4_0 hca_object=50\n');
});

test('unified: written verbatim after the rest (so it overrides), one write per line', (t) => {
  const dir = fakeCgroup(t);
  applyResources(dir, { memory: { limit: 1000 }, unified: { 'memory.max': '2000', 'memory.high': '1500', 'io.max': '8:0 rbps=1\n8:16 wbps=2\n' } });
  t.is(read(dir, 'memory.max'), '1000\n2000\n');
  t.is(read(dir, 'memory.high'), '1500\n');
  t.is(read(dir, 'io.max'), '8:0 rbps=1\n8:16 wbps=2\n');
});

test('unified: slashes and keys without a controller prefix are refused; a missing file names its controller', (t) => {
  const dir = fakeCgroup(t, ['memory']);
  t.throws(() => applyResources(dir, { unified: { '../escape': '1' } }), { message: /must be a file name/ });
  t.throws(() => applyResources(dir, { unified: { nodot: '1' } }), { message: /CONTROLLER\.PARAMETER/ });
  t.throws(() => applyResources(dir, { unified: { 'misc.max': 'x 1' } }), { message: new RegExp(`controller "misc" is not available in cgroup ${dir}`) });
  const all = fakeCgroup(t, [...ALL, 'misc']);
  t.throws(() => applyResources(all, { unified: { 'memory.nosuchfile': '1' } }), { message: /"memory\.nosuchfile" can't be set: .*ENOENT/ });
});

test('a limit whose controller the cgroup lacks fails before anything is written, naming controller and cgroup', (t) => {
  const dir = fakeCgroup(t, ['memory']);
  const r: LinuxResources = { memory: { limit: 1000 }, pids: { limit: 5 }, cpu: { cpus: '0' } };
  const err = t.throws(() => applyResources(dir, r));
  t.regex(err!.message, new RegExp(`linux\\.resources\\.pids: cgroup controller "pids" is not available in cgroup ${dir}`));
  t.regex(err!.message, /controller "cpuset" is not available/);
  t.is(read(dir, 'memory.max'), '', 'nothing written');
});

test('no resources, or only v1-only fields, need no controller at all', (t) => {
  const dir = fakeCgroup(t, []);
  t.notThrows(() => applyResources(dir, undefined));
  t.notThrows(() => applyResources(dir, {}));
  t.notThrows(() => applyResources(dir, { network: { classID: 1 }, memory: { swappiness: 60, disableOOMKiller: true, kernelTCP: 1 } }));
  t.deepEqual(checkResources({ memory: { swappiness: 60 } }, dir), []);
});

test('checkResources: the pre-check looks at the nearest existing ancestor and names it', (t) => {
  const dir = fakeCgroup(t, ['hugetlb']);
  const problems = checkResources({ memory: { limit: 1 }, hugepageLimits: [{ pageSize: '2MB', limit: 0 }] }, path.join(dir, 'a/b'));
  t.deepEqual(problems, [`linux.resources.memory: cgroup controller "memory" is not available in ${dir}`]);
  t.deepEqual(checkResources({ pids: { limit: 1 } }, null), ['linux.resources.pids: no cgroup v2 hierarchy is mounted (controller "pids")']);
});
