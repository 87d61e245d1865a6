/* dory_requantize_u8__xpulpv2: y = requant(x - zp) of a uint8 tile, per channel or per tensor, PULP cluster cores.
 *
 * Idea: on the fast path (32-bit requantization, divisor 2^s, floor rounding, 8-bit output) the zero point folds
 * into the additive constant, a'[c] = a[c] - zp * m[c] (mod 2^32): T = x * m[c] + a'[c] = (x - zp) * m[c] + a[c]
 * exactly (it fits int32: dory_requant32's precondition), y = clamp((T >> s) + zp_out, lo, hi) (xp_common.h):
 * per element p.lbu, 2 p.lw (the channel's m and a' from a small table built per call, up to 64 channels at a
 * time on the stack), p.mac, sra, add, p.max, p.min, p.sb: 9 instructions in a hardware loop over a pixel's
 * channels, 2 elements per iteration. Everything else goes through dory_rq_apply per element.
 *
 * Preconditions: the contract of dory/kernels.h (dory_requantize_args) with in.type == DORY_UINT8 (checked).
 */
#include "xp_common.h"

#define XP_RQ_CHUNK 64

/* out[i] = clamp(((in[i] * m_i + a'_i) >> shift) + zp, lo, hi) for i < n, {m, a'} pairs in ma: 2 elements per
 * hardware-loop iteration (18 instructions, stall-free), an odd last one in C. */
static void xp_rq_run(const uint8_t *in, uint8_t *o, const int32_t *ma, int32_t n, int32_t shift, int32_t zp,
                      int32_t lo, int32_t hi) {
  const int32_t pairs = n >> 1;
#ifdef DORY_XP_HOST_MODEL
  int32_t i;
  for (i = 0; i < 2 * pairs; ++i)
    o[i] = (uint8_t)xp_min(xp_max((xp_mac(ma[2 * i + 1], in[i], ma[2 * i]) >> shift) + zp, lo), hi);
  in += 2 * pairs;
  o += 2 * pairs;
  ma += 4 * pairs;
#else
  if (pairs > 0) {
    uint32_t x0, x1, m0, m1, a0, a1;
    __asm__ volatile(XP_ASM_BEGIN
                     XP_LP_SETUP("0", "%[n]", 18, "80")
                     XP_LBU_PI("%[x0]", 1, "%[in]") XP_LW_PI("%[m0]", 4, "%[ma]") XP_LW_PI("%[a0]", 4, "%[ma]")
                     XP_LBU_PI("%[x1]", 1, "%[in]") XP_LW_PI("%[m1]", 4, "%[ma]") XP_LW_PI("%[a1]", 4, "%[ma]")
                     XP_MAC("%[a0]", "%[x0]", "%[m0]") XP_MAC("%[a1]", "%[x1]", "%[m1]")
                     "sra %[a0], %[a0], %[sh]\n sra %[a1], %[a1], %[sh]\n"
                     "add %[a0], %[a0], %[zp]\n add %[a1], %[a1], %[zp]\n"
                     XP_MAX("%[a0]", "%[a0]", "%[lo]") XP_MAX("%[a1]", "%[a1]", "%[lo]")
                     XP_MIN("%[a0]", "%[a0]", "%[hi]") XP_MIN("%[a1]", "%[a1]", "%[hi]")
                     XP_SB_PI("%[a0]", 1, "%[o]")
                     "81: " XP_SB_PI("%[a1]", 1, "%[o]")
                     XP_LP_CHECK("80", "81", 18)
                     XP_ASM_END
                     : [in] "+r"(in), [o] "+r"(o), [ma] "+r"(ma), [x0] "=&r"(x0), [x1] "=&r"(x1), [m0] "=&r"(m0),
                       [m1] "=&r"(m1), [a0] "=&r"(a0), [a1] "=&r"(a1)
                     : [n] "r"(pairs), [sh] "r"(shift), [zp] "r"(zp), [lo] "r"(lo), [hi] "r"(hi)
                     : "memory");
  }
#endif
  if (n & 1) *o = (uint8_t)xp_min(xp_max((xp_mac(ma[1], *in, ma[0]) >> shift) + zp, lo), hi);
}

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
          /* u8 or s8 out: the low byte either way */
          xp_rq_run((const uint8_t *)a->in.data + e0, (uint8_t *)a->out.data + e0, ma, n, shift, zpo, lo, hi);
        }
    }
  }
}
