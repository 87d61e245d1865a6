// Claims of the value-range analysis (analyze_ranges in src/ir/analysis.cpp): accumulators provably fit int32
// in any summation order, requant widths are proven (never guessed), tensor ranges and derived types are exact
// interval bounds, and every failure names the layer and the offending value.
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "ir_test_util.h"

namespace dory {
namespace {

using test::conv;
using test::fails_with;
using test::GraphBuilder;
using test::requant;
using test::window;

constexpr int32_t kI32Max = std::numeric_limits<int32_t>::max();
constexpr int32_t kI32Min = std::numeric_limits<int32_t>::min();

// x[1,cin,1,1] (uint8 unless said) -> 1x1 conv with the given weights/bias/requant -> y[1,cout,1,1].
struct OneConv {
  GraphBuilder b;
  TensorId x, y;
  int layer;
  OneConv(int64_t cin, int64_t cout, std::vector<int32_t> w, std::vector<int32_t> bias,
          std::optional<Requant> rq = std::nullopt, int32_t zp = 0, DType in = DType::UInt8) {
    x = b.input("x", {1, cin, 1, 1}, in, zp);
    y = b.tensor("y", {1, cout, 1, 1});
    layer = b.layer("conv_under_test", conv(window(1, 1), std::move(w), std::move(bias), zp, std::move(rq)), {x}, y);
    b.output(y);
  }
  Status analyze() { return check_graph(b.g); }
  Requant& rq() { return *b.g.layers[static_cast<size_t>(layer)].as<Conv2d>()->requant; }
  const Tensor& out() const { return b.g.tensor(y); }
};

// ---- accumulators ----------------------------------------------------------------------------------------------

TEST(Accumulator, ABiasThatPushesTheBoundPastInt32IsRejectedNamingTheLayer) {
  // |bias| + |127 * 255| = 2147483000 + 32385 = 2147515385 > 2^31 - 1
  OneConv c(1, 1, {127}, {2147483000});
  EXPECT_TRUE(fails_with(c.analyze(), "ir-accumulator-overflow",
                         {"layer 'conv_under_test'", "channel 0", "2147515385"}));
}

TEST(Accumulator, TheBoundExactlyAtInt32MaxIsAccepted) {
  // 2147451262 + 32385 = 2147483647
  OneConv c(1, 1, {127}, {2147451262});
  ASSERT_TRUE(c.analyze().ok()) << test::describe(c.analyze());
  EXPECT_EQ(c.out().range, (ValueRange{2147451262, kI32Max}));
  EXPECT_EQ(c.out().dtype, DType::Int32);
}

TEST(Accumulator, AFinalSumThatFitsIsNotEnoughWhenPartialSumsMayOverflow) {
  // w = [127, -127] on uint8: acc - bias in [-32385, 32385], so the final value is at most
  // 2147443647 + 32385 < 2^31 - 1; but a tiled order may add the +32385 term alone first:
  // |bias| + 32385 + 32385 = 2147508417 > 2^31 - 1.
  OneConv c(2, 1, {127, -127}, {2147443647});
  EXPECT_TRUE(fails_with(c.analyze(), "ir-accumulator-overflow", {"conv_under_test", "2147508417"}));
}

TEST(Accumulator, AWideFullyConnectedOnUint16InputsIsRejected) {
  // 300 * 127 * 65535 = 2,496,883,500 > 2^31 - 1
  GraphBuilder b;
  TensorId x = b.input("x", {1, 300}, DType::UInt16);
  TensorId y = b.tensor("y", {1, 1});
  FullyConnected fc;
  fc.weights.assign(300, 127);
  fc.bias.assign(1, 0);
  fc.requant = requant({1}, {0}, 1 << 20, 0, 0, 255);
  b.layer("classifier", fc, {x}, y);
  EXPECT_TRUE(fails_with(check_graph(b.g), "ir-accumulator-overflow", {"layer 'classifier'", "2496883500"}));
}

TEST(Accumulator, RawOutputRangeIsTheExactIntervalOfTheWeightedSum) {
  // w = [2, -3], bias 5, x - zp in [-10, 245] (uint8, zp 10):
  //   2*v in [-20, 490], -3*v in [-735, 30]  ->  acc in [5 - 20 - 735, 5 + 490 + 30] = [-750, 525]
  OneConv c(2, 1, {2, -3}, {5}, std::nullopt, 10);
  ASSERT_TRUE(c.analyze().ok()) << test::describe(c.analyze());
  EXPECT_EQ(c.out().range, (ValueRange{-750, 525}));
  EXPECT_EQ(c.out().dtype, DType::Int32);  // raw accumulators are int32, whatever their range
}

// ---- requant widths ------------------------------------------------------------------------------------------

TEST(RequantWidth, ARequantThatFitsInt32IsMarkedNarrow) {
  // acc in [0, 255]; acc * 100 + 0 <= 25500; D = 256: everything fits int32.
  OneConv c(1, 1, {1}, {0}, requant({100}, {0}, 256, 0, 0, 255));
  c.rq().wide = true;  // the analysis decides, whatever the frontend wrote
  ASSERT_TRUE(c.analyze().ok()) << test::describe(c.analyze());
  EXPECT_FALSE(c.rq().wide);
  EXPECT_EQ(c.out().range, (ValueRange{0, 99}));  // floor(25500 / 256) = 99
  EXPECT_EQ(c.out().dtype, DType::UInt8);
}

TEST(RequantWidth, AProductBeyondInt32IsMarkedWide) {
  // acc * 2^24 reaches 255 * 2^24 = 4278190080 > 2^31 - 1.
  OneConv c(1, 1, {1}, {0}, requant({1 << 24}, {0}, uint64_t{1} << 24, 0, 0, 255));
  c.rq().wide = false;
  ASSERT_TRUE(c.analyze().ok()) << test::describe(c.analyze());
  EXPECT_TRUE(c.rq().wide);
  EXPECT_EQ(c.out().range, (ValueRange{0, 255}));
}

TEST(RequantWidth, ADivisorOf2To31IsMarkedWide) {
  OneConv c(1, 1, {1}, {0}, requant({1}, {0}, uint64_t{1} << 31, 0, 0, 255));
  c.rq().wide = false;
  ASSERT_TRUE(c.analyze().ok());
  EXPECT_TRUE(c.rq().wide);
}

TEST(RequantWidth, AZeroPointShiftBeyondInt32IsMarkedWide) {
  // acc in [2147483392, 2147483647]; m = 1, D = 1: the quotient fits int32, but quotient + zp (1) reaches 2^31,
  // which dory_requant32 would compute in 32 bits (outside its contract): wide, though the clamp to
  // [0, 255] makes the output small. With zp 0 it is narrow.
  OneConv c(1, 1, {1}, {kI32Max - 255}, requant({1}, {0}, 1, 1, 0, 255));
  c.rq().wide = false;
  ASSERT_TRUE(c.analyze().ok()) << test::describe(c.analyze());
  EXPECT_TRUE(c.rq().wide);
  OneConv n(1, 1, {1}, {kI32Max - 255}, requant({1}, {0}, 1, 0, 0, 255));
  ASSERT_TRUE(n.analyze().ok());
  EXPECT_FALSE(n.rq().wide);
}

TEST(RequantWidth, NemoLikeRequantWith2To24Minus1IsProven64Bit) {
  // A NEMO export folds BN into m = 43 * kappa (kappa = 16384 here) and divides by D = 2^24 - 1.
  // 3x3 conv, 8 input channels, all weights 127, uint8 input: acc in [0, 72 * 127 * 255] = [0, 2331720];
  // acc * m reaches 2331720 * 704512 = 1642724720640 (> 2^31, < 2^63): 64-bit, accepted.
  GraphBuilder b;
  TensorId x = b.input("x", {1, 8, 3, 3});
  TensorId y = b.tensor("y", {1, 1, 1, 1});
  int li = b.layer("nemo_conv",
                   conv(window(3, 3), std::vector<int32_t>(72, 127), {0}, 0,
                        requant({43 * 16384}, {8388607}, 16777215, 0, 0, 255)),
                   {x}, y);
  b.g.layers[li].as<Conv2d>()->requant->wide = false;
  ASSERT_TRUE(check_graph(b.g).ok()) << test::describe(check_graph(b.g));
  EXPECT_TRUE(b.g.layers[0].as<Conv2d>()->requant->wide);
  // Unclamped the output would reach floor((1642724720640 + 8388607) / 16777215) = 97914; clamped to [0, 255].
  EXPECT_EQ(b.g.tensor(y).range, (ValueRange{0, 255}));
  EXPECT_EQ(b.g.tensor(y).dtype, DType::UInt8);
}

TEST(RequantWidth, ANumeratorBeyondInt64IsRejected) {
  // 255 * 2^60 > 2^63 - 1
  OneConv c(1, 1, {1}, {0}, requant({int64_t{1} << 60}, {0}, 1, 0, 0, 255));
  EXPECT_TRUE(fails_with(c.analyze(), "ir-requant-overflow", {"conv_under_test", "64-bit"}));
}

TEST(RequantWidth, AProductBeyondInt64IsRejectedEvenIfTheOffsetBringsTheSumBack) {
  // acc * m reaches 255 * 2^56 > 2^63 - 1, although acc * m + a (a = -2^63) stays in [-2^63, 127 * 2^56]:
  // requant.h forms the product first, so it must fit int64 on its own.
  OneConv c(1, 1, {1}, {0},
            requant({int64_t{1} << 56}, {std::numeric_limits<int64_t>::min()}, uint64_t{1} << 61, 0, -8, 255));
  EXPECT_TRUE(fails_with(c.analyze(), "ir-requant-overflow", {"conv_under_test"}));
}

TEST(RequantWidth, AnUnclampedOutputBeyondInt32IsRejected) {
  // floor(255 * 2^40 / 1) = 280375465082880 does not fit int32 and nothing clamps it: dory must not saturate
  // silently where the model's arithmetic does not.
  OneConv c(1, 1, {1}, {0}, requant({int64_t{1} << 40}, {0}, 1));
  EXPECT_TRUE(fails_with(c.analyze(), "ir-output-overflow", {"conv_under_test", "280375465082880", "Clip"}));
  // Unclamped below (acc * -2^40 reaches -280375465082880) while clamped above: still rejected.
  OneConv neg(1, 1, {1}, {0}, requant({-(int64_t{1} << 40)}, {0}, 1, 0, kI32Min, 255));
  EXPECT_TRUE(fails_with(neg.analyze(), "ir-output-overflow", {"conv_under_test", "-280375465082880"}));
  // A clamp on the side that overflows makes it fine.
  OneConv clamped(1, 1, {1}, {0}, requant({int64_t{1} << 40}, {0}, 1, 0, 0, 255));
  ASSERT_TRUE(clamped.analyze().ok()) << test::describe(clamped.analyze());
  EXPECT_EQ(clamped.out().range, (ValueRange{0, 255}));
}

// x (uint8) -> Requantize clamp [lo, hi] -> r -> 2x2 average pool (stride 2, no padding) with `rq` -> y
struct PoolAfterClip {
  GraphBuilder b;
  TensorId y;
  int pool;
  PoolAfterClip(int32_t lo, int32_t hi, Requant rq) {
    TensorId x = b.input("x", {1, 1, 2, 2}, DType::UInt16);
    TensorId r = b.tensor("r", {1, 1, 2, 2});
    y = b.tensor("y", {1, 1, 1, 1});
    Requantize clip;
    clip.requant = requant({1}, {0}, 1, 0, lo, hi);
    b.layer("clip", clip, {x}, r);
    AveragePool ap;
    ap.win = window(2, 2, 2, 2);
    ap.requant = std::move(rq);
    pool = b.layer("avg", ap, {r}, y);
  }
  const Requant& rq() const { return b.g.layers[static_cast<size_t>(pool)].as<AveragePool>()->requant; }
};

TEST(RequantWidth, AnAveragePoolWhoseOffsetTimesCountExceedsInt32IsMarkedWide) {
  // v in [1000, 1010], m = 2^19, a = -(2^29 + 2^20), D = 1, 4 slots. The executor hands dory_requant32 the offset
  // a * cnt = -2151677952, which does not fit int32 although a, S*m (<= 4*1010*2^19 = 2118123520) and the
  // numerator S*m + a*cnt (in [-54525952, -33554432]) all do: the 32-bit contract needs a*cnt to fit too.
  PoolAfterClip p(1000, 1010, requant({1 << 19}, {-((1 << 29) + (1 << 20))}, 1, 0, -128, 127));
  ASSERT_TRUE(check_graph(p.b.g).ok()) << test::describe(check_graph(p.b.g));
  EXPECT_TRUE(p.rq().wide);
  // floor((4*1000*2^19 - 4*(2^29 + 2^20)) / 4) = 1000*2^19 - 2^29 - 2^20 = -13631488 -> clamp -128
  auto r = run_reference(p.b.g, {{1000, 1000, 1000, 1000}});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->values[static_cast<size_t>(p.y)], (std::vector<int32_t>{-128}));
}

TEST(RequantWidth, AnAveragePoolDivisorTimesCountReaching2To63IsADiagnosticNotACrash) {
  // D = 2^61 is a valid divisor, but the 2x2 pool divides by D * cnt = 2^63, beyond requant.h's range.
  PoolAfterClip p(0, 255, requant({1}, {0}, uint64_t{1} << 61, 0, 0, 255));
  EXPECT_TRUE(fails_with(check_graph(p.b.g), "ir-bad-divisor", {"layer 'avg'"}));
  PoolAfterClip ok(0, 255, requant({1}, {0}, uint64_t{1} << 60, 0, 0, 255));  // 2^62: fine
  EXPECT_TRUE(check_graph(ok.b.g).ok()) << test::describe(check_graph(ok.b.g));
}

// ---- tensor ranges and types ---------------------------------------------------------------------------------

struct Residual {
  GraphBuilder b;
  TensorId p, q, y;
  int layer;
  Residual(int32_t zp1, std::optional<DType> declared_out, int32_t lo = kI32Min, int32_t hi = kI32Max) {
    p = b.input("p", {1, 2, 2, 2}, DType::UInt8, zp1);
    q = b.input("q", {1, 2, 2, 2});
    y = b.tensor("y", {1, 2, 2, 2});
    if (declared_out) {
      b.g.tensor(y).dtype = *declared_out;
      b.g.tensor(y).dtype_declared = true;
    }
    Add add;
    add.operands = {AddOperand{zp1, 1, 0, 1, Rounding::Floor}, AddOperand{0, 1, 0, 1, Rounding::Floor}};
    add.requant = requant({1}, {0}, 1, 0, lo, hi);
    layer = b.layer("residual_add", add, {p, q}, y);
    b.output(y);
  }
};

TEST(Ranges, AnUnclippedResidualAddOfUint8IsUint16) {
  // (p - 0) + (q - 0) in [0, 510]
  Residual r(0, std::nullopt);
  ASSERT_TRUE(check_graph(r.b.g).ok()) << test::describe(check_graph(r.b.g));
  EXPECT_EQ(r.b.g.tensor(r.y).range, (ValueRange{0, 510}));
  EXPECT_EQ(r.b.g.tensor(r.y).dtype, DType::UInt16);
}

TEST(Ranges, AnUnclippedResidualAddWithAZeroPointIsInt16) {
  // (p - 128) + q in [-128, 382]
  Residual r(128, std::nullopt);
  ASSERT_TRUE(check_graph(r.b.g).ok()) << test::describe(check_graph(r.b.g));
  EXPECT_EQ(r.b.g.tensor(r.y).range, (ValueRange{-128, 382}));
  EXPECT_EQ(r.b.g.tensor(r.y).dtype, DType::Int16);
}

TEST(Ranges, ADeclaredUint8OutputThatCanExceed255IsAnError) {
  Residual r(0, DType::UInt8);
  EXPECT_TRUE(fails_with(check_graph(r.b.g), "ir-range-exceeds-type",
                         {"layer 'residual_add'", "'y'", "uint8", "[0, 510]"}));
  Residual clamped(0, DType::UInt8, 0, 255);  // with the clamp the declaration holds
  EXPECT_TRUE(check_graph(clamped.b.g).ok());
  EXPECT_EQ(clamped.b.g.tensor(clamped.y).range, (ValueRange{0, 255}));
}

TEST(Ranges, MaxPoolPadValueWidensTheRangeAndViewsKeepIt) {
  // x uint8 -> Requantize clamp [10, 20] -> r -> maxpool 3x3 pad 1 (pad_value 0 / none) -> y, then a view.
  for (bool with_pad_value : {true, false}) {
    GraphBuilder b;
    TensorId x = b.input("x", {1, 1, 3, 3});
    TensorId r = b.tensor("r", {1, 1, 3, 3}), y = b.tensor("y", {1, 1, 3, 3});
    Requantize rq;
    rq.requant = requant({1}, {0}, 1, 0, 10, 20);
    b.layer("clip", rq, {x}, r);
    MaxPool mp;
    mp.win = window(3, 3, 1, 1, {1, 1, 1, 1});
    if (with_pad_value) mp.pad_value = 0;
    b.layer("pool", mp, {r}, y);
    TensorId v = b.flatten("v", y);
    ASSERT_TRUE(check_graph(b.g).ok()) << test::describe(check_graph(b.g));
    EXPECT_EQ(b.g.tensor(r).range, (ValueRange{10, 20}));
    EXPECT_EQ(b.g.tensor(y).range, (ValueRange{with_pad_value ? 0 : 10, 20}));
    EXPECT_EQ(b.g.tensor(v).range, b.g.tensor(y).range);
  }
}

TEST(Ranges, AveragePoolIsTheRequantOfTheMeanAndNarrowWhenSmall) {
  // 3x3 average of int8 values with zp -128: v = x + 128 in [0, 255]; floor(S / cnt) in [0, 255]; the probe
  // numerator 9 * 255 and divisor 9 fit int32: narrow.
  GraphBuilder b;
  TensorId x = b.input("x", {1, 2, 4, 4}, DType::Int8, -128);
  TensorId y = b.tensor("y", {1, 2, 2, 2});
  AveragePool ap;
  ap.win = window(3, 3, 2, 2, {1, 1, 0, 0});
  ap.input_zero_point = -128;
  ap.pad_value = -128;
  ap.requant.wide = true;
  int li = b.layer("avg", ap, {x}, y);
  ASSERT_TRUE(check_graph(b.g).ok()) << test::describe(check_graph(b.g));
  EXPECT_FALSE(b.g.layers[static_cast<size_t>(li)].as<AveragePool>()->requant.wide);
  EXPECT_EQ(b.g.tensor(y).range, (ValueRange{0, 255}));
  EXPECT_EQ(b.g.tensor(y).dtype, DType::UInt8);
}

TEST(Ranges, PerChannelRequantizeTakesTheUnionOfTheChannelRanges) {
  // int8 x, input zp 0: channel 0: floor(x * 1 / 2) in [-64, 63]; channel 1: floor((x * -3 + 10) / 2) in
  // [floor((127 * -3 + 10) / 2), floor((-128 * -3 + 10) / 2)] = [-186, 197]. Union [-186, 197] -> int16.
  GraphBuilder b;
  TensorId x = b.input("x", {1, 2, 2, 2}, DType::Int8);
  TensorId y = b.tensor("y", {1, 2, 2, 2});
  Requantize rq;
  rq.requant = requant({1, -3}, {0, 10}, 2);
  b.layer("rescale", rq, {x}, y);
  ASSERT_TRUE(check_graph(b.g).ok()) << test::describe(check_graph(b.g));
  EXPECT_EQ(b.g.tensor(y).range, (ValueRange{-186, 197}));
  EXPECT_EQ(b.g.tensor(y).dtype, DType::Int16);
}

TEST(Ranges, ConcatOfDifferentlyQuantizedInputsIsAnError) {
  GraphBuilder b;
  TensorId p = b.input("p", {1, 1, 2, 2}, DType::UInt8, 0), q = b.input("q", {1, 1, 2, 2}, DType::UInt8, 3);
  TensorId y = b.tensor("y", {1, 2, 2, 2});
  b.layer("cat", Concat{}, {p, q}, y);
  EXPECT_TRUE(fails_with(check_graph(b.g), "ir-concat-quant-mismatch", {"cat", "'p'", "'q'"}));
}

TEST(Ranges, GraphInputsWithoutADeclaredTypeSpanTheirWholeType) {
  GraphBuilder b;
  TensorId x = b.input("x", {1, 1, 1, 1}, DType::Int8);
  b.g.tensor(x).range = {0, 0};  // whatever was there
  TensorId y = b.tensor("y", {1, 1, 1, 1});
  b.layer("pass", View{}, {x}, y);
  ASSERT_TRUE(check_graph(b.g).ok());
  EXPECT_EQ(b.g.tensor(x).range, (ValueRange{-128, 127}));
  EXPECT_EQ(b.g.tensor(y).range, (ValueRange{-128, 127}));
}

}  // namespace
}  // namespace dory

namespace dory {
namespace {

// A full-range int32 input with a non-zero zero point: x - zp would overflow int32 in the reference and the
// kernels, so the analysis must refuse it (it used to be accepted).
TEST(Ranges, ARequantizeWhoseCenteredInputOverflowsInt32IsAnError) {
  Graph g;
  Tensor x;
  x.name = "x";
  x.shape = {1, 4};
  x.dtype = DType::Int32;
  x.dtype_declared = true;
  TensorId xi = g.add_tensor(x);
  g.inputs.push_back(xi);
  Tensor y = x;
  y.name = "y";
  y.dtype_declared = false;
  TensorId yi = g.add_tensor(y);
  Layer l;
  l.name = "rescale";
  Requantize r;
  r.input_zero_point = 5;
  r.requant.lo = -128;
  r.requant.hi = 127;
  l.op = r;
  l.inputs = {xi};
  l.output = yi;
  g.layers.push_back(l);
  g.outputs.push_back(yi);
  Status s = check_graph(g);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "ir-accumulator-overflow");
  EXPECT_NE(s.error().location.find("rescale"), std::string::npos);
}

}  // namespace
}  // namespace dory
