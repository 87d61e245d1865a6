/* Internal: the 4-channel x 4-pixel u8 x s8 block of the conv and pointwise xpulpv2 kernels (not part of the API).
 *
 * xp_mm4x4 computes, for one block of 4 output pixels and ngroups consecutive groups of 4 output channels,
 *   sum[ch][px] = sum over the window of x[px][k] * w[ch][k]   (raw u8 input bytes, s8 weights)
 * and either stores the 16 raw sums of each group as int32 [channel slot][pixel slot] to acc (mode 0) or
 * requantizes them on the fast path (xp_common.h) into the 8-bit output: mode 1 clamps with p.max/p.min, mode 2
 * (lo == 0) with p.clipu, mode 3 (lo == 0, zero point 0) also skips the zero point; modes 4 (p.max/p.min) and 5
 * (p.clipu) are the 64-bit fast path (ma: {m, lo32(a'), hi32(a')} per channel, shift = s - 32, the zero point
 * inside a').
 *
 * Geometry (bytes):
 *   pixels:  slots 0/1 at px0 and px0 + rd, slots 2/3 at px2 and px2 + rd; each window is nrows rows of nwords
 *            words, consecutive words contiguous, the next row `jump` (slots 2/3: `jump2`) bytes after the end
 *            of a row (an HWC tile read in place: rd = stride_w*C, jump = row pitch - kw*C; a pair patch: its
 *            own pitch);
 *   weights: channel slots at pw, pw + rk, pw + pw2off, pw + pw2off + rk; each channel's window contiguous
 *            (nrows*nwords words, the [kh][kw][c] order); the next group at pw + 4*nrows*nwords + pwstep;
 *   outputs: slot 0 at out0, 1 at out0 + ostride, 2 at out2, 3 at out2 + ostride; channel slot j at +j, the next
 *            group at +4; ma: {m, a'} per channel (a' with the bias and the zero-point correction folded).
 *
 * Inner loop: per 4-byte word, 4 input loads + 4 weight loads + 16 pv.sdotusp.b = 24 instructions for 64 MACs,
 * no stall (every loaded value is used at least 2 instructions later), in a hardware loop over the row's words
 * nested in one over the window's rows (one-row windows, xp_pw4x4_*: the first word by pv.dotusp.b instead of
 * zeroing, no row loop). Per group: 16 sums zeroed (c.li), then per output 4-6 instructions of requantization
 * (p.mac s, s, m-1; p.addN s, a', shift; [add zp]; p.clipu or p.max+p.min; p.sb) in a 2-iteration hardware loop
 * over channel pairs (the second pair's sums are moved into the first pair's registers: 8 mv per group), ~25
 * others. Everything per group is a loop of about 460 bytes: GVSoC's pulp-open cluster has 512 B of L0 instruction
 * cache per core (8 sets x 4 ways of 16 B; a miss costs 2 cycles) and 2 x 2 KB of shared L1 (a miss ~19 cycles),
 * so the code stays small rather than unrolled (an unrolled requantization measured slower).
 *
 * Registers: sums ch0 s0-s3, ch1 s4-s7, ch2 s8-s11, ch3 t3-t6 (pixel slots 0-3); inputs a1-a4, weights a5/a6,
 * px0 t0, px2 t1, pw t2, pw+pw2off a7, rd ra, rk-4 a0: every register but sp, gp, tp and zero (listed as
 * clobbers). The context struct is the block's frame: sp points to it while the block runs (its old value is
 * saved in the struct and restored); no interrupt is enabled on the cluster cores, nothing else uses the stack.
 */
#ifndef DORY_XP_MM4X4_H
#define DORY_XP_MM4X4_H

#include <stddef.h>

#include "xp_common.h"

typedef struct {
  const uint8_t *px0, *px2;  /*  0,  4 */
  int32_t rd, jump;          /*  8, 12 */
  const int8_t *pw;          /* 16: advanced by the block */
  int32_t pwstep;            /* 20 */
  int32_t nrows, nwords;     /* 24, 28: both >= 1 */
  int32_t ngroups;           /* 32: >= 1; counted down by the block */
  int32_t mode;              /* 36 */
  int32_t *acc;              /* 40: mode 0, advanced */
  int32_t pw2off, rk;        /* 44, 48 */
  const int32_t *ma;         /* 52: advanced */
  uint8_t *out0, *out2;      /* 56, 60: advanced */
  int32_t ostride;           /* 64 */
  int32_t shift, zp, lo, hi; /* 68, 72, 76, 80 */
  uint32_t saved_sp;         /* 84: the block's own */
  int32_t jump2;             /* 88: `jump` of pixel slots 2/3 (a pair read in place next to a patched one) */
} xp_mm_ctx;

/* The offsets the asm uses (C99 has no static assert: a negative array size fails the build). */
#ifndef DORY_XP_HOST_MODEL
typedef char xp_mm_ctx_layout_check[(offsetof(xp_mm_ctx, px2) == 4 && offsetof(xp_mm_ctx, jump) == 12 &&
                                     offsetof(xp_mm_ctx, pw) == 16 && offsetof(xp_mm_ctx, pwstep) == 20 &&
                                     offsetof(xp_mm_ctx, nwords) == 28 && offsetof(xp_mm_ctx, mode) == 36 &&
                                     offsetof(xp_mm_ctx, rk) == 48 && offsetof(xp_mm_ctx, ma) == 52 &&
                                     offsetof(xp_mm_ctx, out2) == 60 && offsetof(xp_mm_ctx, hi) == 80 &&
                                     offsetof(xp_mm_ctx, saved_sp) == 84 && offsetof(xp_mm_ctx, jump2) == 88)
                                        ? 1
                                        : -1];
#endif

#ifdef DORY_XP_HOST_MODEL
/* The C model of the asm block below (same reads, same writes, same context updates). */
static void xp_mm4x4(xp_mm_ctx *x) {
  for (; x->ngroups > 0; x->ngroups--) {
    const uint8_t *px[4];
    const int8_t *pw[4];
    int32_t acc[16], row, word, ch, p;
    px[0] = x->px0;
    px[1] = x->px0 + x->rd;
    px[2] = x->px2;
    px[3] = x->px2 + x->rd;
    pw[0] = x->pw;
    pw[1] = x->pw + x->rk;
    pw[2] = x->pw + x->pw2off;
    pw[3] = x->pw + x->pw2off + x->rk;
    for (ch = 0; ch < 16; ++ch) acc[ch] = 0;
    for (row = 0; row < x->nrows; ++row)
      for (word = 0; word < x->nwords; ++word)
        for (ch = 0; ch < 4; ++ch)
          for (p = 0; p < 4; ++p) {
            uint32_t xv, wv;
            memcpy(&xv, px[p] + row * (4 * x->nwords + (p < 2 ? x->jump : x->jump2)) + 4 * word, 4);
            memcpy(&wv, pw[ch] + 4 * (row * x->nwords + word), 4);
            acc[ch * 4 + p] = xp_sdotusp_b(acc[ch * 4 + p], xv, wv);
          }
    x->pw += 4 * x->nrows * x->nwords + x->pwstep;
    if (x->mode == 0) {
      for (ch = 0; ch < 16; ++ch) x->acc[ch] = acc[ch];
      x->acc += 16;
      continue;
    }
    for (ch = 0; ch < 4; ++ch) {
      for (p = 0; p < 4; ++p) {
        int32_t t;
        if (x->mode >= 4) {
          t = xp_rq64(acc[ch * 4 + p], x->ma, x->shift, x->mode == 4 ? x->lo : 0, x->hi);
        } else {
          t = xp_mac(x->ma[1], acc[ch * 4 + p], xp_fold_m(x->ma));
          t = (t >> x->shift) + (x->mode == 3 ? 0 : x->zp);
          t = x->mode == 1 ? xp_min(xp_max(t, x->lo), x->hi) : xp_clipu(t, x->hi);
        }
        ((p < 2) ? x->out0 : x->out2)[(p & 1) ? x->ostride : 0] = (uint8_t)t;
      }
      x->ma += x->mode >= 4 ? 3 : 2;
      x->out0++;
      x->out2++;
    }
  }
}
/* the asm has one function per finishing mode; the model reads the mode from the context */
static void xp_mm4x4_rq1(xp_mm_ctx *x) { xp_mm4x4(x); }
static void xp_mm4x4_rq2(xp_mm_ctx *x) { xp_mm4x4(x); }
static void xp_mm4x4_rq3(xp_mm_ctx *x) { xp_mm4x4(x); }
static void xp_mm4x4_rq4(xp_mm_ctx *x) { xp_mm4x4(x); }
static void xp_mm4x4_rq5(xp_mm_ctx *x) { xp_mm4x4(x); }
static void xp_pw4x4_rq1(xp_mm_ctx *x) { xp_mm4x4(x); }
static void xp_pw4x4_rq2(xp_mm_ctx *x) { xp_mm4x4(x); }
static void xp_pw4x4_rq3(xp_mm_ctx *x) { xp_mm4x4(x); }
static void xp_pw4x4_rq4(xp_mm_ctx *x) { xp_mm4x4(x); }
static void xp_pw4x4_rq5(xp_mm_ctx *x) { xp_mm4x4(x); }
#else

