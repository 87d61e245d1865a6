// Claims of runtime/include/dory/requant.h, checked against independent exact arithmetic (__int128 / int64):
//   - dory_mulhi_u64 is the high half of the 128-bit product;
//   - dory_div64 / dory_div32 are exact floor and truncating divisions for every numerator of their type;
//   - dory_requant32 == dory_requant64 whenever the 32-bit path's documented preconditions hold.
// Random cases come from a seeded std::mt19937_64; the seed is printed and can be replayed with DORY_TEST_SEED.
#include <gtest/gtest.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "dory/requant.h"

namespace {

using i128 = __int128;
using u128 = unsigned __int128;

constexpr int64_t kI64Min = std::numeric_limits<int64_t>::min();
constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kI32Min = std::numeric_limits<int32_t>::min();
constexpr int64_t kI32Max = std::numeric_limits<int32_t>::max();

uint64_t test_seed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("DORY_TEST_SEED");
    return env ? std::strtoull(env, nullptr, 0) : uint64_t{0x5eed0d0cafe};
  }();
  return seed;
}

void announce_seed(const char* test) {
  std::printf("[   SEED   ] %s: %" PRIu64 " (replay with DORY_TEST_SEED=%" PRIu64 ")\n", test, test_seed(),
              test_seed());
  ::testing::Test::RecordProperty("seed", std::to_string(test_seed()));
}

// Independent exact divisions (d > 0).
i128 floor_div(i128 n, i128 d) {
  i128 q = n / d;
  if (n % d != 0 && n < 0) --q;
  return q;
}
i128 trunc_div(i128 n, i128 d) { return n / d; }

std::string i128_str(i128 v) {
  if (v == 0) return "0";
  bool neg = v < 0;
  u128 u = neg ? -static_cast<u128>(v) : static_cast<u128>(v);
  std::string s;
  while (u) {
    s.insert(s.begin(), static_cast<char>('0' + static_cast<int>(u % 10)));
    u /= 10;
  }
  return neg ? "-" + s : s;
}

// Bounded failure reporting: the inner loops run tens of millions of checks.
struct Mismatches {
  int count = 0;
  void report(const std::string& what) {
    if (++count <= 20) ADD_FAILURE() << what;
  }
};

// Uniform random value with a random bit length in [1, max_bits] (so small and large magnitudes both occur).
uint64_t random_bits(std::mt19937_64& rng, int max_bits) {
  int len = 1 + static_cast<int>(rng() % static_cast<uint64_t>(max_bits));
  uint64_t v = rng() >> (64 - len);
  return v | (uint64_t{1} << (len - 1));
}

// ---- 64-bit path ---------------------------------------------------------------------------------------------

std::vector<uint64_t> special_divisors64() {
  std::vector<uint64_t> ds;
  for (uint64_t d = 1; d <= 5000; ++d) ds.push_back(d);
  for (int k = 0; k <= 62; ++k) {
    uint64_t p = uint64_t{1} << k;
    ds.push_back(p);
    if (p > 1) ds.push_back(p - 1);
    ds.push_back(p + 1);
  }
  ds.push_back((uint64_t{1} << 63) - 1);  // the largest divisor the header accepts
  ds.push_back((uint64_t{1} << 63) - 3);
  ds.push_back(16777215);  // NEMO's 2^24 - 1
  ds.push_back(8388607);   // 2^23 - 1
  ds.push_back(1000000007);
  return ds;
}

