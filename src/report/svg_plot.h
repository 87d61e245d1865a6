// A small, dependency-free SVG line plot for dory's reports (L1 sweeps, and later timelines and comparisons).
//
// The output is one self-contained SVG 1.1 document (no scripts, no external fonts or stylesheets) that browsers,
// GitHub's markdown viewer and Inkscape render the same way: a title and optional subtitle, a plot area with
// axes, "nice" ticks (1, 2, 2.5 or 5 x 10^n steps) with labels and grid lines, axis labels, one polyline per
// series (a NaN y value breaks the line: the point does not exist), optional point markers, shaded x-ranges
// (bands, drawn under the lines, e.g. an infeasible region), vertical marker lines (e.g. the chip's L1 size) and
// a legend when there is more than one series or any band.
//
// Coordinates: data units on both axes, linear or log10 scales. A linear axis spans the data range (or the
// explicit min/max) widened to whole ticks; include_zero pins its lower end at 0. A log axis spans the positive
// data range (or min/max), with a 3 % margin (of the log span) at automatic ends.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dory {

struct PlotSeries {
  std::string label;
  std::vector<double> x, y;  // same length; y may be NaN (a gap)
  std::string color;         // CSS color; empty: the next color of the palette
  bool markers = true;       // a small circle at every point
};

// A shaded vertical band from x0 to x1 (data units; clipped to the axis range).
struct PlotBand {
  double x0 = 0, x1 = 0;
  std::string label;  // in the legend (and written inside the band when it is wide enough)
  std::string color = "#b0b0b0";
  double opacity = 0.35;
};

// A dashed vertical line at x with a label at its top.
struct PlotMarker {
  double x = 0;
  std::string label;
  std::string color = "#555555";
};

struct PlotAxis {
  std::string label;
  std::optional<double> min, max;
  bool include_zero = false;  // linear axes only
  bool log = false;           // log10 scale: the range is the data range (values <= 0 are not drawn); ticks at
                              // 1, 2, 5 x 10^n unless `ticks` is given
  std::vector<double> ticks;  // explicit tick positions (inside the range); empty: automatic
};

struct LinePlot {
  std::string title;
  std::string subtitle;
  PlotAxis x, y;
  std::vector<PlotSeries> series;
  std::vector<PlotBand> bands;
  std::vector<PlotMarker> markers;
  int width = 760;  // pixels
  int height = 460;
};

// The SVG document (starts with "<?xml", ends with "</svg>\n").
std::string render_svg(const LinePlot& plot);

// The palette series take their colors from (Okabe-Ito, distinguishable with common color-vision deficiencies).
const std::vector<std::string>& plot_palette();

// Tick positions covering [lo, hi]: multiples of a step of 1, 2, 2.5 or 5 x 10^n chosen so there are about
// `target` intervals; the first tick is <= lo and the last >= hi. lo == hi gives a unit-wide range around it.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

// Log-axis ticks in [lo, hi] (lo > 0): 1, 2, 5 x 10^n, thinned to 1 x 10^n when that gives more than ~12.
std::vector<double> log_ticks(double lo, double hi);

// A tick label: the value with as many decimals as the step needs ("0.25", "40", "1.5").
std::string format_tick(double value, double step);

// Escapes &, <, >, " and ' for XML text and attribute values.
std::string xml_escape(std::string_view text);

}  // namespace dory
