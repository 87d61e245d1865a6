// Structural claims of the IR (src/ir/graph.{h,cpp}, shape checks in src/ir/analysis.cpp): topological order,
// graph errors, tensor lifetimes, peak live activation memory, and shape diagnostics that name the layer.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ir_test_util.h"

namespace dory {
namespace {

using test::conv;
using test::fails_with;
using test::GraphBuilder;
using test::requant;
using test::window;

std::vector<std::string> layer_names(const Graph& g) {
  std::vector<std::string> names;
  for (const Layer& l : g.layers) names.push_back(l.name);
  return names;
}

Add plain_add(size_t n) {
  Add a;
  a.operands.resize(n);
  return a;
}

// ---- topological order ---------------------------------------------------------------------------------------

TEST(Topology, ShuffledResidualDiamondIsSortedProducersFirst) {
  // x -> conv_a -> a -> conv_b -> b -> conv_c -> c;  add(a, c) -> y     (the residual skips conv_b and conv_c)
  GraphBuilder b;
  TensorId x = b.input("x", {1, 1, 2, 2});
  TensorId a = b.tensor("a", {1, 1, 2, 2}), bb = b.tensor("b", {1, 1, 2, 2}), c = b.tensor("c", {1, 1, 2, 2});
  TensorId y = b.tensor("y", {1, 1, 2, 2});
  b.layer("add", plain_add(2), {a, c}, y);  // deliberately out of order
  b.layer("conv_c", conv(window(1, 1), {1}, {0}), {bb}, c);
  b.layer("conv_a", conv(window(1, 1), {1}, {0}), {x}, a);
  b.layer("conv_b", conv(window(1, 1), {1}, {0}), {a}, bb);
  b.output(y);
  ASSERT_TRUE(sort_topologically(b.g).ok());
  EXPECT_EQ(layer_names(b.g), (std::vector<std::string>{"conv_a", "conv_b", "conv_c", "add"}));
  // Every layer follows the producers of its inputs.
  for (size_t i = 0; i < b.g.layers.size(); ++i)
    for (TensorId in : b.g.layers[i].inputs) EXPECT_LT(b.g.producer(in), static_cast<int>(i));
}

TEST(Topology, IndependentBranchesKeepTheirCurrentRelativeOrder) {
  // x -> a;  a -> left, a -> right (independent);  add(left, right). Current order: add, right, a, left.
  GraphBuilder b;
  TensorId x = b.input("x", {1, 1, 1, 1});
  TensorId a = b.tensor("a", {1, 1, 1, 1}), l = b.tensor("l", {1, 1, 1, 1}), r = b.tensor("r", {1, 1, 1, 1});
  TensorId y = b.tensor("y", {1, 1, 1, 1});
  b.layer("add", plain_add(2), {l, r}, y);
  b.layer("right", conv(window(1, 1), {1}, {0}), {a}, r);
  b.layer("a", conv(window(1, 1), {1}, {0}), {x}, a);
  b.layer("left", conv(window(1, 1), {1}, {0}), {a}, l);
  ASSERT_TRUE(sort_topologically(b.g).ok());
  // "right" was before "left" and both become ready together: the tie keeps the current order.
  EXPECT_EQ(layer_names(b.g), (std::vector<std::string>{"a", "right", "left", "add"}));
  // Sorting a sorted graph changes nothing.
  ASSERT_TRUE(sort_topologically(b.g).ok());
  EXPECT_EQ(layer_names(b.g), (std::vector<std::string>{"a", "right", "left", "add"}));
}

TEST(Topology, ACycleIsAnErrorNotAHang) {
  GraphBuilder b;
  TensorId x = b.input("x", {1, 1, 1, 1});
  TensorId p = b.tensor("p", {1, 1, 1, 1}), q = b.tensor("q", {1, 1, 1, 1});
  b.layer("first", plain_add(2), {x, q}, p);
  b.layer("second", conv(window(1, 1), {1}, {0}), {p}, q);
  EXPECT_TRUE(fails_with(sort_topologically(b.g), "ir-cycle", {"cycle"}));
}

TEST(Topology, ReadingATensorNobodyProducesNamesTheLayerAndTheTensor) {
  GraphBuilder b;
  TensorId x = b.input("x", {1, 1, 1, 1});
  TensorId ghost = b.tensor("ghost", {1, 1, 1, 1}), y = b.tensor("y", {1, 1, 1, 1});
  b.layer("adder", plain_add(2), {x, ghost}, y);
  EXPECT_TRUE(fails_with(sort_topologically(b.g), "ir-undefined-tensor", {"adder", "ghost"}));
}

TEST(Topology, TwoProducersOfOneTensorIsAnError) {
  GraphBuilder b;
  TensorId x = b.input("x", {1, 1, 1, 1});
  TensorId y = b.tensor("y", {1, 1, 1, 1});
  b.layer("one", conv(window(1, 1), {1}, {0}), {x}, y);
  b.layer("two", conv(window(1, 1), {1}, {0}), {x}, y);
  EXPECT_TRUE(fails_with(sort_topologically(b.g), "ir-multiple-producers", {"one", "two", "'y'"}));
}

// ---- lifetimes and peak memory ---------------------------------------------------------------------------------

// x[1,4,4,4] -> conv1 -> t1[1,4,4,4] -> conv2 -> t2[1,6,4,4] -> conv3 -> t3[1,4,4,4];  add(t1, t3) -> y (uint16)
struct ResidualBlock {
  GraphBuilder b;
  TensorId x, t1, t2, t3, y;
  ResidualBlock() {
    x = b.input("x", {1, 4, 4, 4});
    t1 = b.tensor("t1", {1, 4, 4, 4});
    t2 = b.tensor("t2", {1, 6, 4, 4});
    t3 = b.tensor("t3", {1, 4, 4, 4});
    y = b.tensor("y", {1, 4, 4, 4}, DType::UInt16);
    b.layer("conv1", conv(window(1, 1), std::vector<int32_t>(16, 1), std::vector<int32_t>(4, 0)), {x}, t1);
    b.layer("conv2", conv(window(1, 1), std::vector<int32_t>(24, 1), std::vector<int32_t>(6, 0)), {t1}, t2);
    b.layer("conv3", conv(window(1, 1), std::vector<int32_t>(24, 1), std::vector<int32_t>(4, 0)), {t2}, t3);
    b.layer("add", plain_add(2), {t1, t3}, y);
    b.output(y);
  }
};

TEST(Lifetimes, AResidualBranchStaysLiveUntilItsAdd) {
  ResidualBlock r;
  ASSERT_TRUE(sort_topologically(r.b.g).ok());
  auto life = tensor_lifetimes(r.b.g);
  // Layers: 0 conv1, 1 conv2, 2 conv3, 3 add. Graph inputs start at -1; graph outputs live to the end (4).
  EXPECT_EQ(life[r.x].first, -1);
  EXPECT_EQ(life[r.x].last, 0);
  EXPECT_EQ(life[r.t1].first, 0);
  EXPECT_EQ(life[r.t1].last, 3);  // consumed by conv2 (1) and by the add (3)
  EXPECT_EQ(life[r.t2].first, 1);
  EXPECT_EQ(life[r.t2].last, 2);
  EXPECT_EQ(life[r.t3].first, 2);
  EXPECT_EQ(life[r.t3].last, 3);
  EXPECT_EQ(life[r.y].first, 3);
  EXPECT_EQ(life[r.y].last, 4);
}

TEST(Lifetimes, AViewExtendsItsSourcesLife) {
  // x -> conv -> t[1,2,2,2] -> flatten (view) -> v[1,8] -> fc -> y[1,64]
  GraphBuilder b;
  TensorId x = b.input("x", {1, 1, 4, 4});
  TensorId t = b.tensor("t", {1, 2, 2, 2});
  b.layer("conv", conv(window(3, 3, 2, 2, {1, 1, 1, 1}), std::vector<int32_t>(18, 1), {0, 0}, 0,
                       requant({1}, {0}, 16, 0, 0, 255)),
          {x}, t);
  TensorId v = b.flatten("v", t);
  TensorId y = b.tensor("y", {1, 64});
  FullyConnected fc;
  fc.weights.assign(8 * 64, 1);
  fc.bias.assign(64, 0);
  fc.requant = requant({1}, {0}, 256, 0, 0, 255);
  b.layer("fc", fc, {v}, y);
  b.output(y);
  ASSERT_TRUE(check_graph(b.g).ok()) << test::describe(check_graph(b.g));
  EXPECT_EQ(storage_owner(b.g, v), t);
  EXPECT_EQ(storage_owner(b.g, t), t);
  auto life = tensor_lifetimes(b.g);
  // Layers: 0 conv, 1 flatten, 2 fc. t's own last reader is the view (1), but the view is read by fc (2).
  EXPECT_EQ(life[t].first, 0);
  EXPECT_EQ(life[t].last, 2);
  EXPECT_EQ(life[v].first, 1);
  EXPECT_EQ(life[v].last, 2);
  // Peak: step -1: x 16 B; 0: x + t = 16 + 8; 1: t (the view is free) = 8; 2: t + y = 8 + 64 = 72.
  EXPECT_EQ(peak_live_activation_bytes(b.g), 72);
}

TEST(PeakMemory, ChainPeakIsTheLargestInputPlusOutputPair) {
  // x[1,1,4,4] 16 B -> conv (3x3, pad 1, C_out 4) -> a[1,4,4,4] 64 B -> conv (3x3, stride 2, pad 1, C_out 2)
  // -> b[1,2,2,2] 8 B (output).  Steps: -1: x = 16;  0: x + a = 80;  1: a + b = 72.  Peak 80.
  GraphBuilder g;
  TensorId x = g.input("x", {1, 1, 4, 4});
  TensorId a = g.tensor("a", {1, 4, 4, 4}), b = g.tensor("b", {1, 2, 2, 2});
  g.layer("c1", conv(window(3, 3, 1, 1, {1, 1, 1, 1}), std::vector<int32_t>(36, 1), std::vector<int32_t>(4, 0), 0,
                     requant({1}, {0}, 16, 0, 0, 255)),
          {x}, a);
  g.layer("c2", conv(window(3, 3, 2, 2, {1, 1, 1, 1}), std::vector<int32_t>(72, 1), std::vector<int32_t>(2, 0), 0,
                     requant({1}, {0}, 64, 0, 0, 255)),
          {a}, b);
  g.output(b);
  ASSERT_TRUE(check_graph(g.g).ok()) << test::describe(check_graph(g.g));
  EXPECT_EQ(peak_live_activation_bytes(g.g), 80);
}

TEST(PeakMemory, ResidualBlockPeakIncludesTheSkipBranch) {
  // Lifetimes as in AResidualBranchStaysLiveUntilItsAdd; bytes: x 64, t1 64, t2 96, t3 64, y 128 (uint16).
  // Steps: -1: x = 64;  0: x + t1 = 128;  1: t1 + t2 = 160;  2: t1 + t2 + t3 = 224;  3: t1 + t3 + y = 256.
  // (Were t1 freed after conv2, step 3 would hold 192 and the peak would be 224.)
  ResidualBlock r;
  ASSERT_TRUE(sort_topologically(r.b.g).ok());
  EXPECT_EQ(peak_live_activation_bytes(r.b.g), 256);
}

// ---- shape checks ----------------------------------------------------------------------------------------------

TEST(Shapes, ConvOutputShapeMustMatchStrideAndAsymmetricPadding) {
  // [1,1,5,5], 3x3, stride 2, pads 1 all round: floor((5 + 2 - 3) / 2) + 1 = 3.
  {
    GraphBuilder b;
    TensorId x = b.input("x", {1, 1, 5, 5});
    TensorId y = b.tensor("y", {1, 1, 2, 2});
    b.layer("strided", conv(window(3, 3, 2, 2, {1, 1, 1, 1}), std::vector<int32_t>(9, 1), {0}), {x}, y);
    EXPECT_TRUE(fails_with(check_shapes(b.g), "ir-shape", {"strided", "[1,1,2,2]", "[1,1,3,3]"}));
  }
  // Pads top 0, left 1, bottom 1, right 0: H = floor((5 + 0 + 1 - 3) / 2) + 1 = 2, W likewise 2.
  {
    GraphBuilder b;
    TensorId x = b.input("x", {1, 1, 5, 5});
    TensorId y = b.tensor("y", {1, 1, 2, 2});
    b.layer("asym", conv(window(3, 3, 2, 2, {0, 1, 1, 0}), std::vector<int32_t>(9, 1), {0}), {x}, y);
    EXPECT_TRUE(check_shapes(b.g).ok()) << test::describe(check_shapes(b.g));
  }
  // [1,2,4,5], 3x3, stride 2, pads top 1, left 0, bottom 0, right 2: H = (4+1-3)/2+1 = 2, W = (5+2-3)/2+1 = 3.
  {
    GraphBuilder b;
    TensorId x = b.input("x", {1, 2, 4, 5});
    TensorId y = b.tensor("y", {1, 1, 2, 3});
    b.layer("c", conv(window(3, 3, 2, 2, {1, 0, 0, 2}), std::vector<int32_t>(18, 1), {0}), {x}, y);
    EXPECT_TRUE(check_shapes(b.g).ok()) << test::describe(check_shapes(b.g));
    b.g.tensor(y).shape = {1, 1, 3, 2};  // H and W swapped
    EXPECT_TRUE(fails_with(check_shapes(b.g), "ir-shape", {"'c'", "[1,1,2,3]"}));
  }
}

TEST(Shapes, GroupedConvThatIsNotDepthwiseIsUnsupported) {
  auto grouped = [](int64_t cin, int64_t cout, int32_t groups) {
    GraphBuilder b;
    TensorId x = b.input("x", {1, cin, 3, 3});
    TensorId y = b.tensor("y", {1, cout, 3, 3});
    b.layer("grouped", conv(window(1, 1), std::vector<int32_t>(static_cast<size_t>(cout * (cin / groups)), 1),
                            std::vector<int32_t>(static_cast<size_t>(cout), 0), 0, std::nullopt, groups),
            {x}, y);
    return check_shapes(b.g);
  };
  EXPECT_TRUE(fails_with(grouped(4, 4, 2), "ir-unsupported-groups", {"grouped", "group = 2"}));
  EXPECT_TRUE(fails_with(grouped(2, 4, 2), "ir-unsupported-groups", {"grouped"}));  // channel multiplier 2
  EXPECT_TRUE(grouped(4, 4, 4).ok());                                                // depthwise
  EXPECT_TRUE(grouped(4, 8, 1).ok());                                                // standard
}

TEST(Shapes, WeightAndBiasCountsMustMatchTheLayer) {
  // 3x3 conv, C_in 2, C_out 3: 3*3*3*2 = 54 weights, 3 biases.
  GraphBuilder b;
  TensorId x = b.input("x", {1, 2, 3, 3});
  TensorId y = b.tensor("y", {1, 3, 1, 1});
  int li = b.layer("short", conv(window(3, 3), std::vector<int32_t>(53, 1), {0, 0, 0}), {x}, y);
  EXPECT_TRUE(fails_with(check_shapes(b.g), "ir-shape", {"short", "53", "54"}));
  b.g.layers[li].as<Conv2d>()->weights.assign(54, 1);
  EXPECT_TRUE(check_shapes(b.g).ok());
  b.g.layers[li].as<Conv2d>()->bias.assign(2, 0);
  EXPECT_TRUE(fails_with(check_shapes(b.g), "ir-shape", {"short", "2 biases"}));

  GraphBuilder f;
  TensorId fx = f.input("fx", {1, 6});
  TensorId fy = f.tensor("fy", {1, 4});
  FullyConnected fc;
  fc.weights.assign(23, 1);  // needs 4 * 6 = 24
  fc.bias.assign(4, 0);
  f.layer("dense", fc, {fx}, fy);
  EXPECT_TRUE(fails_with(check_shapes(f.g), "ir-shape", {"dense", "23 weights", "6 inputs", "4 outputs"}));
}

TEST(Shapes, PaddingAsLargeAsTheKernelIsLegalWhereEveryWindowHasAValue) {
  // 2x2 windows, top pad 2 == kh: the first output row's windows hold padding only.
  const Window w = window(2, 2, 1, 1, {2, 0, 1, 1});
  auto pool = [&](LayerOp op) {
    GraphBuilder b;
    TensorId x = b.input("x", {1, 1, 4, 4});
    TensorId y = b.tensor("y", {1, 1, 6, 4});
    b.layer("pool", std::move(op), {x}, y);
    return check_shapes(b.g);
  };
  MaxPool mp;
  mp.win = w;
  // Ignoring padding, the maximum of a window of padding only is the maximum of nothing: undefined in ONNX.
  EXPECT_TRUE(fails_with(pool(mp), "ir-empty-window", {"pool", "max pool", "padding only", "pads 2,0,1,1"}));
  mp.pad_value = 7;  // an explicit Pad's value: the window's maximum is 7
  EXPECT_TRUE(pool(mp).ok()) << test::describe(pool(mp));
  AveragePool ap;
  ap.win = w;
  ap.count_include_pad = false;  // a mean over no slot: 0/0
  EXPECT_TRUE(fails_with(pool(ap), "ir-empty-window", {"pool", "average pool", "padding only"}));
  ap.count_include_pad = true;  // kh*kw padded slots: the mean of the pad values
  EXPECT_TRUE(pool(ap).ok()) << test::describe(pool(ap));
  // A convolution's window of padding only computes requant(bias): a 1x1 conv with padding 1 is legal.
  GraphBuilder b;
  TensorId x = b.input("x", {1, 1, 4, 4});
  TensorId y = b.tensor("y", {1, 2, 6, 6});
  b.layer("conv", conv(window(1, 1, 1, 1, {1, 1, 1, 1}), {1, 2}, {5, 6}), {x}, y);
  EXPECT_TRUE(check_shapes(b.g).ok()) << test::describe(check_shapes(b.g));
  // Bottom padding of 2 >= kh with stride 3: windows start at rows 0 and 3, both inside the 4 rows, so every
  // window reads input and a pool that ignores padding is defined.
  MaxPool strided;
  strided.win = window(2, 2, 3, 3, {0, 0, 2, 2});
  GraphBuilder s;
  TensorId sx = s.input("x", {1, 1, 4, 4});
  TensorId sy = s.tensor("y", {1, 1, 2, 2});
  s.layer("pool", strided, {sx}, sy);
  EXPECT_TRUE(check_shapes(s.g).ok()) << test::describe(check_shapes(s.g));
  EXPECT_FALSE(has_padding_only_window(strided.win, 4, 4));
  EXPECT_TRUE(has_padding_only_window(window(2, 2, 3, 3, {0, 0, 4, 0}), 4, 4));  // a third window at row 6
}

TEST(Shapes, AddConcatViewAndRequantShapesAreChecked) {
  {  // Add does not broadcast
    GraphBuilder b;
    TensorId p = b.input("p", {1, 2, 2, 2}), q = b.input("q", {1, 2, 1, 1});
    TensorId y = b.tensor("y", {1, 2, 2, 2});
    b.layer("sum", plain_add(2), {p, q}, y);
    EXPECT_TRUE(fails_with(check_shapes(b.g), "ir-shape", {"sum", "'q'", "broadcast"}));
  }
  {  // one operand scaling per input
    GraphBuilder b;
    TensorId p = b.input("p", {1, 2, 2, 2}), q = b.input("q", {1, 2, 2, 2});
    TensorId y = b.tensor("y", {1, 2, 2, 2});
    b.layer("sum", plain_add(3), {p, q}, y);
    EXPECT_TRUE(fails_with(check_shapes(b.g), "ir-shape", {"sum", "2 inputs and 3 operand"}));
  }
  {  // Concat channels must add up
    GraphBuilder b;
    TensorId p = b.input("p", {1, 2, 2, 2}), q = b.input("q", {1, 3, 2, 2});
    TensorId y = b.tensor("y", {1, 4, 2, 2});
    b.layer("cat", Concat{}, {p, q}, y);
    EXPECT_TRUE(fails_with(check_shapes(b.g), "ir-shape", {"cat", "5 channels", "output 4"}));
  }
  {  // a View keeps the element count
    GraphBuilder b;
    TensorId p = b.input("p", {1, 2, 2, 2});
    TensorId y = b.tensor("y", {1, 7});
    b.layer("reshape", View{}, {p}, y);
    EXPECT_TRUE(fails_with(check_shapes(b.g), "ir-shape", {"reshape", "8 elements as 7"}));
  }
  {  // per-channel requant sizes, divisor and clamp
    GraphBuilder b;
    TensorId p = b.input("p", {1, 3, 2, 2});
    TensorId y = b.tensor("y", {1, 3, 2, 2});
    Requantize rq;
    rq.requant = requant({1, 2}, {0}, 1);
    int li = b.layer("rescale", rq, {p}, y);
    EXPECT_TRUE(fails_with(check_shapes(b.g), "ir-shape", {"rescale", "2 multipliers", "3 channels"}));
    b.g.layers[li].as<Requantize>()->requant = requant({1, 2, 3}, {0}, 0);
    EXPECT_TRUE(fails_with(check_shapes(b.g), "ir-bad-divisor", {"rescale"}));
    b.g.layers[li].as<Requantize>()->requant = requant({1, 2, 3}, {0}, 4, 0, 10, 9);
    EXPECT_TRUE(fails_with(check_shapes(b.g), "ir-bad-clamp", {"rescale", "[10, 9]"}));
    b.g.layers[li].as<Requantize>()->requant = requant({1, 2, 3}, {0}, 4, 0, 0, 255);
    EXPECT_TRUE(check_shapes(b.g).ok());
  }
}

// ---- derived facts ---------------------------------------------------------------------------------------------

TEST(LayerFacts, ConvKindsNamesAndMacsFollowTheParameters) {
  GraphBuilder b;
  TensorId x = b.input("x", {1, 4, 5, 5});
  TensorId s = b.tensor("s", {1, 8, 3, 3}), d = b.tensor("d", {1, 8, 3, 3}), p = b.tensor("p", {1, 2, 3, 3});
  int standard = b.layer("standard", conv(window(3, 3), std::vector<int32_t>(8 * 9 * 4, 1), std::vector<int32_t>(8, 0)),
                         {x}, s);
  int dw = b.layer("dw", conv(window(3, 3, 1, 1, {1, 1, 1, 1}), std::vector<int32_t>(8 * 9, 1),
                              std::vector<int32_t>(8, 0), 0, std::nullopt, 8),
                   {s}, d);
  int pw = b.layer("pw", conv(window(1, 1), std::vector<int32_t>(2 * 8, 1), std::vector<int32_t>(2, 0)), {d}, p);
  ASSERT_TRUE(check_shapes(b.g).ok()) << test::describe(check_shapes(b.g));
  EXPECT_EQ(conv_kind(b.g, b.g.layers[standard]), ConvKind::Standard);
  EXPECT_EQ(conv_kind(b.g, b.g.layers[dw]), ConvKind::Depthwise);
  EXPECT_EQ(conv_kind(b.g, b.g.layers[pw]), ConvKind::Pointwise);
  EXPECT_EQ(layer_kind_name(b.g, b.g.layers[dw]), "depthwise");
  // MACs: outputs * kh * kw * C_in per group: 8*3*3 * 9 * 4 = 2592; 8*3*3 * 9 * 1 = 648; 2*3*3 * 1 * 8 = 144.
  EXPECT_EQ(layer_macs(b.g, b.g.layers[standard]), 2592);
  EXPECT_EQ(layer_macs(b.g, b.g.layers[dw]), 648);
  EXPECT_EQ(layer_macs(b.g, b.g.layers[pw]), 144);
}

TEST(LayerFacts, WindowOutIsFloorOfTheSpanOverTheStridePlusOne) {
  EXPECT_EQ(window_out(5, 3, 2, 1, 1), 3);   // (5+2-3)/2 + 1
  EXPECT_EQ(window_out(5, 3, 2, 0, 1), 2);   // (5+1-3)/2 + 1 = 1 + 1
  EXPECT_EQ(window_out(4, 3, 3, 1, 0), 1);   // (4+1-3)/3 + 1 = 0 + 1
  EXPECT_EQ(window_out(2, 3, 1, 0, 0), 0);   // the kernel does not fit
  EXPECT_EQ(window_out(7, 5, 3, 2, 2), 3);   // (7+4-5)/3 + 1
}

}  // namespace
}  // namespace dory
