/* dory/kernels.h - the int8 kernels (PULP-NN style): one call computes one L1 tile of one layer.
 *
 * Every kernel is listed in THE registry, runtime/registry.json (what it computes, the operand types it takes,
 * its register blocking, its ISA, its L1 scratch, its source file, its portable twin); this header declares them
 * all, by op. Names follow XNNPACK's convention: dory_<op>_<operand types>_<blocking>__<isa>, e.g.
 * dory_conv_u8s8_4x2__c is the convolution for uint8 activations and int8 weights computing 4 output channels x
 * 2 output pixels per step, in portable C; "any" takes every activation type (read at run time). A kernel of a
 * special ISA (__xpulpv2) has a portable twin (registry "twin") that computes the same bits on every platform.
 *
 * Semantics: exactly src/ir/layers.h and docs/semantics.md, bit for bit (tests/kernels compares every element
 * with the reference executor, for every registered kernel). Requantization goes through dory/requant.h, never
 * re-implemented. A kernel whose registry entry restricts the input types checks them (dory_panic otherwise).
 *
 * Calling convention
 * ------------------
 *   - Every core of the cluster calls the kernel with the SAME args (usually dory_cluster_run(kernel_task, &a),
 *     or inside a task running the executor). Each core computes its share, chosen by dory_core_id() and the
 *     args' `split`: DORY_SPLIT_ROWS gives core k output rows [k*ceil(H/P), (k+1)*ceil(H/P)) of all channels,
 *     DORY_SPLIT_CHANNELS output channels [k*ceil(C/P), ...) of all pixels (P = dory_core_count(); the cost
 *     model's formula); DORY_SPLIT_AUTO is rows, except for a tile of fewer rows than cores whose channels, in
 *     chunks of Q = roundup(ceil(C/P), 4), give the busiest core less work (Q*H < C): then channels [k*Q, ...)
 *     (a 4x4 global pool or pointwise layer would otherwise leave cores idle; dory_core_work).
 *     Kernels never synchronize: the caller joins (or barriers) before reading the output.
 *   - Every buffer is a dense L1 tile in HWC order (channels innermost); nothing is padded in memory.
 *   - Element types (dory_dtype) are per tensor: activations may be uint8, int8, uint16, int16 or int32 (as the
 *     kernel's registry entry allows). Weights are int8, biases int32.
 *   - Scratch: a kernel whose registry entry names a scratch function gets `scratch`, an L1 area of at least
 *     that function's bytes for the call's shape (dory_kernel_shape), which it may overwrite freely.
 *
 * Geometry of a windowed tile (conv, depthwise, pools)
 * ----------------------------------------------------
 *   `in` is the input box the tile reads (after clipping at the map's borders: tiler/tile.h TileExtent.h_in,
 *   .w_in, .c_in), `pad` the padding applied at THIS tile (TileExtent.pad: rows/columns outside the map).
 *   Output pixel (oh, ow) of the tile reads input rows oh*stride_h - pad.top + [0, kh) and columns
 *   ow*stride_w - pad.left + [0, kw) of the box; positions outside [0, in.h) x [0, in.w) are padding:
 *   they hold the input zero point (conv: they add 0; average pool: they hold pad_value) or are ignored (max
 *   pool without a pad value). Requires (out.h-1)*stride_h + kh <= pad.top + in.h + pad.bottom (same for
 *   columns). Padding is never materialized.
 *
 *   Padding may be as large as the kernel or larger (legal ONNX, e.g. a 1x1 conv with padding 1), so:
 *   - a window may lie wholly in the padding, in any tile (its in-bounds part is empty; dory_window_span in
 *     kernels/kernel_util.h clamps it): a conv/depthwise output is then requant(bias) (or bias, raw), a max pool
 *     output pad_value (the compiler never emits a max pool without pad value, nor an average pool that does not
 *     count padded slots, that has such a window: ir-empty-window), an average pool output the requantized mean
 *     of kh*kw pad values;
 *   - a whole tile may lie in the padding: then in.h == 0 or in.w == 0 (in.c is still the channel tile, >= 1),
 *     nothing was loaded, in.data must not be read (it may be NULL or a stale buffer), and every window position
 *     is padding: the windows' whole span is pad.top (tile before the map) or pad.bottom (after it), likewise
 *     pad.left / pad.right for columns, so (out.h-1)*stride_h + kh == pad.top + 0 + pad.bottom still holds.
 *   Every other constraint is unchanged (out.h, out.w, out.c >= 1; pointwise has no padding, so its boxes are
 *   never empty).
 *
 * Input-channel tiles (conv, pointwise, fc)
 * -----------------------------------------
 *   When the input channels are tiled, the tiles of one output tile are called in order with the SAME `psum`
 *   buffer (int32, out.h x out.w x out.c, HWC): `first` starts each sum from the bias, otherwise from psum;
 *   `last` requantizes (or writes the raw int32 sum) into `out`, otherwise stores the sum in psum. An untiled
 *   layer passes first = last = 1 and psum = NULL. `weights` then hold the input-channel slice of the tile.
 *
 * Requantization (dory_requant_args)
 * ----------------------------------
 *   y = clamp(R((v*m[c] + a[c]) / D) + zero_point, lo, hi) with m, a per output channel (records in L1, channel c
 *   of the TILE) or per tensor (the scalars mul, add). `wide` = Requant::wide: 1 uses dory_requant64 and
 *   div.d64, 0 dory_requant32 and div.d32 (the other divisor may be left uninitialized). The per-channel records
 *   are the L2 layout the tiler transfers ([C][k], k = mul_per_channel + add_per_channel values, mul first),
 *   int64 when wide, int32 otherwise.
 */
