/* dory_conv_hwc: standard convolution (groups 1) on one L1 tile, PULP-NN style.
 *
 * Per core: for each pair of its output pixels, copy the two receptive fields into the core's im2col slice
 * (kh x kw x c_in elements each, in the weights' [ky][kx][ci] order; padded positions filled with the input zero
 * point, so they contribute (zp - zp) * w = 0), then run the 4-channel x 2-pixel matmul over the core's
 * channels. The im2col holds raw input elements, so the copy is a memcpy per in-bounds run of columns.
 * With im2col = NULL (a target whose conv kernel builds none) the convolution is computed directly. */
#include "matmul.h"

uint32_t dory_conv_im2col_bytes(int32_t cores, int32_t pixel_block, int32_t kh, int32_t kw, int32_t c_in,
                                uint8_t in_type) {
  return (uint32_t)cores * (uint32_t)pixel_block * (uint32_t)kh * (uint32_t)kw * (uint32_t)c_in *
         (uint32_t)dory_dtype_bytes(in_type);
}

/* The receptive field of output pixel (oh, ow) into dst: kh x kw x C elements of type IT. */
DORY_ALWAYS_INLINE void conv_im2col(const dory_conv_args *a, int IT, int32_t zp, int32_t oh, int32_t ow,
                                    unsigned char *dst) {
  const int32_t C = a->in.c, eb = dory_dtype_bytes((uint8_t)IT), row = a->kw * C;
  const unsigned char *in = (const unsigned char *)a->in.data;
  const int32_t x0 = ow * a->stride_w - a->pad.left;
  /* in-bounds columns of the window: kx in [kx0, kx1) */
  const int32_t kx0 = x0 < 0 ? -x0 : 0;
  const int32_t kx1 = x0 + a->kw > a->in.w ? a->in.w - x0 : a->kw;
  int32_t ky;
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
  const int two = a->im2col_pixels >= 2;
  unsigned char *col = (unsigned char *)a->im2col + (size_t)dory_core_id() * a->im2col_pixels * K * eb;
  unsigned char *col1 = col + (size_t)K * eb;
  int32_t p;
  const dory_mm_out o =
      dory_mm_out_make(a->bias, a->psum, &a->rq, &a->out, a->first, a->last, a->has_requant);
  if (wk.c0 >= wk.c1) return;
  for (p = wk.r0 * a->out.w; p < p_end;) {
    conv_im2col(a, IT, zp, p / a->out.w, p % a->out.w, col);
    if (two && p + 1 < p_end) {
      conv_im2col(a, IT, zp, (p + 1) / a->out.w, (p + 1) % a->out.w, col1);
      dory_mm_2px(col, col1, IT, zp, a->weights, K, wk.c0, wk.c1, &o, p, p + 1);
      p += 2;
    } else {
      dory_mm_1px(col, IT, zp, a->weights, K, wk.c0, wk.c1, &o, p);
      p += 1;
    }
  }
}

/* Without an im2col buffer (targets whose conv kernel builds none, e.g. pulp-open's): each output value is the
 * window's dot product read directly from the input tile, padded positions skipped (they add (zp - zp) * w = 0). */
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

static void conv_check(const dory_conv_args *a) {
  DORY_KCHECK(dory_window_valid(&a->in, &a->out, &a->pad, a->kh, a->kw, a->stride_h, a->stride_w),
              "dory_conv_hwc: inconsistent tile geometry");
  DORY_KCHECK(a->weights && (!a->im2col || (a->im2col_pixels >= 1 &&
                                              a->im2col_bytes >= dory_conv_im2col_bytes(dory_core_count(),
                                                                                        a->im2col_pixels, a->kh,
                                                                                        a->kw, a->in.c, a->in.type))),
              "dory_conv_hwc: missing weights, or an im2col buffer smaller than cores x pixels x kh x kw x c_in");
  DORY_KCHECK(dory_mm_args_valid(a->bias, a->psum, a->first, a->last, a->has_requant, &a->rq, a->out.type),
              "dory_conv_hwc: inconsistent accumulation arguments");
}

void dory_conv_hwc(const dory_conv_args *a) {
  conv_check(a);
  if (a->im2col)
    DORY_DISPATCH_INPUT(conv_body, a, a->in.type, a->input_zero_point);
  else
    DORY_DISPATCH_INPUT(conv_direct_body, a, a->in.type, a->input_zero_point);
}

/* The portable twin of dory_conv_u8s8_4x4__xpulpv2 (uint8 input): dory_conv_hwc's uint8 path. It uses the im2col
 * of dory_conv_hwc when the scratch passed holds it (im2col_pixels >= 1 and im2col_bytes large enough), else the
 * direct form, so it runs with the xpulpv2 kernel's arguments too. */
void dory_conv_u8s8_4x4__c(const dory_conv_args *a) {
  const int im2col = a->im2col && a->im2col_pixels >= 1 &&
                     a->im2col_bytes >= dory_conv_im2col_bytes(dory_core_count(), a->im2col_pixels, a->kh, a->kw,
                                                               a->in.c, a->in.type);
  dory_conv_args d;
  DORY_KCHECK(a->in.type == DORY_UINT8, "dory_conv_u8s8_4x4__c: needs a uint8 input");
  d = *a;
  if (!im2col) d.im2col = 0;
  conv_check(&d);
  if (d.im2col) {
    if (d.input_zero_point == 0) conv_body(&d, DORY_UINT8, 0);
    else conv_body(&d, DORY_UINT8, d.input_zero_point);
  } else {
    if (d.input_zero_point == 0) conv_direct_body(&d, DORY_UINT8, 0);
    else conv_direct_body(&d, DORY_UINT8, d.input_zero_point);
  }
}
