// The fast front of the short verbs (native/README.md "The fast front (`tsrun-fast`)"): state,
// kill, start and delete through build/Release/tsrun-fast, against the JS CLI (TSRUN_FAST=0).
//
// Whether the front itself handled a call is seen without any hook in the product: the front is
// run directly with an engine command line that is a shell script printing FALLBACK, its
// arguments, one variable of the environment and its open fds, then exiting 99. A handled call
// never prints FALLBACK; a call the front must leave to the JS CLI prints exactly the tsrun
// arguments it was given, and changes nothing (the state directory, the init, the cgroup).
// Through bin/tsrun (the real launcher), a record whose state template was edited shows that the
// front answered.
import type { ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { unifiedMount } from '../../src/cgroups/v2.js';
import { makeBundle, procStat, TIME_SCALE, TSRUN_BIN, waitFor, type Bundle, type RunOptions, type TsrunResult } from '../helpers/bundle.js';
import { parseProbeLines, type ProbeSignalEvent, type ProbeSignalsReady } from '../helpers/rootfs.js';
import { need, needs, root } from '../helpers/skip.js';

const rootTest = needs(root('containers'));
const unified = unifiedMount();
const cgroupTest = rootTest.and(need(unified, 'no cgroup2 hierarchy is mounted (pause and cgroup removal need one)'));

/** The front beside the launcher under test (a checkout's or an installed package's build/Release). */
const FAST_BIN = path.join(path.dirname(TSRUN_BIN), '..', 'build/Release/tsrun-fast');

/** The JS CLI alone, and the launcher as engines run it (the front first). */
const JS_ENV: NodeJS.ProcessEnv = { ...process.env, TSRUN_FAST: '0' };
const FRONT_ENV: NodeJS.ProcessEnv = { ...process.env, TSRUN_FAST: undefined };

// The engine command the front execs on a fallback: prints its arguments (the tsrun arguments
// appended to the engine's), a variable of the environment and its own open fds (ls writes
// straight to stdout: no pipe or directory of the shell's own is open meanwhile), then exits 99.
const FALLBACK_SCRIPT = 'echo FALLBACK; for a do printf "arg %s\\n" "$a"; done; printf "env %s\\n" "${FAST_MARK-unset}"; echo fds; ls /proc/$$/fd; exit 99';
const ENGINE = ['/bin/sh', '-c', FALLBACK_SCRIPT, 'sh'];

interface FastResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface FallbackReport {
  args: string[];
  env: string;
  fds: number[];
}

interface FastOptions {
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
  cwd?: string;
}

/** Runs a program with piped output, killed (by its pid) if it hangs. */
function runProgram(cmd: string, args: readonly string[], o: FastOptions = {}): Promise<FastResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: o.env ?? process.env, uid: o.uid, gid: o.gid, cwd: o.cwd ?? '/', stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      if (child.pid) process.kill(child.pid, 'SIGKILL');
    }, 20_000 * TIME_SCALE);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    // 'close': the exit and every byte of output (the exit can be reported first).
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const MARK = `mark-${randomBytes(4).toString('hex')}`;

/** tsrun-fast N ENGINE-ARGV TSRUN-ARGS, with the fallback script as the engine. */
function fast(args: readonly string[], o: FastOptions & { bin?: string } = {}): Promise<FastResult> {
  return runProgram(o.bin ?? FAST_BIN, [String(ENGINE.length), ...ENGINE, ...args], { ...o, env: { ...process.env, FAST_MARK: MARK, ...o.env } });
}

/** What the fallback script reports, or undefined when it did not run. */
function fallbackReport(stdout: string): FallbackReport | undefined {
  const lines = stdout.split('\n');
  if (lines[0] !== 'FALLBACK') return undefined;
  const args = lines.filter((l) => l.startsWith('arg ')).map((l) => l.slice(4));
  const env = lines.find((l) => l.startsWith('env '))?.slice(4) ?? '';
  const fds = lines
    .slice(lines.indexOf('fds') + 1)
    .filter((l) => /^\d+$/.test(l))
    .map(Number)
    .sort((a, b) => a - b);
  return { args, env, fds };
}

/** The fds the fallback script has when this process starts it itself (what it inherits from us). */
let baselineFds: Promise<number[]> | undefined;
function inheritedFds(): Promise<number[]> {
  baselineFds ??= runProgram(ENGINE[0], [...ENGINE.slice(1), 'x']).then((r) => fallbackReport(r.stdout)?.fds ?? []);
  return baselineFds;
}

/** The front handled the call itself: no fallback, and the exit status is `code`. */
function handled(t: ExecutionContext, r: FastResult, what: string, code = 0): void {
  t.false(r.stdout.startsWith('FALLBACK'), `${what}: the front fell back (${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)})`);
  t.is(r.code, code, `${what}: exit ${r.code} signal ${r.signal}, stderr ${JSON.stringify(r.stderr)}`);
}

/** The front fell back: the engine ran with exactly the tsrun arguments, the environment and no fd of the front's. */
async function fellBack(t: ExecutionContext, r: FastResult, args: readonly string[], what: string): Promise<void> {
  const report = fallbackReport(r.stdout);
  if (!report) {
    t.fail(`${what}: the front handled it (exit ${r.code}, stdout ${JSON.stringify(r.stdout)}, stderr ${JSON.stringify(r.stderr)})`);
    return;
  }
  t.is(r.code, 99, `${what}: the engine's exit status is the front's`);
  t.deepEqual(report.args, [...args], `${what}: the engine gets the tsrun arguments as given`);
  t.is(report.env, MARK, `${what}: the environment is passed on`);
  t.deepEqual(report.fds, await inheritedFds(), `${what}: the engine inherits no fd the front opened`);
  t.is(r.stderr, '', `${what}: the front says nothing before falling back`);
}

interface Snapshot {
  rootEntries: string[];
  entries: Record<string, string> | null;
  init: string;
  cgroup: string;
}

/** What a call could change: the root's and the container directory's entries, its init, its cgroup. */
function snapshot(b: Bundle, id: string): Snapshot {
  const dir = path.join(b.root, id);
  let entries: Record<string, string> | null = null;
  let pid = 0;
  let startTime: string | undefined;
  let cg: string | undefined;
  try {
    entries = {};
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const st = fs.lstatSync(p);
      // Never open a fifo (exec.fifo): that would be the side effect start is.
      const body = st.isFile() ? fs.readFileSync(p).toString('base64') : st.isSymbolicLink() ? fs.readlinkSync(p) : '';
      entries[name] = `mode ${st.mode.toString(8)} uid ${st.uid} ino ${st.ino} mtime ${st.mtimeMs} ${body}`;
    }
    const rec = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as { pid: number; pidStartTime?: string; cgroup?: { dir: string } };
    pid = rec.pid;
    startTime = rec.pidStartTime;
    cg = rec.cgroup?.dir;
  } catch {
    /* no container (entries stays null) or no state.json */
    if (!fs.existsSync(dir)) entries = null;
  }
  const st = pid ? procStat(pid) : undefined;
  const init = st ? `${pid} ${st.state === 'Z' || st.state === 'X' ? 'dead' : 'alive'} ${st.startTime} (recorded ${startTime})` : `${pid} gone`;
  let cgroup = 'none';
  if (cg) {
    const read = (f: string) => {
      try {
        return fs.readFileSync(path.join(cg, f), 'utf8');
      } catch {
        return '-';
      }
    };
    cgroup = fs.existsSync(cg) ? `freeze ${read('cgroup.freeze').trim()} procs ${read('cgroup.procs').trim()}` : 'gone';
  }
  return { rootEntries: fs.readdirSync(b.root).sort(), entries, init, cgroup };
}

