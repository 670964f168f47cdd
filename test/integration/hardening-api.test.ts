// issue 13 item 10 and a smaller one, through the library: an abort after run() resolved does not
// touch the container; a non-string container id is an InvalidArgumentError naming it.
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { getEventListeners } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Runtime, TsrunError } from '../../src/index.js';
import { uniqueId } from '../helpers/bundle.js';
import { ensureTestRootfs } from '../helpers/rootfs.js';
import { needs, ROOT } from '../helpers/skip.js';

const test = anyTest as TestFn;
const rootTest = needs(ROOT);

function runtime(t: ExecutionContext): Runtime {
  const root = mkdtempSync(path.join(os.tmpdir(), 'tsrun-api-hardening-'));
  const rt = new Runtime({ root, imageRoot: path.join(root, '.images') });
  t.teardown(async () => {
    for (const s of await rt.list()) await rt.delete(s.id, { force: true, missingOk: true }).catch(() => {});
    const left = readdirSync(root).filter((n) => !n.startsWith('.'));
    rmSync(root, { recursive: true, force: true });
    if (left.length) throw new Error(`containers left behind: ${left.join(', ')}`);
  });
  return rt;
}

test('a non-string container id is an InvalidArgumentError naming it, for every verb', async (t) => {
  const rt = runtime(t);
  for (const [what, call] of [
    ['state', () => rt.state(42 as unknown as string)],
    ['delete', () => rt.delete(42 as unknown as string, { force: true })],
    ['kill', () => rt.kill(42 as unknown as string)],
    ['create', () => rt.create(42 as unknown as string, { rootfs: '/nonexistent', args: ['true'] })],
  ] as const) {
    const err = await t.throwsAsync(call(), { instanceOf: TsrunError }, what);
    t.is((err as TsrunError).code, 'TSRUN_INVALID_ARGUMENT', what);
    t.regex(err!.message, /container id must be a string.*42/, what);
  }
});

rootTest('after run() resolves, its abort signal no longer touches the container', async (t) => {
  const rt = runtime(t);
  const rootfs = await ensureTestRootfs();
  const id = uniqueId('api-abort');
  const ac = new AbortController();
  const c = await rt.run(id, { rootfs, args: ['sleep', '100'], stdio: 'ignore', signal: ac.signal });
  t.is(getEventListeners(ac.signal, 'abort').length, 0, 'no abort listener is left on the signal');
  ac.abort();
  t.is((await rt.state(id)).status, 'running');
  const e = await c.exec({ args: ['true'], stdio: 'ignore' });
  t.is((await e.wait()).exitCode, 0);
  t.is((await rt.state(id)).status, 'running', 'still running after the abort');
  await rt.delete(id, { force: true });
});

rootTest('an abort before run() resolves rejects it and leaves nothing', async (t) => {
  const rt = runtime(t);
  const rootfs = await ensureTestRootfs();
  const id = uniqueId('api-abort');
  const ac = new AbortController();
  const p = rt.run(id, { rootfs, args: ['sleep', '100'], stdio: 'ignore', signal: ac.signal });
  ac.abort(new Error('stop'));
  await t.throwsAsync(p, { message: 'stop' });
  t.deepEqual(await rt.list(), []);
});

// An abort can land at any point of the create: while the child sets up, after it reported ready
// but before the parent has read that, after run() resolved. Whatever the moment, the outcome is
// one of two: run() rejects and nothing is left, or run() resolves and the container runs. (The
// window where an abort killed the child after its ready message was already on the socket made
// run() resolve with a dead container.)
rootTest('an abort at any moment of run() either rejects it cleanly or leaves a running container', async (t) => {
  const rt = runtime(t);
  const rootfs = await ensureTestRootfs();
  // How long a run() takes here, to spread the aborts over it.
  const t0 = performance.now();
  const probe = uniqueId('api-abort');
  await rt.run(probe, { rootfs, args: ['sleep', '100'], stdio: 'ignore' });
  const span = performance.now() - t0;
  await rt.delete(probe, { force: true });
  const outcomes = { rejected: 0, running: 0 };
  for (let i = 0; i < 40; i++) {
    const id = uniqueId('api-abort');
    const ac = new AbortController();
    const delay = (span * 1.2 * i) / 40;
    let fired!: () => void;
    const aborted = new Promise<void>((resolve) => (fired = resolve));
    const timer = setTimeout(() => {
      ac.abort(new Error('stop'));
      fired();
    }, delay);
    try {
      await rt.run(id, { rootfs, args: ['sleep', '100'], stdio: 'ignore', signal: ac.signal });
    } catch (err) {
      clearTimeout(timer);
      t.is((err as Error).message, 'stop', `abort after ${delay.toFixed(1)} ms`);
      t.false(
        (await rt.list()).some((s) => s.id === id),
        `abort after ${delay.toFixed(1)} ms: run() rejected and left ${id}`,
      );
      outcomes.rejected++;
      continue;
    }
    // Resolved: the abort may still be to come; once it came, the container must be intact.
    await aborted;
    const st = await rt.state(id);
    t.is(st.status, 'running', `abort after ${delay.toFixed(1)} ms: run() resolved but the container is ${st.status}`);
    outcomes.running++;
    await rt.delete(id, { force: true });
  }
  t.log(`run() takes about ${span.toFixed(1)} ms; outcomes over 40 aborts:`, outcomes);
});
