/* dory_depthwise_u8s8_1x4__xpulpv2: depthwise convolution (groups = C) of uint8 activations with int8 weights on one
 * L1 tile, PULP cluster cores (Xpulpv2).
 *
 * Idea: in HWC a window of one channel is strided by C, so each core copies one channel at a time into a
 * channel-major padded plane (its scratch slice: the rows of a band of output rows, pitch P bytes, padding written
 * as the input zero point), then computes 1 channel x 4 horizontally adjacent outputs per step with dot products
 * over words of the plane row:
 *   stride 1: A = x[0..3], M = x[2..5] (pv.shuffle2.b of A and the next word); out0 = A.[w0 w1 w2 0],
 *             out1 = A.[0 w0 w1 w2], out2 = M.[w0 w1 w2 0], out3 = M.[0 w0 w1 w2]: per kernel row 2 loads,
 *             1 shuffle, 4 pv.sdotusp.b;
 *   stride 2: A, B, C = x[0..11]; out0 = A.W, out1 = [x2..x5].W, out2 = B.W, out3 = [x6..x9].W: 3 loads,
 *             2 shuffles, 4 dot products per row.
 * Inner loop (3x3, stride 1): 21 instructions per 36 MACs plus 4-6 per output of requantization (fast path), in a
 * hardware loop over the row's blocks nested in one over the band's rows (~0.7 MAC/cycle/core with the copy).
 * At stride 1 in the clipu modes (the ReLU outputs of MobileNets) a band's rows go in pairs: a block's 4 plane
 * rows loaded once for 8 outputs, 32 instructions per 72 MACs (xp_dw2r_*), also for the last W % 4 outputs of
 * the rows (one more block per pair ending at the row's end); an odd band's last row takes the one-row asm.
 * The first kernel row uses pv.dotusp.b (no accumulator zeroing). The copy gathers bytes C apart with
 * p.lbu rd, rs2(rs1!) (2 instructions per element).
 *
 * Paths: the asm for 3x3 windows with stride_w 1 or 2 (any stride_h, padding, zero point): the fast
 * requantization (xp_common.h) in the loop, or raw sums finished in C (64-bit / other divisors / 16-bit / int32
 * outputs). The last width % 4 outputs of a row: one more block ending at the row's end (fast path, width >= 4);
 * rows narrower than a block (the 2 x 2 maps at the end of MobileNets): one block per row into a buffer (fast
 * path); else in C from the plane. Other windows and strides: the
 * portable twin dory_depthwise_u8s8_1x4__c; also when the scratch passed cannot hold a band of one output row,
 * and for a tile made of padding only (in.h or in.w 0).
 *
 * Preconditions: the contract of dory/kernels.h for depthwise (in.c == out.c, first = last = 1), in.type ==
 * DORY_UINT8 (checked); scratch: dory_depthwise_u8s8_1x4__xpulpv2_scratch_bytes() in a->scratch / scratch_bytes.
 */
#include <stddef.h>

#include "xp_common.h"

/* The asm's context; it is also the asm's frame (sp points to it while the loops run). */
typedef struct {
  const uint8_t *pr;       /*  0: plane row of the first output row's first kernel row */
  int32_t pitch;           /*  4: P */
  int32_t nblk;            /*  8: blocks of 4 outputs per row (>= 1) */
  int32_t nrows;           /* 12: output rows (>= 1) */
  int32_t rowjump;         /* 16: plane bytes from a row's end (after nblk blocks) to the next output row */
  uint8_t *out;            /* 20: first output (mode != 0) */
  int32_t ostride;         /* 24: C */
  int32_t outjump;         /* 28: output bytes from a row's end to the next row */
  int32_t m, ad;           /* 32, 36: 64-bit fast path: m, lo32(a') */
  int32_t shift, zp, lo, hi; /* 40, 44, 48, 52: 64-bit fast path: s - 32, hi32(a') (the zero point is in a') */
  uint32_t w[6];           /* 56..76: [row][2] shifted weight words (stride 2: [row][0] only) */
  int32_t *raw;            /* 80: mode 0 */
  uint32_t saved_sp;       /* 84 */
  uint8_t *out2;           /* 88: the two-row functions: first output of the second row of the first pair */
  int32_t rowjump2;        /* 92: the two-row functions: plane bytes from a pair's end to the next pair */
  int32_t outjump2;        /* 96: the two-row functions: output bytes from a pair's row end to the next pair's */
  int32_t npairs;          /* 100: the two-row functions: pairs of output rows (>= 1) */
} xp_dw_ctx;

#ifndef DORY_XP_HOST_MODEL
typedef char xp_dw_ctx_layout_check[(offsetof(xp_dw_ctx, rowjump) == 16 && offsetof(xp_dw_ctx, out) == 20 &&
                                     offsetof(xp_dw_ctx, m) == 32 && offsetof(xp_dw_ctx, hi) == 52 &&
                                     offsetof(xp_dw_ctx, w) == 56 && offsetof(xp_dw_ctx, raw) == 80 &&
                                     offsetof(xp_dw_ctx, saved_sp) == 84 && offsetof(xp_dw_ctx, out2) == 88 &&
                                     offsetof(xp_dw_ctx, npairs) == 100)
                                        ? 1
                                        : -1];
#endif

#define XP_DW_SEL 0x01000706u /* pv.shuffle2.b selector: bytes 2, 3 of rs1, then bytes 0, 1 of rd */

#ifdef DORY_XP_HOST_MODEL
/* The C model of the asm below (mode 0 raw, 1 max/min, 2 clipu, 3 clipu without zero point; 64-bit fast path:
 * 4 max/min, 5 clipu). */
