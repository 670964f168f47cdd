// Issue 13, item 1, on this host's unified tree: a relative cgroupsPath with ".." must not climb
// out of the caller's cgroup ("../../.." reached the hierarchy root, where create attached the
// default-deny device filter and its rollback left it), and a create that fails after attaching
// its device filter to a cgroup it did not make detaches it again. The "caller" is tsrun started
// in a cgroup of this test's own (/sys/fs/cgroup/unified/tsrun-cgtest-caller-*/a/b/caller), so
// even the unfixed code could only reach that test tree, never a cgroup of the host's. The v1
// hierarchies are never touched.
import test, { type ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { attachedDevicePrograms } from '../../src/cgroups/devices.js';
import { unifiedMount } from '../../src/cgroups/v2.js';
import { isRoot, makeBundle, type Bundle } from '../helpers/bundle.js';

const unified = unifiedMount();
const reason = !isRoot ? 'needs root' : !unified ? 'no cgroup2 hierarchy is mounted' : '';
const hostTest = reason ? test.skip : test;
const skipped = reason ? ` (skipped: ${reason})` : '';

/** Every cgroup directory at and below dir. */
function cgroupTree(dir: string): string[] {
  const out = [dir];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) out.push(...cgroupTree(path.join(dir, e.name)));
  return out;
}

/** Removes a cgroup tree deepest first (only directories can be removed in cgroupfs). */
function rmCgroupTree(dir: string): void {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmCgroupTree(path.join(dir, e.name));
  fs.rmdirSync(dir);
}

/** A test tree top/a/b/caller of our own under the unified root, removed after the test. */
function callerTree(t: ExecutionContext, name: string): { top: string; caller: string } {
  const top = path.join(unified!, `tsrun-cgtest-${name}-${process.pid}-${Date.now().toString(36)}`);
  const caller = path.join(top, 'a', 'b', 'caller');
  fs.mkdirSync(caller, { recursive: true });
  t.teardown(() => rmCgroupTree(top));
  return { top, caller };
}

/** tsrun run from inside the `caller` cgroup (its own cgroup is the "caller's cgroup"). */
function inCgroup(caller: string): string[] {
  return ['sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', caller];
}

/** Device programs attached to each existing cgroup of `dirs`. */
function programs(dirs: readonly string[]): Map<string, number[]> {
  return new Map(dirs.filter((d) => fs.existsSync(d)).map((d) => [d, attachedDevicePrograms(d)]));
}

function stateCgroupDir(b: Bundle): string {
  return (JSON.parse(fs.readFileSync(path.join(b.root, b.id, 'state.json'), 'utf8')) as { cgroup: { dir: string } }).cgroup.dir;
}

hostTest(`cgroupsPath "../../..": create fails naming the path, makes no cgroup and attaches no device program anywhere${skipped}`, async (t) => {
  const { top, caller } = callerTree(t, 'climb');
  const watched = [unified!, ...cgroupTree(top)];
  const before = programs(watched);
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'sleep', '300'];
    s.linux!.cgroupsPath = '../../..';
  });
  const r = await b.tsrun(['create', '--bundle', b.dir, b.id], { prefix: inCgroup(caller) });
  if (r.code === 0) await b.tsrun(['delete', '--force', b.id]);
  t.not(r.code, 0, `create must fail; the container's cgroup would have been ${r.code === 0 ? 'made above the caller' : '-'}`);
  t.regex(r.stderr, /cgroupsPath \\?"\.\.\/\.\.\/\.\.\\?" names no cgroup below the caller's/);
  t.false(fs.existsSync(path.join(b.root, b.id)), 'no state left');
  t.deepEqual(cgroupTree(top).sort(), watched.slice(1).sort(), 'no cgroup made in the test tree');
  t.deepEqual(programs(watched), before, 'no device program added to the root or to any cgroup of the test tree');
});

// With domain controllers enabled down the tree (full cgroup v2, as in the VM), a cgroup that holds
// processes cannot also have children that take processes (cgroup-v2.rst "No Internal Process
// Constraint"): runc fails the same way for a relative path under a populated non-.scope caller.
// So the placement below a populated caller is checked where no domain controller is enabled.
const domainControllers = unified
  ? fs
      .readFileSync(path.join(unified, 'cgroup.subtree_control'), 'utf8')
      .trim()
      .split(/\s+/)
      .filter((c) => ['cpu', 'cpuset', 'io', 'memory', 'pids'].includes(c))
      .join(' ')
  : '';
const placeTest = reason || domainControllers ? test.skip : test;
const placeSkipped = reason
  ? skipped
  : domainControllers
    ? ` (skipped: controllers "${domainControllers}" are enabled at the root, and a populated caller cgroup cannot have children that take processes)`
    : '';

placeTest(`cgroupsPath "../../../x" stays below the caller's cgroup: <caller>/x, removed on delete${placeSkipped}`, async (t) => {
  const { top, caller } = callerTree(t, 'inside');
  const before = programs([unified!, ...cgroupTree(top)]);
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'sleep', '300'];
    s.linux!.cgroupsPath = '../../../x';
  });
  const r = await b.tsrun(['create', '--bundle', b.dir, b.id], { prefix: inCgroup(caller) });
  t.is(r.code, 0, r.stderr);
  const dir = stateCgroupDir(b);
  t.is(dir, path.join(caller, 'x'));
  t.is(attachedDevicePrograms(dir).length, 1, "the filter is on the container's own cgroup");
  t.deepEqual(programs([...before.keys()]), before, 'and on no other');
  t.is((await b.tsrun(['delete', '--force', b.id])).code, 0);
  t.false(fs.existsSync(dir), 'removed on delete');
});

hostTest(`a create that fails after its device filter went onto a cgroup it did not make detaches the filter again${skipped}`, async (t) => {
  // An absolute cgroupsPath naming an existing cgroup (shared, as engines sometimes do): the
  // cgroup outlives the failed create, so the filter must be detached, not left to rmdir.
  const { top } = callerTree(t, 'rollback');
  const shared = path.join(top, 'a');
  const before = programs(cgroupTree(top));
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'sleep', '300'];
    s.linux!.cgroupsPath = shared.slice(unified!.length);
    // Fails after the cgroup and its limits (the device filter) were set: a createRuntime hook.
    s.hooks = { createRuntime: [{ path: '/bin/false' }] };
  });
  const r = await b.tsrun(['create', '--bundle', b.dir, b.id]);
  t.not(r.code, 0, 'the hook fails the create');
  t.false(fs.existsSync(path.join(b.root, b.id)), 'no state left');
  t.true(fs.existsSync(shared), 'the shared cgroup stays');
  t.deepEqual(attachedDevicePrograms(shared), [], 'no device program left on it');
  t.deepEqual(programs(cgroupTree(top)), before);
});
