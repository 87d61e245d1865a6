// Test helper: small seeded models in the forms the usual exporters write, built with the ONNX protobuf API. They
// are the models of the frontend-coverage claims (tests/unit/exporter_patterns_test.cpp: the reference against an
// independent float64 evaluation; tests/e2e/exporter_patterns_test.cpp: deployed on the host platform):
//   ort_qdq_dscnn         onnxruntime quantize_static, QDQ format: a keyword-spotting DS-CNN whose convolutions
//                         read an explicit Pad wrapped in DequantizeLinear -> Pad -> QuantizeLinear -> DequantizeLinear
//                         (the Pad keeps its input's quantization; `rescaled_pad`: the second one is requantized to
//                         another scale and zero point, which dory turns into a Requantize before the padded conv)
//   ort_qoperator_dscnn   the same network in onnxruntime's QOperator format: Pad on the quantized tensor with the
//                         zero point as constant before QLinearConv, a Pad with another value before MaxPool
//   torch_big_padding_qdq convolutions whose padding reaches or exceeds the kernel (a 1x1 conv with padding 1, a
//                         3x1 conv with 3 rows of top padding, a depthwise 3x3 with padding 3) and an AveragePool
//                         with count_include_pad = 1 and padding as large as its kernel, in QDQ form
//   big_padding_integer   the same kind of layers in the integer-deployable dialect (NEMO-style requantization),
//                         with a MaxPool after an explicit zero Pad of 2 around a 2x2 window
//   brevitas_qcdq         Brevitas's QCDQ export: QuantizeLinear -> Clip -> DequantizeLinear on weights (int8
//                         narrow range [-127, 127], 4-bit [-7, 7]) and activations (4-bit unsigned [0, 15], 4-bit
//                         signed [-8, 7], and a 4-bit input)
// Each function returns the serialized model; the graph input is float and named "input", the output "output".
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "onnx_builder.h"

namespace dory::testing {

class ModelRng {
 public:
  explicit ModelRng(uint32_t seed) : g_(seed) {}
  std::vector<int64_t> ints(int64_t n, int64_t lo, int64_t hi) {
    std::uniform_int_distribution<int64_t> d(lo, hi);
    std::vector<int64_t> v(static_cast<size_t>(n));
    for (auto& x : v) x = d(g_);
    return v;
  }
  // float32 values log-uniform in [lo, hi].
  std::vector<float> scales(int64_t n, double lo, double hi) {
    std::uniform_real_distribution<double> d(std::log(lo), std::log(hi));
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = static_cast<float>(std::exp(d(g_)));
    return v;
  }

 private:
  std::mt19937 g_;
};

// QDQ building blocks with initializers (onnxruntime style).
class QdqBuilder {
 public:
  using TP = onnx::TensorProto;
  QdqBuilder(OnnxBuilder& b, ModelRng& rng) : b_(b), rng_(rng) {}

