#!/usr/bin/env node
// The README's main job, offline: pack the shipped image from Debian's static busybox
// (images/build-busybox.mjs → images/busybox, an OCI layout), import it, and run it straight from
// the image with `tsrun run --image … --rm`, which unpacks the layer once, mounts an overlay
// rootfs, runs, and removes the container and its writable layer again.
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
  }
} finally {
  // Never rm -r through a mount a failed run might have left.
  const mounted = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => (l.split(' ')[4] ?? '').startsWith(`${work}/`));
  if (mounted) process.stderr.write(`main job: mounts remain under ${work}; not removing it\n`);
  else rmSync(work, { recursive: true, force: true });
}