static void xp_dw_run(xp_dw_ctx *x, int sw, int mode) {
  int32_t r, b, ky, i;
  const uint8_t *pr = x->pr;
  uint8_t *out = x->out;
  for (r = 0; r < x->nrows; ++r) {
    for (b = 0; b < x->nblk; ++b) {
      int32_t acc[4] = {0, 0, 0, 0};
      for (ky = 0; ky < 3; ++ky) {
        const uint8_t *p = pr + ky * x->pitch + b * 4 * sw;
        uint32_t A, B, Cw, M1, M2;
        memcpy(&A, p, 4);
        memcpy(&B, p + 4, 4);
        if (sw == 1) {
          M1 = xp_shuffle2_b(B, A, XP_DW_SEL);
          acc[0] = xp_sdotusp_b(acc[0], A, x->w[2 * ky]);
          acc[1] = xp_sdotusp_b(acc[1], A, x->w[2 * ky + 1]);
          acc[2] = xp_sdotusp_b(acc[2], M1, x->w[2 * ky]);
          acc[3] = xp_sdotusp_b(acc[3], M1, x->w[2 * ky + 1]);
        } else {
          memcpy(&Cw, p + 8, 4);
          M1 = xp_shuffle2_b(B, A, XP_DW_SEL);
          M2 = xp_shuffle2_b(Cw, B, XP_DW_SEL);
          acc[0] = xp_sdotusp_b(acc[0], A, x->w[2 * ky]);
          acc[1] = xp_sdotusp_b(acc[1], M1, x->w[2 * ky]);
          acc[2] = xp_sdotusp_b(acc[2], B, x->w[2 * ky]);
          acc[3] = xp_sdotusp_b(acc[3], M2, x->w[2 * ky]);
        }
      }
      for (i = 0; i < 4; ++i) {
        if (mode == 0) {
          *x->raw++ = acc[i];
        } else if (mode >= 4) {
          const int32_t mah[3] = {x->m, x->ad, x->zp};
          *out = (uint8_t)xp_rq64(acc[i], mah, x->shift, mode == 4 ? x->lo : 0, x->hi);
          out += x->ostride;
        } else {
          int32_t t = xp_mac(x->ad, acc[i], x->m);
          t = (t >> x->shift) + (mode == 3 ? 0 : x->zp);
          t = mode == 1 ? xp_min(xp_max(t, x->lo), x->hi) : xp_clipu(t, x->hi);
          *out = (uint8_t)t;
          out += x->ostride;
        }
      }
    }
    pr += x->nblk * 4 * sw + x->rowjump;
    out += x->outjump;
  }
}

/* The C model of the two-row asm (stride 1; mode 2 clipu, 3 clipu without zero point): npairs pairs of output
 * rows, each block's 4 plane rows loaded once for both. */
static void xp_dw_run2(xp_dw_ctx *x, int mode) {
  int32_t r, b, ky, i, h;
  const uint8_t *pr = x->pr;
  uint8_t *out[2];
  out[0] = x->out;
  out[1] = x->out2;
  for (r = 0; r < x->npairs; ++r) {
    for (b = 0; b < x->nblk; ++b) {
      int32_t acc[2][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}};
      for (ky = 0; ky < 4; ++ky) {
        const uint8_t *p = pr + ky * x->pitch + b * 4;
        uint32_t A, M;
        memcpy(&A, p, 4);
        memcpy(&M, p + 2, 4);
        for (h = 0; h < 2; ++h) {
          const int32_t wr = ky - h; /* the kernel row this plane row is to output row h */
          if (wr < 0 || wr > 2) continue;
          acc[h][0] = xp_sdotusp_b(acc[h][0], A, x->w[2 * wr]);
          acc[h][1] = xp_sdotusp_b(acc[h][1], A, x->w[2 * wr + 1]);
          acc[h][2] = xp_sdotusp_b(acc[h][2], M, x->w[2 * wr]);
          acc[h][3] = xp_sdotusp_b(acc[h][3], M, x->w[2 * wr + 1]);
        }
      }
      for (h = 0; h < 2; ++h)
        for (i = 0; i < 4; ++i) {
          int32_t t = xp_mac(x->ad, acc[h][i], x->m);
          t = (t >> x->shift) + (mode == 3 ? 0 : x->zp);
          *out[h] = (uint8_t)xp_clipu(t, x->hi);
          out[h] += x->ostride;
        }
    }
    pr += x->nblk * 4 + x->rowjump2;
    out[0] += x->outjump2;
    out[1] += x->outjump2;
  }
}
#else
/* Registers: sums s0-s3; weights s4-s9 ([row][2]); A t0, M t1, selector t2, third word ra (stride 2); plane rows
 * a1-a3; m a4, a' a5, shift a6, zp a7, lo s10, hi s11, output t3, ostride t4, temp / raw pointer t5, counts t6. */
#define XP_DW_ROW1(OP, PR, W0, W1)                                                                                \
  XP_LW_PI("t0", 4, PR) "lw t1, 0(" PR ")\n" OP("s0", "t0", W0) XP_SHUFFLE2_B("t1", "t0", "t2")                  \
  OP("s1", "t0", W1) OP("s2", "t1", W0) OP("s3", "t1", W1)
#define XP_DW_ROW2(OP, PR, W0)                                                                                    \
  XP_LW_PI("t0", 4, PR) XP_LW_PI("t1", 4, PR) "lw ra, 0(" PR ")\n" OP("s0", "t0", W0)                            \
  XP_SHUFFLE2_B("ra", "t1", "t2") OP("s2", "t1", W0) OP("s3", "ra", W0) XP_SHUFFLE2_B("t1", "t0", "t2")         \
  OP("s1", "t1", W0)
