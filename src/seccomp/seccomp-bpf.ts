// Classic BPF as seccomp uses it (linux/filter.h, Documentation/userspace-api/seccomp_filter.rst):
// struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; } in host byte order, run over
// struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }.
// Here: (de)serialising programs, the -ENOSYS prologue (runc libcontainer/seccomp/patchbpf), and an
// evaluator so tests and diagnostics can ask what a program does for a given syscall.
import os from 'node:os';

export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

// linux/bpf_common.h
const BPF_LD = 0x00,
  BPF_LDX = 0x01,
  BPF_ST = 0x02,
  BPF_STX = 0x03,
  BPF_ALU = 0x04,
  BPF_JMP = 0x05,
  BPF_RET = 0x06,
  BPF_MISC = 0x07;
const BPF_W = 0x00,
  BPF_ABS = 0x20,
  BPF_IMM = 0x00,
  BPF_MEM = 0x60,
  BPF_LEN = 0x80;
const BPF_K = 0x00,
  BPF_X = 0x08,
  BPF_A = 0x10;
const BPF_JA = 0x00,
  BPF_JEQ = 0x10,
  BPF_JGT = 0x20,
  BPF_JGE = 0x30,
  BPF_JSET = 0x40;

export const BPF_MAXINSNS = 4096;
/** sizeof(struct seccomp_data). */
const SECCOMP_DATA_LEN = 64;
/** arch/x86/include/uapi/asm/unistd.h: x32 syscall numbers carry this bit. */
export const X32_SYSCALL_BIT = 0x40000000;

const LE = os.endianness() === 'LE';

export function decodeProgram(buf: Buffer): Insn[] {
  if (buf.length % 8 !== 0) throw new Error(`seccomp: BPF program of ${buf.length} bytes is not a whole number of instructions`);
  const out: Insn[] = [];
  for (let o = 0; o < buf.length; o += 8) {
    out.push({
      code: LE ? buf.readUInt16LE(o) : buf.readUInt16BE(o),
      jt: buf[o + 2],
      jf: buf[o + 3],
      k: LE ? buf.readUInt32LE(o + 4) : buf.readUInt32BE(o + 4),
    });
  }
  return out;
}

export function encodeProgram(prog: Insn[]): Buffer {
  const buf = Buffer.alloc(prog.length * 8);
  prog.forEach((i, n) => {
    const o = n * 8;
    if (LE) buf.writeUInt16LE(i.code, o);
    else buf.writeUInt16BE(i.code, o);
    buf[o + 2] = i.jt;
    buf[o + 3] = i.jf;
    if (LE) buf.writeUInt32LE(i.k >>> 0, o + 4);
    else buf.writeUInt32BE(i.k >>> 0, o + 4);
  });
  return buf;
}

/** One audit architecture in the prologue: the highest syscall number the profile names on it. */
export interface EnosysArch {
  /** AUDIT_ARCH_* as seccomp_data.arch reports it (x32 shares AUDIT_ARCH_X86_64). */
  auditArch: number;
  /** Highest native-ABI number named, if any. For AUDIT_ARCH_X86_64: the x86_64 ABI. */
  max?: number;
  /** AUDIT_ARCH_X86_64 only: highest x32 number named (with X32_SYSCALL_BIT), if x32 is in the filter. */
  maxX32?: number;
  /** s390/s390x: syscall 0 multiplexes numbers the kernel does not know (runc enosys_linux.go). */
  s390?: boolean;
}

export const AUDIT_ARCH_X86_64 = 0xc000003e;

type Target = string;
interface Sym {
  code: number;
  k: number;
  jt?: Target;
  jf?: Target;
  label?: string;
}

/**
 * The prologue that makes syscalls newer than the profile fail with ENOSYS instead of the default
 * action, so that libc falls back (glibc: clone3 → clone, faccessat2 → faccessat). Per audit arch:
 * `nr > max named → return ERRNO(ENOSYS)`, else fall into the libseccomp program appended after it.
 * Arches not listed fall through too (libseccomp then applies its bad-arch action).
 */
export function enosysPrologue(arches: EnosysArch[], enosysAction: number): Insn[] {
  const code: Sym[] = [{ code: BPF_LD | BPF_W | BPF_ABS, k: 4 }]; // A = arch
  const sections: Sym[][] = [];
  for (const [i, a] of arches.entries()) {
    const sec = `sec${i}`;
    code.push({ code: BPF_JMP | BPF_JEQ | BPF_K, k: a.auditArch, jt: sec });
    const s: Sym[] = [{ code: BPF_LD | BPF_W | BPF_ABS, k: 0, label: sec }]; // A = nr
    if (a.s390) s.push({ code: BPF_JMP | BPF_JEQ | BPF_K, k: 0, jt: 'enosys' });
    if (a.auditArch === AUDIT_ARCH_X86_64) {
      // Bit 30 set: an x32 call. Check each ABI against its own maximum; an ABI absent from the
      // filter goes straight to libseccomp, which owns the decision for it.
      const x32 = `x32_${i}`;
      s.push({ code: BPF_JMP | BPF_JSET | BPF_K, k: X32_SYSCALL_BIT, jt: a.maxX32 === undefined ? 'filter' : x32 });
      if (a.max !== undefined) s.push({ code: BPF_JMP | BPF_JGT | BPF_K, k: a.max, jt: 'enosys', jf: 'filter' });
      else s.push({ code: BPF_JMP | BPF_JA, k: 0, jt: 'filter' });
      if (a.maxX32 !== undefined) s.push({ code: BPF_JMP | BPF_JGT | BPF_K, k: a.maxX32, jt: 'enosys', jf: 'filter', label: x32 });
    } else if (a.max !== undefined) {
      s.push({ code: BPF_JMP | BPF_JGT | BPF_K, k: a.max, jt: 'enosys', jf: 'filter' });
    } else {
      s.push({ code: BPF_JMP | BPF_JA, k: 0, jt: 'filter' });
    }
    sections.push(s);
  }
  code.push({ code: BPF_JMP | BPF_JA, k: 0, jt: 'filter' });
  for (const s of sections) code.push(...s);
  code.push({ code: BPF_RET | BPF_K, k: enosysAction, label: 'enosys' });
  return assemble(code, 'filter');
}

