// Cost model: cycles of one kernel call on one tile, and of DMA transfers, on a Target.
//
// This is the normative implementation of docs/targets.md ("The kernel cost model these parameters define" and
// "Transfer cost model"); docs/cost-model.md states every formula with its units. Everything here is a pure
// function of the Target's numbers and the shapes given; nothing is measured or cached.
//
// Units: cycles of the cluster clock (double, since rates are fractional), bytes (int64).
//
// Kernel call (kernel_cycles): output tile C x H x W, input tile Cin channels, window Kh x Kw, P = cores.
//   split "rows": the busiest core has ceil(H/P) rows of all C channels; "channels": ceil(C/P) channels of all
//   H*W pixels. blocks = ceil(c_core/channel_block) * ceil(p_core/pixel_block) (depthwise: the blocks stay in a
//   row, h_core * ceil(W/pixel_block) pixel blocks; a kernel of row pairs, registry "row_pairs", counts
//   p_core = h_core * 2*ceil(W/2) pixel slots, an odd row's last pixel recomputed with its neighbour, in the
//   blocks, the pixel and the output terms); MAC kernels:
//     call_cycles + blocks*channel_block*pixel_block*macs_per_output / macs_per_cycle + row_cycles*n_loop
//       + im2col_cycles_per_byte * patch_bytes + pixel_cycles * p_core + channel_cycles * c_core
//       + output_cycles * c_core*p_core     (output_cycles_wide when the layer's requantization is 64-bit,
//                                            output_cycles_partial for a call on one of several c_in tiles)
//   with macs_per_output = Kh*Kw*Cin (conv, pointwise, fc) or Kh*Kw (depthwise), patch_bytes the input the
//   kernel copies for the busiest core: conv its im2col windows p_core*Kh*Kw*Cin, depthwise its channel-major
//   planes c_core*((h_core-1)*Sh+Kh)*((W-1)*Sw+Kw), pointwise and fc none; element-wise kernels:
//     call_cycles + work / elements_per_cycle + row_cycles*n_loop + output_cycles * c_core*p_core,
//     work = c_core*p_core*Kh*Kw (pool), c_core*p_core (add).
//
// DMA: a transfer moves a box between a dense (contiguous) L1 buffer and a strided region of L2, described by a
// DmaPattern on the L2 side. dma_transfer_cost splits it into the engine's commands (a pattern needing more
// dimensions, longer rows, more rows, more bytes or a larger stride than one command allows becomes several
// commands; see split rules in docs/cost-model.md). A batch of commands pushed back to back by one core from
// time 0 (dma_batch_time) follows the recurrence, command j = 0, 1, ... with engine busy time b_j:
//     p_j = max(p_{j-1}, e_{j-M}) + issue_cycles          (core finishes pushing j; e_{<0} = 0, p_{-1} = 0,
//                                                          M = max_outstanding: a full queue blocks the push)
//     e_j = max(p_j + setup_cycles, e_{j-1}) + b_j          (data of command j has fully arrived)
//     b_j = rows_j * row_cycles + bytes_j / bandwidth(src, dst)
// The batch is done at e_last; the core is free at p_last. An isolated transfer of one command therefore costs
// issue_cycles + setup_cycles + b (from the start of the push).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "target/target.h"

