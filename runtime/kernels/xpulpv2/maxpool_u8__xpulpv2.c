/* dory_maxpool_u8__xpulpv2: max pooling of a uint8 tile into a uint8 tile, PULP cluster cores (Xpulpv2).
 *
 * Idea: 4 channels per word with pv.maxu.b: per output pixel and group of 4 channels, one word load and one
 * pv.maxu.b per in-bounds window position, one word store; the window's in-bounds range is computed once per
 * pixel. A hardware loop runs over the window's columns (kw loads + maxes per row); channel groups that are not
 * word aligned in memory are loaded and stored as misaligned words (RI5CY and GVSoC split them). The last
 * (c1 - c0) % 4 channels of the core's range [c0, c1) are the word ending at c1, which overlaps the group before
 * it: those channels are recomputed to the same values and stored again by the same core (no other core owns
 * them). Only a range of fewer than 4 channels is computed byte by byte.
 * Padding: ignored, or pad_value (0..255) when has_pad_value and the window reaches it: the running maximum
 * starts at 0 (every uint8 value is >= 0; a window with no in-bounds position and no pad value stores 0, the low
 * byte of the portable kernels' INT32_MIN) or at pad_value replicated into the 4 lanes.
 *
 * Preconditions: the contract of dory/kernels.h (dory_maxpool_args) with in.type == DORY_UINT8 (checked).
 * Falls back to the portable twin dory_maxpool_u8__c for out.type != DORY_UINT8, a pad value outside 0..255, or
 * a tile made of padding only (in.h or in.w 0).
 */
#include "xp_common.h"

/* max over rows of the window: n rows of kw words, C bytes apart, rows pitch bytes apart, starting at p. */
static inline uint32_t xp_maxpool_window(const uint8_t *p, int32_t rows, int32_t kw, int32_t C, int32_t pitch,
                                         uint32_t acc) {
  int32_t y;
  for (y = 0; y < rows; ++y, p += pitch) {
#ifdef DORY_XP_HOST_MODEL
    int32_t x;
    for (x = 0; x < kw; ++x) {
      uint32_t v;
      memcpy(&v, p + (size_t)x * (size_t)C, 4);
      acc = xp_maxu_b(acc, v);
    }
#else
    if (kw >= 2) {
      const uint8_t *q = p;
      const int32_t pairs = kw >> 1;
      uint32_t v0, v1;
      __asm__ volatile(XP_ASM_BEGIN
                       XP_LP_SETUP("0", "%[n]", 4, "80")
                       XP_LW_RRPI("%[v0]", "%[c]", "%[q]") XP_LW_RRPI("%[v1]", "%[c]", "%[q]")
                       XP_MAXU_B("%[acc]", "%[acc]", "%[v0]")
                       "81: " XP_MAXU_B("%[acc]", "%[acc]", "%[v1]")
                       XP_LP_CHECK("80", "81", 4)
                       XP_ASM_END
                       : [acc] "+r"(acc), [q] "+r"(q), [v0] "=&r"(v0), [v1] "=&r"(v1)
                       : [n] "r"(pairs), [c] "r"(C)
                       : "memory");
      if (kw & 1) acc = xp_maxu_b(acc, xp_lw(q));
    } else {
      acc = xp_maxu_b(acc, xp_lw(p));
    }
#endif
  }
  return acc;
}

void dory_maxpool_u8__xpulpv2(const dory_maxpool_args *a) {
  const int32_t C = a->in.c, W = a->out.w;
  dory_work wk;
  int32_t oh, ow, c;
  DORY_KCHECK(a->in.type == DORY_UINT8, "dory_maxpool_u8__xpulpv2: needs a uint8 input");
  DORY_KCHECK(dory_window_valid(&a->in, &a->out, &a->pad, a->kh, a->kw, a->stride_h, a->stride_w) &&
                  a->in.c == a->out.c,
              "dory_maxpool_u8__xpulpv2: inconsistent tile geometry");
  if (a->out.type != DORY_UINT8 || (a->has_pad_value && (a->pad_value < 0 || a->pad_value > 255)) || a->in.h == 0 ||
      a->in.w == 0) {
    dory_maxpool_u8__c(a);
    return;
  }
  wk = dory_core_work(a->split, a->out.h, a->out.c);
  if (wk.r0 >= wk.r1 || wk.c0 >= wk.c1) return;
  {
    const int32_t nw = (wk.c1 - wk.c0) >> 2, cw = wk.c0 + 4 * nw; /* channels [c0, cw) in words */
    const int32_t pitch = a->in.w * C;
    const uint32_t padw = (uint32_t)a->pad_value * 0x01010101u;
    const uint8_t *in = (const uint8_t *)a->in.data;
    uint8_t *out = (uint8_t *)a->out.data;
    for (oh = wk.r0; oh < wk.r1; ++oh) {
      const int32_t y0 = oh * a->stride_h - a->pad.top;
      const int32_t ky0 = y0 < 0 ? -y0 : 0, ky1 = y0 + a->kh > a->in.h ? a->in.h - y0 : a->kh;
      for (ow = 0; ow < W; ++ow) {
        const int32_t x0 = ow * a->stride_w - a->pad.left;
        const int32_t kx0 = x0 < 0 ? -x0 : 0, kx1 = x0 + a->kw > a->in.w ? a->in.w - x0 : a->kw;
        const int32_t rows = ky1 > ky0 ? ky1 - ky0 : 0, cols = kx1 > kx0 ? kx1 - kx0 : 0;
        const int clipped = rows * cols < a->kh * a->kw;
        const uint32_t init = clipped && a->has_pad_value ? padw : 0u;
        const uint8_t *win = in + ((size_t)(y0 + ky0) * (size_t)a->in.w + (size_t)(x0 + kx0)) * (size_t)C;
        uint8_t *o = out + ((size_t)oh * (size_t)W + (size_t)ow) * (size_t)C;
        for (c = wk.c0; c < cw; c += 4) {
          uint32_t acc = init;
          if (rows > 0 && cols > 0) acc = xp_maxpool_window(win + c, rows, cols, C, pitch, acc);
          xp_sw(o + c, acc);
        }
        if (nw > 0 && c < wk.c1) { /* the last channels: the word that ends the range (recomputing the values of
                                      * the group before it, which it overlaps, as that group did) */
          uint32_t acc = init;
          if (rows > 0 && cols > 0) acc = xp_maxpool_window(win + wk.c1 - 4, rows, cols, C, pitch, acc);
          xp_sw(o + wk.c1 - 4, acc);
          c = wk.c1;
        }
        for (; c < wk.c1; ++c) { /* a range of fewer than 4 channels */
          int32_t best = (int32_t)(init & 0xFFu), y, x;
          for (y = 0; y < rows; ++y)
            for (x = 0; x < cols; ++x) {
              const int32_t v = win[((size_t)y * (size_t)a->in.w + (size_t)x) * (size_t)C + (size_t)c];
              best = v > best ? v : best;
            }
          o[c] = (uint8_t)best;
        }
      }
    }
  }
}
