/* Internal: the 4-channel x 4-pixel u8 x s8 block of the conv and pointwise xpulpv2 kernels (not part of the API).
 *
 * One call computes, for one block of 4 output pixels, ngroups consecutive groups of 4 output channels:
 *   sum[ch][px] = sum over the window of x[px][k] * w[ch][k]   (raw u8 input bytes, s8 weights)
 * and either stores the 16 raw sums of each group (mode 0) or requantizes them on the fast path (xp_common.h)
 * into the 8-bit output (mode 1: clamp with p.max/p.min; mode 2: lo == 0, clamp with p.clipu).
 *
 * Geometry (all in bytes)
 * -----------------------
 *   pixels: px0 and px0 + rd (pair A), px2 and px2 + rd (pair B); each pixel's window is nrows rows of nwords
 *           words, consecutive words contiguous, the next row `jump` bytes after the end of a row (so a window is
 *           read straight from an HWC tile: rd = stride_w*C, jump = (row pitch - kw*C));
 *   weights: channels pw, pw + rk (pair 0), pw + pw2off, pw + pw2off + rk (pair 1); each channel's window is
 *           contiguous (nrows*nwords words, the [kh][kw][c] order of the weights), the next group at pw + 4*k.
 *   outputs: pixel slot 0 at outa, 1 at outa + ostride, 2 at outb, 3 at outb + ostride; channel slot j at +j
 *           (8-bit outputs, HWC), the next group at +4.
 *   ma:      per channel of the group, {m, a'} int32 (a' with the bias and the zero-point correction folded),
 *            the next group at +8 words. acc (mode 0): 16 sums per group, [channel slot][pixel slot].
 *
 * Inner loop: per 4-byte word of the window, 4 input loads + 4 weight loads + 16 pv.sdotusp.b = 24 instructions
 * for 64 MACs, no stall (each loaded value is used at least 2 instructions later), in a hardware loop over the
 * row's words nested in a hardware loop over the rows. The first word of a group uses pv.dotusp.b (no
 * accumulation) instead of zeroing 16 registers. Per group and output: 6-7 instructions of requantization.
 *
 * Registers: every one but sp, gp, tp and zero (the block names them and lists them as clobbers):
 *   sums   ch0: s0-s3  ch1: s4-s7  ch2: s8-s11  ch3: t3-t6 (pixel slots 0-3)
 *   inputs a1-a4 (pixel slots 0-3), weights a5/a6, px0 t0, px2 t1, pw t2, pw+pw2off a7, rd ra, rk-4 a0.
 * The context pointer arrives in a0 and lives in a 16-byte frame the block pushes below sp (with nwords, jump
 * and nrows-1); no interrupt is enabled on the cluster cores, so nothing else uses the stack meanwhile.
 */
#ifndef DORY_XP_MM4X4_H
#define DORY_XP_MM4X4_H

#include <stddef.h>

#include "xp_common.h"

typedef struct {
  const uint8_t *px0, *px2;  /*  0,  4 */
  int32_t rd, jump;          /*  8, 12 */
  const int8_t *pw;          /* 16 */
  int32_t k;                 /* 20: bytes per channel of weights (the group step is 4k) */
  int32_t nrows, nwords;     /* 24, 28: both >= 1 */
  int32_t ngroups, mode;     /* 32, 36: ngroups >= 1; mode 0 raw, 1 requant max/min, 2 requant clipu */
  int32_t *acc;              /* 40 */
  const int32_t *ma;         /* 44 */
  int32_t shift, zp, lo, hi; /* 48, 52, 56, 60 */
  uint8_t *outa, *outb;      /* 64, 68 */
  int32_t ostride;           /* 72 */
  int32_t pw2off, rk;        /* 76, 80 */
} xp_mm_ctx;

/* The offsets the asm uses (C99 has no static assert: a negative array size fails the build). */
#ifndef DORY_XP_HOST_MODEL
typedef char xp_mm_ctx_layout_check[(offsetof(xp_mm_ctx, px2) == 4 && offsetof(xp_mm_ctx, jump) == 12 &&
                                     offsetof(xp_mm_ctx, pw) == 16 && offsetof(xp_mm_ctx, nwords) == 28 &&
                                     offsetof(xp_mm_ctx, mode) == 36 && offsetof(xp_mm_ctx, acc) == 40 &&
                                     offsetof(xp_mm_ctx, ma) == 44 && offsetof(xp_mm_ctx, hi) == 60 &&
                                     offsetof(xp_mm_ctx, outb) == 68 && offsetof(xp_mm_ctx, ostride) == 72 &&
                                     offsetof(xp_mm_ctx, rk) == 80)
                                        ? 1
                                        : -1];
