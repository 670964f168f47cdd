// issue 13 item 6: the library's stdio FIFOs are made under unpredictable names in a private
// directory: files another user pre-creates in the shared pipe directory break nothing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { makePipe } from '../../src/api/stdio.js';

test('makePipe works when the names it used to predict are taken, and leaves nothing behind', (t) => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-stdio-'));
  t.teardown(() => fs.rmSync(d, { recursive: true, force: true }));
  fs.chmodSync(d, 0o1777); // as /dev/shm
  const planted: string[] = [];
  for (let n = 0; n < 64; n++) {
    const name = `.pipe-${process.pid}-${n}`;
    fs.writeFileSync(path.join(d, name), '');
    planted.push(name);
  }
  for (let i = 0; i < 3; i++) {
    const [r, w] = makePipe(d);
    fs.writeSync(w, 'x');
    const buf = Buffer.alloc(1);
    t.is(fs.readSync(r, buf), 1);
    fs.closeSync(r);
    fs.closeSync(w);
  }
  t.deepEqual(fs.readdirSync(d).sort(), planted.sort());
});
