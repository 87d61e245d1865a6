#include "report/svg_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace dory {
namespace {

constexpr double kCharWidth = 6.6;  // average advance of a 12 px sans-serif character, for layout estimates

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

struct Scale {
  double d0, d1;  // data range
  double p0, p1;  // pixel range
  bool log = false;
  double operator()(double v) const {
    if (log) return p0 + (std::log10(v) - std::log10(d0)) / (std::log10(d1) - std::log10(d0)) * (p1 - p0);
    return p0 + (v - d0) / (d1 - d0) * (p1 - p0);
  }
};

bool drawable(const PlotAxis& a, double v) { return std::isfinite(v) && (!a.log || v > 0); }

// Axis range and ticks: data (or explicit) range widened to whole ticks (linear), or exactly (log).
std::vector<double> axis_ticks(const PlotAxis& axis, Range data, double* lo, double* hi) {
  if (axis.log) {
    if (data.empty()) data = {1, 10};
    // 3 % of the span of margin at an automatic end, so the extreme points do not sit on the frame.
    const double margin = data.hi > data.lo ? std::pow(data.hi / data.lo, 0.03) : 1.0;
    *lo = axis.min.value_or(data.lo / margin);
    *hi = axis.max.value_or(data.hi * margin);
    if (*hi <= *lo) *hi = *lo * 10;
  } else {
    if (axis.include_zero) data.add(0);
    if (data.empty()) data = {0, 1};
    const double a = axis.min.value_or(data.lo), b = axis.max.value_or(data.hi);
    std::vector<double> ticks = nice_ticks(a, b);
    *lo = axis.min ? a : ticks.front();
    *hi = axis.max ? b : ticks.back();
    if (*hi <= *lo) *hi = *lo + 1;
    if (axis.ticks.empty()) {
      std::vector<double> inside;
      const double eps = (*hi - *lo) * 1e-9;
      for (double t : ticks)
        if (t >= *lo - eps && t <= *hi + eps) inside.push_back(t);
      return inside;
    }
  }
  std::vector<double> ticks = axis.ticks.empty() ? log_ticks(*lo, *hi) : axis.ticks;
  std::vector<double> inside;
  const double eps = (*hi - *lo) * 1e-9;
  for (double t : ticks)
    if (t >= *lo - eps && t <= *hi + eps && (!axis.log || t > 0)) inside.push_back(t);
  return inside;
}

std::string num(double v) {
  std::string s = fmt::format("{:.2f}", v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s == "-0" ? "0" : s;
}

double text_width(std::string_view s, double font_px = 12) {
  return static_cast<double>(s.size()) * kCharWidth * font_px / 12;
}

}  // namespace

const std::vector<std::string>& plot_palette() {
  static const std::vector<std::string> p{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"};
  return p;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0, 1};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) {
    const double w = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= w;
    hi += w;
  }
  target = std::max(target, 1);
  const double raw = (hi - lo) / target;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = 10 * mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw * (1 - 1e-9)) {
      step = m * mag;
      break;
    }
  const double first = std::floor(lo / step + 1e-9);
  const double last = std::ceil(hi / step - 1e-9);
  std::vector<double> ticks;
  for (double k = first; k <= last + 0.5; k += 1) {
    double t = k * step;
    if (std::abs(t) < step * 1e-9) t = 0;
    ticks.push_back(t);
  }
  return ticks;
}

std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> out;
  if (!(lo > 0) || !(hi > lo)) return out;
  for (const bool thin : {false, true}) {
    out.clear();
    for (double decade = std::pow(10.0, std::floor(std::log10(lo))); decade <= hi * 1.000001; decade *= 10)
      for (double m : thin ? std::vector<double>{1} : std::vector<double>{1, 2, 5}) {
        const double t = m * decade;
        if (t >= lo * 0.999999 && t <= hi * 1.000001) out.push_back(t);
      }
    if (out.size() <= 12) break;
  }
  return out;
}

