// The pulp-open platform's DMA splitting (runtime/hal/pulp-open/mchan_split.{h,c}, compiled here for the host):
// the MCHAN commands of a dory_dma_desc cover exactly the descriptor's bytes, in its order, within the engine's
// limits (at most DORY_MCHAN_MAX_CMD_BYTES per command, 2-D only with a contiguous TCDM side and an L2 stride in
// [line, DORY_MCHAN_MAX_STRIDE]).
//   - hand-computed cases: 1-D, the executor's 2-D and 3-D, merged dimensions, a row longer than a command, a 2-D
//     transfer larger than a command, an L2 stride beyond the limit, a strided TCDM side;
//   - 3,000 random descriptors in both directions (the seed is printed; DORY_TEST_SEED replays it);
//   - every transfer of every tile of the Fashion-MNIST example deployed for pulp-open: at most one command per
//     plane (the executor's descriptors are dense on the L1 side).
#include "mchan_split.h"
#include "../dma_check.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "codegen/deployment.h"
#include "dory/layer.h"
#include "onnx/frontend.h"
#include "target/target.h"

namespace dory {
namespace {

constexpr uintptr_t kL1 = 0x10000000u, kL2 = 0x1c010000u;

void* addr(uintptr_t a) { return reinterpret_cast<void*>(a); }

// A descriptor between L1 (dense or strided) and L2, in either direction, from L1/L2 addresses and strides.
dory_dma_desc make_desc(bool to_l1, uintptr_t l1, uint32_t l1_rs, uint32_t l1_ps, uintptr_t l2, uint32_t l2_rs,
                        uint32_t l2_ps, uint32_t row_bytes, uint32_t rows, uint32_t planes) {
  return to_l1
             ? dory_dma_3d(addr(l1), l1_rs, l1_ps, addr(l2), l2_rs, l2_ps, row_bytes, rows, planes, DORY_DMA_L2_TO_L1)
             : dory_dma_3d(addr(l2), l2_rs, l2_ps, addr(l1), l1_rs, l1_ps, row_bytes, rows, planes, DORY_DMA_L1_TO_L2);
}

std::vector<dory_mchan_cmd> split(const dory_dma_desc& d) {
  dory_mchan_iter it;
  dory_mchan_iter_init(&it, &d);
  std::vector<dory_mchan_cmd> out;
  dory_mchan_cmd c;
  while (dory_mchan_iter_next(&it, &c)) {
    out.push_back(c);
    if (out.size() > 10'000'000) break;  // a bug that never ends
  }
  EXPECT_FALSE(dory_mchan_iter_more(&it));
  return out;
}

// (L1 address, L2 address) of every byte, in order: of the descriptor, and of the commands.
using BytePairs = std::vector<std::pair<uintptr_t, uintptr_t>>;

BytePairs desc_bytes(const dory_dma_desc& d) {
  const bool to_l1 = d.dir == DORY_DMA_L2_TO_L1;
  const uintptr_t l1 = reinterpret_cast<uintptr_t>(to_l1 ? d.dst : d.src);
  const uintptr_t l2 = reinterpret_cast<uintptr_t>(to_l1 ? d.src : d.dst);
  const uint32_t l1_rs = to_l1 ? d.dst_row_stride : d.src_row_stride,
                 l1_ps = to_l1 ? d.dst_plane_stride : d.src_plane_stride;
  const uint32_t l2_rs = to_l1 ? d.src_row_stride : d.dst_row_stride,
                 l2_ps = to_l1 ? d.src_plane_stride : d.dst_plane_stride;
  BytePairs out;
  for (uint32_t p = 0; p < d.planes; ++p)
    for (uint32_t r = 0; r < d.rows; ++r)
      for (uint32_t b = 0; b < d.row_bytes; ++b)
        out.emplace_back(l1 + uintptr_t{p} * l1_ps + uintptr_t{r} * l1_rs + b,
                         l2 + uintptr_t{p} * l2_ps + uintptr_t{r} * l2_rs + b);
  return out;
}

// Checks every command against the engine's limits; returns the bytes they move, in order.
BytePairs command_bytes(const std::vector<dory_mchan_cmd>& cmds) {
  BytePairs out;
  for (size_t k = 0; k < cmds.size(); ++k) {
    const dory_mchan_cmd& c = cmds[k];
    SCOPED_TRACE(testing::Message() << "command " << k);
    EXPECT_GE(c.bytes, 1u);
    EXPECT_LE(c.bytes, DORY_MCHAN_MAX_CMD_BYTES);
    if (c.line_bytes == 0) {
      EXPECT_EQ(c.l2_stride, 0u);
      for (uint32_t b = 0; b < c.bytes; ++b) out.emplace_back(c.l1 + b, c.l2 + b);
      continue;
    }
    EXPECT_EQ(c.bytes % c.line_bytes, 0u);
    EXPECT_GE(c.bytes / c.line_bytes, 2u) << "a single line is a 1-D command";
    EXPECT_GE(c.l2_stride, c.line_bytes);
    EXPECT_LE(c.l2_stride, DORY_MCHAN_MAX_STRIDE);
    // TCDM side contiguous, L2 side strided.
    for (uint32_t b = 0; b < c.bytes; ++b)
      out.emplace_back(c.l1 + b, c.l2 + uintptr_t{b / c.line_bytes} * c.l2_stride + b % c.line_bytes);
  }
  return out;
}

void expect_exact_cover(const dory_dma_desc& d) {
  const std::vector<dory_mchan_cmd> cmds = split(d);
  const BytePairs want = desc_bytes(d), got = command_bytes(cmds);
  ASSERT_EQ(got.size(), want.size()) << "bytes moved";
  for (size_t i = 0; i < want.size(); ++i)
    if (got[i] != want[i]) {
      ADD_FAILURE() << "byte " << i << ": the commands move L1 0x" << std::hex << got[i].first << " <-> L2 0x"
                    << got[i].second << ", the descriptor L1 0x" << want[i].first << " <-> L2 0x" << want[i].second;
      return;
    }
}

struct Expect1d {
  uintptr_t l1, l2;
  uint32_t bytes;
};
struct Expect2d {
  uintptr_t l1, l2;
  uint32_t bytes, line_bytes, l2_stride;
};

TEST(MchanSplit, A1dTransferIsOneCommandInBothDirections) {
  for (bool to_l1 : {true, false}) {
    const dory_dma_desc d = make_desc(to_l1, kL1 + 64, 4096, 4096, kL2 + 8, 4096, 4096, 4096, 1, 1);
    const auto c = split(d);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(c[0].l1, kL1 + 64);
    EXPECT_EQ(c[0].l2, kL2 + 8);
    EXPECT_EQ(c[0].bytes, 4096u);
    EXPECT_EQ(c[0].line_bytes, 0u);
    expect_exact_cover(d);
  }
}

TEST(MchanSplit, TheExecutors2dTransferIsOne2dCommand) {
  // 8 rows of 32 B, 96 B apart in L2, dense in L1 (a tile of a feature map).
  for (bool to_l1 : {true, false}) {
    const dory_dma_desc d = make_desc(to_l1, kL1, 32, 256, kL2 + 100, 96, 768, 32, 8, 1);
    const auto c = split(d);
    ASSERT_EQ(c.size(), 1u);
    const Expect2d e{kL1, kL2 + 100, 256, 32, 96};
    EXPECT_EQ(c[0].l1, e.l1);
    EXPECT_EQ(c[0].l2, e.l2);
    EXPECT_EQ(c[0].bytes, e.bytes);
    EXPECT_EQ(c[0].line_bytes, e.line_bytes);
    EXPECT_EQ(c[0].l2_stride, e.l2_stride);
    expect_exact_cover(d);
  }
}

TEST(MchanSplit, A3dTransferIsOne2dCommandPerPlane) {
  // 3 planes of 4 rows of 10 B: rows 30 B apart, planes 500 B apart in L2; dense in L1 (planes 40 B apart).
  const dory_dma_desc d = make_desc(true, kL1, 10, 40, kL2, 30, 500, 10, 4, 3);
  const auto c = split(d);
  ASSERT_EQ(c.size(), 3u);
  for (uint32_t p = 0; p < 3; ++p) {
    EXPECT_EQ(c[p].l1, kL1 + 40 * p);
    EXPECT_EQ(c[p].l2, kL2 + 500 * p);
    EXPECT_EQ(c[p].bytes, 40u);
    EXPECT_EQ(c[p].line_bytes, 10u);
    EXPECT_EQ(c[p].l2_stride, 30u);
  }
  expect_exact_cover(d);
}

TEST(MchanSplit, DimensionsContiguousOnBothSidesAreMerged) {
  // Planes continuing the rows in L2 (plane stride = 4 x 30): one 2-D command of 12 lines.
  auto c = split(make_desc(true, kL1, 10, 40, kL2, 30, 120, 10, 4, 3));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].bytes, 120u);
  EXPECT_EQ(c[0].line_bytes, 10u);
  // Everything contiguous on both sides: one 1-D command.
  c = split(make_desc(false, kL1, 10, 40, kL2, 10, 40, 10, 4, 3));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].bytes, 120u);
  EXPECT_EQ(c[0].line_bytes, 0u);
  // Rows contiguous in both, planes strided in L2: the planes are the lines of one 2-D command.
  c = split(make_desc(true, kL1, 10, 40, kL2, 10, 1000, 10, 4, 3));
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].bytes, 120u);
  EXPECT_EQ(c[0].line_bytes, 40u);
  EXPECT_EQ(c[0].l2_stride, 1000u);
}

