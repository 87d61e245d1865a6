#include "report/eval_report.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "report/text_table.h"

namespace dory {
namespace {

std::string cycles_text(double c) { return format_bytes_grouped(static_cast<int64_t>(std::llround(c))); }
std::string percent_text(double fraction) { return fmt::format("{:+.1f}%", fraction * 100); }
std::string ratio_text(double r) { return fmt::format("{:.2f}x", r); }

std::string render(const TextTable& t, bool markdown) { return markdown ? render_markdown(t) : render_text(t); }

// "L1-res", "L2-dir", "model", "dory", "fill": column headers.
const char* short_mode(EvalMode m) {
  switch (m) {
    case EvalMode::L1Resident:
      return "L1-res";
    case EvalMode::L2Direct:
      return "L2-dir";
    case EvalMode::Model:
      return "model";
    case EvalMode::Dory:
      return "dory";
    case EvalMode::Fill:
      return "fill";
  }
  return "?";
}

double cores_of(const NetworkEval& e) { return static_cast<double>(std::max<int64_t>(e.cores, 1)); }

std::string mode_note(const LayerEval& l, EvalMode m) {
  switch (m) {
    case EvalMode::L1Resident:
      return l.fits_l1 ? "" : fmt::format("bound: needs {} B", format_bytes_grouped(l.whole_layer_l1_bytes));
    case EvalMode::L2Direct:
      return l.l2_port_bound ? "port" : "";
    default: {
      const int64_t tiles = l.mode(m).tiles;
      return fmt::format("{} tile{}", tiles, tiles == 1 ? "" : "s");
    }
  }
}

void add_rows(TextTable& t, const NetworkEval& e, const std::string& index, const std::string& name,
              const std::string& kind, int64_t macs, const std::array<ModeCost, kNumEvalModes>& modes,
              const LayerEval* layer) {
  const double l1 = modes[mode_index(EvalMode::L1Resident)].cycles;
  const double l2 = modes[mode_index(EvalMode::L2Direct)].cycles;
  bool first = true;
  for (EvalMode m : kAllEvalModes) {
    const ModeCost& c = modes[mode_index(m)];
    const double rate = macs_per_cycle(macs, c.cycles);
    std::string note;
    if (layer)
      note = mode_note(*layer, m);
    else if (m == EvalMode::L1Resident && e.layers_exceeding_l1 > 0)
      note = fmt::format("bound: {} layer(s) exceed L1", e.layers_exceeding_l1);
    else if (m != EvalMode::L1Resident && m != EvalMode::L2Direct)
      note = fmt::format("{} tiles", c.tiles);
    t.add({first ? index : "", first ? name : "", first ? kind : "", first ? format_bytes_grouped(macs) : "",
           eval_mode_name(m), cycles_text(c.cycles), macs > 0 ? fmt::format("{:.2f}", rate) : "-",
           macs > 0 ? fmt::format("{:.3f}", rate / cores_of(e)) : "-",
           m == EvalMode::L1Resident ? "" : percent_text(overhead_vs(c.cycles, l1)),
           m == EvalMode::L2Direct ? "" : ratio_text(speedup_vs(c.cycles, l2)),
           fmt::format("{:.4f}", latency_ms(e, c.cycles)), fmt::format("{:.2f}", c.energy.total_pj() * 1e-6),
           provenance_name(c.source), note});
    first = false;
  }
}

nlohmann::json metrics_json(const NetworkEval& e, int64_t macs, const std::array<ModeCost, kNumEvalModes>& modes,
                            EvalMode m) {
  const ModeCost& c = modes[mode_index(m)];
  const double l1 = modes[mode_index(EvalMode::L1Resident)].cycles;
  const double l2 = modes[mode_index(EvalMode::L2Direct)].cycles;
  const double rate = macs_per_cycle(macs, c.cycles);
  return {{"cycles", c.cycles},
          {"macs_per_cycle", rate},
          {"macs_per_cycle_per_core", rate / cores_of(e)},
          {"overhead_vs_l1_resident", overhead_vs(c.cycles, l1)},
          {"speedup_vs_l2_direct", speedup_vs(c.cycles, l2)},
          {"latency_ms", latency_ms(e, c.cycles)},
          {"energy_uj", c.energy.total_pj() * 1e-6},
          {"energy_pj",
           {{"idle", c.energy.idle_pj},
            {"active", c.energy.active_pj},
            {"dma", c.energy.dma_pj},
            {"core_l2", c.energy.core_l2_pj}}},
          {"active_core_cycles", c.active_core_cycles},
          {"dma_bytes", c.dma_bytes},
          {"core_l2_bytes", c.core_l2_bytes},
          {"stall_cycles", c.stall_cycles},
          {"tiles", c.tiles},
          {"source", provenance_name(c.source)}};
}

nlohmann::json modes_json(const NetworkEval& e, int64_t macs, const std::array<ModeCost, kNumEvalModes>& modes) {
  nlohmann::json j = nlohmann::json::object();
  for (EvalMode m : kAllEvalModes) j[eval_mode_name(m)] = metrics_json(e, macs, modes, m);
  return j;
}

}  // namespace

TextTable eval_layer_table(const NetworkEval& e) {
  TextTable t;
  t.header = {"#",     "layer", "kind",  "MACs", "mode", "cycles", "MAC/cyc",
              "/core", "vs L1", "vs L2", "ms",   "uJ",   "source", "note"};
  t.right_aligned = {true, false, false, true, false, true, true, true, true, true, true, true, false, false};
  for (const LayerEval& l : e.layers)
    add_rows(t, e, std::to_string(l.layer_index), l.layer, l.kind, l.macs, l.modes, &l);
  add_rows(t, e, "", "network", "", e.total_macs, e.totals, nullptr);
  return t;
}

TextTable eval_side_by_side_table(const NetworkEval& e) {
  TextTable t;
  t.header = {"#", "layer", "kind", "MACs"};
  for (EvalMode m : kAllEvalModes) t.header.push_back(fmt::format("{} cyc", short_mode(m)));
  for (EvalMode m : kAllEvalModes) t.header.push_back(fmt::format("{} MAC/c", short_mode(m)));
  t.header.push_back("source");
  t.header.push_back("note");
  t.right_aligned.assign(4 + 2 * kNumEvalModes, true);
  t.right_aligned[1] = t.right_aligned[2] = false;
  auto row = [&](const std::string& index, const std::string& name, const std::string& kind, int64_t macs,
                 const std::array<ModeCost, kNumEvalModes>& modes, const std::string& note) {
    std::vector<std::string> r{index, name, kind, format_bytes_grouped(macs)};
    for (EvalMode m : kAllEvalModes) r.push_back(cycles_text(modes[mode_index(m)].cycles));
    for (EvalMode m : kAllEvalModes)
      r.push_back(macs > 0 ? fmt::format("{:.2f}", macs_per_cycle(macs, modes[mode_index(m)].cycles)) : "-");
    r.push_back(provenance_name(Provenance::Modeled));
    r.push_back(note);
    t.add(std::move(r));
  };
  for (const LayerEval& l : e.layers)
    row(std::to_string(l.layer_index), l.layer, l.kind, l.macs, l.modes, l.fits_l1 ? "" : "L1-res: bound");
  row("", "network", "", e.total_macs, e.totals,
      e.layers_exceeding_l1 > 0 ? fmt::format("L1-res: bound ({} layers)", e.layers_exceeding_l1) : "");
  return t;
}

TextTable eval_network_table(const NetworkEval& e) {
  TextTable t;
  t.header = {"mode",           "latency ms",           "energy uJ",           "MAC/cycle", "MAC/cycle/core",
              "vs L1-resident", "speedup vs L2-direct", "energy vs L2-direct", "source"};
  t.right_aligned = {false, true, true, true, true, true, true, true, false};
  const ModeCost& l1 = e.total(EvalMode::L1Resident);
  const ModeCost& l2 = e.total(EvalMode::L2Direct);
  for (EvalMode m : kAllEvalModes) {
    const ModeCost& c = e.total(m);
    const double rate = macs_per_cycle(e.total_macs, c.cycles);
    t.add({eval_mode_title(m), fmt::format("{:.3f}", latency_ms(e, c.cycles)),
           fmt::format("{:.2f}", c.energy.total_pj() * 1e-6), fmt::format("{:.2f}", rate),
           fmt::format("{:.3f}", rate / cores_of(e)),
           m == EvalMode::L1Resident ? "" : percent_text(overhead_vs(c.cycles, l1.cycles)),
           m == EvalMode::L2Direct ? "" : ratio_text(speedup_vs(c.cycles, l2.cycles)),
           m == EvalMode::L2Direct
               ? ""
               : ratio_text(c.energy.total_pj() > 0 ? l2.energy.total_pj() / c.energy.total_pj() : 0),
           provenance_name(c.source)});
  }
  return t;
}

TextTable eval_executed_table(const NetworkEval& e) {
  DORY_CHECK(e.executed.has_value(), "eval_executed_table without executed counts");
  const ExecutedEval& x = *e.executed;
  TextTable t;
  t.header = {"#",          "layer",       "L2-direct instr.", "DORY instr.", "of which DMA copies",
              "DORY core instr.", "L2-direct / DORY core", "check", "source"};
  t.right_aligned = {true, false, true, true, true, true, true, false, false};
  auto ratio = [](int64_t a, int64_t b) { return b > 0 ? ratio_text(static_cast<double>(a) / static_cast<double>(b)) : "-"; };
  for (size_t i = 0; i < x.layers.size() && i < e.layers.size(); ++i) {
    const ExecutedLayer& l = x.layers[i];
    t.add({std::to_string(e.layers[i].layer_index), e.layers[i].layer, format_bytes_grouped(l.l2_direct_instructions),
           format_bytes_grouped(l.tiled_instructions), format_bytes_grouped(l.tiled_dma_instructions),
           format_bytes_grouped(l.tiled_core_instructions()),
           ratio(l.l2_direct_instructions, l.tiled_core_instructions()),
           l.l2_direct_fallback ? "ok (L2-direct ran tiled)" : "ok", provenance_name(Provenance::Executed)});
  }
  t.add({"", "network", format_bytes_grouped(x.l2_direct_instructions), format_bytes_grouped(x.tiled_instructions),
         format_bytes_grouped(x.tiled_dma_instructions), format_bytes_grouped(x.tiled_core_instructions()),
         ratio(x.l2_direct_instructions, x.tiled_core_instructions()), "ok", provenance_name(Provenance::Executed)});
  return t;
}

std::string executed_legend(const NetworkEval& e) {
  const ExecutedEval& x = *e.executed;
  return fmt::format(
      "Executed on {}: the deployed network (dory-model plans) in two passes, every layer of each checked bit for "
      "bit against the reference executor. Instructions, not cycles: QEMU models neither memory latency nor a DMA "
      "engine, so the L2-direct stalls above stay modeled. DMA copies: this platform moves DMA jobs' bytes with the "
      "core; DORY core = DORY minus those (what a core with a DMA engine retires). DORY's tiling costs {:+.2f}% "
      "instructions over L2-direct on the core.\n",
      x.platform,
      x.l2_direct_instructions > 0
          ? 100.0 * (static_cast<double>(x.tiled_core_instructions()) / static_cast<double>(x.l2_direct_instructions) - 1)
          : 0.0);
}

std::string render_eval_text(const NetworkEval& e, bool markdown) {
  std::string out = fmt::format(
      "{} on {} ({} cores, {:g} MHz), L1 budget {} B (usable {} B): every number of the modes below is modeled "
      "(dory's cost model of {}){}\n\n",
      e.model, e.target, e.cores, static_cast<double>(e.clock_hz) / 1e6, format_bytes_grouped(e.l1_budget_bytes),
      format_bytes_grouped(e.l1_usable_bytes), e.target,
      e.executed ? "; the executed counts are in their own table" : ", none is executed");
  out += "Per layer, modes side by side: cycles and MAC/cycle of the whole cluster (Figure 3 of the paper):\n\n";
  out += render(eval_side_by_side_table(e), markdown);
  out += "\nPer layer and mode, every metric:\n\n";
  out += render(eval_layer_table(e), markdown);
  out += "\nNetwork (layers one after the other; Table 1 of the paper):\n\n";
  out += render(eval_network_table(e), markdown);
  const ModeCost& l2 = e.total(EvalMode::L2Direct);
  const ModeCost& dm = e.total(EvalMode::Model);
  out += fmt::format(
      "\nDORY (objective model) vs L2-direct: {:.3f} ms vs {:.3f} ms ({:.2f}x faster), {:.1f} uJ vs {:.1f} uJ "
      "({:.2f}x less energy), {:.3f} vs {:.3f} MAC/cycle/core ({} MACs).\n",
      latency_ms(e, dm.cycles), latency_ms(e, l2.cycles), speedup_vs(dm.cycles, l2.cycles), dm.energy.total_pj() * 1e-6,
      l2.energy.total_pj() * 1e-6, dm.energy.total_pj() > 0 ? l2.energy.total_pj() / dm.energy.total_pj() : 0,
      macs_per_cycle(e.total_macs, dm.cycles) / cores_of(e), macs_per_cycle(e.total_macs, l2.cycles) / cores_of(e),
      format_bytes_grouped(e.total_macs));
  out += fmt::format(
      "Modes: l1-resident = every operand already in L1 (one kernel call per layer); l2-direct = kernels load "
      "their operands from L2 ({} cycles per load instead of {}, no DMA; im2col scratch in {}); dory-model/-dory/-fill "
      "= DORY's "
      "double-buffered L2->L1 tiling with the tiler objective model/dory/fill. vs L1: overhead vs l1-resident; "
      "vs L2: speedup vs l2-direct. Energy: docs/targets.md \"Energy\".\n",
      e.l2_access_cycles, e.l1_access_cycles, e.l2_scratch == L2Scratch::L1 ? "L1" : "L2");
  if (e.layers_exceeding_l1 > 0)
    out += fmt::format(
        "{} layer(s) do not fit the L1 budget whole: their l1-resident number is the compute-only lower bound "
        "(note 'bound').\n",
        e.layers_exceeding_l1);
  if (e.skipped_layers)
    out += fmt::format("{} layer(s) move no data and need no kernel (views, concats).\n", e.skipped_layers);
  if (e.executed) {
    out += "\nExecuted (L2-direct and DORY model passes, retired instructions):\n\n";
    out += render(eval_executed_table(e), markdown);
    out += "\n" + executed_legend(e);
  } else {
    out +=
        "The generated code's values are checked bit for bit against the reference on the host platform by "
        "`dory run` (executed); its timing there is not a target number. `dory eval --platform qemu` also runs both "
        "passes on rv32imc and reports their instructions.\n";
  }
  return out;
}

nlohmann::json eval_to_json(const NetworkEval& e) {
  nlohmann::json modes = nlohmann::json::array();
  for (EvalMode m : kAllEvalModes) modes.push_back(eval_mode_name(m));
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerEval& l : e.layers)
    layers.push_back({{"index", l.layer_index},
                      {"name", l.layer},
                      {"kind", l.kind},
                      {"family", kernel_family_name(l.family)},
                      {"macs", l.macs},
                      {"fits_l1", l.fits_l1},
                      {"whole_layer_l1_bytes", l.whole_layer_l1_bytes},
                      {"l2_port_bound", l.l2_port_bound},
                      {"modes", modes_json(e, l.macs, l.modes)}});
  nlohmann::json j = {{"model", e.model},
          {"target", e.target},
          {"clock_hz", e.clock_hz},
          {"cores", e.cores},
          {"l1_budget_bytes", e.l1_budget_bytes},
          {"l1_usable_bytes", e.l1_usable_bytes},
          {"l2_scratch", e.l2_scratch == L2Scratch::L1 ? "L1" : "L2"},
          {"source", "modeled"},
          {"modes", modes},
          {"layers", layers},
          {"network",
           {{"macs", e.total_macs},
            {"layers_exceeding_l1", e.layers_exceeding_l1},
            {"modes", modes_json(e, e.total_macs, e.totals)}}}};
  if (e.executed) {
    const ExecutedEval& x = *e.executed;
    nlohmann::json xl = nlohmann::json::array();
    for (size_t i = 0; i < x.layers.size() && i < e.layers.size(); ++i) {
      const ExecutedLayer& l = x.layers[i];
      xl.push_back({{"index", l.layer_index},
                    {"name", e.layers[i].layer},
                    {"l2_direct_instructions", l.l2_direct_instructions},
                    {"tiled_instructions", l.tiled_instructions},
                    {"tiled_dma_instructions", l.tiled_dma_instructions},
                    {"tiled_core_instructions", l.tiled_core_instructions()},
                    {"l2_direct_fallback", l.l2_direct_fallback}});
    }
    j["executed"] = {{"platform", x.platform},
                     {"source", "executed"},
                     {"layers", xl},
                     {"network",
                      {{"l2_direct_instructions", x.l2_direct_instructions},
                       {"tiled_instructions", x.tiled_instructions},
                       {"tiled_dma_instructions", x.tiled_dma_instructions},
                       {"tiled_core_instructions", x.tiled_core_instructions()}}}};
  }
  return j;
}

}  // namespace dory
