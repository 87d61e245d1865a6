/* dory_maxpool_hwc: max pooling on one L1 tile, on raw values (no requantization; the output type may differ
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
    const int32_t ky0 = y0 < 0 ? -y0 : 0, ky1 = y0 + a->kh > a->in.h ? a->in.h - y0 : a->kh;
    for (ow = 0; ow < a->out.w; ++ow) {
      const int32_t x0 = ow * a->stride_w - a->pad.left;
      const int32_t kx0 = x0 < 0 ? -x0 : 0, kx1 = x0 + a->kw > a->in.w ? a->in.w - x0 : a->kw;
      /* a window wholly in padding along an axis has ky0 > ky1 (or kx0 > kx1): no position inside */
      const int clipped = !(ky1 > ky0 && kx1 > kx0) || (ky1 - ky0) * (kx1 - kx0) < a->kh * a->kw;
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

void dory_maxpool_hwc(const dory_maxpool_args *a) {
  DORY_KCHECK(dory_window_valid(&a->in, &a->out, &a->pad, a->kh, a->kw, a->stride_h, a->stride_w) &&
                  a->in.c == a->out.c,
              "dory_maxpool_hwc: inconsistent tile geometry");
  switch (a->in.type) {
    case DORY_UINT8: maxpool_body(a, DORY_UINT8, 0); break;
    case DORY_INT8: maxpool_body(a, DORY_INT8, 0); break;
    default: maxpool_body(a, a->in.type, 0); break;
  }
}

/* The portable twin of dory_maxpool_u8__xpulpv2: dory_maxpool_hwc's uint8 path. */
void dory_maxpool_u8__c(const dory_maxpool_args *a) {
  DORY_KCHECK(a->in.type == DORY_UINT8, "dory_maxpool_u8__c: needs a uint8 input");
  DORY_KCHECK(dory_window_valid(&a->in, &a->out, &a->pad, a->kh, a->kw, a->stride_h, a->stride_w) &&
                  a->in.c == a->out.c,
              "dory_maxpool_hwc: inconsistent tile geometry");
  maxpool_body(a, DORY_UINT8, 0);
}
