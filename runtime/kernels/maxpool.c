/* dory_maxpool_{u8,s8,any}__c: max pooling on one L1 tile, on raw values (no requantization; the output type may differ
 * from the input's only in width). Padded positions are ignored, or hold pad_value when has_pad_value (an
 * explicit Pad before the pool). */
#include "kernel_util.h"

DORY_ALWAYS_INLINE void maxpool_body(const dory_maxpool_args *a, int IT, int32_t unused) {
  const int32_t C = a->in.c;
  const dory_work wk = dory_core_work(a->split, a->out.h, a->out.c);
  int32_t oh, ow, c, ky, kx;
  (void)unused;
  if (wk.c0 >= wk.c1) return;
  for (oh = wk.r0; oh < wk.r1; ++oh) {
    const int32_t y0 = oh * a->stride_h - a->pad.top;
    int32_t ky0, ky1;
    dory_window_span(y0, a->kh, a->in.h, &ky0, &ky1);
    for (ow = 0; ow < a->out.w; ++ow) {
      const int32_t x0 = ow * a->stride_w - a->pad.left;
      int32_t kx0, kx1;
      dory_window_span(x0, a->kw, a->in.w, &kx0, &kx1);
      const int clipped = (ky1 - ky0) * (kx1 - kx0) < a->kh * a->kw;
      const int32_t pix = oh * a->out.w + ow;
      for (c = wk.c0; c < wk.c1; ++c) {
        int32_t best = INT32_MIN;
        for (ky = ky0; ky < ky1; ++ky) {
          const int32_t row = ((y0 + ky) * a->in.w + x0) * C + c;
          for (kx = kx0; kx < kx1; ++kx) {
            const int32_t v = dory_load(a->in.data, IT, row + kx * C);
            if (v > best) best = v;
          }
        }
        if (clipped && a->has_pad_value && a->pad_value > best) best = a->pad_value;
        dory_store(a->out.data, a->out.type, pix * C + c, best);
      }
    }
  }
}

static void maxpool_check(const dory_maxpool_args *a) {
  DORY_KCHECK(dory_window_valid(&a->in, &a->out, &a->pad, a->kh, a->kw, a->stride_h, a->stride_w) &&
                  a->in.c == a->out.c,
              "maxpool: inconsistent tile geometry");
}

/* Max pooling has no zero point (raw values): the "zero point" is a constant 0. */
#define MP_IN_TYPE(a) ((a)->in.type)
#define MP_ZP(a) 0
DORY_KERNEL_8BIT(dory_maxpool_u8__c, dory_maxpool_args, maxpool_check, maxpool_body, DORY_UINT8, MP_IN_TYPE, MP_ZP)
DORY_KERNEL_8BIT(dory_maxpool_s8__c, dory_maxpool_args, maxpool_check, maxpool_body, DORY_INT8, MP_IN_TYPE, MP_ZP)
DORY_KERNEL_ANY(dory_maxpool_any__c, dory_maxpool_args, maxpool_check, maxpool_body, MP_IN_TYPE, MP_ZP)
