/* dory_avgpool_hwc: average pooling (and global average pooling) on one L1 tile.
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
    const int32_t ky0 = y0 < 0 ? -y0 : 0, ky1 = y0 + a->kh > a->in.h ? a->in.h - y0 : a->kh;
    for (ow = 0; ow < a->out.w; ++ow) {
      const int32_t x0 = ow * a->stride_w - a->pad.left;
      const int32_t kx0 = x0 < 0 ? -x0 : 0, kx1 = x0 + a->kw > a->in.w ? a->in.w - x0 : a->kw;
      /* a window wholly in padding along an axis has ky0 > ky1 (or kx0 > kx1): no position inside */
      const int32_t inside = (ky1 > ky0 && kx1 > kx0) ? (ky1 - ky0) * (kx1 - kx0) : 0, padded = full - inside;
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
              "dory_avgpool_hwc: inconsistent tile geometry");
  DORY_KCHECK(dory_rq_valid(&a->rq) && a->count_div && a->count_div_len >= 1 && a->count_div_first >= 1,
              "dory_avgpool_hwc: inconsistent requantization arguments");
}

void dory_avgpool_hwc(const dory_avgpool_args *a) {
  avgpool_check(a);
  DORY_DISPATCH_INPUT(avgpool_body, a, a->in.type, a->input_zero_point);
}

/* The portable twin of dory_avgpool_u8__xpulpv2: dory_avgpool_hwc's uint8 path. */
void dory_avgpool_u8__c(const dory_avgpool_args *a) {
  DORY_KCHECK(a->in.type == DORY_UINT8, "dory_avgpool_u8__c: needs a uint8 input");
  avgpool_check(a);
  if (a->input_zero_point == 0) avgpool_body(a, DORY_UINT8, 0);
  else avgpool_body(a, DORY_UINT8, a->input_zero_point);
}