// The numerators the brief names for divisor d: 0, +-1, +-(d-1), +-d, +-(d+1), the int64 extremes, multiples
// of d +-1 near both extremes, and random ones (full range, near 0 in units of d, random multiples +-1).
void numerators64(uint64_t d, std::mt19937_64& rng, std::vector<int64_t>& out) {
  out.clear();
  auto add = [&](i128 v) {
    if (v >= kI64Min && v <= kI64Max) out.push_back(static_cast<int64_t>(v));
  };
  const i128 D = static_cast<i128>(d);
  for (i128 v : {i128{0}, i128{1}, i128{-1}, D - 1, -(D - 1), D, -D, D + 1, -(D + 1)}) add(v);
  for (i128 v : {i128{kI64Min}, i128{kI64Max}, i128{kI64Min} + 1, i128{kI64Max} - 1}) add(v);
  const i128 top = (i128{kI64Max} / D) * D;              // largest multiple <= INT64_MAX
  const i128 bottom = floor_div(i128{kI64Min}, D) * D;   // smallest multiple >= INT64_MIN (or below: filtered)
  for (i128 m : {top, -top, bottom, bottom + D})
    for (int e = -1; e <= 1; ++e) add(m + e);
  // random
  add(static_cast<int64_t>(rng()));
  add(static_cast<int64_t>(rng()));
  i128 q = static_cast<i128>(static_cast<int64_t>(rng())) / D;  // a random multiple of d
  for (int e = -1; e <= 1; ++e) add(q * D + e);
  const int64_t small = static_cast<int64_t>(rng() % 9) - 4;   // within a few d of 0
  add(small * D + static_cast<int64_t>(rng() % d));
}

void check_div64(uint64_t d, const std::vector<int64_t>& ns, Mismatches& bad) {
  dory_divisor fl{}, tz{};
  if (dory_divisor_make(d, DORY_ROUND_FLOOR, &fl) != 0 || dory_divisor_make(d, DORY_ROUND_TOWARD_ZERO, &tz) != 0) {
    bad.report("dory_divisor_make rejected d = " + std::to_string(d));
    return;
  }
  // The unsigned core is exact on the whole uint64 range (dory_div64 feeds it magnitudes up to 2^63).
  const uint64_t top = ~uint64_t{0};
  for (uint64_t n : {top, top - 1, top - top % d, top - top % d - 1, uint64_t{1} << 63, (uint64_t{1} << 63) + 1,
                     top - d}) {
    uint64_t got = dory_udiv64(n, &fl), expect = n / d;
    if (got != expect)
      bad.report("udiv64(" + std::to_string(n) + " / " + std::to_string(d) + "): got " + std::to_string(got) +
                 ", expected " + std::to_string(expect) + " (method " + std::to_string(fl.method) + ")");
  }
  for (int64_t n : ns) {
    int64_t f = dory_div64(n, &fl), t = dory_div64(n, &tz);
    i128 ef = floor_div(n, d), et = trunc_div(n, d);
    if (f != ef)
      bad.report("floor(" + std::to_string(n) + " / " + std::to_string(d) + "): got " + std::to_string(f) +
                 ", expected " + i128_str(ef) + " (method " + std::to_string(fl.method) + ")");
    if (t != et)
      bad.report("trunc(" + std::to_string(n) + " / " + std::to_string(d) + "): got " + std::to_string(t) +
                 ", expected " + i128_str(et) + " (method " + std::to_string(tz.method) + ")");
  }
}

TEST(Requant, MulhiU64IsTheHighHalfOfTheExact128BitProduct) {
  announce_seed("MulhiU64IsTheHighHalfOfTheExact128BitProduct");
  std::mt19937_64 rng(test_seed());
  const uint64_t M = ~uint64_t{0};
  std::vector<uint64_t> edges{0, 1, 2, 3, 0xFFFFFFFFull, 0x100000000ull, 0x100000001ull, 0x7FFFFFFFFFFFFFFFull,
                              0x8000000000000000ull, 0xFFFFFFFF00000000ull, 0x00000000FFFFFFFFull, M - 1, M,
                              0xAAAAAAAAAAAAAAAAull, 0x5555555555555555ull, 0xFFFFFFFEFFFFFFFFull};
  Mismatches bad;
  auto check = [&](uint64_t a, uint64_t b) {
    uint64_t expect = static_cast<uint64_t>((static_cast<u128>(a) * b) >> 64);
    uint64_t got = dory_mulhi_u64(a, b);
    if (got != expect)
      bad.report("mulhi(" + std::to_string(a) + ", " + std::to_string(b) + ") = " + std::to_string(got) +
                 ", expected " + std::to_string(expect));
  };
  for (uint64_t a : edges)
    for (uint64_t b : edges) check(a, b);
  for (int i = 0; i < 1000000; ++i) {
    uint64_t a = (i & 1) ? rng() : random_bits(rng, 64), b = (i & 2) ? rng() : random_bits(rng, 64);
    check(a, b);
  }
  EXPECT_EQ(bad.count, 0);
}

