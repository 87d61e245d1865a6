#include "report/eval_report.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include "eval/model_error.h"
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

namespace {

const ExecutedEval& executed_cycles(const NetworkEval& e) {
  DORY_CHECK(e.executed && e.executed->measure == ExecutedMeasure::Cycles, "an executed-cycles table without them");
  return *e.executed;
}

std::string count_text(int64_t c) { return c >= 0 ? format_bytes_grouped(c) : "-"; }
std::string rate_text(int64_t macs, double cycles) {
  return macs > 0 && cycles > 0 ? fmt::format("{:.2f}", macs_per_cycle(macs, cycles)) : "-";
}

std::string run_note(const ExecutedRun& r) {
  if (!r.ran) return "not run";
  if (r.fallback) return "fallback: ran tiled";
  if (r.compute_only) return "compute-only tiles";
  if (r.reused) return "same plans as model";
  return "";
}

// The network's executed totals of a mode: the sums over the layers that ran it.
struct ModeTotal {
  int64_t cycles = 0;
  double modeled = 0;
  int layers = 0, fallback = 0, compute_only = 0, reused = 0;
  double error() const { return cycles > 0 ? modeled / static_cast<double>(cycles) - 1 : 0; }
};
ModeTotal mode_total(const ExecutedEval& x, EvalMode m) {
  ModeTotal t;
  for (const ExecutedLayer& l : x.layers) {
    const ExecutedRun& r = l.run(m);
    if (!r.ran || r.cycles < 0) continue;
    t.cycles += r.cycles;
    t.modeled += r.modeled_cycles;
    ++t.layers;
    t.fallback += r.fallback;
    t.compute_only += r.compute_only;
    t.reused += r.reused;
  }
  return t;
}
std::string total_note(const ModeTotal& t) {
  std::string n;
  if (t.fallback) n += fmt::format("{} fallback", t.fallback);
  if (t.compute_only) n += fmt::format("{}{} compute-only", n.empty() ? "" : ", ", t.compute_only);
  if (t.reused) n += fmt::format("{}same plans as model", n.empty() ? "" : ", ");
  return n;
}

constexpr const char* kExecuted = "executed";
constexpr const char* kModeled = "modeled";

}  // namespace

TextTable eval_executed_side_by_side_table(const NetworkEval& e) {
  const ExecutedEval& x = executed_cycles(e);
  TextTable t;
  t.header = {"#", "layer", "kind", "MACs"};
  t.column_source = {"", "", "", ""};
  for (EvalMode m : kAllEvalModes) {
    t.header.push_back(fmt::format("{} cyc", short_mode(m)));
    t.column_source.push_back(kExecuted);
  }
  for (EvalMode m : kAllEvalModes) {
    t.header.push_back(fmt::format("{} MAC/c", short_mode(m)));
    t.column_source.push_back(kExecuted);
  }
  t.header.push_back("source");
  t.header.push_back("note");
  t.right_aligned.assign(4 + 2 * kNumEvalModes, true);
  t.right_aligned[1] = t.right_aligned[2] = false;
  for (size_t i = 0; i < x.layers.size() && i < e.layers.size(); ++i) {
    const LayerEval& l = e.layers[i];
    std::vector<std::string> r{std::to_string(l.layer_index), l.layer, l.kind, format_bytes_grouped(l.macs)};
    std::string note;
    for (EvalMode m : kAllEvalModes) {
      const ExecutedRun& run = x.layers[i].run(m);
      r.push_back(run.ran ? count_text(run.cycles) : "-");
      const std::string n = run.ran ? run_note(run) : "";
      if (!n.empty() && !run.reused) note += fmt::format("{}{}: {}", note.empty() ? "" : "; ", short_mode(m), n);
    }
    for (EvalMode m : kAllEvalModes) {
      const ExecutedRun& run = x.layers[i].run(m);
      r.push_back(run.ran ? rate_text(l.macs, static_cast<double>(run.cycles)) : "-");
    }
    r.push_back(kExecuted);
    r.push_back(note);
    t.add(std::move(r));
  }
  std::vector<std::string> r{"", "network", "", format_bytes_grouped(e.total_macs)};
  std::array<ModeTotal, kNumEvalModes> totals;
  std::string note;
  for (EvalMode m : kAllEvalModes) {
    totals[mode_index(m)] = mode_total(x, m);
    r.push_back(count_text(totals[mode_index(m)].cycles));
    const ModeTotal& mt = totals[mode_index(m)];
    if (mt.fallback || mt.compute_only)
      note += fmt::format("{}{}: {}", note.empty() ? "" : "; ", short_mode(m), total_note(mt));
  }
  for (EvalMode m : kAllEvalModes)
    r.push_back(rate_text(e.total_macs, static_cast<double>(totals[mode_index(m)].cycles)));
  r.push_back(kExecuted);
  r.push_back(note);
  t.add(std::move(r));
  return t;
}

