// Issue 17's image store fixes at the library level: one record per image ID (pulled OCI manifest +
// loaded docker save archive of the same image; an old store keyed by manifest digest still reads
// and is rewritten), Docker's lookup (ambiguous ID prefixes, ID-like references never pulled),
// `image rm`'s conflicts with containers, archives from a stream, and archive errors that name
// the file, the entry and a stable problem code.
import anyTest, { type TestFn } from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { ImageStore, type ImageRecord, type ImageUser } from '../../src/image/image-store.js';
import { ArchiveError, importImage, type ArchiveProblem } from '../../src/image/import.js';
import { createProgressRenderer } from '../../src/image/progress.js';
import { pull } from '../../src/image/pull.js';
import { makeTar, pushImage, REGISTRY_BIN, sha256, startRegistry, tempDir, type PushedImage, type TestRegistry } from '../helpers/registry.js';
import { gate, tool } from '../helpers/skip.js';
import { tarball } from '../helpers/tar-writer.js';

interface Ctx {
  reg: TestRegistry;
  img: PushedImage;
  work: string;
}
const test = anyTest as TestFn<Ctx>;
const live = gate(test, tool(REGISTRY_BIN, 'docker-registry'), tool('skopeo'));

test.before(async (t) => {
  t.context.work = tempDir('tsrun-fixes-');
  if (live.skipped) return;
  t.context.reg = await startRegistry();
  t.context.img = await pushImage(t.context.reg, 'test/same', '1', { layers: [{ files: { 'etc/a': 'one' } }, { files: { 'etc/b': 'two' } }] });
});

test.after.always(async (t) => {
  await t.context.reg?.stop();
  rmSync(t.context.work, { recursive: true, force: true });
});

function withRoot(t: { teardown(fn: () => void): void }): string {
  const root = tempDir();
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  return root;
}

function skopeo(...args: string[]): void {
  const r = spawnSync('skopeo', ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`skopeo copy ${args.join(' ')}: ${r.stderr}`);
}

live('an image pulled (OCI manifest) and loaded (docker save) is one record with both names and both manifests', async (t) => {
  const { reg, img, work } = t.context;
  const archive = join(work, 'same-docker.tar');
  skopeo(`docker://${reg.host}/test/same:1`, `docker-archive:${archive}:example.com/team/same:saved`);
  const root = withRoot(t);
  const pulled = await pull(`${reg.host}/test/same:1`, { imageRoot: root });
  const [loaded] = await importImage(archive, { imageRoot: root });
  t.is(pulled.id, img.config.digest, 'the image ID is the config digest');
  t.is(loaded.id, pulled.id);
  t.not(loaded.manifestDigest, pulled.manifestDigest, 'two different manifests (OCI gzip layers, Docker plain layers)');
  const store = new ImageStore(root);
  const all = await store.list();
  t.is(all.length, 1, 'one image, not two records with one ID');
  t.deepEqual(all[0].names.sort(), [`${reg.host}/test/same:1`, 'example.com/team/same:saved'].sort());
  t.deepEqual(all[0].repoDigests, [`${reg.host}/test/same@${img.manifestDigest}`]);
  t.deepEqual(
    [all[0].manifestDigest, ...(all[0].otherManifests ?? []).map((m) => m.manifestDigest)].sort(),
    [pulled.manifestDigest, loaded.manifestDigest].sort(),
  );
  t.deepEqual(
    readdirSync(join(root, 'images')).filter((n) => n.endsWith('.json')),
    [`sha256-${img.config.digest.slice(7)}.json`],
  );
  // Both manifests still resolve and keep their blobs through a prune.
  t.is((await store.get(`${reg.host}/test/same@${img.manifestDigest}`)).id, pulled.id);
  await store.prune();
  for (const d of [pulled.manifestDigest, loaded.manifestDigest, ...pulled.layers.map((l) => l.digest), ...loaded.layers.map((l) => l.digest)]) {
    t.true(await store.content.has(d), `${d} kept`);
  }
  // A second pull finds the image up to date (its OCI manifest is among the record's).
  const again = await pull(`${reg.host}/test/same:1`, { imageRoot: root });
  t.is(again.id, pulled.id);
  t.is((await store.list()).length, 1);
  // Removing one name leaves the image; removing the other removes it.
  t.deepEqual(await store.remove('example.com/team/same:saved'), { untagged: ['example.com/team/same:saved'] });
  t.deepEqual(await store.remove(`${reg.host}/test/same:1`), { untagged: [`${reg.host}/test/same:1`], deleted: pulled.id });
});