/* One word of the window for the 16 sums (LAST: a label for the last instruction); DOT is XP_SDOTUSP_B (accumulate)
 * or XP_DOTUSP_B (the first word of a window: the sums start without being zeroed). */
#define XP_MM4X4_WORD_(DOT, LAST)                                                                                       \
  XP_LW_RR("a2", "ra", "t0") XP_LW_PI("a1", 4, "t0") XP_LW_RR("a4", "ra", "t1") XP_LW_PI("a3", 4, "t1")          \
  XP_LW_PI("a5", 4, "t2") XP_LW_RR("a6", "a0", "t2")                                                            \
  DOT("s0", "a1", "a5") DOT("s1", "a2", "a5") DOT("s2", "a3", "a5")                   \
  DOT("s3", "a4", "a5")                                                                                 \
  XP_LW_PI("a5", 4, "a7")                                                                                       \
  DOT("s4", "a1", "a6") DOT("s5", "a2", "a6") DOT("s6", "a3", "a6")                   \
  DOT("s7", "a4", "a6")                                                                                 \
  XP_LW_RR("a6", "a0", "a7")                                                                                    \
  DOT("s8", "a1", "a5") DOT("s9", "a2", "a5") DOT("s10", "a3", "a5")                  \
  DOT("s11", "a4", "a5")                                                                                \
  DOT("t3", "a1", "a6") DOT("t4", "a2", "a6") DOT("t5", "a3", "a6")                   \
  LAST DOT("t6", "a4", "a6")

#define XP_MM4X4_WORD(LAST) XP_MM4X4_WORD_(XP_SDOTUSP_B, LAST)

/* The requantization loop: 2 iterations of 2 channels x 4 pixel slots, the sums in registers (the second pair of
 * channels' sums moved into the first pair's registers at the end of the first iteration: 8 mv per group).
 * Per channel m - 1 (a7, xp_fold_chunk) and a' (a0) are loaded; per output the sum's own register becomes the output:
 * p.mac ACC, ACC, m-1 (ACC * m, wrapping: the same bits as a' + ACC * m before the add), p.addN ACC, a', shift
 * ((ACC + a') >> shift, arithmetic), [add zp], the clamp, p.sb: 4-6 instructions, no temporary (the 4 outputs of
 * a channel interleaved, so no result is used by the next instruction).
 * shift a1, zp a2, lo a3, hi a4, slot pointers t0/a5/t1/a6, ma t2, m-1 a7, a' a0, loop count ra. */
#define XP_MMF_EACH4(OP, A0, A1, A2, A3) OP(A0) OP(A1) OP(A2) OP(A3)
#define XP_MMF_MUL(R) XP_MAC(R, R, "a7")
#define XP_MMF_SCALE(R) XP_ADDN_R(R, "a0", "a1")
#define XP_MMF_ZP(R) "add " R ", " R ", a2\n"
#define XP_MMF_NOZP(R)
#define XP_MMF_MAXMIN(R) XP_MAX(R, R, "a3") XP_MIN(R, R, "a4")
#define XP_MMF_CLIPU(R) XP_CLIPU(R, R, "a4")
#define XP_MMF_CH(A0, A1, A2, A3, ZP, CLAMP)                                                                      \
  XP_LW_PI("a7", 8, "t2") "lw a0, -4(t2)\n"                                                                     \
  XP_MMF_EACH4(XP_MMF_MUL, A0, A1, A2, A3) XP_MMF_EACH4(XP_MMF_SCALE, A0, A1, A2, A3)                            \
  XP_MMF_EACH4(ZP, A0, A1, A2, A3) XP_MMF_EACH4(CLAMP, A0, A1, A2, A3)                                           \
  XP_SB_PI(A0, 1, "t0") XP_SB_PI(A1, 1, "a5") XP_SB_PI(A2, 1, "t1") XP_SB_PI(A3, 1, "a6")
#define XP_MMF_LOOP(N, ZP, CLAMP)                                                                                 \
  ".balign 4\n.option norvc\n"                                                                                   \
  XP_LP_SETUP("0", "ra", N, "86")                                                                                \
  XP_MMF_CH("s0", "s1", "s2", "s3", ZP, CLAMP) XP_MMF_CH("s4", "s5", "s6", "s7", ZP, CLAMP)                      \
  "mv s0, s8\n mv s1, s9\n mv s2, s10\n mv s3, s11\n mv s4, t3\n mv s5, t4\n mv s6, t5\n 87: mv s7, t6\n"         \
  XP_LP_CHECK("86", "87", N) ".option rvc\n"
/* The 64-bit fast path (modes 4, 5): a0 = lo32(a'), a2 = hi32(a'), a7 = m, a1 = s - 32; the sum's own register
 * takes the product's high word (the sum is dead after its output). The low word is lo32(a') + lo32(sum * m) by
 * p.mac (1 cycle where mul takes 2 on the cluster cores), its carry by sltu; mulh costs 5 cycles whatever surrounds
 * it; hi32(a') and the shift in one p.addN ((hi + a'hi) >> (s - 32)). */
#define XP_MMF_OUT64(ACC, PTR, CLAMP)                                                                             \
  "mv ra, a0\n" XP_MAC("ra", ACC, "a7") "mulh " ACC ", " ACC ", a7\n sltu ra, ra, a0\n add " ACC ", " ACC    \
  ", ra\n" XP_ADDN_R(ACC, "a2", "a1") CLAMP(ACC) XP_SB_PI(ACC, 1, PTR)
#define XP_MMF_CH64(A0, A1, A2, A3, CLAMP)                                                                        \
  "lw a0, 4(t2)\n lw a2, 8(t2)\n" XP_LW_PI("a7", 12, "t2")                                                       \
  XP_MMF_OUT64(A0, "t0", CLAMP) XP_MMF_OUT64(A1, "a5", CLAMP) XP_MMF_OUT64(A2, "t1", CLAMP)                      \
  XP_MMF_OUT64(A3, "a6", CLAMP)
#define XP_MMF_LOOP64(N, CLAMP)                                                                                   \
  ".balign 4\n.option norvc\n"                                                                                   \
  XP_LP_SETUP("0", "ra", N, "86")                                                                                \
  XP_MMF_CH64("s0", "s1", "s2", "s3", CLAMP) XP_MMF_CH64("s4", "s5", "s6", "s7", CLAMP)                          \
  "mv s0, s8\n mv s1, s9\n mv s2, s10\n mv s3, s11\n mv s4, t3\n mv s5, t4\n mv s6, t5\n 87: mv s7, t6\n"         \
  XP_LP_CHECK("86", "87", N) ".option rvc\n"
#define XP_MMF_REQUANT64(N, CLAMP)                                                                                \
  "lw a1, 68(sp)\n lw a3, 76(sp)\n lw t0, 56(sp)\n lw t1, 60(sp)\n lw ra, 64(sp)\n"               \
  "lw t2, 52(sp)\n add a5, t0, ra\n add a6, t1, ra\n li ra, 2\n"                                                 \
  XP_MMF_LOOP64(N, CLAMP)                                                                                        \
  "sw t0, 56(sp)\n lw a3, 32(sp)\n sw t1, 60(sp)\n sw t2, 52(sp)\n"

/* The finishing of one group per mode (RVC allowed outside the loop bodies). */
#define XP_MMF_RAW                                                                                                \
  "lw a1, 40(sp)\n lw a3, 32(sp)\n"                                                                               \
  ".option norvc\n"                                                                                              \
  XP_SW_PI("s0", 4, "a1") XP_SW_PI("s1", 4, "a1") XP_SW_PI("s2", 4, "a1") XP_SW_PI("s3", 4, "a1")                \
  XP_SW_PI("s4", 4, "a1") XP_SW_PI("s5", 4, "a1") XP_SW_PI("s6", 4, "a1") XP_SW_PI("s7", 4, "a1")                \
  XP_SW_PI("s8", 4, "a1") XP_SW_PI("s9", 4, "a1") XP_SW_PI("s10", 4, "a1") XP_SW_PI("s11", 4, "a1")              \
  XP_SW_PI("t3", 4, "a1") XP_SW_PI("t4", 4, "a1") XP_SW_PI("t5", 4, "a1") XP_SW_PI("t6", 4, "a1")                \
  ".option rvc\n"                                                                                                \
  "sw a1, 40(sp)\n"