/** A fallback case: the front hands the call to the engine and changes nothing. */
async function fallbackCase(t: ExecutionContext, b: Bundle, id: string, args: readonly string[], o: FastOptions & { bin?: string } = {}): Promise<void> {
  const before = snapshot(b, id);
  const r = await fast(args, o);
  const what = `${args.join(' ')}${o.env ? ` with ${Object.keys(o.env).join(', ')}` : ''}${o.uid !== undefined ? ` as uid ${o.uid}` : ''}`;
  await fellBack(t, r, args, what);
  t.deepEqual(snapshot(b, id), before, `${what}: nothing changed`);
}

function ok(t: ExecutionContext, r: TsrunResult, what: string): void {
  t.is(r.code, 0, `${what} exited ${r.code}: ${r.stderr}`);
}

/** `state` through the JS CLI alone. */
async function jsState(b: Bundle, id: string): Promise<Record<string, unknown> | undefined> {
  const r = await b.tsrun(['state', id], { env: JS_ENV });
  return r.code === 0 ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined;
}

async function waitJsStatus(b: Bundle, id: string, status: string): Promise<void> {
  let last: Record<string, unknown> | undefined;
  await waitFor(async () => (last = await jsState(b, id))?.status === status, {
    timeoutMs: 20_000,
    what: () => `${id} to be ${status} (JS state: ${JSON.stringify(last)})`,
  });
}

/** `state` three ways: the launcher (front first), TSRUN_FAST=0, and the front alone: the same bytes. */
async function stateParity(t: ExecutionContext, b: Bundle, id: string, status: string, extra: RunOptions = {}): Promise<string> {
  const js = await b.tsrun(['state', id], { ...extra, env: JS_ENV });
  ok(t, js, `state ${id} (TSRUN_FAST=0)`);
  t.is((JSON.parse(js.stdout) as { status: string }).status, status, `the JS state of ${id}`);
  const launcher = await b.tsrun(['state', id], { ...extra, env: FRONT_ENV });
  t.is(launcher.code, js.code, `state ${status}: the launcher's exit status`);
  t.is(launcher.stdout, js.stdout, `state ${status}: the launcher prints what the JS CLI prints`);
  t.is(launcher.stderr, js.stderr);
  const direct = await fast(['--root', b.root, 'state', id], { cwd: extra.cwd });
  handled(t, direct, `state of a ${status} container`);
  t.is(direct.stdout, js.stdout, `state ${status}: the front alone prints what the JS CLI prints`);
  return js.stdout;
}

/** A bundle whose init is `probe signals` (reports each signal, exits on SIGTERM). */
function signalsBundle(t: ExecutionContext, mutate?: Parameters<typeof makeBundle>[1]): Promise<Bundle> {
  return makeBundle(t, async (s, ctx) => {
    s.process!.args = ['probe', 'signals'];
    await mutate?.(s, ctx);
  });
}

async function create(t: ExecutionContext, b: Bundle, id = b.id, bundleDir = b.dir): Promise<TsrunResult> {
  const r = await b.tsrun(['create', '--bundle', bundleDir, id], { env: JS_ENV });
  ok(t, r, `create ${id}`);
  return r;
}

/** The signals a `probe signals` init reported so far. */
function signalsSeen(b: Bundle, createResult: TsrunResult): ProbeSignalEvent[] {
  return parseProbeLines<ProbeSignalsReady | ProbeSignalEvent>(b.output(createResult)).filter((l): l is ProbeSignalEvent => 'signal' in l);
}

async function waitReady(b: Bundle, createResult: TsrunResult): Promise<void> {
  await waitFor(() => b.output(createResult).includes('"ready"'), {
    timeoutMs: 20_000,
    what: () => `the probe to run (output ${JSON.stringify(b.output(createResult))})`,
  });
}

/** create + start (through the JS CLI) of a `probe signals` init, running and ready. */
async function running(t: ExecutionContext, b: Bundle, id = b.id): Promise<TsrunResult> {
  const c = await create(t, b, id);
  ok(t, await b.tsrun(['start', id], { env: JS_ENV }), `start ${id}`);
  await waitReady(b, c);
  return c;
}

interface CgroupRec {
  dir: string;
  created: string[];
}

function stateRecord(b: Bundle, id: string): { pid: number; pidStartTime?: string; bundle: string; cgroup?: CgroupRec } {
  return JSON.parse(fs.readFileSync(path.join(b.root, id, 'state.json'), 'utf8'));
}

interface FastRecord {
  keys: Map<string, string[]>;
  head: Buffer;
  tail: Buffer;
}

/** Parses <root>/<id>/fast as the README lays it out; throws on anything else. */
function parseRecord(buf: Buffer): FastRecord {
  const keys = new Map<string, string[]>();
  let at = 0;
  const line = (): string => {
    const nl = buf.indexOf(0x0a, at);
    if (nl < 0) throw new Error(`a line without its newline at byte ${at}`);
    const s = buf.subarray(at, nl).toString('utf8');
    at = nl + 1;
    return s;
  };
  const first = line();
  if (first !== 'tsrun-fast 1') throw new Error(`version line ${JSON.stringify(first)}`);
  const block = (key: string): Buffer => {
    const l = line();
    const m = new RegExp(`^${key} (\\d+)$`).exec(l);
    if (!m) throw new Error(`expected "${key} N", got ${JSON.stringify(l)}`);
    const n = Number(m[1]);
    if (at + n > buf.length) throw new Error(`${key} block of ${n} bytes runs past the end`);
    const b = buf.subarray(at, at + n);
    at += n;
    return b;
  };
  for (;;) {
    const save = at;
    const l = line();
    if (l.startsWith('head ')) {
      at = save;
      break;
    }
    const sp = l.indexOf(' ');
    if (sp <= 0) throw new Error(`a line without a value: ${JSON.stringify(l)}`);
    const k = l.slice(0, sp);
    keys.set(k, [...(keys.get(k) ?? []), l.slice(sp + 1)]);
  }
  const head = block('head');
  const tail = block('tail');
  if (at !== buf.length) throw new Error(`${buf.length - at} bytes after the tail block`);
  return { keys, head, tail };
}

/** What `state` prints from a record: head, pid, status, tail, newline. */
function stateFromRecord(r: FastRecord, pid: number, status: string): string {
  return `${r.head.toString('utf8')}${pid},\n  "status": "${status}",${r.tail.toString('utf8')}\n`;
}