  // QuantizeLinear of `x` into `q` with (s, zp) of `type`, then DequantizeLinear: returns the DQ output.
  std::string q_dq(const std::string& x, const std::string& q, float s, int64_t zp, int type = TP::UINT8) {
    quantize(x, q, s, zp, type);
    const std::string out = q + "_dequantized";
    b_.node("DequantizeLinear", {q, q + "_scale", q + "_zero_point"}, {out}, q + "_DequantizeLinear");
    return out;
  }
  // QuantizeLinear of `x` into `q`, with the initializers q_scale and q_zero_point.
  void quantize(const std::string& x, const std::string& q, float s, int64_t zp, int type = TP::UINT8) {
    b_.init(q + "_scale", {}, {s}).init_int(q + "_zero_point", {}, {zp}, type);
    b_.node("QuantizeLinear", {x, q + "_scale", q + "_zero_point"}, {q}, q + "_QuantizeLinear");
  }
  // DequantizeLinear of seeded int8 weights in [-lim, lim], per output channel (axis 0) when `scales` has more
  // than one value.
  std::string weights(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& scales,
                      int64_t lim = 127) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    const int64_t k = static_cast<int64_t>(scales.size());
    b_.init_int(name, shape, rng_.ints(n, -lim, lim), TP::INT8);
    b_.init(name + "_scale", k > 1 ? std::vector<int64_t>{k} : std::vector<int64_t>{}, scales);
    b_.init_int(name + "_zero_point", k > 1 ? std::vector<int64_t>{k} : std::vector<int64_t>{},
                std::vector<int64_t>(static_cast<size_t>(k), 0), TP::INT8);
    auto& dq = b_.node("DequantizeLinear", {name, name + "_scale", name + "_zero_point"}, {name + "_dequantized"},
                       name + "_DequantizeLinear");
    if (k > 1) OnnxBuilder::attr(dq, "axis", int64_t{0});
    return name + "_dequantized";
  }
  // DequantizeLinear of a seeded int32 bias in [-lim, lim] with scale float32(s_x * s_w[c]), as onnxruntime and
  // torch write it.
  std::string bias(const std::string& name, int64_t n, float s_x, const std::vector<float>& s_w, int64_t lim) {
    std::vector<float> s;
    for (int64_t c = 0; c < n; ++c) s.push_back(s_x * s_w[s_w.size() == 1 ? 0 : static_cast<size_t>(c)]);
    b_.init_int(name, {n}, rng_.ints(n, -lim, lim), TP::INT32);
    b_.init(name + "_scale", {n}, s).init_int(name + "_zero_point", {n}, std::vector<int64_t>(static_cast<size_t>(n), 0),
                                              TP::INT32);
    auto& dq = b_.node("DequantizeLinear", {name, name + "_scale", name + "_zero_point"}, {name + "_dequantized"},
                       name + "_DequantizeLinear");
    OnnxBuilder::attr(dq, "axis", int64_t{0});
    return name + "_dequantized";
  }
  // A constant Pad of the spatial axes (top, left, bottom, right) of a [1,C,H,W] value; `value` empty: no
  // constant input (ONNX pads with 0).
  std::string pad(const std::string& x, const std::string& name, std::vector<int64_t> tlbr,
                  const std::string& value = "") {
    b_.init_int(name + "_pads", {8}, {0, 0, tlbr[0], tlbr[1], 0, 0, tlbr[2], tlbr[3]}, TP::INT64);
    std::vector<std::string> in = {x, name + "_pads"};
    if (!value.empty()) in.push_back(value);
    b_.node("Pad", in, {name + "_output"}, name);
    return name + "_output";
  }

 private:
  OnnxBuilder& b_;
  ModelRng& rng_;
};

// ---- onnxruntime quantize_static, QDQ format -----------------------------------------------------------------

