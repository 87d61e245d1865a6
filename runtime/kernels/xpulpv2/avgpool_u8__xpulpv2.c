/* dory_avgpool_u8__xpulpv2: average pooling (and global average pooling) of a uint8 tile, PULP cluster cores.
 *
 * Idea: the window sums of 4 channels at a time in 16-bit lanes: per window position one word load (any
 * alignment), two masks and two adds (channels 0/2 and 1/3 of the word in the lanes of two registers); up to 257
 * positions fit the lanes (255 x 257 < 2^16). Then per channel
 * S = lane sum - inside * zp + padded * (pad_value - zp) (count_include_pad) and the exact requantization of
 * the portable kernels (kernels/avgpool.c): clamp(R((S*m + a*cnt) / (D*cnt)) + zp, lo, hi) through dory_requant32 / dory_requant64 with the
 * precomputed divisor of the window's count (for a power-of-two D*cnt with floor rounding on the 32-bit path:
 * an arithmetic shift, which is dory_div32's result, xp_common.h).
 *
 * Preconditions: the contract of dory/kernels.h (dory_avgpool_args) with in.type == DORY_UINT8 (checked).
 * Falls back to the portable twin for windows of more than 257 positions, and for a tile made of padding only.
 */
#include "xp_common.h"

/* lane sums of a window: rows x cols words C bytes apart, rows pitch apart; lo: channels 0, 2; hi: 1, 3 (rows,
 * cols >= 1). On the cores: nested hardware loops, 6 instructions per position (p.lw with the register
 * post-increment C, the two masks, the two adds; one load-use stall) and 2 per row. */
static inline void xp_avg_window(const uint8_t *p, int32_t rows, int32_t cols, int32_t C, int32_t pitch, uint32_t *lo,
                                 uint32_t *hi) {
  uint32_t l = 0, h = 0;
#ifdef DORY_XP_HOST_MODEL
  int32_t y, x;
  for (y = 0; y < rows; ++y, p += pitch) {
    const uint8_t *q = p;
    for (x = 0; x < cols; ++x, q += C) {
      const uint32_t v = xp_lw(q);
      l += v & 0x00FF00FFu;
      h += (v >> 8) & 0x00FF00FFu;
    }
  }
#else
  const uint32_t mask = 0x00FF00FFu;
  const int32_t rj = pitch - cols * C; /* from a row's end (cols words on) to the next row's first word */
  uint32_t v, t;
  __asm__ volatile(XP_ASM_BEGIN
                   XP_LP_SETUP("1", "%[rows]", 9, "82")
                   XP_LP_SETUP("0", "%[cols]", 6, "80")
                   XP_LW_RRPI("%[v]", "%[c]", "%[p]")
                   "srli %[t], %[v], 8\n"
                   "and %[v], %[v], %[m]\n"
                   "and %[t], %[t], %[m]\n"
                   "add %[l], %[l], %[v]\n"
                   "81: add %[h], %[h], %[t]\n"
                   XP_LP_CHECK("80", "81", 6)
                   "add %[p], %[p], %[rj]\n"
                   "83: nop\n" /* RI5CY: an outer loop ends >= 2 instructions after its inner loop */
                   XP_LP_CHECK("82", "83", 9)
                   XP_LP_NEST_CHECK("81", "83")
                   XP_ASM_END
                   : [p] "+r"(p), [l] "+r"(l), [h] "+r"(h), [v] "=&r"(v), [t] "=&r"(t)
                   : [rows] "r"(rows), [cols] "r"(cols), [c] "r"(C), [m] "r"(mask), [rj] "r"(rj)
                   : "memory");
#endif
  *lo = l;
  *hi = h;
}

/* The 32-bit 8-bit-output case: clamp(R((S*m + a*cnt) / (D*cnt)) + zp, lo, hi) for the channels [c0, c1) (a
 * multiple of 4) of one output pixel, 4 channels per window pass. Everything is passed by value and kept in
 * registers: a byte store may alias any memory, so a field read through a pointer would be reloaded for every
 * output. The common case (one m and a for all channels, a power-of-two divisor with floor rounding) is
 * (S*m + a*cnt) >> s: p.mac, sra, add, p.max, p.min, sb per output; otherwise dory_div32 on a local copy of the
 * divisor (a shift, or a multiply-high and a shift), unrolled when m and a are the same for all channels, else with
 * the channel's m and a from its record. */
