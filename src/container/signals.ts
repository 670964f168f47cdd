// Signal names and numbers as `kill` accepts them: "KILL", "SIGKILL", "9" (runc signalmap), and
// "0": runc's parseSignal takes any number, and kill(2)'s signal 0 probes that the init is alive.
import { constants } from 'node:os';
import { InvalidArgumentError } from '../errors.js';

export function parseSignal(raw: string | undefined): number {
  const s = (raw ?? 'SIGTERM').trim();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n > 64) throw new InvalidArgumentError(`unknown signal "${s}"`);
    return n;
  }
  const name = s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`;
  const rt = /^SIGRTMIN(?:\+(\d+))?$/.exec(name) ?? /^SIGRTMAX(?:-(\d+))?$/.exec(name);
  if (rt) {
    const off = Number(rt[1] ?? 0);
    const n = name.startsWith('SIGRTMIN') ? 34 + off : 64 - off;
    if (n < 34 || n > 64) throw new InvalidArgumentError(`unknown signal "${s}"`);
    return n;
  }
  const n = (constants.signals as Record<string, number>)[name];
  if (n === undefined) throw new InvalidArgumentError(`unknown signal "${s}"`);
  return n;
}

export function signalName(n: number): string {
  for (const [name, v] of Object.entries(constants.signals)) if (v === n) return name;
  return String(n);
}
