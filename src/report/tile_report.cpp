#include "report/tile_report.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

#include "report/svg_plot.h"
#include "report/text_table.h"
#include "util/byte_size.h"

namespace dory {
namespace {

std::string cycles_text(double c) { return format_bytes_grouped(static_cast<int64_t>(std::llround(c))); }

std::string percent_text(double fraction) { return fmt::format("{:+.1f}%", fraction * 100); }

std::string buffering_text(const Buffering& b) {
  return std::string(b.input ? "i" : "-") + (b.weights ? "w" : "-") + (b.output ? "o" : "-");
}

// "16x14x28" (c_out x h_out x w_out), plus ", ci 32" when the input channels are tiled.
std::string tile_text(const TilePlan& p) {
  std::string s = fmt::format("{}x{}x{}", p.shape.c_out, p.shape.h_out, p.shape.w_out);
  if (!p.geometry.channels_tied && p.shape.c_in < p.geometry.c_in) s += fmt::format(", ci {}", p.shape.c_in);
  return s;
}

std::string c_in_text(const TilePlan& p) {
  if (p.geometry.channels_tied) return "=";
  return std::to_string(p.shape.c_in);
}

std::string mac_rate_text(const TilePlan& p) { return p.macs() > 0 ? fmt::format("{:.2f}", p.macs_per_cycle()) : "-"; }

nlohmann::json shape_json(const TileShape& s) {
  return {{"c_out", s.c_out}, {"h_out", s.h_out}, {"w_out", s.w_out}, {"c_in", s.c_in}};
}

nlohmann::json plan_json(const TilePlan& p, const std::string& kind) {
  nlohmann::json buffers = nlohmann::json::array();
  for (const L1Buffer& b : p.layout.buffers)
    buffers.push_back({{"role", buffer_role_name(b.role)},
                       {"operand", b.operand},
                       {"copies", b.copies},
                       {"bytes_per_copy", b.bytes_per_copy},
                       {"offsets", b.offsets}});
  const LayerCost& c = p.cost;
  return {{"index", p.layer_index},
          {"name", p.layer},
          {"kind", kind},
          {"family", kernel_family_name(p.geometry.family)},
          {"tile", shape_json(p.shape)},
          {"last_tile", shape_json(p.last)},
          {"tile_counts",
           {{"c_out", p.counts.c_out},
            {"h", p.counts.h},
            {"w", p.counts.w},
            {"c_in", p.counts.c_in},
            {"total", p.counts.total()}}},
          {"double_buffered",
           {{"input", p.buffering.input}, {"weights", p.buffering.weights}, {"output", p.buffering.output}}},
          {"l1_bytes", p.layout.total_bytes},
          {"l1_budget_bytes", p.l1_budget_bytes},
          {"l1_buffers", buffers},
          {"dma_bytes", c.dma_bytes},
          {"dma_commands", c.dma_commands},
          {"cycles", c.total_cycles},
          {"compute_cycles", c.compute_cycles},
          {"issue_cycles", c.issue_cycles},
          {"stall_cycles", c.stall_cycles()},
          {"prologue_cycles", c.prologue_cycles},
          {"epilogue_cycles", c.epilogue_cycles},
          {"l1_resident_cycles", c.l1_resident_cycles},
          {"macs", p.macs()},
          {"macs_per_cycle", p.macs_per_cycle()},
          {"overhead_vs_l1", p.overhead_vs_l1()},
          {"objective_value", p.objective_value},
          {"search", {{"nodes", p.stats.nodes}, {"evaluations", p.stats.evaluations}}}};
}

std::string render(const TextTable& t, bool markdown) { return markdown ? render_markdown(t) : render_text(t); }

}  // namespace

TileReport make_tile_report(const Graph& g, const Target& target, std::vector<TilePlan> plans, int64_t l1_budget_bytes,
                            Objective objective, std::string model_label) {
  TileReport r;
  r.model = std::move(model_label);
  r.target = target.name;
  r.clock_hz = target.clock_hz;
  r.cores = target.cores;
  r.objective = objective;
  r.l1_budget_bytes = l1_budget_bytes;
  r.l1_usable_bytes = target.usable_bytes(MemLevel::L1);
  for (const Layer& l : g.layers)
    if (!needs_l1_plan(l)) ++r.skipped_layers;
  for (const TilePlan& p : plans) {
    DORY_CHECK(p.layer_index >= 0 && static_cast<size_t>(p.layer_index) < g.layers.size(),
               "tile report: plan of a layer not in the graph");
    r.kinds.push_back(layer_kind_name(g, g.layers[static_cast<size_t>(p.layer_index)]));
    r.total_macs += p.macs();
    r.total_cycles += p.cost.total_cycles;
    r.total_l1_resident_cycles += p.cost.l1_resident_cycles;
    r.total_dma_bytes += p.cost.dma_bytes;
    r.peak_l1_bytes = std::max(r.peak_l1_bytes, p.layout.total_bytes);
  }
  r.plans = std::move(plans);
  return r;
}

Expected<TileReport> tile_network(const Graph& g, const Target& target, int64_t l1_budget_bytes, Objective objective,
                                  std::string model_label) {
  DORY_TRY(std::vector<TilePlan> plans, plan_network(g, target, l1_budget_bytes, objective));
  return make_tile_report(g, target, std::move(plans), l1_budget_bytes, objective, std::move(model_label));
}

std::string render_tile_text(const TileReport& r, bool markdown) {
  std::string out =
      fmt::format("{} on {} ({} cores, {:g} MHz), objective {}, L1 budget {} B (usable {} B)\n\n", r.model, r.target,
                  r.cores, static_cast<double>(r.clock_hz) / 1e6, objective_name(r.objective),
                  format_bytes_grouped(r.l1_budget_bytes), format_bytes_grouped(r.l1_usable_bytes));
  TextTable t;
  t.header = {"#",   "layer", "kind",  "tile co x h x w", "c_in",    "tiles", "co x h x w x ci",
              "buf", "L1 B",  "DMA B", "cycles",          "MAC/cyc", "vs L1"};
  t.right_aligned = {true, false, false, false, true, true, false, false, true, true, true, true, true};
  for (size_t i = 0; i < r.plans.size(); ++i) {
    const TilePlan& p = r.plans[i];
    t.add({std::to_string(p.layer_index), p.layer, r.kinds[i],
           fmt::format("{}x{}x{}", p.shape.c_out, p.shape.h_out, p.shape.w_out), c_in_text(p),
           std::to_string(p.counts.total()),
           fmt::format("{}x{}x{}x{}", p.counts.c_out, p.counts.h, p.counts.w, p.counts.c_in),
           buffering_text(p.buffering),
           fmt::format("{} / {}", format_bytes_grouped(p.layout.total_bytes), format_bytes_grouped(p.l1_budget_bytes)),
           format_bytes_grouped(p.cost.dma_bytes), cycles_text(p.cost.total_cycles), mac_rate_text(p),
           percent_text(p.overhead_vs_l1())});
  }
  t.add({"", "total", "", "", "", "", "", "", fmt::format("peak {}", format_bytes_grouped(r.peak_l1_bytes)),
         format_bytes_grouped(r.total_dma_bytes), cycles_text(r.total_cycles),
         fmt::format("{:.2f}", r.macs_per_cycle()), percent_text(r.overhead_vs_l1())});
  out += render(t, markdown);
  out += fmt::format(
      "\nlatency {:.3f} ms at {:g} MHz ({} cycles); {} MACs at {:.2f} MAC/cycle ({:.3f} per core); "
      "{} vs all data resident in L1\n",
      r.latency_ms(), static_cast<double>(r.clock_hz) / 1e6, cycles_text(r.total_cycles),
      format_bytes_grouped(r.total_macs), r.macs_per_cycle(),
      r.macs_per_cycle() / static_cast<double>(std::max<int64_t>(r.cores, 1)), percent_text(r.overhead_vs_l1()));
  out +=
      "buf: i, w, o = input, weights (+ bias, requant), output double buffered; - = one buffer. "
      "c_in '=': the tile's input channels are its output channels.\n";
  if (r.skipped_layers)
    out += fmt::format("{} layer(s) move no data and need no tiling (views, concats).\n", r.skipped_layers);
  return out;
}

nlohmann::json tile_report_to_json(const TileReport& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (size_t i = 0; i < r.plans.size(); ++i) layers.push_back(plan_json(r.plans[i], r.kinds[i]));
  return {{"model", r.model},
          {"target", r.target},
          {"clock_hz", r.clock_hz},
          {"cores", r.cores},
          {"objective", objective_name(r.objective)},
          {"l1_budget_bytes", r.l1_budget_bytes},
          {"l1_usable_bytes", r.l1_usable_bytes},
          {"layers", layers},
          {"skipped_layers", r.skipped_layers},
          {"totals",
           {{"macs", r.total_macs},
            {"cycles", r.total_cycles},
            {"latency_ms", r.latency_ms()},
            {"macs_per_cycle", r.macs_per_cycle()},
            {"l1_resident_cycles", r.total_l1_resident_cycles},
            {"overhead_vs_l1", r.overhead_vs_l1()},
            {"dma_bytes", r.total_dma_bytes},
            {"peak_l1_bytes", r.peak_l1_bytes}}}};
}

std::string render_objective_comparison(std::span<const TileReport> reports, bool markdown) {
  if (reports.empty()) return {};
  const TileReport& first = reports[0];
  for (const TileReport& r : reports)
    DORY_CHECK(r.plans.size() == first.plans.size(), "objective comparison: reports of different networks");
  std::string names;
  for (size_t k = 0; k < reports.size(); ++k)
    names += (k ? ", " : "") + std::string(objective_name(reports[k].objective));
  std::string out = fmt::format("{} on {} ({} cores, {:g} MHz), L1 budget {} B: objectives {}\n\n", first.model,
                                first.target, first.cores, static_cast<double>(first.clock_hz) / 1e6,
                                format_bytes_grouped(first.l1_budget_bytes), names);
  TextTable t;
  t.header = {"#", "layer", "kind", "MACs", "L1-resident cycles"};
  t.right_aligned = {true, false, false, true, true};
  for (const TileReport& r : reports) {
    t.header.push_back(fmt::format("{} tile", objective_name(r.objective)));
    t.header.push_back(fmt::format("{} cycles", objective_name(r.objective)));
    t.right_aligned.push_back(false);
    t.right_aligned.push_back(true);
  }
  t.header.push_back("worst/best");
  t.right_aligned.push_back(true);
  double resident = 0;
  for (size_t i = 0; i < first.plans.size(); ++i) {
    const TilePlan& p0 = first.plans[i];
    std::vector<std::string> row{std::to_string(p0.layer_index), p0.layer, first.kinds[i],
                                 p0.macs() ? format_bytes_grouped(p0.macs()) : "-",
                                 cycles_text(p0.cost.l1_resident_cycles)};
    resident += p0.cost.l1_resident_cycles;
    double lo = std::numeric_limits<double>::infinity(), hi = 0;
    for (const TileReport& r : reports) {
      const TilePlan& p = r.plans[i];
      DORY_CHECK(p.layer_index == p0.layer_index, "objective comparison: layers differ");
      row.push_back(tile_text(p));
      row.push_back(cycles_text(p.cost.total_cycles));
      lo = std::min(lo, p.cost.total_cycles);
      hi = std::max(hi, p.cost.total_cycles);
    }
    row.push_back(lo > 0 ? fmt::format("{:.2f}x", hi / lo) : "-");
    t.add(std::move(row));
  }
  std::vector<std::string> total{"", "total", "", format_bytes_grouped(first.total_macs), cycles_text(resident)};
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  std::string per_objective;
  for (const TileReport& r : reports) {
    total.push_back("");
    total.push_back(cycles_text(r.total_cycles));
    per_objective += fmt::format("; {} {:.3f} ms, {:.2f} MAC/cycle, {:+.1f} % vs L1-resident", objective_name(r.objective),
                                 r.latency_ms(), r.macs_per_cycle(), resident > 0 ? 100 * (r.total_cycles / resident - 1) : 0.0);
    lo = std::min(lo, r.total_cycles);
    hi = std::max(hi, r.total_cycles);
  }
  total.push_back(lo > 0 ? fmt::format("{:.2f}x", hi / lo) : "-");
  t.add(std::move(total));
  out += render(t, markdown);
  out += fmt::format(
      "\nModeled cycles. L1-resident: one kernel call on the whole layer with every operand already in L1 (the "
      "ideal); worst/best: the slowest objective's cycles over the fastest's.\nNetwork: L1-resident {:.3f} ms{}.\n",
      resident / static_cast<double>(first.clock_hz) * 1e3, per_objective);
  return out;
}

nlohmann::json objective_comparison_to_json(std::span<const TileReport> reports) {
  nlohmann::json j = nlohmann::json::array();
  for (const TileReport& r : reports) j.push_back(tile_report_to_json(r));
  return {{"objectives", j}};
}

// ---- sweeps ----

Expected<SweepResult> sweep(const Graph& g, const Target& target, std::span<const Objective> objectives,
                            std::span<const int64_t> l1_points, std::string model_label,
                            const SweepProgress& progress) {
  SweepResult s;
  s.model = std::move(model_label);
  s.target = target.name;
  s.clock_hz = target.clock_hz;
  s.l1_usable_bytes = target.usable_bytes(MemLevel::L1);
  s.l1_points.assign(l1_points.begin(), l1_points.end());

  std::vector<const Layer*> layers;
  std::vector<LayerGeometry> geoms;
  for (const Layer& l : g.layers) {
    if (!needs_l1_plan(l)) continue;
    DORY_TRY(LayerGeometry geom, layer_geometry(g, l));
    s.total_macs += geom.macs();
    layers.push_back(&l);
    geoms.push_back(std::move(geom));
  }

  const size_t total = objectives.size() * l1_points.size();
  size_t done = 0;
  for (Objective o : objectives) {
    SweepSeries series;
    series.objective = o;
    for (size_t i = 0; i < geoms.size(); ++i) {
      const MinimalLayout m = minimal_l1_layout(geoms[i], target, o);
      if (m.l1_bytes > series.min_feasible_l1_bytes) {
        series.min_feasible_l1_bytes = m.l1_bytes;
        series.min_feasible_layer = layers[i]->name;
      }
    }
    for (int64_t budget : l1_points) {
      SweepPoint pt;
      pt.l1_bytes = budget;
      pt.feasible = true;
      for (const Layer* l : layers) {
        Expected<TilePlan> p = plan_layer(g, *l, target, budget, o);
        if (!p) {
          if (p.error().severity != Severity::Infeasible) return p.error();
          pt.feasible = false;
          pt.infeasible_layer = l->name;
          pt.diagnostic = p.error().message;
          pt.cycles = 0;
          pt.dma_bytes = 0;
          break;
        }
        pt.cycles += p->cost.total_cycles;
        pt.dma_bytes += p->cost.dma_bytes;
      }
      if (pt.feasible && pt.cycles > 0) pt.macs_per_cycle = static_cast<double>(s.total_macs) / pt.cycles;
      series.points.push_back(std::move(pt));
      if (progress) progress(++done, total);
    }
    s.series.push_back(std::move(series));
  }
  return s;
}

std::string render_sweep_text(const SweepResult& s, bool markdown) {
  std::string out = fmt::format(
      "{} on {} ({:g} MHz): modeled network latency against the L1 budget "
      "(usable L1 of {}: {} B)\n\n",
      s.model, s.target, static_cast<double>(s.clock_hz) / 1e6, s.target, format_bytes_grouped(s.l1_usable_bytes));
  TextTable t;
  t.header = {"L1", "L1 B"};
  t.right_aligned = {true, true};
  const bool several = s.series.size() > 1;
  for (const SweepSeries& se : s.series) {
    const std::string n = objective_name(se.objective);
    t.header.push_back(several ? n + " ms" : "latency ms");
    t.header.push_back(several ? n + " cycles" : "cycles");
    t.header.push_back(several ? n + " MAC/cyc" : "MAC/cyc");
    for (int k = 0; k < 3; ++k) t.right_aligned.push_back(true);
  }
  for (size_t i = 0; i < s.l1_points.size(); ++i) {
    std::vector<std::string> row{format_kib_short(s.l1_points[i]) + (s.l1_points[i] == s.l1_usable_bytes ? "*" : ""),
                                 format_bytes_grouped(s.l1_points[i])};
    for (const SweepSeries& se : s.series) {
      const SweepPoint& p = se.points[i];
      if (p.feasible) {
        row.push_back(fmt::format("{:.3f}", s.latency_ms(p.cycles)));
        row.push_back(cycles_text(p.cycles));
        row.push_back(fmt::format("{:.2f}", p.macs_per_cycle));
      } else {
        row.push_back("infeasible");
        row.push_back(p.infeasible_layer);
        row.push_back("-");
      }
    }
    t.add(std::move(row));
  }
  out += render(t, markdown);
  out += "\nsmallest L1 at which every layer has a tiling:\n";
  for (const SweepSeries& se : s.series)
    out += fmt::format(
        "  {}: {} B{}, set by layer '{}'\n", objective_name(se.objective),
        format_bytes_grouped(se.min_feasible_l1_bytes),
        se.min_feasible_l1_bytes >= 1024 ? fmt::format(" ({})", format_kib_short(se.min_feasible_l1_bytes)) : "",
        se.min_feasible_layer);
  out += "L1 in KiB (k = 1024 B); infeasible: the first layer without a tiling at that budget";
  bool usable = std::find(s.l1_points.begin(), s.l1_points.end(), s.l1_usable_bytes) != s.l1_points.end();
  out += usable ? "; * the target's usable L1.\n" : ".\n";
  return out;
}

nlohmann::json sweep_to_json(const SweepResult& s) {
  nlohmann::json series = nlohmann::json::array();
  for (const SweepSeries& se : s.series) {
    nlohmann::json pts = nlohmann::json::array();
    for (const SweepPoint& p : se.points) {
      if (p.feasible)
        pts.push_back({{"l1_bytes", p.l1_bytes},
                       {"feasible", true},
                       {"cycles", p.cycles},
                       {"latency_ms", s.latency_ms(p.cycles)},
                       {"macs_per_cycle", p.macs_per_cycle},
                       {"dma_bytes", p.dma_bytes}});
      else
        pts.push_back({{"l1_bytes", p.l1_bytes},
                       {"feasible", false},
                       {"infeasible_layer", p.infeasible_layer},
                       {"diagnostic", p.diagnostic}});
    }
    series.push_back({{"objective", objective_name(se.objective)},
                      {"min_feasible_l1_bytes", se.min_feasible_l1_bytes},
                      {"min_feasible_layer", se.min_feasible_layer},
                      {"points", pts}});
  }
  return {{"model", s.model},
          {"target", s.target},
          {"clock_hz", s.clock_hz},
          {"total_macs", s.total_macs},
          {"l1_usable_bytes", s.l1_usable_bytes},
          {"l1_points", s.l1_points},
          {"series", series}};
}

std::string render_sweep_svg(const SweepResult& s) {
  LinePlot plot;
  plot.title = fmt::format("Modeled latency vs L1 budget: {} on {}", s.model, s.target);
  std::string names;
  for (size_t k = 0; k < s.series.size(); ++k)
    names += (k ? ", " : "") + std::string(objective_name(s.series[k].objective));
  plot.subtitle = fmt::format("{:g} MHz, {} MACs; tiling objective{} {}", static_cast<double>(s.clock_hz) / 1e6,
                              format_bytes_grouped(s.total_macs), s.series.size() > 1 ? "s" : "", names);
  plot.x.label = "L1 budget (kB, 1 kB = 1024 B)";
  plot.y.label = "modeled network latency (ms)";
  plot.y.include_zero = true;
  if (!s.l1_points.empty()) {
    const double lo = static_cast<double>(s.l1_points.front()) / 1024,
                 hi = static_cast<double>(s.l1_points.back()) / 1024;
    plot.x.min = lo;
    plot.x.max = hi;
    // A geometric sweep over a wide range reads better on a log axis with power-of-two ticks.
    const size_t n = s.l1_points.size();
    bool uneven = false;  // the last step may be shorter (HI is always a point)
    for (size_t i = 2; i + 1 < n; ++i) uneven |= s.l1_points[i] - s.l1_points[i - 1] != s.l1_points[1] - s.l1_points[0];
    const bool geometric = uneven && hi / lo >= 16;
    if (geometric) {
      plot.x.log = true;
      for (double t = std::exp2(std::floor(std::log2(lo))); t <= hi * 1.000001; t *= 2) plot.x.ticks.push_back(t);
    }
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  int64_t lowest = std::numeric_limits<int64_t>::max();
  for (const SweepSeries& se : s.series) {
    PlotSeries ps;
    ps.label = objective_name(se.objective);
    for (const SweepPoint& p : se.points) {
      ps.x.push_back(static_cast<double>(p.l1_bytes) / 1024);
      ps.y.push_back(p.feasible ? s.latency_ms(p.cycles) : nan);
    }
    ps.markers = se.points.size() <= 80;
    plot.series.push_back(std::move(ps));
    lowest = std::min(lowest, se.min_feasible_l1_bytes);
  }
  double y_lo = std::numeric_limits<double>::infinity(), y_hi = 0;
  for (const PlotSeries& ps : plot.series)
    for (double y : ps.y)
      if (std::isfinite(y) && y > 0) {
        y_lo = std::min(y_lo, y);
        y_hi = std::max(y_hi, y);
      }
  if (y_hi > 20 * y_lo) {  // latencies over more than ~1.3 decades: a log axis keeps the low end readable
    plot.y.log = true;
    plot.y.include_zero = false;
  }
  if (!s.l1_points.empty() && !s.series.empty() && lowest > s.l1_points.front()) {
    PlotBand b;
    b.x0 = static_cast<double>(s.l1_points.front()) / 1024;
    b.x1 = static_cast<double>(lowest) / 1024;
    b.label = s.series.size() > 1 ? "infeasible (every objective)" : "infeasible";
    plot.bands.push_back(b);
    // Objectives feasible only from a larger budget: one lighter band per distinct threshold.
    std::vector<int64_t> thresholds;
    for (const SweepSeries& se : s.series)
      if (se.min_feasible_l1_bytes > lowest) thresholds.push_back(se.min_feasible_l1_bytes);
    std::sort(thresholds.begin(), thresholds.end());
    thresholds.erase(std::unique(thresholds.begin(), thresholds.end()), thresholds.end());
    int64_t from = lowest;
    for (int64_t th : thresholds) {
      std::string who;
      size_t color = 0;
      for (size_t k = 0; k < s.series.size(); ++k)
        if (s.series[k].min_feasible_l1_bytes >= th) {
          if (who.empty()) color = k;
          who += (who.empty() ? "" : ", ") + std::string(objective_name(s.series[k].objective));
        }
      PlotBand ob;
      ob.x0 = static_cast<double>(from) / 1024;
      ob.x1 = static_cast<double>(th) / 1024;
      ob.label = fmt::format("infeasible for {}", who);
      ob.color = s.series.size() > 1 ? plot_palette()[color % plot_palette().size()] : "#b0b0b0";
      ob.opacity = 0.15;
      plot.bands.push_back(ob);
      from = th;
    }
  }
  PlotMarker m;
  m.x = static_cast<double>(s.l1_usable_bytes) / 1024;
  m.label = fmt::format("{} usable L1 ({:g} kB)", s.target,
                        std::round(static_cast<double>(s.l1_usable_bytes) / 1024 * 10) / 10);
  plot.markers.push_back(m);
  return render_svg(plot);
}

}  // namespace dory