#ifndef DORY_KERNELS_H
#define DORY_KERNELS_H

#include <stdint.h>

#include "dory/requant.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Element types of activation tiles (dory::DType). */
typedef enum { DORY_UINT8 = 0, DORY_INT8 = 1, DORY_UINT16 = 2, DORY_INT16 = 3, DORY_INT32 = 4 } dory_dtype;

enum { DORY_SPLIT_ROWS = 0, DORY_SPLIT_CHANNELS = 1, DORY_SPLIT_AUTO = 2 };

/* A dense HWC tile in L1: h rows x w columns x c channels of `type`. Inputs are only read. */
typedef struct {
  void *data;
  int32_t h, w, c;
  uint8_t type; /* dory_dtype */
} dory_tile;

typedef struct {
  int32_t top, left, bottom, right;
} dory_pad;

/* A divisor for both paths; only the one the requantization's `wide` selects must be valid. */
typedef struct {
  dory_divisor d64;
  dory_divisor32 d32;
} dory_requant_divisor;

typedef struct {
  const void *channel_params;  /* [out.c][mul_per_channel + add_per_channel] int64 (wide) / int32; or NULL */
  int64_t mul, add;            /* per-tensor values (used where not per channel) */
  dory_requant_divisor div;    /* D (average pooling: see dory_avgpool_args) */
  int32_t zero_point, lo, hi;
  uint8_t wide;
  uint8_t mul_per_channel, add_per_channel;
} dory_requant_args;

/* ---- MAC kernels ------------------------------------------------------------------------------------------- */

/* Standard convolution (groups 1), pointwise convolution (1x1, no padding, any stride) and depthwise convolution
 * (groups = C_in = C_out; in.c == out.c, first = last = 1, psum unused). */
