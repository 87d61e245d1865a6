// Whole networks through the whole deployment path: deploy (plans, memory plan, descriptors, static schedule
// check) -> C application -> system C compiler -> host platform with 1 and 8 cores, every element of every layer
// compared with the reference executor by the application itself, at L1 budgets of 16, 32 and 64 kB.
// Networks: the bundled Fashion-MNIST example, a MobileNetV1-0.25-style network and a ResNet-8-style network
// with residual adds (synthetic, seeded weights: src/testnets).
//
// And the faults the platform and the checks must catch: a skipped DMA wait, an L1 one byte smaller than the
// plans need, a descriptor corrupted in the generated C.
// And the L2-direct pass of the same applications (app --mode both): every layer one kernel call on its operands
// in L2, checked the same way.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "codegen/app.h"
#include "onnx/frontend.h"
#include "target/target.h"
#include "testnets/testnets.h"
#include "tiler/tile.h"
#include "../util/platforms.h"
#include "../util/temp_dir.h"
#include "../util/test_networks.h"

namespace dory {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

Graph load_network(const std::string& name) { return testing::load_test_network(name); }

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
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
                  std::vector<std::string> env = {}, const std::string& mode = "tiled") {
  AppRunOptions ro;
  ro.cores = cores;
  ro.mode = mode;
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
      SCOPED_TRACE(::testing::Message() << cores << " cores, DMA delay " << delay);
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

// ---- L2-direct execution (the paper's baseline: every layer one kernel call on its operands in L2) ----

class DeployL2Direct : public ::testing::TestWithParam<std::string> {};

TEST_P(DeployL2Direct, EveryLayerIsBitExactWithItsOperandsInL2) {
  const Graph g = load_network(GetParam());
  TempDir dir("l2direct");
  const GeneratedApp app = generate(g, 32 * 1024, dir.path.string());
  const Deployment& dep = app.deployment;
  ASSERT_FALSE(dep.layers.empty());
  for (int cores : {1, 8}) {
    SCOPED_TRACE(::testing::Message() << cores << " cores");
    const HostRunResult r = run(app, cores, {}, {"DORY_HOST_DMA_DELAY_US=wait"}, "both");
    EXPECT_TRUE(r.passed()) << r.output;
    ASSERT_EQ(r.layers.size(), dep.layers.size()) << r.output;
    ASSERT_EQ(r.l2_direct_layers.size(), dep.layers.size()) << r.output;
    for (size_t i = 0; i < dep.layers.size(); ++i) {
      const dory_layer d = dep.layers[i].descriptor();
      const HostLayerResult& x = r.l2_direct_layers[i];
      SCOPED_TRACE(x.name);
      EXPECT_TRUE(x.ok);
      // These networks have no concatenation and their im2col scratch fits 32 kB: every layer runs from L2.
      EXPECT_TRUE(dory_layer_l2_direct_supported(&d, static_cast<uint32_t>(dep.l1_bytes), nullptr));
      EXPECT_FALSE(x.fallback);
      EXPECT_EQ(x.tiles, 1);
      EXPECT_EQ(x.modeled_cycles, d.l2_direct_modeled_cycles);
      // The L2-direct model prices the same call as l1-resident plus stalls: never below the L1-resident bound.
      EXPECT_GE(static_cast<double>(x.modeled_cycles) + 0.5, dep.layers[i].plan.cost.l1_resident_cycles);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Networks, DeployL2Direct, ::testing::Values("fmnist", "mobilenet_v1", "resnet8"),
                         [](const auto& info) { return info.param; });

TEST(DeployL2Direct, TheWholeLayerExtentIsTheTilersWholeLayerTile) {
  const Graph g = load_network("resnet8");
  TempDir dir("l2direct-extent");
  const GeneratedApp app = generate(g, 16 * 1024, dir.path.string());
  for (const DeployedLayer& dl : app.deployment.layers) {
    const LayerGeometry& geo = dl.plan.geometry;
    const dory_layer d = dl.descriptor();
    dory_tile_extent e;
    dory_layer_whole_extent(&d, &e);
    const TileCounts n = tile_counts(geo, whole_layer_shape(geo));
    ASSERT_EQ(n.total(), 1) << dl.plan.layer;
    const TileExtent t = tile_extent(geo, whole_layer_shape(geo), tile_index(n, 0));
    SCOPED_TRACE(dl.plan.layer);
    EXPECT_EQ(e.c_out, t.c_out.size());
    EXPECT_EQ(e.h_out, t.h_out.size());
    EXPECT_EQ(e.w_out, t.w_out.size());
    EXPECT_EQ(e.c_in, t.c_in.size());
    EXPECT_EQ(e.h_in, t.h_in.size());
    EXPECT_EQ(e.w_in, t.w_in.size());
    EXPECT_EQ(e.pad.top, t.pad.top);
    EXPECT_EQ(e.pad.left, t.pad.left);
    EXPECT_EQ(e.pad.bottom, t.pad.bottom);
    EXPECT_EQ(e.pad.right, t.pad.right);
    EXPECT_EQ(e.first, 1);
    EXPECT_EQ(e.last, 1);
  }
}

TEST(DeployL2Direct, AChannelSliceOfAConcatenationRunsTiledAndSaysWhy) {
  const Graph g = load_network("fmnist");
  TempDir dir("l2direct-slice");
  const GeneratedApp app = generate(g, 32 * 1024, dir.path.string());
  dory_layer d = app.deployment.layers[1].descriptor();
  const char* why = nullptr;
  EXPECT_TRUE(dory_layer_l2_direct_supported(&d, 32 * 1024, &why));
  EXPECT_EQ(why, nullptr);
  d.out.pixel_stride += 8;  // as if the output were the first channels of a wider concatenation
  EXPECT_FALSE(dory_layer_l2_direct_supported(&d, 32 * 1024, &why));
  ASSERT_NE(why, nullptr);
  EXPECT_NE(std::string(why).find("concatenation"), std::string::npos) << why;
  d = app.deployment.layers[1].descriptor();
  ASSERT_GT(d.l2_direct_scratch_bytes, 0u) << "conv2 on gap8 builds im2col columns";
  EXPECT_FALSE(dory_layer_l2_direct_supported(&d, d.l2_direct_scratch_bytes - 1, &why));
  EXPECT_NE(std::string(why).find("scratch"), std::string::npos) << why;
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
  corrupt_network_c(dir.path, L, R"(\.out = \{\.l2_offset = (\d+)u)", ".out = {.l2_offset = " + std::to_string(good.out.l2_offset + 64) + "u");
  const HostRunResult r = run(app, 8);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("MISMATCH layer " + std::to_string(L)), std::string::npos) << r.output;
}

TEST(DeployL2Direct, AnOutputWrittenElsewhereIsCaughtByTheL2DirectPass) {
  const Graph g = load_network("fmnist");
  TempDir dir("l2direct-corrupt");
  const GeneratedApp app = generate(g, 32 * 1024, dir.path.string());
  const size_t L = 3;
  const dory_layer good = app.deployment.layers[L].descriptor();
  corrupt_network_c(dir.path, L, R"(\.out = \{\.l2_offset = (\d+)u)", ".out = {.l2_offset = " + std::to_string(good.out.l2_offset + 64) + "u");
  // The pass starts from a poisoned L2: nothing of an earlier pass can stand in for the missing output.
  const HostRunResult r = run(app, 8, {}, {}, "l2-direct");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(r.layers.empty()) << "l2-direct only: no tiled pass";
  EXPECT_NE(r.output.find("MISMATCH l2direct layer " + std::to_string(L)), std::string::npos) << r.output;
}

// What a user builds is what is tested: the application as `dory deploy` writes it (its own copy of the runtime),
// built with its generated CMakeLists.txt and with its Makefile, runs bit-exactly; both builds compile only the
// kernels the network uses (network.c names them; the lists come from the registry).
TEST(DeployBuilds, TheGeneratedCMakeListsAndMakefileBuildTheApplication) {
  const Graph g = load_network("fmnist");
  TempDir dir("emitted-builds");
  DeployOptions o;
  o.l1_budget_bytes = 32 * 1024;
  Expected<GeneratedApp> app =
      generate_application(g, find_target("gap8").value(), o, {}, (dir.path / "app").string(), EmitOptions{}, 3);
  ASSERT_TRUE(app.ok()) << app.error().str();
  auto sh = testing::shell;
  const fs::path a = dir.path / "app";
  auto [rc, out] = sh("cmake -S " + a.string() + " -B " + (a / "cmake-build").string() + " -G Ninja && cmake --build " +
                      (a / "cmake-build").string());
  ASSERT_EQ(rc, 0) << out;
  std::tie(rc, out) = sh((a / "cmake-build" / "app").string() + " --quiet --mode both");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("RESULT ok"), std::string::npos) << out;
  std::tie(rc, out) = sh("make -C " + a.string() + " -s run-host");
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("RESULT ok"), std::string::npos) << out;
  // Only the used kernels' sources: this network has no add, pooling other than global average, or requantize.
  std::ifstream mk(a / "Makefile");
  std::stringstream ss;
  ss << mk.rdbuf();
  const std::string makefile = ss.str();
  const std::string host = makefile.substr(makefile.find("HOST_RUNTIME ="), makefile.find("HOST_LIBS") - makefile.find("HOST_RUNTIME ="));
  for (const char* used : {"kernels/conv.c", "kernels/depthwise.c", "kernels/pointwise.c", "kernels/fc.c", "kernels/avgpool.c"})
    EXPECT_NE(host.find(used), std::string::npos) << used << "\n" << host;
  for (const char* unused : {"kernels/add.c", "kernels/maxpool.c", "kernels/requantize.c"})
    EXPECT_EQ(host.find(unused), std::string::npos) << unused << "\n" << host;
}

