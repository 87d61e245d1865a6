// The QOperator importer (src/onnx/qoperator.cpp): each claim of its header on a small model built in memory,
// checked against a direct computation of what ONNX specifies (round half up of acc * M for the requantization,
// the rule of onnx/real_multiplier.h; ties do not occur with these seeds).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "../util/onnx_builder.h"
#include "ir/edge.h"
#include "onnx/frontend.h"
#include "reference/executor.h"
#include "reference/tensor_io.h"

namespace dory {
namespace {

using testing::OnnxBuilder;
using TP = onnx::TensorProto;

std::vector<int64_t> random_ints(size_t n, int64_t lo, int64_t hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int64_t> d(lo, hi);
  std::vector<int64_t> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

int64_t round_half_up(double v) { return static_cast<int64_t>(std::floor(v + 0.5)); }
int64_t clamp(int64_t v, int64_t lo, int64_t hi) { return std::min(std::max(v, lo), hi); }
// The real multiplier as the importer forms it: from the float32 scales, in double.
double real_m(float sx, float sw, float sy) { return static_cast<double>(sx) * sw / sy; }

Graph import_ok(const OnnxBuilder& b, Dialect d = Dialect::Auto) {
  ImportOptions o;
  o.dialect = d;
  Expected<Graph> g = import_onnx_bytes(b.bytes(), "test", o);
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().str());
  return g.ok() ? std::move(g).value() : Graph{};
}

Diagnostic import_error(const OnnxBuilder& b, Dialect d = Dialect::Auto) {
  ImportOptions o;
  o.dialect = d;
  Expected<Graph> g = import_onnx_bytes(b.bytes(), "test", o);
  EXPECT_FALSE(g.ok()) << "the model was accepted";
  return g.ok() ? Diagnostic{} : g.error();
}

std::vector<int32_t> run_output(const Graph& g, const std::vector<std::vector<int32_t>>& inputs, size_t k = 0) {
  Expected<ReferenceResult> r = run_reference(g, inputs);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().str());
  if (!r.ok()) return {};
  return tensor_onnx_values(g, r.value(), g.outputs.at(k));
}

std::vector<int32_t> to32(const std::vector<int64_t>& v) { return std::vector<int32_t>(v.begin(), v.end()); }

TEST(QOperatorImport, QLinearConvIsAConvWithPerChannelRequantAndMatchesRoundHalfUpOfAccTimesM) {
  const int64_t C = 2, H = 5, W = 6, Co = 3, Ho = 3, Wo = 3;
  const float sx = 0.02f, sy = 0.05f;
  const std::vector<float> sw = {0.003f, 0.01f, 0.0005f};
  const auto w = random_ints(Co * C * 9, -127, 127, 1);
  const auto bias = random_ints(Co, -2000, 2000, 2);
  const auto x = random_ints(C * H * W, 0, 255, 3);
  OnnxBuilder b;
  b.input("x", {1, C, H, W}, TP::UINT8).output("y", {1, Co, Ho, Wo}, TP::UINT8);
  b.init("xs", {}, {sx}).init_int("xz", {}, {128}, TP::UINT8);
  b.init_int("w", {Co, C, 3, 3}, w, TP::INT8).init("ws", {Co}, sw).init_int("wz", {Co}, {0, 0, 0}, TP::INT8);
  b.init("ys", {}, {sy}).init_int("yz", {}, {5}, TP::UINT8).init_int("B", {Co}, bias, TP::INT32);
  auto& n = b.node("QLinearConv", {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "B"}, {"y"}, "conv0");
  OnnxBuilder::attr(n, "pads", {1, 1, 1, 1});
  OnnxBuilder::attr(n, "strides", {2, 2});
  Graph g = import_ok(b);
  ASSERT_EQ(g.layers.size(), 1u);
  EXPECT_EQ(g.dialect, "qoperator");
  const Conv2d* conv = g.layers[0].as<Conv2d>();
  ASSERT_NE(conv, nullptr);
  EXPECT_EQ(conv->input_zero_point, 128);
  ASSERT_TRUE(conv->requant.has_value());
  EXPECT_EQ(conv->requant->mul.size(), 3u);
  EXPECT_EQ(conv->requant->zero_point, 5);
  EXPECT_EQ(g.tensor(g.outputs[0]).dtype, DType::UInt8);
  EXPECT_EQ(g.tensor(g.inputs[0]).zero_point, 128);

  std::vector<int32_t> got = run_output(g, {to32(x)});
  ASSERT_EQ(got.size(), static_cast<size_t>(Co * Ho * Wo));
  for (int64_t o = 0; o < Co; ++o)
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow = 0; ow < Wo; ++ow) {
        int64_t acc = bias[o];
        for (int64_t c = 0; c < C; ++c)
          for (int64_t ky = 0; ky < 3; ++ky)
            for (int64_t kx = 0; kx < 3; ++kx) {
              const int64_t ih = oh * 2 + ky - 1, iw = ow * 2 + kx - 1;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;  // padding holds the zero point
              acc += (x[(c * H + ih) * W + iw] - 128) * w[((o * C + c) * 3 + ky) * 3 + kx];
            }
        const int64_t want = clamp(round_half_up(acc * real_m(sx, sw[o], sy)) + 5, 0, 255);
        EXPECT_EQ(got[(o * Ho + oh) * Wo + ow], want) << "channel " << o << " at " << oh << "," << ow;
      }
}

