// The Docker-style container front (issue 17): detached containers held by their monitor, logs,
// stop with the grace period, --rm after the starting client was SIGKILLed, -it under a pty, and
// Docker's exit codes. Each test checks that nothing is left (containers, mounts, monitors, state).
import fs from 'node:fs';
import path from 'node:path';
import { runCommand, TSRUN_BIN } from '../helpers/bundle.js';
import { needs, root, tool } from '../helpers/skip.js';
import { TIME_SCALE, waitFor } from '../helpers/wait.js';
import { containerDirs, frontEnv, NONE, monitorsUnder, SHIPPED } from './front-fixtures.js';

const rootTest = needs(root('namespaces, overlay mounts'));
const ptyTest = needs(root('namespaces, overlay mounts'), tool('script', 'bsdutils'));

rootTest.serial('container run -d --name web <shipped image> httpd -f -p 8080: served, logged, listed, stopped, removed', async (t) => {
  const env = await frontEnv(t);
  const run = await env.container(['run', ...NONE, '-d', '--name', 'web', SHIPPED, 'httpd', '-f', '-v', '-p', '8080']);
  t.is(run.code, 0, run.stderr);
  const id = run.stdout.trim();
  t.regex(id, /^[0-9a-f]{64}$/, 'the full id is printed');
  t.deepEqual(monitorsUnder(env.dir).length, 1, 'one monitor holds the container');
  // The server answers inside the container's network namespace (--network none has lo only).
  let page = '';
  await waitFor(
    async () => {
      const r = await env.container(['exec', 'web', 'wget', '-qO-', 'http://127.0.0.1:8080/etc/hostname']);
      page = r.stdout;
      return r.code === 0;
    },
    { what: 'httpd to answer' },
  );
  t.is(page.trim(), id.slice(0, 12), 'the page is the container’s /etc/hostname');
  const dev = await env.container(['exec', 'web', 'cat', '/proc/net/dev']);
  t.deepEqual(
    dev.stdout
      .split('\n')
      .slice(2)
      .filter(Boolean)
      .map((l) => l.split(':')[0].trim()),
    ['lo'],
    'the default network (none) has only lo',
  );
  const ls = await env.container(['ls']);
  t.is(ls.code, 0);
  const lines = ls.stdout.trimEnd().split('\n');
  t.regex(lines[0], /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/);
  t.regex(lines[1], new RegExp(`^${id.slice(0, 12)}\\s+${SHIPPED.replace(/[.]/g, '\\.')}\\s+"httpd -f -v -p 8080"\\s+.*ago\\s+Up .*\\s+web$`));
  const logs = await env.container(['logs', 'web']);
  t.is(logs.code, 0, logs.stderr);
  t.regex(logs.stderr, /response:200/, 'httpd -v logged the request on stderr, and logs gives it back on stderr');
  const stamped = await env.container(['logs', '--timestamps', '--tail', '1', 'web']);
  t.regex(stamped.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z \S/);
  const began = Date.now();
  const stop = await env.container(['stop', '-t', '1', 'web']);
  t.is(stop.code, 0, stop.stderr);
  t.is(stop.stdout, 'web\n');
  t.true(Date.now() - began < 8000, 'stopped within the grace period (plus the KILL)');
  const all = await env.container(['ls', '-a']);
  t.regex(all.stdout, /Exited \(137\) .* web\n/, 'PID 1 httpd ignores SIGTERM: killed after 1 s');
  t.deepEqual(monitorsUnder(env.dir), [], 'the monitor ended with the container');
  const wait = await env.container(['wait', id.slice(0, 8)]);
  t.is(wait.stdout, '137\n', 'wait by an id prefix reports the recorded exit');
  const inspect = JSON.parse((await env.container(['inspect', 'web'])).stdout) as { Id: string; Name: string; State: { Status: string; ExitCode: number } }[];
  t.is(inspect[0].Id, id);
  t.is(inspect[0].Name, '/web');
  t.is(inspect[0].State.Status, 'exited');
  t.is(inspect[0].State.ExitCode, 137);
  const rm = await env.container(['rm', 'web']);
  t.is(rm.code, 0, rm.stderr);
  t.deepEqual(containerDirs(env), []);
  t.is((await env.container(['logs', 'web'])).code, 125, 'gone');
});

