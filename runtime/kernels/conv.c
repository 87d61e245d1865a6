/* Standard convolution (groups 1) on one L1 tile, PULP-NN style: dory_conv_{u8s8,s8s8,any}_4x2__c, and
 * dory_conv_any_1x1_direct__c.
 *
 * 4x2: per core, for each pair of its output pixels, copy the two receptive fields into the core's im2col slice
 * (kh x kw x c_in elements each, in the weights' [ky][kx][ci] order; padded positions filled with the input zero
 * point, so they contribute (zp - zp) * w = 0), then run the 4-channel x 2-pixel matmul over the core's
 * channels. The im2col holds raw input elements, so the copy is a memcpy per in-bounds run of columns. The
 * scratch is dory_conv_4x2_im2col_scratch_bytes (kernels/scratch.c).
 * direct: each output value is the window's dot product read in place, padded positions skipped; no scratch
 * (for targets whose L1 cannot spare an im2col). */
#include "matmul.h"

enum { CONV_PIXELS = 2 }; /* the im2col slice of one core: 2 pixels (the matmul's pixel block) */

/* The receptive field of output pixel (oh, ow) into dst: kh x kw x C elements of type IT. */
DORY_ALWAYS_INLINE void conv_im2col(const dory_conv_args *a, int IT, int32_t zp, int32_t oh, int32_t ow,
                                    unsigned char *dst) {
  const int32_t C = a->in.c, eb = dory_dtype_bytes((uint8_t)IT), row = a->kw * C;
  const unsigned char *in = (const unsigned char *)a->in.data;
  const int32_t x0 = ow * a->stride_w - a->pad.left;
  int32_t kx0, kx1, ky;
  dory_window_span(x0, a->kw, a->in.w, &kx0, &kx1); /* in-bounds columns of the window: kx in [kx0, kx1) */
  for (ky = 0; ky < a->kh; ++ky, dst += (size_t)row * eb) {
    const int32_t iy = oh * a->stride_h + ky - a->pad.top;
    if (iy < 0 || iy >= a->in.h || kx1 <= kx0) {
      dory_fill(dst, IT, row, zp);
      continue;
    }
    if (kx0 > 0) dory_fill(dst, IT, kx0 * C, zp);
    memcpy(dst + (size_t)kx0 * C * eb, in + ((size_t)iy * a->in.w + (size_t)(x0 + kx0)) * C * eb,
           (size_t)(kx1 - kx0) * C * eb);
    if (kx1 < a->kw) dory_fill(dst + (size_t)kx1 * C * eb, IT, (a->kw - kx1) * C, zp);
  }
}

DORY_ALWAYS_INLINE void conv_body(const dory_conv_args *a, int IT, int32_t zp) {
  const int32_t K = a->kh * a->kw * a->in.c, eb = dory_dtype_bytes((uint8_t)IT);
  const dory_work wk = dory_core_work(a->split, a->out.h, a->out.c);
  const int32_t p_end = wk.r1 * a->out.w;
  unsigned char *col = (unsigned char *)a->scratch + (size_t)dory_core_id() * CONV_PIXELS * K * eb;
  unsigned char *col1 = col + (size_t)K * eb;
  int32_t p;
  const dory_mm_out o =
      dory_mm_out_make(a->bias, a->psum, &a->rq, &a->out, a->first, a->last, a->has_requant);
  if (wk.c0 >= wk.c1) return;
  for (p = wk.r0 * a->out.w; p < p_end;) {
    conv_im2col(a, IT, zp, p / a->out.w, p % a->out.w, col);
    if (p + 1 < p_end) {
      conv_im2col(a, IT, zp, (p + 1) / a->out.w, (p + 1) % a->out.w, col1);
      dory_mm_2px(col, col1, IT, zp, a->weights, K, wk.c0, wk.c1, &o, p, p + 1);
      p += 2;
    } else {
      dory_mm_1px(col, IT, zp, a->weights, K, wk.c0, wk.c1, &o, p);
      p += 1;
    }
  }
}

/* Without an im2col: each output value is the window's dot product read directly from the input tile, padded
 * positions skipped (they add (zp - zp) * w = 0). */
