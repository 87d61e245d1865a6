// report/html_report: the page has every section and chart under its id, balanced elements, the evaluation's
// numbers, no external resource, escaped text, and the Gantt chart of the layer asked for.
#include "report/html_report.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <regex>

#include "../util/onnx_builder.h"
#include "../util/test_fixtures.h"
#include "onnx/frontend.h"
#include "report/eval_report.h"
#include "testnets/testnets.h"

namespace dory {
namespace {

using testing::OnnxBuilder;

Target gap8() { return testing::gap8_target(); }

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

size_t count(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (size_t p = s.find(part); p != std::string::npos; p = s.find(part, p + part.size())) ++n;
  return n;
}

struct Evaluated {
  Graph graph;
  Target target;
  NetworkEval eval;
};

Evaluated evaluate_bytes(const std::string& onnx, const std::string& label, int64_t l1 = 0) {
  Evaluated r;
  r.target = gap8();
  Expected<Graph> g = import_onnx_bytes(onnx, label);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().str());
  if (!g.ok()) return r;
  r.graph = std::move(*g);
  EvalOptions o;
  o.l1_budget_bytes = l1;
  Expected<NetworkEval> e = evaluate_network(r.graph, r.target, o, label);
  EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().str());
  if (e.ok()) r.eval = std::move(*e);
  return r;
}

std::string page(const Evaluated& ev, const HtmlReportOptions& o = {}) {
  Expected<std::string> h = render_html_report(ev.graph, ev.target, ev.eval, o);
  EXPECT_TRUE(h.ok()) << (h.ok() ? "" : h.error().str());
  return h.ok() ? *h : std::string();
}

