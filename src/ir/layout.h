// Conversions between ONNX element order and a tensor's storage order (see Layout in ir/tensor.h).
#pragma once

#include <cstdint>
#include <vector>

#include "ir/tensor.h"

namespace dory {

// `onnx` holds t.elements() values in ONNX (row-major logical) order; returns them in t's storage order.
std::vector<int32_t> to_storage_order(const Tensor& t, const std::vector<int32_t>& onnx);
// The inverse: storage order -> ONNX order.
std::vector<int32_t> to_onnx_order(const Tensor& t, const std::vector<int32_t>& storage);
// Storage index of the element at ONNX flat index i of a [1,C,H,W] map stored HWC: CHW index -> HWC index.
inline int64_t chw_to_hwc_index(int64_t i, int64_t C, int64_t H, int64_t W) {
  int64_t c = i / (H * W), hw = i % (H * W);
  return hw * C + c;
}

}  // namespace dory