TEST(Requant, DivisorMakeRejectsZeroAndDivisorsFrom2To63) {
  dory_divisor d{};
  EXPECT_EQ(dory_divisor_make(0, DORY_ROUND_FLOOR, &d), -1);
  EXPECT_EQ(dory_divisor_make(uint64_t{1} << 63, DORY_ROUND_FLOOR, &d), -1);
  EXPECT_EQ(dory_divisor_make(~uint64_t{0}, DORY_ROUND_FLOOR, &d), -1);
  EXPECT_EQ(dory_divisor_make((uint64_t{1} << 63) - 1, DORY_ROUND_FLOOR, &d), 0);
  dory_divisor32 d32{};
  EXPECT_EQ(dory_divisor32_make(0, DORY_ROUND_FLOOR, &d32), -1);
  EXPECT_EQ(dory_divisor32_make(uint32_t{1} << 31, DORY_ROUND_FLOOR, &d32), -1);
  EXPECT_EQ(dory_divisor32_make((uint32_t{1} << 31) - 1, DORY_ROUND_FLOOR, &d32), 0);
}

TEST(Requant, PowersOfTwoAreAShiftAndOtherDivisorsUseBothMagicMethods) {
  dory_divisor d{};
  ASSERT_EQ(dory_divisor_make(1024, DORY_ROUND_FLOOR, &d), 0);
  EXPECT_EQ(d.method, DORY_DIV_SHIFT);
  EXPECT_EQ(d.shift, 10);
  int magic = 0, magic_add = 0;
  for (uint64_t v = 3; v < 5000; ++v) {
    ASSERT_EQ(dory_divisor_make(v, DORY_ROUND_FLOOR, &d), 0);
    magic += d.method == DORY_DIV_MAGIC;
    magic_add += d.method == DORY_DIV_MAGIC_ADD;
  }
  // Both code paths of dory_udiv64 are exercised by the exhaustive tests below.
  EXPECT_GT(magic, 0);
  EXPECT_GT(magic_add, 0);
  dory_divisor32 d32{};
  magic = magic_add = 0;
  for (uint32_t v = 3; v < 5000; ++v) {
    ASSERT_EQ(dory_divisor32_make(v, DORY_ROUND_FLOOR, &d32), 0);
    magic += d32.method == DORY_DIV_MAGIC;
    magic_add += d32.method == DORY_DIV_MAGIC_ADD;
  }
  EXPECT_GT(magic, 0);
  EXPECT_GT(magic_add, 0);
}

TEST(Requant, Div64IsExactFloorAndTruncationForSpecialDivisorsAndEdgeNumerators) {
  announce_seed("Div64IsExactFloorAndTruncationForSpecialDivisorsAndEdgeNumerators");
  std::mt19937_64 rng(test_seed() ^ 1);
  Mismatches bad;
  std::vector<int64_t> ns;
  for (uint64_t d : special_divisors64()) {
    numerators64(d, rng, ns);
    check_div64(d, ns, bad);
  }
  EXPECT_EQ(bad.count, 0);
}

