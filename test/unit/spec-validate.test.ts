import test from 'ava';
import { InvalidSpecError } from '../../src/errors.js';
import { defaultSpec } from '../../src/spec/defaults.js';
import { validateSpec } from '../../src/spec/validate.js';

function problemsOf(spec: unknown): string[] {
  try {
    validateSpec(spec);
  } catch (err) {
    if (err instanceof InvalidSpecError) return err.problems;
    throw err;
  }
  return [];
}

function warningsOf(spec: unknown): string[] {
  const warnings: string[] = [];
  validateSpec(spec, { warnings });
  return warnings;
}

/** A default spec with `edit` applied (a fresh copy each time). */
function spec(edit: (s: any) => void): any {
  const s: any = defaultSpec();
  edit(s);
  return s;
}

test('one config with many problems reports every one of them, with paths', (t) => {
  const bad = spec((s) => {
    delete s.ociVersion;
    s.root.path = '';
    s.process.args = [];
    s.process.cwd = 'relative/dir';
    s.process.user.uid = -1;
    s.process.rlimits.push({ type: 'RLIMIT_BOGUS', hard: 1, soft: 2 });
    s.process.rlimits.push({ type: 'RLIMIT_NOFILE', hard: 1, soft: 1 });
    s.process.oomScoreAdj = 5000;
    s.linux.namespaces.push({ type: 'foo' }, { type: 'pid' }, { type: 'cgroup', path: 'relative' });
    s.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    s.linux.sysctl = { 'kernel.shmmax': '1', 'vm.swappiness': '1' };
    s.linux.timeOffsets = { monotonic: { secs: 1 } };
    s.linux.devices = [
      { path: '/dev/x', type: 'z' },
      { path: '/dev/y', type: 'c' },
    ];
    s.linux.resources.devices.push({ allow: true, access: 'rwx' });
    s.mounts.push({ destination: '/data', type: 'none', source: '/srv', options: ['rbind', 'size=1m'] });
    s.hooks = { poststart: [{ path: 'hook.sh', timeout: 0 }] };
  });
  const problems = problemsOf(bad);
  const expected = [
    'ociVersion: is required',
    'root.path: must not be empty',
    'process.args: must not be empty',
    'process.cwd: must be an absolute path, got "relative/dir"',
    'process.user.uid: -1 is out of range [0, 4294967295]',
    'process.rlimits[1].type: unknown rlimit type "RLIMIT_BOGUS"',
    'process.rlimits[1]: soft limit 2 exceeds hard limit 1',
    'process.rlimits[2].type: duplicate rlimit RLIMIT_NOFILE',
    'process.oomScoreAdj: 5000 is out of range [-1000, 1000]',
    'linux.namespaces[5].type: unknown namespace type "foo"',
    'linux.namespaces[6].type: duplicate namespace type "pid"',
    'linux.namespaces[7].path: must be an absolute path, got "relative"',
    "linux.uidMappings: user namespace mappings specified, but user namespace isn't enabled in the config",
    'linux.sysctl.vm.swappiness: sysctl "vm.swappiness" is not in a separate kernel namespace',
    "linux.timeOffsets: time namespace offsets specified, but time namespace isn't enabled in the config",
    'linux.devices[0].type: unknown device type "z"',
    'linux.devices[1]: device type c needs major and minor numbers',
    'mounts[7].options: bind mounts cannot have any filesystem-specific options applied ("size=1m")',
    'hooks.poststart[0].path: must be an absolute path, got "hook.sh"',
    'hooks.poststart[0].timeout: 0 is out of range [1, max]',
  ];
  t.deepEqual([...problems].sort(), [...expected].sort());
  const err = t.throws(() => validateSpec(bad), { instanceOf: InvalidSpecError });
  t.is(err!.code, 'TSRUN_INVALID_SPEC');
  t.true(err!.message.includes('unknown namespace type "foo"'));
});