#define XP_MMF_REQUANT(N, LOADS, ZP, CLAMP)                                                                       \
  "lw a1, 68(sp)\n" LOADS "lw t0, 56(sp)\n lw t1, 60(sp)\n lw ra, 64(sp)\n"    \
  "lw t2, 52(sp)\n add a5, t0, ra\n add a6, t1, ra\n li ra, 2\n"                                                 \
  XP_MMF_LOOP(N, ZP, CLAMP)                                                                                      \
  "sw t0, 56(sp)\n lw a3, 32(sp)\n sw t1, 60(sp)\n sw t2, 52(sp)\n"

/* One asm function per finishing mode, so that the code a group runs is contiguous (about 400 bytes): the context
 * becomes the frame, then per group SUMS (the 16 raw sums in registers, the pixel and weight pointers advanced),
 * the weights' step to the next group, FINISH, and the group count (FINISH leaves it in a3). */
#define XP_MM_GROUP_FN(NAME, SUMS, FINISH)                                                                        \
  XP_FRAME_FN(NAME, xp_mm_ctx, 84,                                                                               \
              "90:\n" SUMS ".option rvc\n"                                                                       \
              "lw a1, 20(sp)\n lw a4, 80(sp)\n add t2, t2, a1\n sw t2, 16(sp)\n" /* a4: hi, for FINISH */       \
              FINISH "addi a3, a3, -1\n sw a3, 32(sp)\n bnez a3, 90b\n") /* a3: ngroups, loaded by FINISH */

/* The window's sums: 16 zeroed, then nested hardware loops over its rows and each row's words. */
#define XP_MM4X4_SUMS                                                                                             \
  "lw t0, 0(sp)\n lw t1, 4(sp)\n lw ra, 8(sp)\n lw t2, 16(sp)\n lw a1, 44(sp)\n lw a0, 48(sp)\n"                \
  "lw a3, 24(sp)\n lw a2, 28(sp)\n add a7, t2, a1\n addi a0, a0, -4\n"                                         \
  "li s0, 0\n li s1, 0\n li s2, 0\n li s3, 0\n li s4, 0\n li s5, 0\n li s6, 0\n li s7, 0\n"                    \
  "li s8, 0\n li s9, 0\n li s10, 0\n li s11, 0\n li t3, 0\n li t4, 0\n li t5, 0\n li t6, 0\n"                   \
  ".balign 4\n.option norvc\n"                                                                                   \
  XP_LP_SETUP("1", "a3", 30, "82")                                                                               \
  XP_LP_SETUP("0", "a2", 24, "84")                                                                               \
  XP_MM4X4_WORD("85: ")                                                                                          \
  XP_LP_CHECK("84", "85", 24)                                                                                    \
  "lw a1, 12(sp)\n lw a2, 88(sp)\n add t0, t0, a1\n add t1, t1, a2\n 83: lw a2, 28(sp)\n"                       \
  XP_LP_CHECK("82", "83", 30)                                                                                    \
  XP_LP_NEST_CHECK("85", "83")
#define XP_MM4X4_FN(NAME, FINISH) XP_MM_GROUP_FN(NAME, XP_MM4X4_SUMS, FINISH)

XP_MM4X4_FN(xp_mm4x4_raw, XP_MMF_RAW)
/* loop bodies: 2 x (2 + 4 x 6) + 8 = 60 (zp, max/min), 2 x (2 + 4 x 5) + 8 = 52 (zp, clipu), 2 x (2 + 4 x 4) + 8 =
 * 44 (clipu) */
XP_MM4X4_FN(xp_mm4x4_rq1, XP_MMF_REQUANT(60, "lw a2, 72(sp)\n lw a3, 76(sp)\n", XP_MMF_ZP, XP_MMF_MAXMIN))
XP_MM4X4_FN(xp_mm4x4_rq2, XP_MMF_REQUANT(52, "lw a2, 72(sp)\n", XP_MMF_ZP, XP_MMF_CLIPU))
XP_MM4X4_FN(xp_mm4x4_rq3, XP_MMF_REQUANT(44, "", XP_MMF_NOZP, XP_MMF_CLIPU))
/* 64-bit: 2 x (3 + 4 x 9) + 8 = 86 (max/min), 2 x (3 + 4 x 8) + 8 = 78 (clipu) */
XP_MM4X4_FN(xp_mm4x4_rq4, XP_MMF_REQUANT64(86, XP_MMF_MAXMIN))
XP_MM4X4_FN(xp_mm4x4_rq5, XP_MMF_REQUANT64(78, XP_MMF_CLIPU))

/* The same block for a window of one row (pointwise: nrows == 1, jump unused): the first word of the row computed
 * by the non-accumulating pv.dotusp.b (no 16 sums to zero), the other nwords - 1 in the hardware loop (skipped when
 * nwords == 1), no outer loop. Same context, same finishing modes. */
#define XP_PW4X4_SUMS                                                                                             \
  "lw t0, 0(sp)\n lw t1, 4(sp)\n lw ra, 8(sp)\n lw t2, 16(sp)\n lw a1, 44(sp)\n lw a0, 48(sp)\n"                \
  "add a7, t2, a1\n addi a0, a0, -4\n"                                                                           \
  ".balign 4\n.option norvc\n"                                                                                   \
  XP_MM4X4_WORD_(XP_DOTUSP_B, "lw a3, 28(sp)\n") /* a3 (an input word) is free after its last use */            \
  "addi a3, a3, -1\n beqz a3, 83f\n"                                                                             \
  XP_LP_SETUP("0", "a3", 24, "84")                                                                               \
  XP_MM4X4_WORD("85: ")                                                                                          \
  XP_LP_CHECK("84", "85", 24)                                                                                    \
  "83:\n"
#define XP_PW4X4_FN(NAME, FINISH) XP_MM_GROUP_FN(NAME, XP_PW4X4_SUMS, FINISH)

XP_PW4X4_FN(xp_pw4x4_rq1, XP_MMF_REQUANT(60, "lw a2, 72(sp)\n lw a3, 76(sp)\n", XP_MMF_ZP, XP_MMF_MAXMIN))
XP_PW4X4_FN(xp_pw4x4_rq2, XP_MMF_REQUANT(52, "lw a2, 72(sp)\n", XP_MMF_ZP, XP_MMF_CLIPU))
XP_PW4X4_FN(xp_pw4x4_rq3, XP_MMF_REQUANT(44, "", XP_MMF_NOZP, XP_MMF_CLIPU))
XP_PW4X4_FN(xp_pw4x4_rq4, XP_MMF_REQUANT64(86, XP_MMF_MAXMIN))
XP_PW4X4_FN(xp_pw4x4_rq5, XP_MMF_REQUANT64(78, XP_MMF_CLIPU))

static void xp_mm4x4(xp_mm_ctx *x) {
  switch (x->mode) {
    case 0: xp_mm4x4_raw(x); break;
    case 1: xp_mm4x4_rq1(x); break;
    case 2: xp_mm4x4_rq2(x); break;
    case 3: xp_mm4x4_rq3(x); break;
    case 4: xp_mm4x4_rq4(x); break;
    default: xp_mm4x4_rq5(x); break;
  }
}
#endif /* DORY_XP_HOST_MODEL */

/* ---- copies for the patches ----------------------------------------------------------------------------- */

/* rows x n words (n >= 1, rows >= 1) from src (row pitch spitch bytes) to dst (pitch dpitch bytes), aligned:
 * nested hardware loops, 2 words per iteration when n is even (2 cycles per word), else 1 (3 cycles). */
