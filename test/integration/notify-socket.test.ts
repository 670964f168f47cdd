// NOTIFY_SOCKET through the built CLI, as systemd (Type=notify) and podman --sdnotify=container
// use runc (runc notify_socket.go): the container gets /run/notify/notify.sock, `start` and `run`
// wait for its READY=, and the host socket gets READY=…, MAINPID=<pid> and BARRIER=1 (with a pipe
// fd) before the runtime returns. A stand-in for systemd's socket listens in this test.
import type { ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Spec } from '../../src/spec/types.js';
import { makeBundle, waitFor, type Bundle, type TsrunResult } from '../helpers/bundle.js';
import { listenNotify, type NotifyListenerHandle } from '../helpers/notify-listener.js';
import { parseProbeLines, type ProbeSdNotifyOutput, type ProbeStatOutput } from '../helpers/rootfs.js';
import { needs, root } from '../helpers/skip.js';

const rootTest = needs(root('namespaces, mounts'));

const GATE = '/gate';

/**
 * A shell script for the init: report what it sees, then (gated) say so in /gate/waiting and wait
 * for the host's /gate/go, then notify (or not) and go on with `after`.
 */
function initScript(messages: string[], o: { after?: string; gated?: boolean } = {}): string[] {
  const sends = messages.map((m) => `probe sd-notify '${m}'; `).join('');
  const wait = o.gated ? `touch ${GATE}/waiting; until [ -e ${GATE}/go ]; do usleep 10000; done; ` : '';
  return ['sh', '-c', `probe env; probe stat /run/notify/notify.sock; ${wait}${sends}${o.after ?? 'exec probe sleep 60'}`];
}

/** A host directory bound at /gate in the container (initScript's gated wait). */
function addGate(s: Spec, dir: string): string {
  const gate = path.join(dir, 'gate');
  fs.mkdirSync(gate);
  s.mounts!.push({ destination: GATE, type: 'bind', source: gate, options: ['rbind', 'rw'] });
  return gate;
}

/**
 * While the init waits at its gate (it has not sent anything yet), tsrun must still be running:
 * it returns only after READY=1. Then the gate is opened.
 */
async function openGateWhileWaiting(t: ExecutionContext, gate: string, call: Promise<TsrunResult>, l: NotifyListenerHandle): Promise<TsrunResult> {
  let settled = false;
  void call.finally(() => (settled = true)).catch(() => {});
  await waitFor(() => settled || fs.existsSync(path.join(gate, 'waiting')), { timeoutMs: 20_000, what: () => `the init to reach its gate (${gate}/waiting)` });
  t.false(settled, 'tsrun did not return while the init had not sent READY=1');
  t.deepEqual(l.received, [], 'nothing reached the host before the init notified');
  fs.writeFileSync(path.join(gate, 'go'), '');
  return call;
}

function listener(t: ExecutionContext, b: Bundle, o: { abstract?: boolean; holdBarrier?: boolean } = {}): NotifyListenerHandle {
  const address = o.abstract ? `@tsrun-notify-test-${randomBytes(6).toString('hex')}` : path.join(b.dir, 'systemd-notify.sock');
  const l = listenNotify(address, o);
  t.teardown(() => l.close());
  return l;
}

function ok(t: ExecutionContext, r: TsrunResult, what: string): void {
  t.is(r.code, 0, `${what} failed: ${r.stderr}`);
}

interface Seen {
  env: string[];
  stat: ProbeStatOutput;
  sends: ProbeSdNotifyOutput[];
}

function seen(output: string): Seen {
  const lines = parseProbeLines<Record<string, unknown>>(output);
  return {
    env: (lines.find((l) => 'env' in l)?.env as string[]) ?? [],
    stat: lines.find((l) => 'paths' in l) as unknown as ProbeStatOutput,
    sends: lines.filter((l) => 'socket' in l) as unknown as ProbeSdNotifyOutput[],
  };
}

/** What the host got, as runc sends it: the READY line, MAINPID, then BARRIER=1 with an fd. */
function assertForwarded(t: ExecutionContext, l: NotifyListenerHandle, mainPid: number, returnedAt: number): void {
  t.deepEqual(
    l.received.map((d) => d.data),
    ['READY=1\n', `MAINPID=${mainPid}\n`, 'BARRIER=1'],
    'READY, MAINPID, BARRIER in order, other messages dropped',
  );
  t.true(l.received[2].hadFd, 'BARRIER=1 carries the pipe for sd_notify_barrier');
  t.true(
    l.received.every((d) => d.at <= returnedAt),
    'everything reached the host before tsrun returned',
  );
}

