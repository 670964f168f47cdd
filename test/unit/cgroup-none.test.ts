// The none driver (src/cgroups/none.ts): where no cgroup v2 hierarchy is mounted the container
// still gets a Manager (crun's "disabled"). It places nothing, and what needs a cgroup fails
// naming the controller or the container instead of running unlimited.
import test from 'ava';
import type { Manager } from '../../src/cgroups/manager.js';
import { NoCgroupManager } from '../../src/cgroups/none.js';
import { managerFromRecord, newManager } from '../../src/cgroups/select.js';
import { CgroupError } from '../../src/errors.js';

test('create places nothing: no directory, fd -1 (no CLONE_INTO_CGROUP); placed and apply do nothing', async (t) => {
  const m: Manager = new NoCgroupManager('c1');
  t.is(m.driver, 'none');
  t.is(m.dir, '');
  t.deepEqual(await m.create(), { dir: '', created: [], fd: -1 });
  await t.notThrowsAsync(m.placed(1234, false));
  t.notThrows(() => m.apply(1234));
  await t.notThrowsAsync(m.destroy());
});

test('set without limits is fine; a limit fails naming the field and the controller', async (t) => {
  const m = new NoCgroupManager('c1');
  await t.notThrowsAsync(m.set(undefined));
  await t.notThrowsAsync(m.set({}));
  const err = await t.throwsAsync(m.set({ memory: { limit: 1 << 20 }, pids: { limit: 5 } }), { instanceOf: CgroupError });
  t.regex(err!.message, /^container c1: /);
  t.regex(err!.message, /linux\.resources\.memory: no cgroup v2 hierarchy is mounted \(controller "memory"\)/);
  t.regex(err!.message, /linux\.resources\.pids: no cgroup v2 hierarchy is mounted \(controller "pids"\)/);
  t.deepEqual(m.check({ cpu: { shares: 512 } }), ['linux.resources.cpu: no cgroup v2 hierarchy is mounted (controller "cpu")']);
  t.deepEqual(m.check(undefined), []);
});

test('freeze, thaw, pids and stats fail naming the container; the state is thawed and kill --all has no cgroup', async (t) => {
  const m = new NoCgroupManager('web-1');
  for (const [what, p] of [
    ['freeze', m.freeze()],
    ['thaw', m.thaw()],
  ] as const) {
    const err = await t.throwsAsync(p, { instanceOf: CgroupError }, what);
    t.regex(err!.message, new RegExp(`cannot ${what} container web-1: it has no cgroup`));
  }
  t.throws(() => m.stats(), { instanceOf: CgroupError, message: /cannot read the statistics of container web-1: it has no cgroup/ });
  t.throws(() => m.pids(), { instanceOf: CgroupError, message: /container web-1: it has no cgroup/ });
  t.is(m.freezerState(), 'thawed');
  t.false(m.killAll());
});

test('record is undefined, and a missing record rebuilds the none driver; no hierarchy gives it too', (t) => {
  const m = new NoCgroupManager('c1');
  t.is(m.record(), undefined);
  const back = managerFromRecord(m.record(), 'c1');
  t.true(back instanceof NoCgroupManager);
  t.is(back.driver, 'none');
  t.is(newManager({ id: 'c1', root: '' }).driver, 'none');
});
