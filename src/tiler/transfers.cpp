#include "tiler/transfers.h"

namespace dory {

DmaPattern box_pattern(int64_t rows, int64_t cols, int64_t chans, int64_t map_w, int64_t map_c, int elem) {
  DmaPattern p;
  p.row_bytes = chans * elem;
  p.rows = cols;
  p.row_stride = map_c * elem;
  p.planes = rows;
  p.plane_stride = map_w * map_c * elem;
  return p;
}

TileTransfer weights_transfer(const LayerGeometry& g, const TileExtent& e) {
  TileTransfer t;
  t.role = BufferRole::Weights;
  t.direction = DmaDirection::Load;
  if (g.family == KernelFamily::Depthwise) {
    t.l2_offset_bytes = e.c_out.begin * g.kh * g.kw;
    t.pattern.row_bytes = e.c_out.size() * g.kh * g.kw;
  } else {
    t.l2_offset_bytes = e.c_out.begin * g.kh * g.kw * g.c_in + e.c_in.begin;
    t.pattern.row_bytes = e.c_in.size();
    t.pattern.rows = e.c_out.size() * g.kh * g.kw;
    t.pattern.row_stride = g.c_in;
  }
  return t;
}

namespace {

bool input_changes_every_step(const LayerGeometry& g, const TileCounts& n) {
  return g.channels_tied ? n.total() > 1 : n.h * n.w * n.c_in > 1;
}

TileTransfer input_transfer(const LayerGeometry& g, const TileExtent& e, int operand) {
  const int eb = g.in_elem_bytes[static_cast<size_t>(operand)];
  TileTransfer t;
  t.role = BufferRole::Input;
  t.operand = operand;
  t.direction = DmaDirection::Load;
  const int64_t stride = g.in_stride(operand);
  t.l2_offset_bytes = ((e.h_in.begin * g.w_in + e.w_in.begin) * stride + g.in_offset(operand) + e.c_in.begin) * eb;
  t.pattern = box_pattern(e.h_in.size(), e.w_in.size(), e.c_in.size(), g.w_in, stride, eb);
  return t;
}

TileTransfer per_channel_transfer(BufferRole role, int64_t bytes_per_cout, const TileExtent& e) {
  TileTransfer t;
  t.role = role;
  t.direction = DmaDirection::Load;
  t.l2_offset_bytes = e.c_out.begin * bytes_per_cout;
  t.pattern.row_bytes = e.c_out.size() * bytes_per_cout;
  return t;
}

TileTransfer output_transfer(const LayerGeometry& g, const TileExtent& e) {
  TileTransfer t;
  t.role = BufferRole::Output;
  t.direction = DmaDirection::Store;
  const int64_t stride = g.out_stride();
  t.l2_offset_bytes =
      ((e.h_out.begin * g.w_out + e.w_out.begin) * stride + g.out_channel_offset + e.c_out.begin) * g.out_elem_bytes;
  t.pattern = box_pattern(e.h_out.size(), e.w_out.size(), e.c_out.size(), g.w_out, stride, g.out_elem_bytes);
  return t;
}

}  // namespace

std::vector<TileTransfer> tile_loads(const LayerGeometry& g, const TileShape& s, int64_t i) {
  const TileCounts n = tile_counts(g, s);
  DORY_CHECK(i >= 0 && i < n.total(), "tile_loads: tile index out of range");
  const TileIndex t = tile_index(n, i);
  const TileExtent e = tile_extent(g, s, t);
  bool load_input = i == 0, load_weights = i == 0, load_channel_params = i == 0;
  if (i > 0) {
    const TileIndex p = tile_index(n, i - 1);
    load_input = input_changes_every_step(g, n);
    load_weights = p.co != t.co || p.ci != t.ci;
    load_channel_params = p.co != t.co;
  }
  std::vector<TileTransfer> out;
  auto push = [&](TileTransfer tr) {
    if (tr.pattern.bytes() > 0) out.push_back(tr);
  };
  if (load_input)
    for (int k = 0; k < g.num_inputs(); ++k) push(input_transfer(g, e, k));
  if (load_weights && g.weight_bytes_per_cout(1) > 0) push(weights_transfer(g, e));
  if (load_channel_params) {
    push(per_channel_transfer(BufferRole::Bias, g.bias_bytes_per_cout, e));
    push(per_channel_transfer(BufferRole::RequantParams, g.requant_bytes_per_cout, e));
  }
  return out;
}

std::vector<TileTransfer> tile_stores(const LayerGeometry& g, const TileShape& s, int64_t i) {
  const TileCounts n = tile_counts(g, s);
  DORY_CHECK(i >= 0 && i < n.total(), "tile_stores: tile index out of range");
  const TileExtent e = tile_extent(g, s, tile_index(n, i));
  if (!e.last_c_in) return {};
  return {output_transfer(g, e)};
}

}  // namespace dory