TextTable eval_model_vs_executed_table(const NetworkEval& e) {
  const ExecutedEval& x = executed_cycles(e);
  TextTable t;
  t.header = {"#", "layer", "mode", "executed cyc", "modeled cyc", "error", "executed MAC/c", "modeled MAC/c",
              "tiles", "note"};
  t.column_source = {"", "", "", kExecuted, kModeled, "", kExecuted, kModeled, "", ""};
  t.right_aligned = {true, false, false, true, true, true, true, true, true, false};
  for (size_t i = 0; i < x.layers.size() && i < e.layers.size(); ++i) {
    const LayerEval& l = e.layers[i];
    bool first = true;
    for (EvalMode m : kAllEvalModes) {
      const ExecutedRun& r = x.layers[i].run(m);
      if (!r.ran) continue;
      t.add({first ? std::to_string(l.layer_index) : "", first ? l.layer : "", eval_mode_name(m), count_text(r.cycles),
             cycles_text(r.modeled_cycles), r.fallback ? "-" : percent_text(r.error()),
             rate_text(l.macs, static_cast<double>(r.cycles)), rate_text(l.macs, r.modeled_cycles),
             std::to_string(r.tiles), run_note(r)});
      first = false;
    }
  }
  bool first = true;
  for (EvalMode m : kAllEvalModes) {
    const ModeTotal mt = mode_total(x, m);
    if (mt.layers == 0) continue;
    t.add({"", first ? "network" : "", eval_mode_name(m), count_text(mt.cycles), cycles_text(mt.modeled),
           percent_text(mt.error()), rate_text(e.total_macs, static_cast<double>(mt.cycles)),
           rate_text(e.total_macs, mt.modeled), "", total_note(mt)});
    first = false;
  }
  return t;
}

TextTable eval_executed_network_table(const NetworkEval& e) {
  const ExecutedEval& x = executed_cycles(e);
  TextTable t;
  t.header = {"mode",           "executed cyc",      "ms",           "MAC/cycle", "MAC/cycle/core",
              "vs L1-resident", "speedup vs L2-direct", "modeled cyc", "error",     "note"};
  t.column_source = {"", kExecuted, kExecuted, kExecuted, kExecuted, kExecuted, kExecuted, kModeled, "", ""};
  t.right_aligned = {false, true, true, true, true, true, true, true, true, false};
  const ModeTotal l1 = mode_total(x, EvalMode::L1Resident), l2 = mode_total(x, EvalMode::L2Direct);
  for (EvalMode m : kAllEvalModes) {
    const ModeTotal mt = mode_total(x, m);
    if (mt.layers == 0) continue;
    const double c = static_cast<double>(mt.cycles);
    const double rate = macs_per_cycle(e.total_macs, c);
    t.add({eval_mode_title(m), count_text(mt.cycles), fmt::format("{:.3f}", latency_ms(e, c)),
           fmt::format("{:.2f}", rate), fmt::format("{:.3f}", rate / cores_of(e)),
           m == EvalMode::L1Resident || l1.cycles <= 0 ? ""
                                                       : percent_text(overhead_vs(c, static_cast<double>(l1.cycles))),
           m == EvalMode::L2Direct || l2.cycles <= 0 ? "" : ratio_text(speedup_vs(c, static_cast<double>(l2.cycles))),
           cycles_text(mt.modeled), percent_text(mt.error()), total_note(mt)});
  }
  return t;
}

