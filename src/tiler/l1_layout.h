// L1 layout of one layer's tiles: THE function both the tiler (its constraint) and the code generator (its L1
// offsets) use, so that what was checked is what runs.
//
// Buffers, in this order in L1 (a buffer of 0 bytes is left out):
//   Input (one per operand: an Add has operand 0, 1, ...)  rows x cols x c_in x elem bytes, rows/cols from
//                      input_buffer_rows/cols (the largest input box);                copies: 2 if input DB
//   Weights            c_out x weight_bytes_per_cout(c_in) (int8);                     copies: 2 if weights DB
//   Bias               c_out x 4 (MAC families);                                       copies: as weights
//   RequantParams      c_out x requant_bytes_per_cout (per-channel vectors only);      copies: as weights
//   Output             c_out x h_out x w_out x out elem bytes;                         copies: 2 if output DB
//   PartialSums        c_out x h_out x w_out x 4 (int32), only when c_in < C_in;       1 copy
//   Scratch            the layer's kernel's own L1 scratch (an im2col, a padded patch...): the bytes its registry
//                      scratch function returns for the tile (kernel_shape), 0 when it needs none;     1 copy
// Each copy starts at a multiple of the target's L1 alignment_bytes, copies of a buffer one after the other,
// buffers in the order above; offsets are from the start of dory's L1 area. total_bytes is the end of the last
// copy (not rounded up). The layout is monotone: no buffer shrinks when c_out, h_out or w_out grows, nor when
// c_in grows below C_in (the partial sums disappear at c_in = C_in, so total_bytes is NOT monotone there).
#pragma once

#include <cstdint>
#include <vector>

#include "target/target.h"
#include "tiler/geometry.h"
#include "tiler/tile.h"

namespace dory {

enum class BufferRole { Input, Weights, Bias, RequantParams, Output, PartialSums, Scratch };
const char* buffer_role_name(BufferRole r);  // "input", "weights", "bias", "requant", "output", "psum", "scratch"

struct L1Buffer {
  BufferRole role = BufferRole::Input;
  int operand = 0;                // which input, for Input buffers (0 otherwise)
  int copies = 1;                 // 1, or 2 when double buffered
  int64_t bytes_per_copy = 0;
  std::vector<int64_t> offsets;   // one per copy, from the start of dory's L1 area, aligned

  int64_t bytes() const { return bytes_per_copy * copies; }
};

struct L1Layout {
  std::vector<L1Buffer> buffers;
  int64_t total_bytes = 0;

  // The buffer with this role (and operand), or nullptr if the layout has none.
  const L1Buffer* find(BufferRole role, int operand = 0) const;
};

L1Layout plan_l1_layout(const LayerGeometry& g, const TileShape& s, const Buffering& b, const Target& target);

// The shape a kernel's scratch function sees for tiles of shape s (dory_kernel_shape: the tile's output box, its
// largest input box, the layer's window and padding, the target's cores, the input type).
dory_kernel_shape kernel_shape(const LayerGeometry& g, const TileShape& s, const Target& target);

// The Scratch buffer's bytes for tiles of shape s: the layer's kernel's registry scratch function (0 when it needs
// none). THE formula, used by the layout, by l1_layout_bytes and by the L2-direct execution's scratch (eval/eval.h,
// with the whole layer as the tile). Scratch functions are monotone in the shape except across c_in's residue mod 4
// (registry invariant); when c_in is tiled the reservation is the maximum over every c_in a tile can have: when the
// kernel's c_in grain is a multiple of 4 and divides both the layer's and the tile's c_in, every tile is a multiple
// of 4 (the tile's own residue class, and the allowed tiles below the grain, for monotony); otherwise the last tile
// may have any residue, and the maximum is over every smaller c_in. Either way the layout stays monotone over the
// tiles the search may choose.
int64_t scratch_buffer_bytes(const LayerGeometry& g, const TileShape& s, const Target& target);

// plan_l1_layout(...).total_bytes without building the vectors (the search's hot path); always equal.
int64_t l1_layout_bytes(const LayerGeometry& g, const TileShape& s, const Buffering& b, const Target& target);

}  // namespace dory
