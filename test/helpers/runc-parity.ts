// Debian's runc (1.1.5) on the same bundle, for the parity tests of the plan interpreter
// (test/integration/parity-mounts*.test.ts, parity-hooks-plan*.test.ts), never on a cgroup v1
// hierarchy.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Spec } from '../../src/spec/types.js';
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
}

/**
 * `runc run` of b's config.json (its own --root inside the bundle), the way
 * test/integration/parity-lifecycle.test.ts runs it: in a mount namespace of its own whose
 * /sys/fs/cgroup is the host's cgroup v2 tree (on a hybrid host runc would otherwise make, and
 * write, cgroups in the v1 hierarchies), and with a cgroup namespace in the config (runc 1.1.5 mounts
 * a fresh cgroup2 for a "cgroup" mount without one, and in the host's cgroup namespace that mount
 * applies its options to the whole hierarchy: it would clear nsdelegate).
 */
export async function runcRun(b: Bundle, args: readonly string[] = []): Promise<RuncResult> {
  const file = path.join(b.dir, 'config.json');
  const spec = JSON.parse(fs.readFileSync(file, 'utf8')) as Spec;
  const ns = (spec.linux!.namespaces ??= []);
  if (!ns.some((n) => n.type === 'cgroup')) ns.push({ type: 'cgroup' });
  fs.writeFileSync(file, JSON.stringify(spec));
  const rootDir = path.join(b.dir, 'runc-root');
  fs.mkdirSync(rootDir, { recursive: true });
  const bind = unified === '/sys/fs/cgroup' ? '' : `mount --bind ${unified} /sys/fs/cgroup && `;
  const script = `${bind}exec ${RUNC} --root ${rootDir} run "$@"`;
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'runc', ...args, '--bundle', b.dir, b.newId('runc')], {
    cwd: b.dir,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  });
  return { code, stdout, stderr };
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
