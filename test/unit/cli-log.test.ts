import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatLine, openLog } from '../../src/cli/log.js';

const T = new Date('2026-03-04T05:06:07.890Z');
const now = () => T;

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-cli-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// RFC3339 as Go's time.Time.UnmarshalJSON accepts it (containerd decodes `time` that way).
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

test('json lines have exactly level, msg, time with string level and RFC3339 time', (t) => {
  const line = formatLine('json', 'error', 'container does not exist', T);
  t.is(line, '{"level":"error","msg":"container does not exist","time":"2026-03-04T05:06:07Z"}\n');
  const j = JSON.parse(line);
  t.deepEqual(Object.keys(j), ['level', 'msg', 'time']);
  t.regex(j.time, RFC3339);
});

test('text lines look like logrus TextFormatter', (t) => {
  t.is(formatLine('text', 'error', 'container not running', T), 'time="2026-03-04T05:06:07Z" level=error msg="container not running"\n');
  t.is(formatLine('text', 'warning', 'plain', T), 'time="2026-03-04T05:06:07Z" level=warning msg=plain\n');
  t.is(formatLine('text', 'info', 'say "hi"\n', T), 'time="2026-03-04T05:06:07Z" level=info msg="say \\"hi\\"\\n"\n');
  t.is(formatLine('text', 'info', '', T), 'time="2026-03-04T05:06:07Z" level=info msg=""\n');
});

test('--log file: appended, mode 0644, debug only with --debug; containerd finds the last error', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'log.json');
  writeFileSync(file, '{"level":"info","msg":"earlier run","time":"2026-01-01T00:00:00Z"}\n');
  const log = openLog({ path: file, format: 'json', now });
  log.debug('hidden');
  log.info('starting');
  log.warn('careful');
  log.error('first error');
  log.error('container with id exists: x');
  log.close();
  log.close(); // idempotent
  const lines = readFileSync(file, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(
    lines.map((l) => l.level),
    ['info', 'info', 'warning', 'error', 'error'],
  );
  t.is(lines[0].msg, 'earlier run', 'appended, not truncated');
  // containerd getLastRuntimeError: the last "error" msg.
  t.is(lines.filter((l) => l.level === 'error').pop().msg, 'container with id exists: x');
  const dbg = openLog({ path: file, format: 'json', debug: true, now });
  dbg.debug('visible');
  dbg.close();
  t.is(JSON.parse(readFileSync(file, 'utf8').trimEnd().split('\n').pop()!).msg, 'visible');
});

test('a new log file is created with mode 0644 (subject to umask)', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'new.log');
  const log = openLog({ path: file, format: 'text', now });
  log.error('boom');
  log.close();
  t.is(statSync(file).mode & 0o777, 0o644 & ~process.umask());
  t.is(readFileSync(file, 'utf8'), 'time="2026-03-04T05:06:07Z" level=error msg=boom\n');
});

test('an unwritable log path throws at open (the CLI reports it once)', (t) => {
  const dir = tempDir(t);
  t.throws(() => openLog({ path: join(dir, 'missing', 'log.json') }), { code: 'ENOENT' });
});

test('without --log, lines go to stderr, text by default (runc writes --log-format json there too)', (t) => {
  const mod = new URL('../../src/cli/log.ts', import.meta.url).href;
  const script = `import(${JSON.stringify(mod)}).then(({ openLog }) => { const l = openLog({ now: () => new Date(0) }); l.debug('no'); l.error('to stderr'); });`;
  const r = spawnSync(process.execPath, ['--import=tsx', '-e', script], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout, '');
  t.is(r.stderr, 'time="1970-01-01T00:00:00Z" level=error msg="to stderr"\n');
});
