// L1 layout: the buffers the code generator will place, checked against an independent recomputation from
// the rules in docs/cost-model.md, and the tiler's plans never exceed the budget.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "tiler/l1_layout.h"
#include "tiler/search.h"
#include "tiler_test_util.h"

namespace dory {
namespace {

// The L1 bytes of a plan, recomputed from the rules alone (no call into the tiler's layout code).
struct Expected1 {
  BufferRole role;
  int operand;
  int copies;
  int64_t bytes;
};
std::vector<Expected1> expected_buffers(const LayerGeometry& g, const TileShape& s, const Buffering& b,
                                        const Target& t) {
  std::vector<Expected1> v;
  const int64_t rows = std::min((s.h_out - 1) * g.stride_h + g.kh, g.h_in);
  const int64_t cols = std::min((s.w_out - 1) * g.stride_w + g.kw, g.w_in);
  for (int k = 0; k < static_cast<int>(g.in_elem_bytes.size()); ++k)
    v.push_back({BufferRole::Input, k, b.input ? 2 : 1, rows * cols * s.c_in * g.in_elem_bytes[k]});
  int64_t wpc = 0;
  if (g.family == KernelFamily::Conv || g.family == KernelFamily::Pointwise || g.family == KernelFamily::Fc)
    wpc = g.kh * g.kw * s.c_in;
  if (g.family == KernelFamily::Depthwise) wpc = g.kh * g.kw;
  v.push_back({BufferRole::Weights, 0, b.weights ? 2 : 1, s.c_out * wpc});
  v.push_back({BufferRole::Bias, 0, b.weights ? 2 : 1, is_mac_family(g.family) ? 4 * s.c_out : 0});
  v.push_back({BufferRole::RequantParams, 0, b.weights ? 2 : 1, g.requant_bytes_per_cout * s.c_out});
  v.push_back({BufferRole::Output, 0, b.output ? 2 : 1, s.c_out * s.h_out * s.w_out * g.out_elem_bytes});
  v.push_back({BufferRole::PartialSums, 0, 1,
               !g.channels_tied && s.c_in < g.c_in ? 4 * s.c_out * s.h_out * s.w_out : 0});
  // The kernels' scratch, counted from their documentation: the 4x2 portable convolutions build an im2col of 2
  // pixels x kh x kw x c_in input elements per core (kernels.h); the xpulpv2 conv a patch of kh x (3 stride_w + kw)
  // x c_in bytes per core when c_in % 4 == 0, else 4 im2col vectors and min(c_out, 32) padded weight rows of
  // roundup(kh kw c_in, 4) bytes; the xpulpv2 pointwise the vectors and rows only (runtime/kernels/xpulpv2/scratch.c); when c_in is tiled, the largest over the tile's
  // c_in and the three below it (the last tile may have any: tiler/l1_layout.h). The xpulpv2 depthwise: a padded
  // plane of one channel for a band of output rows (3x3, stride_w 1 or 2), pitch roundup(stride_w max(w_out, 4) + 4, 4),
  // the whole tile's rows when they fit 512 B, else 512 B or 3 rows. Every other shipped kernel needs none.
  const std::string& kernel = g.kernel(t).name();
  int64_t scratch = 0;
  auto xp_mm = [&](int64_t c, bool pointwise) -> int64_t {
    if (c % 4 == 0) return pointwise ? 0 : g.kh * (3 * g.stride_w + g.kw) * c;
    return (4 + std::min<int64_t>(s.c_out, 32)) * ((g.kh * g.kw * c + 3) / 4 * 4);
  };
  if (kernel.rfind("dory_conv_", 0) == 0 && kernel.find("_4x2__c") != std::string::npos) {
    scratch = t.cores * 2 * g.kh * g.kw * s.c_in * g.in_elem_bytes[0];
  } else if (kernel == "dory_conv_u8s8_4x4__xpulpv2" || kernel == "dory_pointwise_u8s8_4x4__xpulpv2") {
    const bool pw = kernel == "dory_pointwise_u8s8_4x4__xpulpv2";
    int64_t per_core = xp_mm(s.c_in, pw);
    if (s.c_in < g.c_in)
      for (int64_t c = std::max<int64_t>(1, s.c_in - 3); c < s.c_in; ++c) per_core = std::max(per_core, xp_mm(c, pw));
    scratch = t.cores * per_core;
  } else if (kernel == "dory_depthwise_u8s8_1x4__xpulpv2") {
    if (g.kh == 3 && g.kw == 3 && (g.stride_w == 1 || g.stride_w == 2)) {
      const int64_t pitch = (g.stride_w * std::max<int64_t>(s.w_out, 4) + 4 + 3) / 4 * 4;
      scratch = t.cores * std::min(((s.h_out - 1) * g.stride_h + 3) * pitch, std::max<int64_t>(512, 3 * pitch));
    }
  } else {
    EXPECT_TRUE(g.kernel(t).kernel->scratch.empty()) << kernel << ": count its scratch here";
  }
  v.push_back({BufferRole::Scratch, 0, 1, scratch});
  v.erase(std::remove_if(v.begin(), v.end(), [](const Expected1& e) { return e.bytes == 0; }), v.end());
  return v;
}

int64_t expected_total(const std::vector<Expected1>& v, int64_t align) {
  int64_t end = 0;
  for (const auto& e : v)
    for (int c = 0; c < e.copies; ++c) end = (end + align - 1) / align * align + e.bytes;
  return end;
}

TEST(TilerLayout, EveryBufferMatchesAnIndependentRecomputation) {
  std::mt19937_64 rng(test::test_seed(21));
  const auto targets = test::test_targets();
  for (int iter = 0; iter < 2000; ++iter) {
    const Target& t = targets[static_cast<size_t>(iter) % targets.size()];
    const LayerGeometry g = test::random_geometry(rng, test::random_family(rng), 8);
    auto uni = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
    TileShape s{uni(1, g.c_out), uni(1, g.h_out), uni(1, g.w_out), uni(1, g.c_in)};
    if (g.channels_tied) s.c_in = s.c_out;
    const Buffering b = Buffering::from_bits(static_cast<int>(uni(0, 7)));
    const L1Layout layout = plan_l1_layout(g, s, b, t);
    const auto want = expected_buffers(g, s, b, t);
    ASSERT_EQ(layout.buffers.size(), want.size());
    int64_t prev_end = 0;
    for (size_t k = 0; k < want.size(); ++k) {
      const L1Buffer& got = layout.buffers[k];
      EXPECT_EQ(got.role, want[k].role);
      EXPECT_EQ(got.operand, want[k].operand);
      EXPECT_EQ(got.copies, want[k].copies);
      EXPECT_EQ(got.bytes_per_copy, want[k].bytes);
      ASSERT_EQ(static_cast<int>(got.offsets.size()), got.copies);
      for (int64_t off : got.offsets) {
        EXPECT_EQ(off % t.l1.alignment_bytes, 0) << "aligned";
        EXPECT_GE(off, prev_end) << "no overlap, in order";
        prev_end = off + got.bytes_per_copy;
      }
      EXPECT_EQ(layout.find(want[k].role, want[k].operand), &got);
    }
    EXPECT_EQ(layout.total_bytes, prev_end);
    EXPECT_EQ(layout.total_bytes, expected_total(want, t.l1.alignment_bytes));
    EXPECT_EQ(l1_layout_bytes(g, s, b, t), layout.total_bytes);
  }
}

TEST(TilerLayout, AHandComputedConvolutionLayout) {
  // 3x3 conv, 16 -> 32 channels, 10x10 output, gap8 (8 cores, the xpulpv2 conv), per-channel 32-bit
  // requant (m and a), tile 8 x 4 x 10 with 8 input channels, input and weights double buffered.
  const Target& t = test::shipped_target("gap8");
  LayerGeometry g;
  g.family = KernelFamily::Conv;
  g.c_in = 16, g.h_in = 12, g.w_in = 12, g.c_out = 32, g.h_out = 10, g.w_out = 10;
  g.kh = g.kw = 3;
  g.cin_tileable = true;
  g.bias_bytes_per_cout = 4;
  g.requant_bytes_per_cout = 8;
  test::set_kernel_query(g);
  const L1Layout l = plan_l1_layout(g, {8, 4, 10, 8}, {true, true, false}, t);
  ASSERT_EQ(l.buffers.size(), 7u);
  // input: 6 rows x 12 cols x 8 ch = 576, two copies
  EXPECT_EQ(l.buffers[0].bytes_per_copy, 576);
  EXPECT_EQ(l.buffers[0].offsets, (std::vector<int64_t>{0, 576}));
  // weights 8 x 9 x 8 = 576 (x2), bias 32 (x2), requant 64 (x2)
  EXPECT_EQ(l.buffers[1].offsets, (std::vector<int64_t>{1152, 1728}));
  EXPECT_EQ(l.buffers[2].offsets, (std::vector<int64_t>{2304, 2336}));
  EXPECT_EQ(l.buffers[3].offsets, (std::vector<int64_t>{2368, 2432}));
  // output 8 x 4 x 10 = 320 (x1), partial sums 1280; scratch of the xpulpv2 conv (gap8's first): c_in is tiled by
  // 8 of 16, the kernel's grain 4 divides both, so every tile has 8 channels (c_in 8's patch, 3 x (3 + 3) x 8 =
  // 144 B per core), and the tiles below the grain count too: c_in 3's 4 im2col vectors and the 8 output channels'
  // padded weight rows, each roundup(9 x 3, 4) = 28 B: 12 x 28 = 336 B per core (c_in 1: 12 x 12, 2: 12 x 20),
  // x 8 cores = 2688. (Were the last tile free to have any residue, c_in 7's 12 x 64 x 8 = 6144.)
  EXPECT_EQ(l.buffers[4].offsets, (std::vector<int64_t>{2496}));
  EXPECT_EQ(l.buffers[5].role, BufferRole::PartialSums);
  EXPECT_EQ(l.buffers[5].bytes_per_copy, 1280);
  EXPECT_EQ(l.buffers[6].role, BufferRole::Scratch);
  EXPECT_EQ(l.buffers[6].bytes_per_copy, 2688);
  EXPECT_EQ(l.total_bytes, 2496 + 320 + 1280 + 2688);
}

TEST(TilerLayout, PlannedLayoutsNeverExceedTheBudget) {
  std::mt19937_64 rng(test::test_seed(22));
  const auto targets = test::test_targets();
  for (int iter = 0; iter < 300; ++iter) {
    const Target& t = targets[static_cast<size_t>(iter) % targets.size()];
    const LayerGeometry g = test::random_geometry(rng, test::random_family(rng), 10);
    const Objective o = static_cast<Objective>(iter % 3);
    const int64_t lo = minimal_l1_layout(g, t, o).l1_bytes;
    const int64_t hi = l1_layout_bytes(g, whole_layer_shape(g), Buffering::none(), t);
    const int64_t budget = std::uniform_int_distribution<int64_t>(lo, std::max(lo, hi))(rng);
    const auto c = solve_tiling(g, t, budget, o);
    ASSERT_TRUE(c.has_value()) << "the minimal layout's size is feasible";
    const int64_t independent = expected_total(expected_buffers(g, c->shape, c->buffering, t), t.l1.alignment_bytes);
    EXPECT_LE(independent, budget);
    EXPECT_EQ(independent, c->l1_bytes);
    if (o != Objective::Model && c->tiles > 1) {
      EXPECT_EQ(c->buffering, Buffering::all());
    }
  }
}

}  // namespace
}  // namespace dory
