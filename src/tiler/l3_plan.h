// The L3 -> L2 level of the tiler: the L3 tiles of a layer whose weights or feature maps live in L3, THE L2
// staging layout, the two-level cost model and its exact search. The runtime's dory/l3.h mirrors the tiles and
// the schedule in C (the static checker proves they agree); docs/cost-model.md ("Two levels") is the
// specification.
//
// L3 tiles. A layer with some operand in L3 (L3Residency) is cut into output-row BANDS of `h_out` rows (outer)
// and output-channel BLOCKS of `c_out` channels (inner): tile t = band * n_blocks + block. Bands exist only when a
// feature map is in L3 (h_out = H_out otherwise), blocks only when the weights are (c_out = C_out otherwise); a
// layer with tied channels (depthwise, pool, add) whose feature map is in L3 keeps all its channels in one block
// (an L3 map is loaded and stored in whole rows). A band's input rows are the rows its windows read, clipped to
// the map, with the padding applied there (tiler/tile.h axis_window along the rows; columns are not tiled at
// this level), so that the band computes exactly its rows of the layer.
//
// Sub-layers. Every L3 tile runs as an ordinary layer: its SUB-GEOMETRY is the layer restricted to the tile
// (c_out = the block's channels, the band's rows and input rows and padding, every column), on maps whose pixel
// strides are the ones it reads and writes in L2 (a tied block reads a channel slice; an output band in L2 is a
// slice of the whole map; a staging buffer holds whole rows of every channel). Each distinct sub-geometry gets
// the L2 -> L1 plan of plan_geometry (tiler/plan.h): exact, as for any layer.
//
// L2 staging (plan_l2_staging, the one function the search and the code generator use): for every operand in L3
// a buffer in L2, in this order: each input in L3 (the largest band's input rows x W_in x C_in), the weights,
// bias and requant records of a block (when the weights are in L3), the output band (rows x W_out x C_out) when
// the output is in L3. A buffer has two copies when it is loaded (stored) more than once (inputs and output: more
// than one band; constants: more than one block), else one. Every copy starts at a multiple of the alignment (at
// least 8) and reserves its bytes rounded up to a multiple of 4 (an L3 -> L2 transfer writes whole words:
// dory/hal.h). The copies are in two PARTS, each laid out from offset 0: part 0 holds copy 0 of the weights,
// bias and requant records (what the cross-layer prefetch loads while the previous layer runs), part 1 the rest;
// the memory plan places each part where it is live.
//
// Cost (model_l3, the schedule of dory/l3.h): with LD3_t the loads and ST3_t the store of tile t (as
// dory_l3_tile_loads/_store), each one command or more of the L2<->L3 engine (dma_transfer_cost), T(X) and P(X)
// the done and push times of a batch (dma_batch_time) and C_t the modeled cycles of sub-layer t:
//   prologue T(LD3_0);  slot t = max(C_t, T(O3_t)) with O3_t = ST3_{t-1} ++ LD3_{t+1} (pushed by the main program
//   while sub-layer t computes, P(O3_t) within T(O3_t));  epilogue
//   T(ST3_last). The part of the prologue that loads the first weight block is `prefetchable_cycles`: the
// network's model hides it under the previous layer when that layer prefetches it (docs/cost-model.md).
//
// Search (solve_l3_tiling): every (c_out, h_out) of the space above whose staging fits the budget, each priced
// with the optimal L2 -> L1 plan of each of its sub-geometries; the first in the order: total cycles ascending,
// staging bytes ascending, fewer tiles, larger c_out, larger h_out. Exhaustive (the sub-plans are memoized by
// sub-geometry), hence exact under the model. With prefetch_cap_cycles > 0 (the layer's first weight block may be
// prefetched during the previous layer, which the model prices at that many cycles), a shape's total is compared
// less what such a prefetch would hide, min(prefetchable_cycles, cap): one block loaded whole under the previous
// layer beats two blocks whose second costs a sub-layer more (measured on GVSoC: ~4-6 k cycles a sub-layer).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "target/cost_model.h"
#include "target/target.h"
#include "tiler/geometry.h"
#include "tiler/objective.h"
#include "tiler/plan.h"

namespace dory {

// Which operands of a layer live in L3.
struct L3Residency {
  std::vector<bool> input_in_l3;  // per input operand
  bool weights_in_l3 = false;     // weights, bias and requant records (all or none)
  bool output_in_l3 = false;

