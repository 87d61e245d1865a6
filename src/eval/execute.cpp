#include "eval/execute.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>

#include "codegen/app.h"
#include "eval/app_runs.h"

namespace dory {

namespace fs = std::filesystem;

namespace {

bool same_tiling(const TilePlan& a, const TilePlan& b) {
  return a.layer_index == b.layer_index && a.shape == b.shape && a.buffering == b.buffering;
}

bool same_tilings(const std::vector<TilePlan>& a, const std::vector<TilePlan>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!same_tiling(a[i], b[i])) return false;
  return true;
}

// Deploys the network as the evaluation planned it (its budget; `plans`, which the deployment must reproduce
// layer for layer, from `objective` unless `given` is set, in which case those plans are deployed as they are)
// into `dir`, for `platform`.
Expected<GeneratedApp> deploy_as_evaluated(const Graph& g, const Target& target, const NetworkEval& e,
                                           Objective objective, const std::vector<TilePlan>& plans, bool given,
                                           AppPlatform platform, const std::string& dir, uint64_t seed) {
  DeployOptions d;
  d.l1_budget_bytes = e.l1_budget_bytes;
  d.objective = objective;
  d.platform = platform;
  if (given) d.plans = plans;
  EmitOptions emit;
  emit.network_name = e.model;
  DORY_TRY(GeneratedApp app, generate_application(g, target, d, {}, dir, emit, seed));
  const Deployment& dep = app.deployment;
  DORY_CHECK(dep.layers.size() == e.layers.size() && plans.size() == e.layers.size(),
             fmt::format("eval execution: {} deployed layers, {} evaluated", dep.layers.size(), e.layers.size()));
  for (size_t i = 0; i < dep.layers.size(); ++i)
    DORY_CHECK(same_tiling(dep.layers[i].plan, plans[i]) && plans[i].layer_index == e.layers[i].layer_index,
               fmt::format("eval execution: layer '{}' deployed with another plan than the evaluation's",
                           dep.layers[i].plan.layer));
  return app;
}

void step(const ExecuteOptions& o, const std::string& s) {
  if (o.progress) o.progress(s);
}

std::string kernel_label(const DeployedLayer& l, const Target& target) {
  const RegistryKernel& k = l.kernel(target);
  return fmt::format("{} ({})", k.name, k.isa == "c" ? "portable C" : k.isa);
}

}  // namespace

std::vector<TilePlan> l1_resident_plans(const NetworkEval& e, const Target& target) {
  const std::vector<TilePlan>& model = e.plans_of(Objective::Model);
  DORY_CHECK(model.size() == e.layers.size(), "l1_resident_plans: an evaluation without its dory-model plans");
  std::vector<TilePlan> out;
  for (size_t i = 0; i < e.layers.size(); ++i)
    out.push_back(e.layers[i].fits_l1
                      ? plan_with_shape(model[i], whole_layer_shape(model[i].geometry), Buffering::none(), target)
                      : model[i]);
  return out;
}

