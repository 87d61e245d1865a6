// The cores' shares of a kernel call: which part of the call each core computes, and the cycles all the cores
// spend on their parts (the active core cycles of the energy model, eval/eval.h), from the kernel cost model
// (target/cost_model.h).
//
// core_shares: with the kernel's split "rows" core k gets rows [k*ceil(H/P), ...) of all channels, with
// "channels" channels [k*ceil(C/P), ...) of all pixels (P = cores). Cores without work are left out, so the
// result has 1..P entries; the first is the busiest core's share, and kernel_cycles(target, kernel, call) is the
// kernel_cycles of that share on one core.
//
// Units: cycles of the cluster clock (double).
#pragma once

#include <vector>

#include "target/cost_model.h"
#include "target/target.h"
#include "tiler/geometry.h"
#include "tiler/plan.h"

namespace dory {

// The target with one core: kernel_cycles of a core's share on it is that core's time.
Target one_core_target(const Target& target);

// The whole layer as one kernel call (c_out x h_out x w_out outputs, all c_in input channels, the window).
KernelCall whole_layer_call(const LayerGeometry& g);

// One tile's kernel call: c_out x h_out x w_out outputs from c_in input channels, the layer's window, strides and
// requantization; `partial` when c_in is one of several input-channel tiles (not for tied layers). The one
// definition the layer model, the active-cycle count and the calibration use.
KernelCall tile_call(const LayerGeometry& g, int64_t c_out, int64_t h_out, int64_t w_out, int64_t c_in);

// The part of `call` each core computes (above).
std::vector<KernelCall> core_shares(const Target& target, const KernelImpl& kernel, const KernelCall& call);

// `kernel` with the split `call` runs on the target's cores (WorkSplit::Auto resolved, call_split): a core's share
// priced on one core with it costs what that core spends (an Auto split re-resolved on one core would be rows).
KernelImpl share_kernel(const Target& target, const KernelImpl& kernel, const KernelCall& call);

// Sum over the cores of the cycles each spends on its share (kernel_cycles of the share on one core: its call,
// loop and im2col overheads included). The busiest core's share alone gives kernel_cycles(target, kernel, call).
double kernel_core_cycles(const Target& target, const KernelImpl& kernel, const KernelCall& call);

// Active core cycles of a tiled layer: kernel_core_cycles summed over every tile of the plan.
double plan_active_core_cycles(const Target& target, const TilePlan& plan);

}  // namespace dory
