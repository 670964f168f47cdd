// config.json decoded as runc decodes it (issue 14 item 26), end to end: a bundle that runc 1.1.5
// runs (no process.user, keys in another case, an empty namespace path, device access "rwa") runs
// under tsrun with the same result. Where Debian's runc is installed the same bundle runs under it too.
import { makeBundle } from '../helpers/bundle.js';
import { hasRunc, RUNC, runcRun } from '../helpers/runc-parity.js';
import { need, needs, root } from '../helpers/skip.js';

const rootTest = needs(root('containers'));
const runcTest = needs(root('containers'), need(hasRunc, `needs runc at ${RUNC} (Debian package runc), unshare and a cgroup v2 tree to compare with`));

function goStyle(s: any): void {
  s.process.args = ['sh', '-c', 'echo "$(id -u):$(id -g)"'];
  s.process.terminal = false;
  delete s.process.user;
  s.Hostname = 'decoded';
  s.linux.namespaces = s.linux.namespaces.map((n: { type: string }) => (n.type === 'ipc' ? { type: 'ipc', path: '' } : n));
  // runc 1.1.5 mounts a fresh cgroup2 even without a cgroup namespace, and a cgroup2 mount in the
  // host's cgroup namespace clears the host hierarchy's options (nsdelegate): give it one.
  if (!s.linux.namespaces.some((n: { type: string }) => n.type === 'cgroup')) s.linux.namespaces.push({ type: 'cgroup' });
  s.linux.resources = s.linux.resources ?? {};
  s.linux.resources.devices = [...(s.linux.resources.devices ?? []), { allow: true, type: 'c', major: 1, minor: 3, access: 'rwa' }];
}

rootTest('a config decoded with Go rules runs: no process.user is 0:0, Hostname, empty ns path, access "rwa"', async (t) => {
  const b = await makeBundle(t, goStyle);
  const r = await b.tsrun(['run', '--bundle', b.dir, b.id]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout.trim(), '0:0');
});

runcTest('runc 1.1.5 runs the same config with the same output', async (t) => {
  const b = await makeBundle(t, goStyle);
  // In a mount namespace with the cgroup v2 tree at /sys/fs/cgroup: never the host's v1 hierarchies.
  const theirs = await runcRun(b);
  t.is(theirs.code, 0, theirs.stderr);
  t.is(theirs.stdout.trim(), '0:0');
});
