// measure_l3_overhead (eval/l3_overhead.h).
#include "eval/l3_overhead.h"

#include <fmt/format.h>

#include <filesystem>
#include <optional>

#include "codegen/app.h"
#include "eval/app_runs.h"
#include "ir/layout.h"
#include "ir/subgraph.h"

namespace dory {

namespace fs = std::filesystem;

Expected<L3OverheadResult> measure_l3_overhead(const Graph& g, const Target& target, const L3OverheadOptions& options) {
  DORY_TRY(std::string install, gvsoc_install());
  (void)install;
  DORY_TRY_STATUS(riscv_toolchain_available());
  if (options.reference_l2_bytes <= target.l2.size_bytes)
    return make_error("l3-overhead-reference-l2", "reference_l2_bytes",
                      fmt::format("{} B is no larger than the target's L2 ({} B)", options.reference_l2_bytes,
                                  target.l2.size_bytes),
                      "give an L2 the platform maps beyond the chip's (GVSoC pulp-open: 1,638,400 B)");
  DORY_TRY(WorkDir work, WorkDir::make(options.work_dir));
  auto dir = [&](const std::string& name) { return (fs::path(work.path()) / name).string(); };
  auto step = [&](const std::string& s) {
    if (options.progress) options.progress(s);
  };
  const std::string keep = "a work directory keeps the applications";

  // The network as dory run deploys it.
  DeployOptions d;
  d.l1_budget_bytes = options.l1_budget_bytes;
  d.objective = options.objective;
  d.platform = AppPlatform::PulpOpen;
  d.force_weights_l3 = options.force_weights_l3;
  step("the network: deploying");
  DORY_TRY(GeneratedApp net, generate_application(g, target, d, {}, dir("network"), {}, options.seed));
  const Deployment& dep = net.deployment;
  if (!dep.uses_l3)
    return make_error("l3-overhead-no-l3", "graph", "the network fits L2: no layer streams from L3",
                      "measure a network larger than L2 (e.g. dory netgen mobilenet_v1_1.0_128)");
  DORY_TRY(const PulpOpenRuntime runtime, pulp_open_runtime_for(options.runtime, dir("runtime"), options.progress));
  const AppRunOptions ro = gvsoc_run_options(runtime, options.timeout_s);

  step("the network: building the PULP-open ELF, running on GVSoC");
  DORY_TRY(HostRunResult run, run_checked(net, ro, "on GVSoC (the network)", keep));

  int streaming = 0;
  for (const DeployedLayer& x : dep.layers) streaming += x.l3 ? 1 : 0;
  L3OverheadResult result;
  result.deployed_layers = static_cast<int>(dep.layers.size());
  for (const HostLayerResult& x : run.layers) result.network_cycles += x.elapsed;

  // Each streaming layer alone, every operand in L2.
  Target big = target;
  big.l2.size_bytes = options.reference_l2_bytes;
  DeployOptions alone = d;
  alone.l3 = L3Mode::Off;
  alone.force_weights_l3.clear();
  for (size_t i = 0; i < dep.layers.size(); ++i) {
    const DeployedLayer& dl = dep.layers[i];
    if (!dl.l3) continue;
    const Layer& l = dep.graph.layers[static_cast<size_t>(dl.layer_index)];
    L3OverheadLayer row;
    row.layer_index = dl.layer_index;
    row.name = l.name;
    row.kind = layer_kind_name(dep.graph, l);
    row.macs = layer_macs(dep.graph, l);
    const L3Plan& lp = dl.l3->plan;
    row.l3_bytes = lp.cost.l3_bytes;
    row.l3_tiles = lp.cost.tiles;
    row.l3_engine_cycles = lp.cost.l3_transfer_cycles;
    row.modeled_l3_bound = lp.cost.l3_bound();
    row.modeled_cycles = lp.cost.total_cycles - dl.l3->hidden_cycles;
    row.modeled_l2_cycles = dl.plan.cost.total_cycles;
    row.executed = run.layers.at(i).elapsed;
    DORY_CHECK(row.executed > 0, "measure_l3_overhead: the PULP-open application printed no elapsed cycles");

    DORY_TRY(Graph one, single_layer_graph(dep.graph, dl.layer_index));
    std::vector<std::vector<int32_t>> inputs;
    for (size_t k = 0; k < one.inputs.size(); ++k) {
      // single_layer_graph keeps the layer's distinct inputs in order
      TensorId src = -1;
      for (TensorId t : l.inputs)
        if (dep.graph.tensor(t).name == one.tensor(one.inputs[k]).name) src = t;
      DORY_CHECK(src >= 0, "measure_l3_overhead: an input of the extracted layer is not the layer's");
      inputs.push_back(to_onnx_order(one.tensor(one.inputs[k]), net.reference.values.at(static_cast<size_t>(src))));
    }
    step(fmt::format("{} ({} of {}): alone, every operand in L2", l.name, result.layers.size() + 1, streaming));
    DORY_TRY(GeneratedApp app, generate_application(one, big, alone, std::move(inputs),
                                                    dir(fmt::format("alone-{}", dl.layer_index)), {}, options.seed));
    DORY_CHECK(!app.deployment.uses_l3 && app.deployment.layers.size() == 1,
               "measure_l3_overhead: the layer alone did not deploy as one layer in L2");
    DORY_TRY(HostRunResult r, run_checked(app, ro, fmt::format("on GVSoC (layer '{}' alone, in L2)", l.name), keep));
    row.l2_resident = r.layers.at(0).elapsed;
    row.l2_resident_tiles = r.layers.at(0).tiles;
    result.layers.push_back(std::move(row));
  }
  return result;
}

}  // namespace dory
