// Library option mapping (no root): container options → runtime-spec config, stdio validation,
// the events iterator, and the exported surface (error classes with codes, channel names).
import test from 'ava';
import diagnosticsChannel from 'node:diagnostics_channel';
import { EventHub } from '../../src/api/events.js';
import { limitsToResources, mergeEnv, specFromOptions } from '../../src/api/spec-options.js';
import { normalizeStdio } from '../../src/api/stdio.js';
import * as api from '../../src/index.js';

test('specFromOptions: process, root, mounts, network, limits, rlimits, configure', (t) => {
  const spec = specFromOptions({
    rootfs: '/srv/rootfs',
    args: ['sh', '-c', 'echo hi'],
    env: { PATH: '/bin', LANG: 'C' },
    cwd: '/tmp',
    user: { uid: 65534, gid: 65534 },
    hostname: 'box',
    tmpfs: { '/tmp': 'size=16m' },
    network: 'host',
    limits: { memory: 64 * 2 ** 20, cpus: 0.5, pids: 32 },
    rlimits: { RLIMIT_CPU: 3, RLIMIT_NOFILE: { soft: 32, hard: 64 } },
    capabilities: ['net_bind_service'],
    annotations: { a: 'b' },
    configure: (s) => {
      s.domainname = 'example';
    },
  });
  const p = spec.process!;
  t.deepEqual(p.args, ['sh', '-c', 'echo hi']);
  t.deepEqual(p.env, ['PATH=/bin', 'TERM=xterm', 'LANG=C']);
  t.is(p.cwd, '/tmp');
  t.deepEqual(p.user, { uid: 65534, gid: 65534 });
  t.false(p.terminal);
  t.deepEqual(p.rlimits, [
    { type: 'RLIMIT_NOFILE', soft: 32, hard: 64 },
    { type: 'RLIMIT_CPU', soft: 3, hard: 3 },
  ]);
  t.deepEqual(p.capabilities, { bounding: ['CAP_NET_BIND_SERVICE'], effective: ['CAP_NET_BIND_SERVICE'], permitted: ['CAP_NET_BIND_SERVICE'] });
  t.deepEqual(spec.root, { path: '/srv/rootfs', readonly: true });
  t.is(spec.hostname, 'box');
  t.is(spec.domainname, 'example');
  t.deepEqual(spec.mounts!.at(-1), { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=16m'] });
  t.false(spec.linux!.namespaces!.some((n) => n.type === 'network'));
  t.deepEqual(spec.linux!.resources!.memory, { limit: 64 * 2 ** 20 });
  t.deepEqual(spec.linux!.resources!.cpu, { period: 100_000, quota: 50_000 });
  t.deepEqual(spec.linux!.resources!.pids, { limit: 32 });
  t.deepEqual(spec.annotations, { a: 'b' });
});

test("specFromOptions: defaults keep runc's example (new netns, read-only root)", (t) => {
  const spec = specFromOptions({ rootfs: '/r', args: ['true'] });
  t.true(spec.linux!.namespaces!.some((n) => n.type === 'network'));
  t.true(spec.root!.readonly);
  t.deepEqual(spec.process!.user, { uid: 0, gid: 0 });
  t.is(spec.process!.cwd, '/');
  t.deepEqual(specFromOptions({ rootfs: '/r', args: ['true'], readonlyRootfs: false }).root, { path: '/r', readonly: false });
});

test('specFromOptions: each bad option named, with a stable code', (t) => {
  const bad: [object, RegExp][] = [
    [{ rootfs: 'rel', args: ['x'] }, /rootfs: "rel" must be an absolute path/],
    [{ rootfs: '/r', args: [] }, /args: must be a non-empty array/],
    [{ rootfs: '/r', args: ['x'], cwd: 'tmp' }, /cwd: "tmp" must be an absolute path/],
    [{ rootfs: '/r', args: ['x'], env: ['NOEQUALS'] }, /env: "NOEQUALS" is not NAME=value/],
    [{ rootfs: '/r', args: ['x'], user: { uid: -1, gid: 0 } }, /user.uid/],
    [{ rootfs: '/r', args: ['x'], rlimits: { RLIMIT_BOGUS: 1 } }, /unknown limit "RLIMIT_BOGUS"/],
    [{ rootfs: '/r', args: ['x'], rlimits: { RLIMIT_CPU: { soft: 5, hard: 1 } } }, /RLIMIT_CPU: soft and hard/],
    [{ rootfs: '/r', args: ['x'], limits: { memory: -5 } }, /limits.memory/],
    [{ rootfs: '/r', args: ['x'], limits: { pids: 1.5 } }, /limits.pids/],
    [{ rootfs: '/r', args: ['x'], network: 'bridge' }, /network: "bridge"/],
    [{ rootfs: '/r', args: ['x'], tmpfs: ['tmp'] }, /tmpfs: "tmp"/],
  ];
  for (const [o, re] of bad) {
    const err = t.throws(() => specFromOptions(o as Parameters<typeof specFromOptions>[0]), { message: re });
    t.is((err as api.TsrunError).code, 'TSRUN_INVALID_ARGUMENT');
  }
});

test('mergeEnv and limitsToResources', (t) => {
  t.deepEqual(mergeEnv(['A=1', 'B=2'], ['B=3', 'C=4']), ['A=1', 'B=3', 'C=4']);
  t.deepEqual(limitsToResources(undefined), {});
  t.deepEqual(limitsToResources({ cpus: 2 }), { cpu: { period: 100_000, quota: 200_000 } });
});

test('normalizeStdio', (t) => {
  t.deepEqual(normalizeStdio(undefined), ['pipe', 'pipe', 'pipe']);
  t.deepEqual(normalizeStdio('ignore'), ['ignore', 'ignore', 'ignore']);
  t.deepEqual(normalizeStdio(['pipe', 'inherit', 7]), ['pipe', 'inherit', 7]);
  t.deepEqual(normalizeStdio([0, 1, 2]), [0, 1, 2]);
  t.throws(() => normalizeStdio(['pipe', 'pipe'] as never), { message: /expected 3 entries/ });
  t.throws(() => normalizeStdio(['pipe', 0, 'pipe']), { message: /stdio\[1\]: 0/ });
  t.throws(() => normalizeStdio(['file' as never, 'pipe', 'pipe']), { message: /stdio\[0\]/ });
});

test('events: filtered by id, buffered between iterations, end on abort', async (t) => {
  const hub = new EventHub();
  const ac = new AbortController();
  const it = hub.iterate({ id: 'a', signal: ac.signal });
  const first = it.next();
  hub.emit({ type: 'create', id: 'b' });
  hub.emit({ type: 'create', id: 'a', pid: 1 });
  hub.emit({ type: 'start', id: 'a' });
  t.like((await first).value, { type: 'create', id: 'a', pid: 1 });
  t.like((await it.next()).value, { type: 'start', id: 'a' });
  const pending = it.next();
  ac.abort();
  t.deepEqual(await pending, { value: undefined, done: true });
  const already = hub.iterate({ signal: AbortSignal.abort() });
  t.deepEqual(await already.next(), { value: undefined, done: true });
});

test('exported surface: Runtime, error classes with codes, channel names', (t) => {
  t.is(typeof api.Runtime, 'function');
  t.throws(() => new api.Runtime({ spawn: 'fork' as never }), { message: /spawn: "fork"/ });
  const rt = new api.Runtime({ root: '/tmp/x', imageRoot: '/tmp/y' });
  t.is(rt.root, '/tmp/x');
  t.is(rt.imageRoot, '/tmp/y');
  t.true(rt.spawn === 'helper' || rt.spawn === 'direct');
  t.is(new api.Runtime().root, api.DEFAULT_ROOT);
  for (const [Cls, code] of [
    [api.NotFoundError, 'TSRUN_NOT_FOUND'],
    [api.InvalidStateError, 'TSRUN_INVALID_STATE'],
    [api.InvalidArgumentError, 'TSRUN_INVALID_ARGUMENT'],
    [api.CgroupError, 'TSRUN_CGROUP'],
  ] as const) {
    const e = new Cls('x');
    t.true(e instanceof api.TsrunError);
    t.is(e.code, code);
  }
  t.deepEqual(
    Object.values(api.CHANNELS).filter((n) => !n.startsWith('tsrun:')),
    [],
  );
  t.true(Object.values(api.CHANNELS).every((n) => diagnosticsChannel.channel(n).name === n));
});

test('collect keeps maxBuffer bytes and says it truncated; abortable rejects with the reason', async (t) => {
  const { Readable } = await import('node:stream');
  const { abortable, collect, toSignalNumber } = await import('../../src/api/process-handle.js');
  const r = await collect(Readable.from([Buffer.from('abc'), Buffer.from('defg'), Buffer.from('h')]), 5);
  t.deepEqual([r.data.toString(), r.truncated], ['abcde', true]);
  const whole = await collect(Readable.from([Buffer.from('ab')]), 5);
  t.deepEqual([whole.data.toString(), whole.truncated], ['ab', false]);
  t.deepEqual(await collect(null, 5), { data: Buffer.alloc(0), truncated: false });
  const ac = new AbortController();
  const never = new Promise<number>(() => {});
  const p = abortable(never, ac.signal);
  ac.abort(new Error('stop'));
  await t.throwsAsync(p, { message: 'stop' });
  t.is(await abortable(Promise.resolve(7), new AbortController().signal), 7);
  t.is(toSignalNumber('SIGKILL'), 9);
  t.is(toSignalNumber('term'), 15);
  t.is(toSignalNumber(10), 10);
  t.throws(() => toSignalNumber('SIGNOPE'), { message: /unknown signal/ });
});
