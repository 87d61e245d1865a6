/* dory_add_u8__xpulpv2: residual add of 1 to 4 uint8 operand tiles, PULP cluster cores (Xpulpv2).
 *
 * Idea: every operand term R(((x - zp_i) * m_i + a_i) / D_i) is dory_scale64's value in 32 bits when m_i and
 * a_i fit int32, the term's numerator fits int32 for every uint8 x (checked at entry on x = 0 and x = 255: the
 * numerator is linear in x), and D_i = 2^s_i with floor rounding (then the division is an arithmetic shift,
 * xp_common.h); with a'_i = a_i - zp_i * m_i (mod 2^32) the term is (x * m_i + a'_i) >> s_i: p.mac and sra, no
 * 64-bit arithmetic. The sum (int32 by the contract) goes through the per-tensor requantization: on the fast path
 * (32-bit, 2^s, floor, 8-bit output) p.mac, sra, add, p.max/p.min; otherwise dory_rq_apply. Per element with
 * two operands about 16 instructions (the portable twin: two 64-bit divisions). The work split: rows or
 * channels (dory_core_work), elements in HWC order.
 *
 * Preconditions: the contract of dory/kernels.h (dory_add_args) with every operand of type DORY_UINT8
 * (checked). Operands whose terms do not fit the 32-bit form (the checks above) run the portable twin
 * dory_add_u8__c, which computes every term in 64 bits.
 */
#include "xp_common.h"

/* Whether operand op's term is (x*m + a') >> s in 32 bits for every uint8 x (see the header). */
static int xp_add_term32(const dory_add_operand *op, int32_t *m, int32_t *ad, int32_t *s) {
  const int64_t n0 = (0 - (int64_t)op->zero_point) * op->mul + op->add;
  const int64_t n1 = (255 - (int64_t)op->zero_point) * op->mul + op->add;
  if (op->mul < INT32_MIN || op->mul > INT32_MAX || op->add < INT32_MIN || op->add > INT32_MAX) return 0;
  if (n0 < INT32_MIN || n0 > INT32_MAX || n1 < INT32_MIN || n1 > INT32_MAX) return 0;
  if (op->div.method != DORY_DIV_SHIFT || op->div.rounding != DORY_ROUND_FLOOR || op->div.shift > 31) return 0;
  *m = (int32_t)op->mul;
  *ad = (int32_t)((uint32_t)(int32_t)op->add - (uint32_t)op->zero_point * (uint32_t)(int32_t)op->mul);
  *s = op->div.shift;
  return 1;
}

void dory_add_u8__xpulpv2(const dory_add_args *a) {
  int32_t m[DORY_ADD_MAX_OPERANDS], ad[DORY_ADD_MAX_OPERANDS], sh[DORY_ADD_MAX_OPERANDS];
  const int32_t C = a->out.c, W = a->out.w;
  int k, ok = a->n_operands >= 1 && a->n_operands <= DORY_ADD_MAX_OPERANDS && a->out.data &&
              dory_valid_dtype(a->out.type) && a->out.h >= 1 && a->out.w >= 1 && a->out.c >= 1 &&
              dory_rq_valid(&a->rq) && !a->rq.mul_per_channel && !a->rq.add_per_channel;
  int fast;
  dory_work wk;
  for (k = 0; ok && k < a->n_operands; ++k)
    ok = a->op[k].in.data && a->op[k].in.type == DORY_UINT8 && a->op[k].in.h == a->out.h &&
         a->op[k].in.w == a->out.w && a->op[k].in.c == a->out.c;
  DORY_KCHECK(ok, "dory_add_u8__xpulpv2: needs 1 to 4 uint8 operands of out's shape and a per-tensor requantization");
  for (k = 0; k < a->n_operands; ++k)
    if (!xp_add_term32(&a->op[k], &m[k], &ad[k], &sh[k])) {
      dory_add_u8__c(a);
      return;
    }
  wk = dory_core_work(a->split, a->out.h, C);
  if (wk.r0 >= wk.r1 || wk.c0 >= wk.c1) return;
  fast = xp_fast_requant(1, &a->rq, a->out.type);
  {
    const int32_t n = wk.c1 - wk.c0, rm = (int32_t)a->rq.mul, ra = (int32_t)a->rq.add;
    const int32_t rs = a->rq.div.d32.shift, zp = a->rq.zero_point, lo = a->rq.lo, hi = a->rq.hi;
    int32_t r, x, i;
    for (r = wk.r0; r < wk.r1; ++r)
      for (x = 0; x < W; ++x) {
        const int32_t e0 = (r * W + x) * C + wk.c0;
        if (a->n_operands == 2 && fast) { /* the common residual */
          const uint8_t *p0 = (const uint8_t *)a->op[0].in.data + e0, *p1 = (const uint8_t *)a->op[1].in.data + e0;
          uint8_t *o = (uint8_t *)a->out.data + e0; /* u8 or s8: the low byte */
          for (i = 0; i < n; ++i) {
            const int32_t t0 = xp_mac(ad[0], p0[i], m[0]) >> sh[0], t1 = xp_mac(ad[1], p1[i], m[1]) >> sh[1];
            const int32_t y = (xp_mac(ra, (int32_t)((uint32_t)t0 + (uint32_t)t1), rm) >> rs) + zp;
            o[i] = (uint8_t)xp_min(xp_max(y, lo), hi);
          }
        } else {
          for (i = 0; i < n; ++i) {
            int32_t s = 0;
            for (k = 0; k < a->n_operands; ++k)
              s = (int32_t)((uint32_t)s +
                            (uint32_t)(xp_mac(ad[k], ((const uint8_t *)a->op[k].in.data)[e0 + i], m[k]) >> sh[k]));
            dory_store(a->out.data, a->out.type, e0 + i, dory_rq_apply(&a->rq, s, 0));
          }
        }
      }
  }
}
