// report/tile_report: the per-layer table, JSON, objective comparison and L1 sweep of a one-conv network whose
// numbers are counted by hand, and the sweep of the example network against the tiler's exact feasibility bound.
#include "report/tile_report.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../util/onnx_builder.h"
#include "../util/test_fixtures.h"
#include "onnx/frontend.h"

namespace dory {
namespace {

using testing::OnnxBuilder;

Target gap8() { return testing::gap8_target(); }

Graph one_conv(const std::string& name = "conv_7") { return testing::one_conv_graph(name); }

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Hand counts for conv_7 as one tile on gap8 (docs/targets.md, l1_layout.h, layer_model.h):
//   MACs      3 channels x 16 pixels x 2 x 9                                            = 864
//   L1        input 4x4x2 = 32 @0; weights 3x18 = 54 @32; bias 12 @88 (aligned to 4); requant m (32-bit, one
//             vector) 12 @100; output 48 @112; im2col 8 cores x 2 pixels x 9 x 2 = 288 @160  -> 448 B
//   DMA       32 + 54 + 12 + 12 loaded, 48 stored                                          = 158 B
//   kernel    rows split: 1 row (4 pixels, 3 channels) on the busiest core; ceil(3/4)*ceil(4/2) = 2 blocks of
//             4x2 outputs x 18 MACs = 288 MACs: 300 + 288/1.8 + 40 + 0.5 x 4x9x2               = 536 cycles
//   loads     one command each, pushed back to back (issue 9, setup 20, 8 B/cycle): data done at
//             33, 44.75, 48.5, 57.5                                                         -> 57.5
//   store     9 + 20 + 48/8                                                                 = 35
//   total     57.5 + 536 + 35                                                               = 628.5 cycles
TEST(TileReport, OneTileConvMatchesTheHandCountedNumbers) {
  const Graph g = one_conv();
  const Target t = gap8();
  Expected<TileReport> r = tile_network(g, t, t.usable_bytes(MemLevel::L1), Objective::Model, "one_conv.onnx");
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_EQ(r->plans.size(), 1u);
  const TilePlan& p = r->plans[0];
  EXPECT_TRUE(p.single_tile());
  EXPECT_EQ(r->total_macs, 864);
  EXPECT_EQ(p.layout.total_bytes, 448);
  EXPECT_EQ(r->total_dma_bytes, 158);
  EXPECT_DOUBLE_EQ(p.cost.compute_cycles, 536);
  EXPECT_DOUBLE_EQ(p.cost.l1_resident_cycles, 536);
  EXPECT_DOUBLE_EQ(r->total_cycles, 628.5);
  EXPECT_NEAR(r->macs_per_cycle(), 864 / 628.5, 1e-12);
  EXPECT_NEAR(r->overhead_vs_l1(), 628.5 / 536 - 1, 1e-12);
  EXPECT_NEAR(r->latency_ms(), 628.5 / 170e6 * 1e3, 1e-12);
}

TEST(TileReport, TheTextTableShowsTilesL1DmaCyclesRateAndOverhead) {
  const Graph g = one_conv();
  const Target t = gap8();
  Expected<TileReport> r = tile_network(g, t, t.usable_bytes(MemLevel::L1), Objective::Model, "one_conv.onnx");
  ASSERT_TRUE(r.ok()) << r.error().str();
  const std::string text = render_tile_text(*r);
  for (const char* s : {"one_conv.onnx on gap8", "objective model", "conv_7", "3x4x4", "1x1x1x1", "---", "448 / 36,700",
                        "158", "629", "1.37", "+17.3%", "latency 0.004 ms"})
    EXPECT_TRUE(contains(text, s)) << s << "\n" << text;
  const std::string md = render_tile_text(*r, true);
  EXPECT_TRUE(contains(md, "| conv_7 ")) << md;
  EXPECT_TRUE(contains(md, "| ---")) << md;
}

TEST(TileReport, JsonHasStableKeysAndIntegerBytes) {
  const Graph g = one_conv();
  const Target t = gap8();
  Expected<TileReport> r = tile_network(g, t, 4096, Objective::Dory, "one_conv.onnx");
  ASSERT_TRUE(r.ok()) << r.error().str();
  const nlohmann::json j = tile_report_to_json(*r);
  EXPECT_EQ(j["objective"], "dory");
  EXPECT_EQ(j["l1_budget_bytes"], 4096);
  EXPECT_EQ(j["l1_usable_bytes"], 36700);
  ASSERT_EQ(j["layers"].size(), 1u);
  const nlohmann::json& l = j["layers"][0];
  EXPECT_EQ(l["name"], "conv_7");
  EXPECT_EQ(l["kind"], "conv");
  EXPECT_EQ(l["tile"]["c_out"], 3);
  EXPECT_EQ(l["tile_counts"]["total"], 1);
  EXPECT_EQ(l["l1_bytes"], 448);
  EXPECT_TRUE(l["l1_bytes"].is_number_integer());
  EXPECT_EQ(l["dma_bytes"], 158);
  EXPECT_EQ(l["macs"], 864);
  EXPECT_DOUBLE_EQ(l["cycles"].get<double>(), 628.5);
  ASSERT_EQ(l["l1_buffers"].size(), 6u);
  EXPECT_EQ(l["l1_buffers"][5]["role"], "scratch");
  EXPECT_EQ(l["l1_buffers"][5]["offsets"][0], 160);
  EXPECT_DOUBLE_EQ(j["totals"]["cycles"].get<double>(), 628.5);
  EXPECT_EQ(j["totals"]["macs"], 864);
}

TEST(TileReport, AnImpossiblySmallBudgetIsTheTilersInfeasibleDiagnostic) {
  const Graph g = one_conv();
  Expected<TileReport> r = tile_network(g, gap8(), 64, Objective::Model, "one_conv.onnx");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "tiler-infeasible");
  EXPECT_EQ(r.error().severity, Severity::Infeasible);
  EXPECT_TRUE(contains(r.error().message, "conv_7")) << r.error().str();
}

TEST(TileReport, TheObjectiveComparisonListsEveryObjectiveAndTheWorstOverBestRatio) {
  const Graph g = one_conv();
  const Target t = gap8();
  std::vector<TileReport> reports;
  for (Objective o : {Objective::Model, Objective::Dory, Objective::Fill}) {
    Expected<TileReport> r = tile_network(g, t, t.usable_bytes(MemLevel::L1), o, "one_conv.onnx");
    ASSERT_TRUE(r.ok()) << r.error().str();
    reports.push_back(std::move(*r));
  }
  const std::string text = render_objective_comparison(reports);
  for (const char* s : {"model tile", "dory cycles", "L1-resident cycles", "fill tile", "worst/best", "conv_7", "1.00x", "864"})
    EXPECT_TRUE(contains(text, s)) << s << "\n" << text;
  const nlohmann::json j = objective_comparison_to_json(reports);
  EXPECT_EQ(j["objectives"].size(), 3u);
  EXPECT_EQ(j["objectives"][2]["objective"], "fill");
}

TEST(Sweep, InfeasibleBelowTheExactBoundAndTheSingleTileAboveIt) {
  const Graph g = one_conv();
  const Target t = gap8();
  const std::vector<Objective> objectives{Objective::Model, Objective::Fill};
  const std::vector<int64_t> budgets{64, 128, 256, 448, 1024, 36700};
  Expected<SweepResult> s = sweep(g, t, objectives, budgets, "one_conv.onnx");
  ASSERT_TRUE(s.ok()) << s.error().str();
  ASSERT_EQ(s->series.size(), 2u);
  for (const SweepSeries& se : s->series) {
    EXPECT_EQ(se.min_feasible_layer, "conv_7");
    EXPECT_GT(se.min_feasible_l1_bytes, 64);
    EXPECT_LE(se.min_feasible_l1_bytes, 448);
    ASSERT_EQ(se.points.size(), budgets.size());
    for (const SweepPoint& p : se.points) {
      EXPECT_EQ(p.feasible, p.l1_bytes >= se.min_feasible_l1_bytes) << p.l1_bytes;
      if (!p.feasible) {
        EXPECT_EQ(p.infeasible_layer, "conv_7");
      }
      if (p.l1_bytes >= 448) {
        EXPECT_DOUBLE_EQ(p.cycles, 628.5);  // the whole layer fits: one tile
      }
    }
  }
  const std::string text = render_sweep_text(*s);
  for (const char* s2 : {"infeasible", "conv_7", "629", "model ms", "fill MAC/cyc", "36,700", "smallest L1"})
    EXPECT_TRUE(contains(text, s2)) << s2 << "\n" << text;
  const nlohmann::json j = sweep_to_json(*s);
  EXPECT_EQ(j["series"][0]["points"][0]["feasible"], false);
  EXPECT_EQ(j["series"][0]["points"][0]["infeasible_layer"], "conv_7");
  EXPECT_DOUBLE_EQ(j["series"][1]["points"][5]["cycles"].get<double>(), 628.5);
  const std::string svg = render_sweep_svg(*s);
  EXPECT_TRUE(contains(svg, "one_conv.onnx on gap8"));
  EXPECT_TRUE(contains(svg, "infeasible"));
  EXPECT_TRUE(contains(svg, "gap8 usable L1 (35.8 kB)"));
}

TEST(Sweep, TheExampleNetworkIsFeasibleExactlyFromTheBoundTheTilerReports) {
  Expected<Graph> g = import_onnx(std::string(DORY_SOURCE_DIR) + "/models/fmnist/fmnist_int.onnx");
  ASSERT_TRUE(g.ok()) << g.error().str();
  const Target t = gap8();
  const std::vector<Objective> all{Objective::Model, Objective::Dory, Objective::Fill};
  std::vector<int64_t> budgets;
  for (int64_t b = 128; b <= 8192; b = b * 5 / 4) budgets.push_back(b);
  int progress_calls = 0;
  Expected<SweepResult> s = sweep(*g, t, all, budgets, "fmnist_int.onnx", [&](size_t done, size_t total) {
    ++progress_calls;
    EXPECT_EQ(total, all.size() * budgets.size());
    EXPECT_EQ(done, static_cast<size_t>(progress_calls));
  });
  ASSERT_TRUE(s.ok()) << s.error().str();
  EXPECT_EQ(progress_calls, static_cast<int>(all.size() * budgets.size()));
  // MACs counted by hand from models/fmnist/train_export.py (ARCH, a 1x28x28 input, pads k/2; pooling has none):
  //   conv1 28x28x16 x 9x1 112,896; conv2 (stride 2) 14x14x32 x 9x16 903,168; dw1 14x14x32 x 9 56,448;
  //   pw1 14x14x64 x 32 401,408; dw2 (stride 2) 7x7x64 x 9 28,224; pw2 7x7x128 x 64 401,408;
  //   dw3 (stride 2) 4x4x128 x 9 18,432; pw3 4x4x256 x 128 524,288; fc 10 x 256 2,560.
  EXPECT_EQ(s->total_macs, 112896 + 903168 + 56448 + 401408 + 28224 + 401408 + 18432 + 524288 + 2560);
  for (const SweepSeries& se : s->series) {
    bool some_infeasible = false;
    for (const SweepPoint& p : se.points) {
      EXPECT_EQ(p.feasible, p.l1_bytes >= se.min_feasible_l1_bytes)
          << objective_name(se.objective) << " at " << p.l1_bytes;
      some_infeasible |= !p.feasible;
    }
    EXPECT_TRUE(some_infeasible) << objective_name(se.objective);
  }
  // The model objective never loses to the heuristics at the same budget (it minimizes the same cycles).
  for (size_t i = 0; i < budgets.size(); ++i)
    for (size_t k = 1; k < s->series.size(); ++k)
      if (s->series[0].points[i].feasible && s->series[k].points[i].feasible) {
        EXPECT_LE(s->series[0].points[i].cycles, s->series[k].points[i].cycles * (1 + 1e-12)) << budgets[i];
      }
}

}  // namespace
}  // namespace dory