TextTable eval_model_error_table(const NetworkEval& e) {
  TextTable t;
  t.header = {"mode", "layers", "mean |error|", "mean error", "worst layer", "its error", "network error"};
  t.right_aligned = {false, true, true, true, false, true, true};
  for (const ModeErrorSummary& s : model_error_summary(e))
    t.add({eval_mode_name(s.mode), std::to_string(s.layers), fmt::format("{:.1f}%", 100 * s.mean_abs),
           percent_text(s.mean_signed), s.worst_layer, percent_text(s.worst_error), percent_text(s.network_error())});
  return t;
}

TextTable eval_cycle_split_table(const NetworkEval& e) {
  const ExecutedEval& x = executed_cycles(e);
  DORY_CHECK(x.cycle_split, "eval_cycle_split_table without a measured split");
  TextTable t;
  t.header = {"#",           "layer",        "tiles",       "cycles",          "with split",      "compute",
              "DMA wait",    "DMA issue",    "barrier",     "other",           "split sum",       "DMA exposed",
              "compute min-max", "modeled compute", "modeled issue", "modeled barrier+other", "modeled DMA stall"};
  t.column_source = {"",        "",        "",        kExecuted, kExecuted, kExecuted, kExecuted, kExecuted,
                     kExecuted, kExecuted, kExecuted, kExecuted, kExecuted, kModeled,  kModeled,  kModeled,
                     kModeled};
  t.right_aligned.assign(t.header.size(), true);
  t.right_aligned[1] = false;
  std::array<int64_t, kNumSplitParts> sum{};
  int64_t cycles = 0, instrumented = 0, split_sum = 0;
  double mc = 0, mi = 0, mx = 0, ms = 0;
  for (size_t i = 0; i < x.layers.size() && i < e.layers.size(); ++i) {
    const ExecutedRun& r = x.layers[i].run(EvalMode::Model);
    const ExecutedSplit& sp = x.layers[i].split;
    if (!r.ran || sp.per_core.empty()) continue;
    int64_t cmin = -1, cmax = 0;
    for (size_t c = 0; c < sp.per_core.size(); ++c) {
      const int64_t v = sp.part(c, SplitPart::Compute);
      cmin = cmin < 0 ? v : std::min(cmin, v);
      cmax = std::max(cmax, v);
    }
    std::vector<std::string> row{std::to_string(e.layers[i].layer_index), e.layers[i].layer, std::to_string(r.tiles),
                                 count_text(r.cycles), count_text(sp.instrumented_cycles)};
    for (size_t k = 0; k < kNumSplitParts; ++k) {
      row.push_back(format_bytes_grouped(sp.per_core[0][k]));
      sum[k] += sp.per_core[0][k];
    }
    const int64_t total = sp.core_total(0);
    const int64_t dma = sp.part(0, SplitPart::DmaWait) + sp.part(0, SplitPart::DmaIssue);
    row.push_back(format_bytes_grouped(total));
    row.push_back(total > 0 ? fmt::format("{:.1f}%", 100.0 * static_cast<double>(dma) / static_cast<double>(total))
                            : "-");
    row.push_back(fmt::format("{}-{}", format_bytes_grouped(cmin), format_bytes_grouped(cmax)));
    row.push_back(cycles_text(sp.modeled_compute));
    row.push_back(cycles_text(sp.modeled_issue));
    row.push_back(cycles_text(sp.modeled_executor));
    row.push_back(cycles_text(sp.modeled_stall));
    t.add(std::move(row));
    cycles += r.cycles;
    instrumented += sp.instrumented_cycles;
    split_sum += total;
    mc += sp.modeled_compute;
    mi += sp.modeled_issue;
    mx += sp.modeled_executor;
    ms += sp.modeled_stall;
  }
  std::vector<std::string> row{"", "network", "", count_text(cycles), count_text(instrumented)};
  for (size_t k = 0; k < kNumSplitParts; ++k) row.push_back(format_bytes_grouped(sum[k]));
  row.push_back(format_bytes_grouped(split_sum));
  const int64_t dma = sum[static_cast<size_t>(SplitPart::DmaWait)] + sum[static_cast<size_t>(SplitPart::DmaIssue)];
  row.push_back(split_sum > 0
                    ? fmt::format("{:.1f}%", 100.0 * static_cast<double>(dma) / static_cast<double>(split_sum))
                    : "-");
  row.push_back("");
  row.push_back(cycles_text(mc));
  row.push_back(cycles_text(mi));
  row.push_back(cycles_text(mx));
  row.push_back(cycles_text(ms));
  t.add(std::move(row));
  return t;
}