function recordFile(b: Bundle, id: string): string {
  return path.join(b.root, id, 'fast');
}

/** Replaces a file atomically with data (a new 0600 root file, renamed over it), as TypeScript writes it. */
function replaceFile(file: string, data: Buffer | string): void {
  const tmp = `${file}.test-${randomBytes(4).toString('hex')}`;
  const fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
  try {
    fs.writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
}

const SIGNAL_NAMES = ['sigusr1', '12', 'RTMIN+2'] as const;

// ---------------------------------------------------------------------------------------------
// 1. state: the same bytes and exit status through the front as through the JS CLI.

rootTest('state prints byte for byte what TSRUN_FAST=0 prints: created, running, stopped, and a missing id', async (t) => {
  const b = await signalsBundle(t);
  const c = await create(t, b);
  await stateParity(t, b, b.id, 'created');
  ok(t, await b.tsrun(['start', b.id], { env: JS_ENV }), 'start');
  await waitReady(b, c);
  await stateParity(t, b, b.id, 'running');
  ok(t, await b.tsrun(['kill', b.id, 'KILL'], { env: JS_ENV }), 'kill KILL');
  await waitJsStatus(b, b.id, 'stopped');
  const stopped = await stateParity(t, b, b.id, 'stopped');
  t.is((JSON.parse(stopped) as { pid: number }).pid, 0, 'a stopped container reports pid 0');

  const missing = b.newId('missing');
  const js = await b.tsrun(['state', missing], { env: JS_ENV });
  const launcher = await b.tsrun(['state', missing], { env: FRONT_ENV });
  t.not(js.code, 0);
  t.is(launcher.code, js.code, 'state of a missing id: the same exit status');
  t.is(launcher.stdout, js.stdout);
  t.true(launcher.stderr.includes('container does not exist'), launcher.stderr);
  // The same line but for its time (the two calls may fall in different seconds).
  const untimed = (s: string) => s.replace(/^time="[^"]*" /gm, 'time="…" ');
  t.is(untimed(launcher.stderr), untimed(js.stderr), 'and the same error, from the JS CLI');
});

cgroupTest('state of a paused container is the JS CLI’s, and kill, start, delete of it fall back', async (t) => {
  const b = await signalsBundle(t);
  await running(t, b);
  ok(t, await b.tsrun(['pause', b.id], { env: JS_ENV }), 'pause');
  await stateParity(t, b, b.id, 'paused');
  for (const args of [
    ['kill', b.id, 'KILL'],
    ['kill', b.id, 'sigusr1'],
    ['start', b.id],
    ['delete', b.id],
    ['delete', '--force', b.id],
  ])
    await fallbackCase(t, b, b.id, ['--root', b.root, ...args]);
  ok(t, await b.tsrun(['resume', b.id], { env: JS_ENV }), 'resume');
  await stateParity(t, b, b.id, 'running');
});

rootTest('state parity with annotations holding JSON (and keys named pid and status) and a bundle path with spaces, quotes, a tab and unicode', async (t) => {
  const annotations = {
    'org.example.nested': JSON.stringify({ a: { b: [1, 'two', { c: null }] }, s: 'quote " backslash \\ newline \n tab \t' }),
    pid: '\n  "pid": 1234,',
    status: ',\n  "status": "running",',
    'unicode.ü': 'ü 中文 😀 \u2028 \u0001',
  };
  const b = await signalsBundle(t, (s) => {
    s.annotations = annotations;
  });
  const odd = path.join(b.dir, `odd dir "dq" 'sq' \\ back\ttab ü 中 😀`);
  fs.mkdirSync(odd);
  fs.writeFileSync(path.join(odd, 'config.json'), JSON.stringify({ ...b.spec, root: { ...b.spec.root, path: b.rootfs } }, null, '\t'));
  const c = await create(t, b, b.id, odd);
  const created = JSON.parse(await stateParity(t, b, b.id, 'created', { cwd: odd })) as Record<string, unknown>;
  t.is(created.bundle, odd, 'the state names the odd bundle path');
  t.deepEqual(created.annotations, annotations);
  ok(t, await b.tsrun(['start', b.id], { env: JS_ENV }), 'start');
  await waitReady(b, c);
  await stateParity(t, b, b.id, 'running');
});

// ---------------------------------------------------------------------------------------------
// 2. What the front handles itself.

rootTest(
  'kill through the front alone: names in any case, numbers and RTMIN+n reach the init of a private PID namespace; SIGTERM and KILL end it',
  async (t) => {
    const b = await signalsBundle(t);
    const c = await running(t, b);
    const expected: number[] = [];
    for (const [sig, num] of [
      [SIGNAL_NAMES[0], 10],
      [SIGNAL_NAMES[1], 12],
      [SIGNAL_NAMES[2], 36],
    ] as const) {
      const r = await fast(['--root', b.root, 'kill', b.id, sig]);
      handled(t, r, `kill ${sig}`);
      t.is(r.stdout, '', `kill ${sig} prints nothing`);
      t.is(r.stderr, '');
      expected.push(num);
      await waitFor(() => signalsSeen(b, c).length >= expected.length, { what: () => `the init to report ${sig} (seen ${JSON.stringify(signalsSeen(b, c))})` });
    }
    t.deepEqual(
      signalsSeen(b, c).map((e) => e.number),
      expected,
      'the init got each signal once, as the JS CLI numbers them (RTMIN+2 is 36)',
    );
    t.true(
      signalsSeen(b, c).every((e) => e.senderPid === 0),
      'sent from outside the PID namespace',
    );
    handled(t, await fast(['--root', b.root, 'kill', b.id, 'SIGTERM']), 'kill SIGTERM');
    await waitJsStatus(b, b.id, 'stopped');
    t.is(signalsSeen(b, c).at(-1)?.signal, 'SIGTERM', 'the init ended on SIGTERM');

    const second = b.newId('kill9');
    await running(t, b, second);
    const { pid, pidStartTime } = stateRecord(b, second);
    handled(t, await fast(['--root', b.root, 'kill', second, 'KILL']), 'kill KILL');
    await waitJsStatus(b, second, 'stopped');
    const after = procStat(pid);
    t.true(!after || after.state === 'Z' || after.startTime !== pidStartTime, `init ${pid} is gone`);

    const third = b.newId('default');
    const c3 = await running(t, b, third);
    handled(t, await fast([`--root=${b.root}`, 'kill', third]), 'kill without a signal');
    await waitJsStatus(b, third, 'stopped');
    t.deepEqual(
      signalsSeen(b, c3).map((e) => e.signal),
      ['SIGTERM'],
      'the default signal is SIGTERM',
    );
  },
);

rootTest('start through the front alone: the process runs, exec.fifo is gone, the status is running', async (t) => {
  const b = await signalsBundle(t);
  const c = await create(t, b);
  const fifo = path.join(b.root, b.id, 'exec.fifo');
  t.true(fs.lstatSync(fifo).isFIFO(), 'a created container has its exec.fifo');
  t.is(b.output(c), '', 'the process has not run yet');
  const r = await fast(['--root', b.root, 'start', b.id]);
  handled(t, r, 'start of a created container');
  t.is(r.stdout, '');
  t.is(r.stderr, '');
  t.false(fs.existsSync(fifo), 'the front removed exec.fifo');
  await waitReady(b, c);
  t.is((await jsState(b, b.id))?.status, 'running');
  t.is(parseProbeLines<ProbeSignalsReady>(b.output(c)).filter((l) => 'ready' in l).length, 1, 'the process ran once');
});

rootTest('delete through the front alone: a stopped container’s state directory and cgroup are gone; delete --force of a missing id succeeds', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'exit', '0'];
  });
  const ids = [b.id, b.newId('force'), b.newId('short')];
  const forms = [['delete'], ['delete', '--force'], ['delete', '-f']];
  for (const [i, id] of ids.entries()) {
    await create(t, b, id);
    ok(t, await b.tsrun(['start', id], { env: JS_ENV }), `start ${id}`);
    await waitJsStatus(b, id, 'stopped');
    const cg = stateRecord(b, id).cgroup;
    if (unified) t.truthy(cg, 'on a host with cgroup2 the container has a cgroup');
    if (cg) t.true(fs.existsSync(cg.dir), `the stopped container's cgroup ${cg.dir} exists before delete`);
    const r = await fast(['--root', b.root, ...forms[i], id]);
    handled(t, r, `${forms[i].join(' ')} of a stopped container`);
    t.is(r.stdout, '');
    t.is(r.stderr, '');
    t.false(fs.existsSync(path.join(b.root, id)), 'the state directory is gone');
    for (const dir of cg ? [cg.dir, ...cg.created] : []) t.false(fs.existsSync(dir), `cgroup ${dir} is gone`);
    const after = await b.tsrun(['state', id], { env: JS_ENV });
    t.true(after.stderr.includes('container does not exist'), after.stderr);
  }
  for (const form of [
    ['delete', '--force'],
    ['delete', '-f'],
  ]) {
    const missing = b.newId('missing');
    const before = fs.readdirSync(b.root).sort();
    const r = await fast(['--root', b.root, ...form, missing]);
    handled(t, r, `${form.join(' ')} of a missing id`);
    t.is(r.stdout, '');
    t.is(r.stderr, '');
    t.deepEqual(fs.readdirSync(b.root).sort(), before, 'nothing made in the root');
  }
});

