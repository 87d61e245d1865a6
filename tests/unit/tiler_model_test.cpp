// The layer latency model: the fast evaluation equals the tile-by-tile reference of the documented schedule,
// its bounds are bounds, and hand-computed schedules come out exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tiler/layer_model.h"
#include "tiler_test_util.h"
#include "../util/handcount_target.h"

namespace dory {
namespace {

void expect_same_cost(const LayerCost& a, const LayerCost& b, const std::string& what) {
  auto near = [](double x, double y) { return std::abs(x - y) <= 1e-9 * std::max(1.0, std::abs(y)); };
  EXPECT_TRUE(near(a.total_cycles, b.total_cycles)) << what << ": " << a.total_cycles << " vs " << b.total_cycles;
  EXPECT_TRUE(near(a.compute_cycles, b.compute_cycles)) << what;
  EXPECT_TRUE(near(a.issue_cycles, b.issue_cycles)) << what;
  EXPECT_TRUE(near(a.dma_busy_cycles, b.dma_busy_cycles)) << what;
  EXPECT_TRUE(near(a.prologue_cycles, b.prologue_cycles)) << what;
  EXPECT_TRUE(near(a.epilogue_cycles, b.epilogue_cycles)) << what;
  EXPECT_EQ(a.dma_bytes, b.dma_bytes) << what;
  EXPECT_EQ(a.dma_commands, b.dma_commands) << what;
  EXPECT_EQ(a.tiles, b.tiles) << what;
  EXPECT_DOUBLE_EQ(a.l1_resident_cycles, b.l1_resident_cycles) << what;
}

TEST(TilerModel, TheFastModelEqualsTheTileByTileScheduleOnRandomLayers) {
  std::mt19937_64 rng(test::test_seed(31));
  const auto targets = test::test_targets();
  for (int iter = 0; iter < 1500; ++iter) {
    const Target& t = targets[static_cast<size_t>(iter) % targets.size()];
    const LayerGeometry g = test::random_geometry(rng, test::random_family(rng), 9);
    auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
    TileShape s{uni(1, g.c_out), uni(1, g.h_out), uni(1, g.w_out), uni(1, g.c_in)};
    if (g.channels_tied) s.c_in = s.c_out;
    const Buffering b = Buffering::from_bits(static_cast<int>(uni(0, 7)));
    const std::string what = "iteration " + std::to_string(iter) + " target " + t.name;
    const LayerCost fast = model_layer(t, g, s, b);
    expect_same_cost(fast, model_layer_reference(t, g, s, b), what);
    // Bounds hold for every buffering.
    ShapeModel sm(t, g, s);
    const auto lb = sm.lower_bounds();
    for (int bits = 0; bits < 8; ++bits)
      EXPECT_LE(lb[static_cast<size_t>(bits)], sm.run(Buffering::from_bits(bits)).total_cycles * (1 + 1e-12))
          << what << " bits " << bits;
    // Re-targeting gives what a fresh model gives.
    if (!g.channels_tied) {
      const int64_t ci = uni(1, g.c_in);
      sm.set_c_in(ci);
      expect_same_cost(sm.run(b), model_layer(t, g, {s.c_out, s.h_out, s.w_out, ci}, b), what + " set_c_in");
    }
    const TileShape s2{uni(1, g.c_out), uni(1, g.h_out), s.w_out, g.channels_tied ? 0 : uni(1, g.c_in)};
    TileShape s3 = s2;
    if (g.channels_tied) s3.c_in = s3.c_out;
    sm.set_shape(s3);
    expect_same_cost(sm.run(b), model_layer(t, g, s3, b), what + " set_shape");
    // Accounting: compute is the kernel cycles, nothing is hidden twice.
    EXPECT_GE(fast.total_cycles + 1e-6, fast.compute_cycles + fast.prologue_cycles);
    EXPECT_GE(fast.stall_cycles(), -1e-6);
  }
}

// gap8 with its fc kernels priced as if they computed one output at a time (channel_block 1): the hand counts
// below are about the schedule, and stay short with unblocked outputs.
const Target& fc_target() {
  static const Target t = [] {
    Target x = test::handcount_gap8();
    test::for_each_kernel(x, KernelFamily::Fc, [](KernelImpl& k) { k.mac.channel_block = 1; });
    return x;
  }();
  return t;
}

LayerGeometry small_fc() {
  LayerGeometry g;
  g.family = KernelFamily::Fc;
  g.c_in = 64, g.c_out = 16;
  g.cin_tileable = true;
  g.bias_bytes_per_cout = 4;
  test::set_kernel_query(g);
  return g;
}

TEST(TilerModel, AHandComputedTwoTileScheduleDoubleBuffered) {
  // fc 64 -> 16 on gap8, two output-channel tiles of 8. Kernel per tile: ceil(8/8) = 1 output per core x 64
  // MACs + 300 + 10 = 374. Tile 0 loads input (64 B, busy 8), weights (512 B, 64), bias (32 B, 4):
  // T = 106. Tile 1 loads weights and bias only (the input does not change).
  const Target& t = fc_target();
  const LayerGeometry g = small_fc();
  const LayerCost c = model_layer(t, g, {8, 1, 1, 64}, Buffering::all());
  EXPECT_DOUBLE_EQ(c.prologue_cycles, 106);
  // slot 0: O = [weights, bias] of tile 1: T = 97, pushes 18 -> max(18 + 374, 97) = 392
  // slot 1: O = [store of tile 0 (8 B, busy 1)]: T = 30, push 9 -> max(9 + 374, 30) = 383
  // epilogue: store of tile 1: 30
  EXPECT_DOUBLE_EQ(c.epilogue_cycles, 30);
  EXPECT_DOUBLE_EQ(c.total_cycles, 106 + 392 + 383 + 30);
  EXPECT_DOUBLE_EQ(c.compute_cycles, 2 * 374);
  EXPECT_EQ(c.dma_bytes, 64 + 2 * (512 + 32) + 2 * 8);
  EXPECT_EQ(c.dma_commands, 7);
  EXPECT_EQ(c.tiles, 2);
  // L1-resident: one call on 16 outputs: 2 per core x 64 + 300 + 20.
  EXPECT_DOUBLE_EQ(c.l1_resident_cycles, 448);
}

TEST(TilerModel, TheExecutorCostsALayerAndEveryTileOnTheCores) {
  // The double-buffered schedule above with the executor's 500 cycles per layer and 60 per tile: the layer's
  // cost first, then each tile's beside its kernel call (slot 0: max(18 + 374 + 60, 97) = 452; slot 1:
  // max(9 + 374 + 60, 30) = 443).
  Target t = fc_target();
  t.executor.layer_cycles = 500;
  t.executor.tile_cycles = 60;
  const LayerCost c = model_layer(t, small_fc(), {8, 1, 1, 64}, Buffering::all());
  EXPECT_DOUBLE_EQ(c.total_cycles, 500 + 106 + 452 + 443 + 30);
  EXPECT_DOUBLE_EQ(c.executor_cycles, 500 + 2 * 60);
  EXPECT_DOUBLE_EQ(c.compute_cycles, 2 * 374);
  EXPECT_EQ(c.dma_transfers, 7);
  EXPECT_DOUBLE_EQ(c.stall_cycles(), c.total_cycles - 2 * 374 - c.issue_cycles - 620);
  // L1-resident is one kernel call on data in place: no executor.
  EXPECT_DOUBLE_EQ(c.l1_resident_cycles, 448);
}

TEST(TilerModel, AKernelsOwnExecutorTileCostReplacesTheTargets) {
  // The same schedule, the fc kernel's entry saying 90 per tile: slots max(18 + 374 + 90, 97) = 482 and
  // max(9 + 374 + 90, 30) = 473.
  Target t = fc_target();
  t.executor.layer_cycles = 500;
  t.executor.tile_cycles = 60;
  for (KernelImpl& k : t.kernels.fc) k.executor_tile_cycles = 90;
  const LayerCost c = model_layer(t, small_fc(), {8, 1, 1, 64}, Buffering::all());
  EXPECT_DOUBLE_EQ(c.total_cycles, 500 + 106 + 482 + 473 + 30);
  EXPECT_DOUBLE_EQ(c.executor_cycles, 500 + 2 * 90);
}

TEST(TilerModel, AHandComputedTwoTileScheduleSingleBuffered) {
  const Target& t = fc_target();
  const LayerCost c = model_layer(t, small_fc(), {8, 1, 1, 64}, Buffering::none());
  // slot 0: Z = [weights, bias of tile 1, store of tile 0]: e = 93, 97, max(97 + 1, 27 + 20 + 1) = 98
  //         -> 374 + 98 = 472
  // slot 1: Z = [store of tile 1]: 30 -> 404
  EXPECT_DOUBLE_EQ(c.total_cycles, 106 + 472 + 404);
  EXPECT_DOUBLE_EQ(c.epilogue_cycles, 0);
}

TEST(TilerModel, OneTileIsLoadComputeStore) {
  const Target& t = fc_target();
  const LayerGeometry g = small_fc();
  const LayerCost c = model_layer(t, g, whole_layer_shape(g), Buffering::none());
  // loads: input 64 B, weights 1024 B, bias 64 B: e = 37, max(37 + 128, 18 + 20 + 128) = 166, 174
  // store 16 B: 9 + 20 + 2 = 31
  EXPECT_DOUBLE_EQ(c.total_cycles, 174 + 448 + 31);
  EXPECT_DOUBLE_EQ(c.overhead_vs_l1(), (174.0 + 448 + 31) / 448 - 1);
}

TEST(TilerModel, TransfersFollowTheReloadRules) {
  LayerGeometry g;
  g.family = KernelFamily::Conv;
  g.c_in = 4, g.c_out = 4, g.h_in = 4, g.w_in = 4, g.h_out = 2, g.w_out = 2, g.kh = g.kw = 3;
  g.cin_tileable = true;
  g.bias_bytes_per_cout = 4;
  g.requant_bytes_per_cout = 8;
  test::set_kernel_query(g);
  // c_out 2, h 2, w 2, c_in 2: tiles (co, ci) = (0,0), (0,1), (1,0), (1,1)
  const TileShape s{2, 2, 2, 2};
  auto roles = [](const std::vector<TileTransfer>& v) {
    std::vector<BufferRole> r;
    for (const auto& t : v) r.push_back(t.role);
    return r;
  };
  using R = std::vector<BufferRole>;
  EXPECT_EQ(roles(tile_loads(g, s, 0)),
            (R{BufferRole::Input, BufferRole::Weights, BufferRole::Bias, BufferRole::RequantParams}));
  EXPECT_EQ(roles(tile_loads(g, s, 1)), (R{BufferRole::Input, BufferRole::Weights}));
  EXPECT_EQ(roles(tile_loads(g, s, 2)),
            (R{BufferRole::Input, BufferRole::Weights, BufferRole::Bias, BufferRole::RequantParams}));
  EXPECT_TRUE(tile_stores(g, s, 0).empty()) << "partial sums: nothing to store yet";
  ASSERT_EQ(tile_stores(g, s, 1).size(), 1u);
  // Tile 1 reads input channels 2..3 of all 4x4 pixels: 16 rows of 2 bytes, stride 4, from byte 2.
  const TileTransfer in1 = tile_loads(g, s, 1)[0];
  EXPECT_EQ(in1.l2_offset_bytes, 2);
  EXPECT_EQ(canonical_pattern(in1.pattern), (DmaPattern{2, 16, 4, 1, 0}));
  // Its weights: output channels 0..1, input channels 2..3: 2*9 rows of 2 bytes, stride 4.
  const TileTransfer w1 = tile_loads(g, s, 1)[1];
  EXPECT_EQ(w1.l2_offset_bytes, 2);
  EXPECT_EQ(w1.pattern, (DmaPattern{2, 18, 4, 1, 0}));
  // Whole input channels and a single output-channel split: the input is loaded once.
  const TileShape s2{2, 2, 2, 4};
  EXPECT_EQ(roles(tile_loads(g, s2, 1)), (R{BufferRole::Weights, BufferRole::Bias, BufferRole::RequantParams}));
}

// The timeline is the schedule itself: it ends at the modeled total, has one computation per tile in order, every
// tile's loads arrive before its computation starts, and the computation of a tile ends before its output store
// starts.
TEST(TilerModel, TheTimelineIsTheModeledSchedule) {
  std::mt19937_64 rng(test::test_seed(37));
  const auto targets = test::test_targets();
  for (int iter = 0; iter < 400; ++iter) {
    const Target& t = targets[static_cast<size_t>(iter) % targets.size()];
    const LayerGeometry g = test::random_geometry(rng, test::random_family(rng), 9);
    auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
    TileShape s{uni(1, g.c_out), uni(1, g.h_out), uni(1, g.w_out), uni(1, g.c_in)};
    if (g.channels_tied) s.c_in = s.c_out;
    const Buffering b = Buffering::from_bits(static_cast<int>(uni(0, 7)));
    const LayerCost cost = model_layer_reference(t, g, s, b);
    const std::vector<TimelineEvent> ev = layer_timeline(t, g, s, b);
    double last = 0;
    std::vector<double> compute_start(static_cast<size_t>(cost.tiles), -1), compute_end(compute_start);
    int64_t computes = 0, bytes = 0;
    for (const TimelineEvent& e : ev) {
      last = std::max(last, e.end_cycles);
      EXPECT_LE(e.start_cycles, e.end_cycles);
      bytes += e.bytes;
      if (e.kind == TimelineEvent::Compute) {
        EXPECT_EQ(e.tile, computes) << "computations in tile order";
        compute_start[static_cast<size_t>(e.tile)] = e.start_cycles;
        compute_end[static_cast<size_t>(e.tile)] = e.end_cycles;
        ++computes;
      }
    }
    EXPECT_EQ(computes, cost.tiles);
    EXPECT_EQ(bytes, cost.dma_bytes);
    EXPECT_NEAR(last, cost.total_cycles, 1e-6 * cost.total_cycles);
    for (const TimelineEvent& e : ev) {
      if (e.kind == TimelineEvent::Load) {
        EXPECT_LE(e.end_cycles, compute_start[static_cast<size_t>(e.tile)] + 1e-9) << "iteration " << iter;
      }
      if (e.kind == TimelineEvent::Store) {
        EXPECT_GE(e.start_cycles + 1e-9, compute_end[static_cast<size_t>(e.tile)]) << "iteration " << iter;
      }
    }
    // The first tiles only.
    const std::vector<TimelineEvent> head = layer_timeline(t, g, s, b, 2);
    for (const TimelineEvent& e : head) EXPECT_LE(e.tile, 2);
  }
}

}  // namespace
}  // namespace dory