typedef struct {
  dory_tile in;                /* input box: c = the input-channel tile (depthwise: the channel tile) */
  dory_tile out;               /* output tile */
  dory_pad pad;                /* padding at this tile */
  int32_t kh, kw, stride_h, stride_w;
  const int8_t *weights;       /* [out.c][kh][kw][in.c] (depthwise: [out.c][kh][kw]) */
  const int32_t *bias;         /* [out.c], read when first */
  int32_t input_zero_point;
  uint8_t has_requant;         /* 0: out is int32 and receives the raw accumulators */
  dory_requant_args rq;
  int32_t *psum;               /* [out.h][out.w][out.c] int32 when the input channels are tiled, else NULL */
  uint8_t first, last;
  void *scratch;               /* L1 scratch of kernels that need one (registry "scratch"), else NULL */
  uint32_t scratch_bytes;      /* its size: at least the kernel's scratch function for this call's shape */
  uint8_t split;
} dory_conv_args;

/* Convolution: im2col of 2 pixels per core (scratch: dory_conv_4x2_im2col_scratch_bytes) + the 4-channel x
 * 2-pixel matmul; the _direct kernel reads every window in place (no scratch, no register blocking). */
void dory_conv_u8s8_4x2__c(const dory_conv_args *a);
void dory_conv_s8s8_4x2__c(const dory_conv_args *a);
void dory_conv_any_4x2__c(const dory_conv_args *a);
void dory_conv_any_1x1_direct__c(const dory_conv_args *a);
/* Pointwise: the 4x2 matmul on the input pixels directly. */
void dory_pointwise_u8s8_4x2__c(const dory_conv_args *a);
void dory_pointwise_s8s8_4x2__c(const dory_conv_args *a);
void dory_pointwise_any_4x2__c(const dory_conv_args *a);
/* Depthwise: one channel of one pixel at a time. */
void dory_depthwise_u8s8_1x1__c(const dory_conv_args *a);
void dory_depthwise_s8s8_1x1__c(const dory_conv_args *a);
void dory_depthwise_any_1x1__c(const dory_conv_args *a);

/* Fully connected: out[n] = bias[n] + sum_k (in[k] - zp) * w[n][k] over the input-feature tile. */
typedef struct {
  dory_tile in;                /* c = input features of this tile (h = w = 1) */
  dory_tile out;               /* c = outputs of this tile (h = w = 1) */
  const int8_t *weights;       /* [out.c][in.c] */
  const int32_t *bias;         /* [out.c], read when first */
  int32_t input_zero_point;
  uint8_t has_requant;         /* 0: out is int32 (raw logits) */
  dory_requant_args rq;
  int32_t *psum;               /* [out.c] when the input features are tiled, else NULL */
  uint8_t first, last;
  uint8_t split;               /* channels: outputs over cores; rows: core 0 does everything (h = 1) */
} dory_fc_args;

/* 4 outputs per step sharing each input load. */
void dory_fc_u8s8_4x1__c(const dory_fc_args *a);
void dory_fc_s8s8_4x1__c(const dory_fc_args *a);
void dory_fc_any_4x1__c(const dory_fc_args *a);

/* ---- pooling ----------------------------------------------------------------------------------------------- */

/* Max pool: the maximum of the window's in-bounds values, and of pad_value if has_pad_value and the window
 * reaches padding. in.c == out.c. */
typedef struct {
  dory_tile in, out;
  dory_pad pad;
  int32_t kh, kw, stride_h, stride_w;
  uint8_t has_pad_value;
  int32_t pad_value;
  uint8_t split;
} dory_maxpool_args;

void dory_maxpool_u8__c(const dory_maxpool_args *a);
void dory_maxpool_s8__c(const dory_maxpool_args *a);
void dory_maxpool_any__c(const dory_maxpool_args *a);

/* Average pool (and global average pool: kh x kw = the whole map, no padding):
 *   S = sum of (x - input_zero_point) over the window's in-bounds positions, plus (pad_value - input_zero_point)
 *       per padded position when count_include_pad;
 *   cnt = kh*kw when count_include_pad, else the in-bounds positions;
 *   y = clamp(R((S*m[c] + a[c]*cnt) / (D*cnt)) + zp, lo, hi).
 * The divisors D*cnt are precomputed by the compiler (Requant::make_divisor(cnt)): count_div[cnt - count_div_first]
 * for cnt in [count_div_first, count_div_first + count_div_len). Pass the counts that can occur: kh*kw alone when
 * count_include_pad or when no window of the layer is clipped (global pooling), else every count from the
 * smallest clipped window's to kh*kw (at most kh*kw entries). rq.div is not used. */
