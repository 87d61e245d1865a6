// What streaming from L3 costs, executed: every layer of a network that streams from L3 timed twice on GVSoC,
// as it runs in the network and alone with every operand in L2 (issue 15: "every layer whose L3 traffic fits
// under its compute time within 5 % of its L2-resident time").
//
// In the network: the network deployed as `dory run` deploys it (the target's L2, L3 where it must), run once;
// each layer's time is the fabric controller's cycles over the whole layer (HostLayerResult::elapsed: the fork,
// the descriptor, its L3 transfers and waits, the prefetch it issues for the next layer, the join).
// L2-resident: the same layer alone (ir/subgraph.h single_layer_graph, on the values the network gave its
// inputs), deployed with --l3 off on the same target with a larger L2 (reference_l2_bytes), at the same L1 budget
// and objective, run on GVSoC, timed the same way. The chip's 512 kB L2 cannot hold the layers that stream (that is
// why they do), but GVSoC's pulp-open model maps 1,638,400 B of L2 (gvsoc-pulp pulp/chips/pulp_open/soc.json:
// l2.size 0x190000 from 0x1C000000, of which dory reserves the first 32 kB as on the chip): a measuring
// configuration, never a deployment. The L2-resident layer is tiled L2 -> L1 by its own best plan, not by the
// sub-layers' plans: the comparison is with the layer as dory would run it if it fitted.
// Both runs check every layer bit for bit against the reference executor.
//
// hidden(): the L3 engine's time for the layer's transfers (L3Cost::l3_transfer_cycles, from the engine's
// measured bandwidth and fixed costs) is at most the executed L2-resident time, i.e. the traffic can fit under the
// computation. overhead(): executed in the network / L2-resident - 1.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "codegen/host_run.h"
#include "ir/graph.h"
#include "target/target.h"
#include "tiler/objective.h"
#include "util/diagnostic.h"

namespace dory {

// GVSoC's pulp-open L2 (soc.json l2.size): what the L2-resident runs may use.
inline constexpr int64_t kGvsocPulpOpenModelL2Bytes = 0x190000;

struct L3OverheadOptions {
  int64_t l1_budget_bytes = 0;                           // 0: the target's usable L1
  int64_t reference_l2_bytes = kGvsocPulpOpenModelL2Bytes;  // the L2-resident runs' L2 size_bytes
  Objective objective = Objective::Model;
  std::vector<std::string> force_weights_l3;  // for tests: as DeployOptions (small networks that fit L2)
  std::string work_dir;                       // empty: a temporary directory, removed
  uint64_t seed = 1;                          // the network's random inputs
  int timeout_s = 1800;                       // per GVSoC run
  const PulpOpenRuntime* runtime = nullptr;   // null: compiled in the work directory
  std::function<void(const std::string&)> progress;
};

struct L3OverheadLayer {
  int layer_index = -1;  // in Graph::layers (and the deployment's layer order)
  std::string name, kind;
  int64_t macs = 0;
  int64_t l3_bytes = 0;              // moved between L3 and L2 per inference (the plan's)
  int64_t l3_tiles = 0;              // sub-layers
  double l3_engine_cycles = 0;       // modeled: the L3 engine's time for them (L3Cost::l3_transfer_cycles)
  bool modeled_l3_bound = false;     // L3Cost::l3_bound(): the model says the traffic cannot hide
  double modeled_cycles = 0;         // the two-level model of the layer (less what the prefetch hides)
  double modeled_l2_cycles = 0;      // the model of its L2 plan in the network's deployment
  int64_t executed = -1;             // elapsed in the network
  int64_t l2_resident = -1;          // elapsed alone, every operand in L2
  int64_t l2_resident_tiles = 0;
  bool hidden() const { return l2_resident > 0 && l3_engine_cycles <= static_cast<double>(l2_resident); }
  double overhead() const {
    return l2_resident > 0 ? static_cast<double>(executed) / static_cast<double>(l2_resident) - 1 : 0;
  }
};

struct L3OverheadResult {
  std::vector<L3OverheadLayer> layers;  // the layers that stream, in order
  int64_t network_cycles = 0;           // sum of every layer's elapsed in the network run
  int deployed_layers = 0;
};

// Errors: GVSoC or the toolchain missing, a deployment's own diagnostics (e.g. a layer that does not fit even the
// reference L2), a run that does not reproduce the reference ("eval-execution-mismatch"), "l3-overhead-no-l3" when
// nothing streams.
Expected<L3OverheadResult> measure_l3_overhead(const Graph& g, const Target& target, const L3OverheadOptions& options);

}  // namespace dory
