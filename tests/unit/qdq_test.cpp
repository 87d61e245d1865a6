// Claims of the QDQ importer (src/onnx/qdq.cpp, rule in docs/semantics.md "QDQ"):
//   - every layer it builds agrees with an independent float64 evaluation of the QDQ graph to within 1 LSB, and
//     exactly except where the float64 value before rounding is (within 1e-4 LSB of) a tie k + 1/2;
//   - at exact ties the difference is the documented one: dory rounds half up, QuantizeLinear half to even;
//   - torch-style (Constant/Cast/ConstantOfShape, zero Pad before AveragePool) and onnxruntime-style
//     (initializers, per-channel weights, zero points, MatMul + Add) graphs import; the real torch export
//     models/fmnist/fmnist_qdq.onnx imports and classifies its golden images;
//   - every unsupported construct gets its own diagnostic naming the node and op type, with a hint.
// The float64 evaluator below reads the ONNX protobuf directly (not dory's loader). Each layer is compared on the
// same inputs ("teacher forcing": after comparing a QuantizeLinear output, the evaluator continues with dory's
// values), so a difference at a tie is counted once, where it happens, and does not propagate.
// Random cases come from a seeded std::mt19937; the seed is printed and replayable with DORY_TEST_SEED.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iomanip>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../util/onnx_float_eval.h"
#include "ir/edge.h"
#include "ir_test_util.h"
#include "onnx/frontend.h"
#include "util/npy.h"

namespace {

using namespace dory;
using namespace dory::testing;

uint64_t test_seed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("DORY_TEST_SEED");
    return env ? std::strtoull(env, nullptr, 0) : uint64_t{20241121};
  }();
  return seed;
}

void announce_seed(const char* test) {
  std::printf("[   SEED   ] %s: %" PRIu64 " (replay with DORY_TEST_SEED=%" PRIu64 ")\n", test, test_seed(),
              test_seed());
}

// ---- building ONNX models with the protobuf API --------------------------------------------------------------


onnx::TensorProto make_tensor_proto(const std::string& name, int32_t elem, const std::vector<int64_t>& shape,
                                    const std::vector<double>& values) {
  onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(elem);
  for (int64_t d : shape) t.add_dims(d);
  for (double v : values) {
    if (elem == F32) t.add_float_data(static_cast<float>(v));
    else if (elem == I64) t.add_int64_data(static_cast<int64_t>(v));
    else t.add_int32_data(static_cast<int32_t>(v));
  }
  return t;
}

struct OnnxBuilder {
  onnx::ModelProto model;
  onnx::GraphProto* g;
  int count = 0;

  explicit OnnxBuilder(int opset = 13) {
    model.set_ir_version(7);
    model.set_producer_name("dory-qdq-test");
    auto* op = model.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    g = model.mutable_graph();
    g->set_name("qdq_test");
  }
  void value_info(onnx::ValueInfoProto* vi, const std::string& name, int32_t elem, const std::vector<int64_t>& shape) {
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    for (int64_t d : shape) tt->mutable_shape()->add_dim()->set_dim_value(d);
  }
  void input(const std::string& name, const std::vector<int64_t>& shape, int32_t elem = F32) {
    value_info(g->add_input(), name, elem, shape);
  }
  void output(const std::string& name, int32_t elem = F32) { value_info(g->add_output(), name, elem, {}); }
  // An initializer (onnxruntime style).
  std::string init(const std::string& name, int32_t elem, const std::vector<int64_t>& shape,
                   const std::vector<double>& v) {
    *g->add_initializer() = make_tensor_proto(name, elem, shape, v);
    return name;
  }
  // A Constant node (torch style).
  std::string constant(const std::string& name, int32_t elem, const std::vector<int64_t>& shape,
                       const std::vector<double>& v) {
    onnx::NodeProto* n = node("Constant", {}, {name}, name + "_node");
    auto* a = n->add_attribute();
    a->set_name("value");
    a->set_type(onnx::AttributeProto::TENSOR);
    *a->mutable_t() = make_tensor_proto(name, elem, shape, v);
    return name;
  }
  onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& in,
                        const std::vector<std::string>& out, const std::string& name = "") {
    onnx::NodeProto* n = g->add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? op + "_" + std::to_string(count++) : name);
    for (const auto& s : in) n->add_input(s);
    for (const auto& s : out) n->add_output(s);
    return n;
  }
  std::string bytes() const {
    std::string s;
    model.SerializeToString(&s);
    return s;
  }
};

void attr(onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(v);
}
void attr(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}

// The (m, S) rule of docs/semantics.md (onnx/real_multiplier.h), recomputed by brute force in long double
// (M * 2^S + 1/2 is exact with a 64-bit mantissa): S* = the largest S in [1, 61] with every
// B[c] * round_half_up(M[c] * 2^S) + 2^(S-1) * K <= 2^63 - 1 (and 2^S * K < 2^63), B[c] the accumulator bound
// (one multiplier: the largest B), K = 1, or the window of an AveragePool; the importer's (m, 2^S) must be those
// integers with the common factors of two stripped.
::testing::AssertionResult follows_the_rule(const std::vector<double>& M, std::vector<int64_t> B,
                                            const std::vector<int64_t>& m, uint64_t divisor, int64_t K = 1) {
  static_assert(std::numeric_limits<long double>::digits >= 64, "needs an exact M * 2^S + 1/2");
  using i128 = __int128;
  const i128 i64max = std::numeric_limits<int64_t>::max();
  if (m.size() != M.size()) return ::testing::AssertionFailure() << m.size() << " multipliers for " << M.size();
  if (M.size() == 1) B = {*std::max_element(B.begin(), B.end())};
  int S = 0;
  while (S < 62 && (uint64_t{1} << S) != divisor) ++S;
  if (S < 1 || S > 61) return ::testing::AssertionFailure() << "divisor " << divisor << " is not 2^S, 1 <= S <= 61";
  auto round_at = [&](size_t c, int s) -> i128 {
    const long double x = std::ldexp(static_cast<long double>(M[c]), s);
    return x >= 0x1p63L ? i64max + 1 : static_cast<i128>(std::floor(x + 0.5L));
  };
  auto fits = [&](int s) {
    if ((i128{1} << s) * K > i64max) return false;
    for (size_t c = 0; c < M.size(); ++c)
      if (B[c] != 0 && B[c] * round_at(c, s) + (i128{1} << (s - 1)) * K > i64max) return false;
    return true;
  };
  int best = 61;
  while (best >= 1 && !fits(best)) --best;
  if (best < S) return ::testing::AssertionFailure() << "shift " << S << " above the largest that fits, " << best;
  for (size_t c = 0; c < M.size(); ++c) {
    const i128 want = B[c] == 0 ? 0 : round_at(c, best);
    if ((static_cast<i128>(m[c]) << (best - S)) != want)
      return ::testing::AssertionFailure() << "m[" << c << "] = " << m[c] << " / 2^" << S << " is not round(M * 2^"
                                           << best << ") = " << static_cast<int64_t>(want) << " scaled down";
  }
  if (S > 1 && std::all_of(m.begin(), m.end(), [](int64_t x) { return x % 2 == 0; }))
    return ::testing::AssertionFailure() << "a common factor of two is left at shift " << S;
  return ::testing::AssertionSuccess();
}

