#include "report/html_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "memplan/constant_layout.h"
#include "memplan/memplan.h"
#include "report/eval_report.h"
#include "report/svg_plot.h"
#include "report/text_table.h"
#include "tiler/layer_model.h"

namespace dory {
namespace {

std::string esc(std::string_view s) { return xml_escape(s); }

// A coordinate or length with at most two decimals.
std::string px(double v) {
  std::string s = fmt::format("{:.2f}", v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

std::string bytes_text(int64_t b) { return format_bytes_grouped(b) + " B"; }
std::string cycles_text(double c) { return format_bytes_grouped(static_cast<int64_t>(std::llround(c))); }

constexpr double kCharWidth = 6.2;  // average advance of an 11 px sans-serif character, for fitting labels

// A minimal SVG canvas: shapes appended in drawing order.
struct Svg {
  double width = 0, height = 0;
  std::string body;

  void rect(double x, double y, double w, double h, std::string_view fill, std::string_view title = {},
            std::string_view extra = {}) {
    body += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"{}{}", px(x), px(y),
                        px(std::max(w, 0.0)), px(std::max(h, 0.0)), fill, extra.empty() ? "" : " ", std::string(extra));
    if (title.empty())
      body += "/>\n";
    else
      body += fmt::format("><title>{}</title></rect>\n", esc(title));
  }
  void text(double x, double y, std::string_view s, std::string_view anchor = "start", double size = 11,
            std::string_view extra = {}) {
    body += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"{}\"{}{}>{}</text>\n", px(x), px(y),
                        px(size), anchor, extra.empty() ? "" : " ", std::string(extra), esc(s));
  }
  void line(double x0, double y0, double x1, double y1, std::string_view stroke, double w = 1,
            std::string_view extra = {}) {
    body += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\"{}{}/>\n",
                        px(x0), px(y0), px(x1), px(y1), stroke, px(w), extra.empty() ? "" : " ", std::string(extra));
  }
  std::string str(std::string_view id, std::string_view label) const {
    return fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"{}\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
        "role=\"img\" aria-label=\"{}\" font-family=\"sans-serif\">\n{}</svg>\n",
        esc(id), px(width), px(height), px(width), px(height), esc(label), body);
  }
};

// A tick label; whole numbers with thousands separators.
std::string tick_text(double t, const std::vector<double>& ticks) {
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
  if (step >= 1 && t == std::round(t)) return format_bytes_grouped(static_cast<int64_t>(t));
  return format_tick(t, step);
}

bool fits(std::string_view s, double width, double size = 11) {
  return static_cast<double>(s.size()) * kCharWidth * size / 11 + 4 <= width;
}

// ---- tables ----

// A TextTable as an HTML table; columns whose header is in `numeric` are right-aligned; every cell of a row whose
// "source" column says modeled is marked so.
std::string html_table(const TextTable& t, std::string_view id) {
  size_t source_col = t.header.size();
  for (size_t c = 0; c < t.header.size(); ++c)
    if (t.header[c] == "source") source_col = c;
  std::string out = fmt::format("<table id=\"{}\">\n<thead><tr>", esc(id));
  for (size_t c = 0; c < t.header.size(); ++c) {
    std::string cls = c < t.right_aligned.size() && t.right_aligned[c] ? "num" : "";
    if (c < t.column_source.size() && !t.column_source[c].empty())
      cls += (cls.empty() ? "" : " ") + t.column_source[c];
    out += fmt::format("<th{}>{}</th>", cls.empty() ? "" : fmt::format(" class=\"{}\"", esc(cls)), esc(t.header[c]));
  }
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : t.rows) {
    const bool group_start = !row.empty() && !row[0].empty();
    const std::string source = source_col < row.size() ? row[source_col] : "";
    out += group_start ? "<tr class=\"group\">" : "<tr>";
    for (size_t c = 0; c < t.header.size(); ++c) {
      const std::string cell = c < row.size() ? row[c] : "";
      const bool num = c < t.right_aligned.size() && t.right_aligned[c];
      const std::string src =
          c < t.column_source.size() && !t.column_source[c].empty() ? t.column_source[c] : source;
      std::string cls = num ? "num" : "";
      std::string attrs;
      if (num && !cell.empty() && !src.empty() && cell != "-") {
        cls += " " + src;
        attrs = fmt::format(" data-source=\"{}\"", esc(src));
      }
      out +=
          fmt::format("<td{}{}>{}</td>", cls.empty() ? "" : fmt::format(" class=\"{}\"", esc(cls)), attrs, esc(cell));
    }
    out += "</tr>\n";
  }
  out += "</tbody>\n</table>\n";
  return out;
}

