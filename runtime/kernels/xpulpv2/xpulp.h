/* Internal: the Xpulpv2 instructions the xpulpv2 kernels use, encoded with `.insn` (Debian's riscv gcc and
 * binutils know no Xpulp mnemonic). One place for every encoding; kernels include this header only.
 *
 * Sources
 * -------
 *   - GVSoC gvsoc-core, models/cpu/iss/isa_gen/isa_pulpv2.py (the PULPv2 / RI5CY encodings: bit patterns and
 *     operand formats) and models/cpu/iss/include/isa/pulp_v2.hpp, isa_lib/int.h (the semantics);
 *   - the RI5CY user manual and the CV32E40P user manual (docs/source/corev_hw_loop.rst: hardware-loop rules);
 *   - the shared GVSoC README (../shared/tools/gvsoc/README.md): the encodings marked "verified" were executed on
 *     GVSoC pulp-open, checked against plain C and seen decoded under their name in an instruction trace. Every
 *     other encoding here is checked by bench/gvsoc's ISA self-test (isa_selftest.c) before any kernel runs.
 * These are the PULPv2 encodings (custom-0 0x0B, custom-1 0x2B, OP-V 0x57, custom-3 0x7B, OP 0x33 with PULP
 * funct7 values, OP 0x5B), NOT the later CORE-V cv.* ones.
 *
 * Two forms
 * ---------
 *   XP_<NAME>(operands...) expands to one line of assembly text ("...\n"), for the kernels' hand-scheduled asm
 *   blocks; operands are strings: register names ("a0", "s11") or gcc operand references ("%[acc]").
 *   xp_<name>(...) are inline functions around single instructions, for C code (gcc schedules them).
 *
 * Hardware loops (RI5CY / PULPv2 semantics, as GVSoC models them)
 * ---------------------------------------------------------------
 *   lp.setup L, rs1, uimmL: loop L (0 or 1) runs the instructions from pc+4 to pc + 2*uimmL (the LAST body
 *   instruction) rs1 times (count read once, at the setup). Loop 0 is the inner one when nested. Rules (RI5CY /
 *   CV32E40P; GVSoC does not enforce them, silicon does, so every kernel follows them):
 *     - the body is at least 3 instructions, contains no branch, jump, fence or privileged instruction, and no
 *       compressed instruction: every body is written inside ".option norvc" (XP_ASM_BEGIN), so that offsets
 *       count 4-byte instructions;
 *     - setup instruction, start and end are 4-byte aligned (the asm blocks start with ".balign 4" and are norvc);
 *     - nested: the outer loop's last instruction is at least 8 bytes after the inner loop's last instruction
 *       (at least one instruction between them);
 *     - the count is >= 1 (every caller guarantees it; a count of 0 is not defined on silicon);
 *     - a loop is entered only through its setup instruction.
 *   GNU as cannot put a forward label difference into an `.insn` immediate, so the body length is written as a
 *   number: XP_LP_SETUP("0", "%[n]", 24, "80") puts local label 80 on the set-up instruction, the body's last
 *   instruction carries label 81, and XP_LP_CHECK("80", "81", 24) makes the assembler fail if the body is not
 *   exactly 24 instructions (so a miscounted body cannot build).
 *
 * Registers: the asm blocks that need every register (the 4x4 MAC kernels) name them explicitly and list them
 * as clobbers; s0 is one of them, so those functions are compiled without a frame pointer (XP_NO_FRAME_POINTER,
 * gcc's default from -O1 on, forced here for -O0 builds).
 */
#ifndef DORY_XPULP_H
#define DORY_XPULP_H

#include <stdint.h>

/* DORY_XP_HOST_MODEL: the kernels' drivers compiled on the host with C models of their asm blocks (each asm block
 * has one, next to it), to test the drivers' logic against the portable twins quickly (tests/kernels). The asm
 * blocks themselves are checked on GVSoC (bench/gvsoc differential mode). */
#if !defined(DORY_XP_HOST_MODEL) && (!defined(__riscv) || __riscv_xlen != 32)
#error "xpulp.h: the xpulpv2 kernels are built only for 32-bit RISC-V PULP cluster cores (-DDORY_PLATFORM_PULP_OPEN)"
#endif

#define XP_STR_(x) #x
#define XP_STR(x) XP_STR_(x)

