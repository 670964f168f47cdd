// The systemd driver's mapping: cgroupsPath "slice:prefix:name" → unit and cgroup directory
// (systemd.slice(5) nesting), and linux.resources → unit properties (systemd.resource-control(5))
// with runc's conversions.
import test from 'ava';
import { cpuMask, expandSlice, parseSystemdPath, resourceProperties, scopeProperties, U64_MAX, unitCgroupDir } from '../../src/cgroups/systemd-props.js';

test('cgroupsPath slice:prefix:name → prefix-name.scope in the slice; empty slice is system.slice', (t) => {
  t.deepEqual(parseSystemdPath('system.slice:docker:abc', 'x'), { slice: 'system.slice', unit: 'docker-abc.scope' });
  t.deepEqual(parseSystemdPath(':crio:abc', 'x'), { slice: 'system.slice', unit: 'crio-abc.scope' });
  t.deepEqual(parseSystemdPath('user.slice::abc', 'x'), { slice: 'user.slice', unit: 'abc.scope' });
  t.deepEqual(parseSystemdPath('', 'myid'), { slice: 'system.slice', unit: 'tsrun-myid.scope' });
  t.throws(() => parseSystemdPath('/not/systemd', 'x'), { message: /must be "slice:prefix:name"/ });
  t.throws(() => parseSystemdPath('a.slice:b:', 'x'), { message: /unit name part is empty/ });
});

test('slices nest by dashes (systemd.slice(5))', (t) => {
  t.is(expandSlice('system.slice'), '/system.slice');
  t.is(expandSlice('kubepods-besteffort-pod12.slice'), '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice');
  t.is(expandSlice('-.slice'), '/');
  for (const bad of ['a--b.slice', '-a.slice', 'a-.slice', 'nodot', 'a/b.slice']) t.throws(() => expandSlice(bad), { message: /invalid slice name/ }, bad);
  t.is(unitCgroupDir('/sys/fs/cgroup', { slice: 'machine-x.slice', unit: 'tsrun-1.scope' }), '/sys/fs/cgroup/machine.slice/machine-x.slice/tsrun-1.scope');
});

test('memory: MemoryMax, MemoryLow, MemorySwapMax = swap - limit; -1 is infinity', (t) => {
  t.deepEqual(resourceProperties({ memory: { limit: 1000, reservation: 500, swap: 3000 } }), [
    ['MemoryMax', 't', 1000n],
    ['MemoryLow', 't', 500n],
    ['MemorySwapMax', 't', 2000n],
  ]);
  t.deepEqual(resourceProperties({ memory: { limit: -1 } }), [
    ['MemoryMax', 't', U64_MAX],
    ['MemorySwapMax', 't', U64_MAX],
  ]);
  t.deepEqual(resourceProperties({ memory: { limit: 1000, swap: 1000 } }), [
    ['MemoryMax', 't', 1000n],
    ['MemorySwapMax', 't', 0n],
  ]);
});

test('cpu: CPUWeight from shares, quota per second rounded up to 10 ms, period, AllowedCPUs mask', (t) => {
  t.deepEqual(resourceProperties({ cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0-2,9', mems: '0' } }), [
    ['CPUWeight', 't', 100n],
    ['CPUQuotaPeriodUSec', 't', 100000n],
    ['CPUQuotaPerSecUSec', 't', 500000n],
    ['AllowedCPUs', 'ay', [0b111, 0b10]],
    ['AllowedMemoryNodes', 'ay', [1]],
  ]);
  const odd = resourceProperties({ cpu: { quota: 12345, period: 100000 } });
  t.deepEqual(
    odd.find((p) => p[0] === 'CPUQuotaPerSecUSec'),
    ['CPUQuotaPerSecUSec', 't', 130000n],
    '123450 µs/s rounds up to 130000',
  );
  t.deepEqual(
    resourceProperties({ cpu: { period: 50000 } }).find((p) => p[0] === 'CPUQuotaPerSecUSec'),
    ['CPUQuotaPerSecUSec', 't', U64_MAX],
  );
  t.deepEqual(cpuMask('0'), [1]);
  t.throws(() => cpuMask('3-1'), { message: /invalid cpu list/ });
});

test('pids: TasksMax, negative is infinity, 0 is a limit', (t) => {
  t.deepEqual(resourceProperties({ pids: { limit: 20 } }), [['TasksMax', 't', 20n]]);
  t.deepEqual(resourceProperties({ pids: { limit: -1 } }), [['TasksMax', 't', U64_MAX]]);
  t.deepEqual(resourceProperties({ pids: { limit: 0 } }), [['TasksMax', 't', 0n]]);
});

test('the scope: Delegate, the init pid, slice, accounting, then the limits', (t) => {
  const props = scopeProperties({ slice: 'system.slice', unit: 'tsrun-a.scope' }, 'a', 4242, { pids: { limit: 5 } });
  const byName = new Map(props.map((p) => [p[0], p]));
  t.deepEqual(byName.get('Delegate'), ['Delegate', 'b', true]);
  t.deepEqual(byName.get('PIDs'), ['PIDs', 'au', [4242]]);
  t.deepEqual(byName.get('Slice'), ['Slice', 's', 'system.slice']);
  t.deepEqual(byName.get('TasksMax'), ['TasksMax', 't', 5n]);
  t.deepEqual(byName.get('Description'), ['Description', 's', 'tsrun container a']);
  t.true(['MemoryAccounting', 'CPUAccounting', 'IOAccounting', 'TasksAccounting'].every((n) => byName.get(n)?.[2] === true));
});
