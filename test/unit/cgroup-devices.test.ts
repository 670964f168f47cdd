// The eBPF device filter: the rule set (v1 semantics through the emulator, runc's default allow
// list appended) and the exact instructions tsrun loads, run by the interpreter in device-bpf.ts
// over many accesses and compared with the rule set's reference decision.
import test from 'ava';
import { decodeProgram, deviceFilterProgram, encodeProgram, runDeviceProgram } from '../../src/cgroups/device-bpf.js';
import {
  decide,
  DEFAULT_ALLOWED_DEVICES,
  DeviceEmulator,
  deviceRuleSet,
  WILDCARD,
  type DeviceRuleSet,
  type DeviceType,
} from '../../src/cgroups/device-rules.js';
import { deviceProgramFor } from '../../src/cgroups/devices.js';
import type { LinuxDeviceCgroup } from '../../src/spec/types.js';

const ACCESSES = ['r', 'w', 'm', 'rw', 'rm', 'wm', 'rwm'];
const DEVICES: [DeviceType, number, number][] = [
  ['c', 1, 3],
  ['c', 1, 5],
  ['c', 1, 9],
  ['c', 1, 11],
  ['c', 5, 0],
  ['c', 5, 1],
  ['c', 5, 2],
  ['c', 136, 0],
  ['c', 136, 77],
  ['c', 10, 200],
  ['c', 10, 229],
  ['b', 8, 0],
  ['b', 8, 1],
  ['b', 7, 0],
  ['c', 4, 1],
  ['c', 0xfff, 0xfffff],
  ['c', 2 ** 31 + 5, 7],
];

function agree(t: import('ava').ExecutionContext, set: DeviceRuleSet): void {
  const prog = decodeProgram(encodeProgram(deviceFilterProgram(set)));
  for (const [type, major, minor] of DEVICES) {
    for (const a of ACCESSES) {
      const want = decide(set, type, major, minor, a) ? 1 : 0;
      const got = runDeviceProgram(prog, type, major, minor, a);
      if (got !== want) t.fail(`${type} ${major}:${minor} ${a}: program says ${got}, rules say ${want}`);
    }
  }
  t.pass();
}

test("runc's default spec (deny all) plus the default allow list: the standard devices only", (t) => {
  const set = deviceRuleSet([{ allow: false, access: 'rwm' }]);
  t.false(set.defaultAllow);
  const prog = deviceFilterProgram(set);
  const allowed = (type: DeviceType, major: number, minor: number, a: string) => runDeviceProgram(prog, type, major, minor, a) === 1;
  t.true(allowed('c', 1, 3, 'rw'), '/dev/null');
  t.true(allowed('c', 1, 9, 'r'), '/dev/urandom');
  t.true(allowed('c', 136, 4, 'rw'), '/dev/pts/4');
  t.true(allowed('c', 5, 2, 'rw'), '/dev/ptmx');
  t.true(allowed('c', 10, 200, 'rw'), '/dev/net/tun');
  t.true(allowed('b', 8, 0, 'm'), 'mknod of any block device');
  t.true(allowed('c', 1, 11, 'm'), 'mknod of any char device');
  t.false(allowed('b', 8, 0, 'r'), 'reading a disk');
  t.false(allowed('c', 1, 11, 'w'), '/dev/kmsg');
  t.false(allowed('c', 5, 1, 'rw'), '/dev/console is not in the default list');
  agree(t, set);
});

test('rules accumulate and narrow as cgroup v1 did (emulator)', (t) => {
  const emu = new DeviceEmulator();
  emu.apply({ allow: false, access: 'rwm' });
  emu.apply({ allow: true, type: 'c', major: 1, minor: 11, access: 'r' });
  emu.apply({ allow: true, type: 'c', major: 1, minor: 11, access: 'w' });
  t.deepEqual(emu.result().rules, [{ type: 'c', major: 1, minor: 11, access: 'rw' }]);
  emu.apply({ allow: false, type: 'c', major: 1, minor: 11, access: 'r' });
  t.deepEqual(emu.result().rules, [{ type: 'c', major: 1, minor: 11, access: 'w' }]);
  emu.apply({ allow: false, type: 'c', major: 1, minor: 11, access: 'wm' });
  t.deepEqual(emu.result().rules, []);
});