// |bias[c]| + sum_k |w[c][k]| * max|x - zp| over x's type: the accumulator bound the rule uses.
std::vector<int64_t> acc_bounds(const std::vector<int32_t>& w, const std::vector<int32_t>& bias, int64_t vmax) {
  std::vector<int64_t> out;
  const size_t per = w.size() / bias.size();
  for (size_t c = 0; c < bias.size(); ++c) {
    int64_t b = std::abs(static_cast<int64_t>(bias[c]));
    for (size_t k = 0; k < per; ++k) b += std::abs(static_cast<int64_t>(w[c * per + k])) * vmax;
    out.push_back(std::min<int64_t>(b, std::numeric_limits<int32_t>::max()));
  }
  return out;
}

Graph import_ok(const OnnxBuilder& b) {
  auto g = import_onnx_bytes(b.bytes(), "qdq_test.onnx");
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().str());
  return g.ok() ? std::move(g).value() : Graph{};
}

const Tensor* find_tensor(const Graph& g, const std::string& name) {
  for (const Tensor& t : g.tensors)
    if (t.name == name) return &t;
  return nullptr;
}

template <class T>
const T* find_layer(const Graph& g) {
  for (const Layer& l : g.layers)
    if (const T* op = l.as<T>()) return op;
  return nullptr;
}

// Uniformly random quantized input, as the float the ONNX graph receives: x = (q - zp) * s.
FT random_input(std::mt19937& rng, const std::vector<int64_t>& shape, double s, int zp, int lo, int hi) {
  FT x;
  x.shape = shape;
  std::uniform_int_distribution<int> d(lo, hi);
  for (int64_t i = 0; i < numel(shape); ++i) x.v.push_back(static_cast<float>((d(rng) - zp) * s));
  return x;
}

std::vector<double> random_ints(std::mt19937& rng, int64_t n, int lo, int hi) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<double> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(d(rng));
  return v;
}
std::vector<double> random_scales(std::mt19937& rng, int64_t n, double lo, double hi) {
  std::uniform_real_distribution<double> d(std::log(lo), std::log(hi));
  std::vector<double> v;
  for (int64_t i = 0; i < n; ++i) v.push_back(static_cast<float>(std::exp(d(rng))));
  return v;
}
// float32(s_x * s_w[c]): the bias scale torch and onnxruntime write.
std::vector<double> bias_scales(double s_x, const std::vector<double>& s_w) {
  std::vector<double> v;
  for (double s : s_w) v.push_back(static_cast<float>(s_x * s));
  return v;
}

// Q then DQ with initializers: returns the DQ output.
std::string qdq(OnnxBuilder& b, const std::string& x, const std::string& q_out, double s, int zp, int32_t elem) {
  const std::string sn = b.init(q_out + ".scale", F32, {}, {s});
  const std::string zn = b.init(q_out + ".zp", elem, {}, {static_cast<double>(zp)});
  b.node("QuantizeLinear", {x, sn, zn}, {q_out}, q_out + "_Q");
  b.node("DequantizeLinear", {q_out, sn, zn}, {q_out + ".dq"}, q_out + "_DQ");
  return q_out + ".dq";
}

// DQ'd int8 weights (per channel along axis 0 when s_w has several values) and DQ'd int32 bias (initializers).
struct DqWeights {
  std::string w, b;
};
DqWeights conv_params(OnnxBuilder& b, const std::string& name, std::mt19937& rng, const std::vector<int64_t>& wshape,
                      double s_x, const std::vector<double>& s_w, int bias_range) {
  const int64_t O = wshape[0];
  b.init(name + ".w", I8, wshape, random_ints(rng, numel(wshape), -127, 127));
  b.init(name + ".w.scale", F32, {static_cast<int64_t>(s_w.size())}, s_w);
  b.init(name + ".w.zp", I8, {static_cast<int64_t>(s_w.size())}, std::vector<double>(s_w.size(), 0));
  auto* dw = b.node("DequantizeLinear", {name + ".w", name + ".w.scale", name + ".w.zp"}, {name + ".w.dq"});
  attr(dw, "axis", int64_t{0});
  b.init(name + ".b", I32, {O}, random_ints(rng, O, -bias_range, bias_range));
  std::vector<double> sb = s_w.size() == 1 ? std::vector<double>(static_cast<size_t>(O), s_w[0]) : s_w;
  b.init(name + ".b.scale", F32, {O}, bias_scales(s_x, sb));
  b.init(name + ".b.zp", I32, {O}, std::vector<double>(static_cast<size_t>(O), 0));
  auto* db = b.node("DequantizeLinear", {name + ".b", name + ".b.scale", name + ".b.zp"}, {name + ".b.dq"});
  attr(db, "axis", int64_t{0});
  return {name + ".w.dq", name + ".b.dq"};
}

onnx::NodeProto* conv_node(OnnxBuilder& b, const std::string& x, const DqWeights& p, const std::string& out,
                           std::vector<int64_t> pads, std::vector<int64_t> strides, int64_t group = 1) {
  auto* n = b.node("Conv", {x, p.w, p.b}, {out}, out + "_Conv");
  attr(n, "pads", pads);
  attr(n, "strides", strides);
  attr(n, "group", group);
  return n;
}

// ---- per-channel conv + relu, depthwise + clip, maxpool (onnxruntime style) ----------------------------------

OnnxBuilder conv_relu_model(std::mt19937& rng, double s_in) {
  OnnxBuilder b;
  b.input("x", {1, 3, 9, 9});
  std::string x = qdq(b, "x", "x_q", s_in, 128, U8);
  auto s_w1 = random_scales(rng, 8, 0.002, 0.02);
  auto p1 = conv_params(b, "conv1", rng, {8, 3, 3, 3}, s_in, s_w1, 3000);
  conv_node(b, x, p1, "conv1.out", {1, 1, 1, 1}, {1, 1});
  b.node("Relu", {"conv1.out"}, {"conv1.relu"}, "conv1_Relu");
  std::string y1 = qdq(b, "conv1.relu", "y1", 0.06, 0, U8);
  auto s_w2 = random_scales(rng, 8, 0.005, 0.05);
  auto p2 = conv_params(b, "dw", rng, {8, 1, 3, 3}, 0.06, s_w2, 2000);
  conv_node(b, y1, p2, "dw.out", {1, 1, 1, 1}, {2, 2}, 8);
  b.init("six", F32, {}, {6.0});
  b.init("zero", F32, {}, {0.0});
  b.node("Clip", {"dw.out", "zero", "six"}, {"dw.clip"}, "dw_Clip");
  std::string y2 = qdq(b, "dw.clip", "y2", 0.03, -100, I8);
  auto* mp = b.node("MaxPool", {y2}, {"pool.out"}, "pool_MaxPool");
  attr(mp, "kernel_shape", std::vector<int64_t>{2, 2});
  attr(mp, "strides", std::vector<int64_t>{2, 2});
  qdq(b, "pool.out", "y3", 0.03, -100, I8);
  b.node("Identity", {"y3.dq"}, {"y"});
  b.output("y");
  return b;
}