#define XP_DW_BODY1                                                                                               \
  XP_DW_ROW1(XP_DOTUSP_B, "a1", "s4", "s5") XP_DW_ROW1(XP_SDOTUSP_B, "a2", "s6", "s7")                           \
  XP_DW_ROW1(XP_SDOTUSP_B, "a3", "s8", "s9")
#define XP_DW_BODY2                                                                                               \
  XP_DW_ROW2(XP_DOTUSP_B, "a1", "s4") XP_DW_ROW2(XP_SDOTUSP_B, "a2", "s6") XP_DW_ROW2(XP_SDOTUSP_B, "a3", "s8")
/* The 32-bit fast path, each sum in its own register (xp_common.h's formula): p.mac s, s, m-1 (= s * m, a4 holds
 * m - 1 in these modes), p.addN s, a', shift ((s + a') >> shift), [+ zp], the clamp, the store: 4-6 instructions
 * per output, the 4 outputs interleaved so that no result is used by the next instruction. */
#define XP_DW_EACH4(OP) OP("s0") OP("s1") OP("s2") OP("s3")
#define XP_DW_MUL(R) XP_MAC(R, R, "a4")
#define XP_DW_SCALE(R) XP_ADDN_R(R, "a5", "a6")
#define XP_DW_ZP(R) "add " R ", " R ", a7\n"
#define XP_DW_NOZP(R)
#define XP_DW_MAXMIN(R) XP_MAX(R, R, "s10") XP_MIN(R, R, "s11")
#define XP_DW_CLIPU(R) XP_CLIPU(R, R, "s11")
#define XP_DW_FIN(ZP, CLAMP, LAST)                                                                               \
  XP_DW_EACH4(XP_DW_MUL) XP_DW_EACH4(XP_DW_SCALE) XP_DW_EACH4(ZP) XP_DW_EACH4(CLAMP)                             \
  XP_SB_RRPI("s0", "t4", "t3") XP_SB_RRPI("s1", "t4", "t3") XP_SB_RRPI("s2", "t4", "t3")                         \
  LAST XP_SB_RRPI("s3", "t4", "t3")
/* 64-bit fast path: m a4, lo32(a') a5, hi32(a') a7, s - 32 a6; the sum's register takes the high word */
#define XP_DW_OUT64_(ACC, CLAMP)                                                                                  \
  "mv t5, a5\n" XP_MAC("t5", ACC, "a4") "mulh " ACC ", " ACC ", a4\n sltu t5, t5, a5\n add " ACC ", " ACC    \
  ", t5\n" XP_ADDN_R(ACC, "a7", "a6") CLAMP(ACC)
#define XP_DW_FIN64(CLAMP, LAST)                                                                                  \
  XP_DW_OUT64_("s0", CLAMP) XP_SB_RRPI("s0", "t4", "t3") XP_DW_OUT64_("s1", CLAMP) XP_SB_RRPI("s1", "t4", "t3")  \
  XP_DW_OUT64_("s2", CLAMP) XP_SB_RRPI("s2", "t4", "t3") XP_DW_OUT64_("s3", CLAMP) LAST XP_SB_RRPI("s3", "t4", "t3")
#define XP_DW_RAW(LAST) XP_SW_PI("s0", 4, "t5") XP_SW_PI("s1", 4, "t5") XP_SW_PI("s2", 4, "t5") LAST XP_SW_PI("s3", 4, "t5")

/* The loops of both row functions: LOADS (the context into registers), then a hardware loop over the band's
 * output rows (or pairs of rows: count at 12(sp) or 100(sp), loaded into t6 by LOADS) around one over a row's
 * blocks (count at 8(sp)) running INNER (N instructions, its last labelled 85), then TAIL (the pointers to the
 * next row, its last instruction labelled 83; the outer body is M instructions). */
#define XP_DW_LOOPS(LOADS, INNER, N, TAIL, M)                                                                     \
  LOADS ".balign 4\n.option norvc\n" XP_LP_SETUP("1", "t6", M, "82") "lw t6, 8(sp)\n"                            \
  XP_LP_SETUP("0", "t6", N, "84") INNER XP_LP_CHECK("84", "85", N) TAIL XP_LP_CHECK("82", "83", M)                \
  XP_LP_NEST_CHECK("85", "83") ".option rvc\n"

/* One function per (stride, finishing): N = inner body length, M = N + 8 (the outer body). */
#define XP_DW_FN(NAME, BODY, FIN, N, M, PRE)                                                                      \
  XP_FRAME_FN(NAME, xp_dw_ctx, 84,                                                                               \
              XP_DW_LOOPS("lw a1, 0(sp)\n lw t5, 4(sp)\n add a2, a1, t5\n add a3, a2, t5\n"                        \
                          "lw t3, 20(sp)\n lw t4, 24(sp)\n lw a4, 32(sp)\n lw a5, 36(sp)\n lw a6, 40(sp)\n"       \
                          "lw a7, 44(sp)\n lw s10, 48(sp)\n lw s11, 52(sp)\n lw s4, 56(sp)\n lw s5, 60(sp)\n"     \
                          "lw s6, 64(sp)\n lw s7, 68(sp)\n lw s8, 72(sp)\n lw s9, 76(sp)\n lw t6, 12(sp)\n"       \
                          "lw t5, 80(sp)\n li t2, " XP_STR(XP_DW_SEL) "\n" PRE,                                  \
                          BODY FIN, N,                                                                          \
                          "lw t6, 16(sp)\n add a1, a1, t6\n add a2, a2, t6\n add a3, a3, t6\n lw t6, 28(sp)\n"    \
                          "83: add t3, t3, t6\n",                                                              \
                          M)                                                                                    \
              "sw t5, 80(sp)\n")