TextTable eval_objective_check_table(const NetworkEval& e) {
  const ExecutedEval& x = executed_cycles(e);
  TextTable t;
  t.header = {"#", "layer", "model cyc", "dory cyc", "fill cyc", "model vs best other tiling", "verdict"};
  t.column_source = {"", "", kExecuted, kExecuted, kExecuted, kExecuted, ""};
  t.right_aligned = {true, false, true, true, true, true, false};
  const std::vector<ObjectiveLoss> losses = objective_losses(e);
  for (size_t i = 0; i < x.layers.size() && i < e.layers.size(); ++i) {
    const ExecutedLayer& l = x.layers[i];
    const ExecutedRun &m = l.run(EvalMode::Model), &d = l.run(EvalMode::Dory), &f = l.run(EvalMode::Fill);
    const bool same_d = same_layer_tiling(e, i, Objective::Dory), same_f = same_layer_tiling(e, i, Objective::Fill);
    int64_t best = 0;
    if (!same_d && d.ran && d.cycles > 0) best = d.cycles;
    if (!same_f && f.ran && f.cycles > 0 && (best == 0 || f.cycles < best)) best = f.cycles;
    std::string verdict = same_d && same_f ? "same tiling for all three" : "ok";
    for (const ObjectiveLoss& o : losses)
      if (o.layer_index == e.layers[i].layer_index)
        verdict = fmt::format("model loses {:.1f}% to {}", 100 * o.loss(), objective_name(eval_mode_objective(o.best)));
    auto cell = [](const ExecutedRun& r, bool same) {
      return !r.ran ? std::string("-") : count_text(r.cycles) + (same ? " (=)" : "");
    };
    t.add({std::to_string(e.layers[i].layer_index), e.layers[i].layer, m.ran ? count_text(m.cycles) : "-",
           cell(d, same_d), cell(f, same_f),
           best > 0 && m.cycles > 0 ? percent_text(static_cast<double>(m.cycles) / static_cast<double>(best) - 1) : "-",
           verdict});
  }
  return t;
}

std::string executed_cycles_legend(const NetworkEval& e) {
  const ExecutedEval& x = executed_cycles(e);
  std::vector<std::string> kernels;
  for (const ExecutedLayer& l : x.layers)
    if (!l.kernel.empty() && std::find(kernels.begin(), kernels.end(), l.kernel) == kernels.end())
      kernels.push_back(l.kernel);
  std::string s = fmt::format(
      "Executed on {}: cluster cycles, every layer of every run checked bit for bit against the reference executor. "
      "dory-model and l2-direct: one application (tiled pass, then L2-direct pass); dory-dory and dory-fill: one "
      "deployment each (\"same plans as model\": the objective's plans are dory-model's, its run is reused); "
      "l1-resident: a deployment with every layer that fits L1 whole as one single-buffered tile, each tile's "
      "operands loaded before its computation, which alone is timed (\"compute-only tiles\": the layer does not "
      "fit L1 whole, so this is the computation of its dory-model tiles, compared with the model's kernel cycles "
      "of those tiles). Tiled and L2-direct cycles: the slowest core over the layer's task. Error: modeled / "
      "executed - 1. Objective check: \"(=)\" marks an objective that tiles the layer as model does (not "
      "compared: its cycles differ from model's only by where another build placed code and data). Kernels: {}.\n",
      x.platform, fmt::join(kernels, ", "));
  if (x.cycle_split)
    s += "Cycle split: the executor's own reads of each core's cycle counter around every kernel call, DMA start, "
         "DMA wait and barrier, in a second run of the dory-model application built with DORY_CYCLE_SPLIT (\"with "
         "split\": its cycles; \"cycles\": the run without the reads, as in every other table; the difference is "
         "what measuring costs). Core 0's shown (it issues and waits for the DMA); other = the schedule's "
         "bookkeeping and the reads themselves; split sum = the core's cycles from its task's first read to its "
         "last; DMA exposed = (DMA wait + DMA issue) / split sum; compute min-max: the kernel cycles of the least "
         "and the most loaded core.\n";
  return s;
}

