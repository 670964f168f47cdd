// The runc lifecycle through the built CLI, as engines drive it (runtime-spec runtime.md
// "Lifecycle" and "Operations"; runc's error words, reference/runtime-contract.md §1.3):
// create → created → start → running → kill → stopped → delete, every invalid transition, list,
// run's exit status, run -d, and the JSON log engines read.
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { isRoot, makeBundle, procStat, TIME_SCALE, uniqueId, waitFor, type Bundle, type TsrunResult } from '../helpers/bundle.js';
import { parseProbeLines, type ProbeSignalEvent, type ProbeSignalsReady } from '../helpers/rootfs.js';
import { cgroupDirFor, unifiedMount } from '../../src/cgroups/v2.js';

const rootTest = isRoot ? test : test.skip;
if (!isRoot) console.log('lifecycle: skipped, needs root (namespaces, mounts, cgroups)');

// Where the product puts a container with no cgroupsPath: under the caller's own cgroup in the
// cgroup2 mount (runc fs2 defaultDirPath). The tsrun CLI is a child of this worker, so it shares
// its cgroup: /sys/fs/cgroup/unified/<id> on a hybrid host, /sys/fs/cgroup/<own>/<id> on a pure
// v2 one (the VM), whatever cgroup the test runner was started in.
function cgroupOf(id: string): string {
  const root = unifiedMount();
  if (!root) throw new Error('no cgroup2 hierarchy is mounted');
  return cgroupDirFor(root, undefined, id);
}

function failed(t: import('ava').ExecutionContext, r: TsrunResult, words: string, what: string): void {
  t.not(r.code, 0, `${what}: expected a non-zero exit (stdout ${r.stdout})`);
  t.true(r.stderr.includes(words), `${what}: stderr ${JSON.stringify(r.stderr)} lacks ${JSON.stringify(words)}`);
}

function ok(t: import('ava').ExecutionContext, r: TsrunResult, what: string): void {
  t.is(r.code, 0, `${what} failed: ${r.stderr}`);
}

/** The lines a `probe signals` init printed so far. */
function signalLines(b: Bundle, r: TsrunResult): (ProbeSignalsReady | ProbeSignalEvent)[] {
  return parseProbeLines<ProbeSignalsReady | ProbeSignalEvent>(b.output(r));
}

async function waitReady(b: Bundle, r: TsrunResult): Promise<void> {
  await waitFor(
    () => signalLines(b, r).some((l) => 'ready' in l),
    10_000,
    () => `the probe's ready line (output: ${b.output(r)})`,
  );
}

/** Waits for a foreground `run` to reach running; fails with its output if it ends first. */
async function waitRunStarted(b: Bundle, running: Promise<TsrunResult>): Promise<number> {
  let ended: TsrunResult | undefined;
  void running.then((r) => (ended = r));
  let pid = 0;
  await waitFor(
    async () => {
      if (ended) throw new Error(`run ended before running (exit ${ended.code}): ${ended.stderr} ${ended.stdout}`);
      const st = await b.state().catch(() => undefined);
      if (st?.status !== 'running') return false;
      pid = st.pid as number;
      try {
        return fs.readFileSync(`/proc/${pid}/fd/1`, 'utf8').includes('"ready"');
      } catch {
        return false;
      }
    },
    30_000,
    () => `${b.id} to run the probe`,
  );
  return pid;
}

/** True when pid descends from this test process. */
function isOurDescendant(pid: number): boolean {
  for (let p = pid, hops = 0; p > 1 && hops < 64; hops++) {
    if (p === process.pid) return true;
    const st = procStat(p);
    if (!st) return false;
    p = st.ppid;
  }
  return false;
}