rootTest.serial('container logs -f follows a detached container until it exits; the name is taken once', async (t) => {
  const env = await frontEnv(t);
  const run = await env.container([
    'run',
    ...NONE,
    '-d',
    '--name',
    'talker',
    SHIPPED,
    'sh',
    '-c',
    'echo one; while [ ! -e /tmp/go ]; do sleep 0.05; done; echo two; echo three; exit 4',
  ]);
  t.is(run.code, 0, run.stderr);
  const again = await env.container(['run', ...NONE, '-d', '--name', 'talker', SHIPPED, 'true']);
  t.is(again.code, 125);
  t.regex(again.stderr, /Conflict\. The container name "\/talker" is already in use/);
  const follow = env.spawnClient(['logs', '-f', 'talker']);
  const ended = new Promise<number | null>((resolve) => follow.on('close', (c) => resolve(c)));
  await waitFor(() => follow.out().includes('one\n'), { what: 'logs -f to print the first line' });
  t.false(follow.out().includes('three'), 'not yet written');
  t.is((await env.container(['exec', 'talker', 'touch', '/tmp/go'])).code, 0);
  t.is(await ended, 0, 'logs -f ends when the container exits');
  t.is(follow.out(), 'one\ntwo\nthree\n');
  t.is((await env.container(['wait', 'talker'])).stdout, '4\n');
  t.is((await env.container(['rm', 'talker'])).code, 0);
});

rootTest.serial('container stop: a PID-1 shell ignoring SIGTERM is killed when the grace period ends; a trap or --stop-signal stops it at once', async (t) => {
  const env = await frontEnv(t);
  const stubborn = await env.container(['run', ...NONE, '-d', '--name', 'stubborn', SHIPPED, 'sh', '-c', 'while true; do sleep 0.05; done']);
  t.is(stubborn.code, 0, stubborn.stderr);
  let began = Date.now();
  t.is((await env.container(['stop', '--time', '2', 'stubborn'])).code, 0);
  const took = Date.now() - began;
  t.true(took >= 2000, `waited for the grace period (${took} ms)`);
  t.true(took < 2000 + 6000 * TIME_SCALE, `then killed (${took} ms)`);
  t.is((await env.container(['wait', 'stubborn'])).stdout, '137\n');

  const trapped = await env.container([
    'run',
    ...NONE,
    '-d',
    '--stop-timeout',
    '30',
    '--name',
    'trapped',
    SHIPPED,
    'sh',
    '-c',
    'trap "exit 7" TERM; while true; do sleep 0.05; done',
  ]);
  t.is(trapped.code, 0, trapped.stderr);
  began = Date.now();
  t.is((await env.container(['stop', 'trapped'])).code, 0);
  t.true(Date.now() - began < 15_000 * Math.min(TIME_SCALE, 2), 'the trap ended it long before the 30 s timeout');
  t.is((await env.container(['wait', 'trapped'])).stdout, '7\n');

  const usr1 = await env.container([
    'run',
    ...NONE,
    '-d',
    '--stop-signal',
    'USR1',
    '--stop-timeout',
    '30',
    '--name',
    'usr1',
    SHIPPED,
    'sh',
    '-c',
    'trap "exit 9" USR1; while true; do sleep 0.05; done',
  ]);
  t.is(usr1.code, 0, usr1.stderr);
  t.is((await env.container(['stop', 'usr1'])).code, 0);
  t.is((await env.container(['wait', 'usr1'])).stdout, '9\n', '--stop-signal was sent');
  const rm = await env.container(['rm', 'stubborn', 'trapped', 'usr1']);
  t.is(rm.code, 0, rm.stderr);
});

rootTest.serial('--rm is applied by the monitor after the starting client was SIGKILLed', async (t) => {
  const env = await frontEnv(t);
  const client = env.spawnClient(['run', ...NONE, '--rm', '--name', 'orphan', SHIPPED, 'sh', '-c', 'while [ ! -e /tmp/go ]; do sleep 0.05; done; echo bye']);
  const gone = new Promise<void>((resolve) => client.on('exit', () => resolve()));
  await waitFor(async () => /Up .* orphan\n/.test((await env.container(['ls'])).stdout), { what: 'the container to run' });
  client.kill('SIGKILL');
  await gone;
  t.is(monitorsUnder(env.dir).length, 1, 'the monitor outlives its client');
  t.regex((await env.container(['ls'])).stdout, /Up .* orphan\n/, 'and so does the container');
  t.is((await env.container(['exec', 'orphan', 'touch', '/tmp/go'])).code, 0);
  await waitFor(() => containerDirs(env).length === 0 && monitorsUnder(env.dir).length === 0, { what: 'the monitor to remove the container' });
  t.is((await env.container(['ls', '-a', '-q'])).stdout, '', 'removed');
  t.deepEqual(fs.readdirSync(env.root), [], 'its state too');
});

