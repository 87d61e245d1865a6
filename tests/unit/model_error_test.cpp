// eval/model_error and the executed-cycles reports (text, markdown, JSON, HTML) on an evaluation whose executed
// cycles are written by hand (the GVSoC runs themselves are tests/e2e/gvsoc_test.cpp): the error of every layer and
// mode is modeled / executed - 1 with the model's number for what ran, the summaries and the objective check say
// what those numbers imply, the CI bound fails exactly when it should, and every report carries the executed
// columns next to the modeled ones, labelled so.
#include "eval/model_error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>

#include "../util/test_fixtures.h"
#include "onnx/frontend.h"
#include "report/eval_report.h"
#include "report/html_report.h"
#include "testnets/testnets.h"

namespace dory {
namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
size_t count(const std::string& s, const std::string& part) {
  size_t n = 0;
  for (size_t at = s.find(part); at != std::string::npos; at = s.find(part, at + part.size())) ++n;
  return n;
}

Graph cifar10_cnn() {
  Expected<Graph> g = import_onnx_bytes(make_cifar10_cnn_onnx(), "cifar10_cnn.onnx");
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().str());
  return g.ok() ? std::move(*g) : Graph{};
}

// The evaluation with executed cycles made up: every mode of layer i ran in `factor` times the model's cycles
// (the model is then off by 1/factor - 1 on every layer), except the ones set afterwards.
struct Executed {
  Graph graph;
  NetworkEval eval;
};
Executed executed(double factor) {
  Executed x;
  x.graph = cifar10_cnn();
  Expected<NetworkEval> e = evaluate_network(x.graph, testing::gap8_target(), {}, "cifar10_cnn.onnx");
  EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().str());
  x.eval = std::move(*e);
  ExecutedEval ex;
  ex.measure = ExecutedMeasure::Cycles;
  ex.platform = "a made-up platform";
  ex.cycle_split = true;
  for (const LayerEval& l : x.eval.layers) {
    ExecutedLayer xl;
    xl.layer_index = l.layer_index;
    xl.kernel = "k (portable C)";
    for (EvalMode m : kAllEvalModes) {
      ExecutedRun& r = xl.runs[mode_index(m)];
      r.ran = true;
      r.modeled_cycles = l.mode(m).cycles;
      r.cycles = std::llround(l.mode(m).cycles * factor);
      r.tiles = l.mode(m).tiles;
    }
    xl.split.per_core.assign(8, {100, 20, 10, 5, 15});
    xl.split.instrumented_cycles = 160;
    ex.layers.push_back(xl);
  }
  x.eval.executed = std::move(ex);
  return x;
}

ExecutedRun& run(NetworkEval& e, size_t layer, EvalMode m) {
  return e.executed->layers[layer].runs[mode_index(m)];
}

TEST(ModelError, IsModeledOverExecutedMinusOneAndItsSummaryAveragesTheAbsoluteValues) {
  Executed x = executed(2.0);  // everything ran twice as long as modeled: -50 % on every layer
  for (const ModeErrorSummary& s : model_error_summary(x.eval)) {
    EXPECT_EQ(s.layers, static_cast<int>(x.eval.layers.size()));
    EXPECT_NEAR(s.mean_abs, 0.5, 1e-3) << eval_mode_name(s.mode);
    EXPECT_NEAR(s.mean_signed, -0.5, 1e-3);
    EXPECT_NEAR(s.network_error(), -0.5, 1e-3);
  }
  // One layer off the other way: modeled 1,000, executed 800 is +25 %; the mean of |errors| counts it as such.
  run(x.eval, 0, EvalMode::Model).modeled_cycles = 1000;
  run(x.eval, 0, EvalMode::Model).cycles = 800;
  EXPECT_DOUBLE_EQ(run(x.eval, 0, EvalMode::Model).error(), 0.25);
  const size_t n = x.eval.layers.size();
  for (const ModeErrorSummary& s : model_error_summary(x.eval)) {
    if (s.mode != EvalMode::Model) continue;
    EXPECT_NEAR(s.mean_abs, (0.25 + 0.5 * static_cast<double>(n - 1)) / static_cast<double>(n), 1e-3);
    EXPECT_NEAR(s.worst_abs, 0.5, 1e-3);
  }
  // A fallback layer (it ran tiled in the L2-direct pass) and a layer that did not run are left out.
  run(x.eval, 1, EvalMode::L2Direct).fallback = true;
  run(x.eval, 2, EvalMode::L2Direct).ran = false;
  for (const ModeErrorSummary& s : model_error_summary(x.eval))
    if (s.mode == EvalMode::L2Direct) {
      EXPECT_EQ(s.layers, static_cast<int>(n) - 2);
    }
}