std::string render_eval_text(const NetworkEval& e, bool markdown) {
  std::string out = fmt::format(
      "{} on {} ({} cores, {:g} MHz), L1 budget {} B (usable {} B): every number of the modes below is modeled "
      "(dory's cost model of {}){}\n\n",
      e.model, e.target, e.cores, static_cast<double>(e.clock_hz) / 1e6, format_bytes_grouped(e.l1_budget_bytes),
      format_bytes_grouped(e.l1_usable_bytes), e.target,
      e.executed ? "; the executed numbers are in their own tables" : ", none is executed");
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
  if (e.executed && e.executed->measure == ExecutedMeasure::Cycles) {
    out += fmt::format("\nExecuted on {} (cluster cycles), per layer, modes side by side (Figure 3 of the paper):\n\n",
                       e.executed->platform);
    out += render(eval_executed_side_by_side_table(e), markdown);
    out += "\nNetwork, executed (Table 1 of the paper):\n\n";
    out += render(eval_executed_network_table(e), markdown);
    out += "\nModeled against executed, per layer and mode:\n\n";
    out += render(eval_model_vs_executed_table(e), markdown);
    out += "\nThe model's error per mode (modeled / executed - 1, over the layers that ran the mode):\n\n";
    out += render(eval_model_error_table(e), markdown);
    if (e.executed->cycle_split) {
      out += "\nWhere the tiled run's cycles go (objective model; the executor's own split, core 0):\n\n";
      out += render(eval_cycle_split_table(e), markdown);
    }
    out += "\nIs the objective right when executed (the model's tiling against dory's and fill's)?\n\n";
    out += render(eval_objective_check_table(e), markdown);
    const std::vector<ObjectiveLoss> losses = objective_losses(e);
    out += losses.empty() ? fmt::format("\nOn every layer the model's tiling executes within {:.0f} % of the best of "
                                        "the three objectives.\n",
                                        100 * kObjectiveTolerance)
                          : fmt::format("\nThe model's tiling executes more than {:.0f} % slower than another "
                                        "objective's on {} layer(s): there the model is wrong.\n",
                                        100 * kObjectiveTolerance, losses.size());
    out += "\n" + executed_cycles_legend(e);
  } else if (e.executed) {
    out += "\nExecuted (L2-direct and DORY model passes, retired instructions):\n\n";
    out += render(eval_executed_table(e), markdown);
    out += "\n" + executed_legend(e);
  } else {
    out +=
        "The generated code's values are checked bit for bit against the reference on the host platform by "
        "`dory run` (executed); its timing there is not a target number. `dory eval --platform qemu` also runs both "
        "passes on rv32imc and reports their instructions; `--platform gvsoc` runs every mode on PULP-open under "
        "GVSoC and reports cycles next to the model's.\n";
  }
  return out;
}

