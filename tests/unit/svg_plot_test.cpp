// report/svg_plot: the SVG is well-formed XML (checked by a small independent parser below), has its title, axis
// labels, tick labels, one polyline per unbroken run of each series, bands and markers; ticks are "nice".
#include "report/svg_plot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>

namespace dory {
namespace {

// A strict little XML reader: elements nest and close in order, attribute values are quoted, attribute names are
// unique per element, '&' only starts one of the five predefined entities, text contains no raw '<'. Collects the
// elements (name -> count) and the text content. Enough to catch what a hand-written emitter gets wrong.
struct XmlCheck {
  bool ok = true;
  std::string error;
  std::map<std::string, int> elements;
  std::string text;  // all character data, entities decoded
  std::string root;
};

XmlCheck check_xml(const std::string& s) {
  XmlCheck r;
  auto fail = [&](const std::string& why, size_t at) {
    if (r.ok) r.error = why + " at offset " + std::to_string(at);
    r.ok = false;
  };
  auto decode = [&](size_t& i, std::string& out) {
    const size_t semi = s.find(';', i);
    if (semi == std::string::npos) return fail("unterminated entity", i);
    const std::string e = s.substr(i + 1, semi - i - 1);
    static const std::map<std::string, char> ents{
        {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
    auto it = ents.find(e);
    if (it == ents.end()) return fail("unknown entity &" + e + ";", i);
    out += it->second;
    i = semi + 1;
  };
  std::vector<std::string> stack;
  size_t i = 0;
  if (s.rfind("<?xml", 0) == 0) i = s.find("?>") + 2;
  while (i < s.size() && r.ok) {
    if (s[i] != '<') {
      if (s[i] == '&') {
        if (stack.empty()) fail("text outside the root", i);
        decode(i, r.text);
      } else {
        if (stack.empty() && !std::isspace(static_cast<unsigned char>(s[i]))) fail("text outside the root", i);
        if (s[i] == '>') fail("raw '>' in text", i);
        r.text += s[i++];
      }
      continue;
    }
    if (s.compare(i, 2, "</") == 0) {
      const size_t end = s.find('>', i);
      const std::string name = s.substr(i + 2, end - i - 2);
      if (stack.empty() || stack.back() != name)
        fail("mismatched </" + name + ">", i);
      else
        stack.pop_back();
      i = end + 1;
      continue;
    }
    size_t j = i + 1;
    while (j < s.size() && (std::isalnum(static_cast<unsigned char>(s[j])) || s[j] == '-' || s[j] == ':')) ++j;
    const std::string name = s.substr(i + 1, j - i - 1);
    if (name.empty()) {
      fail("empty element name", i);
      break;
    }
    if (stack.empty()) {
      if (!r.root.empty()) fail("second root element", i);
      r.root = name;
    }
    std::map<std::string, bool> attrs;
    bool self_closing = false;
    while (r.ok) {
      while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      if (j >= s.size()) {
        fail("unterminated tag", i);
        break;
      }
      if (s[j] == '>') {
        ++j;
        break;
      }
      if (s.compare(j, 2, "/>") == 0) {
        self_closing = true;
        j += 2;
        break;
      }
      size_t k = j;
      while (k < s.size() && (std::isalnum(static_cast<unsigned char>(s[k])) || s[k] == '-' || s[k] == ':')) ++k;
      const std::string an = s.substr(j, k - j);
      if (an.empty() || k >= s.size() || s[k] != '=' || (s[k + 1] != '"' && s[k + 1] != '\'')) {
        fail("bad attribute in <" + name + ">", j);
        break;
      }
      if (attrs.count(an)) fail("duplicate attribute " + an, j);
      attrs[an] = true;
      const char q = s[k + 1];
      size_t v = k + 2;
      while (v < s.size() && s[v] != q) {
        if (s[v] == '<') fail("'<' in attribute value", v);
        if (s[v] == '&') {
          std::string ignored;
          decode(v, ignored);
        } else {
          ++v;
        }
        if (!r.ok) break;
      }
      j = v + 1;
    }
    ++r.elements[name];
    if (!self_closing) stack.push_back(name);
    i = j;
  }
  if (r.ok && !stack.empty()) fail("unclosed <" + stack.back() + ">", s.size());
  if (r.ok && r.root.empty()) fail("no root element", 0);
  return r;
}

TEST(XmlChecker, CatchesTheMistakesItIsMeantToCatch) {
  EXPECT_TRUE(check_xml("<a x=\"1\"><b/>t &amp; u</a>").ok);
  EXPECT_FALSE(check_xml("<a><b></a></b>").ok);
  EXPECT_FALSE(check_xml("<a>x & y</a>").ok);
  EXPECT_FALSE(check_xml("<a x=1></a>").ok);
  EXPECT_FALSE(check_xml("<a x=\"1\" x=\"2\"></a>").ok);
  EXPECT_FALSE(check_xml("<a>").ok);
  EXPECT_FALSE(check_xml("<a></a><b></b>").ok);
}

LinePlot two_series_plot() {
  LinePlot p;
  p.title = "Latency <vs> L1 & more";
  p.subtitle = "gap8 \"what-if\"";
  p.x.label = "L1 budget (kB)";
  p.y.label = "latency (ms)";
  p.y.include_zero = true;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  p.series.push_back({"model", {8, 16, 24, 32}, {nan, 4.0, 3.0, 2.5}, "", true});
  p.series.push_back({"dory", {8, 16, 24, 32}, {nan, 6.0, nan, 2.6}, "", true});  // a gap in the middle
  p.bands.push_back({8, 12.5, "infeasible"});
  p.markers.push_back({30, "usable L1"});
  return p;
}

TEST(SvgPlot, IsWellFormedXmlWithOneSvgRoot) {
  const std::string svg = render_svg(two_series_plot());
  const XmlCheck x = check_xml(svg);
  ASSERT_TRUE(x.ok) << x.error << "\n" << svg;
  EXPECT_EQ(x.root, "svg");
  EXPECT_NE(svg.find("xmlns=\"http://www.w3.org/2000/svg\""), std::string::npos);
  EXPECT_EQ(svg.rfind("</svg>\n"), svg.size() - 7);
}

TEST(SvgPlot, HasTheTitleAxisLabelsTickLabelsAndLegendEscaped) {
  const XmlCheck x = check_xml(render_svg(two_series_plot()));
  ASSERT_TRUE(x.ok) << x.error;
  for (const char* s : {"Latency <vs> L1 & more", "gap8 \"what-if\"", "L1 budget (kB)", "latency (ms)", "model", "dory",
                        "infeasible", "usable L1"})
    EXPECT_NE(x.text.find(s), std::string::npos) << s;
  // x ticks over [8, 32]: steps of 5 -> 10, 15, ... (and the y axis starts at 0).
  for (const char* s : {"10", "20", "30", "0"}) EXPECT_NE(x.text.find(s), std::string::npos) << s;
}

TEST(SvgPlot, DrawsOnePolylinePerUnbrokenRunAndOneMarkerPerPoint) {
  const XmlCheck x = check_xml(render_svg(two_series_plot()));
  ASSERT_TRUE(x.ok) << x.error;
  // model: one run of 3 points; dory: two runs of one point each.
  EXPECT_EQ(x.elements.at("polyline"), 3);
  // 3 + 2 data markers + 2 legend markers.
  EXPECT_EQ(x.elements.at("circle"), 7);
  // background + band + legend swatch of the band.
  EXPECT_EQ(x.elements.at("rect"), 3);
}

TEST(SvgPlot, LogAxesDropNonPositiveValuesAndLabelTheirTicks) {
  LinePlot p;
  p.x.label = "L1 (kB)";
  p.x.log = true;
  p.x.ticks = {0.25, 0.5, 1, 2, 4};
  p.y.log = true;
  p.series.push_back({"model", {0.25, 0.5, 1, 2, 4}, {200, 0, 20, 5, 2}, "", true});
  const std::string svg = render_svg(p);
  const XmlCheck x = check_xml(svg);
  ASSERT_TRUE(x.ok) << x.error;
  EXPECT_EQ(x.elements.at("polyline"), 2);  // broken at the 0
  EXPECT_EQ(x.elements.at("circle"), 4);
  for (const char* s : {"0.25", "0.5", "200", "100", "10"}) EXPECT_NE(x.text.find(s), std::string::npos) << s;
}

TEST(NiceTicks, UseOneTwoTwoAndAHalfOrFiveTimesAPowerOfTen) {
  EXPECT_EQ(nice_ticks(0, 100, 5), (std::vector<double>{0, 20, 40, 60, 80, 100}));
  EXPECT_EQ(nice_ticks(8, 128, 6), (std::vector<double>{0, 20, 40, 60, 80, 100, 120, 140}));
  const std::vector<double> t = nice_ticks(0, 0.9, 4);
  ASSERT_EQ(t.size(), 5u);
  EXPECT_DOUBLE_EQ(t[1] - t[0], 0.25);
  EXPECT_EQ(format_tick(0.25, 0.25), "0.25");
  EXPECT_EQ(format_tick(40, 20), "40");
  EXPECT_EQ(format_tick(1.5, 0.5), "1.5");
  const std::vector<double> flat = nice_ticks(5, 5);  // a flat range still gets an axis around the value
  ASSERT_GE(flat.size(), 2u);
  EXPECT_LT(flat.front(), 5);
  EXPECT_GT(flat.back(), 5);
}

TEST(XmlEscape, EscapesTheFiveSpecialCharacters) { EXPECT_EQ(xml_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;"); }

}  // namespace
}  // namespace dory
