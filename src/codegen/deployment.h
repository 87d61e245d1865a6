// Deployment: everything the generated application is made of, computed once and shared by the C emitter
// (emit_c.h), the static schedule checker (schedule_check.h) and the in-process runs of the tests.
//
// deploy(graph, target, options):
//   1. plans every layer that runs on L1 tiles (tiler/plan.h) for the L1 budget and objective;
//   2. writes the constants in L2 where memplan/constant_layout.h puts them: per layer its weights
//      ([C_out][kh][kw][C_in] int8; depthwise [C][kh][kw]), bias ([C_out] int32) and per-channel requantization
//      records ([C_out][k], mul first, int64 when wide, int32 otherwise: the layout the tiler's transfers slice),
//      each aligned to 8 bytes, from offset 0;
//   3. plans the activations after the constants (memplan/memplan.h), failing with l2-overflow when the L2 budget
//      is too small;
//   3b. when L2 cannot hold them (and the target has an L3), plans both levels instead (memplan/l3_memplan.h):
//      some constants and feature maps in L3, the layers that touch them tiled L3 -> L2 (tiler/l3_plan.h), their
//      staging in the L2 plan;
//   4. builds each layer's runtime descriptor (dory_layer, runtime/include/dory/layer.h) from its TilePlan, its
//      L1Layout (the offsets the tiler checked) and the memory plan: THE descriptor, which the emitter prints as C
//      and the checker and tests execute as is.
// Layers that need no plan (views, concatenations) move no data and get no descriptor.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dory/l3.h"
#include "dory/layer.h"
#include "ir/graph.h"
#include "memplan/l3_memplan.h"
#include "memplan/memplan.h"
#include "target/target.h"
#include "tiler/objective.h"
#include "tiler/plan.h"
#include "util/diagnostic.h"

namespace dory {

// Where the generated application is meant to run: the Makefile's default goal, `make run`, and (pulp-open) the
// program image the L2 budget accounts for (codegen/l2_image.h).
enum class AppPlatform { Host, Qemu, PulpOpen };
const char* app_platform_name(AppPlatform p);  // "host", "qemu", "pulp-open"

// How the generated application checks each layer against the reference executor (its goldens):
//   Crc   a CRC-32 of each layer's output (dory/crc32.h): 4 bytes per layer; a mismatch names the layer;
//   Full  every layer's whole expected output: the first mismatching element (layer, tile, index), for debugging;
//   None  no check (production): the application runs the network on its input and reports no verdict.
enum class CheckMode { Crc, Full, None };
const char* check_mode_name(CheckMode m);  // "crc", "full", "none"

// One layer's own tiling options: an L1 budget below the deployment's and another objective. The application's L1
// stays the deployment's budget (every layer's layout fits in it, each from offset 0); only that layer's tiling
// search is bounded by its own. For deployments of unrelated layers planned each its own way: dory's GVSoC
// deployment fuzz puts many random layers, each with a random budget and objective, in one application
// (tests/fuzz/deploy_fuzz.cpp --platform gvsoc).
struct LayerPlanOptions {
  int64_t l1_budget_bytes = 0;        // 0: the deployment's; else at most the deployment's
  std::optional<Objective> objective;  // none: the deployment's
};

struct DeployOptions {
  int64_t l1_budget_bytes = 0;  // 0: the target's usable L1
  int64_t l2_budget_bytes = 0;  // 0: the target's usable L2, less the program image where it is in L2 (with the
                                // pulp-open platform, never more than that); > 0 on another platform: as given
  Objective objective = Objective::Model;
  CheckMode check = CheckMode::Crc;
  AppPlatform platform = AppPlatform::Host;
  // L3 (memplan/l3_memplan.h): Auto streams what does not fit L2 from the target's L3; Off refuses it
  // (l2-overflow). The rest is for tests: force constants / feature maps into L3, cap the L2 staging (small L3
  // tiles), switch the cross-layer prefetch off.
  L3Mode l3 = L3Mode::Auto;
  std::vector<std::string> force_weights_l3, force_tensors_l3;
  int64_t l3_staging_cap_bytes = 0;
  bool l3_prefetch = true;
  // Non-empty: these plans (one per layer that needs one, in order, each within the L1 budget; e.g. the
  // L1-resident plans of eval/execute.h) instead of planning with `objective`.
  std::vector<TilePlan> plans;
  // By layer name (a layer of the graph that is tiled in L1; "deploy-layer-options" otherwise, or for a budget
  // above the deployment's).
  std::map<std::string, LayerPlanOptions> layer_options;
};

struct DeployedLayer {
  int layer_index = -1;                  // in Graph::layers
  TilePlan plan;
  int64_t weights_offset = -1, bias_offset = -1, requant_offset = -1;  // in the constants (-1: none)
  std::vector<dory_requant_divisor> count_div;  // average pooling: the divisors desc.count_div points at