/* stride 1: body 21 + finish; stride 2: 27 + finish. Finish: raw 4, clipu 16 (4 each), +zp 20, max/min 24; the
 * 32-bit modes start with a4 = m - 1. */
#define XP_DW_M1 "addi a4, a4, -1\n"
XP_DW_FN(xp_dw1_raw, XP_DW_BODY1, XP_DW_RAW("85: "), 25, 33, "")
XP_DW_FN(xp_dw1_rq1, XP_DW_BODY1, XP_DW_FIN(XP_DW_ZP, XP_DW_MAXMIN, "85: "), 45, 53, XP_DW_M1)
XP_DW_FN(xp_dw1_rq2, XP_DW_BODY1, XP_DW_FIN(XP_DW_ZP, XP_DW_CLIPU, "85: "), 41, 49, XP_DW_M1)
XP_DW_FN(xp_dw1_rq3, XP_DW_BODY1, XP_DW_FIN(XP_DW_NOZP, XP_DW_CLIPU, "85: "), 37, 45, XP_DW_M1)
XP_DW_FN(xp_dw2_raw, XP_DW_BODY2, XP_DW_RAW("85: "), 31, 39, "")
XP_DW_FN(xp_dw2_rq1, XP_DW_BODY2, XP_DW_FIN(XP_DW_ZP, XP_DW_MAXMIN, "85: "), 51, 59, XP_DW_M1)
XP_DW_FN(xp_dw2_rq2, XP_DW_BODY2, XP_DW_FIN(XP_DW_ZP, XP_DW_CLIPU, "85: "), 47, 55, XP_DW_M1)
XP_DW_FN(xp_dw2_rq3, XP_DW_BODY2, XP_DW_FIN(XP_DW_NOZP, XP_DW_CLIPU, "85: "), 43, 51, XP_DW_M1)
/* 64-bit fast path: 9 (max/min) or 8 (clipu) per output */
XP_DW_FN(xp_dw1_rq4, XP_DW_BODY1, XP_DW_FIN64(XP_DW_MAXMIN, "85: "), 57, 65, "")
XP_DW_FN(xp_dw1_rq5, XP_DW_BODY1, XP_DW_FIN64(XP_DW_CLIPU, "85: "), 53, 61, "")
XP_DW_FN(xp_dw2_rq4, XP_DW_BODY2, XP_DW_FIN64(XP_DW_MAXMIN, "85: "), 63, 71, "")
XP_DW_FN(xp_dw2_rq5, XP_DW_BODY2, XP_DW_FIN64(XP_DW_CLIPU, "85: "), 59, 67, "")

static void xp_dw_run(xp_dw_ctx *x, int sw, int mode) {
  static void (*const fns[2][6])(xp_dw_ctx *) = {
      {xp_dw1_raw, xp_dw1_rq1, xp_dw1_rq2, xp_dw1_rq3, xp_dw1_rq4, xp_dw1_rq5},
      {xp_dw2_raw, xp_dw2_rq1, xp_dw2_rq2, xp_dw2_rq3, xp_dw2_rq4, xp_dw2_rq5}};
  fns[sw - 1][mode](x);
}

/* Two output rows per step (stride 1 both ways): a block's 4 plane rows are loaded once for both rows' 4 outputs,
 * 2 loads (the second misaligned: x[2..5] directly, no shuffle, whose selector's register holds a sum here) and 4 or 8
 * dot products per plane row: 32 instructions per 8 outputs instead of 42. 28 registers: sums s0-s3 (first row),
 * s10 t5 t6 ra (second row; t6 counts only at the loops' set-up), weights s4-s9, A t0, M t1, plane rows a1 a2 a3
 * a0, m-1 a4, a' a5, shift a6, zp a7, hi s11, outputs t3 and t2, ostride t4: the clipu modes (2, 3) only. */
#define XP_DW2_LD(PR) XP_LW_PI("t0", 4, PR) "lw t1, -2(" PR ")\n"
#define XP_DW2_4(OP, W0, W1, A0, A1, A2, A3) OP(A0, "t0", W0) OP(A1, "t0", W1) OP(A2, "t1", W0) OP(A3, "t1", W1)
#define XP_DW2_R0(OP, W0, W1) XP_DW2_4(OP, W0, W1, "s0", "s1", "s2", "s3")
#define XP_DW2_R1(OP, W0, W1) XP_DW2_4(OP, W0, W1, "s10", "t5", "t6", "ra")
#define XP_DW2_BODY                                                                                               \
  XP_DW2_LD("a1") XP_DW2_R0(XP_DOTUSP_B, "s4", "s5")                                                             \
  XP_DW2_LD("a2") XP_DW2_R0(XP_SDOTUSP_B, "s6", "s7") XP_DW2_R1(XP_DOTUSP_B, "s4", "s5")                        \
  XP_DW2_LD("a3") XP_DW2_R0(XP_SDOTUSP_B, "s8", "s9") XP_DW2_R1(XP_SDOTUSP_B, "s6", "s7")                       \
  XP_DW2_LD("a0") XP_DW2_R1(XP_SDOTUSP_B, "s8", "s9")
#define XP_DW2_EACH8(OP) OP("s0") OP("s1") OP("s2") OP("s3") OP("s10") OP("t5") OP("t6") OP("ra")
#define XP_DW2_FIN(ZP)                                                                                            \
  XP_DW2_EACH8(XP_DW_MUL) XP_DW2_EACH8(XP_DW_SCALE) XP_DW2_EACH8(ZP) XP_DW2_EACH8(XP_DW_CLIPU)                   \
  XP_SB_RRPI("s0", "t4", "t3") XP_SB_RRPI("s1", "t4", "t3") XP_SB_RRPI("s2", "t4", "t3")                         \
  XP_SB_RRPI("s3", "t4", "t3") XP_SB_RRPI("s10", "t4", "t2") XP_SB_RRPI("t5", "t4", "t2")                        \
  XP_SB_RRPI("t6", "t4", "t2") "85: " XP_SB_RRPI("ra", "t4", "t2")