#endif

/* One word of the window for the 16 sums: OP is XP_SDOTUSP_B or XP_DOTUSP_B, LAST a label for the last one. */
#define XP_MM4X4_WORD(OP, LAST)                                                                                   \
  XP_LW_RR("a2", "ra", "t0") XP_LW_PI("a1", 4, "t0") XP_LW_RR("a4", "ra", "t1") XP_LW_PI("a3", 4, "t1")          \
  XP_LW_PI("a5", 4, "t2") XP_LW_RR("a6", "a0", "t2")                                                            \
  OP("s0", "a1", "a5") OP("s1", "a2", "a5") OP("s2", "a3", "a5") OP("s3", "a4", "a5")                          \
  XP_LW_PI("a5", 4, "a7")                                                                                       \
  OP("s4", "a1", "a6") OP("s5", "a2", "a6") OP("s6", "a3", "a6") OP("s7", "a4", "a6")                          \
  XP_LW_RR("a6", "a0", "a7")                                                                                    \
  OP("s8", "a1", "a5") OP("s9", "a2", "a5") OP("s10", "a3", "a5") OP("s11", "a4", "a5")                        \
  OP("t3", "a1", "a6") OP("t4", "a2", "a6") OP("t5", "a3", "a6") LAST OP("t6", "a4", "a6")

/* Requantize one sum (register ACC) with m = a5, a' = a6, shift a1, zp a2, lo a3, hi a4; store through a0 and
 * step it by ostride (ra). */
#define XP_MM_FIN_PIX(ACC, CLAMP)                                                                                 \
  "mv t1, a6\n" XP_MAC("t1", ACC, "a5") "sra t1, t1, a1\n" "add t1, t1, a2\n" CLAMP XP_SB_RRPI("t1", "ra", "a0")
#define XP_MM_CLAMP_MAXMIN XP_MAX("t1", "t1", "a3") XP_MIN("t1", "t1", "a4")
#define XP_MM_CLAMP_CLIPU XP_CLIPU("t1", "t1", "a4")
/* Channel slot j: m, a' from ma (t0) at byte offsets OM/OA, pixel slots 0/1 through outa (a7) + j, 2/3 through
 * outb (t2) + j. */
#define XP_MM_FIN_CH(OM, OA, J, A0, A1, A2, A3, CLAMP)                                                            \
  "lw a5, " OM "(t0)\n"                                                                                          \
  "lw a6, " OA "(t0)\n"                                                                                          \
  "addi a0, a7, " J "\n" XP_MM_FIN_PIX(A0, CLAMP) XP_MM_FIN_PIX(A1, CLAMP)                                       \
  "addi a0, t2, " J "\n" XP_MM_FIN_PIX(A2, CLAMP) XP_MM_FIN_PIX(A3, CLAMP)
#define XP_MM_FIN_ALL(CLAMP)                                                                                      \
  XP_MM_FIN_CH("0", "4", "0", "s0", "s1", "s2", "s3", CLAMP)                                                     \
  XP_MM_FIN_CH("8", "12", "1", "s4", "s5", "s6", "s7", CLAMP)                                                    \
  XP_MM_FIN_CH("16", "20", "2", "s8", "s9", "s10", "s11", CLAMP)                                                 \
  XP_MM_FIN_CH("24", "28", "3", "t3", "t4", "t5", "t6", CLAMP)

