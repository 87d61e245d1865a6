// The rounding rule for real requantization multipliers (onnx/real_multiplier.h).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "dory/requant.h"
#include "onnx/real_multiplier.h"

namespace dory::onnxfe {
namespace {

int32_t apply(const Requant& rq, int32_t acc, size_t c = 0) {
  dory_divisor d = rq.make_divisor();
  return dory_requant64(acc, rq.mul.size() == 1 ? rq.mul[0] : rq.mul[c], rq.add[0], &d, rq.zero_point, rq.lo, rq.hi);
}

Requant rule(std::vector<double> m, int32_t zp = 0, int32_t lo = INT32_MIN, int32_t hi = INT32_MAX,
             std::vector<int64_t> acc_bound = {}) {
  auto rq = requant_from_real(m, zp, lo, hi, "test", acc_bound);
  EXPECT_TRUE(rq.ok()) << rq.error().str();
  return rq.ok() ? rq->requant : Requant{};
}

TEST(RealMultiplier, PowersOfTwoAndSimpleFractionsAreRepresentedExactly) {
  auto half = fixed_point_multiplier(0.5, "t");
  ASSERT_TRUE(half.ok());
  EXPECT_EQ(half->m0, int64_t{1} << 30);
  EXPECT_EQ(half->shift, 31);
  auto one = fixed_point_multiplier(1.0, "t");
  EXPECT_EQ(one->m0, int64_t{1} << 30);
  EXPECT_EQ(one->shift, 30);
  auto three_quarters = fixed_point_multiplier(0.75, "t");
  EXPECT_EQ(three_quarters->m0, 3 * (int64_t{1} << 29));
  EXPECT_EQ(three_quarters->shift, 31);
}

TEST(RealMultiplier, TheMantissaHas31BitsAndIsRoundedToNearest) {
  for (double m : {1e-5, 0.0036, 0.3, 0.999999999, 3.7}) {
    auto f = fixed_point_multiplier(m, "t");
    ASSERT_TRUE(f.ok());
    EXPECT_GE(f->m0, int64_t{1} << 30) << m;
    EXPECT_LT(f->m0, int64_t{1} << 31) << m;
    // |m0 * 2^-s - M| <= half a unit of the last of 31 bits.
    EXPECT_LE(std::fabs(std::ldexp(static_cast<double>(f->m0), -f->shift) - m), std::ldexp(1.0, -f->shift - 1)) << m;
  }
}

TEST(RealMultiplier, HalfwayProductsRoundUpForBothSigns) {
  const Requant rq = rule({0.5});
  EXPECT_EQ(apply(rq, 3), 2);    // 1.5 -> 2
  EXPECT_EQ(apply(rq, 5), 3);    // 2.5 -> 3 (not to even)
  EXPECT_EQ(apply(rq, -3), -1);  // -1.5 -> -1 (half up, not away from zero)
  EXPECT_EQ(apply(rq, -4), -2);
  EXPECT_EQ(apply(rq, 0), 0);
}

TEST(RealMultiplier, ZeroPointAndClampApplyAfterRounding) {
  const Requant rq = rule({0.25}, 128, 0, 255);
  EXPECT_EQ(apply(rq, 10), 131);       // 2.5 -> 3, + 128
  EXPECT_EQ(apply(rq, -1000), 0);      // -250 + 128 clamps to 0
  EXPECT_EQ(apply(rq, 1000), 255);     // 250 + 128 clamps to 255
}

TEST(RealMultiplier, MatchesRoundHalfUpOfTheExactProductOnRandomValues) {
  std::mt19937 rng(1234);
  std::uniform_real_distribution<double> scale(-14, 0);
  std::uniform_int_distribution<int32_t> acc(-(1 << 24), 1 << 24);
  for (int i = 0; i < 2000; ++i) {
    const double M = std::exp2(scale(rng));
    const Requant rq = rule({M});
    auto f = fixed_point_multiplier(M, "t");
    const int32_t a = acc(rng);
    // The rule's value, from its definition in exact integer arithmetic.
    const __int128 num = static_cast<__int128>(a) * f->m0 + (static_cast<__int128>(1) << (f->shift - 1));
    __int128 q = num >> f->shift;  // arithmetic shift = floor
    EXPECT_EQ(apply(rq, a), static_cast<int64_t>(q)) << "M = " << M << ", acc = " << a << ", seed 1234";
  }
}

TEST(RealMultiplier, PerChannelMultipliersShareOneDivisorWithoutChangingAnyResult) {
  std::mt19937 rng(99);
  std::uniform_real_distribution<double> scale(-10, -1);
  std::uniform_int_distribution<int32_t> acc(-(1 << 20), 1 << 20);
  std::vector<double> M(16);
  for (double& m : M) m = std::exp2(scale(rng));
  const Requant shared = rule(M, 0, INT32_MIN, INT32_MAX, {1 << 20});
  ASSERT_EQ(shared.mul.size(), M.size());
  for (size_t c = 0; c < M.size(); ++c) {
    const Requant alone = rule({M[c]});
    for (int i = 0; i < 200; ++i) {
      const int32_t a = acc(rng);
      EXPECT_EQ(apply(shared, a, c), apply(alone, a)) << "channel " << c << ", acc " << a << ", seed 99";
    }
  }
}

TEST(RealMultiplier, AZeroMultiplierGivesTheZeroPointAndDoesNotSetTheDivisor) {
  const Requant rq = rule({0.0, 0.5}, 7);
  EXPECT_EQ(rq.mul[0], 0);
  EXPECT_EQ(rq.divisor, uint64_t{1} << 31);
  EXPECT_EQ(apply(rq, 12345, 0), 7);
  EXPECT_EQ(apply(rq, 3, 1), 9);
}

TEST(RealMultiplier, TinyAndHugeMultipliersStayWithinTheIrLimits) {
  const Requant small = rule({std::ldexp(1.0, -40)});  // 2^30 * 2^-70: the mantissa loses 9 bits, D = 2^61
  EXPECT_EQ(small.divisor, uint64_t{1} << 61);
  EXPECT_EQ(small.mul[0], int64_t{1} << 21);
  const Requant tiny = rule({1e-25});  // below 2^-61 * 2^-1: the multiplier rounds to 0
  EXPECT_EQ(tiny.mul[0], 0);
  EXPECT_EQ(apply(tiny, 1 << 30), 0);
  const Requant huge = rule({std::ldexp(1.0, 33)}, 0, INT32_MIN, INT32_MAX, {16});  // exact for |acc| <= 16
  EXPECT_EQ(huge.divisor, 1u);
  EXPECT_EQ(huge.mul[0], int64_t{1} << 33);
  EXPECT_EQ(apply(huge, 3), INT32_MAX);  // clamped to the requant's int32 bounds
  auto too_huge = requant_from_real({std::ldexp(1.0, 33)}, 0, 0, 255, "t");  // any int32 acc: acc * 2^33 overflows
  ASSERT_FALSE(too_huge.ok());
  EXPECT_EQ(too_huge.error().code, "onnx-scale-range");
}

TEST(RealMultiplier, RejectsNegativeAndNonFiniteMultipliersWithACode) {
  for (double m : {-0.5, std::nan(""), std::numeric_limits<double>::infinity()}) {
    auto rq = requant_from_real({m}, 0, 0, 255, "node 'conv' (QLinearConv)");
    ASSERT_FALSE(rq.ok()) << m;
    EXPECT_EQ(rq.error().code, "onnx-bad-scale");
    EXPECT_EQ(rq.error().location, "node 'conv' (QLinearConv)");
  }
}

TEST(RealMultiplier, WhenASharedExactShiftWouldOverflowTheSmallMultipliersAreRoundedToACoarserGrid) {
  const std::vector<double> M = {0.5, std::ldexp(0.75, -20)};
  const int64_t bound = int64_t{1} << 24;
  auto rr = requant_from_real(M, 0, INT32_MIN, INT32_MAX, "t", {bound});
  ASSERT_TRUE(rr.ok()) << rr.error().str();
  EXPECT_EQ(rr->coarsened, 1);
  const Requant& rq = rr->requant;
  for (int64_t m : rq.mul)  // every numerator fits int64 for |acc| <= bound
    EXPECT_LE(static_cast<__int128>(bound) * m + rq.add[0], static_cast<__int128>(INT64_MAX));
  const Requant first = rule({M[0]}), second = rule({M[1]});
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> acc(-static_cast<int32_t>(bound), static_cast<int32_t>(bound));
  for (int i = 0; i < 1000; ++i) {
    const int32_t a = acc(rng);
    EXPECT_EQ(apply(rq, a, 0), apply(first, a)) << a;             // the large multiplier stays exact
    EXPECT_LE(std::abs(apply(rq, a, 1) - apply(second, a)), 1) << a;  // the small one is off by at most 1
  }
}

}  // namespace
}  // namespace dory::onnxfe
