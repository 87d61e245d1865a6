// The L3 level of a deployment, as dory's reports show it (dory deploy, dory run, dory tile): what lives in L3,
// which layers stream from it and how (their L3 tiles, the L2 staging they use, the bytes they move, whether the
// L3 traffic or the computation bounds them), next to the same layer's plan as if it were in L2.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

#include "codegen/deployment.h"
#include "eval/l3_overhead.h"

namespace dory {

// On a target with L3: the deployment of g (dory deploy's plan, nothing written) when some operand streams from L3,
// else nothing (a network that fits L2, or a target without L3). For reports that otherwise price every operand
// in L2 (dory tile, dory eval).
Expected<std::optional<Deployment>> l3_deployment(const Graph& g, const Target& target, int64_t l1_budget_bytes,
                                                  Objective objective);

// "w+in: 4 x 1 (8 rows x 128 ch) pf": what the layer streams (w its constants, in/out its feature maps), its L3
// tiles (row bands x output-channel blocks, each band's rows and block's channels), "pf" when its first weight
// block is prefetched during the previous layer.
std::string l3_tiling_cell(const L3Plan& plan);

// The lines of a deployment that uses L3: L3 occupancy (constants, activations), the streaming layers and their
// traffic, and the memory plan's notes (what moved to L3 and why). Empty when nothing is in L3.
std::string l3_summary(const Deployment& dep);

// l3_summary and a table of the streaming layers: their L3 tiling, L2 staging bytes, L3 bytes moved, the L3
// engine's time against the sub-layers' computation (L3-bound when the traffic cannot hide), the two-level
// schedule's modeled cycles (less what the prefetch hides) against the layer's L2 plan. Empty without L3.
std::string render_l3_level(const Deployment& dep, bool markdown = false);

// The same as JSON: {"l3_bytes", "l3_constant_bytes", "l3_traffic_bytes", "notes", "layers": [{"index", "layer",
// "streams" (weights/inputs/output), "bands", "blocks", "band_rows", "block_channels", "prefetch",
// "staging_bytes", "l3_bytes", "l3_engine_cycles", "sub_layer_cycles", "l3_bound", "modeled_cycles",
// "in_l2_cycles"}]}; null without L3.
nlohmann::json l3_level_to_json(const Deployment& dep);

// The executed L3 overhead (eval/l3_overhead.h) as a markdown table, one row per streaming layer: MACs, L3 bytes
// and tiles, the L3 engine's modeled time, the layer's executed cycles alone in L2 and in the network, the ratio,
// whether the traffic fits under the L2-resident time, the two-level model and its error; then the summary lines:
// the layers whose traffic hides (count, worst and mean overhead) and the others.
std::string render_l3_overhead(const L3OverheadResult& r);

}  // namespace dory