TEST(HtmlReport, HasEverySectionAndChartUnderItsIdWithBalancedElements) {
  const Evaluated ev = evaluate_bytes(make_cifar10_cnn_onnx(), "cifar10_cnn.onnx");
  const std::string h = page(ev);
  EXPECT_EQ(h.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_TRUE(contains(h, "</html>"));
  for (const char* id :
       {"summary", "network-summary", "network-table", "layers", "side-by-side-table", "eval-table", "mac-chart",
        "mac-chart-svg", "l1-maps", "l2-occupancy", "l2-map", "l2-live-bytes", "l2-steps", "gantt", "gantt-chart"})
    EXPECT_EQ(count(h, fmt::format("id=\"{}\"", id)), 1u) << id;
  for (const LayerEval& l : ev.eval.layers)
    EXPECT_TRUE(contains(h, fmt::format("id=\"l1-map-{}\"", l.layer_index))) << l.layer;
  for (const char* tag : {"section", "svg", "table", "thead", "tbody", "script", "title", "text", "tr"})
    EXPECT_EQ(count(h, fmt::format("<{}", tag)), count(h, fmt::format("</{}>", tag))) << tag;
  // Every L1 buffer copy of every plan is a segment; the MAC chart has 5 bars per MAC layer and the network.
  size_t copies = 0;
  for (Objective o : {Objective::Model, Objective::Dory, Objective::Fill})
    for (const TilePlan& p : ev.eval.plans_of(o))
      for (const L1Buffer& b : p.layout.buffers) copies += b.offsets.size();
  EXPECT_EQ(count(h, "class=\"l1-buffer\""), copies);
  EXPECT_EQ(count(h, "class=\"bar modeled\""), 5u * (6 + 1));  // 6 MAC layers + the network
  // L2: one rectangle per storage class.
  EXPECT_GE(count(h, "class=\"l2-class\""), 9u);
}

TEST(HtmlReport, ShowsTheEvaluationsNumbersLabelledModeled) {
  const Evaluated ev = evaluate_bytes(make_cifar10_cnn_onnx(), "cifar10_cnn.onnx");
  const std::string h = page(ev);
  // The same rows as the text report.
  const TextTable net = eval_network_table(ev.eval);
  for (const auto& row : net.rows)
    for (const std::string& cell : row) EXPECT_TRUE(contains(h, ">" + cell + "<")) << cell;
  const TextTable layers = eval_layer_table(ev.eval);
  for (const auto& row : layers.rows) EXPECT_TRUE(contains(h, ">" + row[5] + "<")) << row[5];  // cycles
  // DORY model, network cycles
  EXPECT_TRUE(contains(h, ">" + format_bytes_grouped(std::llround(ev.eval.total(EvalMode::Model).cycles)) + "<"));
  EXPECT_TRUE(contains(h, "Every cycle, latency and energy on this page is modeled"));
  EXPECT_TRUE(contains(h, "none is executed on the target"));  // no executed counts were asked for
  EXPECT_FALSE(contains(h, "id=\"executed\""));
  EXPECT_GT(count(h, "data-source=\"modeled\""), 300u);
  EXPECT_FALSE(contains(h, "data-source=\"executed\""));
  // L2: constants and the activation peak (the lower bound) of the memory plan.
  EXPECT_TRUE(contains(h, "Constants 148,760 B"));
  EXPECT_TRUE(contains(h, "activations 49,152 B"));
}

TEST(HtmlReport, IsSelfContained) {
  const Evaluated ev = evaluate_bytes(make_cifar10_cnn_onnx(), "cifar10_cnn.onnx");
  const std::string h = page(ev);
  EXPECT_FALSE(contains(h, "src="));
  EXPECT_FALSE(contains(h, "href="));
  EXPECT_FALSE(contains(h, "@import"));
  EXPECT_FALSE(contains(h, "url("));
  // The only URL is the SVG namespace.
  std::regex url("https?://[^\"]*");
  for (auto it = std::sregex_iterator(h.begin(), h.end(), url); it != std::sregex_iterator(); ++it)
    EXPECT_EQ(it->str(), "http://www.w3.org/2000/svg");
  EXPECT_EQ(count(h, "<script>"), 2u);  // the error recorder and the loaded marker, nothing else
}

TEST(HtmlReport, EscapesNamesFromTheModel) {
  const std::string evil = "conv<b>&\"x'";
  OnnxBuilder b(13);
  b.input("in<put>", {1, 2, 4, 4});
  b.init("w", {3, 2, 3, 3}, std::vector<float>(54, 1.0f));
  b.init("bias", {3}, {1, 2, 3});
  b.init("m", {}, {3});
  b.init("half", {}, {128});
  b.init("d", {}, {256});
  b.init("lo", {}, {0});
  b.init("hi", {}, {255});
  OnnxBuilder::attr(b.node("Conv", {"in<put>", "w", "bias"}, {"acc"}, evil), "pads", {1, 1, 1, 1});
  b.node("Mul", {"acc", "m"}, {"scaled"}, "mul");
  b.node("Add", {"scaled", "half"}, {"rounded"}, "add");
  b.node("Div", {"rounded", "d"}, {"divided"}, "div");
  b.node("Floor", {"divided"}, {"floored"}, "floor");
  b.node("Clip", {"floored", "lo", "hi"}, {"y&z"}, "clip");
  b.output("y&z", {1, 3, 4, 4});
  Evaluated ev = evaluate_bytes(b.bytes(), "my<model>.onnx");
  ASSERT_EQ(ev.eval.layers.size(), 1u);
  ASSERT_EQ(ev.eval.layers[0].layer, evil);
  HtmlReportOptions o;
  o.gantt_layer = evil;
  const std::string h = page(ev, o);
  EXPECT_FALSE(contains(h, evil));
  EXPECT_FALSE(contains(h, "my<model>"));
  EXPECT_FALSE(contains(h, "in<put>"));
  EXPECT_FALSE(contains(h, "conv<b>"));
  EXPECT_TRUE(contains(h, "conv&lt;b&gt;&amp;&quot;x&apos;"));
  EXPECT_TRUE(contains(h, "my&lt;model&gt;.onnx"));
  EXPECT_TRUE(contains(h, "in&lt;put&gt;"));
}

TEST(HtmlReport, TheGanttChartShowsTheFirstTilesOfTheLayerWithTheMostTilesOrTheOneAskedFor) {
  const Evaluated ev = evaluate_bytes(make_cifar10_cnn_onnx(), "cifar10_cnn.onnx", 16 * 1024);
  Expected<size_t> def = gantt_layer_index(ev.eval, "");
  ASSERT_TRUE(def.ok());
  int64_t most = 0;
  for (const TilePlan& p : ev.eval.plans_of(Objective::Model)) most = std::max(most, p.counts.total());
  EXPECT_EQ(ev.eval.plans_of(Objective::Model)[*def].counts.total(), most);
  ASSERT_GT(most, 8);
  std::string h = page(ev);
  EXPECT_EQ(count(h, "data-kind=\"compute\""), 8u);
  EXPECT_TRUE(contains(h, fmt::format("{} (", ev.eval.layers[*def].layer)));

  HtmlReportOptions o;
  o.gantt_layer = "fc2_gemm";  // one tile
  o.gantt_tiles = 3;
  h = page(ev, o);
  EXPECT_EQ(count(h, "data-kind=\"compute\""), 1u);
  EXPECT_EQ(count(h, "data-kind=\"load\""), 3u);  // input, weights, bias (no per-channel requant: raw logits)
  EXPECT_EQ(count(h, "data-kind=\"store\""), 1u);
  EXPECT_TRUE(contains(h, "fc2_gemm (fc), objective model: the first 1 of 1 tiles"));

  o.gantt_layer = "no_such_layer";
  Expected<std::string> bad = render_html_report(ev.graph, ev.target, ev.eval, o);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "cli-unknown-layer");
  EXPECT_TRUE(contains(bad.error().message, "no_such_layer"));
  EXPECT_TRUE(contains(bad.error().hint, "conv2_conv"));
  EXPECT_EQ(bad.error().exit_code(), 1);
}

}  // namespace
}  // namespace dory