function assertContainerSide(t: ExecutionContext, s: Seen): void {
  t.true(s.env.includes('NOTIFY_SOCKET=/run/notify/notify.sock'), `NOTIFY_SOCKET in the container: ${JSON.stringify(s.env)}`);
  t.is(s.env.filter((e) => e.startsWith('NOTIFY_SOCKET=')).length, 1, "exactly one NOTIFY_SOCKET (the config's own is replaced)");
  t.is(s.stat?.paths['/run/notify/notify.sock']?.stat?.type, 'socket', 'the socket is bound in at /run/notify');
  t.true(s.sends.length > 0 && s.sends.every((x) => x.ok), `the container's sd_notify went through: ${JSON.stringify(s.sends)}`);
}

rootTest('create + start: start returns only after READY=1, the host gets READY, MAINPID and BARRIER', async (t) => {
  let gate = '';
  const b = await makeBundle(t, (s, { dir }) => {
    gate = addGate(s, dir);
    s.process!.args = initScript(['STATUS=starting', 'READY=1\nSTATUS=up'], { gated: true });
    s.process!.env = [...(s.process!.env ?? []), 'NOTIFY_SOCKET=/config/value/is/replaced'];
  });
  const l = listener(t, b);
  const env = { ...process.env, NOTIFY_SOCKET: l.address };
  const create = await b.tsrun(['create', '--bundle', b.dir, b.id], { env });
  ok(t, create, 'create');
  const dir = path.join(b.root, b.id, 'notify');
  t.true(fs.statSync(dir).isDirectory(), 'create made the notify dir');
  t.false(fs.existsSync(path.join(dir, 'notify.sock')), 'create leaves the socket to start');

  const start = await openGateWhileWaiting(t, gate, b.tsrun(['start', b.id], { env }), l);
  const returnedAt = Date.now();
  ok(t, start, 'start');
  const st = await b.state();
  t.is(st.status, 'running');
  assertForwarded(t, l, st.pid as number, returnedAt);
  assertContainerSide(t, seen(b.output(create)));

  // runc exec takes its process from config.json as written: the proxy is not its business.
  const exec = await b.tsrun(['exec', b.id, 'probe', 'env'], { env });
  ok(t, exec, 'exec');
  const execEnv = (parseProbeLines<{ env: string[] }>(exec.stdout)[0]?.env ?? []).filter((e) => e.startsWith('NOTIFY_SOCKET='));
  t.deepEqual(execEnv, ['NOTIFY_SOCKET=/config/value/is/replaced'], `exec's env: ${exec.stdout}`);

  ok(t, await b.tsrun(['delete', '--force', b.id]), 'delete');
  t.false(fs.existsSync(path.join(b.root, b.id)), 'the state dir and its notify socket are gone');
});

rootTest('run -d waits for READY=1 and names the init as MAINPID; an abstract host socket works', async (t) => {
  let gate = '';
  const b = await makeBundle(t, (s, { dir }) => {
    gate = addGate(s, dir);
    s.process!.args = initScript(['READY=1'], { gated: true });
  });
  const l = listener(t, b, { abstract: true });
  const run = await openGateWhileWaiting(t, gate, b.tsrun(['run', '-d', '--bundle', b.dir, b.id], { env: { ...process.env, NOTIFY_SOCKET: l.address } }), l);
  const returnedAt = Date.now();
  ok(t, run, 'run -d');
  const st = await b.state();
  t.is(st.status, 'running');
  assertForwarded(t, l, st.pid as number, returnedAt);
  assertContainerSide(t, seen(b.output(run)));
  ok(t, await b.tsrun(['delete', '--force', b.id]), 'delete');
  t.false(fs.existsSync(path.join(b.root, b.id)));
});