test('wrong JSON types are named with the type found', (t) => {
  const problems = problemsOf(
    spec((s) => {
      s.process.terminal = 'yes';
      s.process.env = ['A=1', 3];
      s.hostname = 7;
      s.mounts = {};
      s.linux.namespaces = [{ type: 'pid' }, 'mount'];
      s.linux.resources.memory = { limit: 1.5, swappiness: 101 };
      s.annotations = { a: 1 };
    }),
  );
  t.deepEqual(problems.sort(), [
    'annotations.a: must be a string, got number',
    'hostname: must be a string, got number',
    'linux.maskedPaths: unable to restrict sys entries without a private MNT namespace',
    'linux.namespaces[1]: must be an object, got string',
    'linux.resources.memory.limit: must be an integer, got 1.5',
    'linux.resources.memory.swappiness: 101 is out of range [0, 100]',
    'mounts: must be an array, got object',
    'process.env[1]: must be a string, got number',
    'process.terminal: must be a boolean, got string',
  ]);
});

test('not an object at all', (t) => {
  t.deepEqual(problemsOf(null), ['config: is required']);
  t.deepEqual(problemsOf([]), ['config: must be an object, got array']);
});

test('valid configs pass: default, rootless, and a config using most fields', (t) => {
  t.notThrows(() => validateSpec(defaultSpec()));
  t.notThrows(() => validateSpec(defaultSpec({ rootless: true })));
  const full = spec((s) => {
    s.ociVersion = '1.3.0';
    s.domainname = 'example.org';
    s.annotations = { 'io.example': 'x' };
    s.process.user = { uid: 1000, gid: 1000, umask: 0o22, additionalGids: [5, 6] };
    s.process.consoleSize = { height: 24, width: 80 };
    s.process.oomScoreAdj = -500;
    s.process.scheduler = { policy: 'SCHED_FIFO', priority: 10 };
    s.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 4 };
    s.process.execCPUAffinity = { initial: '0', final: '0-1,3' };
    s.hooks = { createRuntime: [{ path: '/bin/true', args: ['true'], env: ['A=1'], timeout: 5 }], poststop: [{ path: '/bin/false' }] };
    s.mounts.push({ destination: '/data', type: 'bind', source: '/srv', options: ['rbind', 'rro', 'rprivate'] });
    s.mounts.push({
      destination: '/idm',
      type: 'none',
      source: '/srv',
      options: ['bind', 'idmap'],
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    });
    s.linux.namespaces.push({ type: 'user' }, { type: 'cgroup' }, { type: 'time' });
    s.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    s.linux.timeOffsets = { monotonic: { secs: 10, nanosecs: 5 }, boottime: { secs: -3 } };
    s.linux.sysctl = {
      'net.ipv4.ip_forward': '1',
      'kernel.shmmax': '1',
      'fs.mqueue.msg_max': '10',
      'kernel.domainname': 'x',
      'user.max_user_namespaces': '0',
      'net/ipv4/conf/eno2.100/rp_filter': '0',
    };
    s.linux.devices = [
      { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
      { path: '/dev/fifo', type: 'p' },
    ];
    s.linux.resources = {
      devices: [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
      ],
      memory: { limit: 1 << 30, reservation: -1, swap: -1, swappiness: 10, disableOOMKiller: false },
      cpu: { shares: 1024, quota: 100000, period: 100000, burst: 0, cpus: '0-1', mems: '0', idle: 0 },
      pids: { limit: 0 },
      blockIO: { weight: 500, weightDevice: [{ major: 8, minor: 0, weight: 100 }], throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }] },
      hugepageLimits: [{ pageSize: '2MB', limit: 209715200 }],
      network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }] },
      rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
      unified: { 'memory.high': '1G', 'io.weight': '100' },
    };
    s.linux.cgroupsPath = 'system.slice:tsrun:abc';
    s.linux.netDevices = { eth1: { name: 'ctr0' } };
    s.linux.seccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
      flags: ['SECCOMP_FILTER_FLAG_LOG'],
      listenerPath: '/run/seccomp.sock',
      syscalls: [
        { names: ['getcwd', 'chmod'], action: 'SCMP_ACT_ALLOW', args: [{ index: 1, value: 0, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
        { names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' },
      ],
    };
    s.linux.rootfsPropagation = 'rslave';
    s.linux.intelRdt = { closID: 'guaranteed', l3CacheSchema: 'L3:0=7f0', schemata: ['L2:0=ff'], enableMonitoring: true };
    s.linux.memoryPolicy = { mode: 'MPOL_INTERLEAVE', nodes: '0-1', flags: ['MPOL_F_STATIC_NODES'] };
    s.linux.personality = { domain: 'LINUX32', flags: [] };
  });
  const warnings: string[] = [];
  t.deepEqual(problemsOf(full), []);
  validateSpec(full, { warnings });
  t.deepEqual(warnings, []);
});

