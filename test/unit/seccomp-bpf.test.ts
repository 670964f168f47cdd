// The BPF helpers on their own: the ENOSYS prologue for each arch shape (runc patchbpf), without
// libseccomp, run through the evaluator; and the evaluator against hand-written programs.
import test from 'ava';
import { decodeProgram, encodeProgram, enosysPrologue, evaluate, X32_SYSCALL_BIT, type Insn } from '../../src/seccomp/seccomp-bpf.js';

const ENOSYS_RET = 0x00050026; // SECCOMP_RET_ERRNO | ENOSYS
const AFTER = 0x7fff0000; // what the stand-in "libseccomp program" after the prologue returns
const X86_64 = 0xc000003e,
  I386 = 0x40000003,
  S390X = 0x80000016,
  AARCH64 = 0xc00000b7;

// linux/filter.h opcodes, written out for hand-made programs.
const LD_ABS = 0x20,
  JEQ = 0x15,
  JGT = 0x25,
  RET_K = 0x06,
  ALU_AND = 0x54;
const ins = (code: number, k: number, jt = 0, jf = 0): Insn => ({ code, jt, jf, k });

/** Prologue followed by a one-instruction program that returns AFTER. */
function withTail(p: Insn[]): Insn[] {
  return [...p, ins(RET_K, AFTER)];
}

test('encode/decode round-trip in host byte order', (t) => {
  const prog = [ins(LD_ABS, 4), ins(JEQ, 0xc000003e, 1, 0), ins(RET_K, 0), ins(RET_K, 0x7fff0000)];
  const buf = encodeProgram(prog);
  t.is(buf.length, 32);
  t.deepEqual(decodeProgram(buf), prog);
  t.throws(() => decodeProgram(Buffer.alloc(12)), { message: /not a whole number of instructions/ });
});

test('evaluator: loads, ALU, jumps, returns', (t) => {
  // if (arch == X86_64 && (args[0].lo & 0xff) == 7) return 1; else return 2
  const prog = [ins(LD_ABS, 4), ins(JEQ, X86_64, 0, 4), ins(LD_ABS, 16), ins(ALU_AND, 0xff), ins(JEQ, 7, 0, 1), ins(RET_K, 1), ins(RET_K, 2)];
  t.is(evaluate(prog, { arch: X86_64, nr: 0, args: [0x107n] }), 1);
  t.is(evaluate(prog, { arch: X86_64, nr: 0, args: [0x108n] }), 2);
  t.is(evaluate(prog, { arch: I386, nr: 0, args: [7n] }), 2);
  t.throws(() => evaluate([ins(LD_ABS, 4)], { arch: 0, nr: 0 }), { message: /ran off its end/ });
  t.throws(() => evaluate([ins(LD_ABS, 64), ins(RET_K, 0)], { arch: 0, nr: 0 }), { message: /bad load/ });
  t.is(evaluate([ins(LD_ABS, 0), ins(JGT, 10, 0, 1), ins(RET_K, 5), ins(RET_K, 6)], { arch: 0, nr: 11 }), 5);
});

test('prologue: plain arch, nr above the maximum → ENOSYS, else on to the filter', (t) => {
  const p = withTail(enosysPrologue([{ auditArch: AARCH64, max: 300 }], ENOSYS_RET));
  t.is(evaluate(p, { arch: AARCH64, nr: 300 }), AFTER);
  t.is(evaluate(p, { arch: AARCH64, nr: 301 }), ENOSYS_RET);
  t.is(evaluate(p, { arch: AARCH64, nr: 0 }), AFTER);
  // Other arches are the filter's business.
  t.is(evaluate(p, { arch: X86_64, nr: 5000 }), AFTER);
});

test('prologue: x86_64 with and without x32', (t) => {
  const both = withTail(
    enosysPrologue(
      [
        { auditArch: X86_64, max: 257, maxX32: X32_SYSCALL_BIT | 547 },
        { auditArch: I386, max: 295 },
      ],
      ENOSYS_RET,
    ),
  );
  t.is(evaluate(both, { arch: X86_64, nr: 257 }), AFTER);
  t.is(evaluate(both, { arch: X86_64, nr: 435 }), ENOSYS_RET);
  t.is(evaluate(both, { arch: X86_64, nr: X32_SYSCALL_BIT | 300 }), AFTER); // x32 has its own, higher maximum
  t.is(evaluate(both, { arch: X86_64, nr: X32_SYSCALL_BIT | 548 }), ENOSYS_RET);
  t.is(evaluate(both, { arch: I386, nr: 295 }), AFTER);
  t.is(evaluate(both, { arch: I386, nr: 296 }), ENOSYS_RET);

  const amd64Only = withTail(enosysPrologue([{ auditArch: X86_64, max: 257 }], ENOSYS_RET));
  t.is(evaluate(amd64Only, { arch: X86_64, nr: 258 }), ENOSYS_RET);
  // x32 not in the filter: not ours to answer (libseccomp kills/denies it as a bad arch).
  t.is(evaluate(amd64Only, { arch: X86_64, nr: X32_SYSCALL_BIT | 9999 }), AFTER);

  const x32Only = withTail(enosysPrologue([{ auditArch: X86_64, maxX32: X32_SYSCALL_BIT | 10 }], ENOSYS_RET));
  t.is(evaluate(x32Only, { arch: X86_64, nr: 9999 }), AFTER);
  t.is(evaluate(x32Only, { arch: X86_64, nr: X32_SYSCALL_BIT | 11 }), ENOSYS_RET);
});

test('prologue: s390x syscall 0 (the multiplexer for unknown numbers) → ENOSYS', (t) => {
  const p = withTail(enosysPrologue([{ auditArch: S390X, max: 400, s390: true }], ENOSYS_RET));
  t.is(evaluate(p, { arch: S390X, nr: 0 }), ENOSYS_RET);
  t.is(evaluate(p, { arch: S390X, nr: 1 }), AFTER);
  t.is(evaluate(p, { arch: S390X, nr: 401 }), ENOSYS_RET);
});

test('prologue: every jump stays inside the prologue or lands on the first filter instruction', (t) => {
  const arches = Array.from({ length: 20 }, (_, i) => ({ auditArch: 0x1000 + i, max: 100 + i }));
  const p = enosysPrologue(arches, ENOSYS_RET);
  p.forEach((i, n) => {
    const isJmp = (i.code & 0x07) === 0x05;
    if (!isJmp) return;
    const targets = i.code === 0x05 ? [n + 1 + i.k] : [n + 1 + i.jt, n + 1 + i.jf];
    for (const to of targets) t.true(to <= p.length, `insn ${n} jumps to ${to} of ${p.length}`);
  });
  arches.forEach((a) => {
    t.is(evaluate(withTail(p), { arch: a.auditArch, nr: a.max + 1 }), ENOSYS_RET);
    t.is(evaluate(withTail(p), { arch: a.auditArch, nr: a.max }), AFTER);
  });
});
