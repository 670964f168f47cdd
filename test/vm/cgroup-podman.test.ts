// Acceptance for the cgroup issue: under Podman (cgroupfs manager, the VM's containers.conf) with
// tsrun as the runtime, `--memory 32m --pids-limit 20` are visible inside the container (its
// cgroup namespace shows its own cgroup at /sys/fs/cgroup) and enforced: a 64 MiB allocation is
// OOM-killed (exit 137) and forking past 20 processes fails.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { IMAGE_REF, IMAGES, IN_VM, mustSh, sh, type Result, VM } from './helpers/guest.js';
import { needs } from '../helpers/skip.js';

const vmTest = needs(VM).serial;
const LIMITS = ['--memory', '32m', '--pids-limit', '20'];

function show(r: Result): string {
  return `status ${r.code} signal ${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

async function podmanRun(args: string[]): Promise<Result> {
  const name = `tsrun-vm-cg-${process.pid}-${randomBytes(3).toString('hex')}`;
  return sh('podman', ['run', '--rm', '--runtime', 'tsrun', '--network', 'none', '--name', name, ...LIMITS, IMAGE_REF, ...args], 600_000);
}

test.before(async () => {
  if (IN_VM) await mustSh('podman', ['load', '-q', '-i', `${IMAGES}/docker.tar`], 600_000);
});

vmTest('podman --memory 32m --pids-limit 20: memory.max and pids.max are visible inside', async (t) => {
  const r = await podmanRun(['sh', '-c', 'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max']);
  t.is(r.code, 0, show(r));
  t.deepEqual(r.stdout.trim().split('\n'), [String(32 << 20), '20'], show(r));
});

vmTest('podman --memory 32m: a 64 MiB allocation is OOM-killed (exit 137)', async (t) => {
  const r = await podmanRun(['dd', 'if=/dev/zero', 'of=/dev/null', 'bs=64M', 'count=1']);
  t.is(r.code, 137, show(r));
});

vmTest('podman --pids-limit 20: forking past the limit fails', async (t) => {
  const r = await podmanRun(['sh', '-c', 'i=0; while [ $i -lt 40 ]; do sleep 30 & i=$((i+1)); done; echo done']);
  t.regex(r.stdout + r.stderr, /can't fork|Resource temporarily unavailable/i, show(r));
});
