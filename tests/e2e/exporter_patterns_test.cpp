// The exporters' patterns deployed (tests/util/exporter_models.h): each model -> deploy at the smallest feasible
// L1 budget, at twice it and with the whole layers in L1 -> C application -> host platform with 1 and 8 cores
// (DMA completing only when waited for, and immediately), every element of every layer compared with the reference
// executor by the application itself, in the tiled and the L2-direct pass. The models with padding as large as the
// kernel must produce tiles made of padding only (an empty input box) at some budget.
// And the models are legal ONNX: onnx.checker (full check, with shape inference) accepts each of them (skipped
// without Debian's python3-onnx, which scripts/install-deps.sh installs).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "../util/exporter_models.h"
#include "../util/temp_dir.h"
#include "codegen/app.h"
#include "onnx/frontend.h"
#include "target/target.h"
#include "tiler/search.h"

namespace dory {
namespace {

using testing::TempDir;

struct PatternModel {
  std::string name;
  std::string bytes;
  bool big_padding;  // some layer's padding reaches its kernel
};

std::vector<PatternModel> models() {
  return {{"ort_qdq_dscnn", testing::ort_qdq_dscnn(), false},
          {"ort_qdq_dscnn_rescaled_pad", testing::ort_qdq_dscnn(true), false},
          {"ort_qoperator_dscnn", testing::ort_qoperator_dscnn(), false},
          {"torch_big_padding_qdq", testing::torch_big_padding_qdq(), true},
          {"big_padding_integer", testing::big_padding_integer(), true},
          {"brevitas_qcdq", testing::brevitas_qcdq(), false}};
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

class ExporterPatternDeploy : public ::testing::TestWithParam<PatternModel> {};

TEST_P(ExporterPatternDeploy, EveryLayerIsBitExactOnOneAndEightCoresAtSmallAndLargeL1Budgets) {
  const PatternModel& m = GetParam();
  Expected<Graph> g = import_onnx_bytes(m.bytes, m.name);
  ASSERT_TRUE(g.ok()) << g.error().str();
  const Target target = find_target("gap8").value();
  int64_t lo = 0, whole = 0;
  for (const Layer& l : g->layers) {
    if (!needs_l1_plan(l)) continue;
    auto geo = layer_geometry(*g, l);
    ASSERT_TRUE(geo.ok()) << geo.error().str();
    lo = std::max(lo, minimal_l1_layout(*geo, target, Objective::Model).l1_bytes);
    whole = std::max(whole, l1_layout_bytes(*geo, whole_layer_shape(*geo), Buffering::none(), target));
  }
  int64_t padding_only_tiles = 0;
  for (int64_t l1 : {lo, 2 * lo, std::max(whole, lo)}) {
    SCOPED_TRACE(::testing::Message() << m.name << " at L1 " << l1 << " B");
    TempDir dir(m.name);
    DeployOptions o;
    o.l1_budget_bytes = l1;
    EmitOptions e;
    e.copy_runtime = false;
    Expected<GeneratedApp> app = generate_application(*g, target, o, {}, dir.path.string(), e, 5);
    ASSERT_TRUE(app.ok()) << app.error().str();
    for (const DeployedLayer& dl : app->deployment.layers) {
      const dory_layer d = dl.descriptor();
      for (int32_t t = 0; t < dory_layer_tile_total(&d); ++t) {
        dory_tile_extent x;
        dory_layer_tile_extent(&d, t, &x);
        padding_only_tiles += x.h_in == 0 || x.w_in == 0;
      }
    }
    for (int cores : {1, 8})
      for (const char* delay : {"wait", "0"}) {
        AppRunOptions ro;
        ro.cores = cores;
        ro.mode = "both";
        ro.build = prebuilt();
        ro.extra_args = {"--quiet"};
        ro.env = {std::string("DORY_HOST_DMA_DELAY_US=") + delay};
        Expected<HostRunResult> r = run_application(*app, ro);
        ASSERT_TRUE(r.ok()) << r.error().str();
        EXPECT_TRUE(r->passed()) << cores << " cores, DMA delay " << delay << "\n" << r->output;
      }
  }
  if (m.big_padding) {
    EXPECT_GT(padding_only_tiles, 0) << m.name << ": no tile of padding only at any budget";
  }
}

INSTANTIATE_TEST_SUITE_P(Models, ExporterPatternDeploy, ::testing::ValuesIn(models()),
                         [](const auto& info) { return info.param.name; });

TEST(ExporterPatternModels, AreLegalOnnxForOnnxsOwnChecker) {
  if (std::system("/usr/bin/python3 -c 'import onnx' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3-onnx is not installed (scripts/install-deps.sh installs it)";
  TempDir dir("pattern-models");
  std::string paths;
  for (const PatternModel& m : models()) {
    const auto p = dir.path / (m.name + ".onnx");
    std::ofstream(p, std::ios::binary) << m.bytes;
    paths += " " + p.string();
  }
  const std::string cmd =
      "/usr/bin/python3 -c 'import onnx, sys\n"
      "for p in sys.argv[1:]:\n"
      "    onnx.checker.check_model(onnx.load(p), full_check=True)\n"
      "    print(\"checked\", p)' " + paths + " 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  EXPECT_EQ(pclose(f), 0) << out;
}

}  // namespace
}  // namespace dory
