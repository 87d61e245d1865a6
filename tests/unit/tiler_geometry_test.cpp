// Tile geometry: the loop nest covers every output exactly once, and each tile's input box plus the padding
// applied at its borders is exactly what its windows read (stride, asymmetric padding, clipping).
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "tiler/tile.h"
#include "tiler_test_util.h"

namespace dory {
namespace {

using test::random_geometry;

TileShape random_shape(std::mt19937_64& rng, const LayerGeometry& g) {
  auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  TileShape s{uni(1, g.c_out), uni(1, g.h_out), uni(1, g.w_out), uni(1, g.c_in)};
  if (g.channels_tied) s.c_in = s.c_out;
  return s;
}

TEST(TilerGeometry, EveryOutputElementIsComputedExactlyOnceForEveryInputChannel) {
  std::mt19937_64 rng(test::test_seed(11));
  for (int iter = 0; iter < 400; ++iter) {
    const LayerGeometry g = random_geometry(rng, test::random_family(rng), 9);
    const TileShape s = random_shape(rng, g);
    ASSERT_TRUE(valid_shape(g, s));
    const TileCounts n = tile_counts(g, s);
    // (output element, input channel) pairs for untied layers; output elements for tied ones.
    const int64_t cin = g.channels_tied ? 1 : g.c_in;
    std::vector<int> seen(static_cast<size_t>(g.c_out * g.h_out * g.w_out * cin), 0);
    int64_t prev_co = -1;
    for (int64_t i = 0; i < n.total(); ++i) {
      const TileIndex t = tile_index(n, i);
      ASSERT_GE(t.co, prev_co) << "output-channel tiles are the outer loop";
      prev_co = t.co;
      const TileExtent e = tile_extent(g, s, t);
      ASSERT_GE(e.c_out.size(), 1);
      ASSERT_LE(e.c_out.size(), s.c_out);
      ASSERT_LE(e.h_out.size(), s.h_out);
      ASSERT_LE(e.w_out.size(), s.w_out);
      if (g.channels_tied) {
        ASSERT_EQ(e.c_in, e.c_out);
      }
      EXPECT_EQ(e.last_c_in, g.channels_tied || t.ci == n.c_in - 1);
      for (int64_t c = e.c_out.begin; c < e.c_out.end; ++c)
        for (int64_t y = e.h_out.begin; y < e.h_out.end; ++y)
          for (int64_t x = e.w_out.begin; x < e.w_out.end; ++x)
            for (int64_t k = g.channels_tied ? 0 : e.c_in.begin; k < (g.channels_tied ? 1 : e.c_in.end); ++k)
              ++seen[static_cast<size_t>(((c * g.h_out + y) * g.w_out + x) * cin + k)];
    }
    for (size_t k = 0; k < seen.size(); ++k) ASSERT_EQ(seen[k], 1) << "element " << k << " iteration " << iter;
  }
}

TEST(TilerGeometry, InputBoxPlusPaddingIsExactlyTheWindowsOfTheTile) {
  std::mt19937_64 rng(test::test_seed(12));
  int64_t padding_only = 0;
  for (int iter = 0; iter < 1200; ++iter) {
    const KernelFamily f = iter % 2 ? KernelFamily::Conv : KernelFamily::Pool;
    // the second half: padding up to the kernel + 2, so some tiles hold padding only (an empty input box)
    const LayerGeometry g = random_geometry(rng, f, 11, /*big_pad=*/iter >= 600);
    const TileShape s = random_shape(rng, g);
    const TileCounts n = tile_counts(g, s);
    for (int64_t i = 0; i < n.total(); ++i) {
      const TileExtent e = tile_extent(g, s, tile_index(n, i));
      padding_only += e.h_in.size() == 0 || e.w_in.size() == 0;
      ASSERT_GE(e.h_in.size(), 0);
      ASSERT_GE(e.w_in.size(), 0);
      ASSERT_TRUE(e.h_in.begin >= 0 && e.h_in.end <= g.h_in && e.w_in.begin >= 0 && e.w_in.end <= g.w_in);
      // The box, padded as the tile says, is the input of a standalone window operation that yields exactly the
      // tile's outputs: (pad_before + box + pad_after - k) / stride + 1 outputs.
      const int64_t rows = e.pad.top + e.h_in.size() + e.pad.bottom;
      const int64_t cols = e.pad.left + e.w_in.size() + e.pad.right;
      ASSERT_EQ((rows - g.kh) / g.stride_h + 1, e.h_out.size());
      ASSERT_EQ((cols - g.kw) / g.stride_w + 1, e.w_out.size());
      ASSERT_EQ((rows - g.kh) % g.stride_h, 0) << "the last window ends at the padded box's end";
      ASSERT_EQ((cols - g.kw) % g.stride_w, 0);
      // Every window element maps to the same input position in the layer and in the padded box.
      for (int64_t y = e.h_out.begin; y < e.h_out.end; ++y)
        for (int64_t dy = 0; dy < g.kh; ++dy) {
          const int64_t global = y * g.stride_h - g.pad.top + dy;         // in the layer
          const int64_t local = (y - e.h_out.begin) * g.stride_h + dy;    // in the padded box
          const int64_t from_box = local - e.pad.top;                       // row within the box
          if (global < 0 || global >= g.h_in) {
            ASSERT_TRUE(from_box < 0 || from_box >= e.h_in.size()) << "padding row must be outside the box";
          } else {
            ASSERT_GE(from_box, 0);
            ASSERT_LT(from_box, e.h_in.size());
            ASSERT_EQ(e.h_in.begin + from_box, global);
          }
        }
      for (int64_t x = e.w_out.begin; x < e.w_out.end; ++x)
        for (int64_t dx = 0; dx < g.kw; ++dx) {
          const int64_t global = x * g.stride_w - g.pad.left + dx;
          const int64_t from_box = (x - e.w_out.begin) * g.stride_w + dx - e.pad.left;
          if (global < 0 || global >= g.w_in) {
            ASSERT_TRUE(from_box < 0 || from_box >= e.w_in.size());
          } else {
            ASSERT_EQ(e.w_in.begin + from_box, global);
          }
        }
      // The box is no larger than the L1 input buffer, padding never exceeds the layer's.
      ASSERT_LE(e.h_in.size(), input_buffer_rows(g, s));
      ASSERT_LE(e.w_in.size(), input_buffer_cols(g, s));
      ASSERT_LE(e.pad.top, g.pad.top);
      ASSERT_LE(e.pad.bottom, g.pad.bottom);
      ASSERT_LE(e.pad.left, g.pad.left);
      ASSERT_LE(e.pad.right, g.pad.right);
    }
  }
  EXPECT_GT(padding_only, 0) << "no tile of padding only was drawn";
}

TEST(TilerGeometry, ATileOfPaddingOnlyHasAnEmptyBoxAtTheBorderItLiesBeyond) {
  // 3x1 kernel, 3 rows of top padding, 2 of bottom padding, stride 1, 4 input rows: 6 output rows; output row 0
  // reads rows -3..-1, row 5 reads rows 2..4 (one row of the map).
  LayerGeometry g;
  g.family = KernelFamily::Conv;
  g.c_in = g.c_out = 1;
  g.h_in = 4, g.w_in = 1, g.kh = 3, g.kw = 1;
  g.pad = {3, 0, 2, 0};
  g.h_out = 6, g.w_out = 1;
  g.cin_tileable = true;
  TileExtent top = tile_extent(g, TileShape{1, 1, 1, 1}, {0, 0, 0, 0});
  EXPECT_EQ(top.h_in, (Interval{0, 0}));  // nothing to load
  EXPECT_EQ(top.pad.top, 3);               // the window's whole span is padding before the map
  EXPECT_EQ(top.pad.bottom, 0);
  // A 1x1 kernel with 2 rows of bottom padding: the last two output rows lie beyond the map.
  g.kh = 1;
  g.pad = {0, 0, 2, 0};
  TileExtent bottom = tile_extent(g, TileShape{1, 2, 1, 1}, {0, 2, 0, 0});
  EXPECT_EQ(bottom.h_out, (Interval{4, 6}));
  EXPECT_EQ(bottom.h_in, (Interval{4, 4}));
  EXPECT_EQ(bottom.pad.top, 0);
  EXPECT_EQ(bottom.pad.bottom, 2);
  EXPECT_EQ(axis_window(4, 6, 1, 1, 0, 4).in.size(), 0);
}

TEST(TilerGeometry, AsymmetricPaddingIsAppliedOnlyWhereTheWindowsLeaveTheMap) {
  // TensorFlow-style SAME with stride 2: 6 input rows, 3x3 kernel, pad top 0, bottom 1 -> 3 output rows.
  LayerGeometry g;
  g.family = KernelFamily::Conv;
  g.c_in = g.c_out = 1;
  g.h_in = 6, g.w_in = 6, g.kh = 3, g.kw = 3, g.stride_h = 2, g.stride_w = 2;
  g.pad = {0, 0, 1, 1};
  g.h_out = g.w_out = 3;
  g.cin_tileable = true;
  const TileShape s{1, 2, 3, 1};
  TileExtent a = tile_extent(g, s, {0, 0, 0, 0});
  EXPECT_EQ(a.h_out, (Interval{0, 2}));
  EXPECT_EQ(a.h_in, (Interval{0, 5}));  // rows 0..4
  EXPECT_EQ(a.pad.top, 0);
  EXPECT_EQ(a.pad.bottom, 0);
  EXPECT_EQ(a.w_in, (Interval{0, 6}));
  EXPECT_EQ(a.pad.right, 1);  // the last column's window reads column 6 = padding
  TileExtent b = tile_extent(g, s, {0, 1, 0, 0});
  EXPECT_EQ(b.h_out, (Interval{2, 3}));
  EXPECT_EQ(b.h_in, (Interval{4, 6}));
  EXPECT_EQ(b.pad.top, 0);
  EXPECT_EQ(b.pad.bottom, 1);
  EXPECT_EQ(input_buffer_rows(g, s), 5);
  EXPECT_EQ(input_buffer_cols(g, s), 6);
}

TEST(TilerGeometry, PaddingReachesPastTheBorderTileWhenTilesAreThinnerThanThePadding) {
  // 5x5 kernel, pad 4 at the top, stride 1, one-row tiles: rows 0..3 all read padding.
  LayerGeometry g;
  g.family = KernelFamily::Pool;
  g.c_in = g.c_out = 1;
  g.channels_tied = true;
  g.h_in = 8, g.w_in = 1, g.kh = 5, g.kw = 1;
  g.pad.top = 4;
  g.h_out = 8, g.w_out = 1;
  const TileShape s{1, 1, 1, 1};
  for (int64_t t = 0; t < 8; ++t) {
    const TileExtent e = tile_extent(g, s, {0, t, 0, 0});
    EXPECT_EQ(e.pad.top, std::max<int64_t>(0, 4 - t)) << t;
    EXPECT_EQ(e.h_in.size() + e.pad.top, 5) << t;
  }
}

TEST(TilerGeometry, TileCountsAndValidity) {
  LayerGeometry g;
  g.family = KernelFamily::Depthwise;
  g.c_in = g.c_out = 10, g.h_in = g.h_out = 7, g.w_in = g.w_out = 5;
  g.channels_tied = true;
  EXPECT_EQ(tile_counts(g, {4, 3, 5, 4}), (TileCounts{3, 3, 1, 1}));
  EXPECT_TRUE(valid_shape(g, {4, 3, 5, 4}));
  EXPECT_FALSE(valid_shape(g, {4, 3, 5, 3})) << "tied channels";
  EXPECT_FALSE(valid_shape(g, {11, 3, 5, 11}));
  EXPECT_FALSE(valid_shape(g, {4, 0, 5, 4}));
  EXPECT_EQ(tile_size_at(10, 4, 2), 2);
  EXPECT_EQ(tile_index({3, 3, 1, 1}, 5), (TileIndex{1, 2, 0, 0}));
}

}  // namespace
}  // namespace dory