#ifdef DORY_XP_HOST_MODEL
/* The C model of the asm block below (same reads, same writes). */
static void xp_mm4x4_run(xp_mm_ctx *x) {
  while (x->ngroups > 0) {
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
            memcpy(&xv, px[p] + row * (4 * x->nwords + x->jump) + 4 * word, 4);
            memcpy(&wv, pw[ch] + 4 * (row * x->nwords + word), 4);
            acc[ch * 4 + p] = xp_sdotusp_b(acc[ch * 4 + p], xv, wv);
          }
    if (x->mode == 0) {
      for (ch = 0; ch < 16; ++ch) x->acc[ch] = acc[ch];
      x->acc += 16;
    } else {
      for (ch = 0; ch < 4; ++ch)
        for (p = 0; p < 4; ++p) {
          int32_t t = xp_mac(x->ma[2 * ch + 1], acc[ch * 4 + p], x->ma[2 * ch]);
          t = (t >> x->shift) + x->zp;
          t = x->mode == 1 ? xp_min(xp_max(t, x->lo), x->hi) : xp_clipu(t, x->hi);
          ((p < 2) ? x->outa : x->outb)[ch + ((p & 1) ? x->ostride : 0)] = (uint8_t)t;
        }
    }
    x->pw += 4 * x->k;
    x->ma += 8;
    x->outa += 4;
    x->outb += 4;
    x->ngroups--;
  }
}
#else
__attribute__((noinline)) XP_NO_FRAME_POINTER static void xp_mm4x4_run(xp_mm_ctx *ctx) {
  register xp_mm_ctx *c __asm__("a0") = ctx;
  __asm__ volatile(
      XP_ASM_BEGIN
      "addi sp, sp, -16\n"
      "sw a0, 0(sp)\n"
      "lw a1, 28(a0)\n"
      "sw a1, 4(sp)\n"        /* nwords */
      "lw a1, 12(a0)\n"
      "sw a1, 8(sp)\n"        /* jump */
      "lw a1, 24(a0)\n"
      "addi a1, a1, -1\n"
      "sw a1, 12(sp)\n"       /* nrows - 1 */
      "90:\n"                 /* ---- one group of 4 channels ---- */
      "lw t0, 0(a0)\n"        /* px0 */
      "lw t1, 4(a0)\n"        /* px2 */
      "lw ra, 8(a0)\n"        /* rd */
      "lw t2, 16(a0)\n"       /* pw */
      "lw a1, 76(a0)\n"       /* pw2off */
      "lw a2, 80(a0)\n"       /* rk */
      "add a7, t2, a1\n"
      "addi a0, a2, -4\n"
      XP_MM4X4_WORD(XP_DOTUSP_B, "")  /* the first word starts the 16 sums */
      "lw a2, 4(sp)\n"
      "addi a2, a2, -1\n"
      "beqz a2, 91f\n"
      XP_LP_SETUP("0", "a2", 24, "80")
      XP_MM4X4_WORD(XP_SDOTUSP_B, "81: ")
      XP_LP_CHECK("80", "81", 24)
      "91:\n"                 /* the other rows */
      "lw a1, 8(sp)\n"
      "lw a3, 12(sp)\n"
      "add t0, t0, a1\n"
      "add t1, t1, a1\n"
      "beqz a3, 92f\n"
      "lw a2, 4(sp)\n"
      XP_LP_SETUP("1", "a3", 29, "82")
      XP_LP_SETUP("0", "a2", 24, "84")
      XP_MM4X4_WORD(XP_SDOTUSP_B, "85: ")
      XP_LP_CHECK("84", "85", 24)
      "lw a1, 8(sp)\n"
      "lw a2, 4(sp)\n"
      "add t0, t0, a1\n"
      "83: add t1, t1, a1\n"
      XP_LP_CHECK("82", "83", 29)
      "92:\n"                 /* ---- finish the group ---- */
      "lw a0, 0(sp)\n"
      "lw a1, 36(a0)\n"       /* mode */
      "beqz a1, 95f\n"
      "lw t0, 44(a0)\n"       /* ma */
      "lw a2, 52(a0)\n"       /* zp */
      "lw a3, 56(a0)\n"       /* lo */
      "lw a4, 60(a0)\n"       /* hi */
      "lw ra, 72(a0)\n"       /* ostride */
      "lw a7, 64(a0)\n"       /* outa */
      "lw t2, 68(a0)\n"       /* outb */
      "addi a1, a1, -1\n"
      "bnez a1, 96f\n"
      "lw a1, 48(a0)\n"       /* shift */
      XP_MM_FIN_ALL(XP_MM_CLAMP_MAXMIN)
      "j 97f\n"
      "96:\n"
      "lw a1, 48(a0)\n"
      XP_MM_FIN_ALL(XP_MM_CLAMP_CLIPU)
      "j 97f\n"
      "95:\n"                 /* raw sums */
      "lw a1, 40(a0)\n"
      "sw s0, 0(a1)\n"  "sw s1, 4(a1)\n"  "sw s2, 8(a1)\n"  "sw s3, 12(a1)\n"
      "sw s4, 16(a1)\n" "sw s5, 20(a1)\n" "sw s6, 24(a1)\n" "sw s7, 28(a1)\n"
      "sw s8, 32(a1)\n" "sw s9, 36(a1)\n" "sw s10, 40(a1)\n" "sw s11, 44(a1)\n"
      "sw t3, 48(a1)\n" "sw t4, 52(a1)\n" "sw t5, 56(a1)\n" "sw t6, 60(a1)\n"
      "addi a1, a1, 64\n"
      "sw a1, 40(a0)\n"
      "97:\n"                 /* ---- next group ---- */
      "lw a0, 0(sp)\n"
      "lw a1, 16(a0)\n"
      "lw a2, 20(a0)\n"
      "lw a3, 44(a0)\n"
      "lw a4, 64(a0)\n"
      "lw a5, 68(a0)\n"
      "lw a6, 32(a0)\n"
      "slli a2, a2, 2\n"
      "add a1, a1, a2\n"
      "addi a3, a3, 32\n"
      "addi a4, a4, 4\n"
      "addi a5, a5, 4\n"
      "addi a6, a6, -1\n"
      "sw a1, 16(a0)\n"
      "sw a3, 44(a0)\n"
      "sw a4, 64(a0)\n"
      "sw a5, 68(a0)\n"
      "sw a6, 32(a0)\n"
      "bnez a6, 90b\n"
      "addi sp, sp, 16\n"
      XP_ASM_END
      : "+r"(c)
      :
      : "ra", "t0", "t1", "t2", "s0", "s1", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6",
        "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6", "memory");
}
#endif /* DORY_XP_HOST_MODEL */

