import test from 'ava';
import { CURRENT_SUPPORT, KNOWN, features, formatFeatures, type FeatureSupport } from '../../src/spec/features.js';
import { CAPABILITIES } from '../../src/spec/known-names.js';
import { knownMountOptions, parseMountOptions } from '../../src/spec/mount-options.js';
import { NAMESPACE_TYPES } from '../../src/spec/types.js';
import { idmapSupported } from '../../src/sys/idmap-support.js';

test('the current support: 8 namespaces, all caps, every hook, cgroup v2, memory policy, net devices, idmap where the kernel has it; no LSMs', (t) => {
  const f = features(CURRENT_SUPPORT, { version: '0.1.0', commit: 'abc' });
  t.is(f.ociVersionMin, '1.0.0');
  t.is(f.ociVersionMax, '1.3.0');
  t.deepEqual(f.linux!.namespaces, ['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts']);
  t.deepEqual(f.linux!.capabilities, [...CAPABILITIES]);
  t.deepEqual(f.hooks, ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
  t.deepEqual(f.linux!.cgroup, { v1: false, v2: true, systemd: true, systemdUser: false, rdma: true });
  t.deepEqual(f.linux!.seccomp, { enabled: false });
  t.deepEqual(f.linux!.apparmor, { enabled: false });
  t.deepEqual(f.linux!.selinux, { enabled: false });
  t.deepEqual(f.linux!.intelRdt, { enabled: false, schemata: false, monitoring: false });
  t.deepEqual(f.linux!.mountExtensions, { idmap: { enabled: idmapSupported() } });
  t.true(f.linux!.memoryPolicy!.modes!.includes('MPOL_BIND'));
  t.deepEqual(f.annotations, { 'io.github.tsrun.version': '0.1.0', 'io.github.tsrun.commit': 'abc', 'io.github.tsrun.checkpoint.enabled': 'false' });
  t.is(f.potentiallyUnsafeConfigAnnotations, undefined);
});

test('mountOptions are exactly what the mount option parser interprets (CRI looks for "rro")', (t) => {
  const f = features();
  t.deepEqual(f.mountOptions, knownMountOptions());
  t.true(f.mountOptions!.includes('rro'));
  for (const o of f.mountOptions!) t.is(parseMountOptions([o]).data, '', o);
});

test('features follow the support object when features land', (t) => {
  const more: FeatureSupport = {
    ...CURRENT_SUPPORT,
    namespaces: NAMESPACE_TYPES.filter((n) => n !== 'time'),
    hooks: KNOWN.hooks,
    cgroup: { ...CURRENT_SUPPORT.cgroup, systemd: true },
    seccomp: {
      enabled: true,
      actions: KNOWN.seccompActions,
      operators: KNOWN.seccompOperators,
      archs: ['SCMP_ARCH_X86_64'],
      knownFlags: KNOWN.seccompFlags,
      supportedFlags: ['SECCOMP_FILTER_FLAG_LOG'],
    },
    idmap: true,
    memoryPolicy: true,
    unsafeAnnotations: ['org.systemd.property.'],
  };
  const f = features(more, { libseccompVersion: '2.5.4' });
  t.false(f.linux!.namespaces!.includes('time'));
  t.deepEqual(f.hooks, ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop']);
  t.true(f.linux!.cgroup!.systemd);
  t.is(f.linux!.seccomp!.enabled, true);
  t.deepEqual(f.linux!.seccomp!.supportedFlags, ['SECCOMP_FILTER_FLAG_LOG']);
  t.deepEqual(f.linux!.mountExtensions, { idmap: { enabled: true } });
  t.true(f.linux!.memoryPolicy!.modes!.includes('MPOL_BIND'));
  t.is(f.annotations!['io.github.seccomp.libseccomp.version'], '2.5.4');
  t.deepEqual(f.potentiallyUnsafeConfigAnnotations, ['org.systemd.property.']);
});

test('JSON key order follows specs-go features.Features, printed with 4-space indent and a newline', (t) => {
  const text = formatFeatures(features());
  t.true(text.endsWith('}\n'));
  t.true(text.startsWith('{\n    "ociVersionMin": "1.0.0",\n    "ociVersionMax": "1.3.0",\n    "hooks": ['));
  const top = Object.keys(JSON.parse(text));
  t.deepEqual(top, ['ociVersionMin', 'ociVersionMax', 'hooks', 'mountOptions', 'linux', 'annotations']);
  t.deepEqual(Object.keys(JSON.parse(text).linux), [
    'namespaces',
    'capabilities',
    'cgroup',
    'seccomp',
    'apparmor',
    'selinux',
    'intelRdt',
    'memoryPolicy',
    'mountExtensions',
    'netDevices',
  ]);
});
