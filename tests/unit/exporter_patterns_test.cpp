// What the usual exporters write imports as the integer network it denotes (tests/util/exporter_models.h, rules in
// docs/semantics.md "Patterns of the exporters"):
//   - onnxruntime's QDQ DequantizeLinear -> Pad -> QuantizeLinear -> DequantizeLinear -> Conv, and its QOperator
//     Pad before QLinearConv/MaxPool: the Pad is absorbed into the window (no layer, unless the Pad is requantized
//     to another scale: then a Requantize of the unpadded tensor);
//   - padding as large as the kernel (a window of padding only: requant(bias) for a conv, the mean of the padded
//     slots for a counting average pool, the pad value for a max pool after an explicit Pad);
//   - Brevitas's QCDQ: QuantizeLinear -> Clip -> DequantizeLinear, the Clip bounds becoming the tensor's range.
// Each model's reference run is compared with an independent float64 evaluation of the same ONNX graph
// (tests/util/onnx_float_eval.h): exactly, except where the float64 value lies within 1e-4 LSB of a rounding tie
// (docs/semantics.md: dory rounds half up, QuantizeLinear half to even). Integer-deployable graphs are compared
// exactly, tensor by tensor. Seeds are fixed; DORY_TEST_SEED changes the random inputs.
#include <gtest/gtest.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "../util/exporter_models.h"
#include "../util/onnx_float_eval.h"
#include "ir_test_util.h"
#include "onnx/frontend.h"