rootTest('create → created → start → running → kill → stopped → delete, with runc errors for invalid transitions', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'signals'];
  });
  const pidFile = path.join(b.dir, 'init.pid');
  const create = await b.tsrun(['create', '--bundle', b.dir, '--pid-file', pidFile, b.id]);
  ok(t, create, 'create');

  const created = await b.state();
  t.is(created.status, 'created');
  t.is(created.id, b.id);
  t.is(created.bundle, b.dir);
  const pid = created.pid as number;
  t.true(Number.isInteger(pid) && pid > 0, `pid ${pid}`);
  t.is(fs.readFileSync(pidFile, 'utf8').trim(), String(pid), 'the pid file holds the host pid');
  const st = procStat(pid);
  t.truthy(st, 'the init exists on the host');
  t.false(isOurDescendant(pid), `init ${pid} (ppid ${st?.ppid}) must not stay a child of tsrun or of the test`);
  t.not(fs.readlinkSync(`/proc/${pid}/ns/pid`), fs.readlinkSync('/proc/self/ns/pid'), 'the init is in a new pid namespace');
  t.is(b.output(create), '', 'the process must not run before start');

  failed(t, await b.tsrun(['create', '--bundle', b.dir, b.id]), `container with id exists: ${b.id}`, 'create with an existing id');
  t.is((await b.state()).status, 'created', 'a refused create leaves the first container alone');

  ok(t, await b.tsrun(['start', b.id]), 'start');
  await waitReady(b, create);
  const running = await b.state();
  t.is(running.status, 'running');
  t.is(running.pid, pid);
  failed(t, await b.tsrun(['start', b.id]), 'cannot start an already running container', 'start twice');
  failed(t, await b.tsrun(['delete', b.id]), `cannot delete container ${b.id} that is not stopped: running`, 'delete running without --force');
  t.is((await b.state()).status, 'running', 'a refused delete leaves the container running');

  ok(t, await b.tsrun(['kill', b.id]), 'kill (default SIGTERM)');
  const stopped = await b.waitStatus(b.id, 'stopped');
  t.is(stopped.pid, 0, 'a stopped container reports pid 0');
  const events = signalLines(b, create).filter((l): l is ProbeSignalEvent => 'signal' in l);
  t.deepEqual(
    events.map((e) => e.signal),
    ['SIGTERM'],
    'the init got exactly one SIGTERM',
  );
  t.is(events[0]?.senderPid, 0, 'the sender is outside the container pid namespace');

  failed(t, await b.tsrun(['kill', b.id, 'KILL']), 'container not running', 'kill a stopped container');
  failed(t, await b.tsrun(['start', b.id]), 'cannot start a container that has stopped', 'start a stopped container');
  ok(t, await b.tsrun(['delete', b.id]), 'delete a stopped container');
  t.false(fs.existsSync(path.join(b.root, b.id)), 'the state dir is gone');
  t.false(fs.existsSync(cgroupOf(b.id)), 'the cgroup is gone');
  failed(t, await b.tsrun(['state', b.id]), 'container does not exist', 'state after delete');
});

rootTest('state, kill, start and delete of a missing container say "container does not exist"; delete --force succeeds', async (t) => {
  const b = await makeBundle(t);
  const id = uniqueId('missing');
  for (const args of [
    ['state', id],
    ['kill', id],
    ['kill', id, '9'],
    ['start', id],
    ['delete', id],
  ]) {
    failed(t, await b.tsrun(args), 'container does not exist', args.join(' '));
  }
  ok(t, await b.tsrun(['delete', '--force', id]), 'delete --force of a missing id');
  ok(t, await b.tsrun(['delete', '-f', id]), 'delete -f of a missing id');
});

rootTest('a created container is deleted without --force and its init is killed', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'signals'];
  });
  ok(t, await b.tsrun(['create', '--bundle', b.dir, b.id]), 'create');
  const { pid } = (await b.state()) as { pid: number };
  const start = procStat(pid)!.startTime;
  ok(t, await b.tsrun(['delete', b.id]), 'delete created');
  const after = procStat(pid);
  t.true(!after || after.startTime !== start || after.state === 'Z', `init ${pid} is gone`);
  t.false(fs.existsSync(path.join(b.root, b.id)));
  t.false(fs.existsSync(cgroupOf(b.id)), 'its cgroup is removed');
});

