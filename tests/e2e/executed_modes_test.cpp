// The executor's measuring modes on the host platform (the same C that dory eval --platform gvsoc runs on
// PULP-open; there, tests/e2e/gvsoc_test.cpp): the l1-resident pass (dory_layer_run_l1_resident: every transfer
// synchronous, each tile's computation timed alone) is bit-exact on every layer of a whole network deployed with
// the l1-resident plans, and times a part of each layer; the executor's cycle split (DORY_CYCLE_SPLIT) is printed
// for every tiled layer, one row per core, with the DMA charged to core 0 alone and each core's sum within the
// layer's time.
#include <gtest/gtest.h>

#include "../util/temp_dir.h"
#include "../util/test_networks.h"
#include "codegen/app.h"
#include "eval/execute.h"

namespace dory {
namespace {

using testing::TempDir;

NetworkEval evaluate(const Graph& g, const Target& t, int64_t l1) {
  EvalOptions o;
  o.l1_budget_bytes = l1;
  Expected<NetworkEval> e = evaluate_network(g, t, o, "fmnist_int.onnx");
  EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().str());
  return e.ok() ? std::move(*e) : NetworkEval{};
}

GeneratedApp generate(const Graph& g, const Target& t, const DeployOptions& d, const std::string& dir) {
  Expected<GeneratedApp> app = generate_application(g, t, d, {}, dir, {}, 3);
  EXPECT_TRUE(app.ok()) << (app.ok() ? "" : app.error().str());
  return app.ok() ? std::move(*app) : GeneratedApp{};
}

// At 16 kB some layers of the example fit whole and some do not: both kinds of l1-resident layer.
TEST(L1ResidentPass, IsBitExactOnEveryLayerAndTimesOnlyAPartOfIt) {
  const Graph g = testing::load_test_network("fmnist");
  const Target t = find_target("gap8").value();
  const NetworkEval e = evaluate(g, t, 16 * 1024);
  DeployOptions d;
  d.l1_budget_bytes = e.l1_budget_bytes;
  d.plans = l1_resident_plans(e, t);
  int whole = 0, tiled = 0;
  for (size_t i = 0; i < e.layers.size(); ++i) {
    if (e.layers[i].fits_l1) {
      EXPECT_EQ(d.plans[i].counts.total(), 1) << e.layers[i].layer;
      EXPECT_EQ(d.plans[i].buffering, Buffering::none());
      ++whole;
    } else {
      EXPECT_EQ(d.plans[i].shape, e.plans_of(Objective::Model)[i].shape);
      ++tiled;
    }
  }
  ASSERT_GT(whole, 0);
  ASSERT_GT(tiled, 0);
  TempDir dir("l1-resident");
  const GeneratedApp app = generate(g, t, d, (dir.path / "app").string());
  for (size_t i = 0; i < app.deployment.layers.size(); ++i)
    EXPECT_EQ(app.deployment.layers[i].plan.shape, d.plans[i].shape);
  AppRunOptions ro;
  ro.mode = "l1-resident";
  ro.cores = 4;
  ro.build.prebuilt_runtime_lib = DORY_RUNTIME_LIB;
  ro.build.runtime_include_dir = std::string(DORY_SOURCE_DIR) + "/runtime/include";
  if (const std::string san = DORY_APP_SANITIZE_FLAGS; !san.empty()) ro.build.extra_flags = {san};  // ASan build
  Expected<HostRunResult> r = run_application(app, ro);
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_TRUE(r->passed()) << r->output;
  EXPECT_TRUE(r->layers.empty());
  ASSERT_EQ(r->l1_resident_layers.size(), app.deployment.layers.size());
  for (const HostLayerResult& l : r->l1_resident_layers) {
    SCOPED_TRACE(l.name);
    EXPECT_TRUE(l.ok);
    EXPECT_GT(l.compute, 0);
    // the timed phases lie inside the layer's run, measured by the same clock (nanoseconds on the host)
    EXPECT_LE(static_cast<double>(l.compute), l.host_us * 1000 + 100);
  }
}

TEST(CycleSplit, EveryCoreSplitsItsTaskAndOnlyCoreZeroWaitsForTheDma) {
  const Graph g = testing::load_test_network("fmnist");
  const Target t = find_target("gap8").value();
  TempDir dir("cycle-split");
  DeployOptions d;
  d.l1_budget_bytes = 8 * 1024;  // several tiles per layer
  const GeneratedApp app = generate(g, t, d, (dir.path / "app").string());
  AppRunOptions ro;
  ro.cores = 3;
  ro.build.extra_flags = {"-DDORY_CYCLE_SPLIT"};  // compiles the application's own runtime copy with the split
  Expected<HostRunResult> r = run_application(app, ro);
  ASSERT_TRUE(r.ok()) << r.error().str();
  ASSERT_TRUE(r->passed()) << r->output;
  ASSERT_EQ(r->layers.size(), app.deployment.layers.size());
  for (const HostLayerResult& l : r->layers) {
    SCOPED_TRACE(l.name);
    ASSERT_EQ(l.split.per_core.size(), 3u) << r->output;
    for (size_t c = 0; c < 3; ++c) {
      const auto& p = l.split.per_core[c];
      EXPECT_GT(p[0], 0) << "compute";
      if (c == 0) {
        EXPECT_GT(p[1] + p[2], 0) << "core 0 issues and waits for every transfer";
      } else {
        EXPECT_EQ(p[1], 0) << "only core 0 waits for the DMA";
        EXPECT_EQ(p[2], 0) << "only core 0 issues DMA";
      }
      EXPECT_LE(static_cast<double>(l.split.core_total(c)), l.host_us * 1000 + 100);
    }
  }
}

}  // namespace
}  // namespace dory
