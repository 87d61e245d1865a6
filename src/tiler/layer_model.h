// The layer latency model: THE schedule of a tiled layer and its modeled cycles. The tiler minimizes it, the
// reports and the simulator print it, and the runtime executor must follow the schedule it describes.
//
// Transfers of tile i: the loads LD_i and the store ST_i of tiler/transfers.h (tile_loads, tile_stores), each
// split into DMA commands by dma_transfer_cost (cost_model.h), issued in the batches below.
//
// Schedule (n tiles; K_i = kernel_cycles of tile i; T(X) = dma_batch_time(X).done, P(X) = its core time):
//   prologue        T(LD_0)
//   slot i          O_i = [ST_{i-1} if output DB] ++ [the parts of LD_{i+1} going to double-buffered buffers]
//                   Z_i = [the parts of LD_{i+1} going to single-buffered buffers] ++ [ST_i if output not DB]
//                   C_i = P(O_i) + K_i + X_t  (the cores push O_i, then compute tile i; X_t: the executor's
//                                              per-tile cost, Target::executor_tile_cycles)
//                   slot_i = max(C_i, T(O_i)) + T(Z_i)
//                   (a transfer into a single buffer waits for the compute that uses it; a single output buffer
//                   must be stored before the next tile overwrites it)
//   epilogue        T(ST_{n-1}) if output DB (else it is in Z_{n-1})
//   total           = X_l + prologue + sum_i slot_i + epilogue   (X_l: executor.layer_cycles)
// ST_{-1} and LD_n are empty. A one-tile layer costs X_l + T(LD_0) + K_0 + X_t + T(ST_0).
//
// l1_resident_cycles: the same layer with all data already in L1: one kernel call on the whole layer.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "target/cost_model.h"
#include "target/target.h"
#include "tiler/geometry.h"
#include "tiler/l1_layout.h"
#include "tiler/tile.h"
#include "tiler/transfers.h"

namespace dory {

struct LayerCost {
  double total_cycles = 0;
  double compute_cycles = 0;      // sum of kernel cycles K_i
  double issue_cycles = 0;        // core cycles spent pushing DMA commands (incl. blocking on a full queue)
  double dma_busy_cycles = 0;     // sum over all commands of the engine's busy time (no setup latency)
  double prologue_cycles = 0;
  double epilogue_cycles = 0;
  int64_t dma_bytes = 0;          // bytes moved L2->L1 and L1->L2
  int64_t dma_commands = 0;
  int64_t dma_transfers = 0;      // transfers (one job each; a transfer is one or more commands)
  double executor_cycles = 0;     // the executor's layer and tile costs (X_l + tiles * X_t)
  int64_t tiles = 0;
  double l1_resident_cycles = 0;  // one kernel call on the whole layer, data in L1

  // Cycles the cores neither compute, push commands nor run the executor's bookkeeping: waiting for DMA.
  double stall_cycles() const { return total_cycles - compute_cycles - issue_cycles - executor_cycles; }
  // total / l1_resident - 1 (0.04 = 4 % slower than L1-resident).
  double overhead_vs_l1() const { return l1_resident_cycles > 0 ? total_cycles / l1_resident_cycles - 1 : 0; }
};

LayerCost model_layer(const Target& target, const LayerGeometry& g, const TileShape& s, const Buffering& b);

// model_layer for one shape and several bufferings: the per-class costs are computed once (construction), each
// run() evaluates one buffering; run(b) == model_layer(target, g, s, b) exactly. The objects passed must outlive it.
class ShapeModel {
 public:
  ShapeModel(const Target& target, const LayerGeometry& g, const TileShape& s);
  ~ShapeModel();
  ShapeModel(const ShapeModel&) = delete;
  ShapeModel& operator=(const ShapeModel&) = delete;

  LayerCost run(const Buffering& b) const;
  // Re-targets the model to the same output tile with another input-channel tile (cheaper than a new object;
  // ignored by tied layers).
  void set_c_in(int64_t c_in);
  // Re-targets the model to another shape (reusing its memory; cheaper than a new object).
  void set_shape(const TileShape& s);
  const TileShape& shape() const;
  // Lower bounds of run(b).total_cycles, indexed by b.bits() (docs/cost-model.md, "Bounds").
  std::array<double, 8> lower_bounds() const;
  const TileCounts& counts() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- the slow evaluations (for the tests and the reports) ----

// The schedule above evaluated tile by tile from tile_loads/tile_stores, with no precomputation: slow, the
// reference that model_layer is tested against (they agree to rounding).
LayerCost model_layer_reference(const Target& target, const LayerGeometry& g, const TileShape& s,
                                const Buffering& b);

// The modeled timeline of a tiled layer: one event per DMA transfer (from its first command's push to its last
// byte's arrival) and per kernel call, in cycles from the start of the layer, for the slots of the first
// `max_tiles` tiles (all with -1; the prologue belongs to tile 0, a store to the slot that issues it). The same
// evaluation as model_layer_reference: the last event ends at its total_cycles when max_tiles = -1.
struct TimelineEvent {
  enum Kind { Load, Store, Compute };
  Kind kind = Compute;
  int64_t tile = 0;                    // the tile loaded, stored or computed
  BufferRole role = BufferRole::Input; // transfers only
  int operand = 0;
  int64_t bytes = 0;
  double start_cycles = 0, end_cycles = 0;
};
std::vector<TimelineEvent> layer_timeline(const Target& target, const LayerGeometry& g, const TileShape& s,
                                          const Buffering& b, int64_t max_tiles = -1);

}  // namespace dory