TEST(Requant, Div64IsExactForAMillionRandomDivisorsUpTo2To63) {
  announce_seed("Div64IsExactForAMillionRandomDivisorsUpTo2To63");
  std::mt19937_64 rng(test_seed() ^ 2);
  Mismatches bad;
  std::vector<int64_t> ns;
  for (int i = 0; i < 1000000; ++i) {
    // Half uniform 62-bit divisors, half with a random bit length up to 63 (the header allows d < 2^63).
    uint64_t d = (i & 1) ? random_bits(rng, 63) : (rng() >> 2);
    if (d == 0) d = 1;
    numerators64(d, rng, ns);
    check_div64(d, ns, bad);
  }
  EXPECT_EQ(bad.count, 0);
}

TEST(Requant, Scale64AndRequant64FollowTheContractFormula) {
  dory_divisor d{};
  ASSERT_EQ(dory_divisor_make(16777215, DORY_ROUND_FLOOR, &d), 0);
  // floor((-1 * 16777216 + 0) / 16777215) = floor(-1.00000006) = -2: exact, no double rounding.
  EXPECT_EQ(dory_scale64(-1, 16777216, 0, &d), -2);
  // clamp(floor((100*3 + 5) / 16777215) + 7, 0, 255) = clamp(0 + 7) = 7
  EXPECT_EQ(dory_requant64(100, 3, 5, &d, 7, 0, 255), 7);
  // clamp(floor((2^30 * 2^20) / 16777215) + 0, -5, 5): numerator 2^50 needs 64 bits; result 67108868 -> 5
  EXPECT_EQ(dory_requant64(1 << 30, int64_t{1} << 20, 0, &d, 0, -5, 5), 5);
  EXPECT_EQ(dory_requant64(-(1 << 30), int64_t{1} << 20, 0, &d, 0, -5, 5), -5);
}

// ---- 32-bit path ---------------------------------------------------------------------------------------------

std::vector<uint32_t> special_divisors32() {
  std::vector<uint32_t> ds;
  for (uint32_t d = 1; d <= 5000; ++d) ds.push_back(d);
  for (int k = 0; k <= 30; ++k) {
    uint32_t p = uint32_t{1} << k;
    ds.push_back(p);
    if (p > 1) ds.push_back(p - 1);
    ds.push_back(p + 1);
  }
  ds.push_back(0x7FFFFFFFu);
  ds.push_back(16777215);
  ds.push_back(8388607);
  return ds;
}

void numerators32(uint32_t d, std::mt19937_64& rng, std::vector<int32_t>& out) {
  out.clear();
  auto add = [&](int64_t v) {
    if (v >= kI32Min && v <= kI32Max) out.push_back(static_cast<int32_t>(v));
  };
  const int64_t D = d;
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{-1}, D - 1, -(D - 1), D, -D, D + 1, -(D + 1)}) add(v);
  for (int64_t v : {kI32Min, kI32Max, kI32Min + 1, kI32Max - 1}) add(v);
  const int64_t top = (kI32Max / D) * D;
  const int64_t bottom = static_cast<int64_t>(floor_div(kI32Min, D)) * D;
  for (int64_t m : {top, -top, bottom, bottom + D})
    for (int e = -1; e <= 1; ++e) add(m + e);
  add(static_cast<int32_t>(rng()));
  add(static_cast<int32_t>(rng()));
  int64_t q = static_cast<int64_t>(static_cast<int32_t>(rng())) / D;
  for (int e = -1; e <= 1; ++e) add(q * D + e);
  add((static_cast<int64_t>(rng() % 9) - 4) * D + static_cast<int64_t>(rng() % d));
}

