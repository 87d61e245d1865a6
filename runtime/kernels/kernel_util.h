/* Internal helpers shared by the kernel families (not part of the API): typed element access, the work split
 * over cores, requantization of one value through dory/requant.h, argument checks.
 *
 * Genericity over element types: each family writes its body ONCE as a DORY_ALWAYS_INLINE function taking the
 * element type as an argument, and its entry point calls that body with constant types for the 8-bit fast paths
 * and with the runtime type otherwise; dory_load/dory_store then fold to a single access in the fast paths. */
#ifndef DORY_KERNEL_UTIL_H
#define DORY_KERNEL_UTIL_H

#include <stdint.h>
#include <string.h>

#include "dory/hal.h"
#include "dory/kernels.h"
#include "dory/requant.h"

#if defined(__GNUC__)
#define DORY_ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define DORY_ALWAYS_INLINE static inline
#endif

/* Argument checks: on by default (they cost a few comparisons per call); -DDORY_NO_KERNEL_CHECKS removes them. */
#ifndef DORY_NO_KERNEL_CHECKS
#define DORY_KCHECK(cond, msg)                 \
  do {                                         \
    if (!(cond)) dory_panic("kernel " msg);    \
  } while (0)
#else
#define DORY_KCHECK(cond, msg) \
  do {                         \
  } while (0)
#endif

DORY_ALWAYS_INLINE int32_t dory_load(const void *p, int type, int32_t i) {
  switch (type) {
    case DORY_UINT8: return ((const uint8_t *)p)[i];
    case DORY_INT8: return ((const int8_t *)p)[i];
    case DORY_UINT16: return ((const uint16_t *)p)[i];
    case DORY_INT16: return ((const int16_t *)p)[i];
    default: return ((const int32_t *)p)[i];
  }
}

/* v must be within the type's range (the compiler's range analysis proves it for every output). */
DORY_ALWAYS_INLINE void dory_store(void *p, int type, int32_t i, int32_t v) {
  switch (type) {
    case DORY_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case DORY_INT8: ((int8_t *)p)[i] = (int8_t)v; break;
    case DORY_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case DORY_INT16: ((int16_t *)p)[i] = (int16_t)v; break;
    default: ((int32_t *)p)[i] = v; break;
  }
}

/* Fills n elements of type `type` with v. */
DORY_ALWAYS_INLINE void dory_fill(void *p, int type, int32_t n, int32_t v) {
  int32_t i;
  if (v == 0 || (dory_dtype_bytes((uint8_t)type) == 1)) {
    memset(p, (unsigned char)v, (size_t)n * (size_t)dory_dtype_bytes((uint8_t)type));
    return;
  }
  for (i = 0; i < n; ++i) dory_store(p, type, i, v);
}

static inline int dory_valid_dtype(uint8_t t) { return t <= DORY_INT32; }

/* x / cores for x >= 0 and cores >= 1: a shift when cores is a power of two (the cluster's 8, 4, 2, 1: RI5CY's
 * divide takes ~32 cycles, and every kernel call makes two or three of them). */
static inline int32_t dory_div_cores(int32_t x, int32_t cores) {
  if ((cores & (cores - 1)) == 0) {
    while (cores > 1) {
      x >>= 1;
      cores >>= 1;
    }
    return x;
  }
  return x / cores;
}

/* This core's share [*begin, *end) of n items: ceil(n / cores) each, in core order. */
static inline void dory_core_share(int32_t n, int32_t *begin, int32_t *end) {
  const int32_t cores = dory_core_count(), id = dory_core_id();
  const int32_t chunk = dory_div_cores(n + cores - 1, cores);
  int32_t b = id * chunk, e = b + chunk;
  if (b > n) b = n;
  if (e > n) e = n;
  *begin = b;
  *end = e;
}

/* Output rows [r0, r1) and channels [c0, c1) of this core for a tile of h rows and c channels. */
typedef struct {
  int32_t r0, r1, c0, c1;
} dory_work;

static inline dory_work dory_core_work(uint8_t split, int32_t h, int32_t c) {
  dory_work w;
  if (split == DORY_SPLIT_AUTO) {
    const int32_t cores = dory_core_count();
    const int32_t q = ((dory_div_cores(c + cores - 1, cores) + 3) >> 2) << 2; /* channel chunk, a multiple of 4 */
    if (h < cores && q * h < c) {
      const int32_t id = dory_core_id();
      w.r0 = 0;
      w.r1 = h;
      w.c0 = id * q < c ? id * q : c;
      w.c1 = id * q + q < c ? id * q + q : c;
      return w;
    }
    split = DORY_SPLIT_ROWS;
  }
  if (split == DORY_SPLIT_CHANNELS) {
    w.r0 = 0;
    w.r1 = h;
    dory_core_share(c, &w.c0, &w.c1);
  } else {
    w.c0 = 0;
    w.c1 = c;
    dory_core_share(h, &w.r0, &w.r1);
  }
  return w;
}

/* ---- requantization: the per-channel parameters, then dory/requant.h ---------------------------------------- */

/* A little-endian int64 from two 4-byte-aligned 32-bit words (every dory target is little-endian). */
DORY_ALWAYS_INLINE int64_t dory_load_i64_le(const uint32_t *w) {
  return (int64_t)((uint64_t)w[0] | ((uint64_t)w[1] << 32));
}

