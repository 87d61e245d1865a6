/* dory_add_{u8,s8,any}__c: residual add of 1 to 4 operand tiles of the same shape, element-wise.
 *
 * Per element: s = sum_i R_i(((x_i - zp_i) * m_i + a_i) / D_i) (dory_scale64, in 64 bits; the compiler proves the
 * sum fits int32), then y = requant(s) with the layer's per-tensor requantization. _u8 and _s8 take operands all
 * of that type (constant-folded loads); _any reads each operand's type at run time. */
#include "kernel_util.h"

/* T: the type of every operand, or -1 for each operand's own. */
DORY_ALWAYS_INLINE void add_body(const dory_add_args *a, int T, int32_t unused) {
  const int32_t C = a->out.c, W = a->out.w;
  const dory_work wk = dory_core_work(a->split, a->out.h, C);
  int32_t r, x, c, k;
  (void)unused;
  for (r = wk.r0; r < wk.r1; ++r)
    for (x = 0; x < W; ++x)
      for (c = wk.c0; c < wk.c1; ++c) {
        const int32_t i = (r * W + x) * C + c;
        int64_t s = 0;
        for (k = 0; k < a->n_operands; ++k) {
          const dory_add_operand *op = &a->op[k];
          s += dory_scale64(dory_load(op->in.data, T >= 0 ? T : op->in.type, i) - op->zero_point, op->mul,
                            op->add, &op->div);
        }
        dory_store(a->out.data, a->out.type, i, dory_rq_apply(&a->rq, (int32_t)s, 0));
      }
}

static void add_check(const dory_add_args *a) {
  int k, ok = a->n_operands >= 1 && a->n_operands <= DORY_ADD_MAX_OPERANDS && a->out.data &&
              dory_valid_dtype(a->out.type) && a->out.h >= 1 && a->out.w >= 1 && a->out.c >= 1 &&
              dory_rq_valid(&a->rq) && !a->rq.mul_per_channel && !a->rq.add_per_channel;
  for (k = 0; ok && k < a->n_operands; ++k)
    ok = a->op[k].in.data && dory_valid_dtype(a->op[k].in.type) && a->op[k].in.h == a->out.h &&
         a->op[k].in.w == a->out.w && a->op[k].in.c == a->out.c;
  DORY_KCHECK(ok, "add: inconsistent operands (count, shapes, types) or per-channel requantization");
}

/* Every operand's type is T (1) or not (0). */
static int add_all_of(const dory_add_args *a, int T) {
  int k;
  for (k = 0; k < a->n_operands; ++k)
    if (a->op[k].in.type != T) return 0;
  return 1;
}

/* The typed kernels check every operand's type (the macros' INTYPE gives T itself when all are T); the zero
 * points are per operand, applied inside the body ("zero point" 0 for the macros). */
#define ADD_ALL_U8(a) (add_all_of((a), DORY_UINT8) ? DORY_UINT8 : -1)
#define ADD_ALL_S8(a) (add_all_of((a), DORY_INT8) ? DORY_INT8 : -1)
#define ADD_ZP(a) 0
#define ADD_OWN_TYPES(a) (-1)
DORY_KERNEL_8BIT(dory_add_u8__c, dory_add_args, add_check, add_body, DORY_UINT8, ADD_ALL_U8, ADD_ZP)
DORY_KERNEL_8BIT(dory_add_s8__c, dory_add_args, add_check, add_body, DORY_INT8, ADD_ALL_S8, ADD_ZP)
DORY_KERNEL_ANY(dory_add_any__c, dory_add_args, add_check, add_body, ADD_OWN_TYPES, ADD_ZP)
