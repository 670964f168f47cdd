// The network store (src/net/store.ts): private modes, records, and the flock(2) store lock.
import test from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NetworkStore, type NetworkRecord } from '../../src/net/store.js';
import { needs, tool } from '../helpers/skip.js';

function tmpStore(t: import('ava').ExecutionContext): NetworkStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsrun-netstore-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return new NetworkStore(path.join(dir, 'root'));
}

const rec = (name: string): NetworkRecord => ({
  name,
  id: name.padEnd(64, '0'),
  driver: 'bridge',
  created: '2026-01-01T00:00:00Z',
  subnet: '10.68.0.0/24',
  gateway: '10.68.0.1',
  internal: false,
  bridge: `br-${name}`,
  labels: {},
});

test('the store is private: the image root 0710 when made here, its directories 0700, records 0600; a name is taken once', (t) => {
  const store = tmpStore(t);
  store.open();
  const mode = (p: string) => fs.statSync(p).mode & 0o777;
  t.is(mode(path.dirname(store.dir)), 0o710);
  for (const d of [store.dir, store.attachmentsDir, store.ipamDir, store.netnsDir]) t.is(mode(d), 0o700, d);
  t.true(store.createNetwork(rec('a')));
  t.false(store.createNetwork({ ...rec('a'), subnet: '10.68.1.0/24' }), 'O_EXCL: the first record stands');
  t.is(store.readNetwork('a')?.subnet, '10.68.0.0/24');
  t.is(mode(store.networkFile('a')), 0o600);
  store.writeAttachment({ id: 'c1', netnsPath: '/x', pinned: true, extraHosts: [], created: '', networks: [] });
  store.writeAttachment({ id: 'c1', netnsPath: '/y', pinned: true, extraHosts: [], created: '', networks: [] });
  t.is(store.readAttachment('c1')?.netnsPath, '/y', 'rewritten by rename');
  t.is(mode(store.attachmentFile('c1')), 0o600);
  t.deepEqual(fs.readdirSync(store.attachmentsDir), ['c1.json'], 'no temporary file left');
  fs.writeFileSync(path.join(store.dir, 'broken.json'), '{');
  t.deepEqual(
    store.listNetworks().map((n) => n.name),
    ['a'],
    'an unreadable record is skipped',
  );
});

needs(tool('flock', 'util-linux'))('the store lock waits for another process that holds it, and is free once that process is gone', async (t) => {
  const store = tmpStore(t);
  store.open();
  // flock(1) holds the lock until its shell reads a line and exits.
  const holder = spawn('flock', [path.join(store.dir, 'lock'), 'sh', '-c', 'echo held; read x'], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
  const holderGone = () => {
    try {
      return /^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${holder.pid}/stat`, 'utf8'));
    } catch {
      return true;
    }
  };
  const ran = store.locked(() => holderGone());
  holder.stdin.end('go\n');
  t.true(await ran, 'the store ran fn only after the holder had ended');
  // And not re-entrant across calls: a second caller waits for the first.
  const order: string[] = [];
  let release!: () => void;
  const first = store.locked(async () => {
    order.push('first in');
    await new Promise<void>((r) => (release = r));
    order.push('first out');
  });
  const second = store.locked(() => order.push('second in'));
  release(); // set by now: fn runs synchronously up to its first await once the lock is taken
  await Promise.all([first, second]);
  t.deepEqual(order, ['first in', 'first out', 'second in']);
});