/* N = inner body length (32 + 8 per finishing instruction), M = N + 10 (the outer body). */
#define XP_DW2_FN(NAME, FIN, N, M)                                                                                \
  XP_FRAME_FN(NAME, xp_dw_ctx, 84,                                                                               \
              XP_DW_LOOPS("lw a1, 0(sp)\n lw t5, 4(sp)\n add a2, a1, t5\n add a3, a2, t5\n add a0, a3, t5\n"      \
                          "lw t3, 20(sp)\n lw t4, 24(sp)\n lw t2, 88(sp)\n lw a4, 32(sp)\n lw a5, 36(sp)\n"       \
                          "lw a6, 40(sp)\n lw a7, 44(sp)\n lw s11, 52(sp)\n lw s4, 56(sp)\n lw s5, 60(sp)\n"     \
                          "lw s6, 64(sp)\n lw s7, 68(sp)\n lw s8, 72(sp)\n lw s9, 76(sp)\n lw t6, 100(sp)\n"      \
                          "addi a4, a4, -1\n",                                                                  \
                          XP_DW2_BODY FIN, N,                                                                   \
                          "lw s0, 92(sp)\n add a1, a1, s0\n add a2, a2, s0\n add a3, a3, s0\n add a0, a0, s0\n"  \
                          "lw s0, 96(sp)\n add t2, t2, s0\n 83: add t3, t3, s0\n",                            \
                          M))
XP_DW2_FN(xp_dw2r_rq2, XP_DW2_FIN(XP_DW_ZP), 72, 82)
XP_DW2_FN(xp_dw2r_rq3, XP_DW2_FIN(XP_DW_NOZP), 64, 74)

static void xp_dw_run2(xp_dw_ctx *x, int mode) { (mode == 2 ? xp_dw2r_rq2 : xp_dw2r_rq3)(x); }
#endif

/* The plane's padding for the band of input rows [iy0, iy0 + rows): whole rows outside the input box, and the
 * columns left and right of it, set to the zero point (the same for every channel: written once per band). The
 * plane's columns are the input columns -pad.left .. -pad.left + ncols - 1; [x0, x1) are in the box. */
XP_NO_LIBCALLS static void xp_dw_pad(const dory_conv_args *a, int32_t iy0, int32_t rows, int32_t ncols, int32_t x0, int32_t x1,
                      int32_t P, uint8_t *plane) {
  const uint8_t zp = (uint8_t)a->input_zero_point;
  /* the plane rows [ya, yb) are input rows (in the box), the others padding */
  const int32_t ya = x1 <= x0 ? rows : iy0 < 0 ? (-iy0 < rows ? -iy0 : rows) : 0;
  const int32_t yb = x1 <= x0 ? rows : a->in.h - iy0 < rows ? (a->in.h - iy0 > ya ? a->in.h - iy0 : ya) : rows;
  int32_t y, i;
  for (y = 0; y < ya; ++y) xp_fill_bytes(plane + (size_t)y * (size_t)P, zp, ncols);
  for (y = yb; y < rows; ++y) xp_fill_bytes(plane + (size_t)y * (size_t)P, zp, ncols);
  if (x0 == 1 && x1 == ncols - 1) { /* the side columns of "same" padding 1, a store each (the common case) */
    uint8_t *q = plane + (size_t)ya * (size_t)P;
    for (y = ya; y < yb; ++y, q += P) {
      q[0] = zp;
      q[x1] = zp;
    }
  } else { /* the side columns: a few bytes each (the padding), stored directly */
    uint8_t *q = plane + (size_t)ya * (size_t)P;
    for (y = ya; y < yb; ++y, q += P) {
      for (i = 0; i < x0; ++i) q[i] = zp;
      for (i = x1; i < ncols; ++i) q[i] = zp;
    }
  }
}

/* The gather of one band (the same for every channel): channel c's bytes of the input rows [iya, iyb) and columns
 * [x0, x1) of the plane (input column x - pad.left) go into the plane (pitch P, its row 0 = input row iy0): n = x1 -
 * x0 bytes per row, C apart. Computed once per band; xp_dw_gather then copies one channel. */
typedef struct {
  const uint8_t *src; /* channel 0's first byte */
  uint8_t *dst;
  int32_t rows, n, C, in_w, P, sjump, djump;
} xp_dw_gplan;

static void xp_dw_gplan_init(const dory_conv_args *a, int32_t iy0, int32_t iya, int32_t iyb, int32_t x0, int32_t x1,
                             int32_t P, uint8_t *plane, xp_dw_gplan *g) {
  const int32_t C = a->in.c, n = x1 - x0;
  g->src = (const uint8_t *)a->in.data + ((size_t)iya * (size_t)a->in.w + (size_t)(x0 - a->pad.left)) * (size_t)C;
  g->dst = plane + (size_t)(iya - iy0) * (size_t)P + (size_t)x0;
  g->rows = iyb - iya;
  g->n = n;
  g->C = C;
  g->in_w = a->in.w;
  g->P = P;
  g->sjump = (a->in.w - 2 * (n >> 1)) * C;
  g->djump = P - 2 * (n >> 1);
}