TEST(MchanSplit, ARowLongerThanACommandIsSplitIntoPieces) {
  const uint32_t n = 150000;
  const dory_dma_desc d = make_desc(true, kL1, n, n, kL2, n, n, n, 1, 1);
  const auto c = split(d);
  const std::vector<Expect1d> want = {
      {kL1, kL2, DORY_MCHAN_MAX_CMD_BYTES},
      {kL1 + DORY_MCHAN_MAX_CMD_BYTES, kL2 + DORY_MCHAN_MAX_CMD_BYTES, DORY_MCHAN_MAX_CMD_BYTES},
      {kL1 + 2 * DORY_MCHAN_MAX_CMD_BYTES, kL2 + 2 * DORY_MCHAN_MAX_CMD_BYTES, n - 2 * DORY_MCHAN_MAX_CMD_BYTES}};
  ASSERT_EQ(c.size(), want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    EXPECT_EQ(c[k].l1, want[k].l1);
    EXPECT_EQ(c[k].l2, want[k].l2);
    EXPECT_EQ(c[k].bytes, want[k].bytes);
    EXPECT_EQ(c[k].line_bytes, 0u);
  }
  expect_exact_cover(d);
  // Long rows of a strided box: each row in pieces.
  expect_exact_cover(make_desc(false, kL1, 70000, 140000, kL2, 80000, 160000, 70000, 2, 1));
}

