// Tiling objectives and the canonical order of candidates: what "best" means, including every tie.
//
//   model (default)  minimize model_layer(...).total_cycles; tile sizes AND buffering are chosen.
//   dory             DORY's heuristic (pulp-platform/dory, Hardware_targets/PULP/Common/Tiler: tiler_conv2d.py,
//                    tiler_pool2d.py, tiler_add.py, get_tiling_*_L2): maximize L1 bytes used plus DORY's
//                    bonuses, with DORY's weights (docs/cost-model.md lists them per family). Always double
//                    buffered, as DORY.
//   fill             maximize L1 bytes used (the largest tiles that fit). Always double buffered.
// dory, fill: a layer whose whole single tile fits L1 (no double buffering) is one tile (DORY's rule). model: the
// whole layer as one tile is one candidate among the pipelined tilings (the modeled optimum is then monotone in
// the L1 budget: a larger budget only adds candidates).
//
// Canonical order (first difference decides; "better" first):
//   model:      cycles ascending, L1 bytes ascending, then the tie-break below
//   dory, fill: objective value descending, then the tie-break below
//   tie-break:  tile count ascending, c_out, h_out, w_out, c_in descending, buffering bits ascending
//               (input = 1, weights = 2, output = 4)
// The search (search.h) returns the first candidate of this order among all feasible ones.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "target/target.h"
#include "tiler/geometry.h"
#include "tiler/tile.h"

namespace dory {

enum class Objective { Model, Dory, Fill };
const char* objective_name(Objective o);  // "model", "dory", "fill"
std::optional<Objective> parse_objective(std::string_view name);

// A scored candidate. value: cycles (model) or the maximized integer score (dory, fill), as a double.
struct Candidate {
  TileShape shape;
  Buffering buffering;
  double value = 0;
  int64_t l1_bytes = 0;
  int64_t tiles = 0;
};

// True when a comes strictly before b in the canonical order of objective o.
bool better(Objective o, const Candidate& a, const Candidate& b);

// DORY's heuristic score of a shape whose layout takes l1_bytes (the dory objective's value).
int64_t dory_score(const LayerGeometry& g, const TileShape& s, int64_t l1_bytes);

}  // namespace dory
