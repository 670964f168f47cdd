// Hostile layers must not write outside the destination: `../` and absolute names, symlinks planted
// earlier in the same layer or in a lower layer (flatten mode applies both into one tree), hardlinks
// to outside files, whiteouts through symlinks, smuggled overlay xattrs.
import type { ExecutionContext } from 'ava';
import fs from 'node:fs';
import path from 'node:path';
import { applyLayer } from '../../src/image/apply.js';
import { lgetxattr } from '../../src/image/fsx.js';
import { chunked, tarball, type RawEntry } from '../helpers/tar-writer.js';
import { takesUserXattrs, xattrTmpDir } from '../helpers/xattr-tmp.js';
import { needs, root } from '../helpers/skip.js';

const rootTest = needs(root('chown, trusted.* xattrs'));

interface World {
  base: string;
  dest: string;
  outside: string; // absolute, on the host, next to dest
  sentinel: string;
}

function world(t: ExecutionContext): World {
  // On a filesystem that keeps user.* xattrs: not tmpfs before Linux 6.6 (helpers/xattr-tmp.ts).
  const { dir: base } = xattrTmpDir(t, 'tsrun-hostile-');
  const dest = path.join(base, 'a', 'b', 'dest');
  const outside = path.join(base, 'outside');
  fs.mkdirSync(dest, { recursive: true });
  fs.mkdirSync(outside);
  const sentinel = path.join(outside, 'sentinel');
  fs.writeFileSync(sentinel, 'untouched');
  return { base, dest, outside, sentinel };
}

/** Every file under base/ that is not under dest/, with its content. */
function outsideState(w: World): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const n of fs.readdirSync(dir)) {
      const p = path.join(dir, n);
      if (p === w.dest) continue;
      const st = fs.lstatSync(p);
      if (st.isDirectory()) walk(p);
      else out.push(`${path.relative(w.base, p)}:${st.nlink}:${st.isFile() ? fs.readFileSync(p, 'utf8') : ''}`);
    }
  };
  walk(w.base);
  return out.sort();
}

const apply = (entries: RawEntry[], dest: string, mode: 'overlay' | 'flatten' = 'flatten') => applyLayer(chunked(tarball(entries), 4096), dest, { mode });

/** Directory entries that make `abs` exist inside the layer root, so symlinks to it resolve. */
function mirrorDirs(abs: string): RawEntry[] {
  const parts = abs.split('/').filter(Boolean);
  return parts.map((_, i) => ({ name: parts.slice(0, i + 1).join('/') + '/', type: '5', mode: 0o755 }));
}

rootTest('`../` and absolute names stay inside the root', async (t) => {
  const w = world(t);
  const before = outsideState(w);
  await apply(
    [
      { name: '../escape1', body: 'a' },
      { name: '../../../../../../../../tmp/escape2', body: 'b' },
      { name: '/abs-escape', body: 'c' },
      { name: 'x/../../escape3', body: 'd' },
      { name: `${w.outside}/pwned`, body: 'e' },
    ],
    w.dest,
  );
  t.deepEqual(outsideState(w), before);
  t.is(fs.readFileSync(path.join(w.dest, 'escape1'), 'utf8'), 'a');
  t.is(fs.readFileSync(path.join(w.dest, 'tmp/escape2'), 'utf8'), 'b');
  t.is(fs.readFileSync(path.join(w.dest, 'abs-escape'), 'utf8'), 'c');
  t.is(fs.readFileSync(path.join(w.dest, 'escape3'), 'utf8'), 'd');
  t.is(fs.readFileSync(path.join(w.dest, w.outside, 'pwned'), 'utf8'), 'e');
});

rootTest('a symlink planted earlier in the same layer cannot redirect writes outside', async (t) => {
  const w = world(t);
  const before = outsideState(w);
  await apply(
    [
      ...mirrorDirs(w.outside), // so the planted links resolve (inside the root) and the writes succeed
      { name: 'abs', type: '2', linkname: w.outside },
      { name: 'rel', type: '2', linkname: '../'.repeat(12) + w.outside.slice(1) },
      { name: 'abs/via-abs', body: 'x' },
      { name: 'rel/via-rel', body: 'y' },
      { name: 'abs/sub/', type: '5' },
      { name: 'abs/sub/deep', body: 'z' },
      { name: 'abs/sentinel', body: 'overwritten?' }, // same name as the host file
    ],
    w.dest,
  );
  t.deepEqual(outsideState(w), before, 'nothing outside changed');
  const inside = path.join(w.dest, w.outside);
  t.deepEqual(fs.readdirSync(inside).sort(), ['sentinel', 'sub', 'via-abs', 'via-rel']);
  t.is(fs.readFileSync(path.join(inside, 'sub/deep'), 'utf8'), 'z');
  t.is(fs.readlinkSync(path.join(w.dest, 'abs')), w.outside, 'the link itself is kept verbatim');
});

rootTest('a dangling planted symlink is an error, not a write outside', async (t) => {
  const w = world(t);
  const before = outsideState(w);
  await t.throwsAsync(
    apply(
      [
        { name: 'evil', type: '2', linkname: w.outside },
        { name: 'evil/pwned', body: 'x' },
      ],
      w.dest,
    ),
    { message: /evil\/pwned/ },
  );
  t.deepEqual(outsideState(w), before);
});