rootTest(
  'without a private PID namespace: kill TERM is handled, KILL falls back (the JS verb kills the cgroup), delete of the stopped container is handled',
  async (t) => {
    const b = await signalsBundle(t, (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'pid');
    });
    const c = await running(t, b);
    await fallbackCase(t, b, b.id, ['--root', b.root, 'kill', b.id, 'KILL']);
    await fallbackCase(t, b, b.id, ['--root', b.root, 'kill', b.id, '9']);
    handled(t, await fast(['--root', b.root, 'kill', b.id, 'TERM']), 'kill TERM');
    await waitJsStatus(b, b.id, 'stopped');
    t.deepEqual(
      signalsSeen(b, c).map((e) => e.signal),
      ['SIGTERM'],
    );
    const cg = stateRecord(b, b.id).cgroup;
    handled(t, await fast(['--root', b.root, 'delete', b.id]), 'delete of a stopped container whose cgroup is empty');
    t.false(fs.existsSync(path.join(b.root, b.id)));
    if (cg) t.false(fs.existsSync(cg.dir), `cgroup ${cg.dir} is gone`);
  },
);

cgroupTest('delete falls back while processes outlive the init (own cgroup, no private PID namespace, populated)', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'pid');
    s.process!.args = ['sh', '-c', 'probe sleep 300 </dev/null >/dev/null 2>&1 & exit 0'];
  });
  await create(t, b);
  ok(t, await b.tsrun(['start', b.id], { env: JS_ENV }), 'start');
  await waitJsStatus(b, b.id, 'stopped');
  const cg = stateRecord(b, b.id).cgroup!;
  t.regex(fs.readFileSync(path.join(cg.dir, 'cgroup.events'), 'utf8'), /^populated 1$/m, 'the background process is still in the cgroup');
  const left = fs.readFileSync(path.join(cg.dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  await fallbackCase(t, b, b.id, ['--root', b.root, 'delete', b.id]);
  await fallbackCase(t, b, b.id, ['--root', b.root, 'delete', '--force', b.id]);
  ok(t, await b.tsrun(['delete', '--force', b.id], { env: JS_ENV }), 'the JS delete --force');
  t.false(fs.existsSync(cg.dir));
  for (const pid of left) await waitFor(() => (procStat(pid)?.state ?? 'Z') === 'Z', { what: `leftover ${pid} to die` });
});

cgroupTest(
  'a nested cgroupsPath: the record lists every directory tsrun made; state under a frozen ancestor matches the JS CLI; delete removes them innermost first',
  async (t) => {
    const top = `/tsrun-fast-${process.pid}-${randomBytes(4).toString('hex')}`;
    const b = await signalsBundle(t, (s) => {
      s.linux!.cgroupsPath = `${top}/mid/ctr`;
    });
    const outer = path.join(unified!, top);
    // Thawed before the bundle's teardown (ava runs teardowns last-registered first), so a failure
    // midway never leaves delete --force waiting on a frozen cgroup.
    t.teardown(() => {
      if (fs.existsSync(outer)) fs.writeFileSync(path.join(outer, 'cgroup.freeze'), '0');
    });
    const c = await running(t, b);
    const cg = stateRecord(b, b.id).cgroup!;
    const dirs = [outer, path.join(outer, 'mid'), path.join(outer, 'mid/ctr')];
    t.deepEqual(cg.created, dirs, 'tsrun made the three directories, outermost first');
    t.deepEqual(parseRecord(fs.readFileSync(recordFile(b, b.id))).keys.get('created'), dirs);
    fs.writeFileSync(path.join(outer, 'cgroup.freeze'), '1');
    await waitFor(() => /^frozen 1$/m.test(fs.readFileSync(path.join(cg.dir, 'cgroup.events'), 'utf8')), { what: 'the container frozen by its ancestor' });
    const js = JSON.parse(await stateParity(t, b, b.id, (await jsState(b, b.id))!.status as string)) as { status: string };
    t.log(`a container frozen by an ancestor is "${js.status}" to both`);
    fs.writeFileSync(path.join(outer, 'cgroup.freeze'), '0');
    await waitFor(() => /^frozen 0$/m.test(fs.readFileSync(path.join(cg.dir, 'cgroup.events'), 'utf8')), { what: 'the container thawed' });
    handled(t, await fast(['--root', b.root, 'kill', b.id]), 'kill');
    await waitJsStatus(b, b.id, 'stopped');
    t.deepEqual(
      signalsSeen(b, c).map((e) => e.signal),
      ['SIGTERM'],
    );
    handled(t, await fast(['--root', b.root, 'delete', b.id]), 'delete');
    for (const d of dirs) t.false(fs.existsSync(d), `${d} is gone`);
    t.false(fs.existsSync(path.join(b.root, b.id)));
  },
);