TEST(Qdq, PerChannelConvReluDepthwiseClipMaxPoolMatchFloat64WithinOneLsbExactlyOffTies) {
  announce_seed("PerChannelConvReluDepthwiseClipMaxPool");
  std::mt19937 rng(static_cast<uint32_t>(test_seed()));
  const double s_in = static_cast<float>(0.02);
  OnnxBuilder b = conv_relu_model(rng, s_in);
  Graph g = import_ok(b);
  ASSERT_EQ(g.layers.size(), 3u);
  // Names: each layer's tensor is the QuantizeLinear output that materializes it.
  EXPECT_NE(find_tensor(g, "y1"), nullptr);
  EXPECT_NE(find_tensor(g, "y2"), nullptr);
  EXPECT_NE(find_tensor(g, "y3"), nullptr);
  EXPECT_EQ(g.tensor(g.inputs[0]).name, "x");
  ASSERT_TRUE(g.input_quant[0].has_value());
  EXPECT_EQ(g.input_quant[0]->zero_point[0], 128);
  EXPECT_EQ(g.input_quant[0]->dtype, DType::UInt8);
  ASSERT_TRUE(g.output_dequant[0].has_value());
  EXPECT_EQ(g.output_dequant[0]->zero_point[0], -100);
  EXPECT_EQ(g.output_dequant[0]->dtype, DType::Int8);
  // The (m, S) rule: one shift, the largest with every |acc| * m[c] + 2^(S-1) in int64, m[c] = round(M[c] * 2^S).
  const Conv2d* c = find_layer<Conv2d>(g);
  ASSERT_TRUE(c && c->requant);
  EXPECT_EQ(c->input_zero_point, 128);
  const Requant& rq = *c->requant;
  ASSERT_EQ(rq.mul.size(), 8u);
  EXPECT_EQ(rq.add.at(0) * 2, static_cast<int64_t>(rq.divisor));
  std::vector<double> M;
  for (const auto& t : b.g->initializer())
    if (t.name() == "conv1.w.scale")
      for (float sw : t.float_data()) M.push_back(s_in * sw / static_cast<float>(0.06));
  EXPECT_TRUE(follows_the_rule(M, acc_bounds(c->weights, c->bias, 128), rq.mul, rq.divisor));  // uint8, zp 128
  EXPECT_EQ(rq.lo, 0);  // Relu with zero point 0
  EXPECT_EQ(rq.hi, 255);
  const Layer& dw = g.layers[1];
  const Requant& rq2 = *dw.as<Conv2d>()->requant;
  EXPECT_EQ(rq2.zero_point, -100);
  EXPECT_EQ(rq2.lo, -100);                                      // Q(0) = zero point
  EXPECT_EQ(rq2.hi, -100 + static_cast<int>(std::nearbyint(6.0f / 0.03f)));  // Q(6)
  EXPECT_TRUE(dw.as<Conv2d>()->groups == 8);
  EXPECT_TRUE(g.layers[2].as<MaxPool>() != nullptr);

  Deviation dev;
  for (int run = 0; run < 20; ++run) {
    FT x = random_input(rng, {1, 3, 9, 9}, s_in, 128, 0, 255);
    compare_with_float64(b.model, g, {x}, dev);
  }
  std::printf("[ MEASURED ] conv+relu/depthwise+clip/maxpool vs float64: %s\n", describe(dev).c_str());
  EXPECT_LE(dev.max_abs, 1);
  EXPECT_EQ(dev.differ_off_tie, 0);
  EXPECT_GT(dev.compared, 20 * (8 * 81 + 8 * 25 + 8 * 4) - 1);
}

// ---- torch-style graph: Constant, Cast, ConstantOfShape, zero Pad before AveragePool -------------------------

// Q -> Cast -> DQ, everything from Constant nodes (torch.onnx.export of an eager-mode quantized model).
std::string torch_qdq(OnnxBuilder& b, const std::string& x, const std::string& prefix, double s, int zp) {
  const std::string sn = b.constant(prefix + "/Constant_s", F32, {}, {s});
  const std::string zn = b.constant(prefix + "/Constant_zp", U8, {}, {static_cast<double>(zp)});
  b.node("QuantizeLinear", {x, sn, zn}, {prefix + "/QuantizeLinear_output_0"}, prefix + "/QuantizeLinear");
  auto* cast = b.node("Cast", {prefix + "/QuantizeLinear_output_0"}, {prefix + "/Cast_output_0"}, prefix + "/Cast");
  attr(cast, "to", int64_t{U8});
  const std::string sn2 = b.constant(prefix + "/Constant_s2", F32, {}, {s});
  const std::string zn2 = b.constant(prefix + "/Constant_zp2", U8, {}, {static_cast<double>(zp)});
  b.node("DequantizeLinear", {prefix + "/Cast_output_0", sn2, zn2}, {prefix + "/DequantizeLinear_output_0"},
         prefix + "/DequantizeLinear");
  return prefix + "/DequantizeLinear_output_0";
}

DqWeights torch_params(OnnxBuilder& b, const std::string& p, std::mt19937& rng, const std::vector<int64_t>& wshape,
                       double s_x, const std::vector<double>& s_w, int bias_range) {
  const int64_t O = wshape[0];
  const std::string w = b.constant(p + "/Constant_w", I8, wshape, random_ints(rng, numel(wshape), -127, 127));
  const std::string ws = b.constant(p + "/Constant_ws", F32, {O}, s_w);
  const std::string wz = b.constant(p + "/Constant_wz", I8, {O}, std::vector<double>(static_cast<size_t>(O), 0));
  attr(b.node("DequantizeLinear", {w, ws, wz}, {p + "/w_dq"}, p + "/DequantizeLinear_1"), "axis", int64_t{0});
  const std::string shape = b.constant(p + "/Constant_shape", I64, {1}, {static_cast<double>(O)});
  b.node("ConstantOfShape", {shape}, {p + "/ConstantOfShape_output_0"}, p + "/ConstantOfShape");
  const std::string bias = b.constant(p + "/Constant_b", I32, {O}, random_ints(rng, O, -bias_range, bias_range));
  const std::string bs = b.constant(p + "/Constant_bs", F32, {O}, bias_scales(s_x, s_w));
  attr(b.node("Cast", {p + "/ConstantOfShape_output_0"}, {p + "/Cast_1_output_0"}, p + "/Cast_1"), "to",
       int64_t{I32});
  attr(b.node("DequantizeLinear", {bias, bs, p + "/Cast_1_output_0"}, {p + "/b_dq"}, p + "/DequantizeLinear_2"),
       "axis", int64_t{0});
  return {p + "/w_dq", p + "/b_dq"};
}

