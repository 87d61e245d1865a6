#include "ir/edge.h"

#include <cmath>

namespace dory {
namespace {

int64_t axis_index(const EdgeQuant& q, const std::vector<int64_t>& shape, int64_t flat) {
  if (q.scale.size() == 1) return 0;
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(q.axis) + 1; d < shape.size(); ++d) inner *= shape[d];
  return (flat / inner) % shape[static_cast<size_t>(q.axis)];
}

}  // namespace

std::vector<int32_t> quantize_edge(const EdgeQuant& q, const std::vector<int64_t>& shape, const std::vector<float>& x) {
  std::vector<int32_t> out(x.size());
  const ValueRange r = dtype_range(q.dtype);
  for (size_t i = 0; i < x.size(); ++i) {
    int64_t a = axis_index(q, shape, static_cast<int64_t>(i));
    float scaled = x[i] / q.scale[static_cast<size_t>(a)];    // float32 division, as ONNX specifies
    if (std::isnan(scaled)) scaled = 0.0f;  // ONNX leaves NaN undefined; dory maps it to the zero point
    double rounded = std::nearbyint(static_cast<double>(scaled));  // default FE mode: round half to even
    double v = rounded + q.zero_point[static_cast<size_t>(a)];
    if (v < static_cast<double>(r.lo)) v = static_cast<double>(r.lo);
    if (v > static_cast<double>(r.hi)) v = static_cast<double>(r.hi);
    out[i] = static_cast<int32_t>(v);
  }
  return out;
}

std::vector<float> dequantize_edge(const EdgeQuant& q, const std::vector<int64_t>& shape,
                                   const std::vector<int32_t>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    int64_t a = axis_index(q, shape, static_cast<int64_t>(i));
    out[i] = static_cast<float>(v[i] - q.zero_point[static_cast<size_t>(a)]) * q.scale[static_cast<size_t>(a)];
  }
  return out;
}

}  // namespace dory
