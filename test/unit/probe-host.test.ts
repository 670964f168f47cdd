// Builds the test rootfs (and with it the probe) and runs the probe directly on the host, where
// Node can see the same facts independently. No root needed.
import test from 'ava';
import { spawn, type StdioOptions } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import { openSync, closeSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ensureTestRootfs,
  parseProbeOutput,
  parseProbeJson,
  parseProbeLines,
  PROBE_PATH_IN_ROOTFS,
  PROBE_SECTIONS,
  type ProbeForkOutput,
  type ProbeOpenOutput,
  type ProbeStatOutput,
  type ProbeSysctlOutput,
  type ProbeWriteOutput,
  type ProbeSignalEvent,
  type ProbeReport,
} from '../helpers/rootfs.js';

interface Run {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  pid: number;
}

async function probePath(): Promise<string> {
  return path.join(await ensureTestRootfs(), PROBE_PATH_IN_ROOTFS);
}

async function runProbe(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; stdio?: StdioOptions; file?: string } = {}): Promise<Run> {
  const child = spawn(opts.file ?? (await probePath()), args, {
    cwd: opts.cwd,
    env: opts.env ?? {},
    stdio: opts.stdio ?? ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  const [code, signal] = (await once(child, 'close')) as [number | null, string | null];
  return { code, signal, stdout, stderr, pid: child.pid! };
}

function statusField(name: string): string {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no ${name} in /proc/self/status`);
  return line.slice(name.length + 1).trim();
}

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'tsrun-probe-test-')));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

test('probe all on the host reports what Node sees', async (t) => {
  const dir = await tempDir(t);
  const fdFile = path.join(dir, 'given-as-fd-3');
  const fd = openSync(fdFile, 'w');
  t.teardown(() => closeSync(fd));
  const mark = 'quote" back\\slash\nnewline \u0001 tab\t é ✓ 🐧';
  const before = Number(process.hrtime.bigint()) / 1e9;
  const r = await runProbe(['all'], { cwd: dir, env: { PROBE_MARK: mark }, stdio: ['ignore', 'pipe', 'pipe', fd] });
  const after = Number(process.hrtime.bigint()) / 1e9;
  t.is(r.code, 0, r.stderr);
  const report: ProbeReport = parseProbeOutput(r.stdout);

  t.deepEqual(Object.keys(report), [...PROBE_SECTIONS, 'errors'], 'keys in canonical order');
  t.is(report.pid, r.pid);
  t.is(report.ppid, process.pid);
  t.is(report.ids.uid, process.getuid!());
  t.is(report.ids.euid, process.geteuid!());
  t.is(report.ids.gid, process.getgid!());
  // Not process.getgroups(): Node adds the egid to that list; status shows the kernel's list.
  t.deepEqual(report.ids.groups, statusField('Groups').split(/\s+/).filter(Boolean).map(Number));
  t.is(report.cwd, dir);
  t.is(report.uts?.hostname, os.hostname());
  t.is(report.umask, parseInt(statusField('Umask'), 8));
  t.deepEqual(report.env, [`PROBE_MARK=${mark}`]);
  t.deepEqual(report.argv, [await probePath(), 'all']);

  const given = report.fds.find((f) => f.fd === 3);
  t.deepEqual(given, { fd: 3, target: fdFile, cloexec: false, access: 'w' });
  // Besides fds 0-3, a child inherits whatever Node itself holds without O_CLOEXEC (fdinfo(5)).
  const inherited = readdirSync('/proc/self/fd')
    .map(Number)
    .filter((n) => n > 3)
    .filter((n) => {
      try {
        return (parseInt(/^flags:\s+(\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${n}`, 'utf8'))![1], 8) & 0o2000000) === 0;
      } catch {
        return false; // the fd that listed the directory is already gone
      }
    });
  t.deepEqual(
    report.fds.map((f) => f.fd),
    [0, 1, 2, 3, ...inherited.sort((a, b) => a - b)],
  );

  // Bounding set is inherited unchanged across fork and execve (capabilities(7)).
  t.is(report.caps.bounding.hex, statusField('CapBnd').padStart(16, '0'));
  t.true(report.caps.bounding.names.every((n) => n.startsWith('CAP_')));
  t.is(report.caps.bounding.names.length, BigInt(`0x${report.caps.bounding.hex}`).toString(2).replace(/0/g, '').length);
  t.is(report.noNewPrivs, statusField('NoNewPrivs') === '1');
  t.is(report.seccomp.mode, Number(statusField('Seccomp')));

  for (const ns of ['mnt', 'pid', 'net', 'uts', 'ipc', 'user', 'cgroup'] as const) {
    const ino = Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/self/ns/${ns}`))![1]);
    t.is(report.namespaces[ns], ino, `${ns} namespace`);
  }
  const nofile = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))!;
  const limit = (s: string) => (s === 'unlimited' ? -1 : Number(s));
  t.deepEqual(report.rlimits.RLIMIT_NOFILE, { soft: limit(nofile[1]), hard: limit(nofile[2]) });
  t.is(Object.keys(report.rlimits).length, 16);

  t.true(
    report.clocks.monotonic! >= before - 0.001 && report.clocks.monotonic! <= after + 0.001,
    `monotonic ${report.clocks.monotonic} within [${before}, ${after}]`,
  );
  t.true(report.clocks.boottime! >= report.clocks.monotonic!);

  const rootLine = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[4] === '/')!;
  const rootMount = report.mounts!.find((m) => m.id === Number(rootLine.split(' ')[0]));
  t.is(rootMount?.mountPoint, '/');
  t.is(rootMount?.fstype, rootLine.split(' - ')[1].split(' ')[0]);
  t.true(report.mounts!.some((m) => m.mountPoint === '/proc' && m.fstype === 'proc'));

  const devNull = report.dev.find((d) => d.path === '/dev/null');
  t.like(devNull, { type: 'char', major: 1, minor: 3, mode: 0o666 });
  t.like(report.paths['/proc/sys'], { statErrno: null, openErrno: null, head: null });
  t.true(report.paths['/proc/sys'].entries! > 0);
  t.is(report.oomScoreAdj, Number(readFileSync('/proc/self/oom_score_adj', 'utf8')));
  for (const key of ['ids.groups', 'cwd', 'uts', 'fds', 'mounts', 'caps.capget']) t.false(key in report.errors, key);
});

test('strings that are not valid UTF-8 still give valid JSON', async (t) => {
  const dir = await tempDir(t);
  const name = Buffer.concat([Buffer.from(`${dir}/bad-`), Buffer.from([0xff, 0xc0, 0x41]), Buffer.from('-name')]);
  const fd = openSync(name, 'w');
  t.teardown(() => closeSync(fd));
  const r = await runProbe(['fds'], { stdio: ['ignore', 'pipe', 'pipe', fd] });
  t.is(r.code, 0, r.stderr);
  const { fds } = parseProbeJson<Pick<ProbeReport, 'fds'>>(r.stdout);
  t.is(fds.find((f) => f.fd === 3)?.target, `${dir}/bad-\ufffd\ufffdA-name`);
});

test('sections can be selected and keep the canonical order', async (t) => {
  const r = await runProbe(['uts', 'pid', 'uts']);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(Object.keys(parseProbeJson(r.stdout)), ['pid', 'uts', 'errors']);
  const bad = await runProbe(['no-such-section']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /unknown command or section 'no-such-section'/);
  t.throws(() => parseProbeOutput('{"pid":1}'), { message: /lacks the "ppid" section/ });
});

test('action subcommands', async (t) => {
  const dir = await tempDir(t);
  t.is((await runProbe(['exit', '7'])).code, 7);
  t.is((await runProbe(['exit', 'seven'])).code, 2, 'usage error, not exit 0');
  t.is((await runProbe(['sleep', 'soon'])).code, 2);
  t.is((await runProbe(['echo', 'a b', 'c'])).stdout, 'a b c\n');

  const file = path.join(dir, 'written');
  const w = await runProbe(['write-file', file, 'payload\n']);
  t.is(w.code, 0);
  t.deepEqual(parseProbeJson<ProbeWriteOutput>(w.stdout), { path: file, ok: true, errno: null, bytes: 8 });
  t.is(await fs.readFile(file, 'utf8'), 'payload\n');
  t.is((await runProbe(['cat', file])).stdout, 'payload\n');
  const wFail = await runProbe(['write-file', path.join(dir, 'missing/x'), 'y']);
  t.is(wFail.code, 1);
  t.like(parseProbeJson<ProbeWriteOutput>(wFail.stdout), { ok: false, errno: 'ENOENT' });

  const o = await runProbe(['open', path.join(dir, 'nope'), 'O_RDONLY']);
  t.deepEqual(parseProbeJson<ProbeOpenOutput>(o.stdout), { path: path.join(dir, 'nope'), flags: 0, ok: false, errno: 'ENOENT' });
  const oDir = await runProbe(['open', dir, 'w']);
  t.like(parseProbeJson<ProbeOpenOutput>(oDir.stdout), { ok: false, errno: 'EISDIR' });
  t.is((await runProbe(['open', dir, 'O_BOGUS'])).code, 2);

  const f = await runProbe(['fork', '3']);
  t.deepEqual(parseProbeJson<ProbeForkOutput>(f.stdout), { requested: 3, succeeded: 3, failed: 0, errno: null });

  const s = parseProbeJson<ProbeSysctlOutput>((await runProbe(['sysctl', 'kernel.ostype', 'kernel.no_such'])).stdout);
  t.deepEqual(s, { sysctl: { 'kernel.ostype': 'Linux', 'kernel.no_such': null }, errors: { 'sysctl:kernel.no_such': 'ENOENT' } });

  const st = parseProbeJson<ProbeStatOutput>((await runProbe(['stat', '/dev/null', path.join(dir, 'nope')])).stdout);
  t.like(st.paths['/dev/null'], { statErrno: null, stat: { type: 'char', major: 1, minor: 3 }, head: '' });
  t.like(st.paths[path.join(dir, 'nope')], { statErrno: 'ENOENT', stat: null, openErrno: 'ENOENT' });

  const started = Date.now();
  t.is((await runProbe(['sleep', '0.2'])).code, 0);
  t.true(Date.now() - started >= 190);
});

test('signals reports each signal and exits 0 on SIGTERM', async (t) => {
  const child = spawn(await probePath(), ['signals'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  const closed = once(child, 'close');
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) resolve();
    });
  });
  t.deepEqual(parseProbeLines(out), [{ ready: true, pid: child.pid }]);
  child.kill('SIGUSR1');
  await new Promise<void>((resolve) =>
    child.stdout.on('data', () => {
      if (out.split('\n').length > 2) resolve();
    }),
  );
  child.kill('SIGTERM');
  const [code] = (await closed) as [number | null];
  t.is(code, 0);
  const events = parseProbeLines<ProbeSignalEvent>(out).slice(1);
  t.deepEqual(
    events.map((e) => [e.signal, e.number, e.senderPid]),
    [
      ['SIGUSR1', 10, process.pid],
      ['SIGTERM', 15, process.pid],
    ],
  );
});

test('signalState decodes inherited ignored signals', async (t) => {
  const rootfs = await ensureTestRootfs();
  // busybox sh from the rootfs sets SIGUSR1 to SIG_IGN, which execve keeps (signal(7)).
  const r = await runProbe(['-c', `trap "" USR1; exec ${rootfs}/probe signalState`], { file: path.join(rootfs, 'bin/sh') });
  t.is(r.code, 0, r.stderr);
  const { signalState } = parseProbeJson<Pick<ProbeReport, 'signalState'>>(r.stdout);
  t.true(signalState.ignored.names.includes('SIGUSR1'));
  t.is(BigInt(`0x${signalState.ignored.hex}`) & (1n << 9n), 1n << 9n);
});