// ---- MAC/cycle per layer and mode (grouped bars) ----

// The axes of a per-mode bar chart and its legend (one swatch per mode) on the bottom line; returns where the
// legend ends (a chart adds its own entries there).
double mode_chart_axes_and_legend(Svg& s, double left, double top, double bottom,
                                  const std::vector<std::string>& pal) {
  s.line(left, bottom, s.width - 12, bottom, "#333");
  s.line(left, top, left, bottom, "#333");
  double lx = left;
  const double ly = s.height - 16;
  for (EvalMode m : kAllEvalModes) {
    const size_t k = mode_index(m);
    s.rect(lx, ly - 9, 10, 10, pal[k % pal.size()]);
    s.text(lx + 14, ly, eval_mode_title(m));
    lx += 24 + static_cast<double>(std::string_view(eval_mode_title(m)).size()) * kCharWidth;
  }
  return lx;
}

std::string mac_chart(const NetworkEval& e) {
  struct Group {
    std::string label, tooltip;
    std::array<double, kNumEvalModes> rate{};
  };
  std::vector<Group> groups;
  for (const LayerEval& l : e.layers) {
    if (l.macs == 0) continue;
    Group gr{l.layer, fmt::format("{} ({}, {} MACs)", l.layer, l.kind, format_bytes_grouped(l.macs)), {}};
    for (EvalMode m : kAllEvalModes) gr.rate[mode_index(m)] = macs_per_cycle(l.macs, l.mode(m).cycles);
    groups.push_back(std::move(gr));
  }
  Group net{"network", fmt::format("network ({} MACs)", format_bytes_grouped(e.total_macs)), {}};
  for (EvalMode m : kAllEvalModes) net.rate[mode_index(m)] = macs_per_cycle(e.total_macs, e.total(m).cycles);
  groups.push_back(std::move(net));

  double hi = 0;
  for (const Group& gr : groups)
    for (double r : gr.rate) hi = std::max(hi, r);
  std::vector<double> ticks = nice_ticks(0, hi > 0 ? hi : 1);
  const double top_value = ticks.back();

  const double bar_w = 13, gap = 22;
  const double group_w = kNumEvalModes * bar_w + gap;
  const double left = 64, top = 44, plot_h = 280;
  Svg s;
  s.width = std::max(760.0, left + static_cast<double>(groups.size()) * group_w + 20);
  s.height = top + plot_h + 92;
  const double bottom = top + plot_h;
  auto y_of = [&](double v) { return bottom - v / top_value * plot_h; };
  s.text(left, 18, fmt::format("MAC/cycle per layer and mode on {} ({} cores), modeled", e.target, e.cores), "start",
         13, "font-weight=\"bold\"");
  for (double t : ticks) {
    s.line(left, y_of(t), s.width - 12, y_of(t), "#e3e3e3");
    s.text(left - 6, y_of(t) + 4, format_tick(t, ticks.size() > 1 ? ticks[1] - ticks[0] : 1), "end");
  }
  s.text(16, top + plot_h / 2, "MAC/cycle (all cores)", "middle", 11,
         fmt::format("transform=\"rotate(-90 16 {})\"", px(top + plot_h / 2)));
  const std::vector<std::string>& pal = plot_palette();
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const Group& gr = groups[gi];
    const double x0 = left + gap / 2 + static_cast<double>(gi) * group_w;
    for (EvalMode m : kAllEvalModes) {
      const size_t k = mode_index(m);
      const double v = gr.rate[k];
      s.rect(x0 + static_cast<double>(k) * bar_w, y_of(v), bar_w - 1, bottom - y_of(v), pal[k % pal.size()],
             fmt::format("{}: {} {:.2f} MAC/cycle ({:.3f} per core), modeled", gr.tooltip, eval_mode_title(m), v,
                         v / static_cast<double>(std::max<int64_t>(e.cores, 1))),
             fmt::format("class=\"bar modeled\" data-mode=\"{}\" data-value=\"{:.3f}\"", eval_mode_name(m), v));
    }
    const double cx = x0 + kNumEvalModes * bar_w / 2;
    s.text(cx, bottom + 14, gr.label, "end", 10,
           fmt::format("transform=\"rotate(-30 {} {})\"", px(cx), px(bottom + 14)));
  }
  mode_chart_axes_and_legend(s, left, top, bottom, pal);
  return s.str("mac-chart-svg", "MAC/cycle per layer and mode");
}

// ---- executed MAC/cycle per layer and mode, with the model's prediction marked ----