TEST(ModelError, TheBoundFailsNamingTheModeAndTheWorstLayerAndPassesWithinIt) {
  Executed x = executed(1.25);  // modeled / executed - 1 = -20 % everywhere
  EXPECT_TRUE(check_model_error(x.eval, 0.25).ok());
  EXPECT_TRUE(check_model_error(x.eval, 0.21, 0.21).ok());
  run(x.eval, 3, EvalMode::Fill).cycles *= 3;  // one layer of fill: -73 %
  const Status mean = check_model_error(x.eval, 0.21);
  ASSERT_FALSE(mean.ok());
  EXPECT_EQ(mean.error().code, "eval-model-error");
  EXPECT_TRUE(contains(mean.error().message, "dory-fill: mean absolute per-layer error")) << mean.error().str();
  EXPECT_FALSE(contains(mean.error().message, "dory-model")) << mean.error().str();
  // Bounding only some modes leaves the others out.
  EXPECT_TRUE(check_model_error(x.eval, 0.21, 0.21, {EvalMode::Model, EvalMode::L1Resident}).ok());
  EXPECT_FALSE(check_model_error(x.eval, 0.21, -1, {EvalMode::Fill}).ok());
  const Status worst = check_model_error(x.eval, -1, 0.5);
  ASSERT_FALSE(worst.ok());
  EXPECT_TRUE(contains(worst.error().message, "layer '" + x.eval.layers[3].layer + "' is off by -73.3 %"))
      << worst.error().str();
  // Without executed cycles there is nothing to bound.
  NetworkEval modeled_only = x.eval;
  modeled_only.executed.reset();
  EXPECT_EQ(check_model_error(modeled_only, 0.1).error().code, "eval-not-executed");
}

TEST(ModelError, TheObjectiveCheckNamesTheLayersWhereTheModelsTilingExecutesSlowerThanAnother) {
  Executed x = executed(1.0);
  for (size_t i = 0; i < x.eval.layers.size(); ++i)  // the same cycles for the three objectives
    for (EvalMode m : {EvalMode::Model, EvalMode::Dory, EvalMode::Fill}) run(x.eval, i, m).cycles = 10000;
  EXPECT_TRUE(objective_losses(x.eval).empty());
  run(x.eval, 2, EvalMode::Model).cycles = 10099;  // 0.99 % slower: within the tolerance
  EXPECT_TRUE(objective_losses(x.eval).empty());
  run(x.eval, 4, EvalMode::Model).cycles = 11000;  // 10 % slower than fill
  run(x.eval, 4, EvalMode::Dory).cycles = 10500;
  const std::vector<ObjectiveLoss> losses = objective_losses(x.eval);
  ASSERT_EQ(losses.size(), 1u);
  EXPECT_EQ(losses[0].layer, x.eval.layers[4].layer);
  EXPECT_EQ(losses[0].best, EvalMode::Fill);
  EXPECT_NEAR(losses[0].loss(), 0.1, 1e-12);
  const TextTable t = eval_objective_check_table(x.eval);
  EXPECT_EQ(t.rows[4].back(), "model loses 10.0% to fill");
  EXPECT_EQ(t.rows[2].back(), "ok");
}