rootTest('delete --force kills a running container and frees its cgroup', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'signals'];
  });
  const create = await b.tsrun(['create', '--bundle', b.dir, b.id]);
  ok(t, create, 'create');
  ok(t, await b.tsrun(['start', b.id]), 'start');
  await waitReady(b, create);
  const { pid } = (await b.state()) as { pid: number };
  const start = procStat(pid)!.startTime;
  t.true(fs.existsSync(cgroupOf(b.id)), `the container has a cgroup while running (${cgroupOf(b.id)})`);
  const initCg = fs
    .readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('0::'));
  t.is(path.join(unifiedMount()!, initCg?.slice(3) ?? '?'), cgroupOf(b.id), 'the init is in that cgroup');
  ok(t, await b.tsrun(['delete', '--force', b.id]), 'delete --force running');
  const after = procStat(pid);
  t.true(!after || after.startTime !== start || after.state === 'Z', `init ${pid} is gone`);
  t.false(fs.existsSync(path.join(b.root, b.id)));
  t.false(fs.existsSync(cgroupOf(b.id)));
  failed(t, await b.tsrun(['state', b.id]), 'container does not exist', 'state after delete --force');
});

rootTest('delete --force cleans up a state dir without state.json (a create that died before its first write)', async (t) => {
  const b = await makeBundle(t);
  fs.mkdirSync(b.root, { recursive: true });
  fs.mkdirSync(path.join(b.root, b.id));
  const st = await b.tsrun(['state', b.id]);
  t.is(st.code, 0, `state of a half-made container: ${st.stderr}`);
  t.is(JSON.parse(st.stdout).status, 'stopped');
  ok(t, await b.tsrun(['delete', '--force', b.id]), 'delete --force');
  t.false(fs.existsSync(path.join(b.root, b.id)));
});

// The create is SIGKILLed at three points: right after it claimed the id, once state.json says
// "creating" (its cgroup exists), and once the init is in the cgroup (mid-handshake).
const KILL_POINTS: Record<string, (stateDir: string, cgroup: string) => boolean> = {
  'the state dir exists': (dir) => fs.existsSync(dir),
  'state.json is written': (dir) => fs.existsSync(path.join(dir, 'state.json')),
  'the init is in its cgroup': (_dir, cg) => {
    try {
      return fs.readFileSync(path.join(cg, 'cgroup.procs'), 'utf8').trim() !== '';
    } catch {
      return false;
    }
  },
};

for (const [point, reached] of Object.entries(KILL_POINTS)) {
  rootTest(`delete --force cleans up after a create SIGKILLed when ${point}`, async (t) => {
    const b = await makeBundle(t, (s) => {
      s.process!.args = ['probe', 'signals'];
    });
    const stateDir = path.join(b.root, b.id);
    const cgroup = cgroupOf(b.id);
    let hit = false;
    const r = await b.tsrun(['create', '--bundle', b.dir, b.id], {
      onSpawn: (pid) => {
        // Spin synchronously (no event loop turn) until the create reaches the point, then kill it.
        const until = Date.now() + 10_000 * TIME_SCALE;
        while (!(hit = reached(stateDir, cgroup)) && Date.now() < until && procStat(pid)) {
          /* spin */
        }
        process.kill(pid, 'SIGKILL');
      },
    });
    t.log(`reached: ${hit}; create ended with exit ${r.code}, signal ${r.signal}`);
    if (r.signal !== 'SIGKILL') t.log(`the create finished before the kill landed: ${r.stderr}`);
    t.true(hit, `the create never reached "${point}"`);
    t.true(fs.existsSync(stateDir), 'the killed create left its state dir behind');
    ok(t, await b.tsrun(['delete', '--force', b.id]), 'delete --force after a killed create');
    t.false(fs.existsSync(stateDir), 'the state dir is removed');
    await waitFor(
      () => !fs.existsSync(cgroup),
      5000,
      () => `${cgroup} to be removed`,
    );
    failed(t, await b.tsrun(['state', b.id]), 'container does not exist', 'state after cleanup');
  });
}

