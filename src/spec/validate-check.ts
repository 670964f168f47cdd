// Small typed accessors for hand-written config.json validation. Each records a problem under a
// path-like name (`linux.namespaces[2].type`) instead of throwing, so that one pass reports every
// problem at once. `null` counts as absent, as it does for Go's encoding/json (runc, specs-go).

import { cut, quote } from './cut.js';

export type Obj = Record<string, unknown>;

export class Problems {
  readonly errors: string[] = [];
  readonly warnings: string[] = [];
  // Paths hold the config's own keys and messages its values: both are cut (a hostile config
  // must not turn into a megabyte log line).
  err(path: string, msg: string): void {
    this.errors.push(`${cut(path)}: ${cut(msg, 1024)}`);
  }
  warn(path: string, msg: string): void {
    this.warnings.push(`${cut(path)}: ${cut(msg, 1024)}`);
  }
}

export function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** Integer ranges of the Go types specs-go uses (u64/i64 limited to what a double holds exactly). */
export const U16 = [0, 0xffff] as const;
export const U32 = [0, 0xffffffff] as const;
export const I32 = [-0x80000000, 0x7fffffff] as const;
export const U64 = [0, Number.MAX_VALUE] as const;
export const I64 = [-Number.MAX_VALUE, Number.MAX_VALUE] as const;
export type Range = readonly [number, number];

/** A cpuset list as in cpuset(7) "List format": "0-3,7,9-10". */
export function isCpuList(s: string): boolean {
  return /^\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*$/.test(s);
}

export function isAbs(p: string): boolean {
  return p.startsWith('/');
}

export class Checker {
  constructor(readonly p: Problems) {}

  private wrongType(path: string, want: string, v: unknown): undefined {
    this.p.err(path, `must be ${want}, got ${kindOf(v)}`);
    return undefined;
  }

  private missing(path: string): undefined {
    this.p.err(path, 'is required');
    return undefined;
  }

  object(path: string, v: unknown, required = false): Obj | undefined {
    if (v === undefined || v === null) return required ? this.missing(path) : undefined;
    if (typeof v !== 'object' || Array.isArray(v)) return this.wrongType(path, 'an object', v);
    return v as Obj;
  }

  array(path: string, v: unknown, required = false): unknown[] | undefined {
    if (v === undefined || v === null) return required ? this.missing(path) : undefined;
    if (!Array.isArray(v)) return this.wrongType(path, 'an array', v);
    return v;
  }

  string(path: string, v: unknown, required = false): string | undefined {
    if (v === undefined || v === null) return required ? this.missing(path) : undefined;
    if (typeof v !== 'string') return this.wrongType(path, 'a string', v);
    return v;
  }

  bool(path: string, v: unknown, required = false): boolean | undefined {
    if (v === undefined || v === null) return required ? this.missing(path) : undefined;
    if (typeof v !== 'boolean') return this.wrongType(path, 'a boolean', v);
    return v;
  }

  int(path: string, v: unknown, range: Range, required = false): number | undefined {
    if (v === undefined || v === null) return required ? this.missing(path) : undefined;
    if (typeof v !== 'number') return this.wrongType(path, 'an integer', v);
    if (!Number.isInteger(v)) {
      this.p.err(path, `must be an integer, got ${v}`);
      return undefined;
    }
    if (v < range[0] || v > range[1]) {
      this.p.err(path, `${v} is out of range [${range[0]}, ${range[1] === Number.MAX_VALUE ? 'max' : range[1]}]`);
      return undefined;
    }
    return v;
  }

  /** An array of strings; bad elements are reported and left out of the result. */
  strings(path: string, v: unknown, required = false): string[] | undefined {
    const a = this.array(path, v, required);
    if (!a) return undefined;
    const out: string[] = [];
    a.forEach((s, i) => {
      if (typeof s === 'string') out.push(s);
      else this.p.err(`${path}[${i}]`, `must be a string, got ${kindOf(s)}`);
    });
    return out;
  }

  /** An object whose values are all strings. */
  stringMap(path: string, v: unknown): Record<string, string> | undefined {
    const o = this.object(path, v);
    if (!o) return undefined;
    for (const [k, val] of Object.entries(o)) {
      if (typeof val !== 'string') this.p.err(`${path}.${k}`, `must be a string, got ${kindOf(val)}`);
    }
    return o as Record<string, string>;
  }

  /** A string from a fixed list. */
  oneOf(path: string, v: unknown, allowed: readonly string[], what: string, required = false): string | undefined {
    const s = this.string(path, v, required);
    if (s === undefined) return undefined;
    if (!allowed.includes(s)) {
      this.p.err(path, `unknown ${what} ${quote(s)}`);
      return undefined;
    }
    return s;
  }

  /** Each element of an array of objects, with its path. */
  eachObject(path: string, v: unknown, fn: (o: Obj, path: string, index: number) => void, required = false): void {
    const a = this.array(path, v, required);
    if (!a) return;
    a.forEach((el, i) => {
      const o = this.object(`${path}[${i}]`, el, true);
      if (o) fn(o, `${path}[${i}]`, i);
    });
  }

  /** An absolute path string. */
  absPath(path: string, v: unknown, required = false): string | undefined {
    const s = this.string(path, v, required);
    if (s === undefined) return undefined;
    if (!isAbs(s)) {
      this.p.err(path, `must be an absolute path, got ${quote(s)}`);
      return undefined;
    }
    return s;
  }
}

/** Deepest nesting of objects and arrays a config may have (Go's encoding/json stops at 10000). */
export const MAX_DEPTH = 1000;

/**
 * Why `v` cannot be handled as a JSON document, or undefined when it can: nesting deeper than
 * `maxDepth` (it would overflow the stack of every recursive walk after us: JSON.stringify,
 * structuredClone) or an object that contains itself. Iterative, so it cannot overflow itself;
 * each object is walked once, so shared sub-objects cost nothing extra.
 */
export function shapeProblem(v: unknown, maxDepth = MAX_DEPTH): { path: string; msg: string } | undefined {
  type Frame = { node: object; depth: number; top: string; exit: boolean };
  if (typeof v !== 'object' || v === null) return undefined;
  const stack: Frame[] = [{ node: v, depth: 1, top: 'config', exit: false }];
  const onPath = new Set<object>();
  const done = new Set<object>();
  while (stack.length > 0) {
    const f = stack.pop()!;
    if (f.exit) {
      onPath.delete(f.node);
      done.add(f.node);
      continue;
    }
    if (onPath.has(f.node)) return { path: f.top, msg: 'refers to itself (a cycle is not JSON)' };
    if (done.has(f.node)) continue;
    if (f.depth > maxDepth) return { path: f.top, msg: `nests more than ${maxDepth} levels deep` };
    onPath.add(f.node);
    stack.push({ ...f, exit: true });
    const children: unknown[] = Array.isArray(f.node) ? f.node : Object.values(f.node);
    const keys = f.depth === 1 && !Array.isArray(f.node) ? Object.keys(f.node) : undefined;
    children.forEach((c, i) => {
      if (typeof c === 'object' && c !== null) stack.push({ node: c, depth: f.depth + 1, top: keys ? keys[i] : f.top, exit: false });
    });
  }
  return undefined;
}