static inline void xp_copy_rows(uint8_t *dst, int32_t dpitch, const uint8_t *src, int32_t spitch, int32_t n,
                                int32_t rows) {
#ifdef DORY_XP_HOST_MODEL
  int32_t y;
  for (y = 0; y < rows; ++y) memcpy(dst + (size_t)y * (size_t)dpitch, src + (size_t)y * (size_t)spitch, 4u * (size_t)n);
#else
  const int32_t sj = spitch - 4 * n, dj = dpitch - 4 * n;
  uint32_t t0, t1;
  if ((n & 1) == 0) {
    const int32_t half = n >> 1;
    __asm__ volatile(XP_ASM_BEGIN
                     XP_LP_SETUP("1", "%[rows]", 7, "82")
                     XP_LP_SETUP("0", "%[n]", 4, "80")
                     XP_LW_PI("%[t0]", 4, "%[s]") XP_LW_PI("%[t1]", 4, "%[s]") XP_SW_PI("%[t0]", 4, "%[d]")
                     "81: " XP_SW_PI("%[t1]", 4, "%[d]")
                     XP_LP_CHECK("80", "81", 4)
                     "add %[s], %[s], %[sj]\n"
                     "83: add %[d], %[d], %[dj]\n"
                     XP_LP_CHECK("82", "83", 7)
                     XP_LP_NEST_CHECK("81", "83")
                     XP_ASM_END
                     : [s] "+r"(src), [d] "+r"(dst), [t0] "=&r"(t0), [t1] "=&r"(t1)
                     : [rows] "r"(rows), [n] "r"(half), [sj] "r"(sj), [dj] "r"(dj)
                     : "memory");
  } else {
    __asm__ volatile(XP_ASM_BEGIN
                     XP_LP_SETUP("1", "%[rows]", 6, "82")
                     XP_LP_SETUP("0", "%[n]", 3, "80")
                     XP_LW_PI("%[t0]", 4, "%[s]") "nop\n"
                     "81: " XP_SW_PI("%[t0]", 4, "%[d]")
                     XP_LP_CHECK("80", "81", 3)
                     "add %[s], %[s], %[sj]\n"
                     "83: add %[d], %[d], %[dj]\n"
                     XP_LP_CHECK("82", "83", 6)
                     XP_LP_NEST_CHECK("81", "83")
                     XP_ASM_END
                     : [s] "+r"(src), [d] "+r"(dst), [t0] "=&r"(t0)
                     : [rows] "r"(rows), [n] "r"(n), [sj] "r"(sj), [dj] "r"(dj)
                     : "memory");
    (void)t1;
  }
#endif
}

/* rows x n words of v (n >= 1, rows >= 1) at dst, pitch dpitch bytes, aligned (2 words per iteration when n is
 * even). */
static inline void xp_fill_rows(uint8_t *dst, int32_t dpitch, uint32_t v, int32_t n, int32_t rows) {
#ifdef DORY_XP_HOST_MODEL
  int32_t y, i;
  for (y = 0; y < rows; ++y)
    for (i = 0; i < n; ++i) memcpy(dst + (size_t)y * (size_t)dpitch + 4u * (size_t)i, &v, 4);
#else
  const int32_t dj = dpitch - 4 * n;
  if ((n & 1) == 0) {
    const int32_t half = n >> 1;
    __asm__ volatile(XP_ASM_BEGIN
                     XP_LP_SETUP("1", "%[rows]", 6, "82")
                     XP_LP_SETUP("0", "%[n]", 3, "80")
                     XP_SW_PI("%[v]", 4, "%[d]") XP_SW_PI("%[v]", 4, "%[d]")
                     "81: nop\n"
                     XP_LP_CHECK("80", "81", 3)
                     "add %[d], %[d], %[dj]\n"
                     "83: nop\n" /* RI5CY: the outer loop ends at least 8 bytes after the inner one */
                     XP_LP_CHECK("82", "83", 6)
                     XP_LP_NEST_CHECK("81", "83")
                     XP_ASM_END
                     : [d] "+r"(dst)
                     : [rows] "r"(rows), [n] "r"(half), [dj] "r"(dj), [v] "r"(v)
                     : "memory");
  } else {
    __asm__ volatile(XP_ASM_BEGIN
                     XP_LP_SETUP("1", "%[rows]", 6, "82")
                     XP_LP_SETUP("0", "%[n]", 3, "80")
                     XP_SW_PI("%[v]", 4, "%[d]") "nop\n"
                     "81: nop\n"
                     XP_LP_CHECK("80", "81", 3)
                     "add %[d], %[d], %[dj]\n"
                     "83: nop\n" /* RI5CY: the outer loop ends at least 8 bytes after the inner one */
                     XP_LP_CHECK("82", "83", 6)
                     XP_LP_NEST_CHECK("81", "83")
                     XP_ASM_END
                     : [d] "+r"(dst)
                     : [rows] "r"(rows), [n] "r"(n), [dj] "r"(dj), [v] "r"(v)
                     : "memory");
  }
#endif
}

/* ---- the driver shared by conv and pointwise ---------------------------------------------------------------- */

#define XP_MM_CHUNK 32 /* output channels whose constants sit on the stack at a time (a multiple of 4) */
#define XP_MM_BATCH 3  /* groups whose raw sums xp_mm_block_run keeps on the stack at a time */

typedef struct {
  const dory_conv_args *a;
  int32_t C, K, K4, oc, W, zp;
  int fast;         /* this chunk's fast requantization (xp_common.h): 0 none, 1 32-bit, 2 64-bit */
  int lean;         /* this chunk runs entirely on the fast path: one asm call per block, nothing in C */
  int fin;          /* the last input-channel tile of partial sums: the raw sums plus psum requantized in C with
                     * the fast path's formula (1 32-bit, 2 64-bit; ma without the bias), not dory_rq_apply */
  void (*fn)(xp_mm_ctx *); /* the fast path's asm function (its finishing mode) */
  void (*fn1)(xp_mm_ctx *); /* for windows of one row: xp_pw4x4_* in the pointwise kernel, fn in the conv's */
  xp_mm_ctx x;      /* the fast path's asm context (its constant fields set once per call or chunk) */
  int im2col;       /* pixel windows copied as K4-byte vectors into the scratch (channels not a multiple of 4) */
  int pointwise;
  uint8_t *scr;     /* this core's scratch slice */
} xp_mm_call;

typedef struct {
  const uint8_t *px0, *px2;
  int32_t rd, jump, jump2, nrows, nwords;
  int32_t wofs;     /* bytes of each channel's window skipped: kernel rows wholly in padding (zero point 0) */
  int32_t pix[4];   /* output pixel index of each slot */
  uint8_t valid[4]; /* the slot's pixel is not also computed by an earlier slot of the block */
  int32_t ostride;  /* bytes between slots 0 and 1 (and 2 and 3) in the output */
} xp_mm_block;

/* The last input-channel tile's output on a fast requantization (k->fin: 1 the 32-bit, 2 the 64-bit formula of
 * xp_common.h) of v = psum + sum, channel cc of the chunk whose constants are ma_chunk. */
static inline uint8_t xp_mm_fin_out(const xp_mm_call *k, int32_t v, const int32_t *ma_chunk, int32_t cc) {
  const dory_conv_args *a = k->a;
  int32_t y;
  if (k->fin == 2) return (uint8_t)xp_rq64(v, ma_chunk + 3 * cc, k->x.shift, a->rq.lo, a->rq.hi);
  y = (xp_mac(ma_chunk[2 * cc + 1], v, ma_chunk[2 * cc]) >> k->x.shift) + a->rq.zero_point;
  return (uint8_t)xp_min(xp_max(y, a->rq.lo), a->rq.hi);
}

/* A group of 4 consecutive channels c .. c+3 on one of the input-channel tiles of a layer whose c_in is tiled:
 * the partial sums (first: bias + sum; a middle tile: psum + sum) or, on the last tile with a fast requantization
 * (k->fin), the outputs of psum + sum, by pixel slot with the branches out of the loops: the same values as
 * xp_finish_general / the fin case below, ~10 instructions an output instead of ~90. Returns 0 (nothing done) for
 * the other cases. */
static inline int xp_mm_finish_partial(const xp_mm_call *k, const xp_mm_block *b, const int32_t *acc, int32_t c,
                                       const int32_t *corr_chunk, const int32_t *ma_chunk, int32_t chunk0) {
  const dory_conv_args *a = k->a;
  const int32_t cc = c - chunk0;
  int32_t i, j;
  if (k->fast || (a->last && !k->fin)) return 0;
  for (i = 0; i < 4; ++i) {
    int32_t *ps;
    if (!b->valid[i]) continue;
    ps = a->psum + (size_t)b->pix[i] * (size_t)k->oc + (size_t)c;
    if (!a->last && a->first) {
      for (j = 0; j < 4; ++j)
        ps[j] = (int32_t)((uint32_t)a->bias[c + j] + (uint32_t)acc[j * 4 + i] + (uint32_t)corr_chunk[cc + j]);
    } else if (!a->last) {
      for (j = 0; j < 4; ++j)
        ps[j] = (int32_t)((uint32_t)ps[j] + (uint32_t)acc[j * 4 + i] + (uint32_t)corr_chunk[cc + j]);
    } else {
      uint8_t *o = (uint8_t *)a->out.data + (ps - a->psum);
      for (j = 0; j < 4; ++j)
        o[j] = xp_mm_fin_out(k, (int32_t)((uint32_t)ps[j] + (uint32_t)acc[j * 4 + i] + (uint32_t)corr_chunk[cc + j]),
                             ma_chunk, cc + j);
    }
  }
  return 1;
}

