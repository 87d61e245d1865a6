// Whole networks on PULP-open, executed on the GVSoC virtual platform: deploy for the pulp-open target -> the
// application's own Makefile builds the PULP-open ELF (Debian's riscv64-unknown-elf-gcc + picolibc, the
// platform's crt0.S and link.ld, the registry's Xpulpv2 kernels) -> GVSoC runs it on the 8 cluster cores with
// MCHAN DMA -> every element of every layer compared with the reference executor by the application itself, in
// the tiled pass and in the L2-direct pass. Networks: the bundled Fashion-MNIST example, MobileNetV1-0.25 at 64x64,
// ResNet-8 and the CIFAR-10 CNN of the DORY paper's size (tests/util/test_networks.h), on the stock 512 kB L2.
//
// Also: the executed cycle counts are > 0 and repeat exactly (GVSoC is deterministic), and a broken layer is
// reported as a mismatch of that layer; and `dory eval --platform gvsoc` runs every mode of the example (each
// layer checked in every run), reports each next to the model with its error, the executor's cycle split adds up
// to the layer's measured cycles within the split's own uncovered head and tail, and the CI bound on the model's
// error fails the command when exceeded.
//
// GVSoC is not part of dory: it is found through $GVSOC_INSTALL (CI: ../shared/tools/gvsoc/install). Without it the
// tests skip with the reason, except under CI=true, where a missing GVSoC is a failure.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include <nlohmann/json.hpp>

#include "codegen/app.h"
#include "target/target.h"
#include "../util/platforms.h"
#include "../util/run_cli.h"
#include "../util/temp_dir.h"
#include "../util/test_networks.h"

namespace dory {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

GeneratedApp generate(const Graph& g, const std::string& dir, int64_t l1 = 0) {
  DeployOptions o;
  o.l1_budget_bytes = l1;
  o.platform = AppPlatform::PulpOpen;
  EmitOptions e;
  Expected<GeneratedApp> app = generate_application(g, find_target("pulp-open").value(), o, {}, dir, e, 5);
  EXPECT_TRUE(app.ok()) << (app.ok() ? "" : app.error().str());
  return app.ok() ? std::move(*app) : GeneratedApp{};
}

HostRunResult build_and_run(const GeneratedApp& app, const std::string& mode = "tiled") {
  QemuBuildOptions qb;
  qb.app_mode = mode;
  Status b = build_pulp_open_app(app.dir, qb);
  EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().str());
  if (!b.ok()) return HostRunResult{};
  Expected<HostRunResult> r = run_gvsoc_app(app.dir, 900);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().str());
  return r.ok() ? *r : HostRunResult{};
}

// Every layer ran and matched with counted cycles; the tiled pass carries the plans' modeled cycles.
void expect_every_layer(const GeneratedApp& app, const std::vector<HostLayerResult>& layers, bool tiled) {
  ASSERT_EQ(layers.size(), app.deployment.layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    SCOPED_TRACE(layers[i].name);
    EXPECT_TRUE(layers[i].ok);
    EXPECT_GT(layers[i].cycles, 0);
    EXPECT_GT(layers[i].instructions, 0);
    if (tiled) {
      EXPECT_EQ(layers[i].modeled_cycles,
                static_cast<uint64_t>(app.deployment.layers[i].plan.cost.total_cycles + 0.5));
    }
  }
}

class GvsocNetwork : public ::testing::TestWithParam<std::string> {};

TEST_P(GvsocNetwork, EveryLayerIsBitExactTiledAndFromL2) {
  DORY_SKIP_WITHOUT_GVSOC();
  TempDir dir("gvsoc-" + GetParam());
  const GeneratedApp app = generate(testing::load_test_network(GetParam()), (dir.path / "app").string());
  const HostRunResult r = build_and_run(app, "both");
  EXPECT_TRUE(r.passed()) << r.command << "\n" << r.output;
  expect_every_layer(app, r.layers, true);
  expect_every_layer(app, r.l2_direct_layers, false);
}

INSTANTIATE_TEST_SUITE_P(Networks, GvsocNetwork, ::testing::Values("fmnist", "mobilenet_v1", "resnet8", "cifar10"),
                         [](const auto& info) { return info.param; });