namespace dory {

// ---- kernels ----

// One kernel call: the output tile (c_out x h_out x w_out; fc: c_out outputs, h = w = 1), the input channels of
// the tile (c_in; ignored by depthwise, pool and add) and the window (1x1 for pointwise, fc, add).
struct KernelCall {
  int64_t c_out = 1, h_out = 1, w_out = 1, c_in = 1;
  int64_t kh = 1, kw = 1;
  int64_t stride_h = 1, stride_w = 1;  // the window's strides (the depthwise copy's input rows and columns)
  bool wide_requant = false;  // the layer's requantization is 64-bit (Requant::wide): output_cycles_wide
  bool partial = false;       // one of several input-channel tiles (int32 partial sums): output_cycles_partial
};

// The formula's terms for one call: what the busiest core does, each the multiplier of one parameter of the
// kernel (kernel_cycles = the sum of term x parameter). The calibration (bench/fit_cost_model) regresses executed
// cycles on these very terms, so that the fitted parameters mean what the model computes with them.
struct KernelTerms {
  double calls = 0;         // x call_cycles
  double work = 0;          // x 1/macs_per_cycle (block-rounded MACs) or 1/elements_per_cycle (elements)
  double loops = 0;         // x row_cycles (n_loop: rows or channels of the busiest core)
  double im2col_bytes = 0;  // x im2col_cycles_per_byte (patch_bytes: conv and depthwise)
  double pixels = 0;        // x pixel_cycles (MAC kernels)
  double channels = 0;      // x channel_cycles (MAC kernels)
  double outputs = 0;       // x output_cycles (MAC kernels: 32-bit or no requantization; element-wise: all)
  double outputs_wide = 0;  // x output_cycles_wide (MAC kernels, 64-bit requantization)
  double outputs_partial = 0;  // x output_cycles_partial (MAC kernels, a call on partial sums)
  KernelTerms& operator+=(const KernelTerms& o);
};
KernelTerms kernel_terms(const Target& target, const KernelImpl& kernel, const KernelCall& call);
// Whether `call` runs on `kernel`'s row pairs (registry "row_pairs": conv with c_in a multiple of its c_in_grain,
// pointwise off its stride-1 fast path); then a row of W pixels costs 2 * ceil(W / 2) pixel slots.
bool kernel_call_row_pairs(const KernelImpl& kernel, const KernelCall& call);
// The pixel slots `rows` output rows of `call` (`pixels` = rows * W of them) cost the kernel: 2 * ceil(W / 2) per
// row on row pairs, else `pixels`.
int64_t mac_pixel_slots(const KernelImpl& kernel, const KernelCall& call, int64_t rows, int64_t pixels);
// sum of term x parameter of `kernel`
double kernel_cycles_of(const KernelImpl& kernel, const KernelTerms& terms);

// Cycles of one call of `kernel` (one of target's: Target::kernel_for), exactly the formula above
// (docs/targets.md); the family is the kernel's. All extents must be >= 1.
double kernel_cycles(const Target& target, const KernelImpl& kernel, const KernelCall& call);

// ---- what the tiler's exact search knows of kernel_cycles (beside the formula: change them together) ----

// The formula is affine in c_in, the other extents fixed and `partial` given: kernel_cycles(call with c_in = c) =
// b + a * c for every c >= 1. The search visits the input-channel tiles of an output tile grouped by that
// (tiler/search.cpp).
struct CinAffine {
  double a = 0, b = 0;
};
CinAffine kernel_cycles_in_c_in(const Target& target, const KernelImpl& kernel, const KernelCall& call);

// A lower bound of the sum of kernel_cycles over the tiles of a layer, valid for every tiling whose body tile
// sizes lie in the given ranges (docs/cost-model.md, "Bounds", item 3). `layer` is the whole layer as one call;
// channels_tied: the input-channel tile is the output-channel tile (depthwise, pool, add: one c_in tile). The
// bound is the formula summed over the tiles with the pixel-block rounding dropped, in closed form per dimension
// (n = the fewest tiles of the ranges), minimized over the size ranges with prefix minima, so that a range
// [1, x] costs one lookup. The tiler's tests check it against every tiling (SearchOptions::verify_prunes). With
// WorkSplit::Auto a tile's split depends on both its rows and channels: the bound is then the perfect split's
// (every tile's work over the cores, no rounding), below both splits' costs.
struct TileSizeRanges {
  int64_t c_out_lo = 1, c_out_hi = 1, h_lo = 1, h_hi = 1, w_lo = 1, w_hi = 1, c_in_lo = 1, c_in_hi = 1;  // inclusive
};
class KernelCyclesBound {
 public:
  KernelCyclesBound(const Target& target, const KernelImpl& kernel, const KernelCall& layer, bool channels_tied);
  double min_total_cycles(const TileSizeRanges& r) const;

