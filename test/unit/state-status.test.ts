// A container's status comes from its init process and the state dir, not from the file alone
// (runtime-spec runtime.md "State"): fake records pointing at real processes of this test.
import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { toState } from '../../src/container/state.js';
import { ExistsError, InvalidArgumentError, NotFoundError } from '../../src/errors.js';
import { managerFromRecord } from '../../src/cgroups/select.js';
import { containerStatus as statusWith, isAlive, readProcStat } from '../../src/state/status.js';
import { FIFO_FILE, StateStore, validateId, writeAtomic, type ContainerRecord } from '../../src/state/store.js';

/** The status as the container handle computes it: paused is asked of the record's cgroup Manager. */
function containerStatus(rec: ContainerRecord, dir: string, createUnderWay?: () => boolean) {
  return statusWith(rec, dir, { cgroup: managerFromRecord(rec.cgroup, rec.id), createUnderWay });
}

function tmpDir(t: import('ava').ExecutionContext): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-status-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

function record(over: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    ociVersion: '1.3.0',
    id: 'c1',
    pid: process.pid,
    pidStartTime: readProcStat(process.pid)!.startTime,
    bundle: '/b',
    rootfs: '/b/rootfs',
    created: '2026-01-02T03:04:05.000Z',
    owner: 'root',
    config: { ociVersion: '1.3.0' },
    ...over,
  };
}

/** A pid that existed and is gone (reaped) by now. */
function deadPid(): number {
  const r = spawnSync('true');
  return r.pid!;
}

