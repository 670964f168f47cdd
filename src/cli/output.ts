// Output for engines: written synchronously with fs.writeSync, which neither loads the stream
// machinery (2-3 ms per CLI call) nor loses a tail when the process exits right after.
import { writeSync } from 'node:fs';

export function writeOut(text: string): void {
  const buf = Buffer.from(text);
  for (let off = 0; off < buf.length;) {
    try {
      off += writeSync(1, buf, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw err;
    }
  }
}

/** Docker's plain tables: columns padded to the widest cell plus three spaces, no trailing blanks. */
export function table(rows: string[][]): string {
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i] + 3)))
          .join('')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}
