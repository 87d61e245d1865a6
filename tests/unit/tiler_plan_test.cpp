// plan_layer / plan_network on IR graphs: the tiling view of every layer kind, plans within budget, and the
// infeasibility diagnostic (code, exit status, the exact smallest budget, the dominating buffer, a hint).
#include <gtest/gtest.h>

#include "ir_test_util.h"
#include "tiler/plan.h"
#include "tiler_test_util.h"

namespace dory {
namespace {

using test::GraphBuilder;
using test::requant;
using test::window;

Graph small_net() {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 16, 12, 12});
  const TensorId y1 = b.tensor("y1", {1, 32, 12, 12});
  b.layer("conv1",
          test::conv(window(3, 3, 1, 1, {1, 1, 1, 1}), std::vector<int32_t>(32 * 9 * 16, 1),
                     std::vector<int32_t>(32, 0), 0,
                     requant(std::vector<int64_t>(32, 3), std::vector<int64_t>(32, 1), 1024, 0, 0, 255)),
          {x}, y1);
  const TensorId y2 = b.tensor("y2", {1, 32, 12, 12});
  b.layer("dw1",
          test::conv(window(3, 3, 1, 1, {1, 1, 1, 1}), std::vector<int32_t>(32 * 9, 1), std::vector<int32_t>(32, 0), 0,
                     requant({1}, {0}, 64, 0, 0, 255), 32),
          {y1}, y2);
  const TensorId y3 = b.tensor("y3", {1, 32, 12, 12});
  Add add;
  add.operands = {AddOperand{}, AddOperand{}};
  add.requant = requant({1}, {0}, 2, 0, 0, 255);
  b.layer("add1", add, {y1, y2}, y3);
  const TensorId y4 = b.tensor("y4", {1, 32, 6, 6});
  MaxPool mp;
  mp.win = window(2, 2, 2, 2);
  b.layer("pool1", mp, {y3}, y4);
  const TensorId y5 = b.tensor("y5", {1, 32, 1, 1});
  AveragePool gap;
  gap.win = window(6, 6);
  gap.global = true;
  b.layer("gap", gap, {y4}, y5);
  const TensorId f = b.flatten("f", y5);
  const TensorId out = b.tensor("out", {1, 10});
  FullyConnected fc;
  fc.weights.assign(10 * 32, 1);
  fc.bias.assign(10, 0);
  fc.requant = requant({1}, {0}, 256, 0, 0, 255);
  b.layer("fc", fc, {f}, out);
  b.output(out);
  Graph g = std::move(b.g);
  const Status s = check_graph(g);
  EXPECT_TRUE(s.ok()) << test::describe(s);
  return g;
}

const Layer& layer_named(const Graph& g, const std::string& name) {
  for (const Layer& l : g.layers)
    if (l.name == name) return l;
  ADD_FAILURE() << name;
  return g.layers.front();
}

TEST(TilerPlan, EveryLayerKindHasItsTilingView) {
  const Graph g = small_net();
  auto geom = [&](const std::string& name) {
    auto r = layer_geometry(g, layer_named(g, name));
    EXPECT_TRUE(r.ok()) << name;
    return r.value();
  };
  const LayerGeometry conv = geom("conv1");
  EXPECT_EQ(conv.family, KernelFamily::Conv);
  EXPECT_EQ(conv.c_in, 16);
  EXPECT_EQ(conv.c_out, 32);
  EXPECT_EQ(conv.h_out, 12);
  EXPECT_EQ(conv.kh, 3);
  EXPECT_EQ(conv.pad, (Padding{1, 1, 1, 1}));
  EXPECT_TRUE(conv.cin_tileable);
  EXPECT_FALSE(conv.channels_tied);
  EXPECT_EQ(conv.weight_bytes(), 32 * 9 * 16);
  EXPECT_EQ(conv.bias_bytes_per_cout, 4);
  const int per = layer_named(g, "conv1").as<Conv2d>()->requant->wide ? 8 : 4;
  EXPECT_EQ(conv.requant_bytes_per_cout, 2 * per) << "per-channel m and a";
  EXPECT_EQ(conv.macs(), 32 * 12 * 12 * 9 * 16);

  const LayerGeometry dw = geom("dw1");
  EXPECT_EQ(dw.family, KernelFamily::Depthwise);
  EXPECT_TRUE(dw.channels_tied);
  EXPECT_EQ(dw.requant_bytes_per_cout, 0) << "per-tensor requant is a kernel argument";
  EXPECT_EQ(dw.weight_bytes(), 32 * 9);

  const LayerGeometry add = geom("add1");
  EXPECT_EQ(add.family, KernelFamily::Add);
  EXPECT_EQ(add.num_inputs(), 2);
  EXPECT_TRUE(add.channels_tied);

  const LayerGeometry pool = geom("pool1");
  EXPECT_EQ(pool.family, KernelFamily::Pool);
  EXPECT_EQ(pool.stride_h, 2);
  EXPECT_EQ(pool.h_out, 6);

  const LayerGeometry gap = geom("gap");
  EXPECT_EQ(gap.family, KernelFamily::Pool);
  EXPECT_EQ(gap.kh, 6);
  EXPECT_EQ(gap.h_out, 1);
  EXPECT_EQ(input_buffer_rows(gap, {1, 1, 1, 1}), 6) << "a global pool reads the whole map per tile";

  const LayerGeometry fc = geom("fc");
  EXPECT_EQ(fc.family, KernelFamily::Fc);
  EXPECT_EQ(fc.c_in, 32);
  EXPECT_EQ(fc.c_out, 10);
  EXPECT_EQ(fc.h_in * fc.w_in * fc.h_out * fc.w_out, 1);

  EXPECT_FALSE(needs_l1_plan(layer_named(g, "flatten_y5")));
  EXPECT_FALSE(needs_l1_plan(Layer{"c", Concat{}, {}, -1, {}}));
}

