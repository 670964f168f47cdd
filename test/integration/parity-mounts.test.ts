// runc parity for mounts (issue 14 items 19-22, 24, 25): what the plan interpreter does with
// config.json's mounts where tsrun differed from runc. Where Debian's runc 1.1.5 behaves the same,
// the same bundle runs under it (test/helpers/runc-parity.ts) and the answers are compared; where
// tsrun follows runc HEAD instead (masked paths, root propagation, bind remount flags), the test
// says so and checks tsrun alone.
import type { ExecutionContext } from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { unifiedMount } from '../../src/cgroups/v2.js';
import type { Spec } from '../../src/spec/types.js';
import { makeBundle, type Bundle, type TsrunResult } from '../helpers/bundle.js';
import { hasRunc, runcRun, walkTree } from '../helpers/runc-parity.js';
import { needs, root } from '../helpers/skip.js';

const rootTest = needs(root('namespaces and mounts'));

async function run(
  t: ExecutionContext,
  mutate: (s: Spec, ctx: { dir: string; rootfs: string }) => void,
  prefix?: string[],
): Promise<{ b: Bundle; r: TsrunResult; out: string }> {
  const b = await makeBundle(t, (s, ctx) => mutate(s, ctx));
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id], { prefix });
  return { b, r, out: b.output(r) };
}

/** Runs the bundle under runc too (when it can run here) and compares stdout and success. */
async function sameUnderRunc(t: ExecutionContext, b: Bundle, r: TsrunResult, out: string): Promise<void> {
  if (!hasRunc) return;
  const rr = await runcRun(b);
  t.is(rr.code === 0, r.code === 0, `runc 1.1.5 ${rr.code === 0 ? 'succeeds' : 'fails'}: ${rr.stderr}`);
  t.is(rr.stdout, out, 'runc 1.1.5 says the same');
}

