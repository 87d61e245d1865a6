// Tile reports: what the tiler decided for a network, and how the modeled latency depends on the L1 budget.
//
// TileReport (dory tile): one row per layer that runs on L1 tiles (plan_network: views and concats need no plan
// and cost nothing), in the graph's order:
//   tile       body tile c_out x h_out x w_out (output channels, rows, columns) and c_in (input channels of a
//              tile; for depthwise, pool and add layers it equals c_out)
//   tiles      tile counts per dimension, c_out x h x w x c_in, and their product
//   buffering  which L1 buffers are double buffered: i(nput), w(eights, with bias and requant), o(utput); '-'
//              marks a single buffer ("iwo" = all double buffered, "---" = none)
//   L1         bytes of the planned L1 layout (l1_layout.h) / the L1 budget the tiler was given
//   DMA        bytes moved between L2 and L1 over the whole layer (loads and stores)
//   cycles     modeled layer latency (layer_model.h), cluster clock cycles
//   MAC/cyc    MACs / cycles over the whole cluster (all cores); '-' for pool and add layers (no MACs)
//   vs L1      modeled cycles / the same layer with all its data resident in L1 (one kernel call) - 1
// Network totals: the sum of the layers' cycles (layers run one after the other; nothing overlaps across
// layers in the model), the latency at the target's clock, MACs / cycles, and the overhead against the sum of
// the L1-resident cycles.
//
// Sweep (dory sweep): for each L1 budget and objective, plan_network at that budget. A budget at which some layer
// has no tiling is an infeasible point; it names the first such layer (in layer order). Each objective also gets
// the exact smallest budget at which the whole network is feasible: the largest over layers of
// minimal_l1_layout (search.h), with the layer that sets it.
//
// Renderings: aligned text (or the same table as markdown), JSON with stable keys (bytes and counts as integers,
// cycles as numbers), and for sweeps an SVG line plot (svg_plot.h) of latency in ms against the budget in kB
// (1 kB = 1024 B, as everywhere in dory), infeasible budgets shaded.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "ir/graph.h"
#include "target/target.h"
#include "tiler/plan.h"

namespace dory {

struct TileReport {
  std::string model;   // a label for the network (usually the ONNX file name)
  std::string target;  // Target::name
  int64_t clock_hz = 0;
  int64_t cores = 1;
  Objective objective = Objective::Model;
  int64_t l1_budget_bytes = 0;
  int64_t l1_usable_bytes = 0;  // the target's usable L1 (the budget may differ: --l1)

  std::vector<TilePlan> plans;     // one per planned layer, in graph order
  std::vector<std::string> kinds;  // layer_kind_name of each plan's layer

  int64_t total_macs = 0;
  double total_cycles = 0;
  double total_l1_resident_cycles = 0;
  int64_t total_dma_bytes = 0;
  int64_t peak_l1_bytes = 0;  // the largest layer layout
  int skipped_layers = 0;     // layers that need no plan (views, concats)

  double latency_ms() const { return clock_hz > 0 ? total_cycles / static_cast<double>(clock_hz) * 1e3 : 0; }
  double macs_per_cycle() const { return total_cycles > 0 ? static_cast<double>(total_macs) / total_cycles : 0; }
  double overhead_vs_l1() const {
    return total_l1_resident_cycles > 0 ? total_cycles / total_l1_resident_cycles - 1 : 0;
  }
};

// plan_network + the totals. Fails with the tiler's diagnostic (an infeasible layer: severity Infeasible).
Expected<TileReport> tile_network(const Graph& g, const Target& target, int64_t l1_budget_bytes, Objective objective,
                                  std::string model_label);

// The report of plans already made (plan_network's result for g, target, budget and objective).
TileReport make_tile_report(const Graph& g, const Target& target, std::vector<TilePlan> plans, int64_t l1_budget_bytes,
                            Objective objective, std::string model_label);

// A header line (model, target, objective, budget), the per-layer table, the totals and a legend.
std::string render_tile_text(const TileReport& r, bool markdown = false);
nlohmann::json tile_report_to_json(const TileReport& r);

// The same network and budget under several objectives, side by side: per layer the tile and MAC/cycle (cycles
// in the JSON) under each, and the ratio of the worst to the best; totals. Every report must have the same layers.
std::string render_objective_comparison(std::span<const TileReport> reports, bool markdown = false);
nlohmann::json objective_comparison_to_json(std::span<const TileReport> reports);

// ---- sweeps over the L1 budget ----

struct SweepPoint {
  int64_t l1_bytes = 0;
  bool feasible = false;
  double cycles = 0;  // network total (feasible points)
  double macs_per_cycle = 0;
  int64_t dma_bytes = 0;
  std::string infeasible_layer;  // the first layer without a tiling (infeasible points)
  std::string diagnostic;        // the tiler's message for it
};

struct SweepSeries {
  Objective objective = Objective::Model;
  std::vector<SweepPoint> points;     // one per budget, in the order given
  int64_t min_feasible_l1_bytes = 0;  // exact: the network is feasible at every budget >= this
  std::string min_feasible_layer;     // the layer that needs it
};

struct SweepResult {
  std::string model, target;
  int64_t clock_hz = 0;
  int64_t total_macs = 0;
  int64_t l1_usable_bytes = 0;
  std::vector<int64_t> l1_points;
  std::vector<SweepSeries> series;  // one per objective, in the order given

  double latency_ms(double cycles) const { return clock_hz > 0 ? cycles / static_cast<double>(clock_hz) * 1e3 : 0; }
};

// Called after each (budget, objective) point with the number done and the total.
using SweepProgress = std::function<void(size_t done, size_t total)>;

// Fails only for errors other than infeasibility (e.g. a layer the tiler cannot represent).
Expected<SweepResult> sweep(const Graph& g, const Target& target, std::span<const Objective> objectives,
                            std::span<const int64_t> l1_points, std::string model_label,
                            const SweepProgress& progress = {});

// One row per budget: latency (ms), cycles and MAC/cycle per objective ("infeasible: <layer>" where it is),
// then each objective's smallest feasible budget.
std::string render_sweep_text(const SweepResult& s, bool markdown = false);
nlohmann::json sweep_to_json(const SweepResult& s);
// Latency (ms) against the L1 budget (kB); one line per objective; budgets below the smallest feasible one
// shaded; the target's usable L1 marked.
std::string render_sweep_svg(const SweepResult& s);

}  // namespace dory