std::string format_tick(double value, double step) {
  int decimals = 0;
  step = std::abs(step);
  while (decimals < 9) {
    const double scaled = step * std::pow(10.0, decimals);
    if (step == 0 || std::abs(scaled - std::round(scaled)) < 1e-6 * std::max(1.0, scaled)) break;
    ++decimals;
  }
  std::string s = fmt::format("{:.{}f}", value, decimals);
  if (s.find_first_not_of("-0.") == std::string::npos) s = decimals ? fmt::format("{:.{}f}", 0.0, decimals) : "0";
  return s;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string render_svg(const LinePlot& plot) {
  const double W = plot.width, H = plot.height;
  const bool legend = plot.series.size() > 1 || !plot.bands.empty();
  const double left = 74, right = W - 24, bottom = H - 52;
  // Legend entries (series, then bands) laid out in centered rows that fit between left and right.
  struct Entry {
    bool band;
    size_t index;
    double width;
  };
  std::vector<std::vector<Entry>> rows;
  if (legend) {
    std::vector<Entry> entries;
    for (size_t k = 0; k < plot.series.size(); ++k)
      entries.push_back({false, k, 32 + text_width(plot.series[k].label)});
    for (size_t k = 0; k < plot.bands.size(); ++k) entries.push_back({true, k, 20 + text_width(plot.bands[k].label)});
    constexpr double kGap = 18;
    double used = 0;
    for (const Entry& e : entries) {
      if (rows.empty() || (used > 0 && used + kGap + e.width > right - left)) {
        rows.emplace_back();
        used = 0;
      }
      used += (used > 0 ? kGap : 0) + e.width;
      rows.back().push_back(e);
    }
  }
  double top = 16;
  if (!plot.title.empty()) top += 22;
  if (!plot.subtitle.empty()) top += 18;
  const double legend_y = top + 6;
  top += 20 * static_cast<double>(rows.size()) + (rows.empty() ? 0 : 4);
  top += 10;

  Range xr, yr;
  for (const PlotSeries& s : plot.series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (drawable(plot.x, s.x[i])) xr.add(s.x[i]);
      if (drawable(plot.x, s.x[i]) && drawable(plot.y, s.y[i])) yr.add(s.y[i]);
    }
  }
  if (!plot.x.log) {
    for (const PlotBand& b : plot.bands) {
      xr.add(b.x0);
      xr.add(b.x1);
    }
    for (const PlotMarker& m : plot.markers) xr.add(m.x);
  }
  double x_lo, x_hi, y_lo, y_hi;
  const std::vector<double> xt = axis_ticks(plot.x, xr, &x_lo, &x_hi);
  const std::vector<double> yt = axis_ticks(plot.y, yr, &y_lo, &y_hi);
  const Scale X{x_lo, x_hi, left, right, plot.x.log};
  const Scale Y{y_lo, y_hi, bottom, top, plot.y.log};
  // Linear automatic ticks share the step's precision; log and explicit ticks are labeled one by one.
  auto tick_label = [](const PlotAxis& a, const std::vector<double>& t, double v) {
    if (a.log || !a.ticks.empty()) return fmt::format("{:g}", v);
    return format_tick(v, t.size() > 1 ? t[1] - t[0] : 1.0);
  };

  std::string o;
  o += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o += fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
      "font-size=\"12\">\n",
      num(W), num(H));
  if (!plot.title.empty()) o += fmt::format("<title>{}</title>\n", xml_escape(plot.title));
  o += fmt::format("<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>\n", num(W), num(H));
  double ty = 16;
  if (!plot.title.empty()) {
    ty += 16;
    o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">{}</text>\n",
                     num(W / 2), num(ty), xml_escape(plot.title));
  }
  if (!plot.subtitle.empty()) {
    ty += 18;
    o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#555555\">{}</text>\n", num(W / 2), num(ty),
                     xml_escape(plot.subtitle));
  }

  // Bands, under everything else.
  o += "<g class=\"bands\">\n";
  for (const PlotBand& b : plot.bands) {
    const double a = X(std::clamp(std::min(b.x0, b.x1), x_lo, x_hi));
    const double c = X(std::clamp(std::max(b.x0, b.x1), x_lo, x_hi));
    if (c <= a) continue;
    o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\" fill-opacity=\"{}\"/>\n", num(a),
                     num(top), num(c - a), num(bottom - top), xml_escape(b.color), num(b.opacity));
    if (!b.label.empty() && text_width(b.label, 11) + 8 < c - a)
      o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"11\" fill=\"#333333\">{}</text>\n",
                       num((a + c) / 2), num(bottom - 8), xml_escape(b.label));
  }
  o += "</g>\n";

  // Grid and ticks.
  o += "<g class=\"grid\" stroke=\"#e3e3e3\" stroke-width=\"1\">\n";
  for (double t : xt)
    o += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>\n", num(X(t)), num(top), num(bottom));
  for (double t : yt)
    o += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\"/>\n", num(left), num(Y(t)), num(right));
  o += "</g>\n";
  o += "<g class=\"axes\" stroke=\"#000000\" stroke-width=\"1\">\n";
  o += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\"/>\n", num(left), num(bottom), num(right));
  o += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>\n", num(left), num(top), num(bottom));
  for (double t : xt)
    o += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\"/>\n", num(X(t)), num(bottom), num(bottom + 5));
  for (double t : yt)
    o += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\"/>\n", num(left - 5), num(Y(t)), num(left));
  o += "</g>\n";
  o += "<g class=\"tick-labels\" fill=\"#000000\">\n";
  for (double t : xt)
    o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", num(X(t)), num(bottom + 19),
                     xml_escape(tick_label(plot.x, xt, t)));
  for (double t : yt)
    o += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", num(left - 8), num(Y(t) + 4),
                     xml_escape(tick_label(plot.y, yt, t)));
  o += "</g>\n";
  if (!plot.x.label.empty())
    o += fmt::format("<text class=\"x-label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\">{}</text>\n",
                     num((left + right) / 2), num(H - 12), xml_escape(plot.x.label));
  if (!plot.y.label.empty())
    o += fmt::format(
        "<text class=\"y-label\" x=\"{0}\" y=\"{1}\" text-anchor=\"middle\" font-size=\"13\" "
        "transform=\"rotate(-90 {0} {1})\">{2}</text>\n",
        num(18), num((top + bottom) / 2), xml_escape(plot.y.label));

  // Markers.
  for (const PlotMarker& m : plot.markers) {
    if (!drawable(plot.x, m.x) || m.x < x_lo || m.x > x_hi) continue;
    const double px = X(m.x);
    o += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"{3}\" stroke-width=\"1.2\" "
        "stroke-dasharray=\"5,4\"/>\n",
        num(px), num(top), num(bottom), xml_escape(m.color));
    if (!m.label.empty()) {
      const bool flip = px + text_width(m.label, 11) + 6 > right;
      o += fmt::format(
          "<text x=\"{}\" y=\"{}\" text-anchor=\"{}\" font-size=\"11\" fill=\"{}\" stroke=\"#ffffff\" "
          "stroke-width=\"3\" paint-order=\"stroke\">{}</text>\n",
          num(flip ? px - 4 : px + 4), num(top + 13), flip ? "end" : "start", xml_escape(m.color), xml_escape(m.label));
    }
  }

  // Series.
  std::vector<std::string> colors;
  size_t next_color = 0;
  for (const PlotSeries& s : plot.series)
    colors.push_back(s.color.empty() ? plot_palette()[next_color++ % plot_palette().size()] : s.color);
  for (size_t k = 0; k < plot.series.size(); ++k) {
    const PlotSeries& s = plot.series[k];
    o += fmt::format("<g class=\"series\" stroke=\"{0}\" fill=\"{0}\">\n", xml_escape(colors[k]));
    std::string pts;
    auto flush = [&]() {
      if (!pts.empty())
        o += fmt::format("<polyline fill=\"none\" stroke-width=\"2\" stroke-linejoin=\"round\" points=\"{}\"/>\n", pts);
      pts.clear();
    };
    const size_t n = std::min(s.x.size(), s.y.size());
    for (size_t i = 0; i < n; ++i) {
      if (!drawable(plot.y, s.y[i]) || !drawable(plot.x, s.x[i])) {
        flush();
        continue;
      }
      if (!pts.empty()) pts += ' ';
      pts += num(X(s.x[i])) + "," + num(Y(s.y[i]));
    }
    flush();
    if (s.markers)
      for (size_t i = 0; i < n; ++i)
        if (drawable(plot.y, s.y[i]) && drawable(plot.x, s.x[i]))
          o += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"2.8\" stroke=\"none\"/>\n", num(X(s.x[i])), num(Y(s.y[i])));
    o += "</g>\n";
  }

  // Legend: rows above the plot area.
  if (legend) {
    o += "<g class=\"legend\">\n";
    for (size_t r = 0; r < rows.size(); ++r) {
      double width = 0;
      for (const Entry& e : rows[r]) width += (width > 0 ? 18 : 0) + e.width;
      double lx = std::max(left, (left + right - width) / 2);
      const double y = legend_y + 20 * static_cast<double>(r);
      for (const Entry& e : rows[r]) {
        if (!e.band) {
          const PlotSeries& ps = plot.series[e.index];
          o += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"2\"/>\n",
                           num(lx), num(y + 6), num(lx + 26), num(y + 6), xml_escape(colors[e.index]));
          if (ps.markers)
            o += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"2.8\" fill=\"{}\"/>\n", num(lx + 13), num(y + 6),
                             xml_escape(colors[e.index]));
          o += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", num(lx + 32), num(y + 10), xml_escape(ps.label));
        } else {
          const PlotBand& b = plot.bands[e.index];
          o += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"14\" height=\"12\" fill=\"{}\" fill-opacity=\"{}\"/>\n",
                           num(lx), num(y), xml_escape(b.color), num(b.opacity));
          o += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", num(lx + 20), num(y + 10), xml_escape(b.label));
        }
        lx += e.width + 18;
      }
    }
    o += "</g>\n";
  }
  o += "</svg>\n";
  return o;
}

}  // namespace dory
