/* dory_fc_{u8s8,s8s8,any}_4x1__c: fully connected layer on one L1 tile: out[n] = bias[n] + sum_k (in[k] - zp) * w[n][k].
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
              "fc: inconsistent tile (h and w must be 1)");
  DORY_KCHECK(dory_mm_args_valid(a->bias, a->psum, a->first, a->last, a->has_requant, &a->rq, a->out.type),
              "fc: inconsistent accumulation arguments");
}

#define FC_IN_TYPE(a) ((a)->in.type)
#define FC_ZP(a) ((a)->input_zero_point)
DORY_KERNEL_8BIT(dory_fc_u8s8_4x1__c, dory_fc_args, fc_check, fc_body, DORY_UINT8, FC_IN_TYPE, FC_ZP)
DORY_KERNEL_8BIT(dory_fc_s8s8_4x1__c, dory_fc_args, fc_check, fc_body, DORY_INT8, FC_IN_TYPE, FC_ZP)
DORY_KERNEL_ANY(dory_fc_any_4x1__c, dory_fc_args, fc_check, fc_body, FC_IN_TYPE, FC_ZP)

/* The portable twin of dory_fc_u8s8_8x1__xpulpv2. */
DORY_KERNEL_8BIT(dory_fc_u8s8_8x1__c, dory_fc_args, fc_check, fc_body, DORY_UINT8, FC_IN_TYPE, FC_ZP)
