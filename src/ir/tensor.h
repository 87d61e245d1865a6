// Tensor: one activation value of the network (weights live inside their layer, not here).
//
// Shapes are ONNX's logical shapes (NCHW for feature maps; batch must be 1 for anything spatial). Storage is
// described by Layout:
//   RowMajor      elements in ONNX order (rank-1/2/3 tensors and tensors no spatial layer touches);
//   HWC           a rank-4 [1,C,H,W] feature map stored H, W, C (channels innermost), as the kernels want it;
//   FlattenedHWC  a [1, C*H*W] view of an HWC map (Flatten is a view: no data moves), so its storage order is
//                 HWC of hwc_source = {C, H, W}, not ONNX's CHW; a consumer FC has its weights permuted once.
// Values: integers of type dtype, provably within range (range is a subset of dtype's range).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ir/dtype.h"

namespace dory {

using TensorId = int32_t;
enum class Layout { RowMajor, HWC, FlattenedHWC };
const char* layout_name(Layout l);

struct Tensor {
  std::string name;              // the ONNX tensor it corresponds to (arbitrary string)
  std::vector<int64_t> shape;    // logical ONNX shape
  DType dtype = DType::UInt8;
  bool dtype_declared = false;   // true when the model fixes the type (QDQ/QOperator); else derived from range
  int32_t zero_point = 0;
  std::optional<double> scale;   // real value = scale * (q - zero_point), where the model says
  ValueRange range{0, 255};      // proven bounds of the values (set by analyze_ranges)
  Layout layout = Layout::RowMajor;
  std::array<int64_t, 3> hwc_source{0, 0, 0};  // FlattenedHWC only: C, H, W of the viewed HWC map

  int64_t elements() const;
  int64_t bytes() const { return elements() * dtype_bytes(dtype); }
  bool is_feature_map() const { return shape.size() == 4; }
  int64_t channels() const { return shape.size() >= 2 ? shape[1] : (shape.empty() ? 1 : shape[0]); }
  int64_t height() const { return shape.size() == 4 ? shape[2] : 1; }
  int64_t width() const { return shape.size() == 4 ? shape[3] : 1; }
};

std::string shape_str(const std::vector<int64_t>& shape);  // "[1,32,14,14]"

}  // namespace dory