function fakeRecord(id: string, manifest: string, names: string[], storedAt: string): ImageRecord {
  return {
    id,
    names,
    repoDigests: [],
    manifestDigest: manifest,
    manifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
    configDigest: id,
    layers: [],
    diffIds: [],
    platform: { os: 'linux', architecture: 'amd64' },
    size: 1,
    storedAt,
  };
}

const hexId = (prefix: string, fill: string) => `sha256:${prefix}${fill.repeat(64 - prefix.length)}`;

test('a store with two records of one ID (keyed by manifest digest, as before) reads as one image and is rewritten on the next change', async (t) => {
  const root = withRoot(t);
  const dir = join(root, 'images');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const id = hexId('c0ffee', '1');
  const m1 = hexId('aa', '2');
  const m2 = hexId('bb', '3');
  writeFileSync(join(dir, `sha256-${m1.slice(7)}.json`), JSON.stringify(fakeRecord(id, m1, ['docker.io/library/x:1'], '2026-01-01T00:00:00Z')));
  writeFileSync(join(dir, `sha256-${m2.slice(7)}.json`), JSON.stringify(fakeRecord(id, m2, ['docker.io/library/x:saved'], '2026-01-02T00:00:00Z')));
  const store = new ImageStore(root);
  const [only, ...rest] = await store.list();
  t.deepEqual(rest, []);
  t.is(only.id, id);
  t.is(only.manifestDigest, m2, 'the newer manifest first');
  t.deepEqual(
    only.otherManifests?.map((m) => m.manifestDigest),
    [m1],
  );
  t.deepEqual(only.names.sort(), ['docker.io/library/x:1', 'docker.io/library/x:saved']);
  t.is((await store.get('x:1')).id, id);
  t.is((await store.get('c0ffee')).id, id, 'an ID prefix finds the one image (it is not ambiguous with itself)');
  // Any change migrates: one file, named by the ID.
  await store.put(fakeRecord(hexId('dd', '4'), hexId('ee', '5'), ['docker.io/library/y:1'], '2026-01-03T00:00:00Z'));
  t.deepEqual(
    readdirSync(dir)
      .filter((n) => n.endsWith('.json'))
      .sort(),
    [`sha256-${id.slice(7)}.json`, `sha256-${'dd'}${'4'.repeat(62)}.json`].sort(),
  );
  const migrated = JSON.parse(readFileSync(join(dir, `sha256-${id.slice(7)}.json`), 'utf8')) as ImageRecord;
  t.deepEqual(migrated.names.sort(), ['docker.io/library/x:1', 'docker.io/library/x:saved']);
});

