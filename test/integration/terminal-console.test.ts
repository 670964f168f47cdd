// process.terminal, --console-socket, consoleSize and /dev/console (runtime-spec config.md
// "Console"; runc docs/terminals.md), the extra-fd flags (--preserve-fds, LISTEN_FDS) and
// --pidfd-socket, through the CLI as engines call it. The pty master arrives on a unix socket with
// SCM_RIGHTS (test/helpers/unix-socket.ts); what the container writes is read through it.
import fs from 'node:fs';
import path from 'node:path';
import { addon } from '../../src/sys/addon.js';
import { makeBundle, waitFor } from '../helpers/bundle.js';
import { parseProbeJson, type ProbeReport } from '../helpers/rootfs.js';
import { listenForFds, readPty } from '../helpers/unix-socket.js';
import { needs, root } from '../helpers/skip.js';

const rootTest = needs(root('namespaces, devpts'));

/** The JSON line of the probe in text read from a pty (which turns \n into \r\n). */
function jsonLine<T>(text: string, key: string): T {
  const line = text.split(/\r?\n/).find((l) => l.startsWith(`{"${key}"`));
  if (!line) throw new Error(`no {"${key}"...} line in: ${JSON.stringify(text)}`);
  return parseProbeJson<T>(line);
}

rootTest('create --console-socket: the pty master reaches the socket; consoleSize, the controlling tty and /dev/console are the pty', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.terminal = true;
    s.process!.consoleSize = { height: 33, width: 111 };
    s.process!.args = ['sh', '-c', 'stty size; probe tty fds; probe stat /dev/console; echo END-OF-TEST'];
  });
  const rx = await listenForFds(path.join(b.dir, 'console.sock'));
  t.teardown(() => rx.close());
  const c = await b.tsrun(['create', '--console-socket', rx.path, '--bundle', b.dir, b.id]);
  t.is(c.code, 0, c.stderr);
  const got = await rx.next();
  t.true(got.fd >= 0, 'an fd came with the message');
  t.is(fs.readlinkSync(`/proc/self/fd/${got.fd}`), '/dev/pts/ptmx', 'it is a pty master');
  t.not(fs.fstatSync(got.fd).dev, fs.statSync('/dev/pts/ptmx').dev, 'from the container’s own devpts, not the host’s');
  t.is(got.data.toString(), '/dev/ptmx', 'named as runc names it');
  t.is((await b.tsrun(['start', b.id])).code, 0);
  const text = await readPty(got.fd, (s) => s.includes('END-OF-TEST'));
  t.log(JSON.stringify(text));
  t.true(text.split(/\r?\n/).includes('33 111'), 'stty size inside shows consoleSize');
  const tty = jsonLine<Pick<ProbeReport, 'tty' | 'fds'>>(text, 'tty');
  t.true(tty.tty.stdin && tty.tty.stdout && tty.tty.stderr, 'fds 0-2 are the terminal');
  t.is(tty.tty.rows, 33);
  t.is(tty.tty.cols, 111);
  t.is(tty.tty.sid, tty.tty.pgid, 'the process leads its own session');
  t.is(tty.tty.foregroundPgid, tty.tty.pgid, 'and the pty is its controlling terminal');
  const slave = tty.fds.find((f) => f.fd === 0)?.target ?? '';
  t.regex(slave, /^\/dev\/pts\/\d+$/, 'stdin is a pty slave of the container devpts');
  const stat = jsonLine<{ paths: Record<string, { stat: { type: string; major: number; minor: number } }> }>(text, 'paths');
  const cons = stat.paths['/dev/console'].stat;
  t.is(cons.type, 'char');
  t.is(cons.major, 136, '/dev/console is a pty (major 136)');
  t.is(cons.minor, Number(slave.split('/').pop()), '/dev/console is the same pty as stdin');
  await b.waitStatus(b.id, 'stopped');
  t.is((await b.tsrun(['delete', b.id])).code, 0);
});

rootTest('--console-socket: what is written to the master is the container’s input', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.terminal = true;
    s.process!.args = ['sh', '-c', 'stty -echo; echo ready; read line; echo "got:$line"'];
  });
  const rx = await listenForFds(path.join(b.dir, 'console.sock'));
  t.teardown(() => rx.close());
  t.is((await b.tsrun(['run', '-d', '--console-socket', rx.path, '--bundle', b.dir, b.id])).code, 0);
  const { fd } = await rx.next();
  t.regex(await readPty(fd, (s) => s.includes('ready')), /ready/);
  fs.writeSync(fd, 'hello through the pty\n');
  t.regex(await readPty(fd, (s) => s.includes('got:')), /got:hello through the pty/);
  await b.waitStatus(b.id, 'stopped');
});

rootTest('foreground run with a terminal proxies the pty to its stdio', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.terminal = true;
    s.process!.consoleSize = { height: 12, width: 34 };
    s.process!.args = ['sh', '-c', 'stty size; tty; exit 7'];
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.is(r.code, 7, `the exit status passes through: ${r.stderr}`);
  const lines = r.stdout.split(/\r?\n/);
  t.true(lines.includes('12 34'), JSON.stringify(r.stdout));
  t.true(
    lines.some((l) => /^\/dev\/pts\/\d+$/.test(l)),
    'tty names a pty',
  );
});