rootTest('list: table, --format json and -q', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'signals'];
  });
  const empty = await b.tsrun(['list', '--format', 'json']);
  ok(t, empty, 'list on an empty root');
  t.is(empty.stdout.trim(), 'null', 'runc prints null for no containers');

  const a = b.id;
  const c = b.newId('second');
  const ca = await b.tsrun(['create', '--bundle', b.dir, a]);
  ok(t, ca, 'create a');
  ok(t, await b.tsrun(['create', '--bundle', b.dir, c]), 'create c');
  ok(t, await b.tsrun(['start', a]), 'start a');
  await waitReady(b, ca);

  const json = await b.tsrun(['list', '--format', 'json']);
  ok(t, json, 'list --format json');
  const entries = JSON.parse(json.stdout) as { id: string; status: string; pid: number; bundle: string }[];
  const byId = new Map(entries.map((e) => [e.id, e]));
  t.is(entries.length, 2);
  t.is(byId.get(a)?.status, 'running');
  t.is(byId.get(c)?.status, 'created');
  t.is(byId.get(a)?.bundle, b.dir);
  t.true((byId.get(c)?.pid ?? 0) > 0);
  t.deepEqual(Object.keys(entries[0]).slice(0, 7), ['ociVersion', 'id', 'pid', 'status', 'bundle', 'rootfs', 'created']);

  const quiet = await b.tsrun(['list', '-q']);
  ok(t, quiet, 'list -q');
  t.deepEqual(quiet.stdout.split('\n').filter(Boolean).sort(), [a, c].sort());

  const table = await b.tsrun(['list']);
  ok(t, table, 'list');
  const lines = table.stdout.trimEnd().split('\n');
  t.deepEqual(lines[0].split(/\s+/), ['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']);
  const rowA = lines.find((l) => l.startsWith(a + ' '))?.split(/\s+/);
  t.truthy(rowA, `a row for ${a} in:\n${table.stdout}`);
  t.is(rowA?.[1], String(byId.get(a)?.pid));
  t.is(rowA?.[2], 'running');
  t.is(rowA?.[3], b.dir);
  t.is(rowA?.[5], 'root');
  // Columns line up (tabwriter): STATUS starts at the same offset on every line.
  const col = lines[0].indexOf('STATUS');
  for (const l of lines.slice(1)) t.regex(l.slice(col), /^(running|created)\s/);
});

rootTest('run passes the exit status through', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'exit', '3'];
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.is(r.code, 3, `stderr: ${r.stderr}`);
  t.false(fs.existsSync(path.join(b.root, b.id)), 'run removes the container once it exits');
  t.false(fs.existsSync(cgroupOf(b.id)));
});

rootTest('run exits 128+N when the container is killed by signal N', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'signals'];
  });
  const running = b.tsrun(['run', '--bundle', b.dir, b.id]);
  // The container writes to run's stdout file; read it through the init's fd 1.
  await waitRunStarted(b, running);
  ok(t, await b.tsrun(['kill', b.id, 'KILL']), 'kill KILL');
  const r = await running;
  t.is(r.code, 128 + 9, `stderr: ${r.stderr}`);
});

rootTest('run forwards SIGTERM to the container', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'signals'];
  });
  let runPid = 0;
  const running = b.tsrun(['run', '--bundle', b.dir, b.id], { onSpawn: (p) => (runPid = p) });
  await waitRunStarted(b, running);
  try {
    process.kill(runPid, 'SIGTERM');
  } catch (err) {
    const early = await running;
    t.fail(
      `tsrun run (pid ${runPid}) was gone before the SIGTERM (${(err as Error).message}): exit ${early.code} signal ${early.signal}, stderr ${early.stderr}, stdout ${early.stdout}`,
    );
    return;
  }
  const r = await running;
  t.is(r.code, 0, `probe signals exits 0 after SIGTERM; stderr: ${r.stderr}`);
  const events = parseProbeLines<ProbeSignalEvent>(r.stdout).filter((l) => 'signal' in l);
  t.deepEqual(
    events.map((e) => e.signal),
    ['SIGTERM'],
  );
});

