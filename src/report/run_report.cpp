#include "report/run_report.h"

#include <fmt/format.h>

#include <algorithm>

#include "codegen/l2_image.h"
#include "report/l3_report.h"
#include "report/text_table.h"
#include "tiler/plan.h"

namespace dory {

namespace {

std::string buffering(const Buffering& b) {
  std::string s;
  s += b.input ? "i" : "-";
  s += b.weights ? "w" : "-";
  s += b.output ? "o" : "-";
  return s;
}

}  // namespace

std::string render_deployment(const Deployment& dep, const ScheduleCheckStats& check, const HostRunResult* run,
                              bool markdown) {
  const MemoryPlan& m = dep.memory;
  std::string s;
  s += fmt::format("target {} ({} cores, {:.0f} MHz): L1 budget {} B, largest layer layout {} B\n", dep.target.name,
                   dep.target.cores, dep.target.clock_hz / 1e6, format_bytes_grouped(dep.l1_bytes),
                   format_bytes_grouped(dep.l1_peak_bytes));
  s += fmt::format("L2 {} B of {} B: constants {} B, activations {} B (lower bound {} B{})\n",
                   format_bytes_grouped(dep.l2_bytes()),
                   format_bytes_grouped(dep.options.l2_budget_bytes > 0 ? dep.options.l2_budget_bytes
                                                                        : dep.target.usable_bytes(MemLevel::L2)),
                   format_bytes_grouped(m.reserved_bytes), format_bytes_grouped(m.activation_bytes),
                   format_bytes_grouped(m.lower_bound_bytes),
                   m.activation_bytes == m.lower_bound_bytes ? ", optimal" : "");
  s += l3_summary(dep);
  s += fmt::format("schedule checked: {} layers, {} DMA transfers ({} B), {} tile computations, no hazard\n",
                   check.layers, format_bytes_grouped(check.transfers), format_bytes_grouped(check.bytes),
                   format_bytes_grouped(check.computes));
  if (!dep.target.l2.program_image.empty()) {
    const L2Image m = l2_image(dep);
    s += render_l2_image(m);
    if (run && run->l2_image_bytes >= 0)
      s += fmt::format("  as linked: the image reaches {} B of L2 ({} B under the prediction)\n",
                       format_bytes_grouped(run->l2_image_bytes), format_bytes_grouped(m.used() - run->l2_image_bytes));
  }
  s += "\n";
  TextTable t;
  t.header = {"#", "layer", "kind", "tile co x h x w x ci", "tiles", "DB", "L1 B", "L2 in B", "L2 out B",
              "modeled cycles", "MAC/cycle", "vs L1"};
  t.right_aligned = {true, false, false, false, true, false, true, true, true, true, true, true};
  // A deployment with L3: the L3 level of every layer (what streams, the L3 tiles) and the modeled cycles of the
  // two-level schedule (the prefetched part hidden under the previous layer taken off).
  if (dep.uses_l3) {
    t.header.insert(t.header.begin() + 4, "L3 (tiles: bands x blocks)");
    t.right_aligned.insert(t.right_aligned.begin() + 4, false);
  }
  bool counted = false;  // a run that counted instructions (qemu-system, GVSoC): an "instructions" column
  bool cycled = false;   // a run that counted the target's cycles (GVSoC): "executed cycles" and the model's error
  const bool direct = run && !run->l2_direct_layers.empty();  // the app ran the l2-direct pass
  if (run) {
    for (const HostLayerResult& x : run->layers) counted |= x.instructions >= 0, cycled |= x.cycles >= 0;
    for (const HostLayerResult& x : run->l2_direct_layers) counted |= x.instructions >= 0, cycled |= x.cycles >= 0;
  }
  bool dma_counted = false;  // rv32: the instructions that emulate the DMA engine, counted apart
  if (run)
    for (const HostLayerResult& x : run->layers) dma_counted |= x.dma_instructions >= 0;
  if (run) {  // what the platform measured: host time, retired instructions, executed cycles
    if (cycled) {
      t.header.insert(t.header.end(), {"executed cycles", "model error"});
      t.right_aligned.insert(t.right_aligned.end(), {true, true});
    }
    t.header.insert(t.header.end(), {counted ? "instructions" : "host us"});
    t.right_aligned.insert(t.right_aligned.end(), {true});
    if (dma_counted) {
      t.header.push_back("of which DMA copies");
      t.right_aligned.push_back(true);
    }
    t.header.push_back("check");
    t.right_aligned.push_back(false);
  }
  if (direct) {
    t.header.insert(t.header.end(), {"L2-direct modeled"});
    if (cycled) t.header.insert(t.header.end(), {"L2-direct cycles", "L2-direct error"});
    t.header.insert(t.header.end(), {counted ? "L2-direct instr." : "L2-direct host us", "L2-direct check"});
    t.right_aligned.insert(t.right_aligned.end(), {true, true, false});
    if (cycled) t.right_aligned.insert(t.right_aligned.end(), {true, true});
  }
  auto find = [](const std::vector<HostLayerResult>& v, size_t i) -> const HostLayerResult* {
    for (const HostLayerResult& x : v)
      if (x.index == static_cast<int>(i)) return &x;
    return nullptr;
  };
  auto measured = [&](const HostLayerResult* r) {
    if (counted) return r && r->instructions >= 0 ? format_bytes_grouped(r->instructions) : std::string("-");
    return r ? fmt::format("{:.0f}", r->host_us) : std::string("-");
  };
  auto check_cell = [](const HostLayerResult* r) {
    if (!r) return std::string("not run");
    std::string c = r->ok ? "ok" : fmt::format("MISMATCH ({})", r->mismatches);
    return r->fallback ? c + " (ran tiled)" : c;
  };
  // executed cycles, and the model's error relative to them
  // a layer that streams from L3: the fabric controller's cycles over the whole layer (the cluster's counters miss
  // the L3 transfers between its tasks)
  auto executed = [](const HostLayerResult& x) { return x.l3_elapsed >= 0 ? x.l3_elapsed : x.cycles; };
  auto cycles_cells = [&](const HostLayerResult* r, double modeled) -> std::vector<std::string> {
    if (!r || r->cycles < 0) return {"-", "-"};
    const int64_t c = executed(*r);
    return {format_bytes_grouped(c), c > 0 ? fmt::format("{:+.1f}%", 100 * (modeled / static_cast<double>(c) - 1)) : "-"};
  };
  double direct_modeled = 0;
  double total = 0, resident = 0;
  int64_t macs = 0;
  for (size_t i = 0; i < dep.layers.size(); ++i) {
    const DeployedLayer& dl = dep.layers[i];
    const TilePlan& p = dl.plan;
    const Layer& l = dep.graph.layers[static_cast<size_t>(dl.layer_index)];
    int64_t in_bytes = 0;
    for (int k = 0; k < p.geometry.num_inputs(); ++k) in_bytes += p.geometry.input_bytes(k);
    const double modeled = dl.l3 ? dl.l3->plan.cost.total_cycles - dl.l3->hidden_cycles : p.cost.total_cycles;
    total += modeled;
    resident += p.cost.l1_resident_cycles;
    macs += p.macs();
    std::vector<std::string> row = {
        std::to_string(i),
        l.name,
        layer_kind_name(dep.graph, l),
        fmt::format("{} x {} x {} x {}", p.shape.c_out, p.shape.h_out, p.shape.w_out, p.shape.c_in),
        std::to_string(p.counts.total()),
        buffering(p.buffering),
        format_bytes_grouped(p.layout.total_bytes),
        format_bytes_grouped(in_bytes),
        format_bytes_grouped(p.geometry.output_bytes()),
        format_bytes_grouped(static_cast<int64_t>(modeled + 0.5)),
        p.macs() && modeled > 0 ? fmt::format("{:.2f}", static_cast<double>(p.macs()) / modeled) : "-",
        p.cost.l1_resident_cycles > 0 ? fmt::format("{:+.1f}%", 100 * (modeled / p.cost.l1_resident_cycles - 1))
                                      : "-"};
    if (dep.uses_l3) {
      std::string cell = "-";
      if (dl.l3) cell = l3_tiling_cell(dl.l3->plan);
      row.insert(row.begin() + 4, cell);
    }
    if (run) {
      const HostLayerResult* r = find(run->layers, i);
      if (cycled)
        for (std::string& c : cycles_cells(r, modeled)) row.push_back(std::move(c));
      row.push_back(measured(r));
      if (dma_counted) row.push_back(r && r->dma_instructions >= 0 ? format_bytes_grouped(r->dma_instructions) : "-");
      row.push_back(check_cell(r));
    }
    if (direct) {
      const HostLayerResult* r = find(run->l2_direct_layers, i);
      if (r) direct_modeled += static_cast<double>(r->modeled_cycles);
      row.push_back(r ? format_bytes_grouped(static_cast<int64_t>(r->modeled_cycles)) : "-");
      if (cycled)
        for (std::string& c : cycles_cells(r, r ? static_cast<double>(r->modeled_cycles) : 0)) row.push_back(std::move(c));
      row.push_back(measured(r));
      row.push_back(check_cell(r));
    }
    t.add(std::move(row));
  }
  std::vector<std::string> sum = {"",
                                  "total",
                                  "",
                                  "",
                                  "",
                                  "",
                                  "",
                                  "",
                                  "",
                                  format_bytes_grouped(static_cast<int64_t>(total + 0.5)),
                                  total > 0 ? fmt::format("{:.2f}", static_cast<double>(macs) / total) : "-",
                                  resident > 0 ? fmt::format("{:+.1f}%", 100 * (total / resident - 1)) : "-"};
  auto instructions = [](const std::vector<HostLayerResult>& v) {
    int64_t n = 0;
    for (const HostLayerResult& x : v) n += std::max<int64_t>(x.instructions, 0);
    return n;
  };
  auto cycles_sum = [&](const std::vector<HostLayerResult>& v) {
    int64_t n = 0;
    for (const HostLayerResult& x : v) n += std::max<int64_t>(x.cycles >= 0 ? executed(x) : x.cycles, 0);
    return n;
  };
  auto total_cells = [&](const std::vector<HostLayerResult>& v, double modeled) -> std::vector<std::string> {
    const int64_t c = cycles_sum(v);
    if (v.empty() || c <= 0) return {"", ""};
    return {format_bytes_grouped(c), fmt::format("{:+.1f}%", 100 * (modeled / static_cast<double>(c) - 1))};
  };
  if (run) {
    if (cycled)
      for (std::string& c : total_cells(run->layers, total)) sum.push_back(std::move(c));
    sum.push_back(counted && !run->layers.empty() ? format_bytes_grouped(instructions(run->layers)) : "");
    if (dma_counted) {
      int64_t dma = 0;
      for (const HostLayerResult& x : run->layers) dma += std::max<int64_t>(x.dma_instructions, 0);
      sum.push_back(format_bytes_grouped(dma));
    }
    sum.push_back(run->layers.empty() ? "not run" : run->passed() ? "ok" : "FAILED");
  }
  if (direct) {
    sum.push_back(format_bytes_grouped(static_cast<int64_t>(direct_modeled + 0.5)));
    if (cycled)
      for (std::string& c : total_cells(run->l2_direct_layers, direct_modeled)) sum.push_back(std::move(c));
    sum.insert(sum.end(), {counted ? format_bytes_grouped(instructions(run->l2_direct_layers)) : "",
                           run->passed() ? "ok" : "FAILED"});
  }
  if (dep.uses_l3) sum.insert(sum.begin() + 4, "");
  t.add(std::move(sum));
  s += markdown ? render_markdown(t) : render_text(t);
  s += fmt::format("\nDB: double-buffered input/weights/output. Modeled cycles: dory's cost model for {} ({:.2f} ms "
                   "at {:.0f} MHz){}.\n",
                   dep.target.name, total / static_cast<double>(dep.target.clock_hz) * 1e3,
                   dep.target.clock_hz / 1e6,
                   cycled ? "; executed cycles: the cluster's cycles over each layer on PULP-open under GVSoC (the "
                            "slowest core from fork to join, deterministic); model error: modeled / executed - 1; "
                            "instructions: retired by the 8 cluster cores together"
                   : counted ? "; instructions: retired by each layer on rv32imc under qemu-system -icount shift=0 "
                               "(one core, exact and repeatable; of which DMA copies: the platform emulates the DMA "
                               "engine with the core)"
                   : run     ? "; host us: measured on this machine's host platform (threads)"
                             : "");
  if (dep.uses_l3 && cycled)
    s += "Executed cycles of a layer that streams from L3: the fabric controller's over the whole layer, its L3 "
         "transfers and waits included.\n";
  if (dep.uses_l3)
    s += "L3: what the layer streams from L3 (w: its constants, in/out: its input/output feature map) and its L3 tiles "
         "(row bands x output-channel blocks), each with its own L2 -> L1 plan (network.c lists them; the tile, "
         "tiles, DB and L1 columns show the whole layer's plan as if it were in L2); "
         "pf: its first weight block streams while the previous layer runs. Its modeled cycles are the two-level "
         "schedule's (tiler/l3_plan.h), less what the prefetch hides.\n";
  if (direct)
    s += "L2-direct: every layer one kernel call on its operands in L2, no DMA (the paper's \"L2 fetching\"); its "
         "modeled cycles are dory eval's L2-direct model (L2 load latency); \"ran tiled\": the layer cannot run so "
         "(a concatenation slice, or an im2col scratch larger than L1).\n";
  return s;
}

std::string deployment_timeline_csv(const Deployment& dep, int64_t max_tiles_per_layer) {
  std::string out = "layer,name,tile,kind,buffer,bytes,start_cycles,end_cycles\n";
  double t0 = 0;
  for (size_t i = 0; i < dep.layers.size(); ++i) {
    const TilePlan& p = dep.layers[i].plan;
    for (const TimelineEvent& e : layer_timeline(dep.target, p.geometry, p.shape, p.buffering, max_tiles_per_layer)) {
      const char* kind = e.kind == TimelineEvent::Load ? "load" : e.kind == TimelineEvent::Store ? "store" : "compute";
      std::string buffer = e.kind == TimelineEvent::Compute ? "" : buffer_role_name(e.role);
      if (e.kind != TimelineEvent::Compute && e.role == BufferRole::Input && p.geometry.num_inputs() > 1)
        buffer += std::to_string(e.operand);
      out += fmt::format("{},{},{},{},{},{},{:.1f},{:.1f}\n", i, p.layer, e.tile, kind, buffer, e.bytes,
                         t0 + e.start_cycles, t0 + e.end_cycles);
    }
    t0 += p.cost.total_cycles;
  }
  return out;
}

}  // namespace dory
