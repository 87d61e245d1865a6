/* dory_conv_u8s8_4x4__xpulpv2: standard convolution (groups 1, any window, strides, padding) of uint8 activations
 * with int8 weights on one L1 tile, PULP cluster cores (Xpulpv2).
 *
 * Idea: output-stationary 4 output channels x 4 output pixels per block (mm4x4.h), 16 sums in registers, every
 * loaded input word used 4 times and every weight word 4 times. The pixels are two pairs of horizontally adjacent
 * output pixels (pairs may come from different rows, so a block never idles at a row's end). A window row is
 * kw*C contiguous bytes of the HWC input tile: every pair whose windows lie inside the input box is read in place
 * (pixel stride stride_w*C, row pitch in.w*C); with the zero point 0, kernel rows wholly in padding (top and
 * bottom borders) are skipped in place; any other pair (left / right borders, corners, padding rows with a zero
 * point) is first copied into the core's patch (kh x (stride_w + kw) x C bytes, or both pairs of a border block
 * at once: kh x (3*stride_w + kw) x C; padding written as the zero point) and read from there (each pair has its
 * own row pitch). No im2col for c_in % 4 == 0.
 *
 * Inner loop: 24 instructions (8 loads, 16 pv.sdotusp.b) per 4 input bytes of the window = 64 MACs, hardware
 * loops over the row's words and the window's rows: 2.67 MAC/cycle/core at most (21.3 on 8 cores). Per group of
 * 4 channels, on the fast path, 6-7 instructions per output requantize and store (p.mac, sra, add, p.max/p.min
 * or p.clipu, p.sb) with the bias and the zero-point correction -zp*sum(w) folded into the additive constant.
 *
 * Preconditions: the whole contract of dory/kernels.h for in.type == DORY_UINT8 (checked; weights int8), plus
 * the scratch: a->scratch / a->scratch_bytes of dory_conv_u8s8_4x4__xpulpv2_scratch_bytes() for the layer's largest
 * tile on the cores running . L1 buffers 4-byte aligned (else the im2col path runs).
 *
 * Paths:
 *   - fast: first && last, 32-bit requantization with a power-of-two divisor and floor rounding, u8 or s8 out:
 *     requantization in the asm block;
 *   - raw: everything else (partial sums, int32 or 16-bit outputs, 64-bit requantization, other divisors,
 *     remainder channel groups): the asm block stores the 16 sums, C finishes through dory/requant.h;
 *   - im2col: c_in % 4 != 0 (or unaligned buffers): the windows of 4 consecutive output pixels are copied as
 *     roundup(K, 4)-byte vectors (zero tail; windows inside the map by words, inline) and the same asm runs on
 *     them, one call per block on the fast path; with K % 4 != 0 it reads the chunk's weights from a copy in the
 *     scratch with each channel padded by zeros to roundup(K, 4) bytes (aligned words, nothing read past the
 *     tile's last channel). Off the fast path (raw sums, a core's last 1-3 pixels, a scratch without room for the
 *     copy) the words past K read the next channel's weights times zero inputs, and the tile's last channel's
 *     last bytes are added in C;
 *   - the portable direct convolution dory_conv_any_1x1_direct__c (no scratch, 2 kB of code instead of the twin's
 *     22 kB in the image) when the scratch passed is too small for the path (never when it follows the scratch
 *     formula), and for a tile made of padding only (in.h or in.w 0: nothing to read).
 */
#include "mm4x4.h"

void dory_conv_u8s8_4x4__xpulpv2(const dory_conv_args *args) {
  const dory_conv_args *a = args; /* in TCDM: the executor builds them on the core's stack */
  dory_kernel_shape s;
  uint32_t slice;
  int im2col;
  DORY_KCHECK(a->in.type == DORY_UINT8, "dory_conv_u8s8_4x4__xpulpv2: needs a uint8 input");
  DORY_KCHECK(dory_window_valid(&a->in, &a->out, &a->pad, a->kh, a->kw, a->stride_h, a->stride_w),
              "dory_conv_u8s8_4x4__xpulpv2: inconsistent tile geometry");
  DORY_KCHECK(a->weights != 0, "dory_conv_u8s8_4x4__xpulpv2: missing weights");
  DORY_KCHECK((!a->first || a->bias) && ((a->first && a->last) || a->psum) &&
                  (a->has_requant ? dory_rq_valid(&a->rq) : a->out.type == DORY_INT32),
              "dory_conv_u8s8_4x4__xpulpv2: inconsistent accumulation arguments");
  slice = xp_scratch_slice(a->scratch, a->scratch_bytes);
  im2col = (a->in.c & 3) != 0 || !xp_aligned4(a->in.data) || !xp_aligned4(a->weights);
  s.cores = 1;
  s.c_in = a->in.c;
  s.kh = a->kh;
  s.kw = a->kw;
  s.stride_w = a->stride_w;
  if (a->in.h == 0 || a->in.w == 0 ||
      (im2col ? slice < (uint32_t)((a->kh * a->kw * a->in.c + 3) & ~3)
              : slice < dory_conv_u8s8_4x4__xpulpv2_scratch_bytes(&s))) {
    dory_conv_any_1x1_direct__c(args);
    return;
  }
  xp_mm_conv(a, 0, slice);
}