rootTest('delete through the front removes a state directory with a subdirectory (the notify dir of a create under NOTIFY_SOCKET)', async (t) => {
  const b = await signalsBundle(t);
  const c = await b.tsrun(['create', '--bundle', b.dir, b.id], { env: { ...JS_ENV, NOTIFY_SOCKET: path.join(b.dir, 'host-notify.sock') } });
  ok(t, c, 'create under NOTIFY_SOCKET');
  const notifyDir = path.join(b.root, b.id, 'notify');
  t.true(fs.statSync(notifyDir).isDirectory(), 'the create made the notify dir');
  ok(t, await b.tsrun(['start', b.id], { env: JS_ENV }), 'start without NOTIFY_SOCKET');
  await waitReady(b, c);
  handled(t, await fast(['--root', b.root, 'kill', b.id, 'KILL']), 'kill KILL');
  await waitJsStatus(b, b.id, 'stopped');
  const r = await fast(['--root', b.root, 'delete', b.id]);
  handled(t, r, 'delete');
  t.is(r.stderr, '');
  t.false(fs.existsSync(path.join(b.root, b.id)), 'the state directory and its notify dir are gone');
});

rootTest('a large state: a 200 KB annotation is printed whole by the front; past the record limit (1 MiB) the front falls back', async (t) => {
  const b = await signalsBundle(t, (s) => {
    s.annotations = { 'org.example.big': 'x'.repeat(200_000) + '\u00e9' };
  });
  await create(t, b);
  const out = await stateParity(t, b, b.id, 'created');
  t.true(out.length > 200_000, 'the whole state was printed');
  const big = b.newId('huge');
  b.spec.annotations = { 'org.example.huge': 'y'.repeat(1_200_000) };
  b.writeSpec();
  await create(t, b, big);
  await fallbackCase(t, b, big, ['--root', b.root, 'state', big]);
  const st = await stateParityThroughLauncher(b, big);
  t.is(st.code, 0, st.stderr);
  t.is((JSON.parse(st.stdout) as { annotations: Record<string, string> }).annotations['org.example.huge'].length, 1_200_000);
});

/** A stopped container whose state directory is deeper than the front walks (it removes state.json last, for the JS CLI). */
async function undeletable(t: ExecutionContext, b: Bundle, id: string): Promise<void> {
  await create(t, b, id);
  ok(t, await b.tsrun(['start', id], { env: JS_ENV }), `start ${id}`);
  await waitJsStatus(b, id, 'stopped');
  fs.mkdirSync(path.join(b.root, id, ...Array<string>(12).fill('d')), { recursive: true });
}

const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/** The one logrus line of a log: its msg, after checking the line's shape in the format. */
function logrusMsg(t: ExecutionContext, log: string, format: 'json' | 'text'): string | undefined {
  const lines = fs.readFileSync(log, 'utf8').split('\n').filter(Boolean);
  t.is(lines.length, 1, `one line: ${JSON.stringify(lines)}`);
  try {
    if (format === 'json') {
      const o = JSON.parse(lines[0]) as Record<string, unknown>;
      t.deepEqual(Object.keys(o).sort(), ['level', 'msg', 'time']);
      t.is(o.level, 'error');
      t.regex(String(o.time), RFC3339);
      return String(o.msg);
    }
    const m = /^time="([^"]+)" level=error msg=(".*")$/.exec(lines[0]);
    if (!m) throw new Error('not time="…" level=error msg="…"');
    t.regex(m[1], RFC3339);
    // logrus quotes with Go's %q: JSON's string escaping for what a message holds.
    return JSON.parse(m[2]) as string;
  } catch (err) {
    t.fail(`not a logrus ${format} line (${(err as Error).message}): ${JSON.stringify(lines[0])}`);
    return undefined;
  }
}

rootTest(
  'an error after a side effect (a state directory the front cannot empty) is a logrus line in the --log-format, exit 1; the JS CLI then finishes the delete',
  async (t) => {
    const b = await makeBundle(t, (s) => {
      s.process!.args = ['probe', 'exit', '0'];
    });
    for (const format of ['json', 'text'] as const) {
      const id = b.newId(format);
      await undeletable(t, b, id);
      const log = path.join(b.dir, `error-${format}.log`);
      const r = await fast(['--root', b.root, '--log', log, '--log-format', format, 'delete', id]);
      handled(t, r, `delete (${format} log) of a state directory it cannot empty`, 1);
      t.true(r.stderr.includes(id), `the error is on stderr too: ${JSON.stringify(r.stderr)}`);
      const msg = logrusMsg(t, log, format);
      t.true(msg?.includes(id), `the message names the container's directory: ${msg}`);
      t.log(`${format}: ${msg}`);
      t.true(fs.existsSync(path.join(b.root, id, 'state.json')), 'state.json stays for the JS CLI');
      // Whatever order the directory lists its entries in (tmpfs here, another filesystem in the VM).
      t.false(fs.existsSync(path.join(b.root, id, 'fast')), 'the record went first: a retry is the JS CLI’s');
      ok(t, await b.tsrun(['delete', id], { env: FRONT_ENV }), 'delete through the launcher finishes it');
      t.false(fs.existsSync(path.join(b.root, id)));
    }
  },
);

rootTest('the error line is exact: control characters of the path escaped (a --root with a tab), and no cause the directory does not have', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'exit', '0'];
  });
  const oddRoot = path.join(path.dirname(b.root), 'root\twith "quote"');
  fs.symlinkSync('state', oddRoot);
  for (const format of ['json', 'text'] as const) {
    const id = b.newId(format);
    await undeletable(t, b, id);
    const log = path.join(b.dir, `error-${format}.log`);
    handled(t, await fast(['--root', oddRoot, '--log', log, '--log-format', format, 'delete', id]), `delete (${format} log)`, 1);
    const msg = logrusMsg(t, log, format);
    t.true(msg?.includes(path.join(oddRoot, id)), `the ${format} message names the directory, tab and quotes included`);
    // The directory is there (state.json with it): a stale errno must not be given as the cause.
    t.true(fs.existsSync(path.join(b.root, id, 'state.json')));
    t.false(/no such file or directory/i.test(msg ?? ''), `the ${format} message blames a missing file: ${msg}`);
    ok(t, await b.tsrun(['delete', id], { env: JS_ENV }), 'the JS CLI finishes the delete');
  }
});

// ---------------------------------------------------------------------------------------------
// 3. What the front leaves to the JS CLI, changing nothing.

