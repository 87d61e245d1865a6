// The deployment flow as library calls (`dory deploy` and `dory run` are thin wrappers):
//   generate_application: deploy (plans, constants, memory plan, descriptors), prove the schedule of every layer
//   (schedule_check.h), run the reference executor on the inputs, and write the C application (emit_c.h);
//   run_application: build it with the system C compiler and run it on the host platform, or cross-compile it for
//   rv32 and run it under QEMU (host_run.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "codegen/deployment.h"
#include "codegen/emit_c.h"
#include "codegen/host_run.h"
#include "codegen/schedule_check.h"
#include "reference/executor.h"

namespace dory {

struct GeneratedApp {
  Deployment deployment;
  std::vector<std::vector<int32_t>> inputs;  // the graph inputs the goldens were computed on
  ReferenceResult reference;
  ScheduleCheckStats check;
  std::string dir;
};

// `inputs` empty: deterministic random inputs (random_graph_inputs with `seed`).
Expected<GeneratedApp> generate_application(const Graph& g, const Target& target, const DeployOptions& options,
                                            std::vector<std::vector<int32_t>> inputs, const std::string& dir,
                                            const EmitOptions& emit = {}, uint64_t seed = 1);

struct AppRunOptions {
  AppPlatform platform = AppPlatform::Host;
  int cores = 0;                  // host: 0 is the target's (the qemu platform has one core)
  HostBuildOptions build;
  QemuMode qemu_mode = QemuMode::System;  // qemu: system (instruction counts) or user mode
  QemuBuildOptions qemu_build;
  std::string mode = "tiled";     // the app's passes: tiled, l2-direct or both (main.c, host_run.h app_mode_bits)
  std::vector<std::string> extra_args;  // host: passed to the application (fault injection in tests)
  std::vector<std::string> env;         // host
  int timeout_s = 600;
};

// Builds and runs; the result says whether every layer matched (HostRunResult::passed).
Expected<HostRunResult> run_application(const GeneratedApp& app, const AppRunOptions& options = {});

}  // namespace dory
