// runc parity (issue 14 item 23, issue 13 item 4): in a user namespace, a bind source that only the
// host's root can reach (below a 0700 root-owned directory) is opened by the host and mounted from
// the fd, as runc does (1.1.5: nsexec's send_mountsources; HEAD: procMountPlease when the init's own
// stat fails). With that the state root is 0700 as runc's, and a user-namespaced container still
// reaches its notify socket (bound from <root>/<id>/notify). Where Debian's runc 1.1.5 is
// installed, the same bundle runs under it and the answers are compared.
import type { ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Runtime } from '../../src/api/runtime.js';
import { helperPath } from '../../src/process/spawn.js';
import type { Spec } from '../../src/spec/types.js';
import { makeBundle } from '../helpers/bundle.js';
import { listenNotify } from '../helpers/notify-listener.js';
import { hasRunc, runcRun, walkTree } from '../helpers/runc-parity.js';
import { needs, root } from '../helpers/skip.js';

const rootTest = needs(root('user namespaces and mounts'));
const HOST_ID = 100000;

/** A container whose root is host uid/gid 100000, with a rootfs it owns in a bundle it can reach. */
function userns(s: Spec, dir: string, rootfs: string): void {
  fs.chmodSync(dir, 0o755);
  for (const f of walkTree(rootfs)) fs.lchownSync(f, HOST_ID, HOST_ID);
  s.linux!.namespaces!.push({ type: 'user' });
  s.linux!.uidMappings = [{ containerID: 0, hostID: HOST_ID, size: 65536 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: HOST_ID, size: 65536 }];
}

/** The flags a user namespace cannot clear on a bind of `p` (its mount's nosuid, nodev, noexec). */
function lockedFlags(p: string): string[] {
  let best: { point: string; options: string[] } | undefined;
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const point = f[4];
    if (!point || !(p === point || p.startsWith(point.endsWith('/') ? point : `${point}/`))) continue;
    if (!best || point.length >= best.point.length) best = { point, options: f[5]!.split(',') };
  }
  return (best?.options ?? []).filter((o) => o === 'nosuid' || o === 'nodev' || o === 'noexec');
}

/** A directory only the host's root may enter (0700, root-owned), removed after the test. */
function privateDir(t: ExecutionContext): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-private-'));
  fs.chmodSync(d, 0o700);
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

rootTest('userns: a bind source below a 0700 root-owned directory is opened by the host and works', async (t) => {
  const secret = privateDir(t);
  fs.mkdirSync(path.join(secret, 'data'));
  fs.writeFileSync(path.join(secret, 'data', 'hello'), 'from the host\n');
  fs.writeFileSync(path.join(secret, 'file'), 'a file source\n');
  const b = await makeBundle(t, (s, { dir, rootfs }) => {
    userns(s, dir, rootfs);
    s.mounts!.push({ destination: '/mnt/data', type: 'bind', source: path.join(secret, 'data'), options: ['rbind', 'ro'] });
    s.mounts!.push({ destination: '/etc/file', type: 'bind', source: path.join(secret, 'file'), options: ['bind'] });
    s.process!.args = ['sh', '-c', 'cat /mnt/data/hello /etc/file; touch /mnt/data/x 2>/dev/null && echo writable || echo read-only'];
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.is(r.code, 0, r.stderr);
  const out = b.output(r);
  t.is(out, 'from the host\na file source\nread-only\n');
  // runc 1.1.5 cannot make a read-only bind of a source whose mount has locked flags (nosuid,
  // nodev, noexec: the VM's /tmp) in a user namespace: EPERM, fixed in runc HEAD (issue 14 item 24,
  // which tsrun follows). The comparison holds where the source's mount has none.
  const locked = lockedFlags(secret);
  if (hasRunc && locked.length === 0) {
    const rr = await runcRun(b);
    t.is(rr.code, 0, rr.stderr);
    t.is(rr.stdout, out, 'runc 1.1.5 says the same');
  } else if (hasRunc) {
    t.log(`not compared with runc 1.1.5: the source's mount has ${locked.join(',')}, which 1.1.5 cannot keep on a ro bind in a user namespace`);
  }
});

rootTest('userns, library with the static helper (tsrun-init): the host opens the bind source too', async (t) => {
  const secret = privateDir(t);
  fs.mkdirSync(path.join(secret, 'data'));
  fs.writeFileSync(path.join(secret, 'data', 'hello'), 'through tsrun-init\n');
  let spec: Spec | undefined;
  const b = await makeBundle(t, (s, { dir, rootfs }) => {
    userns(s, dir, rootfs);
    s.mounts!.push({ destination: '/mnt/data', type: 'bind', source: path.join(secret, 'data'), options: ['rbind', 'ro'] });
    s.process!.args = ['cat', '/mnt/data/hello'];
    spec = s;
  });
  if (!fs.existsSync(helperPath())) return t.pass('no build/Release/tsrun-init here');
  const rt = new Runtime({ root: b.root, spawn: 'helper' });
  const c = await rt.run(b.id, { bundle: b.dir, spec });
  t.teardown(() => rt.delete(b.id, { force: true, missingOk: true }));
  const out = await c.output();
  t.is(out.stdout, 'through tsrun-init\n', out.stderr);
  t.is(out.exitCode, 0);
});

rootTest('userns: a bind source the host cannot open either fails with the mount named', async (t) => {
  const secret = privateDir(t);
  const b = await makeBundle(t, (s, { dir, rootfs }) => {
    userns(s, dir, rootfs);
    s.mounts!.push({ destination: '/mnt/none', type: 'bind', source: path.join(secret, 'missing'), options: ['rbind'] });
  });
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.not(r.code, 0);
  t.regex(r.stderr, new RegExp(`bind ${path.join(secret, 'missing')} on /mnt/none: no such file or directory`));
});

rootTest('the state root is 0700 (runc), state.json 0600, and a userns container still reaches its notify socket', async (t) => {
  const b = await makeBundle(t, (s, { dir, rootfs }) => {
    userns(s, dir, rootfs);
    s.process!.args = ['sh', '-c', "probe sd-notify 'READY=1'; exec probe sleep 60"];
  });
  const l = listenNotify(path.join(b.dir, 'systemd-notify.sock'));
  t.teardown(() => l.close());
  // A state root tsrun makes itself: tsrun decides its mode.
  const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-rootparent-'));
  fs.chmodSync(parent, 0o711);
  const stateRoot = path.join(parent, 'state');
  t.teardown(async () => {
    await b.tsrun(['--root', stateRoot, 'delete', '--force', b.id]);
    fs.rmSync(parent, { recursive: true, force: true });
  });
  const r = await b.tsrun(['--root', stateRoot, 'run', '-d', '--bundle', b.dir, b.id], { env: { ...process.env, NOTIFY_SOCKET: l.address } });
  t.is(r.code, 0, r.stderr);
  t.is(fs.statSync(stateRoot).mode & 0o777, 0o700, 'the state root');
  t.is(fs.statSync(path.join(stateRoot, b.id, 'state.json')).mode & 0o777, 0o600, 'state.json');
  // run -d returns only once READY=1 came through the container's socket.
  t.true(
    l.received.some((d) => d.data.includes('READY=1')),
    JSON.stringify(l.received),
  );
});