TEST(Gvsoc, CyclesRepeatExactlyAndABrokenLayerIsReportedAsItsMismatch) {
  DORY_SKIP_WITHOUT_GVSOC();
  TempDir dir("gvsoc-repeat");
  const GeneratedApp app = generate(testing::load_test_network("fmnist"), (dir.path / "app").string(), 16 * 1024);
  const HostRunResult a = build_and_run(app);
  ASSERT_TRUE(a.passed()) << a.output;
  const Expected<HostRunResult> b = run_gvsoc_app(app.dir);
  ASSERT_TRUE(b.ok() && b->passed());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    EXPECT_EQ(a.layers[i].cycles, b->layers[i].cycles) << a.layers[i].name;
    EXPECT_EQ(a.layers[i].instructions, b->layers[i].instructions) << a.layers[i].name;
  }
  // The last layer's output stored 64 bytes past where the memory plan put it: that layer, and only it, mismatches
  // (the application checks each layer against the memory plan's place, not the descriptor's).
  const size_t L = app.deployment.layers.size() - 1;
  std::ifstream in(fs::path(app.dir) / "network.c");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  const size_t at = text.find("static const dory_layer layer_" + std::to_string(L) + " = {");
  ASSERT_NE(at, std::string::npos);
  const dory_layer good = app.deployment.layers[L].descriptor();
  const std::string from = ".out = {.l2_offset = " + std::to_string(good.out.l2_offset) + "u";
  const size_t out = text.find(from, at);
  ASSERT_NE(out, std::string::npos);
  text.replace(out, from.size(), ".out = {.l2_offset = " + std::to_string(good.out.l2_offset + 64) + "u");
  std::ofstream(fs::path(app.dir) / "network.c") << text;
  const HostRunResult c = build_and_run(app);
  EXPECT_NE(c.exit_code, 0) << c.output;
  EXPECT_FALSE(c.passed());
  EXPECT_NE(c.output.find("MISMATCH layer " + std::to_string(L)), std::string::npos) << c.output;
  for (size_t i = 0; i < L && i < c.layers.size(); ++i) EXPECT_TRUE(c.layers[i].ok) << c.layers[i].name;
}

// The split is read from each core's cycle counter at the start and end of its task (and at every boundary in
// between); the HAL's counters around the task add what lies before the first read and after the last (the call,
// the core id, the split's copy-out): a few hundred cycles, bounded here.
constexpr int64_t kSplitHeadAndTailBound = 1000;

