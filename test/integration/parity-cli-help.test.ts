// runc parity of the informational command lines (issue 14 item 27): -v/--version, -h/--help and
// `help`, with runc 1.1.5's (Debian's /usr/sbin/runc, urfave/cli v1) exit codes and streams. The
// same argv runs under runc where it is installed; tsrun must agree on exit code and on which
// stream carries the text. The texts themselves differ (tsrun's own flags and names).
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCommand, runTsrun } from '../helpers/bundle.js';
import { need, needs } from '../helpers/skip.js';

const RUNC = '/usr/sbin/runc';
const runcTest = needs(need(fs.existsSync(RUNC), `needs runc at ${RUNC} (Debian package runc) to compare with`));

/** Where the output went: exit code, and whether stdout / stderr got anything. */
const shape = (r: { code: number | null; stdout: string; stderr: string }) => ({ code: r.code, stdout: r.stdout !== '', stderr: r.stderr !== '' });

const CASES: string[][] = [
  ['--version'],
  ['-v'],
  ['--version', 'nosuch'],
  ['-h'],
  ['--help'],
  ['help'],
  ['h'],
  [],
  ['help', 'state'],
  ['state', '-h'],
  ['-h', 'nosuch'],
  ['help', 'nosuch'],
  ['nosuch'],
];

runcTest('exit codes and streams of version and help match runc 1.1.5', async (t) => {
  for (const argv of CASES) {
    const [ours, theirs] = await Promise.all([runTsrun(argv), runCommand(RUNC, argv)]);
    t.deepEqual(shape(ours), shape(theirs), `${argv.join(' ') || '(no arguments)'}: tsrun ${ours.stderr} / runc ${theirs.stderr}`);
  }
});

test("--version keeps runc's first lines and names the runc version it follows", async (t) => {
  const r = await runTsrun(['--version']);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  t.regex(lines[0], /^tsrun version \d+\.\d+\.\d+$/);
  t.regex(lines[1], /^commit: /);
  t.regex(lines[2], /^spec: 1\.\d+\.\d+$/);
  t.true(lines.includes('runc: 1.1.5'), r.stdout);
  t.true(
    lines.some((l) => /^engine: (bun|node) /.test(l)),
    r.stdout,
  );
});

test("an unknown command or help topic: runc's error line on stderr, exit 3; with --log, in the log too", async (t) => {
  for (const argv of [['nosuch'], ['help', 'nosuch']]) {
    const r = await runTsrun(argv);
    t.is(r.code, 3, r.stderr);
    t.is(r.stdout, '');
    t.regex(r.stderr, /^time="[^"]+" level=error msg="No help topic for 'nosuch'\\n"\n$/, r.stderr);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-help-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const log = path.join(dir, 'log.json');
  const r = await runTsrun(['--log', log, '--log-format', 'json', 'nosuch']);
  t.is(r.code, 3);
  t.is(r.stderr, "No help topic for 'nosuch'\n");
  t.like(JSON.parse(fs.readFileSync(log, 'utf8')), { level: 'error', msg: "No help topic for 'nosuch'\n" });
});
