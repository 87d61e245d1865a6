/* dory_requantize_{u8,s8,any}__c: y = requant(x - zp_x) element-wise (a standalone Relu/Clip, or a rescale), with
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
              "requantize: inconsistent tiles or requantization arguments");
}

#define RQ_IN_TYPE(a) ((a)->in.type)
#define RQ_ZP(a) ((a)->input_zero_point)
DORY_KERNEL_8BIT(dory_requantize_u8__c, dory_requantize_args, requantize_check, requantize_body, DORY_UINT8,
                 RQ_IN_TYPE, RQ_ZP)
DORY_KERNEL_8BIT(dory_requantize_s8__c, dory_requantize_args, requantize_check, requantize_body, DORY_INT8,
                 RQ_IN_TYPE, RQ_ZP)
DORY_KERNEL_ANY(dory_requantize_any__c, dory_requantize_args, requantize_check, requantize_body, RQ_IN_TYPE, RQ_ZP)
