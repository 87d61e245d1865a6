/* dory_pointwise_u8s8_4x4__xpulpv2: 1x1 convolution without padding (any stride) of uint8 activations with int8
 * weights on one L1 tile, PULP cluster cores (Xpulpv2).
 *
 * Idea: the conv kernel's 4-channel x 4-pixel block (mm4x4.h) with a window of one row of C bytes: each pixel's
 * input vector is read in place in the HWC tile (pixel stride stride_w*C inside a pair), no copy, no scratch.
 * Odd widths pair the row's last pixel with its left neighbour (recomputed, the same value stored twice), so
 * every block has 4 pixels except at most one per core.
 *
 * At stride 1 over whole rows (in.w == out.w) the blocks are 4 consecutive pixels wherever the rows end
 * (xp_mm_pw_run), each one asm call over all channel groups; the blocks are the one-row variant (xp_pw4x4_*).
 *
 * Inner loop: 24 instructions per 64 MACs (see conv_u8s8_4x4__xpulpv2.c); the fixed cost per group of 4 channels
 * (requantization of 16 outputs, ~5.5 instructions each, and ~40 of set-up) weighs more here, where K = C is
 * small: at K = 64 it is about a quarter of the group's ~520 cycles.
 *
 * Preconditions: the contract of dory/kernels.h for in.type == DORY_UINT8, kh = kw = 1, no padding (checked).
 * Scratch: none when c_in % 4 == 0, else dory_pointwise_u8s8_4x4__xpulpv2_scratch_bytes() in a->scratch.
 *
 * Paths: fast / raw as in the conv kernel; c_in % 4 != 0 (or unaligned buffers): the 4 pixels' vectors are
 * copied into the scratch with a zero tail (im2col path); the portable direct convolution
 * dory_conv_any_1x1_direct__c (no scratch, little code) when that scratch is missing.
 */
#include "mm4x4.h"

void dory_pointwise_u8s8_4x4__xpulpv2(const dory_conv_args *args) {
  const dory_conv_args *a = args; /* in TCDM: the executor builds them on the core's stack */
  uint32_t slice;
  int im2col;
  DORY_KCHECK(a->in.type == DORY_UINT8, "dory_pointwise_u8s8_4x4__xpulpv2: needs a uint8 input");
  DORY_KCHECK(dory_window_valid(&a->in, &a->out, &a->pad, a->kh, a->kw, a->stride_h, a->stride_w),
              "dory_pointwise_u8s8_4x4__xpulpv2: inconsistent tile geometry");
  DORY_KCHECK(a->kh == 1 && a->kw == 1 && a->pad.top == 0 && a->pad.left == 0,
              "dory_pointwise_u8s8_4x4__xpulpv2: needs a 1x1 kernel without padding");
  DORY_KCHECK(a->weights != 0, "dory_pointwise_u8s8_4x4__xpulpv2: missing weights");
  DORY_KCHECK((!a->first || a->bias) && ((a->first && a->last) || a->psum) &&
                  (a->has_requant ? dory_rq_valid(&a->rq) : a->out.type == DORY_INT32),
              "dory_pointwise_u8s8_4x4__xpulpv2: inconsistent accumulation arguments");
  slice = xp_scratch_slice(a->scratch, a->scratch_bytes);
  im2col = (a->in.c & 3) != 0 || !xp_aligned4(a->in.data) || !xp_aligned4(a->weights);
  if (im2col && slice < (uint32_t)((a->in.c + 3) & ~3)) {
    dory_conv_any_1x1_direct__c(args);
    return;
  }
  xp_mm_conv(a, 1, slice);
}