std::string executed_mac_chart(const NetworkEval& e) {
  const ExecutedEval& x = *e.executed;
  struct Group {
    std::string label, tooltip;
    std::array<double, kNumEvalModes> rate{}, modeled{};
    std::array<bool, kNumEvalModes> ran{};
  };
  std::vector<Group> groups;
  for (size_t i = 0; i < e.layers.size() && i < x.layers.size(); ++i) {
    const LayerEval& l = e.layers[i];
    if (l.macs == 0) continue;
    Group gr{l.layer, fmt::format("{} ({}, {} MACs)", l.layer, l.kind, format_bytes_grouped(l.macs)), {}, {}, {}};
    for (EvalMode m : kAllEvalModes) {
      const ExecutedRun& r = x.layers[i].run(m);
      gr.ran[mode_index(m)] = r.ran && r.cycles > 0;
      gr.rate[mode_index(m)] = macs_per_cycle(l.macs, static_cast<double>(r.cycles));
      gr.modeled[mode_index(m)] = macs_per_cycle(l.macs, r.modeled_cycles);
    }
    groups.push_back(std::move(gr));
  }
  double hi = 0;
  for (const Group& gr : groups)
    for (size_t k = 0; k < kNumEvalModes; ++k)
      if (gr.ran[k]) hi = std::max({hi, gr.rate[k], gr.modeled[k]});
  std::vector<double> ticks = nice_ticks(0, hi > 0 ? hi : 1);
  const double top_value = ticks.back();
  const double bar_w = 13, gap = 22;
  const double group_w = kNumEvalModes * bar_w + gap;
  const double left = 64, top = 44, plot_h = 280;
  Svg s;
  s.width = std::max(760.0, left + static_cast<double>(groups.size()) * group_w + 20);
  s.height = top + plot_h + 92;
  const double bottom = top + plot_h;
  auto y_of = [&](double v) { return bottom - v / top_value * plot_h; };
  s.text(left, 18, "MAC/cycle per layer and mode: executed (bars) and modeled (black ticks)", "start", 13,
         "font-weight=\"bold\"");
  s.text(left, 34, x.platform, "start", 11, "fill=\"#444\"");
  for (double t : ticks) {
    s.line(left, y_of(t), s.width - 12, y_of(t), "#e3e3e3");
    s.text(left - 6, y_of(t) + 4, format_tick(t, ticks.size() > 1 ? ticks[1] - ticks[0] : 1), "end");
  }
  s.text(16, top + plot_h / 2, "MAC/cycle (all cores)", "middle", 11,
         fmt::format("transform=\"rotate(-90 16 {})\"", px(top + plot_h / 2)));
  const std::vector<std::string>& pal = plot_palette();
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    const Group& gr = groups[gi];
    const double x0 = left + gap / 2 + static_cast<double>(gi) * group_w;
    for (EvalMode m : kAllEvalModes) {
      const size_t k = mode_index(m);
      if (!gr.ran[k]) continue;
      const double v = gr.rate[k], bx = x0 + static_cast<double>(k) * bar_w;
      s.rect(bx, y_of(v), bar_w - 1, bottom - y_of(v), pal[k % pal.size()],
             fmt::format("{}: {} {:.2f} MAC/cycle executed, {:.2f} modeled", gr.tooltip, eval_mode_title(m), v,
                         gr.modeled[k]),
             fmt::format("class=\"bar executed\" data-source=\"executed\" data-mode=\"{}\" data-value=\"{:.3f}\"",
                         eval_mode_name(m), v));
      s.line(bx - 1, y_of(gr.modeled[k]), bx + bar_w, y_of(gr.modeled[k]), "#000", 2,
             fmt::format("class=\"tick modeled\" data-source=\"modeled\" data-mode=\"{}\" data-value=\"{:.3f}\"",
                         eval_mode_name(m), gr.modeled[k]));
    }
    const double cx = x0 + kNumEvalModes * bar_w / 2;
    s.text(cx, bottom + 14, gr.label, "end", 10,
           fmt::format("transform=\"rotate(-30 {} {})\"", px(cx), px(bottom + 14)));
  }
  const double lx = mode_chart_axes_and_legend(s, left, top, bottom, pal);
  const double ly = s.height - 16;
  s.line(lx, ly - 4, lx + 12, ly - 4, "#000", 2);
  s.text(lx + 16, ly, "modeled");
  return s.str("executed-mac-chart", "MAC/cycle per layer and mode, executed and modeled");
}

// ---- L1 maps ----

const char* role_color(BufferRole r) {
  switch (r) {
    case BufferRole::Input:
      return "#56B4E9";
    case BufferRole::Weights:
      return "#E69F00";
    case BufferRole::Bias:
      return "#F0E442";
    case BufferRole::RequantParams:
      return "#CC79A7";
    case BufferRole::Output:
      return "#009E73";
    case BufferRole::PartialSums:
      return "#D55E00";
    case BufferRole::Scratch:
      return "#999999";
  }
  return "#777777";
}