  // The registry kernel that computes the layer's tiles on the deployment's target (plan.geometry.kernel).
  const RegistryKernel& kernel(const Target& target) const { return *plan.geometry.kernel(target).kernel; }
  // The runtime descriptor with its pointers (name, count_div) into this object: valid while it lives unmoved.
  // Its kernel is NULL: the compiler never calls kernels; the emitted C names it (codegen/emit_c.h).
  dory_layer descriptor() const;
  dory_layer desc{};                     // pointers left null; use descriptor()

  // A layer with operands in L3 (dory/l3.h): its L3 plan, the sub-layers' templates and its two-level descriptor.
  // `desc` then describes the whole layer for reports and checks (its L1 fields empty; the emitted C points its
  // `l3` at the two-level descriptor).
  struct L3Part {
    L3Plan plan;
    std::vector<dory_layer> subs;        // [band class][block class]; name and count_div pointers left null
    std::vector<std::string> sub_names;
    std::vector<uint8_t> band_class;     // per band
    double hidden_cycles = 0;            // the part of its prologue its prefetch hides under the previous layer
    dory_l3_layer desc{};                // pointers left null; use l3_descriptor()
  };
  std::optional<L3Part> l3;
  bool constants_in_l3() const { return l3 && l3->plan.residency.weights_in_l3; }
  // The two-level descriptor with its pointers into this object, its sub-layer templates (with names and divisors)
  // put into `subs` (which must outlive the descriptor's use).
  dory_l3_layer l3_descriptor(std::vector<dory_layer>& subs) const;
};

struct Deployment {
  Graph graph;
  Target target;
  DeployOptions options;
  int64_t l1_bytes = 0;                  // the L1 budget every plan honors (= the L1 the application gets)
  int64_t l1_peak_bytes = 0;             // the largest layout of any layer
  std::vector<DeployedLayer> layers;     // in execution order
  std::vector<uint8_t> constants;        // the L2 image of [0, constants.size())
  MemoryPlan memory;                     // activations (and L3 staging), after the constants

  // L3 (when some layer streams from it): the two-level plan, the constants in L3 (L3 [0, l3_constants.size())),
  // the check buffer main.c reads L3 tensors through (an L2 region live at every step).
  bool uses_l3 = false;
  TwoLevelPlan two_level;
  std::vector<uint8_t> l3_constants;
  int64_t check_bounce_offset = -1, check_bounce_bytes = 0;

  int64_t l2_bytes() const { return memory.total_bytes; }
  int64_t l3_bytes() const { return uses_l3 ? two_level.l3.total_bytes : 0; }
  bool tensor_in_l3(TensorId t) const {
    return uses_l3 && two_level.tensor_in_l3.at(static_cast<size_t>(t)) != 0;
  }
  // The L2 offset of a tensor's first element (its storage; aliases resolve to their owner); the tensor must be in
  // L2.
  int64_t tensor_l2_offset(TensorId t) const;
  // The offset of a tensor's first element in its level (L3 when tensor_in_l3).
  int64_t tensor_offset(TensorId t) const;
};

Expected<Deployment> deploy(const Graph& g, const Target& target, const DeployOptions& options);

// Packs values (one int32 per element) into the dtype's little-endian bytes, and back.
std::vector<uint8_t> pack_values(const std::vector<int32_t>& values, DType t);
int32_t unpack_value(const uint8_t* bytes, DType t, size_t index);

// The layer's requantization (conv/fc when present, average pool, add, requantize), or nullptr.
const Requant* layer_requant(const Layer& l);

// The per-channel requantization records of rq for `channels` channels (empty when per tensor).
std::vector<uint8_t> requant_records(const Requant& rq, int64_t channels);
// The requantization's constant kernel arguments (channel_params left null: the executor points it at L1).
dory_requant_args requant_args(const Requant& rq);
// The divisor of D * count for both the 64- and (when not wide) 32-bit paths.
dory_requant_divisor requant_divisor(const Requant& rq, uint64_t count);

}  // namespace dory