TEST(MchanSplit, A2dTransferLargerThanACommandTakesAsManyLinesAsFit) {
  // 100 lines of 1,000 B, 2,000 B apart: 65 lines fit 65,535 B.
  const dory_dma_desc d = make_desc(true, kL1, 1000, 100000, kL2, 2000, 200000, 1000, 100, 1);
  const auto c = split(d);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].bytes, 65000u);
  EXPECT_EQ(c[1].bytes, 35000u);
  EXPECT_EQ(c[1].l1, kL1 + 65000);
  EXPECT_EQ(c[1].l2, kL2 + 130000);
  expect_exact_cover(d);
}

TEST(MchanSplit, AnL2StrideBeyondTheLimitOrAStridedTcdmSideGivesOneCommandPerRow) {
  auto c = split(make_desc(true, kL1, 16, 64, kL2, 70000, 280000, 16, 4, 1));
  ASSERT_EQ(c.size(), 4u);
  for (uint32_t r = 0; r < 4; ++r) {
    EXPECT_EQ(c[r].l2, kL2 + 70000u * r);
    EXPECT_EQ(c[r].l1, kL1 + 16u * r);
    EXPECT_EQ(c[r].line_bytes, 0u);
  }
  // The TCDM side strided (not what the executor issues, but the HAL accepts it): 1-D per row.
  c = split(make_desc(false, kL1, 24, 96, kL2, 16, 64, 16, 4, 1));
  ASSERT_EQ(c.size(), 4u);
  for (uint32_t r = 0; r < 4; ++r) EXPECT_EQ(c[r].l1, kL1 + 24u * r);
  expect_exact_cover(make_desc(false, kL1, 24, 96, kL2, 16, 64, 16, 4, 1));
  // An L2 stride shorter than the line (overlapping source lines): 1-D per row.
  c = split(make_desc(true, kL1, 16, 64, kL2, 8, 32, 16, 4, 1));
  ASSERT_EQ(c.size(), 4u);
  expect_exact_cover(make_desc(true, kL1, 16, 64, kL2, 8, 32, 16, 4, 1));
}

uint64_t base_seed() {
  const char* s = std::getenv("DORY_TEST_SEED");
  return s && *s ? std::strtoull(s, nullptr, 10) : 20240605u;
}

