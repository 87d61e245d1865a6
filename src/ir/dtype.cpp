#include "ir/dtype.h"

#include <limits>

namespace dory {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::Int8: return "int8";
    case DType::UInt8: return "uint8";
    case DType::Int16: return "int16";
    case DType::UInt16: return "uint16";
    case DType::Int32: return "int32";
  }
  return "?";
}

int dtype_bytes(DType t) {
  switch (t) {
    case DType::Int8:
    case DType::UInt8: return 1;
    case DType::Int16:
    case DType::UInt16: return 2;
    case DType::Int32: return 4;
  }
  return 0;
}

ValueRange dtype_range(DType t) {
  switch (t) {
    case DType::Int8: return {-128, 127};
    case DType::UInt8: return {0, 255};
    case DType::Int16: return {-32768, 32767};
    case DType::UInt16: return {0, 65535};
    case DType::Int32: return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
  }
  return {0, 0};
}

bool dtype_is_signed(DType t) { return t == DType::Int8 || t == DType::Int16 || t == DType::Int32; }

std::optional<DType> narrowest_dtype(ValueRange r) {
  for (DType t : {DType::UInt8, DType::Int8, DType::UInt16, DType::Int16, DType::Int32})
    if (dtype_range(t).contains(r)) return t;
  return std::nullopt;
}

}  // namespace dory