rootTest('run in the foreground: READY is forwarded with tsrun as MAINPID, and the exit status is kept', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = initScript(['READY=1'], { after: 'exit 7' });
  });
  const l = listener(t, b);
  const run = await b.tsrun(['run', '--bundle', b.dir, b.id], { env: { ...process.env, NOTIFY_SOCKET: l.address } });
  t.is(run.code, 7, `run: ${run.stderr}`);
  assertForwarded(t, l, run.pid, Date.now());
  assertContainerSide(t, seen(run.stdout));
  t.false(fs.existsSync(path.join(b.root, b.id)), 'run removed the container and its socket');
});

rootTest('an init that exits without READY= ends start, run -d and run without hanging, and nothing is sent', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = initScript([], { after: 'exit 3' });
  });
  const l = listener(t, b);
  const env = { ...process.env, NOTIFY_SOCKET: l.address };

  ok(t, await b.tsrun(['create', '--bundle', b.dir, b.id], { env }), 'create');
  ok(t, await b.tsrun(['start', b.id], { env, timeoutMs: 15_000 }), 'start (runc returns nil when the init is gone)');
  t.is((await b.state()).status, 'stopped');
  ok(t, await b.tsrun(['delete', b.id]), 'delete');

  const detached = b.newId();
  ok(t, await b.tsrun(['run', '-d', '--bundle', b.dir, detached], { env, timeoutMs: 15_000 }), 'run -d');
  await b.waitStatus(detached, 'stopped');
  ok(t, await b.tsrun(['delete', detached]), 'delete');

  const fg = await b.tsrun(['run', '--bundle', b.dir, b.newId()], { env, timeoutMs: 15_000 });
  t.is(fg.code, 3, `foreground run ends with the init's status: ${fg.stderr}`);
  t.deepEqual(l.received, [], 'no READY and no MAINPID reached the host');
  t.deepEqual(fs.readdirSync(b.root), [], 'no state left behind');
});

rootTest('start fails as runc does when the host socket is missing, or when create had no NOTIFY_SOCKET', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = initScript(['READY=1']);
  });
  const missing = path.join(b.dir, 'no-such-notify.sock');
  ok(t, await b.tsrun(['create', '--bundle', b.dir, b.id]), 'create without NOTIFY_SOCKET');
  t.false(fs.existsSync(path.join(b.root, b.id, 'notify')), 'no notify dir without NOTIFY_SOCKET');
  const refused = await b.tsrun(['start', b.id], { env: { ...process.env, NOTIFY_SOCKET: missing } });
  t.not(refused.code, 0);
  t.regex(refused.stderr, /notify socket: bind .*notify\.sock: ENOENT/);
  t.is((await b.state()).status, 'created', 'the container was not started');
  ok(t, await b.tsrun(['delete', b.id]), 'delete');

  const id = b.newId();
  const env = { ...process.env, NOTIFY_SOCKET: missing };
  ok(t, await b.tsrun(['create', '--bundle', b.dir, id], { env }), 'create');
  const start = await b.tsrun(['start', id], { env });
  t.not(start.code, 0, 'start reports that it cannot reach the host socket');
  t.regex(start.stderr, /notify socket: dial unixgram .*no-such-notify\.sock/);
  t.is((await b.state(id)).status, 'running', 'as in runc, the container was started before the dial');
  ok(t, await b.tsrun(['delete', '--force', id]), 'delete');
});

rootTest('a container in its own user namespace (root mapped to 100000) reaches the socket as well', async (t) => {
  const b = await makeBundle(t, (s, { dir, rootfs }) => {
    // The mapped root must reach the rootfs; the notify dir under the 0700 state root is opened for
    // it by the parent (process/mount-source.ts).
    fs.chmodSync(dir, 0o755);
    for (const f of walk(rootfs)) fs.lchownSync(f, 100000, 100000);
    s.linux!.namespaces!.push({ type: 'user' });
    s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.process!.args = initScript(['READY=1']);
  });
  const l = listener(t, b);
  const run = await b.tsrun(['run', '-d', '--bundle', b.dir, b.id], { env: { ...process.env, NOTIFY_SOCKET: l.address } });
  const returnedAt = Date.now();
  ok(t, run, 'run -d');
  const st = await b.state();
  assertForwarded(t, l, st.pid as number, returnedAt);
  assertContainerSide(t, seen(b.output(run)));
  ok(t, await b.tsrun(['delete', '--force', b.id]), 'delete');
});

function* walk(dir: string): Generator<string> {
  yield dir;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else yield p;
  }
}