TEST(QOperatorImport, ADepthwiseQLinearConvThenFlattenThenQLinearMatMulMatchesTheOnnxOrderComputation) {
  // x [1,3,4,4] -> depthwise 3x3 (pads 1) -> Flatten [1,48] (a view of the HWC map) -> MatMul [48,5]
  const int64_t C = 3, H = 4, W = 4, N = 5, K = C * H * W;
  const auto dw = random_ints(C * 9, -127, 127, 10);
  const auto fw = random_ints(K * N, -127, 127, 11);
  const auto x = random_ints(C * H * W, -128, 127, 12);
  const std::vector<float> dws = {0.01f, 0.002f, 0.03f};
  OnnxBuilder b;
  b.input("x", {1, C, H, W}, TP::INT8).output("y", {1, N}, TP::INT8);
  b.init("xs", {}, {0.05f}).init_int("xz", {}, {-3}, TP::INT8);
  b.init_int("dw", {C, 1, 3, 3}, dw, TP::INT8).init("dws", {C}, dws).init_int("dwz", {C}, {0, 0, 0}, TP::INT8);
  b.init("ds", {}, {0.04f}).init_int("dz", {}, {2}, TP::INT8);
  b.init_int("fw", {K, N}, fw, TP::INT8).init("fws", {}, {0.003f}).init_int("fwz", {}, {0}, TP::INT8);
  b.init("ys", {}, {0.5f}).init_int("yz", {}, {-1}, TP::INT8);
  auto& conv = b.node("QLinearConv", {"x", "xs", "xz", "dw", "dws", "dwz", "ds", "dz"}, {"d"}, "dw");
  OnnxBuilder::attr(conv, "group", int64_t{3});
  OnnxBuilder::attr(conv, "pads", {1, 1, 1, 1});
  b.node("Flatten", {"d"}, {"f"}, "flat");
  b.node("QLinearMatMul", {"f", "ds", "dz", "fw", "fws", "fwz", "ys", "yz"}, {"y"}, "fc");
  Graph g = import_ok(b);
  ASSERT_EQ(g.layers.size(), 3u);
  EXPECT_EQ(g.layers[0].as<Conv2d>()->groups, 3);
  EXPECT_TRUE(g.notes.empty());  // one row: a plain FullyConnected
  std::vector<int32_t> got = run_output(g, {to32(x)});
  std::vector<int64_t> d(static_cast<size_t>(K));  // depthwise output, ONNX (CHW) order
  for (int64_t c = 0; c < C; ++c)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t w = 0; w < W; ++w) {
        int64_t acc = 0;
        for (int64_t ky = 0; ky < 3; ++ky)
          for (int64_t kx = 0; kx < 3; ++kx) {
            const int64_t ih = h + ky - 1, iw = w + kx - 1;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            acc += (x[(c * H + ih) * W + iw] + 3) * dw[(c * 3 + ky) * 3 + kx];
          }
        d[(c * H + h) * W + w] = clamp(round_half_up(acc * real_m(0.05f, dws[c], 0.04f)) + 2, -128, 127);
      }
  for (int64_t n = 0; n < N; ++n) {
    int64_t acc = 0;
    for (int64_t k = 0; k < K; ++k) acc += (d[k] - 2) * fw[k * N + n];
    EXPECT_EQ(got[n], clamp(round_half_up(acc * real_m(0.04f, 0.003f, 0.5f)) - 1, -128, 127)) << n;
  }
}

