// Whole networks through the whole deployment path: deploy (plans, memory plan, descriptors, static schedule
// check) -> C application -> system C compiler -> host platform with 1 and 8 cores, every element of every layer
// compared with the reference executor by the application itself, at L1 budgets of 16, 32 and 64 kB.
// Networks: the bundled Fashion-MNIST example, a MobileNetV1-0.25-style network and a ResNet-8-style network
// with residual adds (synthetic, seeded weights: src/testnets).
//
// And the faults the platform and the checks must catch: a skipped DMA wait, an L1 one byte smaller than the
// plans need, a descriptor corrupted in the generated C.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "codegen/app.h"
#include "onnx/frontend.h"
#include "target/target.h"
#include "testnets/testnets.h"

namespace dory {
namespace {

namespace fs = std::filesystem;

Graph load_network(const std::string& name) {
  Expected<Graph> g = name == "fmnist"
                          ? import_onnx(std::string(DORY_SOURCE_DIR) + "/models/fmnist/fmnist_int.onnx", {})
                          : [&]() -> Expected<Graph> {
    MobileNetOptions mo;
    mo.width = 0.25;
    mo.resolution = 64;
    mo.classes = 10;
    std::string bytes = name == "mobilenet_v1" ? make_mobilenet_v1_onnx(mo) : make_resnet8_onnx({});
    return import_onnx_bytes(bytes, name);
  }();
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().str());
  return g.ok() ? std::move(*g) : Graph{};
}

HostBuildOptions prebuilt() {
  HostBuildOptions b;
  b.cflags = "-O1";
  b.prebuilt_runtime_lib = DORY_RUNTIME_LIB;
  b.runtime_include_dir = std::string(DORY_SOURCE_DIR) + "/runtime/include";
  const std::string san = DORY_APP_SANITIZE_FLAGS;
  if (!san.empty()) b.extra_flags = {san};
  return b;
}

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    std::string t = (fs::temp_directory_path() / ("dory-e2e-" + tag + "-XXXXXX")).string();
    EXPECT_NE(mkdtemp(t.data()), nullptr);
    path = t;
  }
  ~TempDir() { fs::remove_all(path); }
};

GeneratedApp generate(const Graph& g, int64_t l1, const std::string& dir, Objective obj = Objective::Model) {
  DeployOptions o;
  o.l1_budget_bytes = l1;
  o.objective = obj;
  EmitOptions e;
  e.copy_runtime = false;
  Expected<GeneratedApp> app = generate_application(g, find_target("gap8").value(), o, {}, dir, e, 3);
  EXPECT_TRUE(app.ok()) << (app.ok() ? "" : app.error().str());
  return app.ok() ? std::move(*app) : GeneratedApp{};
}

HostRunResult run(const GeneratedApp& app, int cores, std::vector<std::string> extra = {},
                  std::vector<std::string> env = {}) {
  AppRunOptions ro;
  ro.cores = cores;
  ro.build = prebuilt();
  ro.extra_args = std::move(extra);
  ro.env = std::move(env);
  Expected<HostRunResult> r = run_application(app, ro);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().str());
  return r.ok() ? *r : HostRunResult{};
}

using NetBudget = std::tuple<std::string, int64_t>;
class DeployNetwork : public ::testing::TestWithParam<NetBudget> {};

TEST_P(DeployNetwork, EveryLayerIsBitExactOnOneAndEightCores) {
  const auto& [name, l1] = GetParam();
  const Graph g = load_network(name);
  TempDir dir(name);
  const GeneratedApp app = generate(g, l1, dir.path.string());
  ASSERT_FALSE(app.deployment.layers.empty());
  int64_t tiles = 0;
  for (const DeployedLayer& dl : app.deployment.layers) tiles += dl.plan.counts.total();
  // The budgets really tile these networks (the test is about tiles, not whole layers in L1).
  if (l1 <= 32 * 1024) {
    EXPECT_GT(tiles, static_cast<int64_t>(app.deployment.layers.size()));
  }
  EXPECT_GT(app.check.transfers, 0);
  for (int cores : {1, 8}) {
    for (const char* delay : {"wait", "0"}) {
      SCOPED_TRACE(testing::Message() << cores << " cores, DMA delay " << delay);
      const HostRunResult r = run(app, cores, {"--quiet"}, {std::string("DORY_HOST_DMA_DELAY_US=") + delay});
      EXPECT_TRUE(r.passed()) << r.output;
      EXPECT_EQ(r.layers.size(), 0u) << "--quiet prints mismatching layers only";
    }
  }
  // The per-layer lines: every layer ran and matched, with the modeled cycles of the plan.
  const HostRunResult r = run(app, 8);
  ASSERT_EQ(r.layers.size(), app.deployment.layers.size()) << r.output;
  for (size_t i = 0; i < r.layers.size(); ++i) {
    EXPECT_TRUE(r.layers[i].ok) << r.layers[i].name;
    EXPECT_EQ(r.layers[i].tiles, app.deployment.layers[i].plan.counts.total());
    EXPECT_EQ(r.layers[i].modeled_cycles,
              static_cast<uint64_t>(app.deployment.layers[i].plan.cost.total_cycles + 0.5));
  }
}

