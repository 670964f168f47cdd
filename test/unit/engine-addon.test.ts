// The addon is engine-neutral (DESIGN.md, "Engines"; issue 15): it calls N-API only, never libuv,
// so it loads in Node and in Bun. pollReadable and watchPidfd are served by one epoll thread per
// environment (native/watch.cc) reporting through a thread-safe function; these tests drive it on
// every engine present: readiness, re-arming from the callback, a pidfd watched twice, reaping by
// pidfd, cancelWatch, an idle watcher that does not hold the process, process.exit() with the
// thread running and a watch pending, worker threads, and a throwing callback.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ADDON = process.env.TSRUN_TEST_ADDON || path.join(REPO_ROOT, 'build/Release/tsrun.node');

const BUN = ['bun-linux-x64', 'bun-linux-x64-baseline']
  .map((b) => path.join(REPO_ROOT, 'node_modules/@oven', b, 'bin/bun'))
  .find((p) => existsSync(p) && spawnSync(p, ['--version']).status === 0);
const ENGINES: [string, string | undefined][] = [
  ['node', process.execPath],
  ['bun', BUN],
];

test('nm -D lists no libuv symbol in the addon', (t) => {
  t.true(existsSync(ADDON), `${ADDON} is built (node scripts/build-native.mjs)`);
  const r = spawnSync('nm', ['-D', ADDON], { encoding: 'utf8' });
  if (r.error) throw r.error;
  t.is(r.status, 0, r.stderr);
  const uv = r.stdout
    .split('\n')
    .filter((l) => /\buv_\w+/.test(l))
    .map((l) => l.trim());
  t.deepEqual(uv, [], 'the addon references libuv');
  t.regex(r.stdout, /\bU napi_create_threadsafe_function\b/);
});

// One scenario per run, in a fresh process of the engine. Each prints "ok <detail>" lines.
const PROBE = String.raw`
const a = require(process.env.ADDON);
const cp = require('child_process');
const fs = require('fs');
const say = (s) => process.stdout.write(s + '\n');
const fifo = () => {
  const f = process.env.DIR + '/fifo-' + process.pid;
  a.mkfifo(f, 0o600);
  const r = fs.openSync(f, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const w = fs.openSync(f, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  fs.unlinkSync(f);
  return [r, w];
};
const sleeper = (s) => cp.spawn('sleep', [String(s)], { stdio: 'ignore' });
switch (process.argv[2]) {
  case 'readable': {
    const [r, w] = fifo();
    const id = a.pollReadable(r, (err) => {
      const b = Buffer.alloc(8);
      say('ok ' + err + ' ' + b.toString('utf8', 0, fs.readSync(r, b)));
      fs.closeSync(r);
      fs.closeSync(w);
    });
    if (typeof id !== 'number') throw new Error('no watch id');
    setTimeout(() => fs.writeSync(w, 'hi'), 20);
    break;
  }
  case 'rearm': {
    const [r, w] = fifo();
    let n = 0;
    const arm = () =>
      a.pollReadable(r, () => {
        fs.readSync(r, Buffer.alloc(8));
        if (++n < 50) {
          arm();
          fs.writeSync(w, 'x');
        } else {
          say('ok ' + n);
          fs.closeSync(r);
          fs.closeSync(w);
        }
      });
    arm();
    fs.writeSync(w, 'x');
    break;
  }
  case 'reap': {
    // An orphan reparented to this subreaper: not one of the engine's own children.
    a.setChildSubreaper();
    const pid = Number(cp.execFileSync('sh', ['-c', 'sleep 0.1 & echo $!'], { encoding: 'utf8' }).trim());
    const pidfd = a.pidfdOpen(pid);
    let n = 0;
    const done = () => ++n === 2 && fs.closeSync(pidfd);
    a.watchPidfd(pidfd, (r) => {
      say('ok exit ' + JSON.stringify(r) + ' ' + (r.pid === pid));
      done();
    });
    a.pollReadable(pidfd, (err) => {
      say('ok readable ' + err);
      done();
    });
    break;
  }
  case 'cancel': {
    const p = sleeper(30);
    const pidfd = a.pidfdOpen(p.pid);
    const id = a.pollReadable(pidfd, () => say('called back after cancelWatch'));
    say('ok ' + a.cancelWatch(id) + ' ' + a.cancelWatch(id));
    fs.closeSync(pidfd);
    p.kill();
    p.unref();
    break;
  }
  case 'exit-pending': {
    const p = sleeper(30);
    p.unref();
    a.pollReadable(a.pidfdOpen(p.pid), () => say('unexpected'));
    setTimeout(() => {
      p.kill();
      say('ok');
      process.exit(3);
    }, 20);
    break;
  }
  case 'throw': {
    const [r, w] = fifo();
    a.pollReadable(r, () => {
      throw new Error('thrown-from-callback');
    });
    fs.writeSync(w, 'x');
    break;
  }
  case 'worker': {
    const { Worker } = require('worker_threads');
    const code = [
      'const a = require(process.env.ADDON);',
      'const cp = require("child_process");',
      'const { parentPort } = require("worker_threads");',
      'const p = cp.spawn("sleep", ["0.05"], { stdio: "ignore" });',
      'a.pollReadable(a.pidfdOpen(p.pid), (e) => parentPort.postMessage("watched " + e));',
      // Still pending when the worker is terminated.
      'const q = cp.spawn("sleep", ["5"], { stdio: "ignore" }); q.unref();',
      'a.pollReadable(a.pidfdOpen(q.pid), () => {});',
    ].join('\n');
    let done = 0;
    for (let i = 0; i < 3; i++) {
      const wk = new Worker(code, { eval: true });
      wk.on('error', (e) => say('worker error ' + e.message));
      wk.once('message', (m) => {
        wk.terminate().then(() => {
          if (++done === 3) say('ok ' + m);
        });
      });
    }
    break;
  }
}
`;