OnnxBuilder torch_style_model(std::mt19937& rng) {
  OnnxBuilder b;
  b.input("input", {1, 2, 8, 8});
  const double s_in = static_cast<float>(1.0 / 255.0);
  std::string x = torch_qdq(b, "input", "/quant", s_in, 0);
  auto s_w = random_scales(rng, 4, 0.003, 0.03);
  auto p = torch_params(b, "/conv", rng, {4, 2, 3, 3}, s_in, s_w, 2000);
  conv_node(b, x, p, "/conv/Conv_output_0", {1, 1, 1, 1}, {1, 1});
  b.node("Relu", {"/conv/Conv_output_0"}, {"/conv/Relu_output_0"}, "/conv/Relu");
  const double s1 = static_cast<float>(0.01);
  std::string y = torch_qdq(b, "/conv/Relu_output_0", "/conv", s1, 0);
  // AvgPool2d(2) with padding 0: torch writes an all-zero Pad, then AveragePool; requantized with the same scale.
  const std::string zeros = b.constant("/pool1/Constant_pads", I64, {8}, std::vector<double>(8, 0));
  b.node("Pad", {y, zeros}, {"/pool1/Pad_output_0"}, "/pool1/Pad");
  auto* ap = b.node("AveragePool", {"/pool1/Pad_output_0"}, {"/pool1/AveragePool_output_0"}, "/pool1/AveragePool");
  attr(ap, "kernel_shape", std::vector<int64_t>{2, 2});
  attr(ap, "strides", std::vector<int64_t>{2, 2});
  std::string y2 = torch_qdq(b, "/pool1/AveragePool_output_0", "/pool1", s1, 0);
  // AvgPool2d(3, stride 2, padding 1, count_include_pad): an explicit zero Pad, counted; a different output scale.
  const std::string pads = b.constant("/pool2/Constant_pads", I64, {8}, {0, 0, 1, 1, 0, 0, 1, 1});
  const std::string value = b.constant("/pool2/Constant_value", F32, {}, {0.0});
  b.node("Pad", {y2, pads, value}, {"/pool2/Pad_output_0"}, "/pool2/Pad");
  auto* ap2 = b.node("AveragePool", {"/pool2/Pad_output_0"}, {"/pool2/AveragePool_output_0"}, "/pool2/AveragePool");
  attr(ap2, "kernel_shape", std::vector<int64_t>{3, 3});
  attr(ap2, "strides", std::vector<int64_t>{2, 2});
  std::string y3 = torch_qdq(b, "/pool2/AveragePool_output_0", "/pool2", static_cast<float>(0.0071), 3);
  b.node("Flatten", {y3}, {"/Flatten_output_0"}, "/Flatten");
  std::string f = torch_qdq(b, "/Flatten_output_0", "/flat", static_cast<float>(0.0071), 3);
  auto s_fc = random_scales(rng, 5, 0.002, 0.02);
  auto pf = torch_params(b, "/fc", rng, {5, 16}, static_cast<float>(0.0071), s_fc, 500);
  auto* gemm = b.node("Gemm", {f, pf.w, pf.b}, {"/fc/Gemm_output_0"}, "/fc/Gemm");
  attr(gemm, "transB", int64_t{1});
  torch_qdq(b, "/fc/Gemm_output_0", "/fc", static_cast<float>(0.004), 128);
  b.node("Identity", {"/fc/DequantizeLinear_output_0"}, {"logits"}, "/dequant");
  b.output("logits");
  return b;
}

TEST(Qdq, TorchStyleConstantsCastsZeroPadAveragePoolFlattenGemmMatchFloat64) {
  announce_seed("TorchStyle");
  std::mt19937 rng(static_cast<uint32_t>(test_seed()) + 1);
  OnnxBuilder b = torch_style_model(rng);
  Graph g = import_ok(b);
  std::vector<std::string> kinds;
  for (const Layer& l : g.layers) kinds.push_back(layer_kind_name(g, l));
  ASSERT_EQ(g.layers.size(), 5u) << fmt::format("{}", fmt::join(kinds, ","));
  const Layer& pool1 = g.layers[1];
  const Layer& pool2 = g.layers[2];
  ASSERT_TRUE(pool1.as<AveragePool>() && pool2.as<AveragePool>());
  EXPECT_FALSE(pool1.as<AveragePool>()->win.pad.any());  // the all-zero Pad vanished
  EXPECT_EQ(pool2.as<AveragePool>()->win.pad, (Padding{1, 1, 1, 1}));
  EXPECT_TRUE(pool2.as<AveragePool>()->count_include_pad);  // padded cells are real elements of the Pad's output
  EXPECT_EQ(pool2.as<AveragePool>()->pad_value, 0);          // the zero point
  // Same scale in and out: round half up of the exact mean, floor((2*S + cnt) / (2*cnt)).
  EXPECT_EQ(pool1.as<AveragePool>()->requant.mul, std::vector<int64_t>{2});
  EXPECT_EQ(pool1.as<AveragePool>()->requant.divisor, 2u);
  const Requant& p2 = pool2.as<AveragePool>()->requant;
  // A 3x3 window of uint8 values with zero point 0 (the pad value): window sums up to 9 * 255.
  EXPECT_TRUE(follows_the_rule({static_cast<float>(0.01) / static_cast<double>(static_cast<float>(0.0071))},
                               {9 * 255}, p2.mul, p2.divisor, 9));
  EXPECT_EQ(p2.zero_point, 3);
  EXPECT_TRUE(g.layers[3].as<View>());
  EXPECT_EQ(g.tensor(g.layers[3].output).name, "/flat/QuantizeLinear_output_0");
  EXPECT_EQ(g.tensor(g.layers[3].output).layout, Layout::FlattenedHWC);
  EXPECT_EQ(g.tensor(g.layers[4].output).name, "/fc/QuantizeLinear_output_0");
  EXPECT_EQ(g.layers[4].as<FullyConnected>()->requant->zero_point, 128);

  Deviation dev;
  for (int run = 0; run < 30; ++run) {
    FT x = random_input(rng, {1, 2, 8, 8}, static_cast<float>(1.0 / 255.0), 0, 0, 255);
    compare_with_float64(b.model, g, {x}, dev);
  }
  std::printf("[ MEASURED ] torch-style conv/avgpool/flatten/gemm vs float64: %s\n", describe(dev).c_str());
  EXPECT_LE(dev.max_abs, 1);
  EXPECT_EQ(dev.differ_off_tie, 0);
  EXPECT_EQ(dev.layers, 30 * 5);  // conv, two pools, the Flatten's view, fc
}

// ---- Add of two differently quantized tensors, and Concat -----------------------------------------------------