/* ---- word copies (hardware loops, 2 words per iteration) ------------------------------------------------- */

/* Copies n words (n >= 0), both pointers 4-byte aligned. */
static inline void xp_copy_words(void *dst, const void *src, int32_t n) {
  uint32_t *d = (uint32_t *)dst;
  const uint32_t *s = (const uint32_t *)src;
  const int32_t pairs = n >> 1;
#ifdef DORY_XP_HOST_MODEL
  memcpy(d, s, 8u * (uint32_t)pairs);
  d += 2 * pairs;
  s += 2 * pairs;
#else
  if (pairs > 0) {
    uint32_t t0, t1;
    __asm__ volatile(XP_ASM_BEGIN
                     XP_LP_SETUP("0", "%[n]", 4, "80")
                     XP_LW_PI("%[t0]", 4, "%[s]")
                     XP_LW_PI("%[t1]", 4, "%[s]")
                     XP_SW_PI("%[t0]", 4, "%[d]")
                     "81: " XP_SW_PI("%[t1]", 4, "%[d]")
                     XP_LP_CHECK("80", "81", 4)
                     XP_ASM_END
                     : [d] "+r"(d), [s] "+r"(s), [t0] "=&r"(t0), [t1] "=&r"(t1)
                     : [n] "r"(pairs)
                     : "memory");
  }
#endif
  if (n & 1) *d = *s;
}

/* Fills n words (n >= 0, aligned) with v. */
static inline void xp_fill_words(void *dst, uint32_t v, int32_t n) {
  uint32_t *d = (uint32_t *)dst;
  const int32_t triples = n / 3;
  int32_t i;
#ifdef DORY_XP_HOST_MODEL
  for (i = 0; i < 3 * triples; ++i) *d++ = v;
#else
  if (triples > 0) {
    __asm__ volatile(XP_ASM_BEGIN
                     XP_LP_SETUP("0", "%[n]", 3, "80")
                     XP_SW_PI("%[v]", 4, "%[d]")
                     XP_SW_PI("%[v]", 4, "%[d]")
                     "81: " XP_SW_PI("%[v]", 4, "%[d]")
                     XP_LP_CHECK("80", "81", 3)
                     XP_ASM_END
                     : [d] "+r"(d)
                     : [n] "r"(triples), [v] "r"(v)
                     : "memory");
  }
#endif
  for (i = 0; i < n - 3 * triples; ++i) d[i] = v;
}

