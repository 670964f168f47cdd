// The Docker-style front, issue 17's second round: start again of an exited container and restart
// (same id, name, writable layer, volumes; the log appended), a failed start again leaving the
// container exited with nothing half-made, --init as PID 1, and attach through the monitor.
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { ExecutionContext } from 'ava';
import { runCommand, TSRUN_BIN } from '../helpers/bundle.js';
import { REPO_ROOT } from '../helpers/rootfs.js';
import { needs, root, tool } from '../helpers/skip.js';
import { TIME_SCALE, waitFor } from '../helpers/wait.js';
import { frontEnv, monitorsUnder, NONE, SHIPPED } from './front-fixtures.js';

const rootTest = needs(root('namespaces, overlay mounts'));
const ptyTest = needs(root('namespaces, overlay mounts'), tool('script', 'bsdutils'));

function cgroupsNamed(id: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > 4) return;
    let names: fs.Dirent[];
    try {
      names = fs.readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const n of names) {
      if (!n.isDirectory()) continue;
      if (n.name.includes(id)) out.push(path.join(d, n.name));
      walk(path.join(d, n.name), depth + 1);
    }
  };
  walk('/sys/fs/cgroup/unified', 0);
  walk('/sys/fs/cgroup', 0);
  return out;
}

interface Inspected {
  Id: string;
  State: { Status: string; Running: boolean; Pid: number; ExitCode: number; StartedAt: string };
}

