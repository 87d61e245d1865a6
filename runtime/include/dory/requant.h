/* dory/requant.h - THE definition of integer requantization in dory.
 *
 * This header is compiled into the C runtime shipped with every generated application AND into the C++
 * reference executor, so the oracle and the kernels cannot disagree. It is C99, has no dependencies and
 * never allocates.
 *
 * Contract
 * --------
 *   scale(v)    = R((v * m + a) / D)                      v: int32, m, a: int64, D: 1 <= D < 2^63
 *   requant(v)  = clamp(scale(v) + zp, lo, hi)
 * where R is the divisor's rounding rule:
 *   DORY_ROUND_FLOOR        floor of the exact rational (the rule of every integer-deployable export and of
 *                           QDQ after folding the rounding term into a: a = D/2 gives round-half-up);
 *   DORY_ROUND_TOWARD_ZERO  truncation, the rule of ONNX's integer Div (C semantics), kept for the rare export
 *                           whose integer Div sees negative numerators that no clamp hides.
 * The division is exact for every numerator in [-2^63, 2^63): it never rounds twice.
 *
 * Input ranges (the caller's obligation, proven by the compiler's value-range analysis, src/ir/analysis.cpp):
 *   - 64-bit path: v * m and v * m + a fit int64 (the product is formed first).
 *   - 32-bit path (dory_scale32, dory_requant32): v * m and v * m + a fit int32, m and a fit int32, D < 2^31,
 *     and, for dory_requant32, scale(v) + zp fits int32 (the zero point is added before the clamp, in 32 bits).
 *     Both paths return identical results whenever the 32-bit preconditions hold (tested on edge values and
 *     random cases in tests/unit/requant_test.cpp).
 *
 * How: a division by a constant is a multiply-high and shift (Granlund & Montgomery, "Division by invariant
 * integers using multiplication", PLDI 1994), precomputed once per divisor by dory_divisor_make(); powers
 * of two are a plain shift. Cost per output element on rv32: a few 32x32 multiplies, no division call.
 */
#ifndef DORY_REQUANT_H
#define DORY_REQUANT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { DORY_ROUND_FLOOR = 0, DORY_ROUND_TOWARD_ZERO = 1 };

/* How to divide by one positive constant D. Built by dory_divisor_make(); treat as opaque. */
typedef struct {
  uint64_t d;        /* the divisor itself */
  uint64_t magic;    /* multiplier (unused for powers of two) */
  uint8_t shift;     /* post-shift */
  uint8_t method;    /* DORY_DIV_SHIFT, DORY_DIV_MAGIC or DORY_DIV_MAGIC_ADD */
  uint8_t rounding;  /* DORY_ROUND_FLOOR or DORY_ROUND_TOWARD_ZERO */
} dory_divisor;

/* 32-bit variant for the proven-small path: D < 2^31, numerators in int32. */
typedef struct {
  uint32_t d;
  uint32_t magic;
  uint8_t shift;
  uint8_t method;
  uint8_t rounding;
} dory_divisor32;

enum { DORY_DIV_SHIFT = 0, DORY_DIV_MAGIC = 1, DORY_DIV_MAGIC_ADD = 2 };

/* High 64 bits of the 128-bit product a*b, in portable C (no __int128: rv32 gcc has none). */
static inline uint64_t dory_mulhi_u64(uint64_t a, uint64_t b) {
  uint64_t a_lo = (uint32_t)a, a_hi = a >> 32, b_lo = (uint32_t)b, b_hi = b >> 32;
  uint64_t lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo, lo_hi = a_lo * b_hi, hi_hi = a_hi * b_hi;
  uint64_t cross = (lo_lo >> 32) + (uint32_t)hi_lo + lo_hi; /* <= 2^64 - 1, cannot wrap */
  return (hi_lo >> 32) + (cross >> 32) + hi_hi;
}

static inline int dory_floor_log2_u64(uint64_t x) {
  int l = 0;
  while (x >>= 1) ++l;
  return l;
}

/* floor(2^(64+l) / d) and its remainder, for 2^l < d < 2^63, by bitwise long division. Compile time only. */
static inline uint64_t dory_divide_pow2_by(int l, uint64_t d, uint64_t *rem) {
  uint64_t q = 0, r = 0;
  int bit;
  for (bit = 64 + l; bit >= 0; --bit) {
    r = (r << 1) | (uint64_t)(bit == 64 + l); /* the dividend has a single 1 bit, at position 64+l */
    q <<= 1;                                  /* quotient < 2^64 because d > 2^l: high bits shift out as 0 */
    if (r >= d) {
      r -= d;
      q |= 1;
    }
  }
  *rem = r;
  return q;
}

/* Precomputes the division by d (1 <= d < 2^63) with the given rounding. Returns 0 on success, -1 if d is
 * out of range (the compiler rejects such graphs before they reach here). */
static inline int dory_divisor_make(uint64_t d, int rounding, dory_divisor *out) {
  int l;
  uint64_t rem, m;
  if (d == 0 || d >= ((uint64_t)1 << 63)) return -1;
  out->d = d;
  out->rounding = (uint8_t)rounding;
  out->magic = 0;
  l = dory_floor_log2_u64(d);
  if ((d & (d - 1)) == 0) {
    out->method = DORY_DIV_SHIFT;
    out->shift = (uint8_t)l;
    return 0;
  }
  /* 2^l < d < 2^(l+1). Try the (64+l)-bit magic; if its error is small enough it needs no add step. */
  m = dory_divide_pow2_by(l, d, &rem);
  if (d - rem < ((uint64_t)1 << l)) {
    out->magic = m + 1;
    out->method = DORY_DIV_MAGIC;
    out->shift = (uint8_t)l;
  } else {
    /* A 65-bit magic 2^64 + m' is needed: store m' and use q = (((n - t) >> 1) + t) >> l, t = mulhi(n, m'). */
    uint64_t twice_rem = rem + rem;
    m += m;
    if (twice_rem >= d || twice_rem < rem) m += 1;
    out->magic = m + 1;
    out->method = DORY_DIV_MAGIC_ADD;
    out->shift = (uint8_t)l;
  }
  return 0;
}

