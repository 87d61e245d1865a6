/* Internal: what the xpulpv2 kernels share (not part of the API): the fast requantization test and its
 * per-channel constants, the input-weight sums of the zero-point correction, and the general (portable) finish
 * of one raw accumulator.
 *
 * The fast requantization
 * -----------------------
 * dory_requant32 with a power-of-two divisor 2^s (DORY_DIV_SHIFT) and floor rounding is, for every int32 n,
 *     dory_div32(n) = n >> s   (arithmetic shift):
 *   n >= 0: dory_udiv32 returns (uint32)n >> s = n >> s;
 *   n <  0: it returns -1 - ((uint32)(-(n+1)) >> s); -(n+1) = ~n >= 0 and ~n >> s = ~(n >> s) for an arithmetic
 *           shift, so the result is -1 - ~(n >> s) = n >> s.
 * With v = bias[c] + sum_k (x_k - zp) w[c][k] the accumulator (it fits int32: the compiler's range analysis) and
 * S[c] = sum_k w[c][k], the kernels compute sum_k x_k w[c][k] (u8 x s8 dot products, no zero point in the loop) and
 *     T = sum_xw * m[c] + a'[c]  (mod 2^32),   a'[c] = a[c] + (bias[c] - zp * S[c]) * m[c]  (mod 2^32).
 * T = v*m[c] + a[c] (mod 2^32), and v*m[c] + a[c] fits int32 (dory_requant32's precondition), so T is exactly
 * that value; then y = clamp((T >> s) + zero_point, lo, hi) is dory_requant32's result bit for bit (the
 * precondition also makes (T >> s) + zero_point fit int32). Every intermediate wraps harmlessly: only the final
 * values are claimed to fit. tests: bench/gvsoc differential mode compares every element with the portable twin.
 */
#ifndef DORY_XP_COMMON_H
#define DORY_XP_COMMON_H

#include "../kernel_util.h"
#include "xpulp.h"

/* Whether the requantization takes the fast path (32-bit, divisor 2^s, floor) into an 8-bit output. */
static inline int xp_fast_requant(uint8_t has_requant, const dory_requant_args *rq, uint8_t out_type) {
  return has_requant && !rq->wide && rq->div.d32.method == DORY_DIV_SHIFT &&
         rq->div.d32.rounding == DORY_ROUND_FLOOR && rq->div.d32.shift < 32 &&
         (out_type == DORY_UINT8 || out_type == DORY_INT8);
}

/* The 64-bit fast requantization
 * ------------------------------
 * Exporters often give m / 2^32 (or 2^s, s >= 32) with v*m beyond 32 bits (models/fmnist: m ~ 2^22, v ~ 2^22):
 * dory_requant64 with DORY_DIV_SHIFT, floor. For s >= 32 and any int64 T, floor(T / 2^s) = hi32(T) >> (s - 32)
 * (arithmetic shifts). With m[c] in int32, the raw sum (sum_k x_k w[c][k], exact in int32 for K < 2^16) and
 *     a'[c] = a[c] + (bias[c] - zp * S[c]) * m[c] + zero_point * 2^s     (exact, in int64; |a'| < 2^62 checked)
 * T = raw * m[c] + a'[c] is exactly v*m[c] + a[c] + zero_point * 2^s (|raw * m| < 2^62, so |T| < 2^63), and
 *     y = clamp(hi32(T) >> (s - 32), lo, hi)
 * is dory_requant64's result bit for bit (the zero point is added exactly inside the floor). Per output:
 * mul + mulh (the 64-bit product), add / sltu / add (the carry into the high word), p.addN (+ hi32(a'), >> (s - 32)),
 * clamp: 8-9 instructions where the general path (dory_rq_apply) takes ~240 cycles. The constants are 3 words per channel:
 * {m, lo32(a'), hi32(a')}; a channel whose m does not fit int32 or whose a' is too large keeps the general path
 * (xp_fold64 says so). A shift s < 32 becomes 32 exactly: floor(T / 2^s) = floor(T 2^(32-s) / 2^32), m and a'
 * scaled by 2^(32-s) (when m 2^(32-s) still fits int32: exporters' s = 30, 31 with m ~ 2^20 do). */
static inline int xp_fast64_requant(uint8_t has_requant, const dory_requant_args *rq, uint8_t out_type, int32_t K) {
  return has_requant && rq->wide && rq->div.d64.method == DORY_DIV_SHIFT &&
         rq->div.d64.rounding == DORY_ROUND_FLOOR && rq->div.d64.shift <= 62 &&
         K < 65536 && (out_type == DORY_UINT8 || out_type == DORY_INT8);
}

