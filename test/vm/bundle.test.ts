// The runtime behind the engines' wrapper (the checkout's bin/tsrun by default) runs a container
// straight from a bundle on the VM's pure cgroup v2 system: `run -b BUNDLE ID` with memory and
// pids limits, a cgroup namespace and a cgroup mount, so the container reads its own limits.
// The bundle comes from the offline busybox image (umoci unpack), as an engine would make it.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { IMAGES, mustSh, runtimeTarget, sh, VM } from './helpers/guest.js';
import { needs } from '../helpers/skip.js';

const vmTest = needs(VM);

interface Spec {
  process: { terminal?: boolean; args: string[] };
  mounts?: { destination: string; type: string; source: string; options?: string[] }[];
  linux: {
    namespaces?: { type: string }[];
    resources?: Record<string, unknown>;
    cgroupsPath?: string;
  };
}

vmTest('run -b BUNDLE: exit status, output, and cgroup v2 limits visible inside', async (t) => {
  const base = mkdtempSync(path.join(tmpdir(), 'tsrun-vm-bundle-'));
  const id = `tsrun-vm-bundle-${process.pid}-${randomBytes(3).toString('hex')}`;
  const root = path.join(base, 'state');
  const bundle = path.join(base, 'bundle');
  const cgroupsPath = `/tsrun-vm-test/${id}`;
  const runtime = runtimeTarget();
  try {
    await mustSh('umoci', ['unpack', '--image', `${IMAGES}/oci:latest`, bundle]);
    const spec = JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8')) as Spec;
    spec.process.terminal = false;
    spec.process.args = ['sh', '-c', 'cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; echo hi; exit 3'];
    const namespaces = spec.linux.namespaces ?? [];
    if (!namespaces.some((n) => n.type === 'cgroup')) namespaces.push({ type: 'cgroup' });
    spec.linux.namespaces = namespaces;
    spec.mounts = (spec.mounts ?? []).filter((m) => m.destination !== '/sys/fs/cgroup');
    spec.mounts.push({ destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] });
    spec.linux.resources = { ...spec.linux.resources, memory: { limit: 33554432 }, pids: { limit: 20 } };
    spec.linux.cgroupsPath = cgroupsPath;
    writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec, null, 2));

    const r = await sh(runtime, ['--root', root, 'run', '-b', bundle, id], 120_000);
    t.log(`${runtime} run: status ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    t.is(r.stdout, '33554432\n20\nhi\n');
    t.is(r.code, 3);
    const state = await sh(runtime, ['--root', root, 'state', id]);
    t.notRegex(state.stdout, /"status":\s*"running"/, 'the container is not running after run returned');
  } finally {
    await sh(runtime, ['--root', root, 'delete', '--force', id]);
    for (const dir of [`/sys/fs/cgroup${cgroupsPath}`, '/sys/fs/cgroup/tsrun-vm-test']) {
      await sh('rmdir', [dir]); // the runtime's delete removes its cgroup; this catches a leftover
    }
    rmSync(base, { recursive: true, force: true });
  }
});
