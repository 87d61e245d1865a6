// Exact tiling search: the global optimum of an objective over the whole space
//   c_out in [1, C_out], h_out in [1, H_out], w_out in [1, W_out], c_in in [1, C_in] (or = c_out when tied),
//   buffering in {0,1}^3 (model) or all double buffered (dory, fill),
// subject to l1_layout_bytes(...) <= l1_budget_bytes; the first candidate in the canonical order of
// objective.h. For dory and fill, a layer whose whole single tile fits (no double buffering) is that one tile
// (DORY's rule); for model that tile is one candidate among the others, so the optimum's cycles never grow with
// the budget. Branch-and-bound with valid bounds, no time limit and no heuristic: docs/cost-model.md gives the
// bounds and why each is valid; tests/unit/tiler_search_test.cpp checks the result against brute force.
#pragma once

#include <cstdint>
#include <optional>

#include "target/target.h"
#include "tiler/geometry.h"
#include "tiler/l1_layout.h"
#include "tiler/objective.h"

namespace dory {

struct SearchStats {
  int64_t nodes = 0;        // bound evaluations
  int64_t evaluations = 0;  // full objective evaluations
};

// Checks and knobs for testing the search; the defaults are what plan_layer uses.
struct SearchOptions {
  // Seed good incumbents before the exact search (speed only: the result is the same without).
  bool seed = true;
  // The checker: every time a bound prunes a part of the space, enumerate that part and abort (internal error)
  // if any feasible candidate in it comes before the incumbent in the canonical order. Exponential: small
  // layers only (the tests).
  bool verify_prunes = false;
};

// The optimum, or nullopt when nothing fits the budget.
std::optional<Candidate> solve_tiling(const LayerGeometry& g, const Target& target, int64_t l1_budget_bytes,
                                      Objective objective, SearchStats* stats = nullptr,
                                      const SearchOptions& options = {});

// Every feasible candidate, scored, in no particular order: the brute force the tests compare against (small
// layers only). Uses the same feasibility and scoring as solve_tiling (the whole-layer rule of dory and fill
// included: when the whole layer fits, their only candidate is the one tile).
std::vector<Candidate> enumerate_tilings(const LayerGeometry& g, const Target& target, int64_t l1_budget_bytes,
                                         Objective objective);

// The smallest L1 budget with which objective o finds a tiling (exact: the minimum of the layout size over the
// whole space, with the buffering o allows), with the shape, buffering and layout that achieve it.
struct MinimalLayout {
  int64_t l1_bytes = 0;
  TileShape shape;
  Buffering buffering;
  L1Layout layout;
  bool counts_whole = false;  // the minimum is the whole layer as one tile (dory, fill: no double buffering)
};
MinimalLayout minimal_l1_layout(const LayerGeometry& g, const Target& target, Objective o);

}  // namespace dory