/* Raw sums of one group -> outputs: channel slot j computes tile channel ch[j] (chv[j]: first slot to do so). */
static inline void xp_mm_finish_raw(const xp_mm_call *k, const xp_mm_block *b, const int32_t *acc,
                                    const int32_t *ch, const uint8_t *chv, const int32_t *corr_chunk,
                                    const int32_t *ma_chunk, int32_t chunk0) {
  const dory_conv_args *a = k->a;
  int j, i;
  if (chv[0] && chv[1] && chv[2] && chv[3] && ch[1] == ch[0] + 1 && ch[2] == ch[0] + 2 && ch[3] == ch[0] + 3 &&
      xp_mm_finish_partial(k, b, acc, ch[0], corr_chunk, ma_chunk, chunk0))
    return;
  for (j = 0; j < 4; ++j) {
    const int32_t c = ch[j], cc = c - chunk0;
    if (!chv[j]) continue;
    for (i = 0; i < 4; ++i) {
      const int32_t idx = b->pix[i] * k->oc + c;
      int32_t sum;
      if (!b->valid[i]) continue;
      if (k->fast == 2) { /* the 64-bit asm's formula (xp_common.h) */
        ((uint8_t *)a->out.data)[idx] = (uint8_t)xp_rq64(acc[j * 4 + i], ma_chunk + 3 * cc, k->x.shift,
                                                         k->x.mode == 4 ? k->x.lo : 0, k->x.hi);
        continue;
      }
      if (k->fast) { /* the asm's formula (xp_common.h), from the context's copies of the constants */
        const int32_t t = xp_mac(ma_chunk[2 * cc + 1], acc[j * 4 + i], xp_fold_m(ma_chunk + 2 * cc));
        ((uint8_t *)a->out.data)[idx] = (uint8_t)xp_min(xp_max((t >> k->x.shift) + k->x.zp, k->x.lo), k->x.hi);
        continue;
      }
      sum = (int32_t)((uint32_t)acc[j * 4 + i] + (uint32_t)corr_chunk[cc]);
      if (k->fin) { /* last && !first: v = psum + sum, exact (it fits int32) */
        ((uint8_t *)a->out.data)[idx] = xp_mm_fin_out(k, (int32_t)((uint32_t)a->psum[idx] + (uint32_t)sum), ma_chunk, cc);
        continue;
      }
      xp_finish_general(&a->rq, a->bias, a->psum, a->out.data, a->out.type, a->first, a->last, a->has_requant, idx, c,
                        sum);
    }
  }
}

/* The pixel-slot vectors of an im2col block (slot i at px0 / px0+rd / px2 / px2+rd). */
static inline const uint8_t *xp_mm_slot_x(const xp_mm_block *b, int i) {
  return (i < 2 ? b->px0 : b->px2) + ((i & 1) ? b->rd : 0);
}

/* acc[j][i] += the products of bytes [k0, K) (the part the words did not cover: K not a multiple of 4). */
static inline void xp_mm_tail(const xp_mm_call *k, const xp_mm_block *b, const int8_t *const *w, int32_t k0,
                              int32_t *acc) {
  int j, i;
  int32_t kk;
  for (j = 0; j < 4; ++j)
    for (i = 0; i < 4; ++i) {
      const uint8_t *x = xp_mm_slot_x(b, i);
      int32_t s = 0;
      for (kk = k0; kk < k->K; ++kk) s += (int32_t)x[kk] * w[j][kk];
      acc[j * 4 + i] += s;
    }
}

/* Raw sums of `ng` groups of the block (acc: 16 per group) for channel groups starting at c (the next group 4
 * channels on), nwords words per row; pw2off/rk select the channel slots (duplicates for a remainder group). With
 * nwords == 0 the sums start at 0; words past nrows*nwords*4 (K not a multiple of 4, im2col) are added in C. */
static inline void xp_mm_sums(const xp_mm_call *k, const xp_mm_block *b, int32_t c, int32_t ng, int32_t pw2off,
                              int32_t rk, int32_t nwords, int32_t *acc) {
  const int32_t K = k->K;
  int32_t g, j;
  if (nwords > 0) {
    xp_mm_ctx x;
    x.px0 = b->px0;
    x.px2 = b->px2;
    x.rd = b->rd;
    x.jump = b->jump;
    x.jump2 = b->jump2;
    x.pw = k->a->weights + (size_t)c * K + b->wofs;
    x.nrows = b->nrows;
    x.nwords = nwords;
    x.pwstep = 4 * K - 4 * b->nrows * nwords;
    x.ngroups = ng;
    x.mode = 0;
    x.acc = acc;
    x.pw2off = pw2off;
    x.rk = rk;
    xp_mm4x4(&x);
  } else {
    for (j = 0; j < 16 * ng; ++j) acc[j] = 0;
  }
  if (k->im2col && nwords * 4 < K) { /* im2col with K % 4 != 0 (one row): the bytes past the last whole word */
    for (g = 0; g < ng; ++g) {
      const int32_t kofs[4] = {0, rk, pw2off, pw2off + rk};
      const int8_t *w[4];
      for (j = 0; j < 4; ++j) w[j] = k->a->weights + (size_t)(c + 4 * g) * K + kofs[j];
      xp_mm_tail(k, b, w, nwords * 4, acc + 16 * g);
    }
  }
}

/* Runs every group of the chunk [c_lo, c_hi) on the block. Fast path: one asm call for the full groups; the
 * rest (remainder channels, the im2col tail, general requantization) through raw sums and C. */
__attribute__((noinline, cold)) static void xp_mm_block_run(xp_mm_call *k, const xp_mm_block *b, int32_t c_lo,
                                                          int32_t c_hi, const int32_t *corr, const int32_t *ma) {
  const dory_conv_args *a = k->a;
  const int32_t K = k->K, n = c_hi - c_lo;
  const int32_t ng = n >> 2, rc = n & 3;
  /* im2col with K % 4 != 0 reads each channel's last word past its K bytes (times zero inputs): not allowed for
   * the tile's last channel, whose row ends the weights; that group stops one word early (C adds the rest). */
  const int tail_last = k->im2col && (K & 3) && c_hi == k->oc;
  const int32_t words = k->im2col ? k->K4 / 4 : b->nwords;
  const int32_t ngw = ng - (tail_last && rc == 0 ? 1 : 0); /* full groups that read whole words */
  int32_t acc[16 * XP_MM_BATCH]; /* raw sums of up to XP_MM_BATCH groups at a time (the stack is small) */
  int32_t g, g0 = 0, j, i, nb;
  const int32_t total = ng + (rc ? 1 : 0);
  if (k->fast && ngw > 0 && words > 0) {
    xp_mm_ctx *x = &k->x; /* the lean path sets every block field it reads again (a struct copy is a memcpy) */
    x->px0 = b->px0;
    x->px2 = b->px2;
    x->rd = b->rd;
    x->jump = b->jump;
    x->jump2 = b->jump2;
    x->pw = a->weights + (size_t)c_lo * K + b->wofs;
    x->nrows = b->nrows;
    x->nwords = words;
    x->pwstep = 4 * K - 4 * b->nrows * words;
    x->rk = K;
    x->pw2off = 2 * K;
    x->ngroups = ngw;
    x->ma = ma;
    x->out0 = (uint8_t *)a->out.data + (size_t)b->pix[0] * k->oc + c_lo;
    x->out2 = (uint8_t *)a->out.data + (size_t)b->pix[2] * k->oc + c_lo;
    x->ostride = b->ostride;
    xp_mm4x4(x);
    g0 = ngw;
  }
  for (g = g0; g < total;) {
    if (g < ngw) { /* full groups reading whole words */
      nb = ngw - g < XP_MM_BATCH ? ngw - g : XP_MM_BATCH;
      xp_mm_sums(k, b, c_lo + 4 * g, nb, 2 * K, K, words, acc);
    } else if (g < ng) { /* the tile's last full group, one word short (im2col, K % 4 != 0) */
      nb = 1;
      xp_mm_sums(k, b, c_lo + 4 * g, 1, 2 * K, K, K >> 2, acc);
    } else { /* slots: 3 channels c, c+1, c+1, c+2; 2: c, c+1, c, c+1; 1: c four times */
      nb = 1;
      xp_mm_sums(k, b, c_lo + 4 * ng, 1, rc == 3 ? K : 0, rc == 1 ? 0 : K, tail_last ? K >> 2 : words, acc);
    }
    for (i = 0; i < nb; ++i, ++g) {
      int32_t ch[4];
      uint8_t chv[4];
      if (g < ng) {
        for (j = 0; j < 4; ++j) {
          ch[j] = c_lo + 4 * g + j;
          chv[j] = 1;
        }
      } else {
        const int32_t c = c_lo + 4 * ng;
        const int32_t map3[4] = {0, 1, 1, 2}, map2[4] = {0, 1, 0, 1};
        int32_t q;
        for (j = 0; j < 4; ++j) {
          ch[j] = c + (rc == 3 ? map3[j] : rc == 2 ? map2[j] : 0);
          chv[j] = 1;
          for (q = 0; q < j; ++q)
            if (ch[q] == ch[j]) chv[j] = 0;
        }
      }
      xp_mm_finish_raw(k, b, acc + 16 * i, ch, chv, corr, ma, c_lo);
    }
  }
}

