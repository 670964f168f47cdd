#!/usr/bin/env node
// npm run test:vm: boot tsrun's cgroup-v2 VM (vagrant/vm-run.sh) and run in it the VM suite
// (test/vm) and the root integration suite (test/integration), against this checkout, shared
// into the guest over 9p at the same path.
//
//   npm run test:vm                      both suites
//   npm run test:vm -- test/vm/x.test.ts only these files (paths or globs, relative to the checkout)
//   npm run test:vm -- --vagrant [FILES]  the same in the Vagrant box (vagrant/Vagrantfile) instead
//
// The host builds, the guest only runs: TypeScript and the addon are compiled here (the guest is
// the same Debian release with the host's own node binary, so build/Release/*.node loads there),
// because JavaScript runs about 14 times slower under TCG (shared/reference/vm.md).
// Env: everything vagrant/vm-run.sh reads (TSRUN_VM_RUNTIME, TSRUN_VM_CACHE, ...), and
//      TSRUN_VM_SKIP_BUILD=1 to use dist/ and build/ as they are.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.dirname(here);

function elapsed(since) {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

function run(cmd, args, what) {
  const r = spawnSync(cmd, args, { cwd: repo, stdio: 'inherit' });
  if (r.error) throw new Error(`${what}: ${r.error.message}`);
  return r.status ?? 1; // killed by a signal
}

/** The Vagrant path: the box builds its own tsrun, so only the checkout is synced. */
function viaVagrant(files) {
  const quoted = files.map((f) => `'${f.replaceAll("'", "'\\''")}'`).join(' ');
  const steps = [
    ['up', '--no-provision'],
    ['rsync'],
    ['provision'],
    ['ssh', '-c', `cd /src && sudo TSRUN_IN_VM=1 bash vagrant/guest/test-suites.sh ${quoted}`],
  ];
  for (const args of steps) {
    const r = spawnSync('vagrant', args, { cwd: here, stdio: 'inherit' });
    if (r.error) throw new Error(`vagrant ${args[0]}: ${r.error.message}`);
    if (r.status !== 0) return r.status ?? 1;
  }
  return 0;
}

function main() {
  const args = process.argv.slice(2);
  if (args[0] === '--vagrant') return viaVagrant(args.slice(1));
  if (process.getuid?.() !== 0) {
    console.error('test:vm: needs root (it builds a Debian image with mmdebstrap and runs qemu); run it as root');
    return 1;
  }
  const t0 = Date.now();
  const built = existsSync(path.join(repo, 'dist/tsrun.cjs')) &&
    existsSync(path.join(repo, 'build/Release')) &&
    readdirSync(path.join(repo, 'build/Release')).some((f) => f.endsWith('.node'));
  if (!built && !process.env.TSRUN_VM_SKIP_BUILD) {
    console.log('test:vm: building tsrun on the host first (npm run build)');
    const rc = run('npm', ['run', 'build'], 'npm run build');
    if (rc !== 0) {
      console.error(`test:vm: npm run build failed (status ${rc})`);
      return rc;
    }
  }
  const rc = run(path.join(here, 'vm-run.sh'), ['--', 'bash', 'vagrant/guest/test-suites.sh', ...args],
    'vagrant/vm-run.sh');
  console.log(`test:vm: ${rc === 0 ? 'passed' : `failed (status ${rc})`} in ${elapsed(t0)}`);
  return rc;
}

process.exitCode = main();
