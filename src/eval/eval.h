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
// per number. Executed numbers come separately (NetworkEval::executed, eval/execute.h), each layer checked bit for
// bit: on rv32imc under QEMU the L2-direct and DORY (model) passes with their retired instructions; on PULP-open
// under GVSoC every mode with its cluster cycles, next to the model's prediction of exactly what ran
// (eval/model_error.h compares them).
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

// ---- executed numbers (eval/execute.h fills them; absent unless the network was run on a counting platform) ----

// What the platform counts. QEMU (`dory eval --platform qemu`): retired instructions of one rv32imc core, for the
// L2-direct and DORY (model) passes (ExecutedLayer's instruction fields). GVSoC (`--platform gvsoc`): cluster
// cycles of PULP-open for every mode (ExecutedLayer::runs and ::splits).
enum class ExecutedMeasure { Instructions, Cycles };

// One mode of one layer as it ran, next to the model's number for exactly what ran.
struct ExecutedRun {
  bool ran = false;
  int64_t cycles = -1;        // cluster cycles: L2-direct and DORY modes the slowest core over the layer's task;
                              // L1-resident core 0 over the timed computation phases (dory_layer_run_l1_resident)
  int64_t instructions = -1;  // summed over the cores over the layer's task (-1: not counted)
  int64_t tiles = 0;          // kernel calls of the layer in this run
  bool fallback = false;      // L2-direct: the layer cannot run from L2 (dory_layer_l2_direct_supported) and
                              // ran tiled (dory-model plan) in that pass: excluded from the model's error
  bool compute_only = false;  // L1-resident: the layer does not fit L1 whole; the compute-only time of its
                              // dory-model tiles (each tile's operands loaded before its timed computation)
  bool reused = false;        // DORY dory/fill: the objective's plans equal dory-model's on every layer, so the
                              // dory-model run is reported for it (no second deployment)
  double modeled_cycles = 0;  // what the model predicts for what ran: L1-resident the whole layer's kernel call
                              // (LayerCost::l1_resident_cycles), or with compute_only the sum of the tiles' kernel
                              // calls (LayerCost::compute_cycles); L2-direct its mode's cycles (fallback: the
                              // dory-model plan's); DORY modes their plan's total cycles
  // modeled / executed - 1 (0.1: the model predicts 10 % more cycles than ran); 0 when nothing ran.
  double error() const { return ran && cycles > 0 ? modeled_cycles / static_cast<double>(cycles) - 1 : 0; }
};

// The executor's own split of one tiled layer's cycles (runtime dory/layer.h, DORY_CYCLE_SPLIT), per core, and
// the model's split of the same plan. It is measured in a run of its own, built with the split: the reads cost
// cycles (and move code), so the tiled cycles of ExecutedRun come from a build without it, and
// instrumented_cycles - those cycles is what measuring costs.
enum class SplitPart { Compute, DmaWait, DmaIssue, Barrier, Other };
inline constexpr size_t kNumSplitParts = 5;
const char* split_part_name(SplitPart p);  // "compute", "dma_wait", "dma_issue", "barrier", "other"
struct ExecutedSplit {
  std::vector<std::array<int64_t, kNumSplitParts>> per_core;  // core 0 first; empty when not measured
  // The model of the plan: kernel cycles (LayerCost::compute_cycles, against "compute"), pushing DMA commands
  // (issue_cycles, against "dma_issue"), the executor's bookkeeping (executor_cycles, against "barrier" +
  // "other") and waiting for the DMA (stall_cycles(), against "dma_wait").
  double modeled_compute = 0, modeled_issue = 0, modeled_executor = 0, modeled_stall = 0;
  int64_t instrumented_cycles = -1;  // the layer's cycles (slowest core) in the run that measured the split
  int64_t part(size_t core, SplitPart p) const { return per_core.at(core)[static_cast<size_t>(p)]; }
  int64_t core_total(size_t core) const;  // the sum of core's parts
};

struct ExecutedLayer {
  int layer_index = -1;                  // in Graph::layers (as LayerEval::layer_index)
  // QEMU (ExecutedMeasure::Instructions): the DORY (model) and L2-direct passes on one rv32imc core.
  int64_t tiled_instructions = 0;        // the tiled layer, everything the one core retired
  int64_t tiled_dma_instructions = 0;    // of which copying DMA jobs (the platform emulates the engine with the
                                         // core; a chip's DMA engine would retire none of them)
  int64_t l2_direct_instructions = 0;    // the L2-direct call
  bool l2_direct_fallback = false;       // the layer could not run L2-direct (ran tiled in that pass too)
  int64_t tiled_core_instructions() const { return tiled_instructions - tiled_dma_instructions; }
  // GVSoC (ExecutedMeasure::Cycles): every mode, indexed by mode_index, and the cycle split of the dory-model
  // tiling (empty unless ExecutedEval::cycle_split).
  std::array<ExecutedRun, kNumEvalModes> runs{};
  ExecutedSplit split;
  std::string kernel;                    // the registry kernel that ran the layer (name and ISA)
  const ExecutedRun& run(EvalMode m) const { return runs[mode_index(m)]; }
};

struct ExecutedEval {
  ExecutedMeasure measure = ExecutedMeasure::Instructions;
  std::string platform;                  // e.g. "rv32imc under qemu-system-riscv32 -icount shift=0, 1 core"
  std::vector<ExecutedLayer> layers;     // one per NetworkEval::layers entry, same order
  int64_t tiled_instructions = 0, tiled_dma_instructions = 0, l2_direct_instructions = 0;  // QEMU: sums
  int64_t tiled_core_instructions() const { return tiled_instructions - tiled_dma_instructions; }
  bool cycle_split = false;              // GVSoC: the dory-model tiling also ran with DORY_CYCLE_SPLIT (splits)
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

  // Present when the network was also executed (dory eval --platform qemu|gvsoc): every layer checked bit for
  // bit in every pass, with its retired instructions (qemu) or cluster cycles (gvsoc). Everything else above
  // stays modeled.
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