 private:
  // Per body size x (1..extent): the sum over a dimension's tiles of a factor of the formula, and prefix minima.
  struct SizeTable {
    std::vector<double> exact, prefix_min;  // index: size, [0] unused
    double min_over(int64_t lo, int64_t hi) const;
  };
  KernelCall layer_;
  bool tied_ = false;
  WorkSplit split_ = WorkSplit::Rows;
  double call_ = 0, row_ = 0, rate_ = 1, im2col_ = 0, pixel_ = 0, channel_ = 0, output_ = 0;
  int64_t per_output_ = 1, cores_ = 1;
  SizeTable channels_, core_channels_, core_rows_;  // block-rounded channels, ceil(c/P), ceil(h/P) per tile
};

// ---- DMA ----

enum class DmaDirection { Load, Store };  // Load: outer -> inner level (L2 -> L1, L3 -> L2), Store: back
const char* dma_direction_name(DmaDirection d);  // "load", "store"

// An access pattern on the L2 side: `planes` planes of `rows` rows of `row_bytes` contiguous bytes; row r of
// plane p starts at p*plane_stride + r*row_stride bytes from the first byte. The L1 side is dense (row after
// row, plane after plane). Strides are only meaningful when the count is > 1.
struct DmaPattern {
  int64_t row_bytes = 0;
  int64_t rows = 1, row_stride = 0;
  int64_t planes = 1, plane_stride = 0;

  int64_t bytes() const { return row_bytes * rows * planes; }
  bool operator==(const DmaPattern&) const = default;
};

// The same bytes with contiguous dimensions merged (rows whose stride equals row_bytes become one longer row,
// planes whose stride equals rows*row_stride become more rows) and unit dimensions dropped.
DmaPattern canonical_pattern(DmaPattern p);

// `count` identical commands, each `rows` rows of `row_bytes` bytes (busy_cycles each on the engine).
struct DmaRun {
  int64_t count = 0;
  int64_t rows = 0;
  int64_t row_bytes = 0;
  double busy_cycles = 0;
};

// A transfer split into the engine's commands, in issue order: at most two runs (body, remainder).
struct DmaTransferCost {
  std::array<DmaRun, 2> runs{};
  int n_runs = 0;
  int64_t commands = 0;     // sum of run counts
  int64_t bytes = 0;        // bytes moved
  double busy_cycles = 0;   // sum over commands of the engine busy time
};

// Splits one transfer (L2-side pattern p, direction d) into the commands of `engine` and costs them. A pattern
// of 0 bytes costs nothing (no command).
DmaTransferCost dma_transfer_cost(const DmaEngine& engine, DmaDirection d, const DmaPattern& p);

// Timing of a batch: the commands of `transfers`, in order, pushed back to back by one core from time 0.
struct DmaBatchTime {
  double done_cycles = 0;   // all data arrived (e_last); 0 for an empty batch
  double core_cycles = 0;   // the pushing core is free again (p_last): commands * issue_cycles + transfers *
                            // transfer_cycles plus any blocking on a full queue (max_outstanding)
  int64_t commands = 0;
  int64_t transfers = 0;    // transfers of at least one command
};
DmaBatchTime dma_batch_time(const DmaEngine& engine, std::span<const DmaTransferCost* const> transfers);

// An isolated transfer of `rows` rows of `row_bytes` bytes (rows strided on the L2 side, not contiguous) in
// direction d: its done time (issue + setup + busy, with splitting into several commands where the engine
// needs it).
double dma_cycles(const DmaEngine& engine, DmaDirection d, int64_t rows, int64_t row_bytes);

// The engine the tiler uses: the one between L1 and L2 (a valid Target always has one).
const DmaEngine& l1_l2_engine(const Target& target);

}  // namespace dory
