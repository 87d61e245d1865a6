/* Internal: the output-stationary matmul core of the MAC kernels (conv, pointwise, fc), PULP-NN style.
 *
 * It computes sum_k (x[k] - zp) * w[c][k] for 4 output channels x 2 pixels per step (8 accumulators in
 * registers; every loaded input is used 4 times, every weight twice), with 1-pixel and 1-channel remainders,
 * and finishes each sum with dory_mm_finish: start from the bias (first) or the partial sum, then requantize
 * into the output (last) or store the partial sum.
 *
 * Overflow: every sum formed here is a partial sum of the layer's accumulator, which the compiler's range
 * analysis bounds by |bias| + sum_k |w (x - zp)| <= 2^31 - 1 in any order (docs/semantics.md, "Widths"). */
#ifndef DORY_MATMUL_H
#define DORY_MATMUL_H

#include "kernel_util.h"

typedef struct {
  const int32_t *bias;
  int32_t *psum;
  const dory_requant_args *rq;
  void *out;
  int32_t out_c;  /* channels of the output tile (the pixel stride of out and psum) */
  uint8_t out_type, first, last, has_requant;
} dory_mm_out;

/* The output side of a MAC kernel's tile (conv, pointwise and fc args share these fields). */
DORY_ALWAYS_INLINE dory_mm_out dory_mm_out_make(const int32_t *bias, int32_t *psum, const dory_requant_args *rq,
                                                const dory_tile *out, uint8_t first, uint8_t last,
                                                uint8_t has_requant) {
  dory_mm_out o;
  o.bias = bias;
  o.psum = psum;
  o.rq = rq;
  o.out = out->data;
  o.out_c = out->c;
  o.out_type = out->type;
  o.first = first;
  o.last = last;
  o.has_requant = has_requant;
  return o;
}

DORY_ALWAYS_INLINE void dory_mm_finish(const dory_mm_out *o, int32_t pix, int32_t c, int32_t sum) {
  const int32_t idx = pix * o->out_c + c;
  const int32_t acc = (o->first ? o->bias[c] : o->psum[idx]) + sum;
  if (!o->last) {
    o->psum[idx] = acc;
    return;
  }
  dory_store(o->out, o->out_type, idx, o->has_requant ? dory_rq_apply(o->rq, acc, c) : acc);
}

/* Two pixels: x0, x1 hold K elements of type IT each; weights w[c][K]; channels [c0, c1). */
DORY_ALWAYS_INLINE void dory_mm_2px(const void *x0, const void *x1, int IT, int32_t zp, const int8_t *w, int32_t K,
                                    int32_t c0, int32_t c1, const dory_mm_out *o, int32_t p0, int32_t p1) {
  int32_t c = c0, k;
  for (; c + 4 <= c1; c += 4) {
    const int8_t *w0 = w + c * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
    int32_t s00 = 0, s01 = 0, s10 = 0, s11 = 0, s20 = 0, s21 = 0, s30 = 0, s31 = 0;
    for (k = 0; k < K; ++k) {
      const int32_t xa = dory_load(x0, IT, k) - zp, xb = dory_load(x1, IT, k) - zp;
      const int32_t a0 = w0[k], a1 = w1[k], a2 = w2[k], a3 = w3[k];
      s00 += xa * a0;
      s01 += xb * a0;
      s10 += xa * a1;
      s11 += xb * a1;
      s20 += xa * a2;
      s21 += xb * a2;
      s30 += xa * a3;
      s31 += xb * a3;
    }
    dory_mm_finish(o, p0, c, s00);
    dory_mm_finish(o, p1, c, s01);
    dory_mm_finish(o, p0, c + 1, s10);
    dory_mm_finish(o, p1, c + 1, s11);
    dory_mm_finish(o, p0, c + 2, s20);
    dory_mm_finish(o, p1, c + 2, s21);
    dory_mm_finish(o, p0, c + 3, s30);
    dory_mm_finish(o, p1, c + 3, s31);
  }
  for (; c < c1; ++c) {
    const int8_t *w0 = w + c * K;
    int32_t s0 = 0, s1 = 0;
    for (k = 0; k < K; ++k) {
      const int32_t a0 = w0[k];
      s0 += (dory_load(x0, IT, k) - zp) * a0;
      s1 += (dory_load(x1, IT, k) - zp) * a0;
    }
    dory_mm_finish(o, p0, c, s0);
    dory_mm_finish(o, p1, c, s1);
  }
}

/* One pixel (also the fully connected layer): 4 channels per step. */
DORY_ALWAYS_INLINE void dory_mm_1px(const void *x0, int IT, int32_t zp, const int8_t *w, int32_t K, int32_t c0,
                                    int32_t c1, const dory_mm_out *o, int32_t p0) {
  int32_t c = c0, k;
  for (; c + 4 <= c1; c += 4) {
    const int8_t *w0 = w + c * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (k = 0; k < K; ++k) {
      const int32_t xa = dory_load(x0, IT, k) - zp;
      s0 += xa * w0[k];
      s1 += xa * w1[k];
      s2 += xa * w2[k];
      s3 += xa * w3[k];
    }
    dory_mm_finish(o, p0, c, s0);
    dory_mm_finish(o, p0, c + 1, s1);
    dory_mm_finish(o, p0, c + 2, s2);
    dory_mm_finish(o, p0, c + 3, s3);
  }
  for (; c < c1; ++c) {
    const int8_t *w0 = w + c * K;
    int32_t s0 = 0;
    for (k = 0; k < K; ++k) s0 += (dory_load(x0, IT, k) - zp) * w0[k];
    dory_mm_finish(o, p0, c, s0);
  }
}

/* Checks of the accumulation arguments common to conv, pointwise and fc. */
static inline int dory_mm_args_valid(const int32_t *bias, const int32_t *psum, uint8_t first, uint8_t last,
                                     uint8_t has_requant, const dory_requant_args *rq, uint8_t out_type) {
  return (!first || bias) && ((first && last) || psum) && (has_requant ? dory_rq_valid(rq) : out_type == DORY_INT32);
}

#endif /* DORY_MATMUL_H */
