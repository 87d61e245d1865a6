#include "eval/execute.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <filesystem>

#include "codegen/app.h"

namespace dory {

namespace fs = std::filesystem;

Expected<ExecutedEval> execute_on_qemu(const Graph& g, const Target& target, const NetworkEval& e,
                                       const ExecuteOptions& options) {
  DORY_TRY_STATUS(qemu_toolchain_available(QemuMode::System));
  std::string dir = options.work_dir;
  bool temporary = false;
  if (dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "dory-eval-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) return make_error("io-write", "temporary directory", "mkdtemp failed");
    dir = tmpl;
    temporary = true;
  }
  struct Cleanup {
    std::string dir;
    bool on;
    ~Cleanup() {
      std::error_code ec;
      if (on) fs::remove_all(dir, ec);
    }
  } cleanup{dir, temporary};

  auto step = [&](const char* s) {
    if (options.progress) options.progress(s);
  };
  step("deploying");
  DeployOptions d;
  d.l1_budget_bytes = e.l1_budget_bytes;
  d.objective = Objective::Model;
  d.platform = AppPlatform::Qemu;
  EmitOptions emit;
  emit.network_name = e.model;
  DORY_TRY(GeneratedApp app, generate_application(g, target, d, {}, dir, emit, options.seed));

  // The deployment must be the evaluation's dory-model mode, plan for plan.
  const std::vector<TilePlan>& plans = e.plans_of(Objective::Model);
  const Deployment& dep = app.deployment;
  DORY_CHECK(dep.layers.size() == e.layers.size() && plans.size() == e.layers.size(),
             fmt::format("execute_on_qemu: {} deployed layers, {} evaluated", dep.layers.size(), e.layers.size()));
  for (size_t i = 0; i < dep.layers.size(); ++i) {
    const TilePlan& p = dep.layers[i].plan;
    DORY_CHECK(p.layer_index == e.layers[i].layer_index && p.shape == plans[i].shape &&
                   p.buffering == plans[i].buffering,
               fmt::format("execute_on_qemu: layer '{}' deployed with another plan than the evaluation's", p.layer));
  }

  step("building for rv32imc and running under qemu-system-riscv32");
  AppRunOptions ro;
  ro.platform = AppPlatform::Qemu;
  ro.qemu_mode = QemuMode::System;
  ro.mode = "both";
  ro.timeout_s = options.timeout_s;
  DORY_TRY(HostRunResult r, run_application(app, ro));
  if (!r.passed() || r.layers.size() != dep.layers.size() || r.l2_direct_layers.size() != dep.layers.size())
    return make_error("eval-execution-mismatch", dir,
                      fmt::format("the application did not reproduce the reference executor under qemu-system "
                                  "(exit status {}): {}",
                                  r.exit_code, r.first_mismatch.empty() ? r.output : r.first_mismatch),
                      "this is a bug in dory: report it with the model; `dory run --platform qemu --mode both -o "
                      "DIR` keeps the application");

  ExecutedEval x;
  x.platform = "rv32imc under qemu-system-riscv32 -icount shift=0, 1 core";
  for (size_t i = 0; i < dep.layers.size(); ++i) {
    const HostLayerResult& t = r.layers[i];
    const HostLayerResult& l2 = r.l2_direct_layers[i];
    DORY_CHECK(t.instructions >= 0 && t.dma_instructions >= 0 && l2.instructions >= 0,
               "execute_on_qemu: qemu-system printed no instruction counts");
    ExecutedLayer el;
    el.layer_index = e.layers[i].layer_index;
    el.tiled_instructions = t.instructions;
    el.tiled_dma_instructions = t.dma_instructions;
    el.l2_direct_instructions = l2.instructions;
    el.l2_direct_fallback = l2.fallback;
    x.tiled_instructions += el.tiled_instructions;
    x.tiled_dma_instructions += el.tiled_dma_instructions;
    x.l2_direct_instructions += el.l2_direct_instructions;
    x.layers.push_back(el);
  }
  return x;
}

}  // namespace dory
