// Tile geometry: output tile sizes, the loop nest over tiles, and the exact input box and padding of each tile.
//
// A TileShape gives the body tile size of each of the four tiled dimensions; the last tile of a dimension takes
// the remainder (extent - (n-1)*size, in [1, size]). All sizes are >= 1 and <= the extent; for a layer with
// tied channels (depthwise, pool, add) c_in == c_out; for fc h_out = w_out = 1.
//
// Loop nest (DORY's, the order every consumer of a plan follows): for each output-channel tile (outer), each
// output-row tile, each output-column tile, each input-channel tile (inner). Tile i of the linear order has
// index (co, h, w, ci) with i = ((co*n_h + h)*n_w + w)*n_ci + ci. Tied layers have n_ci = 1 and their input
// channels follow co.
//
// Intervals are half-open [begin, end). For output rows [h0, h1) the input rows read are
//   [h0*stride_h - pad_top, (h1-1)*stride_h - pad_top + kh)   clipped to [0, H_in),
// and the padding applied at this tile is what was clipped: pad top = max(0, pad_top - h0*stride_h), pad bottom
// = max(0, (h1-1)*stride_h - pad_top + kh - H_in); same for columns. Padding is therefore non-zero only on tiles
// whose windows reach outside the map: normally the border tiles, but a tile of fewer than pad/stride rows next
// to a border tile gets some too (tile_extent handles every case). Padding may reach or exceed the kernel (legal
// ONNX): then windows, and whole tiles, can lie in the padding only. Such a tile's input box is empty (size 0,
// placed at the border it lies beyond: [0, 0) before the map, [H_in, H_in) after it), nothing is loaded for it,
// and all of its windows' span is padding on that side (pad top = (h1-1)*stride_h + kh - h0*stride_h before the
// map, likewise pad bottom after it). In every case pad before + box + pad after is exactly the span the tile's
// windows cover. The L1 input buffer holds the largest box:
// min((h_out-1)*stride_h + kh, H_in) rows x min((w_out-1)*stride_w + kw, W_in) columns x c_in channels.
#pragma once

#include <cstdint>

#include "tiler/geometry.h"

namespace dory {

struct TileShape {
  int64_t c_out = 1, h_out = 1, w_out = 1, c_in = 1;
  bool operator==(const TileShape&) const = default;
};

// Which L1 buffers have two copies (load/store of one tile overlaps compute on the other). Weights, bias and
// requant parameters share the weights flag.
struct Buffering {
  bool input = false, weights = false, output = false;
  bool operator==(const Buffering&) const = default;
  static Buffering none() { return {}; }
  static Buffering all() { return {true, true, true}; }
  int bits() const { return (input ? 1 : 0) | (weights ? 2 : 0) | (output ? 4 : 0); }
  static Buffering from_bits(int b) { return {(b & 1) != 0, (b & 2) != 0, (b & 4) != 0}; }
};

struct TileCounts {
  int64_t c_out = 1, h = 1, w = 1, c_in = 1;
  int64_t total() const { return c_out * h * w * c_in; }
  bool operator==(const TileCounts&) const = default;
};

struct TileIndex {
  int64_t co = 0, h = 0, w = 0, ci = 0;
  bool operator==(const TileIndex&) const = default;
};

struct Interval {
  int64_t begin = 0, end = 0;  // [begin, end)
  int64_t size() const { return end - begin; }
  bool operator==(const Interval&) const = default;
};

// One tile: its output box, the input box actually read (after clipping) and the padding applied.
struct TileExtent {
  Interval c_out, h_out, w_out;  // output channels, rows, columns
  Interval c_in;                 // input channels read (tied layers: equal to c_out)
  Interval h_in, w_in;           // input rows and columns read
  Padding pad;                   // rows/columns of padding at this tile's top, left, bottom, right
  bool last_c_in = true;         // the last input-channel tile of its output tile (the output is complete)
};

// ceil(extent / size) in every dimension (c_in: 1 for tied layers).
TileCounts tile_counts(const LayerGeometry& g, const TileShape& s);
// Whether s respects the extents and the tying rules (see above).
bool valid_shape(const LayerGeometry& g, const TileShape& s);

// Whether c_in may be the input-channel tile of g (not channels_tied) whose kernel has the c_in grain `grain`
// (RegistryKernel::c_in_grain): the whole c_in, a multiple of the grain, or a tile below the grain (when nothing
// larger fits, the kernel still runs it, on a slower path). The search and the brute force both obey it.
bool c_in_tile_allowed(const LayerGeometry& g, int64_t c_in, int64_t grain);
// The whole layer as one tile.
TileShape whole_layer_shape(const LayerGeometry& g);
// Size of tile `index` (0-based) along a dimension of `extent` with body size `size`.
inline int64_t tile_size_at(int64_t extent, int64_t size, int64_t index) {
  int64_t begin = index * size;
  return (extent - begin < size) ? extent - begin : size;
}
// The i-th tile of the loop nest (0 <= i < counts.total()).
TileIndex tile_index(const TileCounts& n, int64_t i);
TileExtent tile_extent(const LayerGeometry& g, const TileShape& s, const TileIndex& index);

// Input rows/columns read by output rows [o0, o1) along one axis (clipped), and the padding applied before and
// after. in_extent is H_in or W_in.
struct AxisWindow {
  Interval in;
  int64_t pad_before = 0, pad_after = 0;
};
AxisWindow axis_window(int64_t o0, int64_t o1, int64_t stride, int64_t k, int64_t pad_before, int64_t in_extent);

// Rows and columns of the L1 input buffer: min((h_out-1)*stride_h + kh, H_in), same for columns.
int64_t input_buffer_rows(const LayerGeometry& g, const TileShape& s);
int64_t input_buffer_cols(const LayerGeometry& g, const TileShape& s);

}  // namespace dory
