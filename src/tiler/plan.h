// TilePlan: the tiler's result for one layer (what the CLI prints, the code generator emits and the simulator
// replays), and the entry points plan_layer / plan_network.
//
// Infeasible layers (no tiling fits the budget) are a Diagnostic with severity Infeasible (exit code 2), code
// "tiler-infeasible", location "layer '<name>' (<kind>)", naming the smallest L1 budget that works (exact) and
// the buffer that dominates that minimal layout, e.g.
//   no tiling of 'conv_7' fits L1: needs 70,144 B, has 36,700 B (weights alone need 36,864 B at one output
//   channel); hint: --l1 69k
// A layer the tiler cannot represent is an error "tiler-unsupported-layout" (exit code 1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "target/target.h"
#include "tiler/geometry.h"
#include "tiler/l1_layout.h"
#include "tiler/layer_model.h"
#include "tiler/objective.h"
#include "tiler/search.h"
#include "tiler/tile.h"
#include "util/byte_size.h"  // the diagnostics' and reports' sizes (format_bytes_grouped, format_kib_ceil)

namespace dory {

struct TilePlan {
  int layer_index = -1;          // index in Graph::layers
  std::string layer;             // its name
  LayerGeometry geometry;
  Objective objective = Objective::Model;
  int64_t l1_budget_bytes = 0;

  TileShape shape;               // body tile sizes
  TileShape last;                // the last tile's size in each dimension
  TileCounts counts;             // tiles per dimension
  Buffering buffering;
  L1Layout layout;               // layout.total_bytes <= l1_budget_bytes
  LayerCost cost;                // model_layer(shape, buffering)
  double objective_value = 0;    // what the search optimized (cycles for model, the score for dory/fill)
  SearchStats stats;

  int64_t macs() const { return geometry.macs(); }
  double macs_per_cycle() const { return cost.total_cycles > 0 ? static_cast<double>(macs()) / cost.total_cycles : 0; }
  double overhead_vs_l1() const { return cost.overhead_vs_l1(); }
  bool single_tile() const { return counts.total() == 1; }
};

// Plans a layer given by its geometry (the L2 -> L1 level pair); `location` names it in a diagnostic. The plan's
// layer is geom.layer and its layer_index -1 (plan_layer sets both for a layer of a graph).
Expected<TilePlan> plan_geometry(const LayerGeometry& geom, const std::string& location, const Target& target,
                                 int64_t l1_budget_bytes, Objective objective);

// Plans one layer (needs_l1_plan(layer) must hold) for the L2 -> L1 level pair.
Expected<TilePlan> plan_layer(const Graph& g, const Layer& layer, const Target& target, int64_t l1_budget_bytes,
                              Objective objective);

// The plan `like` (same layer, budget and objective) with another tile shape and buffering: counts, layout and
// cost recomputed, objective_value = the modeled cycles. The layout must fit like.l1_budget_bytes (internal check).
// E.g. the whole layer as one single-buffered tile (eval/execute.h's L1-resident deployment).
TilePlan plan_with_shape(const TilePlan& like, const TileShape& shape, const Buffering& buffering,
                         const Target& target);

// One plan per layer that needs one, in layer order. Stops at the first layer that fails.
Expected<std::vector<TilePlan>> plan_network(const Graph& g, const Target& target, int64_t l1_budget_bytes,
                                             Objective objective);

}  // namespace dory