OnnxBuilder add_concat_model(std::mt19937& rng, bool pow2) {
  OnnxBuilder b;
  b.input("x", {1, 4, 6, 6});
  const double s_in = pow2 ? 1.0 / 16 : static_cast<float>(0.05);
  std::string x = qdq(b, "x", "x_q", s_in, -3, I8);
  const double s_a = pow2 ? 1.0 / 8 : static_cast<float>(0.11), s_b = pow2 ? 1.0 / 4 : static_cast<float>(0.07);
  const double s_c = pow2 ? 1.0 / 2 : static_cast<float>(0.13);
  auto pa = conv_params(b, "a", rng, {6, 4, 1, 1}, s_in, pow2 ? std::vector<double>{1.0 / 64} : std::vector<double>{static_cast<float>(0.01)}, 2000);
  conv_node(b, x, pa, "a.out", {0, 0, 0, 0}, {1, 1});
  std::string ya = qdq(b, "a.out", "ya", s_a, 4, I8);
  auto pb = conv_params(b, "b", rng, {6, 4, 3, 3}, s_in, pow2 ? std::vector<double>(6, 1.0 / 128) : random_scales(rng, 6, 0.002, 0.01), 2000);
  conv_node(b, x, pb, "b.out", {1, 1, 1, 1}, {1, 1});
  std::string yb = qdq(b, "b.out", "yb", s_b, 100, U8);
  b.node("Add", {ya, yb}, {"sum"}, "residual_Add");
  b.node("Relu", {"sum"}, {"sum.relu"}, "residual_Relu");
  qdq(b, "sum.relu", "ysum", s_c, 0, U8);
  b.node("Identity", {"ysum.dq"}, {"out_sum"});
  b.output("out_sum");
  auto pc = conv_params(b, "c", rng, {3, 4, 1, 1}, s_in, random_scales(rng, 3, 0.005, 0.01), 2000);
  conv_node(b, x, pc, "c.out", {0, 0, 0, 0}, {1, 1});
  std::string yc = qdq(b, "c.out", "yc", s_a, 4, I8);
  b.node("Concat", {ya, yc}, {"cat"}, "cat_Concat");
  attr(b.g->mutable_node(b.g->node_size() - 1), "axis", int64_t{1});
  qdq(b, "cat", "ycat", s_a, 4, I8);
  b.node("Identity", {"ycat.dq"}, {"out_cat"});
  b.output("out_cat");
  return b;
}

TEST(Qdq, AddOfDifferentlyQuantizedTensorsAndConcatMatchFloat64) {
  announce_seed("AddConcat");
  std::mt19937 rng(static_cast<uint32_t>(test_seed()) + 2);
  OnnxBuilder b = add_concat_model(rng, false);
  Graph g = import_ok(b);
  const Layer* add = nullptr;
  for (const Layer& l : g.layers)
    if (l.as<Add>()) add = &l;
  ASSERT_NE(add, nullptr);
  const Add& a = *add->as<Add>();
  ASSERT_EQ(a.operands.size(), 2u);
  EXPECT_EQ(a.operands[0].zero_point, 4);
  EXPECT_EQ(a.operands[1].zero_point, 100);
  // m_1/2^s ~ s_a/s_c and m_2/2^s ~ s_b/s_c; the operand sum provably fits int32.
  const double D = static_cast<double>(a.requant.divisor);
  EXPECT_NEAR(a.operands[0].mul / D, static_cast<float>(0.11) / static_cast<float>(0.13), 1.0 / D);
  EXPECT_NEAR(a.operands[1].mul / D, static_cast<float>(0.07) / static_cast<float>(0.13), 1.0 / D);
  EXPECT_LE(a.operands[0].mul * 132 + a.operands[1].mul * 155, int64_t{INT32_MAX});
  EXPECT_GT(a.operands[0].mul * 132 + a.operands[1].mul * 155, int64_t{INT32_MAX} / 2);
  EXPECT_EQ(a.requant.lo, 0);
  EXPECT_EQ(a.requant.mul, std::vector<int64_t>{1});
  EXPECT_EQ(a.requant.add.at(0) * 2, static_cast<int64_t>(a.requant.divisor));
  EXPECT_NE(find_layer<Concat>(g), nullptr);
  Deviation dev;
  for (int run = 0; run < 30; ++run) compare_with_float64(b.model, g, {random_input(rng, {1, 4, 6, 6}, static_cast<float>(0.05), -3, -128, 127)}, dev);
  std::printf("[ MEASURED ] add/concat vs float64: %s\n", describe(dev).c_str());
  EXPECT_LE(dev.max_abs, 1);
  EXPECT_EQ(dev.differ_off_tie, 0);
}

// ---- exact ties: power-of-two scales --------------------------------------------------------------------------

TEST(Qdq, AtExactTiesDoryRoundsHalfUpWhereQuantizeLinearRoundsHalfToEven) {
  announce_seed("Ties");
  std::mt19937 rng(static_cast<uint32_t>(test_seed()) + 3);
  // Conv (M = 2^-4 / 2^-3 * 2^-6 ...), Add (M_i = 1/2, 1/4), all exact binary fractions: ties happen often.
  OnnxBuilder b = add_concat_model(rng, true);
  Graph g = import_ok(b);
  Deviation dev;
  for (int run = 0; run < 30; ++run)
    compare_with_float64(b.model, g, {random_input(rng, {1, 4, 6, 6}, 1.0 / 16, -3, -128, 127)}, dev);
  // Every difference is at an exact tie (half up vs half to even: they differ when the floor is even).
  std::printf("[ MEASURED ] power-of-two scales vs float64: %s\n", describe(dev).c_str());
  EXPECT_LE(dev.max_abs, 1);
  EXPECT_EQ(dev.differ_off_tie, 0);
  EXPECT_GT(dev.ties, 100);
  EXPECT_GT(dev.differ_at_tie, 10);
  EXPECT_LT(dev.differ_at_tie, dev.ties);  // at half the ties (odd floor) both round up
  EXPECT_EQ(dev.min_tie_distance_of_difference, 0.0);  // exact ties, not near-ties
  EXPECT_EQ(dev.below_at_exact_tie, 0);                // half up: never below half to even
}

TEST(Qdq, AtATieDoryIsRoundHalfUpSoEqualToOrOneAboveRoundHalfToEven) {
  // A 1x1 conv with one weight, bias 0: acc = x * w, r = acc * M with M = 1/4 exactly; check the exact rule.
  OnnxBuilder b;
  b.input("x", {1, 1, 1, 16});
  std::string x = qdq(b, "x", "x_q", 1.0, 0, I8);
  b.init("w", I8, {1, 1, 1, 1}, {1});
  b.init("w.s", F32, {}, {1.0});
  b.init("w.z", I8, {}, {0});
  b.node("DequantizeLinear", {"w", "w.s", "w.z"}, {"w.dq"});
  b.node("Conv", {x, "w.dq"}, {"c"}, "conv");
  qdq(b, "c", "y", 4.0, 0, I8);
  b.output("y.dq");
  Graph g = import_ok(b);
  std::vector<int32_t> in;
  for (int v = -8; v < 8; ++v) in.push_back(v * 2);  // r = v/2: every other one a tie
  auto r = test::run_onnx_order(g, {in});
  ASSERT_TRUE(r.ok());
  const std::vector<int32_t>& y = r.value()[static_cast<size_t>(g.outputs[0])];
  for (size_t i = 0; i < in.size(); ++i) {
    const double exact = in[i] / 4.0;
    EXPECT_EQ(y[i], static_cast<int32_t>(std::floor(exact + 0.5))) << "half up at " << exact;
    const double even = std::nearbyint(exact);
    EXPECT_LE(y[i] - even, 1);
    EXPECT_GE(y[i] - even, 0);
  }
}

// ---- a float Gemm/MatMul at the end: the int32 accumulator is the output -------------------------------------

