#include "tiler/tile.h"

#include <algorithm>

namespace dory {

namespace {
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
}  // namespace

TileCounts tile_counts(const LayerGeometry& g, const TileShape& s) {
  TileCounts n;
  n.c_out = ceil_div(g.c_out, s.c_out);
  n.h = ceil_div(g.h_out, s.h_out);
  n.w = ceil_div(g.w_out, s.w_out);
  n.c_in = g.channels_tied ? 1 : ceil_div(g.c_in, s.c_in);
  return n;
}

bool valid_shape(const LayerGeometry& g, const TileShape& s) {
  if (s.c_out < 1 || s.c_out > g.c_out || s.h_out < 1 || s.h_out > g.h_out || s.w_out < 1 || s.w_out > g.w_out ||
      s.c_in < 1 || s.c_in > g.c_in)
    return false;
  if (g.channels_tied && s.c_in != s.c_out) return false;
  if (!g.channels_tied && !g.cin_tileable && s.c_in != g.c_in) return false;
  return true;
}

bool c_in_tile_allowed(const LayerGeometry& g, int64_t c_in, int64_t grain) {
  return c_in == g.c_in || c_in < grain || c_in % grain == 0;
}

TileShape whole_layer_shape(const LayerGeometry& g) { return {g.c_out, g.h_out, g.w_out, g.c_in}; }

TileIndex tile_index(const TileCounts& n, int64_t i) {
  TileIndex t;
  t.ci = i % n.c_in;
  i /= n.c_in;
  t.w = i % n.w;
  i /= n.w;
  t.h = i % n.h;
  t.co = i / n.h;
  return t;
}

AxisWindow axis_window(int64_t o0, int64_t o1, int64_t stride, int64_t k, int64_t pad_before, int64_t in_extent) {
  const int64_t first = o0 * stride - pad_before;        // first input position of the first window
  const int64_t last = (o1 - 1) * stride - pad_before + k;  // one past the last position of the last window
  AxisWindow a;
  if (last <= 0 || first >= in_extent) {
    // Every window lies wholly in the padding (padding as large as the kernel allows it): an empty box at the border
    // the windows lie beyond, and all of their span is padding on that side.
    a.in.begin = a.in.end = first >= in_extent ? in_extent : 0;
    (first >= in_extent ? a.pad_after : a.pad_before) = last - first;
    return a;
  }
  a.in.begin = std::max<int64_t>(0, first);
  a.in.end = std::min(in_extent, last);
  a.pad_before = std::max<int64_t>(0, -first);
  a.pad_after = std::max<int64_t>(0, last - in_extent);
  return a;
}

TileExtent tile_extent(const LayerGeometry& g, const TileShape& s, const TileIndex& t) {
  TileExtent e;
  auto iv = [](int64_t extent, int64_t size, int64_t index) {
    Interval r;
    r.begin = index * size;
    r.end = std::min(extent, r.begin + size);
    return r;
  };
  e.c_out = iv(g.c_out, s.c_out, t.co);
  e.h_out = iv(g.h_out, s.h_out, t.h);
  e.w_out = iv(g.w_out, s.w_out, t.w);
  e.c_in = g.channels_tied ? e.c_out : iv(g.c_in, s.c_in, t.ci);
  const AxisWindow rows = axis_window(e.h_out.begin, e.h_out.end, g.stride_h, g.kh, g.pad.top, g.h_in);
  const AxisWindow cols = axis_window(e.w_out.begin, e.w_out.end, g.stride_w, g.kw, g.pad.left, g.w_in);
  e.h_in = rows.in;
  e.w_in = cols.in;
  e.pad.top = static_cast<int32_t>(rows.pad_before);
  e.pad.bottom = static_cast<int32_t>(rows.pad_after);
  e.pad.left = static_cast<int32_t>(cols.pad_before);
  e.pad.right = static_cast<int32_t>(cols.pad_after);
  e.last_c_in = g.channels_tied || e.c_in.end == g.c_in;
  return e;
}

int64_t input_buffer_rows(const LayerGeometry& g, const TileShape& s) {
  return std::min((s.h_out - 1) * g.stride_h + g.kh, g.h_in);
}
int64_t input_buffer_cols(const LayerGeometry& g, const TileShape& s) {
  return std::min((s.w_out - 1) * g.stride_w + g.kw, g.w_in);
}

}  // namespace dory