static inline void xp_dw_gather(const xp_dw_gplan *g, int32_t c) {
  const int32_t C = g->C, n = g->n, rows = g->rows, P = g->P;
  const uint8_t *src = g->src + c;
  uint8_t *dst = g->dst;
  int32_t y;
  if (rows <= 0 || n <= 0) return;
#ifdef DORY_XP_HOST_MODEL
  for (y = 0; y < rows; ++y) {
    int32_t i;
    for (i = 0; i < n; ++i) dst[(size_t)y * (size_t)P + (size_t)i] = src[((size_t)y * (size_t)g->in_w + (size_t)i) * (size_t)C];
  }
#else
  if (n >= 2) { /* rows x pairs of bytes, nested hardware loops; an odd last column below */
    const uint8_t *s = src;
    uint8_t *d = dst;
    uint32_t t0, t1;
    __asm__ volatile(XP_ASM_BEGIN
                     XP_LP_SETUP("1", "%[rows]", 8, "82")
                     "mv %[t0], %[np]\n"
                     XP_LP_SETUP("0", "%[t0]", 4, "80")
                     XP_LBU_RRPI("%[t0]", "%[c]", "%[s]") XP_LBU_RRPI("%[t1]", "%[c]", "%[s]")
                     XP_SB_PI("%[t0]", 1, "%[d]")
                     "81: " XP_SB_PI("%[t1]", 1, "%[d]")
                     XP_LP_CHECK("80", "81", 4)
                     "add %[s], %[s], %[sj]\n"
                     "83: add %[d], %[d], %[dj]\n"
                     XP_LP_CHECK("82", "83", 8)
                     XP_LP_NEST_CHECK("81", "83")
                     XP_ASM_END
                     : [s] "+r"(s), [d] "+r"(d), [t0] "=&r"(t0), [t1] "=&r"(t1)
                     : [rows] "r"(rows), [np] "r"(n >> 1), [c] "r"(C), [sj] "r"(g->sjump), [dj] "r"(g->djump)
                     : "memory");
  }
  if (n & 1) { /* the last column */
    const uint8_t *s = src + (size_t)(n - 1) * (size_t)C;
    uint8_t *d = dst + n - 1;
    for (y = 0; y < rows; ++y, s += (size_t)g->in_w * (size_t)C, d += P) *d = *s;
  }
#endif
}

/* The general finish (not the fast requantization): raw sums of the asm per row (16 blocks at a time), then C. */
__attribute__((noinline, cold)) static void xp_dw_raw_rows(const dory_conv_args *a, xp_dw_ctx *x,
                                                           const uint8_t *plane, int32_t r0, int32_t r1, int32_t c,
                                                           int32_t corr) {
  const int32_t C = a->in.c, W = a->out.w, sh = a->stride_h, sw = a->stride_w, P = x->pitch, nblk = W >> 2;
  int32_t oh;
  for (oh = r0; oh < r1; ++oh) {
    int32_t raw[64], b0;
    for (b0 = 0; b0 < nblk; b0 += 16) {
      const int32_t nb = nblk - b0 < 16 ? nblk - b0 : 16;
      int32_t i;
      x->pr = plane + (size_t)((oh - r0) * sh) * (size_t)P + (size_t)(b0 * 4 * sw);
      x->nrows = 1;
      x->nblk = nb;
      x->raw = raw;
      x->out = (uint8_t *)a->out.data; /* unused in raw mode */
      xp_dw_run(x, sw, 0);
      for (i = 0; i < 4 * nb; ++i)
        xp_finish_general(&a->rq, a->bias, 0, a->out.data, a->out.type, 1, 1, a->has_requant,
                          (oh * W + b0 * 4 + i) * C + c, c, (int32_t)((uint32_t)raw[i] + (uint32_t)corr));
    }
  }
}

/* The last W % 4 outputs of each row, in C from the plane. */
__attribute__((noinline, cold)) static void xp_dw_rest(const dory_conv_args *a, const xp_dw_ctx *x, const int8_t *w,
                                                       const uint8_t *plane, int32_t r0, int32_t r1, int32_t c,
                                                       int32_t corr, int fast) {
  const int32_t C = a->in.c, W = a->out.w, sh = a->stride_h, sw = a->stride_w, P = x->pitch;
  int32_t oh, ow, ky, kx;
  for (oh = r0; oh < r1; ++oh)
    for (ow = W & ~3; ow < W; ++ow) {
      const uint8_t *p = plane + (size_t)((oh - r0) * sh) * (size_t)P + (size_t)(ow * sw);
      const int32_t idx = (oh * W + ow) * C + c;
      int32_t s = 0;
      for (ky = 0; ky < 3; ++ky)
        for (kx = 0; kx < 3; ++kx) s += (int32_t)p[ky * P + kx] * w[3 * ky + kx];
      if (fast == 2) {
        const int32_t mah[3] = {x->m, x->ad, x->zp};
        dory_store(a->out.data, a->out.type, idx, xp_rq64(s, mah, x->shift, x->lo, x->hi));
      } else if (fast) {
        int32_t t = xp_mac(x->ad, s, x->m);
        t = (t >> x->shift) + x->zp;
        t = t < x->lo ? x->lo : (t > x->hi ? x->hi : t);
        dory_store(a->out.data, a->out.type, idx, t);
      } else {
        xp_finish_general(&a->rq, a->bias, 0, a->out.data, a->out.type, 1, 1, a->has_requant, idx, c,
                          (int32_t)((uint32_t)s + (uint32_t)corr));
      }
    }
}

/* Rows narrower than a block (W < 4, fast path): one block per row into a small buffer (4 outputs a row, ostride
 * 1), of which the row's W are stored. The block reads plane columns 0 .. 4 sw + 3: the plane's pitch covers them
 * (dory_depthwise_u8s8_1x4__xpulpv2_pitch), and the columns past the row's (W - 1) sw + 3 only reach the outputs
 * that are dropped. */