/* floor(n / d) for unsigned n. */
static inline uint64_t dory_udiv64(uint64_t n, const dory_divisor *dv) {
  uint64_t t;
  switch (dv->method) {
    case DORY_DIV_SHIFT:
      return n >> dv->shift;
    case DORY_DIV_MAGIC:
      return dory_mulhi_u64(n, dv->magic) >> dv->shift;
    default:
      t = dory_mulhi_u64(n, dv->magic);
      return (((n - t) >> 1) + t) >> dv->shift;
  }
}

/* R(n / d) for signed n, exactly, with the divisor's rounding rule. */
static inline int64_t dory_div64(int64_t n, const dory_divisor *dv) {
  uint64_t q;
  if (n >= 0) return (int64_t)dory_udiv64((uint64_t)n, dv);
  if (dv->rounding == DORY_ROUND_TOWARD_ZERO) {
    /* -q without negating INT64_MIN: q <= 2^63 (q == 2^63 for n = INT64_MIN, d = 1), so q - 1 fits int64. */
    q = dory_udiv64((uint64_t)0 - (uint64_t)n, dv);
    return q ? -1 - (int64_t)(q - 1) : 0;
  }
  /* floor(n/d) = -1 - floor((-n-1)/d) for n < 0; -(n+1) cannot overflow. */
  return -1 - (int64_t)dory_udiv64((uint64_t)(-(n + 1)), dv);
}

static inline int64_t dory_scale64(int32_t v, int64_t m, int64_t a, const dory_divisor *dv) {
  return dory_div64((int64_t)v * m + a, dv);
}

static inline int32_t dory_clamp64(int64_t x, int32_t lo, int32_t hi) {
  return x < lo ? lo : (x > hi ? hi : (int32_t)x);
}

/* clamp(R((v*m + a)/D) + zp, lo, hi): the 64-bit path. */
static inline int32_t dory_requant64(int32_t v, int64_t m, int64_t a, const dory_divisor *dv, int32_t zp,
                                     int32_t lo, int32_t hi) {
  return dory_clamp64(dory_scale64(v, m, a, dv) + zp, lo, hi);
}

/* ---- 32-bit path --------------------------------------------------------------------------------------- */

static inline int dory_divisor32_make(uint32_t d, int rounding, dory_divisor32 *out) {
  int l;
  uint64_t m, rem;
  if (d == 0 || d >= ((uint32_t)1 << 31)) return -1;
  out->d = d;
  out->rounding = (uint8_t)rounding;
  out->magic = 0;
  l = dory_floor_log2_u64(d);
  if ((d & (d - 1)) == 0) {
    out->method = DORY_DIV_SHIFT;
    out->shift = (uint8_t)l;
    return 0;
  }
  m = (((uint64_t)1) << (32 + l)) / d; /* < 2^32 since d > 2^l */
  rem = (((uint64_t)1) << (32 + l)) - m * d;
  if (d - rem < ((uint64_t)1 << l)) {
    out->magic = (uint32_t)(m + 1);
    out->method = DORY_DIV_MAGIC;
  } else {
    uint64_t twice_rem = rem + rem;
    m += m;
    if (twice_rem >= d) m += 1;
    out->magic = (uint32_t)(m + 1);
    out->method = DORY_DIV_MAGIC_ADD;
  }
  out->shift = (uint8_t)l;
  return 0;
}

static inline uint32_t dory_udiv32(uint32_t n, const dory_divisor32 *dv) {
  uint32_t t;
  switch (dv->method) {
    case DORY_DIV_SHIFT:
      return n >> dv->shift;
    case DORY_DIV_MAGIC:
      return (uint32_t)(((uint64_t)n * dv->magic) >> 32) >> dv->shift;
    default:
      t = (uint32_t)(((uint64_t)n * dv->magic) >> 32);
      return (((n - t) >> 1) + t) >> dv->shift;
  }
}

static inline int32_t dory_div32(int32_t n, const dory_divisor32 *dv) {
  uint32_t q;
  if (n >= 0) return (int32_t)dory_udiv32((uint32_t)n, dv);
  if (dv->rounding == DORY_ROUND_TOWARD_ZERO) {
    q = dory_udiv32((uint32_t)0 - (uint32_t)n, dv); /* q <= 2^31: see dory_div64 */
    return q ? -1 - (int32_t)(q - 1) : 0;
  }
  return -1 - (int32_t)dory_udiv32((uint32_t)(-(n + 1)), dv);
}

static inline int32_t dory_scale32(int32_t v, int32_t m, int32_t a, const dory_divisor32 *dv) {
  return dory_div32(v * m + a, dv);
}

/* clamp(R((v*m + a)/D) + zp, lo, hi): the 32-bit path, valid only under the preconditions above. */
static inline int32_t dory_requant32(int32_t v, int32_t m, int32_t a, const dory_divisor32 *dv, int32_t zp,
                                     int32_t lo, int32_t hi) {
  int32_t x = dory_scale32(v, m, a, dv) + zp;
  return x < lo ? lo : (x > hi ? hi : x);
}

#ifdef __cplusplus
}
#endif

#endif /* DORY_REQUANT_H */
