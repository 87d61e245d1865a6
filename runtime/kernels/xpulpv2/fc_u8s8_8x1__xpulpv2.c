/* dory_fc_u8s8_8x1__xpulpv2: fully connected layer, uint8 input vector, int8 weights, on one L1 tile, PULP cluster
 * cores (Xpulpv2).
 *
 * Idea: the input vector is read once per block of 8 outputs: per 4-byte word, 1 input load, 8 weight loads
 * (4 rows through one post-incremented pointer and register offsets K, 2K, 3K: p.lw rd, rs2(rs1)) and
 * 8 pv.sdotusp.b = 17 instructions for 32 MACs, stall-free, in a hardware loop: 1.88 MAC/cycle/core at most.
 * Every weight byte is used once, so the kernel is bound by loads; smaller blocks for the remainder outputs: 4x1
 * (9 instructions per 16 MACs), 2x1 (5 per 8; one output runs as 2x1 on the same row twice).
 *
 * Work: split channels gives each core ceil(C/P) outputs (dory_core_work); split rows leaves everything to core 0.
 * With few outputs (1024 -> 10) only ceil(10/8) = 2 per core are busy: the per-core bound is then the 2x1 loop's
 * 5 cycles per 8 MACs; kernels never synchronize, so the input features cannot be split across cores.
 *
 * Input features K not a multiple of 4: the words cover 4*floor(K/4) bytes (no read past the vector or a row; the
 * rows are misaligned then, which RI5CY and GVSoC load in two accesses), C adds the last K % 4 products.
 * Zero point: sum (x - zp) w = sum x w - zp * sum w; sum w per output costs an extra pass over its row (only
 * when zp != 0).
 *
 * Finish: the fast requantizations (xp_common.h: 32-bit, divisor 2^s, floor, 8-bit out, with p.mac; or 64-bit with
 * 2^s, s >= 32, m in int32) in C; everything else (partial sums, int32 / 16-bit outputs, other 64-bit
 * requantizations, other divisors) through dory/requant.h.
 *
 * Preconditions: the contract of dory/kernels.h (dory_fc_args) for in.type == DORY_UINT8 (checked). No scratch.
 */
#include "xp_common.h"