std::string buffer_name(const L1Buffer& b, int num_inputs) {
  std::string n = buffer_role_name(b.role);
  if (b.role == BufferRole::Input && num_inputs > 1) n += fmt::format("{}", b.operand);
  return n;
}

std::string buffering_text(const Buffering& b) {
  return std::string(b.input ? "i" : "-") + (b.weights ? "w" : "-") + (b.output ? "o" : "-");
}

std::string l1_map(const NetworkEval& e, size_t li) {
  const double left = 64, bar_w = 680, row_h = 62, top = 30;
  Svg s;
  s.width = left + bar_w + 20;
  s.height = top + 3 * row_h + 4;
  const LayerEval& l = e.layers[li];
  const double budget = static_cast<double>(e.l1_budget_bytes);
  s.text(0, 16,
         fmt::format("{} ({}): L1 layout per objective, budget {}", l.layer, l.kind, bytes_text(e.l1_budget_bytes)),
         "start", 12, "font-weight=\"bold\"");
  int row = 0;
  for (Objective o : {Objective::Model, Objective::Dory, Objective::Fill}) {
    const TilePlan& p = e.plans_of(o)[li];
    const double y = top + row * row_h;
    s.text(left - 8, y + 15, objective_name(o), "end", 11);
    s.rect(left, y, bar_w, 22, "#f4f4f4", fmt::format("L1 budget {}", bytes_text(e.l1_budget_bytes)),
           "stroke=\"#bbb\"");
    std::string sizes;
    for (const L1Buffer& b : p.layout.buffers) {
      const std::string name = buffer_name(b, p.geometry.num_inputs());
      for (size_t k = 0; k < b.offsets.size(); ++k) {
        const double x = left + static_cast<double>(b.offsets[k]) / budget * bar_w;
        const double w = static_cast<double>(b.bytes_per_copy) / budget * bar_w;
        const std::string label = b.copies > 1 ? fmt::format("{} {}", name, k) : name;
        s.rect(
            x, y, w, 22, role_color(b.role),
            fmt::format("{}: {} at offset {}", label, bytes_text(b.bytes_per_copy), format_bytes_grouped(b.offsets[k])),
            fmt::format("stroke=\"#fff\" stroke-width=\"0.5\" class=\"l1-buffer\" data-role=\"{}\"",
                        buffer_role_name(b.role)));
        if (fits(label, w, 10)) s.text(x + w / 2, y + 15, label, "middle", 10);
      }
      if (!sizes.empty()) sizes += " | ";
      sizes += b.copies > 1 ? fmt::format("{} 2 x {}", name, bytes_text(b.bytes_per_copy))
                            : fmt::format("{} {}", name, bytes_text(b.bytes_per_copy));
    }
    s.text(
        left, y + 36,
        fmt::format("{} of {} ({:.0f} %), tile {}x{}x{}{}, {} tile{}, buffering {}", bytes_text(p.layout.total_bytes),
                    bytes_text(e.l1_budget_bytes), 100.0 * static_cast<double>(p.layout.total_bytes) / budget,
                    p.shape.c_out, p.shape.h_out, p.shape.w_out,
                    (!p.geometry.channels_tied && p.shape.c_in < p.geometry.c_in) ? fmt::format(", ci {}", p.shape.c_in)
                                                                                  : std::string(),
                    p.counts.total(), p.counts.total() == 1 ? "" : "s", buffering_text(p.buffering)),
        "start", 10);
    s.text(left, y + 49, sizes, "start", 10, "fill=\"#444\"");
    ++row;
  }
  return s.str(fmt::format("l1-map-{}", l.layer_index), fmt::format("L1 layout of {}", l.layer));
}

std::string role_legend() {
  std::string out = "<p class=\"legend\">";
  for (BufferRole r : {BufferRole::Input, BufferRole::Weights, BufferRole::Bias, BufferRole::RequantParams,
                       BufferRole::Output, BufferRole::PartialSums, BufferRole::Scratch})
    out += fmt::format("<span class=\"swatch\" style=\"background:{}\"></span>{} ", role_color(r), buffer_role_name(r));
  return out + "</p>\n";
}

// ---- L2 occupancy ----

