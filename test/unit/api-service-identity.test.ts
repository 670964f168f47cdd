// The reaper's judgement of a service instance (src/api/services.ts): a token names boot, pid
// namespace, pid and start time; only an instance certainly gone (another boot, or its pid dead
// or reused in this pid namespace) is judged dead, never one it cannot see.
import test from 'ava';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { instanceIsDead, instanceToken } from '../../src/api/services.js';

const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
const pidns = fs.statSync('/proc/self/ns/pid').ino;

test('this process: a token of boot/pidns/pid/start time, alive', (t) => {
  const token = instanceToken();
  t.truthy(token);
  const [b, ns, pid, start] = token!.split('/');
  t.is(b, boot);
  t.is(ns, String(pidns));
  t.is(pid, String(process.pid));
  t.regex(start, /^\d+$/);
  t.false(instanceIsDead(token!));
});

test('a pid reused by another process (another start time) and another boot are dead', (t) => {
  const [b, ns, pid, start] = instanceToken()!.split('/');
  t.true(instanceIsDead(`${b}/${ns}/${pid}/${Number(start) + 1}`));
  t.true(instanceIsDead(`00000000-0000-0000-0000-000000000000/${ns}/${pid}/${start}`));
});

test('an exited process is dead once it is gone', async (t) => {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  await new Promise((r) => child.once('spawn', r));
  const token = instanceToken(child.pid!);
  t.truthy(token);
  t.false(instanceIsDead(token!));
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  t.true(instanceIsDead(token!));
});

test('another pid namespace, or a token it cannot read, is never judged dead', (t) => {
  const [b, , pid, start] = instanceToken()!.split('/');
  t.false(instanceIsDead(`${b}/1/${pid}/${Number(start) + 1}`), 'another pid namespace: cannot tell');
  for (const bad of ['', 'garbage', `${b}/${pidns}`, `${b}/${pidns}/x/1`, 'unknown/123']) t.false(instanceIsDead(bad), bad);
});