/* What xp_fold64 needs of the layer, computed once per call: the scaling of a shift s < 32 to 32 (up) and the
 * zero point's term z = zero_point * 2^(s + up - 32) (|z| < 2^30). ok == 0: no channel can take the path. */
typedef struct {
  int32_t up, z, ok;
  int32_t quick;    /* xp_fold64_quick may take its shortcut: ok and |z| < 2^29 */
  int64_t mlim, alim; /* its bounds: |m| < 2^(31-up) (m 2^up in int32), |a| < 2^(60-up) (|a 2^up| < 2^60) */
} xp_fold64_layer;

static inline void xp_fold64_prep(const dory_requant_args *rq, xp_fold64_layer *f) {
  const int64_t lim = (int64_t)1 << 62;
  const int32_t s = rq->div.d64.shift;
  int64_t z;
  if ((uint32_t)(s - 32) <= 20u && (uint32_t)(rq->zero_point + 256) <= 512u) {
    /* the exporters' case (s >= 32, an 8-bit zero point) in 32-bit operations: |z| <= 2^8 * 2^20 < 2^29, so z
     * and the bounds below are these values (the general code's 64-bit variable shifts are ~100 instructions of
     * rv32 code, run by every core at every call) */
    f->up = 0;
    f->z = (int32_t)((uint32_t)rq->zero_point << (s - 32));
    f->ok = 1;
    f->quick = 1;
    f->mlim = (int64_t)1 << 31;
    f->alim = (int64_t)1 << 60;
    return;
  }
  f->up = s < 32 ? 32 - s : 0; /* s < 32: scale m and a by 2^up */
  f->ok = 0;
  f->quick = 0;
  f->z = 0;
  if (f->up > 30) return;
  z = (int64_t)rq->zero_point * ((int64_t)1 << (s + f->up - 32)); /* |.| < 2^61 */
  if (z <= -(lim >> 32) || z >= (lim >> 32)) return;
  f->z = (int32_t)z;
  f->ok = 1;
  f->quick = z > -((int64_t)1 << 29) && z < ((int64_t)1 << 29);
  f->mlim = (int64_t)1 << (31 - f->up);
  f->alim = (int64_t)1 << (60 - f->up);
}

/* {m, lo32(a'), hi32(a')} of a channel with parameters m, a and base = bias + corr (corr = -zp * S[c], exact:
 * K < 2^16; |base| < 2^32). Returns 0 when the channel cannot take the 64-bit fast path. */
static inline int xp_fold64_with(const xp_fold64_layer *f, int64_t m, int64_t a, int64_t base, int32_t *mah) {
  const int64_t lim = (int64_t)1 << 62;
  const int32_t up = f->up;
  int64_t ap;
  if (!f->ok || m < -((int64_t)1 << (31 - up)) || m >= ((int64_t)1 << (31 - up)) || a <= -(lim >> up) ||
      a >= (lim >> up))
    return 0;
  m = (int64_t)((uint64_t)m << up);
  a = (int64_t)((uint64_t)a << up);
  ap = base * m; /* |.| < 2^32 * 2^31 */
  if (ap <= -lim || ap >= lim) return 0;
  ap += a; /* |.| < 2^63 */
  if (ap <= -lim || ap >= lim) return 0;
  ap += (int64_t)((uint64_t)(int64_t)f->z << 32); /* |.| < 2^62 + 2^61 */
  if (ap <= -lim || ap >= lim) return 0;
  mah[0] = (int32_t)m;
  mah[1] = (int32_t)(uint32_t)(uint64_t)ap;
  mah[2] = (int32_t)(uint32_t)((uint64_t)ap >> 32);
  return 1;
}

/* xp_fold64_with for the common case in a few 32-bit operations: |z| < 2^29, m 2^up in int32, |a 2^up| < 2^60
 * and bias, corr in [-2^28, 2^28). Then |base * m 2^up| < 2^60 and |z 2^32| < 2^61, so every partial sum of
 * a' = base * m 2^up + a 2^up + z 2^32 is below 2^62 in magnitude: the bounds xp_fold64_with checks hold and a' is
 * the same exact value. Any other channel takes xp_fold64_with (the choice
 * never changes the outputs: both paths are exact). */