test('runc rules: user namespace needs mappings or a path; mappings need the user ns', (t) => {
  t.deepEqual(problemsOf(spec((s) => s.linux.namespaces.push({ type: 'user' }))), [
    'linux.namespaces: user namespaces enabled, but no namespace path to join nor mappings to apply specified',
    'linux: a new user namespace needs both uidMappings and gidMappings',
  ]);
  t.deepEqual(problemsOf(spec((s) => s.linux.namespaces.push({ type: 'user', path: '/proc/1/ns/user' }))), []);
  t.deepEqual(problemsOf(spec((s) => (s.linux.gidMappings = [{ containerID: 0, hostID: 0, size: 1 }]))), [
    "linux.gidMappings: user namespace mappings specified, but user namespace isn't enabled in the config",
  ]);
  t.deepEqual(
    problemsOf(
      spec((s) => {
        s.linux.namespaces.push({ type: 'user' });
        s.linux.uidMappings = [{ containerID: 0, hostID: 0, size: 0 }];
        s.linux.gidMappings = [{ containerID: 0, hostID: 0, size: 1 }];
      }),
    ),
    ['linux.uidMappings[0].size: 0 is out of range [1, 4294967295]'],
  );
});

test('runc rules: sysctls need the namespace that owns them', (t) => {
  const noNs = spec((s) => {
    s.linux.namespaces = [{ type: 'mount' }];
    delete s.hostname;
    s.linux.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.msgmax': '1', 'kernel.hostname': 'x', 'user.max_user_namespaces': '1' };
  });
  t.deepEqual(problemsOf(noNs).sort(), [
    'linux.sysctl.kernel.hostname: sysctl "kernel.hostname" is not in a separate kernel namespace',
    'linux.sysctl.kernel.msgmax: sysctl "kernel.msgmax" is not allowed in the hosts ipc namespace',
    'linux.sysctl.net.ipv4.ip_forward: sysctl "net.ipv4.ip_forward" not allowed in host network namespace',
    'linux.sysctl.user.max_user_namespaces: setting ucounts without a user namespace not allowed: user.max_user_namespaces',
  ]);
  t.deepEqual(problemsOf(spec((s) => (s.linux.sysctl = { 'kernel.hostname': 'x' }))), [
    'linux.sysctl.kernel.hostname: sysctl "kernel.hostname" is not allowed as it conflicts with the OCI "hostname" field',
  ]);
});

test('runc rules: hostname needs uts, masked paths need mount ns, time offsets vs path', (t) => {
  t.deepEqual(problemsOf(spec((s) => (s.linux.namespaces = [{ type: 'pid' }, { type: 'mount' }]))), [
    'hostname: unable to set hostname without a private UTS namespace',
  ]);
  t.deepEqual(problemsOf(spec((s) => (s.linux.namespaces = [{ type: 'uts' }]))), [
    'linux.maskedPaths: unable to restrict sys entries without a private MNT namespace',
  ]);
  t.deepEqual(
    problemsOf(
      spec((s) => {
        s.linux.namespaces.push({ type: 'time', path: '/proc/1/ns/time' });
        s.linux.timeOffsets = { realtime: { secs: 1 } };
      }),
    ),
    [
      'linux.timeOffsets.realtime: unknown clock "realtime" (want monotonic or boottime)',
      'linux.timeOffsets: time namespace enabled, but both namespace path and time offsets specified -- you may only provide one',
    ],
  );
});

