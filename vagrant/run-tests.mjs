#!/usr/bin/env node
// npm run test:vm: boot tsrun's cgroup-v2 VM (vagrant/vm-run.sh) and run in it the VM suite
// (test/vm) and the root integration suite (test/integration), against this checkout, shared
// into the guest over 9p at the same path.
//
//   npm run test:vm                      both suites (test/vm/systemd in a second boot, see below)
//   npm run test:vm -- test/vm/x.test.ts only these files (paths or globs, relative to the checkout);
//                                        those under test/vm/systemd run in the systemd boot
//   npm run test:vm -- --vagrant [FILES]  the same in the Vagrant box (vagrant/Vagrantfile) instead
//
// The host builds, the guest only runs: TypeScript and the addon are compiled here (the guest is
// the same Debian release with the host's own node binary, so build/Release/*.node loads there),
// because JavaScript runs about 14 times slower under TCG (shared/reference/vm.md).
// Env: everything vagrant/vm-run.sh reads (TSRUN_VM_RUNTIME, TSRUN_VM_CACHE, ...), and
//      TSRUN_VM_SKIP_BUILD=1 to use dist/ and build/ as they are,
//      TSRUN_VM_SYSTEMD_SUITE=0 to skip the second (systemd) boot.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.dirname(here);

function elapsed(since) {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

function run(cmd, args, what, env = {}) {
  const r = spawnSync(cmd, args, { cwd: repo, stdio: 'inherit', env: { ...process.env, ...env } });
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
  const built =
    existsSync(path.join(repo, 'dist/tsrun.cjs')) &&
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
  // Two boots: the default one (vm-init as PID 1) for everything but test/vm/systemd, then one
  // with systemd as PID 1 (TSRUN_VM_INIT=systemd) for test/vm/systemd, the systemd cgroup driver's
  // tests, which skip in the default boot.
  const { plain, systemd } = args.length ? splitArgs(args) : { plain: defaultSuites(), systemd: [SYSTEMD_SUITE] };
  const boots = [];
  if (plain.length) boots.push({ what: 'default boot', env: {}, files: plain });
  if (systemd.length && process.env.TSRUN_VM_SYSTEMD_SUITE !== '0') {
    boots.push({ what: 'systemd boot', env: { TSRUN_VM_INIT: 'systemd' }, files: systemd });
  }
  let rc = 0;
  for (const boot of boots) {
    const t1 = Date.now();
    console.log(`test:vm: ${boot.what}: ${boot.files.join(' ')}`);
    const r = run(path.join(here, 'vm-run.sh'), ['--', 'bash', 'vagrant/guest/test-suites.sh', ...boot.files], 'vagrant/vm-run.sh', boot.env);
    console.log(`test:vm: ${boot.what}: ${r === 0 ? 'passed' : `failed (status ${r})`} in ${elapsed(t1)}`);
    if (r !== 0 && rc === 0) rc = r;
  }
  console.log(`test:vm: ${rc === 0 ? 'passed' : `failed (status ${rc})`} in ${elapsed(t0)}`);
  return rc;
}

const SYSTEMD_DIR = 'test/vm/systemd';
const SYSTEMD_SUITE = `${SYSTEMD_DIR}/**/*.test.ts`;

/** test/vm without test/vm/systemd, and test/integration, as globs test-suites.sh expands. */
function defaultSuites() {
  const vm = path.join(repo, 'test/vm');
  const subdirs = existsSync(vm)
    ? readdirSync(vm, { withFileTypes: true })
        .filter((e) => e.isDirectory() && `test/vm/${e.name}` !== SYSTEMD_DIR)
        .map((e) => `test/vm/${e.name}/**/*.test.ts`)
    : [];
  return ['test/vm/*.test.ts', ...subdirs, 'test/integration/**/*.test.ts'];
}

/** Paths or globs named on the command line: those under test/vm/systemd go to the systemd boot. */
function splitArgs(args) {
  const plain = [];
  const systemd = [];
  for (const a of args) {
    const rel = path.isAbsolute(a) ? path.relative(repo, a) : path.normalize(a);
    if (rel === SYSTEMD_DIR || rel.startsWith(`${SYSTEMD_DIR}/`)) systemd.push(rel === SYSTEMD_DIR ? SYSTEMD_SUITE : rel);
    else plain.push(a);
  }
  return { plain, systemd };
}

process.exitCode = main();
