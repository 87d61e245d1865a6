/* dory_depthwise_hwc: depthwise convolution (groups = C_in = C_out) on one L1 tile.
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
    const int32_t ky0 = y0 < 0 ? -y0 : 0, ky1 = y0 + a->kh > a->in.h ? a->in.h - y0 : a->kh;
    for (ow = 0; ow < a->out.w; ++ow) {
      const int32_t x0 = ow * a->stride_w - a->pad.left;
      const int32_t kx0 = x0 < 0 ? -x0 : 0, kx1 = x0 + a->kw > a->in.w ? a->in.w - x0 : a->kw;
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
              "dory_depthwise_hwc: inconsistent tile geometry");
  DORY_KCHECK(a->in.c == a->out.c && a->weights && a->bias && a->first && a->last,
              "dory_depthwise_hwc: needs in.c == out.c, weights, bias, first = last = 1");
  DORY_KCHECK(a->has_requant ? dory_rq_valid(&a->rq) : a->out.type == DORY_INT32,
              "dory_depthwise_hwc: inconsistent requantization arguments");
}

void dory_depthwise_hwc(const dory_conv_args *a) {
  depthwise_check(a);
  DORY_DISPATCH_INPUT(depthwise_body, a, a->in.type, a->input_zero_point);
}

/* The portable twin of dory_depthwise_u8s8_1x4__xpulpv2: dory_depthwise_hwc's uint8 path (no scratch). */
void dory_depthwise_u8s8_1x4__c(const dory_conv_args *a) {
  DORY_KCHECK(a->in.type == DORY_UINT8, "dory_depthwise_u8s8_1x4__c: needs a uint8 input");
  depthwise_check(a);
  if (a->input_zero_point == 0) depthwise_body(a, DORY_UINT8, 0);
  else depthwise_body(a, DORY_UINT8, a->input_zero_point);
}