/* Copies the receptive fields of a pixel pair (output row oh, columns ow and ow + 1 if two) into dst:
 * kh rows of (stride_w + kw) pixels of C bytes, padding = the input zero point. C % 4 == 0. */
/* Copies the window rows [ry0, ry1) of `cols` adjacent window columns starting at output pixel (oh, ow) into dst
 * (pitch cols*C; padding = the input zero point): the patch of a pair (cols = stride_w + kw) or of two adjacent
 * pairs (cols = 3*stride_w + kw). C % 4 == 0. */
__attribute__((noinline)) static void xp_mm_patch(const xp_mm_call *k, int32_t oh, int32_t ow, int32_t cols,
                                                  int32_t ry0, int32_t ry1, uint8_t *dst) {
  const dory_conv_args *a = k->a;
  const int32_t C = k->C, pitch = cols * C;
  const int32_t iy0 = oh * a->stride_h - a->pad.top, ix0 = ow * a->stride_w - a->pad.left;
  const int32_t c0 = ix0 < 0 ? -ix0 : 0, c1 = ix0 + cols > a->in.w ? a->in.w - ix0 : cols;
  const uint32_t zpw = (uint32_t)(uint8_t)k->zp * 0x01010101u;
  /* the rows inside the input box: [ya, yb) of the window; the others are all padding */
  const int32_t ya = iy0 + ry0 < 0 ? -iy0 : ry0, yb = iy0 + ry1 > a->in.h ? a->in.h - iy0 : ry1;
  if (ya > ry0) xp_fill_rows(dst, pitch, zpw, pitch >> 2, (ya < ry1 ? ya : ry1) - ry0);
  if (yb > ya && c1 > c0) {
    uint8_t *d = dst + (size_t)(ya - ry0) * (size_t)pitch;
    if (c0 > 0) xp_fill_rows(d, pitch, zpw, (c0 * C) >> 2, yb - ya);
    xp_copy_rows(d + c0 * C, pitch, (const uint8_t *)a->in.data + ((size_t)(iy0 + ya) * a->in.w + (size_t)(ix0 + c0)) * C,
                 a->in.w * C, ((c1 - c0) * C) >> 2, yb - ya);
    if (c1 < cols) xp_fill_rows(d + c1 * C, pitch, zpw, ((cols - c1) * C) >> 2, yb - ya);
  } else if (yb > ya) {
    xp_fill_rows(dst + (size_t)(ya - ry0) * (size_t)pitch, pitch, zpw, pitch >> 2, yb - ya);
  }
  if (yb < ry1) {
    const int32_t from = yb > ry0 ? yb : ry0;
    xp_fill_rows(dst + (size_t)(from - ry0) * (size_t)pitch, pitch, zpw, pitch >> 2, ry1 - from);
  }
}

/* The K input bytes of output pixel (oh, ow) (im2col order [ky][kx][c], padding = zp) into dst, then zeros to K4:
 * the map's bytes of each window row by words, padding and tails by bytes (no memcpy / memset calls: the runs are
 * short, a call would cost more than they do). */
XP_NO_LIBCALLS __attribute__((noinline, cold)) static void xp_mm_im2col(const xp_mm_call *k, int32_t oh, int32_t ow,
                                                                         uint8_t *dst) {
  const dory_conv_args *a = k->a;
  const int32_t C = k->C, row = a->kw * C;
  const int32_t iy0 = oh * a->stride_h - a->pad.top, ix0 = ow * a->stride_w - a->pad.left;
  const int32_t kx0 = ix0 < 0 ? -ix0 : 0, kx1 = ix0 + a->kw > a->in.w ? a->in.w - ix0 : a->kw;
  const uint8_t *in = (const uint8_t *)a->in.data;
  const uint8_t zp = (uint8_t)k->zp;
  int32_t ky, i;
  for (ky = 0; ky < a->kh; ++ky, dst += row) {
    const int32_t iy = iy0 + ky;
    if (iy < 0 || iy >= a->in.h || kx1 <= kx0) {
      for (i = 0; i < row; ++i) dst[i] = zp;
      continue;
    }
    {
      const int32_t b0 = kx0 * C, b1 = kx1 * C;
      const uint8_t *src = in + ((size_t)iy * a->in.w + (size_t)ix0) * C;
      for (i = 0; i < b0; ++i) dst[i] = zp;
      /* the window row's bytes inside the map: words (misaligned loads and stores: RI5CY and GVSoC split them),
       * then the last 0-3 bytes */
      for (; i + 4 <= b1; i += 4) xp_sw(dst + i, xp_lw(src + i));
      for (; i < b1; ++i) dst[i] = src[i];
      for (; i < row; ++i) dst[i] = zp;
    }
  }
  for (i = k->K; i < k->K4; ++i) dst[i - k->K] = 0; /* dst now points past the K bytes */
}

/* The im2col vector of a window inside the input box: kh rows of `row` bytes (pitch `pitch`), then `tail` zero
 * bytes (K4 - K): words (misaligned loads and stores: RI5CY and GVSoC split them) and the last 0-3 bytes. */
XP_NO_LIBCALLS static inline void xp_mm_im2col_in(const uint8_t *src, int32_t pitch, int32_t kh, int32_t row,
                                                  int32_t tail, uint8_t *dst) {
  const int32_t nw = row >> 2, nb = row & 3;
  int32_t ky, j;
  for (ky = 0; ky < kh; ++ky, src += pitch) {
    const uint8_t *s = src;
    for (j = 0; j < nw; ++j, s += 4, dst += 4) xp_sw(dst, xp_lw(s));
    for (j = 0; j < nb; ++j) *dst++ = s[j];
  }
  for (j = 0; j < tail; ++j) dst[j] = 0;
}

/* The rest of a pair block's description, then xp_mm_block_run (kept out of the hot path: instruction caches). */
__attribute__((noinline, cold)) static void xp_mm_block_general(xp_mm_call *k, xp_mm_block *b, int haveB, int32_t cc,
                                                              int32_t ce, const int32_t *corr, const int32_t *ma) {
  const int two = k->W > 1;
  b->pix[1] = b->pix[0] + (two ? 1 : 0);
  b->pix[3] = b->pix[2] + (two ? 1 : 0);
  b->valid[1] = (uint8_t)two;
  b->valid[3] = (uint8_t)(haveB && two);
  b->ostride = two ? k->oc : 0;
  xp_mm_block_run(k, b, cc, ce, corr, ma);
}

/* The block of pixel pairs A = (ohA, owA[, +1]) and B (haveB: else B repeats A, computing nothing new).
 * Rows: with the zero point 0 and both pairs' windows clipped alike at the top / bottom border, only the kernel
 * rows inside are read (padding rows add 0); otherwise every kernel row. A pair whose windows' columns and rows lie
 * inside the input box is read in place (row pitch in.w*C), else from the core's patch (padding written as the
 * zero point): one pair (stride_w + kw pixels) or, when both pairs need it and are adjacent in one row, both
 * (3*stride_w + kw pixels); two non-adjacent pairs that both need it run as two half blocks (each pair with
 * itself: in the fast path the repeated pixels store the same bytes twice). */