ptyTest.serial('container run -it runs an interactive shell in a pty; -t without -i never reads stdin', async (t) => {
  const env = await frontEnv(t);
  const input = path.join(env.dir, 'input');
  fs.writeFileSync(input, 'tty; echo $((6*7)); exit 5\n');
  const cmd = [TSRUN_BIN, '--root', env.root, '--image-root', env.imageRoot, 'container', 'run', '--network', 'none', '-it', '--rm', SHIPPED, 'sh'].join(' ');
  // script(1) gives the client a pty of its own as stdin/stdout, as a terminal would.
  const r = await runCommand('sh', ['-c', `script -qec '${cmd}' /dev/null < ${input}`]);
  t.is(r.code, 5, r.stdout + r.stderr);
  t.regex(r.stdout, /\/dev\/pts\/\d+\r?\n42\r?\n/, 'the shell read its input from a pty and ran it');
  // -t with stdin a pipe that never ends: the container does not read it, and the run ends.
  const tOnly = await env.container(['run', ...NONE, '-t', '--rm', SHIPPED, 'sh', '-c', 'tty; echo done'], { stdinFile: '/dev/zero' });
  t.is(tOnly.code, 0, tOnly.stderr);
  t.regex(tOnly.stdout, /^\/dev\/pts\/\d+\r?\ndone\r?\n$/);
  t.deepEqual(containerDirs(env), []);
});

rootTest.serial("exit codes as Docker's: 125 tsrun failed, 126 cannot invoke, 127 not found, else the container's", async (t) => {
  const env = await frontEnv(t);
  const notFound = await env.container(['run', ...NONE, '--rm', SHIPPED, 'nosuch']);
  t.is(notFound.code, 127);
  t.regex(notFound.stderr, /executable file not found/);
  const notExec = await env.container(['run', ...NONE, '--rm', SHIPPED, '/etc/passwd']);
  t.is(notExec.code, 126);
  t.regex(notExec.stderr, /permission denied/);
  const own = await env.container(['run', ...NONE, '--rm', SHIPPED, 'sh', '-c', 'exit 3']);
  t.is(own.code, 3);
  const flag = await env.container(['run', ...NONE, '--rmm', SHIPPED, 'true']);
  t.is(flag.code, 125);
  t.is(flag.stderr, "tsrun: unknown flag: --rmm (did you mean --rm?)\nSee 'tsrun container run --help'.\n", 'one line and a pointer to --help');
  const verb = await env.container(['rnu', SHIPPED]);
  t.is(verb.code, 125);
  t.regex(verb.stderr, /'container rnu' is not a tsrun command \(did you mean 'container run'\?\)/);
  const noImage = await env.container(['run', ...NONE, '--rm', '--pull', 'never', 'localhost/no-such-image:1', 'true']);
  t.is(noImage.code, 125);
  t.regex(noImage.stderr, /No such image/);
  const combined = await env.container(['run', ...NONE, '--rm', '-iw', '/etc', SHIPPED, 'sh', '-c', 'pwd; read x; echo "got $x"'], {
    stdinFile: '/etc/hostname',
  });
  t.is(combined.code, 0, combined.stderr);
  t.is(combined.stdout, `/etc\ngot ${fs.readFileSync('/etc/hostname', 'utf8').split('\n')[0]}\n`, '-i attached stdin; -iw combined a bool and a valued flag');
  t.deepEqual(containerDirs(env), [], 'failed creates left nothing');
});