#if defined(__GNUC__) && !defined(__clang__)
#define XP_NO_FRAME_POINTER __attribute__((optimize("omit-frame-pointer")))
#else
#define XP_NO_FRAME_POINTER
#endif

/* An asm block's prologue and epilogue: no compressed instructions inside (hardware-loop offsets count 4-byte
 * instructions; RI5CY forbids RVC in loop bodies), 4-byte alignment for the loop set-up instructions. */
#define XP_ASM_BEGIN ".option push\n.option norvc\n.balign 4\n"
#define XP_ASM_END ".option pop\n"

/* ---- loads and stores with post-increment or register offset ------------------------------------------------ */

/* p.lw rd, imm(rs1!)   LW_POSTINC '------- ----- rs1 010 rd 0001011' (custom-0, I-type):
 * rd = *(int32 *)rs1; rs1 += imm (imm: signed 12 bits). 1 cycle, +1 if the next instruction reads rd. Verified. */
#define XP_LW_PI(rd, imm, rs1) ".insn i 0x0B, 2, " rd ", " XP_STR(imm) "(" rs1 ")\n"

/* p.lbu rd, imm(rs1!)  LBU_POSTINC '------- ----- rs1 100 rd 0001011': rd = *(uint8 *)rs1 (zero-extended);
 * rs1 += imm. Verified. */
#define XP_LBU_PI(rd, imm, rs1) ".insn i 0x0B, 4, " rd ", " XP_STR(imm) "(" rs1 ")\n"

/* p.lw rd, rs2(rs1)    LW_RR '0010000 rs2 rs1 111 rd 0000011' (LOAD opcode, funct3 7): rd = *(int32 *)(rs1 +
 * rs2), no increment. */
#define XP_LW_RR(rd, rs2, rs1) ".insn r 0x03, 7, 0x10, " rd ", " rs1 ", " rs2 "\n"

/* p.lw rd, rs2(rs1!)   LW_RR_POSTINC '0010000 rs2 rs1 111 rd 0001011': rd = *(int32 *)rs1; rs1 += rs2. */
#define XP_LW_RRPI(rd, rs2, rs1) ".insn r 0x0B, 7, 0x10, " rd ", " rs1 ", " rs2 "\n"

/* p.lbu rd, rs2(rs1!)  LBU_RR_POSTINC '0100000 rs2 rs1 111 rd 0001011': rd = *(uint8 *)rs1; rs1 += rs2. */
#define XP_LBU_RRPI(rd, rs2, rs1) ".insn r 0x0B, 7, 0x20, " rd ", " rs1 ", " rs2 "\n"

/* p.sw rs2, imm(rs1!)  SW_POSTINC '------- rs2 rs1 010 ----- 0101011' (custom-1, S-type): *(int32 *)rs1 = rs2;
 * rs1 += imm. Verified. */
#define XP_SW_PI(rs2, imm, rs1) ".insn s 0x2B, 2, " rs2 ", " XP_STR(imm) "(" rs1 ")\n"

/* p.sb rs2, imm(rs1!)  SB_POSTINC '------- rs2 rs1 000 ----- 0101011': *(uint8 *)rs1 = rs2; rs1 += imm.
 * Verified. */
#define XP_SB_PI(rs2, imm, rs1) ".insn s 0x2B, 0, " rs2 ", " XP_STR(imm) "(" rs1 ")\n"

/* p.sb rs2, rs3(rs1)   SB_RR '0000000 rs2 rs1 100 rs3 0100011' (STORE opcode, funct3 4; the offset register sits
 * in the rd field): *(uint8 *)(rs1 + rs3) = rs2, no increment. */
#define XP_SB_RR(rs2, rs3, rs1) ".insn r 0x23, 4, 0x00, " rs3 ", " rs1 ", " rs2 "\n"

/* p.sb rs2, rs3(rs1!)  SB_RR_POSTINC '0000000 rs2 rs1 100 rs3 0101011' (the increment register sits in the rd
 * field): *(uint8 *)rs1 = rs2; rs1 += rs3. */
#define XP_SB_RRPI(rs2, rs3, rs1) ".insn r 0x2B, 4, 0x00, " rs3 ", " rs1 ", " rs2 "\n"