#ifdef DORY_XP_HOST_MODEL
static void xp_fc_words(const uint8_t *x, const int8_t *w, int32_t K, int32_t n, int32_t nwords, int32_t *acc) {
  int32_t c, i;
  for (c = 0; c < n; ++c) {
    int32_t s = 0;
    for (i = 0; i < nwords; ++i) {
      uint32_t xv, wv;
      memcpy(&xv, x + 4 * i, 4);
      memcpy(&wv, w + (size_t)c * K + 4 * i, 4);
      s = xp_sdotusp_b(s, xv, wv);
    }
    acc[c] = s;
  }
}
#else
/* acc[0..n) = the word part of the dot products of x with n (8, 4 or 2) consecutive weight rows of K bytes. */
static void xp_fc_words(const uint8_t *x, const int8_t *w, int32_t K, int32_t n, int32_t nwords, int32_t *acc) {
  const int32_t k2 = 2 * K, k3 = 3 * K;
  uint32_t xv, wa, wb, wc;
  if (n == 8) {
    const int8_t *p0 = w, *p4 = w + 4 * K;
    int32_t a0, a1, a2, a3, a4, a5, a6, a7;
    __asm__ volatile(XP_ASM_BEGIN
                     "li %[a0], 0\n li %[a1], 0\n li %[a2], 0\n li %[a3], 0\n"
                     "li %[a4], 0\n li %[a5], 0\n li %[a6], 0\n li %[a7], 0\n"
                     XP_LP_SETUP("0", "%[n]", 17, "80")
                     XP_LW_PI("%[x]", 4, "%[px]")
                     XP_LW_RR("%[wa]", "%[k1]", "%[p0]") XP_LW_RR("%[wb]", "%[k2]", "%[p0]") XP_LW_RR("%[wc]", "%[k3]", "%[p0]")
                     XP_SDOTUSP_B("%[a1]", "%[x]", "%[wa]") XP_LW_PI("%[wa]", 4, "%[p0]")
                     XP_SDOTUSP_B("%[a2]", "%[x]", "%[wb]") XP_LW_RR("%[wb]", "%[k1]", "%[p4]")
                     XP_SDOTUSP_B("%[a3]", "%[x]", "%[wc]") XP_LW_RR("%[wc]", "%[k2]", "%[p4]")
                     XP_SDOTUSP_B("%[a0]", "%[x]", "%[wa]") XP_LW_RR("%[wa]", "%[k3]", "%[p4]")
                     XP_SDOTUSP_B("%[a5]", "%[x]", "%[wb]") XP_LW_PI("%[wb]", 4, "%[p4]")
                     XP_SDOTUSP_B("%[a6]", "%[x]", "%[wc]") XP_SDOTUSP_B("%[a7]", "%[x]", "%[wa]")
                     "81: " XP_SDOTUSP_B("%[a4]", "%[x]", "%[wb]")
                     XP_LP_CHECK("80", "81", 17)
                     XP_ASM_END
                     : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [a4] "=&r"(a4), [a5] "=&r"(a5),
                       [a6] "=&r"(a6), [a7] "=&r"(a7), [x] "=&r"(xv), [wa] "=&r"(wa), [wb] "=&r"(wb), [wc] "=&r"(wc),
                       [px] "+r"(x), [p0] "+r"(p0), [p4] "+r"(p4)
                     : [n] "r"(nwords), [k1] "r"(K), [k2] "r"(k2), [k3] "r"(k3)
                     : "memory");
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
    acc[4] = a4;
    acc[5] = a5;
    acc[6] = a6;
    acc[7] = a7;
  } else if (n == 4) {
    const int8_t *p0 = w;
    int32_t a0, a1, a2, a3;
    __asm__ volatile(XP_ASM_BEGIN
                     "li %[a0], 0\n li %[a1], 0\n li %[a2], 0\n li %[a3], 0\n"
                     XP_LP_SETUP("0", "%[n]", 9, "80")
                     XP_LW_PI("%[x]", 4, "%[px]")
                     XP_LW_RR("%[wa]", "%[k1]", "%[p0]") XP_LW_RR("%[wb]", "%[k2]", "%[p0]") XP_LW_RR("%[wc]", "%[k3]", "%[p0]")
                     XP_SDOTUSP_B("%[a1]", "%[x]", "%[wa]") XP_LW_PI("%[wa]", 4, "%[p0]")
                     XP_SDOTUSP_B("%[a2]", "%[x]", "%[wb]") XP_SDOTUSP_B("%[a3]", "%[x]", "%[wc]")
                     "81: " XP_SDOTUSP_B("%[a0]", "%[x]", "%[wa]")
                     XP_LP_CHECK("80", "81", 9)
                     XP_ASM_END
                     : [a0] "=&r"(a0), [a1] "=&r"(a1), [a2] "=&r"(a2), [a3] "=&r"(a3), [x] "=&r"(xv), [wa] "=&r"(wa),
                       [wb] "=&r"(wb), [wc] "=&r"(wc), [px] "+r"(x), [p0] "+r"(p0)
                     : [n] "r"(nwords), [k1] "r"(K), [k2] "r"(k2), [k3] "r"(k3)
                     : "memory");
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
  } else { /* 2 rows (or one row twice: w and w + K step given as K = 0) */
    const int8_t *p0 = w, *p1 = w + K;
    int32_t a0, a1;
    __asm__ volatile(XP_ASM_BEGIN
                     "li %[a0], 0\n li %[a1], 0\n"
                     XP_LP_SETUP("0", "%[n]", 5, "80")
                     XP_LW_PI("%[x]", 4, "%[px]") XP_LW_PI("%[wa]", 4, "%[p0]") XP_LW_PI("%[wb]", 4, "%[p1]")
                     XP_SDOTUSP_B("%[a0]", "%[x]", "%[wa]")
                     "81: " XP_SDOTUSP_B("%[a1]", "%[x]", "%[wb]")
                     XP_LP_CHECK("80", "81", 5)
                     XP_ASM_END
                     : [a0] "=&r"(a0), [a1] "=&r"(a1), [x] "=&r"(xv), [wa] "=&r"(wa), [wb] "=&r"(wb), [px] "+r"(x),
                       [p0] "+r"(p0), [p1] "+r"(p1)
                     : [n] "r"(nwords)
                     : "memory");
    acc[0] = a0;
    acc[1] = a1;
    (void)wc;
  }
}
#endif

