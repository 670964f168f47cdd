// applyLayer against a layer written by GNU tar --format=pax --xattrs: every property checked on
// disk (lstat, getxattr), in overlay mode (then mounted with overlayfs to prove the whiteouts work)
// and in flatten mode; plus the same layer gzip- and zstd-compressed.
import type { ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { applyLayer } from '../../src/image/apply.js';
import { lgetxattr, lsetxattr } from '../../src/image/fsx.js';
import { xattrTmpDir } from '../helpers/xattr-tmp.js';
import { need, needs, root } from '../helpers/skip.js';

const haveSetcap = (() => {
  try {
    execFileSync('setcap', ['-v', 'cap_net_raw+ep', '/nonexistent'], { stdio: 'ignore' });
  } catch (err) {
    return (err as { status?: number }).status !== undefined && (err as { status?: number }).status !== 127;
  }
  return true;
})();
const rootTest = needs(root('mknod, chown, security.capability'), need(haveSetcap, 'needs setcap (Debian package libcap2-bin)'));

const MTIME = new Date('2001-02-03T04:05:06.789Z');

// The fixture's user.* xattr needs a filesystem that keeps one: not tmpfs before Linux 6.6 (the
// test VM's /tmp on 6.1), so the work dir goes where the kernel takes them (helpers/xattr-tmp.ts).
let userXattrs = true;
function tmp(t: ExecutionContext): string {
  const r = xattrTmpDir(t, 'tsrun-apply-');
  userXattrs = r.userXattrs;
  if (!userXattrs) t.log(`no filesystem here takes user.* xattrs (${r.dir}): the user.bin xattr is not checked`);
  return r.dir;
}

function sh(cmd: string, cwd: string): void {
  execFileSync('sh', ['-ec', cmd], { cwd, stdio: 'pipe' });
}

/** The fixture tree; returns the archive path. Directory times are set last, as tar records them. */
function makeLayer(d: string): string {
  const src = path.join(d, 'src');
  fs.mkdirSync(src);
  sh(
    `
    mkdir -p d/opq d/sgid d/tmp
    printf 'suid payload' > d/suid
    # chown drops security.capability and setting it drops S_ISUID: chown, setcap, chmod
    chown 1000:1001 d/suid && setcap cap_net_raw,cap_setuid+ep d/suid && chmod 4755 d/suid
    ln d/suid d/suid-link
    printf x > d/sgid/file && chown 0:50 d/sgid && chmod 2775 d/sgid && chmod 1777 d/tmp
    mknod d/null c 1 3 && mknod d/loop b 7 0 && mkfifo d/fifo && chown 7:8 d/fifo && chmod 0640 d/fifo
    ln -s /usr/bin/prog d/abs && ln -s ../../../../../../etc/shadow d/esc
    touch -h -d @981173106 d/abs
    touch .wh.gone d/opq/.wh..wh..opq && printf kept > d/opq/kept
    printf u > d/user && chmod 0600 d/user
  `,
    src,
  );
  if (userXattrs) lsetxattr(path.join(src, 'd/user'), 'user.bin', Buffer.from([0, 0x80, 0xff, 0x0a]));
  for (const p of ['d/opq', 'd/sgid', 'd/tmp', 'd']) fs.utimesSync(path.join(src, p), MTIME, MTIME);
  const archive = path.join(d, 'layer.tar');
  execFileSync('tar', ['--format=pax', '--xattrs', '--xattrs-include=*', '--numeric-owner', '-C', src, '-cf', archive, '.']);
  return archive;
}

const sha256 = (file: string) => `sha256:${createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;
const major = (rdev: number) => Number((BigInt(rdev) >> 8n) & 0xfffn);
const minor = (rdev: number) => rdev & 0xff;

function checkTree(t: ExecutionContext, src: string, out: string): void {
  const p = (s: string) => path.join(out, s);
  const suid = fs.lstatSync(p('d/suid'));
  t.is(suid.mode & 0o7777, 0o4755, 'setuid kept');
  t.is(suid.uid, 1000);
  t.is(suid.gid, 1001);
  t.is(fs.readFileSync(p('d/suid'), 'utf8'), 'suid payload');
  const cap = lgetxattr(p('d/suid'), 'security.capability');
  t.truthy(cap);
  t.deepEqual(cap, lgetxattr(path.join(src, 'd/suid'), 'security.capability'), 'security.capability byte-exact');
  t.is(fs.lstatSync(p('d/suid-link')).ino, suid.ino, 'hardlink');
  t.is(suid.nlink, 2);
  if (userXattrs) t.deepEqual(lgetxattr(p('d/user'), 'user.bin'), Buffer.from([0, 0x80, 0xff, 0x0a]));
  t.is(fs.lstatSync(p('d/user')).mode & 0o7777, 0o600);
  const sgid = fs.lstatSync(p('d/sgid'));
  t.is(sgid.mode & 0o7777, 0o2775);
  t.is(sgid.gid, 50);
  t.is(fs.lstatSync(p('d/tmp')).mode & 0o7777, 0o1777, 'sticky');
  const nul = fs.lstatSync(p('d/null'));
  t.true(nul.isCharacterDevice());
  t.deepEqual([major(nul.rdev), minor(nul.rdev)], [1, 3]);
  const loop = fs.lstatSync(p('d/loop'));
  t.true(loop.isBlockDevice());
  t.deepEqual([major(loop.rdev), minor(loop.rdev)], [7, 0]);
  const fifo = fs.lstatSync(p('d/fifo'));
  t.true(fifo.isFIFO());
  t.deepEqual([fifo.mode & 0o7777, fifo.uid, fifo.gid], [0o640, 7, 8]);
  t.is(fs.readlinkSync(p('d/abs')), '/usr/bin/prog', 'absolute symlink verbatim');
  t.is(fs.readlinkSync(p('d/esc')), '../../../../../../etc/shadow', 'escaping symlink verbatim');
  t.is(fs.lstatSync(p('d/abs')).mtimeMs, 981173106000, 'symlink mtime');
  for (const dir of ['d', 'd/opq', 'd/sgid', 'd/tmp']) {
    t.is(fs.lstatSync(p(dir), { bigint: true }).mtimeNs, fs.lstatSync(path.join(src, dir), { bigint: true }).mtimeNs, `${dir} mtime`);
  }
  t.is(fs.lstatSync(p('d/suid'), { bigint: true }).mtimeNs, fs.lstatSync(path.join(src, 'd/suid'), { bigint: true }).mtimeNs);
  t.is(fs.readFileSync(p('d/opq/kept'), 'utf8'), 'kept');
}

rootTest('overlay mode: every property on disk, overlay whiteouts, diffID; overlayfs honours them', async (t) => {
  const d = tmp(t);
  const archive = makeLayer(d);
  const out = path.join(d, 'out');
  fs.mkdirSync(out);
  const r = await applyLayer(fs.createReadStream(archive), out, { mode: 'overlay' });
  t.is(r.diffID, sha256(archive));
  t.is(r.tarBytes, fs.statSync(archive).size);
  checkTree(t, path.join(d, 'src'), out);
  const gone = fs.lstatSync(path.join(out, 'gone'));
  t.true(gone.isCharacterDevice());
  t.is(gone.rdev, 0, 'whiteout is c 0/0');
  t.deepEqual(lgetxattr(path.join(out, 'd/opq'), 'trusted.overlay.opaque'), Buffer.from('y'));
  t.false(fs.existsSync(path.join(out, 'd/opq/.wh..wh..opq')));
  t.false(fs.existsSync(path.join(out, '.wh.gone')));

  // A lower layer with what the whiteouts hide, then a real overlayfs mount of both.
  const lower = path.join(d, 'lower');
  fs.mkdirSync(path.join(lower, 'd/opq'), { recursive: true });
  fs.writeFileSync(path.join(lower, 'gone'), 'hidden');
  fs.writeFileSync(path.join(lower, 'd/opq/old'), 'hidden');
  fs.writeFileSync(path.join(lower, 'still'), 'seen');
  const mnt = path.join(d, 'mnt');
  fs.mkdirSync(mnt);
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${out}:${lower}`, mnt]);
  t.teardown(() => execFileSync('umount', ['-l', mnt]));
  t.false(fs.existsSync(path.join(mnt, 'gone')), 'whiteout hides the lower file');
  t.deepEqual(fs.readdirSync(path.join(mnt, 'd/opq')), ['kept'], 'opaque dir hides lower entries');
  t.is(fs.readFileSync(path.join(mnt, 'still'), 'utf8'), 'seen');
  t.is(fs.lstatSync(path.join(mnt, 'd/suid')).mode & 0o7777, 0o4755);
});