static inline int xp_fold64_quick(const xp_fold64_layer *f, int64_t m, int64_t a, int32_t bias, int32_t corr,
                                  int32_t *mah) {
  const uint32_t r28 = (uint32_t)1 << 28;
  if (f->quick && f->up == 0) {
    /* s >= 32 (the exporters' common case): the same bounds as word tests (m in int32: its high word is its low
     * word's sign; |a| < 2^60: its high word in [-2^28, 2^28)) and a' in 32-bit operations, ~20 instructions
     * instead of ~70 of 64-bit compares and shifts in C on rv32 */
    const uint32_t mlo = (uint32_t)(uint64_t)m, mhi = (uint32_t)((uint64_t)m >> 32);
    const uint32_t alo = (uint32_t)(uint64_t)a, ahi = (uint32_t)((uint64_t)a >> 32);
    if (mhi == (uint32_t)((int32_t)mlo >> 31) && ahi + r28 < 2u * r28 && (uint32_t)bias + r28 < 2u * r28 &&
        (uint32_t)corr + r28 < 2u * r28) {
      const int32_t base = bias + corr; /* |.| < 2^29 */
      const uint32_t plo = (uint32_t)base * mlo;
      const uint32_t phi = (uint32_t)(int32_t)(((int64_t)base * (int64_t)(int32_t)mlo) >> 32); /* mulh */
      const uint32_t lo = plo + alo;
      mah[0] = (int32_t)mlo;
      mah[1] = (int32_t)lo;
      mah[2] = (int32_t)(phi + ahi + (uint32_t)(lo < plo) + (uint32_t)f->z);
      return 1;
    }
  } else if (f->quick && (uint64_t)(m + f->mlim) < (uint64_t)(2 * f->mlim) &&
      (uint64_t)(a + f->alim) < (uint64_t)(2 * f->alim) && (uint32_t)bias + r28 < 2u * r28 &&
      (uint32_t)corr + r28 < 2u * r28) {
    const int32_t ms = (int32_t)((uint32_t)m << f->up);
    const int64_t ap = (int64_t)(bias + corr) * (int64_t)ms + (int64_t)((uint64_t)a << f->up);
    mah[0] = ms;
    mah[1] = (int32_t)(uint32_t)(uint64_t)ap;
    mah[2] = (int32_t)((uint32_t)((uint64_t)ap >> 32) + (uint32_t)f->z);
    return 1;
  }
  return xp_fold64_with(f, m, a, (int64_t)bias + (int64_t)corr, mah);
}

/* {m, lo32(a'), hi32(a')} of channel c (xp_fast64_requant's formula), base = bias[c] + corr, with the layer's
 * constants f from xp_fold64_prep (computed once per call: for a shift s < 32 they are ~100 instructions of 64-bit
 * variable shifts, which a kernel must not repeat per channel). Returns 0 when the channel cannot take the 64-bit
 * fast path. */
static inline int xp_fold64_at(const xp_fold64_layer *f, const dory_requant_args *rq, int32_t c, int32_t base,
                               int32_t corr, int32_t *mah) {
  int64_t m, a;
  if (!f->ok) return 0;
  dory_rq_params(rq, c, &m, &a);
  return xp_fold64_quick(f, m, a, base, corr, mah);
}

/* xp_fold64_at with the layer's constants prepared for this one channel (the fc kernel: its calls finish a few
 * channels per core). Not written as prep + xp_fold64_at: that adds xp_fold64_at's f->ok test (same result:
 * xp_fold64_quick goes to xp_fold64_with, which returns 0 when !ok), and the one branch moved the fc kernel's code
 * enough that CIFAR-10's fc2 (320 MACs, instruction-cache bound) ran its L1-resident call ~8 % slower on GVSoC,
 * past CI's model-error bound (docs/results.md, 2026-12-08). */
static inline int xp_fold64(const dory_requant_args *rq, int32_t c, int32_t base, int32_t corr, int32_t *mah) {
  xp_fold64_layer f;
  int64_t m, a;
  xp_fold64_prep(rq, &f);
  dory_rq_params(rq, c, &m, &a);
  return xp_fold64_quick(&f, m, a, base, corr, mah);
}

/* xp_fold64 for channels [c0, c0 + n) into mah[3i..3i+2], the layer's constants computed once (bias NULL: 0;
 * corr[i] of channel c0 + i, NULL: 0). Returns 0 as soon as one channel cannot take the path. rq->wide. */