namespace {

nlohmann::json run_json(const ExecutedRun& r, int64_t macs) {
  return {{"ran", r.ran},
          {"cycles", r.cycles},
          {"instructions", r.instructions},
          {"tiles", r.tiles},
          {"modeled_cycles", r.modeled_cycles},
          {"error", r.fallback ? nlohmann::json(nullptr) : nlohmann::json(r.error())},
          {"macs_per_cycle", macs_per_cycle(macs, static_cast<double>(r.cycles))},
          {"fallback", r.fallback},
          {"compute_only", r.compute_only},
          {"reused", r.reused},
          {"source", "executed"}};
}

nlohmann::json executed_cycles_json(const NetworkEval& e) {
  const ExecutedEval& x = executed_cycles(e);
  nlohmann::json layers = nlohmann::json::array();
  for (size_t i = 0; i < x.layers.size() && i < e.layers.size(); ++i) {
    const ExecutedLayer& l = x.layers[i];
    nlohmann::json modes = nlohmann::json::object();
    for (EvalMode m : kAllEvalModes)
      if (l.run(m).ran) modes[eval_mode_name(m)] = run_json(l.run(m), e.layers[i].macs);
    nlohmann::json split = nullptr;
    if (const ExecutedSplit& sp = l.split; !sp.per_core.empty()) {
      nlohmann::json cores = nlohmann::json::array();
      for (size_t c = 0; c < sp.per_core.size(); ++c) {
        nlohmann::json core = nlohmann::json::object();
        for (size_t k = 0; k < kNumSplitParts; ++k)
          core[split_part_name(static_cast<SplitPart>(k))] = sp.per_core[c][k];
        core["total"] = sp.core_total(c);
        cores.push_back(core);
      }
      split = {{"objective", "model"},
               {"cores", cores},
               {"instrumented_cycles", sp.instrumented_cycles},
               {"modeled",
                {{"compute", sp.modeled_compute},
                 {"issue", sp.modeled_issue},
                 {"executor", sp.modeled_executor},
                 {"stall", sp.modeled_stall}}},
               {"source", "executed"}};
    }
    layers.push_back({{"index", l.layer_index},
                      {"name", e.layers[i].layer},
                      {"kernel", l.kernel},
                      {"modes", modes},
                      {"split", split}});
  }
  nlohmann::json net = nlohmann::json::object();
  for (EvalMode m : kAllEvalModes) {
    const ModeTotal mt = mode_total(x, m);
    if (mt.layers == 0) continue;
    const double rate = macs_per_cycle(e.total_macs, static_cast<double>(mt.cycles));
    net[eval_mode_name(m)] = {{"cycles", mt.cycles},
                              {"modeled_cycles", mt.modeled},
                              {"error", mt.error()},
                              {"macs_per_cycle", rate},
                              {"macs_per_cycle_per_core", rate / cores_of(e)},
                              {"layers", mt.layers},
                              {"fallback_layers", mt.fallback},
                              {"compute_only_layers", mt.compute_only},
                              {"source", "executed"}};
  }
  nlohmann::json errors = nlohmann::json::array();
  for (const ModeErrorSummary& s : model_error_summary(e))
    errors.push_back({{"mode", eval_mode_name(s.mode)},
                      {"layers", s.layers},
                      {"mean_abs", s.mean_abs},
                      {"mean_signed", s.mean_signed},
                      {"worst_abs", s.worst_abs},
                      {"worst_error", s.worst_error},
                      {"worst_layer", s.worst_layer},
                      {"network_error", s.network_error()}});
  nlohmann::json losses = nlohmann::json::array();
  for (const ObjectiveLoss& o : objective_losses(e))
    losses.push_back({{"index", o.layer_index},
                      {"name", o.layer},
                      {"model_cycles", o.model_cycles},
                      {"best_cycles", o.best_cycles},
                      {"best", eval_mode_name(o.best)},
                      {"loss", o.loss()}});
  return {{"platform", x.platform},
          {"source", "executed"},
          {"measure", "cycles"},
          {"cycle_split", x.cycle_split},
          {"layers", layers},
          {"network", {{"modes", net}}},
          {"model_error", errors},
          {"objective_tolerance", kObjectiveTolerance},
          {"objective_losses", losses}};
}

}  // namespace

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
  if (e.executed && e.executed->measure == ExecutedMeasure::Cycles) {
    j["executed"] = executed_cycles_json(e);
  } else if (e.executed) {
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
                     {"measure", "instructions"},
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
