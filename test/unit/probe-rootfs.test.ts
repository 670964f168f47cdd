// The cached test rootfs: its layout, that it is reused, and that copies are private.
import test from 'ava';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { copyTestRootfs, ensureTestRootfs, parseProbeJson, REPO_ROOT, type ProbeReport } from '../helpers/rootfs.js';
import { isRoot } from '../helpers/skip.js';

const run = promisify(execFile);

test('the rootfs holds busybox with its applets, the probe and a minimal /etc', async (t) => {
  const rootfs = await ensureTestRootfs();
  t.is(path.dirname(rootfs), path.join(REPO_ROOT, '.cache'));
  t.regex(path.basename(rootfs), /^test-rootfs-[0-9a-f]{16}$/);
  t.is(await ensureTestRootfs(), rootfs, 'memoized');

  const { stdout } = await run('/bin/busybox', ['--list']);
  const applets = stdout.split('\n').filter(Boolean);
  for (const applet of applets.filter((a) => a !== 'busybox')) {
    t.is(await fs.readlink(path.join(rootfs, 'bin', applet)), 'busybox', applet);
  }
  t.true(applets.includes('sh'));

  const probe = await fs.stat(path.join(rootfs, 'probe'));
  const binProbe = await fs.stat(path.join(rootfs, 'bin/probe'));
  t.is(probe.ino, binProbe.ino);
  t.is(probe.mode & 0o777, 0o755);

  const passwd = await fs.readFile(path.join(rootfs, 'etc/passwd'), 'utf8');
  t.regex(passwd, /^root:x:0:0:/m);
  t.regex(passwd, /^nobody:x:65534:65534:/m);
  t.regex(passwd, /^tester:x:1000:1000:tester:\/home\/tester:/m);
  const group = await fs.readFile(path.join(rootfs, 'etc/group'), 'utf8');
  t.regex(group, /^extra:x:2000:/m);
  t.regex(group, /^tester:x:1000:/m);
  t.regex(await fs.readFile(path.join(rootfs, 'etc/os-release'), 'utf8'), /^ID=tsrun-test$/m);

  for (const dir of ['proc', 'sys', 'dev', 'tmp', 'etc', 'root', 'home/tester']) {
    t.true((await fs.stat(path.join(rootfs, dir))).isDirectory(), dir);
  }
  for (const dir of ['proc', 'sys', 'dev', 'tmp']) t.deepEqual(await fs.readdir(path.join(rootfs, dir)), [], `${dir} is empty`);
  t.is((await fs.stat(path.join(rootfs, 'tmp'))).mode & 0o7777, 0o1777);
  // Only root can chown: otherwise the home stays the caller's.
  t.is((await fs.stat(path.join(rootfs, 'home/tester'))).uid, isRoot ? 1000 : process.getuid!());

  // busybox and the probe run from the rootfs with no libraries (both static).
  const { stdout: echoed } = await run(path.join(rootfs, 'bin/sh'), ['-c', `${rootfs}/bin/probe echo ok`]);
  t.is(echoed, 'ok\n');
});

test('copyTestRootfs gives a private writable copy and removes it', async (t) => {
  const rootfs = await ensureTestRootfs();
  const copy = await copyTestRootfs();
  t.teardown(copy.cleanup);
  t.not(copy.path, rootfs);
  await fs.writeFile(path.join(copy.path, 'etc/hostname'), 'changed\n');
  t.is(await fs.readFile(path.join(rootfs, 'etc/hostname'), 'utf8'), '', 'the shared rootfs is untouched');
  t.is(await fs.readlink(path.join(copy.path, 'bin/ls')), 'busybox');
  const { stdout } = await run(path.join(copy.path, 'probe'), ['argv']);
  t.deepEqual(parseProbeJson<Pick<ProbeReport, 'argv'>>(stdout).argv, [path.join(copy.path, 'probe'), 'argv']);
  await copy.cleanup();
  await t.throwsAsync(fs.access(path.dirname(copy.path)));
});

test('parallel fresh builds race safely to one complete rootfs', async (t) => {
  const cache = await fs.mkdtemp(path.join(os.tmpdir(), 'tsrun-rootfs-cache-'));
  t.teardown(() => fs.rm(cache, { recursive: true, force: true }));
  // Separate processes have separate memoization, so they really race on the rename.
  const script = `import(${JSON.stringify(path.join(REPO_ROOT, 'test/helpers/rootfs.ts'))}).then(async (m) => console.log(await m.ensureTestRootfs()))`;
  // A leftover from a builder that died mid-build (pid 2^22+1 cannot exist: pid_max ≤ 2^22).
  const abandoned = path.join(cache, '.tmp-rootfs-0123456789abcdef-4194305-deadbeef');
  await fs.mkdir(path.join(abandoned, 'bin'), { recursive: true });
  const env = { ...process.env, TSRUN_TEST_CACHE_DIR: cache };
  const results = await Promise.all([1, 2, 3].map(() => run(process.execPath, ['--import=tsx', '-e', script], { cwd: REPO_ROOT, env })));
  const paths = [...new Set(results.map((r) => r.stdout.trim()))];
  t.is(paths.length, 1);
  t.is(path.dirname(paths[0]), cache);
  t.is(path.basename(paths[0]), path.basename(await ensureTestRootfs()), 'same content key as the shared cache');
  t.deepEqual(await fs.readdir(cache), [path.basename(paths[0])], 'no temp dirs left behind, abandoned ones removed');
  t.deepEqual((await fs.readdir(paths[0])).sort(), (await fs.readdir(await ensureTestRootfs())).sort());
});