rootTest.serial(
  'container create then start -a; options: --read-only, --tmpfs, -e/--env-file, -u, -w, --entrypoint, --hostname, --cap-drop/--cap-add',
  async (t) => {
    const env = await frontEnv(t);
    const envFile = path.join(env.dir, 'vars.env');
    fs.writeFileSync(envFile, '# comment\nFROM_FILE=yes\n');
    const created = await env.container([
      'create',
      ...NONE,
      '--name',
      'opts',
      '--read-only',
      '--tmpfs',
      '/scratch',
      '-e',
      'A=1',
      '--env-file',
      envFile,
      '-u',
      '1000:1000',
      '-w',
      '/scratch',
      '--hostname',
      'box',
      '--cap-drop',
      'ALL',
      '--cap-add',
      'KILL',
      '--entrypoint',
      'sh',
      SHIPPED,
      '-c',
      'echo "$A $FROM_FILE $(id -u):$(id -g) $(pwd) $(hostname)"; touch /x 2>/dev/null || echo ro-root; touch /scratch/ok && echo tmpfs-rw; grep CapEff /proc/self/status; exit 6',
    ]);
    t.is(created.code, 0, created.stderr);
    t.regex(created.stdout, /^[0-9a-f]{64}\n$/);
    t.regex((await env.container(['ls', '-a'])).stdout, /\s+Created\s+opts\n/);
    const start = await env.container(['start', '-a', 'opts']);
    t.is(start.code, 6, start.stderr);
    // CAP_KILL alone is bit 5: 0x20 (and a uid other than 0 keeps no effective set anyway).
    t.is(start.stdout, '1 yes 1000:1000 /scratch box\nro-root\ntmpfs-rw\nCapEff:\t0000000000000000\n');
    t.is((await env.container(['rm', 'opts'])).code, 0);
  },
);

rootTest.serial('the json-file log is rotated at --log-opt max-size into max-file files; logs reads across them', async (t) => {
  const env = await frontEnv(t);
  const r = await env.container([
    'run',
    ...NONE,
    '-d',
    '--name',
    'chatty',
    '--log-opt',
    'max-size=2k',
    '--log-opt',
    'max-file=3',
    SHIPPED,
    'sh',
    '-c',
    'i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo "line $i"; done',
  ]);
  t.is(r.code, 0, r.stderr);
  t.is((await env.container(['wait', 'chatty'])).stdout, '0\n');
  const id = r.stdout.trim();
  const dir = path.join(env.imageRoot, 'containers', id);
  const logs = fs.readdirSync(dir).filter((n) => n.startsWith(`${id}-json.log`));
  t.deepEqual(logs.sort(), [`${id}-json.log`, `${id}-json.log.1`, `${id}-json.log.2`], 'three files at most');
  for (const l of logs) t.true(fs.statSync(path.join(dir, l)).size <= 2048, `${l} within max-size`);
  const first = JSON.parse(fs.readFileSync(path.join(dir, logs.sort()[0]), 'utf8').split('\n')[0]) as { log: string; stream: string; time: string };
  t.is(first.stream, 'stdout');
  t.regex(first.log, /^line \d+\n$/);
  const out = (await env.container(['logs', 'chatty'])).stdout.split('\n').filter(Boolean);
  t.is(out.at(-1), 'line 200');
  const n = out.length;
  t.true(n > 20 && n < 200, `older lines rotated away (${n} kept)`);
  t.deepEqual(
    out,
    Array.from({ length: n }, (_, i) => `line ${200 - n + 1 + i}`),
    'in order, none lost between the files kept',
  );
  t.deepEqual((await env.container(['logs', '--tail', '2', 'chatty'])).stdout, 'line 199\nline 200\n');
  t.is((await env.container(['rm', 'chatty'])).code, 0);
});

rootTest.serial('the run --image shorthand takes the id from --name too', async (t) => {
  const env = await frontEnv(t);
  const r = await env.tsrun(['run', '--image', SHIPPED, '--rm', '--name', 'shorty', '--', 'hostname']);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, 'shorty\n');
  const both = await env.tsrun(['run', '--image', SHIPPED, '--rm', '--name', 'a', 'b', '--', 'true']);
  t.not(both.code, 0);
  t.regex(both.stderr, /--name a and the id b differ/);
  // Docker's grammar: the command after the image, its flags its own; the id --name's or generated.
  const docker = await env.tsrun(['run', '--image', SHIPPED, '--rm', '--name', 'dockerish', 'sh', '-c', 'hostname; echo -n x']);
  t.is(docker.code, 0, docker.stderr);
  t.is(docker.stdout, 'dockerish\nx');
  const generated = await env.tsrun(['run', '--image', SHIPPED, '--rm', 'hostname']);
  t.is(generated.code, 0, generated.stderr);
  t.regex(generated.stdout, /^[0-9a-f]{12}\n$/);
  const status = await env.tsrun(['run', '--image', SHIPPED, '--rm', 'sh', '-c', 'exit 6']);
  t.is(status.code, 6);
});