// input [1,1,20,10] -> Pad(4,1,5,2) -> Conv 10x4 stride 2 (8 channels) + Relu -> Pad(1) -> depthwise 3x3 + Relu
// -> pointwise 1x1 + Relu -> GlobalAveragePool -> Flatten -> Gemm (4 classes).
inline std::string ort_qdq_dscnn(bool rescaled_pad = false, uint32_t seed = 16) {
  OnnxBuilder b(13);
  b.proto().mutable_graph()->set_name("ort_qdq_dscnn");
  ModelRng rng(seed);
  QdqBuilder q(b, rng);
  b.input("input", {1, 1, 20, 10});
  const float s_in = 0.05f, s1 = 0.25f, s2 = 0.2f, s3 = 0.25f, s_out = 0.5f;
  std::string x = q.q_dq("input", "input_quantized", s_in, 128);
  // onnxruntime: the Pad's output keeps the quantization of its input
  x = q.q_dq(q.pad(x, "conv1_pad", {4, 1, 5, 2}), "conv1_pad_output_quantized", s_in, 128);
  const std::vector<float> sw1 = rng.scales(8, 0.002, 0.02);
  std::string w = q.weights("conv1_weight", {8, 1, 10, 4}, sw1);
  std::string bias = q.bias("conv1_bias", 8, s_in, sw1, 3000);
  OnnxBuilder::attr(b.node("Conv", {x, w, bias}, {"conv1_output"}, "conv1"), "strides", {2, 2});
  b.node("Relu", {"conv1_output"}, {"conv1_relu_output"}, "conv1_relu");
  x = q.q_dq("conv1_relu_output", "conv1_relu_output_quantized", s1, 0);
  // the second Pad: requantized with its input's parameters (onnxruntime), or with others (`rescaled_pad`)
  const float sp = rescaled_pad ? 0.3f : s1;
  const int64_t zp = rescaled_pad ? 7 : 0;
  x = q.q_dq(q.pad(x, "dw_pad", {1, 1, 1, 1}), "dw_pad_output_quantized", sp, zp);
  const std::vector<float> sw2 = rng.scales(8, 0.005, 0.05);
  w = q.weights("dw_weight", {8, 1, 3, 3}, sw2);
  bias = q.bias("dw_bias", 8, sp, sw2, 2000);
  OnnxBuilder::attr(b.node("Conv", {x, w, bias}, {"dw_output"}, "dw"), "group", int64_t{8});
  b.node("Relu", {"dw_output"}, {"dw_relu_output"}, "dw_relu");
  x = q.q_dq("dw_relu_output", "dw_relu_output_quantized", s2, 0);
  const std::vector<float> sw3 = rng.scales(8, 0.005, 0.03);
  w = q.weights("pw_weight", {8, 8, 1, 1}, sw3);
  bias = q.bias("pw_bias", 8, s2, sw3, 2000);
  b.node("Conv", {x, w, bias}, {"pw_output"}, "pw");
  b.node("Relu", {"pw_output"}, {"pw_relu_output"}, "pw_relu");
  x = q.q_dq("pw_relu_output", "pw_relu_output_quantized", s3, 0);
  b.node("GlobalAveragePool", {x}, {"gap_output"}, "gap");
  x = q.q_dq("gap_output", "gap_output_quantized", s3, 0);
  b.node("Flatten", {x}, {"flatten_output"}, "flatten");
  const std::vector<float> sw4 = rng.scales(1, 0.005, 0.02);
  w = q.weights("fc_weight", {4, 8}, sw4);
  bias = q.bias("fc_bias", 4, s3, sw4, 2000);
  OnnxBuilder::attr(b.node("Gemm", {"flatten_output", w, bias}, {"fc_output"}, "fc"), "transB", int64_t{1});
  q.quantize("fc_output", "fc_output_quantized", s_out, 128);
  b.node("DequantizeLinear", {"fc_output_quantized", "fc_output_quantized_scale", "fc_output_quantized_zero_point"},
         {"output"}, "output_DequantizeLinear");
  b.output("output", {1, 4});
  return b.bytes();
}

// ---- onnxruntime quantize_static, QOperator format -------------------------------------------------------------

