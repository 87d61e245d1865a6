// Evaluation: a network's modeled latency, throughput and energy under the execution modes of the DORY paper's
// evaluation (Burrello et al. 2019, Figure 3 and Table 1), per layer and for the whole network, side by side.
//
// Modes (EvalMode), all on one target and one L1 budget:
//   l1-resident   every operand already in L1: one kernel call on the whole layer (LayerCost::l1_resident_cycles,
//                 the paper's "L1 fetching"). A layer whose whole single-buffered layout does not fit the L1
//                 budget cannot run this way: its number is then the compute-only lower bound, and
//                 LayerEval::fits_l1 is false (the reports flag it).
//   l2-direct     the kernels read and write their operands in L2 directly, no DMA (the paper's "L2 fetching"):
//                 one call on the whole layer whose cores stall on every 32-bit load from L2. The model
//                 (docs/cost-model.md, "L2-direct execution") counts the loads from the kernels' register
//                 blocking and charges each (L2.access_cycles - L1.access_cycles) cycles; see l2_direct_call
//                 (tiler/l2_direct.h).
//   dory-model    DORY's software-managed L1 with dory's tiler, objective `model` (tiler/objective.h);
//   dory-dory     the same with DORY's own heuristic (objective `dory`);
//   dory-fill     the same with the largest tiles (objective `fill`).
// Every number of the modes is MODELED (the target's cost model, docs/cost-model.md); ModeCost::source says so
// per number. Executed numbers come separately (NetworkEval::executed, eval/execute.h): the L2-direct and DORY
// (model) passes run on rv32imc under QEMU, each layer checked bit for bit, with their retired instructions.
//
// Energy (energy_of, the formula of docs/targets.md "Energy", used for every mode):
//   E = T * cluster_idle_pj_per_cycle + (sum over cores of the cycles each executes kernel code at L1 speed)
//       * core_active_pj_per_cycle + DMA bytes * (pj_per_byte(L2) + pj_per_byte(L1)) + core L2 bytes * l2_pj_per_byte
// with T the mode's wall-clock cycles. Cycles a core waits (for a DMA, at a barrier, on a blocking L2 load) are
// paid as idle only. Active core cycles are summed over the cores' actual shares of every kernel call
// (kernel_core_cycles, plan_active_core_cycles: tiler/core_shares.h), not the busiest core times the core count.
// Cores pushing DMA commands are not counted as active (docs/targets.md counts compute cycles only).
//
// Units: cycles of the cluster clock (double), bytes, picojoules.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "target/cost_model.h"
#include "target/target.h"
#include "tiler/core_shares.h"
#include "tiler/l2_direct.h"
#include "tiler/plan.h"

