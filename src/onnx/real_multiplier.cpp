#include "onnx/real_multiplier.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

namespace dory::onnxfe {

namespace {
constexpr int kMaxShift = 61;       // the divisor 2^S stays below the IR's 2^62 limit
constexpr int kMaxSpreadBits = 31;  // mul[c] = m0 * 2^(S - s[c]) stays below 2^62
}  // namespace

Expected<FixedPointMultiplier> fixed_point_multiplier(double real, const std::string& where) {
  if (!std::isfinite(real) || real < 0)
    return make_error("onnx-bad-scale", where,
                      fmt::format("the requantization multiplier s_x * s_w / s_y is {}; it must be finite and "
                                  "positive",
                                  real),
                      "check the scales of the node: every scale must be a positive float");
  if (real == 0) return FixedPointMultiplier{0, 0};
  int e = 0;
  const double f = std::frexp(real, &e);  // real = f * 2^e, f in [0.5, 1)
  int64_t m0 = std::llround(std::ldexp(f, 31));  // exact scaling; rounds half away from zero
  if (m0 == (int64_t{1} << 31)) {
    m0 >>= 1;
    ++e;
  }
  int shift = 31 - e;
  if (shift > kMaxShift) {  // M < 2^-31: keep the divisor representable, rounding the dropped bits half up
    const int drop = shift - kMaxShift;
    m0 = drop >= 63 ? 0 : ((m0 >> (drop - 1)) + 1) >> 1;
    shift = kMaxShift;
  }
  return FixedPointMultiplier{m0, shift};
}

Expected<RealRequant> requant_from_real(const std::vector<double>& real, int32_t zero_point, int32_t lo, int32_t hi,
                                        const std::string& where, const std::vector<int64_t>& acc_bound) {
  using i128 = __int128;
  DORY_CHECK(!real.empty(), "requant_from_real without multipliers");
  DORY_CHECK(acc_bound.empty() || acc_bound.size() == 1 || acc_bound.size() == real.size(),
             "requant_from_real: one accumulator bound per channel");
  std::vector<FixedPointMultiplier> fp;
  fp.reserve(real.size());
  int S = 0;
  bool any = false;
  for (double r : real) {
    DORY_TRY(FixedPointMultiplier f, fixed_point_multiplier(r, where));
    if (f.m0 != 0) {
      S = any ? std::max(S, f.shift) : f.shift;
      any = true;
    }
    fp.push_back(f);
  }
  S = std::max(S, 0);
  auto bound = [&](size_t c) -> i128 {
    if (acc_bound.empty()) return i128{1} << 31;
    return acc_bound.size() == 1 ? acc_bound[0] : acc_bound[c];
  };
  // m0[c] * 2^(S - s[c]), rounded half up when the exponent is negative; nullopt if it reaches 2^62.
  auto mul_at = [&](size_t c, int s_shared) -> std::optional<int64_t> {
    const FixedPointMultiplier& f = fp[c];
    if (f.m0 == 0) return 0;
    const int up = s_shared - f.shift;
    if (up > kMaxSpreadBits) return std::nullopt;
    if (up >= 0) return f.m0 << up;
    const int down = -up;
    return down >= 63 ? 0 : ((f.m0 >> (down - 1)) + 1) >> 1;
  };
  auto fits = [&](int s_shared) {
    const i128 add = s_shared >= 1 ? i128{1} << (s_shared - 1) : 0;
    for (size_t c = 0; c < fp.size(); ++c) {
      auto m = mul_at(c, s_shared);
      if (!m || bound(c) * *m + add > std::numeric_limits<int64_t>::max()) return false;
    }
    return true;
  };
  while (S > 0 && !fits(S)) --S;
  if (!fits(S))
    return make_error("onnx-scale-range", where,
                      fmt::format("the requantization multipliers (largest {}) are too large for exact 64-bit "
                                  "arithmetic with accumulators up to {}",
                                  *std::max_element(real.begin(), real.end()),
                                  static_cast<int64_t>(bound(0))),
                      "check the scales: s_x * s_w / s_y is normally far below 1");
  RealRequant out;
  Requant& rq = out.requant;
  rq.mul.clear();
  for (size_t c = 0; c < fp.size(); ++c) {
    rq.mul.push_back(*mul_at(c, S));
    if (fp[c].m0 != 0 && fp[c].shift > S) ++out.coarsened;
  }
  rq.add = {S >= 1 ? int64_t{1} << (S - 1) : 0};
  rq.divisor = uint64_t{1} << S;
  rq.rounding = Rounding::Floor;
  rq.zero_point = zero_point;
  rq.lo = lo;
  rq.hi = hi;
  return out;
}

}  // namespace dory::onnxfe