/** A directory of the test's own, removed after it. */
function tempDir(t: ExecutionContext, parent = os.tmpdir()): string {
  const d = fs.mkdtempSync(path.join(parent, 'tsrun-mnt-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

// ---- item 19 ----

rootTest('item 19: a bind source below an earlier mount is resolved when its mount is made (runc)', async (t) => {
  const host = tempDir(t);
  fs.mkdirSync(path.join(host, 'sub'));
  fs.writeFileSync(path.join(host, 'sub', 'file'), 'made by the first mount\n');
  const { b, r, out } = await run(t, (s, { rootfs }) => {
    s.mounts!.push({ destination: '/data', type: 'bind', source: host, options: ['rbind'] });
    // <rootfs>/data/sub exists only once the mount above is made.
    s.mounts!.push({ destination: '/other', type: 'bind', source: path.join(rootfs, 'data', 'sub'), options: ['rbind'] });
    s.process!.args = ['cat', '/other/file'];
  });
  t.is(r.code, 0, r.stderr);
  t.is(out, 'made by the first mount\n');
  await sameUnderRunc(t, b, r, out);
});

// ---- item 20 ----

rootTest('item 20: a destination that is a dangling symlink gets its target made inside the root (runc)', async (t) => {
  const { b, r, out } = await run(t, (s, { rootfs }) => {
    fs.symlinkSync('/made/by/mount', path.join(rootfs, 'link-abs'));
    fs.symlinkSync('../made-rel/dir', path.join(rootfs, 'etc', 'link-rel'));
    s.mounts!.push({ destination: '/link-abs', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
    s.mounts!.push({ destination: '/etc/link-rel/x', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
    s.process!.args = ['sh', '-c', 'grep -o " /made[^ ]* " /proc/self/mountinfo'];
  });
  t.is(r.code, 0, r.stderr);
  t.is(out, ' /made/by/mount \n /made-rel/dir/x \n');
  t.true(fs.statSync(path.join(b.rootfs, 'made/by/mount')).isDirectory(), 'inside the rootfs');
  for (const d of ['made', 'made-rel']) fs.rmSync(path.join(b.rootfs, d), { recursive: true });
  await sameUnderRunc(t, b, r, out);
});

for (const [what, make] of [
  ['a symlink', (p: string) => fs.symlinkSync('/dev', p)],
  ['a file', (p: string) => fs.writeFileSync(p, '')],
] as const) {
  rootTest(`item 20: a /proc destination that is ${what} gives runc's "must be mounted on ordinary directory"`, async (t) => {
    const { b, r } = await run(t, (s, { rootfs }) => {
      fs.rmSync(path.join(rootfs, 'proc'), { recursive: true, force: true });
      make(path.join(rootfs, 'proc'));
    });
    t.not(r.code, 0);
    t.regex(r.stderr, /filesystem \\?"proc\\?" must be mounted on ordinary directory/);
    if (hasRunc) {
      const rr = await runcRun(b);
      t.not(rr.code, 0);
      t.regex(rr.stderr, /filesystem \\?"proc\\?" must be mounted on ordinary directory/, 'runc 1.1.5 words it so');
    }
  });
}

// ---- item 21 ----

rootTest('item 21: a read-only /dev is made read-only after its submounts and devices exist (runc)', async (t) => {
  const { b, r, out } = await run(t, (s) => {
    s.mounts!.find((m) => m.destination === '/dev')!.options!.push('ro');
    s.process!.args = [
      'sh',
      '-c',
      'test -c /dev/null && echo null; test -d /dev/pts/ && echo pts; test -d /dev/shm && echo shm; ' +
        'touch /dev/x 2>/dev/null && echo writable || echo read-only; touch /dev/shm/x && echo shm-writable',
    ];
  });
  t.is(r.code, 0, r.stderr);
  t.is(out, 'null\npts\nshm\nread-only\nshm-writable\n');
  await sameUnderRunc(t, b, r, out);
});

rootTest('item 21: a read-only tmpfs with a mount below it (the mount point made first)', async (t) => {
  const host = tempDir(t);
  const { r, out } = await run(t, (s) => {
    s.mounts!.push({ destination: '/srv/ro', type: 'tmpfs', source: 'tmpfs', options: ['ro', 'size=1m'] });
    s.mounts!.push({ destination: '/srv/ro/below', type: 'bind', source: host, options: ['rbind'] });
    s.process!.args = ['sh', '-c', 'touch /srv/ro/x 2>/dev/null && echo writable || echo read-only; touch /srv/ro/below/y && echo below-writable'];
  });
  t.is(r.code, 0, r.stderr);
  t.is(out, 'read-only\nbelow-writable\n');
  t.true(fs.existsSync(path.join(host, 'y')));
});

rootTest('item 21: a read-only bind with a mount below it (its mount point made in the source first)', async (t) => {
  const upper = tempDir(t);
  const lower = tempDir(t);
  const { r, out } = await run(t, (s) => {
    s.mounts!.push({ destination: '/srv/a', type: 'bind', source: upper, options: ['rbind', 'ro'] });
    s.mounts!.push({ destination: '/srv/a/b', type: 'bind', source: lower, options: ['rbind'] });
    s.process!.args = ['sh', '-c', 'touch /srv/a/x 2>/dev/null && echo writable || echo read-only; touch /srv/a/b/y && echo below-writable'];
  });
  t.is(r.code, 0, r.stderr);
  t.is(out, 'read-only\nbelow-writable\n');
  t.true(fs.existsSync(path.join(lower, 'y')));
});

// ---- item 22 ----

rootTest('item 22: a tmpfs without mode= takes the mode of an existing mount point; a new one is 1777 (runc)', async (t) => {
  const { b, r, out } = await run(t, (s, { rootfs }) => {
    fs.mkdirSync(path.join(rootfs, 'srv', 'private'), { recursive: true });
    fs.chmodSync(path.join(rootfs, 'srv', 'private'), 0o710);
    s.mounts!.push({ destination: '/srv/private', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
    s.mounts!.push({ destination: '/srv/explicit', type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'mode=750'] });
    s.mounts!.push({ destination: '/srv/new', type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] });
    s.process!.args = ['sh', '-c', 'stat -c %a /srv/private /srv/explicit /srv/new'];
  });
  t.is(r.code, 0, r.stderr);
  t.is(out, '710\n750\n1777\n');
  fs.rmSync(path.join(b.rootfs, 'srv', 'explicit'), { recursive: true });
  fs.rmSync(path.join(b.rootfs, 'srv', 'new'), { recursive: true });
  await sameUnderRunc(t, b, r, out);
});

rootTest('item 22: tmpcopyup copies what the tmpfs covers into it: files, dirs, symlinks, modes, owners (runc)', async (t) => {
  const { b, r, out } = await run(t, (s, { rootfs }) => {
    const d = path.join(rootfs, 'var', 'seed');
    fs.mkdirSync(path.join(d, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(d, 'file'), 'seeded\n');
    fs.chmodSync(path.join(d, 'file'), 0o604);
    fs.chownSync(path.join(d, 'file'), 1000, 1000);
    fs.writeFileSync(path.join(d, 'sub', 'deep'), 'deep\n');
    fs.chmodSync(path.join(d, 'sub'), 0o750);
    fs.symlinkSync('file', path.join(d, 'link'));
    s.mounts!.push({ destination: '/var/seed', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup', 'size=1m'] });
    s.process!.args = [
      'sh',
      '-c',
      'awk \'$5 == "/var/seed" {print $9}\' /proc/self/mountinfo; cd /var/seed; cat file sub/deep link; ' +
        'stat -c "%n %a %u:%g" file sub; readlink link; touch new && echo writable',
    ];
  });
  t.is(r.code, 0, r.stderr);
  t.is(out, 'tmpfs\nseeded\ndeep\nseeded\nfile 604 1000:1000\nsub 750 0:0\nfile\nwritable\n');
  t.false(fs.existsSync(path.join(b.rootfs, 'var', 'seed', 'new')), 'the write went to the tmpfs, not the rootfs');
  await sameUnderRunc(t, b, r, out);
});

rootTest('item 22 (runc HEAD): duplicate masked paths are masked once; masked directories share one read-only tmpfs', async (t) => {
  const { r, out } = await run(t, (s, { rootfs }) => {
    for (const d of ['m1', 'm2', 'm3']) fs.mkdirSync(path.join(rootfs, d));
    fs.writeFileSync(path.join(rootfs, 'mf'), 'secret\n');
    s.linux!.maskedPaths = ['/m1', '/m1/', '/m2', '//m3', '/mf', '/mf', '/nonexistent'];
    s.process!.args = [
      'sh',
      '-c',
      // field 3 of mountinfo is the superblock (major:minor), field 5 the mount point
      'for m in /m1 /m2 /m3 /mf; do echo "$m $(awk -v m=$m \'$5 == m\' /proc/self/mountinfo | wc -l)"; done; ' +
        'awk \'$5 == "/m1" || $5 == "/m2" || $5 == "/m3" {print $3}\' /proc/self/mountinfo | sort -u | wc -l; ' +
        'touch /m2/x 2>/dev/null && echo writable || echo read-only; cat /mf | wc -c',
    ];
  });
  t.is(r.code, 0, r.stderr);
  t.is(out, '/m1 1\n/m2 1\n/m3 1\n/mf 1\n1\nread-only\n0\n');
});

// ---- item 24 ----

// ("runbindable" is left out: once "/" is recursively unbindable no bind can be made below it, the
// masks' /dev/null binds included, in runc HEAD as here.)
for (const prop of ['shared', 'rshared', 'unbindable', 'private', 'slave'] as const) {
  rootTest(`item 24 (runc HEAD): rootfsPropagation "${prop}" works and is the container's / propagation`, async (t) => {
    const { r, out } = await run(t, (s) => {
      s.linux!.rootfsPropagation = prop;
      // A fresh cgroup2 rather than a bind of the host's cgroup (a bind from a runbindable tree is
      // refused by the kernel, for runc alike).
      s.linux!.namespaces!.push({ type: 'cgroup' });
      // mountinfo's optional fields of "/": shared:N, master:N, unbindable, or none (private)
      s.process!.args = ['sh', '-c', 'awk \'$5 == "/" {for (i = 7; $i != "-"; i++) printf "%s ", $i; print "."}\' /proc/self/mountinfo'];
    });
    t.is(r.code, 0, r.stderr);
    const want = prop.endsWith('shared') ? /^shared:\d+ \.$/ : prop.endsWith('unbindable') ? /^unbindable \.$/ : /^\.$/;
    t.regex(out.trim(), want);
  });
}

/**
 * A source on a nosuid,nodev,noexec tmpfs: tsrun runs in a mount namespace of its own (unshare -m)
 * where the tmpfs is mounted on a directory of the test's, so the host's mounts stay as they are.
 */
function lockedSource(t: ExecutionContext): { src: string; prefix: string[] } {
  const src = tempDir(t);
  const script = 'mount -t tmpfs -o nosuid,nodev,noexec,size=1m,mode=755 tmpfs "$0" && exec "$@"';
  return { src, prefix: ['unshare', '-m', '--propagation', 'private', 'sh', '-c', script, src] };
}

function userns(s: Spec, dir: string, rootfs: string): void {
  fs.chmodSync(dir, 0o755);
  for (const f of walkTree(rootfs)) fs.lchownSync(f, 100000, 100000);
  s.linux!.namespaces!.push({ type: 'user' });
  s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
  s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
}

const optsOf = `awk '$5 == "/mnt" {print $6}' /proc/self/mountinfo`;

rootTest('item 24 (runc HEAD): in a user namespace, a bind remount keeps the flags locked on the source instead of EPERM', async (t) => {
  const { src, prefix } = lockedSource(t);
  const { r, out } = await run(
    t,
    (s, { dir, rootfs }) => {
      userns(s, dir, rootfs);
      s.mounts!.push({ destination: '/mnt', type: 'bind', source: src, options: ['rbind', 'ro'] });
      s.process!.args = ['sh', '-c', `${optsOf}; touch /mnt/x 2>/dev/null && echo writable || echo read-only`];
    },
    prefix,
  );
  t.is(r.code, 0, r.stderr);
  const [opts, rw] = out.trim().split('\n');
  t.deepEqual(
    opts.split(',').filter((o) => ['ro', 'nosuid', 'nodev'].includes(o)),
    ['ro', 'nosuid', 'nodev'],
    opts,
  );
  t.is(rw, 'read-only');
});

rootTest('item 24 (runc HEAD): asking to clear a locked flag stays an error', async (t) => {
  const { src, prefix } = lockedSource(t);
  const { r } = await run(
    t,
    (s, { dir, rootfs }) => {
      userns(s, dir, rootfs);
      s.mounts!.push({ destination: '/mnt', type: 'bind', source: src, options: ['rbind', 'suid'] });
    },
    prefix,
  );
  t.not(r.code, 0);
  t.regex(r.stderr, /remount \/mnt with rbind,suid: operation not permitted/);
});

rootTest('item 24 (runc HEAD): clearing flags ("dev", "suid", "exec") remounts the bind without them', async (t) => {
  const { src, prefix } = lockedSource(t);
  const { r, out } = await run(
    t,
    (s) => {
      s.mounts!.push({ destination: '/mnt', type: 'bind', source: src, options: ['rbind', 'dev', 'suid', 'exec'] });
      s.process!.args = ['sh', '-c', optsOf];
    },
    prefix,
  );
  t.is(r.code, 0, r.stderr);
  t.deepEqual(
    out
      .trim()
      .split(',')
      .filter((o) => ['nosuid', 'nodev', 'noexec'].includes(o)),
    [],
    out,
  );
});

// ---- item 25 ----

rootTest('item 25: in a user namespace without its own netns, a cgroup2 mount refused with EBUSY falls back to a bind of its cgroup (runc)', async (t) => {
  // Where /sys/fs/cgroup is cgroup2 itself (a unified host, as in the VM), the host's /sys that such
  // a container gets bound already holds the one cgroup2 superblock there, and mounting it again on
  // the same place is EBUSY. tsrun runs in a mount namespace of its own with the host's cgroup v2
  // tree bound on /sys/fs/cgroup to see that here (the host's mounts stay as they are).
  const unified = unifiedMount();
  if (!unified) return t.pass('no cgroup v2 hierarchy here');
  const bind = unified === '/sys/fs/cgroup' ? '' : `mount --bind ${unified} /sys/fs/cgroup && `;
  const prefix = ['unshare', '-m', '--propagation', 'private', 'sh', '-c', `${bind}exec "$@"`, 'tsrun'];
  const { r, out } = await run(
    t,
    (s, { dir, rootfs }) => {
      userns(s, dir, rootfs);
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'network');
      if (!s.linux!.namespaces.some((n) => n.type === 'cgroup')) s.linux!.namespaces.push({ type: 'cgroup' });
      s.process!.args = [
        'sh',
        '-c',
        `awk '$5 == "/sys/fs/cgroup" {print $4, $9}' /proc/self/mountinfo | tail -n 1; grep -qx 1 /sys/fs/cgroup/cgroup.procs && echo own-cgroup`,
      ];
    },
    prefix,
  );
  t.is(r.code, 0, r.stderr);
  t.is(out, '/ cgroup2\nown-cgroup\n');
});
