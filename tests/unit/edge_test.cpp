// Quantization at the network's edges (src/ir/edge.h): ONNX QuantizeLinear / DequantizeLinear semantics,
//   q = saturate(round_half_to_even(x / scale) + zero_point) in float32,  x = (q - zero_point) * scale,
// per tensor and per axis.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "ir/edge.h"

namespace dory {
namespace {

EdgeQuant per_tensor(float scale, int32_t zp, DType dt) {
  EdgeQuant q;
  q.scale = {scale};
  q.zero_point = {zp};
  q.dtype = dt;
  return q;
}

std::vector<int32_t> quantize(const EdgeQuant& q, const std::vector<float>& x) {
  return quantize_edge(q, {1, static_cast<int64_t>(x.size())}, x);
}

TEST(EdgeQuantize, TiesRoundHalfToEven) {
  EdgeQuant q = per_tensor(1.0f, 0, DType::Int8);
  EXPECT_EQ(quantize(q, {2.5f, 3.5f, -2.5f, -3.5f, 0.5f, 1.5f, -0.5f, -1.5f, 2.4999998f, 2.5000002f}),
            (std::vector<int32_t>{2, 4, -2, -4, 0, 2, 0, -2, 2, 3}));
  // x / scale = 1.25 / 0.5 = 2.5 -> 2;  1.75 / 0.5 = 3.5 -> 4
  EXPECT_EQ(quantize(per_tensor(0.5f, 0, DType::Int8), {1.25f, 1.75f}), (std::vector<int32_t>{2, 4}));
}

TEST(EdgeQuantize, TheZeroPointIsAddedAfterRounding) {
  // uint8, zp 128: round(-0.5) = -0 -> 128; round(0.5) = 0 -> 128; round(1.5) = 2 -> 130; round(-1.5) = -2 -> 126
  EXPECT_EQ(quantize(per_tensor(1.0f, 128, DType::UInt8), {-0.5f, 0.5f, 1.5f, -1.5f}),
            (std::vector<int32_t>{128, 128, 130, 126}));
}

TEST(EdgeQuantize, TheDivisionIsInFloat32AsOnnxSpecifies) {
  // -11.75f / 0.1f is exactly -117.5 in float32 (ties to even: -118), but -117.4999998... in double (-117).
  // Likewise +11.75f -> 117.5 -> 118.
  EXPECT_EQ(quantize(per_tensor(0.1f, 0, DType::Int8), {-11.75f, 11.75f}), (std::vector<int32_t>{-118, 118}));
}

TEST(EdgeQuantize, ResultsSaturateToTheIntegerType) {
  EXPECT_EQ(quantize(per_tensor(1.0f, 0, DType::UInt8), {300.0f, -1.0f, 255.4f, 255.5f, 256.5f, -0.5f}),
            (std::vector<int32_t>{255, 0, 255, 255, 255, 0}));
  EXPECT_EQ(quantize(per_tensor(1.0f, 0, DType::Int8), {200.0f, -200.0f, 127.5f, -128.5f, 1e30f, -1e30f}),
            (std::vector<int32_t>{127, -128, 127, -128, 127, -128}));
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(quantize(per_tensor(0.25f, 0, DType::Int8), {inf, -inf}), (std::vector<int32_t>{127, -128}));
  // The zero point can push an in-range quotient out of range: 120 + 10 = 130 -> 127.
  EXPECT_EQ(quantize(per_tensor(1.0f, 10, DType::Int8), {120.0f}), (std::vector<int32_t>{127}));
  // Wider edge types saturate at their own bounds.
  EXPECT_EQ(quantize(per_tensor(1.0f, 0, DType::Int16), {40000.0f, -40000.0f, 1000.5f}),
            (std::vector<int32_t>{32767, -32768, 1000}));
}

TEST(EdgeQuantize, PerAxisParametersFollowTheAxis) {
  {
    // [1,2,2,1], axis 1: channel 0 scale 1 zp 0, channel 1 scale 0.5 zp 10 (uint8)
    //   c0: 1 -> 1, 2.5 -> 2;   c1: 1 / 0.5 = 2 -> 12, 2.5 / 0.5 = 5 -> 15
    EdgeQuant q;
    q.scale = {1.0f, 0.5f};
    q.zero_point = {0, 10};
    q.axis = 1;
    q.dtype = DType::UInt8;
    EXPECT_EQ(quantize_edge(q, {1, 2, 2, 1}, {1.0f, 2.5f, 1.0f, 2.5f}), (std::vector<int32_t>{1, 2, 12, 15}));
  }
  {
    // [2,3], axis 0: row 0 scale 1, row 1 scale 2: 5 -> 5; 5 / 2 = 2.5 -> 2
    EdgeQuant q;
    q.scale = {1.0f, 2.0f};
    q.zero_point = {0, 0};
    q.axis = 0;
    q.dtype = DType::Int8;
    EXPECT_EQ(quantize_edge(q, {2, 3}, std::vector<float>(6, 5.0f)), (std::vector<int32_t>{5, 5, 5, 2, 2, 2}));
  }
  {
    // [1,2,3], axis 2 (innermost): scales 1, 2, 4: 6 -> 6, 3, 1.5 -> 2
    EdgeQuant q;
    q.scale = {1.0f, 2.0f, 4.0f};
    q.zero_point = {0, 0, 0};
    q.axis = 2;
    q.dtype = DType::Int8;
    EXPECT_EQ(quantize_edge(q, {1, 2, 3}, std::vector<float>(6, 6.0f)), (std::vector<int32_t>{6, 3, 2, 6, 3, 2}));
  }
}

TEST(EdgeDequantize, DequantizeSubtractsTheZeroPointAndScales) {
  EdgeQuant q = per_tensor(0.5f, 128, DType::UInt8);
  EXPECT_EQ(dequantize_edge(q, {1, 3}, {0, 128, 255}), (std::vector<float>{-64.0f, 0.0f, 63.5f}));
  EdgeQuant pa;
  pa.scale = {1.0f, 0.25f};
  pa.zero_point = {0, -4};
  pa.axis = 1;
  pa.dtype = DType::Int8;
  // [1,2,1,2]: c0: 3 -> 3, -3 -> -3;  c1: (0 + 4) * 0.25 = 1, (-8 + 4) * 0.25 = -1
  EXPECT_EQ(dequantize_edge(pa, {1, 2, 1, 2}, {3, -3, 0, -8}), (std::vector<float>{3.0f, -3.0f, 1.0f, -1.0f}));
}

TEST(EdgeDequantize, QuantizeThenDequantizeIsWithinHalfAStepInsideTheRange) {
  EdgeQuant q = per_tensor(0.037f, 100, DType::UInt8);
  std::vector<float> x;
  for (int i = -370; i <= 570; ++i) x.push_back(static_cast<float>(i) * 0.01f);  // [-3.7, 5.7] is within range
  std::vector<float> back = dequantize_edge(q, {1, static_cast<int64_t>(x.size())}, quantize(q, x));
  for (size_t i = 0; i < x.size(); ++i) EXPECT_LE(std::fabs(back[i] - x[i]), 0.037f / 2 * 1.0001f) << "x = " << x[i];
}

}  // namespace
}  // namespace dory