TEST(MchanSplit, RandomDescriptorsAreCoveredExactlyWithinTheLimits) {
  const uint64_t seed = base_seed();
  std::printf("[ mchan    ] 3000 random descriptors, seed %llu (replay: DORY_TEST_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  auto pick = [&](uint32_t lo, uint32_t hi) { return std::uniform_int_distribution<uint32_t>(lo, hi)(rng); };
  int fast = 0;
  for (int i = 0; i < 3000; ++i) {
    const bool to_l1 = pick(0, 1) == 1;
    // Mostly small boxes; 1 in 20 with rows longer than a command, 1 in 20 with planes larger than a command.
    const uint32_t kind = pick(0, 19);
    const uint32_t row_bytes = kind == 0 ? pick(60000, 140000) : kind == 1 ? pick(500, 3000) : pick(1, 300);
    const uint32_t rows = kind == 0 ? pick(1, 2) : kind == 1 ? pick(20, 100) : pick(1, 64);
    const uint32_t planes = kind <= 1 ? 1 : pick(1, 4);
    // L1: dense (as the executor issues) or strided; L2: dense, strided, beyond the 2-D stride limit, or overlapping.
    const bool l1_dense = pick(0, 3) != 0;
    const uint32_t l1_rs = l1_dense ? row_bytes : row_bytes + pick(0, 16);
    const uint32_t l1_ps = rows * l1_rs + (l1_dense ? 0 : pick(0, 64));
    uint32_t l2_rs = row_bytes;
    switch (pick(0, 4)) {
      case 0:
        break;
      case 1:
        l2_rs = row_bytes + pick(1, 500);
        break;
      case 2:
        l2_rs = DORY_MCHAN_MAX_STRIDE + pick(0, 1000);
        break;
      case 3:
        l2_rs = row_bytes > 1 ? pick(1, row_bytes - 1) : 1;
        break;  // lines overlap in L2 (a source)
      default:
        l2_rs = row_bytes * pick(1, 4);
        break;
    }
    if (!to_l1 && l2_rs < row_bytes) l2_rs = row_bytes;  // destination rows must not overlap (hal.h)
    const uint32_t l2_ps = pick(0, 2) == 0 ? rows * l2_rs : rows * l2_rs + pick(0, 2000);
    const dory_dma_desc d =
        make_desc(to_l1, kL1 + pick(0, 15), l1_rs, l1_ps, kL2 + pick(0, 15), l2_rs, l2_ps, row_bytes, rows, planes);
    SCOPED_TRACE(testing::Message() << "case " << i << ": " << (to_l1 ? "L2->L1 " : "L1->L2 ") << planes << " x "
                                    << rows << " x " << row_bytes << " B, L1 strides " << l1_rs << "/" << l1_ps
                                    << ", L2 strides " << l2_rs << "/" << l2_ps << "; replay: DORY_TEST_SEED=" << seed);
    expect_exact_cover(d);
    // The HAL's fast path (dory_mchan_one_command) gives the iterator's only command, or declines.
    dory_mchan_cmd one{};
    const std::vector<dory_mchan_cmd> cmds = split(d);
    if (dory_mchan_one_command(&d, &one)) {
      ++fast;
      ASSERT_EQ(cmds.size(), 1u);
      EXPECT_EQ(one.l1, cmds[0].l1);
      EXPECT_EQ(one.l2, cmds[0].l2);
      EXPECT_EQ(one.bytes, cmds[0].bytes);
      EXPECT_EQ(one.line_bytes, cmds[0].line_bytes);
      EXPECT_EQ(one.l2_stride, cmds[0].l2_stride);
    } else if (l1_dense && planes == 1 && rows * row_bytes <= DORY_MCHAN_MAX_CMD_BYTES &&
               (rows == 1 || l2_rs == row_bytes ||
                (l2_rs > row_bytes && l2_rs <= DORY_MCHAN_MAX_STRIDE))) {
      ADD_FAILURE() << "the fast path declines a one-plane descriptor that is one command";
    }
    if (testing::Test::HasFailure()) return;
  }
  EXPECT_GT(fast, 300);
}

TEST(MchanSplit, EveryTransferOfTheFmnistExampleOnPulpOpenNeedsAtMostOneCommandPerPlane) {
  Expected<Graph> g = import_onnx(std::string(DORY_SOURCE_DIR) + "/models/fmnist/fmnist_int.onnx", {});
  ASSERT_TRUE(g.ok()) << g.error().str();
  Expected<Target> t = find_target("pulp-open");
  ASSERT_TRUE(t.ok()) << t.error().str();
  for (int64_t l1 : {int64_t{0}, int64_t{8 * 1024}}) {  // the target's budget, and small tiles
    DeployOptions o;
    o.l1_budget_bytes = l1;
    Expected<Deployment> dep = deploy(*g, *t, o);
    ASSERT_TRUE(dep.ok()) << dep.error().str();
    int64_t transfers = 0;
    for (size_t li = 0; li < dep->layers.size(); ++li) {
      const dory_layer L = dep->layers[li].descriptor();
      for (int32_t i = 0; i < dory_layer_tile_total(&L); ++i) {
        dory_transfer x[DORY_LAYER_MAX_LOADS + 1];
        int n = dory_layer_tile_loads(&L, i, x);
        n += dory_layer_tile_store(&L, i, &x[n]);
        for (int k = 0; k < n; ++k) {
          // As runtime/executor/schedule.c issues it: dense on the L1 side (any L1 offset will do here).
          const dory_transfer& tr = x[k];
          const dory_dma_desc d =
              make_desc(tr.dir == DORY_DMA_L2_TO_L1, kL1, tr.row_bytes, tr.row_bytes * tr.rows, kL2 + tr.l2_offset,
                        tr.row_stride, tr.plane_stride, tr.row_bytes, tr.rows, tr.planes);
          SCOPED_TRACE(testing::Message() << "layer " << li << " tile " << i << " transfer " << k << ": " << tr.planes
                                          << " x " << tr.rows << " x " << tr.row_bytes << " B");
          EXPECT_LE(split(d).size(), tr.planes);
          expect_exact_cover(d);
          ++transfers;
        }
      }
    }
    EXPECT_GT(transfers, static_cast<int64_t>(dep->layers.size()));
  }
}

}  // namespace
}  // namespace dory

