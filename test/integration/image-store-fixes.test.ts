// Issue 17's image store fixes through bin/tsrun: load/import from stdin, one image for an OCI
// layout and a docker save of it, run/inspect by ID prefix and full ID resolved locally (an ID that
// matches nothing is "No such image", never a pull), `image rm` refused for images that stopped or
// running containers (run --image's and the front's) use, and the unpack phase's progress.
import fs from 'node:fs';
import path from 'node:path';
import { runCommand } from '../helpers/bundle.js';
import { gate, needs, root, tool } from '../helpers/skip.js';
import { frontEnv, NONE } from './front-fixtures.js';
import { events, imageEnv, SHIPPED, type ImageEnv } from './image-fixtures.js';
import test from 'ava';

const rootTest = needs(root('overlay mounts, namespaces'));
const withSkopeo = gate(test, root('overlay mounts, namespaces'), tool('skopeo'));

/** A quoted name in an error as the logrus text line shows it (msg="… \"name\" …"). */
const q = (name: string) => `\\\\?"${name}\\\\?"`;

/** The shipped image's OCI layout as a tar file. */
async function layoutTar(env: ImageEnv): Promise<string> {
  const file = path.join(env.dir, 'layout.tar');
  const r = await runCommand('tar', ['-C', env.layout(), '-cf', file, '.']);
  if (r.code !== 0) throw new Error(`tar: ${r.stderr}`);
  return file;
}

async function shippedId(env: ImageEnv): Promise<string> {
  const ls = await env.tsrun(['image', 'ls', '--format', 'json']);
  const recs = JSON.parse(ls.stdout) as { id: string; names: string[] }[];
  const rec = recs.find((r) => r.names.includes(SHIPPED));
  if (!rec) throw new Error(`no ${SHIPPED} in ${ls.stdout}`);
  return rec.id;
}

rootTest('image import - and image load read the archive from stdin (a pipe or a file); load -i reads a file', async (t) => {
  const env = await imageEnv(t);
  const tar = await layoutTar(env);
  // A real pipe: sh runs `cat tar | tsrun … image import -`.
  const piped = await env.tsrun(['image', 'import', '-'], { prefix: ['sh', '-c', 'cat "$0" | "$@"', tar] });
  t.is(piped.code, 0, piped.stderr);
  t.is(piped.stdout, `Loaded image: ${SHIPPED}\n`);
  const id = await shippedId(env);
  t.is((await env.tsrun(['image', 'rm', SHIPPED])).code, 0);

  const load = await env.tsrun(['image', 'load'], { stdinFile: tar });
  t.is(load.code, 0, load.stderr);
  t.is(load.stdout, `Loaded image: ${SHIPPED}\n`);
  const loadI = await env.tsrun(['image', 'load', '-i', tar, '--name', 'localhost/again:1']);
  t.is(loadI.code, 0, loadI.stderr);
  t.is(await shippedId(env), id, 'the same image');

  // Bad input names what it read and what is wrong.
  const text = path.join(env.dir, 'notes.txt');
  fs.writeFileSync(text, 'not an archive\n'.repeat(100));
  const bad = await env.tsrun(['image', 'load', '-i', text]);
  t.is(bad.code, 1);
  t.regex(bad.stderr, new RegExp(`import ${text}: not a tar archive`));
  const badStdin = await env.tsrun(['image', 'import', '-'], { stdinFile: text });
  t.regex(badStdin.stderr, /import stdin: not a tar archive/);
  const empty = await env.tsrun(['image', 'import', '-']);
  t.regex(empty.stderr, /import stdin: the archive is empty/);
});

withSkopeo('an OCI layout and a docker save archive of one image are one image (one ID, both names)', async (t) => {
  const env = await imageEnv(t);
  const archive = path.join(env.dir, 'saved.tar');
  const sk = await runCommand('skopeo', ['--insecure-policy', 'copy', '-q', `oci:${env.layout()}`, `docker-archive:${archive}:example.com/team/busybox:saved`]);
  t.is(sk.code, 0, sk.stderr);
  t.is((await env.tsrun(['image', 'import', env.layout()])).code, 0);
  const load = await env.tsrun(['image', 'load', '-i', archive]);
  t.is(load.code, 0, load.stderr);
  t.is(load.stdout, 'Loaded image: example.com/team/busybox:saved\n');
  const ids = (await env.tsrun(['image', 'ls', '-q'])).stdout.trim().split('\n');
  t.is(ids.length, 1, 'one image');
  const ls = (await env.tsrun(['image', 'ls'])).stdout;
  t.regex(ls, /localhost\/tsrun-busybox\s+latest\s/);
  t.regex(ls, /example.com\/team\/busybox\s+saved\s/);
  const recs = JSON.parse((await env.tsrun(['image', 'ls', '--format', 'json'])).stdout) as { otherManifests?: unknown[] }[];
  t.is(recs.length, 1);
  t.is(recs[0].otherManifests?.length, 1, 'both manifests kept');
  const r = await env.tsrun(['run', '--image', 'example.com/team/busybox:saved', ...NONE, '--rm', '--', 'cat', '/etc/os-release']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /tsrun busybox/);
});