rootTest('fallbacks for the command line: verbs, flags, argument counts, ids, a missing container, a caller who is not root', async (t) => {
  const b = await signalsBundle(t);
  await running(t, b);
  const id = b.id;
  const R = ['--root', b.root];
  // Bait for an id that climbs out of the root: a valid record of a running container there.
  const rootParent = path.dirname(b.root);
  fs.mkdirSync(path.join(rootParent, 'x'), { mode: 0o711 });
  fs.copyFileSync(recordFile(b, id), path.join(rootParent, 'x', 'fast'));
  fs.copyFileSync(recordFile(b, id), path.join(rootParent, 'fast'));
  handled(t, await fast([...R, 'state', id]), 'state of the running container (the cases below differ from it in one thing)');
  const missing = b.newId('missing');
  const cases: string[][] = [
    [...R, 'pause', id],
    [...R, 'ps', id],
    [...R, 'State', id],
    ['--debug', ...R, 'state', id],
    [...R, '--debug', 'state', id],
    ['--bogus', ...R, 'state', id],
    [...R, '--log-format', 'xml', 'state', id],
    [...R, 'kill', '--all', id, 'TERM'],
    [...R, 'kill', '-a', id, 'TERM'],
    [...R, 'kill', id, 'SIGFOO'],
    [...R, 'kill', id, 'rtmin+31'],
    [...R, 'kill', id, '65'],
    [...R, 'state', '--format', 'json', id],
    [...R, 'state'],
    [...R, 'state', id, 'extra'],
    [...R, 'kill', id, 'TERM', 'extra'],
    [...R, 'start'],
    [...R, 'start', id],
    [...R, 'delete', id],
    [...R, 'state', '../x'],
    [...R, 'state', '..'],
    [...R, 'state', '.'],
    [...R, 'state', ''],
    [...R, 'state', `${id}/`],
    [...R, 'state', missing],
    // The log is opened (made) first, as by the JS CLI, and closed by the exec.
    [...R, '--log', path.join(b.dir, 'fallback.log'), '--log-format', 'json', 'state', missing],
    [...R, 'kill', missing, 'KILL'],
    [...R, 'start', missing],
    [...R, 'delete', missing],
  ];
  for (const args of cases) await fallbackCase(t, b, id, args);
  t.false(fs.existsSync(path.join(b.root, missing)), 'no directory was made for the missing id');
  // A caller who is not root (the front runs as whoever calls it), from a copy it can reach
  // wherever the package is installed (the front is static).
  const bin = path.join(b.dir, 'front', 'tsrun-fast');
  fs.mkdirSync(path.dirname(bin), { mode: 0o755 });
  fs.chmodSync(b.dir, 0o755);
  fs.copyFileSync(FAST_BIN, bin);
  fs.chmodSync(bin, 0o755);
  await fallbackCase(t, b, id, [...R, 'state', id], { uid: 65534, gid: 65534, bin });
  t.is((await jsState(b, id))?.status, 'running', 'the container still runs');
});

rootTest('fallbacks for the record: missing, a symlink, a directory, another version, not owned by root, cut short', async (t) => {
  const b = await signalsBundle(t);
  await create(t, b);
  const id = b.id;
  const file = recordFile(b, id);
  const original = fs.readFileSync(file);
  const verbs = [
    ['--root', b.root, 'state', id],
    ['--root', b.root, 'kill', id, 'sigusr1'],
    ['--root', b.root, 'start', id],
  ];
  const tamper: [string, () => void, () => void][] = [
    ['missing', () => fs.renameSync(file, `${file}.real`), () => fs.renameSync(`${file}.real`, file)],
    [
      'a symlink to a valid record',
      () => {
        fs.renameSync(file, `${file}.real`);
        fs.symlinkSync('fast.real', file);
      },
      () => {
        fs.unlinkSync(file);
        fs.renameSync(`${file}.real`, file);
      },
    ],
    [
      'a directory',
      () => {
        fs.renameSync(file, `${file}.real`);
        fs.mkdirSync(file, { mode: 0o700 });
      },
      () => {
        fs.rmdirSync(file);
        fs.renameSync(`${file}.real`, file);
      },
    ],
    [
      'of version 2',
      () => replaceFile(file, Buffer.concat([Buffer.from('tsrun-fast 2'), original.subarray('tsrun-fast 1'.length)])),
      () => replaceFile(file, original),
    ],
    ['with no version line', () => replaceFile(file, original.subarray(original.indexOf(0x0a) + 1)), () => replaceFile(file, original)],
    ['owned by uid 65534', () => fs.chownSync(file, 65534, 65534), () => fs.chownSync(file, 0, 0)],
    ['cut short in its tail block', () => replaceFile(file, original.subarray(0, original.length - 3)), () => replaceFile(file, original)],
    ['empty', () => replaceFile(file, ''), () => replaceFile(file, original)],
  ];
  for (const [what, change, restore] of tamper) {
    change();
    try {
      for (const args of verbs) await fallbackCase(t, b, id, args);
    } finally {
      restore();
    }
    t.log(`record ${what}: every verb fell back`);
    // The restored record is handled again: the fallback above came from the change alone.
    handled(t, await fast(['--root', b.root, 'state', id]), `state once the record (${what}) is restored`);
  }
  t.is((await jsState(b, id))?.status, 'created', 'the container is still created');
});

rootTest('fallbacks by state: kill of a stopped container, a created one with a signal that ends its parked init, start with NOTIFY_SOCKET', async (t) => {
  const b = await signalsBundle(t);
  const c = await create(t, b);
  const R = ['--root', b.root];
  for (const sig of [undefined, 'SIGTERM', 'term', '15', 'HUP', 'INT', 'QUIT'])
    await fallbackCase(t, b, b.id, [...R, 'kill', b.id, ...(sig === undefined ? [] : [sig])]);
  await fallbackCase(t, b, b.id, [...R, 'start', b.id], { env: { NOTIFY_SOCKET: path.join(b.dir, 'notify.sock') } });
  await fallbackCase(t, b, b.id, [...R, 'delete', b.id]);
  t.is(b.output(c), '', 'the process has not run');
  t.is((await jsState(b, b.id))?.status, 'created');

  const stopped = b.newId('stopped');
  await running(t, b, stopped);
  ok(t, await b.tsrun(['kill', stopped, 'KILL'], { env: JS_ENV }), 'kill KILL');
  await waitJsStatus(b, stopped, 'stopped');
  for (const args of [
    ['kill', stopped, 'KILL'],
    ['kill', stopped],
    ['start', stopped],
  ])
    await fallbackCase(t, b, stopped, [...R, ...args]);
  // An image-made rootfs (the marker beside config.json) is the JS delete's to release.
  const marker = path.join(b.dir, 'tsrun-image.json');
  fs.writeFileSync(marker, '{}');
  try {
    await fallbackCase(t, b, stopped, [...R, 'delete', stopped]);
  } finally {
    fs.rmSync(marker);
  }
});

