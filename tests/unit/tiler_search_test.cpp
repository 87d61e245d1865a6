// The exact search: its answer is the first candidate of the canonical order among ALL feasible tilings (brute
// force over the whole variable space), for every objective, on hundreds of random layers of every family;
// plus the whole-layer rule, the model's monotonicity in the budget, determinism and the exact smallest feasible
// budget.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "tiler/layer_model.h"
#include "tiler/search.h"
#include "tiler_test_util.h"

namespace dory {
namespace {

std::string describe(const LayerGeometry& g) {
  return std::string(kernel_family_name(g.family)) + " " + std::to_string(g.c_in) + "x" + std::to_string(g.h_in) +
         "x" + std::to_string(g.w_in) + " -> " + std::to_string(g.c_out) + "x" + std::to_string(g.h_out) + "x" +
         std::to_string(g.w_out) + " k" + std::to_string(g.kh) + "x" + std::to_string(g.kw) + " s" +
         std::to_string(g.stride_h) + "x" + std::to_string(g.stride_w) + " pad " + std::to_string(g.pad.top) +
         "," + std::to_string(g.pad.left) + "," + std::to_string(g.pad.bottom) + "," + std::to_string(g.pad.right) +
         " inputs " + std::to_string(g.num_inputs());
}

std::string describe(const Candidate& c) {
  return "tile " + std::to_string(c.shape.c_out) + "x" + std::to_string(c.shape.h_out) + "x" +
         std::to_string(c.shape.w_out) + " cin " + std::to_string(c.shape.c_in) + " buffering " +
         std::to_string(c.buffering.bits()) + " value " + std::to_string(c.value) + " L1 " +
         std::to_string(c.l1_bytes) + " tiles " + std::to_string(c.tiles);
}

// Runs `layers` random layers (every family in turn) against brute force for objective o.
void check_against_brute_force(Objective o, uint64_t seed, int layers) {
  std::mt19937_64 rng(test::test_seed(seed));
  const auto targets = test::test_targets();
  int nontrivial = 0;
  for (int iter = 0; iter < layers; ++iter) {
    const Target& t = targets[std::uniform_int_distribution<size_t>(0, targets.size() - 1)(rng)];
    const LayerGeometry g = test::random_geometry(rng, kAllKernelFamilies[iter % 6], 7);
    const int64_t lo = minimal_l1_layout(g, t, o).l1_bytes;
    const int64_t whole = l1_layout_bytes(g, whole_layer_shape(g), Buffering::none(), t);
    // Mostly budgets where tiling is needed, sometimes enough for the whole layer, sometimes too little.
    // (log-uniform, so that small budgets with many tiles are as frequent as large ones)
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    int64_t budget = static_cast<int64_t>(
        std::floor(static_cast<double>(lo) * std::pow(static_cast<double>(std::max(lo, whole - 1)) / lo, u)));
    budget = std::clamp(budget, lo, std::max(lo, whole - 1));
    if (iter % 17 == 0) budget = whole;
    if (iter % 23 == 0) budget = lo - 1;
    const std::vector<Candidate> all = enumerate_tilings(g, t, budget, o);
    const Candidate* want = nullptr;
    for (const Candidate& c : all)
      if (!want || better(o, c, *want)) want = &c;
    SearchStats stats;
    const std::optional<Candidate> got = solve_tiling(g, t, budget, o, &stats);
    const std::string what = "iteration " + std::to_string(iter) + ", " + describe(g) + ", target " + t.name +
                             ", budget " + std::to_string(budget) + ", objective " + objective_name(o);
    if (!want) {
      EXPECT_FALSE(got.has_value()) << what;
      EXPECT_LT(budget, lo) << what;
      continue;
    }
    ASSERT_TRUE(got.has_value()) << what;
    EXPECT_EQ(got->shape, want->shape) << what << "\n got  " << describe(*got) << "\n want " << describe(*want);
    EXPECT_EQ(got->buffering, want->buffering) << what << "\n got  " << describe(*got) << "\n want "
                                               << describe(*want);
    EXPECT_EQ(got->value, want->value) << what;
    EXPECT_EQ(got->l1_bytes, want->l1_bytes) << what;
    EXPECT_EQ(got->tiles, want->tiles) << what;
    if (want->tiles > 1) ++nontrivial;
  }
  std::printf("%s: %d layers (%d of each family) checked against brute force, %d of them tiled\n",
              objective_name(o), layers, layers / 6, nontrivial);
  EXPECT_GT(nontrivial, layers / 2) << "the test must mostly exercise tiled layers";
}

TEST(TilerSearch, ModelOptimumEqualsBruteForceOnRandomLayersOfEveryFamily) {
  check_against_brute_force(Objective::Model, 41, 3000);
}

TEST(TilerSearch, DoryOptimumEqualsBruteForceOnRandomLayersOfEveryFamily) {
  check_against_brute_force(Objective::Dory, 42, 3000);
}

TEST(TilerSearch, FillOptimumEqualsBruteForceOnRandomLayersOfEveryFamily) {
  check_against_brute_force(Objective::Fill, 43, 3000);
}

TEST(TilerSearch, OptimumEqualsBruteForceWithManyInputChannels) {
  // Wide input-channel ranges exercise the search over c_in groups (n_ci = ceil(C_in / c_in)).
  std::mt19937_64 rng(test::test_seed(46));
  const auto targets = test::test_targets();
  const KernelFamily families[] = {KernelFamily::Conv, KernelFamily::Pointwise, KernelFamily::Fc};
  for (int iter = 0; iter < 300; ++iter) {
    const Target& t = targets[static_cast<size_t>(iter) % targets.size()];
    const Objective o = static_cast<Objective>((iter / 3) % 3);
    LayerGeometry g = test::random_geometry(rng, families[iter % 3], 3);
    g.c_in = std::uniform_int_distribution<int64_t>(8, 40)(rng);
    g.c_out = std::uniform_int_distribution<int64_t>(1, 10)(rng);
    const int64_t lo = minimal_l1_layout(g, t, o).l1_bytes;
    const int64_t whole = l1_layout_bytes(g, whole_layer_shape(g), Buffering::none(), t);
    const int64_t budget = std::uniform_int_distribution<int64_t>(lo, std::max(lo, (lo + whole) / 2))(rng);
    const auto all = enumerate_tilings(g, t, budget, o);
    const Candidate* want = nullptr;
    for (const Candidate& c : all)
      if (!want || better(o, c, *want)) want = &c;
    const auto got = solve_tiling(g, t, budget, o);
    ASSERT_TRUE(want && got);
    EXPECT_EQ(got->shape, want->shape) << describe(g) << " " << t.name << " " << objective_name(o) << " budget "
                                       << budget << "\n got  "
                                       << describe(*got) << "\n want " << describe(*want);
    EXPECT_EQ(got->buffering, want->buffering) << describe(g);
    EXPECT_EQ(got->value, want->value) << describe(g);
  }
}

TEST(TilerSearch, OptimumEqualsBruteForceWhenOverheadsDominate) {
  // Extreme cost parameters (large im2col, row and call costs, slow DMA setup) make every bound term matter.
  std::mt19937_64 rng(test::test_seed(47));
  Target t = test::awkward_target();
  for (KernelFamily f : {KernelFamily::Conv, KernelFamily::Pointwise, KernelFamily::Depthwise, KernelFamily::Fc})
    test::for_each_kernel(t, f, [](KernelImpl& k) {
      k.mac.im2col_cycles_per_byte = 40;
      k.mac.row_cycles = 500;
    });
  test::set_split(t, KernelFamily::Depthwise, WorkSplit::Rows);
  test::for_each_kernel(t, KernelFamily::Pool, [](KernelImpl& k) { k.elementwise.row_cycles = 300; });
  t.dma[0].setup_cycles = 400;
  for (int iter = 0; iter < 240; ++iter) {
    const Objective o = Objective::Model;
    const LayerGeometry g = test::random_geometry(rng, kAllKernelFamilies[iter % 6], 6);
    const int64_t lo = minimal_l1_layout(g, t, o).l1_bytes;
    const int64_t whole = l1_layout_bytes(g, whole_layer_shape(g), Buffering::none(), t);
    const int64_t budget = std::uniform_int_distribution<int64_t>(lo, std::max(lo, whole - 1))(rng);
    const auto all = enumerate_tilings(g, t, budget, o);
    const Candidate* want = nullptr;
    for (const Candidate& c : all)
      if (!want || better(o, c, *want)) want = &c;
    const auto got = solve_tiling(g, t, budget, o);
    ASSERT_TRUE(want && got);
    EXPECT_EQ(got->shape, want->shape) << describe(g) << " budget " << budget << "\n got  " << describe(*got)
                                       << "\n want " << describe(*want);
    EXPECT_EQ(got->value, want->value) << describe(g);
  }
}

TEST(TilerSearch, NoBoundEverPrunesABetterCandidate) {
  // The checker enumerates every part of the space a bound prunes (without the seed phase, so that the
  // bounds do the work), on small layers of every family, every target, every objective.
  std::mt19937_64 rng(test::test_seed(48));
  auto targets = test::test_targets();
  Target extreme = test::awkward_target();
  for (KernelFamily f : {KernelFamily::Conv, KernelFamily::Pointwise, KernelFamily::Depthwise, KernelFamily::Fc})
    test::for_each_kernel(extreme, f, [](KernelImpl& k) {
      k.mac.im2col_cycles_per_byte = 40;
      k.mac.row_cycles = 500;
    });
  test::set_split(extreme, KernelFamily::Depthwise, WorkSplit::Rows);
  extreme.dma[0].setup_cycles = 400;
  targets.push_back(extreme);
  SearchOptions checked;
  checked.seed = false;
  checked.verify_prunes = true;
  for (int iter = 0; iter < 2500; ++iter) {
    // (target and objective drawn independently of the family, so that every combination occurs)
    const Target& t = targets[std::uniform_int_distribution<size_t>(0, targets.size() - 1)(rng)];
    const Objective o = static_cast<Objective>(std::uniform_int_distribution<int>(0, 2)(rng));
    LayerGeometry g = test::random_geometry(rng, kAllKernelFamilies[iter % 6], 4);
    if (g.family == KernelFamily::Fc) g.c_in = std::min<int64_t>(g.c_in, 8);
    const int64_t lo = minimal_l1_layout(g, t, o).l1_bytes;
    const int64_t whole = l1_layout_bytes(g, whole_layer_shape(g), Buffering::none(), t);
    // log-uniform: small budgets (many tiles, every dimension split) as often as large ones
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    const int64_t budget = std::clamp<int64_t>(
        static_cast<int64_t>(static_cast<double>(lo) * std::pow(static_cast<double>(std::max(lo, whole - 1)) / lo, u)),
        lo, std::max(lo, whole - 1));
    const auto got = solve_tiling(g, t, budget, o, nullptr, checked);  // aborts on a wrong prune
    const auto fast = solve_tiling(g, t, budget, o);
    ASSERT_TRUE(got && fast);
    EXPECT_EQ(got->shape, fast->shape) << describe(g);
    EXPECT_EQ(got->buffering, fast->buffering) << describe(g);
  }
}

TEST(TilerSearch, TheSmallestFeasibleBudgetIsExact) {
  std::mt19937_64 rng(test::test_seed(44));
  const auto targets = test::test_targets();
  for (int iter = 0; iter < 300; ++iter) {
    const Target& t = targets[std::uniform_int_distribution<size_t>(0, targets.size() - 1)(rng)];
    const LayerGeometry g = test::random_geometry(rng, kAllKernelFamilies[iter % 6], 5);
    const Objective o = static_cast<Objective>(std::uniform_int_distribution<int>(0, 2)(rng));
    const MinimalLayout m = minimal_l1_layout(g, t, o);
    // Brute force: the smallest layout over the whole space the objective allows.
    int64_t brute = -1;
    for (int64_t co = 1; co <= g.c_out; ++co)
      for (int64_t h = 1; h <= g.h_out; ++h)
        for (int64_t w = 1; w <= g.w_out; ++w)
          for (int64_t ci = 1; ci <= g.c_in; ++ci) {
            const TileShape s{co, h, w, ci};
            if (!valid_shape(g, s)) continue;
            const bool whole = s == whole_layer_shape(g);
            for (int bits = 0; bits < 8; ++bits) {
              const Buffering b = Buffering::from_bits(bits);
              if (o != Objective::Model && !(b == Buffering::all()) && !(whole && bits == 0)) continue;
              const int64_t l1 = l1_layout_bytes(g, s, b, t);
              if (brute < 0 || l1 < brute) brute = l1;
            }
          }
    EXPECT_EQ(m.l1_bytes, brute) << describe(g) << " " << objective_name(o);
    EXPECT_EQ(m.layout.total_bytes, m.l1_bytes);
    EXPECT_TRUE(solve_tiling(g, t, m.l1_bytes, o).has_value());
    EXPECT_FALSE(solve_tiling(g, t, m.l1_bytes - 1, o).has_value());
  }
}

// dory and fill keep DORY's rule (a layer that fits whole is that one tile); for model the one tile is a
// candidate like any other: the optimum is never slower than it, and is it when nothing pipelined is faster.
TEST(TilerSearch, ALayerThatFitsWholeIsOneTileForDoryAndFillAndACandidateForModel) {
  const Target& t = test::shipped_target("gap8");
  std::mt19937_64 rng(test::test_seed(45));
  int model_whole = 0, model_pipelined = 0;
  for (int iter = 0; iter < 60; ++iter) {
    const LayerGeometry g = test::random_geometry(rng, kAllKernelFamilies[iter % 6], 6);
    const int64_t whole = l1_layout_bytes(g, whole_layer_shape(g), Buffering::none(), t);
    const double whole_cycles = model_layer(t, g, whole_layer_shape(g), Buffering::none()).total_cycles;
    for (Objective o : {Objective::Model, Objective::Dory, Objective::Fill}) {
      for (int64_t budget : {whole, whole + 1000}) {
        const auto c = solve_tiling(g, t, budget, o);
        ASSERT_TRUE(c.has_value());
        if (o == Objective::Model) {
          EXPECT_LE(c->value, whole_cycles);
          (c->shape == whole_layer_shape(g) ? model_whole : model_pipelined)++;
          continue;
        }
        EXPECT_EQ(c->shape, whole_layer_shape(g));
        EXPECT_EQ(c->buffering, Buffering::none());
        EXPECT_EQ(c->tiles, 1);
      }
    }
  }
  EXPECT_GT(model_whole, 0);
}

// The model's optimum is monotone in the L1 budget: a larger budget only adds candidates (the whole layer as one
// tile included), so the modeled cycles never grow, on random layers of every family over budgets from the
// smallest feasible one to past the whole layer, on every shipped target.
TEST(TilerSearch, TheModelsOptimumNeverGrowsWithTheBudget) {
  std::mt19937_64 rng(test::test_seed(46));
  for (const char* target : {"gap8", "pulp-open", "gap9"}) {
    const Target& t = test::shipped_target(target);
    for (int iter = 0; iter < 36; ++iter) {
      const LayerGeometry g = test::random_geometry(rng, kAllKernelFamilies[iter % 6], 10);
      const int64_t lo = minimal_l1_layout(g, t, Objective::Model).l1_bytes;
      const int64_t hi = l1_layout_bytes(g, whole_layer_shape(g), Buffering::none(), t) * 2 + 64;
      double previous = std::numeric_limits<double>::infinity();
      for (int64_t budget = lo; budget <= hi; budget = budget + std::max<int64_t>(1, (hi - lo) / 23)) {
        const auto c = solve_tiling(g, t, budget, Objective::Model);
        ASSERT_TRUE(c.has_value()) << target << " budget " << budget;
        EXPECT_LE(c->value, previous * (1 + 1e-12)) << target << " " << g.layer << " budget " << budget;
        previous = c->value;
      }
    }
  }
}

TEST(TilerSearch, PlansAreDeterministic) {
  const Target& t = test::shipped_target("gap8");
  LayerGeometry g;
  g.layer = "conv";
  g.family = KernelFamily::Conv;
  g.c_in = 32, g.h_in = 30, g.w_in = 30, g.c_out = 64, g.h_out = 28, g.w_out = 28, g.kh = g.kw = 3;
  g.cin_tileable = true;
  g.bias_bytes_per_cout = 4;
  g.requant_bytes_per_cout = 8;
  test::set_kernel_query(g);
  for (Objective o : {Objective::Model, Objective::Dory, Objective::Fill}) {
    const auto a = solve_tiling(g, t, 20000, o);
    for (int k = 0; k < 3; ++k) {
      const auto b = solve_tiling(g, t, 20000, o);
      ASSERT_TRUE(a && b);
      EXPECT_EQ(a->shape, b->shape);
      EXPECT_EQ(a->buffering, b->buffering);
      EXPECT_EQ(a->value, b->value);
    }
  }
}

TEST(TilerSearch, TheCanonicalOrderBreaksTiesAsDocumented) {
  Candidate a, b;
  a.value = b.value = 100;
  a.l1_bytes = 10, b.l1_bytes = 20;
  EXPECT_TRUE(better(Objective::Model, a, b)) << "equal cycles: less L1";
  EXPECT_FALSE(better(Objective::Model, b, a));
  a.l1_bytes = b.l1_bytes;
  a.tiles = 2, b.tiles = 3;
  EXPECT_TRUE(better(Objective::Model, a, b)) << "then fewer tiles";
  b.tiles = 2;
  a.shape = {4, 2, 2, 1}, b.shape = {2, 4, 2, 1};
  EXPECT_TRUE(better(Objective::Fill, a, b)) << "then more output channels";
  b.shape = a.shape;
  a.buffering = Buffering::from_bits(1), b.buffering = Buffering::from_bits(2);
  EXPECT_TRUE(better(Objective::Dory, a, b)) << "then buffering bits";
  EXPECT_FALSE(better(Objective::Dory, a, a)) << "strict";
  a.value = 101;
  EXPECT_TRUE(better(Objective::Fill, a, b)) << "fill and dory maximize";
  EXPECT_FALSE(better(Objective::Model, a, b)) << "model minimizes";
}

}  // namespace
}  // namespace dory