/* ---- whole-register asm frames ------------------------------------------------------------------------------ */

/* An asm block that uses every allocatable register keeps its context struct's address in sp: XP_FRAME_ENTER
 * saves the caller's sp in the struct at byte offset SAVE and points sp at the struct (passed in a0);
 * XP_FRAME_LEAVE restores it and hands the struct back in a0. XP_CLOBBERS_ALL is such a block's clobber list
 * (sp, gp, tp and a0 excepted: a0 is the block's "+r" operand). */
#define XP_FRAME_ENTER(SAVE) "sw sp, " XP_STR(SAVE) "(a0)\n mv sp, a0\n"
#define XP_FRAME_LEAVE(SAVE) "mv a0, sp\n lw sp, " XP_STR(SAVE) "(sp)\n"
#define XP_CLOBBERS_ALL                                                                                           \
  "ra", "t0", "t1", "t2", "s0", "s1", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6",   \
      "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6", "memory"
/* A function NAME(CTX *ctx) that is one such block: BODY runs with sp = ctx (compressed code allowed; a body's
 * hardware loops switch it off around themselves). */
#define XP_FRAME_FN(NAME, CTX, SAVE, BODY)                                                                        \
  __attribute__((noinline)) XP_NO_FRAME_POINTER static void NAME(CTX *ctx) {                                    \
    register CTX *c __asm__("a0") = ctx;                                                                         \
    __asm__ volatile(".option push\n.option rvc\n" XP_FRAME_ENTER(SAVE) BODY XP_FRAME_LEAVE(SAVE) ".option pop\n" \
                     : "+r"(c)                                                                                   \
                     :                                                                                           \
                     : XP_CLOBBERS_ALL);                                                                         \
  }

/* ---- hardware loops ------------------------------------------------------------------------------------------ */

/* lp.setup L, rs1, uimmL  '------- ----- rs1 100 0000L 1111011' (custom-3): start = pc + 4, end = pc + 2*uimmL
 * (the last body instruction), count = rs1. `loop` is "0" or "1", n the number of body instructions, lbl a local
 * numeric label put on the set-up instruction. Verified (nested L1{L0} too). */
#define XP_LP_SETUP(loop, rs1, n, lbl) lbl ": .insn i 0x7B, 4, x" loop ", " rs1 ", 2*(" XP_STR(n) ")\n"
/* Assembly-time check that an outer loop's last instruction (label outer) is at least 8 bytes after the inner
 * loop's (label inner): RI5CY / CV32E40P's rule for nested hardware loops. */
#define XP_LP_NEST_CHECK(inner, outer) \
  ".if (" outer "b - " inner "b) < 8\n.error \"nested hardware loops end too close\"\n.endif\n"

/* Assembly-time check that the loop set up at label `start` has its last body instruction at label `last` and n
 * body instructions. */
#define XP_LP_CHECK(start, last, n) \
  ".if (" last "b - " start "b) != 4*(" XP_STR(n) ")\n.error \"hardware loop body length\"\n.endif\n"

/* ---- packed SIMD (OP-V 0x57), bytes ------------------------------------------------------------------------- */

/* pv.sdotusp.b rd, rs1, rs2  '1010100 rs2 rs1 001 rd 1010111': rd += sum_i u8(rs1.b[i]) * s8(rs2.b[i]).
 * 1 cycle; back to back on one rd without stall. Verified. */
#define XP_SDOTUSP_B(rd, rs1, rs2) ".insn r 0x57, 1, 0x54, " rd ", " rs1 ", " rs2 "\n"

/* pv.dotusp.b rd, rs1, rs2   '1000100 rs2 rs1 001 rd 1010111': rd = sum_i u8(rs1.b[i]) * s8(rs2.b[i]) (no
 * accumulation: starts a sum without zeroing rd first). */
#define XP_DOTUSP_B(rd, rs1, rs2) ".insn r 0x57, 1, 0x44, " rd ", " rs1 ", " rs2 "\n"

/* pv.sdotsp.b rd, rs1, rs2   '1011100 rs2 rs1 001 rd 1010111': rd += sum_i s8(rs1.b[i]) * s8(rs2.b[i]). Verified. */
#define XP_SDOTSP_B(rd, rs1, rs2) ".insn r 0x57, 1, 0x5C, " rd ", " rs1 ", " rs2 "\n"