TEST(TilerPlan, ANetworkGetsOnePlanPerComputeLayerWithinTheBudget) {
  const Graph g = small_net();
  const Target& t = test::shipped_target("gap8");
  for (Objective o : {Objective::Model, Objective::Dory, Objective::Fill}) {
    for (int64_t budget : {int64_t{4096}, t.usable_bytes(MemLevel::L1)}) {
      auto plans = plan_network(g, t, budget, o);
      ASSERT_TRUE(plans.ok()) << plans.error().str();
      ASSERT_EQ(plans->size(), 6u);
      for (const TilePlan& p : *plans) {
        EXPECT_LE(p.layout.total_bytes, budget) << p.layer;
        EXPECT_EQ(p.layout.total_bytes, l1_layout_bytes(p.geometry, p.shape, p.buffering, t));
        EXPECT_EQ(p.counts, tile_counts(p.geometry, p.shape));
        EXPECT_EQ(p.cost.tiles, p.counts.total());
        EXPECT_GT(p.cost.total_cycles, 0);
        EXPECT_EQ(p.objective, o);
        EXPECT_EQ(g.layers[static_cast<size_t>(p.layer_index)].name, p.layer);
        EXPECT_EQ(p.last.c_out, p.geometry.c_out - (p.counts.c_out - 1) * p.shape.c_out);
        if (o == Objective::Model) {
          EXPECT_DOUBLE_EQ(p.objective_value, p.cost.total_cycles);
        }
      }
    }
  }
}

TEST(TilerPlan, AnInfeasibleLayerIsExplainedWithTheSmallestBudgetThatWorks) {
  const Graph g = small_net();
  const Target& t = test::shipped_target("gap8");
  const Layer& conv = layer_named(g, "conv1");
  const LayerGeometry geom = layer_geometry(g, conv).value();
  const MinimalLayout m = minimal_l1_layout(geom, t, Objective::Model);
  auto bad = plan_layer(g, conv, t, m.l1_bytes - 1, Objective::Model);
  ASSERT_FALSE(bad.ok());
  const Diagnostic& d = bad.error();
  EXPECT_EQ(d.code, "tiler-infeasible");
  EXPECT_EQ(d.severity, Severity::Infeasible);
  EXPECT_EQ(d.exit_code(), 2);
  EXPECT_NE(d.location.find("conv1"), std::string::npos) << d.str();
  EXPECT_NE(d.message.find("no tiling of 'conv1' fits L1: needs " + format_bytes_grouped(m.l1_bytes) + " B, has " +
                           format_bytes_grouped(m.l1_bytes - 1) + " B"),
            std::string::npos)
      << d.str();
  EXPECT_NE(d.message.find("alone need"), std::string::npos) << d.str();
  EXPECT_EQ(d.hint.rfind("--l1 " + format_kib_ceil(m.l1_bytes), 0), 0u) << d.str();
  EXPECT_TRUE(plan_layer(g, conv, t, m.l1_bytes, Objective::Model).ok());
  // The network stops at the first infeasible layer with the same diagnostic.
  auto net = plan_network(g, t, 64, Objective::Model);
  ASSERT_FALSE(net.ok());
  EXPECT_EQ(net.error().code, "tiler-infeasible");
}