// input [1,1,20,10] -> QuantizeLinear -> Pad(4,1,5,2; the zero point) -> QLinearConv 10x4 stride 2 -> Pad(1; the
// zero point) -> depthwise QLinearConv 3x3 -> pointwise QLinearConv -> Pad(0,0,1,1; 0) -> MaxPool 2x2 stride 2 ->
// Flatten -> QLinearMatMul -> DequantizeLinear.
inline std::string ort_qoperator_dscnn(uint32_t seed = 17) {
  using TP = onnx::TensorProto;
  OnnxBuilder b(13);
  b.proto().mutable_graph()->set_name("ort_qoperator_dscnn");
  ModelRng rng(seed);
  QdqBuilder q(b, rng);
  b.input("input", {1, 1, 20, 10});
  q.quantize("input", "input_quantized", 0.05f, 128);
  // a QLinearConv: x (with its scale/zero point initializers `xq`), weights [co, ci, kh, kw], output quantization
  auto qconv = [&](const std::string& x, const std::string& xq, const std::string& name, std::vector<int64_t> ws,
                   float sy, int64_t zy, int64_t group, std::vector<int64_t> strides) {
    const int64_t co = ws[0];
    const std::vector<float> sw = rng.scales(co, 0.003, 0.03);
    int64_t n = 1;
    for (int64_t d : ws) n *= d;
    b.init_int(name + "_weight", ws, rng.ints(n, -127, 127), TP::INT8);
    b.init(name + "_weight_scale", {co}, sw).init_int(name + "_weight_zero_point", {co},
                                                      std::vector<int64_t>(static_cast<size_t>(co), 0), TP::INT8);
    b.init_int(name + "_bias", {co}, rng.ints(co, -2000, 2000), TP::INT32);
    b.init(name + "_output_scale", {}, {sy}).init_int(name + "_output_zero_point", {}, {zy}, TP::UINT8);
    auto& c = b.node("QLinearConv",
                     {x, xq + "_scale", xq + "_zero_point", name + "_weight", name + "_weight_scale",
                      name + "_weight_zero_point", name + "_output_scale", name + "_output_zero_point", name + "_bias"},
                     {name + "_output"}, name);
    OnnxBuilder::attr(c, "group", group);
    OnnxBuilder::attr(c, "strides", strides);
    return name + "_output";
  };
  b.init_int("input_pad_value", {}, {128}, TP::UINT8);
  std::string x = q.pad("input_quantized", "conv1_pad", {4, 1, 5, 2}, "input_pad_value");
  x = qconv(x, "input_quantized", "conv1", {8, 1, 10, 4}, 0.25f, 3, 1, {2, 2});
  b.init_int("conv1_pad_value", {}, {3}, TP::UINT8);  // conv1's output zero point
  x = q.pad(x, "dw_pad", {1, 1, 1, 1}, "conv1_pad_value");
  x = qconv(x, "conv1_output", "dw", {8, 1, 3, 3}, 0.2f, 0, 8, {1, 1});
  x = qconv(x, "dw_output", "pw", {8, 8, 1, 1}, 0.25f, 10, 1, {1, 1});
  b.init_int("pool_pad_value", {}, {0}, TP::UINT8);  // below the zero point 10: a pad value of its own
  x = q.pad(x, "pool_pad", {0, 0, 1, 1}, "pool_pad_value");
  auto& mp = b.node("MaxPool", {x}, {"pool_output"}, "pool");
  OnnxBuilder::attr(mp, "kernel_shape", {2, 2});
  OnnxBuilder::attr(mp, "strides", {2, 2});
  b.node("Flatten", {"pool_output"}, {"flatten_output"}, "flatten");
  const int64_t K = 8 * 5 * 3;
  b.init_int("fc_weight", {K, 4}, rng.ints(K * 4, -127, 127), TP::INT8);
  b.init("fc_weight_scale", {}, {0.004f}).init_int("fc_weight_zero_point", {}, {0}, TP::INT8);
  b.init("fc_output_scale", {}, {0.5f}).init_int("fc_output_zero_point", {}, {128}, TP::UINT8);
  b.node("QLinearMatMul",
         {"flatten_output", "pw_output_scale", "pw_output_zero_point", "fc_weight", "fc_weight_scale",
          "fc_weight_zero_point", "fc_output_scale", "fc_output_zero_point"},
         {"fc_output"}, "fc");
  b.node("DequantizeLinear", {"fc_output", "fc_output_scale", "fc_output_zero_point"}, {"output"},
         "output_DequantizeLinear");
  b.output("output", {1, 4});
  return b.bytes();
}

// ---- padding as large as the kernel ----------------------------------------------------------------------------