DORY_ALWAYS_INLINE void dory_rq_params(const dory_requant_args *rq, int32_t c, int64_t *m, int64_t *a) {
  const int32_t n = rq->mul_per_channel + rq->add_per_channel;
  if (!rq->mul_per_channel && !rq->add_per_channel) {
    *m = rq->mul;
    *a = rq->add;
    return;
  }
  if (rq->wide) {
    /* int64 records in an L1 buffer aligned only to the target's L1 alignment (4 bytes on pulp-open, never less):
     * loaded as two 32-bit words (rv32 makes two loads of an int64 either way; a memcpy of unknown alignment
     * costs rv32 eight byte loads). */
    const uint32_t *rec = (const uint32_t *)rq->channel_params + (size_t)c * (size_t)n * 2u;
    *m = rq->mul_per_channel ? dory_load_i64_le(rec) : rq->mul;
    *a = rq->add_per_channel ? dory_load_i64_le(rec + 2 * rq->mul_per_channel) : rq->add;
  } else {
    const int32_t *rec = (const int32_t *)rq->channel_params + (int64_t)c * n;
    *m = rq->mul_per_channel ? rec[0] : rq->mul;
    *a = rq->add_per_channel ? rec[rq->mul_per_channel] : rq->add;
  }
}

/* clamp(R((v*m[c] + a[c]) / D) + zp, lo, hi). */
DORY_ALWAYS_INLINE int32_t dory_rq_apply(const dory_requant_args *rq, int32_t v, int32_t c) {
  int64_t m, a;
  dory_rq_params(rq, c, &m, &a);
  if (!rq->wide) return dory_requant32(v, (int32_t)m, (int32_t)a, &rq->div.d32, rq->zero_point, rq->lo, rq->hi);
  return dory_requant64(v, m, a, &rq->div.d64, rq->zero_point, rq->lo, rq->hi);
}

/* Average pooling: clamp(R((v*m[c] + a[c]*cnt) / (D*cnt)) + zp, lo, hi) with div the divisor of D*cnt. */
DORY_ALWAYS_INLINE int32_t dory_rq_apply_count(const dory_requant_args *rq, int32_t v, int32_t c, int32_t cnt,
                                               const dory_requant_divisor *div) {
  int64_t m, a;
  dory_rq_params(rq, c, &m, &a);
  a *= cnt;
  if (!rq->wide) return dory_requant32(v, (int32_t)m, (int32_t)a, &div->d32, rq->zero_point, rq->lo, rq->hi);
  return dory_requant64(v, m, a, &div->d64, rq->zero_point, rq->lo, rq->hi);
}

static inline int dory_rq_valid(const dory_requant_args *rq) {
  return rq->lo <= rq->hi && rq->mul_per_channel <= 1 && rq->add_per_channel <= 1 &&
         (!(rq->mul_per_channel || rq->add_per_channel) || rq->channel_params != 0);
}

/* Checks shared by the windowed kernels. The input box may be empty (in->h or in->w 0: a tile whose windows all
 * lie in the padding); its data is then never read and may be NULL. */
static inline int dory_window_valid(const dory_tile *in, const dory_tile *out, const dory_pad *pad, int32_t kh,
                                    int32_t kw, int32_t sh, int32_t sw) {
  return kh >= 1 && kw >= 1 && sh >= 1 && sw >= 1 && pad->top >= 0 && pad->left >= 0 && pad->bottom >= 0 &&
         pad->right >= 0 && in->h >= 0 && in->w >= 0 && in->c >= 1 && out->h >= 1 && out->w >= 1 && out->c >= 1 &&
         (out->h - 1) * sh + kh <= pad->top + in->h + pad->bottom &&
         (out->w - 1) * sw + kw <= pad->left + in->w + pad->right && (in->data || in->h == 0 || in->w == 0) &&
         out->data && dory_valid_dtype(in->type) && dory_valid_dtype(out->type);
}

/* The in-bounds part [*k0, *k1) of a window of k positions starting at position p0 of a box of n positions (p0 is
 * relative to the box, negative in the padding before it). Empty (*k0 == *k1) when the window lies wholly in the
 * padding, which padding as large as the kernel allows. */
static inline void dory_window_span(int32_t p0, int32_t k, int32_t n, int32_t *k0, int32_t *k1) {
  int32_t lo = p0 < 0 ? -p0 : 0, hi = p0 + k > n ? n - p0 : k;
  if (lo > k) lo = k;
  if (hi < lo) hi = lo;
  *k0 = lo;
  *k1 = hi;
}

/* The entry points of a kernel family (registry.json: one name per operand type). A family writes its body
 * BODY(a, type, zp) once; its checks CHECK(a) (DORY_KCHECK calls) once; its accessors INTYPE(a) and ZP(a) give
 * the (first) input's type and zero point.
 *   DORY_KERNEL_8BIT  the kernel for 8-bit input type T: checks that the input is T, then runs the body with the
 *                     type constant, and with a constant zero point 0 when the input's zero point is 0 (both
 *                     fold dory_load and the zero-point subtraction away);
 *   DORY_KERNEL_ANY   the kernel for every type: the type is read at run time. */
#define DORY_KERNEL_8BIT(NAME, ARGS, CHECK, BODY, T, INTYPE, ZP)                 \
  void NAME(const ARGS *a) {                                                     \
    CHECK(a);                                                                    \
    DORY_KCHECK(INTYPE(a) == (T), #NAME ": the input type is not this kernel's"); \
    if (ZP(a) == 0)                                                              \
      BODY(a, T, 0);                                                             \
    else                                                                         \
      BODY(a, T, ZP(a));                                                         \
  }
#define DORY_KERNEL_ANY(NAME, ARGS, CHECK, BODY, INTYPE, ZP) \
  void NAME(const ARGS *a) {                                 \
    CHECK(a);                                                \
    BODY(a, INTYPE(a), ZP(a));                               \
  }

#endif /* DORY_KERNEL_UTIL_H */
