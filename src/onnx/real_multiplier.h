// Real requantization multipliers -> integers: THE rule of both float-scale frontends, QDQ (onnx/qdq.cpp: Conv,
// Gemm/MatMul, AveragePool, Add, Requantize) and QOperator (onnx/qoperator.cpp: QLinearConv, QLinearMatMul). The
// same model in either form gets the same integers.
//
// Input. Real multipliers M[c] >= 0, computed in double from the float32 scales (s_x * s_w[c] / s_y for a Conv or
// MatMul, in that order; s_x / s_y for a pool or Requantize; s_i / s_y per Add operand), and bounds B[c] >= 0 with
// |v| <= B[c] for every integer v that M[c] scales (accumulator_bounds(), max_offset() below: proven from the
// weights and the input's type, never measured). Per-channel multipliers share one divisor (the IR's Requant has
// one), so one shift S serves all of them.
//
// The rule.
//   m_S[c] = round_half_up(M[c] * 2^S), exactly (M = q * 2^e with integer q < 2^53: integer shifts, no double
//            rounding); m_S[c] = 0 where B[c] = 0 (the channel provably computes 0, so its multiplier is moot)
//   S      = the largest integer in [1, 61] for which the IR can evaluate the result exactly
//            (the limits src/ir/analysis.cpp proves again after import):
//              Accumulators (Conv, FC, Requantize):  B[c] * m_S[c] + 2^(S-1) <= 2^63 - 1 for every c
//                (requant.h forms acc*m, then adds a = 2^(S-1); divisor 2^S < 2^62);
//              WindowSums (AveragePool of at most K slots, B = K * max|x - zp|):
//                B * m_S + 2^(S-1) * K <= 2^63 - 1 and 2^S * K < 2^63 (the divisor is 2^S * cnt);
//              OperandSum (Add, B[i] = max|x_i - zp_i|):  sum_i B[i] * m_S[i] <= 2^31 - 1 (the IR's operand sum
//                is an int32).
//            No such S (M far above 1, e.g. >= 2^31 for an int32 accumulator): "onnx-scale-range".
//   then, while S > 1 and every m[c] is even: m[c] /= 2, S -= 1   (the same value with smaller numbers; a binary
//            fraction such as M = 1 becomes m = 2, S = 1).
// The layer computes round half UP of v * m[c] / 2^S: Requant{mul = m, add = 2^(S-1), divisor = 2^S, Floor}
// (AveragePool: floor((sum * m + 2^(S-1) * cnt) / (2^S * cnt)); Add: t_i = m_i * (x_i - zp_i) exactly, then that
// Requant with mul 1 on t_a + t_b).
//
// Why this rule. With a single divisor, |m[c] / 2^S - M[c]| <= 2^-(S+1) for every channel (each channel rounded on
// the finest grid, not to a per-channel 31-bit mantissa), so the error |v| / 2^(S+1) only shrinks as S grows, and S
// is the largest the IR's proven limits allow: the most precise exact rule of this form. For Accumulators it is
// never coarser than TFLite's 31-bit multiplier (with B <= 2^31 - 1 and m < 2^31 the numerator stays below
// 2^62 + 2^60, so that shift always qualifies) and typically has 32 - log2(max B) more bits. The 32-bit kernel path
// needs acc*m in int32, which only small exact multipliers (kept small by the stripping) allow; the range analysis
// picks it by itself.
//
// Error versus a float64 evaluation (docs/semantics.md, "What differs"): with r = v * M[c], the value
// QuantizeLinear rounds, and r' = v * m[c] / 2^S, |r' - r| <= |v| / 2^(S+1). By maximality (S before stripping),
// either S = 61 or, for Accumulators, 2^(S+1) >= (2^63 - 2^30) / (P + 1/2) with P = max_c B[c] * M[c]; so
// |r' - r| <= min(B[c], (R + 1) / M[c]) * (P + 1/2) / (2^63 - 2^30) wherever the clamp does not decide the result
// (R = max(hi - zp_y, zp_y - lo)): at most 6.2e-11 LSB in models/fmnist/fmnist_qdq.onnx, where a 31-bit multiplier
// gives up to 3.6e-7. Results differ from round
// half to even of r only where r is within that of a half-integer, ties included. ONNX's own test data
// (test_qlinearconv, test_qlinearmatmul_2D/3D) is reproduced exactly (tests/conformance/qlinear_rounding_test.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/dtype.h"
#include "ir/requant.h"
#include "util/diagnostic.h"

namespace dory::onnxfe {

// What the multipliers scale, i.e. which of the IR's limits bounds S (see the rule above).
struct MultiplierUse {
  enum class Kind { Accumulators, WindowSums, OperandSum };
  Kind kind = Kind::Accumulators;
  std::vector<int64_t> bound;  // B: one value, or one per multiplier (one multiplier, several bounds: the largest)
  int64_t window = 1;          // WindowSums: K, the most slots a window counts

  // Conv, FullyConnected (B[c] from accumulator_bounds) and Requantize (B = max_offset of the input).
  static MultiplierUse accumulators(std::vector<int64_t> bound);
  // AveragePool: windows of at most `window` slots, each |x - zp| <= max_offset.
  static MultiplierUse window_sums(int64_t window, int64_t max_offset);
  // Add: operand i has |x_i - zp_i| <= max_offset[i].
  static MultiplierUse operand_sum(std::vector<int64_t> max_offset);
};

// The integers of the rule: M[c] ~ m[c] / 2^shift.
struct FixedPoint {
  std::vector<int64_t> m;
  int shift = 1;  // S in [1, 61]
  uint64_t divisor() const { return uint64_t{1} << shift; }
  int64_t half() const { return int64_t{1} << (shift - 1); }  // the rounding offset 2^(S-1)
};

// The rule. `where` names the node for diagnostics: "onnx-bad-scale" (M negative or not finite),
// "onnx-scale-range" (no S in [1, 61] fits).
Expected<FixedPoint> fixed_point_multipliers(const std::vector<double>& real, const MultiplierUse& use,
                                             const std::string& where);

// Requant{mul = m, add = 2^(S-1), divisor = 2^S, Floor} with the output zero point and clamp.
Requant requant_of(const FixedPoint& fp, int32_t zero_point, int64_t lo, int64_t hi);

// fixed_point_multipliers + requant_of.
Expected<Requant> requant_from_real(const std::vector<double>& real, const MultiplierUse& use, int32_t zero_point,
                                    int64_t lo, int64_t hi, const std::string& where);

// max |x - zp| over x in r.
int64_t max_offset(ValueRange r, int32_t zp);

// B[c] = |bias[c]| + sum_k |w[c][k]| * max_offset(x, zp) for weights stored channel-major (`channels` rows), the
// bound the range analysis proves with x's actual range (within x's type range). Capped at 2^31 - 1: a larger
// accumulator is rejected by the analysis (ir-accumulator-overflow), which names the layer.
std::vector<int64_t> accumulator_bounds(const std::vector<int32_t>& weights, const std::vector<int32_t>& bias,
                                        int64_t channels, ValueRange x, int32_t zp);

}  // namespace dory::onnxfe
