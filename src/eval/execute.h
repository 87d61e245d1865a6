// Executing the evaluation's modes where a platform counts what runs. Each run deploys the network exactly as the
// evaluation planned it (codegen/app.h: the eval's target and L1 budget; the plans are checked against the
// evaluation's, layer by layer), builds it for the platform and runs it; the application itself checks every
// layer of every pass bit for bit against the reference executor, and any mismatch fails the evaluation.
//
// execute_on_qemu (`dory eval --platform qemu`): the dory-model deployment cross-compiled for rv32imc and run
// under qemu-system-riscv32 with -icount shift=0 in two passes (main.c --mode both: tiled, then L2-direct, each
// from a poisoned L2). It measures retired instructions on one core (QEMU models no memory latency and no DMA
// engine): the tiled pass's instructions, of which the ones copying DMA jobs (the rv32 platform emulates the
// engine with the core), and the L2-direct pass's. The difference between the tiled core instructions and the
// L2-direct ones is the software cost of DORY's tiling (loop nest, DMA programming, per-tile kernel calls),
// executed. The cycles of every mode, L2 stalls included, remain the model's.
//
// execute_on_gvsoc (`dory eval --platform gvsoc`, = pulp-open): PULP-open's 8 cluster cores with MCHAN DMA on the
// GVSoC virtual platform, cluster cycles of every mode (GVSoC is deterministic: the counts repeat exactly):
//   dory-model   the dory-model deployment, tiled pass, built with DORY_CYCLE_SPLIT: per layer the cycles of the
//                slowest core over its task and the executor's own split of every core's cycles (compute, DMA
//                wait, DMA issue, barrier, bookkeeping: runtime dory/layer.h);
//   l2-direct    the same application's L2-direct pass (main.c --mode both);
//   dory-dory, dory-fill   one deployment per objective, tiled pass with the split; an objective whose plans
//                equal dory-model's on every layer reuses that run (ExecutedRun::reused) instead;
//   l1-resident  a deployment in which every layer that fits the L1 budget whole is one single-buffered tile and
//                every other layer keeps its dory-model plan, run in the l1-resident pass
//                (dory_layer_run_l1_resident): every tile's operands loaded first, its computation alone timed.
//                For a layer that fits, that is its pure L1 execution; for the others it is the compute-only time
//                of its tiles (ExecutedRun::compute_only; the model's counterpart is then the sum of the tiles'
//                kernel cycles, not the whole-layer call).
// Each run is one ELF and one GVSoC invocation (about 0.5 s of start-up plus 2-4 M simulated cycles per second).
#pragma once

#include <array>
#include <functional>
#include <string>

#include "codegen/host_run.h"
#include "eval/eval.h"
#include "ir/graph.h"
#include "target/target.h"
#include "util/diagnostic.h"

namespace dory {

struct ExecuteOptions {
  std::string work_dir;  // where the applications are generated and built (one subdirectory per run); empty: a
                         // temporary directory, removed
  uint64_t seed = 1;     // the random inputs the goldens are computed on
  int timeout_s = 1800;  // the emulator is killed after this (per run)
  bool cycle_split = true;  // gvsoc: also run dory-model with the executor's cycle split (DORY_CYCLE_SPLIT)
  // gvsoc: the modes to run, indexed by mode_index (default: all); a mode not run is absent from the result
  // (ExecutedRun::ran false). L2-direct runs as a second pass of the dory-model application.
  std::array<bool, kNumEvalModes> modes{true, true, true, true, true};
  // gvsoc: the objective whose plans the dory-model application runs (and measures with the cycle split). Model
  // for an evaluation; Dory or Fill let a calibration (bench/fit_cost_model) split the heuristics' many-tile plans
  // too: their cycles and split then land in the dory-model entries (modes other than dory-model and l2-direct
  // are not run).
  Objective tiled_objective = Objective::Model;
  // gvsoc: the runtime to link (build_pulp_open_runtime), e.g. shared by several evaluations; null: compiled in
  // the work directory
  const PulpOpenRuntime* runtime = nullptr;
  std::function<void(const std::string& step)> progress;  // "deploying", "building", "running", ...
};

// The plans of the l1-resident deployment: per layer of e, the whole layer as one single-buffered tile when it
// fits the L1 budget (LayerEval::fits_l1), else its dory-model plan.
std::vector<TilePlan> l1_resident_plans(const NetworkEval& e, const Target& target);

// Runs `e`'s network (already evaluated: its dory-model plans and L1 budget) and returns the counts, one per layer
// of e.layers. Errors: the toolchain missing (qemu-toolchain-missing), the deployment failing (its own
// diagnostics, e.g. l2-overflow), a plan that differs from the evaluation's (internal), or a layer that does not
// reproduce the reference ("eval-execution-mismatch", quoting the first mismatch).
Expected<ExecutedEval> execute_on_qemu(const Graph& g, const Target& target, const NetworkEval& e,
                                       const ExecuteOptions& options = {});

// The same on PULP-open under GVSoC, every mode (above). Errors: GVSoC or the RISC-V toolchain missing
// (gvsoc-missing, qemu-toolchain-missing), the target not runnable on PULP-open (deploy-platform-mismatch), the
// deployment failing (e.g. l2-overflow: the application does not fit PULP-open's L2), a plan that differs from
// the evaluation's (internal), a layer that does not reproduce the reference (eval-execution-mismatch).
Expected<ExecutedEval> execute_on_gvsoc(const Graph& g, const Target& target, const NetworkEval& e,
                                        const ExecuteOptions& options = {});

}  // namespace dory