namespace dory {

enum class EvalMode { L1Resident, L2Direct, Model, Dory, Fill };
inline constexpr EvalMode kAllEvalModes[] = {EvalMode::L1Resident, EvalMode::L2Direct, EvalMode::Model, EvalMode::Dory,
                                             EvalMode::Fill};
inline constexpr size_t kNumEvalModes = 5;
inline size_t mode_index(EvalMode m) { return static_cast<size_t>(m); }
const char* eval_mode_name(EvalMode m);   // "l1-resident", "l2-direct", "dory-model", "dory-dory", "dory-fill"
const char* eval_mode_title(EvalMode m);  // "L1-resident", "L2-direct", "DORY model", "DORY dory", "DORY fill"
// The tiler objective of a DORY mode (Model, Dory, Fill); the others are internal errors.
Objective eval_mode_objective(EvalMode m);

// Where a number comes from. Everything this file computes is Modeled.
enum class Provenance { Modeled, Executed };
const char* provenance_name(Provenance p);  // "modeled", "executed"

// ---- energy ----

struct EnergyInputs {
  double cycles = 0;              // wall-clock cycles T
  double active_core_cycles = 0;  // sum over cores of the cycles they execute kernel code at L1 speed
  double dma_bytes = 0;           // bytes a DMA engine moved between L2 and L1 (either direction)
  double core_l2_bytes = 0;       // bytes the cores themselves read from or wrote to L2
};

struct Energy {
  double idle_pj = 0;     // T * cluster_idle_pj_per_cycle
  double active_pj = 0;   // active core cycles * core_active_pj_per_cycle
  double dma_pj = 0;      // DMA bytes * (l2_pj_per_byte + l1_pj_per_byte)
  double core_l2_pj = 0;  // core L2 bytes * l2_pj_per_byte
  double total_pj() const { return idle_pj + active_pj + dma_pj + core_l2_pj; }
};

// THE energy formula of docs/targets.md ("Energy"); every mode's energy is this function of its EnergyInputs.
Energy energy_of(const Target& target, const EnergyInputs& in);

// ---- the evaluation ----

struct ModeCost {
  double cycles = 0;
  double active_core_cycles = 0;  // sum over cores of kernel cycles at L1 speed
  double dma_bytes = 0;           // DMA bytes L2 <-> L1 (DORY modes)
  double core_l2_bytes = 0;       // core loads and stores to L2 (L2-direct)
  double stall_cycles = 0;        // cycles beyond compute: L2-direct, waiting on L2 (cycles - the busiest core's
                                  // L1-speed cycles); DORY, waiting for DMA (LayerCost::stall_cycles); L1-res. 0
  int64_t tiles = 0;              // DORY modes: kernel calls; L1-resident and L2-direct: 1 per layer
  Energy energy;                  // energy_of(the fields above)
  Provenance source = Provenance::Modeled;
};

struct LayerEval {
  int layer_index = -1;  // in Graph::layers
  std::string layer;     // its name
  std::string kind;      // layer_kind_name
  KernelFamily family = KernelFamily::Conv;
  int64_t macs = 0;     // 0 for pool and add layers
  bool fits_l1 = true;  // the whole layer, single buffered, fits the L1 budget (else l1-resident is a bound)
  int64_t whole_layer_l1_bytes = 0;  // that layout's bytes
  bool l2_port_bound = false;        // l2-direct limited by the L2 port bandwidth rather than load latency
  std::array<ModeCost, kNumEvalModes> modes{};
  const ModeCost& mode(EvalMode m) const { return modes[mode_index(m)]; }
};

// ---- executed counts (eval/execute.h fills them; absent unless the network was run on an instruction-counting
// platform) ----

// One layer of the network run both ways on one rv32imc core under qemu-system -icount (exact, repeatable
// retired-instruction counts): DORY's tiles with the `model` objective at the eval's L1 budget (the very plans of
// the dory-model mode), and L2-direct (the kernels on the operands in L2). Instructions, not cycles: QEMU models
// no memory latency, so the L2 stalls of the L2-direct mode are the model's alone.
struct ExecutedLayer {
  int layer_index = -1;                  // in Graph::layers (as LayerEval::layer_index)
  int64_t tiled_instructions = 0;        // the tiled layer, everything the one core retired
  int64_t tiled_dma_instructions = 0;    // of which copying DMA jobs (the platform emulates the engine with the
                                         // core; a chip's DMA engine would retire none of them)
  int64_t l2_direct_instructions = 0;    // the L2-direct call
  bool l2_direct_fallback = false;       // the layer could not run L2-direct (ran tiled in that pass too)
  int64_t tiled_core_instructions() const { return tiled_instructions - tiled_dma_instructions; }
};

struct ExecutedEval {
  std::string platform;                  // e.g. "rv32imc under qemu-system-riscv32 -icount shift=0, 1 core"
  std::vector<ExecutedLayer> layers;     // one per NetworkEval::layers entry, same order
  int64_t tiled_instructions = 0, tiled_dma_instructions = 0, l2_direct_instructions = 0;  // sums
  int64_t tiled_core_instructions() const { return tiled_instructions - tiled_dma_instructions; }
};

struct NetworkEval {
  std::string model;   // a label (the ONNX file name)
  std::string target;  // Target::name
  int64_t clock_hz = 0;
  int64_t cores = 1;
  int64_t l1_budget_bytes = 0;
  int64_t l1_usable_bytes = 0;
  L2Scratch l2_scratch = L2Scratch::L1;
  int64_t l1_access_cycles = 1, l2_access_cycles = 1;  // the target's load latencies

  std::vector<LayerEval> layers;                 // the layers that run a kernel (views, concats move nothing), in order
  std::array<ModeCost, kNumEvalModes> totals{};  // sums over the layers (they run one after the other)
  int64_t total_macs = 0;
  int layers_exceeding_l1 = 0;  // layers with fits_l1 false
  int skipped_layers = 0;       // views and concats
  // The tiler's plans per DORY mode, indexed by Objective (model, dory, fill); one per entry of `layers`.
  std::array<std::vector<TilePlan>, 3> plans;

  // Present when the network was also executed (dory eval --platform qemu): every layer checked bit for bit in
  // both passes, with its retired instructions. Everything else above stays modeled.
  std::optional<ExecutedEval> executed;

  const ModeCost& total(EvalMode m) const { return totals[mode_index(m)]; }
  const std::vector<TilePlan>& plans_of(Objective o) const { return plans[static_cast<size_t>(o)]; }
};

// Derived numbers, identical for a layer and for the network (macs, cycles of the mode):
double macs_per_cycle(int64_t macs, double cycles);          // 0 when cycles is 0
double latency_ms(const NetworkEval& e, double cycles);      // cycles at the target's clock
double overhead_vs(double cycles, double reference_cycles);  // cycles / reference - 1
double speedup_vs(double cycles, double reference_cycles);   // reference / cycles

struct EvalOptions {
  int64_t l1_budget_bytes = 0;           // 0: the target's usable L1
  L2Scratch l2_scratch = L2Scratch::L1;  // L2-direct: where the im2col workspace is
  // Called after each layer of each DORY mode is planned, with the number done and the total.
  std::function<void(size_t done, size_t total)> progress;
};

// Evaluates every layer under every mode. Fails with the tiler's diagnostic when a layer has no tiling at the
// budget under some objective (severity Infeasible, exit code 2) or cannot be tiled (exit code 1).
Expected<NetworkEval> evaluate_network(const Graph& g, const Target& target, const EvalOptions& options,
                                       std::string model_label);

}  // namespace dory