function probe(engine: string, scenario: string) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tsrun-engine-addon-'));
  try {
    const file = path.join(dir, 'probe.cjs');
    writeFileSync(file, PROBE);
    const args = engine.endsWith('/bun') ? ['--config=/dev/null', '--no-env-file', file, scenario] : [file, scenario];
    // The timeout is a liveness limit: a watcher that holds the process, or a hang at exit.
    const r = spawnSync(engine, args, { encoding: 'utf8', timeout: 20_000, cwd: dir, env: { ...process.env, ADDON, DIR: dir } });
    return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, timedOut: (r.error as NodeJS.ErrnoException)?.code === 'ETIMEDOUT' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const [name, exe] of ENGINES) {
  const run = exe ? test : test.skip;
  const why = exe ? '' : ' (skipped: Bun is not installed: node_modules/@oven/bun-linux-x64[-baseline])';
  const ok = (t: import('ava').ExecutionContext, r: ReturnType<typeof probe>, status = 0) => {
    t.false(r.timedOut, `${name} did not exit: ${r.stdout}${r.stderr}`);
    t.is(r.status, status, `${r.stdout}${r.stderr}`);
    t.is(r.signal, null);
  };

  run(`${name}: pollReadable calls back once, with null, and the idle watcher lets the process exit${why}`, (t) => {
    const r = probe(exe!, 'readable');
    ok(t, r);
    t.is(r.stdout, 'ok null hi\n');
  });

  run(`${name}: a callback may watch its fd again${why}`, (t) => {
    const r = probe(exe!, 'rearm');
    ok(t, r);
    t.is(r.stdout, 'ok 50\n');
  });

  run(`${name}: watchPidfd reaps by pidfd, beside a second watch of the same pidfd${why}`, (t) => {
    const r = probe(exe!, 'reap');
    ok(t, r);
    t.regex(r.stdout, /^ok exit \{"pid":\d+,"exitCode":0,"signal":null\} true$/m);
    t.regex(r.stdout, /^ok readable null$/m);
  });

  run(`${name}: cancelWatch ends a watch without a callback and the process exits${why}`, (t) => {
    const r = probe(exe!, 'cancel');
    ok(t, r);
    t.is(r.stdout, 'ok true false\n');
  });

  run(`${name}: process.exit() with a watch pending and the thread running${why}`, (t) => {
    const r = probe(exe!, 'exit-pending');
    ok(t, r, 3);
    t.is(r.stdout, 'ok\n');
    t.notRegex(r.stderr, /abort|segmentation|fatal/i);
  });

  run(`${name}: worker threads each get a watcher, torn down with a watch pending${why}`, (t) => {
    const r = probe(exe!, 'worker');
    ok(t, r);
    t.is(r.stdout, 'ok watched null\n');
    t.notRegex(r.stderr, /worker error|FATAL/);
  });

  run(`${name}: a throwing callback is an uncaught exception${why}`, (t) => {
    const r = probe(exe!, 'throw');
    t.false(r.timedOut, `${name} did not exit`);
    t.not(r.status, 0);
    t.regex(r.stderr, /thrown-from-callback/);
  });
}