typedef struct {
  dory_tile in, out;
  dory_pad pad;
  int32_t kh, kw, stride_h, stride_w;
  int32_t input_zero_point;
  int32_t pad_value;
  uint8_t count_include_pad;
  dory_requant_args rq;
  const dory_requant_divisor *count_div;
  int32_t count_div_first, count_div_len;
  uint8_t split;
} dory_avgpool_args;

void dory_avgpool_u8__c(const dory_avgpool_args *a);
void dory_avgpool_s8__c(const dory_avgpool_args *a);
void dory_avgpool_any__c(const dory_avgpool_args *a);

/* ---- element-wise ------------------------------------------------------------------------------------------ */

#define DORY_ADD_MAX_OPERANDS 4

/* One operand of a residual add: t = R(((x - zero_point) * mul + add) / div), 64-bit (dory_scale64). */
typedef struct {
  dory_tile in;
  int32_t zero_point;
  int64_t mul, add;
  dory_divisor div;
} dory_add_operand;

/* y = requant(sum of the operand terms) with a per-tensor requantization; every operand tile has out's shape.
 * Covers NEMO's joint form (div 1) and QuantLab's per-input form (div 2^shift). */
typedef struct {
  dory_add_operand op[DORY_ADD_MAX_OPERANDS];
  int32_t n_operands;          /* 1 .. DORY_ADD_MAX_OPERANDS */
  dory_requant_args rq;        /* per tensor */
  dory_tile out;
  uint8_t split;
} dory_add_args;

/* _u8 / _s8: every operand of that type. */
void dory_add_u8__c(const dory_add_args *a);
void dory_add_s8__c(const dory_add_args *a);
void dory_add_any__c(const dory_add_args *a);

/* Requantize: y = requant(x - input_zero_point) element-wise, per channel (channel c of the tile) or per tensor.
 * A flat tensor is a tile of h = w = 1 and c = its elements. */
typedef struct {
  dory_tile in, out;
  int32_t input_zero_point;
  dory_requant_args rq;
  uint8_t split;
} dory_requantize_args;

void dory_requantize_u8__c(const dory_requantize_args *a);
void dory_requantize_s8__c(const dory_requantize_args *a);
void dory_requantize_any__c(const dory_requantize_args *a);

/* ---- the registry's view of a kernel ------------------------------------------------------------------------ */

/* Any kernel, by the argument struct of its op (a layer descriptor names its kernel with one member). */
typedef union {
  void (*conv)(const dory_conv_args *a); /* conv, pointwise, depthwise */
  void (*fc)(const dory_fc_args *a);
  void (*maxpool)(const dory_maxpool_args *a);
  void (*avgpool)(const dory_avgpool_args *a);
  void (*add)(const dory_add_args *a);
  void (*requantize)(const dory_requantize_args *a);
} dory_kernel_fn;

/* The largest call a kernel's scratch must serve: the tile shape (output box, input box of the body tile) and
 * the layer's window and padding, on `cores` cores. Scratch functions (registry "scratch", pure C compiled
 * into the compiler as well: the L1 layout reserves exactly what they return) give an upper bound in bytes. */
typedef struct {
  int32_t cores;
  int32_t c_in, h_in, w_in, c_out, h_out, w_out;
  int32_t kh, kw, stride_h, stride_w;
  dory_pad pad;
  uint8_t in_type; /* dory_dtype */
} dory_kernel_shape;

/* dory_conv_*_4x2__c: an im2col slice of 2 pixels x kh x kw x c_in input elements per core. */
uint32_t dory_conv_4x2_im2col_scratch_bytes(const dory_kernel_shape *s);