static void xp_mm_pairs(xp_mm_call *k, int32_t ohA, int32_t owA, int vA, int32_t ohB, int32_t owB, int vB, int haveB,
                        int32_t cc, int32_t ce, const int32_t *corr, const int32_t *ma) {
  const dory_conv_args *a = k->a;
  const int32_t C = k->C, kh = a->kh, kw = a->kw, sw = a->stride_w;
  const int two = k->W > 1;
  const int32_t span = (two ? sw : 0) + kw; /* columns a pair's windows cover */
  const int32_t iyA = ohA * a->stride_h - a->pad.top, ixA = owA * sw - a->pad.left;
  const int32_t iyB = ohB * a->stride_h - a->pad.top, ixB = owB * sw - a->pad.left;
  const int32_t kyA0 = iyA < 0 ? -iyA : 0, kyA1 = iyA + kh > a->in.h ? a->in.h - iyA : kh;
  const int32_t kyB0 = iyB < 0 ? -iyB : 0, kyB1 = iyB + kh > a->in.h ? a->in.h - iyB : kh;
  const int clip = k->zp == 0 && kyA0 == kyB0 && kyA1 == kyB1 && kyA1 > kyA0;
  const int32_t ry0 = clip ? kyA0 : 0, ry1 = clip ? kyA1 : kh;
  const int inA = k->pointwise || (ixA >= 0 && ixA + span <= a->in.w && kyA0 <= ry0 && kyA1 >= ry1);
  const int inB = !haveB || k->pointwise || (ixB >= 0 && ixB + span <= a->in.w && kyB0 <= ry0 && kyB1 >= ry1);
  const uint8_t *in = (const uint8_t *)a->in.data;
  const int32_t inplace_jump = (a->in.w - kw) * C;
  xp_mm_block b;
  b.rd = two ? sw * C : 0;
  b.nwords = (kw * C) >> 2;
  b.nrows = ry1 - ry0;
  b.wofs = ry0 * kw * C;
  if (inA) {
    b.px0 = in + ((size_t)(iyA + ry0) * (size_t)a->in.w + (size_t)ixA) * (size_t)C;
    b.jump = inplace_jump;
  }
  if (haveB && inB) {
    b.px2 = in + ((size_t)(iyB + ry0) * (size_t)a->in.w + (size_t)ixB) * (size_t)C;
    b.jump2 = inplace_jump;
  }
  if (!inA && !inB) {
    if (ohA == ohB && owB == owA + 2) { /* both pairs in one patch */
      xp_mm_patch(k, ohA, owA, 3 * sw + kw, ry0, ry1, k->scr);
      b.px0 = k->scr;
      b.px2 = k->scr + 2 * sw * C;
      b.jump = b.jump2 = 3 * sw * C;
    } else {
      xp_mm_pairs(k, ohA, owA, vA, ohA, owA, 0, 0, cc, ce, corr, ma);
      xp_mm_pairs(k, ohB, owB, vB, ohB, owB, 0, 0, cc, ce, corr, ma);
      return;
    }
  } else if (!inA) {
    xp_mm_patch(k, ohA, owA, sw + kw, ry0, ry1, k->scr);
    b.px0 = k->scr;
    b.jump = sw * C;
  } else if (!inB) {
    xp_mm_patch(k, ohB, owB, sw + kw, ry0, ry1, k->scr);
    b.px2 = k->scr;
    b.jump2 = sw * C;
  }
  if (!haveB) {
    b.px2 = b.px0;
    b.jump2 = b.jump;
  }
  b.pix[0] = ohA * k->W + owA;
  b.pix[2] = ohB * k->W + owB;
  if (k->lean) { /* the common case: everything in one asm call */
    xp_mm_ctx *x = &k->x;
    x->px0 = b.px0;
    x->px2 = b.px2;
    x->rd = b.rd;
    x->jump = b.jump;
    x->jump2 = b.jump2;
    x->nrows = b.nrows;
    x->pwstep = 4 * k->K - 4 * b.nrows * b.nwords;
    x->pw = a->weights + (size_t)cc * (size_t)k->K + b.wofs;
    x->ngroups = (ce - cc) >> 2;
    x->ma = ma;
    x->out0 = (uint8_t *)a->out.data + (size_t)b.pix[0] * (size_t)k->oc + (size_t)cc;
    x->out2 = (uint8_t *)a->out.data + (size_t)b.pix[2] * (size_t)k->oc + (size_t)cc;
    (b.nrows == 1 ? k->fn1 : k->fn)(x);
    return;
  }
  b.valid[0] = (uint8_t)vA;
  b.valid[2] = (uint8_t)(haveB && vB);
  xp_mm_block_general(k, &b, haveB, cc, ce, corr, ma);
}

/* Pointwise, stride 1, the tile's rows whole (in.w == out.w): output pixel p reads the C bytes at in + p*C, so the
 * core's pixels [p0, p1) are consecutive vectors whatever the rows: blocks of 4 consecutive pixels, one asm call
 * each over every group of [cc, ce) on the fast path; a last partial block is moved back to end at p1 (its first
 * pixels recomputed: the same bytes stored again), or, with fewer than 4 pixels in all, repeats pixels. */
static void xp_mm_pw_run(xp_mm_call *k, int32_t p0, int32_t p1, int32_t cc, int32_t ce, const int32_t *ma) {
  const dory_conv_args *a = k->a;
  xp_mm_ctx *x = &k->x;
  const uint8_t *in = (const uint8_t *)a->in.data;
  uint8_t *out = (uint8_t *)a->out.data + cc;
  const int8_t *pw = a->weights + (size_t)cc * (size_t)k->K;
  const int32_t C = k->C, oc = k->oc, ng = (ce - cc) >> 2, n = p1 - p0;
  int32_t p;
  x->jump = x->jump2 = 0;
  x->nrows = 1;
  x->pwstep = 3 * k->K;
  if (n < 4) { /* slots 0-3: n == 1: p0 four times; 2: p0, p0+1 twice; 3: p0, p0+1, p0+1, p0+2 */
    x->rd = n >= 2 ? C : 0;
    x->ostride = n >= 2 ? oc : 0;
    x->px0 = in + (size_t)p0 * (size_t)C;
    x->out0 = out + (size_t)p0 * (size_t)oc;
    x->px2 = n == 3 ? x->px0 + C : x->px0;
    x->out2 = n == 3 ? x->out0 + oc : x->out0;
    x->pw = pw;
    x->ngroups = ng;
    x->ma = ma;
    k->fn1(x);
    return;
  }
  x->rd = C;
  x->ostride = oc;
  for (p = p0; p < p1; p += 4) {
    const int32_t q = p + 4 <= p1 ? p : p1 - 4;
    x->px0 = in + (size_t)q * (size_t)C;
    x->px2 = x->px0 + 2 * C;
    x->out0 = out + (size_t)q * (size_t)oc;
    x->out2 = x->out0 + 2 * oc;
    x->pw = pw;
    x->ngroups = ng;
    x->ma = ma;
    k->fn1(x);
  }
}

