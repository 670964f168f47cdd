// Docker's seccomp profile format → linux.seccomp (src/seccomp/docker-profile.ts), decided as
// moby's setupSeccomp: archMap for the native arch, includes/excludes by arch, bounding
// capabilities and kernel version; and the default profile (src/seccomp/docker-default.json)
// applied to image runs by buildImageBundle unless --security-opt seccomp=unconfined (issue 13).
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildImageBundle } from '../../src/image/bundle.js';
import {
  applyImageSeccomp,
  dockerDefaultProfile,
  dockerProfileToSpec,
  loadSeccompChoice,
  parseKernelVersion,
  type DockerSeccompProfile,
  type ProfileContext,
} from '../../src/seccomp/docker-profile.js';
import { seccompOption } from '../../src/cli/verbs/run-image.js';
import { InvalidArgumentError } from '../../src/errors.js';
import type { LinuxSeccomp } from '../../src/spec/types.js';

const DOCKER_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];
const amd64 = (capabilities: string[] = DOCKER_CAPS, kernel: [number, number] = [6, 18]): ProfileContext => ({ arch: 'amd64', capabilities, kernel });

/** The action the profile gives `name` with no argument filter (undefined: the default action). */
function plainAction(s: LinuxSeccomp, name: string): string | undefined {
  return s.syscalls?.find((c) => c.names.includes(name) && !c.args?.length)?.action;
}

test("the default profile: ERRNO(EPERM) by default, the native arch and its sub-arches, Docker's conditional rules by capability", (t) => {
  const s = dockerProfileToSpec(dockerDefaultProfile(), amd64())!;
  t.is(s.defaultAction, 'SCMP_ACT_ERRNO');
  t.is(s.defaultErrnoRet, 1);
  t.deepEqual(s.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  for (const n of ['read', 'write', 'execve', 'openat', 'arch_prctl', 'modify_ldt', 'chroot']) t.is(plainAction(s, n), 'SCMP_ACT_ALLOW', n);
  // Need CAP_SYS_ADMIN (not in Docker's default set): refused by the default action.
  for (const n of ['mount', 'umount2', 'unshare', 'setns', 'keyctl', 'add_key', 'bpf', 'reboot', 'init_module']) {
    t.is(plainAction(s, n), undefined, n);
  }
  // ptrace: minKernel 4.8, met here.
  t.is(plainAction(s, 'ptrace'), 'SCMP_ACT_ALLOW');
  // clone3 without CAP_SYS_ADMIN: ENOSYS, so that libcs fall back to clone (whose flags are filtered).
  const clone3 = s.syscalls!.find((c) => c.names.includes('clone3'))!;
  t.is(clone3.action, 'SCMP_ACT_ERRNO');
  t.is(clone3.errnoRet, 38);
  const clone = s.syscalls!.filter((c) => c.names.includes('clone'));
  t.is(clone.length, 1, 'one clone rule: the flag-filtered one for non-s390');
  t.true(clone[0].args!.length > 0);
  // Arch-only rules of other arches are left out.
  t.is(plainAction(s, 's390_runtime_instr'), undefined);
  t.is(plainAction(s, 'riscv_flush_icache'), undefined);
  t.is(plainAction(s, 'arm_fadvise64_64'), undefined);
});

test('the default profile with CAP_SYS_ADMIN (and others) in the bounding set allows what they guard', (t) => {
  const s = dockerProfileToSpec(dockerDefaultProfile(), amd64([...DOCKER_CAPS, 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE', 'CAP_SYS_TIME', 'CAP_BPF']))!;
  for (const n of ['mount', 'unshare', 'setns', 'bpf', 'clone3', 'kcmp', 'clock_settime']) t.is(plainAction(s, n), 'SCMP_ACT_ALLOW', n);
  t.false(
    s.syscalls!.some((c) => c.names.includes('clone3') && c.action === 'SCMP_ACT_ERRNO'),
    'the clone3 ENOSYS rule is excluded',
  );
  t.true(
    s.syscalls!.some((c) => c.names.includes('clone') && !c.args?.length),
    'clone unfiltered',
  );
  t.false(
    s.syscalls!.some((c) => c.names.includes('clone') && c.args?.length),
    'the flag-filtered clone rule is excluded',
  );
});

test('other arches: arm64 gets AARCH64+ARM and its own calls, not amd64 ones', (t) => {
  const s = dockerProfileToSpec(dockerDefaultProfile(), { ...amd64(), arch: 'arm64' })!;
  t.deepEqual(s.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  t.is(plainAction(s, 'arm_fadvise64_64'), 'SCMP_ACT_ALLOW');
  t.is(plainAction(s, 'arch_prctl'), undefined);
});

test('includes and excludes: all caps needed to include, any cap excludes; arches; minKernel both ways', (t) => {
  const p: DockerSeccompProfile = {
    defaultAction: 'SCMP_ACT_ERRNO',
    architectures: ['SCMP_ARCH_X86_64'],
    syscalls: [
      { names: ['a'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_X', 'CAP_Y'] } },
      { names: ['b'], action: 'SCMP_ACT_ALLOW', excludes: { caps: ['CAP_Z', 'CAP_X'] } },
      { names: ['c'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['arm64'] } },
      { names: ['d'], action: 'SCMP_ACT_ALLOW', excludes: { arches: ['amd64'] } },
      { names: ['e'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '5.10' } },
      { names: ['f'], action: 'SCMP_ACT_ALLOW', excludes: { minKernel: '5.10' } },
      { name: 'g', action: 'SCMP_ACT_LOG' },
    ],
  };
  const names = (ctx: ProfileContext) => dockerProfileToSpec(p, ctx)!.syscalls!.flatMap((c) => c.names);
  t.deepEqual(names(amd64(['CAP_X'], [5, 4])), ['f', 'g']);
  t.deepEqual(names(amd64(['CAP_X', 'CAP_Y'], [5, 10])), ['a', 'e', 'g']);
  t.deepEqual(names(amd64([], [6, 1])), ['b', 'e', 'g']);
  t.deepEqual(names({ arch: 'arm64', capabilities: [], kernel: [4, 19] }), ['b', 'c', 'd', 'f', 'g']);
  t.deepEqual(dockerProfileToSpec(p, amd64())!.architectures, ['SCMP_ARCH_X86_64'], 'architectures kept as given');
});

test('bad profiles are refused naming the profile and the rule; an empty one means no filter', (t) => {
  const bad = (p: unknown) =>
    t.throws(() => dockerProfileToSpec(p as DockerSeccompProfile, amd64(), 'seccomp profile /x.json'), { instanceOf: InvalidArgumentError });
  t.regex(
    bad({ defaultAction: 'SCMP_ACT_ALLOW', archMap: [{ architecture: 'SCMP_ARCH_X86_64' }], architectures: ['SCMP_ARCH_X86'] })!.message,
    /both 'architectures' and 'archMap'/,
  );
  t.regex(
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ name: 'a', names: ['b'], action: 'SCMP_ACT_ALLOW' }] })!.message,
    /^seccomp profile \/x.json: syscalls\[0\]: both 'name' and 'names'/,
  );
  t.regex(
    bad({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['a'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: 'five' } }] })!.message,
    /minKernel "five"/,
  );
  t.regex(bad({ syscalls: [{ names: ['a'], action: 'SCMP_ACT_ALLOW' }] })!.message, /no defaultAction/);
  t.regex(bad([])!.message, /not a JSON object/);
  t.is(dockerProfileToSpec({}, amd64()), null);
  t.deepEqual(parseKernelVersion('6.18.0-1-amd64'), [6, 18]);
});

test('loadSeccompChoice: default, unconfined, a file read and checked at once, errors naming the file', (t) => {
  t.deepEqual(loadSeccompChoice(undefined), { kind: 'default' });
  t.deepEqual(loadSeccompChoice('unconfined'), { kind: 'unconfined' });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-seccomp-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const good = path.join(dir, 'good.json');
  fs.writeFileSync(good, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW' }));
  t.deepEqual(loadSeccompChoice(good), { kind: 'file', path: good, profile: { defaultAction: 'SCMP_ACT_ALLOW' } });
  t.throws(() => loadSeccompChoice(path.join(dir, 'nope.json')), { message: `seccomp profile ${path.join(dir, 'nope.json')}: ENOENT` });
  const notJson = path.join(dir, 'bad.json');
  fs.writeFileSync(notJson, '{');
  t.throws(() => loadSeccompChoice(notJson), { message: new RegExp(`^seccomp profile ${notJson}: not valid JSON`) });
  const noNames = path.join(dir, 'nonames.json');
  fs.writeFileSync(noNames, JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ action: 'SCMP_ACT_ERRNO' }] }));
  t.throws(() => loadSeccompChoice(noNames), { message: `seccomp profile ${noNames}: syscalls[0]: no syscall names` });
});