/* ---- the driver shared by conv and pointwise ---------------------------------------------------------------- */

#define XP_MM_CHUNK 32 /* output channels whose constants sit on the stack at a time */

typedef struct {
  const dory_conv_args *a;
  int32_t C, K, K4, oc, W, zp;
  int fast, mode;   /* fast requantization, and the asm finish mode (1 max/min, 2 clipu) */
  int im2col;       /* pixel windows copied as K4-byte vectors into the scratch (channels not a multiple of 4) */
  int pointwise;
  uint8_t *scr;     /* this core's scratch slice */
} xp_mm_call;

typedef struct {
  const uint8_t *px0, *px2;
  int32_t rd, jump, nrows, nwords;
  int32_t pix[4];   /* output pixel index of each slot */
  uint8_t valid[4]; /* the slot's pixel is not also computed by an earlier slot of the block */
  int32_t ostride;  /* bytes between slots 0 and 1 (and 2 and 3) in the output */
} xp_mm_block;

/* Raw sums of one group -> outputs: channel slot j computes tile channel ch[j] (chv[j]: first slot to do so). */
static inline void xp_mm_finish_raw(const xp_mm_call *k, const xp_mm_block *b, const int32_t *acc,
                                    const int32_t *ch, const uint8_t *chv, const int32_t *corr_chunk,
                                    const int32_t *ma_chunk, int32_t chunk0) {
  const dory_conv_args *a = k->a;
  int j, i;
  for (j = 0; j < 4; ++j) {
    const int32_t c = ch[j], cc = c - chunk0;
    if (!chv[j]) continue;
    for (i = 0; i < 4; ++i) {
      const int32_t idx = b->pix[i] * k->oc + c;
      int32_t sum;
      if (!b->valid[i]) continue;
      if (k->fast) {
        int32_t t = (int32_t)((uint32_t)acc[j * 4 + i] * (uint32_t)ma_chunk[2 * cc] + (uint32_t)ma_chunk[2 * cc + 1]);
        t = (t >> a->rq.div.d32.shift) + a->rq.zero_point;
        t = t < a->rq.lo ? a->rq.lo : (t > a->rq.hi ? a->rq.hi : t);
        dory_store(a->out.data, a->out.type, idx, t);
        continue;
      }
      sum = (int32_t)((uint32_t)acc[j * 4 + i] + (uint32_t)corr_chunk[cc]);
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

/* One group of channel slots in raw mode: words by the asm block (if any), the tail in C, the finish in C.
 * pw2off/rk select the slots' channels (duplicates for a remainder group). */
static inline void xp_mm_group_raw(const xp_mm_call *k, const xp_mm_block *b, xp_mm_ctx *x, int32_t c, int32_t pw2off,
                                   int32_t rk, int32_t nwords, const int32_t *corr_chunk, const int32_t *ma_chunk,
                                   int32_t chunk0) {
  int32_t acc[16];
  const int32_t K = k->K;
  const int32_t kofs[4] = {0, rk, pw2off, pw2off + rk};
  int32_t ch[4];
  uint8_t chv[4];
  int j, i;
  for (j = 0; j < 4; ++j) {
    ch[j] = c + kofs[j] / (K ? K : 1);
    chv[j] = 1;
    for (i = 0; i < j; ++i)
      if (ch[i] == ch[j]) chv[j] = 0;
  }
  if (nwords > 0) {
    x->pw = k->a->weights + (size_t)c * K;
    x->pw2off = pw2off;
    x->rk = rk;
    x->nwords = nwords;
    x->ngroups = 1;
    x->mode = 0;
    x->acc = acc;
    xp_mm4x4_run(x);
  } else {
    for (j = 0; j < 16; ++j) acc[j] = 0;
  }
  if (b->nrows * nwords * 4 < K) { /* im2col with K % 4 != 0 (one row): the bytes past the last whole word */
    const int8_t *w[4];
    for (j = 0; j < 4; ++j) w[j] = k->a->weights + (size_t)ch[j] * K;
    xp_mm_tail(k, b, w, nwords * 4, acc);
  }
  xp_mm_finish_raw(k, b, acc, ch, chv, corr_chunk, ma_chunk, chunk0);
}

/* Runs every group of the chunk [c_lo, c_hi) on the block. */
static inline void xp_mm_block_run(const xp_mm_call *k, const xp_mm_block *b, int32_t c_lo, int32_t c_hi,
                                   const int32_t *corr, const int32_t *ma) {
  const dory_conv_args *a = k->a;
  const int32_t K = k->K, n = c_hi - c_lo;
  int32_t ng = n >> 2, rc = n & 3, g;
  /* im2col with K % 4 != 0 reads each channel's last word past its K bytes (times zero inputs): not allowed for
   * the tile's last channel, whose row ends the weights. */
  const int tail_last = k->im2col && (K & 3) && c_hi == k->oc;
  const int32_t full_words = k->im2col ? k->K4 / 4 : b->nwords;
  xp_mm_ctx x;
  x.px0 = b->px0;
  x.px2 = b->px2;
  x.rd = b->rd;
  x.jump = b->jump;
  x.k = K;
  x.nrows = b->nrows;
  x.nwords = full_words;
  if (tail_last && rc == 0) --ng; /* the last full group holds the last channel */
  if (ng > 0 && k->fast && full_words > 0) {
    x.pw = a->weights + (size_t)c_lo * K;
    x.pw2off = 2 * K;
    x.rk = K;
    x.ngroups = ng;
    x.mode = k->mode;
    x.ma = ma;
    x.shift = a->rq.div.d32.shift;
    x.zp = a->rq.zero_point;
    x.lo = a->rq.lo;
    x.hi = a->rq.hi;
    x.outa = (uint8_t *)a->out.data + (size_t)b->pix[0] * k->oc + c_lo;
    x.outb = (uint8_t *)a->out.data + (size_t)b->pix[2] * k->oc + c_lo;
    x.ostride = b->ostride;
    xp_mm4x4_run(&x);
  } else {
    for (g = 0; g < ng; ++g)
      xp_mm_group_raw(k, b, &x, c_lo + 4 * g, 2 * K, K, full_words, corr, ma, c_lo);
  }
  if (tail_last && rc == 0) xp_mm_group_raw(k, b, &x, c_hi - 4, 2 * K, K, K >> 2, corr, ma, c_lo);
  if (rc) {
    const int32_t c = c_lo + 4 * ng;
    /* slots: 3 channels c, c+1, c+1, c+2; 2: c, c+1, c, c+1; 1: c four times */
    const int32_t pw2off = rc == 3 ? K : 0, rk = rc == 1 ? 0 : K;
    xp_mm_group_raw(k, b, &x, c, pw2off, rk, tail_last ? K >> 2 : full_words, corr, ma, c_lo);
  }
}

/* Copies the receptive fields of a pixel pair (output row oh, columns ow and ow + 1 if two) into dst:
 * kh rows of (stride_w + kw) pixels of C bytes, padding = the input zero point. C % 4 == 0. */
static inline void xp_mm_patch_pair(const xp_mm_call *k, int32_t oh, int32_t ow, uint8_t *dst) {
  const dory_conv_args *a = k->a;
  const int32_t C = k->C, cols = a->stride_w + a->kw, pitch = cols * C;
  const int32_t iy0 = oh * a->stride_h - a->pad.top, ix0 = ow * a->stride_w - a->pad.left;
  const int32_t c0 = ix0 < 0 ? -ix0 : 0, c1 = ix0 + cols > a->in.w ? a->in.w - ix0 : cols;
  const uint32_t zpw = (uint32_t)(uint8_t)k->zp * 0x01010101u;
  int32_t ky;
  for (ky = 0; ky < a->kh; ++ky, dst += pitch) {
    const int32_t iy = iy0 + ky;
    if (iy < 0 || iy >= a->in.h || c1 <= c0) {
      xp_fill_words(dst, zpw, pitch >> 2);
      continue;
    }
    if (c0 > 0) xp_fill_words(dst, zpw, (c0 * C) >> 2);
    xp_copy_words(dst + c0 * C, (const uint8_t *)a->in.data + ((size_t)iy * a->in.w + (size_t)(ix0 + c0)) * C,
                  ((c1 - c0) * C) >> 2);
    if (c1 < cols) xp_fill_words(dst + c1 * C, zpw, ((cols - c1) * C) >> 2);
  }
}

/* The K input bytes of output pixel p (im2col order [ky][kx][c], padding = zp) into dst, then zeros to K4. */
static inline void xp_mm_im2col(const xp_mm_call *k, int32_t p, uint8_t *dst) {
  const dory_conv_args *a = k->a;
  const int32_t C = k->C, row = a->kw * C;
  const int32_t oh = p / k->W, ow = p % k->W;
  const int32_t iy0 = oh * a->stride_h - a->pad.top, ix0 = ow * a->stride_w - a->pad.left;
  const int32_t kx0 = ix0 < 0 ? -ix0 : 0, kx1 = ix0 + a->kw > a->in.w ? a->in.w - ix0 : a->kw;
  const uint8_t *in = (const uint8_t *)a->in.data;
  int32_t ky, i;
  for (ky = 0; ky < a->kh; ++ky, dst += row) {
    const int32_t iy = iy0 + ky;
    if (iy < 0 || iy >= a->in.h || kx1 <= kx0) {
      memset(dst, k->zp, (size_t)row);
      continue;
    }
    if (kx0 > 0) memset(dst, k->zp, (size_t)(kx0 * C));
    memcpy(dst + kx0 * C, in + ((size_t)iy * a->in.w + (size_t)(ix0 + kx0)) * C, (size_t)((kx1 - kx0) * C));
    if (kx1 < a->kw) memset(dst + kx1 * C, k->zp, (size_t)((a->kw - kx1) * C));
  }
  for (i = k->K; i < k->K4; ++i) dst[i - k->K] = 0; /* dst now points past the K bytes */
}

/* Whether the windows of output pixels (oh, ow) and (oh, ow + two) lie inside the input box. */
static inline int xp_mm_inside(const dory_conv_args *a, int32_t oh, int32_t ow, int two) {
  const int32_t iy = oh * a->stride_h - a->pad.top, ix = ow * a->stride_w - a->pad.left;
  return iy >= 0 && iy + a->kh <= a->in.h && ix >= 0 && ix + (two ? a->stride_w : 0) + a->kw <= a->in.w;
}

/* Pair q of the core's rows [r0, ...): output row, first column, whether its first pixel is new, two pixels. */
static inline void xp_mm_pair(const xp_mm_call *k, int32_t r0, int32_t q, int32_t *oh, int32_t *ow, int *v0) {
  const int32_t per_row = (k->W + 1) >> 1;
  const int32_t j = q % per_row;
  *oh = r0 + q / per_row;
  *ow = 2 * j;
  *v0 = 1;
  if (k->W > 1 && *ow + 1 >= k->W) { /* odd width: the last pixel pairs with its left neighbour (recomputed) */
    *ow = k->W - 2;
    *v0 = 0;
  }
}

DORY_ALWAYS_INLINE void xp_mm_conv(const dory_conv_args *a, int pointwise, uint32_t slice_bytes) {
  xp_mm_call k;
  const dory_work wk = dory_core_work(a->split, a->out.h, a->out.c);
  int32_t ma[2 * XP_MM_CHUNK], corr[XP_MM_CHUNK];
  int32_t cc, c;
  k.a = a;
  k.C = a->in.c;
  k.K = a->kh * a->kw * a->in.c;
  k.K4 = (k.K + 3) & ~3;
  k.oc = a->out.c;
  k.W = a->out.w;
  k.zp = a->input_zero_point;
  k.pointwise = pointwise;
  k.im2col = (k.C & 3) != 0 || !xp_aligned4(a->in.data) || !xp_aligned4(a->weights);
  k.fast = a->first && a->last && xp_fast_requant(a->has_requant, &a->rq, a->out.type);
  k.mode = a->rq.lo == 0 ? 2 : 1;
  k.scr = (uint8_t *)a->im2col + (size_t)dory_core_id() * slice_bytes;
  if (wk.r0 >= wk.r1 || wk.c0 >= wk.c1) return;
  for (cc = wk.c0; cc < wk.c1; cc += XP_MM_CHUNK) {
    const int32_t ce = cc + XP_MM_CHUNK < wk.c1 ? cc + XP_MM_CHUNK : wk.c1;
    /* the chunk's constants: corr = -zp * S[c]; fast: {m, a'} with the bias and corr folded */
    for (c = cc; c < ce; ++c) {
      const int32_t i = c - cc;
      corr[i] = k.zp ? (int32_t)(0u - (uint32_t)k.zp * (uint32_t)xp_weight_sum(a->weights + (size_t)c * k.K, k.K)) : 0;
      if (k.fast) {
        int32_t m, ad;
        xp_rq_params32(&a->rq, c, &m, &ad);
        ma[2 * i] = m;
        ma[2 * i + 1] = xp_fold_add(ad, a->bias[c], corr[i], m);
      }
    }
    if (k.im2col) {
      /* blocks of 4 consecutive pixels of the core's rows, vectors at scr + i*K4 */
      const int32_t p0 = wk.r0 * k.W, p1 = wk.r1 * k.W;
      const int32_t fit = (int32_t)(slice_bytes / (uint32_t)k.K4), step = fit < 4 ? fit : 4; /* >= 1: caller */
      int32_t p;
      for (p = p0; p < p1; p += step) {
        const int32_t n = p1 - p < step ? p1 - p : step;
        xp_mm_block b;
        int32_t i;
        for (i = 0; i < n; ++i) xp_mm_im2col(&k, p + i, k.scr + (size_t)i * k.K4);
        b.px0 = k.scr;
        b.rd = n == 1 ? 0 : k.K4;
        b.px2 = n >= 3 ? k.scr + (size_t)(n - 2) * k.K4 : b.px0;
        b.jump = 0;
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
    } else {
      const int32_t per_row = (k.W + 1) >> 1, npairs = (wk.r1 - wk.r0) * per_row;
      const int32_t C = k.C;
      int32_t q;
      for (q = 0; q < npairs; q += 2) {
        xp_mm_block b;
        int32_t ohA, owA, ohB, owB;
        int vA, vB, haveB = q + 1 < npairs;
        const int two = k.W > 1;
        xp_mm_pair(&k, wk.r0, q, &ohA, &owA, &vA);
        if (haveB) xp_mm_pair(&k, wk.r0, q + 1, &ohB, &owB, &vB);
        else {
          ohB = ohA;
          owB = owA;
          vB = 0;
        }
        b.rd = two ? a->stride_w * C : 0;
        b.nrows = a->kh;
        b.nwords = (a->kw * C) >> 2;
        if (pointwise || (xp_mm_inside(a, ohA, owA, two) && xp_mm_inside(a, ohB, owB, two))) {
          b.px0 = (const uint8_t *)a->in.data +
                  (((size_t)(ohA * a->stride_h - a->pad.top) * a->in.w) + (size_t)(owA * a->stride_w - a->pad.left)) * C;
          b.px2 = (const uint8_t *)a->in.data +
                  (((size_t)(ohB * a->stride_h - a->pad.top) * a->in.w) + (size_t)(owB * a->stride_w - a->pad.left)) * C;
          b.jump = (a->in.w - a->kw) * C;
        } else {
          const int32_t pair_bytes = a->kh * (a->stride_w + a->kw) * C;
          xp_mm_patch_pair(&k, ohA, owA, k.scr);
          if (haveB) xp_mm_patch_pair(&k, ohB, owB, k.scr + pair_bytes);
          b.px0 = k.scr;
          b.px2 = haveB ? k.scr + pair_bytes : k.scr;
          b.jump = a->stride_w * C;
        }
        b.pix[0] = ohA * k.W + owA;
        b.pix[1] = b.pix[0] + (two ? 1 : 0);
        b.pix[2] = ohB * k.W + owB;
        b.pix[3] = b.pix[2] + (two ? 1 : 0);
        b.valid[0] = (uint8_t)vA;
        b.valid[1] = (uint8_t)two;
        b.valid[2] = (uint8_t)(haveB && vB);
        b.valid[3] = (uint8_t)(haveB && two);
        b.ostride = two ? k.oc : 0;
        xp_mm_block_run(&k, &b, cc, ce, corr, ma);
      }
    }
  }
}

#endif /* DORY_XP_MM4X4_H */
