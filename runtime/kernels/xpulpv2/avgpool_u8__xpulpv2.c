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

/* lane sums of a window: rows x cols words C bytes apart, rows pitch apart; lo: channels 0, 2; hi: 1, 3. */
static inline void xp_avg_window(const uint8_t *p, int32_t rows, int32_t cols, int32_t C, int32_t pitch, uint32_t *lo,
                                 uint32_t *hi) {
  uint32_t l = 0, h = 0;
  int32_t y, x;
  for (y = 0; y < rows; ++y, p += pitch) {
    const uint8_t *q = p;
    for (x = 0; x < cols; ++x, q += C) {
      const uint32_t v = xp_lw(q);
      l += v & 0x00FF00FFu;
      h += (v >> 8) & 0x00FF00FFu;
    }
  }
  *lo = l;
  *hi = h;
}

/* The 32-bit 8-bit-output case: clamp(R((S*m + a*cnt) / (D*cnt)) + zp, lo, hi) with dory_div32 (a shift for a
 * power-of-two divisor with floor rounding, xp_common.h); m, a of channel c from the 32-bit records. */
typedef struct {
  const int32_t *rec;
  int32_t nrec, moff, m, a, zp, lo, hi;
  uint8_t mpc, apc;
} xp_avg_rq;

static inline int32_t xp_avg_requant32(const xp_avg_rq *q, int32_t S, int32_t c, int32_t cnt,
                                       const dory_divisor32 *d) {
  const int32_t *r = q->rec + (size_t)c * (size_t)q->nrec;
  const int32_t m = q->mpc ? r[0] : q->m, a = q->apc ? r[q->moff] : q->a;
  int32_t t = xp_mac((int32_t)((uint32_t)a * (uint32_t)cnt), S, m); /* fits int32: the 32-bit precondition */
  t = (d->method == DORY_DIV_SHIFT && d->rounding == DORY_ROUND_FLOOR) ? t >> d->shift : dory_div32(t, d);
  t += q->zp;
  return t < q->lo ? q->lo : (t > q->hi ? q->hi : t);
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
        for (c = wk.c0; c < cw; c += 4) {
          uint32_t lo = 0, hi = 0;
          int32_t s[4], j;
          if (inside > 0) xp_avg_window(win + c, rows, cols, C, pitch, &lo, &hi);
          s[0] = (int32_t)(lo & 0xFFFFu);
          s[1] = (int32_t)(hi & 0xFFFFu);
          s[2] = (int32_t)(lo >> 16);
          s[3] = (int32_t)(hi >> 16);
          if (fast) {
            uint8_t *o = (uint8_t *)a->out.data + idx0 + c; /* u8 or s8: the low byte either way */
            for (j = 0; j < 4; ++j) o[j] = (uint8_t)xp_avg_requant32(&q, s[j] + base, c + j, cnt, &div->d32);
          } else {
            for (j = 0; j < 4; ++j)
              dory_store(a->out.data, a->out.type, idx0 + c + j, dory_rq_apply_count(&a->rq, s[j] + base, c + j, cnt, div));
          }
        }
        for (; c < wk.c1; ++c) {
          int32_t sum = 0, y, x;
          for (y = 0; y < rows; ++y)
            for (x = 0; x < cols; ++x) sum += win[((size_t)y * (size_t)a->in.w + (size_t)x) * (size_t)C + (size_t)c];
          dory_store(a->out.data, a->out.type, idx0 + c,
                     fast ? xp_avg_requant32(&q, sum + base, c, cnt, &div->d32)
                          : dory_rq_apply_count(&a->rq, sum + base, c, cnt, div));
        }
      }
    }
  }
}