TEST(ExecutedReport, TextMarkdownJsonAndHtmlCarryTheExecutedColumnsBesideTheModeled) {
  Executed x = executed(1.25);
  run(x.eval, 1, EvalMode::L1Resident).compute_only = true;
  run(x.eval, 0, EvalMode::L2Direct).fallback = true;
  const NetworkEval& e = x.eval;
  const ExecutedLayer& l0 = e.executed->layers[0];

  const std::string text = render_eval_text(e);
  for (const char* s : {"Executed on a made-up platform", "Network, executed (Table 1 of the paper)",
                        "Modeled against executed", "executed cyc", "modeled cyc", "error", "-20.0%",
                        "The model's error per mode", "Where the tiled run's cycles go", "DMA wait", "with split",
                        "Is the objective right when executed", "compute-only tiles", "fallback: ran tiled",
                        "Kernels: k (portable C)"})
    EXPECT_TRUE(contains(text, s)) << s;
  const std::string md = render_eval_text(e, true);
  EXPECT_TRUE(contains(md, "| executed cyc")) << md;
  EXPECT_TRUE(contains(md, "| dory-model  |")) << md;

  // The model-vs-executed table: five rows per layer and five network rows, the numbers as made up.
  const TextTable mv = eval_model_vs_executed_table(e);
  EXPECT_EQ(mv.rows.size(), (e.layers.size() + 1) * kNumEvalModes);
  EXPECT_EQ(mv.rows[2][2], "dory-model");
  EXPECT_EQ(mv.rows[2][3], format_bytes_grouped(l0.run(EvalMode::Model).cycles));
  EXPECT_EQ(mv.rows[2][5], "-20.0%");
  EXPECT_EQ(mv.rows[1][5], "-");  // the fallback has no error
  EXPECT_EQ(mv.column_source[3], "executed");
  EXPECT_EQ(mv.column_source[4], "modeled");
  // The split table: core 0's parts and their sum.
  const TextTable sp = eval_cycle_split_table(e);
  EXPECT_EQ(sp.rows[0][5], "100");
  EXPECT_EQ(sp.rows[0][10], "150");
  EXPECT_EQ(sp.rows[0][11], "20.0%");  // (20 + 10) / 150

  const nlohmann::json j = eval_to_json(e);
  const nlohmann::json& xj = j["executed"];
  EXPECT_EQ(xj["measure"], "cycles");
  EXPECT_EQ(xj["source"], "executed");
  ASSERT_EQ(xj["layers"].size(), e.layers.size());
  const nlohmann::json& m0 = xj["layers"][0]["modes"]["dory-model"];
  EXPECT_EQ(m0["cycles"].get<int64_t>(), l0.run(EvalMode::Model).cycles);
  EXPECT_DOUBLE_EQ(m0["modeled_cycles"].get<double>(), l0.run(EvalMode::Model).modeled_cycles);
  EXPECT_NEAR(m0["error"].get<double>(), -0.2, 1e-4);
  EXPECT_TRUE(xj["layers"][0]["modes"]["l2-direct"]["error"].is_null());
  EXPECT_TRUE(xj["layers"][1]["modes"]["l1-resident"]["compute_only"].get<bool>());
  EXPECT_EQ(xj["layers"][0]["split"]["cores"].size(), 8u);
  EXPECT_EQ(xj["layers"][0]["split"]["cores"][0]["total"].get<int64_t>(), 150);
  EXPECT_EQ(xj["model_error"].size(), kNumEvalModes);
  EXPECT_TRUE(xj["network"]["modes"].contains("l1-resident"));
  EXPECT_EQ(j["source"], "modeled");  // the modeled part keeps its label

  Expected<std::string> html = render_html_report(x.graph, testing::gap8_target(), e);
  ASSERT_TRUE(html.ok()) << html.error().str();
  for (const char* id : {"executed", "executed-network-table", "model-error-table", "executed-side-by-side-table",
                         "executed-mac-chart", "model-vs-executed-table", "cycle-split-table", "objective-check-table"})
    EXPECT_TRUE(contains(*html, std::string("id=\"") + id + "\"")) << id;
  EXPECT_GT(count(*html, "data-source=\"executed\""), 100u);
  EXPECT_GT(count(*html, "data-source=\"modeled\""), 300u);
  EXPECT_TRUE(contains(*html, "<th class=\"num executed\">executed cyc</th>"));
  EXPECT_TRUE(contains(*html, "<th class=\"num modeled\">modeled cyc</th>"));
  // 6 MAC layers, 5 modes: executed bars and modeled ticks
  EXPECT_EQ(count(*html, "class=\"bar executed\""), 30u);
  EXPECT_EQ(count(*html, "class=\"tick modeled\""), 30u);
}

}  // namespace
}  // namespace dory
