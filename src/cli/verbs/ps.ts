// runc ps.go: --format json prints the pids (a JSON array, what containerd reads); table
// passes the remaining arguments to ps(1).
import { InvalidArgumentError } from '../../errors.js';
import { containerPids, psTable } from '../../container/ps.js';
import type { VerbContext } from '../main.js';
import { writeOut } from '../output.js';

export default async function ps({ cl, id }: VerbContext): Promise<number> {
  const format = String(cl.flags.format ?? 'table');
  const pids = await containerPids({ root: cl.global.root, id });
  if (format === 'json') {
    writeOut(`${JSON.stringify(pids)}\n`);
    return 0;
  }
  if (format !== 'table') throw new InvalidArgumentError(`invalid format option: ${format}`);
  writeOut(await psTable(pids, cl.args.slice(1)));
  return 0;
}
