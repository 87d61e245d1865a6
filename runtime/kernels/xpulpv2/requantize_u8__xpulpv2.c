/* dory_requantize_u8__xpulpv2: y = requant(x - zp) of a uint8 tile, per channel or per tensor, PULP cluster cores.
 *
 * Idea: on the fast path (32-bit requantization, divisor 2^s, floor rounding, 8-bit output) the zero point folds
 * into the additive constant, a'[c] = a[c] - zp * m[c] (mod 2^32): T = x * m[c] + a'[c] = (x - zp) * m[c] + a[c]
 * exactly (it fits int32: dory_requant32's precondition), y = clamp((T >> s) + zp_out, lo, hi) (xp_common.h):
 * per element p.lbu, p.mac, sra, add, p.max/p.min, sb, with the channel's m and a' from a small table built per
 * call (up to 64 channels at a time on the stack). Everything else goes through dory_rq_apply per element.
 *
 * Preconditions: the contract of dory/kernels.h (dory_requantize_args) with in.type == DORY_UINT8 (checked).
 */
#include "xp_common.h"

#define XP_RQ_CHUNK 64

void dory_requantize_u8__xpulpv2(const dory_requantize_args *a) {
  const int32_t C = a->out.c, W = a->out.w, zp = a->input_zero_point;
  dory_work wk;
  int32_t r, x, c, cc;
  DORY_KCHECK(a->in.type == DORY_UINT8, "dory_requantize_u8__xpulpv2: needs a uint8 input");
  DORY_KCHECK(a->in.data && a->out.data && dory_valid_dtype(a->out.type) && a->in.h == a->out.h &&
                  a->in.w == a->out.w && a->in.c == a->out.c && a->out.h >= 1 && a->out.w >= 1 && a->out.c >= 1 &&
                  dory_rq_valid(&a->rq),
              "dory_requantize_u8__xpulpv2: inconsistent tiles or requantization arguments");
  wk = dory_core_work(a->split, a->out.h, C);
  if (wk.r0 >= wk.r1 || wk.c0 >= wk.c1) return;
  if (!xp_fast_requant(1, &a->rq, a->out.type)) {
    for (r = wk.r0; r < wk.r1; ++r)
      for (x = 0; x < W; ++x)
        for (c = wk.c0; c < wk.c1; ++c) {
          const int32_t i = (r * W + x) * C + c;
          dory_store(a->out.data, a->out.type, i,
                     dory_rq_apply(&a->rq, (int32_t)((const uint8_t *)a->in.data)[i] - zp, c));
        }
    return;
  }
  {
    const int32_t shift = a->rq.div.d32.shift, zpo = a->rq.zero_point, lo = a->rq.lo, hi = a->rq.hi;
    int32_t ma[2 * XP_RQ_CHUNK];
    for (cc = wk.c0; cc < wk.c1; cc += XP_RQ_CHUNK) {
      const int32_t ce = cc + XP_RQ_CHUNK < wk.c1 ? cc + XP_RQ_CHUNK : wk.c1, n = ce - cc;
      for (c = cc; c < ce; ++c) {
        int32_t m, ad;
        xp_rq_params32(&a->rq, c, &m, &ad);
        ma[2 * (c - cc)] = m;
        ma[2 * (c - cc) + 1] = (int32_t)((uint32_t)ad - (uint32_t)zp * (uint32_t)m);
      }
      for (r = wk.r0; r < wk.r1; ++r)
        for (x = 0; x < W; ++x) {
          const int32_t e0 = (r * W + x) * C + cc;
          const uint8_t *in = (const uint8_t *)a->in.data + e0;
          uint8_t *o = (uint8_t *)a->out.data + e0; /* u8 or s8: the low byte */
          const int32_t *p = ma;
          int32_t i;
          for (i = 0; i < n; ++i, p += 2) o[i] = (uint8_t)xp_min(xp_max((xp_mac(p[1], in[i], p[0]) >> shift) + zpo, lo), hi);
        }
    }
  }
}
