// `kill` signal arguments as runc parses them (kill.go parseSignal, signalmap): a number, a name
// with or without SIG, any case; realtime signals as RTMIN+n / RTMAX-n (glibc: SIGRTMIN is 34).
import test from 'ava';
import { parseSignal, signalName } from '../../src/container/signals.js';
import { InvalidArgumentError } from '../../src/errors.js';

test('numbers', (t) => {
  t.is(parseSignal('9'), 9);
  t.is(parseSignal('15'), 15);
  t.is(parseSignal('64'), 64);
  t.is(parseSignal(' 2 '), 2, 'surrounding space is ignored');
});

test('names with and without SIG, any case', (t) => {
  for (const [raw, n] of [
    ['KILL', 9],
    ['SIGKILL', 9],
    ['kill', 9],
    ['sigterm', 15],
    ['TERM', 15],
    ['HUP', 1],
    ['SIGUSR1', 10],
    ['USR2', 12],
    ['WINCH', 28],
    ['CHLD', 17],
    ['SIGSTOP', 19],
    ['CONT', 18],
  ] as const) {
    t.is(parseSignal(raw), n, raw);
  }
});

test('no signal means SIGTERM', (t) => {
  t.is(parseSignal(undefined), 15);
});

test('realtime signals', (t) => {
  t.is(parseSignal('RTMIN'), 34);
  t.is(parseSignal('SIGRTMIN'), 34);
  t.is(parseSignal('RTMIN+3'), 37);
  t.is(parseSignal('SIGRTMAX'), 64);
  t.is(parseSignal('RTMAX-2'), 62);
  t.is(parseSignal('rtmin+30'), 64);
});

test('unknown signals are refused with the raw text', (t) => {
  for (const raw of ['FOO', 'SIGFOO', '65', 'RTMIN+31', 'RTMAX-31', '-1', '9x', '']) {
    t.throws(() => parseSignal(raw), { instanceOf: InvalidArgumentError, message: `unknown signal "${raw.trim()}"` }, raw);
  }
});

test('signalName is the inverse for named signals', (t) => {
  for (const n of [1, 2, 9, 10, 15, 17, 19, 28]) t.is(parseSignal(signalName(n)), n);
  t.is(signalName(9), 'SIGKILL');
  t.is(signalName(40), '40', 'realtime signals have no name');
});

test('foreground forwarding never leaves SIGPIPE at its default action (tsrun would die of it, exit 141)', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const fg = fileURLToPath(new URL('../../src/cli/foreground.ts', import.meta.url));
  // Forward (SIGPIPE included), stop forwarding, then raise SIGPIPE: Node resets a signal to
  // SIG_DFL when its last listener goes, so without the permanent listener this process dies.
  const script = `
    const { forwardSignals } = await import(${JSON.stringify(fg)});
    const seen = [];
    const stop = forwardSignals((s) => seen.push(s));
    process.kill(process.pid, 'SIGPIPE');
    await new Promise((r) => setTimeout(r, 50));
    stop();
    process.kill(process.pid, 'SIGPIPE');
    await new Promise((r) => setTimeout(r, 50));
    console.log(JSON.stringify(seen));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
  t.is(r.signal, null, `died of ${r.signal}: ${r.stderr}`);
  t.is(r.status, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), [13], 'SIGPIPE was forwarded while forwarding, not after');
});