rootTest('a symlink planted by a lower layer cannot redirect writes, whiteouts or opaque dirs', async (t) => {
  const w = world(t);
  const before = outsideState(w);
  await apply(
    [
      { name: 'lower-abs', type: '2', linkname: w.outside },
      { name: 'lower-rel', type: '2', linkname: '../../../outside' }, // dest/../../../outside = w.outside
      { name: 'file-link', type: '2', linkname: w.sentinel },
    ],
    w.dest,
  );
  await t.throwsAsync(apply([{ name: 'lower-abs/pwned', body: 'x' }], w.dest), { message: /lower-abs\/pwned/ });
  await t.throwsAsync(apply([{ name: 'lower-rel/pwned', body: 'x' }], w.dest), { message: /lower-rel\/pwned/ });
  await apply(
    [
      { name: 'lower-abs/.wh.sentinel', body: '' }, // flatten: would delete outside/sentinel if followed
      { name: 'lower-rel/.wh..wh..opq', body: '' }, // flatten: would empty outside/ if followed
      { name: 'file-link', body: 'replaces the link, not its target' },
    ],
    w.dest,
  );
  t.deepEqual(outsideState(w), before);
  t.true(fs.lstatSync(path.join(w.dest, 'file-link')).isFile());
  // overlay mode: a whiteout device under the planted (dangling inside the root) link is refused
  await t.throwsAsync(apply([{ name: 'lower-abs/.wh.sentinel', body: '' }], w.dest, 'overlay'), { message: /lower-abs/ });
  t.deepEqual(outsideState(w), before);
});

rootTest('hardlinks cannot reach files outside the root', async (t) => {
  const w = world(t);
  const before = outsideState(w);
  await t.throwsAsync(apply([{ name: 'hl', type: '1', linkname: '../../../outside/sentinel' }], w.dest), { message: /does not exist/ });
  await t.throwsAsync(apply([{ name: 'hl', type: '1', linkname: w.sentinel }], w.dest), { message: /does not exist/ });
  await t.throwsAsync(
    apply(
      [
        { name: 'sl', type: '2', linkname: w.outside },
        { name: 'hl', type: '1', linkname: 'sl/sentinel' },
      ],
      w.dest,
    ),
    { message: /does not exist/ },
  );
  // linking to a symlink that points outside links the symlink itself
  await apply(
    [
      { name: 'ptr', type: '2', linkname: w.sentinel },
      { name: 'hl2', type: '1', linkname: 'ptr' },
    ],
    w.dest,
  );
  t.true(fs.lstatSync(path.join(w.dest, 'hl2')).isSymbolicLink());
  t.deepEqual(outsideState(w), before, 'sentinel nlink still 1, content unchanged');
});

rootTest('overlay xattrs smuggled in the archive are dropped; entries named ".." cannot replace the root', async (t) => {
  const w = world(t);
  const r = await apply(
    [
      {
        name: 'd/',
        type: '5',
        pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/etc', 'SCHILY.xattr.trusted.overlay.opaque': 'y', 'SCHILY.xattr.user.ok': 'kept' },
      },
    ],
    w.dest,
    'overlay',
  );
  t.is(lgetxattr(path.join(w.dest, 'd'), 'trusted.overlay.redirect'), undefined);
  t.is(lgetxattr(path.join(w.dest, 'd'), 'trusted.overlay.opaque'), undefined);
  if (takesUserXattrs(w.base)) t.deepEqual(lgetxattr(path.join(w.dest, 'd'), 'user.ok'), Buffer.from('kept'));
  else {
    // The filesystem has no user.* namespace: the applier skips the xattr and says so.
    t.log(`${w.base} takes no user.* xattrs: checking that the applier reports user.ok as skipped`);
    t.is(r.skippedXattrs.length, 1, r.skippedXattrs.join('; '));
    t.regex(r.skippedXattrs[0] ?? '', /^d\/?: user\.ok$/);
  }
  await t.throwsAsync(apply([{ name: '..', body: 'x' }], w.dest), { message: /cannot replace the layer root/ });
  await t.throwsAsync(apply([{ name: 'x', type: '2', linkname: '' }], w.dest), { message: /empty target/ });
});

rootTest("flatten: an opaque marker keeps this layer's entries, including implicitly created parents", async (t) => {
  const w = world(t);
  await apply(
    [
      { name: 'd/', type: '5' },
      { name: 'd/lower-file', body: 'lower' },
      { name: 'd/sub/', type: '5' },
      { name: 'd/sub/lower-deep', body: 'lower' },
    ],
    w.dest,
  );
  await apply(
    [
      { name: 'd/sub/new', body: 'upper' }, // d/sub has no entry of its own in this layer
      { name: 'd/implicit/new', body: 'upper' },
      { name: 'd/.wh..wh..opq', body: '' },
    ],
    w.dest,
  );
  t.deepEqual(fs.readdirSync(path.join(w.dest, 'd')).sort(), ['implicit', 'sub']);
  t.deepEqual(fs.readdirSync(path.join(w.dest, 'd/sub')), ['new']);
});
