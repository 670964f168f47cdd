// issue 13 items 3 and 4: atomic writes never follow a planted file, and the state is private.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { StateStore, writeAtomic, type ContainerRecord } from '../../src/state/store.js';

function tmpDir(t: { teardown(fn: () => void): void }): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-hardening-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

test('writeAtomic does not follow a symlink planted at the old predictable temp name', (t) => {
  const d = tmpDir(t);
  const victim = path.join(d, 'victim');
  fs.writeFileSync(victim, 'precious');
  const file = path.join(d, 'pid');
  fs.symlinkSync(victim, path.join(d, `.pid.${process.pid}.tmp`));
  writeAtomic(file, '1234', 0o644);
  t.is(fs.readFileSync(victim, 'utf8'), 'precious');
  t.is(fs.readFileSync(file, 'utf8'), '1234');
  t.false(fs.lstatSync(file).isSymbolicLink());
  // Nothing but the file, the victim and the planted link is left.
  t.deepEqual(fs.readdirSync(d).sort(), ['.pid.' + process.pid + '.tmp', 'pid', 'victim'].sort());
});

test('writeAtomic: a pid file is 0644, anything else 0600 by default', (t) => {
  const d = tmpDir(t);
  const old = process.umask(0);
  try {
    writeAtomic(path.join(d, 'pid'), '1', 0o644);
    writeAtomic(path.join(d, 'state'), '{}');
  } finally {
    process.umask(old);
  }
  t.is(fs.statSync(path.join(d, 'pid')).mode & 0o7777, 0o644);
  t.is(fs.statSync(path.join(d, 'state')).mode & 0o7777, 0o600);
});

test('state.json is 0600 (it holds the whole config, env included); the root lists nothing to others', (t) => {
  const d = tmpDir(t);
  const root = path.join(d, 'root');
  const store = new StateStore(root);
  store.claim('c1');
  const rec: ContainerRecord = {
    ociVersion: '1.3.0',
    id: 'c1',
    pid: 0,
    bundle: '',
    rootfs: '',
    created: '',
    owner: 'root',
    config: { ociVersion: '1.3.0', process: { cwd: '/', env: ['SECRET=x'], user: { uid: 0, gid: 0 } } },
  };
  store.save(rec);
  // runc's 0700: a user-namespaced init gets its notify dir from the parent (process/mount-source.ts).
  t.is(fs.statSync(root).mode & 0o777, 0o700);
  t.is(fs.statSync(path.join(root, 'c1', 'state.json')).mode & 0o777, 0o600);
  // An existing root readable by others is tightened.
  const old = path.join(d, 'old');
  fs.mkdirSync(old);
  fs.chmodSync(old, 0o755);
  new StateStore(old).claim('c2');
  t.is(fs.statSync(old).mode & 0o777, 0o700);
});
