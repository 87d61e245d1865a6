/* dory_add_u8__xpulpv2: residual add of 1 to 4 uint8 operand tiles, PULP cluster cores (Xpulpv2).
 *
 * Idea: every operand term R(((x - zp_i) * m_i + a_i) / D_i) is dory_scale64's value in 32 bits when m_i and
 * a_i fit int32, the term's numerator fits int32 for every uint8 x (checked at entry on x = 0 and x = 255: the
 * numerator is linear in x), and D_i = 2^s_i with floor rounding (then the division is an arithmetic shift,
 * xp_common.h); with a'_i = a_i - zp_i * m_i (mod 2^32) the term is (x * m_i + a'_i) >> s_i: p.mac and sra, no
 * 64-bit arithmetic. The sum (int32 by the contract) goes through the per-tensor requantization: on the fast path
 * (32-bit, 2^s, floor, 8-bit output) p.mac, sra, add, p.max/p.min; otherwise dory_rq_apply. Per element with
 * two operands 16 instructions in a hardware loop over contiguous runs (whole rows when a core has every channel;
 * the portable twin: two 64-bit divisions). The work split: rows or
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

/* The two-operand fast path over n contiguous elements: 16 instructions per element in a hardware loop. */
typedef struct {
  int32_t m0, a0, s0, m1, a1, s1, rm, ra, rs, zp, lo, hi;
} xp_add2;

static void xp_add2_run(const xp_add2 *q, const uint8_t *p0, const uint8_t *p1, uint8_t *o, int32_t n) {
#ifdef DORY_XP_HOST_MODEL
  int32_t i;
  for (i = 0; i < n; ++i) {
    const int32_t t0 = xp_mac(q->a0, p0[i], q->m0) >> q->s0, t1 = xp_mac(q->a1, p1[i], q->m1) >> q->s1;
    const int32_t y = (xp_mac(q->ra, (int32_t)((uint32_t)t0 + (uint32_t)t1), q->rm) >> q->rs) + q->zp;
    o[i] = (uint8_t)xp_min(xp_max(y, q->lo), q->hi);
  }
#else
  uint32_t x0, x1, t0, t1;
  if (n <= 0) return;
  __asm__ volatile(XP_ASM_BEGIN
                   XP_LP_SETUP("0", "%[n]", 16, "80")
                   XP_LBU_PI("%[x0]", 1, "%[p0]") XP_LBU_PI("%[x1]", 1, "%[p1]")
                   "mv %[t0], %[a0]\n mv %[t1], %[a1]\n"
                   XP_MAC("%[t0]", "%[x0]", "%[m0]") XP_MAC("%[t1]", "%[x1]", "%[m1]")
                   "sra %[t0], %[t0], %[s0]\n sra %[t1], %[t1], %[s1]\n"
                   "add %[t0], %[t0], %[t1]\n mv %[t1], %[ra]\n"
                   XP_MAC("%[t1]", "%[t0]", "%[rm]")
                   "sra %[t1], %[t1], %[rs]\n add %[t1], %[t1], %[zp]\n"
                   XP_MAX("%[t1]", "%[t1]", "%[lo]") XP_MIN("%[t1]", "%[t1]", "%[hi]")
                   "81: " XP_SB_PI("%[t1]", 1, "%[o]")
                   XP_LP_CHECK("80", "81", 16)
                   XP_ASM_END
                   : [p0] "+r"(p0), [p1] "+r"(p1), [o] "+r"(o), [x0] "=&r"(x0), [x1] "=&r"(x1), [t0] "=&r"(t0),
                     [t1] "=&r"(t1)
                   : [n] "r"(n), [m0] "r"(q->m0), [a0] "r"(q->a0), [s0] "r"(q->s0), [m1] "r"(q->m1), [a1] "r"(q->a1),
                     [s1] "r"(q->s1), [rm] "r"(q->rm), [ra] "r"(q->ra), [rs] "r"(q->rs), [zp] "r"(q->zp),
                     [lo] "r"(q->lo), [hi] "r"(q->hi)
                   : "memory");
#endif
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
  if (a->n_operands == 2 && fast) { /* the common residual: contiguous runs (whole rows when all channels) */
    xp_add2 q;
    const int32_t run = wk.c1 - wk.c0 == C ? W * C : wk.c1 - wk.c0, step = wk.c1 - wk.c0 == C ? W : 1;
    int32_t r, x;
    q.m0 = m[0];
    q.a0 = ad[0];
    q.s0 = sh[0];
    q.m1 = m[1];
    q.a1 = ad[1];
    q.s1 = sh[1];
    q.rm = (int32_t)a->rq.mul;
    q.ra = (int32_t)a->rq.add;
    q.rs = a->rq.div.d32.shift;
    q.zp = a->rq.zero_point;
    q.lo = a->rq.lo;
    q.hi = a->rq.hi;
    for (r = wk.r0; r < wk.r1; ++r)
      for (x = 0; x < W; x += step) {
        const int32_t e0 = (r * W + x) * C + wk.c0;
        /* u8 or s8 out: the low byte either way */
        xp_add2_run(&q, (const uint8_t *)a->op[0].in.data + e0, (const uint8_t *)a->op[1].in.data + e0,
                    (uint8_t *)a->out.data + e0, run);
      }
    return;
  }
  {
    int32_t r, x, i;
    for (r = wk.r0; r < wk.r1; ++r)
      for (x = 0; x < W; ++x) {
        const int32_t e0 = (r * W + x) * C + wk.c0, n = wk.c1 - wk.c0;
        {
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