rootTest.serial('an attached container is logged too: its output reached the client and is in logs afterwards', async (t) => {
  const env = await frontEnv(t);
  const r = await env.container(['run', ...NONE, '--name', 'fg', SHIPPED, 'sh', '-c', 'echo out; echo err >&2; exit 2']);
  t.is(r.code, 2);
  t.is(r.stdout, 'out\n');
  t.is(r.stderr, 'err\n');
  const logs = await env.container(['logs', 'fg']);
  t.is(logs.stdout, 'out\n');
  t.is(logs.stderr, 'err\n');
  t.is((await env.container(['rm', 'fg'])).code, 0);
});

rootTest.serial("the monitor's json-file entries: escapes, a last line without newline, a long line split at 16 KiB", async (t) => {
  const env = await frontEnv(t);
  const script = String.raw`printf '%s\tc\001r\r\n' 'q"b\x'; head -c 20000 /dev/zero | tr '\0' x; echo; printf 'no newline'`;
  const r = await env.container(['run', ...NONE, '-d', '--name', 'enc', SHIPPED, 'sh', '-c', script]);
  t.is(r.code, 0, r.stderr);
  t.is((await env.container(['wait', 'enc'])).stdout, '0\n');
  const id = r.stdout.trim();
  const lines = fs
    .readFileSync(path.join(env.imageRoot, 'containers', id, `${id}-json.log`), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { log: string; stream: string; time: string });
  t.deepEqual(
    lines.map((l) => l.log.length),
    [11, 16384, 20000 - 16384 + 1, 10],
    'a line over 16 KiB is split, as Docker splits it',
  );
  t.is(lines[0].log, 'q"b\\x\tc\u0001r\r\n', 'quotes, backslashes and control characters survive the JSON');
  t.is(lines[3].log, 'no newline', 'the last partial line is kept');
  t.true(lines.every((l) => l.stream === 'stdout' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/.test(l.time)));
  t.is((await env.container(['logs', 'enc'])).stdout, lines.map((l) => l.log).join(''));
  t.is((await env.container(['rm', 'enc'])).code, 0);
});

const pyPtyTest = needs(root('namespaces, overlay mounts'), tool('python3', 'python3'));

// Runs argv under a new pty (python's pty.fork), types `input` once the shell's prompt shows,
// and returns what the terminal showed and the exit code: no sleeps, the prompt orders it.
const PTY_DRIVER = String.raw`
import os, pty, select, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
buf, sent = b'', False
while True:
    r, _, _ = select.select([fd], [], [], 20)
    if not r:
        os.kill(pid, 9)  # a liveness bound: a stuck session fails instead of hanging
        break
    try:
        d = os.read(fd, 4096)
    except OSError:
        break
    if not d:
        break
    buf += d
    if not sent and b'# ' in buf:
        os.write(fd, sys.argv[1].encode())
        sent = True
_, st = os.waitpid(pid, 0)
sys.stdout.buffer.write(buf)
sys.exit(os.waitstatus_to_exitcode(st))
`;

pyPtyTest.serial('container exec -it: an interactive shell in a running container, under a pty', async (t) => {
  const env = await frontEnv(t);
  t.is((await env.container(['run', ...NONE, '-d', '--name', 'box', SHIPPED, 'sleep', '600'])).code, 0);
  const r = await runCommand('python3', [
    '-c',
    PTY_DRIVER,
    'tty; echo $((6*7)); exit 3\n',
    TSRUN_BIN,
    '--root',
    env.root,
    '--image-root',
    env.imageRoot,
    'container',
    'exec',
    '-it',
    'box',
    'sh',
  ]);
  t.is(r.code, 3, r.stdout + r.stderr);
  t.regex(r.stdout, /\/dev\/pts\/\d+\r?\n42\r?\n/, 'the typed line ran in the container’s shell, on a pty');
  t.is((await env.container(['rm', '-f', 'box'])).code, 0);
});