// input [1,3,6,6] -> Conv 1x1 pads 1 (4 ch) -> Conv 3x1 pads (top 3, right 2) + Relu -> depthwise 3x3 pads 3
// stride 2 -> AveragePool 2x2 stride 2 pads (2, 0, 2, 2) count_include_pad = 1, in QDQ form (torch writes the
// convolution's padding as its pads attribute).
inline std::string torch_big_padding_qdq(uint32_t seed = 18) {
  OnnxBuilder b(13);
  b.proto().mutable_graph()->set_name("torch_big_padding_qdq");
  ModelRng rng(seed);
  QdqBuilder q(b, rng);
  b.input("input", {1, 3, 6, 6});
  std::string x = q.q_dq("input", "input_quantized", 0.04f, 120);
  std::vector<float> sw = rng.scales(4, 0.005, 0.03);
  std::string w = q.weights("c1_weight", {4, 3, 1, 1}, sw), bias = q.bias("c1_bias", 4, 0.04f, sw, 4000);
  OnnxBuilder::attr(b.node("Conv", {x, w, bias}, {"c1_output"}, "c1"), "pads", {1, 1, 1, 1});
  x = q.q_dq("c1_output", "c1_output_quantized", 0.05f, 100);
  sw = rng.scales(4, 0.005, 0.03);
  w = q.weights("c2_weight", {4, 4, 3, 1}, sw), bias = q.bias("c2_bias", 4, 0.05f, sw, 4000);
  OnnxBuilder::attr(b.node("Conv", {x, w, bias}, {"c2_output"}, "c2"), "pads", {3, 0, 0, 2});
  b.node("Relu", {"c2_output"}, {"c2_relu_output"}, "c2_relu");
  x = q.q_dq("c2_relu_output", "c2_relu_output_quantized", 0.05f, 0);
  sw = rng.scales(4, 0.01, 0.05);
  w = q.weights("dw_weight", {4, 1, 3, 3}, sw), bias = q.bias("dw_bias", 4, 0.05f, sw, 4000);
  auto& dw = b.node("Conv", {x, w, bias}, {"dw_output"}, "dw");
  OnnxBuilder::attr(dw, "group", int64_t{4});
  OnnxBuilder::attr(dw, "pads", {3, 3, 3, 3});
  OnnxBuilder::attr(dw, "strides", {2, 2});
  x = q.q_dq("dw_output", "dw_output_quantized", 0.1f, 128);
  auto& ap = b.node("AveragePool", {x}, {"pool_output"}, "pool");
  OnnxBuilder::attr(ap, "kernel_shape", {2, 2});
  OnnxBuilder::attr(ap, "strides", {2, 2});
  OnnxBuilder::attr(ap, "pads", {2, 0, 2, 2});
  OnnxBuilder::attr(ap, "count_include_pad", int64_t{1});
  q.quantize("pool_output", "pool_output_quantized", 0.1f, 128);
  b.node("DequantizeLinear", {"pool_output_quantized", "pool_output_quantized_scale", "pool_output_quantized_zero_point"},
         {"output"}, "output_DequantizeLinear");
  b.output("output", {1, 4, 5, 4});
  return b.bytes();
}

// input [1,2,5,5] (uint8 values in a float tensor) -> Conv 3x1 pads (top 3, right 2) -> Mul, Add, Div 256, Floor,
// Clip(0, 255) -> Pad 2 (value 0) -> MaxPool 2x2 stride 2 -> Conv 1x1 pads 1 -> Mul, Div 128, Floor, Clip(0, 255)
// -> AveragePool 3x3 stride 2 pads 3 count_include_pad = 1 -> Floor.
inline std::string big_padding_integer(uint32_t seed = 19) {
  OnnxBuilder b(13);
  b.proto().mutable_graph()->set_name("big_padding_integer");
  ModelRng rng(seed);
  auto floats = [](const std::vector<int64_t>& v) { return std::vector<float>(v.begin(), v.end()); };
  b.input("input", {1, 2, 5, 5});
  b.init("c1_weight", {3, 2, 3, 1}, floats(rng.ints(18, -20, 20))).init("c1_bias", {3}, floats(rng.ints(3, -500, 500)));
  b.init("c1_mul", {3, 1, 1}, floats(rng.ints(3, 5, 40))).init("half256", {}, {128}).init("d256", {}, {256});
  b.init("lo", {}, {0}).init("hi", {}, {255});
  OnnxBuilder::attr(b.node("Conv", {"input", "c1_weight", "c1_bias"}, {"c1_output"}, "c1"), "pads", {3, 0, 0, 2});
  b.node("Mul", {"c1_output", "c1_mul"}, {"c1_scaled"}, "c1_mul_node");
  b.node("Add", {"c1_scaled", "half256"}, {"c1_rounded"}, "c1_add");
  b.node("Div", {"c1_rounded", "d256"}, {"c1_divided"}, "c1_div");
  b.node("Floor", {"c1_divided"}, {"c1_floored"}, "c1_floor");
  b.node("Clip", {"c1_floored", "lo", "hi"}, {"c1_clipped"}, "c1_clip");
  b.init_int("pool_pads_i", {8}, {0, 0, 2, 2, 0, 0, 2, 2}, onnx::TensorProto::INT64);
  b.node("Pad", {"c1_clipped", "pool_pads_i"}, {"pool_padded"}, "pool_pad");
  auto& mp = b.node("MaxPool", {"pool_padded"}, {"pool_output"}, "pool");
  OnnxBuilder::attr(mp, "kernel_shape", {2, 2});
  OnnxBuilder::attr(mp, "strides", {2, 2});
  b.init("c2_weight", {4, 3, 1, 1}, floats(rng.ints(12, -30, 30))).init("c2_bias", {4}, floats(rng.ints(4, -300, 300)));
  b.init("c2_mul", {}, {3}).init("d128", {}, {128});
  OnnxBuilder::attr(b.node("Conv", {"pool_output", "c2_weight", "c2_bias"}, {"c2_output"}, "c2"), "pads", {1, 1, 1, 1});
  b.node("Mul", {"c2_output", "c2_mul"}, {"c2_scaled"}, "c2_mul_node");
  b.node("Div", {"c2_scaled", "d128"}, {"c2_divided"}, "c2_div");
  b.node("Floor", {"c2_divided"}, {"c2_floored"}, "c2_floor");
  b.node("Clip", {"c2_floored", "lo", "hi"}, {"c2_clipped"}, "c2_clip");
  auto& ap = b.node("AveragePool", {"c2_clipped"}, {"avg_output"}, "avg");
  OnnxBuilder::attr(ap, "kernel_shape", {3, 3});
  OnnxBuilder::attr(ap, "strides", {2, 2});
  OnnxBuilder::attr(ap, "pads", {3, 3, 3, 3});
  OnnxBuilder::attr(ap, "count_include_pad", int64_t{1});
  b.node("Floor", {"avg_output"}, {"output"}, "avg_floor");
  b.output("output", {1, 4, 6, 6});
  return b.bytes();
}