  bool any() const;
  bool maps_in_l3() const;  // some feature map (input or output) is in L3
  bool operator==(const L3Residency&) const = default;
};

struct L3Shape {
  int64_t c_out = 1, h_out = 1;  // block channels, band rows
  bool operator==(const L3Shape&) const = default;
};

struct L3Counts {
  int64_t bands = 1, blocks = 1;
  int64_t total() const { return bands * blocks; }
};

// One L3 tile (dory_l3_extent).
struct L3Extent {
  int64_t index = 0, band = 0, block = 0;
  Interval h_out, c_out;  // output rows and channels
  Interval h_in;          // input rows read (clipped)
  int64_t pad_top = 0, pad_bottom = 0;
};

L3Counts l3_counts(const LayerGeometry& g, const L3Shape& s);
L3Extent l3_extent(const LayerGeometry& g, const L3Shape& s, int64_t t);
// Whether s respects the space of the residency (see the header comment) and every band reads input rows.
bool valid_l3_shape(const LayerGeometry& g, const L3Residency& r, const L3Shape& s);

// The sub-layer of tile e (see the header). Its layer name is "<layer>[rows h0..h1, ch c0..c1]".
LayerGeometry l3_sub_geometry(const LayerGeometry& g, const L3Residency& r, const L3Extent& e);

// ---- L2 staging ----

enum class L3StagingRole { Input, Weights, Bias, RequantParams, Output };
const char* l3_staging_role_name(L3StagingRole r);  // "input", "weights", "bias", "requant", "output"

struct L3StagingCopy {
  int part = 1;        // 0: prefetchable (copy 0 of the constants), 1: the rest
  int64_t offset = 0;  // from the start of its part
};

struct L3StagingBuffer {
  L3StagingRole role = L3StagingRole::Input;
  int operand = 0;
  int64_t bytes_per_copy = 0;        // the data
  int64_t reserved_per_copy = 0;     // bytes_per_copy rounded up to 4
  std::vector<L3StagingCopy> copies;  // 1 or 2
};

struct L2StagingLayout {
  std::vector<L3StagingBuffer> buffers;
  int64_t part_bytes[2] = {0, 0};  // each part's extent (its last copy's offset + reserved bytes)
  int64_t total_bytes() const { return part_bytes[0] + part_bytes[1]; }
  const L3StagingBuffer* find(L3StagingRole role, int operand = 0) const;
};

L2StagingLayout plan_l2_staging(const LayerGeometry& g, const L3Residency& r, const L3Shape& s, int64_t alignment);

// ---- cost ----

struct L3Cost {
  double total_cycles = 0;
  double sub_cycles = 0;           // sum of the sub-layers' modeled cycles (their L2 -> L1 schedules)
  double prologue_cycles = 0;      // T(LD3_0)
  double prefetchable_cycles = 0;  // T(the weight block's loads of LD3_0 alone): what a prefetch can hide
  double epilogue_cycles = 0;
  double l3_busy_cycles = 0;       // the L2<->L3 engine's busy time over every command
  double l3_transfer_cycles = 0;   // the same plus each command's issue and setup: the engine's time if alone
  double issue_cycles = 0;         // main-program cycles pushing L3 commands
  int64_t l3_bytes = 0, l3_commands = 0, tiles = 0;
  // L3-bound: moving the bytes takes longer than computing the sub-layers (the L3 traffic cannot be hidden).
  bool l3_bound() const { return l3_transfer_cycles > sub_cycles; }
};

// The engine between L2 and L3, or nullptr when the target has no L3.
const DmaEngine* l2_l3_engine(const Target& target);

// The plan of one sub-geometry, and the cost of a shape given the plans of its sub-geometries.
struct L3Plan;
L3Cost model_l3(const Target& target, const L3Plan& plan);

// ---- the plan ----

struct L3Plan {
  LayerGeometry geometry;   // the whole layer
  L3Residency residency;
  L3Shape shape;
  L3Counts counts;
  std::vector<L3Extent> bands;         // the first tile of every band (block 0)
  std::vector<int> band_class;         // per band: index into band_geometries
  int block_classes = 1;               // 2 when the last block is smaller than the others
  std::vector<TilePlan> subs;          // [band class][block class]: the L2 -> L1 plan of each sub-geometry
  L2StagingLayout staging;
  L3Cost cost;
  bool prefetch_weights = false;       // set by the memory plan (memplan/l3_memplan.h) when it reserves the room
  SearchStats stats;                   // sub-plans solved, shapes evaluated

  int sub_index(int64_t t) const;      // the class of tile t in subs
  int64_t l3_bytes() const { return cost.l3_bytes; }
};

// The cost of the whole layer as if everything were in L2 (the plan_geometry of the whole layer): what the
// L3-streaming version is compared with.
// The L3 tiling of a layer: the best shape whose staging fits staging_budget_bytes (see the header), with its
// sub-plans for an L1 of l1_budget_bytes. Fails with "l3-infeasible" (severity Infeasible) when no shape's staging
// fits or no sub-layer can be tiled, naming the smallest staging and the hint.
Expected<L3Plan> solve_l3_tiling(const LayerGeometry& g, const L3Residency& r, const Target& target,
                                 int64_t l1_budget_bytes, int64_t staging_budget_bytes, Objective objective,
                                 double prefetch_cap_cycles = 0);
// The cycles a prefetch capped at cap_cycles hides of a plan: min(prefetchable_cycles, cap_cycles) (0 without
// weights in L3).
double l3_prefetch_hidden(const L3Plan& plan, double cap_cycles);

// The plan of a given shape (which must be valid_l3_shape), with its sub-plans; for tests and reports.
Expected<L3Plan> plan_l3_shape(const LayerGeometry& g, const L3Residency& r, const L3Shape& s, const Target& target,
                               int64_t l1_budget_bytes, Objective objective);

// The smallest staging any shape of the space needs (the search's lower limit; for diagnostics and the memory
// plan's residency choice).
int64_t minimal_l2_staging_bytes(const LayerGeometry& g, const L3Residency& r, int64_t alignment);

}  // namespace dory
