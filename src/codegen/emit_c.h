// The C application of a deployment: what `dory deploy` writes and `dory run` builds and runs.
//
// APP/
//   network.h, network.c   the network: one commented `const dory_layer` per layer (shape, tiling, buffers, modeled
//                          cycles), the constants (weights, bias, requant records) as one L2 image,
//                          dory_network_run(inputs, outputs) and dory_network_run_layer(i)
//   goldens.h, goldens.c   the reference executor's values: the inputs and every layer's output (for checking)
//   main.c                 main (every platform): loads the input, runs layer by layer, compares every element of
//                          every layer's output with the golden values (the first mismatch reported with layer,
//                          tile and index), prints per-layer modeled cycles and the platform's measure (host
//                          time, or retired instructions under qemu-system); exit 0 only when all match
//   Makefile               host app (default), the rv32 ELFs run under QEMU: `make qemu-user`,
//                          `make qemu-system` (docs/deploy.md "RISC-V under QEMU"), and the PULP-open ELF:
//                          `make pulp-open` (docs/deploy.md "PULP-open"; run under GVSoC by users who have it,
//                          `make gvsoc`); `make run` runs the platform the application was emitted for
//   CMakeLists.txt         host app
//   runtime/               the runtime (HAL, host, rv32-qemu and pulp-open platforms, kernels, executor), copied
// The descriptors are printed from Deployment::layers[i].descriptor(), field by field: what the checker proved
// is what the application runs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "codegen/deployment.h"
#include "reference/executor.h"
#include "util/diagnostic.h"

namespace dory {


// The PULP-open cluster as the pulp-open platform (runtime/hal/pulp-open) drives it: 8 cores sharing 64 kB of
// TCDM, of which the runtime keeps at most kPulpOpenRuntimeTcdmBytes after the L1 arena (link.ld: 8 stacks of
// 3,552 B, the control words, the DMA state and the running layer's descriptor; tests/e2e/pulp_open_test.cpp
// checks the linked ELF against it): 65,536 - 35,000, the target's default L1 budget (DORY's PULP_gvsoc budget).
inline constexpr int64_t kPulpOpenCores = 8;
inline constexpr int64_t kPulpOpenTcdmBytes = 65536;
inline constexpr int64_t kPulpOpenRuntimeTcdmBytes = 30536;

// Whether a deployment for `target` with an L1 budget of `l1_bytes` can run on `platform`. pulp-open needs a
// target of 8 cores whose L1 is at most the TCDM, and a budget that leaves the runtime its TCDM; otherwise
// "deploy-platform-mismatch" names the field, the values and the rule. host and qemu accept every target.
Status check_platform(const Target& target, int64_t l1_bytes, AppPlatform platform);

struct EmitOptions {
  std::string network_name = "network";   // for comments and the banner
  bool copy_runtime = true;                // false: the build links a prebuilt runtime (tests)
};

// Writes the application into `dir` (created if needed; existing files of the same names are replaced), after
// check_platform.
// `inputs` are the graph inputs (ONNX order) and `ref` the reference run on them (its values become goldens).
Status emit_application(const Deployment& dep, const std::vector<std::vector<int32_t>>& inputs,
                        const ReferenceResult& ref, const std::string& dir, const EmitOptions& options = {});

// The C initializer of one descriptor (exposed for tests and reports).
std::string layer_descriptor_c(const Deployment& dep, size_t index, const std::string& count_div_symbol);

// Where the runtime's sources are: $DORY_RUNTIME_DIR, else the source tree's runtime/ (DORY_SOURCE_DIR), else
// <executable dir>/../share/dory/runtime.
std::string runtime_source_dir();

}  // namespace dory
