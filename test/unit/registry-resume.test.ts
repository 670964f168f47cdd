// Interrupted and concurrent pulls against a real docker-registry: an aborted pull and a pull
// whose process is SIGKILLed mid-blob both resume with Range; concurrent pulls of one image (in
// this process and in another) end with one correct copy of each blob.

import anyTest, { type TestFn } from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImageStore } from '../../src/image/image-store.js';
import type { PullProgress } from '../../src/image/progress.js';
import { pull } from '../../src/image/pull.js';
import { pushImage, REGISTRY_BIN, startRegistry, tempDir, type PushedImage, type TestRegistry } from '../helpers/registry.js';
import { gate, tool } from '../helpers/skip.js';

interface Ctx {
  reg: TestRegistry;
  big: PushedImage;
}
const test = anyTest as TestFn<Ctx>;
const registry = gate(test, tool(REGISTRY_BIN, 'docker-registry'));
const live = registry.serial;
const PULL_TS = fileURLToPath(new URL('../../src/image/pull.ts', import.meta.url));
const TSX = createRequire(import.meta.url).resolve('tsx');

test.before(async (t) => {
  if (registry.skipped) return;
  t.context.reg = await startRegistry();
  // Random bytes do not compress: the layer blob is ~24 MB, big enough to stop half-way.
  t.context.big = await pushImage(t.context.reg, 'test/big', '1', {
    layers: [{ files: { 'data/random': randomBytes(24 << 20) } }, { files: { 'etc/small': 'small' } }],
  });
});

test.after.always(async (t) => {
  await t.context.reg?.stop();
});

function leftovers(root: string): string[] {
  return readdirSync(join(root, 'blobs', 'sha256')).filter((n) => n.startsWith('.'));
}

async function verifyComplete(t: import('ava').ExecutionContext<Ctx>, root: string): Promise<void> {
  const store = new ImageStore(root);
  const { big } = t.context;
  for (const b of [big.config, ...big.layers]) t.true((await store.content.read(b.digest)).equals(b.data), `blob ${b.digest} byte-exact`);
  t.deepEqual(leftovers(root), []);
  t.is((await store.list()).length, 1);
}

live('an aborted pull keeps the partial blob and the next pull resumes it with Range', async (t) => {
  const { reg, big } = t.context;
  const root = tempDir();
  try {
    const ctl = new AbortController();
    const bigDigest = big.layers[0].digest;
    const err = await t.throwsAsync(
      pull(`${reg.host}/test/big:1`, {
        imageRoot: root,
        signal: ctl.signal,
        concurrency: 1,
        onProgress: (e) => {
          if (e.type === 'layer' && e.digest === bigDigest && e.status === 'downloading' && e.done > 0) ctl.abort(new Error('stop here'));
        },
      }),
    );
    t.is(err!.message, 'stop here');
    const partial = join(root, 'blobs', 'sha256', `.${bigDigest.slice(7)}.partial`);
    const have = statSync(partial).size;
    t.true(have > 0 && have < big.layers[0].size, `partial has ${have} of ${big.layers[0].size} bytes`);
    t.deepEqual(await new ImageStore(root).list(), []);

    const events: PullProgress[] = [];
    await pull(`${reg.host}/test/big:1`, { imageRoot: root, onProgress: (e) => events.push(e) });
    const end = events.find((e) => e.type === 'layer' && e.digest === bigDigest && e.status === 'done');
    t.truthy(end);
    t.true(end!.type === 'layer' && end!.resumedFrom! >= have, 'the second pull started at the partial size (HTTP 206)');
    await verifyComplete(t, root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** Start a pull in another Node process; resolves when it has written part of the big layer. */
function childPull(ref: string, root: string, stopMidway: boolean): { ready: Promise<void>; exited: Promise<number | null>; pid: number } {
  const code = `
    const { pull } = await import(${JSON.stringify(PULL_TS)});
    await pull(${JSON.stringify(ref)}, { imageRoot: ${JSON.stringify(root)}, concurrency: 1, onProgress: (e) => {
      // Past 2 MiB at least one 1 MiB write batch has reached the partial file.
      if (${stopMidway} && e.type === 'layer' && e.status === 'downloading' && e.done >= 2 << 20) {
        process.stdout.write('midway\\n');
        // Freeze inside the ingest (lock held, partial file open) until killed.
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
      }
    } });
    process.stdout.write('finished\\n');`;
  const child = spawn(process.execPath, ['--import', TSX, '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('midway') || out.includes('finished')) resolve();
    });
    child.once('close', () => (out.includes('midway') || out.includes('finished') ? resolve() : reject(new Error(`child pull failed: ${out}`))));
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  return { ready, exited, pid: child.pid! };
}

live('a pull whose process is SIGKILLed mid-blob is resumed by the next pull (stale lock broken)', async (t) => {
  const { reg, big } = t.context;
  const root = tempDir();
  const child = childPull(`${reg.host}/test/big:1`, root, true);
  try {
    await child.ready;
    process.kill(child.pid, 'SIGKILL');
    await child.exited;
    const hex = big.layers[0].digest.slice(7);
    t.true(existsSync(join(root, 'blobs', 'sha256', `.${hex}.lock`)), 'the dead pull left its lock');
    const have = statSync(join(root, 'blobs', 'sha256', `.${hex}.partial`)).size;
    t.true(have > 0 && have < big.layers[0].size);
    const events: PullProgress[] = [];
    await pull(`${reg.host}/test/big:1`, { imageRoot: root, onProgress: (e) => events.push(e) });
    const end = events.find((e) => e.type === 'layer' && e.digest === big.layers[0].digest && e.status === 'done');
    t.true(end!.type === 'layer' && end!.resumedFrom! >= have);
    await verifyComplete(t, root);
  } finally {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(root, { recursive: true, force: true });
  }
});

live('concurrent pulls of one image (two in-process, one in another process) end with one correct copy', async (t) => {
  const { reg, big } = t.context;
  const root = tempDir();
  const ref = `${reg.host}/test/big:1`;
  const child = childPull(ref, root, false);
  try {
    const [a, b] = await Promise.all([pull(ref, { imageRoot: root }), pull(ref, { imageRoot: root }), child.ready]);
    t.is(await child.exited, 0);
    t.is(a.manifestDigest, big.manifestDigest);
    t.is(b.manifestDigest, big.manifestDigest);
    const files = readdirSync(join(root, 'blobs', 'sha256')).sort();
    t.deepEqual(files, [big.manifestDigest, big.config.digest, ...big.layers.map((l) => l.digest)].map((d) => d.slice(7)).sort());
    await verifyComplete(t, root);
    t.deepEqual((await new ImageStore(root).list())[0].names, [ref]);
  } finally {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // exited
    }
    rmSync(root, { recursive: true, force: true });
  }
});
