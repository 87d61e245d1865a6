#include "report/l3_report.h"

#include <fmt/format.h>

#include <cmath>

#include "report/text_table.h"
#include "util/byte_size.h"

namespace dory {

namespace {

std::string cycles(double c) { return format_bytes_grouped(static_cast<int64_t>(std::llround(c))); }

}  // namespace

Expected<std::optional<Deployment>> l3_deployment(const Graph& g, const Target& target, int64_t l1_budget_bytes,
                                                  Objective objective) {
  if (!target.has(MemLevel::L3)) return std::optional<Deployment>();
  DeployOptions o;
  o.l1_budget_bytes = l1_budget_bytes;
  o.objective = objective;
  DORY_TRY(Deployment d, deploy(g, target, o));
  if (!d.uses_l3) return std::optional<Deployment>();
  return std::optional<Deployment>(std::move(d));
}

std::string l3_tiling_cell(const L3Plan& lp) {
  std::string what;
  if (lp.residency.weights_in_l3) what = "w";
  for (bool in : lp.residency.input_in_l3)
    if (in) what += what.empty() ? "in" : "+in";
  if (lp.residency.output_in_l3) what += what.empty() ? "out" : "+out";
  return fmt::format("{}: {} x {} ({} rows x {} ch){}", what, lp.counts.bands, lp.counts.blocks, lp.shape.h_out,
                     lp.shape.c_out, lp.prefetch_weights ? " pf" : "");
}

std::string l3_summary(const Deployment& dep) {
  if (!dep.uses_l3) return {};
  int64_t traffic = 0, streaming = 0;
  for (const DeployedLayer& dl : dep.layers)
    if (dl.l3) traffic += dl.l3->plan.cost.l3_bytes, ++streaming;
  std::string s = fmt::format(
      "L3 {} B of {} B: constants {} B, activations {} B; {} layer(s) stream from L3 (two-level tiling), {} B moved "
      "between L3 and L2 per inference\n",
      format_bytes_grouped(dep.l3_bytes()), format_bytes_grouped(dep.target.usable_bytes(MemLevel::L3)),
      format_bytes_grouped(static_cast<int64_t>(dep.l3_constants.size())),
      format_bytes_grouped(dep.l3_bytes() - static_cast<int64_t>(dep.l3_constants.size())), streaming,
      format_bytes_grouped(traffic));
  for (const std::string& note : dep.two_level.notes) s += "  " + note + "\n";
  return s;
}

std::string render_l3_level(const Deployment& dep, bool markdown) {
  if (!dep.uses_l3) return {};
  TextTable t;
  t.header = {"#",         "layer",         "L3 (tiles: bands x blocks)", "L2 staging B", "L3 bytes",
              "L3 engine cycles", "sub-layers' cycles", "bound", "two-level cycles", "as if in L2", "vs L2"};
  t.right_aligned = {true, false, false, true, true, true, true, false, true, true, true};
  double two_level = 0, in_l2 = 0;
  for (size_t i = 0; i < dep.layers.size(); ++i) {
    const DeployedLayer& dl = dep.layers[i];
    if (!dl.l3) continue;
    const L3Plan& lp = dl.l3->plan;
    const double modeled = lp.cost.total_cycles - dl.l3->hidden_cycles, l2 = dl.plan.cost.total_cycles;
    two_level += modeled;
    in_l2 += l2;
    t.add({std::to_string(i), dl.plan.layer, l3_tiling_cell(lp), format_bytes_grouped(lp.staging.total_bytes()),
           format_bytes_grouped(lp.cost.l3_bytes), cycles(lp.cost.l3_transfer_cycles), cycles(lp.cost.sub_cycles),
           lp.cost.l3_bound() ? "L3" : "compute", cycles(modeled), cycles(l2),
           l2 > 0 ? fmt::format("{:+.1f}%", 100 * (modeled / l2 - 1)) : "-"});
  }
  t.add({"", "streaming layers", "", "", "", "", "", "", cycles(two_level), cycles(in_l2),
         in_l2 > 0 ? fmt::format("{:+.1f}%", 100 * (two_level / in_l2 - 1)) : "-"});
  std::string s = l3_summary(dep) + "\n" + (markdown ? render_markdown(t) : render_text(t));
  s += "Modeled cycles (dory's two-level cost model, tiler/l3_plan.h): the L3 engine's time for the layer's L3 "
       "transfers against its sub-layers' L2 -> L1 schedules (bound: which is longer, i.e. whether the L3 traffic "
       "can hide under the computation); two-level cycles less what the cross-layer prefetch hides; as if in L2: "
       "the same layer's L2 -> L1 plan with every operand in L2.\n";
  return s;
}

nlohmann::json l3_level_to_json(const Deployment& dep) {
  if (!dep.uses_l3) return nullptr;
  nlohmann::json layers = nlohmann::json::array();
  int64_t traffic = 0;
  for (size_t i = 0; i < dep.layers.size(); ++i) {
    const DeployedLayer& dl = dep.layers[i];
    if (!dl.l3) continue;
    const L3Plan& lp = dl.l3->plan;
    traffic += lp.cost.l3_bytes;
    layers.push_back({{"index", i},
                      {"layer", dl.plan.layer},
                      {"streams",
                       {{"weights", lp.residency.weights_in_l3},
                        {"inputs", lp.residency.input_in_l3},
                        {"output", lp.residency.output_in_l3}}},
                      {"bands", lp.counts.bands},
                      {"blocks", lp.counts.blocks},
                      {"band_rows", lp.shape.h_out},
                      {"block_channels", lp.shape.c_out},
                      {"prefetch", lp.prefetch_weights},
                      {"staging_bytes", lp.staging.total_bytes()},
                      {"l3_bytes", lp.cost.l3_bytes},
                      {"l3_engine_cycles", lp.cost.l3_transfer_cycles},
                      {"sub_layer_cycles", lp.cost.sub_cycles},
                      {"l3_bound", lp.cost.l3_bound()},
                      {"modeled_cycles", lp.cost.total_cycles - dl.l3->hidden_cycles},
                      {"in_l2_cycles", dl.plan.cost.total_cycles}});
  }
  return {{"l3_bytes", dep.l3_bytes()},
          {"l3_constant_bytes", static_cast<int64_t>(dep.l3_constants.size())},
          {"l3_traffic_bytes", traffic},
          {"notes", dep.two_level.notes},
          {"layers", layers}};
}

std::string render_l3_overhead(const L3OverheadResult& r) {
  TextTable t;
  t.header = {"#",           "layer",          "kind",          "MACs",           "L3 bytes",          "L3 tiles",
              "L3 engine (modeled)", "alone in L2", "fits under", "in the network", "vs L2",         "two-level modeled",
              "model error"};
  t.right_aligned = {true, false, false, true, true, true, true, true, false, true, true, true, true};
  int hidden = 0;
  double worst = 0, sum = 0;
  std::string worst_name, others;
  for (const L3OverheadLayer& x : r.layers) {
    t.add({std::to_string(x.layer_index), x.name, x.kind, format_bytes_grouped(x.macs), format_bytes_grouped(x.l3_bytes),
           std::to_string(x.l3_tiles), cycles(x.l3_engine_cycles), format_bytes_grouped(x.l2_resident),
           x.hidden() ? "yes" : "no (L3-bound)", format_bytes_grouped(x.executed),
           fmt::format("{:+.1f}%", 100 * x.overhead()), cycles(x.modeled_cycles),
           fmt::format("{:+.1f}%", 100 * (x.modeled_cycles / static_cast<double>(x.executed) - 1))});
    if (x.hidden()) {
      ++hidden;
      sum += x.overhead();
      if (worst_name.empty() || x.overhead() > worst) worst = x.overhead(), worst_name = x.name;
    } else {
      others += fmt::format("{}{} {:+.1f}%", others.empty() ? "" : ", ", x.name, 100 * x.overhead());
    }
  }
  std::string s = render_markdown(t);
  s += fmt::format("\n{} of {} streaming layers have L3 traffic that fits under their L2-resident time", hidden,
                   r.layers.size());
  if (hidden > 0)
    s += fmt::format(": worst {:+.1f}% ({}), mean {:+.1f}% over their L2-resident cycles", 100 * worst, worst_name,
                     100 * sum / hidden);
  s += ".\n";
  if (!others.empty()) s += "L3-bound (the traffic takes longer than the layer computes): " + others + ".\n";
  s += fmt::format("The network: {} cycles over its {} layers (the fabric controller's, every layer).\n",
                   format_bytes_grouped(r.network_cycles), r.deployed_layers);
  return s;
}

}  // namespace dory
