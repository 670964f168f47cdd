// The content store and image store on a real filesystem: atomic publication, digest checks,
// names moving between records, untag vs delete, ID prefixes, leases against prune, and stale
// lock files left by dead processes.

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ContentStore, sha256Digest, withFileLock } from '../../src/image/content-store.js';
import { ImageStore, type ImageRecord } from '../../src/image/image-store.js';
import { tempDir } from '../helpers/registry.js';
import { deferred, waitFor } from '../helpers/wait.js';

function record(store: ContentStore, tag: string | undefined, seed: string): Promise<ImageRecord> {
  return (async () => {
    const layer = await store.put(Buffer.from(`layer ${seed}`));
    const shared = await store.put(Buffer.from('shared layer'));
    const config = await store.put(Buffer.from(`{"config":"${seed}"}`));
    const manifest = await store.put(Buffer.from(`{"manifest":"${seed}"}`));
    return {
      id: config,
      names: tag ? [tag] : [],
      repoDigests: [],
      manifestDigest: manifest,
      manifestMediaType: 'application/vnd.oci.image.manifest.v1+json',
      configDigest: config,
      layers: [
        { digest: shared, size: 12, mediaType: 'x' },
        { digest: layer, size: 6 + seed.length, mediaType: 'x' },
      ],
      diffIds: [shared, layer],
      platform: { os: 'linux', architecture: 'amd64' },
      size: 1,
      storedAt: new Date().toISOString(),
    };
  })();
}

