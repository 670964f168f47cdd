// cgroupsPath → the container's cgroup directory (src/cgroups/v2.ts), as runc's fs2 driver does:
// the path is cleaned (runc utils.CleanPath) so ".." cannot climb out of the hierarchy, nor out
// of the caller's cgroup for a relative path; a path naming the hierarchy's root or the caller's
// own cgroup is refused (issue 13: "../../.." reached the root, and the default-deny device
// filter was attached there).
import test from 'ava';
import { cgroupDirFor, cleanCgroupPath } from '../../src/cgroups/v2.js';
import { CgroupError } from '../../src/errors.js';

const ROOT = '/sys/fs/cgroup';
const at = (own: string) => () => own;

test('cleanCgroupPath: relative paths are cleaned as if below "/", absolute ones only cleaned', (t) => {
  const cases: [string, string][] = [
    ['', ''],
    ['.', ''],
    ['..', ''],
    ['../../..', ''],
    ['a/..', ''],
    ['a/../..', ''],
    ['../x', 'x'],
    ['../../x/y', 'x/y'],
    ['x/../y', 'y'],
    ['a//b/./c/', 'a/b/c'],
    ['/', '/'],
    ['/..', '/'],
    ['/../../x', '/x'],
    ['/a//b/', '/a/b'],
    ['/a/../../b', '/b'],
  ];
  for (const [input, want] of cases) t.is(cleanCgroupPath(input), want, JSON.stringify(input));
});

test('a relative cgroupsPath with ".." cannot leave the caller\'s cgroup', (t) => {
  t.is(cgroupDirFor(ROOT, '../../x', 'id', at('/a/b')), `${ROOT}/a/b/x`);
  t.is(cgroupDirFor(ROOT, '../../../../../etc', 'id', at('/a/b')), `${ROOT}/a/b/etc`);
  t.is(cgroupDirFor(ROOT, 'x/../../y', 'id', at('/a/b')), `${ROOT}/a/b/y`);
  t.is(cgroupDirFor(ROOT, 'n/m', 'id', at('/')), `${ROOT}/n/m`);
});

test('"../../.." (and any path naming the caller\'s own cgroup) is refused, never the hierarchy root', (t) => {
  for (const p of ['../../..', '..', '.', 'a/..', './']) {
    for (const own of ['/', '/a/b', '/user.slice/session-1.scope']) {
      t.throws(() => cgroupDirFor(ROOT, p, 'id', at(own)), { instanceOf: CgroupError, message: /names no cgroup below the caller's/ }, `${p} from ${own}`);
    }
  }
});

test('an absolute cgroupsPath is cleaned and stays under the mount point; "/" itself is refused', (t) => {
  t.is(cgroupDirFor(ROOT, '/../../x', 'id', at('/a')), `${ROOT}/x`);
  t.is(cgroupDirFor(ROOT, '/a/../../b/c', 'id', at('/a')), `${ROOT}/b/c`);
  t.is(cgroupDirFor(ROOT, '/kubepods/pod1//ctr/', 'id', at('/a')), `${ROOT}/kubepods/pod1/ctr`);
  for (const p of ['/', '/..', '/a/..', '//']) {
    t.throws(() => cgroupDirFor(ROOT, p, 'id', at('/a')), { instanceOf: CgroupError, message: /names the root of the cgroup hierarchy/ }, p);
  }
});

test("no cgroupsPath: the container id under the caller's cgroup, or under its parent when that is a scope", (t) => {
  t.is(cgroupDirFor(ROOT, undefined, 'ctr1', at('/a/b')), `${ROOT}/a/b/ctr1`);
  t.is(cgroupDirFor(ROOT, '', 'ctr1', at('/user.slice/session-3.scope')), `${ROOT}/user.slice/ctr1`);
  t.is(cgroupDirFor('/sys/fs/cgroup/unified', 'x', 'id', at('/')), '/sys/fs/cgroup/unified/x');
  t.throws(() => cgroupDirFor(ROOT, 'a\0b', 'id', at('/')), { instanceOf: CgroupError, message: /invalid cgroupsPath/ });
});
