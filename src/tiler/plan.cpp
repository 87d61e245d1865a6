#include "tiler/plan.h"

#include <fmt/format.h>

namespace dory {

namespace {

std::string dominant_phrase(const LayerGeometry& g, const MinimalLayout& m) {
  const L1Buffer* dom = nullptr;
  for (const L1Buffer& b : m.layout.buffers)
    if (!dom || b.bytes() > dom->bytes()) dom = &b;
  if (!dom) return "";
  std::string what;
  switch (dom->role) {
    case BufferRole::Input:
      what = g.num_inputs() > 1 ? fmt::format("input {}", dom->operand) : "the input tile";
      break;
    case BufferRole::Weights: what = "weights"; break;
    case BufferRole::Bias: what = "bias"; break;
    case BufferRole::RequantParams: what = "requant parameters"; break;
    case BufferRole::Output: what = "the output tile"; break;
    case BufferRole::PartialSums: what = "partial sums"; break;
    case BufferRole::Scratch: what = "the kernel's scratch (im2col)"; break;
  }
  std::string at;
  if (m.counts_whole) {
    at = "as one tile";
  } else {
    const TileShape& s = m.shape;
    at = fmt::format("at {} output channel{}, {}x{} output pixel{}", s.c_out, s.c_out == 1 ? "" : "s", s.h_out,
                     s.w_out, s.h_out * s.w_out == 1 ? "" : "s");
    if (!g.channels_tied && g.cin_tileable)
      at += fmt::format(", {} input channel{}", s.c_in, s.c_in == 1 ? "" : "s");
    if (dom->copies == 2) at += ", double buffered";
  }
  return fmt::format("{} alone need{} {} B {}", what, dom->role == BufferRole::Weights ||
                                                              dom->role == BufferRole::PartialSums ||
                                                              dom->role == BufferRole::RequantParams
                                                          ? ""
                                                          : "s",
                     format_bytes_grouped(dom->bytes()), at);
}

// The shape, buffering and everything that follows from them (counts, last tiles, layout, cost).
void set_tiling(TilePlan& plan, const TileShape& shape, const Buffering& buffering, const Target& target) {
  const LayerGeometry& geom = plan.geometry;
  plan.shape = shape;
  plan.buffering = buffering;
  plan.counts = tile_counts(geom, plan.shape);
  plan.last = {geom.c_out - (plan.counts.c_out - 1) * plan.shape.c_out,
               geom.h_out - (plan.counts.h - 1) * plan.shape.h_out,
               geom.w_out - (plan.counts.w - 1) * plan.shape.w_out,
               geom.channels_tied ? geom.c_out - (plan.counts.c_out - 1) * plan.shape.c_out
                                  : geom.c_in - (plan.counts.c_in - 1) * plan.shape.c_in};
  plan.layout = plan_l1_layout(geom, plan.shape, plan.buffering, target);
  DORY_CHECK(plan.layout.total_bytes <= plan.l1_budget_bytes, "tiler: planned layout exceeds the L1 budget");
  plan.cost = model_layer(target, geom, plan.shape, plan.buffering);
}

}  // namespace

Expected<TilePlan> plan_geometry(const LayerGeometry& geom, const std::string& location, const Target& target,
                                 int64_t l1_budget_bytes, Objective objective) {
  TilePlan plan;
  plan.layer = geom.layer;
  plan.objective = objective;
  plan.l1_budget_bytes = l1_budget_bytes;
  std::optional<Candidate> best = solve_tiling(geom, target, l1_budget_bytes, objective, &plan.stats);
  if (!best) {
    MinimalLayout m = minimal_l1_layout(geom, target, objective);
    Diagnostic d = make_error(
        "tiler-infeasible", location,
        fmt::format("no tiling of '{}' fits L1: needs {} B, has {} B ({})", geom.layer,
                    format_bytes_grouped(m.l1_bytes), format_bytes_grouped(l1_budget_bytes),
                    dominant_phrase(geom, m)),
        fmt::format("--l1 {}{}", format_kib_ceil(m.l1_bytes),
                    objective == Objective::Model ? "" : ", or --objective model (double buffering is optional)"));
    d.severity = Severity::Infeasible;
    return d;
  }
  plan.geometry = geom;
  set_tiling(plan, best->shape, best->buffering, target);
  plan.objective_value = best->value;
  return plan;
}

Expected<TilePlan> plan_layer(const Graph& g, const Layer& layer, const Target& target, int64_t l1_budget_bytes,
                              Objective objective) {
  DORY_TRY(LayerGeometry geom, layer_geometry(g, layer));
  DORY_TRY(TilePlan plan, plan_geometry(geom, fmt::format("layer '{}' ({})", layer.name, layer_kind_name(g, layer)),
                                        target, l1_budget_bytes, objective));
  for (size_t i = 0; i < g.layers.size(); ++i)
    if (&g.layers[i] == &layer) plan.layer_index = static_cast<int>(i);
  plan.layer = layer.name;
  return plan;
}

TilePlan plan_with_shape(const TilePlan& like, const TileShape& shape, const Buffering& buffering,
                         const Target& target) {
  TilePlan plan;
  plan.layer_index = like.layer_index;
  plan.layer = like.layer;
  plan.geometry = like.geometry;
  plan.objective = like.objective;
  plan.l1_budget_bytes = like.l1_budget_bytes;
  DORY_CHECK(valid_shape(plan.geometry, shape), fmt::format("plan_with_shape: an invalid shape for '{}'", plan.layer));
  set_tiling(plan, shape, buffering, target);
  plan.objective_value = plan.cost.total_cycles;
  return plan;
}

Expected<std::vector<TilePlan>> plan_network(const Graph& g, const Target& target, int64_t l1_budget_bytes,
                                             Objective objective) {
  std::vector<TilePlan> plans;
  for (const Layer& l : g.layers) {
    if (!needs_l1_plan(l)) continue;
    DORY_TRY(TilePlan p, plan_layer(g, l, target, l1_budget_bytes, objective));
    plans.push_back(std::move(p));
  }
  return plans;
}

}  // namespace dory