test('runc rules: scheduler, ioPriority, memory policy, seccomp, idmapped mounts', (t) => {
  t.deepEqual(problemsOf(spec((s) => (s.process.scheduler = { policy: 'SCHED_OTHER', nice: 30, priority: 1, runtime: 5 }))).sort(), [
    'process.scheduler.nice: invalid nice 30 for SCHED_OTHER (want -20..19)',
    'process.scheduler.priority: can only be specified for SCHED_FIFO or SCHED_RR policy',
    'process.scheduler: runtime/deadline/period can only be specified for SCHED_DEADLINE policy',
  ]);
  t.deepEqual(problemsOf(spec((s) => (s.process.ioPriority = { class: 'IOPRIO_CLASS_X', priority: 8 }))), [
    'process.ioPriority.class: unknown ioPriority class "IOPRIO_CLASS_X"',
    'process.ioPriority.priority: 8 is out of range [0, 7]',
  ]);
  t.deepEqual(problemsOf(spec((s) => (s.linux.memoryPolicy = { mode: 'MPOL_BIND' }))), ['linux.memoryPolicy.nodes: mode requires at least one node but got 0']);
  t.deepEqual(
    problemsOf(
      spec(
        (s) =>
          (s.linux.seccomp = {
            defaultAction: 'SCMP_ACT_NOTIFY',
            architectures: ['SCMP_ARCH_VAX'],
            syscalls: [{ names: ['write'], action: 'SCMP_ACT_NOTIFY', args: [{ index: 6, value: 0, op: 'SCMP_CMP_XX' }] }],
          }),
      ),
    ).sort(),
    [
      'linux.seccomp.architectures[0]: unknown seccomp architecture "SCMP_ARCH_VAX"',
      'linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be used as default action',
      'linux.seccomp.syscalls[0].action: SCMP_ACT_NOTIFY cannot be used for the write syscall',
      'linux.seccomp.syscalls[0].args[0].index: 6 is out of range [0, 5]',
      'linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator "SCMP_CMP_XX"',
    ],
  );
  t.deepEqual(
    problemsOf(
      spec((s) =>
        s.mounts.push({ destination: '/x', type: 'tmpfs', source: 'tmpfs', options: ['idmap'], uidMappings: [{ containerID: 0, hostID: 1, size: 1 }] }),
      ),
    ),
    ['mounts[7]: id-mapped mounts are only supported for bind-mounts', 'mounts[7]: id-mapped mounts must have both uid and gid mappings specified'],
  );
});

test('runc warnings, not errors: relative mount destination, unknown capability, old ociVersion', (t) => {
  const s = spec((x) => {
    x.ociVersion = '0.5.0-dev';
    x.mounts.push({ destination: 'data', type: 'tmpfs', source: 'tmpfs' });
    x.process.capabilities.bounding.push('CAP_FUTURE_THING');
  });
  t.deepEqual(warningsOf(s), [
    'ociVersion: version 0.5.0-dev is not 1.x; interpreting it as 1.3.0',
    'mounts[7].destination: relative destination "data" is deprecated, using it as relative to /',
    'process.capabilities.bounding[3]: ignoring unknown capability "CAP_FUTURE_THING"',
  ]);
  t.deepEqual(problemsOf(spec((x) => (x.ociVersion = 'one'))), ['ociVersion: "one" is not a SemVer version']);
});

test('process may be absent (start then fails); when present cwd is required (user defaults to 0:0 as in runc)', (t) => {
  t.deepEqual(problemsOf(spec((s) => delete s.process)), []);
  t.deepEqual(problemsOf(spec((s) => (s.process = { args: ['sh'] }))), ['process.cwd: is required']);
});

test('validation is fast: under 1 ms for the default config', (t) => {
  const s = defaultSpec({ cgroupNamespace: true });
  for (let i = 0; i < 200; i++) validateSpec(s); // warm up
  const n = 2000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) validateSpec(s);
  const perCallUs = Number(process.hrtime.bigint() - t0) / n / 1000;
  t.log(`validateSpec(default config): ${perCallUs.toFixed(1)} µs per call`);
  t.true(perCallUs < 1000);
});