// The same network in QOperator form (QLinearConv, Flatten, QLinearMatMul) and in QDQ form (DequantizeLinear ->
// Conv/MatMul -> QuantizeLinear): one rule (onnx/real_multiplier.h), so the same integers and the same outputs.
TEST(QOperatorImport, TheSameConvAndMatMulInQdqFormGetTheSameIntegersAndOutputs) {
  const int64_t C = 3, H = 4, W = 4, Co = 4, K = Co * H * W, N = 6;
  const float sx = 0.0173f, sy = 0.061f, sz = 0.23f, sf = 0.0041f;
  const std::vector<float> sw = {0.0031f, 0.0007f, 0.012f, 0.00002f};
  const auto w = random_ints(Co * C * 9, -127, 127, 21);
  const auto bias = random_ints(Co, -3000, 3000, 22);
  const auto fw = random_ints(K * N, -127, 127, 23);
  std::vector<float> sb;
  for (float s : sw) sb.push_back(sx * s);  // float32(s_x * s_w[c]), as onnxruntime writes the bias scale
  auto common = [&](OnnxBuilder& b) {
    b.input("x", {1, C, H, W}, TP::UINT8).output("z", {1, N}, TP::INT8);
    b.init("xs", {}, {sx}).init_int("xz", {}, {131}, TP::UINT8);
    b.init_int("w", {Co, C, 3, 3}, w, TP::INT8).init("ws", {Co}, sw).init_int("wz", {Co}, {0, 0, 0, 0}, TP::INT8);
    b.init_int("B", {Co}, bias, TP::INT32);
    b.init("ys", {}, {sy}).init_int("yz", {}, {9}, TP::UINT8);
    b.init_int("fw", {K, N}, fw, TP::INT8).init("fws", {}, {sf}).init_int("fwz", {}, {0}, TP::INT8);
    b.init("zs", {}, {sz}).init_int("zz", {}, {-4}, TP::INT8);
  };
  OnnxBuilder qop;
  common(qop);
  OnnxBuilder::attr(qop.node("QLinearConv", {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "B"}, {"y"}, "conv"),
                    "pads", {1, 1, 1, 1});
  qop.node("Flatten", {"y"}, {"f"}, "flat");
  qop.node("QLinearMatMul", {"f", "ys", "yz", "fw", "fws", "fwz", "zs", "zz"}, {"z"}, "fc");
  OnnxBuilder qdq;
  common(qdq);
  qdq.init("Bs", {Co}, sb).init_int("Bz", {Co}, {0, 0, 0, 0}, TP::INT32);
  qdq.node("DequantizeLinear", {"x", "xs", "xz"}, {"x.dq"}, "x_dq");
  OnnxBuilder::attr(qdq.node("DequantizeLinear", {"w", "ws", "wz"}, {"w.dq"}, "w_dq"), "axis", int64_t{0});
  OnnxBuilder::attr(qdq.node("DequantizeLinear", {"B", "Bs", "Bz"}, {"B.dq"}, "B_dq"), "axis", int64_t{0});
  OnnxBuilder::attr(qdq.node("Conv", {"x.dq", "w.dq", "B.dq"}, {"c"}, "conv"), "pads", {1, 1, 1, 1});
  qdq.node("QuantizeLinear", {"c", "ys", "yz"}, {"y"}, "y_q");
  qdq.node("DequantizeLinear", {"y", "ys", "yz"}, {"y.dq"}, "y_dq");
  qdq.node("Flatten", {"y.dq"}, {"f"}, "flat");
  qdq.node("DequantizeLinear", {"fw", "fws", "fwz"}, {"fw.dq"}, "fw_dq");
  qdq.node("MatMul", {"f", "fw.dq"}, {"m"}, "fc");
  qdq.node("QuantizeLinear", {"m", "zs", "zz"}, {"z"}, "z_q");
  Graph a = import_ok(qop, Dialect::QOperator), b = import_ok(qdq, Dialect::Qdq);
  EXPECT_EQ(b.dialect, "qdq");
  auto requants = [](const Graph& g) {
    std::vector<Requant> out;
    for (const Layer& l : g.layers) {
      if (const auto* c = l.as<Conv2d>()) out.push_back(*c->requant);
      if (const auto* f = l.as<FullyConnected>()) out.push_back(*f->requant);
    }
    return out;
  };
  const std::vector<Requant> ra = requants(a), rb = requants(b);
  ASSERT_EQ(ra.size(), 2u);
  ASSERT_EQ(rb.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(ra[i].mul, rb[i].mul) << "layer " << i;
    EXPECT_EQ(ra[i].add, rb[i].add) << "layer " << i;
    EXPECT_EQ(ra[i].divisor, rb[i].divisor) << "layer " << i;
    EXPECT_EQ(ra[i].zero_point, rb[i].zero_point) << "layer " << i;
    EXPECT_EQ(ra[i].lo, rb[i].lo) << "layer " << i;
    EXPECT_EQ(ra[i].hi, rb[i].hi) << "layer " << i;
  }
  for (uint32_t seed = 30; seed < 40; ++seed) {
    const auto x = to32(random_ints(C * H * W, 0, 255, seed));
    EXPECT_EQ(run_output(a, {x}), run_output(b, {x})) << "seed " << seed;
  }
}

