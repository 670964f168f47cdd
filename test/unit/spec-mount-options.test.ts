import test from 'ava';
import { EXT_COPYUP, MOUNT_ATTR, MS, isBindMount, knownMountOptions, parseMountOptions } from '../../src/spec/mount-options.js';

// The numeric values are the kernel ABI (include/uapi/linux/mount.h); a typo here would mount wrongly.
test('MS_* and MOUNT_ATTR_* constants are the kernel values', (t) => {
  // The constants have literal types; compare them as the plain numbers the kernel takes.
  const is = (actual: number, expected: number): void => {
    t.is(actual, expected);
  };
  is(MS.RDONLY, 1);
  is(MS.NOSUID, 2);
  is(MS.NODEV, 4);
  is(MS.NOEXEC, 8);
  is(MS.REMOUNT, 32);
  is(MS.NOSYMFOLLOW, 256);
  is(MS.BIND, 4096);
  is(MS.REC, 16384);
  is(MS.PRIVATE, 1 << 18);
  is(MS.SLAVE, 1 << 19);
  is(MS.SHARED, 1 << 20);
  is(MS.UNBINDABLE, 1 << 17);
  is(MS.RELATIME, 1 << 21);
  is(MS.STRICTATIME, 1 << 24);
  is(MS.LAZYTIME, 1 << 25);
  is(MOUNT_ATTR.NOATIME, 0x10);
  is(MOUNT_ATTR.STRICTATIME, 0x20);
  is(MOUNT_ATTR._ATIME, 0x70);
  is(MOUNT_ATTR.NOSYMFOLLOW, 0x200000);
});

// [options, flags, clearFlags, propagation, recAttrSet, recAttrClr, data]
const TABLE: [string[], number, number, number[], number, number, string][] = [
  [[], 0, 0, [], 0, 0, ''],
  [['defaults'], 0, 0, [], 0, 0, ''],
  [['ro'], MS.RDONLY, 0, [], 0, 0, ''],
  [['ro', 'rw'], 0, MS.RDONLY, [], 0, 0, ''],
  [['rw', 'ro'], MS.RDONLY, 0, [], 0, 0, ''],
  [['nosuid', 'nodev', 'noexec'], MS.NOSUID | MS.NODEV | MS.NOEXEC, 0, [], 0, 0, ''],
  [['suid', 'dev', 'exec'], 0, MS.NOSUID | MS.NODEV | MS.NOEXEC, [], 0, 0, ''],
  [['sync'], MS.SYNCHRONOUS, 0, [], 0, 0, ''],
  [['sync', 'async'], 0, MS.SYNCHRONOUS, [], 0, 0, ''],
  [['dirsync', 'remount', 'mand'], MS.DIRSYNC | MS.REMOUNT | MS.MANDLOCK, 0, [], 0, 0, ''],
  [['nomand'], 0, MS.MANDLOCK, [], 0, 0, ''],
  [['noatime', 'nodiratime'], MS.NOATIME | MS.NODIRATIME, 0, [], 0, 0, ''],
  [['atime', 'diratime'], 0, MS.NOATIME | MS.NODIRATIME, [], 0, 0, ''],
  [['relatime'], MS.RELATIME, 0, [], 0, 0, ''],
  [['norelatime'], 0, MS.RELATIME, [], 0, 0, ''],
  [['strictatime'], MS.STRICTATIME, 0, [], 0, 0, ''],
  [['nostrictatime'], 0, MS.STRICTATIME, [], 0, 0, ''],
  [['nosymfollow'], MS.NOSYMFOLLOW, 0, [], 0, 0, ''],
  [['bind'], MS.BIND, 0, [], 0, 0, ''],
  [['rbind'], MS.BIND | MS.REC, 0, [], 0, 0, ''],
  [['rbind', 'rprivate'], MS.BIND | MS.REC, 0, [MS.PRIVATE | MS.REC], 0, 0, ''],
  [['private', 'shared', 'slave', 'unbindable'], 0, 0, [MS.PRIVATE, MS.SHARED, MS.SLAVE, MS.UNBINDABLE], 0, 0, ''],
  [['rshared', 'rslave', 'runbindable'], 0, 0, [MS.SHARED | MS.REC, MS.SLAVE | MS.REC, MS.UNBINDABLE | MS.REC], 0, 0, ''],
  [['rro'], 0, 0, [], MOUNT_ATTR.RDONLY, 0, ''],
  [['rro', 'rrw'], 0, 0, [], 0, MOUNT_ATTR.RDONLY, ''],
  [['rnosuid', 'rnodev', 'rnoexec'], 0, 0, [], MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC, 0, ''],
  [['rsuid', 'rdev', 'rexec'], 0, 0, [], 0, MOUNT_ATTR.NOSUID | MOUNT_ATTR.NODEV | MOUNT_ATTR.NOEXEC, ''],
  [['rnodiratime'], 0, 0, [], MOUNT_ATTR.NODIRATIME, 0, ''],
  [['rdiratime'], 0, 0, [], 0, MOUNT_ATTR.NODIRATIME, ''],
  // mount_setattr(2): an atime mode in attr_set needs MOUNT_ATTR__ATIME in attr_clr.
  [['rnoatime'], 0, 0, [], MOUNT_ATTR.NOATIME, MOUNT_ATTR._ATIME, ''],
  [['rstrictatime'], 0, 0, [], MOUNT_ATTR.STRICTATIME, MOUNT_ATTR._ATIME, ''],
  [['rrelatime'], 0, 0, [], 0, MOUNT_ATTR._ATIME, ''],
  [['ratime'], 0, 0, [], 0, MOUNT_ATTR.NOATIME | MOUNT_ATTR._ATIME, ''],
  [['rnosymfollow'], 0, 0, [], MOUNT_ATTR.NOSYMFOLLOW, 0, ''],
  [['rnosymfollow', 'rsymfollow'], 0, 0, [], 0, MOUNT_ATTR.NOSYMFOLLOW, ''],
  [['nosuid', 'strictatime', 'mode=755', 'size=65536k'], MS.NOSUID | MS.STRICTATIME, 0, [], 0, 0, 'mode=755,size=65536k'],
  [['newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'], 0, 0, [], 0, 0, 'newinstance,ptmxmode=0666,mode=0620,gid=5'],
  // "acl" is not MS_POSIXACL (runc#3738): it stays filesystem data.
  [['acl'], 0, 0, [], 0, 0, 'acl'],
];

