// Removal of the container's cgroup on delete (src/cgroups/v2.ts removeCgroup), as runc's
// cgroups.RemovePath: child cgroups made inside the container's cgroup (by a nested runtime, by
// systemd inside, by anything with the cgroup delegated) go too, bottom-up; before, delete left
// the whole subtree behind because rmdir of a non-empty cgroup fails ENOTEMPTY (issue 13, item 9).
// A directory tsrun did not create above the container's cgroup is never removed. And where the
// hierarchy is: with a cgroup2 mounted over /sys/fs/cgroup in a private mount namespace, the
// older mount that mountinfo still lists first is not the one tsrun takes.
// Runs on the host's unified tree (hybrid host: hugetlb only, no limits needed); v1 is never touched.
import type { ExecutionContext } from 'ava';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { unifiedMount } from '../../src/cgroups/v2.js';
import { REPO_ROOT } from '../helpers/rootfs.js';
import { makeBundle, type TsrunResult } from '../helpers/bundle.js';
import { need, needs, ROOT } from '../helpers/skip.js';

const unified = unifiedMount();
const cgTest = needs(ROOT, need(unified, 'no cgroup2 hierarchy is mounted'));
const unshareTest = needs(ROOT, need(unified, 'no cgroup2 hierarchy is mounted'), need(fs.existsSync('/usr/bin/unshare'), 'needs unshare (util-linux)'));

function ok(t: ExecutionContext, r: TsrunResult, what: string): void {
  t.is(r.code, 0, `${what} failed: ${r.stderr}`);
}

/** rmdir of whatever the test made that delete left, deepest first, so nothing stays on failure. */
function removeLeft(dirs: string[]): void {
  for (const d of [...dirs].reverse()) {
    try {
      fs.rmdirSync(d);
    } catch {
      /* gone, as it should be */
    }
  }
}

cgTest('delete removes the child cgroups made inside the container cgroup, bottom-up', async (t) => {
  const cgParent = `tsrun-cgrm-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'sleep', '300'];
    s.linux!.cgroupsPath = `/${cgParent}/ctr`;
  });
  const parent = path.join(unified!, cgParent);
  const dir = path.join(parent, 'ctr');
  const made = [parent, dir, path.join(dir, 'inner'), path.join(dir, 'inner', 'deeper'), path.join(dir, 'other')];
  t.teardown(() => removeLeft(made));
  ok(t, await b.tsrun(['create', '--bundle', b.dir, b.id]), 'create');
  ok(t, await b.tsrun(['start', b.id]), 'start');
  const st = await b.waitStatus(b.id, 'running');
  // What the container would do with its cgroup delegated: a nested hierarchy, and its init in a leaf.
  for (const d of made.slice(2)) fs.mkdirSync(d);
  fs.writeFileSync(path.join(dir, 'inner', 'deeper', 'cgroup.procs'), String(st.pid));
  ok(t, await b.tsrun(['delete', '--force', b.id]), 'delete --force');
  for (const d of made.slice(1)) t.false(fs.existsSync(d), `${d} is removed`);
  t.false(fs.existsSync(parent), `${parent}, made by tsrun for the container, is removed too`);
});

cgTest('a cgroup above the container that tsrun did not create stays, with its other children', async (t) => {
  const parent = path.join(unified!, `tsrun-cgkeep-${process.pid}-${Math.random().toString(16).slice(2, 8)}`);
  const sibling = path.join(parent, 'sibling');
  fs.mkdirSync(parent);
  fs.mkdirSync(sibling);
  const dir = path.join(parent, 'ctr');
  t.teardown(() => removeLeft([parent, sibling, dir, path.join(dir, 'inner')]));
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'sleep', '300'];
    s.linux!.cgroupsPath = `${parent.slice(unified!.length)}/ctr`;
  });
  ok(t, await b.tsrun(['create', '--bundle', b.dir, b.id]), 'create');
  fs.mkdirSync(path.join(dir, 'inner'));
  ok(t, await b.tsrun(['delete', '--force', b.id]), 'delete --force');
  t.false(fs.existsSync(dir), 'the container cgroup and its child are removed');
  t.true(fs.existsSync(sibling), 'the sibling tsrun did not make stays');
  t.true(fs.existsSync(parent), 'the parent tsrun did not make stays');
});

/** The super options of the host's cgroup2 mount, less rw/ro (mountinfo: "… - cgroup2 <source> <options>"). */
function cgroup2SuperOptions(): string {
  const line = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.includes(' - cgroup2 '));
  const opts = line?.split(' - ')[1]?.split(' ')[2] ?? '';
  return opts
    .split(',')
    .filter((o) => o && o !== 'rw' && o !== 'ro')
    .join(',');
}

unshareTest('cgroup2 mounted over /sys/fs/cgroup hides an older mount listed first: the visible one is used', (t) => {
  const superOptions = cgroup2SuperOptions();
  const before = superOptions;
  // A private mount namespace: the mount is gone with the namespace, the host's mounts are untouched.
  const script = [
    'mount --make-rprivate / &&',
    // A tmpfs first: where /sys/fs/cgroup is cgroup2 already (full cgroup v2, as in the VM), the
    // kernel refuses the same superblock stacked straight on itself (EBUSY). The hierarchy's own
    // options are passed again: a cgroup2 mount in the initial namespace applies its options to
    // the whole hierarchy (nsdelegate, memory_recursiveprot …), and must not clear the host's.
    'mount -t tmpfs tsrun-test /sys/fs/cgroup &&',
    `mount -t cgroup2 ${superOptions ? `-o ${superOptions} ` : ''}cgroup2 /sys/fs/cgroup &&`,
    `exec node --import tsx -e 'import("${path.join(REPO_ROOT, 'src/cgroups/v2.ts')}").then((m) => console.log(JSON.stringify({ mount: m.unifiedMount(), mountinfo: require("node:fs").readFileSync("/proc/self/mountinfo", "utf8") })))'`,
  ].join(' ');
  const r = spawnSync('unshare', ['-m', 'sh', '-c', script], { cwd: REPO_ROOT, encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { mount: string; mountinfo: string };
  const cgroup2Lines = out.mountinfo.split('\n').filter((l) => l.includes(' - cgroup2 '));
  t.true(cgroup2Lines.length >= 2 || unified === '/sys/fs/cgroup', `mountinfo lists both mounts: ${cgroup2Lines.join(' | ')}`);
  t.is(out.mount, '/sys/fs/cgroup');
  t.is(cgroup2SuperOptions(), before, "the host's cgroup2 options are unchanged");
});
