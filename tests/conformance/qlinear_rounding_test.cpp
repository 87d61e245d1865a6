// Conformance of dory's rule for real requantization multipliers (onnx/real_multiplier.h) with ONNX's own test
// data for QLinearConv and QLinearMatMul.
//
// Those three cases use weights with a non-zero zero point, which the QOperator importer rejects (dory's weights
// are symmetric), so onnx_node_test.cpp cannot run them end to end. Here the accumulator is computed directly,
// sum (x - zp_x) * (w - zp_w) in integers, and requantized exactly as an imported layer would be:
// requant_from_real() with the importer's accumulator bound (accumulator_bounds() of the weights and the uint8
// input) for (m, a, D), and dory_requant64() from the runtime header. Every output must equal ONNX's, and also with
// the loosest bound (any int32 accumulator, the smallest shift the rule ever picks).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "dory/requant.h"
#include "onnx/real_multiplier.h"
#include "onnx_testdata.h"

namespace dory {
namespace {

using testdata::case_tensor;
using testdata::Values;

bool have(const char* name) {
  return std::filesystem::is_directory(std::filesystem::path(DORY_ONNX_TESTDATA) / name);
}

int32_t requantize(const Requant& rq, int64_t acc) {
  dory_divisor d = rq.make_divisor();
  return dory_requant64(static_cast<int32_t>(acc), rq.mul[0], rq.add[0], &d, rq.zero_point, rq.lo, rq.hi);
}

// real = s_a * s_b / s_y from the float32 scales, evaluated in double (the rule's step 1).
double real_multiplier(const Values& sa, const Values& sb, const Values& sy) { return sa.v[0] * sb.v[0] / sy.v[0]; }

// The Requants to check: with the importer's bound for weights `w` ([channels][k], zero point already removed) read
// by a uint8 input with zero point `x_zp` (one multiplier: the largest channel bound), and with |acc| <= 2^31 - 1.
std::vector<Requant> requants(double M, const std::vector<int32_t>& w, int64_t channels, int32_t x_zp, int32_t y_zp,
                              const std::string& where) {
  std::vector<Requant> out;
  const auto importer = onnxfe::accumulator_bounds(w, {}, channels, dtype_range(DType::UInt8), x_zp);
  for (const auto& bound : {importer, std::vector<int64_t>{std::numeric_limits<int32_t>::max()}}) {
    auto rq = onnxfe::requant_from_real({M}, onnxfe::MultiplierUse::accumulators(bound), y_zp, 0, 255, where);
    EXPECT_TRUE(rq.ok()) << rq.error().str();
    if (rq.ok()) out.push_back(rq.value());
  }
  return out;
}

TEST(QLinearRoundingRule, ReproducesTestQlinearconvExactly) {
  if (!have("test_qlinearconv")) GTEST_SKIP() << "libonnx-testdata is not installed";
  const std::string c = "test_qlinearconv";
  Values x = case_tensor(c, "input", 0), xs = case_tensor(c, "input", 1), xz = case_tensor(c, "input", 2);
  Values w = case_tensor(c, "input", 3), ws = case_tensor(c, "input", 4), wz = case_tensor(c, "input", 5);
  Values ys = case_tensor(c, "input", 6), yz = case_tensor(c, "input", 7), want = case_tensor(c, "output", 0);
  ASSERT_EQ(w.v.size(), 1u) << "the case is a 1x1 convolution of one channel";
  ASSERT_EQ(want.v.size(), x.v.size());
  ASSERT_EQ(x.type, onnx::TensorProto::UINT8);
  const std::vector<int32_t> weights = {static_cast<int32_t>(w.v[0] - wz.v[0])};
  const auto rqs = requants(real_multiplier(xs, ws, ys), weights, 1, static_cast<int32_t>(xz.v[0]),
                            static_cast<int32_t>(yz.v[0]), c);
  ASSERT_EQ(rqs.size(), 2u);
  for (const Requant& rq : rqs)
    for (size_t i = 0; i < x.v.size(); ++i) {
      const int64_t acc = static_cast<int64_t>(x.v[i] - xz.v[0]) * static_cast<int64_t>(w.v[0] - wz.v[0]);
      EXPECT_EQ(requantize(rq, acc), want.v[i]) << "element " << i << ", acc " << acc << ", divisor " << rq.divisor;
    }
}

void check_matmul(const std::string& c) {
  Values a = case_tensor(c, "input", 0), as = case_tensor(c, "input", 1), az = case_tensor(c, "input", 2);
  Values b = case_tensor(c, "input", 3), bs = case_tensor(c, "input", 4), bz = case_tensor(c, "input", 5);
  Values ys = case_tensor(c, "input", 6), yz = case_tensor(c, "input", 7), want = case_tensor(c, "output", 0);
  const size_t r = a.shape.size();
  ASSERT_TRUE(r == 2 || r == 3);
  const int64_t batch = r == 3 ? a.shape[0] : 1, M = a.shape[r - 2], K = a.shape[r - 1], N = b.shape[r - 1];
  ASSERT_EQ(a.type, onnx::TensorProto::UINT8);
  // The importer's FC weights: one row per output column n of each batch, [b][n][k].
  std::vector<int32_t> weights;
  for (int64_t bt = 0; bt < batch; ++bt)
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k = 0; k < K; ++k)
        weights.push_back(static_cast<int32_t>(b.v[static_cast<size_t>((bt * K + k) * N + n)] - bz.v[0]));
  const auto rqs = requants(real_multiplier(as, bs, ys), weights, batch * N, static_cast<int32_t>(az.v[0]),
                            static_cast<int32_t>(yz.v[0]), c);
  ASSERT_EQ(rqs.size(), 2u);
  ASSERT_EQ(static_cast<int64_t>(want.v.size()), batch * M * N);
  for (int64_t bt = 0; bt < batch; ++bt)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        int64_t acc = 0;
        for (int64_t k = 0; k < K; ++k)
          acc += static_cast<int64_t>(a.v[static_cast<size_t>((bt * M + m) * K + k)] - az.v[0]) *
                 static_cast<int64_t>(b.v[static_cast<size_t>((bt * K + k) * N + n)] - bz.v[0]);
        const size_t o = static_cast<size_t>((bt * M + m) * N + n);
        for (const Requant& rq : rqs)
          EXPECT_EQ(requantize(rq, acc), want.v[o]) << c << " element " << o << ", acc " << acc << ", divisor "
                                                    << rq.divisor;
      }
}

TEST(QLinearRoundingRule, ReproducesTestQlinearmatmul2DExactly) {
  if (!have("test_qlinearmatmul_2D")) GTEST_SKIP() << "libonnx-testdata is not installed";
  check_matmul("test_qlinearmatmul_2D");
}

TEST(QLinearRoundingRule, ReproducesTestQlinearmatmul3DExactly) {
  if (!have("test_qlinearmatmul_3D")) GTEST_SKIP() << "libonnx-testdata is not installed";
  check_matmul("test_qlinearmatmul_3D");
}

}  // namespace
}  // namespace dory
