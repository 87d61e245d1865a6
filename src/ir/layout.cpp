#include "ir/layout.h"

#include "util/diagnostic.h"

namespace dory {
namespace {

// C, H, W of the HWC storage behind t, or false if t is stored in ONNX order.
bool hwc_dims(const Tensor& t, int64_t& C, int64_t& H, int64_t& W) {
  if (t.layout == Layout::HWC) {
    C = t.shape[1], H = t.shape[2], W = t.shape[3];
    return true;
  }
  if (t.layout == Layout::FlattenedHWC) {
    C = t.hwc_source[0], H = t.hwc_source[1], W = t.hwc_source[2];
    return true;
  }
  return false;
}

}  // namespace

std::vector<int32_t> to_storage_order(const Tensor& t, const std::vector<int32_t>& onnx) {
  DORY_CHECK(static_cast<int64_t>(onnx.size()) == t.elements(), "element count mismatch");
  int64_t C, H, W;
  if (!hwc_dims(t, C, H, W)) return onnx;
  std::vector<int32_t> out(onnx.size());
  for (int64_t i = 0; i < static_cast<int64_t>(onnx.size()); ++i) out[chw_to_hwc_index(i, C, H, W)] = onnx[i];
  return out;
}

std::vector<int32_t> to_onnx_order(const Tensor& t, const std::vector<int32_t>& storage) {
  DORY_CHECK(static_cast<int64_t>(storage.size()) == t.elements(), "element count mismatch");
  int64_t C, H, W;
  if (!hwc_dims(t, C, H, W)) return storage;
  std::vector<int32_t> out(storage.size());
  for (int64_t i = 0; i < static_cast<int64_t>(storage.size()); ++i) out[i] = storage[chw_to_hwc_index(i, C, H, W)];
  return out;
}

}  // namespace dory