DORY_ALWAYS_INLINE void xp_mm_conv(const dory_conv_args *a, int pointwise, uint32_t slice_bytes) {
  xp_mm_call k;
  const dory_work wk = dory_core_work(a->split, a->out.h, a->out.c);
  int32_t ma[3 * XP_MM_CHUNK], corr[XP_MM_CHUNK];
  int32_t cc, c, i;
  int fast, eligible, fin;
  k.a = a;
  k.C = a->in.c;
  k.K = a->kh * a->kw * a->in.c;
  k.K4 = (k.K + 3) & ~3;
  k.oc = a->out.c;
  k.W = a->out.w;
  k.zp = a->input_zero_point;
  k.pointwise = pointwise;
  k.im2col = (k.C & 3) != 0 || !xp_aligned4(a->in.data) || !xp_aligned4(a->weights);
  eligible = xp_fast_requant(a->has_requant, &a->rq, a->out.type)           ? 1
             : xp_fast64_requant(a->has_requant, &a->rq, a->out.type, k.K) ? 2
                                                                              : 0;
  fast = a->first && a->last ? eligible : 0;
  fin = !a->first && a->last ? eligible : 0;
  k.fast = fast;
  k.fin = 0;
  k.scr = (uint8_t *)a->scratch + (size_t)dory_core_id() * slice_bytes;
  k.lean = 0;
  k.fn = k.fn1 = 0;
  if (fast) {
    if (fast == 2) {
      k.x.mode = a->rq.lo != 0 ? 4 : 5;
      k.fn = k.x.mode == 4 ? xp_mm4x4_rq4 : xp_mm4x4_rq5;
      k.fn1 = !pointwise ? k.fn : k.x.mode == 4 ? xp_pw4x4_rq4 : xp_pw4x4_rq5;
    } else {
      k.x.mode = a->rq.lo != 0 ? 1 : (a->rq.zero_point != 0 ? 2 : 3);
      k.fn = k.x.mode == 1 ? xp_mm4x4_rq1 : k.x.mode == 2 ? xp_mm4x4_rq2 : xp_mm4x4_rq3;
      /* the one-row blocks only in the pointwise kernel: the conv kernel's code stays without them (its one-row
       * windows, im2col vectors, are a first layer's few) */
      k.fn1 = !pointwise ? k.fn : k.x.mode == 1 ? xp_pw4x4_rq1 : k.x.mode == 2 ? xp_pw4x4_rq2 : xp_pw4x4_rq3;
    }
    k.x.nrows = a->kh;
    k.x.nwords = (a->kw * k.C) >> 2;
    k.x.pwstep = 4 * k.K - 4 * k.x.nrows * k.x.nwords;
    k.x.ostride = k.W > 1 ? k.oc : 0;
    k.x.pw2off = 2 * k.K;
    k.x.rk = k.K;
    k.x.shift = fast == 2 ? (a->rq.div.d64.shift > 32 ? a->rq.div.d64.shift - 32 : 0) : a->rq.div.d32.shift;
    k.x.zp = a->rq.zero_point;
    k.x.lo = a->rq.lo;
    k.x.hi = a->rq.hi;
  }
  if (fin) k.x.shift = fin == 2 ? (a->rq.div.d64.shift > 32 ? a->rq.div.d64.shift - 32 : 0) : a->rq.div.d32.shift;
  if (wk.r0 >= wk.r1 || wk.c0 >= wk.c1) return;
  for (cc = wk.c0; cc < wk.c1; cc += XP_MM_CHUNK) {
    const int32_t ce = cc + XP_MM_CHUNK < wk.c1 ? cc + XP_MM_CHUNK : wk.c1;
    /* the chunk's constants: corr = -zp * S[c]; fast: {m, a'} (64-bit: {m, a'lo, a'hi}) with the bias and corr
     * folded; a chunk with a channel the 64-bit fast path cannot take runs the general path */
    k.fast = fast;
    if (k.zp) {
      for (c = cc; c < ce; ++c)
        corr[c - cc] = (int32_t)(0u - (uint32_t)k.zp * (uint32_t)xp_weight_sum(a->weights + (size_t)c * k.K, k.K));
    }
    if (fast == 1) xp_fold_chunk(&a->rq, a->bias, cc, ce, k.zp ? corr : 0, ma);
    if (fast == 2 && !xp_fold64_chunk(&a->rq, a->bias, cc, ce - cc, k.zp ? corr : 0, ma)) k.fast = 0;
    /* only the general finish reads corr (xp_mm_finish_raw): zeros for it alone (gcc made this loop a memset call,
     * ~700 cycles a call on every core, also on the 64-bit fast path that never reads them) */
    if (!k.zp && !k.fast)
      for (c = cc; c < ce; ++c) corr[c - cc] = 0;
    k.fin = fin;
    if (fin == 1)
      for (c = cc; c < ce; ++c) xp_rq_params32(&a->rq, c, &ma[2 * (c - cc)], &ma[2 * (c - cc) + 1]);
    if (fin == 2 && !xp_fold64_chunk(&a->rq, 0, cc, ce - cc, 0, ma)) k.fin = 0;
    k.lean = k.fast && !k.im2col && ((ce - cc) & 3) == 0;
    if (k.im2col) {
      /* blocks of 4 consecutive pixels of the core's rows, vectors at scr + i*K4 */
      const int32_t p0 = wk.r0 * k.W, p1 = wk.r1 * k.W;
      const int32_t fit = (int32_t)(slice_bytes / (uint32_t)k.K4), step = fit < 4 ? fit : 4; /* >= 1: caller */
      /* lean: a chunk of whole groups on the fast path runs each full block in one asm call (raw sums and C only
       * for a core's last 1-3 pixels). With K % 4 != 0 the chunk's weights are first copied into the core's
       * scratch slice after the 4 vectors, each channel padded by zeros to K4 bytes (scratch.c reserves it):
       * aligned word loads, and no read past the tile's last channel. */
      const int pad = (k.K & 3) != 0;
      int8_t *wpad = (int8_t *)k.scr + 4 * (size_t)k.K4;
      const int lean_i = k.fast && ((ce - cc) & 3) == 0 && step == 4 &&
                         (!pad || (uint32_t)((ce - cc + 4) * k.K4) <= slice_bytes);
      const int32_t rk = pad ? k.K4 : k.K;
      int32_t p;
      if (lean_i && pad) { /* by words (misaligned loads; ~16 instructions a channel of 27 bytes, not ~190) */
        const int8_t *w = a->weights + (size_t)cc * (size_t)k.K;
        int8_t *d = wpad;
        const int32_t nw = k.K >> 2, rem = k.K & 3; /* K4 = 4 nw + 4: a last word of rem bytes and zeros */
        const uint32_t keep = ((uint32_t)1 << (8 * rem)) - 1u;
        for (c = cc; c < ce; ++c, w += k.K, d += k.K4) {
          for (i = 0; i < nw; ++i) xp_sw(d + 4 * i, xp_lw(w + 4 * i));
          if (c + 1 < a->out.c) { /* the last word's other bytes are the next channel's: inside the tile */
            xp_sw(d + 4 * nw, xp_lw(w + 4 * nw) & keep);
          } else { /* the tile's last channel: nothing read past the weights */
            uint32_t t = 0;
            for (i = 0; i < rem; ++i) t |= (uint32_t)(uint8_t)w[4 * nw + i] << (8 * i);
            xp_sw(d + 4 * nw, t);
          }
        }
      }
      for (p = p0; p < p1; p += step) {
        const int32_t n = p1 - p < step ? p1 - p : step;
        xp_mm_block b;
        {
          int32_t oh = p / k.W, ow = p % k.W;
          for (i = 0; i < n; ++i) {
            const int32_t iy0 = oh * a->stride_h - a->pad.top, ix0 = ow * a->stride_w - a->pad.left;
            uint8_t *dst = k.scr + (size_t)i * k.K4;
            if (iy0 >= 0 && ix0 >= 0 && iy0 + a->kh <= a->in.h && ix0 + a->kw <= a->in.w)
              xp_mm_im2col_in((const uint8_t *)a->in.data + ((size_t)iy0 * (size_t)a->in.w + (size_t)ix0) * (size_t)k.C,
                              a->in.w * k.C, a->kh, a->kw * k.C, k.K4 - k.K, dst);
            else
              xp_mm_im2col(&k, oh, ow, dst);
            if (++ow == k.W) {
              ow = 0;
              ++oh;
            }
          }
        }
        if (lean_i && n == 4) {
          xp_mm_ctx *x = &k.x;
          x->px0 = k.scr;
          x->px2 = k.scr + 2 * k.K4;
          x->rd = k.K4;
          x->jump = x->jump2 = 0;
          x->nrows = 1;
          x->nwords = k.K4 >> 2;
          x->pw = pad ? (const int8_t *)wpad : a->weights + (size_t)cc * (size_t)k.K;
          x->rk = rk;
          x->pw2off = 2 * rk;
          x->pwstep = 4 * rk - k.K4;
          x->ostride = k.oc;
          x->ma = ma;
          x->out0 = (uint8_t *)a->out.data + (size_t)p * (size_t)k.oc + (size_t)cc;
          x->out2 = x->out0 + 2 * k.oc;
          x->ngroups = (ce - cc) >> 2;
          k.fn1(x);
          continue;
        }
        b.px0 = k.scr;
        b.rd = n == 1 ? 0 : k.K4;
        b.px2 = n >= 3 ? k.scr + (size_t)(n - 2) * k.K4 : b.px0;
        b.jump = b.jump2 = 0;
        b.wofs = 0;
        b.nrows = 1;
        b.nwords = k.K4 >> 2;
        b.pix[0] = p;
        b.pix[1] = n == 1 ? p : p + 1;
        b.pix[2] = n >= 3 ? p + n - 2 : b.pix[0];
        b.pix[3] = n >= 3 ? p + n - 1 : b.pix[1];
        b.valid[0] = 1;
        b.valid[1] = n >= 2;
        b.valid[2] = n == 4;
        b.valid[3] = n >= 3;
        b.ostride = n == 1 ? 0 : k.oc;
        xp_mm_block_run(&k, &b, cc, ce, corr, ma);
      }
    } else if (k.lean && pointwise && a->stride_h == 1 && a->stride_w == 1 && a->in.w == k.W) {
      xp_mm_pw_run(&k, wk.r0 * k.W, wk.r1 * k.W, cc, ce, ma);
    } else {
      /* pairs (ow, ow + 1) of each row, the last of an odd row (W-2, W-1) with W-2 recomputed; blocks are two
       * consecutive pairs, across rows too */
      int32_t oh, ow, pA_oh = 0, pA_ow = 0, pA_v = 0, pending = 0;
      for (oh = wk.r0; oh < wk.r1; ++oh)
        for (ow = 0; ow < k.W; ow += 2) {
          int32_t o = ow, v = 1;
          if (k.W > 1 && ow + 1 >= k.W) {
            o = k.W - 2;
            v = 0;
          }
          if (!pending) {
            pA_oh = oh;
            pA_ow = o;
            pA_v = v;
            pending = 1;
          } else {
            xp_mm_pairs(&k, pA_oh, pA_ow, pA_v, oh, o, v, 1, cc, ce, corr, ma);
            pending = 0;
          }
        }
      if (pending) xp_mm_pairs(&k, pA_oh, pA_ow, pA_v, pA_oh, pA_ow, 0, 0, cc, ce, corr, ma);
    }
  }
}

#endif /* DORY_XP_MM4X4_H */
