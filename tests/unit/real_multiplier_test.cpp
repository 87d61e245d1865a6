// The rule for real requantization multipliers (onnx/real_multiplier.h), shared by the QDQ and QOperator importers.
// The rule's S is recomputed here by brute force in long double (64-bit mantissa: M * 2^S + 1/2 is exact), an
// implementation independent of the one under test. Random cases use fixed seeds, printed with each failure.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "dory/requant.h"
#include "onnx/real_multiplier.h"

namespace dory::onnxfe {
namespace {

static_assert(std::numeric_limits<long double>::digits >= 64, "the reference needs an exact M * 2^S + 1/2");

using i128 = __int128;
constexpr int64_t kI32Max = std::numeric_limits<int32_t>::max();
constexpr i128 kI64Max = std::numeric_limits<int64_t>::max();

int32_t apply(const Requant& rq, int32_t acc, size_t c = 0) {
  dory_divisor d = rq.make_divisor();
  return dory_requant64(acc, rq.mul.size() == 1 ? rq.mul[0] : rq.mul[c], rq.add[0], &d, rq.zero_point, rq.lo, rq.hi);
}

FixedPoint rule(const std::vector<double>& M, const MultiplierUse& use) {
  auto fp = fixed_point_multipliers(M, use, "test");
  EXPECT_TRUE(fp.ok()) << fp.error().str();
  return fp.ok() ? fp.value() : FixedPoint{};
}

Requant requant(const std::vector<double>& M, const MultiplierUse& use, int32_t zp = 0, int32_t lo = INT32_MIN,
                int32_t hi = INT32_MAX) {
  auto rq = requant_from_real(M, use, zp, lo, hi, "test");
  EXPECT_TRUE(rq.ok()) << rq.error().str();
  return rq.ok() ? rq.value() : Requant{};
}

// round_half_up(M * 2^S) for M < 2^10 and S <= 61 (M * 2^S < 2^71 is not needed: callers stay below 2^63).
i128 ref_round(double M, int S) {
  const long double x = std::ldexp(static_cast<long double>(M), S);
  if (x >= 0x1p63L) return kI64Max + 1;
  return static_cast<i128>(std::floor(x + 0.5L));
}

// The unstripped rule, by brute force: S* and m_S*.
struct Ref {
  int S = 0;
  std::vector<i128> m;
};
Ref reference(const std::vector<double>& M, const std::vector<int64_t>& B, MultiplierUse::Kind kind, int64_t K = 1) {
  for (int S = 61; S >= 1; --S) {
    Ref r{S, {}};
    bool ok = kind != MultiplierUse::Kind::WindowSums || (i128{1} << S) * K <= kI64Max;
    i128 sum = 0;
    for (size_t c = 0; c < M.size() && ok; ++c) {
      const i128 m = B[c] == 0 ? 0 : ref_round(M[c], S);
      r.m.push_back(m);
      if (kind == MultiplierUse::Kind::OperandSum) {
        sum += B[c] * m;
        ok = sum <= kI32Max;
      } else {
        ok = m <= kI64Max && B[c] * m + (i128{1} << (S - 1)) * K <= kI64Max;
      }
    }
    if (ok) return r;
  }
  return {};
}

// fp is the reference's (m, S*) with common factors of two stripped, and nothing else.
::testing::AssertionResult is_the_rule(const FixedPoint& fp, const Ref& ref) {
  if (ref.S == 0) return ::testing::AssertionFailure() << "the reference found no shift";
  if (fp.shift < 1 || fp.shift > ref.S)
    return ::testing::AssertionFailure() << "shift " << fp.shift << ", the rule's largest is " << ref.S;
  for (size_t c = 0; c < ref.m.size(); ++c)
    if (static_cast<i128>(fp.m[c]) << (ref.S - fp.shift) != ref.m[c])
      return ::testing::AssertionFailure() << "m[" << c << "] = " << fp.m[c] << " at shift " << fp.shift
                                           << " is not round(M * 2^" << ref.S
                                           << ") = " << static_cast<int64_t>(ref.m[c]) << " scaled down";
  if (fp.shift > 1 && std::all_of(fp.m.begin(), fp.m.end(), [](int64_t x) { return x % 2 == 0; }))
    return ::testing::AssertionFailure() << "a common factor of two is left at shift " << fp.shift;
  return ::testing::AssertionSuccess();
}

TEST(RealMultiplier, BinaryFractionsAreExactAndStrippedToTheirSmallestNumbers) {
  const auto any_acc = MultiplierUse::accumulators({kI32Max});
  FixedPoint half = rule({0.5}, any_acc);
  EXPECT_EQ(half.m, std::vector<int64_t>{1});
  EXPECT_EQ(half.shift, 1);
  FixedPoint one = rule({1.0}, any_acc);  // S >= 1 keeps the rounding offset 2^(S-1) an integer
  EXPECT_EQ(one.m, std::vector<int64_t>{2});
  EXPECT_EQ(one.shift, 1);
  FixedPoint three_quarters = rule({0.75}, any_acc);
  EXPECT_EQ(three_quarters.m, std::vector<int64_t>{3});
  EXPECT_EQ(three_quarters.shift, 2);
  FixedPoint small = rule({std::ldexp(1.0, -40)}, any_acc);
  EXPECT_EQ(small.m, std::vector<int64_t>{1});
  EXPECT_EQ(small.shift, 40);
  FixedPoint per_channel = rule({0.25, 0.375}, any_acc);
  EXPECT_EQ(per_channel.m, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(per_channel.shift, 3);
}

TEST(RealMultiplier, TheShiftIsTheLargestWhoseNumeratorFitsInt64ForTheAccumulatorBound) {
  std::mt19937 rng(1234);
  std::uniform_real_distribution<double> log_m(-20, 2), log_b(0, 31);
  std::uniform_int_distribution<int> channels(1, 8);
  for (int i = 0; i < 3000; ++i) {
    const int C = channels(rng);
    std::vector<double> M;
    std::vector<int64_t> B;
    for (int c = 0; c < C; ++c) {
      M.push_back(static_cast<float>(std::exp2(log_m(rng))));
      B.push_back(std::min<int64_t>(static_cast<int64_t>(std::exp2(log_b(rng))), kI32Max));
    }
    auto fp = fixed_point_multipliers(M, MultiplierUse::accumulators(B), "t");
    ASSERT_TRUE(fp.ok()) << fp.error().str() << ", seed 1234, case " << i;
    EXPECT_TRUE(is_the_rule(fp.value(), reference(M, B, MultiplierUse::Kind::Accumulators))) << "seed 1234, case "
                                                                                               << i;
    for (size_t c = 0; c < M.size(); ++c)  // the IR's limit, as requant.h evaluates it
      EXPECT_LE(static_cast<i128>(B[c]) * fp->m[c] + (i128{1} << (fp->shift - 1)), kI64Max) << "case " << i;
  }
}

TEST(RealMultiplier, EveryChannelIsWithinHalfAUnitOfTheSharedGrid) {
  // Multipliers spread over a factor 2^20 share one divisor; each is rounded on that divisor's grid.
  const std::vector<double> M = {0.3, 0.0071, std::ldexp(0.77, -20), 1e-3};
  const std::vector<int64_t> B(M.size(), int64_t{1} << 20);
  const FixedPoint fp = rule(M, MultiplierUse::accumulators(B));
  for (size_t c = 0; c < M.size(); ++c)
    EXPECT_LE(std::fabs(static_cast<long double>(fp.m[c]) - std::ldexp(static_cast<long double>(M[c]), fp.shift)),
              0.5L)
        << c;
  // 2^20 * 0.3 * 2^S fits int64 up to S = 44 (2^20 * 0.3 * 2^45 > 2^63).
  const Ref ref = reference(M, B, MultiplierUse::Kind::Accumulators);
  EXPECT_EQ(ref.S, 44);
  EXPECT_TRUE(is_the_rule(fp, ref));
}

TEST(RealMultiplier, ATighterAccumulatorBoundGivesALargerShift) {
  const double M = 0.0071;
  int last = 0;
  for (int64_t B : {kI32Max, int64_t{1} << 24, int64_t{1} << 16, int64_t{255}}) {
    const FixedPoint fp = rule({M}, MultiplierUse::accumulators({B}));
    const Ref ref = reference({M}, {B}, MultiplierUse::Kind::Accumulators);
    EXPECT_TRUE(is_the_rule(fp, ref)) << B;
    EXPECT_GT(ref.S, last) << B;
    last = ref.S;
  }
  EXPECT_EQ(last, 61);  // |acc| <= 255: the divisor's own limit 2^61 binds
}

TEST(RealMultiplier, NeverLessPreciseThanTheLargestShiftWithEveryMultiplierBelow2To31) {
  std::mt19937 rng(77);
  std::uniform_real_distribution<double> log_m(-16, 0);
  for (int i = 0; i < 2000; ++i) {
    const std::vector<double> M = {std::exp2(log_m(rng)), std::exp2(log_m(rng))};
    int s31 = 61;
    while (ref_round(std::max(M[0], M[1]), s31) >= (i128{1} << 31)) --s31;
    const FixedPoint fp = rule(M, MultiplierUse::accumulators({kI32Max}));
    const Ref ref = reference(M, {kI32Max, kI32Max}, MultiplierUse::Kind::Accumulators);
    EXPECT_GE(ref.S, s31) << "seed 77, case " << i;
    EXPECT_TRUE(is_the_rule(fp, ref)) << "seed 77, case " << i;
  }
}

TEST(RealMultiplier, MatchesRoundHalfUpOfTheExactProductExceptWithinTheStatedErrorOfATie) {
  std::mt19937 rng(4321);
  std::uniform_real_distribution<double> log_m(-14, 0);
  std::uniform_int_distribution<int32_t> acc(-(1 << 24), 1 << 24);
  int differ = 0;
  for (int i = 0; i < 20000; ++i) {
    const double M = std::exp2(log_m(rng));  // 53 significant bits: not exactly m / 2^S
    const FixedPoint fp = rule({M}, MultiplierUse::accumulators({1 << 24}));
    const Requant rq = requant_of(fp, 0, INT32_MIN, INT32_MAX);
    const int32_t a = acc(rng);
    // a * M = a * q / 2^k exactly (M = q * 2^-k), rounded half up in integers.
    int e = 0;
    const auto q = static_cast<int64_t>(std::ldexp(std::frexp(M, &e), 53));
    const int k = 53 - e;
    const i128 num = static_cast<i128>(a) * q, unit = i128{1} << k;
    const auto want = static_cast<int64_t>((num + unit / 2) >> k);
    const int32_t got = apply(rq, a);
    if (got != want) {
      ++differ;
      const i128 frac = num - ((num >> k) << k);  // in [0, 2^k)
      const long double tie_distance =
          std::fabs(std::ldexp(static_cast<long double>(frac - unit / 2), -k));
      const long double delta = std::ldexp(static_cast<long double>(std::abs(a)), -(fp.shift + 1));
      EXPECT_LE(tie_distance, delta) << "M = " << M << ", acc = " << a << ", seed 4321";
    }
  }
  EXPECT_LE(differ, 2) << "seed 4321: at most a rare near-tie within |acc| / 2^(S+1) of k + 1/2 may differ";
}

TEST(RealMultiplier, HalfwayProductsRoundUpForBothSigns) {
  const Requant rq = requant({0.5}, MultiplierUse::accumulators({kI32Max}));
  EXPECT_EQ(apply(rq, 3), 2);    // 1.5 -> 2
  EXPECT_EQ(apply(rq, 5), 3);    // 2.5 -> 3 (not to even)
  EXPECT_EQ(apply(rq, -3), -1);  // -1.5 -> -1 (half up, not away from zero)
  EXPECT_EQ(apply(rq, -4), -2);
  EXPECT_EQ(apply(rq, 0), 0);
}

TEST(RealMultiplier, ZeroPointAndClampApplyAfterRounding) {
  const Requant rq = requant({0.25}, MultiplierUse::accumulators({kI32Max}), 128, 0, 255);
  EXPECT_EQ(apply(rq, 10), 131);    // 2.5 -> 3, + 128
  EXPECT_EQ(apply(rq, -1000), 0);   // -250 + 128 clamps to 0
  EXPECT_EQ(apply(rq, 1000), 255);  // 250 + 128 clamps to 255
}

TEST(RealMultiplier, AChannelThatProvablyComputesZeroGetsMultiplierZeroAndDoesNotLimitTheShift) {
  const Requant rq = requant({100.0, 0.5}, MultiplierUse::accumulators({0, 1 << 20}), 7);
  EXPECT_EQ(rq.mul[0], 0);
  EXPECT_EQ(rq.mul[1], 1);
  EXPECT_EQ(rq.divisor, 2u);
  EXPECT_EQ(apply(rq, 0, 0), 7);
  EXPECT_EQ(apply(rq, 3, 1), 9);
}

TEST(RealMultiplier, OneMultiplierWithPerChannelBoundsUsesTheLargestBound) {
  const double M = static_cast<float>(0.013);
  const FixedPoint per_tensor = rule({M}, MultiplierUse::accumulators({100, 1 << 20, 5000}));
  const FixedPoint largest = rule({M}, MultiplierUse::accumulators({1 << 20}));
  EXPECT_EQ(per_tensor.m, largest.m);
  EXPECT_EQ(per_tensor.shift, largest.shift);
}

TEST(RealMultiplier, TinyAndHugeMultipliersStayWithinTheIrLimits) {
  const Requant tiny = requant({1e-25}, MultiplierUse::accumulators({kI32Max}));  // below 2^-62: rounds to 0
  EXPECT_EQ(tiny.mul[0], 0);
  EXPECT_EQ(apply(tiny, 1 << 30), 0);
  const Requant huge = requant({std::ldexp(1.0, 33)}, MultiplierUse::accumulators({16}));  // exact for |acc| <= 16
  EXPECT_EQ(huge.divisor, 2u);
  EXPECT_EQ(huge.mul[0], int64_t{1} << 34);
  EXPECT_EQ(apply(huge, 3), INT32_MAX);  // clamped to the requant's int32 bounds
  auto too_huge = requant_from_real({std::ldexp(1.0, 33)}, MultiplierUse::accumulators({kI32Max}), 0, 0, 255,
                                    "node 'conv' (QLinearConv)");  // any int32 acc: acc * 2^34 overflows
  ASSERT_FALSE(too_huge.ok());
  EXPECT_EQ(too_huge.error().code, "onnx-scale-range");
  EXPECT_EQ(too_huge.error().location, "node 'conv' (QLinearConv)");
}

TEST(RealMultiplier, RejectsNegativeAndNonFiniteMultipliersWithACode) {
  for (double m : {-0.5, std::nan(""), std::numeric_limits<double>::infinity()}) {
    auto rq = requant_from_real({m}, MultiplierUse::accumulators({kI32Max}), 0, 0, 255, "node 'conv' (QLinearConv)");
    ASSERT_FALSE(rq.ok()) << m;
    EXPECT_EQ(rq.error().code, "onnx-bad-scale");
    EXPECT_EQ(rq.error().location, "node 'conv' (QLinearConv)");
  }
}

TEST(RealMultiplier, AnAveragePoolKeepsItsNumeratorAndDivisorTimesWindowWithinInt64) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<double> log_m(-4, 4);
  std::uniform_int_distribution<int64_t> window(1, 64 * 64);
  for (int i = 0; i < 1000; ++i) {
    const double M = static_cast<float>(std::exp2(log_m(rng)));
    const int64_t K = window(rng), vmax = 255;
    const FixedPoint fp = rule({M}, MultiplierUse::window_sums(K, vmax));
    EXPECT_TRUE(is_the_rule(fp, reference({M}, {K * vmax}, MultiplierUse::Kind::WindowSums, K))) << "seed 9, " << i;
    EXPECT_LT(static_cast<i128>(fp.divisor()) * K, i128{1} << 63);
    EXPECT_LE(static_cast<i128>(K * vmax) * fp.m[0] + static_cast<i128>(fp.half()) * K, kI64Max);
  }
  // Equal scales: round half up of the exact mean, floor((2 * S + cnt) / (2 * cnt)).
  const FixedPoint same = rule({1.0}, MultiplierUse::window_sums(4, 255));
  EXPECT_EQ(same.m, std::vector<int64_t>{2});
  EXPECT_EQ(same.shift, 1);
}

TEST(RealMultiplier, AddOperandsScaledSumFitsInt32AndTheShiftIsTheLargestThatDoes) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<double> log_m(-3, 1);
  for (int i = 0; i < 1000; ++i) {
    const std::vector<double> M = {static_cast<float>(std::exp2(log_m(rng))),
                                   static_cast<float>(std::exp2(log_m(rng)))};
    const std::vector<int64_t> R = {132, 155};  // int8 with zero point 4, uint8 with zero point 100
    const FixedPoint fp = rule(M, MultiplierUse::operand_sum(R));
    EXPECT_TRUE(is_the_rule(fp, reference(M, R, MultiplierUse::Kind::OperandSum))) << "seed 11, case " << i;
    EXPECT_LE(fp.m[0] * R[0] + fp.m[1] * R[1], kI32Max);
  }
}

}  // namespace
}  // namespace dory::onnxfe