test('ID prefixes: an ambiguous one names the candidates; an ID-like reference that matches nothing is "No such image", not a pull', async (t) => {
  const root = withRoot(t);
  const store = new ImageStore(root);
  const a = hexId('abcd1', '1');
  const b = hexId('abcd2', '2');
  await store.put(fakeRecord(a, hexId('01', '0'), ['docker.io/library/a:1'], '2026-01-01T00:00:00Z'));
  await store.put(fakeRecord(b, hexId('02', '0'), ['docker.io/library/b:1'], '2026-01-01T00:00:00Z'));
  const amb = await t.throwsAsync(store.get('abcd'));
  t.is((amb as { code?: string }).code, 'TSRUN_INVALID_ARGUMENT');
  t.is(amb!.message, `image ID prefix "abcd" is ambiguous: it matches ${a}, ${b}`);
  await t.throwsAsync(store.get('sha256:abcd'), { message: /is ambiguous: it matches/ });
  t.is((await store.get('abcd2')).id, b);
  t.is((await store.get(b)).id, b, 'the full sha256: ID');
  t.is((await store.get(b.slice(7))).id, b, 'the full ID without sha256:');
  // A run (ifMissing) and an explicit pull: resolved locally, or refused without asking a registry.
  t.is((await pull('abcd1', { imageRoot: root, ifMissing: true })).id, a);
  await t.throwsAsync(pull('abcd', { imageRoot: root, ifMissing: true }), { message: /is ambiguous/ });
  for (const ref of ['0123456789ab', 'sha256:0123', `sha256:${'9'.repeat(64)}`, '9'.repeat(64)]) {
    const e = await t.throwsAsync(pull(ref, { imageRoot: root, ifMissing: true, timeoutMs: 1000 }));
    t.is((e as { code?: string }).code, 'TSRUN_IMAGE_NOT_FOUND', ref);
    t.is(e!.message, `No such image: ${ref}`);
  }
  const explicit = await t.throwsAsync(pull(`sha256:${'9'.repeat(64)}`, { imageRoot: root, timeoutMs: 1000 }));
  t.is(explicit!.message, `No such image: sha256:${'9'.repeat(64)}`);
  await t.throwsAsync(store.get('0123456789ab'), { message: 'No such image: 0123456789ab', code: 'TSRUN_IMAGE_NOT_FOUND' } as never);
});

test("image rm with containers: Docker's conflicts without force, and what force may do", async (t) => {
  const root = withRoot(t);
  const store = new ImageStore(root);
  const id = hexId('5eed', '7');
  const short = id.slice(7, 19);
  const put = (names: string[]) => store.put(fakeRecord(id, hexId('03', '0'), names, '2026-01-01T00:00:00Z'));
  let users: ImageUser[] = [{ id: 'a1b2c3d4e5f6a7b8', running: false }];
  const usersOf = (x: string) => (x === id ? users : []);
  await put(['docker.io/library/app:1']);

  let e = await t.throwsAsync(store.remove('app:1', { usersOf }));
  t.is(e!.message, `conflict: unable to remove repository reference "app:1" (must force) - container a1b2c3d4e5f6 is using its referenced image ${short}`);
  e = await t.throwsAsync(store.remove(short, { usersOf }));
  t.is(e!.message, `conflict: unable to delete ${short} (must be forced) - image is being used by stopped container a1b2c3d4e5f6`);
  t.is((e as { code?: string }).code, 'TSRUN_INVALID_STATE');
  t.deepEqual((await store.get(id)).names, ['docker.io/library/app:1'], 'nothing removed');

  // Two names: untagging one is fine; by ID the image is "referenced in multiple repositories".
  await put(['docker.io/library/app:1', 'docker.io/library/other:1']);
  e = await t.throwsAsync(store.remove(id, { usersOf }));
  t.is(e!.message, `conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`);
  t.deepEqual(await store.remove('other:1', { usersOf }), { untagged: ['docker.io/library/other:1'] });

  // A running container: deleting the image cannot be forced; untagging its last name with force
  // leaves the image, untagged.
  users = [{ id: 'ffff00001111', running: true }];
  e = await t.throwsAsync(store.remove(id, { usersOf, force: true }));
  t.is(e!.message, `conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ffff00001111`);
  t.deepEqual(await store.remove('app:1', { usersOf, force: true }), { untagged: ['docker.io/library/app:1'] });
  t.deepEqual((await store.get(id)).names, []);
  t.deepEqual((await store.prune({ keep: new Set([id]) })).images, [], 'prune keeps an untagged image a container uses');

  // Stopped only, with force: deleted by ID with every name.
  users = [{ id: 'a1b2c3d4e5f6a7b8', running: false }];
  await put(['docker.io/library/app:1', 'docker.io/library/app:2']);
  t.deepEqual(await store.remove(short, { usersOf, force: true }), { untagged: ['docker.io/library/app:1', 'docker.io/library/app:2'], deleted: id });
  t.deepEqual(await store.list(), []);
  // No user: by name the image goes with its last name.
  await put(['docker.io/library/app:1']);
  t.deepEqual(await store.remove('app:1', { usersOf: () => [] }), { untagged: ['docker.io/library/app:1'], deleted: id });
});

