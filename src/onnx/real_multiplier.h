// Real requantization multipliers -> dory's integer Requant: THE rounding rule of the QOperator frontend.
//
// ONNX's QLinearConv/QLinearMatMul (and QDQ graphs) describe requantization with real scales:
//   y = saturate(round(acc * M) + zp_y),  M = s_x * s_w / s_y  (> 0)
// dory computes it in integers only. The rule (TFLite's representation of M, with a single rounding step):
//   1. M is computed in double precision from the float32 scales: M = (double)s_x * (double)s_w / (double)s_y.
//   2. M = m0 * 2^-s with m0 = round_half_away_from_zero(f * 2^31), where M = f * 2^e, f in [0.5, 1)
//      (std::frexp), s = 31 - e. m0 is in [2^30, 2^31) (m0 = 2^31 is renormalized to 2^30, s - 1).
//   3. y = clamp(floor((acc * m0 + 2^(s-1)) / 2^s) + zp_y, lo, hi): round half UP of acc * m0 * 2^-s.
//      In dory's Requant: mul = m0, add = 2^(s-1), divisor = 2^s, rounding Floor.
// Edge cases, both far outside real networks: s < 1 (M >= 2^30) uses mul = m0 * 2^-s, divisor 1; s > 61
// (M < 2^-31) drops the low bits of m0 (rounding half up) so that the divisor stays 2^61.
//
// Per-channel multipliers share one divisor (Requant has a single D): S = max_c s[c] and
// mul[c] = m0[c] * 2^(S - s[c]), add = 2^(S-1), which gives bit for bit the per-channel rule above, PROVIDED every
// numerator acc * mul[c] + add fits int64 for the accumulator bound the caller gives (|acc| <= acc_bound[c]).
// When channels' scales differ so much that it would not, S is lowered just enough, and the channels whose shift
// exceeds S get their multiplier rounded (half up) to the coarser grid: m[c] = round(m0[c] * 2^(S - s[c])), i.e.
// M[c] is represented within 2^-(S+1) instead of 2^-(s[c]+1). The returned `coarsened` counts those channels.
// A multiplier of exactly 0 (a channel that provably computes 0, see the caller) gets mul 0.
//
// Versus ONNX's own float32 reference (round half to even of acc * M in float32): results differ only where
// acc * M lies within float32 error of a half-integer; ONNX's test data (test_qlinearconv, test_qlinearmatmul_*)
// is reproduced exactly (tests/conformance).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/requant.h"
#include "util/diagnostic.h"

namespace dory::onnxfe {

struct FixedPointMultiplier {
  int64_t m0 = 0;  // in [2^30, 2^31), or 0 for M = 0
  int shift = 0;   // M = m0 * 2^-shift; shift <= 61
};

// Step 2 above. `where` names the node for the diagnostic (M not finite or negative).
Expected<FixedPointMultiplier> fixed_point_multiplier(double real, const std::string& where);

struct RealRequant {
  Requant requant;
  int coarsened = 0;  // channels whose multiplier was rounded to the shared divisor's coarser grid
};

// The Requant of the rule for one (size 1) or per-channel real multipliers, with output zero point and clamp.
// acc_bound: max |acc| per channel (size 1 or real.size()); empty means any int32.
Expected<RealRequant> requant_from_real(const std::vector<double>& real, int32_t zero_point, int32_t lo, int32_t hi,
                                        const std::string& where, const std::vector<int64_t>& acc_bound = {});

}  // namespace dory::onnxfe