rootTest('run -d returns with the container running and orphaned to the caller', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'signals'];
  });
  const pidFile = path.join(b.dir, 'run.pid');
  const r = await b.tsrun(['run', '-d', '--bundle', b.dir, '--pid-file', pidFile, b.id]);
  ok(t, r, 'run -d');
  await waitReady(b, r);
  const st = await b.state();
  t.is(st.status, 'running');
  t.is(fs.readFileSync(pidFile, 'utf8').trim(), String(st.pid));
  t.false(isOurDescendant(st.pid as number), 'the detached init is not our child');
  ok(t, await b.tsrun(['kill', b.id, 'TERM']), 'kill TERM');
  await b.waitStatus(b.id, 'stopped');
  ok(t, await b.tsrun(['delete', b.id]), 'delete');
});

rootTest('--log FILE --log-format json: one {"level","msg","time"} object per line, the root cause last', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['no-such-binary-xyz'];
  });
  const log = path.join(b.dir, 'log.json');
  const r = await b.tsrun(['--log', log, '--log-format', 'json', 'create', '--bundle', b.dir, '--pid-file', path.join(b.dir, 'init.pid'), b.id]);
  t.not(r.code, 0);
  const lines = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
  t.true(lines.length >= 1);
  for (const l of lines) {
    const o = JSON.parse(l) as Record<string, unknown>;
    t.deepEqual(Object.keys(o).sort(), ['level', 'msg', 'time']);
    t.is(typeof o.msg, 'string');
    t.regex(o.time as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  }
  const last = JSON.parse(lines[lines.length - 1]) as { level: string; msg: string };
  t.is(last.level, 'error');
  t.true(last.msg.includes('executable file not found in $PATH'), last.msg);
  t.false(fs.existsSync(path.join(b.root, b.id)), 'a failed create leaves no state');
  t.false(fs.existsSync(path.join(b.dir, 'init.pid')), 'nor a pid file');

  // A second failing call appends; the last line is the newest error.
  const r2 = await b.tsrun(['--log', log, '--log-format', 'json', 'state', b.id]);
  t.not(r2.code, 0);
  const lines2 = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
  t.true(lines2.length > lines.length, 'the log is appended to');
  const last2 = JSON.parse(lines2[lines2.length - 1]) as { level: string; msg: string };
  t.is(last2.level, 'error');
  t.true(last2.msg.includes('container does not exist'), last2.msg);
});

rootTest('concurrent creates in one root all end up created (the init outlives its create)', async (t) => {
  // Regression: the parent-death signal was cleared after READY, so a create that exited quickly
  // enough killed its own parked init (seen as 2 stopped out of 30 under load).
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'signals'];
  });
  const ids = Array.from({ length: 12 }, (_, i) => b.newId(`c${i}`));
  const results = await Promise.all(ids.map((id) => b.tsrun(['create', '--bundle', b.dir, id])));
  results.forEach((r, i) => ok(t, r, `create ${ids[i]}`));
  const states = await Promise.all(ids.map((id) => b.state(id)));
  t.deepEqual(
    states.map((s) => s.status),
    ids.map(() => 'created'),
  );
  const starts = await Promise.all(ids.map((id) => b.tsrun(['start', id])));
  starts.forEach((r, i) => ok(t, r, `start ${ids[i]}`));
  for (const [i, r] of results.entries())
    await waitFor(
      () => b.output(r).includes('"ready"'),
      10_000,
      () => `${ids[i]} to run`,
    );
  const listed = JSON.parse((await b.tsrun(['list', '--format', 'json'])).stdout) as { id: string; status: string }[];
  t.deepEqual(
    listed.map((c) => c.status),
    ids.map(() => 'running'),
  );
});

