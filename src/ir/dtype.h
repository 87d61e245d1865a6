// Integer element types of activations and weights, and closed integer intervals of values.
//
// Every tensor in dory's IR holds integers. Its DType is the storage type the runtime uses; its ValueRange is
// what the compiler can prove about its values (always a subset of the DType's range). Ranges are inclusive
// [lo, hi] and kept in int64 so that interval arithmetic on them is exact; products of ranges use __int128.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

namespace dory {

enum class DType { Int8, UInt8, Int16, UInt16, Int32 };

struct ValueRange {
  int64_t lo = 0;
  int64_t hi = 0;  // inclusive
  bool contains(int64_t v) const { return lo <= v && v <= hi; }
  bool contains(const ValueRange& o) const { return lo <= o.lo && o.hi <= hi; }
  bool operator==(const ValueRange&) const = default;
};

const char* dtype_name(DType t);  // "int8", "uint8", ...
int dtype_bytes(DType t);
ValueRange dtype_range(DType t);
bool dtype_is_signed(DType t);
// The narrowest type that holds every value of r (preferring unsigned for non-negative ranges), or nullopt if
// r does not fit int32.
std::optional<DType> narrowest_dtype(ValueRange r);

inline ValueRange intersect(ValueRange a, ValueRange b) { return {std::max(a.lo, b.lo), std::min(a.hi, b.hi)}; }

}  // namespace dory
