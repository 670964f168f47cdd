// update's semantics (runc update.go): the flags as LinuxResources, sizes as go-units parses them,
// merging into the stored config (zero = unchanged, quota/period pairing, devices untouched);
// events' duration parsing; the stats JSON writing Go's uint64 max exactly; stats from a fake
// cgroupfs in runc's shape.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readStats, statsJson, U64_MAX } from '../../src/cgroups/stats.js';
import { parseDuration } from '../../src/container/events.js';
import { mergeResources, parseResourcesJson, ramInBytes, resourcesFromFlags } from '../../src/container/update.js';

test('sizes: bytes, k/m/g with binary multipliers, optional "b"/"ib"', (t) => {
  t.is(ramInBytes('512'), 512);
  t.is(ramInBytes('128m'), 128 * 1024 * 1024);
  t.is(ramInBytes('1g'), 1 << 30);
  t.is(ramInBytes('1.5GiB'), 1.5 * (1 << 30));
  t.is(ramInBytes('64KB'), 65536);
  t.throws(() => ramInBytes('lots'), { message: /invalid size/ });
});

test('flags → resources: only what is given; -1 memory is unlimited; bad numbers are named', (t) => {
  const r = resourcesFromFlags({ memory: '64m', memorySwap: '-1', cpuQuota: '-1', cpuPeriod: '50000', cpusetCpus: '0', pidsLimit: 0, blkioWeight: 300 });
  t.is(r.memory!.limit, 64 << 20);
  t.is(r.memory!.swap, -1);
  t.is(r.cpu!.quota, -1);
  t.is(r.cpu!.period, 50000);
  t.is(r.cpu!.cpus, '0');
  t.is(r.pids!.limit, 0);
  t.is(r.blockIO!.weight, 300);
  t.is(r.cpu!.shares, undefined);
  t.throws(() => resourcesFromFlags({ cpuPeriod: '-5' }), { message: /--cpu-period/ });
  t.throws(() => resourcesFromFlags({ memory: 'x' }), { message: /--memory/ });
});

test('merge: set fields win, zero fields keep the old value, devices never change', (t) => {
  const old = {
    memory: { limit: 100, swap: 200 },
    cpu: { quota: 10000, period: 100000, shares: 512 },
    devices: [{ allow: false, access: 'rwm' }],
    pids: { limit: 9 },
  };
  const { merged, effective } = mergeResources(old, {
    memory: { limit: 300, swap: 0 },
    cpu: { shares: 0 },
    devices: [{ allow: true, access: 'rwm' }],
    pids: { limit: 0 },
  });
  t.deepEqual(merged.memory, { limit: 300, swap: 200 });
  t.is(merged.cpu!.shares, 512);
  t.is(merged.pids!.limit, 0, 'pids 0 is a limit');
  t.deepEqual(merged.devices, old.devices);
  t.is(effective.devices, undefined);
  t.is(effective.memory!.swap, 0, 'swap 0 in the update leaves memory.swap.max alone');
});

test('merge: a quota or period given alone is written with the other from the config', (t) => {
  const old = { cpu: { quota: 10000, period: 50000 } };
  t.deepEqual(mergeResources(old, { cpu: { quota: 20000 } }).effective.cpu, { quota: 20000, period: 50000 });
  t.deepEqual(mergeResources(old, { cpu: { period: 200000 } }).effective.cpu, { quota: 10000, period: 200000 });
  t.deepEqual(mergeResources(old, { cpu: { quota: 1, period: 2 } }).effective.cpu, { quota: 1, period: 2 });
});

test('resources JSON: an object or a clear error naming the source', (t) => {
  t.deepEqual(parseResourcesJson('{"pids":{"limit":3}}', 'standard input'), { pids: { limit: 3 } });
  t.throws(() => parseResourcesJson('[1]', 'r.json'), { message: /resources from r\.json: want a JSON object/ });
  t.throws(() => parseResourcesJson('{', 'standard input'), { message: /resources from standard input: invalid JSON/ });
});

test('Go durations for events --interval', (t) => {
  t.is(parseDuration('5s'), 5000);
  t.is(parseDuration('250ms'), 250);
  t.is(parseDuration('1m30s'), 90_000);
  t.is(parseDuration('1.5h'), 5_400_000);
  for (const bad of ['', '5', 's', '5 s', '5x']) t.throws(() => parseDuration(bad), { message: /invalid duration/ }, bad);
});

test('stats JSON writes uint64 max exactly, as Go does', (t) => {
  t.is(statsJson({ limit: U64_MAX, n: 3 }), '{"limit":18446744073709551615,"n":3}');
});

test("stats from cgroup v2 files in runc's shape (cpu ns, memory+swap, pids, io.stat → blkio)", (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tsrun-fakecg-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const files: Record<string, string> = {
    'cpu.stat': 'usage_usec 3000\nuser_usec 2000\nsystem_usec 1000\nnr_periods 10\nnr_throttled 4\nthrottled_usec 500\n',
    'memory.current': '4096\n',
    'memory.max': 'max\n',
    'memory.swap.current': '1024\n',
    'memory.swap.max': 'max\n',
    'memory.stat': 'anon 2048\nfile 1024\n',
    'memory.events': 'low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n',
    'pids.current': '3\n',
    'pids.max': '20\n',
    'io.stat': '254:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n',
  };
  for (const [f, v] of Object.entries(files)) writeFileSync(path.join(dir, f), v);
  const s = readStats(dir);
  t.deepEqual(s.cpu, {
    usage: { total: 3_000_000, kernel: 1_000_000, user: 2_000_000 },
    throttling: { periods: 10, throttledPeriods: 4, throttledTime: 500_000 },
  });
  t.deepEqual(s.memory.usage, { limit: U64_MAX, usage: 4096, failcnt: 2 });
  t.deepEqual(s.memory.swap, { limit: U64_MAX, usage: 5120, failcnt: 0 });
  t.is(s.memory.cache, 1024);
  t.deepEqual(s.memory.raw, { anon: 2048, file: 1024 });
  t.deepEqual(s.pids, { current: 3, limit: 20 });
  t.deepEqual(s.blkio.ioServiceBytesRecursive, [
    { major: 254, op: 'Read', value: 4096 },
    { major: 254, op: 'Write' },
  ]);
  t.deepEqual(s.blkio.ioServicedRecursive, [
    { major: 254, op: 'Read', value: 1 },
    { major: 254, op: 'Write' },
  ]);
  t.is(s.network_interfaces, null);
  t.regex(statsJson(s), /"usage":\{"limit":18446744073709551615,"usage":4096,"failcnt":2\}/);
});
