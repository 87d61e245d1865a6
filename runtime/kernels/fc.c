/* dory_fc_vec: fully connected layer on one L1 tile: out[n] = bias[n] + sum_k (in[k] - zp) * w[n][k].
 *
 * The input vector is read in its storage order (a flattened HWC map is HWC: the compiler permuted the weights).
 * Work: the outputs over the cores (split channels; split rows leaves everything to core 0), 4 outputs per step
 * sharing each input load. Input-feature tiles accumulate in psum (dory/kernels.h). */
#include "matmul.h"

DORY_ALWAYS_INLINE void fc_body(const dory_fc_args *a, int IT, int32_t zp) {
  const dory_work wk = dory_core_work(a->split, 1, a->out.c);
  const dory_mm_out o =
      dory_mm_out_make(a->bias, a->psum, &a->rq, &a->out, a->first, a->last, a->has_requant);
  if (wk.r0 >= wk.r1 || wk.c0 >= wk.c1) return;
  dory_mm_1px(a->in.data, IT, zp, a->weights, a->in.c, wk.c0, wk.c1, &o, 0);
}

static void fc_check(const dory_fc_args *a) {
  DORY_KCHECK(a->in.data && a->out.data && a->weights && a->in.c >= 1 && a->out.c >= 1 && a->in.h == 1 &&
                  a->in.w == 1 && a->out.h == 1 && a->out.w == 1 && dory_valid_dtype(a->in.type) &&
                  dory_valid_dtype(a->out.type),
              "dory_fc_vec: inconsistent tile (h and w must be 1)");
  DORY_KCHECK(dory_mm_args_valid(a->bias, a->psum, a->first, a->last, a->has_requant, &a->rq, a->out.type),
              "dory_fc_vec: inconsistent accumulation arguments");
}

void dory_fc_vec(const dory_fc_args *a) {
  fc_check(a);
  DORY_DISPATCH_INPUT(fc_body, a, a->in.type, a->input_zero_point);
}

/* The portable twin of dory_fc_u8s8_8x1__xpulpv2: dory_fc_vec's uint8 path. */
void dory_fc_u8s8_8x1__c(const dory_fc_args *a) {
  DORY_KCHECK(a->in.type == DORY_UINT8, "dory_fc_u8s8_8x1__c: needs a uint8 input");
  fc_check(a);
  if (a->input_zero_point == 0) fc_body(a, DORY_UINT8, 0);
  else fc_body(a, DORY_UINT8, a->input_zero_point);
}
