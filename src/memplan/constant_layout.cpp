#include "memplan/constant_layout.h"

#include <algorithm>

namespace dory {

namespace {

int64_t align8(int64_t n) { return (n + 7) / 8 * 8; }

}  // namespace

ConstantLayout layout_constants(const std::vector<TilePlan>& plans) {
  ConstantLayout r;
  int64_t end = 0;
  auto place = [&](int64_t bytes) {
    ConstantPart part;
    if (bytes > 0) {
      part.offset = align8(end);
      part.bytes = bytes;
      end = part.offset + bytes;
    }
    return part;
  };
  for (const TilePlan& p : plans) {
    const LayerGeometry& g = p.geometry;
    LayerConstants c;
    c.weights = place(g.weight_bytes());
    c.bias = place(g.bias_bytes_per_cout * g.c_out);
    c.requant = place(g.requant_bytes_per_cout * g.c_out);
    r.layers.push_back(c);
  }
  r.bytes = std::max<int64_t>(8, align8(end));
  return r;
}

}  // namespace dory