/** Resolves label jumps (forward only, as BPF requires); `end` names the first insn after these. */
function assemble(code: Sym[], end: string): Insn[] {
  const at = new Map<string, number>([[end, code.length]]);
  code.forEach((c, n) => c.label && at.set(c.label, n));
  const off = (from: number, t: Target | undefined): number => {
    if (t === undefined) return 0;
    const to = at.get(t);
    if (to === undefined || to <= from) throw new Error(`seccomp: bad BPF jump target ${t}`);
    return to - from - 1;
  };
  return code.map((c, n) => {
    if (c.code === (BPF_JMP | BPF_JA)) return { code: c.code, jt: 0, jf: 0, k: off(n, c.jt) };
    const jt = off(n, c.jt),
      jf = off(n, c.jf);
    if (jt > 255 || jf > 255) throw new Error('seccomp: ENOSYS prologue too long for a conditional jump');
    return { code: c.code, jt, jf, k: c.k };
  });
}

export interface SeccompData {
  nr: number;
  arch: number;
  ip?: bigint;
  args?: bigint[];
}

/** Runs a seccomp program over one seccomp_data and returns the SECCOMP_RET_* value. */
export function evaluate(prog: Insn[], d: SeccompData): number {
  const data = Buffer.alloc(SECCOMP_DATA_LEN);
  const w32 = (v: number, o: number) => (LE ? data.writeUInt32LE(v >>> 0, o) : data.writeUInt32BE(v >>> 0, o));
  const w64 = (v: bigint, o: number) => (LE ? data.writeBigUInt64LE(BigInt.asUintN(64, v), o) : data.writeBigUInt64BE(BigInt.asUintN(64, v), o));
  w32(d.nr, 0);
  w32(d.arch, 4);
  w64(d.ip ?? 0n, 8);
  for (let i = 0; i < 6; i++) w64(d.args?.[i] ?? 0n, 16 + 8 * i);
  let a = 0,
    x = 0;
  const mem = new Uint32Array(16);
  for (let pc = 0; pc < prog.length; pc++) {
    const { code, jt, jf, k } = prog[pc];
    const src = code & BPF_X ? x : k;
    switch (code & 0x07) {
      case BPF_LD:
      case BPF_LDX: {
        let v: number;
        const mode = code & 0xe0;
        if (mode === BPF_ABS) {
          if ((code & 0x18) !== BPF_W || k + 4 > SECCOMP_DATA_LEN || k % 4) throw new Error(`seccomp: bad load at ${pc}`);
          v = LE ? data.readUInt32LE(k) : data.readUInt32BE(k);
        } else if (mode === BPF_IMM) v = k;
        else if (mode === BPF_MEM) v = mem[k];
        else if (mode === BPF_LEN) v = SECCOMP_DATA_LEN;
        else throw new Error(`seccomp: unsupported load 0x${code.toString(16)} at ${pc}`);
        if ((code & 0x07) === BPF_LD) a = v >>> 0;
        else x = v >>> 0;
        break;
      }
      case BPF_ST:
        mem[k] = a;
        break;
      case BPF_STX:
        mem[k] = x;
        break;
      case BPF_ALU:
        a = alu(code & 0xf0, a, src, pc);
        break;
      case BPF_JMP: {
        const op = code & 0xf0;
        if (op === BPF_JA) {
          pc += k;
          break;
        }
        const c = op === BPF_JEQ ? a === src : op === BPF_JGT ? a > src : op === BPF_JGE ? a >= src : op === BPF_JSET ? (a & src) !== 0 : undefined;
        if (c === undefined) throw new Error(`seccomp: unsupported jump 0x${code.toString(16)} at ${pc}`);
        pc += c ? jt : jf;
        break;
      }
      case BPF_RET:
        return ((code & 0x18) === BPF_A ? a : k) >>> 0;
      case BPF_MISC:
        if (code & 0x80) a = x;
        else x = a;
        break; // TXA : TAX
    }
  }
  throw new Error('seccomp: program ran off its end');
}

function alu(op: number, a: number, v: number, pc: number): number {
  switch (op) {
    case 0x00:
      return (a + v) >>> 0;
    case 0x10:
      return (a - v) >>> 0;
    case 0x20:
      return Math.imul(a, v) >>> 0;
    case 0x30:
      if (v === 0) return 0;
      return Math.floor(a / v) >>> 0;
    case 0x40:
      return (a | v) >>> 0;
    case 0x50:
      return (a & v) >>> 0;
    case 0x60:
      return v >= 32 ? 0 : (a << v) >>> 0;
    case 0x70:
      return v >= 32 ? 0 : a >>> v;
    case 0x80:
      return -a >>> 0;
    case 0x90:
      return v === 0 ? 0 : (a % v) >>> 0;
    case 0xa0:
      return (a ^ v) >>> 0;
    default:
      throw new Error(`seccomp: unsupported ALU op 0x${op.toString(16)} at ${pc}`);
  }
}