rootTest('fallbacks for hooks: start with poststart hooks, delete with poststop hooks', async (t) => {
  const b = await signalsBundle(t, (s) => {
    s.hooks = { poststart: [{ path: '/bin/true' }], poststop: [{ path: '/bin/true' }] };
  });
  const c = await create(t, b);
  const rec = parseRecord(fs.readFileSync(recordFile(b, b.id)));
  t.deepEqual(rec.keys.get('poststart'), ['1']);
  t.deepEqual(rec.keys.get('poststop'), ['1']);
  await fallbackCase(t, b, b.id, ['--root', b.root, 'start', b.id]);
  t.is(b.output(c), '', 'the process has not run');
  ok(t, await b.tsrun(['start', b.id], { env: JS_ENV }), 'start (JS, runs the poststart hook)');
  await waitReady(b, c);
  handled(t, await fast(['--root', b.root, 'kill', b.id, 'KILL']), 'kill of a running container with hooks');
  await waitJsStatus(b, b.id, 'stopped');
  await fallbackCase(t, b, b.id, ['--root', b.root, 'delete', b.id]);
  await fallbackCase(t, b, b.id, ['--root', b.root, 'delete', '-f', b.id]);
});

rootTest('a bundle path with a newline gets no record: every verb falls back, and the launcher still answers through the JS CLI', async (t) => {
  const b = await signalsBundle(t);
  const nl = path.join(b.dir, 'new\nline');
  fs.mkdirSync(nl);
  fs.writeFileSync(path.join(nl, 'config.json'), JSON.stringify({ ...b.spec, root: { ...b.spec.root, path: b.rootfs } }));
  await create(t, b, b.id, nl);
  t.true(fs.existsSync(path.join(b.root, b.id, 'state.json')));
  t.false(fs.existsSync(recordFile(b, b.id)), 'no record for a value the line format cannot carry');
  for (const args of [
    ['state', b.id],
    ['kill', b.id, 'sigusr1'],
    ['start', b.id],
  ])
    await fallbackCase(t, b, b.id, ['--root', b.root, ...args]);
  const st = await stateParityThroughLauncher(b, b.id);
  t.is(st.code, 0, st.stderr);
  t.is((JSON.parse(st.stdout) as { bundle: string }).bundle, nl);
});

async function stateParityThroughLauncher(b: Bundle, id: string): Promise<TsrunResult> {
  const js = await b.tsrun(['state', id], { env: JS_ENV });
  const launcher = await b.tsrun(['state', id], { env: FRONT_ENV });
  if (launcher.stdout !== js.stdout || launcher.code !== js.code)
    throw new Error(`state through the launcher ${JSON.stringify(launcher)} differs from TSRUN_FAST=0 ${JSON.stringify(js)}`);
  return launcher;
}

rootTest('global flags the front accepts, in every form, are handled and print what the JS CLI prints', async (t) => {
  const b = await signalsBundle(t);
  await create(t, b);
  const js = await b.tsrun(['state', b.id], { env: JS_ENV });
  ok(t, js, 'state');
  const log = path.join(b.dir, 'flags.log');
  for (const g of [
    ['--root', b.root],
    [`--root=${b.root}`],
    ['-root', b.root],
    [`-root=${b.root}`],
    ['--root', b.root, '--log', log, '--log-format', 'json'],
    ['--log-format=text', `--log=${log}`, '--root', b.root],
    ['--root', b.root, '--rootless', 'false'],
    ['--root', b.root, '--rootless=auto'],
    ['--rootless', 'true', '--root', b.root],
    ['--systemd-cgroup', '--root', b.root],
    ['--root', b.root, '--criu', '/usr/sbin/criu'],
    ['--root', b.root, '--image-root', path.join(b.dir, 'images')],
  ]) {
    const r = await fast([...g, 'state', b.id]);
    handled(t, r, `${g.join(' ')} state`);
    t.is(r.stdout, js.stdout, `${g.join(' ')} state prints the JS state`);
  }
  t.false(fs.existsSync(path.join(b.dir, 'images')), '--image-root is only a flag to state');
  // A relative --root is the caller's cwd's, for both.
  const rel = await fast(['--root', path.basename(b.root), 'state', b.id], { cwd: path.dirname(b.root) });
  handled(t, rel, 'state with a relative --root');
  t.is(rel.stdout, js.stdout);
});

rootTest('ids with every character runc allows (letters, digits, _ + . -) are handled', async (t) => {
  const b = await signalsBundle(t);
  const id = `${b.newId('chars')}_A+b.c-9`;
  const c = await create(t, b, id);
  await stateParity(t, b, id, 'created');
  handled(t, await fast(['--root', b.root, 'start', id]), 'start');
  await waitReady(b, c);
  await stateParity(t, b, id, 'running');
  handled(t, await fast(['--root', b.root, 'kill', id, 'KILL']), 'kill');
  await waitJsStatus(b, id, 'stopped');
  handled(t, await fast(['--root', b.root, 'delete', id]), 'delete');
  t.false(fs.existsSync(path.join(b.root, id)));
});

// ---------------------------------------------------------------------------------------------
// 4. Through bin/tsrun, the launcher engines run.

for (const [mode, env] of [
  ['through the front', FRONT_ENV],
  ['with TSRUN_FAST=0', JS_ENV],
] as const) {
  rootTest(`the launcher runs create, start, state, kill, delete ${mode}`, async (t) => {
    const b = await signalsBundle(t);
    const run = (args: string[]) => b.tsrun(args, { env });
    const c = await run(['create', '--bundle', b.dir, b.id]);
    ok(t, c, 'create');
    const st = await run(['state', b.id]);
    ok(t, st, 'state');
    t.is((JSON.parse(st.stdout) as { status: string }).status, 'created');
    ok(t, await run(['start', b.id]), 'start');
    await waitReady(b, c);
    t.is((await jsState(b, b.id))?.status, 'running');
    const again = await run(['start', b.id]);
    t.not(again.code, 0);
    t.true(again.stderr.includes('cannot start an already running container'), again.stderr);
    const refused = await run(['delete', b.id]);
    t.true(refused.stderr.includes(`cannot delete container ${b.id} that is not stopped: running`), refused.stderr);
    ok(t, await run(['kill', b.id, 'USR1']), 'kill USR1');
    await waitFor(() => signalsSeen(b, c).length === 1, { what: 'the init to report SIGUSR1' });
    ok(t, await run(['kill', b.id]), 'kill');
    await waitJsStatus(b, b.id, 'stopped');
    t.deepEqual(
      signalsSeen(b, c).map((e) => e.signal),
      ['SIGUSR1', 'SIGTERM'],
    );
    const dead = await run(['kill', b.id, 'KILL']);
    t.true(dead.stderr.includes('container not running'), dead.stderr);
    ok(t, await run(['delete', b.id]), 'delete');
    t.false(fs.existsSync(path.join(b.root, b.id)));
    const gone = await run(['state', b.id]);
    t.true(gone.stderr.includes('container does not exist'), gone.stderr);
    ok(t, await run(['delete', '--force', b.id]), 'delete --force of the deleted id');
  });
}

