// testnets: every synthetic network imports through the real integer-deployable frontend, has the layer
// structure and size it claims, runs through the reference executor with plausible (mostly unsaturated)
// activations, and is the same byte for byte for the same seed. Small resolutions keep the mobilenets fast.
#include "testnets/testnets.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "onnx/frontend.h"
#include "reference/executor.h"
#include "testnets/net_builder.h"

namespace dory {
namespace {

Graph import(const std::string& bytes, const std::string& name) {
  Expected<Graph> g = import_onnx_bytes(bytes, name);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().str());
  return g.ok() ? std::move(*g) : Graph{};
}

int count(const Graph& g, const std::string& kind) {
  return static_cast<int>(
      std::count_if(g.layers.begin(), g.layers.end(), [&](const Layer& l) { return layer_kind_name(g, l) == kind; }));
}

// Runs the reference on a deterministic pseudo-random uint8 image; returns the values of every layer output.
ReferenceResult run(const Graph& g) {
  testnets::Rng rng(7);
  const Tensor& in = g.tensor(g.inputs.at(0));
  std::vector<int32_t> x(static_cast<size_t>(in.elements()));
  for (int32_t& v : x) v = static_cast<int32_t>(rng.uniform(0, 255));
  Expected<ReferenceResult> r = run_reference(g, {x});
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().str());
  return r.ok() ? std::move(*r) : ReferenceResult{};
}

// The fraction of the requantized uint8 outputs of a layer that are neither 0 nor 255.
double unsaturated(const Graph& g, const ReferenceResult& r, const Layer& l) {
  const std::vector<int32_t>& v = r.values.at(static_cast<size_t>(l.output));
  const auto inside = std::count_if(v.begin(), v.end(), [](int32_t x) { return x > 0 && x < 255; });
  return static_cast<double>(inside) / static_cast<double>(v.size());
}

void expect_plausible_activations(const Graph& g, const ReferenceResult& r) {
  for (const Layer& l : g.layers) {
    const std::string kind = layer_kind_name(g, l);
    if (kind != "conv" && kind != "pointwise" && kind != "depthwise" && kind != "add") continue;
    EXPECT_GT(unsaturated(g, r, l), 0.5) << "layer " << l.name << " (" << kind << ") is mostly saturated";
  }
}

TEST(TestNets, MobileNetV1HasThirteenSeparableBlocksAndRunsAtASmallResolution) {
  const Graph g = import(make_mobilenet_v1_onnx({.width = 0.25, .resolution = 64, .classes = 10}), "mnv1");
  ASSERT_FALSE(g.layers.empty());
  EXPECT_EQ(count(g, "depthwise"), 13);
  EXPECT_EQ(count(g, "pointwise"), 13);
  EXPECT_EQ(count(g, "conv"), 1);
  EXPECT_EQ(count(g, "fc"), 1);
  EXPECT_EQ(g.tensor(g.outputs.at(0)).shape, (std::vector<int64_t>{1, 10}));
  // The last pointwise layer has floor(1024 * 0.25) = 256 channels on a 64/32 = 2x2 map.
  const Layer& last_pw = *std::find_if(g.layers.rbegin(), g.layers.rend(),
                                       [&](const Layer& l) { return layer_kind_name(g, l) == "pointwise"; });
  EXPECT_EQ(g.tensor(last_pw.output).shape, (std::vector<int64_t>{1, 256, 2, 2}));
  const ReferenceResult r = run(g);
  expect_plausible_activations(g, r);
}

TEST(TestNets, MobileNetV1OneZeroTwoTwoFourHasThePublishedMacCount) {
  // Counted on the graph only (no run): 568.7 M MACs, as in Howard et al. (569 M).
  const Graph g = import(make_mobilenet_v1_onnx(), "mnv1");
  int64_t macs = 0;
  for (const Layer& l : g.layers) macs += layer_macs(g, l);
  EXPECT_EQ(macs, 568740352);
}

TEST(TestNets, MobileNetV2HasTenResidualAddsAndRunsAtASmallResolution) {
  const Graph g = import(make_mobilenet_v2_onnx({.width = 0.35, .resolution = 64, .classes = 10}), "mnv2");
  ASSERT_FALSE(g.layers.empty());
  EXPECT_EQ(count(g, "add"), 10);  // the stride-1 blocks whose channels match: 1 + 2 + 3 + 2 + 2
  EXPECT_EQ(count(g, "depthwise"), 17);
  const ReferenceResult r = run(g);
  expect_plausible_activations(g, r);
}

TEST(TestNets, MobileNetV2OneZeroTwoTwoFourHasThePublishedMacCount) {
  const Graph g = import(make_mobilenet_v2_onnx(), "mnv2");
  int64_t macs = 0;
  for (const Layer& l : g.layers) macs += layer_macs(g, l);
  EXPECT_NEAR(static_cast<double>(macs), 300e6, 3e6);  // Sandler et al.: 300 M multiply-adds
}

TEST(TestNets, ResNet8HasThreeResidualAddsAndTwoShortcutConvs) {
  const Graph g = import(make_resnet8_onnx(), "resnet8");
  EXPECT_EQ(count(g, "add"), 3);
  EXPECT_EQ(count(g, "pointwise"), 2);  // the 1x1/2 shortcuts
  EXPECT_EQ(count(g, "conv"), 7);
  const ReferenceResult r = run(g);
  expect_plausible_activations(g, r);
}

TEST(TestNets, TheCifarCnnHas142KibOfInt8Weights) {
  const std::string bytes = make_cifar10_cnn_onnx();
  const Graph g = import(bytes, "cifar");
  int64_t weights = 0;
  for (const Layer& l : g.layers) {
    if (const auto* c = l.as<Conv2d>()) weights += static_cast<int64_t>(c->weights.size());
    if (const auto* f = l.as<FullyConnected>()) weights += static_cast<int64_t>(f->weights.size());
  }
  EXPECT_EQ(weights, 145648);  // 142.2 KiB
  EXPECT_EQ(count(g, "maxpool"), 3);
  const ReferenceResult r = run(g);
  expect_plausible_activations(g, r);
}

TEST(TestNets, TheSameSeedGivesTheSameBytesAndAnotherSeedOtherWeights) {
  EXPECT_EQ(make_resnet8_onnx({.seed = 3}), make_resnet8_onnx({.seed = 3}));
  EXPECT_NE(make_resnet8_onnx({.seed = 3}), make_resnet8_onnx({.seed = 4}));
}

TEST(TestNets, NamesSelectNetworksAndBadNamesAreDiagnosed) {
  auto small = make_test_network("mobilenet_v1_0.25_128");
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(*small, make_mobilenet_v1_onnx({.width = 0.25, .resolution = 128}));
  for (const char* bad : {"mobilenet_v3", "mobilenet_v1_zero", "mobilenet_v1_1.0_8", "resnet"}) {
    auto r = make_test_network(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, "netgen-unknown-network");
    EXPECT_NE(r.error().hint.find("cifar10_cnn"), std::string::npos) << r.error().str();
  }
  for (const TestNetworkInfo& n : test_network_list()) EXPECT_TRUE(make_test_network(n.name).ok()) << n.name;
}

}  // namespace
}  // namespace dory