void check_div32(uint32_t d, const std::vector<int32_t>& ns, std::mt19937_64& rng, Mismatches& bad) {
  dory_divisor32 fl{}, tz{};
  if (dory_divisor32_make(d, DORY_ROUND_FLOOR, &fl) != 0 || dory_divisor32_make(d, DORY_ROUND_TOWARD_ZERO, &tz) != 0) {
    bad.report("dory_divisor32_make rejected d = " + std::to_string(d));
    return;
  }
  for (int32_t n : ns) {
    int64_t ef = static_cast<int64_t>(floor_div(n, d)), et = static_cast<int64_t>(n) / static_cast<int64_t>(d);
    int32_t f = dory_div32(n, &fl), t = dory_div32(n, &tz);
    if (f != ef)
      bad.report("floor32(" + std::to_string(n) + " / " + std::to_string(d) + "): got " + std::to_string(f) +
                 ", expected " + std::to_string(ef));
    if (t != et)
      bad.report("trunc32(" + std::to_string(n) + " / " + std::to_string(d) + "): got " + std::to_string(t) +
                 ", expected " + std::to_string(et));
  }
  // The unsigned core is exact on the whole uint32 range (dory_div32 feeds it magnitudes up to 2^31).
  for (uint32_t n : {0xFFFFFFFFu, 0xFFFFFFFEu, 0x80000000u, 0x80000001u, static_cast<uint32_t>(rng())}) {
    uint32_t got = dory_udiv32(n, &fl), expect = n / d;
    if (got != expect)
      bad.report("udiv32(" + std::to_string(n) + " / " + std::to_string(d) + "): got " + std::to_string(got) +
                 ", expected " + std::to_string(expect));
  }
}

TEST(Requant, Div32IsExactFloorAndTruncationForSpecialDivisorsAndEdgeNumerators) {
  announce_seed("Div32IsExactFloorAndTruncationForSpecialDivisorsAndEdgeNumerators");
  std::mt19937_64 rng(test_seed() ^ 3);
  Mismatches bad;
  std::vector<int32_t> ns;
  for (uint32_t d : special_divisors32()) {
    numerators32(d, rng, ns);
    check_div32(d, ns, rng, bad);
  }
  EXPECT_EQ(bad.count, 0);
}

TEST(Requant, Div32IsExactForAMillionRandomDivisorsBelow2To31) {
  announce_seed("Div32IsExactForAMillionRandomDivisorsBelow2To31");
  std::mt19937_64 rng(test_seed() ^ 4);
  Mismatches bad;
  std::vector<int32_t> ns;
  for (int i = 0; i < 1000000; ++i) {
    uint32_t d = static_cast<uint32_t>((i & 1) ? random_bits(rng, 31) : (rng() >> 33));
    if (d == 0) d = 1;
    numerators32(d, rng, ns);
    check_div32(d, ns, rng, bad);
  }
  EXPECT_EQ(bad.count, 0);
}

// The 32-bit path's preconditions, as the header documents them.
bool requant32_allowed(int32_t v, int64_t m, int64_t a, uint64_t d, int32_t zp, int rounding) {
  if (d == 0 || d >= (uint64_t{1} << 31) || m < kI32Min || m > kI32Max || a < kI32Min || a > kI32Max) return false;
  i128 p = static_cast<i128>(v) * m, n = p + a;
  if (p < kI32Min || p > kI32Max || n < kI32Min || n > kI32Max) return false;
  i128 q = (rounding == DORY_ROUND_FLOOR ? floor_div(n, d) : trunc_div(n, d)) + zp;
  return q >= kI32Min && q <= kI32Max;
}