test('readProcStat reads the state letter and start time, even with ") (" in the command name', async (t) => {
  const dir = tmpDir(t);
  const odd = path.join(dir, 'a b) (c');
  fs.copyFileSync('/bin/sleep', odd);
  fs.chmodSync(odd, 0o755);
  const child = spawn(odd, ['5'], { stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  await new Promise((r) => child.once('spawn', r));
  let st = readProcStat(child.pid!);
  for (let i = 0; i < 100 && st?.state === 'R'; i++) st = readProcStat(child.pid!);
  t.truthy(st);
  t.regex(st!.state, /^[RSD]$/, `state letter ${st?.state}`);
  t.regex(st!.startTime, /^\d+$/);
  const text = fs.readFileSync(`/proc/${child.pid}/stat`, 'latin1');
  t.true(text.includes('(a b) (c)'), 'the command name really has the tricky characters');
  t.is(readProcStat(deadPid()), undefined);
});

test('created: a live init and exec.fifo present; running: the fifo is gone', (t) => {
  const dir = tmpDir(t);
  fs.writeFileSync(path.join(dir, FIFO_FILE), '');
  t.is(containerStatus(record(), dir), 'created');
  fs.rmSync(path.join(dir, FIFO_FILE));
  t.is(containerStatus(record(), dir), 'running');
});

test('stopped: no pid, a dead pid, or a pid reused by another process', (t) => {
  const dir = tmpDir(t);
  fs.writeFileSync(path.join(dir, FIFO_FILE), '');
  t.is(containerStatus(record({ pid: 0 }), dir), 'stopped', 'never started (pid 0)');
  t.is(containerStatus(record({ pid: deadPid() }), dir), 'stopped', 'the init died, fifo or not');
  t.is(containerStatus(record({ pidStartTime: '1' }), dir), 'stopped', 'same pid, different start time: reused');
  t.is(containerStatus(record({ pidStartTime: undefined }), dir), 'created', 'no start time recorded: trust the pid');
});

test('stopped: a zombie init counts as dead', async (t) => {
  // sh forks a short sleep, prints its pid and execs a long one, which never reaps it: a zombie.
  const child = spawn('sh', ['-c', 'sleep 0.2 & echo $!; exec sleep 5'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.teardown(() => child.kill('SIGKILL'));
  const zombie = Number(await new Promise<string>((r) => child.stdout.once('data', (d: Buffer) => r(d.toString()))));
  for (let i = 0; i < 200 && readProcStat(zombie)?.state !== 'Z'; i++) await new Promise((r) => setTimeout(r, 10));
  t.is(readProcStat(zombie)?.state, 'Z', 'the helper made a zombie');
  t.false(isAlive({ pid: zombie, pidStartTime: undefined }));
  t.is(containerStatus(record({ pid: zombie, pidStartTime: undefined }), tmpDir(t)), 'stopped');
});

test('paused: cgroup.freeze says 1 (checked before created/running)', (t) => {
  const dir = tmpDir(t);
  const cg = path.join(dir, 'cg');
  fs.mkdirSync(cg);
  fs.writeFileSync(path.join(cg, 'cgroup.freeze'), '1\n');
  const rec = record({ cgroup: { dir: cg, created: [] } });
  t.is(containerStatus(rec, dir), 'paused');
  fs.writeFileSync(path.join(cg, 'cgroup.freeze'), '0\n');
  t.is(containerStatus(rec, dir), 'running');
  t.is(containerStatus(record({ pid: 0, cgroup: { dir: cg, created: [] } }), dir), 'stopped', 'a dead init is stopped even in a cgroup');
});

test('creating: a record still marked creating whose create holds the lock; stopped once that create is gone', (t) => {
  const dir = tmpDir(t);
  const half = record({ pid: 0, creating: true });
  t.is(
    containerStatus(half, dir, () => true),
    'creating',
  );
  t.is(
    containerStatus(half, dir, () => false),
    'stopped',
    'a create killed half-way: delete cleans it up',
  );
  t.is(containerStatus(half, dir), 'stopped', 'a locked handle never sees a create under way');
});

test('the store: a create holding the lock is seen by isLocked; lockAsync waits for it on the event loop', async (t) => {
  const store = new StateStore(path.join(tmpDir(t), 'root'));
  store.claim('c1');
  t.false(store.isLocked('c1'));
  const release = store.lock('c1');
  t.true(store.isLocked('c1'));
  let got = false;
  const waiting = store.lockAsync('c1').then((r) => {
    got = true;
    return r;
  });
  await new Promise((r) => setImmediate(r));
  t.false(got, 'the second lock waits');
  release();
  const release2 = await waiting;
  t.true(store.isLocked('c1'));
  release2();
  t.false(store.isLocked('c1'));
});

test('toState: runc key order, pid 0 when stopped, annotations only when set', (t) => {
  const s = toState(record(), 'running');
  t.deepEqual(Object.keys(s), ['ociVersion', 'id', 'pid', 'status', 'bundle', 'rootfs', 'created', 'owner']);
  t.is(s.pid, process.pid);
  t.is(toState(record(), 'stopped').pid, 0);
  t.false('annotations' in toState(record({ annotations: {} }), 'running'));
  const a = toState(record({ annotations: { k: 'v' } }), 'created');
  t.deepEqual(Object.keys(a), ['ociVersion', 'id', 'pid', 'status', 'bundle', 'rootfs', 'created', 'annotations', 'owner']);
});

test('the store: claim twice says "container with id exists", load of a missing id says "container does not exist"', (t) => {
  const store = new StateStore(path.join(tmpDir(t), 'root'));
  t.throws(() => store.load('nope'), { instanceOf: NotFoundError, message: 'container does not exist' });
  store.claim('c1');
  t.throws(() => store.claim('c1'), { instanceOf: ExistsError, message: 'container with id exists: c1' });
  // A claimed dir without state.json (a create killed before its first write) reads as stopped.
  const half = store.load('c1');
  t.is(half.pid, 0);
  t.is(containerStatus(half, store.dir('c1')), 'stopped');
  store.save(record());
  t.deepEqual(store.load('c1'), record());
  t.deepEqual(store.list(), ['c1']);
  store.remove('c1');
  t.deepEqual(store.list(), []);
});

test('ids: runc rules; no path tricks', (t) => {
  for (const ok of ['abc', 'a.b-c_d+e', 'x'.repeat(200)]) t.is(validateId(ok), ok);
  for (const bad of ['', '.', '..', '../x', 'a/b', 'a b', 'é']) t.throws(() => validateId(bad), { instanceOf: InvalidArgumentError }, JSON.stringify(bad));
});

test('writeAtomic replaces the file whole and leaves no temp file', (t) => {
  const dir = tmpDir(t);
  const f = path.join(dir, 'state.json');
  writeAtomic(f, 'one');
  writeAtomic(f, 'two');
  t.is(fs.readFileSync(f, 'utf8'), 'two');
  t.deepEqual(fs.readdirSync(dir), ['state.json']);
});
