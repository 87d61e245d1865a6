// single_layer_graph (ir/subgraph.h): every layer of the synthetic networks, run alone by the reference executor on
// the values the whole network gave its inputs, computes exactly what it computed inside the network; the
// extracted graph keeps the whole graph's proven ranges and requantization widths; bad indices and Views fail.
#include "ir/subgraph.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>

#include "ir/layout.h"
#include "onnx/frontend.h"
#include "reference/executor.h"
#include "reference/tensor_io.h"
#include "testnets/testnets.h"

namespace dory {
namespace {

Graph import(const std::string& name) {
  Expected<std::string> bytes = make_test_network(name, 3);
  EXPECT_TRUE(bytes.ok()) << (bytes.ok() ? "" : bytes.error().str());
  if (!bytes.ok()) return {};
  Expected<Graph> g = import_onnx_bytes(*bytes, name);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().str());
  return g.ok() ? std::move(*g) : Graph{};
}

class SingleLayer : public ::testing::TestWithParam<const char*> {};

TEST_P(SingleLayer, EveryLayerAloneComputesWhatItComputedInTheNetwork) {
  const Graph g = import(GetParam());
  ASSERT_FALSE(g.layers.empty());
  Expected<ReferenceResult> whole = run_reference(g, random_graph_inputs(g, 11));
  ASSERT_TRUE(whole.ok()) << whole.error().str();
  int extracted = 0;
  for (size_t i = 0; i < g.layers.size(); ++i) {
    const Layer& l = g.layers[i];
    Expected<Graph> one = single_layer_graph(g, static_cast<int>(i));
    if (l.as<View>()) {
      ASSERT_FALSE(one.ok());
      EXPECT_EQ(one.error().code, "ir-view-alone");
      EXPECT_NE(one.error().str().find("layer '" + l.name + "'"), std::string::npos) << one.error().str();
      EXPECT_NE(one.error().str().find("is a View"), std::string::npos) << one.error().str();
      continue;
    }
    ASSERT_TRUE(one.ok()) << l.name << ": " << one.error().str();
    ASSERT_EQ(one->layers.size(), 1u);
    const std::set<TensorId> distinct(l.inputs.begin(), l.inputs.end());
    ASSERT_EQ(one->inputs.size(), distinct.size()) << l.name;
    // the inputs in ONNX order, from the whole network's values (storage order)
    std::vector<std::vector<int32_t>> inputs;
    for (TensorId t : one->inputs) {
      const Tensor& x = one->tensor(t);
      const auto src = std::find_if(l.inputs.begin(), l.inputs.end(),
                                    [&](TensorId s) { return g.tensor(s).name == x.name; });
      ASSERT_NE(src, l.inputs.end());
      inputs.push_back(to_onnx_order(x, whole->values.at(static_cast<size_t>(*src))));
      EXPECT_EQ(x.range.lo, g.tensor(*src).range.lo) << l.name;
      EXPECT_EQ(x.range.hi, g.tensor(*src).range.hi) << l.name;
    }
    Expected<ReferenceResult> alone = run_reference(*one, inputs);
    ASSERT_TRUE(alone.ok()) << l.name << ": " << alone.error().str();
    const TensorId y = one->outputs.at(0);
    EXPECT_EQ(one->layers[0].output, y);
    EXPECT_EQ(alone->values.at(static_cast<size_t>(y)), whole->values.at(static_cast<size_t>(l.output))) << l.name;
    ++extracted;
  }
  EXPECT_GT(extracted, 5);
}

INSTANTIATE_TEST_SUITE_P(Networks, SingleLayer,
                         ::testing::Values("resnet8", "mobilenet_v2_0.35_96", "mobilenet_v1_0.25_128", "cifar10_cnn"));

TEST(SingleLayer, RefusesBadIndices) {
  const Graph g = import("cifar10_cnn");
  for (int bad : {-1, static_cast<int>(g.layers.size())}) {
    Expected<Graph> one = single_layer_graph(g, bad);
    ASSERT_FALSE(one.ok());
    EXPECT_EQ(one.error().code, "ir-bad-layer-index");
    EXPECT_NE(one.error().str().find(fmt::format("layer index {}", bad)), std::string::npos) << one.error().str();
    EXPECT_NE(one.error().str().find(fmt::format("the graph has {} layers", g.layers.size())), std::string::npos)
        << one.error().str();
  }
}

}  // namespace
}  // namespace dory