/* pv.shuffle2.b rd, rs1, rs2 '1100100 rs2 rs1 001 rd 1010111': byte i of the result is byte (rs2.b[i] & 3) of
 * rs1 if bit 2 of rs2.b[i] is set, else of the old rd (isa_lib/int.h lib_VEC_SHUFFLE2_8, RISCV order). */
#define XP_SHUFFLE2_B(rd, rs1, rs2) ".insn r 0x57, 1, 0x64, " rd ", " rs1 ", " rs2 "\n"

/* pv.maxu.b rd, rs1, rs2     '0011100 rs2 rs1 001 rd 1010111': rd.b[i] = max(u8 rs1.b[i], u8 rs2.b[i]). */
#define XP_MAXU_B(rd, rs1, rs2) ".insn r 0x57, 1, 0x1C, " rd ", " rs1 ", " rs2 "\n"

/* ---- scalar ALU (OP 0x33 with PULP funct7) ------------------------------------------------------------------ */

/* p.mac rd, rs1, rs2  '0100001 rs2 rs1 000 rd 0110011': rd += rs1 * rs2 (32-bit, wrapping). 1 cycle. Verified. */
#define XP_MAC(rd, rs1, rs2) ".insn r 0x33, 0, 0x21, " rd ", " rs1 ", " rs2 "\n"

/* p.max / p.min rd, rs1, rs2  '0000010 rs2 rs1 110/100 rd 0110011': signed max / min. */
#define XP_MAX(rd, rs1, rs2) ".insn r 0x33, 6, 0x02, " rd ", " rs1 ", " rs2 "\n"
#define XP_MIN(rd, rs1, rs2) ".insn r 0x33, 4, 0x02, " rd ", " rs1 ", " rs2 "\n"

/* p.clipu rd, rs1, rs2  '0001010 rs2 rs1 110 rd 0110011': rd = rs1 <= 0 ? 0 : (rs1 >= rs2 ? rs2 : rs1), signed
 * comparisons (lib_CLIPU): clamp(rs1, 0, rs2) for rs2 >= 0. */
#define XP_CLIPU(rd, rs1, rs2) ".insn r 0x33, 6, 0x0A, " rd ", " rs1 ", " rs2 "\n"

/* p.addN rd, rs1, rs2 (register form; RI5CY's p.addNr)  '0100000 rs2 rs1 010 rd 1011011': rd = (int32)(rd + rs1)
 * >> (rs2 & 31), arithmetic, the sum wrapping (isa_pulpv2.py p.addN, Format_RRRR2: rd is also a source;
 * isa_lib/int.h lib_ADD_NR). 1 cycle. With p.mac rd, rd, m-1 (rd = rd * m) it is a requantization's
 * (sum * m + a) >> s in two instructions and no temporary register. */
#define XP_ADDN_R(rd, rs1, rs2) ".insn r 0x5B, 2, 0x20, " rd ", " rs1 ", " rs2 "\n"

/* ---- the same as C inline functions -------------------------------------------------------------------------- */

#ifndef DORY_XP_HOST_MODEL

