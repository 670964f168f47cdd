// The fast record: what the static front of the short verbs (native/fast.cc, `tsrun-fast`) may
// do for a container, decided here from its state record and written beside state.json each time
// the record is saved. The format and the front's rules are in native/README.md ("The fast
// front"). A container the front must not handle gets no record at all: the front then hands the
// verb to this CLI, which is always right, only slower.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { ownsCgroup, privatePidNamespace } from './record-facts.js';
import { stateText, toState } from './runc-state.js';
import type { ContainerRecord } from './store.js';

export const FAST_FILE = 'fast';
export const FAST_VERSION = 'tsrun-fast 1';

const PID_KEY = '\n  "pid": ';
const STATUS_AT = ',\n  "status": "running",';

/** The state JSON around pid and status, as `state` prints it (JSON.stringify(state, null, 2)). */
export function stateTemplate(stateJson: string, pid: number): { head: string; tail: string } | undefined {
  const at = stateJson.indexOf(PID_KEY);
  // The top-level keys are the only lines indented by two spaces: pid is there once.
  if (at < 0 || stateJson.indexOf(PID_KEY, at + 1) >= 0) return undefined;
  const head = stateJson.slice(0, at + PID_KEY.length);
  const rest = stateJson.slice(head.length);
  const fixed = `${pid}${STATUS_AT}`;
  if (!rest.startsWith(fixed)) return undefined;
  return { head, tail: rest.slice(fixed.length) };
}

/** A value of a `key value` line: absolute, without the newline or NUL that would break the format. */
function lineValue(v: string): boolean {
  return v.startsWith('/') && !/[\n\0]/.test(v);
}

/**
 * The record's text, or undefined when the front must leave every verb to the JS CLI: a create
 * under way, a systemd cgroup (D-Bus), or a value the line format cannot carry.
 */
export function fastRecordText(rec: ContainerRecord): string | undefined {
  if (rec.creating || !rec.pid) return undefined;
  const cg = rec.cgroup;
  if (cg?.systemdUnit) return undefined;
  if (!lineValue(rec.bundle) || (cg && ![cg.dir, ...cg.created].every(lineValue))) return undefined;
  if (rec.pidStartTime !== undefined && !/^\d+$/.test(rec.pidStartTime)) return undefined;
  const t = stateTemplate(stateText(toState(rec, 'running')), rec.pid);
  if (!t) return undefined;
  const spec = rec.config;
  const lines = [
    FAST_VERSION,
    `pid ${rec.pid}`,
    `start ${rec.pidStartTime ?? '-'}`,
    `privatepid ${privatePidNamespace(spec) ? 1 : 0}`,
    `owncgroup ${ownsCgroup(cg) ? 1 : 0}`,
    `cgroup ${cg ? 'fs' : 'none'}`,
    ...(cg ? [`cgroupdir ${cg.dir}`, ...cg.created.map((d) => `created ${d}`)] : []),
    `poststart ${spec.hooks?.poststart?.length ? 1 : 0}`,
    `poststop ${spec.hooks?.poststop?.length ? 1 : 0}`,
    `bundle ${rec.bundle}`,
  ];
  const block = (key: string, s: string) => `${key} ${Buffer.byteLength(s)}\n${s}`;
  return `${lines.join('\n')}\n${block('head', t.head)}${block('tail', t.tail)}`;
}

/** Writes (or removes) the record of `rec` in its container directory `dir`. */
export function saveFastRecord(dir: string, rec: ContainerRecord, write: (file: string, data: string) => void): void {
  const file = path.join(dir, FAST_FILE);
  const text = fastRecordText(rec);
  if (text === undefined) rmSync(file, { force: true });
  else write(file, text);
}
