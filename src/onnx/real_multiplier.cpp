#include "onnx/real_multiplier.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>

namespace dory::onnxfe {

namespace {

using i128 = __int128;
constexpr int kMaxShift = 61;  // the divisor 2^S stays below the IR's 2^62
constexpr i128 kInt64Max = std::numeric_limits<int64_t>::max();
constexpr i128 kInt32Max = std::numeric_limits<int32_t>::max();

// round_half_up(M * 2^S) in exact integer arithmetic, or nullopt when it reaches 2^63.
std::optional<int64_t> round_scaled(double M, int S) {
  if (M == 0) return 0;
  int e = 0;
  const double f = std::frexp(M, &e);                        // M = f * 2^e, f in [0.5, 1)
  const auto q = static_cast<int64_t>(std::ldexp(f, 53));   // exact: M = q * 2^(e - 53), q in [2^52, 2^53)
  const int up = S + e - 53;                                 // M * 2^S = q * 2^up
  if (up >= 0) {
    if (up > 10) return std::nullopt;  // q * 2^11 >= 2^63
    const i128 v = static_cast<i128>(q) << up;
    if (v > kInt64Max) return std::nullopt;
    return static_cast<int64_t>(v);
  }
  const int down = -up;
  if (down > 54) return 0;  // q + 2^(down-1) < 2^down
  return static_cast<int64_t>((static_cast<i128>(q) + (static_cast<i128>(1) << (down - 1))) >> down);
}

}  // namespace

MultiplierUse MultiplierUse::accumulators(std::vector<int64_t> bound) {
  MultiplierUse u;
  u.kind = Kind::Accumulators;
  u.bound = std::move(bound);
  return u;
}

MultiplierUse MultiplierUse::window_sums(int64_t window, int64_t max_offset) {
  MultiplierUse u;
  u.kind = Kind::WindowSums;
  u.window = std::max<int64_t>(window, 1);
  u.bound = {u.window * max_offset};
  return u;
}

MultiplierUse MultiplierUse::operand_sum(std::vector<int64_t> max_offset) {
  MultiplierUse u;
  u.kind = Kind::OperandSum;
  u.bound = std::move(max_offset);
  return u;
}

Expected<FixedPoint> fixed_point_multipliers(const std::vector<double>& real, const MultiplierUse& use,
                                             const std::string& where) {
  DORY_CHECK(!real.empty(), "fixed_point_multipliers without multipliers");
  DORY_CHECK(!use.bound.empty() && (use.bound.size() == 1 || use.bound.size() == real.size() || real.size() == 1),
             "fixed_point_multipliers: one bound, or one per multiplier");
  for (double M : real)
    if (!std::isfinite(M) || M < 0)
      return make_error("onnx-bad-scale", where,
                        fmt::format("the requantization multiplier (input scale x weight scale / output scale) is "
                                    "{}; it must be finite and positive",
                                    M),
                        "check the scales of the node: every scale must be a positive float");
  // B per multiplier; one multiplier with several bounds takes the largest.
  std::vector<i128> B(real.size());
  for (size_t c = 0; c < real.size(); ++c)
    B[c] = real.size() == 1 ? *std::max_element(use.bound.begin(), use.bound.end())
                            : use.bound[use.bound.size() == 1 ? 0 : c];

  auto at_shift = [&](int S) -> std::optional<std::vector<int64_t>> {
    const i128 half = static_cast<i128>(1) << (S - 1);
    const i128 K = use.window;
    if (use.kind == MultiplierUse::Kind::WindowSums && (static_cast<i128>(1) << S) * K > kInt64Max)
      return std::nullopt;
    std::vector<int64_t> m(real.size(), 0);
    i128 sum = 0;
    for (size_t c = 0; c < real.size(); ++c) {
      if (B[c] == 0) continue;  // the channel provably computes 0
      auto mc = round_scaled(real[c], S);
      if (!mc) return std::nullopt;
      m[c] = *mc;
      if (use.kind == MultiplierUse::Kind::OperandSum) {
        sum += B[c] * m[c];
        if (sum > kInt32Max) return std::nullopt;
      } else if (B[c] * m[c] + half * K > kInt64Max) {
        return std::nullopt;
      }
    }
    return m;
  };

  for (int S = kMaxShift; S >= 1; --S) {
    auto m = at_shift(S);
    if (!m) continue;
    FixedPoint fp{std::move(*m), S};
    while (fp.shift > 1 && std::all_of(fp.m.begin(), fp.m.end(), [](int64_t x) { return x % 2 == 0; })) {
      for (int64_t& x : fp.m) x /= 2;
      --fp.shift;
    }
    return fp;
  }
  return make_error("onnx-scale-range", where,
                    fmt::format("the requantization multiplier {} is too large for exact 64-bit arithmetic on "
                                "values up to {} (it must be representable as m / 2^S with S >= 1)",
                                *std::max_element(real.begin(), real.end()),
                                static_cast<int64_t>(*std::max_element(B.begin(), B.end()))),
                    "check the scales: s_x * s_w / s_y is normally far below 1");
}

Requant requant_of(const FixedPoint& fp, int32_t zero_point, int64_t lo, int64_t hi) {
  Requant rq;
  rq.mul = fp.m;
  rq.add = {fp.half()};
  rq.divisor = fp.divisor();
  rq.rounding = Rounding::Floor;
  rq.zero_point = zero_point;
  rq.lo = static_cast<int32_t>(lo);
  rq.hi = static_cast<int32_t>(hi);
  return rq;
}

Expected<Requant> requant_from_real(const std::vector<double>& real, const MultiplierUse& use, int32_t zero_point,
                                    int64_t lo, int64_t hi, const std::string& where) {
  DORY_TRY(FixedPoint fp, fixed_point_multipliers(real, use, where));
  return requant_of(fp, zero_point, lo, hi);
}

int64_t max_offset(ValueRange r, int32_t zp) { return std::max(std::abs(r.lo - zp), std::abs(r.hi - zp)); }

std::vector<int64_t> accumulator_bounds(const std::vector<int32_t>& weights, const std::vector<int32_t>& bias,
                                        int64_t channels, ValueRange x, int32_t zp) {
  const i128 vmax = max_offset(x, zp);
  const size_t per = weights.size() / static_cast<size_t>(channels);
  std::vector<int64_t> out(static_cast<size_t>(channels));
  for (size_t c = 0; c < out.size(); ++c) {
    i128 b = bias.empty() ? 0 : std::abs(static_cast<int64_t>(bias[c]));
    for (size_t k = 0; k < per && b <= kInt32Max; ++k) b += std::abs(static_cast<int64_t>(weights[c * per + k])) * vmax;
    out[c] = static_cast<int64_t>(std::min(b, kInt32Max));
  }
  return out;
}

}  // namespace dory::onnxfe
