// The cost model (src/target/cost_model.h): kernel cycles exactly as docs/targets.md defines them, and DMA
// transfers split into the engine's commands and timed by the documented recurrence. Hand-computed cases.
#include <gtest/gtest.h>

#include "target/cost_model.h"
#include "tiler_test_util.h"
#include "../util/handcount_target.h"

namespace dory {
namespace {

const Target& gap8() { return test::handcount_gap8(); }  // the hand counts' rates (handcount_target.h)

TEST(TilerCostModel, ConvKernelSplitsRowsAndRoundsBlocks) {
  // 8 ch x 4 rows x 10 cols, 8 input channels, 3x3: busiest core 1 row (of 4 over 8 cores), 10 pixels,
  // blocks ceil(8/4)*ceil(10/2) = 10 of 4x2 outputs x 72 MACs = 5760 MACs / 1.8 = 3200; + 300 call + 40 row
  // + im2col 0.5 * 10 * 72 = 360.
  EXPECT_DOUBLE_EQ(kernel_cycles(gap8(), test::kernel_of(gap8(), KernelOp::Conv), {8, 4, 10, 8, 3, 3}), 3900);
  // Uneven: 9 rows on 8 cores -> 2 rows for the busiest core; 5 channels -> 2 blocks of 4.
  // p_core = 2*3 = 6 -> 3 pixel blocks; 2*3*8 outputs * 1 MAC (1x1x1) / 1.8 + 300 + 80.
  EXPECT_DOUBLE_EQ(kernel_cycles(gap8(), test::kernel_of(gap8(), KernelOp::Pointwise), {5, 9, 3, 1, 1, 1}), 300 + 48 / 1.8 + 80);
}

TEST(TilerCostModel, DepthwiseFcPoolAndAddFollowTheirFormulas) {
  // depthwise, channels split: ceil(20/8) = 3 channels x 30 pixels x 9 MACs / 0.4 + 300 + 40*3
  EXPECT_DOUBLE_EQ(kernel_cycles(gap8(), test::kernel_of(gap8(), KernelOp::Depthwise), {20, 5, 6, 20, 3, 3}), 2025 + 300 + 120);
  // fc, channels split: ceil(100/8) = 13 outputs, in blocks of 4 (the 4x1 kernel): 16 x 64 MACs / 1.0 + 300 + 10*13
  EXPECT_DOUBLE_EQ(kernel_cycles(gap8(), test::kernel_of(gap8(), KernelOp::Fc), {100, 1, 1, 64, 1, 1}), 1024 + 300 + 130);
  // pool, rows split: 2 rows x 4 cols x 16 ch x 4 window elements / 1.0 + 150 + 20*2
  EXPECT_DOUBLE_EQ(kernel_cycles(gap8(), test::kernel_of(gap8(), KernelOp::MaxPool), {16, 9, 4, 16, 2, 2}), 512 + 150 + 40);
  // add, rows split: 1 row x 5 cols x 24 ch / 0.125 + 150 + 20
  EXPECT_DOUBLE_EQ(kernel_cycles(gap8(), test::kernel_of(gap8(), KernelOp::Add), {24, 3, 5, 24, 1, 1}), 960 + 150 + 20);
}

TEST(TilerCostModel, PixelAndOutputTermsAndTheWideRequantization) {
  // The conv case above (busiest core: 1 row of 10 pixels, 8 channels: 80 outputs) with 2.5 cycles per pixel and
  // 4 per output (32-bit requantization) or 9 per output (64-bit): 3900 + 25 + 320, or 3900 + 25 + 720.
  Target t = gap8();
  test::for_each_kernel(t, KernelFamily::Conv, [](KernelImpl& k) {
    k.mac.pixel_cycles = 2.5;
    k.mac.output_cycles = 4;
    k.mac.output_cycles_wide = 9;
  });
  const KernelImpl& conv = test::kernel_of(t, KernelOp::Conv);
  KernelCall call{8, 4, 10, 8, 3, 3};
  EXPECT_DOUBLE_EQ(kernel_cycles(t, conv, call), 3900 + 25 + 320);
  call.wide_requant = true;
  EXPECT_DOUBLE_EQ(kernel_cycles(t, conv, call), 3900 + 25 + 720);
  // The terms are what the busiest core does, each the multiplier of one parameter.
  const KernelTerms k = kernel_terms(t, conv, call);
  EXPECT_DOUBLE_EQ(k.calls, 1);
  EXPECT_DOUBLE_EQ(k.work, 5760);
  EXPECT_DOUBLE_EQ(k.loops, 1);
  EXPECT_DOUBLE_EQ(k.im2col_bytes, 720);
  EXPECT_DOUBLE_EQ(k.pixels, 10);
  EXPECT_DOUBLE_EQ(k.outputs, 0);
  EXPECT_DOUBLE_EQ(k.outputs_wide, 80);
  EXPECT_DOUBLE_EQ(kernel_cycles_of(conv, k), 3900 + 25 + 720);
  // Depthwise, channels split (3 channels x 30 pixels of the busiest core): 90 outputs, 30 pixels.
  test::for_each_kernel(t, KernelFamily::Depthwise, [](KernelImpl& d) {
    d.mac.pixel_cycles = 1;
    d.mac.output_cycles = 2;
  });
  EXPECT_DOUBLE_EQ(kernel_cycles(t, test::kernel_of(t, KernelOp::Depthwise), {20, 5, 6, 20, 3, 3}),
                   2025 + 300 + 120 + 30 + 180);
  // Its channel-major planes, 0.5 cycles per byte: 3 channels of (5-1)*1+3 = 7 rows x (6-1)*1+3 = 8 columns
  // (168 B), or with stride 2, 11 x 13 (429 B).
  test::for_each_kernel(t, KernelFamily::Depthwise, [](KernelImpl& d) { d.mac.im2col_cycles_per_byte = 0.5; });
  KernelCall dw{20, 5, 6, 20, 3, 3};
  EXPECT_DOUBLE_EQ(kernel_terms(t, test::kernel_of(t, KernelOp::Depthwise), dw).im2col_bytes, 168);
  dw.stride_h = dw.stride_w = 2;
  EXPECT_DOUBLE_EQ(kernel_cycles(t, test::kernel_of(t, KernelOp::Depthwise), dw),
                   2025 + 300 + 120 + 30 + 180 + 214.5);
}

TEST(TilerCostModel, RowPairsCountAnOddRowsLastPixelTwice) {
  // pulp-open's conv and pointwise (runtime/registry.json "row_pairs"): pixels in pairs of one row, an odd row's last
  // pixel recomputed with its left neighbour. 32 ch x 8 rows x 5 cols, 16 input channels, 3x3: the busiest core has
  // 1 row (8 rows on 8 cores) = 2 * ceil(5/2) = 6 slots -> ceil(6/4) = 2 blocks, the cost of a 6-wide row; 4 wide:
  // 4 slots, 1 block.
  const Target& t = test::shipped_target("pulp-open");
  const KernelImpl& conv = test::kernel_of(t, KernelOp::Conv);
  ASSERT_TRUE(conv.kernel->row_pairs) << conv.kernel->name;
  const KernelCall odd{32, 8, 5, 16, 3, 3}, even{32, 8, 6, 16, 3, 3}, four{32, 8, 4, 16, 3, 3};
  EXPECT_TRUE(kernel_call_row_pairs(conv, odd));
  const KernelTerms o = kernel_terms(t, conv, odd), e = kernel_terms(t, conv, even), f = kernel_terms(t, conv, four);
  EXPECT_DOUBLE_EQ(o.work, 8.0 * 2 * 16 * 144);  // 8 channel blocks x 2 pixel blocks x 16 outputs x 144 MACs
  EXPECT_DOUBLE_EQ(o.work, e.work);
  EXPECT_DOUBLE_EQ(o.pixels, 6);
  EXPECT_DOUBLE_EQ(o.outputs, 32 * 6);
  EXPECT_DOUBLE_EQ(f.work, 8.0 * 1 * 16 * 144);
  EXPECT_DOUBLE_EQ(f.pixels, 4);
  // The im2col path (c_in not a multiple of the grain, 4) blocks consecutive pixels: 5 pixels, 2 blocks, 5 outputs.
  const KernelCall im2col{32, 8, 5, 3, 3, 3};
  EXPECT_FALSE(kernel_call_row_pairs(conv, im2col));
  EXPECT_DOUBLE_EQ(kernel_terms(t, conv, im2col).pixels, 5);
  // Pointwise: its stride-1 fast path blocks consecutive pixels (2 rows x 5 = 10 pixels per core of 16 rows -> 3
  // blocks); stride 2, partial sums or a 64-bit requantization run the pairs (2 x 6 = 12 slots -> 3 blocks).
  const KernelImpl& pw = test::kernel_of(t, KernelOp::Pointwise);
  KernelCall p{32, 16, 5, 16, 1, 1};
  EXPECT_FALSE(kernel_call_row_pairs(pw, p));
  EXPECT_DOUBLE_EQ(kernel_terms(t, pw, p).pixels, 10);
  p.stride_h = p.stride_w = 2;
  EXPECT_TRUE(kernel_call_row_pairs(pw, p));
  EXPECT_DOUBLE_EQ(kernel_terms(t, pw, p).pixels, 12);
  p.stride_h = p.stride_w = 1;
  p.partial = true;
  EXPECT_TRUE(kernel_call_row_pairs(pw, p));
  // Portable kernels and the depthwise have no pairs.
  EXPECT_FALSE(kernel_call_row_pairs(test::kernel_of(gap8(), KernelOp::Conv), odd));
  EXPECT_FALSE(kernel_call_row_pairs(test::kernel_of(t, KernelOp::Depthwise), odd));
}

TEST(TilerCostModel, ATransfersSoftwareCostPrecedesItsFirstCommand) {
  // gap8's engine (issue 9, setup 20, 8 B/cycle) with 100 cycles of software per transfer. Two transfers: one of
  // one command (400 B, busy 50), one of zero bytes (no job, no cost), then one 2-D command of 2 rows of 40 B
  // (busy 10): p = 100 + 9 = 109, e = 109 + 20 + 50 = 179; p = 109 + 100 + 9 = 218,
  // e = max(218 + 20, 179) + 10 = 248.
  DmaEngine e = l1_l2_engine(gap8());
  e.transfer_cycles = 100;
  e.row_cycles = 0;
  const DmaTransferCost a = dma_transfer_cost(e, DmaDirection::Load, DmaPattern{400});
  const DmaTransferCost none = dma_transfer_cost(e, DmaDirection::Load, DmaPattern{0});
  const DmaTransferCost b = dma_transfer_cost(e, DmaDirection::Load, DmaPattern{40, 2, 100});
  ASSERT_EQ(b.commands, 1);
  const DmaTransferCost* batch[] = {&a, &none, &b};
  const DmaBatchTime t = dma_batch_time(e, batch);
  EXPECT_DOUBLE_EQ(t.done_cycles, 248);
  EXPECT_DOUBLE_EQ(t.core_cycles, 218);
  EXPECT_EQ(t.commands, 2);
  EXPECT_EQ(t.transfers, 2);
  // With 10 cycles per transfer through the full-queue path (one command in flight): p = 19, e = 89; the second
  // push waits for the first's data, max(19 + 10, 89) + 9 = 98, e = max(98 + 20, 89) + 10 = 128 (without the
  // queue limit: p = 38, e = max(58, 89) + 10 = 99).
  e.transfer_cycles = 10;
  EXPECT_DOUBLE_EQ(dma_batch_time(e, batch).core_cycles, 38);
  EXPECT_DOUBLE_EQ(dma_batch_time(e, batch).done_cycles, 99);
  e.max_outstanding = 1;
  const DmaBatchTime q = dma_batch_time(e, batch);
  EXPECT_DOUBLE_EQ(q.core_cycles, 98);
  EXPECT_DOUBLE_EQ(q.done_cycles, 128);
}

TEST(TilerCostModel, PatternsMergeContiguousDimensions) {
  // An HWC box of all 16 channels and all 10 columns of 3 rows is one contiguous block.
  EXPECT_EQ(canonical_pattern({16, 10, 16, 3, 160}), (DmaPattern{480, 1, 0, 1, 0}));
  // All channels, 4 of 10 columns: 3 rows of 64 bytes.
  EXPECT_EQ(canonical_pattern({16, 4, 16, 3, 160}), (DmaPattern{64, 3, 160, 1, 0}));
  // 8 of 16 channels, all columns: 30 rows of 8 bytes, one stride.
  EXPECT_EQ(canonical_pattern({8, 10, 16, 3, 160}), (DmaPattern{8, 30, 16, 1, 0}));
  // 8 of 16 channels, 4 of 10 columns: 3-D.
  EXPECT_EQ(canonical_pattern({8, 4, 16, 3, 160}), (DmaPattern{8, 4, 16, 3, 160}));
  // Unit dimensions disappear.
  EXPECT_EQ(canonical_pattern({8, 1, 16, 5, 160}), (DmaPattern{8, 5, 160, 1, 0}));
}

TEST(TilerCostModel, AThreeDimensionalTileTakesOneTwoDimensionalCommandPerRowOnGap8) {
  const DmaEngine& e = l1_l2_engine(gap8());
  const DmaTransferCost c = dma_transfer_cost(e, DmaDirection::Load, {8, 4, 16, 3, 160});
  EXPECT_EQ(c.commands, 3);
  ASSERT_EQ(c.n_runs, 1);
  EXPECT_EQ(c.runs[0].rows, 4);
  EXPECT_EQ(c.runs[0].row_bytes, 8);
  EXPECT_DOUBLE_EQ(c.runs[0].busy_cycles, 4);  // 32 B at 8 B/cycle, row_cycles 0
  const DmaTransferCost* one[] = {&c};
  // p = 9, 18, 27; e = 9+20+4 = 33, max(38, 33)+4 = 42, max(47, 42)+4 = 51
  EXPECT_DOUBLE_EQ(dma_batch_time(e, one).done_cycles, 51);
  EXPECT_DOUBLE_EQ(dma_batch_time(e, one).core_cycles, 27);
  // With 3-D commands it is one command of 12 rows.
  DmaEngine e3 = e;
  e3.max_dims = 3;
  EXPECT_EQ(dma_transfer_cost(e3, DmaDirection::Load, {8, 4, 16, 3, 160}).commands, 1);
  e3.max_rows = 8;  // two planes per command at most
  const DmaTransferCost c3 = dma_transfer_cost(e3, DmaDirection::Load, {8, 4, 16, 3, 160});
  EXPECT_EQ(c3.commands, 2);
  EXPECT_EQ(c3.runs[0].rows, 8);
  EXPECT_EQ(c3.runs[1].rows, 4);
}

TEST(TilerCostModel, AnIsolatedTransferCostsIssueSetupAndData) {
  const DmaEngine& e = l1_l2_engine(gap8());
  EXPECT_DOUBLE_EQ(dma_cycles(e, DmaDirection::Load, 1, 480), 9 + 20 + 60);
  EXPECT_DOUBLE_EQ(dma_cycles(e, DmaDirection::Store, 4, 16), 9 + 20 + 8);
}

TEST(TilerCostModel, ManySmallCommandsAreIssueBound) {
  // The GVSoC measurement behind the numbers: 64 rows of 32 B as 64 1-D commands cost ~9 cycles each.
  DmaEngine e = l1_l2_engine(gap8());
  e.max_dims = 1;
  e.max_rows = 1;
  e.max_outstanding = 64;
  const DmaTransferCost c = dma_transfer_cost(e, DmaDirection::Load, {32, 64, 100, 1, 0});
  EXPECT_EQ(c.commands, 64);
  const DmaTransferCost* one[] = {&c};
  EXPECT_DOUBLE_EQ(dma_batch_time(e, one).done_cycles, 64 * 9 + 20 + 4);
  // One 2-D command: 9 + 20 + 2048/8 = 285, 2.1x faster.
  EXPECT_DOUBLE_EQ(dma_cycles(l1_l2_engine(gap8()), DmaDirection::Load, 64, 32), 285);
}

TEST(TilerCostModel, AFullQueueBlocksTheIssuingCore) {
  DmaEngine e = l1_l2_engine(gap8());
  e.max_outstanding = 2;
  e.max_rows = 1;  // one row per command
  const DmaTransferCost c = dma_transfer_cost(e, DmaDirection::Load, {800, 4, 1000, 1, 0});
  ASSERT_EQ(c.commands, 4);
  const DmaTransferCost* one[] = {&c};
  // p0 = 9, e0 = 129; p1 = 18, e1 = 229; p2 = max(18, 129) + 9 = 138, e2 = 329; p3 = max(138, 229) + 9 = 238,
  // e3 = 429.
  const DmaBatchTime t = dma_batch_time(e, one);
  EXPECT_DOUBLE_EQ(t.done_cycles, 429);
  EXPECT_DOUBLE_EQ(t.core_cycles, 238);
  // Without the limit the core is free after 4 pushes.
  e.max_outstanding = 16;
  EXPECT_DOUBLE_EQ(dma_batch_time(e, one).core_cycles, 36);
  EXPECT_DOUBLE_EQ(dma_batch_time(e, one).done_cycles, 9 + 20 + 400);
}

TEST(TilerCostModel, TransfersBeyondTheEngineLimitsBecomeSeveralCommands) {
  DmaEngine e = l1_l2_engine(gap8());
  e.max_row_bytes = 100;
  e.max_transfer_bytes = 1000;
  e.max_rows = 4;
  e.max_stride_bytes = 500;
  auto runs = [&](const DmaPattern& p) {
    const DmaTransferCost c = dma_transfer_cost(e, DmaDirection::Load, p);
    std::vector<std::array<int64_t, 3>> v;
    for (int r = 0; r < c.n_runs; ++r) v.push_back({c.runs[r].count, c.runs[r].rows, c.runs[r].row_bytes});
    return v;
  };
  using V = std::vector<std::array<int64_t, 3>>;
  EXPECT_EQ(runs({250, 1, 0, 1, 0}), (V{{2, 1, 100}, {1, 1, 50}})) << "contiguous, longer than a row";
  EXPECT_EQ(runs({250, 3, 300, 1, 0}), (V{{6, 1, 100}, {3, 1, 50}})) << "each long row in pieces";
  EXPECT_EQ(runs({10, 10, 20, 1, 0}), (V{{2, 4, 10}, {1, 2, 10}})) << "max_rows";
  EXPECT_EQ(runs({90, 20, 100, 1, 0}), (V{{5, 4, 90}})) << "max_rows again";
  e.max_rows = 100;
  EXPECT_EQ(runs({90, 20, 100, 1, 0}), (V{{1, 11, 90}, {1, 9, 90}})) << "max_transfer_bytes: 11 rows of 90";
  EXPECT_EQ(runs({10, 5, 600, 1, 0}), (V{{5, 1, 10}})) << "stride beyond max_stride_bytes: one command per row";
  e.strided_memory = MemLevel::L1;
  EXPECT_EQ(runs({10, 5, 20, 1, 0}), (V{{5, 1, 10}})) << "the L2 side may not be strided";
  EXPECT_EQ(runs({0, 5, 20, 1, 0}), V{}) << "nothing to move";
}

TEST(TilerCostModel, ReverseBandwidthAppliesToStores) {
  const DmaEngine& e = l1_l2_engine(test::shipped_target("pulp-open"));
  EXPECT_DOUBLE_EQ(dma_transfer_cost(e, DmaDirection::Load, {780, 1, 0, 1, 0}).busy_cycles, 780 / 8.0);
  EXPECT_DOUBLE_EQ(dma_transfer_cost(e, DmaDirection::Store, {780, 1, 0, 1, 0}).busy_cycles, 100);
}

}  // namespace
}  // namespace dory