TEST(QOperatorImport, AWeightZeroPointOtherThanZeroIsRejectedNamingTheNode) {
  OnnxBuilder b;
  b.input("x", {1, 1, 3, 3}, TP::UINT8).output("y", {1, 1, 3, 3}, TP::UINT8);
  b.init("xs", {}, {0.1f}).init_int("xz", {}, {0}, TP::UINT8);
  b.init_int("w", {1, 1, 1, 1}, {3}, TP::UINT8).init("ws", {}, {0.1f}).init_int("wz", {}, {128}, TP::UINT8);
  b.init("ys", {}, {0.1f}).init_int("yz", {}, {0}, TP::UINT8);
  b.node("QLinearConv", {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz"}, {"y"}, "conv7");
  Diagnostic d = import_error(b);
  EXPECT_EQ(d.code, "onnx-weight-zero-point");
  EXPECT_EQ(d.location, "node 'conv7' (QLinearConv)");
  EXPECT_NE(d.message.find("128"), std::string::npos) << d.message;
  EXPECT_FALSE(d.hint.empty());
}

TEST(QOperatorImport, ABatchedQLinearMatMulIsOneBlockDiagonalFullyConnectedWithExactResults) {
  const int64_t B = 2, M = 3, K = 4, N = 5;
  const float sa = 0.1f, sb = 0.02f, sy = 0.3f;
  const auto a = random_ints(B * M * K, 0, 255, 4);
  const auto w = random_ints(B * K * N, -127, 127, 5);
  OnnxBuilder b;
  b.input("a", {B, M, K}, TP::UINT8).output("y", {B, M, N}, TP::UINT8);
  b.init("as", {}, {sa}).init_int("az", {}, {7}, TP::UINT8);
  b.init_int("b", {B, K, N}, w, TP::INT8).init("bs", {}, {sb}).init_int("bz", {}, {0}, TP::INT8);
  b.init("ys", {}, {sy}).init_int("yz", {}, {100}, TP::UINT8);
  b.node("QLinearMatMul", {"a", "as", "az", "b", "bs", "bz", "ys", "yz"}, {"y"}, "mm");
  Graph g = import_ok(b);
  ASSERT_EQ(g.layers.size(), 1u);
  ASSERT_NE(g.layers[0].as<FullyConnected>(), nullptr);
  EXPECT_EQ(g.tensor(g.outputs[0]).shape, (std::vector<int64_t>{B, M, N}));
  ASSERT_EQ(g.notes.size(), 1u);
  EXPECT_NE(g.notes[0].find("block-diagonal"), std::string::npos) << g.notes[0];

  std::vector<int32_t> got = run_output(g, {to32(a)});
  ASSERT_EQ(got.size(), static_cast<size_t>(B * M * N));
  for (int64_t bt = 0; bt < B; ++bt)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        int64_t acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += (a[(bt * M + m) * K + k] - 7) * w[(bt * K + k) * N + n];
        const int64_t want = clamp(round_half_up(acc * real_m(sa, sb, sy)) + 100, 0, 255);
        EXPECT_EQ(got[(bt * M + m) * N + n], want) << bt << "," << m << "," << n;
      }
}

TEST(QOperatorImport, MatMulIntegerWithTheConstantOnTheLeftGivesTheRawAccumulator) {
  const int64_t M = 3, K = 4, P = 2;
  const auto a = random_ints(M * K, -128, 127, 6);
  const auto x = random_ints(K * P, 0, 255, 7);
  OnnxBuilder b;
  b.input("x", {K, P}, TP::UINT8).output("y", {M, P}, TP::INT32);
  b.init_int("a", {M, K}, a, TP::INT8).init_int("xz", {}, {3}, TP::UINT8);
  b.node("MatMulInteger", {"a", "x", "", "xz"}, {"y"}, "mmi");
  Graph g = import_ok(b);
  ASSERT_EQ(g.layers.size(), 1u);
  const FullyConnected* fc = g.layers[0].as<FullyConnected>();
  ASSERT_NE(fc, nullptr);
  EXPECT_FALSE(fc->requant.has_value());
  EXPECT_EQ(fc->input_zero_point, 3);
  EXPECT_EQ(g.tensor(g.outputs[0]).dtype, DType::Int32);
  std::vector<int32_t> got = run_output(g, {to32(x)});
  for (int64_t m = 0; m < M; ++m)
    for (int64_t p = 0; p < P; ++p) {
      int64_t acc = 0;
      for (int64_t k = 0; k < K; ++k) acc += a[m * K + k] * (x[k * P + p] - 3);
      EXPECT_EQ(got[m * P + p], acc) << m << "," << p;
    }
}

TEST(QOperatorImport, QuantizeLinearInputsAndDequantizeLinearOutputsBecomeHostEdgesAroundIntegerLayers) {
  // float x -> Q -> QLinearConv 1x1 -> MaxPool 2x2/2 -> Clip[20, 200] -> Flatten -> DQ -> float y
  const int64_t C = 2, H = 4, W = 4, Co = 4;
  const auto w = random_ints(Co * C, -127, 127, 8);
  OnnxBuilder b;
  b.input("x", {1, C, H, W}, TP::FLOAT).output("y", {1, Co * 4}, TP::FLOAT);
  b.init("qs", {}, {0.5f}).init_int("qz", {}, {10}, TP::UINT8);
  b.init_int("w", {Co, C, 1, 1}, w, TP::INT8).init("ws", {}, {0.1f}).init_int("wz", {}, {0}, TP::INT8);
  b.init("cs", {}, {0.2f}).init_int("cz", {}, {3}, TP::UINT8);
  b.init_int("lo", {}, {20}, TP::UINT8).init_int("hi", {}, {200}, TP::UINT8);
  b.node("QuantizeLinear", {"x", "qs", "qz"}, {"xq"}, "quant");
  b.node("QLinearConv", {"xq", "qs", "qz", "w", "ws", "wz", "cs", "cz"}, {"c"}, "conv");
  auto& mp = b.node("MaxPool", {"c"}, {"p"}, "pool");
  OnnxBuilder::attr(mp, "kernel_shape", {2, 2});
  OnnxBuilder::attr(mp, "strides", {2, 2});
  b.node("Clip", {"p", "lo", "hi"}, {"r"}, "clip");
  b.node("Flatten", {"r"}, {"f"}, "flat");
  b.node("DequantizeLinear", {"f", "cs", "cz"}, {"y"}, "dequant");
  Graph g = import_ok(b);
  ASSERT_EQ(g.layers.size(), 4u);
  EXPECT_NE(g.layers[0].as<Conv2d>(), nullptr);
  EXPECT_NE(g.layers[1].as<MaxPool>(), nullptr);
  const Requantize* clip = g.layers[2].as<Requantize>();
  ASSERT_NE(clip, nullptr);
  EXPECT_EQ(clip->requant.lo, 20);
  EXPECT_EQ(clip->requant.hi, 200);
  EXPECT_NE(g.layers[3].as<View>(), nullptr);
  EXPECT_EQ(g.tensor(g.outputs[0]).layout, Layout::FlattenedHWC);
  ASSERT_TRUE(g.input_quant.at(0).has_value());
  EXPECT_EQ(g.input_quant[0]->scale, std::vector<float>{0.5f});
  EXPECT_EQ(g.input_quant[0]->zero_point, std::vector<int32_t>{10});
  ASSERT_TRUE(g.output_dequant.at(0).has_value());
  EXPECT_EQ(g.output_dequant[0]->zero_point, std::vector<int32_t>{3});

  std::mt19937 rng(9);
  std::uniform_real_distribution<float> d(-8.f, 130.f);
  std::vector<float> xf(static_cast<size_t>(C * H * W));
  for (float& v : xf) v = d(rng);
  const Tensor& in = g.tensor(g.inputs[0]);
  std::vector<int32_t> got = run_output(g, {quantize_edge(*g.input_quant[0], in.shape, xf)});
  std::vector<float> yf = dequantize_edge(*g.output_dequant[0], g.tensor(g.outputs[0]).shape, got);
  ASSERT_EQ(yf.size(), static_cast<size_t>(Co * 4));
  // Direct computation, ONNX order.
  std::vector<int64_t> xq(xf.size());
  for (size_t i = 0; i < xf.size(); ++i) xq[i] = clamp(std::nearbyint(xf[i] / 0.5f) + 10, 0, 255);
  for (int64_t o = 0; o < Co; ++o)
    for (int64_t ph = 0; ph < 2; ++ph)
      for (int64_t pw = 0; pw < 2; ++pw) {
        int64_t best = INT64_MIN;
        for (int64_t dy = 0; dy < 2; ++dy)
          for (int64_t dx = 0; dx < 2; ++dx) {
            const int64_t h = ph * 2 + dy, ww = pw * 2 + dx;
            int64_t acc = 0;
            for (int64_t c = 0; c < C; ++c) acc += (xq[(c * H + h) * W + ww] - 10) * w[o * C + c];
            best = std::max(best, clamp(round_half_up(acc * real_m(0.5f, 0.1f, 0.2f)) + 3, 0, 255));
          }
        const int64_t q = clamp(best, 20, 200);
        const float want = static_cast<float>(q - 3) * 0.2f;
        EXPECT_EQ(yf[(o * 2 + ph) * 2 + pw], want) << o << "," << ph << "," << pw;
      }
}

TEST(QOperatorImport, ALoneQuantizeLinearOrDequantizeLinearIsAnEdgeWithoutLayers) {
  OnnxBuilder q;
  q.input("x", {6}, TP::FLOAT).output("y", {6}, TP::UINT8);
  q.init("s", {}, {2.f}).init_int("z", {}, {128}, TP::UINT8);
  q.node("QuantizeLinear", {"x", "s", "z"}, {"y"});
  Graph gq = import_ok(q, Dialect::QOperator);
  EXPECT_TRUE(gq.layers.empty());
  ASSERT_TRUE(gq.input_quant.at(0).has_value());
  const std::vector<float> x = {0.f, 2.f, 3.f, 1000.f, -254.f, -1000.f};  // ONNX's test_quantizelinear
  std::vector<int32_t> xi = quantize_edge(*gq.input_quant[0], {6}, x);
  EXPECT_EQ(run_output(gq, {xi}), (std::vector<int32_t>{128, 129, 130, 255, 1, 0}));

  OnnxBuilder dq;
  dq.input("x", {4}, TP::UINT8).output("y", {4}, TP::FLOAT);
  dq.init("s", {}, {2.f}).init_int("z", {}, {128}, TP::UINT8);
  dq.node("DequantizeLinear", {"x", "s", "z"}, {"y"});
  Graph gd = import_ok(dq, Dialect::QOperator);
  EXPECT_TRUE(gd.layers.empty());
  ASSERT_TRUE(gd.output_dequant.at(0).has_value());
  std::vector<int32_t> v = run_output(gd, {{0, 3, 128, 255}});
  EXPECT_EQ(dequantize_edge(*gd.output_dequant[0], {4}, v), (std::vector<float>{-256.f, -250.f, 0.f, 254.f}));
}

TEST(QOperatorImport, FloatComputeBetweenDequantizeLinearAndQuantizeLinearIsRejected) {
  OnnxBuilder b;
  b.input("x", {1, 4}, TP::UINT8).output("y", {1, 4}, TP::UINT8);
  b.init("s", {}, {0.5f}).init_int("z", {}, {10}, TP::UINT8);
  b.node("DequantizeLinear", {"x", "s", "z"}, {"xf"}, "dq");
  b.node("Relu", {"xf"}, {"r"}, "relu");
  b.node("QuantizeLinear", {"r", "s", "z"}, {"y"}, "q");
  Diagnostic d = import_error(b, Dialect::QOperator);
  EXPECT_EQ(d.code, "onnx-float-compute");
  EXPECT_EQ(d.location, "node 'dq' (DequantizeLinear)");
  EXPECT_NE(d.message.find("node 'relu' (Relu)"), std::string::npos) << d.message;
}

TEST(QOperatorImport, AnUnsupportedOpIsRejectedNamingTheNodeAndListingWhatIsSupported) {
  OnnxBuilder b;
  b.input("x", {1, 1, 3, 3}, TP::UINT8).output("y", {1, 1, 3, 3}, TP::INT32);
  b.init_int("w", {1, 1, 1, 1}, {2}, TP::INT8);
  b.node("ConvInteger", {"x", "w"}, {"c"}, "conv");
  b.node("Sigmoid", {"c"}, {"y"}, "sig");
  Diagnostic d = import_error(b);
  EXPECT_EQ(d.code, "onnx-unsupported-op");
  EXPECT_EQ(d.location, "node 'sig' (Sigmoid)");
  EXPECT_NE(d.message.find("QLinearConv"), std::string::npos) << d.message;
}

TEST(QOperatorImport, AMatMulOfTwoActivationsIsRejected) {
  OnnxBuilder b;
  b.input("a", {2, 3}, TP::UINT8).input("b", {3, 2}, TP::UINT8).output("y", {2, 2}, TP::INT32);
  b.node("MatMulInteger", {"a", "b"}, {"y"}, "mm");
  Diagnostic d = import_error(b);
  EXPECT_EQ(d.code, "onnx-unsupported-pattern");
  EXPECT_EQ(d.location, "node 'mm' (MatMulInteger)");
  EXPECT_NE(d.message.find("two activations"), std::string::npos) << d.message;
}

TEST(QOperatorImport, ReluOnAnInt8TensorClampsTheRawIntegersAtZero) {
  OnnxBuilder b;
  b.input("x", {1, 1, 2, 2}, TP::INT8).output("y", {1, 1, 2, 2}, TP::INT32);
  b.init_int("w", {1, 1, 1, 1}, {3}, TP::INT8);
  b.node("ConvInteger", {"x", "w"}, {"c"}, "conv");
  b.node("Relu", {"c"}, {"y"}, "relu");
  Graph g = import_ok(b);
  ASSERT_EQ(g.layers.size(), 2u);
  EXPECT_EQ(run_output(g, {{-5, 0, 4, -128}}), (std::vector<int32_t>{0, 0, 12, 0}));
}

}  // namespace
}  // namespace dory