static inline int xp_fold64_chunk(const dory_requant_args *rq, const int32_t *bias, int32_t c0, int32_t n,
                                  const int32_t *corr, int32_t *mah) {
  const int32_t mpc = rq->mul_per_channel, apc = rq->add_per_channel, step = 2 * (mpc + apc);
  const uint32_t *rec = (const uint32_t *)rq->channel_params + (size_t)c0 * (size_t)step;
  int64_t m = rq->mul, a = rq->add;
  xp_fold64_layer f;
  int32_t i;
  xp_fold64_prep(rq, &f);
  if (!f.ok) return 0;
  for (i = 0; i < n; ++i, rec += step, mah += 3) {
    if (mpc) m = dory_load_i64_le(rec);
    if (apc) a = dory_load_i64_le(rec + 2 * mpc);
    if (!xp_fold64_quick(&f, m, a, bias ? bias[c0 + i] : 0, corr ? corr[i] : 0, mah)) return 0;
  }
  return 1;
}

/* The 64-bit fast path's output for one raw sum (the asm's formula in C; sh = s - 32). */
static inline int32_t xp_rq64(int32_t raw, const int32_t *mah, int32_t sh, int32_t lo, int32_t hi) {
  const int64_t t = (int64_t)raw * mah[0] + (int64_t)(((uint64_t)(uint32_t)mah[2] << 32) | (uint32_t)mah[1]);
  const int32_t y = (int32_t)(uint32_t)((uint64_t)t >> 32) >> sh;
  return xp_min(xp_max(y, lo), hi);
}

/* m[c] and a[c] of the 32-bit path (they fit int32: dory_requant32's precondition). */
static inline void xp_rq_params32(const dory_requant_args *rq, int32_t c, int32_t *m, int32_t *a) {
  int64_t m64, a64;
  dory_rq_params(rq, c, &m64, &a64);
  *m = (int32_t)m64;
  *a = (int32_t)a64;
}

/* a'[c] = a + (base - zp*S) * m (mod 2^32), as int32. corr = -zp * S (mod 2^32). */
static inline int32_t xp_fold_add(int32_t a, int32_t base, int32_t corr, int32_t m) {
  return (int32_t)((uint32_t)a + ((uint32_t)base + (uint32_t)corr) * (uint32_t)m);
}

/* ma[2i], ma[2i+1] = m[c] - 1, a'[c] for c = c0 + i in [c0, c1): the per-channel constants of the 4x4 MAC
 * kernels' 32-bit fast path (32-bit records [c][k], or the per-tensor values); corr[i] (NULL: 0) is -zp * S[c].
 * m - 1 (wrapping) because the asm scales a sum in its own register, p.mac s, s, m-1 = s * m (mm4x4.h); C reads
 * it back as xp_fold_m(). */
static inline int32_t xp_fold_m(const int32_t *ma) { return (int32_t)((uint32_t)ma[0] + 1u); }
static inline void xp_fold_chunk(const dory_requant_args *rq, const int32_t *bias, int32_t c0, int32_t c1,
                                 const int32_t *corr, int32_t *ma) {
  const int32_t nrec = rq->mul_per_channel + rq->add_per_channel, moff = rq->mul_per_channel;
  const int32_t *rec = (const int32_t *)rq->channel_params + (size_t)c0 * (size_t)nrec;
  const int mpc = rq->mul_per_channel, apc = rq->add_per_channel;
  int32_t m = (int32_t)rq->mul, ad = (int32_t)rq->add, c;
  bias += c0;
  if (mpc && !apc && !corr && c1 > c0) { /* the common case (a per-channel multiplier, one add): 7 cycles a channel */
#ifdef DORY_XP_HOST_MODEL
    for (c = 0; c < c1 - c0; ++c, rec += nrec, ma += 2) {
      m = rec[0];
      ma[0] = (int32_t)((uint32_t)m - 1u);
      ma[1] = xp_mac(ad, bias[c], m);
    }
#else
    int32_t t0, t1, t2;
    __asm__ volatile(XP_ASM_BEGIN
                     XP_LP_SETUP("0", "%[n]", 7, "80")
                     XP_LW_PI("%[m]", 4, "%[rec]")
                     XP_LW_PI("%[b]", 4, "%[bias]")
                     "addi %[m1], %[m], -1\n"
                     "mv %[t], %[ad]\n"
                     XP_MAC("%[t]", "%[b]", "%[m]")
                     XP_SW_PI("%[m1]", 4, "%[ma]")
                     "81: " XP_SW_PI("%[t]", 4, "%[ma]")
                     XP_LP_CHECK("80", "81", 7)
                     XP_ASM_END
                     : [rec] "+r"(rec), [bias] "+r"(bias), [ma] "+r"(ma), [m] "=&r"(t0), [b] "=&r"(t1),
                       [m1] "=&r"(t2), [t] "=&r"(m)
                     : [n] "r"(c1 - c0), [ad] "r"(ad)
                     : "memory");
#endif
    return;
  }
  for (c = 0; c < c1 - c0; ++c, rec += nrec, ma += 2) {
    if (mpc) m = rec[0];
    if (apc) ad = rec[moff];
    ma[0] = (int32_t)((uint32_t)m - 1u);
    ma[1] = xp_mac(ad, (int32_t)((uint32_t)bias[c] + (uint32_t)(corr ? corr[c] : 0)), m); /* xp_fold_add */
  }
}