typedef struct {
  const int32_t *rec; /* channel c's record: rec + c * nrec; m at +0 (mpc), a at +moff (apc) */
  int32_t nrec, moff, m, a, zp, lo, hi, mpc, apc;
} xp_avg_rq;

#define XP_AVG_CLAMP(T) ((uint8_t)xp_min(xp_max((T) + q.zp, q.lo), q.hi))

__attribute__((noinline)) static void xp_avg_pixel(const xp_avg_rq q, const uint8_t *win, int32_t rows,
                                                   int32_t cols, int32_t C, int32_t pitch, int32_t c0, int32_t c1,
                                                   int32_t cnt, int32_t base, const dory_divisor32 *div,
                                                   uint8_t *o) {
  const dory_divisor32 dv = *div;
  const int uniform = !q.mpc && !q.apc;
  const int simple = uniform && dv.method == DORY_DIV_SHIFT && dv.rounding == DORY_ROUND_FLOOR;
  const int32_t sh = dv.shift, A = (int32_t)((uint32_t)q.a * (uint32_t)cnt);
  int32_t c;
  for (c = c0; c < c1; c += 4) {
    uint32_t lo = 0, hi = 0;
    int32_t s0, s1, s2, s3;
    if (rows > 0 && cols > 0) xp_avg_window(win + c, rows, cols, C, pitch, &lo, &hi);
    s0 = (int32_t)(lo & 0xFFFFu) + base;
    s1 = (int32_t)(hi & 0xFFFFu) + base;
    s2 = (int32_t)(lo >> 16) + base;
    s3 = (int32_t)(hi >> 16) + base;
    if (simple) {
      o[c] = XP_AVG_CLAMP(xp_mac(A, s0, q.m) >> sh);
      o[c + 1] = XP_AVG_CLAMP(xp_mac(A, s1, q.m) >> sh);
      o[c + 2] = XP_AVG_CLAMP(xp_mac(A, s2, q.m) >> sh);
      o[c + 3] = XP_AVG_CLAMP(xp_mac(A, s3, q.m) >> sh);
    } else if (uniform) {
      o[c] = XP_AVG_CLAMP(dory_div32(xp_mac(A, s0, q.m), &dv));
      o[c + 1] = XP_AVG_CLAMP(dory_div32(xp_mac(A, s1, q.m), &dv));
      o[c + 2] = XP_AVG_CLAMP(dory_div32(xp_mac(A, s2, q.m), &dv));
      o[c + 3] = XP_AVG_CLAMP(dory_div32(xp_mac(A, s3, q.m), &dv));
    } else {
      const int32_t s[4] = {s0, s1, s2, s3};
      const int32_t *r = q.rec + (size_t)c * (size_t)q.nrec;
      int32_t j;
      for (j = 0; j < 4; ++j, r += q.nrec) {
        const int32_t m = q.mpc ? r[0] : q.m, ad = q.apc ? r[q.moff] : q.a;
        const int32_t t = xp_mac((int32_t)((uint32_t)ad * (uint32_t)cnt), s[j], m); /* int32: the 32-bit precondition */
        o[c + j] = XP_AVG_CLAMP(dory_div32(t, &dv));
      }
    }
  }
}