rootTest(
  'racing calls through the launcher: of three starts exactly one wins (the process runs once); of four deletes of the stopped container the plain ones that lose say it does not exist and the --force ones succeed',
  async (t) => {
    const b = await signalsBundle(t);
    const c = await create(t, b);
    const starts = await Promise.all([0, 1, 2].map(() => b.tsrun(['start', b.id], { env: FRONT_ENV })));
    t.is(starts.filter((r) => r.code === 0).length, 1, starts.map((r) => r.stderr).join(' | '));
    for (const r of starts.filter((x) => x.code !== 0)) t.true(r.stderr.includes('cannot start an already running container'), r.stderr);
    await waitReady(b, c);
    t.is(parseProbeLines<ProbeSignalsReady>(b.output(c)).filter((l) => 'ready' in l).length, 1, 'the process ran once');
    ok(t, await b.tsrun(['kill', b.id, 'KILL'], { env: FRONT_ENV }), 'kill');
    await waitJsStatus(b, b.id, 'stopped');
    const deletes = await Promise.all([['delete'], ['delete'], ['delete', '--force'], ['delete', '-f']].map((v) => b.tsrun([...v, b.id], { env: FRONT_ENV })));
    const plain = deletes.slice(0, 2);
    t.true(
      deletes.slice(2).every((r) => r.code === 0),
      `delete --force always succeeds: ${deletes
        .slice(2)
        .map((r) => r.stderr)
        .join(' | ')}`,
    );
    for (const r of plain.filter((x) => x.code !== 0)) t.true(r.stderr.includes('container does not exist'), r.stderr);
    t.false(fs.existsSync(path.join(b.root, b.id)));
  },
);

rootTest('the launcher answers state from the record (an edited template shows), TSRUN_FAST=0 from state.json', async (t) => {
  const b = await signalsBundle(t);
  await create(t, b);
  const file = recordFile(b, b.id);
  const original = fs.readFileSync(file);
  const rec = parseRecord(original);
  const head = Buffer.from(rec.head.toString('utf8').replace('"ociVersion": "', '"ociVersion": "edited-'));
  t.not(head.length, rec.head.length, 'the template was edited');
  const lines = original.subarray(0, original.indexOf('\nhead ') + 1);
  replaceFile(file, Buffer.concat([lines, Buffer.from(`head ${head.length}\n`), head, Buffer.from(`tail ${rec.tail.length}\n`), rec.tail]));
  try {
    const viaFront = await b.tsrun(['state', b.id], { env: FRONT_ENV });
    ok(t, viaFront, 'state through the launcher');
    t.is((JSON.parse(viaFront.stdout) as { ociVersion: string }).ociVersion, `edited-${b.spec.ociVersion}`, 'the launcher ran the front');
    const viaJs = await b.tsrun(['state', b.id], { env: JS_ENV });
    t.is((JSON.parse(viaJs.stdout) as { ociVersion: string }).ociVersion, b.spec.ociVersion, 'TSRUN_FAST=0 skipped it');
  } finally {
    replaceFile(file, original);
  }
});

rootTest('--log FILE --log-format json on handled verbs: the file is made 0644 as by the JS CLI, and stays empty on success', async (t) => {
  const b = await signalsBundle(t);
  const c = await create(t, b);
  const logFront = path.join(b.dir, 'front.log');
  const logJs = path.join(b.dir, 'js.log');
  const logDirect = path.join(b.dir, 'direct.log');
  ok(t, await b.tsrun(['--log', logFront, '--log-format', 'json', 'state', b.id], { env: FRONT_ENV }), 'state with --log (launcher)');
  ok(t, await b.tsrun(['--log', logJs, '--log-format', 'json', 'state', b.id], { env: JS_ENV }), 'state with --log (TSRUN_FAST=0)');
  const direct = await fast(['--root', b.root, '--log', logDirect, '--log-format', 'json', 'start', b.id]);
  handled(t, direct, 'start with --log');
  await waitReady(b, c);
  handled(t, await fast(['--root', b.root, '--log', logDirect, '--log-format', 'json', 'kill', b.id, 'sigusr1']), 'kill with --log');
  handled(t, await fast(['--root', b.root, '--log', logDirect, '--log-format', 'json', 'state', b.id]), 'state with --log');
  const mode = (f: string) => fs.statSync(f).mode & 0o7777;
  t.is(mode(logJs), 0o644 & ~currentUmask(), 'the JS CLI makes the log 0644 (less the umask)');
  for (const f of [logFront, logDirect]) {
    const st = fs.lstatSync(f);
    t.true(st.isFile(), `${f} is a regular file`);
    t.is(mode(f), mode(logJs), `${path.basename(f)} has the JS CLI's mode`);
    t.is(st.size, 0, `${path.basename(f)} is empty after calls that succeeded`);
  }
  t.is(fs.statSync(logJs).size, 0);
});

function currentUmask(): number {
  const m = /^Umask:\s+([0-7]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? parseInt(m[1], 8) : 0o022;
}

// ---------------------------------------------------------------------------------------------
// 5. The record TypeScript writes.

rootTest('the record: 0600 regular root file after create, its lines agree with state.json, its blocks make the JS state', async (t) => {
  const b = await signalsBundle(t);
  const c = await create(t, b);
  const file = recordFile(b, b.id);
  const st = fs.lstatSync(file);
  t.true(st.isFile(), 'a regular file');
  t.is(st.mode & 0o7777, 0o600);
  t.is(st.uid, 0);
  const rec = parseRecord(fs.readFileSync(file));
  const state = stateRecord(b, b.id);
  const one = (k: string) => {
    const v = rec.keys.get(k);
    t.is(v?.length, 1, `one "${k}" line`);
    return v?.[0];
  };
  t.is(one('pid'), String(state.pid));
  t.is(one('start'), procStat(state.pid)?.startTime, 'the init’s start time');
  t.is(one('privatepid'), '1');
  t.is(one('bundle'), b.dir);
  t.is(one('poststart'), '0');
  t.is(one('poststop'), '0');
  if (state.cgroup) {
    t.is(one('cgroup'), 'fs');
    t.is(one('cgroupdir'), state.cgroup.dir);
    t.deepEqual(rec.keys.get('created') ?? [], state.cgroup.created, 'the cgroup directories tsrun made, outermost first');
    t.is(one('owncgroup'), state.cgroup.created.includes(state.cgroup.dir) ? '1' : '0');
  } else {
    t.is(one('cgroup'), 'none');
    t.is(one('owncgroup'), '0');
  }
  for (const [status, pid] of [
    ['created', state.pid],
    ['stopped', 0],
  ] as const) {
    const text = stateFromRecord(rec, pid, status);
    t.notThrows(() => JSON.parse(text), `the ${status} state from the record is JSON`);
    t.like(JSON.parse(text), { status, pid, id: b.id, bundle: b.dir });
  }
  const js = await b.tsrun(['state', b.id], { env: JS_ENV });
  t.is(stateFromRecord(rec, state.pid, 'created'), js.stdout, 'head, pid, status and tail are the JS state byte for byte');
  ok(t, await b.tsrun(['start', b.id], { env: JS_ENV }), 'start');
  await waitReady(b, c);
  const after = parseRecord(fs.readFileSync(file));
  const jsRunning = await b.tsrun(['state', b.id], { env: JS_ENV });
  t.is(stateFromRecord(after, state.pid, 'running'), jsRunning.stdout, 'and once running');
});
