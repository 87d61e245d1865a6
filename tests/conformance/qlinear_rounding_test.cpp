// Conformance of dory's rule for real requantization multipliers (onnx/real_multiplier.h) with ONNX's own test
// data for QLinearConv and QLinearMatMul.
//
// Those three cases use weights with a non-zero zero point, which the QOperator importer rejects (dory's weights
// are symmetric), so onnx_node_test.cpp cannot run them end to end. Here the accumulator is computed directly,
// sum (x - zp_x) * (w - zp_w) in integers, and requantized exactly as an imported layer would be:
// requant_from_real() for (m, a, D) and dory_requant64() from the runtime header. Every output must equal ONNX's.
#include <gtest/gtest.h>

#include <cmath>

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

TEST(QLinearRoundingRule, ReproducesTestQlinearconvExactly) {
  if (!have("test_qlinearconv")) GTEST_SKIP() << "libonnx-testdata is not installed";
  const std::string c = "test_qlinearconv";
  Values x = case_tensor(c, "input", 0), xs = case_tensor(c, "input", 1), xz = case_tensor(c, "input", 2);
  Values w = case_tensor(c, "input", 3), ws = case_tensor(c, "input", 4), wz = case_tensor(c, "input", 5);
  Values ys = case_tensor(c, "input", 6), yz = case_tensor(c, "input", 7), want = case_tensor(c, "output", 0);
  ASSERT_EQ(w.v.size(), 1u) << "the case is a 1x1 convolution of one channel";
  ASSERT_EQ(want.v.size(), x.v.size());
  auto rq = onnxfe::requant_from_real({real_multiplier(xs, ws, ys)}, static_cast<int32_t>(yz.v[0]), 0, 255, c);
  ASSERT_TRUE(rq.ok()) << rq.error().str();
  for (size_t i = 0; i < x.v.size(); ++i) {
    const int64_t acc = static_cast<int64_t>(x.v[i] - xz.v[0]) * static_cast<int64_t>(w.v[0] - wz.v[0]);
    EXPECT_EQ(requantize(rq->requant, acc), want.v[i]) << "element " << i << ", acc " << acc;
  }
}

void check_matmul(const std::string& c) {
  Values a = case_tensor(c, "input", 0), as = case_tensor(c, "input", 1), az = case_tensor(c, "input", 2);
  Values b = case_tensor(c, "input", 3), bs = case_tensor(c, "input", 4), bz = case_tensor(c, "input", 5);
  Values ys = case_tensor(c, "input", 6), yz = case_tensor(c, "input", 7), want = case_tensor(c, "output", 0);
  const size_t r = a.shape.size();
  ASSERT_TRUE(r == 2 || r == 3);
  const int64_t batch = r == 3 ? a.shape[0] : 1, M = a.shape[r - 2], K = a.shape[r - 1], N = b.shape[r - 1];
  auto rq = onnxfe::requant_from_real({real_multiplier(as, bs, ys)}, static_cast<int32_t>(yz.v[0]), 0, 255, c);
  ASSERT_TRUE(rq.ok()) << rq.error().str();
  ASSERT_EQ(static_cast<int64_t>(want.v.size()), batch * M * N);
  for (int64_t bt = 0; bt < batch; ++bt)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        int64_t acc = 0;
        for (int64_t k = 0; k < K; ++k)
          acc += static_cast<int64_t>(a.v[static_cast<size_t>((bt * M + m) * K + k)] - az.v[0]) *
                 static_cast<int64_t>(b.v[static_cast<size_t>((bt * K + k) * N + n)] - bz.v[0]);
        const size_t o = static_cast<size_t>((bt * M + m) * N + n);
        EXPECT_EQ(requantize(rq->requant, acc), want.v[o]) << c << " element " << o << ", acc " << acc;
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