TEST(Requant, Requant32EqualsRequant64WheneverThe32BitPreconditionsHold) {
  announce_seed("Requant32EqualsRequant64WheneverThe32BitPreconditionsHold");
  std::mt19937_64 rng(test_seed() ^ 5);
  Mismatches bad;
  int64_t checked = 0;
  auto check = [&](int32_t v, int64_t m, int64_t a, uint32_t d, int32_t zp, int32_t lo, int32_t hi, int rounding) {
    if (!requant32_allowed(v, m, a, d, zp, rounding)) return;
    dory_divisor d64{};
    dory_divisor32 d32{};
    ASSERT_EQ(dory_divisor_make(d, rounding, &d64), 0);
    ASSERT_EQ(dory_divisor32_make(d, rounding, &d32), 0);
    int32_t r64 = dory_requant64(v, m, a, &d64, zp, lo, hi);
    int32_t r32 = dory_requant32(v, static_cast<int32_t>(m), static_cast<int32_t>(a), &d32, zp, lo, hi);
    // And both equal the contract evaluated independently.
    i128 n = static_cast<i128>(v) * m + a;
    i128 q = (rounding == DORY_ROUND_FLOOR ? floor_div(n, d) : trunc_div(n, d)) + zp;
    int32_t expect = static_cast<int32_t>(q < lo ? lo : (q > hi ? hi : q));
    ++checked;
    if (r64 != expect || r32 != expect)
      bad.report("requant(v=" + std::to_string(v) + ", m=" + std::to_string(m) + ", a=" + std::to_string(a) +
                 ", D=" + std::to_string(d) + ", zp=" + std::to_string(zp) + ", [" + std::to_string(lo) + ", " +
                 std::to_string(hi) + "], rounding " + std::to_string(rounding) + "): 64-bit " + std::to_string(r64) +
                 ", 32-bit " + std::to_string(r32) + ", expected " + std::to_string(expect));
  };
  const int32_t full_lo = static_cast<int32_t>(kI32Min), full_hi = static_cast<int32_t>(kI32Max);
  // Edge values: numerators at the int32 extremes, divisor 1 and 2^31 - 1, zero points that stay in range.
  for (int rounding : {DORY_ROUND_FLOOR, DORY_ROUND_TOWARD_ZERO})
    for (uint32_t d : {1u, 2u, 3u, 7u, 255u, 16777215u, 0x40000000u, 0x7FFFFFFFu})
      for (int32_t v : {full_lo, full_lo + 1, -1, 0, 1, full_hi - 1, full_hi})
        for (int64_t m : {int64_t{1}, int64_t{-1}, int64_t{2}, int64_t{3}})
          for (int64_t a : {int64_t{0}, int64_t{-1}, int64_t{1}, kI32Min, kI32Max})
            for (int32_t zp : {0, -128, 127, full_lo, full_hi}) {
              check(v, m, a, d, zp, full_lo, full_hi, rounding);
              check(v, m, a, d, zp, -128, 127, rounding);
              check(v, m, a, d, zp, 0, 255, rounding);
            }
  // Random cases with random magnitudes (most satisfy the preconditions by construction).
  for (int i = 0; i < 300000; ++i) {
    const int rounding = (i & 1) ? DORY_ROUND_TOWARD_ZERO : DORY_ROUND_FLOOR;
    const uint32_t d = (i & 2) ? (uint32_t{1} << (rng() % 31)) : static_cast<uint32_t>(random_bits(rng, 31));
    for (int k = 0; k < 4; ++k) {
      int vbits = 1 + static_cast<int>(rng() % 31), mbits = 1 + static_cast<int>(rng() % (32 - vbits));
      int32_t v = static_cast<int32_t>(random_bits(rng, vbits)) * ((rng() & 1) ? -1 : 1);
      int64_t m = static_cast<int64_t>(random_bits(rng, mbits)) * ((rng() & 1) ? -1 : 1);
      int64_t a = static_cast<int64_t>(static_cast<int32_t>(rng())) >> (rng() % 32);
      int32_t zp = static_cast<int32_t>(rng() % 512) - 256;
      int32_t lo = (rng() & 1) ? full_lo : static_cast<int32_t>(rng() % 256) - 128;
      int32_t hi = (rng() & 1) ? full_hi : lo + static_cast<int32_t>(rng() % 256);
      check(v, m, a, d, zp, lo, hi, rounding);
    }
  }
  EXPECT_GT(checked, 1000000);
  EXPECT_EQ(bad.count, 0);
}

}  // namespace
