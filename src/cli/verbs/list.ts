import { listContainers } from '../../container/state.js';
import type { VerbContext } from '../main.js';
import { writeOut } from '../output.js';

// runc list.go: tabwriter(minwidth 12, tabwidth 1, padding 3), created as RFC3339Nano.
function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(12, ...rows.map((r) => r[c].length + 3)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('')).join('\n') + '\n';
}

export default async function list({ cl }: VerbContext): Promise<number> {
  const all = await listContainers({ root: cl.global.root });
  if (cl.flags.quiet === true) {
    writeOut(all.map((c) => `${c.id}\n`).join(''));
    return 0;
  }
  if (cl.flags.format === 'json') {
    // runc encodes a nil slice: "null" when there are no containers.
    writeOut(`${all.length ? JSON.stringify(all) : 'null'}\n`);
    return 0;
  }
  if (cl.flags.format !== 'table') throw new Error(`invalid format option`);
  const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']];
  for (const c of all) rows.push([c.id, String(c.pid), c.status, c.bundle, c.created, c.owner]);
  writeOut(table(rows));
  return 0;
}
