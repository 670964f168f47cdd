// Docker's network filters (src/net/filters.ts).
import test from 'ava';
import { matchesFilters, parseFilters, untilTime, type FilterableNetwork } from '../../src/net/filters.js';

const now = Date.parse('2026-01-02T12:00:00Z');
const nets: FilterableNetwork[] = [
  { name: 'bridge', id: 'aaa111', driver: 'bridge', created: '2026-01-01T00:00:00Z', labels: {}, containers: [1], builtin: true },
  { name: 'web-net', id: 'bbb222', driver: 'bridge', created: '2026-01-02T11:00:00Z', labels: { team: 'a', env: 'prod' }, containers: [], builtin: false },
  { name: 'db-net', id: 'ccc333', driver: 'bridge', created: '2026-01-02T11:59:00Z', labels: { team: 'b' }, containers: [1], builtin: false },
];
const names = (flags: string[]) => nets.filter((n) => matchesFilters(n, parseFilters(flags), now)).map((n) => n.name);

test('name matches a part, id a prefix; values of one key are alternatives, keys combine', (t) => {
  t.deepEqual(names(['name=net']), ['web-net', 'db-net']);
  t.deepEqual(names(['name=web', 'name=db']), ['web-net', 'db-net']);
  t.deepEqual(names(['id=bbb']), ['web-net']);
  t.deepEqual(names(['name=net', 'id=ccc']), ['db-net']);
  t.deepEqual(names(['driver=bridge']), ['bridge', 'web-net', 'db-net']);
  t.deepEqual(names(['driver=macvlan']), []);
  t.deepEqual(names([]), ['bridge', 'web-net', 'db-net']);
});

test('label by key or key=value, every label filter must match; type and dangling', (t) => {
  t.deepEqual(names(['label=team']), ['web-net', 'db-net']);
  t.deepEqual(names(['label=team=a']), ['web-net']);
  t.deepEqual(names(['label=team', 'label=env=prod']), ['web-net']);
  t.deepEqual(names(['type=builtin']), ['bridge']);
  t.deepEqual(names(['type=custom']), ['web-net', 'db-net']);
  t.deepEqual(names(['dangling=true']), ['web-net']);
  t.deepEqual(names(['dangling=false']), ['bridge', 'db-net']);
});

test('until: a duration ago, Unix seconds or a time', (t) => {
  t.deepEqual(names(['until=30m']), ['bridge', 'web-net']);
  t.deepEqual(names(['until=1h30m']), ['bridge']);
  t.deepEqual(names(['until=2026-01-02T11:30:00Z']), ['bridge', 'web-net']);
  t.is(untilTime(String(now / 1000)), now);
  t.throws(() => untilTime('soon'), { message: /invalid filter 'until=soon'/ });
});

test('bad filters are refused, naming them', (t) => {
  t.throws(() => parseFilters(['name']), { message: 'bad format of filter (expected name=value): name' });
  t.throws(() => parseFilters(['colour=red']), { message: "invalid filter 'colour'" });
  t.throws(() => parseFilters(['type=other']), { message: "invalid filter: 'type'='other'" });
  t.throws(() => parseFilters(['dangling=maybe']), { message: "invalid filter 'dangling=maybe'" });
  t.throws(() => parseFilters(['name=x'], ['until', 'label']), { message: "invalid filter 'name'" });
});
