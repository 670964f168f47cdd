// ps: the processes of the container's cgroup (and its sub-cgroups). runc ps.go: --format json
// prints the pids as a JSON array; table runs ps(1) with the given arguments (default -ef) and
// keeps the header and the lines whose PID column is one of the container's.
import { execFileSync } from 'node:child_process';
import { InvalidArgumentError, TsrunError } from '../errors.js';
import { StateStore } from '../state/store.js';
import { cgroupManagerOf } from './pause.js';

export function containerPids(root: string, id: string): number[] {
  const rec = new StateStore(root).load(id);
  return cgroupManagerOf(rec).pids();
}

/** The table: ps's header and the rows of the container's processes. */
export function psTable(pids: readonly number[], psArgs: readonly string[] = ['-ef']): string {
  let out: string;
  try {
    out = execFileSync('ps', psArgs.length ? [...psArgs] : ['-ef'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new TsrunError('TSRUN_SYSTEM', `ps ${psArgs.join(' ')}: ${stderr.trim() || (err as Error).message}`, { cause: err });
  }
  const lines = out.split('\n');
  const header = lines[0] ?? '';
  const col = header.trim().split(/\s+/).indexOf('PID');
  if (col < 0) throw new InvalidArgumentError(`couldn't find PID field in ps output (ps ${psArgs.join(' ')})`);
  const want = new Set(pids);
  const rows = lines.slice(1).filter((l) => l.trim() && want.has(Number(l.trim().split(/\s+/)[col])));
  return [header, ...rows].join('\n') + '\n';
}