test('a type "a" rule resets the list; allow-all then deny rules makes a blacklist', (t) => {
  const set = deviceRuleSet(
    [
      { allow: true, access: 'rwm' },
      { allow: false, type: 'b', major: 8, access: 'rw' },
      { allow: false, type: 'c', major: 1, minor: 11, access: 'w' },
    ],
    false,
  );
  t.true(set.defaultAllow);
  t.deepEqual(set.rules, [
    { type: 'b', major: 8, minor: WILDCARD, access: 'rw' },
    { type: 'c', major: 1, minor: 11, access: 'w' },
  ]);
  const prog = deviceFilterProgram(set);
  t.is(runDeviceProgram(prog, 'b', 8, 3, 'r'), 0);
  t.is(runDeviceProgram(prog, 'b', 8, 3, 'm'), 1, 'mknod was not denied');
  t.is(runDeviceProgram(prog, 'c', 1, 11, 'r'), 1);
  t.is(runDeviceProgram(prog, 'c', 1, 11, 'w'), 0);
  t.is(runDeviceProgram(prog, 'c', 4, 1, 'rwm'), 1);
  agree(t, set);
  agree(
    t,
    deviceRuleSet([
      { allow: true, access: 'rwm' },
      { allow: false, type: 'b', major: 8, access: 'rw' },
    ]),
  );
});

test('a deny that would punch a hole in a wildcard allow is refused, naming both rules', (t) => {
  t.throws(
    () =>
      deviceRuleSet(
        [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'c', major: 136, access: 'rwm' },
          { allow: false, type: 'c', major: 136, minor: 3, access: 'r' },
        ],
        false,
      ),
    {
      message: /linux\.resources\.devices\[2\]: rule c 136:3 r cannot punch a hole in the wildcard rule c 136:\* rwm/,
    },
  );
  t.throws(() => deviceRuleSet([{ allow: false, type: 'x', access: 'r' }]), { message: /unsupported device type "x"/ });
});

test('majors and minors of 2^31 and more compare as unsigned 32-bit values (JMP32, no sign extension)', (t) => {
  const big = 2 ** 31 + 5;
  const set = deviceRuleSet(
    [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: big, minor: 7, access: 'rwm' },
    ],
    false,
  );
  const prog = deviceFilterProgram(set);
  t.is(runDeviceProgram(prog, 'c', big, 7, 'rw'), 1);
  t.is(runDeviceProgram(prog, 'c', 5, 7, 'rw'), 0);
  agree(t, set);
});

test('random rule lists: the program and the rules always agree', (t) => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pick = <T>(xs: readonly T[]) => xs[rnd(xs.length)]!;
  for (let i = 0; i < 200; i++) {
    const rules: LinuxDeviceCgroup[] = [{ allow: rnd(2) === 0, access: 'rwm' }];
    for (let j = rnd(8); j > 0; j--) {
      const r: LinuxDeviceCgroup = { allow: rnd(2) === 0, type: pick(['b', 'c']), access: pick(ACCESSES) };
      if (rnd(4)) r.major = pick([1, 5, 8, 136, 10]);
      if (rnd(3)) r.minor = pick([0, 1, 3, 11, 200]);
      rules.push(r);
    }
    let set: DeviceRuleSet;
    try {
      set = deviceRuleSet(rules);
    } catch {
      continue; // a hole in a wildcard: refused, covered above
    }
    agree(t, set);
  }
});

test("the encoded program is 8 bytes per instruction and round-trips; defaults are in runc's list", (t) => {
  const buf = deviceProgramFor([{ allow: false, access: 'rwm' }]);
  t.is(buf.length % 8, 0);
  t.deepEqual(encodeProgram(decodeProgram(buf)), buf);
  t.is(buf.readUInt8(buf.length - 8), 0x95, 'ends with exit');
  t.is(DEFAULT_ALLOWED_DEVICES.length, 11);
});
