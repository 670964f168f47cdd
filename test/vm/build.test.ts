// Image builds on tsrun (issue 18): one small multi-stage Dockerfile (RUN, COPY, COPY --from --chown, USER,
// WORKDIR, ENV) built by `docker build` with tsrun as dockerd's default runtime (the classic
// builder; vagrant/provision.sh's daemon.json) and with BuildKit (Docker 20.10's BuildKit runs its
// RUN steps with the runc on dockerd's PATH, so the wrapper is put there as runc), by
// `podman build --runtime tsrun` and by
// `buildah bud --runtime` with the wrapper. Each image must build and run, printing what its RUN
// steps recorded (the user, the working directory, the environment, the copied file), and the
// wrapper's argv log must show the runtime creating the RUN steps' containers.
// dockerd is a private one (helpers/dockerd.ts): test/vm/engines.test.ts stops the shared one.

import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  IMAGE_REF,
  IMAGES,
  IN_VM,
  VM,
  WRAPPER,
  argvLogOffset,
  optionOf,
  runtimeCallsSince,
  runtimeTarget,
  sh,
  verbOf,
  type Result,
  type RuntimeCall,
} from './helpers/guest.js';
import { PrivateDockerd } from './helpers/dockerd.js';
import { needs, tool } from '../helpers/skip.js';

const dockerTest = needs(VM, tool('dockerd', 'docker.io')).serial;
const podmanTest = needs(VM, tool('podman')).serial;
const buildahTest = needs(VM, tool('buildah')).serial;

const token = randomBytes(4).toString('hex');
const RUN_STEPS = 3;
const DOCKERFILE = `FROM ${IMAGE_REF} AS build
WORKDIR /src
ENV STAGE=build
COPY greeting.txt ./
RUN echo "stage $STAGE uid $(id -u) in $(pwd): $(cat greeting.txt)" > report.txt

FROM ${IMAGE_REF}
ENV REPORT=/app/report.txt
RUN echo 'app:x:1234:1234:app:/app:/bin/sh' >> /etc/passwd && echo 'app:x:1234:' >> /etc/group && mkdir /app && chown app:app /app
WORKDIR /app
COPY --from=build --chown=app:app /src/report.txt ./report.txt
USER app
RUN echo "final uid $(id -u) user $(id -un) in $(pwd)" >> "$REPORT"
CMD ["sh", "-c", "cat \\"$REPORT\\"; id -u"]
`;
const EXPECTED = `stage build uid 0 in /src: hello ${token}\nfinal uid 1234 user app in /app\n1234\n`;

const dockerd = new PrivateDockerd('build-dockerd');
const BUILDKIT_BIN = '/run/tsrun-vm/build-dockerd-bin';
let dockerdStarted = false;
let context = '';

test.before(async () => {
  context = mkdtempSync('/tmp/tsrun-build-');
  writeFileSync(path.join(context, 'Dockerfile'), DOCKERFILE);
  writeFileSync(path.join(context, 'greeting.txt'), `hello ${token}\n`);
  if (!IN_VM) return;
  // Docker 20.10's BuildKit runs RUN steps with the "runc" it finds on dockerd's PATH, not with the
  // daemon's runtimes: as an operator would, put tsrun (the wrapper) there under that name.
  mkdirSync(BUILDKIT_BIN, { recursive: true });
  rmSync(`${BUILDKIT_BIN}/runc`, { force: true });
  symlinkSync(WRAPPER, `${BUILDKIT_BIN}/runc`);
  await dockerd.start({ ...process.env, PATH: `${BUILDKIT_BIN}:${process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'}` });
  dockerdStarted = true;
  const r = await dockerd.docker(['load', '-q', '-i', `${IMAGES}/docker.tar`], 600_000);
  if (r.code !== 0) throw new Error(`docker load: ${r.stderr}`);
});

test.after.always(async () => {
  if (dockerdStarted) await dockerd.stop();
  if (context) rmSync(context, { recursive: true, force: true });
  rmSync(BUILDKIT_BIN, { recursive: true, force: true });
});

