// linux.seccomp in real containers (runtime-spec config-linux.md "Seccomp"): each profile is
// compiled by tsrun and loaded by the container's init; a static tool (test/helpers/sc-tool.ts)
// makes raw syscalls inside and prints "<ret> <errno>". seccomp-load.test.ts covers the BPF
// without a container; this file proves the wiring: the filter is on the container's program (and
// on exec'd processes), actions and errnos are the profile's, and NOTIFY reaches an agent.
import test, { type ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { seccompLib } from '../../src/seccomp/seccomp-lib.js';
import type { LinuxSeccomp } from '../../src/spec/types.js';
import { makeBundle, waitFor, type Bundle } from '../helpers/bundle.js';
import { buildSecurityTool, installSecurityTool, NR, scResults } from '../helpers/sc-tool.js';
import { arch, needs, ROOT } from '../helpers/skip.js';

// The syscall numbers (helpers/sc-tool.ts NR) are x86_64 ones.
const rootTest = needs(ROOT, arch('x64'));

async function runSc(t: ExecutionContext, seccomp: LinuxSeccomp, script: string): Promise<{ b: Bundle; code: number | null; stdout: string; stderr: string }> {
  const b = await makeBundle(t, (s, { rootfs }) => {
    installSecurityTool(rootfs);
    s.linux!.seccomp = seccomp;
    s.process!.args = ['/bin/sh', '-c', script];
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.log(r.stdout.trim(), r.stderr.trim());
  return { b, code: r.code, stdout: r.stdout, stderr: r.stderr };
}

rootTest('ERRNO with errnoRet, argument conditions (AND within a rule, a repeated index as OR), the rest allowed', async (t) => {
  const seccomp: LinuxSeccomp = {
    defaultAction: 'SCMP_ACT_ALLOW',
    syscalls: [
      { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 42 },
      // runc: two conditions on different args are ANDed
      {
        names: ['getpriority'],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: 35,
        args: [
          { index: 0, value: 0, op: 'SCMP_CMP_EQ' },
          { index: 1, value: 4242, op: 'SCMP_CMP_EQ' },
        ],
      },
      // runc: the same index twice makes one rule per condition, i.e. OR
      {
        names: ['umask'],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: 34,
        args: [
          { index: 0, value: 0o111, op: 'SCMP_CMP_EQ' },
          { index: 0, value: 0o222, op: 'SCMP_CMP_EQ' },
        ],
      },
    ],
  };
  const { code, stdout } = await runSc(
    t,
    seccomp,
    [
      `/sc ${NR.mkdir} /tmp/x 0755`,
      'mkdir /tmp/y 2>&1; echo "mkdir rc=$?"',
      `/sc ${NR.getpriority} 0 4242`,
      `/sc ${NR.getpriority} 0 0`,
      `/sc ${NR.getpriority} 1 4242`,
      `/sc ${NR.umask} 0111`,
      `/sc ${NR.umask} 0222`,
      `/sc ${NR.umask} 0333`,
      `/sc ${NR.getpid}`,
    ].join('; '),
  );
  t.is(code, 0);
  const r = scResults(stdout);
  t.deepEqual(r[0], [-1, 42], 'mkdir: errnoRet 42');
  t.regex(stdout, /No message of desired type[\s\S]*mkdir rc=1/, 'busybox mkdir sees ENOMSG (42)');
  t.deepEqual(r[1], [-1, 35], 'getpriority(0, 4242): both conditions hold');
  t.not(r[2][1], 35, 'getpriority(0, 0): only one condition holds, allowed');
  t.not(r[3][1], 35, 'getpriority(1, 4242): only one condition holds, allowed');
  t.deepEqual(r[4], [-1, 34], 'umask(0111): first alternative');
  t.deepEqual(r[5], [-1, 34], 'umask(0222): second alternative');
  t.is(r[6][1], 0, 'umask(0333) allowed');
  t.true(r[7][0] >= 1 && r[7][1] === 0, 'getpid allowed');
});

rootTest('KILL and KILL_PROCESS end the process with SIGSYS; other processes go on', async (t) => {
  const { code, stdout } = await runSc(
    t,
    {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [
        { names: ['personality'], action: 'SCMP_ACT_KILL' },
        { names: ['syslog'], action: 'SCMP_ACT_KILL_PROCESS' },
      ],
    },
    `/sc ${NR.personality} 0xffffffff; echo "kill rc=$?"; /sc ${NR.syslog} 10 0 0; echo "kill_process rc=$?"; /sc ${NR.getpid}`,
  );
  t.is(code, 0);
  t.regex(stdout, /^kill rc=159$/m, '128 + SIGSYS (31)');
  t.regex(stdout, /^kill_process rc=159$/m);
  t.is(scResults(stdout).length, 1, 'only the getpid call printed a result');
});

/** Every syscall libseccomp knows with a number below `below`, except `except`. */
function allowBelow(below: number, except: number[]): string[] {
  const lib = seccompLib();
  const arch = lib.archNative() >>> 0;
  const names: string[] = [];
  for (let nr = 0; nr < below; nr++) {
    const name = except.includes(nr) ? null : lib.resolveNumArch(arch, nr);
    if (name) names.push(name);
  }
  return names;
}

rootTest('defaultAction ERRNO with defaultErrnoRet; a syscall newer than the profile gets ENOSYS (so libc falls back from clone3)', async (t) => {
  // The profile names every syscall up to rseq (334) except mkdir and getcwd; clone3 (435) and
  // close_range (436) are newer than anything it names.
  const { code, stdout, stderr } = await runSc(
    t,
    {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 61,
      syscalls: [{ names: allowBelow(NR.rseq + 1, [NR.mkdir, NR.getcwd]), action: 'SCMP_ACT_ALLOW' }],
    },
    `/sc ${NR.mkdir} /tmp/x 0755; /sc ${NR.getcwd} 0 0; /sc ${NR.clone3} 0 0; /sc ${NR.getpid}; echo forked-ok`,
  );
  t.is(code, 0, stderr);
  const r = scResults(stdout);
  t.deepEqual(r[0], [-1, 61], 'mkdir: the default errno (ENODATA)');
  t.deepEqual(r[1], [-1, 61], 'getcwd: the default errno');
  t.deepEqual(r[2], [-1, 38], 'clone3: ENOSYS, not the default errno');
  t.is(r[3][1], 0, 'an allowed syscall works');
  t.regex(stdout, /forked-ok/, 'the shell could fork its children throughout');
});

rootTest("exec: the exec'd process gets the container's filter too", async (t) => {
  const b = await makeBundle(t, (s, { rootfs }) => {
    installSecurityTool(rootfs);
    s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 43 }] };
    s.process!.args = ['sleep', '60'];
  });
  t.is((await b.tsrun(['run', '-d', '--bundle', b.dir, b.id])).code, 0);
  const e = await b.tsrun(['exec', b.id, '/sc', String(NR.mkdir), '/tmp/z', '0755']);
  t.is(e.code, 0, e.stderr);
  t.deepEqual(scResults(e.stdout)[0], [-1, 43]);
  const st = await b.tsrun(['exec', b.id, 'grep', 'Seccomp:', '/proc/self/status']);
  t.regex(st.stdout, /Seccomp:\s+2/, 'filter mode');
  t.is((await b.tsrun(['delete', '--force', b.id])).code, 0);
});

