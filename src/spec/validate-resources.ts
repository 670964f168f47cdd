// `linux.resources` (runtime-spec config-linux.md "Control groups"): JSON types with the Go
// integer widths of specs-go, plus the checks runc makes while converting them (specconv
// createCgroupConfig, cgroups fs swappiness range).

import { Checker, I64, U16, U32, U64, isCpuList, type Obj } from './validate-check.js';
import { quote } from './cut.js';

export function validateResources(c: Checker, r: Obj | undefined): void {
  if (!r) return;
  const base = 'linux.resources';
  c.eachObject(`${base}.devices`, r.devices, (d, path) => {
    c.bool(`${path}.allow`, d.allow, true);
    // runc stringToCgroupDeviceRune: a (all), b, c; empty means all.
    if (d.type !== '') c.oneOf(`${path}.type`, d.type, ['a', 'b', 'c'], 'cgroup device type');
    c.int(`${path}.major`, d.major, I64);
    c.int(`${path}.minor`, d.minor, I64);
    const access = c.string(`${path}.access`, d.access);
    // runc: "device access at %d field cannot be empty"; devices.allow takes r, w, m.
    if (d.access == null || access === '') {
      c.p.err(`${path}.access`, 'cannot be empty');
    } else if (access !== undefined && !/^[rwm]+$/.test(access)) {
      c.p.err(`${path}.access`, `invalid access ${quote(access)} (want a combination of r, w, m)`);
    }
  });

  const mem = c.object(`${base}.memory`, r.memory);
  if (mem) {
    for (const k of ['limit', 'reservation', 'swap', 'kernel', 'kernelTCP']) c.int(`${base}.memory.${k}`, mem[k], I64);
    // memory.swappiness (cgroup v1) takes 0..100.
    c.int(`${base}.memory.swappiness`, mem.swappiness, [0, 100]);
    for (const k of ['disableOOMKiller', 'useHierarchy', 'checkBeforeUpdate']) c.bool(`${base}.memory.${k}`, mem[k]);
  }

  const cpu = c.object(`${base}.cpu`, r.cpu);
  if (cpu) {
    for (const k of ['shares', 'burst', 'period', 'realtimePeriod']) c.int(`${base}.cpu.${k}`, cpu[k], U64);
    for (const k of ['quota', 'realtimeRuntime', 'idle']) c.int(`${base}.cpu.${k}`, cpu[k], I64);
    for (const k of ['cpus', 'mems']) {
      const v = c.string(`${base}.cpu.${k}`, cpu[k]);
      if (v && !isCpuList(v)) c.p.err(`${base}.cpu.${k}`, `invalid list ${quote(v)}`);
    }
  }

  const pids = c.object(`${base}.pids`, r.pids);
  if (pids) c.int(`${base}.pids.limit`, pids.limit, I64);

  const bio = c.object(`${base}.blockIO`, r.blockIO);
  if (bio) {
    c.int(`${base}.blockIO.weight`, bio.weight, U16);
    c.int(`${base}.blockIO.leafWeight`, bio.leafWeight, U16);
    c.eachObject(`${base}.blockIO.weightDevice`, bio.weightDevice, (w, path) => {
      c.int(`${path}.major`, w.major, I64, true);
      c.int(`${path}.minor`, w.minor, I64, true);
      c.int(`${path}.weight`, w.weight, U16);
      c.int(`${path}.leafWeight`, w.leafWeight, U16);
    });
    for (const k of ['throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice']) {
      c.eachObject(`${base}.blockIO.${k}`, bio[k], (t, path) => {
        c.int(`${path}.major`, t.major, I64, true);
        c.int(`${path}.minor`, t.minor, I64, true);
        c.int(`${path}.rate`, t.rate, U64, true);
      });
    }
  }

  c.eachObject(`${base}.hugepageLimits`, r.hugepageLimits, (h, path) => {
    const size = c.string(`${path}.pageSize`, h.pageSize, true);
    // hugetlb controller file names: hugetlb.<size>.limit_in_bytes, e.g. "2MB", "1GB".
    if (size !== undefined && !/^\d+[KMG]B$/.test(size)) c.p.err(`${path}.pageSize`, `invalid page size ${quote(size)} (e.g. "2MB")`);
    c.int(`${path}.limit`, h.limit, U64, true);
  });

  const net = c.object(`${base}.network`, r.network);
  if (net) {
    c.int(`${base}.network.classID`, net.classID, U32);
    c.eachObject(`${base}.network.priorities`, net.priorities, (pr, path) => {
      c.string(`${path}.name`, pr.name, true);
      c.int(`${path}.priority`, pr.priority, U32, true);
    });
  }

  const rdma = c.object(`${base}.rdma`, r.rdma);
  if (rdma) {
    for (const [dev, v] of Object.entries(rdma)) {
      const o = c.object(`${base}.rdma.${dev}`, v, true);
      if (o) {
        c.int(`${base}.rdma.${dev}.hcaHandles`, o.hcaHandles, U32);
        c.int(`${base}.rdma.${dev}.hcaObjects`, o.hcaObjects, U32);
      }
    }
  }

  const unified = c.stringMap(`${base}.unified`, r.unified);
  if (unified) {
    for (const k of Object.keys(unified)) {
      // cgroup v2 interface files are "<controller>.<name>" in the cgroup directory itself.
      if (k.includes('/') || !k.includes('.')) c.p.err(`${base}.unified.${k}`, `invalid cgroup v2 file name ${quote(k)}`);
    }
  }
}