/** A one-layer docker save archive (legacy layout) as files. */
async function dockerSave(tag: string): Promise<{ files: Record<string, string | Buffer>; configName: string; layer: Buffer }> {
  const layer = await makeTar({ 'etc/hello': 'hello' });
  const cfg = Buffer.from(
    JSON.stringify({ os: 'linux', architecture: 'amd64', config: { Cmd: ['sh'] }, rootfs: { type: 'layers', diff_ids: [sha256(layer)] } }),
  );
  const configName = `${sha256(cfg).slice(7)}.json`;
  return {
    files: { [configName]: cfg, 'abc/layer.tar': layer, 'manifest.json': JSON.stringify([{ Config: configName, RepoTags: [tag], Layers: ['abc/layer.tar'] }]) },
    configName,
    layer,
  };
}

test('an archive from a stream (stdin), plain or gzip-compressed, imports as from a file', async (t) => {
  const root = withRoot(t);
  const { files, configName } = await dockerSave('streamed:1');
  const tar = await makeTar(files);
  const [rec] = await importImage({ stream: Readable.from([tar.subarray(0, 1000), tar.subarray(1000)]) }, { imageRoot: root });
  t.is(rec.id, `sha256:${configName.slice(0, 64)}`);
  t.deepEqual(rec.names, ['docker.io/library/streamed:1']);
  const [gz] = await importImage({ stream: Readable.from([gzipSync(tar)]), name: 'stdin' }, { imageRoot: root, name: 'zipped:1' });
  t.is(gz.id, rec.id);
  t.deepEqual((await new ImageStore(root).get(rec.id)).names.sort(), ['docker.io/library/streamed:1', 'docker.io/library/zipped:1']);
});

async function archiveError(t: { throwsAsync: (p: Promise<unknown>) => Promise<unknown> }, source: string | Buffer, root: string): Promise<ArchiveError> {
  const src = typeof source === 'string' ? source : { stream: Readable.from([source]), name: 'stdin' };
  const e = await t.throwsAsync(importImage(src, { imageRoot: root }));
  if (!(e instanceof ArchiveError)) throw new Error(`not an ArchiveError: ${String(e)}`);
  return e;
}