/** A process in the background: its stdout (and stderr) so far, its end; killed at teardown. */
function background(t: ExecutionContext, cmd: string, args: string[]) {
  const c = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  t.teardown(() => {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  let out = '';
  let err = '';
  c.stdout.on('data', (d: Buffer) => (out += d.toString()));
  c.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => c.on('close', (code, signal) => resolve({ code, signal })));
  return { c, out: () => out, err: () => err, done };
}

/** Writes `line` to a client until `ready()`: the client is attached once its input has an effect. */
async function typeUntil(c: { stdin: NodeJS.WritableStream }, line: string, ready: () => boolean, what: string): Promise<void> {
  await waitFor(
    async () => {
      c.stdin.write(line);
      await new Promise((res) => setTimeout(res, 100));
      return ready();
    },
    { what },
  );
}

const attachArgs = (env: { root: string; imageRoot: string }, ...args: string[]) => [
  '--root',
  env.root,
  '--image-root',
  env.imageRoot,
  'container',
  'attach',
  ...args,
];

rootTest.serial('container start again: an exited container runs again with its id, name, files, volume and log kept', async (t) => {
  const env = await frontEnv(t);
  const script = 'echo run >> /data/count; echo hi >> /kept; cat /kept | wc -l; hostname';
  const r = await env.container(['run', ...NONE, '-d', '--name', 'again', '-v', 'vol1:/data', SHIPPED, 'sh', '-c', script]);
  t.is(r.code, 0, r.stderr);
  const id = r.stdout.trim();
  t.is((await env.container(['wait', 'again'])).stdout, '0\n');
  const first = JSON.parse((await env.container(['inspect', 'again'])).stdout) as Inspected[];
  t.is(first[0].State.Status, 'exited');

  const s = await env.container(['start', 'again']);
  t.is(s.code, 0, s.stderr);
  t.is(s.stdout, 'again\n');
  t.is((await env.container(['wait', 'again'])).stdout, '0\n');
  const logs = await env.container(['logs', 'again']);
  t.is(logs.stdout, `1\n${id.slice(0, 12)}\n2\n${id.slice(0, 12)}\n`, 'the writable layer kept /kept; the log is appended; same hostname');
  const second = JSON.parse((await env.container(['inspect', 'again'])).stdout) as Inspected[];
  t.is(second[0].Id, id);
  t.true(Date.parse(second[0].State.StartedAt) >= Date.parse(first[0].State.StartedAt));

  // start -a: the new run's output only, and its exit status.
  const a = await env.container(['start', '-a', 'again']);
  t.is(a.code, 0, a.stderr);
  t.is(a.stdout, `3\n${id.slice(0, 12)}\n`);
  const vol = await env.container(['run', ...NONE, '--rm', '-v', 'vol1:/data', SHIPPED, 'cat', '/data/count']);
  t.is(vol.stdout, 'run\nrun\nrun\n', 'the named volume saw every run');
  t.is((await env.container(['rm', 'again'])).code, 0);
  t.is((await env.tsrun(['volume', 'rm', 'vol1'])).code, 0);
});

rootTest.serial('container restart: a running container is stopped and started again; a created one starts; state shows running', async (t) => {
  const env = await frontEnv(t);
  const r = await env.container(['run', ...NONE, '-d', '--name', 'rs', SHIPPED, 'sh', '-c', 'echo up; trap "exit 3" TERM; while true; do sleep 0.05; done']);
  t.is(r.code, 0, r.stderr);
  const before = JSON.parse((await env.container(['inspect', 'rs'])).stdout) as Inspected[];
  const rs = await env.container(['restart', '-t', '5', 'rs']);
  t.is(rs.code, 0, rs.stderr);
  const after = JSON.parse((await env.container(['inspect', 'rs'])).stdout) as Inspected[];
  t.is(after[0].State.Status, 'running');
  t.not(after[0].State.Pid, before[0].State.Pid, 'a new init');
  t.is(monitorsUnder(env.dir).length, 1, 'one monitor: the old one ended');
  await waitFor(async () => (await env.container(['logs', 'rs'])).stdout === 'up\nup\n', { what: 'the second run to log' });
  t.regex((await env.container(['ls'])).stdout, /Up .* rs\n/);

  // Two starts of an exited container at once: one starts it, the other finds it started or
  // being started; never two monitors.
  t.is((await env.container(['stop', '-t', '5', 'rs'])).code, 0);
  const both = await Promise.all([env.container(['start', 'rs']), env.container(['start', 'rs'])]);
  t.true(
    both.some((b) => b.code === 0),
    both.map((b) => b.stderr).join(''),
  );
  for (const b of both) if (b.code !== 0) t.regex(b.stderr, /is being started by process \d+/);
  t.is((JSON.parse((await env.container(['inspect', 'rs'])).stdout) as Inspected[])[0].State.Status, 'running');
  t.is(monitorsUnder(env.dir).length, 1, 'one monitor');

  const c = await env.container(['create', ...NONE, '--name', 'fresh', SHIPPED, 'echo', 'created then started']);
  t.is(c.code, 0, c.stderr);
  t.is((await env.container(['start', '-a', 'fresh'])).stdout, 'created then started\n');
  t.is((await env.container(['rm', '-f', 'rs', 'fresh'])).code, 0);
});

rootTest.serial(
  'a failed start again leaves the container exited as it was: no new runtime state, cgroup or monitor; image prune keeps it; it can be removed',
  async (t) => {
    const env = await frontEnv(t);
    const r = await env.container(['run', ...NONE, '-d', '--name', 'peer', SHIPPED, 'sleep', '600']);
    t.is(r.code, 0, r.stderr);
    const j = await env.container(['run', '-d', '--network', 'container:peer', '--name', 'joiner', SHIPPED, 'true']);
    t.is(j.code, 0, j.stderr);
    const id = j.stdout.trim();
    t.is((await env.container(['wait', 'joiner'])).stdout, '0\n');
    t.is((await env.container(['kill', 'peer'])).code, 0);
    t.is((await env.container(['wait', 'peer'])).stdout, '137\n');
    // Its network's container is not running: the start again fails before anything changes.
    const cgroupsBefore = cgroupsNamed(id);
    const s = await env.container(['start', 'joiner']);
    t.is(s.code, 1);
    t.regex(s.stderr, /non running container/);
    const st = JSON.parse((await env.container(['inspect', 'joiner'])).stdout) as Inspected[];
    t.is(st[0].State.Status, 'exited');
    t.is(st[0].State.ExitCode, 0);
    t.deepEqual(cgroupsNamed(id), cgroupsBefore, 'its cgroup as it was');
    t.true(fs.existsSync(path.join(env.root, id)), 'its runtime state as it was');
    t.deepEqual(monitorsUnder(env.dir), [], 'no monitor');
    // A failure inside the create step: the command removed itself from the writable layer.
    const y = await env.container(['run', ...NONE, '-d', '--name', 'gone', SHIPPED, '/bin/rm', '/bin/rm']);
    t.is(y.code, 0, y.stderr);
    t.is((await env.container(['wait', 'gone'])).stdout, '0\n');
    const gid = y.stdout.trim();
    for (let i = 0; i < 2; i++) {
      const y2 = await env.container(['start', 'gone']);
      t.is(y2.code, 1, 'the command is gone');
      t.regex(y2.stderr, /no such file or directory|not found/);
      const st2 = JSON.parse((await env.container(['inspect', 'gone'])).stdout) as Inspected[];
      t.is(st2[0].State.Status, 'exited');
      t.false(fs.existsSync(path.join(env.root, gid)), 'no runtime state');
      t.deepEqual(cgroupsNamed(gid), [], 'no cgroup');
      t.deepEqual(monitorsUnder(env.dir), [], 'no monitor');
    }
    // Without runtime state, its layer is still the front's: image prune leaves it.
    const prune = await env.tsrun(['image', 'prune']);
    t.is(prune.code, 0, prune.stderr);
    t.notRegex(prune.stdout, /Deleted container layer/);
    t.true(fs.existsSync(path.join(env.imageRoot, 'containers', gid, 'upper')), 'the writable layer is kept');
    t.is((await env.container(['rm', 'joiner', 'peer', 'gone'])).code, 0);
  },
);

rootTest.serial('--init: PID 1 is the init, the command its child; stop ends a shell that ignores TERM; zombies reaped; exit status passed on', async (t) => {
  const env = await frontEnv(t);
  const ps = await env.container(['run', ...NONE, '--rm', '--init', SHIPPED, 'sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "; echo; echo $$']);
  t.is(ps.code, 0, ps.stderr);
  const [cmdline, self] = ps.stdout.split('\n');
  t.regex(cmdline, /^\/dev\/init --init -- sh -c /);
  t.not(self, '1', 'the command is not PID 1');
  t.is((await env.container(['run', ...NONE, '--rm', '--init', SHIPPED, 'sh', '-c', 'exit 5'])).code, 5);
  t.is((await env.container(['run', ...NONE, '--rm', '--init', SHIPPED, 'sh', '-c', 'kill -USR1 $$'])).code, 138, '128+SIGUSR1');
  // The init's binary is a read-only copy, not the host's.
  const w = await env.container(['run', ...NONE, '--rm', '--init', SHIPPED, 'sh', '-c', 'echo x >> /dev/init']);
  t.not(w.code, 0, 'the init cannot be written');

  // A shell with no TERM handler: as PID 1 it ignores TERM; under --init it dies of it.
  const sh = await env.container(['run', ...NONE, '-d', '--init', '--name', 'initsh', SHIPPED, 'sh', '-c', 'while true; do sleep 0.05; done']);
  t.is(sh.code, 0, sh.stderr);
  // CVE-2019-5736: PID 1 runs the bundle's copy, never the host's build of the helper.
  const pid = (JSON.parse((await env.container(['inspect', 'initsh'])).stdout) as Inspected[])[0].State.Pid;
  const exe = fs.statSync(`/proc/${pid}/exe`);
  const host = fs.statSync(path.join(REPO_ROOT, 'build', 'Release', 'tsrun-monitor'));
  t.false(exe.dev === host.dev && exe.ino === host.ino, 'the init is not the host binary');
  t.is(fs.readlinkSync(`/proc/${pid}/exe`), '/dev/init');
  const began = Date.now();
  t.is((await env.container(['stop', '-t', '30', 'initsh'])).code, 0);
  t.true(Date.now() - began < 15_000 * Math.min(TIME_SCALE, 2), 'ended long before the 30 s grace period');
  t.is((await env.container(['wait', 'initsh'])).stdout, '143\n', '128+SIGTERM');

  // Zombies: orphans reparented to PID 1 are reaped by the init (the command, exec'd into a
  // sleep, never would: without --init they would stay zombies of a PID-1 sleep).
  const z = await env.container(['run', ...NONE, '-d', '--init', '--name', 'zomb', SHIPPED, 'sh', '-c', '(sleep 0.1 & sleep 0.1 & exit 0); exec sleep 600']);
  t.is(z.code, 0, z.stderr);
  let states = '';
  await waitFor(
    async () => {
      const e = await env.container(['exec', 'zomb', 'sh', '-c', 'cat /proc/[0-9]*/stat 2>/dev/null | cut -d" " -f2,3']);
      states = e.stdout;
      return e.code === 0 && !/\(sleep\) [^S]/.test(states) && (states.match(/\(sleep\)/g) ?? []).length === 1;
    },
    { what: 'the orphaned sleeps to be reaped' },
  );
  t.notRegex(states, / Z$/m, `no zombie: ${states}`);
  t.is((await env.container(['rm', '-f', 'initsh', 'zomb'])).code, 0);
});

rootTest.serial(
  'container attach: the output of a running detached container from now on, stdin for -i, the exit status; the log is still written',
  async (t) => {
    const env = await frontEnv(t);
    const r = await env.container([
      'run',
      ...NONE,
      '-d',
      '-i',
      '--name',
      'att',
      SHIPPED,
      'sh',
      '-c',
      'echo ready; while read l; do echo "got $l"; echo "err $l" >&2; [ "$l" = bye ] && exit 4; done',
    ]);
    t.is(r.code, 0, r.stderr);
    await waitFor(async () => (await env.container(['logs', 'att'])).stdout === 'ready\n', { what: 'the container to start' });
    const a = background(t, TSRUN_BIN, attachArgs(env, 'att'));
    await typeUntil(a.c, 'one\n', () => a.out().includes('got one'), 'the attached client to see the container');
    a.c.stdin.write('bye\n');
    t.is((await a.done).code, 4, `attach returns the exit status (${a.err()})`);
    t.regex(a.out(), /got bye\n$/);
    t.regex(a.err(), /err bye\n$/);
    t.notRegex(a.out(), /ready/, 'only what came after the attach');
    const logs = await env.container(['logs', 'att']);
    t.regex(logs.stdout, /^ready\n(got one\n)+got bye\n$/);
    const stopped = await env.container(['attach', 'att']);
    t.is(stopped.code, 1);
    t.regex(stopped.stderr, /start it first/);
    t.is((await env.container(['rm', 'att'])).code, 0);
  },
);

rootTest.serial('container attach --sig-proxy: a signal to the client reaches the container; --sig-proxy=false leaves it running', async (t) => {
  const env = await frontEnv(t);
  const r = await env.container(['run', ...NONE, '-d', '--name', 'sp', SHIPPED, 'sh', '-c', 'trap "exit 9" TERM; while true; do echo tick; sleep 0.1; done']);
  t.is(r.code, 0, r.stderr);
  const quiet = background(t, TSRUN_BIN, attachArgs(env, '--sig-proxy=false', '--no-stdin', 'sp'));
  await waitFor(async () => quiet.out().includes('tick'), { what: 'the first client to attach' });
  quiet.c.kill('SIGTERM');
  t.is((await quiet.done).signal, 'SIGTERM', 'the client itself ended');
  t.is((JSON.parse((await env.container(['inspect', 'sp'])).stdout) as Inspected[])[0].State.Status, 'running', 'the container did not see it');
  const proxy = background(t, TSRUN_BIN, attachArgs(env, 'sp'));
  await waitFor(async () => proxy.out().includes('tick'), { what: 'the second client to attach' });
  proxy.c.kill('SIGTERM');
  t.is((await proxy.done).code, 9, 'proxied to the container, whose trap exited 9; attach returns that');
  t.is((await env.container(['rm', 'sp'])).code, 0);
});

ptyTest.serial(
  'container attach to a -dit container: a terminal, ctrl-p ctrl-q detaches and leaves it running, exit ends the attach with its status',
  async (t) => {
    const env = await frontEnv(t);
    const r = await env.container(['run', ...NONE, '-dit', '--name', 'tty1', SHIPPED, 'sh']);
    t.is(r.code, 0, r.stderr);
    const attach = [TSRUN_BIN, ...attachArgs(env, 'tty1')].join(' ');
    // script(1) gives the client a pty of its own as stdin/stdout, as a terminal would. The keys are
    // typed once the shell answered a newline through the attach: the client's terminal is raw then.
    const s = background(t, 'script', ['-qec', attach, '/dev/null']);
    await typeUntil(s.c, '\n', () => s.out().includes('#'), 'the shell to answer through the attach');
    s.c.stdin.write('\x10\x11');
    t.is((await s.done).code, 0, s.out());
    t.is((JSON.parse((await env.container(['inspect', 'tty1'])).stdout) as Inspected[])[0].State.Status, 'running', 'detached, not stopped');
    const input = path.join(env.dir, 'input');
    fs.writeFileSync(input, 'tty; echo $((6*7)); exit 5\n');
    const a = await runCommand('sh', ['-c', `script -qec '${attach}' /dev/null < ${input}`]);
    t.is(a.code, 5, a.stdout + a.stderr);
    t.regex(a.stdout, /\/dev\/pts\/\d+\r?\n42\r?\n/, 'the shell read its input from its pty');
    t.is((await env.container(['rm', 'tty1'])).code, 0);
  },
);
