#!/usr/bin/env node
// The README's main job, offline: pack the shipped image from Debian's static busybox
// (images/build-busybox.mjs → images/busybox, an OCI layout), import it, and run it straight from
// the image with `tsrun run --image … --rm`, which unpacks the layer once, mounts an overlay
// rootfs, runs, and removes the container and its writable layer again; then a Docker user's day
// with `tsrun container …` and `tsrun volume …` (dockerDay below).
// Image and state roots are temporary here ($TSRUN_IMAGE_ROOT is honoured if set), so the job
// leaves nothing behind. A checkout's job: the npm package ships neither it nor images/ (the
// package test, test/integration/package-install.test.ts, runs an installed tsrun the same way).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBusyboxImage, IMAGE_NAME } from '../images/build-busybox.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsrun = path.join(repo, 'bin', 'tsrun');
const work = mkdtempSync(path.join(tmpdir(), 'tsrun-main-'));
const imageRoot = process.env.TSRUN_IMAGE_ROOT || path.join(work, 'images');
const global = ['--root', path.join(work, 'state'), '--image-root', imageRoot];
const show = (args) => process.stderr.write(`+ tsrun ${args.join(' ')}\n`);

/**
 * A Docker user's day with the container front: a detached web server with a named volume, its
 * page, its logs, stop and clean-up. --network none keeps this job off the host's network (the
 * default, as Docker's, is the bridge network with -p for published ports).
 */
function dockerDay() {
  const steps = [
    ['volume', 'create', 'site'],
    ['container', 'run', '--rm', '--network', 'none', '-v', 'site:/www', IMAGE_NAME, 'sh', '-c', 'echo "<h1>hello from a tsrun volume</h1>" > /www/index.html'],
    ['container', 'run', '-d', '--name', 'web', '--network', 'none', '-v', 'site:/www', IMAGE_NAME, 'httpd', '-f', '-v', '-p', '8080', '-h', '/www'],
    ['container', 'exec', 'web', 'sh', '-c', 'i=0; until wget -qO- http://127.0.0.1:8080/; do i=$((i+1)); [ $i -lt 50 ] || exit 1; sleep 0.1; done'],
    ['container', 'ls'],
    ['container', 'logs', 'web'],
    ['container', 'stop', '-t', '2', 'web'],
    ['container', 'rm', 'web'],
    ['volume', 'rm', 'site'],
  ];
  for (const args of steps) {
    show(args);
    const r = spawnSync(tsrun, [...global, ...args], { stdio: 'inherit' });
    if (r.status !== 0) {
      // Whatever the failed step left, the next ones would trip on: remove it, then report.
      spawnSync(tsrun, [...global, 'container', 'rm', '-f', 'web'], { stdio: 'ignore' });
      return r.status ?? 1;
    }
  }
  return 0;
}
try {
  const layout = buildBusyboxImage();
  const importArgs = ['image', 'import', path.relative(process.cwd(), layout) || layout];
  show(importArgs);
  const imp = spawnSync(tsrun, [...global, ...importArgs], { stdio: 'inherit' });
  if (imp.status !== 0) {
    process.exitCode = imp.status ?? 1;
  } else {
    const runArgs = ['run', '--image', IMAGE_NAME, '--rm', '--', 'sh', '-c', 'echo "hello from a tsrun container: $(id) on $(hostname)"; cat /etc/os-release'];
    show(runArgs);
    const r = spawnSync(tsrun, [...global, ...runArgs], { stdio: 'inherit' });
    process.exitCode = r.status ?? 1;
    if (r.status === 0) process.exitCode = dockerDay();
  }
} finally {
  // Never rm -r through a mount a failed run might have left.
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => (l.split(' ')[4] ?? '').startsWith(`${work}/`));
  if (mounted) process.stderr.write(`main job: mounts remain under ${work}; not removing it\n`);
  else rmSync(work, { recursive: true, force: true });
}