/* ---- Xpulpv2 kernels (PULP cluster cores; runtime/kernels/xpulpv2/, built only where the cores have Xpulpv2) --- *
 *
 * uint8 activations x int8 weights (pools, add, requantize: uint8), the whole contract of this header: any zero
 * point, output type, requantization, partial sums, geometry, split and core count; each file's header says what
 * runs on the fast paths (32-bit requantization by a power of two into 8 bits, channels in multiples of 4) and what
 * falls back to general code or to the portable twin. Each has a portable twin computing the same bits
 * (dory_<op>_<types>_<blocking>__c, same arguments and scratch): registry "twin". Their scratch (kernels that need
 * one: conv, pointwise, depthwise) is sliced per core, core k at k * (scratch_bytes / cores); the formulas are in
 * runtime/kernels/xpulpv2/scratch.c (portable, linked into the compiler). */
void dory_conv_u8s8_4x4__xpulpv2(const dory_conv_args *a);
void dory_pointwise_u8s8_4x4__xpulpv2(const dory_conv_args *a);
void dory_depthwise_u8s8_1x4__xpulpv2(const dory_conv_args *a);
void dory_fc_u8s8_8x1__xpulpv2(const dory_fc_args *a);
void dory_maxpool_u8__xpulpv2(const dory_maxpool_args *a);
void dory_avgpool_u8__xpulpv2(const dory_avgpool_args *a);
void dory_add_u8__xpulpv2(const dory_add_args *a);
void dory_requantize_u8__xpulpv2(const dory_requantize_args *a);

/* Their twins that are not the typed portable kernels above (whose scratch differs from theirs or which block
 * differently): the same code as dory_<op>_u8s8_<...>__c, run in the Xpulpv2 kernel's scratch. */
void dory_conv_u8s8_4x4__c(const dory_conv_args *a);
void dory_pointwise_u8s8_4x4__c(const dory_conv_args *a);
void dory_depthwise_u8s8_1x4__c(const dory_conv_args *a);
void dory_fc_u8s8_8x1__c(const dory_fc_args *a);

uint32_t dory_conv_u8s8_4x4__xpulpv2_scratch_bytes(const dory_kernel_shape *s);
uint32_t dory_pointwise_u8s8_4x4__xpulpv2_scratch_bytes(const dory_kernel_shape *s);
uint32_t dory_depthwise_u8s8_1x4__xpulpv2_scratch_bytes(const dory_kernel_shape *s);

/* The depthwise Xpulpv2 kernel's plane pitch, shared by the kernel and its scratch function: a block of 4 outputs
 * reads 4 x stride_w + 4 bytes of a plane row from its first window's column (rows narrower than a block too:
 * the columns past the row feed only outputs that are dropped), rounded up to words. */
static inline int32_t dory_depthwise_u8s8_1x4__xpulpv2_pitch(int32_t stride_w, int32_t w_out) {
  return (stride_w * (w_out > 4 ? w_out : 4) + 4 + 3) & ~3;
}

/* A kernel of a special ISA in generated code: DORY_KERNEL_XPULPV2(kernel, twin) is the kernel where the build
 * targets Xpulpv2 (the pulp-open platform defines DORY_ISA_XPULPV2: registry.json "compile_flags") and its
 * portable twin elsewhere (host, QEMU). */
#ifdef DORY_ISA_XPULPV2
#define DORY_KERNEL_XPULPV2(kernel, twin) kernel
#else
#define DORY_KERNEL_XPULPV2(kernel, twin) twin
#endif

/* Bytes of one element of a dory_dtype (1, 2 or 4). */
static inline int32_t dory_dtype_bytes(uint8_t type) { return type <= DORY_INT8 ? 1 : (type <= DORY_INT16 ? 2 : 4); }

#ifdef __cplusplus
}
#endif

#endif /* DORY_KERNELS_H */
