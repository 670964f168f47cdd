// ps: the processes of the container's cgroup (and its sub-cgroups), from its Manager. runc ps.go:
// --format json prints the pids as a JSON array; table runs ps(1) with the given arguments
// (default -ef) and keeps the header and the lines whose PID column is one of the container's.
import { execFile } from 'node:child_process';
import { InvalidArgumentError, SyscallError } from '../errors.js';
import { withContainer } from './handle.js';

export interface PsOptions {
  root: string;
  id: string;
}

export async function containerPids(o: PsOptions): Promise<number[]> {
  return withContainer(o.root, o.id, {}, (h) => {
    h.assert('ps');
    return h.cgroup.pids();
  });
}

/** ps(1)'s output, on the event loop. */
function runPs(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ps', [...args], { encoding: 'utf8', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      // A ps that ran and failed is a bad argument (ps prints why); one that did not run is ENOENT & co.
      const code = (err as NodeJS.ErrnoException).code;
      const why = stderr.trim() || err.message;
      if (typeof code === 'string') reject(SyscallError.fromErrnoException(err as NodeJS.ErrnoException, { context: 'ps' }));
      else reject(new InvalidArgumentError(`ps ${args.join(' ')}: ${why}`, { cause: err }));
    });
  });
}

/** The table: ps's header and the rows of the container's processes. */
export async function psTable(pids: readonly number[], psArgs: readonly string[] = ['-ef']): Promise<string> {
  const args = psArgs.length ? psArgs : ['-ef'];
  const out = await runPs(args);
  const lines = out.split('\n');
  const header = lines[0] ?? '';
  const col = header.trim().split(/\s+/).indexOf('PID');
  if (col < 0) throw new InvalidArgumentError(`couldn't find PID field in ps output (ps ${psArgs.join(' ')})`);
  const want = new Set(pids);
  const rows = lines.slice(1).filter((l) => l.trim() && want.has(Number(l.trim().split(/\s+/)[col])));
  return [header, ...rows].join('\n') + '\n';
}