test('content store: put verifies, read re-checks, nothing but blobs is listed', async (t) => {
  const root = tempDir();
  try {
    const cs = new ContentStore(root);
    const d = await cs.put(Buffer.from('abc'));
    t.is(d, sha256Digest('abc'));
    t.deepEqual(await cs.read(d), Buffer.from('abc'));
    const e = await t.throwsAsync(cs.put(Buffer.from('abc'), sha256Digest('abd')));
    t.is((e as { code?: string }).code, 'TSRUN_IMAGE_DIGEST');
    t.deepEqual(await cs.list(), [d]);
    // Corruption on disk is caught when read.
    writeFileSync(cs.blobPath(d), 'abd');
    await t.throwsAsync(cs.read(d), { message: /is corrupt/ });
    t.deepEqual(
      readdirSync(join(root, 'blobs', 'sha256')).filter((n) => n.startsWith('.')),
      [],
    );
    t.throws(() => cs.blobPath('sha256:../../etc'), { message: /invalid digest/ });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('image store: names move between records, rm untags then deletes, IDs by prefix', async (t) => {
  const root = tempDir();
  try {
    const store = new ImageStore(root);
    const a = await store.put(await record(store.content, 'docker.io/library/app:1', 'a'));
    const b = await store.put(await record(store.content, 'docker.io/library/app:2', 'b'));
    // Tagging b as app:1 moves the name off a.
    await store.put({ ...b, names: ['docker.io/library/app:1'] });
    t.deepEqual((await store.get(a.id)).names, []);
    t.deepEqual((await store.get('app:1')).names.sort(), ['docker.io/library/app:1', 'docker.io/library/app:2']);
    t.is((await store.get(b.id.slice(7, 19))).manifestDigest, b.manifestDigest);
    t.is(await store.find('app:3'), undefined);
    await t.throwsAsync(store.get('app:3'), { message: 'No such image: app:3' });

    const r1 = await store.remove('app:1');
    t.deepEqual(r1, { untagged: ['docker.io/library/app:1'] });
    const r2 = await store.remove('docker.io/library/app:2');
    t.deepEqual(r2, { untagged: ['docker.io/library/app:2'], deleted: b.id });
    t.deepEqual(
      (await store.list()).map((r) => r.id),
      [a.id],
    );
    t.deepEqual(
      readdirSync(join(root, 'images')).filter((n) => !n.endsWith('.json')),
      [],
      'no temp or lock files left',
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('prune keeps shared and leased blobs, drops dangling records and unreferenced blobs', async (t) => {
  const root = tempDir();
  try {
    const store = new ImageStore(root);
    const keep = await store.put(await record(store.content, 'docker.io/library/keep:1', 'k'));
    const dangling = await store.put(await record(store.content, undefined, 'd'));
    const lease = await store.lease();
    const inflight = await store.content.put(Buffer.from('being pulled'));
    await lease.add(inflight);
    const r = await store.prune();
    t.deepEqual(r.images, [dangling.id]);
    t.deepEqual(r.blobs.sort(), [dangling.manifestDigest, dangling.configDigest, dangling.layers[1].digest].sort());
    t.true(await store.content.has(keep.layers[0].digest), 'layer shared with the dangling image stays');
    t.true(await store.content.has(inflight), 'a leased blob stays');
    await lease.release();
    t.deepEqual((await store.prune()).blobs, [inflight]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/**
 * An AbortSignal that counts how often it was checked: withFileLock checks its signal before every
 * attempt, so two checks mean the lock was found held once and is being waited for.
 */
function countingSignal(): { signal: AbortSignal; ctl: AbortController; checks: () => number } {
  const ctl = new AbortController();
  let checks = 0;
  const signal = new Proxy(ctl.signal, {
    get(target, prop) {
      if (prop === 'throwIfAborted')
        return () => {
          checks++;
          target.throwIfAborted();
        };
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { signal, ctl, checks: () => checks };
}

test('a lock file left by a dead process is broken; a live holder is waited for', async (t) => {
  const root = tempDir();
  try {
    mkdirSync(root, { recursive: true });
    const lock = join(root, 'x.lock');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(lock, `${dead.stdout} deadbeef\n`);
    t.is(await withFileLock(lock, async () => 'got it'), 'got it');
    const order: string[] = [];
    const firstIn = deferred();
    const release = deferred();
    const first = withFileLock(lock, async () => {
      order.push('first start');
      firstIn.resolve();
      await release.promise;
      order.push('first end');
    });
    await firstIn.promise;
    const spy = countingSignal();
    const second = withFileLock(
      lock,
      async () => {
        order.push('second');
      },
      { signal: spy.signal },
    );
    await waitFor(() => spy.checks() >= 2, { what: 'the second locker to find the lock held and try again' });
    t.deepEqual(order, ['first start'], 'the second waits while the first holds the lock');
    release.resolve();
    await Promise.all([first, second]);
    t.deepEqual(order, ['first start', 'first end', 'second']);

    const holderIn = deferred();
    const holderRelease = deferred();
    const holder = withFileLock(lock, async () => {
      holderIn.resolve();
      await holderRelease.promise;
    });
    await holderIn.promise;
    const waiter = countingSignal();
    const waiting = withFileLock(lock, async () => 'never', { signal: waiter.signal });
    await waitFor(() => waiter.checks() >= 2, { what: 'the waiter to find the lock held and try again' });
    waiter.ctl.abort(new Error('gave up'));
    await t.throwsAsync(waiting, { message: 'gave up' });
    holderRelease.resolve();
    await holder;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("prune removes idle partials and dead processes' temp files, not a partial being written", async (t) => {
  const root = tempDir();
  try {
    const store = new ImageStore(root);
    const dir = join(root, 'blobs', 'sha256');
    mkdirSync(dir, { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const idle = `.${'1'.repeat(64)}.partial`;
    const busy = `.${'2'.repeat(64)}.partial`;
    writeFileSync(join(dir, idle), 'xxxx');
    writeFileSync(join(dir, busy), 'yyyy');
    writeFileSync(join(dir, `.tmp-${dead}-abcd`), 'zz');
    writeFileSync(join(dir, `.tmp-${process.pid}-abcd`), 'live');
    let result: { bytes: number } | undefined;
    // The busy partial's lock is held (by us) while prune runs.
    await withFileLock(join(dir, `.${'2'.repeat(64)}.lock`), async () => {
      result = await store.prune();
    });
    t.is(result!.bytes, 6);
    t.deepEqual(readdirSync(dir).sort(), [busy, `.tmp-${process.pid}-abcd`].sort());
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