std::string l2_map(const Graph& g, const MemoryPlan& plan) {
  const double left = 84, top = 40, plot_w = 640, plot_h = 300;
  Svg s;
  s.width = left + plot_w + 24;
  s.height = top + plot_h + 64;
  const int steps = std::max(1, plan.num_steps);
  double hi = static_cast<double>(std::max<int64_t>(plan.activation_bytes, 1));
  for (int64_t v : plan.live_bytes_per_step) hi = std::max(hi, static_cast<double>(v));
  std::vector<double> ticks = nice_ticks(0, hi / 1024.0);
  const double top_kib = ticks.back();
  const double bottom = top + plot_h;
  const double step_w = plot_w / steps;
  auto y_of = [&](double bytes) { return bottom - bytes / 1024.0 / top_kib * plot_h; };
  s.text(0, 16,
         fmt::format("L2 activation arena over the schedule: peak {} (lower bound {})",
                     bytes_text(plan.activation_bytes), bytes_text(plan.lower_bound_bytes)),
         "start", 12, "font-weight=\"bold\"");
  for (double t : ticks) {
    s.line(left, y_of(t * 1024), left + plot_w, y_of(t * 1024), "#e3e3e3");
    s.text(left - 6, y_of(t * 1024) + 4, format_tick(t, ticks.size() > 1 ? ticks[1] - ticks[0] : 1), "end");
  }
  s.text(18, top + plot_h / 2, "offset in the activation arena (kB)", "middle", 11,
         fmt::format("transform=\"rotate(-90 18 {})\"", px(top + plot_h / 2)));
  const std::vector<std::string>& pal = plot_palette();
  for (size_t ci = 0; ci < plan.classes.size(); ++ci) {
    const StorageClass& c = plan.classes[ci];
    if (c.offset < 0) continue;
    const double off = static_cast<double>(c.offset - plan.activation_start);
    const double x = left + c.life.first * step_w;
    const double w = (c.life.last - c.life.first + 1) * step_w;
    const double y1 = y_of(off + static_cast<double>(c.aligned_bytes)), y0 = y_of(off);
    const std::string name = g.tensors[static_cast<size_t>(c.owner)].name;
    s.rect(x + 1, y1, w - 2, y0 - y1, pal[ci % pal.size()],
           fmt::format("{}: {} at L2 offset {}, live at steps {}-{}", name, bytes_text(c.bytes),
                       format_bytes_grouped(c.offset), c.life.first, c.life.last),
           "fill-opacity=\"0.55\" stroke=\"#333\" stroke-width=\"0.5\" class=\"l2-class\"");
    if (fits(name, w - 4, 10) && y0 - y1 >= 12) s.text(x + w / 2, (y0 + y1) / 2 + 4, name, "middle", 10);
  }
  // Live bytes per step: a staircase.
  std::string pts;
  for (size_t i = 0; i < plan.live_bytes_per_step.size(); ++i) {
    const double y = y_of(static_cast<double>(plan.live_bytes_per_step[i]));
    pts += fmt::format("{},{} {},{} ", px(left + static_cast<double>(i) * step_w), px(y),
                       px(left + static_cast<double>(i + 1) * step_w), px(y));
  }
  s.body += fmt::format(
      "<polyline points=\"{}\" fill=\"none\" stroke=\"#000\" stroke-width=\"1.5\" stroke-dasharray=\"4 2\" "
      "id=\"l2-live-bytes\"><title>live bytes per step</title></polyline>\n",
      pts);
  for (int i = 0; i < steps; ++i) {
    const double cx = left + (i + 0.5) * step_w;
    s.text(cx, bottom + 14, std::to_string(i), "middle", 10);
  }
  s.line(left, bottom, left + plot_w, bottom, "#333");
  s.line(left, top, left, bottom, "#333");
  s.text(left + plot_w / 2, bottom + 30, "step (layer index)", "middle");
  s.text(left, bottom + 48,
         "dashed: bytes live at each step (the sum of the live classes; its maximum is the lower bound)", "start", 10,
         "fill=\"#444\"");
  return s.str("l2-map", "L2 occupancy over the schedule");
}

// ---- Gantt chart ----