__attribute__((noinline)) static void xp_dw_narrow(const dory_conv_args *a, xp_dw_ctx *x, const uint8_t *plane,
                                                   int32_t r0, int32_t r1, int32_t c, int mode) {
  const int32_t C = a->in.c, W = a->out.w, sh = a->stride_h, sw = a->stride_w, P = x->pitch;
  const int32_t ostride = x->ostride, outjump = x->outjump, rowjump = x->rowjump;
  uint8_t buf[4 * 16];
  int32_t r, j, q;
  x->ostride = 1;
  x->outjump = 0;
  x->rowjump = sh * P - 4 * sw;
  x->nblk = 1;
  for (r = r0; r < r1; r += 16) {
    const int32_t n = r1 - r < 16 ? r1 - r : 16;
    x->pr = plane + (size_t)((r - r0) * sh) * (size_t)P;
    x->nrows = n;
    x->out = buf;
    xp_dw_run(x, sw, mode);
    for (q = 0; q < n; ++q)
      for (j = 0; j < W; ++j) ((uint8_t *)a->out.data)[((size_t)(r + q) * (size_t)W + (size_t)j) * (size_t)C + (size_t)c] = buf[4 * q + j];
  }
  x->ostride = ostride;
  x->outjump = outjump;
  x->rowjump = rowjump;
}

/* Rows of output per band that the plane slice holds (>= 1, else 0). */
static int32_t xp_dw_band(uint32_t slice, int32_t P, int32_t sh) {
  const int32_t fit = (int32_t)(slice / (uint32_t)P);
  return fit < 3 ? 0 : (fit - 3) / sh + 1;
}

