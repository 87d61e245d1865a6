/* dory_avgpool_{u8,s8,any}__c: average pooling (and global average pooling) on one L1 tile.
 *
 * The exact window mean, requantized: y = clamp(R((S*m[c] + a[c]*cnt) / (D*cnt)) + zp, lo, hi), with S the sum
 * of (x - zp_x) over the window (padded slots holding pad_value when counted) and cnt the window's slots
 * (count_include_pad) or its in-bounds slots. S fits int32 (the compiler proves kh*kw*max|x - zp_x| < 2^31);
 * the divisors D*cnt come precomputed (dory/kernels.h, dory_avgpool_args). */
#include "kernel_util.h"

DORY_ALWAYS_INLINE void avgpool_body(const dory_avgpool_args *a, int IT, int32_t zp) {
  const int32_t C = a->in.c, full = a->kh * a->kw;
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
      const int32_t inside = (ky1 - ky0) * (kx1 - kx0), padded = full - inside;
      const int32_t cnt = a->count_include_pad ? full : inside;
      const int32_t pad_sum = a->count_include_pad ? padded * (a->pad_value - zp) : 0;
      const int32_t pix = oh * a->out.w + ow;
      const dory_requant_divisor *div;
      DORY_KCHECK(cnt >= a->count_div_first && cnt < a->count_div_first + a->count_div_len,
                  "dory_avgpool_hwc: no divisor for a window count (count_div_first/len)");
      div = &a->count_div[cnt - a->count_div_first];
      for (c = wk.c0; c < wk.c1; ++c) {
        int32_t s = 0;
        for (ky = ky0; ky < ky1; ++ky) {
          const int32_t row = ((y0 + ky) * a->in.w + x0) * C + c;
          for (kx = kx0; kx < kx1; ++kx) s += dory_load(a->in.data, IT, row + kx * C) - zp;
        }
        s += pad_sum;
        dory_store(a->out.data, a->out.type, pix * C + c, dory_rq_apply_count(&a->rq, s, c, cnt, div));
      }
    }
  }
}

static void avgpool_check(const dory_avgpool_args *a) {
  DORY_KCHECK(dory_window_valid(&a->in, &a->out, &a->pad, a->kh, a->kw, a->stride_h, a->stride_w) &&
                  a->in.c == a->out.c,
              "avgpool: inconsistent tile geometry");
  DORY_KCHECK(dory_rq_valid(&a->rq) && a->count_div && a->count_div_len >= 1 && a->count_div_first >= 1,
              "avgpool: inconsistent requantization arguments");
}

#define AP_IN_TYPE(a) ((a)->in.type)
#define AP_ZP(a) ((a)->input_zero_point)
DORY_KERNEL_8BIT(dory_avgpool_u8__c, dory_avgpool_args, avgpool_check, avgpool_body, DORY_UINT8, AP_IN_TYPE, AP_ZP)
DORY_KERNEL_8BIT(dory_avgpool_s8__c, dory_avgpool_args, avgpool_check, avgpool_body, DORY_INT8, AP_IN_TYPE, AP_ZP)
DORY_KERNEL_ANY(dory_avgpool_any__c, dory_avgpool_args, avgpool_check, avgpool_body, AP_IN_TYPE, AP_ZP)