Expected<ExecutedEval> execute_on_qemu(const Graph& g, const Target& target, const NetworkEval& e,
                                       const ExecuteOptions& options) {
  DORY_TRY_STATUS(qemu_toolchain_available(QemuMode::System));
  DORY_TRY(WorkDir work, WorkDir::make(options.work_dir));
  step(options, "deploying");
  DORY_TRY(GeneratedApp app, deploy_as_evaluated(g, target, e, Objective::Model, e.plans_of(Objective::Model), false,
                                                 AppPlatform::Qemu, work.path(), options.seed));
  step(options, "building for rv32imc and running under qemu-system-riscv32");
  AppRunOptions ro;
  ro.platform = AppPlatform::Qemu;
  ro.qemu_mode = QemuMode::System;
  ro.mode = "both";
  ro.timeout_s = options.timeout_s;
  DORY_TRY(HostRunResult r, run_checked(app, ro, "under qemu-system",
                                        "`dory run --platform qemu --mode both -o DIR` keeps the application"));

  ExecutedEval x;
  x.measure = ExecutedMeasure::Instructions;
  x.platform = "rv32imc under qemu-system-riscv32 -icount shift=0, 1 core";
  for (size_t i = 0; i < app.deployment.layers.size(); ++i) {
    const HostLayerResult& t = r.layers[i];
    const HostLayerResult& l2 = r.l2_direct_layers[i];
    DORY_CHECK(t.instructions >= 0 && t.dma_instructions >= 0 && l2.instructions >= 0,
               "execute_on_qemu: qemu-system printed no instruction counts");
    ExecutedLayer el;
    el.layer_index = e.layers[i].layer_index;
    el.kernel = kernel_label(app.deployment.layers[i], target);
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

namespace {

ExecutedSplit split_of(const HostLayerResult& t, const TilePlan& p) {
  ExecutedSplit s;
  s.instrumented_cycles = t.cycles;
  for (const auto& core : t.split.per_core) {
    std::array<int64_t, kNumSplitParts> parts{};
    for (size_t k = 0; k < kNumSplitParts && k < kCycleSplitCategories; ++k) parts[k] = core[k];
    s.per_core.push_back(parts);
  }
  s.modeled_compute = p.cost.compute_cycles;
  s.modeled_issue = p.cost.issue_cycles;
  s.modeled_executor = p.cost.executor_cycles;
  s.modeled_stall = p.cost.stall_cycles();
  return s;
}

ExecutedRun run_of(const HostLayerResult& t, double modeled) {
  ExecutedRun r;
  r.ran = true;
  r.cycles = t.cycles;
  r.instructions = t.instructions;
  r.tiles = t.tiles;
  r.modeled_cycles = modeled;
  return r;
}

}  // namespace

Expected<ExecutedEval> execute_on_gvsoc(const Graph& g, const Target& target, const NetworkEval& e,
                                        const ExecuteOptions& options) {
  DORY_TRY(std::string install, gvsoc_install());
  (void)install;
  DORY_TRY_STATUS(riscv_toolchain_available());
  DORY_TRY(WorkDir work, WorkDir::make(options.work_dir));
  const std::string keep = "--app-dir DIR keeps the applications";
  auto run_dir = [&](const std::string& name) { return (fs::path(work.path()) / name).string(); };

  ExecutedEval x;
  x.measure = ExecutedMeasure::Cycles;
  x.platform = "PULP-open on the GVSoC virtual platform, 8 cluster cores";
  x.layers.resize(e.layers.size());
  for (size_t i = 0; i < e.layers.size(); ++i) x.layers[i].layer_index = e.layers[i].layer_index;

  auto wanted = [&](EvalMode m) { return options.modes[mode_index(m)]; };
  // The runtime is the same in every run: compiled once (with and without the executor's split).
  DORY_TRY(const PulpOpenRuntime runtime, pulp_open_runtime_for(options.runtime, run_dir("runtime"), options.progress));
  AppRunOptions ro = gvsoc_run_options(runtime, options.timeout_s);

  // dory-model: the tiled and L2-direct passes of one application; then, built with the split, its tiled pass.
  const std::vector<TilePlan>& model_plans = e.plans_of(options.tiled_objective);
  const bool model = wanted(EvalMode::Model), direct = wanted(EvalMode::L2Direct);
  DORY_CHECK(options.tiled_objective == Objective::Model ||
                 (!wanted(EvalMode::Dory) && !wanted(EvalMode::Fill) && !wanted(EvalMode::L1Resident)),
             "execute_on_gvsoc: another tiled objective runs in the dory-model application only");
  std::optional<GeneratedApp> model_app;
  if (model || direct) {
    step(options, fmt::format("{}: deploying, building the PULP-open ELF, running on GVSoC",
                              model && direct ? "dory-model and l2-direct" : model ? "dory-model" : "l2-direct"));
    DORY_TRY(model_app, deploy_as_evaluated(g, target, e, options.tiled_objective, model_plans, false,
                                            AppPlatform::PulpOpen, run_dir("dory-model"), options.seed));
    ro.mode = model && direct ? "both" : model ? "tiled" : "l2-direct";
    DORY_TRY(HostRunResult r, run_checked(*model_app, ro, "on GVSoC (the dory-model application, " + ro.mode + ")",
                                          keep));
    for (size_t i = 0; i < e.layers.size(); ++i) {
      ExecutedLayer& xl = x.layers[i];
      xl.kernel = kernel_label(model_app->deployment.layers[i], target);
      if (model) xl.runs[mode_index(EvalMode::Model)] = run_of(r.layers[i], model_plans[i].cost.total_cycles);
      if (!direct) continue;
      const HostLayerResult& d = r.l2_direct_layers[i];
      ExecutedRun l2 =
          run_of(d, d.fallback ? model_plans[i].cost.total_cycles : e.layers[i].mode(EvalMode::L2Direct).cycles);
      l2.fallback = d.fallback;
      xl.runs[mode_index(EvalMode::L2Direct)] = l2;
    }
  }
  x.cycle_split = model && options.cycle_split;
  if (x.cycle_split) {
    step(options, "dory-model with the executor's cycle split: building, running on GVSoC");
    AppRunOptions split = ro;
    split.mode = "tiled";
    split.qemu_build.cycle_split = true;
    split.qemu_build.prebuilt_runtime_lib = runtime.split_lib;
    DORY_TRY(HostRunResult r, run_checked(*model_app, split, "on GVSoC (dory-model with the cycle split)", keep));
    for (size_t i = 0; i < e.layers.size(); ++i) {
      DORY_CHECK(!r.layers[i].split.per_core.empty(), "execute_on_gvsoc: the split build printed no split");
      x.layers[i].split = split_of(r.layers[i], model_plans[i]);
    }
  }

  // dory-dory and dory-fill: their own deployments, unless their plans are dory-model's.
  for (Objective o : {Objective::Dory, Objective::Fill}) {
    const EvalMode m = o == Objective::Dory ? EvalMode::Dory : EvalMode::Fill;
    const std::vector<TilePlan>& plans = e.plans_of(o);
    if (!wanted(m)) continue;
    if (model && same_tilings(plans, model_plans)) {
      for (ExecutedLayer& xl : x.layers) {
        xl.runs[mode_index(m)] = xl.run(EvalMode::Model);
        xl.runs[mode_index(m)].reused = true;
      }
      continue;
    }
    const std::string name = eval_mode_name(m);
    step(options, name + ": deploying, building the PULP-open ELF, running on GVSoC");
    DORY_TRY(GeneratedApp app, deploy_as_evaluated(g, target, e, o, plans, false, AppPlatform::PulpOpen,
                                                   run_dir(name), options.seed));
    ro.mode = "tiled";
    DORY_TRY(HostRunResult r, run_checked(app, ro, "on GVSoC (" + name + ", tiled pass)", keep));
    for (size_t i = 0; i < e.layers.size(); ++i)
      x.layers[i].runs[mode_index(m)] = run_of(r.layers[i], plans[i].cost.total_cycles);
    if (!x.layers.empty() && x.layers.front().kernel.empty())
      for (size_t i = 0; i < e.layers.size(); ++i) x.layers[i].kernel = kernel_label(app.deployment.layers[i], target);
  }
  if (!wanted(EvalMode::L1Resident)) return x;

  // l1-resident: every layer that fits whole as one single-buffered tile, the others on their dory-model tiles.
  const std::vector<TilePlan> resident = l1_resident_plans(e, target);
  step(options, "l1-resident: deploying, building the PULP-open ELF, running on GVSoC");
  DORY_TRY(GeneratedApp resident_app, deploy_as_evaluated(g, target, e, Objective::Model, resident, true,
                                                          AppPlatform::PulpOpen, run_dir("l1-resident"), options.seed));
  ro.mode = "l1-resident";
  DORY_TRY(HostRunResult r, run_checked(resident_app, ro, "on GVSoC (l1-resident pass)", keep));
  for (size_t i = 0; i < e.layers.size(); ++i) {
    const HostLayerResult& t = r.l1_resident_layers[i];
    DORY_CHECK(t.compute >= 0, "execute_on_gvsoc: the l1-resident pass printed no compute cycles");
    const bool whole = e.layers[i].fits_l1;
    ExecutedRun run =
        run_of(t, whole ? e.layers[i].mode(EvalMode::L1Resident).cycles : resident[i].cost.compute_cycles);
    run.cycles = t.compute;
    run.instructions = -1;  // the task's count includes the untimed transfers
    run.compute_only = !whole;
    x.layers[i].runs[mode_index(EvalMode::L1Resident)] = run;
  }
  return x;
}

}  // namespace dory
