// Real engines drive tsrun as their OCI runtime (issue 4): Podman + conmon, containerd + ctr
// (runc shim v2 with BinaryName) and Docker each run `sh -c 'echo hi; exit 3'` from the offline
// busybox image. The output must arrive, the exit status must be 3, the wrapper's argv log must
// show that the engine called the runtime (create --bundle ... ID), and after `--rm` the runtime's
// own state directory must hold nothing for that container.
// The engines are configured by vagrant/provision.sh; the runtime behind the wrapper is the
// checkout's bin/tsrun unless the host set TSRUN_VM_RUNTIME (runc/crun, to prove the harness).

import test, { type ExecutionContext } from 'ava';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  IMAGE_REF,
  IMAGES,
  IN_VM,
  WRAPPER,
  argvLogOffset,
  mustSh,
  optionOf,
  runtimeCallsSince,
  runtimeTarget,
  sh,
  sleep,
  verbOf,
  type Result,
  type RuntimeCall,
  VM,
} from './helpers/guest.js';
import { needs } from '../helpers/skip.js';

const vmTest = needs(VM).serial;
const SCRIPT = 'echo hi; exit 3';
let startedEngines = false;

test.before(async () => {
  if (!IN_VM) return;
  // containerd and dockerd (podman has no daemon); a no-op where they already run
  await mustSh('tsrun-vm-engines', ['start'], 180_000);
  startedEngines = true;
});

test.after.always(async () => {
  if (startedEngines) await sh('tsrun-vm-engines', ['stop'], 120_000);
});

