// Requant: the fused requantization and clamp a compute layer applies to its int32 accumulator.
//
//   y[c] = clamp(R((acc * mul[c] + add[c]) / divisor) + zero_point, lo, hi)
//
// with R the rounding rule (floor unless an export's integer Div truncates), evaluated exactly: this is the
// contract of runtime/include/dory/requant.h, which both the reference and the kernels call. mul/add have one
// entry (per tensor) or one per output channel. `wide` says whether 64-bit intermediates are needed; it is set
// by analyze_ranges() from the proven accumulator range, never guessed.
#pragma once

#include <cstdint>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "dory/requant.h"

namespace dory {

enum class Rounding { Floor, TowardZero };

struct Requant {
  std::vector<int64_t> mul{1};
  std::vector<int64_t> add{0};
  uint64_t divisor = 1;
  Rounding rounding = Rounding::Floor;
  int32_t zero_point = 0;
  int32_t lo = std::numeric_limits<int32_t>::min();
  int32_t hi = std::numeric_limits<int32_t>::max();
  bool wide = true;

  int64_t mul_at(int64_t c) const { return mul.size() == 1 ? mul[0] : mul[static_cast<size_t>(c)]; }
  int64_t add_at(int64_t c) const { return add.size() == 1 ? add[0] : add[static_cast<size_t>(c)]; }
  bool per_channel() const { return mul.size() > 1 || add.size() > 1; }
  bool clamps() const {
    return lo != std::numeric_limits<int32_t>::min() || hi != std::numeric_limits<int32_t>::max();
  }
  // The runtime's precomputed divisor for `divisor * count` (count > 1 only for average pooling).
  dory_divisor make_divisor(uint64_t count = 1) const;
};

// A one-line human summary, e.g. "y = clamp(floor((acc*m[c] + a[c]) / 16777215), 0, 255), 64-bit".
std::string requant_summary(const Requant& rq);

}  // namespace dory