test('--security-opt: seccomp=… (the last wins, "seccomp:" too); anything else is refused', (t) => {
  t.is(seccompOption(undefined), undefined);
  t.is(seccompOption(['seccomp=unconfined']), 'unconfined');
  t.is(seccompOption(['seccomp=/a.json', 'seccomp:/b.json']), '/b.json');
  t.throws(() => seccompOption(['apparmor=unconfined']), { message: /only seccomp=unconfined or seccomp=FILE/ });
  t.throws(() => seccompOption(['seccomp=']), { message: /want seccomp=unconfined or seccomp=FILE/ });
});

test('applyImageSeccomp on an image bundle: the default profile for its caps; none when unconfined; a file profile as given', (t) => {
  const user = { uid: 0, gid: 0, additionalGids: [], home: '/root' };
  const base = { id: 'abc', network: 'none' as const, containerDir: '/c', command: ['x'] };
  const host = { arch: 'amd64', kernel: [6, 18] as [number, number] };
  const def = buildImageBundle({ config: {} }, user, base).spec;
  applyImageSeccomp(def, { kind: 'default' }, host);
  t.deepEqual(def.linux!.seccomp, dockerProfileToSpec(dockerDefaultProfile(), amd64(def.process!.capabilities!.bounding!)));
  t.deepEqual(def.linux!.seccomp, dockerProfileToSpec(dockerDefaultProfile(), amd64()), "the bundle's caps are Docker's default set");
  const unconfined = buildImageBundle({ config: {} }, user, base).spec;
  applyImageSeccomp(unconfined, { kind: 'unconfined' }, host);
  t.is(unconfined.linux!.seccomp, undefined);
  const file = buildImageBundle({ config: {} }, user, base).spec;
  const profile = { defaultAction: 'SCMP_ACT_LOG', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } }] };
  applyImageSeccomp(file, { kind: 'file', path: '/p.json', profile }, host);
  t.deepEqual(file.linux!.seccomp, { defaultAction: 'SCMP_ACT_LOG' });
});