TEST(Qdq, FloatGemmTailKeepsTheInt32AccumulatorDequantizedWithInputTimesWeightScale) {
  std::mt19937 rng(static_cast<uint32_t>(test_seed()) + 4);
  for (bool matmul : {false, true}) {
    SCOPED_TRACE(matmul ? "MatMul + Add" : "Gemm");
    OnnxBuilder b;
    b.input("x", {1, 3, 4, 4});
    const double s_in = static_cast<float>(0.03), s_y = static_cast<float>(0.05), s_w = static_cast<float>(0.004);
    std::string x = qdq(b, "x", "x_q", s_in, 10, U8);
    auto p = conv_params(b, "conv", rng, {4, 3, 3, 3}, s_in, random_scales(rng, 4, 0.002, 0.02), 1000);
    conv_node(b, x, p, "conv.out", {1, 1, 1, 1}, {1, 1});
    std::string y = qdq(b, "conv.out", "y", s_y, 120, U8);
    b.node("Flatten", {y}, {"flat"}, "flatten");
    const int64_t K = 64, N = 10;
    b.init("fc.w", I8, matmul ? std::vector<int64_t>{K, N} : std::vector<int64_t>{N, K}, random_ints(rng, K * N, -127, 127));
    b.init("fc.ws", F32, {}, {s_w});
    b.init("fc.wz", I8, {}, {0});
    b.node("DequantizeLinear", {"fc.w", "fc.ws", "fc.wz"}, {"fc.w.dq"});
    b.init("fc.b", I32, {N}, random_ints(rng, N, -5000, 5000));
    b.init("fc.bs", F32, {}, {static_cast<float>(s_y * s_w)});
    b.init("fc.bz", I32, {}, {0});
    b.node("DequantizeLinear", {"fc.b", "fc.bs", "fc.bz"}, {"fc.b.dq"});
    if (matmul) {
      b.node("MatMul", {"flat", "fc.w.dq"}, {"mm"}, "fc_MatMul");
      b.node("Add", {"mm", "fc.b.dq"}, {"logits"}, "fc_Add");
    } else {
      attr(b.node("Gemm", {"flat", "fc.w.dq", "fc.b.dq"}, {"logits"}, "fc_Gemm"), "transB", int64_t{1});
    }
    b.output("logits");
    Graph g = import_ok(b);
    ASSERT_EQ(g.outputs.size(), 1u);
    const Tensor& out = g.tensor(g.outputs[0]);
    EXPECT_EQ(out.name, "logits");
    EXPECT_EQ(out.dtype, DType::Int32);
    ASSERT_TRUE(g.output_dequant[0].has_value());
    EXPECT_EQ(g.output_dequant[0]->scale[0], static_cast<float>(s_y * s_w));
    EXPECT_EQ(g.output_dequant[0]->dtype, DType::Int32);
    const FullyConnected* fc = find_layer<FullyConnected>(g);
    ASSERT_TRUE(fc);
    EXPECT_FALSE(fc->requant.has_value());
    EXPECT_EQ(fc->input_zero_point, 120);
    Deviation dev;
    for (int run = 0; run < 10; ++run) {
      Comparison c = compare_with_float64(b.model, g, {random_input(rng, {1, 3, 4, 4}, s_in, 10, 0, 255)}, dev);
      const std::vector<int32_t>& acc = c.dory[static_cast<size_t>(g.outputs[0])];
      const FT& f = c.f64.at("logits");
      ASSERT_EQ(acc.size(), f.v.size());
      // The float32 scale differs from s_y*s_w by up to 2^-24 relative, on each term of the sum; when the terms
      // nearly cancel, that error is relative to the terms, not to the result: bound it by the largest output.
      double largest = 0;
      for (double v : f.v) largest = std::max(largest, std::fabs(v));
      for (size_t i = 0; i < acc.size(); ++i) {
        // float64: s_y*s_w * sum + s_b * b with s_b = float32(s_y*s_w): the same integer, up to 2^-24 relative.
        EXPECT_EQ(acc[i], static_cast<int32_t>(std::llround(f.v[i] / (s_y * s_w))));
        EXPECT_NEAR(acc[i] * static_cast<double>(g.output_dequant[0]->scale[0]), f.v[i], 1e-6 * largest + 1e-9);
      }
    }
    EXPECT_LE(dev.max_abs, 1);
    EXPECT_EQ(dev.differ_off_tie, 0);
  }
}

// ---- Requantize, Clip and Relu folding ------------------------------------------------------------------------

TEST(Qdq, RequantizeAndClampsFoldIntoTheQuantizeLinear) {
  std::mt19937 rng(static_cast<uint32_t>(test_seed()) + 5);
  OnnxBuilder b;
  b.input("x", {1, 2, 5, 5});
  const double s = static_cast<float>(0.04);
  std::string x = qdq(b, "x", "x_q", s, 20, U8);
  // A rescale with a clip: Q(Clip(DQ(x), -0.5, 2.5), s') -> Requantize with the clamp.
  b.init("lo", F32, {}, {-0.5});
  b.init("hi", F32, {}, {1.2});
  b.node("Clip", {x, "lo", "hi"}, {"clipped"}, "clip");
  qdq(b, "clipped", "rescaled", static_cast<float>(0.013), -7, I8);
  b.output("rescaled.dq");
  // The same quantization: Q(DQ(x)) is x itself (no layer).
  qdq(b, x, "same", s, 20, U8);
  b.output("same.dq");
  // Relu of an asymmetric tensor with the same quantization: a clamping Requantize (lo = zero point).
  b.node("Relu", {x}, {"relu"}, "relu");
  qdq(b, "relu", "relu_q", s, 20, U8);
  b.output("relu_q.dq");
  Graph g = import_ok(b);
  ASSERT_EQ(g.layers.size(), 2u);
  const Requantize* r0 = g.layers[0].as<Requantize>();
  ASSERT_TRUE(r0);
  EXPECT_EQ(r0->input_zero_point, 20);
  EXPECT_EQ(r0->requant.zero_point, -7);
  EXPECT_EQ(r0->requant.lo, -7 + static_cast<int>(std::nearbyint(-0.5f / static_cast<float>(0.013))));
  EXPECT_EQ(r0->requant.hi, -7 + static_cast<int>(std::nearbyint(1.2f / static_cast<float>(0.013))));
  EXPECT_EQ(g.outputs[1], g.inputs[0]);  // the alias
  const Requantize* r1 = g.layers[1].as<Requantize>();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->requant.lo, 20);
  Deviation dev;
  for (int run = 0; run < 10; ++run)
    compare_with_float64(b.model, g, {random_input(rng, {1, 2, 5, 5}, s, 20, 0, 255)}, dev);
  EXPECT_LE(dev.max_abs, 1);
  EXPECT_EQ(dev.differ_off_tie, 0);
  EXPECT_EQ(dev.layers, 20);
}

// ---- integer inputs and host tails ------------------------------------------------------------------------------

