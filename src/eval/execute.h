// Executing the evaluation's L2-direct and DORY modes, where a platform counts what runs (`dory eval --platform
// qemu`): the network is deployed exactly as the dory-model mode plans it (codegen/app.h: the eval's target, L1
// budget and the `model` objective), cross-compiled for rv32imc and run under qemu-system-riscv32 with -icount
// shift=0 in two passes (main.c --mode both: tiled, then L2-direct, each from a poisoned L2), every layer of each
// pass checked bit for bit against the reference executor by the application itself.
//
// What it measures is retired instructions on one core (QEMU models no memory latency and no DMA engine): the
// tiled pass's instructions, of which the ones copying DMA jobs (the rv32 platform emulates the engine with the
// core), and the L2-direct pass's. The difference between the tiled core instructions and the L2-direct ones is
// the software cost of DORY's tiling (loop nest, DMA programming, per-tile kernel calls), executed. The cycles of
// every mode, L2 stalls included, remain the model's.
#pragma once

#include <functional>
#include <string>

#include "eval/eval.h"
#include "ir/graph.h"
#include "target/target.h"
#include "util/diagnostic.h"

namespace dory {

struct ExecuteOptions {
  std::string work_dir;  // where the application is generated and built; empty: a temporary directory, removed
  uint64_t seed = 1;     // the random inputs the goldens are computed on
  int timeout_s = 1800;  // the emulator is killed after this
  std::function<void(const std::string& step)> progress;  // "deploying", "building", "running"
};

// Runs `e`'s network (already evaluated: its dory-model plans and L1 budget) and returns the counts, one per layer
// of e.layers. Errors: the toolchain missing (qemu-toolchain-missing), the deployment failing (its own
// diagnostics, e.g. l2-overflow), a plan that differs from the evaluation's (internal), or a layer that does not
// reproduce the reference ("eval-execution-mismatch", quoting the first mismatch).
Expected<ExecutedEval> execute_on_qemu(const Graph& g, const Target& target, const NetworkEval& e,
                                       const ExecuteOptions& options = {});

}  // namespace dory
