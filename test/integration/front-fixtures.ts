// Fixtures for the Docker-style front's tests (not a test file itself): an image env with the
// shipped image imported, and a teardown that removes every front container (`container rm -f
// -v`), then checks that no monitor of this env is left and its state root is empty.
import type { ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TSRUN_BIN } from '../helpers/bundle.js';
import { imageEnv, SHIPPED, type ImageEnv } from './image-fixtures.js';

export { SHIPPED };

/**
 * These tests run on the host's network namespace, whose interfaces and firewall they must not
 * change: every container runs with --network none (the default is the bridge network).
 */
export const NONE = ['--network', 'none'] as const;

/**
 * Refuses a `run` or `create` that names no network before it starts: without one the container
 * joins the default bridge, and the host keeps tsrun0 and the CNI firewall chains afterwards.
 */
function onHostNetwork(args: readonly string[]): void {
  const verb = args[0];
  if (verb !== 'run' && verb !== 'create') return;
  if (args.some((a) => a === '--network' || a === '--net' || a.startsWith('--network=') || a.startsWith('--net='))) return;
  throw new Error(`container ${verb} without --network (use ...NONE): ${args.join(' ')}`);
}

/** Live tsrun-monitor processes whose working directory is below dir. */
export function monitorsUnder(dir: string): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (!fs.readlinkSync(`/proc/${p}/exe`).endsWith('tsrun-monitor')) continue;
      const cwd = fs.readlinkSync(`/proc/${p}/cwd`);
      if (cwd.startsWith(`${dir}/`)) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}

export interface FrontEnv extends ImageEnv {
  /** `tsrun --root … --image-root … container ARGS`. */
  container(args: readonly string[], o?: Parameters<ImageEnv['tsrun']>[1]): ReturnType<ImageEnv['tsrun']>;
  /** A client started in the background (for SIGKILL and follow tests); killed at teardown. */
  spawnClient(args: readonly string[]): ChildProcess & { out: () => string };
}

export async function frontEnv(t: ExecutionContext): Promise<FrontEnv> {
  const env = await imageEnv(t);
  const children: ChildProcess[] = [];
  const imp = await env.tsrun(['image', 'import', env.layout()]);
  if (imp.code !== 0) throw new Error(`image import: ${imp.stderr}`);
  // Registered after imageEnv's: ava runs teardowns in reverse, so this runs first.
  t.teardown(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    const left: string[] = [];
    const ls = await env.tsrun(['container', 'ls', '-a', '-q', '--no-trunc']);
    for (const id of ls.stdout.split('\n').filter(Boolean)) {
      left.push(id);
      await env.tsrun(['container', 'rm', '-f', '-v', id]);
    }
    const mons = monitorsUnder(env.dir);
    for (const pid of mons) process.kill(pid, 'SIGKILL');
    let state: string[] = [];
    try {
      state = fs.readdirSync(env.root);
    } catch {
      /* never made */
    }
    const problems = [
      ...(mons.length ? [`monitors left: ${mons.join(', ')}`] : []),
      ...(state.length ? [`state left: ${state.join(', ')}`] : []),
      ...(left.length ? [`containers left by the test: ${left.join(', ')}`] : []),
    ];
    if (problems.length) throw new Error(problems.join('; '));
  });
  return {
    ...env,
    container: (args, o) => {
      onHostNetwork(args);
      return env.tsrun(['container', ...args], o);
    },
    spawnClient: (args) => {
      onHostNetwork(args);
      const c = spawn(TSRUN_BIN, ['--root', env.root, '--image-root', env.imageRoot, 'container', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let text = '';
      c.stdout!.on('data', (d: Buffer) => (text += d.toString()));
      c.stderr!.on('data', (d: Buffer) => (text += d.toString()));
      children.push(c);
      return Object.assign(c, { out: () => text });
    },
  };
}

export function containerDirs(env: ImageEnv): string[] {
  try {
    return fs.readdirSync(path.join(env.imageRoot, 'containers'));
  } catch {
    return [];
  }
}
