// Quantization at the network's edges: how a float ONNX input becomes dory's integer input, and how an
// integer output maps back to the float a trailing DequantizeLinear would produce. dory computes in integers
// only; these conversions run on the host (CLI, tests), with ONNX's exact rules:
//   quantize:   q = saturate(round_half_to_even(x / scale) + zero_point)   (QuantizeLinear, float32 math)
//   dequantize: x = (q - zero_point) * scale                               (DequantizeLinear, float32 math)
// Per-axis parameters apply along `axis` (0 <= axis < rank) of the ONNX shape. NaN quantizes to the zero point
// (ONNX leaves it undefined); infinities saturate.
#pragma once

#include <cstdint>
#include <vector>

#include "ir/dtype.h"

namespace dory {

struct EdgeQuant {
  std::vector<float> scale;        // size 1 (per tensor) or the size of `axis`
  std::vector<int32_t> zero_point; // same size as scale
  int axis = 1;
  DType dtype = DType::UInt8;      // the integer type
};

std::vector<int32_t> quantize_edge(const EdgeQuant& q, const std::vector<int64_t>& shape, const std::vector<float>& x);
std::vector<float> dequantize_edge(const EdgeQuant& q, const std::vector<int64_t>& shape,
                                   const std::vector<int32_t>& v);

}  // namespace dory