rootTest('NOTIFY with listenerPath: the agent gets the container process state with listenerMetadata and the notify fd, and answers the syscall', async (t) => {
  const tool = buildSecurityTool();
  const b = await makeBundle(t, (s, { rootfs, dir }) => {
    installSecurityTool(rootfs);
    s.linux!.seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      listenerPath: path.join(dir, 'agent.sock'),
      listenerMetadata: 'tsrun-test-metadata',
      syscalls: [{ names: ['getppid'], action: 'SCMP_ACT_NOTIFY' }],
    };
    s.annotations = { 'org.tsrun.test': 'notify' };
    s.process!.args = ['/sc', String(NR.getppid)];
  });
  const agent = spawn(tool, ['agent', path.join(b.dir, 'agent.sock')], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => agent.exitCode === null && agent.kill('SIGKILL'));
  let out = '';
  agent.stdout.on('data', (d: Buffer) => (out += d.toString()));
  agent.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const agentDone = new Promise<number | null>((resolve) => agent.on('close', (c) => resolve(c)));
  await waitFor(
    () => out.includes('ready'),
    5000,
    () => 'the agent to listen',
  );
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(scResults(r.stdout)[0], [4242, 0], 'getppid returned what the agent answered');
  t.is(await agentDone, 0, out);
  const stateLine = out.split('\n').find((l) => l.startsWith('state '))!;
  const state = JSON.parse(stateLine.slice(6));
  t.deepEqual(state.fds, ['seccompFd']);
  t.is(state.metadata, 'tsrun-test-metadata');
  t.is(state.state.id, b.id);
  t.is(state.state.bundle, b.dir);
  t.true(state.pid > 0 && state.pid === state.state.pid, 'pid is the init');
  t.deepEqual(state.state.annotations, { 'org.tsrun.test': 'notify' });
  t.regex(out, new RegExp(`notified ${NR.getppid}`));
});

