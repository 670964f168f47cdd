// The host-damage check (test/host-guard.ts, which wraps `npm test`) must see each kind of damage
// it claims to: here a command does one harmful thing under the guard and the guard must name it.
// The guard is narrowed to what each test controls (a watched temp dir, a cgroup of its own, no
// system-wide checks), because other test files mount and make cgroups at the same time.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unifiedMount } from '../../src/cgroups/v2.js';
import { needs, need, ROOT } from '../helpers/skip.js';
import { waitFor } from '../helpers/wait.js';

const GUARD = join(import.meta.dirname, '..', 'host-guard.ts');

const UNIFIED = unifiedMount();
const tracefs = readFileSync('/proc/filesystems', 'utf8').includes('tracefs');
const guardTest = needs(
  ROOT,
  need(!process.env.TSRUN_IN_VM, 'the guard wraps the host suite: a VM is thrown away after its run'),
  need(tracefs && existsSync('/usr/bin/unshare'), 'needs tracefs and /usr/bin/unshare (the guard traces signals and forks)'),
  need(UNIFIED, 'needs a cgroup v2 hierarchy'),
);

interface GuardRun {
  status: number | null;
  stderr: string;
}

/** The guard around `sh -c script`, checking only `dir` and the cgroup `cg`. */
function guard(dir: string, cg: string, script: string, system = false): Promise<GuardRun> {
  return new Promise((resolve, reject) => {
    const args = [
      '--import=tsx',
      GUARD,
      '--no-default-watch',
      '--watch',
      dir,
      '--cgroup-root',
      cg,
      ...(system ? [] : ['--no-system']),
      '--',
      '/bin/sh',
      '-c',
      script,
    ];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    // The guard's stderr is read to its end (a process the script leaves behind may hold it, so
    // at most a second after the exit): 'exit' can come before the last lines are read.
    const drained = new Promise<void>((r) => child.stderr.once('end', r));
    child.on('exit', (status) => {
      void Promise.race([drained, new Promise((r) => setTimeout(r, 1000))]).then(() => resolve({ status, stderr }));
    });
  });
}

function scratch(t: { teardown(fn: () => void): void }): { dir: string; cg: string } {
  const dir = mkdtempSync(join(tmpdir(), 'tsrun-guard-'));
  const cg = join(UNIFIED!, `tsrun-guard-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(cg);
  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
    rmdirSync(cg);
  });
  return { dir, cg };
}

guardTest('a command that changes nothing passes, with its own exit status', async (t) => {
  const { dir, cg } = scratch(t);
  writeFileSync(join(dir, 'kept'), 'x');
  const ok = await guard(dir, cg, 'cat kept >/dev/null; exit 0');
  t.is(ok.status, 0, ok.stderr);
  t.regex(ok.stderr, /the host is as it was/);
  const failed = await guard(dir, cg, 'exit 3');
  t.is(failed.status, 3, failed.stderr);
});

guardTest('a signal to a process that was running before the suite is damage', async (t) => {
  const { dir, cg } = scratch(t);
  const sentinel = spawn('/bin/sleep', ['1000'], { stdio: 'ignore' });
  t.teardown(() => sentinel.kill('SIGKILL'));
  await waitFor(() => sentinel.pid !== undefined);
  const r = await guard(dir, cg, `kill -TERM ${sentinel.pid}`);
  t.is(r.status, 1, r.stderr);
  t.regex(r.stderr, new RegExp(`signal 15 sent by .* to pid ${sentinel.pid} \\(sleep\\), which was running before the suite`));
});

guardTest('a file changed, added or removed in a watched tree is damage', async (t) => {
  const { dir, cg } = scratch(t);
  writeFileSync(join(dir, 'changed'), 'a');
  writeFileSync(join(dir, 'removed'), 'a');
  const r = await guard(dir, cg, `cd ${dir} && echo b >> changed && rm removed && : > added`);
  t.is(r.status, 1, r.stderr);
  t.regex(r.stderr, new RegExp(`file changed: ${join(dir, 'changed')}`));
  t.regex(r.stderr, new RegExp(`file removed: ${join(dir, 'removed')}`));
  t.regex(r.stderr, new RegExp(`file added: ${join(dir, 'added')}`));
});

guardTest('a device program attached to a cgroup that existed, and a cgroup left, are damage', async (t) => {
  const { dir, cg } = scratch(t);
  const child = join(cg, 'left');
  // Teardowns run last-first: the child goes before scratch()'s cgroup.
  t.teardown(() => {
    if (existsSync(child)) rmdirSync(child);
  });
  const attach = `import('${join(import.meta.dirname, '..', '..', 'src', 'cgroups', 'devices.ts')}').then((m) => m.setDevices('${cg}', []))`;
  const r = await guard(dir, cg, `'${process.execPath}' --import=tsx -e "${attach}" && mkdir ${child}`);
  t.is(r.status, 1, r.stderr);
  t.regex(r.stderr, new RegExp(`device programs of ${cg} changed: \\[\\] → \\[\\d+\\]`));
  t.regex(r.stderr, new RegExp(`cgroup left: ${child}`));
});

guardTest('a process the suite forked and left running is reported and ended', async (t) => {
  const { dir, cg } = scratch(t);
  const r = await guard(dir, cg, 'setsid /bin/sleep 1000 </dev/null >/dev/null 2>&1 &');
  t.is(r.status, 1, r.stderr);
  const m = /process (\d+) \(sleep\) forked by the suite is still running/.exec(r.stderr);
  t.truthy(m, r.stderr);
  const pid = Number(m![1]);
  await waitFor(() => {
    try {
      return /^\d+ \(sleep\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return true;
    }
  });
});

guardTest('a mount left behind is damage', async (t) => {
  const { dir, cg } = scratch(t);
  const point = mkdtempSync(join(tmpdir(), 'tsrun-guard-mnt-'));
  t.teardown(() => {
    spawnSync('umount', ['-l', point]);
    rmdirSync(point);
  });
  const r = await guard(dir, cg, `mount -t tmpfs tsrun-guard-test ${point}`, true);
  t.is(r.status, 1, r.stderr);
  t.regex(r.stderr, new RegExp(`mount left: ${point} tmpfs tsrun-guard-test`));
});