TEST(Qdq, AnIntegerGraphInputIsUsedDirectlyAndATrailingSoftmaxIsLeftToTheHost) {
  OnnxBuilder b;
  b.input("pixels", {1, 2, 4, 4}, U8);
  b.init("p.s", F32, {}, {static_cast<float>(0.02)});
  b.init("p.z", U8, {}, {7});
  b.node("DequantizeLinear", {"pixels", "p.s", "p.z"}, {"p.dq"});
  std::mt19937 rng(1);
  auto p = conv_params(b, "conv", rng, {3, 2, 1, 1}, static_cast<float>(0.02), {static_cast<float>(0.01)}, 100);
  conv_node(b, "p.dq", p, "c", {0, 0, 0, 0}, {1, 1});
  qdq(b, "c", "y", 0.05, 0, U8);
  b.node("Softmax", {"y.dq"}, {"probs"}, "final_softmax");
  b.output("probs");
  Graph g = import_ok(b);
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.tensor(g.inputs[0]).name, "pixels");
  EXPECT_FALSE(g.input_quant[0].has_value());  // already integer in ONNX
  EXPECT_EQ(find_layer<Conv2d>(g)->input_zero_point, 7);
  ASSERT_EQ(g.outputs.size(), 1u);
  EXPECT_EQ(g.tensor(g.outputs[0]).name, "y");
  ASSERT_TRUE(g.output_dequant[0].has_value());
  ASSERT_EQ(g.notes.size(), 1u);
  EXPECT_NE(g.notes[0].find("final_softmax"), std::string::npos) << g.notes[0];
}

// ---- the real torch export ------------------------------------------------------------------------------------

TEST(Qdq, TorchExportedFashionMnistImportsMatchesFloat64AndClassifiesTheGoldenImages) {
  const std::string dir = std::string(DORY_SOURCE_DIR) + "/models/fmnist/";
  std::ifstream f(dir + "fmnist_qdq.onnx", std::ios::binary);
  if (!f) GTEST_SKIP() << "models/fmnist/fmnist_qdq.onnx is not there";
  std::stringstream ss;
  ss << f.rdbuf();
  const std::string bytes = ss.str();
  onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromString(bytes));
  auto gx = import_onnx_bytes(bytes, "fmnist_qdq.onnx");
  ASSERT_TRUE(gx.ok()) << gx.error().str();
  const Graph& g = gx.value();
  EXPECT_EQ(g.dialect, "qdq");
  int convs = 0;
  for (const Layer& l : g.layers) convs += l.as<Conv2d>() != nullptr;
  EXPECT_EQ(convs, 8);
  ASSERT_TRUE(g.input_quant[0].has_value());
  EXPECT_EQ(g.input_quant[0]->scale[0], static_cast<float>(1.0 / 255.0));
  ASSERT_TRUE(g.output_dequant[0].has_value());
  EXPECT_EQ(g.output_dequant[0]->zero_point[0], 128);
  // Layer names are those of the quantized ONNX tensors.
  EXPECT_NE(find_tensor(g, "/features/conv1/conv/QuantizeLinear_output_0"), nullptr);
  EXPECT_NE(find_tensor(g, "/fc/QuantizeLinear_output_0"), nullptr);

  Deviation dev;
  const int labels[4] = {9, 2, 1, 1};  // golden/manifest.json
  for (int img = 0; img < 4; ++img) {
    auto npy = read_npy(dir + fmt::format("golden/img{}/input.npy", img));
    ASSERT_TRUE(npy.ok()) << npy.error().str();
    FT x;
    x.shape = {1, 1, 28, 28};
    for (int64_t p : npy->int_values) x.v.push_back(static_cast<float>(p) / 255.0f);  // the float model's input
    Comparison c = compare_with_float64(model, g, {x}, dev);
    if (c.dory.empty()) continue;
    // The quantized input is the raw pixel.
    std::vector<int32_t> pixels(npy->int_values.begin(), npy->int_values.end());
    EXPECT_EQ(c.dory[static_cast<size_t>(g.inputs[0])], pixels);
    const std::vector<int32_t>& logits = c.dory[static_cast<size_t>(g.outputs[0])];
    const int predicted = static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    EXPECT_EQ(predicted, labels[img]) << "image " << img;
  }
  std::printf("[ MEASURED ] models/fmnist/fmnist_qdq.onnx, 4 golden images vs float64: %s\n", describe(dev).c_str());
  EXPECT_LE(dev.max_abs, 1);
  EXPECT_EQ(dev.differ_off_tie, 0);
  EXPECT_EQ(dev.layers, 4 * 11);
}

// ---- diagnostics: one test per error ---------------------------------------------------------------------------

// A minimal valid QDQ graph to break: x -> Q -> DQ -> Conv(DQ(W), DQ(B)) -> Q -> DQ -> y.
struct Minimal {
  OnnxBuilder b;
  std::string x;
  Minimal(double w_zp = 0, std::vector<double> in_scale = {0.1}) {
    b.input("x", {1, 2, 4, 4});
    b.init("x.s", F32, {static_cast<int64_t>(in_scale.size())}, in_scale);
    b.init("x.z", U8, {static_cast<int64_t>(in_scale.size())}, std::vector<double>(in_scale.size(), 0));
    if (in_scale.size() == 1) {
      b.g->mutable_initializer(0)->clear_dims();
      b.g->mutable_initializer(1)->clear_dims();
    }
    b.node("QuantizeLinear", {"x", "x.s", "x.z"}, {"xq"}, "quant_x");
    b.node("DequantizeLinear", {"xq", "x.s", "x.z"}, {"xdq"}, "dequant_x");
    x = "xdq";
    b.init("w", I8, {3, 2, 1, 1}, {1, 2, 3, 4, 5, 6});
    b.init("w.s", F32, {}, {0.01});
    b.init("w.z", I8, {}, {w_zp});
    b.node("DequantizeLinear", {"w", "w.s", "w.z"}, {"wdq"}, "dequant_w");
  }
  void conv_and_output(const std::string& in, const std::string& name = "conv") {
    b.node("Conv", {in, "wdq"}, {"c"}, name);
    qdq(b, "c", "y", 0.05, 0, U8);
    b.output("y.dq");
  }
};

TEST(QdqDiag, UnsupportedOpIsNamedWithItsNodeAndTheSupportedList) {
  Minimal m;
  m.b.node("Tanh", {m.x}, {"t"}, "squash");
  qdq(m.b, "t", "tq", 0.01, 0, U8);
  m.conv_and_output("tq.dq");
  auto g = import_onnx_bytes(m.b.bytes(), "t.onnx");
  EXPECT_TRUE(test::fails_with(g, "onnx-unsupported-op", {"squash", "Tanh", "supported:", "MaxPool"}));
}

TEST(QdqDiag, NonZeroWeightZeroPointIsRejected) {
  Minimal m(3);
  m.conv_and_output(m.x, "conv_zp");
  auto g = import_onnx_bytes(m.b.bytes(), "t.onnx");
  EXPECT_TRUE(test::fails_with(g, "onnx-weight-zero-point", {"conv_zp", "Conv", "zero point 3", "hint:"}));
}