rootTest(
  'noNewPrivileges false: a profile without close_range and clone3 (loaded before the capabilities drop) still starts, runs a startContainer hook and leaks no fd',
  async (t) => {
    // Before the fix, the set-up after the filter failed: "close inherited fds: function not
    // implemented" (close_range is ENOSYS to this profile), and the hook's clone3 likewise.
    const b = await makeBundle(t, (s, { rootfs }) => {
      installSecurityTool(rootfs);
      s.process!.noNewPrivileges = false;
      s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: allowBelow(NR.rseq + 1, []), action: 'SCMP_ACT_ALLOW' }] };
      s.hooks = { startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'echo hook-ran > /dev/shm/hook'] }] };
      s.process!.args = ['sh', '-c', `/sc ${NR.close_range} 100 200 0; cat /dev/shm/hook; ls /proc/self/fd`];
    });
    const extra = fs.openSync(path.join(b.dir, 'extra'), 'w');
    t.teardown(() => fs.closeSync(extra));
    const r = await b.tsrun(['run', '--bundle', b.dir, b.id], { extraFds: [extra] });
    t.is(r.code, 0, r.stderr);
    t.deepEqual(scResults(r.stdout)[0], [-1, 38], 'close_range is ENOSYS inside');
    t.regex(r.stdout, /^hook-ran$/m, 'the startContainer hook ran under the filter');
    const fds = r.stdout
      .split('\n')
      .filter((l) => /^\d+$/.test(l))
      .map(Number);
    t.deepEqual(
      fds.filter((n) => n !== 3),
      [0, 1, 2],
      `only stdio (and ls's own directory fd 3): ${fds.join(' ')}`,
    );
  },
);

test('features reports seccomp truthfully: enabled, every action tsrun maps, the flags this kernel has', async (t) => {
  const { runTsrun } = await import('../helpers/bundle.js');
  const r = await runTsrun(['features']);
  t.is(r.code, 0, r.stderr);
  const f = JSON.parse(r.stdout);
  t.true(f.linux.seccomp.enabled);
  for (const a of [
    'SCMP_ACT_ALLOW',
    'SCMP_ACT_ERRNO',
    'SCMP_ACT_KILL',
    'SCMP_ACT_KILL_PROCESS',
    'SCMP_ACT_KILL_THREAD',
    'SCMP_ACT_TRAP',
    'SCMP_ACT_TRACE',
    'SCMP_ACT_LOG',
    'SCMP_ACT_NOTIFY',
  ]) {
    t.true(f.linux.seccomp.actions.includes(a), a);
  }
  t.true(f.linux.seccomp.operators.includes('SCMP_CMP_MASKED_EQ'));
  t.true(f.linux.seccomp.archs.includes('SCMP_ARCH_X86_64') || process.arch !== 'x64');
  t.true(f.linux.seccomp.supportedFlags.includes('SECCOMP_FILTER_FLAG_SPEC_ALLOW'), 'this kernel has SPEC_ALLOW (4.17+)');
  t.deepEqual(f.hooks, ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
});