rootTest('run and inspect by an ID prefix or the full ID resolve locally; an ID that matches nothing is "No such image"', async (t) => {
  const env = await imageEnv(t);
  t.is((await env.tsrun(['image', 'import', env.layout()])).code, 0);
  const id = await shippedId(env);
  for (const ref of [id.slice(7, 19), id.slice(7, 11), id, id.slice(7)]) {
    const r = await env.tsrun(['run', '--image', ref, ...NONE, '--rm', '--progress', 'json', '--', 'echo', 'local']);
    t.is(r.code, 0, `${ref}: ${r.stderr}`);
    t.is(r.stdout, 'local\n');
    t.deepEqual(
      events(r).filter((e) => e.type === 'resolving' || e.type === 'layer'),
      [],
      `${ref}: no registry was asked`,
    );
    const inspect = await env.tsrun(['image', 'inspect', ref]);
    t.is(inspect.code, 0, inspect.stderr);
    t.is((JSON.parse(inspect.stdout) as { id: string }[])[0].id, id);
  }
  for (const ref of ['0123456789ab', 'sha256:0123', `sha256:${'0'.repeat(64)}`]) {
    const r = await env.tsrun(['run', '--image', ref, ...NONE, '--rm', '--', 'true'], { timeoutMs: 20_000 });
    t.is(r.code, 1, ref);
    t.regex(r.stderr, new RegExp(`No such image: ${ref}`));
    t.notRegex(r.stderr, /registry|docker\.io/);
    const inspect = await env.tsrun(['image', 'inspect', ref]);
    t.regex(inspect.stderr, new RegExp(`No such image: ${ref}`));
    const rm = await env.tsrun(['image', 'rm', ref]);
    t.regex(rm.stderr, new RegExp(`No such image: ${ref}`));
  }
});

rootTest("image rm refuses an image run --image containers use (stopped: must force; running: cannot be forced), in Docker's words", async (t) => {
  const env = await imageEnv(t);
  t.is((await env.tsrun(['image', 'import', env.layout()])).code, 0);
  const id = await shippedId(env);
  const short = id.slice(7, 19);
  const stopped = env.id('stop');
  const made = await env.tsrun(['run', '--image', SHIPPED, ...NONE, stopped, '--', 'true']);
  t.is(made.code, 0, made.stderr);

  let rm = await env.tsrun(['image', 'rm', SHIPPED]);
  t.is(rm.code, 1);
  t.regex(
    rm.stderr,
    new RegExp(
      `conflict: unable to remove repository reference ${q(SHIPPED)} \\(must force\\) - container ${stopped.slice(0, 12)} is using its referenced image ${short}`,
    ),
  );
  rm = await env.tsrun(['image', 'rm', short]);
  t.is(rm.code, 1);
  t.regex(rm.stderr, new RegExp(`conflict: unable to delete ${short} \\(must be forced\\) - image is being used by stopped container ${stopped.slice(0, 12)}`));

  const running = env.id('run');
  const d = await env.tsrun(['run', '--image', SHIPPED, ...NONE, '-d', running, '--', 'sleep', '60']);
  t.is(d.code, 0, d.stderr);
  rm = await env.tsrun(['image', 'rm', '-f', short]);
  t.is(rm.code, 1);
  t.regex(
    rm.stderr,
    new RegExp(`conflict: unable to delete ${short} \\(cannot be forced\\) - image is being used by running container ${running.slice(0, 12)}`),
  );
  t.is((await env.tsrun(['image', 'inspect', SHIPPED])).code, 0, 'still there');

  t.is((await env.tsrun(['delete', '--force', running])).code, 0);
  rm = await env.tsrun(['image', 'rm', '-f', short]);
  t.is(rm.code, 0, rm.stderr);
  t.is(rm.stdout, `Untagged: localhost/tsrun-busybox:latest\nDeleted: ${id}\n`);
  // The stopped container keeps its layers: it can still be deleted cleanly.
  t.is((await env.tsrun(['delete', '--force', stopped])).code, 0);
});

rootTest('image rm refuses an image a front container (container create) uses, naming the container', async (t) => {
  const env = await frontEnv(t);
  const id = await shippedId(env);
  const created = await env.container(['create', ...NONE, '--name', 'user-of-image', SHIPPED, 'true']);
  t.is(created.code, 0, created.stderr);
  const cid = created.stdout.trim();
  const rm = await env.tsrun(['image', 'rm', SHIPPED]);
  t.is(rm.code, 1);
  t.regex(
    rm.stderr,
    new RegExp(
      `unable to remove repository reference ${q(SHIPPED)} \\(must force\\) - container ${cid.slice(0, 12)} is using its referenced image ${id.slice(7, 19)}`,
    ),
  );
  t.is((await env.container(['rm', cid])).code, 0);
  const ok = await env.tsrun(['image', 'rm', SHIPPED]);
  t.is(ok.code, 0, ok.stderr);
});

rootTest('the unpack phase reports progress per layer with --progress json (waiting, extracting, done; then exists)', async (t) => {
  const env = await imageEnv(t);
  t.is((await env.tsrun(['image', 'import', env.layout()])).code, 0);
  const first = await env.tsrun(['run', '--image', SHIPPED, ...NONE, '--rm', '--progress', 'json', '--', 'true']);
  t.is(first.code, 0, first.stderr);
  const ex = events(first).filter((e) => e.type === 'extract');
  const statuses = ex.map((e) => e.status);
  t.is(statuses[0], 'waiting');
  t.true(statuses.includes('extracting'), statuses.join(','));
  t.is(statuses[statuses.length - 1], 'done');
  const last = ex[ex.length - 1];
  t.is(last.done, last.total);
  t.true((last.total as number) > 0);
  for (const e of ex.filter((x) => x.status === 'extracting')) t.true((e.done as number) <= (e.total as number));
  t.is(new Set(ex.map((e) => e.digest)).size, 1, 'one layer');
  const second = await env.tsrun(['run', '--image', SHIPPED, ...NONE, '--rm', '--progress', 'json', '--', 'true']);
  t.deepEqual(
    events(second)
      .filter((e) => e.type === 'extract')
      .map((e) => e.status),
    ['exists'],
  );
});
