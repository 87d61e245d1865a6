// Whole networks on PULP-open, executed on the GVSoC virtual platform: deploy for the pulp-open target -> the
// application's own Makefile builds the PULP-open ELF (Debian's riscv64-unknown-elf-gcc + picolibc, the
// platform's crt0.S and link.ld, the registry's Xpulpv2 kernels) -> GVSoC runs it on the 8 cluster cores with
// MCHAN DMA -> every element of every layer compared with the reference executor by the application itself, in
// the tiled pass and in the L2-direct pass. Networks: the bundled Fashion-MNIST example, MobileNetV1-0.25 at 64x64,
// ResNet-8 and the CIFAR-10 CNN of the DORY paper's size (tests/util/test_networks.h), on the stock 512 kB L2.
//
// Also: the executed cycle counts are > 0 and repeat exactly (GVSoC is deterministic), and a broken layer is
// reported as a mismatch of that layer.
//
// GVSoC is not part of dory: it is found through $GVSOC_INSTALL (CI: ../shared/tools/gvsoc/install). Without it the
// tests skip with the reason, except under CI=true, where a missing GVSoC is a failure.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "codegen/app.h"
#include "target/target.h"
#include "../util/platforms.h"
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