TEST(GvsocEval, TheExampleRunsEveryModeBesideTheModelAndTheSplitAddsUpToTheMeasuredCycles) {
  DORY_SKIP_WITHOUT_GVSOC();
  TempDir dir("gvsoc-eval");
  const std::string html = (dir.path / "report.html").string();
  // --max-layer-error 0: no model is exact to the cycle on every layer, so the bound must fail the command, after
  // the report.
  const testing::CliResult r =
      testing::run_cli("eval " + std::string(DORY_SOURCE_DIR) +
                       "/models/fmnist/fmnist_int.onnx --target pulp-open --platform gvsoc --json --max-layer-error 0 "
                       "--report " + html);
  EXPECT_EQ(r.status, 1) << r.output;
  const size_t err = r.output.find("error[eval-model-error]");
  ASSERT_NE(err, std::string::npos) << r.output;
  EXPECT_NE(r.output.find("is off by", err), std::string::npos) << r.output.substr(err);
  const size_t open = r.output.find('{'), close = r.output.rfind('}', err);
  ASSERT_TRUE(open != std::string::npos && close != std::string::npos && open < close) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output.substr(open, close - open + 1));
  const nlohmann::json& x = j["executed"];
  EXPECT_EQ(x["measure"], "cycles");
  EXPECT_EQ(x["source"], "executed");
  EXPECT_TRUE(x["cycle_split"].get<bool>());
  ASSERT_EQ(x["layers"].size(), j["layers"].size());
  for (size_t i = 0; i < x["layers"].size(); ++i) {
    const nlohmann::json& l = x["layers"][i];
    const nlohmann::json& modeled = j["layers"][i];
    SCOPED_TRACE(l["name"].get<std::string>());
    for (const char* mode : {"l1-resident", "l2-direct", "dory-model", "dory-dory", "dory-fill"}) {
      SCOPED_TRACE(mode);
      ASSERT_TRUE(l["modes"].contains(mode));
      const nlohmann::json& m = l["modes"][mode];
      EXPECT_TRUE(m["ran"].get<bool>());
      EXPECT_GT(m["cycles"].get<int64_t>(), 0);
      EXPECT_GT(m["modeled_cycles"].get<double>(), 0);
      EXPECT_FALSE(m["fallback"].get<bool>());
      EXPECT_NEAR(m["error"].get<double>(),
                  m["modeled_cycles"].get<double>() / static_cast<double>(m["cycles"].get<int64_t>()) - 1, 1e-9);
    }
    // What ran is what was planned: the tiles of every DORY mode, one tile for a layer that fits L1 whole.
    for (const char* mode : {"dory-model", "dory-dory", "dory-fill"})
      EXPECT_EQ(l["modes"][mode]["tiles"].get<int64_t>(), modeled["modes"][mode]["tiles"].get<int64_t>()) << mode;
    const bool fits = modeled["fits_l1"].get<bool>();
    EXPECT_EQ(l["modes"]["l1-resident"]["compute_only"].get<bool>(), !fits);
    if (fits) {
      EXPECT_EQ(l["modes"]["l1-resident"]["tiles"].get<int64_t>(), 1);
    }
    // The split: 8 cores, each within the layer's measured cycles; core 0 (the last to finish: it stores the last
    // tile) covers all of them but the head and tail of its task.
    const nlohmann::json& sp = l["split"];
    ASSERT_EQ(sp["cores"].size(), 8u);
    const int64_t measured = sp["instrumented_cycles"].get<int64_t>();
    for (const nlohmann::json& c : sp["cores"]) {
      int64_t sum = 0;
      for (const char* part : {"compute", "dma_wait", "dma_issue", "barrier", "other"}) sum += c[part].get<int64_t>();
      EXPECT_EQ(sum, c["total"].get<int64_t>());
      EXPECT_LE(sum, measured);
      EXPECT_GT(c["compute"].get<int64_t>(), 0);
    }
    const int64_t core0 = sp["cores"][0]["total"].get<int64_t>();
    EXPECT_GE(measured - core0, 0);
    EXPECT_LE(measured - core0, kSplitHeadAndTailBound);
    EXPECT_GT(sp["cores"][0]["dma_wait"].get<int64_t>() + sp["cores"][0]["dma_issue"].get<int64_t>(), 0);
    for (size_t c = 1; c < 8; ++c) EXPECT_EQ(sp["cores"][c]["dma_wait"].get<int64_t>(), 0);
  }
  EXPECT_EQ(x["model_error"].size(), 5u);
  std::ifstream f(html);
  std::stringstream page;
  page << f.rdbuf();
  for (const char* s : {"id=\"executed-network-table\"", "id=\"model-vs-executed-table\"", "id=\"cycle-split-table\"",
                        "id=\"objective-check-table\"", "id=\"executed-mac-chart\"", "data-source=\"executed\"",
                        "PULP-open on the GVSoC virtual platform"})
    EXPECT_NE(page.str().find(s), std::string::npos) << s;
}

// The generated Makefile's `make gvsoc` (what `make run` does for an application emitted for pulp-open) runs the
// ELF: GVSoC opens a relative --binary in its work directory, so the Makefile passes absolute paths.
TEST(Gvsoc, TheMakefilesGvsocTargetRunsTheElf) {
  DORY_SKIP_WITHOUT_GVSOC();
  TempDir dir("gvsoc-make");
  const GeneratedApp app = generate(testing::load_test_network("fmnist"), (dir.path / "app").string());
  QemuBuildOptions qb;
  ASSERT_TRUE(build_pulp_open_app(app.dir, qb).ok());
  const std::string install = gvsoc_install().value();
  const auto [rc, out] = testing::shell("make -s -C '" + app.dir + "' gvsoc GVSOC_INSTALL='" + install + "'");
  EXPECT_EQ(rc, 0) << out;
  HostRunResult r;
  r.exit_code = rc;
  r.output = out;
  parse_app_output(r);
  EXPECT_TRUE(r.result_ok) << out;
  EXPECT_EQ(r.layers.size(), app.deployment.layers.size()) << out;
  std::error_code ec;
  fs::remove_all(fs::path(app.dir) / "gvsoc-work", ec);
}

}  // namespace
}  // namespace dory
