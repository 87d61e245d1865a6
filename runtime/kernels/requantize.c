/* dory_requantize_hwc: y = requant(x - zp_x) element-wise (a standalone Relu/Clip, or a rescale), with
 * per-channel parameters indexed by the tile's channel. */
#include "kernel_util.h"

DORY_ALWAYS_INLINE void requantize_body(const dory_requantize_args *a, int IT, int32_t zp) {
  const int32_t C = a->out.c, W = a->out.w;
  const dory_work wk = dory_core_work(a->split, a->out.h, C);
  int32_t r, x, c;
  for (r = wk.r0; r < wk.r1; ++r)
    for (x = 0; x < W; ++x)
      for (c = wk.c0; c < wk.c1; ++c) {
        const int32_t i = (r * W + x) * C + c;
        dory_store(a->out.data, a->out.type, i, dory_rq_apply(&a->rq, dory_load(a->in.data, IT, i) - zp, c));
      }
}

static void requantize_check(const dory_requantize_args *a) {
  DORY_KCHECK(a->in.data && a->out.data && dory_valid_dtype(a->in.type) && dory_valid_dtype(a->out.type) &&
                  a->in.h == a->out.h && a->in.w == a->out.w && a->in.c == a->out.c && a->out.h >= 1 &&
                  a->out.w >= 1 && a->out.c >= 1 && dory_rq_valid(&a->rq),
              "dory_requantize_hwc: inconsistent tiles or requantization arguments");
}

void dory_requantize_hwc(const dory_requantize_args *a) {
  requantize_check(a);
  DORY_DISPATCH_INPUT(requantize_body, a, a->in.type, a->input_zero_point);
}

/* The portable twin of dory_requantize_u8__xpulpv2: dory_requantize_hwc's uint8 path. */
void dory_requantize_u8__c(const dory_requantize_args *a) {
  DORY_KCHECK(a->in.type == DORY_UINT8, "dory_requantize_u8__c: needs a uint8 input");
  requantize_check(a);
  if (a->input_zero_point == 0) requantize_body(a, DORY_UINT8, 0);
  else requantize_body(a, DORY_UINT8, a->input_zero_point);
}