// ---- Brevitas QCDQ ---------------------------------------------------------------------------------------------

// input [1,2,6,6] -> QuantizeLinear int8 -> Clip(-8, 7) (a 4-bit input) -> DequantizeLinear -> Conv 3x3 pads 1 with
// narrow-range int8 weights (QuantizeLinear of float weights -> Clip(-127, 127) -> DequantizeLinear, per channel)
// -> Relu -> QuantizeLinear uint8 -> Clip(0, 15) -> DequantizeLinear (4-bit unsigned) -> Conv 3x3 stride 2 pads 1
// with 4-bit weights (Clip(-7, 7)) -> QuantizeLinear int8 -> Clip(-8, 7) (4-bit signed) -> DequantizeLinear ->
// Flatten -> Gemm (narrow-range int8 weights) -> QuantizeLinear int8 -> DequantizeLinear. Biases are int32 with
// DequantizeLinear (Brevitas's Int32Bias). The float weights are exact multiples of their scales, some at -128
// (clipped to -127 by the narrow range).
inline std::string brevitas_qcdq(uint32_t seed = 20) {
  using TP = onnx::TensorProto;
  OnnxBuilder b(13);
  b.proto().mutable_graph()->set_name("brevitas_qcdq");
  ModelRng rng(seed);
  QdqBuilder q(b, rng);
  // QuantizeLinear -> Clip(lo, hi) -> DequantizeLinear of `x`: returns the DQ output.
  auto qcdq = [&](const std::string& x, const std::string& name, float s, int64_t lo, int64_t hi, int type) {
    q.quantize(x, name + "_quantized", s, 0, type);
    b.init_int(name + "_clip_min", {}, {lo}, type).init_int(name + "_clip_max", {}, {hi}, type);
    b.node("Clip", {name + "_quantized", name + "_clip_min", name + "_clip_max"}, {name + "_clipped"}, name + "_Clip");
    b.node("DequantizeLinear", {name + "_clipped", name + "_quantized_scale", name + "_quantized_zero_point"},
           {name + "_dequantized"}, name + "_DequantizeLinear");
    return name + "_dequantized";
  };
  // Float weights k * s (k integers in [lo, hi]) -> QuantizeLinear (per channel along axis 0 when `s` has several
  // values) -> Clip(clip_lo, clip_hi) -> DequantizeLinear.
  auto weights = [&](const std::string& name, std::vector<int64_t> shape, const std::vector<float>& s, int64_t lo,
                     int64_t hi, int64_t clip_lo, int64_t clip_hi) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    const int64_t per = n / shape[0], k = static_cast<int64_t>(s.size());
    const std::vector<int64_t> ks = rng.ints(n, lo, hi);
    std::vector<float> w;
    for (int64_t i = 0; i < n; ++i)
      w.push_back(static_cast<float>(ks[static_cast<size_t>(i)]) * s[k == 1 ? 0 : static_cast<size_t>(i / per)]);
    b.init(name + "_float", shape, w);
    const std::vector<int64_t> sshape = k > 1 ? std::vector<int64_t>{k} : std::vector<int64_t>{};
    b.init(name + "_scale", sshape, s).init_int(name + "_zero_point", sshape, std::vector<int64_t>(static_cast<size_t>(k), 0),
                                                TP::INT8);
    auto& ql = b.node("QuantizeLinear", {name + "_float", name + "_scale", name + "_zero_point"}, {name + "_quantized"},
                      name + "_QuantizeLinear");
    b.init_int(name + "_clip_min", {}, {clip_lo}, TP::INT8).init_int(name + "_clip_max", {}, {clip_hi}, TP::INT8);
    b.node("Clip", {name + "_quantized", name + "_clip_min", name + "_clip_max"}, {name + "_clipped"}, name + "_Clip");
    auto& dq = b.node("DequantizeLinear", {name + "_clipped", name + "_scale", name + "_zero_point"},
                      {name + "_dequantized"}, name + "_DequantizeLinear");
    if (k > 1) {
      OnnxBuilder::attr(ql, "axis", int64_t{0});
      OnnxBuilder::attr(dq, "axis", int64_t{0});
    }
    return name + "_dequantized";
  };
  b.input("input", {1, 2, 6, 6});
  const float s_in = 0.25f, s1 = 0.1f, s2 = 0.3f, s_out = 0.5f;
  std::string x = qcdq("input", "input", s_in, -8, 7, TP::INT8);
  std::vector<float> sw = rng.scales(4, 0.005, 0.02);
  std::string w = weights("conv1_weight", {4, 2, 3, 3}, sw, -128, 127, -127, 127);
  std::string bias = q.bias("conv1_bias", 4, s_in, sw, 1000);
  OnnxBuilder::attr(b.node("Conv", {x, w, bias}, {"conv1_output"}, "conv1"), "pads", {1, 1, 1, 1});
  b.node("Relu", {"conv1_output"}, {"conv1_relu_output"}, "conv1_relu");
  x = qcdq("conv1_relu_output", "act1", s1, 0, 15, TP::UINT8);
  sw = rng.scales(1, 0.05, 0.1);
  w = weights("conv2_weight", {4, 4, 3, 3}, sw, -8, 7, -7, 7);
  bias = q.bias("conv2_bias", 4, s1, sw, 100);
  auto& c2 = b.node("Conv", {x, w, bias}, {"conv2_output"}, "conv2");
  OnnxBuilder::attr(c2, "pads", {1, 1, 1, 1});
  OnnxBuilder::attr(c2, "strides", {2, 2});
  x = qcdq("conv2_output", "act2", s2, -8, 7, TP::INT8);
  b.node("Flatten", {x}, {"flatten_output"}, "flatten");
  sw = rng.scales(1, 0.01, 0.02);
  w = weights("fc_weight", {5, 36}, sw, -128, 127, -127, 127);
  bias = q.bias("fc_bias", 5, s2, sw, 500);
  OnnxBuilder::attr(b.node("Gemm", {"flatten_output", w, bias}, {"fc_output"}, "fc"), "transB", int64_t{1});
  q.quantize("fc_output", "fc_output_quantized", s_out, 0, TP::INT8);
  b.node("DequantizeLinear", {"fc_output_quantized", "fc_output_quantized_scale", "fc_output_quantized_zero_point"},
         {"output"}, "output_DequantizeLinear");
  b.output("output", {1, 5});
  return b.bytes();
}

}  // namespace dory::testing