void dory_avgpool_u8__xpulpv2(const dory_avgpool_args *a) {
  const int32_t C = a->in.c, W = a->out.w, full = a->kh * a->kw, zp = a->input_zero_point;
  dory_work wk;
  int32_t oh, ow, c;
  int fast;
  xp_avg_rq q;
  DORY_KCHECK(a->in.type == DORY_UINT8, "dory_avgpool_u8__xpulpv2: needs a uint8 input");
  DORY_KCHECK(dory_window_valid(&a->in, &a->out, &a->pad, a->kh, a->kw, a->stride_h, a->stride_w) &&
                  a->in.c == a->out.c,
              "dory_avgpool_u8__xpulpv2: inconsistent tile geometry");
  DORY_KCHECK(dory_rq_valid(&a->rq) && a->count_div && a->count_div_len >= 1 && a->count_div_first >= 1,
              "dory_avgpool_u8__xpulpv2: inconsistent requantization arguments");
  if (full > 257 || a->in.h == 0 || a->in.w == 0) {
    dory_avgpool_u8__c(a);
    return;
  }
  wk = dory_core_work(a->split, a->out.h, a->out.c);
  if (wk.r0 >= wk.r1 || wk.c0 >= wk.c1) return;
  fast = !a->rq.wide && (a->out.type == DORY_UINT8 || a->out.type == DORY_INT8);
  q.rec = (const int32_t *)a->rq.channel_params;
  q.mpc = a->rq.mul_per_channel;
  q.apc = a->rq.add_per_channel;
  q.nrec = q.mpc + q.apc;
  q.moff = q.mpc;
  q.m = (int32_t)a->rq.mul;
  q.a = (int32_t)a->rq.add;
  q.zp = a->rq.zero_point;
  q.lo = a->rq.lo;
  q.hi = a->rq.hi;
  {
    const int32_t nw = (wk.c1 - wk.c0) >> 2, cw = wk.c0 + 4 * nw;
    const int32_t pitch = a->in.w * C;
    const uint8_t *in = (const uint8_t *)a->in.data;
    for (oh = wk.r0; oh < wk.r1; ++oh) {
      const int32_t y0 = oh * a->stride_h - a->pad.top;
      const int32_t ky0 = y0 < 0 ? -y0 : 0, ky1 = y0 + a->kh > a->in.h ? a->in.h - y0 : a->kh;
      for (ow = 0; ow < W; ++ow) {
        const int32_t x0 = ow * a->stride_w - a->pad.left;
        const int32_t kx0 = x0 < 0 ? -x0 : 0, kx1 = x0 + a->kw > a->in.w ? a->in.w - x0 : a->kw;
        const int32_t rows = ky1 > ky0 ? ky1 - ky0 : 0, cols = kx1 > kx0 ? kx1 - kx0 : 0;
        const int32_t inside = rows * cols, padded = full - inside;
        const int32_t cnt = a->count_include_pad ? full : inside;
        const int32_t base = (a->count_include_pad ? padded * (a->pad_value - zp) : 0) - inside * zp;
        const uint8_t *win = in + ((size_t)(y0 + ky0) * (size_t)a->in.w + (size_t)(x0 + kx0)) * (size_t)C;
        const int32_t idx0 = (oh * W + ow) * C;
        const dory_requant_divisor *div;
        DORY_KCHECK(cnt >= a->count_div_first && cnt < a->count_div_first + a->count_div_len,
                    "dory_avgpool_u8__xpulpv2: no divisor for a window count (count_div_first/len)");
        div = &a->count_div[cnt - a->count_div_first];
        if (fast) { /* u8 or s8 output: the low byte either way */
          xp_avg_pixel(q, win, rows, cols, C, pitch, wk.c0, cw, cnt, base, &div->d32, (uint8_t *)a->out.data + idx0);
        } else {
          for (c = wk.c0; c < cw; c += 4) {
            uint32_t lo = 0, hi = 0;
            int32_t j;
            if (inside > 0) xp_avg_window(win + c, rows, cols, C, pitch, &lo, &hi);
            for (j = 0; j < 4; ++j) {
              const uint32_t lane = (j & 1 ? hi : lo) >> (j & 2 ? 16 : 0);
              dory_store(a->out.data, a->out.type, idx0 + c + j,
                         dory_rq_apply_count(&a->rq, (int32_t)(lane & 0xFFFFu) + base, c + j, cnt, div));
            }
          }
        }
        c = cw;
        for (; c < wk.c1; ++c) {
          int32_t sum = 0, y, x;
          for (y = 0; y < rows; ++y)
            for (x = 0; x < cols; ++x) sum += win[((size_t)y * (size_t)a->in.w + (size_t)x) * (size_t)C + (size_t)c];
          dory_store(a->out.data, a->out.type, idx0 + c, dory_rq_apply_count(&a->rq, sum + base, c, cnt, div));
        }
      }
    }
  }
}