rootTest('kill: signal names and numbers reach the init; --all reaches every process of the container', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.root!.readonly = false;
    // pid 1 ignores TERM and waits for two probes that each report their signals to a file.
    s.process!.args = ['sh', '-c', 'trap "" TERM; trap "echo usr1 >> /tmp/sh" USR1; probe signals > /tmp/a & probe signals > /tmp/b & wait; wait'];
  });
  const file = (n: string) => path.join(b.rootfs, 'tmp', n);
  const lines = (n: string) => (fs.existsSync(file(n)) ? parseProbeLines<ProbeSignalsReady | ProbeSignalEvent>(fs.readFileSync(file(n), 'utf8')) : []);
  ok(t, await b.tsrun(['run', '-d', '--bundle', b.dir, b.id]), 'run -d');
  await waitFor(
    () => lines('a').length > 0 && lines('b').length > 0,
    10_000,
    () => 'both probes to be ready',
  );

  ok(t, await b.tsrun(['kill', b.id, 'USR1']), 'kill USR1');
  await waitFor(
    () => fs.existsSync(file('sh')),
    5000,
    () => 'the shell to see USR1',
  );
  ok(t, await b.tsrun(['kill', b.id, '15']), 'kill 15 (the init ignores it)');
  ok(t, await b.tsrun(['kill', b.id, 'SIGTERM']), 'kill SIGTERM');
  await new Promise((r) => setTimeout(r, 300));
  t.is((await b.state()).status, 'running', 'signals to the init alone leave the probes alone');
  t.deepEqual(
    lines('a').filter((l) => 'signal' in l),
    [],
    'probe a got nothing',
  );

  ok(t, await b.tsrun(['kill', '--all', b.id, 'TERM']), 'kill --all TERM');
  await b.waitStatus(b.id, 'stopped');
  for (const n of ['a', 'b']) {
    t.deepEqual(
      lines(n)
        .filter((l): l is ProbeSignalEvent => 'signal' in l)
        .map((l) => l.signal),
      ['SIGTERM'],
      `probe ${n} got SIGTERM`,
    );
  }
});

rootTest('racing calls: two creates of one id, two starts of one container — exactly one of each wins', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'signals'];
  });
  const creates = await Promise.all([0, 1, 2].map(() => b.tsrun(['create', '--bundle', b.dir, b.id])));
  t.is(creates.filter((r) => r.code === 0).length, 1, creates.map((r) => r.stderr).join(' | '));
  for (const r of creates.filter((x) => x.code !== 0)) t.true(r.stderr.includes(`container with id exists: ${b.id}`), r.stderr);
  t.is((await b.state()).status, 'created');

  const starts = await Promise.all([0, 1, 2].map(() => b.tsrun(['start', b.id])));
  t.is(starts.filter((r) => r.code === 0).length, 1, starts.map((r) => r.stderr).join(' | '));
  for (const r of starts.filter((x) => x.code !== 0)) t.true(r.stderr.includes('cannot start an already running container'), r.stderr);
  const created = creates.find((r) => r.code === 0)!;
  await waitReady(b, created);
  t.is(signalLines(b, created).filter((l) => 'ready' in l).length, 1, 'the process ran once');
});

rootTest('kill of a created container stops it before it ever runs', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'signals'];
  });
  const create = await b.tsrun(['create', '--bundle', b.dir, b.id]);
  ok(t, create, 'create');
  ok(t, await b.tsrun(['kill', b.id, 'KILL']), 'kill a created container');
  await b.waitStatus(b.id, 'stopped');
  failed(t, await b.tsrun(['start', b.id]), 'cannot start a container that has stopped', 'start after kill');
  t.is(b.output(create), '', 'the process never ran');
  ok(t, await b.tsrun(['delete', b.id]), 'delete');
});

rootTest('stdio is inherited: stdin, stdout and stderr of the caller are the container’s', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['sh', '-c', 'probe cat -; echo to-stderr >&2'];
  });
  const input = path.join(b.dir, 'stdin.txt');
  fs.writeFileSync(input, 'line one\nline two\n');
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id], { stdinFile: input });
  ok(t, r, 'run');
  t.is(r.stdout, 'line one\nline two\n');
  t.is(r.stderr, 'to-stderr\n');
});

rootTest('an init that exits on its own makes the container stopped; delete needs no --force', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'exit', '0'];
  });
  ok(t, await b.tsrun(['create', '--bundle', b.dir, b.id]), 'create');
  ok(t, await b.tsrun(['start', b.id]), 'start');
  const st = await b.waitStatus(b.id, 'stopped');
  t.is(st.pid, 0);
  failed(t, await b.tsrun(['kill', b.id]), 'container not running', 'kill after exit');
  ok(t, await b.tsrun(['delete', b.id]), 'delete');
  t.false(fs.existsSync(cgroupOf(b.id)));
});