TEST(TilerPlan, TheDominatingBufferIsNamed) {
  // A global average pool over a 100x100 map needs the whole map per channel: the input dominates.
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 4, 100, 100});
  const TensorId y = b.tensor("y", {1, 4, 1, 1});
  AveragePool gap;
  gap.win = window(100, 100);
  gap.global = true;
  b.layer("big_gap", gap, {x}, y);
  b.output(y);
  Graph g = std::move(b.g);
  ASSERT_TRUE(check_graph(g).ok());
  auto r = plan_layer(g, g.layers[0], test::shipped_target("gap8"), 9000, Objective::Model);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("needs 10,001 B"), std::string::npos) << r.error().str();
  EXPECT_NE(r.error().message.find("the input tile alone needs 10,000 B"), std::string::npos) << r.error().str();
  EXPECT_EQ(r.error().hint.rfind("--l1 10k", 0), 0u) << r.error().str();
}

TEST(TilerPlan, ConcatInputsLiveInChannelSlicesOfTheConcatOutput) {
  // a (3 ch) and b (5 ch) are concatenated into c (8 ch), which a max pool reads.
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 4, 6, 6});
  const TensorId ta = b.tensor("a", {1, 3, 6, 6});
  const TensorId tb = b.tensor("b", {1, 5, 6, 6});
  b.layer("conv_a",
          test::conv(window(1, 1), std::vector<int32_t>(3 * 4, 1), std::vector<int32_t>(3, 0), 0,
                     requant({1}, {0}, 4, 0, 0, 255)),
          {x}, ta);
  b.layer("conv_b",
          test::conv(window(1, 1), std::vector<int32_t>(5 * 4, 1), std::vector<int32_t>(5, 0), 0,
                     requant({1}, {0}, 4, 0, 0, 255)),
          {x}, tb);
  const TensorId tc = b.tensor("c", {1, 8, 6, 6});
  b.layer("cat", Concat{}, {ta, tb}, tc);
  const TensorId y = b.tensor("y", {1, 8, 3, 3});
  MaxPool mp;
  mp.win = window(2, 2, 2, 2);
  b.layer("pool", mp, {tc}, y);
  b.output(y);
  Graph g = std::move(b.g);
  ASSERT_TRUE(check_graph(g).ok());
  const LayerGeometry ga = layer_geometry(g, layer_named(g, "conv_a")).value();
  const LayerGeometry gb = layer_geometry(g, layer_named(g, "conv_b")).value();
  const LayerGeometry gp = layer_geometry(g, layer_named(g, "pool")).value();
  EXPECT_EQ(ga.out_stride(), 8);
  EXPECT_EQ(ga.out_channel_offset, 0);
  EXPECT_EQ(gb.out_stride(), 8);
  EXPECT_EQ(gb.out_channel_offset, 3);
  EXPECT_EQ(ga.in_stride(0), 4) << "x is dense";
  EXPECT_EQ(gp.in_stride(0), 8);
  EXPECT_EQ(gp.out_stride(), 8);
  // conv_b's whole output is 36 pixels of 5 channels at a stride of 8 channels, from channel 3.
  const auto st = tile_stores(gb, whole_layer_shape(gb), 0);
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].l2_offset_bytes, 3);
  EXPECT_EQ(canonical_pattern(st[0].pattern), (DmaPattern{5, 36, 8, 1, 0}));
  auto plans = plan_network(g, test::shipped_target("gap8"), 4096, Objective::Model);
  ASSERT_TRUE(plans.ok());
  EXPECT_EQ(plans->size(), 3u) << "no plan for the Concat";
}

TEST(TilerPlan, PerChannelRequantizationOfARankThreeTensorIsNotTiled) {
  GraphBuilder b;
  const TensorId x = b.input("x", {1, 4, 5});
  const TensorId y = b.tensor("y", {1, 4, 5});
  Requantize rq;
  rq.requant = requant({1, 2, 3, 4}, {0}, 2, 0, 0, 255);
  b.layer("rq", rq, {x}, y);
  b.output(y);
  Graph g = std::move(b.g);
  ASSERT_TRUE(check_graph(g).ok());
  EXPECT_TRUE(test::fails_with(layer_geometry(g, g.layers[0]), "tiler-unsupported-layout", {"rq", "[1,4,5]"}));
}

TEST(TilerPlan, ObjectivesParseByName) {
  EXPECT_EQ(objective_name(*parse_objective("dory")), std::string("dory"));
  EXPECT_FALSE(parse_objective("best").has_value());
}

}  // namespace
}  // namespace dory
