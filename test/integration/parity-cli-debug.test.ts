// --debug (issue 14 item 18): runc logs at debug level with --debug, to stderr or to the --log
// file in its format, and never without it. tsrun's debug lines name the verb, the container id
// and the major steps (start of the verb, hooks, its end with the exit code).
import test from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { makeBundle } from '../helpers/bundle.js';
import { needs, root } from '../helpers/skip.js';

const rootTest = needs(root('containers'));

const debugLines = (text: string) => text.split('\n').filter((l) => /level=debug/.test(l));

rootTest('--debug writes debug lines to stderr naming the verb and the id; without it there are none', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['true'];
    s.hooks = { poststop: [{ path: '/bin/true' }] };
  });
  const quiet = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.is(quiet.code, 0, quiet.stderr);
  t.deepEqual(debugLines(quiet.stderr), [], 'no debug line without --debug');

  const loud = await b.tsrun(['--debug', 'run', '--bundle', b.dir, `${b.id}-d`]);
  t.is(loud.code, 0, loud.stderr);
  const lines = debugLines(loud.stderr);
  t.true(lines.length >= 2, loud.stderr);
  t.true(
    lines.some((l) => l.includes(`run ${b.id}-d`)),
    `the verb and the id are named: ${loud.stderr}`,
  );
  t.true(
    lines.some((l) => /exit code 0/.test(l)),
    `the end of the verb: ${loud.stderr}`,
  );
  t.true(
    lines.some((l) => /poststop hook #0/.test(l)),
    `the hooks run: ${loud.stderr}`,
  );
  t.regex(lines[0], /^time="[^"]+" level=debug msg=/, 'logrus text format');
});

rootTest('--debug --log FILE --log-format json: the debug lines are JSON in the file, stderr stays quiet', async (t) => {
  const b = await makeBundle(t, (s) => {
    s.process!.args = ['true'];
  });
  const log = path.join(b.dir, 'log.json');
  const r = await b.tsrun(['--debug', '--log', log, '--log-format', 'json', 'run', '--bundle', b.dir, b.id]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(debugLines(r.stderr), []);
  const entries = fs
    .readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { level: string; msg: string; time: string });
  const debug = entries.filter((e) => e.level === 'debug');
  t.true(debug.length >= 2, JSON.stringify(entries));
  t.true(debug.some((e) => e.msg.includes(`run ${b.id}`)));
  for (const e of debug) t.regex(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
});

test('a debug line never appears without --debug, even for a failing verb', async (t) => {
  const { runTsrun } = await import('../helpers/bundle.js');
  const r = await runTsrun(['state', 'no-such-container-for-debug']);
  t.not(r.code, 0);
  t.deepEqual(debugLines(r.stderr), []);
  const d = await runTsrun(['--debug', 'state', 'no-such-container-for-debug']);
  t.true(
    debugLines(d.stderr).some((l) => l.includes('state no-such-container-for-debug')),
    d.stderr,
  );
});
