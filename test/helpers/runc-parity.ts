// Debian's runc (1.1.5) on the same bundle, for the parity tests of the plan interpreter
// (test/integration/parity-mounts*.test.ts, parity-hooks-plan*.test.ts), never on a cgroup v1
// hierarchy.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { unifiedMount } from '../../src/cgroups/v2.js';
import type { Bundle } from './bundle.js';
import { tool } from './skip.js';

export const RUNC = '/usr/sbin/runc';
const unified = unifiedMount();
/** runc 1.1.5 can run here without touching a cgroup v1 hierarchy (see runcRun). */
export const hasRunc = fs.existsSync(RUNC) && !!unified && tool('unshare', 'util-linux').ok;

export interface RuncResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The file that was runc's stderr (a container it created writes there too). */
  stderrFile: string;
}

let calls = 0;

/**
 * runc ARGS with its own --root inside the bundle, in a mount namespace of its own whose
 * /sys/fs/cgroup is the host's cgroup v2 tree (on a hybrid host runc would otherwise make, and
 * write, cgroups in the v1 hierarchies). Its stdout and stderr are files, as with tsrun
 * (helpers/bundle.ts): a container it starts keeps them, and the call still ends. Call forRunc
 * first.
 */
export async function runc(b: Bundle, args: readonly string[]): Promise<RuncResult> {
  const rootDir = path.join(b.dir, 'runc-root');
  fs.mkdirSync(rootDir, { recursive: true });
  const bind = unified === '/sys/fs/cgroup' ? '' : `mount --bind ${unified} /sys/fs/cgroup && `;
  const script = `${bind}exec ${RUNC} --root ${rootDir} "$@"`;
  const n = calls++;
  const files = [path.join(b.ioDir, `runc-${n}.out`), path.join(b.ioDir, `runc-${n}.err`)];
  const fds = files.map((f) => fs.openSync(f, 'w'));
  let child;
  try {
    child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'runc', ...args], { cwd: b.dir, stdio: ['ignore', ...fds] });
  } finally {
    fds.forEach((fd) => fs.closeSync(fd));
  }
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (c) => resolve(c));
  });
  return { code, stdout: fs.readFileSync(files[0], 'utf8'), stderr: fs.readFileSync(files[1], 'utf8'), stderrFile: files[1] };
}

/**
 * Rewrites config.json from b.spec as runc gets it: with a cgroup namespace (runc 1.1.5 mounts a
 * fresh cgroup2 for a "cgroup" mount without one, and in the host's cgroup namespace that mount
 * applies its options to the whole hierarchy: it would clear nsdelegate).
 */
export function forRunc(b: Bundle): void {
  const spec = structuredClone(b.spec);
  const ns = (spec.linux!.namespaces ??= []);
  if (!ns.some((n) => n.type === 'cgroup')) ns.push({ type: 'cgroup' });
  fs.writeFileSync(path.join(b.dir, 'config.json'), JSON.stringify(spec));
}

/** `runc run ARGS` of b.spec (see runc and forRunc) under a fresh id. */
export async function runcRun(b: Bundle, args: readonly string[] = []): Promise<RuncResult> {
  forRunc(b);
  return runc(b, ['run', ...args, '--bundle', b.dir, b.newId('runc')]);
}

/** Every path below dir (dir first), without following symlinks. */
export function* walkTree(dir: string): Generator<string> {
  yield dir;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walkTree(p);
    else yield p;
  }
}