// The three check modes on the same corrupted layer: crc names the layer (and how to see the element), full
// reports the first differing element with its tile, none checks nothing and says so.
TEST(DeployChecks, CrcNamesTheLayerFullTheElementNoneNothing) {
  const Graph g = load_network("fmnist");
  for (CheckMode mode : {CheckMode::Crc, CheckMode::Full, CheckMode::None}) {
    SCOPED_TRACE(check_mode_name(mode));
    TempDir dir(std::string("checks-") + check_mode_name(mode));
    DeployOptions o;
    o.l1_budget_bytes = 16 * 1024;
    o.check = mode;
    EmitOptions e;
    e.copy_runtime = false;
    Expected<GeneratedApp> app = generate_application(g, find_target("gap8").value(), o, {}, dir.path.string(), e, 3);
    ASSERT_TRUE(app.ok()) << app.error().str();
    const std::string goldens = read_text(dir.path / "goldens.c");
    EXPECT_EQ(goldens.find("dory_golden_crc32") != std::string::npos, mode == CheckMode::Crc);
    EXPECT_EQ(goldens.find("dory_golden_outputs") != std::string::npos, mode == CheckMode::Full);
    const HostRunResult clean = run(*app, 8);
    if (mode == CheckMode::None) {
      EXPECT_FALSE(clean.passed()) << "nothing checked is no pass";
      EXPECT_NE(clean.output.find("RESULT unchecked"), std::string::npos) << clean.output;
      continue;
    }
    EXPECT_TRUE(clean.passed()) << clean.output;
    const size_t L = tiled_layer(*app);
    const dory_layer good = app->deployment.layers[L].descriptor();
    corrupt_network_c(dir.path, L, R"(\.out = \{\.l2_offset = (\d+)u)",
                      ".out = {.l2_offset = " + std::to_string(good.out.l2_offset + 64) + "u");
    const HostRunResult r = run(*app, 8);
    EXPECT_EQ(r.exit_code, 1) << r.output;
    EXPECT_NE(r.output.find("MISMATCH layer " + std::to_string(L)), std::string::npos) << r.output;
    if (mode == CheckMode::Crc)
      EXPECT_NE(r.output.find("deploy with --check full"), std::string::npos) << r.output;
    else
      EXPECT_NE(r.output.find("element (h "), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace dory
