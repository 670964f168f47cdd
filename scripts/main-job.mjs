#!/usr/bin/env node
// The README's main job: run a container with tsrun from a bundle the project builds itself out of
// Debian's static busybox (/bin/busybox from busybox-static), then remove it again.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tsrun = path.join(repo, 'bin', 'tsrun');
const work = mkdtempSync(path.join(tmpdir(), 'tsrun-main-'));
const id = `tsrun-main-${process.pid}`;
try {
  const rootfs = path.join(work, 'bundle', 'rootfs');
  for (const d of ['bin', 'proc', 'sys', 'dev', 'etc', 'tmp']) mkdirSync(path.join(rootfs, d), { recursive: true });
  copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
  for (const applet of ['sh', 'echo', 'id', 'hostname', 'cat', 'ls']) symlinkSync('busybox', path.join(rootfs, 'bin', applet));
  writeFileSync(path.join(rootfs, 'etc', 'os-release'), 'NAME="tsrun busybox"\n');
  const bundle = path.join(work, 'bundle');
  execFileSync(tsrun, ['spec', '-b', bundle]);
  const config = JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8'));
  config.process.terminal = false;
  config.process.args = ['sh', '-c', 'echo "hello from a tsrun container: $(id) on $(hostname)"; cat /etc/os-release'];
  writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(config, null, 2));
  const r = spawnSync(tsrun, ['--root', path.join(work, 'state'), 'run', '-b', bundle, id], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
} finally {
  spawnSync(tsrun, ['--root', path.join(work, 'state'), 'delete', '--force', id], { stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
}
