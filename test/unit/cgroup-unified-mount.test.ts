// Where the cgroup2 hierarchy is (src/cgroups/v2.ts findUnifiedMount), decided as runc does: by
// statfs of /sys/fs/cgroup, then /sys/fs/cgroup/unified, never by the first cgroup2 line of
// mountinfo (issue 13: a cgroup2 mounted over /sys/fs/cgroup hid an older one that mountinfo still
// listed first, and tsrun placed containers below the hidden mount's path).
import test from 'ava';
import { CGROUP2_SUPER_MAGIC, findUnifiedMount } from '../../src/cgroups/v2.js';

const TMPFS_MAGIC = 0x01021994;
const fsTypes =
  (types: Record<string, number>) =>
  (p: string): number | undefined =>
    types[p];

test('cgroup2 at /sys/fs/cgroup (unified mode) is the hierarchy, whatever else is mounted below', (t) => {
  t.is(findUnifiedMount(fsTypes({ '/sys/fs/cgroup': CGROUP2_SUPER_MAGIC, '/sys/fs/cgroup/unified': CGROUP2_SUPER_MAGIC })), '/sys/fs/cgroup');
  t.is(findUnifiedMount(fsTypes({ '/sys/fs/cgroup': CGROUP2_SUPER_MAGIC })), '/sys/fs/cgroup');
});

test('a hybrid host (tmpfs at /sys/fs/cgroup) uses /sys/fs/cgroup/unified when that is cgroup2', (t) => {
  t.is(findUnifiedMount(fsTypes({ '/sys/fs/cgroup': TMPFS_MAGIC, '/sys/fs/cgroup/unified': CGROUP2_SUPER_MAGIC })), '/sys/fs/cgroup/unified');
});

test('no cgroup2 at either path: none (a legacy v1 host, or /sys/fs/cgroup/unified not cgroup2)', (t) => {
  t.is(findUnifiedMount(fsTypes({ '/sys/fs/cgroup': TMPFS_MAGIC })), null);
  t.is(findUnifiedMount(fsTypes({ '/sys/fs/cgroup': TMPFS_MAGIC, '/sys/fs/cgroup/unified': TMPFS_MAGIC })), null);
  t.is(findUnifiedMount(fsTypes({})), null);
});

test("the paths asked are exactly runc's two, in its order", (t) => {
  const asked: string[] = [];
  findUnifiedMount((p) => {
    asked.push(p);
    return undefined;
  });
  t.deepEqual(asked, ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']);
});