std::string gantt(const Target& target, const NetworkEval& e, size_t li, int64_t max_tiles) {
  const TilePlan& p = e.plans_of(Objective::Model)[li];
  const std::vector<TimelineEvent> events = layer_timeline(target, p.geometry, p.shape, p.buffering, max_tiles);
  double end = 1;
  for (const TimelineEvent& ev : events) end = std::max(end, ev.end_cycles);
  const double left = 96, top = 44, lane_h = 34, plot_w = 700;
  Svg s;
  s.width = left + plot_w + 24;
  s.height = top + 3 * lane_h + 74;
  std::vector<double> ticks = nice_ticks(0, end);
  const double x_hi = ticks.back();
  auto x_of = [&](double c) { return left + c / x_hi * plot_w; };
  const int64_t shown = std::min<int64_t>(p.counts.total(), max_tiles);
  s.text(0, 16,
         fmt::format("{} ({}), objective model: the first {} of {} tiles, tile {}x{}x{}, buffering {}; modeled cycles",
                     p.layer, e.layers[li].kind, shown, p.counts.total(), p.shape.c_out, p.shape.h_out, p.shape.w_out,
                     buffering_text(p.buffering)),
         "start", 12, "font-weight=\"bold\"");
  const char* lanes[] = {"DMA in", "compute", "DMA out"};
  for (int k = 0; k < 3; ++k) {
    const double y = top + k * lane_h;
    s.text(left - 8, y + lane_h / 2 + 4, lanes[k], "end");
    s.rect(left, y + 3, plot_w, lane_h - 6, k % 2 ? "#fafafa" : "#f2f2f2");
  }
  for (double t : ticks) {
    s.line(x_of(t), top, x_of(t), top + 3 * lane_h, "#e0e0e0");
    s.text(x_of(t), top + 3 * lane_h + 14, tick_text(t, ticks), "middle", 10);
  }
  for (const TimelineEvent& ev : events) {
    const int lane = ev.kind == TimelineEvent::Load ? 0 : ev.kind == TimelineEvent::Compute ? 1 : 2;
    const double y = top + lane * lane_h + 6;
    const double x = x_of(ev.start_cycles), w = std::max(x_of(ev.end_cycles) - x, 1.0);
    std::string what, color;
    if (ev.kind == TimelineEvent::Compute) {
      what = fmt::format("compute tile {}", ev.tile);
      color = "#0072B2";
    } else {
      what = fmt::format("{} {} of tile {} ({})", ev.kind == TimelineEvent::Load ? "load" : "store",
                         buffer_role_name(ev.role), ev.tile, bytes_text(ev.bytes));
      color = role_color(ev.role);
    }
    s.rect(x, y, w, lane_h - 12, color,
           fmt::format("{}: cycles {} to {}", what, cycles_text(ev.start_cycles), cycles_text(ev.end_cycles)),
           fmt::format("stroke=\"#fff\" stroke-width=\"0.5\" class=\"gantt-event\" data-kind=\"{}\"", lane == 0 ? "load"
                                                                                                      : lane == 1
                                                                                                          ? "compute"
                                                                                                          : "store"));
    const std::string label = fmt::format("{}", ev.tile);
    if (fits(label, w, 10))
      s.text(x + w / 2, y + lane_h / 2 - 2, label, "middle", 10,
             ev.kind == TimelineEvent::Compute ? "fill=\"#fff\"" : "");
  }
  s.text(left + plot_w / 2, top + 3 * lane_h + 32, "cycles from the start of the layer", "middle");
  s.text(left, top + 3 * lane_h + 52,
         "One DMA engine serves loads and stores in push order; numbers in the bars are tile indices; hover for "
         "bytes and cycles.",
         "start", 10, "fill=\"#444\"");
  return s.str("gantt-chart", fmt::format("DMA and compute timeline of {}", p.layer));
}

