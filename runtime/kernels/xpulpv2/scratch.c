/* The L1 scratch of the xpulpv2 kernels: one formula per kernel, the single source of truth the compiler links
 * (to reserve the L1) and the kernels call (to slice it per core). Portable C99, no Xpulp code: compiled on the
 * host too (tests/kernels) and into every application.
 *
 * Semantics: dory_<kernel>_scratch_bytes(s) is the number of bytes the kernel needs in dory_conv_args.scratch
 * (scratch_bytes >= it) to run every call on tiles no larger than *s (each field an upper bound of the call's:
 * channels, sizes, window, strides, every side's padding) on s->cores cores, on its fast paths. The kernel takes
 * core k's slice at k * (scratch_bytes / cores), so a call never uses more than cores x its own per-core bytes.
 * The formulas grow with every field, so one reservation for a layer's largest tile covers all its tiles.
 *
 * Channel counts: for a conv or pointwise layer whose input-channel count (the tile's c_in) is a multiple of 4
 * the windows are read in place or through the small pair patch; a c_in that is not a multiple of 4 needs the
 * im2col vectors and a padded copy of the weights ((4 + min(c_out, 32)) x roundup(K, 4) bytes per core). The
 * formula follows s->c_in; a call whose c_in is not a
 * multiple of 4 while s->c_in is (an input-channel tile of odd size) still runs correctly with the smaller
 * scratch, on fewer pixels per block (or the portable twin when not even one vector fits): never wrong, only
 * slower. Kernels never read scratch they did not write.
 */
#include "dory/kernels.h"

static uint32_t nonneg(int32_t v) { return v > 0 ? (uint32_t)v : 0u; }

/* The im2col path's vectors and weight copy: 4 vectors of K4 = roundup(K, 4) bytes, then the weights of a chunk of
 * up to 32 output channels (XP_MM_CHUNK) padded to K4 bytes each (the path reads aligned words and never past the
 * tile's last channel). */
static uint32_t im2col_bytes(uint32_t K, int32_t c_out) {
  const uint32_t k4 = (K + 3u) & ~3u, co = nonneg(c_out) < 32u ? nonneg(c_out) : 32u;
  return (4u + co) * k4;
}

/* Per core, conv (dory_conv_u8s8_4x4__xpulpv2):
 *   c_in % 4 == 0: one patch of kh x (3 x stride_w + kw) x c_in bytes (the windows of up to four adjacent output
 *                  pixels of a border block, padding materialized as the zero point);
 *   otherwise:     the im2col vectors and weight copy, (4 + min(c_out, 32)) x roundup(kh x kw x c_in, 4) bytes. */
uint32_t dory_conv_u8s8_4x4__xpulpv2_scratch_bytes(const dory_kernel_shape *s) {
  const uint32_t c = nonneg(s->c_in), kh = nonneg(s->kh), kw = nonneg(s->kw), sw = nonneg(s->stride_w);
  const uint32_t per_core = (c & 3u) == 0 ? kh * (3u * sw + kw) * c : im2col_bytes(kh * kw * c, s->c_out);
  return nonneg(s->cores) * per_core;
}

/* Per core, pointwise (dory_pointwise_u8s8_4x4__xpulpv2): none when c_in % 4 == 0 (pixels read in place), else
 * the im2col vectors and weight copy, (4 + min(c_out, 32)) x roundup(c_in, 4) bytes. */
uint32_t dory_pointwise_u8s8_4x4__xpulpv2_scratch_bytes(const dory_kernel_shape *s) {
  const uint32_t c = nonneg(s->c_in);
  return (c & 3u) == 0 ? 0u : nonneg(s->cores) * im2col_bytes(c, s->c_out);
}

/* Per core, depthwise (dory_depthwise_u8s8_1x4__xpulpv2): for 3x3 windows with stride_w 1 or 2, one channel's
 * padded input plane for a band of output rows: pitch P = roundup(stride_w x max(w_out, 4) + 4, 4) bytes
 * (dory_depthwise_u8s8_1x4__xpulpv2_pitch), the whole
 * tile's (h_out - 1) x stride_h + 3 rows when they fit DORY_DW_PLANE_BYTES, else DORY_DW_PLANE_BYTES (at least the
 * 3 x P of a band of one output row): the kernel makes its bands as tall as its slice holds. min(whole, max(cap,
 * 3 P)) grows with h_out and w_out (a band count would not: a wider tile can take fewer rows). Other windows run
 * the portable twin: none. */
#define DORY_DW_PLANE_BYTES 512u
uint32_t dory_depthwise_u8s8_1x4__xpulpv2_scratch_bytes(const dory_kernel_shape *s) {
  const uint32_t sw = nonneg(s->stride_w), sh = s->stride_h > 0 ? (uint32_t)s->stride_h : 1u;
  const uint32_t h_out = s->h_out > 0 ? (uint32_t)s->h_out : 1u;
  const uint32_t pitch = (uint32_t)dory_depthwise_u8s8_1x4__xpulpv2_pitch((int32_t)sw, (int32_t)nonneg(s->w_out));
  const uint32_t whole = ((h_out - 1u) * sh + 3u) * pitch, cap = 3u * pitch > DORY_DW_PLANE_BYTES ? 3u * pitch : DORY_DW_PLANE_BYTES;
  if (s->kh != 3 || s->kw != 3 || (sw != 1 && sw != 2)) return 0;
  return nonneg(s->cores) * (whole < cap ? whole : cap);
}
