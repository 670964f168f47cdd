// The VM is a pure cgroup v2 system, as the cgroup tests need it (issue 4): cgroup2 mounted at
// /sys/fs/cgroup with nsdelegate, every controller the kernel has enabled for the root's
// children, limits writable in a child cgroup; overlayfs usable (engines' storage, image rootfs).

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { mustSh, sh, VM } from './helpers/guest.js';
import { needs } from '../helpers/skip.js';

const vmTest = needs(VM);
const CG = '/sys/fs/cgroup';
/** Every controller of the guest kernel (Debian 6.1): all must reach a tsrun container. */
const CONTROLLERS = ['cpuset', 'cpu', 'io', 'memory', 'hugetlb', 'pids', 'rdma', 'misc'];

function words(file: string): string[] {
  return readFileSync(file, 'utf8').trim().split(/\s+/).filter(Boolean);
}

vmTest('cgroup2 is mounted at /sys/fs/cgroup with nsdelegate, and no v1 hierarchy exists', (t) => {
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      // proc(5): fields before " - " are mount data, after it: fstype, source, super options
      const [pre, post] = line.split(' - ');
      const [fstype, , superOpts] = post!.split(' ');
      return { point: pre!.split(' ')[4], fstype, superOpts: superOpts!.split(',') };
    });
  const cg = mounts.find((m) => m.point === CG);
  t.is(cg?.fstype, 'cgroup2');
  t.true(cg?.superOpts.includes('nsdelegate'), `super options: ${cg?.superOpts.join(',')}`);
  t.deepEqual(
    mounts.filter((m) => m.fstype === 'cgroup').map((m) => m.point),
    [],
    'no cgroup v1 mounts',
  );
});

vmTest('every controller is available and enabled in the root cgroup.subtree_control', (t) => {
  const available = words(`${CG}/cgroup.controllers`);
  const enabled = words(`${CG}/cgroup.subtree_control`);
  for (const c of CONTROLLERS) {
    t.true(available.includes(c), `${c} in cgroup.controllers (${available.join(' ')})`);
    t.true(enabled.includes(c), `${c} in cgroup.subtree_control (${enabled.join(' ')})`);
  }
});

vmTest('a child cgroup gets every controller and takes memory, pids, cpu, cpuset, io and hugetlb limits', (t) => {
  const dir = path.join(CG, `tsrun-vm-test-${process.pid}-${randomBytes(3).toString('hex')}`);
  mkdirSync(dir);
  try {
    const available = words(`${dir}/cgroup.controllers`);
    for (const c of CONTROLLERS) t.true(available.includes(c), `${c} reaches the child (${available.join(' ')})`);
    const set = (file: string, value: string): string => {
      writeFileSync(path.join(dir, file), value);
      return readFileSync(path.join(dir, file), 'utf8').trim();
    };
    t.is(set('memory.max', '33554432'), '33554432');
    t.is(set('memory.swap.max', '0'), '0');
    t.is(set('pids.max', '20'), '20');
    t.is(set('cpu.max', '10000 100000'), '10000 100000');
    t.is(set('cpu.weight', '50'), '50');
    t.is(set('cpuset.cpus', '0'), '0');
    // io.max is keyed by the block device's MAJ:MIN; the root disk is virtio-blk /dev/vda
    const dev = readFileSync('/sys/block/vda/dev', 'utf8').trim();
    t.regex(set('io.max', `${dev} rbps=2097152`), new RegExp(`^${dev} rbps=2097152 `));
    t.is(set('hugetlb.2MB.max', '0'), '0');
  } finally {
    rmdirSync(dir);
  }
});

vmTest('overlayfs mounts (lower + upper on tmpfs)', async (t) => {
  t.true(readFileSync('/proc/filesystems', 'utf8').includes('\toverlay\n'), 'overlay in /proc/filesystems');
  const base = mkdtempSync(path.join(tmpdir(), 'tsrun-vm-ovl-'));
  const merged = path.join(base, 'merged');
  let mounted = false;
  try {
    for (const d of ['lower', 'upper', 'work', 'merged']) mkdirSync(path.join(base, d));
    writeFileSync(path.join(base, 'lower/from-lower'), 'lower\n');
    await mustSh('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${base}/lower,upperdir=${base}/upper,workdir=${base}/work`, merged]);
    mounted = true;
    writeFileSync(path.join(merged, 'from-merged'), 'merged\n');
    t.is(readFileSync(path.join(merged, 'from-lower'), 'utf8'), 'lower\n');
    t.is(readFileSync(path.join(base, 'upper/from-merged'), 'utf8'), 'merged\n', 'writes land in the upper dir');
  } finally {
    if (mounted) await sh('umount', [merged]);
    rmSync(base, { recursive: true, force: true });
  }
});
