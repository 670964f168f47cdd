// The cgroup v2 device controller is an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE
// attached to the cgroup (cgroup-v2.rst "Device controller"; include/uapi/linux/bpf.h struct
// bpf_cgroup_dev_ctx). tsrun assembles it here from the rule set of device-rules.ts; the addon
// only loads and attaches the bytes. The same module interprets the program, so tests check the
// exact instructions the kernel runs against the rules' reference decision.
//
// ctx: u32 access_type = (access << 16) | type, u32 major, u32 minor
//   type: BPF_DEVCG_DEV_BLOCK 1, BPF_DEVCG_DEV_CHAR 2; access: MKNOD 1, READ 2, WRITE 4
// return 1 to allow, 0 to deny.
import type { DeviceRule, DeviceRuleSet, DeviceType } from './device-rules.js';
import { WILDCARD } from './device-rules.js';

export const BPF_PROG_TYPE_CGROUP_DEVICE = 15;
export const BPF_CGROUP_DEVICE = 6;
export const BPF_F_ALLOW_MULTI = 2;

export const DEV_TYPE: Record<DeviceType, number> = { b: 1, c: 2 };
export const ACCESS_BIT: Record<string, number> = { m: 1, r: 2, w: 4 };

// Opcodes (include/uapi/linux/bpf_common.h, bpf.h): class | op | source.
const LDXW = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_AND_K = 0x54;
const ALU32_RSH_K = 0x74;
const ALU32_MOV_K = 0xb4;
const ALU32_MOV_X = 0xbc;
const JMP32_JNE_K = 0x56; // BPF_JMP32 | BPF_JNE | BPF_K: 32-bit compare, no sign extension of imm
const JMP32_JNE_X = 0x5e;
const EXIT = 0x95;

export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

const I = (code: number, dst: number, src: number, off: number, imm: number): Insn => ({ code, dst, src, off, imm });

function accessMask(access: string): number {
  return [...access].reduce((m, x) => m | ACCESS_BIT[x]!, 0);
}

/** One rule: a block of checks that jump past its end on mismatch, then return the verdict. */
function ruleBlock(r: DeviceRule, verdict: number): Insn[] {
  const checks: Insn[][] = [];
  checks.push([I(JMP32_JNE_K, 3, 0, 0, DEV_TYPE[r.type])]);
  if (accessMask(r.access) !== 7) {
    // requested ⊆ allowed  ⇔  (requested & allowed) == requested
    checks.push([I(ALU32_MOV_X, 1, 4, 0, 0), I(ALU32_AND_K, 1, 0, 0, accessMask(r.access)), I(JMP32_JNE_X, 1, 4, 0, 0)]);
  }
  if (r.major !== WILDCARD) checks.push([I(JMP32_JNE_K, 5, 0, 0, r.major | 0)]);
  if (r.minor !== WILDCARD) checks.push([I(JMP32_JNE_K, 6, 0, 0, r.minor | 0)]);
  const flat = checks.flat();
  const tail = [I(ALU32_MOV_K, 0, 0, 0, verdict), I(EXIT, 0, 0, 0, 0)];
  const total = flat.length + tail.length;
  // Each conditional jump lands just after this block.
  return [...flat.map((ins, i) => (ins.code === JMP32_JNE_K || ins.code === JMP32_JNE_X ? { ...ins, off: total - i - 1 } : ins)), ...tail];
}

export function deviceFilterProgram(set: DeviceRuleSet): Insn[] {
  const prog: Insn[] = [
    I(LDXW, 2, 1, 0, 0), // r2 = access_type
    I(ALU32_MOV_X, 3, 2, 0, 0),
    I(ALU32_AND_K, 3, 0, 0, 0xffff), // w3 = type
    I(ALU32_MOV_X, 4, 2, 0, 0),
    I(ALU32_RSH_K, 4, 0, 0, 16), // w4 = access
    I(LDXW, 5, 1, 4, 0), // w5 = major
    I(LDXW, 6, 1, 8, 0), // w6 = minor
  ];
  const verdict = set.defaultAllow ? 0 : 1;
  for (const r of set.rules) prog.push(...ruleBlock(r, verdict));
  prog.push(I(ALU32_MOV_K, 0, 0, 0, set.defaultAllow ? 1 : 0), I(EXIT, 0, 0, 0, 0));
  return prog;
}

/** struct bpf_insn, 8 bytes each, little-endian (x86-64, arm64). */
export function encodeProgram(prog: Insn[]): Buffer {
  const buf = Buffer.alloc(prog.length * 8);
  prog.forEach((ins, i) => {
    buf.writeUInt8(ins.code, i * 8);
    buf.writeUInt8((ins.src << 4) | ins.dst, i * 8 + 1);
    buf.writeInt16LE(ins.off, i * 8 + 2);
    buf.writeInt32LE(ins.imm, i * 8 + 4);
  });
  return buf;
}

export function decodeProgram(buf: Buffer): Insn[] {
  const out: Insn[] = [];
  for (let o = 0; o < buf.length; o += 8) {
    const regs = buf.readUInt8(o + 1);
    out.push({ code: buf.readUInt8(o), dst: regs & 0xf, src: regs >> 4, off: buf.readInt16LE(o + 2), imm: buf.readInt32LE(o + 4) });
  }
  return out;
}

/**
 * Runs a program over one device access, for the opcodes deviceFilterProgram emits; anything
 * else throws. Registers are kept as unsigned 32-bit values (every op here is 32-bit).
 */
export function runDeviceProgram(prog: Insn[], type: DeviceType, major: number, minor: number, access: string): number {
  const ctx = [((accessMask(access) << 16) | DEV_TYPE[type]) >>> 0, major >>> 0, minor >>> 0];
  const r = new Array<number>(11).fill(0);
  for (let pc = 0, steps = 0; pc < prog.length && steps < 4096; pc++, steps++) {
    const ins = prog[pc]!;
    switch (ins.code) {
      case LDXW:
        if (ins.src !== 1 || ins.off % 4 || ins.off < 0 || ins.off > 8) throw new Error(`pc ${pc}: load outside the context`);
        r[ins.dst] = ctx[ins.off / 4]!;
        break;
      case ALU32_MOV_X:
        r[ins.dst] = r[ins.src]! >>> 0;
        break;
      case ALU32_MOV_K:
        r[ins.dst] = ins.imm >>> 0;
        break;
      case ALU32_AND_K:
        r[ins.dst] = (r[ins.dst]! & ins.imm) >>> 0;
        break;
      case ALU32_RSH_K:
        r[ins.dst] = r[ins.dst]! >>> ins.imm;
        break;
      case JMP32_JNE_K:
        if (r[ins.dst]! !== ins.imm >>> 0) pc += ins.off;
        break;
      case JMP32_JNE_X:
        if (r[ins.dst]! !== r[ins.src]!) pc += ins.off;
        break;
      case EXIT:
        return r[0]!;
      default:
        throw new Error(`pc ${pc}: opcode 0x${ins.code.toString(16)} not understood`);
    }
  }
  throw new Error('program fell off its end');
}