function show(r: Result): string {
  return `status ${r.code} signal ${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

/** The containers the runtime was asked to create since the offset (their ids: the last argument). */
function createdSince(offset: number): RuntimeCall[] {
  return runtimeCallsSince(offset).filter((c) => verbOf(c.args) === 'create' || verbOf(c.args) === 'run');
}

/** Buildah's RUN containers (podman build is buildah inside): "buildah-buildahNNN" ids, bundles in /var/tmp. */
function buildahRuns(offset: number): RuntimeCall[] {
  return createdSince(offset).filter((c) => c.args.at(-1)!.startsWith('buildah-'));
}

function checkRunSteps(t: ExecutionContext, created: RuntimeCall[], what: string): void {
  t.log(`${what}: runtime calls for the build:\n${created.map((c) => c.args.join(' ')).join('\n')}`);
  t.is(created.length, RUN_STEPS, `${what}: the runtime created one container for each of the ${RUN_STEPS} RUN steps`);
  t.true(
    created.every((c) => c.target === runtimeTarget()),
    `${what}: every RUN step went to ${runtimeTarget()}`,
  );
}

dockerTest('docker build (classic builder, tsrun the default runtime): multi-stage image builds, runs, its RUN steps ran under tsrun', async (t) => {
  const tag = `localhost/tsrun-build-docker:${token}`;
  const offset = argvLogOffset();
  const b = await dockerd.docker(['build', '--no-cache', '--network', 'none', '-t', tag, context], 900_000, { DOCKER_BUILDKIT: '0' });
  t.is(b.code, 0, show(b));
  // this dockerd's runtime calls (other files' engines log to the same file): --root under its exec root
  const created = createdSince(offset).filter((c) => optionOf(c.args, '--root')?.startsWith(`${dockerd.execRoot}/`));
  checkRunSteps(t, created, 'docker build');
  // the classic builder names each step's container ("Running in <id>"); a RUN step's is started,
  // so the runtime must have created it (ENV, WORKDIR, USER, CMD containers are never started)
  const runIds = b.stdout
    .split(/^Step \d+\/\d+ : /m)
    .filter((step) => step.startsWith('RUN '))
    .map((step) => /Running in ([0-9a-f]{12})/.exec(step)?.[1]);
  t.is(runIds.length, RUN_STEPS, `the build output shows ${RUN_STEPS} RUN steps:\n${b.stdout}`);
  for (const id of runIds) {
    t.truthy(id, `each RUN step ran in a container:\n${b.stdout}`);
    t.true(
      created.some((c) => c.args.at(-1)!.startsWith(id!)),
      `RUN container ${id} was created by the runtime`,
    );
  }
  const info = await dockerd.mustDocker(['info', '--format', '{{.DefaultRuntime}}']);
  t.is(info.trim(), 'tsrun', "tsrun is dockerd's default runtime");
  const runOffset = argvLogOffset();
  const r = await dockerd.docker(['run', '--rm', '--network', 'none', tag], 300_000);
  t.is(r.code, 0, show(r));
  t.is(r.stdout, EXPECTED, show(r));
  t.true(
    createdSince(runOffset).some((c) => optionOf(c.args, '--root')?.startsWith(`${dockerd.execRoot}/`)),
    'the built image ran on tsrun too',
  );
  const stage = await dockerd.docker(['run', '--rm', '--network', 'none', tag, 'ls', '/src'], 300_000);
  t.not(stage.code, 0, `the build stage's /src is not in the final image: ${show(stage)}`);
  await dockerd.docker(['rmi', tag]);
});

dockerTest(
  "docker build with BuildKit (DOCKER_BUILDKIT=1; tsrun as the runc on dockerd's PATH, which 20.10's BuildKit runs): the image builds, runs, its RUN steps ran under tsrun",
  async (t) => {
    const tag = `localhost/tsrun-build-buildkit:${token}`;
    const offset = argvLogOffset();
    const b = await dockerd.docker(['build', '--no-cache', '--network', 'none', '--progress', 'plain', '-t', tag, context], 900_000, { DOCKER_BUILDKIT: '1' });
    t.is(b.code, 0, show(b));
    // BuildKit's executor calls "runc --log <data root>/buildkit/executor/... run --bundle <same> ID"
    // (no --root): this dockerd's calls are those naming its data root
    const mine = (c: RuntimeCall) => c.args.some((a) => a.startsWith(`${dockerd.dataRoot}/`));
    const calls = runtimeCallsSince(offset).filter(mine);
    checkRunSteps(
      t,
      calls.filter((c) => ['create', 'run'].includes(verbOf(c.args) ?? '')),
      'docker build (BuildKit)',
    );
    const r = await dockerd.docker(['run', '--rm', '--network', 'none', tag], 300_000);
    t.is(r.code, 0, show(r));
    t.is(r.stdout, EXPECTED, show(r));
    await dockerd.docker(['rmi', tag]);
  },
);

podmanTest('podman build --runtime tsrun: the same Dockerfile builds, runs, its RUN steps ran under tsrun', async (t) => {
  const load = await sh('podman', ['load', '-q', '-i', `${IMAGES}/docker.tar`], 600_000);
  t.is(load.code, 0, show(load));
  const tag = `localhost/tsrun-build-podman:${token}`;
  const offset = argvLogOffset();
  const b = await sh('podman', ['build', '--runtime', 'tsrun', '--no-cache', '--network', 'none', '-t', tag, context], 900_000);
  t.is(b.code, 0, show(b));
  checkRunSteps(t, buildahRuns(offset), 'podman build');
  const r = await sh('podman', ['run', '--rm', '--runtime', 'tsrun', '--network', 'none', tag], 300_000);
  t.is(r.code, 0, show(r));
  t.is(r.stdout, EXPECTED, show(r));
  await sh('podman', ['rmi', tag]);
});

buildahTest('buildah bud --runtime (the tsrun wrapper): the same Dockerfile builds, runs, its RUN steps ran under tsrun', async (t) => {
  const load = await sh('podman', ['load', '-q', '-i', `${IMAGES}/docker.tar`], 600_000);
  t.is(load.code, 0, show(load));
  const tag = `localhost/tsrun-build-buildah:${token}`;
  const offset = argvLogOffset();
  const b = await sh('buildah', ['bud', '--runtime', WRAPPER, '--isolation', 'oci', '--no-cache', '--network', 'none', '-t', tag, context], 900_000);
  t.is(b.code, 0, show(b));
  checkRunSteps(t, buildahRuns(offset), 'buildah bud');
  // buildah and podman share the image store (/var/lib/containers/storage)
  const r = await sh('podman', ['run', '--rm', '--runtime', 'tsrun', '--network', 'none', tag], 300_000);
  t.is(r.code, 0, show(r));
  t.is(r.stdout, EXPECTED, show(r));
  await sh('buildah', ['rmi', tag]);
});
