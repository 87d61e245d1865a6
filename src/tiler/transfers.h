// The DMA transfers of a tiled layer: which boxes of which L2 tensors tile i loads into L1 (LD_i) and stores back
// (ST_i). Geometry, not timing: the cost model prices these transfers (tiler/layer_model.h), the code generator's
// static checker proves the generated schedule issues exactly these (codegen/schedule_check.h), and the runtime's
// dory_layer_tile_loads / _store (runtime/include/dory/layer.h) compute the same ones in C.
//
// Transfers of tile i (loop order, tile.h):
//   loads LD_i:  input box of every operand   when i = 0 or the input tile changed (it does at every step unless
//                                             n_h*n_w*n_ci == 1; tied layers: unless there is one tile),
//                weights (c_out x c_in slice) when i = 0 or (co, ci) changed (every step when n_ci > 1),
//                bias, requant params         when i = 0 or co changed;
//   store ST_i:  output box                   when ci is the last input-channel tile (else nothing).
// A tile's loads are in issue order: inputs (operand order), weights, bias, requant. Transfers of 0 bytes are
// left out.
#pragma once

#include <cstdint>
#include <vector>

#include "target/cost_model.h"
#include "tiler/geometry.h"
#include "tiler/l1_layout.h"
#include "tiler/tile.h"

namespace dory {

// One DMA transfer between a tile's L1 buffer copy and its L2 tensor. l2_offset_bytes is from the start of the
// L2 tensor (input operand, weights [C_out][kh][kw][C_in/groups], bias, requant records [C_out][k], output);
// the L1 side is the dense buffer copy.
struct TileTransfer {
  BufferRole role = BufferRole::Input;
  int operand = 0;
  DmaDirection direction = DmaDirection::Load;
  int64_t l2_offset_bytes = 0;
  DmaPattern pattern;  // L2 side
};

// The loads LD_i of tile i (in issue order), and its store ST_i (empty when not the last c_in tile).
std::vector<TileTransfer> tile_loads(const LayerGeometry& g, const TileShape& s, int64_t i);
std::vector<TileTransfer> tile_stores(const LayerGeometry& g, const TileShape& s, int64_t i);

// The pieces, for the cost model's classes of equal transfers (layer_model.cpp):
// a box of rows x cols pixels x chans channels of an HWC map of width map_w and map_c channels per pixel, with
// elem-byte elements (L2 side; offsets are the caller's), and the weights transfer of tile extent e.
DmaPattern box_pattern(int64_t rows, int64_t cols, int64_t chans, int64_t map_w, int64_t map_c, int elem);
TileTransfer weights_transfer(const LayerGeometry& g, const TileExtent& e);

}  // namespace dory
