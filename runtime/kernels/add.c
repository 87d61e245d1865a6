/* dory_add_hwc: residual add of 1 to 4 operand tiles of the same shape, element-wise.
 *
 * Per element: s = sum_i R_i(((x_i - zp_i) * m_i + a_i) / D_i) (dory_scale64, in 64 bits; the compiler proves the
 * sum fits int32), then y = requant(s) with the layer's per-tensor requantization. Operand types are independent;
 * two 8-bit operands take the fast path. */
#include "kernel_util.h"

DORY_ALWAYS_INLINE void add_body(const dory_add_args *a, int T0, int T1) {
  const int32_t C = a->out.c, W = a->out.w;
  const dory_work wk = dory_core_work(a->split, a->out.h, C);
  int32_t r, x, c, k;
  for (r = wk.r0; r < wk.r1; ++r)
    for (x = 0; x < W; ++x)
      for (c = wk.c0; c < wk.c1; ++c) {
        const int32_t i = (r * W + x) * C + c;
        int64_t s = 0;
        for (k = 0; k < a->n_operands; ++k) {
          const dory_add_operand *op = &a->op[k];
          const int T = k == 0 ? T0 : (k == 1 ? T1 : op->in.type);
          s += dory_scale64(dory_load(op->in.data, T, i) - op->zero_point, op->mul, op->add, &op->div);
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
  DORY_KCHECK(ok, "dory_add_hwc: inconsistent operands (count, shapes, types) or per-channel requantization");
}

void dory_add_hwc(const dory_add_args *a) {
  add_check(a);
  if (a->n_operands == 2 && a->op[0].in.type == DORY_UINT8 && a->op[1].in.type == DORY_UINT8)
    add_body(a, DORY_UINT8, DORY_UINT8);
  else if (a->n_operands == 2 && a->op[0].in.type == DORY_INT8 && a->op[1].in.type == DORY_INT8)
    add_body(a, DORY_INT8, DORY_INT8);
  else
    add_body(a, a->op[0].in.type, a->n_operands > 1 ? a->op[1].in.type : DORY_UINT8);
}

/* The portable twin of dory_add_u8__xpulpv2: dory_add_hwc's uint8 path (every operand uint8, 1 to 4 of them). */
void dory_add_u8__c(const dory_add_args *a) {
  int k, ok = 1;
  for (k = 0; k < a->n_operands && k < DORY_ADD_MAX_OPERANDS; ++k) ok = ok && a->op[k].in.type == DORY_UINT8;
  DORY_KCHECK(ok, "dory_add_u8__c: needs uint8 operands");
  add_check(a);
  add_body(a, DORY_UINT8, DORY_UINT8);
}