/* The fast path's finish of outputs [c, c + n): acc[j] + bias -> T = (.)*m + a -> clamp((T >> shift) + zp). */
static void xp_fc_finish_fast(const dory_fc_args *a, int32_t c, int32_t n, const int32_t *acc) {
  const dory_requant_args *rq = &a->rq;
  const int32_t nrec = rq->mul_per_channel + rq->add_per_channel, moff = rq->mul_per_channel;
  const int32_t *rec = (const int32_t *)rq->channel_params + (size_t)c * (size_t)nrec;
  const int32_t shift = rq->div.d32.shift, zpo = rq->zero_point, lo = rq->lo, hi = rq->hi;
  const int32_t *bias = a->bias + c;
  uint8_t *out = (uint8_t *)a->out.data + c; /* u8 or s8: the low byte either way */
  int32_t m = (int32_t)rq->mul, ad = (int32_t)rq->add, j;
  for (j = 0; j < n; ++j, rec += nrec) {
    int32_t t;
    if (rq->mul_per_channel) m = rec[0];
    if (rq->add_per_channel) ad = rec[moff];
    t = xp_mac(ad, (int32_t)((uint32_t)acc[j] + (uint32_t)bias[j]), m);
    out[j] = (uint8_t)xp_min(xp_max((t >> shift) + zpo, lo), hi);
  }
}

void dory_fc_u8s8_8x1__xpulpv2(const dory_fc_args *a) {
  const int32_t K = a->in.c, nwords = K >> 2, zp = a->input_zero_point;
  const uint8_t *x = (const uint8_t *)a->in.data;
  dory_work wk;
  int fast;
  int32_t c;
  DORY_KCHECK(a->in.type == DORY_UINT8, "dory_fc_u8s8_8x1__xpulpv2: needs a uint8 input");
  DORY_KCHECK(a->in.data && a->out.data && a->weights && a->in.c >= 1 && a->out.c >= 1 && a->in.h == 1 &&
                  a->in.w == 1 && a->out.h == 1 && a->out.w == 1 && dory_valid_dtype(a->out.type),
              "dory_fc_u8s8_8x1__xpulpv2: inconsistent tile (h and w must be 1)");
  DORY_KCHECK((!a->first || a->bias) && ((a->first && a->last) || a->psum) &&
                  (a->has_requant ? dory_rq_valid(&a->rq) : a->out.type == DORY_INT32),
              "dory_fc_u8s8_8x1__xpulpv2: inconsistent accumulation arguments");
  wk = dory_core_work(a->split, 1, a->out.c);
  if (wk.r0 >= wk.r1 || wk.c0 >= wk.c1) return;
  fast = !(a->first && a->last)                                        ? 0
         : xp_fast_requant(a->has_requant, &a->rq, a->out.type)         ? 1
         : xp_fast64_requant(a->has_requant, &a->rq, a->out.type, K) ? 2
                                                                        : 0;
  for (c = wk.c0; c < wk.c1;) {
    const int32_t left = wk.c1 - c;
    const int32_t n = left >= 8 ? 8 : left >= 4 ? 4 : left >= 2 ? 2 : 1;
    const int8_t *w = a->weights + (size_t)c * (size_t)K;
    int32_t acc[8], j;
    if (nwords > 0) {
      if (n == 1) { /* one row as the 2x1 block on itself */
        int32_t two[2];
        xp_fc_words(x, w, 0, 2, nwords, two);
        acc[0] = two[0];
      } else {
        xp_fc_words(x, w, K, n, nwords, acc);
      }
    } else {
      for (j = 0; j < n; ++j) acc[j] = 0;
    }
    if ((K & 3) || zp) {
      for (j = 0; j < n; ++j) {
        const int8_t *row = w + (size_t)j * (size_t)K;
        int32_t s = acc[j], i;
        for (i = 4 * nwords; i < K; ++i) s += (int32_t)x[i] * row[i];
        if (zp) s = (int32_t)((uint32_t)s - (uint32_t)zp * (uint32_t)xp_weight_sum(row, K));
        acc[j] = s;
      }
    }
    if (fast == 1) {
      xp_fc_finish_fast(a, c, n, acc);
    } else if (fast == 2) { /* acc already holds sum (x - zp) w: exact in int32 (K < 2^16) */
      const int32_t sh = (a->rq.div.d64.shift > 32 ? a->rq.div.d64.shift - 32 : 0);
      for (j = 0; j < n; ++j) {
        int32_t mah[3];
        if (xp_fold64(&a->rq, c + j, a->bias[c + j], 0, mah))
          ((uint8_t *)a->out.data)[c + j] = (uint8_t)xp_rq64(acc[j], mah, sh, a->rq.lo, a->rq.hi);
        else
          xp_finish_general(&a->rq, a->bias, a->psum, a->out.data, a->out.type, 1, 1, 1, c + j, c + j, acc[j]);
      }
    } else {
      for (j = 0; j < n; ++j)
        xp_finish_general(&a->rq, a->bias, a->psum, a->out.data, a->out.type, a->first, a->last, a->has_requant,
                          c + j, c + j, acc[j]);
    }
    c += n;
  }
}
