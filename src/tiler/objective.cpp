#include "tiler/objective.h"

namespace dory {

const char* objective_name(Objective o) {
  switch (o) {
    case Objective::Model: return "model";
    case Objective::Dory: return "dory";
    case Objective::Fill: return "fill";
  }
  return "?";
}

std::optional<Objective> parse_objective(std::string_view name) {
  if (name == "model") return Objective::Model;
  if (name == "dory") return Objective::Dory;
  if (name == "fill") return Objective::Fill;
  return std::nullopt;
}

bool better(Objective o, const Candidate& a, const Candidate& b) {
  if (o == Objective::Model) {
    if (a.value != b.value) return a.value < b.value;
    if (a.l1_bytes != b.l1_bytes) return a.l1_bytes < b.l1_bytes;
  } else {
    if (a.value != b.value) return a.value > b.value;
  }
  if (a.tiles != b.tiles) return a.tiles < b.tiles;
  if (a.shape.c_out != b.shape.c_out) return a.shape.c_out > b.shape.c_out;
  if (a.shape.h_out != b.shape.h_out) return a.shape.h_out > b.shape.h_out;
  if (a.shape.w_out != b.shape.w_out) return a.shape.w_out > b.shape.w_out;
  if (a.shape.c_in != b.shape.c_in) return a.shape.c_in > b.shape.c_in;
  return a.buffering.bits() < b.buffering.bits();
}

int64_t dory_score(const LayerGeometry& g, const TileShape& s, int64_t l1_bytes) {
  const int64_t n = s.c_out, h = s.h_out, w = s.w_out;
  const int64_t Co = g.c_out, Ho = g.h_out, Wo = g.w_out;
  switch (g.family) {
    case KernelFamily::Conv:
    case KernelFamily::Pointwise:
    case KernelFamily::Fc:
      // tiler_conv2d.py, groups == 1: tile shape, total size, im2col reuse, border tile shape.
      return 2000000 * ((h - 1) % 8) + 3000000 * ((w - 1) % 2) + 1000000 * ((n - 1) % 4) +
             1000000 * (w * h >= 16 ? 1 : 0) + l1_bytes + 100000 * n + 10000 * ((Co - 1) % n) +
             10000 * (((Co - 1) % n) % 4) + 20000 * (((Ho - 1) % h) % 8) + 30000 * (((Wo - 1) % w) % 2);
    case KernelFamily::Depthwise:
      // tiler_conv2d.py, groups > 1.
      return 10000 * (n > 7 ? 1 : 0) + 20000 * ((n - 1) % 16) + 10000 * (h % 4 == 0 ? 1 : 0) + l1_bytes +
             1000 * w + 1000 * h + 100 * ((Ho - 1) % h) + 100 * ((Wo - 1) % w) +
             100 * (((Co - 1) % n) > 7 ? 1 : 0) + 100 * (((Ho - 1) % h) % 4);
    case KernelFamily::Pool:
      // tiler_pool2d.py: input tile sizes, channels.
      return 10000 * l1_bytes + 100 * input_buffer_cols(g, s) + input_buffer_rows(g, s) + 1000000 * n;
    case KernelFamily::Add:
      // tiler_add.py: total size only.
      return l1_bytes;
  }
  return l1_bytes;
}

}  // namespace dory