DORY_ALWAYS_INLINE void conv_direct_body(const dory_conv_args *a, int IT, int32_t zp) {
  const int32_t C = a->in.c, K = a->kh * a->kw * C;
  const dory_work wk = dory_core_work(a->split, a->out.h, a->out.c);
  int32_t oh, ow, c;
  const dory_mm_out o =
      dory_mm_out_make(a->bias, a->psum, &a->rq, &a->out, a->first, a->last, a->has_requant);
  for (oh = wk.r0; oh < wk.r1; ++oh)
    for (ow = 0; ow < a->out.w; ++ow) {
      const int32_t y0 = oh * a->stride_h - a->pad.top, x0 = ow * a->stride_w - a->pad.left;
      for (c = wk.c0; c < wk.c1; ++c) {
        const int8_t *w = a->weights + (size_t)c * K;
        int32_t sum = 0, ky, kx, ci;
        for (ky = 0; ky < a->kh; ++ky) {
          const int32_t iy = y0 + ky;
          if (iy < 0 || iy >= a->in.h) continue;
          for (kx = 0; kx < a->kw; ++kx) {
            const int32_t ix = x0 + kx;
            const int32_t base = (iy * a->in.w + ix) * C;
            const int8_t *wk_ = w + (ky * a->kw + kx) * C;
            if (ix < 0 || ix >= a->in.w) continue;
            for (ci = 0; ci < C; ++ci) sum += (dory_load(a->in.data, IT, base + ci) - zp) * wk_[ci];
          }
        }
        dory_mm_finish(&o, oh * a->out.w + ow, c, sum);
      }
    }
}

#define CONV_IN_TYPE(a) ((a)->in.type)
#define CONV_ZP(a) ((a)->input_zero_point)

static void conv_check(const dory_conv_args *a) {
  DORY_KCHECK(dory_window_valid(&a->in, &a->out, &a->pad, a->kh, a->kw, a->stride_h, a->stride_w),
              "conv: inconsistent tile geometry");
  DORY_KCHECK(a->weights != 0, "conv: missing weights");
  DORY_KCHECK(dory_mm_args_valid(a->bias, a->psum, a->first, a->last, a->has_requant, &a->rq, a->out.type),
              "conv: inconsistent accumulation arguments");
}

static void conv_im2col_check(const dory_conv_args *a) {
  dory_kernel_shape s;
  conv_check(a);
  s.cores = dory_core_count();
  s.c_in = a->in.c;
  s.kh = a->kh;
  s.kw = a->kw;
  s.in_type = a->in.type;
  DORY_KCHECK(a->scratch && a->scratch_bytes >= dory_conv_4x2_im2col_scratch_bytes(&s),
              "conv 4x2: no im2col scratch, or smaller than dory_conv_4x2_im2col_scratch_bytes");
}

DORY_KERNEL_8BIT(dory_conv_u8s8_4x2__c, dory_conv_args, conv_im2col_check, conv_body, DORY_UINT8, CONV_IN_TYPE,
                 CONV_ZP)
DORY_KERNEL_8BIT(dory_conv_s8s8_4x2__c, dory_conv_args, conv_im2col_check, conv_body, DORY_INT8, CONV_IN_TYPE,
                 CONV_ZP)
DORY_KERNEL_ANY(dory_conv_any_4x2__c, dory_conv_args, conv_im2col_check, conv_body, CONV_IN_TYPE, CONV_ZP)
DORY_KERNEL_ANY(dory_conv_any_1x1_direct__c, dory_conv_args, conv_check, conv_direct_body, CONV_IN_TYPE, CONV_ZP)

/* The portable twin of dory_conv_u8s8_4x4__xpulpv2: the uint8 convolution above, in that kernel's scratch (its own
 * formula, not the 4x2 im2col's): the im2col path when the scratch holds a 2-pixel slice per core, else the direct
 * form. */
DORY_ALWAYS_INLINE void conv_4x4_twin_body(const dory_conv_args *a, int IT, int32_t zp) {
  dory_kernel_shape s;
  s.cores = dory_core_count();
  s.c_in = a->in.c;
  s.kh = a->kh;
  s.kw = a->kw;
  s.in_type = a->in.type;
  if (a->scratch && a->scratch_bytes >= dory_conv_4x2_im2col_scratch_bytes(&s))
    conv_body(a, IT, zp);
  else
    conv_direct_body(a, IT, zp);
}
DORY_KERNEL_8BIT(dory_conv_u8s8_4x4__c, dory_conv_args, conv_check, conv_4x4_twin_body, DORY_UINT8, CONV_IN_TYPE,
                 CONV_ZP)
