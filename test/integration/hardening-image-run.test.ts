// issue 13 item 8: `kill -9` of `run --image` after the overlay is mounted but before the
// container exists leaves nothing `delete --force` or `image prune` cannot finish: the state
// directory is claimed (naming the image bundle) before the first side effect.
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { imageEnv, overlayMountsUnder, SHIPPED, type ImageEnv } from './image-fixtures.js';
import { needs, root } from '../helpers/skip.js';

const rootTest = needs(root('overlay mounts, namespaces'));

const mounted = (mp: string) => fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${mp} `);

function stateOf(env: ImageEnv, id: string): { pid?: number; config?: { process?: unknown } } | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(env.root, id, 'state.json'), 'utf8')) as { pid?: number; config?: { process?: unknown } };
  } catch {
    return undefined;
  }
}

/** Starts `run --image -d`, stops tsrun as soon as the overlay is mounted, and kills it there. */
async function killedAfterMount(t: ExecutionContext, env: ImageEnv): Promise<string> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const id = env.id('half');
    const rootfs = path.join(env.imageRoot, 'containers', id, 'rootfs');
    let pid = 0;
    let stopped = false;
    const run = env.tsrun(['run', '--image', SHIPPED, '-d', id, '--', 'sleep', '100'], { onSpawn: (p) => (pid = p) });
    let done = false;
    void run.then(() => (done = true));
    // A tight poll: the window between the mount and the init is a few ms.
    while (!done) {
      if (pid && mounted(rootfs)) {
        process.kill(pid, 'SIGSTOP');
        stopped = true;
        break;
      }
      await new Promise((r) => setImmediate(r));
    }
    if (stopped) {
      // Before create proper: no state, or only the record of intent (no process config yet).
      const half = !stateOf(env, id)?.config?.process;
      process.kill(pid, 'SIGKILL');
      await run;
      if (half) return id;
    } else await run;
    // The container got made (or the run ended) before the stop: clean and try again.
    const d = await env.tsrun(['delete', '--force', id]);
    t.is(d.code, 0, d.stderr);
  }
  throw new Error('could not stop tsrun between the mount and the init in 20 attempts');
}

async function imported(t: ExecutionContext): Promise<ImageEnv> {
  const env = await imageEnv(t);
  const r = await env.tsrun(['image', 'import', env.layout()]);
  t.is(r.code, 0, r.stderr);
  return env;
}

rootTest('delete --force finishes a run --image killed after the overlay mount; the id is usable again', async (t) => {
  const env = await imported(t);
  const id = await killedAfterMount(t, env);
  t.true(mounted(path.join(env.imageRoot, 'containers', id, 'rootfs')), 'the overlay was left mounted');
  const d = await env.tsrun(['delete', '--force', id]);
  t.is(d.code, 0, d.stderr);
  t.deepEqual(overlayMountsUnder(env.dir), [], 'no mount left');
  t.false(fs.existsSync(path.join(env.imageRoot, 'containers', id)), 'no container dir left');
  t.false(fs.existsSync(path.join(env.root, id)), 'no state left');
  const again = await env.tsrun(['run', '--image', SHIPPED, '--rm', id, '--', 'true']);
  t.is(again.code, 0, again.stderr);
});

rootTest('image prune cleans a run --image killed after the overlay mount', async (t) => {
  const env = await imported(t);
  const id = await killedAfterMount(t, env);
  const p = await env.tsrun(['image', 'prune']);
  t.is(p.code, 0, p.stderr);
  t.deepEqual(overlayMountsUnder(env.dir), [], 'no mount left');
  t.false(fs.existsSync(path.join(env.imageRoot, 'containers', id)), 'no container dir left');
  t.false(fs.existsSync(path.join(env.root, id)), 'no state left');
});