void dory_depthwise_u8s8_1x4__xpulpv2(const dory_conv_args *args) {
  const dory_conv_args *a = args; /* in TCDM: the executor builds them on the core's stack */
  const int32_t C = a->in.c, W = a->out.w, sh = a->stride_h, sw = a->stride_w;
  const int32_t P = dory_depthwise_u8s8_1x4__xpulpv2_pitch(sw, W), ncols = (W - 1) * sw + 3;
  const int32_t nblk = W >> 2;
  uint32_t slice;
  int32_t band, c, mode, two;
  const int32_t zp = a->input_zero_point;
  dory_work wk;
  int fast, cfast;
  uint8_t *plane;
  DORY_KCHECK(a->in.type == DORY_UINT8, "dory_depthwise_u8s8_1x4__xpulpv2: needs a uint8 input");
  DORY_KCHECK(dory_window_valid(&a->in, &a->out, &a->pad, a->kh, a->kw, a->stride_h, a->stride_w),
              "dory_depthwise_u8s8_1x4__xpulpv2: inconsistent tile geometry");
  DORY_KCHECK(a->in.c == a->out.c && a->weights && a->bias && a->first && a->last,
              "dory_depthwise_u8s8_1x4__xpulpv2: needs in.c == out.c, weights, bias, first = last = 1");
  DORY_KCHECK(a->has_requant ? dory_rq_valid(&a->rq) : a->out.type == DORY_INT32,
              "dory_depthwise_u8s8_1x4__xpulpv2: inconsistent requantization arguments");
  slice = xp_scratch_slice(a->scratch, a->scratch_bytes);
  band = xp_dw_band(slice, P, sh);
  if (a->kh != 3 || a->kw != 3 || (sw != 1 && sw != 2) || band < 1 || a->in.h == 0 || a->in.w == 0) {
    dory_depthwise_u8s8_1x4__c(args);
    return;
  }
  wk = dory_core_work(a->split, a->out.h, a->out.c);
  if (wk.r0 >= wk.r1 || wk.c0 >= wk.c1) return;
  plane = (uint8_t *)a->scratch + (size_t)dory_core_id() * slice;
  fast = xp_fast_requant(a->has_requant, &a->rq, a->out.type)           ? 1
         : xp_fast64_requant(a->has_requant, &a->rq, a->out.type, 9) ? 2
                                                                       : 0;
  mode = !fast ? 0 : fast == 2 ? (a->rq.lo != 0 ? 4 : 5) : a->rq.lo != 0 ? 1 : (a->rq.zero_point != 0 ? 2 : 3);
  {
    const int32_t pl = a->pad.left, nrec = a->rq.mul_per_channel + a->rq.add_per_channel;
    /* the arguments the channel loop reads, in locals: the asm blocks clobber memory, *a would be reloaded */
    const int8_t *const wts = a->weights;
    const int32_t *const bias = a->bias, *const recs = (const int32_t *)a->rq.channel_params;
    const int32_t cout = a->out.c, mpc = a->rq.mul_per_channel, apc = a->rq.add_per_channel;
    const int32_t mul0 = (int32_t)a->rq.mul, add0 = (int32_t)a->rq.add;
    uint8_t *const outd = (uint8_t *)a->out.data;
    xp_dw_ctx x;
    xp_dw_gplan gp;
    xp_fold64_layer f64; /* the 64-bit fold's layer constants, once per call */
    const int32_t x0 = pl < ncols ? pl : ncols, x1 = pl + a->in.w < ncols ? pl + a->in.w : ncols;
    int32_t r0;
    if (fast == 2) xp_fold64_prep(&a->rq, &f64);
    for (r0 = wk.r0; r0 < wk.r1; r0 += band) {
      const int32_t r1 = r0 + band < wk.r1 ? r0 + band : wk.r1, rows = (r1 - r0 - 1) * sh + 3;
      const int32_t iy0 = r0 * sh - a->pad.top;
      const int32_t iya = iy0 < 0 ? 0 : iy0, iyb = iy0 + rows < a->in.h ? iy0 + rows : a->in.h;
      xp_dw_pad(a, iy0, rows, ncols, x0, x1, P, plane);
      xp_dw_gplan_init(a, iy0, iya, iyb, x0, x1, P, plane, &gp);
      x.shift = fast == 2 ? (a->rq.div.d64.shift > 32 ? a->rq.div.d64.shift - 32 : 0) : a->rq.div.d32.shift;
      x.zp = a->rq.zero_point;
      x.lo = a->rq.lo;
      x.hi = a->rq.hi;
      x.pitch = P;
      x.ostride = C;
      x.rowjump = sh * P - nblk * 4 * sw;
      x.outjump = (W - 4 * nblk) * C;
      /* pairs of output rows (stride 1, the clipu modes, a band of >= 2 rows): the two-row asm, also for the
       * last W % 4 outputs of the pairs' rows; an odd band's last row goes through the one-row asm */
      two = sw == 1 && sh == 1 && (mode == 2 || mode == 3) && nblk > 0 && r1 - r0 >= 2 ? 2 * ((r1 - r0) >> 1) : 0;
      x.npairs = (r1 - r0) >> 1;
      x.rowjump2 = 2 * P - nblk * 4;
      x.outjump2 = (2 * W - 4 * nblk) * C;
      for (c = wk.c0; c < wk.c1; ++c) {
        const int8_t *w = wts + (size_t)c * 9u;
        int32_t ky, corr = 0, m = 0, ad = 0;
        xp_dw_gather(&gp, c);
        if (c + 1 < cout) { /* 3 (misaligned) word loads; the last one reads 1 byte of the next channel */
          for (ky = 0; ky < 3; ++ky) {
            const uint32_t r3 = xp_lw(w + 3 * ky) & 0x00FFFFFFu;
            x.w[2 * ky] = r3;
            x.w[2 * ky + 1] = r3 << 8;
          }
        } else { /* the tile's last channel: nothing may be read past the weights */
          for (ky = 0; ky < 3; ++ky) {
            const uint32_t b0 = (uint8_t)w[3 * ky], b1 = (uint8_t)w[3 * ky + 1], b2 = (uint8_t)w[3 * ky + 2];
            x.w[2 * ky] = b0 | b1 << 8 | b2 << 16;
            x.w[2 * ky + 1] = b0 << 8 | b1 << 16 | b2 << 24;
          }
        }
        if (zp) { /* the plane holds zp in the padding: every window is full, sum (x - zp) w = sum x w - zp * S */
          int32_t s9 = 0, i;
          for (i = 0; i < 9; ++i) s9 += w[i];
          corr = (int32_t)(0u - (uint32_t)zp * (uint32_t)s9);
        }
        cfast = fast;
        if (fast == 2) { /* {m, lo32(a'), hi32(a')} into m, ad, zp; a channel that cannot: the general path */
          int32_t mah[3];
          if (xp_fold64_at(&f64, &a->rq, c, bias[c], corr, mah)) {
            x.m = mah[0];
            x.ad = mah[1];
            x.zp = mah[2];
          } else {
            cfast = 0;
          }
        } else if (fast) {
          const int32_t *rec = recs + (size_t)c * (size_t)nrec;
          m = mpc ? rec[0] : mul0;
          ad = apc ? rec[mpc] : add0;
          x.m = m;
          x.ad = xp_mac(ad, (int32_t)((uint32_t)bias[c] + (uint32_t)corr), m); /* xp_fold_add */
        }
        if (nblk > 0 && cfast) {
          uint8_t *const o = outd + ((size_t)r0 * (size_t)W) * (size_t)C + (size_t)c;
          int32_t done = 0; /* the band's rows done by the two-row asm */
          if (two && cfast == 1) {
            x.pr = plane;
            x.nblk = nblk;
            x.out = o;
            x.out2 = o + (size_t)W * (size_t)C;
            xp_dw_run2(&x, mode);
            if (W & 3) { /* one more block per row ending at the row's end (as below) */
              x.pr = plane + (W - 4);
              x.nblk = 1;
              x.out = o + (size_t)(W - 4) * (size_t)C;
              x.out2 = x.out + (size_t)W * (size_t)C;
              x.rowjump2 = 2 * P - 4;
              x.outjump2 = (2 * W - 4) * C;
              xp_dw_run2(&x, mode);
              x.rowjump2 = 2 * P - nblk * 4;
              x.outjump2 = (2 * W - 4 * nblk) * C;
            }
            done = two;
          }
          if (done < r1 - r0) {
            x.pr = plane + (size_t)(done * sh) * (size_t)P;
            x.nblk = nblk;
            x.nrows = r1 - r0 - done;
            x.out = o + (size_t)done * (size_t)W * (size_t)C;
            xp_dw_run(&x, sw, mode);
            if (W & 3) {
              /* the last W % 4 outputs of each row: one more block per row ending at the row's end (it recomputes
               * up to 3 outputs of the previous block, same values, same core; misaligned plane loads) */
              x.pr = plane + (size_t)(done * sh) * (size_t)P + (size_t)((W - 4) * sw);
              x.nblk = 1;
              x.rowjump = sh * P - 4 * sw;
              x.out = o + ((size_t)done * (size_t)W + (size_t)(W - 4)) * (size_t)C;
              x.outjump = (W - 4) * C;
              xp_dw_run(&x, sw, mode);
              x.rowjump = sh * P - nblk * 4 * sw;
              x.outjump = (W - 4 * nblk) * C;
            }
          }
        } else if (nblk > 0) {
          xp_dw_raw_rows(a, &x, plane, r0, r1, c, corr);
          if (W & 3) xp_dw_rest(a, &x, w, plane, r0, r1, c, corr, cfast);
        } else if (W < 4 && cfast) {
          xp_dw_narrow(a, &x, plane, r0, r1, c, mode);
        } else if (W & 3) {
          xp_dw_rest(a, &x, w, plane, r0, r1, c, corr, cfast);
        }
      }
    }
  }
}
