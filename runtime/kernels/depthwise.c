/* dory_depthwise_{u8s8,s8s8,any}_1x1__c: depthwise convolution (groups = C_in = C_out) on one L1 tile.
 *
 * acc[c] = bias[c] + sum over the window's in-bounds positions of (x[c] - zp) * w[c][ky][kx] (padded positions
 * add 0 and are skipped). Work: the target's split, normally channels (each core its channel range for every
 * pixel); the window's in-bounds range is computed once per pixel. */
#include "kernel_util.h"

DORY_ALWAYS_INLINE void depthwise_body(const dory_conv_args *a, int IT, int32_t zp) {
  const int32_t C = a->in.c, KK = a->kh * a->kw;
  const dory_work wk = dory_core_work(a->split, a->out.h, a->out.c);
  int32_t oh, ow, c, ky, kx;
  if (wk.c0 >= wk.c1) return;
  for (oh = wk.r0; oh < wk.r1; ++oh) {
    const int32_t y0 = oh * a->stride_h - a->pad.top;
    int32_t ky0, ky1;
    dory_window_span(y0, a->kh, a->in.h, &ky0, &ky1);
    for (ow = 0; ow < a->out.w; ++ow) {
      const int32_t x0 = ow * a->stride_w - a->pad.left;
      int32_t kx0, kx1;
      dory_window_span(x0, a->kw, a->in.w, &kx0, &kx1);
      const int32_t pix = oh * a->out.w + ow;
      for (c = wk.c0; c < wk.c1; ++c) {
        const int8_t *w = a->weights + c * KK;
        int32_t acc = a->bias[c];
        for (ky = ky0; ky < ky1; ++ky) {
          const int32_t row = ((y0 + ky) * a->in.w + x0) * C + c;
          for (kx = kx0; kx < kx1; ++kx) acc += (dory_load(a->in.data, IT, row + kx * C) - zp) * w[ky * a->kw + kx];
        }
        dory_store(a->out.data, a->out.type, pix * C + c, a->has_requant ? dory_rq_apply(&a->rq, acc, c) : acc);
      }
    }
  }
}

static void depthwise_check(const dory_conv_args *a) {
  DORY_KCHECK(dory_window_valid(&a->in, &a->out, &a->pad, a->kh, a->kw, a->stride_h, a->stride_w),
              "depthwise: inconsistent tile geometry");
  DORY_KCHECK(a->in.c == a->out.c && a->weights && a->bias && a->first && a->last,
              "depthwise: needs in.c == out.c, weights, bias, first = last = 1");
  DORY_KCHECK(a->has_requant ? dory_rq_valid(&a->rq) : a->out.type == DORY_INT32,
              "depthwise: inconsistent requantization arguments");
}

#define DW_IN_TYPE(a) ((a)->in.type)
#define DW_ZP(a) ((a)->input_zero_point)
DORY_KERNEL_8BIT(dory_depthwise_u8s8_1x1__c, dory_conv_args, depthwise_check, depthwise_body, DORY_UINT8, DW_IN_TYPE,
                 DW_ZP)
DORY_KERNEL_8BIT(dory_depthwise_s8s8_1x1__c, dory_conv_args, depthwise_check, depthwise_body, DORY_INT8, DW_IN_TYPE,
                 DW_ZP)
DORY_KERNEL_ANY(dory_depthwise_any_1x1__c, dory_conv_args, depthwise_check, depthwise_body, DW_IN_TYPE, DW_ZP)

/* The portable twin of dory_depthwise_u8s8_1x4__xpulpv2 (its scratch unused). */
DORY_KERNEL_8BIT(dory_depthwise_u8s8_1x4__c, dory_conv_args, depthwise_check, depthwise_body, DORY_UINT8, DW_IN_TYPE,
                 DW_ZP)
