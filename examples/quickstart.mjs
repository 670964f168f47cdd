// tsrun as a library: run as root with `node examples/quickstart.mjs` (needs busybox-static and a
// built package: npm install, or npm run build).
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import diagnosticsChannel from 'node:diagnostics_channel';
import { Runtime, CHANNELS, TsrunError } from '@tsrun-oci/tsrun';

// A root filesystem: Debian's static busybox and a few of its applets.
const work = mkdtempSync(path.join(tmpdir(), 'tsrun-quickstart-'));
const rootfs = path.join(work, 'rootfs');
for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp']) mkdirSync(path.join(rootfs, d), { recursive: true });
copyFileSync('/bin/busybox', path.join(rootfs, 'bin/busybox'));
for (const a of ['sh', 'echo', 'tr', 'sleep', 'hostname']) symlinkSync('busybox', path.join(rootfs, 'bin', a));

// Lifecycle events reach diagnostics_channel subscribers (and rt.events(), below).
diagnosticsChannel.subscribe(CHANNELS.exit, (e) => console.log(`exit: ${e.id} ${e.exitCode ?? `signal ${e.signal}`}`));

const rt = new Runtime({ root: path.join(work, 'state') });
const events = new AbortController();
const seen = (async () => {
  const types = [];
  for await (const e of rt.events({ signal: events.signal })) types.push(`${e.type}:${e.id}`);
  return types;
})();
try {
  // Run to completion with pipes: feed stdin, collect stdout/stderr and the exit status.
  const c = await rt.run('hello', {
    rootfs,
    args: ['sh', '-c', 'tr a-z A-Z; hostname; exit 3'],
    hostname: 'demo',
    tmpfs: ['/tmp'],
    rlimits: { RLIMIT_CPU: 2 },
  });
  c.stdin.end('hello from node\n');
  const { exitCode, stdout } = await c.output();
  console.log({ exitCode, stdout });
  await c.delete();

  // create + start, exec into it, a timeout that kills, and cleanup through asyncDispose
  // (in TypeScript: `await using svc = await rt.create(...)`).
  const svc = await rt.create('svc', { rootfs, args: ['sleep', '60'], stdio: 'ignore' });
  await svc.start();
  const p = await svc.exec({ args: ['echo', 'exec works'] });
  console.log((await p.output()).stdout.trim());
  setTimeout(() => svc.kill('SIGKILL'), 100);
  console.log(await svc.wait());
  await svc[Symbol.asyncDispose]();

  // Typed errors with stable codes.
  await rt.state('nope').catch((err) => console.log(err instanceof TsrunError, err.code, err.message));
} finally {
  events.abort();
  console.log((await seen).join(' '));
  rmSync(work, { recursive: true, force: true });
}