// The pulp-open HAL's 32-bit screen of a DMA descriptor (runtime/hal/dma_check.h, dory_dma_quick_valid) never passes
// one that the full check (dory_dma_check) rejects, and decides every descriptor with 16-bit counts and strides
// (one plane or several) exactly as the full check does: random descriptors around two small arenas, many of them just inside or
// just outside an edge.
TEST(DmaCheck, TheQuickScreenAgreesWithTheFullCheck) {
  static uint8_t mem[6000];
  const uint8_t *l1 = mem + 16, *l2 = mem + 3000;
  const uint32_t l1_size = 2000, l2_size = 2900;
  uint64_t x = 12345;
  auto next = [&x](uint32_t n) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>((x >> 33) % n);
  };
  int quick = 0, simple = 0, multi_plane_quick = 0;
  for (int i = 0; i < 200000; ++i) {
    dory_dma_desc d{};
    d.dir = next(10) == 0 ? 7 : (next(2) ? DORY_DMA_L2_TO_L1 : DORY_DMA_L1_TO_L2);
    d.row_bytes = next(8) == 0 ? 0 : 1 + next(next(2) ? 64 : 3000);
    d.rows = next(8) == 0 ? 0 : 1 + next(next(2) ? 4 : 80);
    d.planes = next(3) == 0 ? 1 + next(3) : 1;
    d.src_row_stride = next(4) == 0 ? next(70000) : d.row_bytes + next(40) - 4;
    d.dst_row_stride = next(4) == 0 ? next(70000) : d.row_bytes + next(40) - 4;
    d.src_plane_stride = next(5000);
    d.dst_plane_stride = next(5000);
    const bool to_l1 = d.dir == DORY_DMA_L2_TO_L1;
    const uint8_t *sb = to_l1 ? l2 : l1, *db = to_l1 ? l1 : l2;
    const uint32_t ss = to_l1 ? l2_size : l1_size, ds = to_l1 ? l1_size : l2_size;
    d.src = sb - 8 + next(ss + 16);
    d.dst = const_cast<uint8_t *>(db - 8 + next(ds + 16));
    char msg[256];
    const bool full = dory_dma_check(&d, 1, l1, l1_size, l2, l2_size, msg, sizeof msg) == nullptr;
    const bool q = dory_dma_quick_valid(&d, l1, l1_size, l2, l2_size) != 0;
    if (q) {
      ++quick;
      if (d.planes > 1) ++multi_plane_quick;
      EXPECT_TRUE(full) << msg;
    }
    if (d.planes < 65536 && d.rows < 65536 && d.row_bytes < 65536 && d.src_row_stride < 65536 &&
        d.dst_row_stride < 65536 && d.src_plane_stride < 65536 && d.dst_plane_stride < 65536 &&
        (d.dir == DORY_DMA_L2_TO_L1 || d.dir == DORY_DMA_L1_TO_L2)) {
      ++simple;
      EXPECT_EQ(q, full) << "rows " << d.rows << " x " << d.row_bytes << " B";
    }
  }
  EXPECT_GT(quick, 1000);  // the screen passes real descriptors, not only rejects
  EXPECT_GT(simple, 10000);
  EXPECT_GT(multi_plane_quick, 100);  // and several planes too (the executor's input boxes)
}