constexpr const char* kStyle = R"(body{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}h3{font-size:14px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}
th,td{padding:2px 8px;border-bottom:1px solid #eee;white-space:nowrap}
th{background:#f0f0f0;text-align:left}th.num,td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.group td{border-top:1px solid #999}
.note{color:#555;font-size:12px}.legend{font-size:12px}
.swatch{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;border:1px solid #888}
.l1map{margin:10px 0}
th.executed{background:#e4f0e4}th.modeled{background:#eeeef8}
svg text{fill:#222}
)";

// Records script errors of the page (there should be none) and marks the page as loaded.
constexpr const char* kErrorRecorder =
    "<script>window.addEventListener('error',function(ev){var d=document.documentElement;"
    "d.setAttribute('data-errors',(d.getAttribute('data-errors')||'')+(ev.message||('resource '+"
    "((ev.target&&(ev.target.src||ev.target.href))||'?')))+';');},true);</script>\n";
constexpr const char* kLoadedMarker = "<script>document.documentElement.setAttribute('data-loaded','1');</script>\n";

}  // namespace

Expected<size_t> gantt_layer_index(const NetworkEval& e, const std::string& gantt_layer) {
  const std::vector<TilePlan>& plans = e.plans_of(Objective::Model);
  if (e.layers.empty())
    return make_error("cli-unknown-layer", "--gantt-layer", "the network has no layer that runs a kernel");
  if (gantt_layer.empty()) {
    size_t best = 0;
    for (size_t i = 1; i < plans.size(); ++i)
      if (plans[i].counts.total() > plans[best].counts.total()) best = i;
    return best;
  }
  std::string names;
  for (size_t i = 0; i < e.layers.size(); ++i) {
    if (e.layers[i].layer == gantt_layer) return i;
    names += (i ? ", " : "") + e.layers[i].layer;
  }
  return make_error("cli-unknown-layer", "--gantt-layer",
                    fmt::format("no layer '{}' runs a kernel in this network", gantt_layer),
                    fmt::format("use one of: {}", names));
}

Expected<std::string> render_html_report(const Graph& g, const Target& target, const NetworkEval& e,
                                         const HtmlReportOptions& options) {
  DORY_CHECK(options.gantt_tiles >= 1, "render_html_report: gantt_tiles must be >= 1");
  std::optional<size_t> gantt_index;  // none for a network without kernel layers (nothing to draw)
  if (!e.layers.empty() || !options.gantt_layer.empty()) {
    DORY_TRY(size_t i, gantt_layer_index(e, options.gantt_layer));
    gantt_index = i;
  }
  MemoryPlanOptions mo;
  mo.l2_capacity_bytes = 0;  // the map is drawn even when it does not fit; the text says so
  mo.reserved_bytes = layout_constants(e.plans_of(Objective::Model)).bytes;
  mo.alignment = std::max<int64_t>(8, target.l2.alignment_bytes);
  DORY_TRY(MemoryPlan mem, plan_memory(g, mo));

  const std::string title = fmt::format("dory eval: {} on {}", e.model, e.target);
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\" data-report=\"dory-eval\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += fmt::format("<title>{}</title>\n<style>{}</style>\n{}</head>\n<body>\n", esc(title), kStyle, kErrorRecorder);
  h += fmt::format("<h1>{}</h1>\n", esc(title));

  h += "<section id=\"summary\">\n";
  h += fmt::format(
      "<p>{} cores at {:g} MHz; L1 budget {} (usable {}); L1 {} cycle(s) and L2 {} cycles per core load. "
      "<strong>Every cycle, latency and energy on this page is modeled</strong> (dory's cost model of the target, "
      "docs/cost-model.md and docs/targets.md); {}</p>\n",
      e.cores, static_cast<double>(e.clock_hz) / 1e6, esc(bytes_text(e.l1_budget_bytes)),
      esc(bytes_text(e.l1_usable_bytes)), e.l1_access_cycles, e.l2_access_cycles,
      e.executed && e.executed->measure == ExecutedMeasure::Cycles
          ? "the executed numbers are the cluster cycles in the section \"Executed\" (" + esc(e.executed->platform) +
                "), next to the model's, with every layer of every run checked bit for bit."
      : e.executed ? "the only executed numbers are the retired instructions in the section \"Executed\" (" +
                       esc(e.executed->platform) + "), with every layer of both passes checked bit for bit."
                 : std::string("none is executed on the target; the generated code's values are checked bit for bit "
                               "by <code>dory run</code>, and <code>dory eval --platform qemu</code> adds executed "
                               "instruction counts."));
  h += fmt::format(
      "<p class=\"note\">Modes: <b>l1-resident</b> every operand already in L1 (one kernel call per layer); "
      "<b>l2-direct</b> the kernels load their operands from L2 (no DMA; im2col scratch in {}); <b>dory-model</b>, "
      "<b>dory-dory</b>, <b>dory-fill</b> DORY's double-buffered L2-to-L1 tiling with the tiler objective model, "
      "dory (DORY's heuristic) or fill (largest tiles).</p>\n</section>\n",
      e.l2_scratch == L2Scratch::L1 ? "L1" : "L2");

  h += "<section id=\"network-summary\">\n<h2>Network (Table 1 analog)</h2>\n";
  h += html_table(eval_network_table(e), "network-table");
  const ModeCost& l2 = e.total(EvalMode::L2Direct);
  const ModeCost& dm = e.total(EvalMode::Model);
  h += fmt::format(
      "<p>DORY (objective model) vs L2-direct: <span class=\"modeled\" data-source=\"modeled\">{:.3f} ms vs {:.3f} "
      "ms</span> ({:.2f}x faster), <span class=\"modeled\" data-source=\"modeled\">{:.1f} uJ vs {:.1f} uJ</span> "
      "({:.2f}x less energy).</p>\n</section>\n",
      latency_ms(e, dm.cycles), latency_ms(e, l2.cycles), speedup_vs(dm.cycles, l2.cycles), dm.energy.total_pj() * 1e-6,
      l2.energy.total_pj() * 1e-6, dm.energy.total_pj() > 0 ? l2.energy.total_pj() / dm.energy.total_pj() : 0);

  h += "<section id=\"layers\">\n<h2>Per layer and mode</h2>\n";
  h += "<p class=\"note\">vs L1: overhead vs l1-resident; vs L2: speedup vs l2-direct; note 'bound': the whole layer "
       "does not fit the L1 budget, so its l1-resident number is the compute-only lower bound; 'port': l2-direct "
       "limited by the L2 port bandwidth.</p>\n";
  h += "<h3>Modes side by side: cycles and MAC/cycle (Figure 3 analog)</h3>\n";
  h += html_table(eval_side_by_side_table(e), "side-by-side-table");
  h += "<h3>Every metric per layer and mode</h3>\n";
  h += html_table(eval_layer_table(e), "eval-table");
  h += "</section>\n";

  if (e.executed && e.executed->measure == ExecutedMeasure::Cycles) {
    h += fmt::format("<section id=\"executed\">\n<h2>Executed on {}: cluster cycles of every mode, next to the "
                     "model</h2>\n",
                     esc(e.executed->platform));
    h += "<p class=\"note\">" + esc(executed_cycles_legend(e)) + "</p>\n";
    h += "<h3>Network (Table 1 analog, executed)</h3>\n";
    h += html_table(eval_executed_network_table(e), "executed-network-table");
    h += "<h3>The model's error per mode</h3>\n";
    h += html_table(eval_model_error_table(e), "model-error-table");
    h += "<h3>Modes side by side, executed (Figure 3 analog)</h3>\n";
    h += html_table(eval_executed_side_by_side_table(e), "executed-side-by-side-table");
    h += executed_mac_chart(e);
    h += "<h3>Modeled against executed, per layer and mode</h3>\n";
    h += html_table(eval_model_vs_executed_table(e), "model-vs-executed-table");
    if (e.executed->cycle_split) {
      h += "<h3>Where the tiled run's cycles go (objective model, the executor's own split, core 0)</h3>\n";
      h += html_table(eval_cycle_split_table(e), "cycle-split-table");
    }
    h += "<h3>Is the objective right when executed?</h3>\n";
    h += html_table(eval_objective_check_table(e), "objective-check-table");
    h += "</section>\n";
  } else if (e.executed) {
    h += "<section id=\"executed\">\n<h2>Executed: retired instructions of the L2-direct and DORY passes</h2>\n";
    h += html_table(eval_executed_table(e), "executed-table");
    h += "<p class=\"note\">" + esc(executed_legend(e)) + "</p>\n</section>\n";
  }

  h += "<section id=\"mac-chart\">\n<h2>MAC/cycle per layer (Figure 3 analog)</h2>\n";
  h += mac_chart(e);
  h += "</section>\n";

  h += "<section id=\"l1-maps\">\n<h2>L1 maps</h2>\n";
  h += "<p class=\"note\">Each bar spans the L1 budget; a segment is one copy of a buffer at its offset (two copies "
       "when double buffered). Hover for offsets.</p>\n";
  h += role_legend();
  for (size_t i = 0; i < e.layers.size(); ++i) h += "<div class=\"l1map\">\n" + l1_map(e, i) + "</div>\n";
  h += "</section>\n";

  h += "<section id=\"l2-occupancy\">\n<h2>L2 occupancy</h2>\n";
  const int64_t capacity = target.usable_bytes(MemLevel::L2);
  h += fmt::format(
      "<p>Constants {} at [0, {}); activations {} (lower bound {}, strategy {}); total {} of {} usable{}.</p>\n",
      esc(bytes_text(mem.activation_start)), esc(format_bytes_grouped(mem.activation_start)),
      esc(bytes_text(mem.activation_bytes)), esc(bytes_text(mem.lower_bound_bytes)), esc(mem.strategy),
      esc(bytes_text(mem.total_bytes)), esc(bytes_text(capacity)),
      mem.total_bytes > capacity ? " (does NOT fit: dory deploy reports l2-overflow)" : "");
  h += l2_map(g, mem);
  h += "<table id=\"l2-steps\">\n<thead><tr><th class=\"num\">step</th><th>layer</th><th class=\"num\">live B</th>"
       "</tr></thead>\n<tbody>\n";
  for (size_t i = 0; i < mem.live_bytes_per_step.size() && i < g.layers.size(); ++i)
    h += fmt::format("<tr><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td></tr>\n", i,
                     esc(g.layers[i].name), esc(format_bytes_grouped(mem.live_bytes_per_step[i])));
  h += "</tbody>\n</table>\n</section>\n";

  h += "<section id=\"gantt\">\n<h2>DMA and compute timeline</h2>\n";
  h += gantt_index ? gantt(target, e, *gantt_index, options.gantt_tiles)
                   : std::string("<p>No layer of this network runs a kernel.</p>\n");
  h += "</section>\n";

  h += kLoadedMarker;
  h += "</body>\n</html>\n";
  return h;
}

}  // namespace dory
