// The whole-network memory plan across L2 and L3: which constants and activations live where, the L3 tiling of
// every layer that streams from L3, its L2 staging buffers, and the static plans of both levels.
//
// When. A network whose constants and activations fit L2 (memplan.h: the lower bound and the placement) gets no L3
// at all: nothing changes. Otherwise, on a target with an L3 (and unless the deployment says --l3 off), this plan
// moves what it must, in this order (a heuristic, written down, not an optimum; each step is exact in what it
// computes):
//   1. weights: layers' constants (weights, bias, requantization records), largest first, move to L3 until the
//      bound below fits; a layer whose constants are in L3 streams them in output-channel blocks;
//   2. activations: while the bound does not fit even so, the largest feature map live at the step where it is
//      worst moves to L3 (never a graph input or output, a map that is part of a concatenation's storage, or one a
//      View makes flat... a storage class is moved whole); its producer stores it in row bands, its readers load
//      them (their input bands carry the halo their windows need).
// The bound at step s (the lower bound of memplan.h, extended): the L2 constants + the aligned bytes of the L2
// activations live at s + the smallest staging (tiler/l3_plan.h minimal_l2_staging_bytes) of the layer at s.
// 3b. The bound counts each streaming layer's smallest staging, and a layer left with little more than that may
//     stream its constants in tiny blocks, many times slower than from L2. While some streaming layer's
//     two-level schedule costs more than twice its L2 plan, the largest spillable feature map live at its step
//     moves to L3 too, and the result is kept when the network's modeled cycles drop by more than 1 % (at most 3
//     such rounds; TwoLevelOptions::refine_spills). Notes say which layer it was for.
// Then, from the last layer to the first, every layer with an operand in L3 is tiled (solve_l3_tiling) with the
// staging budget its step leaves: L2 capacity - L2 constants - L2 activations live at its step - the prefetch part
// reserved at that step for the next layer. A layer whose constants are in L3 prefetches its first block during
// the previous deployed layer when that part (copy 0 of its constants) fits beside that layer's minimal staging;
// then part 0 of its staging is live over both steps. The L2 plan (memplan.h) places the L2 activations and every
// staging part (an ExtraBuffer named "<layer> staging" / "<layer> prefetch" live at its steps); when fragmentation
// makes it overflow, the budgets shrink by the overflow and the layers are tiled again (a few rounds). The L3 plan
// places the L3 activations after the L3 constants with the same planner.
//
// Diagnostics: "l3-overflow" (severity Infeasible, exit code 2) when the L3 constants and activations exceed L3;
// "l2-overflow" as memplan.h when even with everything movable in L3 the bound does not fit (the message says what
// is in L3 already); "l3-infeasible" from the tiler when a layer's staging cannot fit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "memplan/constant_layout.h"
#include "memplan/memplan.h"
#include "target/target.h"
#include "tiler/l3_plan.h"
#include "tiler/plan.h"
#include "util/diagnostic.h"

namespace dory {

enum class L3Mode {
  Auto,  // use L3 only when the network does not fit L2 (the default)
  Off,   // never (a network that does not fit is refused with l2-overflow)
};

struct TwoLevelOptions {
  L3Mode mode = L3Mode::Auto;
  int64_t l2_capacity_bytes = 0;  // what the network may use of L2 (constants + activations + staging)
  int64_t l1_budget_bytes = 0;
  Objective objective = Objective::Model;
  int64_t l2_alignment = 8;       // of every L2 activation and staging part
  // For tests (the fuzzer, the end-to-end tests): put these layers' constants / these tensors (storage classes)
  // in L3 whether or not L2 would hold them, and cap every layer's staging budget (0: no cap) so that the L3
  // tiles get small.
  std::vector<std::string> force_weights_l3;  // layer names
  std::vector<std::string> force_tensors_l3;  // tensor names
  int64_t staging_cap_bytes = 0;
  bool prefetch = true;           // allow the cross-layer prefetch of the first weight block
  bool refine_spills = true;      // step 3b: spill more feature maps where that makes the network faster
  // An L2 buffer live at every step (the generated main.c reads L3 tensors through it to check them); 0: none.
  int64_t check_bounce_bytes = 0;
};

// Where one plan's staging parts are in L2 (absolute offsets from the L2 base; -1: the part is empty).
struct StagingPlacement {
  int64_t part_offset[2] = {-1, -1};
  int extra[2] = {-1, -1};  // their ExtraBuffer index in l2.extras
};

struct TwoLevelPlan {
  bool uses_l3 = false;
  std::vector<char> tensor_in_l3;           // per TensorId (every member of a storage class alike)
  std::vector<L3Residency> residency;       // per plan (plans of plan_network, in order)
  std::vector<std::optional<L3Plan>> tilings;  // per plan: its L3 tiling when residency.any()
  std::vector<StagingPlacement> staging;    // per plan
  ConstantLayout l2_constants, l3_constants;  // per plan: the parts in that level (-1 elsewhere)
  MemoryPlan l2;                            // L2: constants [0, l2_constants.bytes), activations and staging
  MemoryPlan l3;                            // L3: constants [0, l3_constants.bytes), activations
  int check_bounce_extra = -1;              // its ExtraBuffer in l2.extras (-1: none)
  int rounds = 0;                           // tilings made until the L2 plan fitted
  std::vector<std::string> notes;           // what moved to L3 and why, for reports

  int64_t l3_bytes() const { return uses_l3 ? l3.total_bytes : 0; }
  bool weights_in_l3(size_t plan) const { return residency.at(plan).weights_in_l3; }
};

// The plan of both levels for `plans` (plan_network's, in layer order). Without L3 (a target without one, mode
// Off, or a network that fits L2 and nothing forced) it is the L2 plan alone (uses_l3 false).
Expected<TwoLevelPlan> plan_two_levels(const Graph& g, const std::vector<TilePlan>& plans, const Target& target,
                                       const TwoLevelOptions& options);

// Checks what the L3 parts of a plan promise: every layer's residency is its tensors' levels and its constants';
// each L3 plan's staging parts are where l2 placed them, of the sizes its layout gives, live at its step (and at
// the previous layer's when it prefetches); l3 holds exactly the L3 tensors; constants are in exactly one level.
// Code "memplan-invalid" (Internal).
Status check_two_levels(const Graph& g, const std::vector<TilePlan>& plans, const TwoLevelPlan& p);

}  // namespace dory