/* sum of n signed bytes (n >= 0, any alignment): 4 per dot product against ones, hardware loop of 2 words. */
static inline int32_t xp_weight_sum(const int8_t *w, int32_t n) {
  int32_t s = 0, i;
  int32_t pairs = n >> 3;
#ifdef DORY_XP_HOST_MODEL
  for (i = 0; i < 8 * pairs; ++i) s += w[i];
  w += 8 * pairs;
#else
  if (pairs > 0) {
    const uint32_t ones = 0x01010101u;
    uint32_t t0, t1;
    __asm__ volatile(XP_ASM_BEGIN
                     XP_LP_SETUP("0", "%[n]", 4, "80")
                     XP_LW_PI("%[t0]", 4, "%[w]")
                     XP_LW_PI("%[t1]", 4, "%[w]")
                     XP_SDOTSP_B("%[s]", "%[t0]", "%[one]")
                     "81: " XP_SDOTSP_B("%[s]", "%[t1]", "%[one]")
                     XP_LP_CHECK("80", "81", 4)
                     XP_ASM_END
                     : [s] "+r"(s), [w] "+r"(w), [t0] "=&r"(t0), [t1] "=&r"(t1)
                     : [n] "r"(pairs), [one] "r"(ones)
                     : "memory");
  }
#endif
  for (i = 0; i < (n & 7); ++i) s += w[i];
  return s;
}

/* The general finish of one output value: acc = (first ? bias : psum) + sum (mod 2^32, exact since the result
 * fits); !last: psum; else requantize (dory_rq_apply) or the raw int32. idx: the element index in out / psum. */
static inline void xp_finish_general(const dory_requant_args *rq, const int32_t *bias, int32_t *psum, void *out,
                                     uint8_t out_type, uint8_t first, uint8_t last, uint8_t has_requant,
                                     int32_t idx, int32_t c, int32_t sum) {
  const int32_t acc = (int32_t)((uint32_t)(first ? bias[c] : psum[idx]) + (uint32_t)sum);
  if (!last) {
    psum[idx] = acc;
    return;
  }
  dory_store(out, out_type, idx, has_requant ? dory_rq_apply(rq, acc, c) : acc);
}

static inline int xp_aligned4(const void *p) { return ((uintptr_t)p & 3u) == 0; }

/* Each core's slice of a call's scratch (scratch.c: core k's at k * slice), in whole words; 0 without scratch. */
static inline uint32_t xp_scratch_slice(const void *scratch, uint32_t bytes) {
  return scratch ? (uint32_t)dory_div_cores((int32_t)bytes, dory_core_count()) & ~3u : 0u;
}

/* A 32-bit load / store at any address (RI5CY and GVSoC split a misaligned access in two; C would need memcpy,
 * which gcc turns into byte accesses on rv32). */
static inline uint32_t xp_lw(const void *p) {
#ifdef DORY_XP_HOST_MODEL
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
#else
  uint32_t v;
  __asm__ volatile("lw %0, 0(%1)" : "=r"(v) : "r"(p) : "memory");
  return v;
#endif
}
static inline void xp_sw(void *p, uint32_t v) {
#ifdef DORY_XP_HOST_MODEL
  memcpy(p, &v, 4);
#else
  __asm__ volatile("sw %1, 0(%0)" : : "r"(p), "r"(v) : "memory");
#endif
}

/* Keeps gcc from turning short byte loops into memset/memcpy calls (~25 cycles each on the cluster cores). */
#if defined(__GNUC__) && !defined(__clang__)
#define XP_NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define XP_NO_LIBCALLS
#endif

/* n bytes of v at p (short runs: a byte loop; longer ones: aligned words). */
XP_NO_LIBCALLS static inline void xp_fill_bytes(uint8_t *p, uint8_t v, int32_t n) {
  const uint32_t vw = (uint32_t)v * 0x01010101u;
  while (n > 0 && ((uintptr_t)p & 3u)) {
    *p++ = v;
    --n;
  }
  for (; n >= 4; n -= 4, p += 4) *(uint32_t *)(void *)p = vw;
  while (n-- > 0) *p++ = v;
}

#endif /* DORY_XP_COMMON_H */
