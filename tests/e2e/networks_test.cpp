// Whole networks, bit-exact against goldens that were computed independently of dory:
//   - the Fashion-MNIST example (models/fmnist): every layer output of 4 test images, as computed by the
//     training script's own int64 evaluation (and cross-checked there against a float64 interpreter);
//   - every network in DORY's examples (../shared/dory-examples): every golden layer of DORY's own flow.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "onnx/frontend.h"
#include "reference/dory_golden.h"
#include "reference/executor.h"
#include "reference/tensor_io.h"
#include "util/npy.h"

namespace fs = std::filesystem;

namespace dory {
namespace {

const fs::path kModels = fs::path(DORY_SOURCE_DIR) / "models";

TEST(FashionMnistExample, EveryLayerOfEveryGoldenImageMatchesTheScriptsInt64Evaluation) {
  Expected<Graph> g = import_onnx((kModels / "fmnist/fmnist_int.onnx").string());
  ASSERT_TRUE(g.ok()) << g.error().str();
  std::ifstream mf(kModels / "fmnist/golden/manifest.json");
  const nlohmann::json manifest = nlohmann::json::parse(mf);
  ASSERT_EQ(manifest.at("images").size(), 4u);
  int compared = 0;
  for (const auto& image : manifest.at("images")) {
    const fs::path dir = kModels / "fmnist/golden" / image.at("dir").get<std::string>();
    Expected<std::vector<int32_t>> input = load_graph_input(*g, 0, (dir / "input.npy").string());
    ASSERT_TRUE(input.ok()) << input.error().str();
    Expected<ReferenceResult> r = run_reference(*g, {*input});
    ASSERT_TRUE(r.ok()) << r.error().str();
    for (const auto& layer : image.at("layers")) {
      const std::string name = layer.at("name");
      Expected<NpyArray> golden = read_npy((dir / (name + ".npy")).string());
      ASSERT_TRUE(golden.ok()) << golden.error().str();
      TensorId id = -1;
      for (size_t t = 0; t < g->tensors.size(); ++t)
        if (g->tensors[t].name == name) id = static_cast<TensorId>(t);
      ASSERT_GE(id, 0) << "no IR tensor is named after the ONNX tensor '" << name << "'";
      const Tensor& t = g->tensor(id);
      EXPECT_EQ(t.shape, golden->shape) << name;
      EXPECT_EQ(std::string(dtype_name(t.dtype)), std::string(npy_dtype_name(golden->dtype))) << name;
      const std::vector<int32_t> ours = tensor_onnx_values(*g, *r, id);
      ASSERT_EQ(ours.size(), golden->int_values.size()) << name;
      size_t mismatches = 0;
      for (size_t k = 0; k < ours.size(); ++k) mismatches += ours[k] != golden->int_values[k];
      EXPECT_EQ(mismatches, 0u) << "layer " << name << " of " << dir;
      ++compared;
    }
    // The argmax of the logits is the script's prediction.
    const std::vector<int32_t> logits = tensor_onnx_values(*g, *r, g->outputs.at(0));
    const auto best = std::max_element(logits.begin(), logits.end()) - logits.begin();
    EXPECT_EQ(best, image.at("predicted").get<int64_t>());
  }
  EXPECT_EQ(compared, 40);
}

TEST(FashionMnistExample, TheQdqExportImportsAndAgreesWithTheIntegerExportOnThePrediction) {
  Expected<Graph> gi = import_onnx((kModels / "fmnist/fmnist_int.onnx").string());
  Expected<Graph> gq = import_onnx((kModels / "fmnist/fmnist_qdq.onnx").string());
  ASSERT_TRUE(gi.ok()) << gi.error().str();
  ASSERT_TRUE(gq.ok()) << gq.error().str();
  EXPECT_EQ(gq->dialect, "qdq");
  for (int i = 0; i < 4; ++i) {
    const fs::path input = kModels / "fmnist/golden" / ("img" + std::to_string(i)) / "input.npy";
    Expected<std::vector<int32_t>> xi = load_graph_input(*gi, 0, input.string());
    Expected<std::vector<int32_t>> xq = load_graph_input(*gq, 0, input.string());
    ASSERT_TRUE(xi.ok() && xq.ok());
    Expected<ReferenceResult> ri = run_reference(*gi, {*xi});
    Expected<ReferenceResult> rq = run_reference(*gq, {*xq});
    ASSERT_TRUE(ri.ok() && rq.ok());
    auto argmax = [](const std::vector<int32_t>& v) { return std::max_element(v.begin(), v.end()) - v.begin(); };
    EXPECT_EQ(argmax(tensor_onnx_values(*gi, *ri, gi->outputs[0])),
              argmax(tensor_onnx_values(*gq, *rq, gq->outputs[0])))
        << "image " << i;
  }
}

std::vector<fs::path> dory_example_dirs() {
  std::vector<fs::path> dirs;
  const fs::path root = DORY_EXAMPLES_DIR;
  if (!fs::exists(root)) return dirs;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && e.path().filename() == "input.txt") dirs.push_back(e.path().parent_path());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}

TEST(DoryExamples, EveryNetworkImportsAndMatchesEveryGoldenLayerOfDorysFlow) {
  const std::vector<fs::path> dirs = dory_example_dirs();
  if (dirs.empty()) GTEST_SKIP() << "DORY's examples are not at " << DORY_EXAMPLES_DIR;
  EXPECT_EQ(dirs.size(), 11u) << "the README of dory-examples lists 10 NEMO networks and QuantLab's Dronet";
  int golden_layers = 0;
  for (const fs::path& dir : dirs) {
    fs::path model;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().extension() == ".onnx") model = e.path();
    SCOPED_TRACE(dir.string());
    Expected<Graph> g = import_onnx(model.string());
    ASSERT_TRUE(g.ok()) << g.error().str();
    Expected<DoryGoldenReport> report = run_dory_golden_check(*g, dir.string());
    ASSERT_TRUE(report.ok()) << report.error().str();
    EXPECT_TRUE(report->ok()) << render_dory_golden_report(*report);
    for (const GoldenFileResult& f : report->files) golden_layers += f.status == GoldenStatus::Match;
  }
  // 139 layer files and QuantLab Dronet's output.txt (dory-examples/README.md).
  EXPECT_GE(golden_layers, 139);
}

}  // namespace
}  // namespace dory