rootTest('flatten mode: whiteouts delete from the lower layers already applied', async (t) => {
  const d = tmp(t);
  const archive = makeLayer(d);
  const lowerSrc = path.join(d, 'lower-src');
  fs.mkdirSync(path.join(lowerSrc, 'd/opq/olddir'), { recursive: true });
  fs.writeFileSync(path.join(lowerSrc, 'gone'), 'hidden');
  fs.writeFileSync(path.join(lowerSrc, 'd/opq/old'), 'hidden');
  fs.writeFileSync(path.join(lowerSrc, 'd/opq/olddir/deep'), 'hidden');
  fs.writeFileSync(path.join(lowerSrc, 'd/suid'), 'replaced by the upper layer');
  fs.writeFileSync(path.join(lowerSrc, 'stays'), 'here');
  const lowerTar = path.join(d, 'lower.tar');
  execFileSync('tar', ['--format=pax', '-C', lowerSrc, '-cf', lowerTar, '.']);
  const out = path.join(d, 'out');
  fs.mkdirSync(out);
  await applyLayer(fs.createReadStream(lowerTar), out, { mode: 'flatten' });
  const r = await applyLayer(fs.createReadStream(archive), out, { mode: 'flatten' });
  t.is(r.whiteouts, 2);
  checkTree(t, path.join(d, 'src'), out);
  t.false(fs.existsSync(path.join(out, 'gone')));
  t.deepEqual(fs.readdirSync(path.join(out, 'd/opq')).sort(), ['kept']);
  t.is(fs.readFileSync(path.join(out, 'stays'), 'utf8'), 'here');
  t.is(lgetxattr(path.join(out, 'd/opq'), 'trusted.overlay.opaque'), undefined);
});

rootTest('gzip and zstd layers give the same tree and the uncompressed diffID', async (t) => {
  const d = tmp(t);
  const archive = makeLayer(d);
  execFileSync('sh', ['-ec', `gzip -c layer.tar > layer.tar.gz && zstd -q -c layer.tar > layer.tar.zst`], { cwd: d });
  for (const [file, mediaType] of [
    ['layer.tar.gz', 'application/vnd.oci.image.layer.v1.tar+gzip'],
    ['layer.tar.zst', 'application/vnd.oci.image.layer.v1.tar+zstd'],
    ['layer.tar.gz', undefined],
  ] as const) {
    const out = fs.mkdtempSync(path.join(d, 'out-'));
    const r = await applyLayer(fs.createReadStream(path.join(d, file)), out, { mode: 'overlay', mediaType });
    t.is(r.diffID, sha256(archive), `${file} diffID`);
    checkTree(t, path.join(d, 'src'), out);
  }
});