INSTANTIATE_TEST_SUITE_P(Networks, DeployNetwork,
                         ::testing::Combine(::testing::Values("fmnist", "mobilenet_v1", "resnet8"),
                                            ::testing::Values(16 * 1024, 32 * 1024, 64 * 1024)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::to_string(std::get<1>(info.param) / 1024) +
                                  "k";
                         });

TEST(DeployObjectives, TheDoryAndFillObjectivesAreBitExactToo) {
  const Graph g = load_network("resnet8");
  for (Objective o : {Objective::Dory, Objective::Fill}) {
    TempDir dir("objective");
    const GeneratedApp app = generate(g, 20000, dir.path.string(), o);
    const HostRunResult r = run(app, 8, {"--quiet"}, {"DORY_HOST_DMA_DELAY_US=wait"});
    EXPECT_TRUE(r.passed()) << objective_name(o) << "\n" << r.output;
  }
}

// ---- faults ----

// The first layer with several tiles (so that there are waits between computations).
size_t tiled_layer(const GeneratedApp& app) {
  for (size_t i = 0; i < app.deployment.layers.size(); ++i)
    if (app.deployment.layers[i].plan.counts.total() > 2) return i;
  ADD_FAILURE() << "no tiled layer";
  return 0;
}

TEST(DeployFaults, ASkippedDmaWaitIsCaught) {
  const Graph g = load_network("fmnist");
  TempDir dir("skipwait");
  const GeneratedApp app = generate(g, 12 * 1024, dir.path.string());
  const size_t L = tiled_layer(app);
  // The static check proves the real schedule and rejects the faulty one.
  ScheduleCheckOptions so;
  so.skip_wait = 1;
  Status st = check_layer_schedule(app.deployment, L, app.deployment.layers[L].descriptor(), so);
  EXPECT_FALSE(st.ok());
  // On the host platform, with DMA completing only when waited for, the skipped wait leaves stale data or a job
  // in flight: the run fails (a mismatch, or the platform aborts).
  for (int k : {0, 1, 2}) {
    const HostRunResult r = run(app, 8, {"--skip-wait", std::to_string(L) + ":" + std::to_string(k)},
                                {"DORY_HOST_DMA_DELAY_US=wait"});
    EXPECT_FALSE(r.passed()) << "skipping wait " << k << " of layer " << L << " went unnoticed:\n" << r.output;
    EXPECT_NE(r.exit_code, 0);
    EXPECT_TRUE(r.output.find("MISMATCH") != std::string::npos || r.output.find("dory host HAL") != std::string::npos)
        << r.output;
  }
  // Without the fault the same application passes.
  EXPECT_TRUE(run(app, 8, {"--quiet"}, {"DORY_HOST_DMA_DELAY_US=wait"}).passed());
}

TEST(DeployFaults, AnL1OneByteSmallerThanPlannedIsCaught) {
  const Graph g = load_network("fmnist");
  TempDir dir("l1small");
  const GeneratedApp app = generate(g, 16 * 1024, dir.path.string());
  const int64_t need = app.deployment.l1_peak_bytes;
  const HostRunResult r = run(app, 8, {"--l1-bytes", std::to_string(need - 1)});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("L1 is smaller than the tile plans need"), std::string::npos) << r.output;
  EXPECT_TRUE(run(app, 8, {"--quiet", "--l1-bytes", std::to_string(need)}).passed());
  // The static check refuses the same smaller L1 for the layer that needs it all.
  ScheduleCheckOptions so;
  so.l1_bytes = need - 1;
  EXPECT_FALSE(check_schedule(app.deployment, so).ok());
}

// Replaces the first match of `pattern` in the descriptor of layer L in network.c.
void corrupt_network_c(const fs::path& dir, size_t L, const std::string& pattern, const std::string& replacement) {
  std::ifstream in(dir / "network.c");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  const std::string head = "static const dory_layer layer_" + std::to_string(L) + " = {";
  const size_t at = text.find(head);
  ASSERT_NE(at, std::string::npos);
  const size_t end = text.find("\n};", at);
  std::string body = text.substr(at, end - at);
  const std::string fixed = std::regex_replace(body, std::regex(pattern), replacement,
                                               std::regex_constants::format_first_only);
  ASSERT_NE(fixed, body) << "pattern " << pattern << " not found";
  text.replace(at, end - at, fixed);
  std::ofstream(dir / "network.c") << text;
}

TEST(DeployFaults, ACorruptedDescriptorIsCaught) {
  const Graph g = load_network("fmnist");
  TempDir dir("corrupt");
  const GeneratedApp app = generate(g, 16 * 1024, dir.path.string());
  const size_t L = tiled_layer(app);
  // The output stored 64 bytes past where the memory plan put it.
  const dory_layer good = app.deployment.layers[L].descriptor();
  dory_layer bad = good;
  bad.out.l2_offset += 64;
  EXPECT_FALSE(check_layer_schedule(app.deployment, L, bad).ok());
  corrupt_network_c(dir.path, L, R"(\.out = \{(\d+)u)", ".out = {" + std::to_string(good.out.l2_offset + 64) + "u");
  const HostRunResult r = run(app, 8);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("MISMATCH layer " + std::to_string(L)), std::string::npos) << r.output;
}

}  // namespace
}  // namespace dory
