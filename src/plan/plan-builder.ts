// Builds the flat binary plan native/child.cc interprets: fixed-size ops, a string table and a
// table of string lists. Each op carries a description so that a failure reported by the child
// as {op index, errno} becomes "mount proc on /proc: operation not permitted".
import { NONE, OP_WORDS } from './opcodes.js';

export interface CompiledPlan {
  ops: Uint32Array;
  strings: Buffer;
  lists: Uint32Array;
  descriptions: string[];
  /** Details the parent needs to answer the child's SYNC tokens or to word an error. */
  meta: Record<number, unknown>;
}

export class PlanBuilder {
  private readonly words: number[] = [];
  private readonly descriptions: string[] = [];
  private readonly chunks: Buffer[] = [];
  private readonly offsets = new Map<string, number>();
  private size = 0;
  private readonly listWords: number[] = [];
  private listCount = 0;
  readonly meta: Record<number, unknown> = {};

  /** Offset of a NUL-terminated copy of s in the string table. */
  str(s: string | undefined | null): number {
    if (s === undefined || s === null) return NONE;
    const known = this.offsets.get(s);
    if (known !== undefined) return known;
    if (s.includes('\0')) throw new TypeError(`string contains a NUL byte: ${JSON.stringify(s)}`);
    const b = Buffer.from(s + '\0', 'utf8');
    const off = this.size;
    this.chunks.push(b);
    this.size += b.length;
    this.offsets.set(s, off);
    return off;
  }

  /** Raw bytes (e.g. a BPF program), 8-byte aligned; returns [offset, length]. */
  blob(data: Buffer): [number, number] {
    const pad = (8 - (this.size % 8)) % 8;
    if (pad) {
      this.chunks.push(Buffer.alloc(pad));
      this.size += pad;
    }
    const off = this.size;
    this.chunks.push(data);
    this.size += data.length;
    return [off, data.length];
  }

  /** Index of a NULL-terminated string list (argv, envp, gids). */
  list(items: readonly string[]): number {
    this.listWords.push(items.length, ...items.map((s) => this.str(s)));
    return this.listCount++;
  }

  /** Appends an op; returns its index. Arguments beyond 7 are a programming error. */
  op(description: string, code: number, ...args: number[]): number {
    if (args.length > OP_WORDS - 1) throw new RangeError(`op ${code} has too many arguments`);
    this.words.push(code, ...args.map((a) => a >>> 0));
    for (let i = args.length; i < OP_WORDS - 1; i++) this.words.push(NONE);
    this.descriptions.push(description);
    return this.descriptions.length - 1;
  }

  get length(): number {
    return this.descriptions.length;
  }

  build(): CompiledPlan {
    return {
      ops: Uint32Array.from(this.words),
      strings: Buffer.concat(this.chunks, this.size),
      lists: Uint32Array.from(this.listWords),
      descriptions: [...this.descriptions],
      meta: this.meta,
    };
  }
}

/** Splits a 64-bit quantity (a capability set, an rlimit) into [lo, hi] 32-bit words. */
export function split64(v: bigint): [number, number] {
  return [Number(v & 0xffffffffn), Number((v >> 32n) & 0xffffffffn)];
}

/**
 * The plan as one buffer for the static helper (native/init-main.cc): "TSRP", counts, op words,
 * list words, the sorted fds to keep, the string table.
 */
export function serializePlan(plan: CompiledPlan, keepFds: readonly number[]): Buffer {
  const keep = Int32Array.from([...new Set(keepFds)].sort((a, b) => a - b));
  const header = Buffer.alloc(20);
  header.write('TSRP', 0, 'latin1');
  header.writeUInt32LE(plan.ops.length / 8, 4);
  header.writeUInt32LE(plan.lists.length, 8);
  header.writeUInt32LE(keep.length, 12);
  header.writeUInt32LE(plan.strings.length, 16);
  return Buffer.concat([
    header,
    Buffer.from(plan.ops.buffer, plan.ops.byteOffset, plan.ops.byteLength),
    Buffer.from(plan.lists.buffer, plan.lists.byteOffset, plan.lists.byteLength),
    Buffer.from(keep.buffer),
    plan.strings,
  ]);
}