TEST(QdqDiag, NonZeroWeightZeroPointsAreFoldedOnlyOnRequest) {
  // onnxruntime with uint8 weights: per-channel zero points around 128.
  OnnxBuilder b;
  b.input("x", {1, 2, 4, 4});
  std::string x = qdq(b, "x", "xq", static_cast<float>(0.1), 0, U8);
  std::mt19937 rng(7);
  b.init("w", U8, {3, 2, 3, 3}, random_ints(rng, 54, 0, 255));
  b.init("w.s", F32, {3}, random_scales(rng, 3, 0.001, 0.01));
  b.init("w.z", U8, {3}, {128, 120, 131});
  attr(b.node("DequantizeLinear", {"w", "w.s", "w.z"}, {"wdq"}), "axis", int64_t{0});
  attr(b.node("Conv", {x, "wdq"}, {"c"}, "asym_conv"), "pads", std::vector<int64_t>{1, 1, 1, 1});
  qdq(b, "c", "y", static_cast<float>(0.05), 10, U8);
  b.output("y.dq");
  EXPECT_TRUE(test::fails_with(import_onnx_bytes(b.bytes(), "t.onnx"), "onnx-weight-zero-point",
                               {"asym_conv", "zero point 128", "--allow-asymmetric-weights"}));
  ImportOptions opt;
  opt.allow_asymmetric_weights = true;
  auto g = import_onnx_bytes(b.bytes(), "t.onnx", opt);
  ASSERT_TRUE(g.ok()) << g.error().str();
  Deviation dev;
  for (int run = 0; run < 5; ++run)
    compare_with_float64(b.model, g.value(), {random_input(rng, {1, 2, 4, 4}, static_cast<float>(0.1), 0, 0, 255)},
                         dev);
  EXPECT_EQ(dev.layers, 5);
  EXPECT_LE(dev.max_abs, 1);
  EXPECT_EQ(dev.differ_off_tie, 0);
}

TEST(QdqDiag, PerChannelActivationQuantizationIsRejected) {
  Minimal m(0, {0.1, 0.2});
  m.conv_and_output(m.x);
  auto g = import_onnx_bytes(m.b.bytes(), "t.onnx");
  EXPECT_TRUE(test::fails_with(g, "onnx-per-channel-activation", {"quant_x", "QuantizeLinear", "per channel", "hint:"}));
}

TEST(QdqDiag, ZeroNegativeOrNonFiniteScalesAreRejected) {
  for (double bad : {0.0, -0.5, static_cast<double>(NAN), static_cast<double>(INFINITY)}) {
    Minimal m(0, {bad});
    m.conv_and_output(m.x);
    auto g = import_onnx_bytes(m.b.bytes(), "t.onnx");
    EXPECT_TRUE(test::fails_with(g, "onnx-bad-scale", {"quant_x", "QuantizeLinear", "positive", "hint:"})) << bad;
  }
  Minimal w;  // a bad weight scale
  w.b.g->mutable_initializer(3)->set_float_data(0, 0.0f);
  w.conv_and_output(w.x);
  EXPECT_TRUE(test::fails_with(import_onnx_bytes(w.b.bytes(), "t.onnx"), "onnx-bad-scale", {"dequant_w", "w.s"}));
}

TEST(QdqDiag, FloatOpsNotSurroundedByQuantizeDequantizeAreRejected) {
  {  // a Conv on the float graph input itself
    Minimal m;
    m.b.node("Conv", {"x", "wdq"}, {"c0"}, "raw_conv");
    qdq(m.b, "c0", "y0", 0.05, 0, U8);
    m.b.output("y0.dq");
    EXPECT_TRUE(test::fails_with(import_onnx_bytes(m.b.bytes(), "t.onnx"), "onnx-unquantized-float-op",
                                 {"raw_conv", "Conv", "float graph input 'x'", "hint:"}));
  }
  {  // Conv -> Conv without QuantizeLinear in between
    Minimal m;
    m.b.node("Conv", {m.x, "wdq"}, {"c1"}, "first_conv");
    m.b.init("w2", I8, {3, 3, 1, 1}, std::vector<double>(9, 1));
    m.b.init("w2.s", F32, {}, {0.01});
    m.b.node("DequantizeLinear", {"w2", "w2.s"}, {"w2dq"});
    m.b.node("Conv", {"c1", "w2dq"}, {"c2"}, "second_conv");
    qdq(m.b, "c2", "y", 0.05, 0, U8);
    m.b.output("y.dq");
    EXPECT_TRUE(test::fails_with(import_onnx_bytes(m.b.bytes(), "t.onnx"), "onnx-unquantized-float-op",
                                 {"second_conv", "first_conv", "QuantizeLinear"}));
  }
  {  // float weights
    Minimal m;
    m.b.init("wf", F32, {3, 2, 1, 1}, {0.1, 0.2, 0.3, 0.4, 0.5, 0.6});
    m.b.node("Conv", {m.x, "wf"}, {"c"}, "float_weights");
    qdq(m.b, "c", "y", 0.05, 0, U8);
    m.b.output("y.dq");
    EXPECT_TRUE(test::fails_with(import_onnx_bytes(m.b.bytes(), "t.onnx"), "onnx-unquantized-float-op",
                                 {"float_weights", "not quantized"}));
  }
  {  // an average pool ending the graph in float
    Minimal m;
    m.b.node("GlobalAveragePool", {m.x}, {"gap"}, "final_pool");
    m.b.output("gap");
    EXPECT_TRUE(test::fails_with(import_onnx_bytes(m.b.bytes(), "t.onnx"), "onnx-unquantized-float-op",
                                 {"gap", "final_pool", "GlobalAveragePool"}));
  }
}

TEST(QdqDiag, MismatchedScalesWhereEqualityIsRequiredAreRejected) {
  {  // MaxPool
    Minimal m;
    auto* mp = m.b.node("MaxPool", {m.x}, {"mp"}, "the_maxpool");
    attr(mp, "kernel_shape", std::vector<int64_t>{2, 2});
    qdq(m.b, "mp", "mpq", 0.2, 0, U8);
    m.conv_and_output("mpq.dq");
    EXPECT_TRUE(test::fails_with(import_onnx_bytes(m.b.bytes(), "t.onnx"), "onnx-scale-mismatch",
                                 {"the_maxpool", "MaxPool", "scale 0.1", "scale 0.2", "hint:"}));
  }
  {  // Concat
    Minimal m;
    std::string other = qdq(m.b, m.x, "xq2", 0.3, 0, U8);  // a Requantize to scale 0.3
    attr(m.b.node("Concat", {m.x, other}, {"cat"}, "the_concat"), "axis", int64_t{1});
    qdq(m.b, "cat", "catq", 0.1, 0, U8);
    m.b.output("catq.dq");
    EXPECT_TRUE(test::fails_with(import_onnx_bytes(m.b.bytes(), "t.onnx"), "onnx-scale-mismatch",
                                 {"the_concat", "Concat", "scale 0.3"}));
  }
  {  // Flatten
    Minimal m;
    m.b.node("Flatten", {m.x}, {"flat"}, "the_flatten");
    qdq(m.b, "flat", "flatq", 0.1, 5, U8);
    m.b.output("flatq.dq");
    EXPECT_TRUE(test::fails_with(import_onnx_bytes(m.b.bytes(), "t.onnx"), "onnx-scale-mismatch",
                                 {"the_flatten", "Flatten", "zero point 5"}));
  }
}

}  // namespace
