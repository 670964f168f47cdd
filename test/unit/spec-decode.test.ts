// config.json decoded as runc decodes it (issue 14 item 26): Go's encoding/json rules (keys match
// case-insensitively, a missing field is its zero value) and runc's handling of the fields engines
// and hand-written bundles get "wrong". Each case is accepted by runc 1.1.5 or runc HEAD (named).
import test from 'ava';
import { InvalidSpecError } from '../../src/errors.js';
import { defaultSpec } from '../../src/spec/defaults.js';
import { validateSpec } from '../../src/spec/validate.js';
import { normalizeSpec } from '../../src/spec/normalize.js';

function spec(edit: (s: any) => void): any {
  const s = JSON.parse(JSON.stringify(defaultSpec()));
  s.linux.resources = s.linux.resources ?? { devices: [{ allow: false, access: 'rwm' }] };
  edit(s);
  return s;
}

function problemsOf(s: unknown): string[] {
  try {
    validateSpec(s);
    return [];
  } catch (err) {
    if (err instanceof InvalidSpecError) return err.problems;
    throw err;
  }
}

test('process.user missing, or its uid/gid missing, is uid 0 gid 0 (runc 1.1.5: specs-go User is a value)', (t) => {
  const a = validateSpec(spec((s) => delete s.process.user));
  t.deepEqual(a.process!.user, { uid: 0, gid: 0 });
  const b = validateSpec(spec((s) => (s.process.user = { uid: 1000 })));
  t.deepEqual(b.process!.user, { uid: 1000, gid: 0 });
  const c = validateSpec(spec((s) => (s.process.user = { gid: 7, additionalGids: [8] })));
  t.like(c.process!.user, { uid: 0, gid: 7, additionalGids: [8] });
  t.deepEqual(problemsOf(spec((s) => (s.process.user = { uid: -1 }))), ['process.user.uid: -1 is out of range [0, 4294967295]'], 'ranges still checked');
});

test('ioPriority class IOPRIO_CLASS_IDLE without a priority is priority 0 (runc HEAD)', (t) => {
  const s = validateSpec(spec((x) => (x.process.ioPriority = { class: 'IOPRIO_CLASS_IDLE' })));
  t.deepEqual(s.process!.ioPriority, { class: 'IOPRIO_CLASS_IDLE', priority: 0 });
  t.deepEqual(problemsOf(spec((x) => (x.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 9 }))), [
    'process.ioPriority.priority: 9 is out of range [0, 7]',
  ]);
});

test('object keys match case-insensitively, as Go encoding/json: pagesize, Process, UID', (t) => {
  const s = validateSpec(
    spec((x) => {
      x.linux.resources.hugepageLimits = [{ pagesize: '2MB', Limit: 1048576 }];
      x.Hostname = 'h';
      x.process.User = { UID: 5, Gid: 6 };
      delete x.process.user;
    }),
  );
  t.deepEqual(s.linux!.resources!.hugepageLimits, [{ pageSize: '2MB', limit: 1048576 }]);
  t.is(s.hostname, 'h');
  t.deepEqual(s.process!.user, { uid: 5, gid: 6 });
});

test('free-form maps keep their keys; an exact key beats nothing, a later key wins', (t) => {
  const s = spec((x) => {
    x.annotations = { Foo: 'a', foo: 'b' };
    x.linux.sysctl = { 'Net.IPv4.ip_forward': '1' };
    x.linux.resources.unified = { 'Memory.Max': '1' };
  });
  normalizeSpec(s);
  t.deepEqual(s.annotations, { Foo: 'a', foo: 'b' });
  t.deepEqual(s.linux.sysctl, { 'Net.IPv4.ip_forward': '1' });
  t.deepEqual(s.linux.resources.unified, { 'Memory.Max': '1' });
  const later = { ociVersion: '1.0.0', HOSTNAME: 'first', hostname: 'second' };
  normalizeSpec(later);
  t.deepEqual(later, { ociVersion: '1.0.0', hostname: 'second' });
  const again = { ociVersion: '1.0.0', hostname: 'first', HOSTNAME: 'second' };
  normalizeSpec(again);
  t.deepEqual(again, { ociVersion: '1.0.0', hostname: 'second' }, 'Go: each key in turn sets the field');
});

test('an empty namespace path is a new namespace (runc specconv: only a non-empty path is joined)', (t) => {
  const withPath = (path: string) => spec((x) => (x.linux.namespaces = x.linux.namespaces.map((n: any) => (n.type === 'pid' ? { type: 'pid', path } : n))));
  const s = validateSpec(withPath(''));
  t.deepEqual(
    s.linux!.namespaces!.find((n) => n.type === 'pid'),
    { type: 'pid' },
  );
  t.is(problemsOf(withPath('relative')).length, 1, 'a relative path is still refused');
});

test("device access letters other than r, w, m are ignored, as runc's device rule emulator does", (t) => {
  const s = validateSpec(
    spec((x) => {
      x.linux.resources.devices = [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 3, access: 'rwa' },
        { allow: true, type: 'c', major: 1, minor: 5, access: 'x' },
      ];
    }),
  );
  t.deepEqual(s.linux!.resources!.devices, [
    { allow: false, access: 'rwm' },
    { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' },
  ]);
  t.deepEqual(problemsOf(spec((x) => x.linux.resources.devices.push({ allow: true, access: '' }))), ['linux.resources.devices[1].access: cannot be empty']);
});

test("memory policy errors are runc's words", (t) => {
  t.deepEqual(problemsOf(spec((x) => (x.linux.memoryPolicy = { nodes: '0-7' }))), ['linux.memoryPolicy.mode: invalid memory policy mode ""']);
  t.deepEqual(problemsOf(spec((x) => (x.linux.memoryPolicy = { mode: 'MPOL_NOPE' }))), ['linux.memoryPolicy.mode: invalid memory policy mode "MPOL_NOPE"']);
  t.deepEqual(problemsOf(spec((x) => (x.linux.memoryPolicy = { mode: 'MPOL_DEFAULT', nodes: '0-7' }))), [
    'linux.memoryPolicy.nodes: mode requires 0 nodes but got 8',
  ]);
  t.deepEqual(problemsOf(spec((x) => (x.linux.memoryPolicy = { mode: 'MPOL_BIND', nodes: '0-x' }))), [
    'linux.memoryPolicy.nodes: invalid memory policy nodes "0-x"',
  ]);
  t.deepEqual(problemsOf(spec((x) => (x.linux.memoryPolicy = { mode: 'MPOL_BIND', nodes: '0', flags: ['MPOL_F_NOPE'] }))), [
    'linux.memoryPolicy.flags[0]: invalid memory policy flag "MPOL_F_NOPE"',
  ]);
  t.deepEqual(problemsOf(spec((x) => (x.linux.memoryPolicy = { mode: 'MPOL_INTERLEAVE', nodes: '0-1' }))), []);
});