function uniqueName(engine: string): string {
  return `tsrun-vm-${engine}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

function show(r: Result): string {
  return `status ${r.code} signal ${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

/** The id an engine wrote to --cidfile (docker and podman name their runtime containers by it). */
function readCid(file: string): string {
  return readFileSync(file, 'utf8').trim();
}

/**
 * Checks the runtime calls an engine made for its container `id`, and that the runtime's root no
 * longer knows the container. The log holds every call since the offset, of other VM test files
 * too (CRI pods, builds), so only the calls naming id count.
 */
async function checkRuntimeCalls(t: ExecutionContext, all: RuntimeCall[], id: string): Promise<void> {
  const calls = all.filter((c) => c.args.includes(id));
  const summary = calls.map((c) => c.args.join(' ')).join('\n');
  t.log(`runtime calls for ${id} (${calls[0]?.target ?? 'none'}):\n${summary}`);
  const create = calls.find((c) => verbOf(c.args) === 'create' && c.args.at(-1) === id);
  if (!create) {
    t.fail(`the engine never called "${WRAPPER} create ... ${id}"; calls logged since the test began:\n${all.map((c) => c.args.join(' ')).join('\n')}`);
    return;
  }
  t.is(create.target, runtimeTarget(), "the wrapper exec'd the configured runtime");
  t.truthy(optionOf(create.args, '--bundle') ?? optionOf(create.args, '-b'), `create has a bundle: ${create.args.join(' ')}`);
  t.true(
    calls.some((c) => verbOf(c.args) === 'start' && c.args.at(-1) === id),
    `start ${id} was called:\n${summary}`,
  );
  t.true(
    calls.some((c) => verbOf(c.args) === 'delete' && c.args.includes(id)),
    `delete ${id} was called:\n${summary}`,
  );

  // --rm: nothing left in the runtime's root. The engine's last delete may trail its exit a little.
  const root = optionOf(create.args, '--root');
  const rootArgs = root ? ['--root', root] : [];
  let state: Result | undefined;
  for (let i = 0; i < 50; i++) {
    state = await sh(runtimeTarget(), [...rootArgs, 'state', id], 60_000);
    if (state.code !== 0 && !(root && existsSync(path.join(root, id)))) break;
    await sleep(200);
  }
  t.not(state!.code, 0, `"state ${id}" still succeeds after --rm: ${show(state!)}`);
  t.regex(state!.stderr, /does not exist|not found|no such/i, 'state names the missing container');
  if (root) t.false(existsSync(path.join(root, id)), `${root}/${id} is gone`);
}

vmTest('podman run --rm --runtime tsrun: output, exit status 3, runtime called, nothing left', async (t) => {
  await mustSh('podman', ['load', '-q', '-i', `${IMAGES}/docker.tar`]);
  const name = uniqueName('podman');
  const offset = argvLogOffset();
  // "tsrun" is the runtime named in /etc/containers/containers.conf ([engine.runtimes])
  const cidfile = path.join(tmpdir(), `${name}.cid`);
  t.teardown(() => rmSync(cidfile, { force: true }));
  const r = await sh('podman', ['run', '--rm', '--runtime', 'tsrun', '--network', 'none', '--cidfile', cidfile, '--name', name, IMAGE_REF, 'sh', '-c', SCRIPT]);
  t.log(`podman: ${show(r)}`);
  t.is(r.stdout, 'hi\n', show(r));
  t.is(r.code, 3, show(r));
  // Podman 4.3 (Debian 12) keeps the cidfile; 4.4 and later remove it with the container: then
  // the id is that of podman's create, whose bundle is in its overlay-containers store.
  const calls = runtimeCallsSince(offset);
  const podmanCreate = calls.find((c) => verbOf(c.args) === 'create' && (optionOf(c.args, '--bundle') ?? '').includes('/overlay-containers/'));
  await checkRuntimeCalls(t, calls, existsSync(cidfile) ? readCid(cidfile) : (podmanCreate?.args.at(-1) ?? '(no podman create)'));
  const left = await mustSh('podman', ['ps', '-a', '-q', '--filter', `name=^${name}$`]);
  t.is(left.trim(), '', 'podman keeps no container after --rm');
});

vmTest("ctr run --rm with the runc shim's BinaryName: output, exit status 3, runtime called, nothing left", async (t) => {
  await mustSh('ctr', ['image', 'import', `${IMAGES}/docker.tar`]);
  const id = uniqueName('ctr');
  const offset = argvLogOffset();
  // --runc-binary sets BinaryName in the io.containerd.runc.v2 shim's options
  const r = await sh('ctr', ['run', '--rm', '--runtime', 'io.containerd.runc.v2', '--runc-binary', WRAPPER, IMAGE_REF, id, 'sh', '-c', SCRIPT]);
  t.log(`ctr: ${show(r)}`);
  t.is(r.stdout, 'hi\n', show(r));
  t.is(r.code, 3, show(r));
  await checkRuntimeCalls(t, runtimeCallsSince(offset), id);
  const left = await mustSh('ctr', ['containers', 'ls', '-q']);
  t.false(left.split('\n').includes(id), 'containerd keeps no container after --rm');
});

vmTest('docker run --rm --runtime tsrun: output, exit status 3, runtime called, nothing left', async (t) => {
  await mustSh('docker', ['load', '-q', '-i', `${IMAGES}/docker.tar`]);
  const name = uniqueName('docker');
  const offset = argvLogOffset();
  // "tsrun" is the runtime named in /etc/docker/daemon.json ("runtimes")
  const cidfile = path.join(tmpdir(), `${name}.cid`);
  t.teardown(() => rmSync(cidfile, { force: true }));
  const r = await sh('docker', ['run', '--rm', '--runtime', 'tsrun', '--network', 'none', '--cidfile', cidfile, '--name', name, IMAGE_REF, 'sh', '-c', SCRIPT]);
  t.log(`docker: ${show(r)}`);
  t.is(r.stdout, 'hi\n', show(r));
  t.is(r.code, 3, show(r));
  await checkRuntimeCalls(t, runtimeCallsSince(offset), readCid(cidfile));
  const left = await mustSh('docker', ['ps', '-a', '-q', '--filter', `name=^${name}$`]);
  t.is(left.trim(), '', 'docker keeps no container after --rm');
});