rootTest('a detached terminal without --console-socket fails with runc’s error, leaving nothing behind', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.terminal = true;
  });
  for (const argv of [
    ['create', '--bundle', b.dir, b.id],
    ['run', '-d', '--bundle', b.dir, b.id],
  ]) {
    const r = await b.tsrun(argv);
    t.not(r.code, 0, argv[0]);
    t.regex(r.stderr, /cannot allocate tty if tsrun will detach without setting console socket/, r.stderr);
    t.false(fs.existsSync(path.join(b.root, b.id)), 'no state dir');
  }
  // And the converse (runc utils_linux.go): a console socket without a terminal.
  b.spec.process!.terminal = false;
  b.writeSpec();
  const r = await b.tsrun(['create', '--console-socket', path.join(b.dir, 'nobody.sock'), '--bundle', b.dir, b.id]);
  t.not(r.code, 0);
  t.regex(r.stderr, /cannot use console socket if tsrun will not detach or allocate tty/);
});

rootTest('--preserve-fds 2: the container writes through fds 3 and 4 into files the caller opened', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['sh', '-c', 'echo three >&3; echo four >&4; ls /proc/self/fd'];
  });
  const files = ['f3', 'f4', 'f5'].map((n) => path.join(b.dir, n));
  const fds = files.map((f) => fs.openSync(f, 'w'));
  t.teardown(() => fds.forEach((fd) => fs.closeSync(fd)));
  const r = await b.tsrun(['run', '--preserve-fds', '2', '--bundle', b.dir, b.id], { extraFds: fds });
  t.is(r.code, 0, r.stderr);
  t.is(fs.readFileSync(files[0], 'utf8'), 'three\n');
  t.is(fs.readFileSync(files[1], 'utf8'), 'four\n');
  t.is(fs.readFileSync(files[2], 'utf8'), '', 'fd 5 was not preserved');
  // ls opens the directory itself as fd 3+2=5... the listing shows what was open, ls's own fd included.
  const listed = r.stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .sort((x, y) => x - y);
  t.deepEqual(
    listed.filter((n) => n !== 5),
    [0, 1, 2, 3, 4],
    `fds inside: ${listed.join(' ')}`,
  );
});

rootTest('LISTEN_FDS=1 with --preserve-fds 1: fd 3 is the socket-activation fd, fd 4 the preserved one; LISTEN_FDS=1 LISTEN_PID=1 inside', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['sh', '-c', 'echo listen >&3; echo preserved >&4; echo "$LISTEN_FDS:$LISTEN_PID"'];
  });
  const files = ['listen', 'preserved'].map((n) => path.join(b.dir, n));
  const fds = files.map((f) => fs.openSync(f, 'w'));
  t.teardown(() => fds.forEach((fd) => fs.closeSync(fd)));
  const r = await b.tsrun(['run', '--preserve-fds', '1', '--bundle', b.dir, b.id], {
    extraFds: fds,
    prefix: ['sh', '-c', 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$0" "$@"'],
  });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), '1:1', 'runc tells the init LISTEN_FDS=n and LISTEN_PID=1');
  t.is(fs.readFileSync(files[0], 'utf8'), 'listen\n');
  t.is(fs.readFileSync(files[1], 'utf8'), 'preserved\n');
});

rootTest('--pidfd-socket (create and exec): the received pidfd signals the process with pidfd_send_signal', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['probe', 'signals'];
  });
  const rx = await listenForFds(path.join(b.dir, 'pidfd.sock'));
  t.teardown(() => rx.close());
  const c = await b.tsrun(['create', '--pidfd-socket', rx.path, '--bundle', b.dir, b.id]);
  t.is(c.code, 0, c.stderr);
  const initFd = (await rx.next(0)).fd;
  t.true(initFd >= 0);
  t.is(fs.readlinkSync(`/proc/self/fd/${initFd}`), 'anon_inode:[pidfd]');
  const { pid } = (await b.state()) as { pid: number };
  t.regex(fs.readFileSync(`/proc/self/fdinfo/${initFd}`, 'utf8'), new RegExp(`^Pid:\\s+${pid}$`, 'm'), 'the pidfd is of the init');
  t.is((await b.tsrun(['start', b.id])).code, 0);
  await waitFor(
    () => b.output(c).includes('"ready"'),
    5000,
    () => 'the probe ready line',
  );
  addon().pidfdSendSignal(initFd, 10 /* SIGUSR1 */);
  await waitFor(
    () => b.output(c).includes('"SIGUSR1"'),
    5000,
    () => `SIGUSR1 in ${b.output(c)}`,
  );

  // exec: a second process, its own pidfd.
  const e = await b.tsrun(['exec', '-d', '--pidfd-socket', rx.path, b.id, 'sleep', '60']);
  t.is(e.code, 0, e.stderr);
  const execFd = (await rx.next(1)).fd;
  const execPid = Number(/^Pid:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${execFd}`, 'utf8'))?.[1]);
  t.true(execPid > 0 && execPid !== pid, `exec pidfd names pid ${execPid}`);
  t.regex(fs.readFileSync(`/proc/${execPid}/cmdline`, 'utf8'), /^sleep\0/);
  addon().pidfdSendSignal(execFd, 9);
  await waitFor(
    () => {
      try {
        return /^State:\s+Z/m.test(fs.readFileSync(`/proc/${execPid}/status`, 'utf8'));
      } catch {
        return true; // gone (reaped between two reads)
      }
    },
    5000,
    () => 'the exec process to die',
  );
  addon().pidfdSendSignal(initFd, 15);
  await b.waitStatus(b.id, 'stopped');
  t.is((await b.tsrun(['delete', b.id])).code, 0);
});
