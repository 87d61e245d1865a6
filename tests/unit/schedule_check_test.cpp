// The static schedule checker (codegen/schedule_check.h): every layer of the synthetic networks, the Fashion-MNIST
// example and a concatenation (channel-slice outputs) is proven at several L1 budgets and tiler objectives; the C
// tile functions of the runtime (runtime/executor/schedule.c) agree with the C++ ones of the tiler on every tile
// of every plan and of random tile shapes (seeded; replay with DORY_TEST_SEED); and the faults the checker exists
// for are caught, each with its own message: skipped DMA waits, an L1 one byte too small, overlapping L1 buffers,
// a tiling that drifted from the plan, a store outside the output tensor, double buffering with a single copy,
// a descriptor that would break the C functions.
#include "codegen/schedule_check.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "codegen/deployment.h"
#include "ir_test_util.h"
#include "onnx/frontend.h"
#include "target/target.h"
#include "testnets/testnets.h"
#include "tiler/layer_model.h"
#include "tiler/tile.h"

namespace dory {
namespace {

using test::fails_with;

const Target& gap8() {
  static const Target t = find_target("gap8").value();
  return t;
}

// x[1,8,8,8] -> conv_a (3x3, pad 1, 8 -> 6, per-channel requant) -> A;  x -> conv_b (1x1, 8 -> 10) -> B;
// concat(A, B) -> C[1,16,8,8];  conv_c (1x1, 16 -> 4, raw int32) -> y. conv_a and conv_b store into channel
// slices of C (pixel stride 16).
Graph concat_net() {
  test::GraphBuilder b;
  const TensorId x = b.input("x", {1, 8, 8, 8});
  const TensorId a = b.tensor("A", {1, 6, 8, 8}), bb = b.tensor("B", {1, 10, 8, 8});
  const TensorId c = b.tensor("C", {1, 16, 8, 8}), y = b.tensor("y", {1, 4, 8, 8}, DType::Int32);
  std::vector<int64_t> mul;
  for (int k = 0; k < 6; ++k) mul.push_back(3 + k);
  b.layer("conv_a",
          test::conv(test::window(3, 3, 1, 1, {1, 1, 1, 1}), std::vector<int32_t>(6 * 3 * 3 * 8, 1),
                     std::vector<int32_t>(6, 2), 0, test::requant(mul, {128}, 256, 0, 0, 255)),
          {x}, a);
  b.layer("conv_b",
          test::conv(test::window(1, 1), std::vector<int32_t>(10 * 8, -1), std::vector<int32_t>(10, 0), 0,
                     test::requant({5}, {128}, 256, 0, 0, 255)),
          {x}, bb);
  b.layer("cat", Concat{}, {a, bb}, c);
  b.layer("conv_c", test::conv(test::window(1, 1), std::vector<int32_t>(4 * 16, 1), std::vector<int32_t>(4, 0)), {c},
          y);
  b.output(y);
  return b.g;
}

// The networks, imported once.
const Graph& network(const std::string& name) {
  static std::map<std::string, Graph> cache;
  if (auto it = cache.find(name); it != cache.end()) return it->second;
  Expected<Graph> g = [&]() -> Expected<Graph> {
    if (name == "fmnist") return import_onnx(std::string(DORY_SOURCE_DIR) + "/models/fmnist/fmnist_int.onnx");
    if (name == "mobilenet_v1")
      return import_onnx_bytes(make_mobilenet_v1_onnx({.width = 0.25, .resolution = 64, .classes = 10}), name);
    if (name == "resnet8") return import_onnx_bytes(make_resnet8_onnx({}), name);
    if (name == "cifar10_cnn") return import_onnx_bytes(make_cifar10_cnn_onnx({}), name);
    if (name == "mobilenet_v1_big")
      return import_onnx_bytes(make_mobilenet_v1_onnx({.width = 1.0, .resolution = 224, .classes = 1000}), name);
    if (name == "concat") return concat_net();
    ADD_FAILURE() << "unknown network " << name;
    return concat_net();
  }();
  EXPECT_TRUE(g.ok()) << name << ": " << (g.ok() ? "" : g.error().str());
  return cache.emplace(name, g.ok() ? std::move(*g) : Graph{}).first->second;
}

const std::vector<std::string> kNetworks = {"fmnist", "mobilenet_v1", "resnet8", "cifar10_cnn", "concat"};
const std::vector<Objective> kObjectives = {Objective::Model, Objective::Dory, Objective::Fill};

// Deployments, made once (descriptors point into them: they stay where the map put them). nullptr when the
// budget is infeasible.
const Deployment* deployed(const std::string& net, int64_t l1, Objective obj) {
  static std::map<std::tuple<std::string, int64_t, Objective>, std::optional<Deployment>> cache;
  const auto key = std::make_tuple(net, l1, obj);
  auto it = cache.find(key);
  if (it == cache.end()) {
    DeployOptions o;
    o.l1_budget_bytes = l1;
    o.objective = obj;
    Expected<Deployment> d = deploy(network(net), gap8(), o);
    if (!d.ok()) {
      EXPECT_EQ(d.error().severity, Severity::Infeasible) << net << " at " << l1 << ": " << d.error().str();
    }
    it = cache.emplace(key, d.ok() ? std::optional<Deployment>(std::move(*d)) : std::nullopt).first;
  }
  return it->second ? &*it->second : nullptr;
}

const Deployment& must_deploy(const std::string& net, int64_t l1, Objective obj = Objective::Model) {
  const Deployment* d = deployed(net, l1, obj);
  EXPECT_NE(d, nullptr) << net << " does not deploy at L1 " << l1;
  static const Deployment empty;
  return d ? *d : empty;
}

std::string describe(const Status& s) { return s.ok() ? "ok" : s.error().str(); }

const Layer& layer_of(const Deployment& dep, size_t i) {
  return dep.graph.layers.at(static_cast<size_t>(dep.layers[i].layer_index));
}

// ---- C and C++ tile functions ------------------------------------------------------------------------------------

// The L2 base the C++ transfers are relative to.
int64_t cxx_base(const Deployment& dep, size_t i, BufferRole role, int operand) {
  const DeployedLayer& dl = dep.layers[i];
  const Layer& l = layer_of(dep, i);
  switch (role) {
    case BufferRole::Input: return dep.tensor_l2_offset(l.inputs.at(static_cast<size_t>(operand)));
    case BufferRole::Weights: return dl.weights_offset;
    case BufferRole::Bias: return dl.bias_offset;
    case BufferRole::RequantParams: return dl.requant_offset;
    default: return dep.tensor_l2_offset(l.output);
  }
}

::testing::AssertionResult same_transfer(const Deployment& dep, size_t i, const dory_transfer& c,
                                         const TileTransfer& x) {
  const int64_t l2 = cxx_base(dep, i, x.role, x.operand) + x.l2_offset_bytes;
  const DmaPattern& p = x.pattern;
  const bool dir_ok = c.dir == (x.direction == DmaDirection::Load ? DORY_DMA_L2_TO_L1 : DORY_DMA_L1_TO_L2);
  if (c.role != static_cast<int>(x.role) || c.operand != x.operand || !dir_ok || c.l2_offset != l2 ||
      c.row_bytes != p.row_bytes || c.rows != p.rows || c.planes != p.planes ||
      (c.rows > 1 && c.row_stride != p.row_stride) || (c.planes > 1 && c.plane_stride != p.plane_stride))
    return ::testing::AssertionFailure() << fmt::format(
               "C role {} op {} dir {} l2 {} {}x{}x{} strides {} {}; C++ role {} op {} l2 {} {}x{}x{} strides {} {}",
               c.role, c.operand, c.dir, c.l2_offset, c.planes, c.rows, c.row_bytes, c.row_stride, c.plane_stride,
               static_cast<int>(x.role), x.operand, l2, p.planes, p.rows, p.row_bytes, p.row_stride, p.plane_stride);
  return ::testing::AssertionSuccess();
}

// dory_layer_tile_extent / _loads / _store on `d` equal tile_extent / tile_loads / tile_stores for shape s on
// every tile.
::testing::AssertionResult same_tiles(const Deployment& dep, size_t i, const dory_layer& d, const TileShape& s) {
  const LayerGeometry& g = dep.layers[i].plan.geometry;
  const TileCounts n = tile_counts(g, s);
  const std::string where =
      fmt::format("layer '{}' shape {}x{}x{}x{}", layer_of(dep, i).name, s.c_out, s.h_out, s.w_out, s.c_in);
  if (dory_layer_tile_total(&d) != n.total())
    return ::testing::AssertionFailure() << where << ": C has " << dory_layer_tile_total(&d) << " tiles, C++ "
                                         << n.total();
  for (int64_t t = 0; t < n.total(); ++t) {
    dory_tile_extent e;
    dory_layer_tile_extent(&d, static_cast<int32_t>(t), &e);
    const TileIndex ti = tile_index(n, t);
    const TileExtent x = tile_extent(g, s, ti);
    const bool ext_ok = e.co == ti.co && e.h == ti.h && e.w == ti.w && e.ci == ti.ci && e.c_out0 == x.c_out.begin &&
                        e.c_out == x.c_out.size() && e.h_out0 == x.h_out.begin && e.h_out == x.h_out.size() &&
                        e.w_out0 == x.w_out.begin && e.w_out == x.w_out.size() && e.c_in0 == x.c_in.begin &&
                        e.c_in == x.c_in.size() && e.h_in0 == x.h_in.begin && e.h_in == x.h_in.size() &&
                        e.w_in0 == x.w_in.begin && e.w_in == x.w_in.size() && e.pad.top == x.pad.top &&
                        e.pad.left == x.pad.left && e.pad.bottom == x.pad.bottom && e.pad.right == x.pad.right &&
                        (e.last != 0) == x.last_c_in && (e.first != 0) == (ti.ci == 0);
    if (!ext_ok) return ::testing::AssertionFailure() << where << ": extents differ at tile " << t;
    dory_transfer loads[DORY_LAYER_MAX_LOADS];
    const int nl = dory_layer_tile_loads(&d, static_cast<int32_t>(t), loads);
    const std::vector<TileTransfer> xl = tile_loads(g, s, t);
    if (nl != static_cast<int>(xl.size()))
      return ::testing::AssertionFailure()
             << where << ": tile " << t << " has " << nl << " C loads, " << xl.size() << " C++ loads";
    for (int k = 0; k < nl; ++k)
      if (auto r = same_transfer(dep, i, loads[k], xl[static_cast<size_t>(k)]); !r)
        return r << " (" << where << ", tile " << t << ", load " << k << ")";
    dory_transfer st;
    const int ns = dory_layer_tile_store(&d, static_cast<int32_t>(t), &st);
    const std::vector<TileTransfer> xs = tile_stores(g, s, t);
    if (ns != static_cast<int>(xs.size()))
      return ::testing::AssertionFailure()
             << where << ": tile " << t << " has " << ns << " C stores, " << xs.size() << " C++ stores";
    if (ns == 1)
      if (auto r = same_transfer(dep, i, st, xs[0]); !r) return r << " (" << where << ", tile " << t << ", store)";
  }
  return ::testing::AssertionSuccess();
}

// ---- every deployment is proven ----------------------------------------------------------------------------------

TEST(ScheduleCheck, ProvesEveryLayerOfTheTestNetworksAtThreeBudgetsAndThreeObjectives) {
  for (const std::string& net : kNetworks)
    for (int64_t l1 : {16 * 1024, 32 * 1024, 64 * 1024})
      for (Objective obj : kObjectives) {
        SCOPED_TRACE(fmt::format("{} at L1 {} B, objective {}", net, l1, objective_name(obj)));
        const Deployment& dep = must_deploy(net, l1, obj);
        ScheduleCheckStats st;
        const Status s = check_schedule(dep, {}, &st);
        ASSERT_TRUE(s.ok()) << describe(s);
        int64_t tiles = 0, dma_bytes = 0;
        for (const DeployedLayer& dl : dep.layers) {
          tiles += dl.plan.counts.total();
          dma_bytes += dl.plan.cost.dma_bytes;
        }
        EXPECT_EQ(st.layers, static_cast<int64_t>(dep.layers.size()));
        EXPECT_EQ(st.computes, tiles);
        EXPECT_EQ(st.waits, st.transfers);  // every job waited once
        EXPECT_EQ(st.bytes, dma_bytes);     // the bytes the cost model priced are the bytes moved
      }
}

TEST(ScheduleCheck, ChannelSliceOutputsOfAConcatenationAreStoredIntoTheirSlices) {
  const Deployment& dep = must_deploy("concat", 4 * 1024);
  int slices = 0;
  for (size_t i = 0; i < dep.layers.size(); ++i) {
    const dory_layer d = dep.layers[i].descriptor();
    if (d.out.pixel_stride > d.c_out) ++slices;
    EXPECT_TRUE(check_layer_schedule(dep, i, d).ok()) << describe(check_layer_schedule(dep, i, d));
    // Moving the slice by one channel makes the stores write another slice's elements.
    dory_layer moved = d;
    moved.out.l2_offset += static_cast<uint32_t>(dory_dtype_bytes(d.out.type));
    const Status s = check_layer_schedule(dep, i, moved);
    EXPECT_TRUE(fails_with(s, "schedule-invalid"));
    if (!s.ok()) {  // a schedule the checker rejects is dory's own bug: an internal error, exit code 3
      EXPECT_EQ(s.error().severity, Severity::Internal);
      EXPECT_EQ(s.error().exit_code(), 3);
    }
  }
  EXPECT_EQ(slices, 2);  // conv_a and conv_b
}

// DeployOptions::layer_options: a layer planned with its own (smaller) L1 budget and objective, the others with the
// deployment's; the application's L1 stays the deployment's, and every schedule is proven. A name the graph does
// not have, a layer that is not tiled (the concatenation) and a budget above the deployment's are refused.
TEST(ScheduleCheck, ALayerWithItsOwnBudgetAndObjectiveIsPlannedSoAndProven) {
  DeployOptions o;
  o.l1_budget_bytes = 48 * 1024;
  o.objective = Objective::Model;
  o.layer_options["conv_a"] = {1024, Objective::Dory};
  o.layer_options["conv_c"] = {0, Objective::Fill};  // the deployment's budget, another objective
  Expected<Deployment> dep = deploy(network("concat"), gap8(), o);
  ASSERT_TRUE(dep.ok()) << dep.error().str();
  EXPECT_EQ(dep->l1_bytes, 48 * 1024);
  std::map<std::string, const TilePlan*> plans;
  for (const DeployedLayer& dl : dep->layers) plans[dl.plan.layer] = &dl.plan;
  ASSERT_EQ(plans.size(), 3u);
  EXPECT_EQ(plans["conv_a"]->l1_budget_bytes, 1024);
  EXPECT_EQ(plans["conv_a"]->objective, Objective::Dory);
  EXPECT_LE(plans["conv_a"]->layout.total_bytes, 1024);
  EXPECT_GT(plans["conv_a"]->counts.total(), 1);  // the whole layer (8 x 8 x 8 -> 6, 3x3) needs more than 1 kB
  EXPECT_EQ(plans["conv_b"]->l1_budget_bytes, 48 * 1024);
  EXPECT_EQ(plans["conv_b"]->objective, Objective::Model);
  EXPECT_EQ(plans["conv_c"]->l1_budget_bytes, 48 * 1024);
  EXPECT_EQ(plans["conv_c"]->objective, Objective::Fill);
  const Status proven = check_schedule(*dep);
  EXPECT_TRUE(proven.ok()) << describe(proven);

  DeployOptions bad = o;
  bad.layer_options = {{"no_such_layer", {1024, std::nullopt}}};
  EXPECT_TRUE(fails_with(deploy(network("concat"), gap8(), bad), "deploy-layer-options", {"no_such_layer"}));
  bad.layer_options = {{"cat", {1024, std::nullopt}}};
  EXPECT_TRUE(fails_with(deploy(network("concat"), gap8(), bad), "deploy-layer-options", {"not tiled"}));
  bad.layer_options = {{"conv_b", {48 * 1024 + 4, std::nullopt}}};
  EXPECT_TRUE(fails_with(deploy(network("concat"), gap8(), bad), "deploy-layer-options", {"49,156 B"}));
}

TEST(ScheduleCheck, ProvesEveryTileOfAFullSizeMobileNet) {
  // MobileNetV1 1.0-224 (4.2 M weights: an L2 budget beyond gap8's) at 32 kB of L1: thousands of tiles, every
  // one checked. How long that takes is a benchmark (bench/compile_bench.cpp), not a test.
  DeployOptions o;
  o.l1_budget_bytes = 32 * 1024;
  o.l2_budget_bytes = int64_t{64} << 20;
  Expected<Deployment> deployed_big = deploy(network("mobilenet_v1_big"), gap8(), o);
  ASSERT_TRUE(deployed_big.ok()) << deployed_big.error().str();
  const Deployment& dep = *deployed_big;
  ScheduleCheckStats st;
  const Status s = check_schedule(dep, {}, &st);
  ASSERT_TRUE(s.ok()) << describe(s);
  std::cout << fmt::format("[ schedule ] {} layers, {} tiles, {} transfers, {} B checked\n", st.layers, st.computes,
                           st.transfers, st.bytes);
  EXPECT_EQ(st.layers, static_cast<int64_t>(dep.layers.size()));
  int64_t tiles = 0;
  for (const DeployedLayer& dl : dep.layers) tiles += dl.plan.counts.total();
  EXPECT_EQ(st.computes, tiles);  // every tile of every plan computed once, in the schedule the checker ran
  EXPECT_GT(st.computes, 1000);
}

// ---- C and C++ agree --------------------------------------------------------------------------------------------

TEST(ScheduleCheck, CAndCxxTileFunctionsAgreeOnEveryTileOfEveryPlan) {
  std::set<std::tuple<std::string, std::string, int64_t, int64_t, int64_t, int64_t>> tilings;
  for (const std::string& net : kNetworks)
    for (int64_t l1 : {6 * 1024, 8 * 1024, 12 * 1024, 16 * 1024, 24 * 1024, 32 * 1024, 48 * 1024, 100 * 1024})
      for (Objective obj : kObjectives) {
        const Deployment* dep = deployed(net, l1, obj);
        if (!dep) continue;  // infeasible budget
        for (size_t i = 0; i < dep->layers.size(); ++i) {
          const TilePlan& p = dep->layers[i].plan;
          if (!tilings.insert({net, p.layer, p.shape.c_out, p.shape.h_out, p.shape.w_out, p.shape.c_in}).second)
            continue;
          ASSERT_TRUE(same_tiles(*dep, i, dep->layers[i].descriptor(), p.shape));
        }
      }
  std::cout << fmt::format("[ tiles    ] {} distinct tilings compared\n", tilings.size());
  EXPECT_GT(tilings.size(), 150u);
}

TEST(ScheduleCheck, CAndCxxTileFunctionsAgreeOnRandomTileShapes) {
  const char* env = std::getenv("DORY_TEST_SEED");
  const uint64_t seed = env ? std::strtoull(env, nullptr, 0) : uint64_t{20241122};
  std::cout << fmt::format("[   SEED   ] {} (replay with DORY_TEST_SEED={})\n", seed, seed);
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937_64 rng(seed);
  auto pick = [&](int64_t extent) {
    // mostly coarse tiles (few of them), sometimes any size
    std::uniform_int_distribution<int64_t> coin(0, 3), any(1, extent), parts(1, 4);
    if (coin(rng) == 0) return any(rng);
    return (extent + parts(rng) - 1) / parts(rng);
  };
  int compared = 0;
  for (const std::string& net : kNetworks) {
    const Deployment& dep = must_deploy(net, 64 * 1024);
    for (size_t i = 0; i < dep.layers.size(); ++i) {
      const LayerGeometry& g = dep.layers[i].plan.geometry;
      for (int r = 0; r < 25; ++r) {
        TileShape s;
        s.c_out = std::max<int64_t>(1, pick(g.c_out));
        s.h_out = std::max<int64_t>(1, pick(g.h_out));
        s.w_out = std::max<int64_t>(1, pick(g.w_out));
        s.c_in = g.channels_tied ? s.c_out : std::max<int64_t>(1, pick(g.c_in));
        if (tile_counts(g, s).total() > 4096) continue;
        dory_layer d = dep.layers[i].descriptor();
        d.tile_c_out = static_cast<int32_t>(s.c_out);
        d.tile_h = static_cast<int32_t>(s.h_out);
        d.tile_w = static_cast<int32_t>(s.w_out);
        d.tile_c_in = static_cast<int32_t>(s.c_in);
        ASSERT_TRUE(same_tiles(dep, i, d, s));
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, 500);
}

// ---- faults -----------------------------------------------------------------------------------------------------

bool mentions_a_missing_wait(const std::string& m) {
  return m.find("before its load") != std::string::npos || m.find("was never waited for") != std::string::npos ||
         m.find("is in flight (not waited for") != std::string::npos;
}

TEST(ScheduleCheck, ASkippedWaitIsAReadBeforeTheWaitOrAJobNeverWaitedFor) {
  int faults = 0;
  for (const auto& [net, l1] : std::vector<std::pair<std::string, int64_t>>{
           {"fmnist", 16 * 1024}, {"resnet8", 32 * 1024}, {"mobilenet_v1", 16 * 1024}, {"concat", 4 * 1024}}) {
    const Deployment& dep = must_deploy(net, l1);
    for (size_t i = 0; i < dep.layers.size(); ++i) {
      const dory_layer d = dep.layers[i].descriptor();
      ScheduleCheckStats st;
      ASSERT_TRUE(check_layer_schedule(dep, i, d, {}, &st).ok());
      const int32_t waits = static_cast<int32_t>(st.waits);
      for (int32_t k : std::set<int32_t>{0, 1, waits / 3, waits / 2, waits - 2, waits - 1}) {
        if (k < 0 || k >= waits) continue;
        SCOPED_TRACE(fmt::format("{} layer '{}': skip wait {} of {}", net, layer_of(dep, i).name, k, waits));
        ScheduleCheckOptions o;
        o.skip_wait = k;
        const Status s = check_layer_schedule(dep, i, d, o);
        ASSERT_TRUE(fails_with(s, "schedule-invalid", {"layer '" + layer_of(dep, i).name + "'"}));
        EXPECT_TRUE(mentions_a_missing_wait(s.error().message)) << s.error().str();
        ++faults;
      }
      ScheduleCheckOptions past;
      past.skip_wait = waits;  // no such wait: nothing is skipped
      EXPECT_TRUE(check_layer_schedule(dep, i, d, past).ok());
    }
  }
  EXPECT_GT(faults, 100);
}

TEST(ScheduleCheck, AnL1OneByteSmallerThanTheLayoutIsRejectedNamingBothSizes) {
  for (const auto& [net, l1] :
       std::vector<std::pair<std::string, int64_t>>{{"fmnist", 32 * 1024}, {"resnet8", 16 * 1024}}) {
    const Deployment& dep = must_deploy(net, l1);
    for (size_t i = 0; i < dep.layers.size(); ++i) {
      const int64_t need = dep.layers[i].plan.layout.total_bytes;
      const dory_layer d = dep.layers[i].descriptor();
      ScheduleCheckOptions o;
      o.l1_bytes = need;
      EXPECT_TRUE(check_layer_schedule(dep, i, d, o).ok()) << describe(check_layer_schedule(dep, i, d, o));
      o.l1_bytes = need - 1;
      EXPECT_TRUE(fails_with(check_layer_schedule(dep, i, d, o), "schedule-invalid",
                             {fmt::format("need {} B", need), fmt::format("L1 has {} B", need - 1)}));
    }
  }
}

TEST(ScheduleCheck, OverlappingL1BuffersAreRejected) {
  const Deployment& dep = must_deploy("resnet8", 16 * 1024);
  const int64_t align = dep.target.l1.alignment_bytes;
  for (size_t i = 0; i < dep.layers.size(); ++i) {
    const dory_layer d = dep.layers[i].descriptor();
    ASSERT_TRUE(check_layer_schedule(dep, i, d).ok());
    // The output shifted down by one alignment unit reaches into the buffer before it.
    dory_layer shifted = d;
    shifted.l1_out.offset[0] -= static_cast<uint32_t>(align);
    if (shifted.l1_out.copies == 1) shifted.l1_out.offset[1] = shifted.l1_out.offset[0];
    EXPECT_TRUE(fails_with(check_layer_schedule(dep, i, shifted), "schedule-invalid", {"overlaps", "output copy 0"}));
    // A second buffer placed on the input.
    dory_layer same = d;
    dory_l1_buffer& other = d.l1_weights.copies ? same.l1_weights : same.l1_out;
    other.offset[0] = d.l1_in[0].offset[0];
    EXPECT_TRUE(fails_with(check_layer_schedule(dep, i, same), "schedule-invalid", {"overlaps", "input"}));
  }
}

TEST(ScheduleCheck, ATilingThatDriftedFromThePlanIsRejected) {
  int drifted = 0;
  for (const std::string net : {"fmnist", "resnet8"}) {
    const Deployment& dep = must_deploy(net, 16 * 1024);
    for (size_t i = 0; i < dep.layers.size(); ++i) {
      const TilePlan& p = dep.layers[i].plan;
      dory_layer d = dep.layers[i].descriptor();
      if (p.shape.c_out >= 2)
        d.tile_c_out = static_cast<int32_t>(p.shape.c_out - 1);
      else if (p.geometry.c_out >= 2)
        d.tile_c_out = 2;
      else
        continue;
      EXPECT_TRUE(fails_with(check_layer_schedule(dep, i, d), "schedule-invalid", {"not the plan's"}));
      ++drifted;
      dory_layer rows = dep.layers[i].descriptor();
      if (p.shape.h_out >= 2) {
        rows.tile_h = static_cast<int32_t>(p.shape.h_out / 2);
        EXPECT_TRUE(fails_with(check_layer_schedule(dep, i, rows), "schedule-invalid", {"not the plan's"}));
      }
    }
  }
  EXPECT_GT(drifted, 10);
}

TEST(ScheduleCheck, AStoreOutsideTheOutputTensorIsRejected) {
  for (const auto& [net, l1] :
       std::vector<std::pair<std::string, int64_t>>{{"fmnist", 16 * 1024}, {"resnet8", 32 * 1024}}) {
    const Deployment& dep = must_deploy(net, l1);
    for (size_t i = 0; i < dep.layers.size(); ++i) {
      const Layer& l = layer_of(dep, i);
      const std::string out_name = dep.graph.tensor(l.output).name;
      const std::string outside = "outside the storage of output tensor '" + out_name + "'";
      dory_layer into_input = dep.layers[i].descriptor();
      into_input.out.l2_offset = static_cast<uint32_t>(dep.tensor_l2_offset(l.inputs[0]));
      EXPECT_TRUE(fails_with(check_layer_schedule(dep, i, into_input), "schedule-invalid", {"store", outside}));
      dory_layer past_l2 = dep.layers[i].descriptor();
      past_l2.out.l2_offset = static_cast<uint32_t>(dep.l2_bytes() + 64);
      EXPECT_TRUE(fails_with(check_layer_schedule(dep, i, past_l2), "schedule-invalid", {"store", outside}));
      dory_layer into_weights = dep.layers[i].descriptor();
      into_weights.out.l2_offset = 0;  // the constants
      EXPECT_TRUE(fails_with(check_layer_schedule(dep, i, into_weights), "schedule-invalid", {"store", outside}));
    }
  }
}

TEST(ScheduleCheck, DoubleBufferingASingleOutputCopyIsAComputeWritingWhatAStoreInFlightReads) {
  int faults = 0;
  for (const std::string net : {"fmnist", "resnet8", "mobilenet_v1"})
    for (int64_t l1 : {8 * 1024, 12 * 1024, 16 * 1024, 32 * 1024}) {
      const Deployment* dep_or_null = deployed(net, l1, Objective::Model);
      if (!dep_or_null) continue;
      const Deployment& dep = *dep_or_null;
      for (size_t i = 0; i < dep.layers.size(); ++i) {
        const TilePlan& p = dep.layers[i].plan;
        dory_layer d = dep.layers[i].descriptor();
        if (d.l1_out.copies != 1 || p.counts.c_out * p.counts.h * p.counts.w < 2) continue;
        ASSERT_TRUE(check_layer_schedule(dep, i, d).ok());
        d.db_output = 1;  // copy 1 is copy 0: the next tile is computed into the copy being stored
        EXPECT_TRUE(fails_with(check_layer_schedule(dep, i, d), "schedule-invalid",
                               {"writes output copy 1 while job", "(store of output for tile"}));
        ++faults;
      }
    }
  EXPECT_GT(faults, 3);
}

TEST(ScheduleCheck, DoubleBufferingASingleInputCopyOverwritesTheInputBeforeItIsRead) {
  int faults = 0;
  const Deployment& dep = must_deploy("resnet8", 16 * 1024);
  for (size_t i = 0; i < dep.layers.size(); ++i) {
    dory_layer d = dep.layers[i].descriptor();
    const TilePlan& p = dep.layers[i].plan;
    if (d.l1_in[0].copies != 1 || p.counts.total() < 2) continue;
    const std::vector<TileTransfer> next = tile_loads(p.geometry, p.shape, 1);
    if (std::none_of(next.begin(), next.end(), [](const TileTransfer& t) { return t.role == BufferRole::Input; }))
      continue;      // the input is loaded once
    d.db_input = 1;  // the next tile's input is loaded into the copy the current compute reads
    EXPECT_TRUE(fails_with(check_layer_schedule(dep, i, d), "schedule-invalid", {"stale copy"}));
    ++faults;
  }
  EXPECT_GT(faults, 0);
}

TEST(ScheduleCheck, RandomlyCorruptedDescriptorsAreCheckedWithoutCrashing) {
  // Any value in any field the schedule reads: the checker answers (usually with an error), never crashes or
  // hangs; the sanitizer build runs this too.
  const char* env = std::getenv("DORY_TEST_SEED");
  const uint64_t seed = env ? std::strtoull(env, nullptr, 0) : uint64_t{20241122};
  std::mt19937_64 rng(seed);
  SCOPED_TRACE(fmt::format("seed {}", seed));
  using Field = std::function<void(dory_layer&, int64_t)>;
  const std::vector<Field> fields = {
      [](dory_layer& d, int64_t v) { d.c_in = static_cast<int32_t>(v); },
      [](dory_layer& d, int64_t v) { d.h_in = static_cast<int32_t>(v); },
      [](dory_layer& d, int64_t v) { d.w_out = static_cast<int32_t>(v); },
      [](dory_layer& d, int64_t v) { d.c_out = static_cast<int32_t>(v); },
      [](dory_layer& d, int64_t v) { d.kh = static_cast<int32_t>(v); },
      [](dory_layer& d, int64_t v) { d.stride_w = static_cast<int32_t>(v); },
      [](dory_layer& d, int64_t v) { d.pad.top = static_cast<int32_t>(v); },
      [](dory_layer& d, int64_t v) { d.channels_tied = static_cast<uint8_t>(v); },
      [](dory_layer& d, int64_t v) { d.n_inputs = static_cast<int32_t>(v); },
      [](dory_layer& d, int64_t v) { d.in[0].l2_offset = static_cast<uint32_t>(v); },
      [](dory_layer& d, int64_t v) { d.in[0].pixel_stride = static_cast<int32_t>(v); },
      [](dory_layer& d, int64_t v) { d.in[0].type = static_cast<uint8_t>(v); },
      [](dory_layer& d, int64_t v) { d.out.l2_offset = static_cast<uint32_t>(v); },
      [](dory_layer& d, int64_t v) { d.out.pixel_stride = static_cast<int32_t>(v); },
      [](dory_layer& d, int64_t v) { d.weights_l2 = static_cast<uint32_t>(v); },
      [](dory_layer& d, int64_t v) { d.weight_bytes_per_cout = static_cast<uint32_t>(v); },
      [](dory_layer& d, int64_t v) { d.rq_bytes_per_cout = static_cast<uint32_t>(v); },
      [](dory_layer& d, int64_t v) { d.tile_c_out = static_cast<int32_t>(v); },
      [](dory_layer& d, int64_t v) { d.tile_h = static_cast<int32_t>(v); },
      [](dory_layer& d, int64_t v) { d.tile_c_in = static_cast<int32_t>(v); },
      [](dory_layer& d, int64_t v) { d.db_input = static_cast<uint8_t>(v); },
      [](dory_layer& d, int64_t v) { d.db_weights = static_cast<uint8_t>(v); },
      [](dory_layer& d, int64_t v) { d.db_output = static_cast<uint8_t>(v); },
      [](dory_layer& d, int64_t v) { d.l1_in[0].offset[1] = static_cast<uint32_t>(v); },
      [](dory_layer& d, int64_t v) { d.l1_in[0].copies = static_cast<uint8_t>(v); },
      [](dory_layer& d, int64_t v) { d.l1_weights.bytes = static_cast<uint32_t>(v); },
      [](dory_layer& d, int64_t v) { d.l1_bias.offset[0] = static_cast<uint32_t>(v); },
      [](dory_layer& d, int64_t v) { d.l1_out.copies = static_cast<uint8_t>(v); },
      [](dory_layer& d, int64_t v) { d.l1_out.offset[1] = static_cast<uint32_t>(v); },
      [](dory_layer& d, int64_t v) { d.l1_psum.copies = static_cast<uint8_t>(v); },
      [](dory_layer& d, int64_t v) { d.l1_psum.bytes = static_cast<uint32_t>(v); },
  };
  const std::vector<int64_t> values = {0, 1, 2, 3, -1, 255, 65536, INT32_MAX, UINT32_MAX};
  int rejected = 0, runs = 0;
  for (const std::string net : {"fmnist", "resnet8", "concat"}) {
    const Deployment& dep = must_deploy(net, 16 * 1024);
    for (size_t i = 0; i < dep.layers.size(); ++i)
      for (int r = 0; r < 60; ++r) {
        dory_layer d = dep.layers[i].descriptor();
        const int n = std::uniform_int_distribution<int>(1, 2)(rng);
        for (int k = 0; k < n; ++k) {
          const Field& f = fields[std::uniform_int_distribution<size_t>(0, fields.size() - 1)(rng)];
          f(d, values[std::uniform_int_distribution<size_t>(0, values.size() - 1)(rng)]);
        }
        const Status s = check_layer_schedule(dep, i, d);
        ++runs;
        if (!s.ok()) {
          EXPECT_EQ(s.error().code, "schedule-invalid");
          ++rejected;
        }
      }
  }
  std::cout << fmt::format("[ corrupt  ] {} of {} corrupted descriptors rejected\n", rejected, runs);
  EXPECT_GT(rejected, runs / 2);
}

TEST(ScheduleCheck, ABrokenDescriptorIsRejectedBeforeTheScheduleRuns) {
  const Deployment& dep = must_deploy("fmnist", 16 * 1024);
  dory_layer d = dep.layers[0].descriptor();
  d.tile_w = 0;  // would divide by zero in the tile functions
  EXPECT_TRUE(fails_with(check_layer_schedule(dep, 0, d), "schedule-invalid", {"tile_w = 0"}));
  d = dep.layers[0].descriptor();
  d.l1_weights.copies = 3;
  EXPECT_TRUE(fails_with(check_layer_schedule(dep, 0, d), "schedule-invalid", {"copies"}));
  d = dep.layers[0].descriptor();
  d.l1_weights.copies = 0;  // the weights would be loaded to L1 offset 0
  EXPECT_TRUE(fails_with(check_layer_schedule(dep, 0, d), "schedule-invalid", {"weights"}));
}

}  // namespace
}  // namespace dory