for (const [options, flags, clearFlags, propagation, recAttrSet, recAttrClr, data] of TABLE) {
  test(`parseMountOptions ${JSON.stringify(options)}`, (t) => {
    const r = parseMountOptions(options);
    t.is(r.flags, flags, 'flags');
    t.is(r.clearFlags, clearFlags, 'clearFlags');
    t.deepEqual(r.propagation, propagation, 'propagation');
    t.is(r.recAttrSet, recAttrSet, 'recAttrSet');
    t.is(r.recAttrClr, recAttrClr, 'recAttrClr');
    t.is(r.data, data, 'data');
    t.deepEqual(r.dataOptions, data === '' ? [] : data.split(','));
  });
}

test('idmap, ridmap and tmpcopyup are recognised, not data', (t) => {
  t.deepEqual(parseMountOptions(['bind', 'idmap']).idmap, { recursive: false });
  t.deepEqual(parseMountOptions(['rbind', 'ridmap']).idmap, { recursive: true });
  t.is(parseMountOptions(['bind']).idmap, undefined);
  const c = parseMountOptions(['tmpcopyup', 'size=1m']);
  t.is(c.extensions, EXT_COPYUP);
  t.is(c.data, 'size=1m');
});

test('undefined options and prototype names are handled', (t) => {
  t.is(parseMountOptions(undefined).data, '');
  t.is(parseMountOptions(['constructor', 'toString']).data, 'constructor,toString');
});

test('knownMountOptions lists every recognised option, sorted, as runc KnownMountOptions', (t) => {
  const known = knownMountOptions();
  t.deepEqual(known, [...known].sort());
  for (const o of ['rro', 'rbind', 'rprivate', 'nosymfollow', 'tmpcopyup', 'strictatime', 'defaults']) t.true(known.includes(o), o);
  // Every listed option is interpreted (none falls through to data).
  for (const o of known) t.is(parseMountOptions([o]).data, '', o);
  t.false(known.includes('mode=755'));
});

test('isBindMount', (t) => {
  t.true(isBindMount(['rbind', 'ro']));
  t.true(isBindMount(['bind']));
  t.false(isBindMount(['nosuid']));
  t.false(isBindMount(undefined));
});