test('a bad archive is refused naming the file, what is wrong and the entry, with a stable problem code', async (t) => {
  const root = withRoot(t);
  const dir = join(t.context.work, 'bad');
  mkdirSync(dir, { recursive: true });
  const write = (name: string, data: Buffer | string) => {
    writeFileSync(join(dir, name), data);
    return join(dir, name);
  };
  const check = async (source: string | Buffer, problem: ArchiveProblem, message: RegExp, code = 'TSRUN_IMAGE', entry?: string) => {
    const e = await archiveError(t, source, root);
    const name = typeof source === 'string' ? source : 'stdin';
    t.is(e.problem, problem, e.message);
    t.is(e.code as string, code, e.message);
    t.is(e.archive, name);
    t.true(e.message.startsWith(`import ${name}: `), e.message);
    t.regex(e.message, message);
    if (entry !== undefined) t.is(e.entry, entry);
  };
  await check(join(dir, 'absent.tar'), 'UNREADABLE', /cannot read it \(ENOENT\)/);
  await check(write('text.tar', 'this is not a tar archive, just some text that goes on for a while '.repeat(20)), 'NOT_A_TAR', /not a tar archive/);
  await check(Buffer.alloc(0), 'EMPTY', /the archive is empty/);
  const { files, configName, layer } = await dockerSave('ok:1');
  const good = await makeTar(files);
  await check(good.subarray(0, 1536), 'TRUNCATED', /truncated/);
  await check(
    await makeTar({ 'hello.txt': 'hi' }),
    'NOT_AN_IMAGE',
    /neither an OCI archive \(oci-layout, index.json\) nor a docker save archive \(manifest.json\)/,
  );
  await check(await makeTar({ 'oci-layout': '{"imageLayoutVersion":"1.0.0"}' }), 'NO_INDEX', /without index.json/, 'TSRUN_IMAGE', 'index.json');
  await check(await makeTar({ ...files, 'manifest.json': '[{' }), 'BAD_JSON', /manifest.json: not valid JSON/, 'TSRUN_IMAGE', 'manifest.json');
  const noLayer = { ...files };
  delete noLayer['abc/layer.tar'];
  await check(await makeTar(noLayer), 'BLOB_MISSING', /layer abc\/layer.tar is missing/, 'TSRUN_IMAGE', 'abc/layer.tar');
  await check(
    await makeTar({ ...files, 'abc/layer.tar': await makeTar({ 'etc/hello': 'HELLO' }) }),
    'BLOB_DIGEST',
    /config diff_ids says/,
    'TSRUN_IMAGE_DIGEST',
  );
  // An OCI blob whose bytes are not its name.
  const fake = `blobs/sha256/${'0'.repeat(64)}`;
  await check(
    await makeTar({ 'oci-layout': '{}', [fake]: 'not that' }),
    'BLOB_DIGEST',
    /blob blobs\/sha256\/0+: .*failed verification/,
    'TSRUN_IMAGE_DIGEST',
    fake,
  );
  // Entries and references that leave the archive.
  await check(tarball([{ name: '../evil.json', body: '{}' }]), 'PATH_ESCAPE', /entry "..\/evil.json" is outside the archive/, 'TSRUN_IMAGE', '../evil.json');
  await check(tarball([{ name: 'x/../../evil', body: 'x' }]), 'PATH_ESCAPE', /outside the archive/);
  await check(tarball([{ name: 'link.tar', type: '2', linkname: '../../etc/passwd' }]), 'PATH_ESCAPE', /link "link.tar" points outside the archive/);
  const escaping = { ...files, 'manifest.json': JSON.stringify([{ Config: configName, RepoTags: [], Layers: ['../../etc/shadow'] }]) };
  await check(await makeTar(escaping), 'PATH_ESCAPE', /manifest.json: Layers\[0\] "..\/..\/etc\/shadow" is outside the archive/);
  // An OCI layout directory: no index.json, then a blob missing.
  const layout = join(dir, 'layout');
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await check(layout, 'NO_INDEX', /OCI layout without index.json \(ENOENT\)/);
  const missing = sha256('a manifest that is not there');
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: missing, size: 10 }] }),
  );
  await check(
    layout,
    'BLOB_MISSING',
    new RegExp(`blob ${missing} is missing \\(no blobs/sha256/${missing.slice(7)}\\)`),
    'TSRUN_IMAGE',
    `blobs/sha256/${missing.slice(7)}`,
  );
  t.deepEqual(await new ImageStore(root).list(), [], 'nothing was stored');
  t.truthy(layer);
});

test('the progress renderer draws the unpack phase per layer (TTY) and writes it as JSON lines', (t) => {
  const written: string[] = [];
  // A pty whose size was never set says 0 columns: lines are not cut to nothing.
  const tty = createProgressRenderer({ write: (s: string) => written.push(s), isTTY: true, columns: 0 }, 'tty');
  const digest = sha256('layer');
  tty.onProgress({ type: 'extract', digest, chainID: digest, status: 'waiting', done: 0, total: 2_000_000 });
  tty.onProgress({ type: 'extract', digest, chainID: digest, status: 'extracting', done: 1_000_000, total: 2_000_000 });
  tty.onProgress({ type: 'extract', digest, chainID: digest, status: 'done', done: 2_000_000, total: 2_000_000 });
  const drawn = written.length;
  tty.end();
  t.is(written.length, drawn, 'nothing new to draw: end() does not move the cursor over what the container wrote since');
  const text = written.join('');
  const id = digest.slice(7, 19);
  t.regex(text, new RegExp(`${id}: Waiting to extract\x1b`));
  t.regex(text, new RegExp(`${id}: Extracted\x1b`));
  const json: string[] = [];
  const js = createProgressRenderer({ write: (s: string) => json.push(s) }, 'json');
  js.onProgress({ type: 'extract', digest, chainID: digest, status: 'extracting', done: 5, total: 10 });
  const ev = JSON.parse(json[0]) as Record<string, unknown>;
  t.like(ev, { type: 'extract', digest, status: 'extracting', done: 5, total: 10 });
});