static inline int32_t xp_sdotusp_b(int32_t acc, uint32_t u8x4, uint32_t s8x4) {
  __asm__(XP_SDOTUSP_B("%0", "%1", "%2") : "+r"(acc) : "r"(u8x4), "r"(s8x4));
  return acc;
}
static inline int32_t xp_dotusp_b(uint32_t u8x4, uint32_t s8x4) {
  int32_t r;
  __asm__(XP_DOTUSP_B("%0", "%1", "%2") : "=r"(r) : "r"(u8x4), "r"(s8x4));
  return r;
}
static inline int32_t xp_sdotsp_b(int32_t acc, uint32_t s8x4a, uint32_t s8x4b) {
  __asm__(XP_SDOTSP_B("%0", "%1", "%2") : "+r"(acc) : "r"(s8x4a), "r"(s8x4b));
  return acc;
}
static inline uint32_t xp_shuffle2_b(uint32_t old_rd, uint32_t rs1, uint32_t sel) {
  __asm__(XP_SHUFFLE2_B("%0", "%1", "%2") : "+r"(old_rd) : "r"(rs1), "r"(sel));
  return old_rd;
}
static inline uint32_t xp_maxu_b(uint32_t a, uint32_t b) {
  uint32_t r;
  __asm__(XP_MAXU_B("%0", "%1", "%2") : "=r"(r) : "r"(a), "r"(b));
  return r;
}
static inline int32_t xp_mac(int32_t acc, int32_t a, int32_t b) {
  __asm__(XP_MAC("%0", "%1", "%2") : "+r"(acc) : "r"(a), "r"(b));
  return acc;
}
static inline int32_t xp_max(int32_t a, int32_t b) {
  int32_t r;
  __asm__(XP_MAX("%0", "%1", "%2") : "=r"(r) : "r"(a), "r"(b));
  return r;
}
static inline int32_t xp_min(int32_t a, int32_t b) {
  int32_t r;
  __asm__(XP_MIN("%0", "%1", "%2") : "=r"(r) : "r"(a), "r"(b));
  return r;
}
static inline int32_t xp_clipu(int32_t a, int32_t hi) {
  int32_t r;
  __asm__(XP_CLIPU("%0", "%1", "%2") : "=r"(r) : "r"(a), "r"(hi));
  return r;
}
static inline int32_t xp_addn_r(int32_t acc, int32_t a, int32_t shift) {
  __asm__(XP_ADDN_R("%0", "%1", "%2") : "+r"(acc) : "r"(a), "r"(shift));
  return acc;
}

#else /* DORY_XP_HOST_MODEL: C definitions (GVSoC isa_lib semantics) */

static inline int32_t xp_dot_us_(uint32_t a, uint32_t b) {
  int32_t s = 0;
  int i;
  for (i = 0; i < 4; ++i) s += (int32_t)((a >> (8 * i)) & 0xFFu) * (int32_t)(int8_t)(uint8_t)(b >> (8 * i));
  return s;
}
static inline int32_t xp_sdotusp_b(int32_t acc, uint32_t u8x4, uint32_t s8x4) {
  return (int32_t)((uint32_t)acc + (uint32_t)xp_dot_us_(u8x4, s8x4));
}
static inline int32_t xp_dotusp_b(uint32_t u8x4, uint32_t s8x4) { return xp_dot_us_(u8x4, s8x4); }
static inline int32_t xp_sdotsp_b(int32_t acc, uint32_t a, uint32_t b) {
  int32_t s = 0;
  int i;
  for (i = 0; i < 4; ++i) s += (int32_t)(int8_t)(uint8_t)(a >> (8 * i)) * (int32_t)(int8_t)(uint8_t)(b >> (8 * i));
  return (int32_t)((uint32_t)acc + (uint32_t)s);
}
static inline uint32_t xp_shuffle2_b(uint32_t old_rd, uint32_t rs1, uint32_t sel) {
  uint32_t r = 0;
  int i;
  for (i = 0; i < 4; ++i) {
    const uint32_t s = (sel >> (8 * i)) & 7u, src = (s & 4u) ? rs1 : old_rd;
    r |= ((src >> (8 * (s & 3u))) & 0xFFu) << (8 * i);
  }
  return r;
}
static inline uint32_t xp_maxu_b(uint32_t a, uint32_t b) {
  uint32_t r = 0;
  int i;
  for (i = 0; i < 4; ++i) {
    const uint32_t x = (a >> (8 * i)) & 0xFFu, y = (b >> (8 * i)) & 0xFFu;
    r |= (x > y ? x : y) << (8 * i);
  }
  return r;
}
static inline int32_t xp_mac(int32_t acc, int32_t a, int32_t b) {
  return (int32_t)((uint32_t)acc + (uint32_t)a * (uint32_t)b);
}
static inline int32_t xp_max(int32_t a, int32_t b) { return a > b ? a : b; }
static inline int32_t xp_min(int32_t a, int32_t b) { return a < b ? a : b; }
static inline int32_t xp_clipu(int32_t a, int32_t hi) { return a <= 0 ? 0 : (a >= hi ? hi : a); }
static inline int32_t xp_addn_r(int32_t acc, int32_t a, int32_t shift) {
  return (int32_t)((uint32_t)acc + (uint32_t)a) >> (shift & 31);
}

#endif /* DORY_XP_HOST_MODEL */

#endif /* DORY_XPULP_H */