namespace dory {
namespace {

using testing::compare_with_float64;
using testing::Deviation;
using testing::FT;
using testing::OnnxBuilder;

uint64_t seed() {
  const char* env = std::getenv("DORY_TEST_SEED");
  return env ? std::strtoull(env, nullptr, 0) : uint64_t{20250612};
}

struct Imported {
  onnx::ModelProto proto;
  Graph g;
};

Imported import_model(const std::string& bytes) {
  Imported m;
  EXPECT_TRUE(m.proto.ParseFromString(bytes));
  Expected<Graph> g = import_onnx_bytes(bytes, "exporter_patterns.onnx");
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().str());
  if (g.ok()) m.g = std::move(*g);
  return m;
}

// A float input whose quantization (s, zp) covers [lo, hi] of the integers, uniformly: x = (q - zp) * s.
FT random_input(std::mt19937& rng, const std::vector<int64_t>& shape, double s, int zp, int lo, int hi) {
  FT x;
  x.shape = shape;
  std::uniform_int_distribution<int> d(lo, hi);
  for (int64_t i = 0; i < testing::numel(shape); ++i) x.v.push_back(static_cast<float>((d(rng) - zp) * s));
  return x;
}

const Layer* find_layer(const Graph& g, const std::string& name) {
  for (const Layer& l : g.layers)
    if (l.name == name) return &l;
  return nullptr;
}

// Runs `runs` random inputs through dory and the float64 evaluator; every quantized tensor compared.
Deviation compare(const Imported& m, std::vector<int64_t> shape, double s, int zp, int lo, int hi, int runs = 4) {
  std::mt19937 rng(static_cast<uint32_t>(seed()));
  Deviation dev;
  for (int r = 0; r < runs; ++r) compare_with_float64(m.proto, m.g, {random_input(rng, shape, s, zp, lo, hi)}, dev);
  std::printf("[ compared ] %s\n", testing::describe(dev).c_str());
  EXPECT_EQ(dev.differ_off_tie, 0) << testing::describe(dev);
  EXPECT_LE(dev.max_abs, 1) << testing::describe(dev);
  EXPECT_EQ(dev.below_at_exact_tie, 0) << testing::describe(dev);
  return dev;
}

// ---- onnxruntime: DequantizeLinear -> Pad -> QuantizeLinear -> DequantizeLinear -> Conv -------------------------

TEST(ExporterPatterns, OnnxruntimeQdqPadIsAbsorbedIntoTheConvThatReadsIt) {
  const Imported m = import_model(testing::ort_qdq_dscnn());
  ASSERT_FALSE(m.g.layers.empty());
  // conv1, dw, pw, gap, the Flatten view, fc: no layer for the Pads or their QuantizeLinear (equal
  // quantization: the identity)
  EXPECT_EQ(m.g.layers.size(), 6u);
  const Conv2d* c1 = find_layer(m.g, "conv1")->as<Conv2d>();
  ASSERT_NE(c1, nullptr);
  EXPECT_EQ(c1->win.pad, (Padding{4, 1, 5, 2}));
  EXPECT_EQ(c1->input_zero_point, 128);
  const Conv2d* dw = find_layer(m.g, "dw")->as<Conv2d>();
  ASSERT_NE(dw, nullptr);
  EXPECT_EQ(dw->win.pad, (Padding{1, 1, 1, 1}));
  const Deviation d = compare(m, {1, 1, 20, 10}, 0.05, 128, 0, 255);
  EXPECT_GE(d.layers, 20);  // 5 layers x 4 inputs
}

TEST(ExporterPatterns, APadRequantizedToAnotherScaleIsARequantizeOfTheUnpaddedTensor) {
  // Q(Pad(DQ(x), 0)) with another (scale, zero point) = Pad(Q(DQ(x)), Q(0)): a Requantize of x, then the padded
  // cells hold the new zero point, which the depthwise conv absorbs.
  const Imported m = import_model(testing::ort_qdq_dscnn(/*rescaled_pad=*/true));
  ASSERT_EQ(m.g.layers.size(), 7u);
  const Layer* rq = find_layer(m.g, "dw_pad_output_quantized_QuantizeLinear");
  ASSERT_NE(rq, nullptr);
  EXPECT_NE(rq->as<Requantize>(), nullptr);
  EXPECT_EQ(m.g.tensor(rq->output).name, "dw_pad_output_quantized.unpadded");
  const Conv2d* dw = find_layer(m.g, "dw")->as<Conv2d>();
  EXPECT_EQ(dw->win.pad, (Padding{1, 1, 1, 1}));
  EXPECT_EQ(dw->input_zero_point, 7);
  compare(m, {1, 1, 20, 10}, 0.05, 128, 0, 255);
}

TEST(ExporterPatterns, OnnxruntimeQOperatorPadIsAbsorbedIntoQLinearConvAndMaxPool) {
  const Imported m = import_model(testing::ort_qoperator_dscnn());
  ASSERT_FALSE(m.g.layers.empty());
  EXPECT_EQ(m.g.dialect, "qoperator");
  EXPECT_EQ(find_layer(m.g, "conv1")->as<Conv2d>()->win.pad, (Padding{4, 1, 5, 2}));
  EXPECT_EQ(find_layer(m.g, "dw")->as<Conv2d>()->win.pad, (Padding{1, 1, 1, 1}));
  EXPECT_EQ(find_layer(m.g, "dw")->as<Conv2d>()->input_zero_point, 3);
  const MaxPool* mp = find_layer(m.g, "pool")->as<MaxPool>();
  ASSERT_NE(mp, nullptr);
  EXPECT_EQ(mp->win.pad, (Padding{0, 0, 1, 1}));
  EXPECT_EQ(mp->pad_value, std::optional<int32_t>(0));  // the Pad's constant, not the zero point 10
  compare(m, {1, 1, 20, 10}, 0.05, 128, 0, 255);
}

// ---- padding as large as the kernel ----------------------------------------------------------------------------

TEST(ExporterPatterns, QdqConvolutionsAndAPoolWithPaddingAsLargeAsTheKernelMatchFloat64) {
  const Imported m = import_model(testing::torch_big_padding_qdq());
  ASSERT_EQ(m.g.layers.size(), 4u);
  EXPECT_EQ(find_layer(m.g, "c1")->as<Conv2d>()->win.pad, (Padding{1, 1, 1, 1}));
  EXPECT_EQ(find_layer(m.g, "c2")->as<Conv2d>()->win.pad, (Padding{3, 0, 0, 2}));
  const AveragePool* ap = find_layer(m.g, "pool")->as<AveragePool>();
  ASSERT_NE(ap, nullptr);
  EXPECT_TRUE(ap->count_include_pad);
  EXPECT_TRUE(has_padding_only_window(ap->win, 7, 7));
  compare(m, {1, 3, 6, 6}, 0.04, 120, 0, 255);
}

TEST(ExporterPatterns, IntegerDeployableLayersWithPaddingAsLargeAsTheKernelMatchFloat64Exactly) {
  const Imported m = import_model(testing::big_padding_integer());
  ASSERT_EQ(m.g.layers.size(), 4u);  // c1 (+ requant), pool (Pad absorbed), c2 (+ requant), avg (+ Floor)
  const MaxPool* mp = find_layer(m.g, "pool")->as<MaxPool>();
  ASSERT_NE(mp, nullptr);
  EXPECT_EQ(mp->pad_value, std::optional<int32_t>(0));
  EXPECT_TRUE(has_padding_only_window(mp->win, 6, 7));
  std::mt19937 rng(static_cast<uint32_t>(seed()));
  int64_t compared = 0;
  for (int r = 0; r < 4; ++r) {
    FT x;
    x.shape = {1, 2, 5, 5};
    std::uniform_int_distribution<int> d(0, 255);
    for (int i = 0; i < 50; ++i) x.v.push_back(d(rng));
    Deviation dev;
    const testing::Comparison c = compare_with_float64(m.proto, m.g, {x}, dev);
    ASSERT_EQ(c.dory.size(), m.g.tensors.size());
    for (size_t t = 0; t < m.g.tensors.size(); ++t) {  // every IR tensor named after an ONNX value: equal
      auto it = c.f64.find(m.g.tensors[t].name);
      if (it == c.f64.end() || c.dory[t].empty()) continue;
      ASSERT_EQ(it->second.v.size(), c.dory[t].size()) << m.g.tensors[t].name;
      for (size_t i = 0; i < c.dory[t].size(); ++i)
        ASSERT_EQ(c.dory[t][i], it->second.v[i]) << m.g.tensors[t].name << " element " << i;
      compared += static_cast<int64_t>(c.dory[t].size());
    }
  }
  EXPECT_GE(compared, 4 * (4 * 6 * 6 + 3 * 5 * 5));  // at least the output and the max pool
}

TEST(ExporterPatterns, QLinearConvsWithPaddingAsLargeAsTheKernelMatchFloat64) {
  // QuantizeLinear -> QLinearConv 3x1 pads (top 3, right 2) -> QLinearConv 1x1 pads 1 -> DequantizeLinear.
  using TP = onnx::TensorProto;
  testing::OnnxBuilder b(13);
  b.proto().mutable_graph()->set_name("qlinearconv_big_padding");
  testing::ModelRng rng(21);
  b.input("input", {1, 2, 5, 5}).output("output", {1, 3, 8, 9});
  b.init("xs", {}, {0.05f}).init_int("xz", {}, {100}, TP::UINT8);
  b.node("QuantizeLinear", {"input", "xs", "xz"}, {"xq"}, "q_input");
  b.init_int("w1", {4, 2, 3, 1}, rng.ints(24, -127, 127), TP::INT8).init("w1s", {4}, rng.scales(4, 0.005, 0.03));
  b.init_int("w1z", {4}, {0, 0, 0, 0}, TP::INT8).init_int("b1", {4}, rng.ints(4, -3000, 3000), TP::INT32);
  b.init("y1s", {}, {0.08f}).init_int("y1z", {}, {90}, TP::UINT8);
  OnnxBuilder::attr(b.node("QLinearConv", {"xq", "xs", "xz", "w1", "w1s", "w1z", "y1s", "y1z", "b1"}, {"c1"}, "c1"),
                    "pads", {3, 0, 0, 2});
  b.init_int("w2", {3, 4, 1, 1}, rng.ints(12, -127, 127), TP::INT8).init("w2s", {}, {0.01f});
  b.init_int("w2z", {}, {0}, TP::INT8).init_int("b2", {3}, rng.ints(3, -3000, 3000), TP::INT32);
  b.init("y2s", {}, {0.06f}).init_int("y2z", {}, {128}, TP::UINT8);
  OnnxBuilder::attr(b.node("QLinearConv", {"c1", "y1s", "y1z", "w2", "w2s", "w2z", "y2s", "y2z", "b2"}, {"c2"}, "c2"),
                    "pads", {1, 1, 1, 1});
  b.node("DequantizeLinear", {"c2", "y2s", "y2z"}, {"output"}, "dq_output");
  const Imported m = import_model(b.bytes());
  ASSERT_EQ(m.g.layers.size(), 2u);
  EXPECT_EQ(m.g.layers[0].as<Conv2d>()->win.pad, (Padding{3, 0, 0, 2}));
  EXPECT_EQ(m.g.tensor(m.g.outputs[0]).shape, (std::vector<int64_t>{1, 3, 8, 9}));  // 5+3-3+1 = 6 rows, then 8
  compare(m, {1, 2, 5, 5}, 0.05, 100, 0, 255);
}

// ---- Brevitas QCDQ ---------------------------------------------------------------------------------------------

TEST(ExporterPatterns, BrevitasQcdqClipsBecomeTheTensorsValueRanges) {
  const Imported m = import_model(testing::brevitas_qcdq());
  ASSERT_FALSE(m.g.layers.empty());
  // The input's Clip(-8, 7): an identity Requantize with that clamp (nothing computes the graph input).
  const Layer* in_clip = find_layer(m.g, "input_Clip");
  ASSERT_NE(in_clip, nullptr);
  ASSERT_NE(in_clip->as<Requantize>(), nullptr);
  EXPECT_EQ(m.g.tensor(in_clip->output).range, (ValueRange{-8, 7}));
  // The activations' Clips join the requantization of the conv that computes them.
  const Layer* c1 = find_layer(m.g, "conv1");
  ASSERT_NE(c1, nullptr);
  EXPECT_EQ(m.g.tensor(c1->output).name, "act1_clipped");
  EXPECT_EQ(m.g.tensor(c1->output).dtype, DType::UInt8);
  EXPECT_EQ(m.g.tensor(c1->output).range, (ValueRange{0, 15}));
  const Layer* c2 = find_layer(m.g, "conv2");
  EXPECT_EQ(m.g.tensor(c2->output).range, (ValueRange{-8, 7}));
  EXPECT_EQ(m.g.layers.size(), 5u);  // input clip, conv1, conv2, the Flatten view, fc
  // The narrow-range weights: no -128 survives the Clip, and the 4-bit ones are within [-7, 7].
  for (int32_t w : c1->as<Conv2d>()->weights) EXPECT_GE(w, -127);
  for (int32_t w : c2->as<Conv2d>()->weights) EXPECT_TRUE(w >= -7 && w <= 7) << w;
  compare(m, {1, 2, 6, 6}, 0.25, 0, -12, 11);  // inputs beyond the 4-bit range: the input Clip matters
}

TEST(ExporterPatterns, AClipOfATensorOthersReadTooIsALayerOfItsOwn) {
  // conv -> Q "a" -> DQ, read by a second conv directly and through Q(DQ(a)) with a's quantization (an alias of a)
  // -> Clip(-8, 7) -> DQ -> a third conv: the clamp must not reach the second conv's input.
  using TP = onnx::TensorProto;
  testing::OnnxBuilder b(13);
  b.proto().mutable_graph()->set_name("clip_of_alias");
  testing::ModelRng rng(22);
  testing::QdqBuilder q(b, rng);
  b.input("input", {1, 2, 4, 4});
  std::string x = q.q_dq("input", "input_quantized", 0.1f, 0, TP::INT8);
  auto conv = [&](const std::string& in, const std::string& name, float s_in) {
    const std::vector<float> sw = rng.scales(2, 0.01, 0.05);
    const std::string w = q.weights(name + "_weight", {2, 2, 1, 1}, sw), bias = q.bias(name + "_bias", 2, s_in, sw, 100);
    b.node("Conv", {in, w, bias}, {name + "_output"}, name);
    return name + "_output";
  };
  const std::string a = q.q_dq(conv(x, "c1", 0.1f), "a", 0.05f, 0, TP::INT8);
  q.quantize(conv(a, "c2", 0.05f), "output2", 0.1f, 0, TP::INT8);
  q.quantize(a, "a_again", 0.05f, 0, TP::INT8);  // Q(DQ(a)), same quantization: a itself
  b.init_int("lo", {}, {-8}, TP::INT8).init_int("hi", {}, {7}, TP::INT8);
  b.node("Clip", {"a_again", "lo", "hi"}, {"a4"}, "clip4");
  b.node("DequantizeLinear", {"a4", "a_again_scale", "a_again_zero_point"}, {"a4_dq"}, "a4_dq_node");
  q.quantize(conv("a4_dq", "c3", 0.05f), "output3", 0.1f, 0, TP::INT8);
  b.output("output2", {1, 2, 4, 4}, TP::INT8).output("output3", {1, 2, 4, 4}, TP::INT8);
  const Imported m = import_model(b.bytes());
  const Layer* clip = find_layer(m.g, "clip4");
  ASSERT_NE(clip, nullptr);
  EXPECT_NE(clip->as<Requantize>(), nullptr);
  EXPECT_EQ(m.g.tensor(find_layer(m.g, "c1")->output).range, (ValueRange{-128, 127}));  // c1 itself unclamped
  compare(m, {1, 2, 4, 4}, 0.1, 0, -128, 127);
}

}  // namespace
}  // namespace dory
