// The reference executor (src/reference/) is the oracle of the project, so it is checked two ways:
//   1. small cases for every layer kind whose expected values are derived by hand (arithmetic in the comments);
//   2. a randomized differential test of conv and pooling layers against a naive, independent implementation
//      written here (NCHW, int64, plain division; it does not use requant.h). The seed is printed and can be
//      replayed with DORY_TEST_SEED.
// Inputs and expected outputs are in ONNX order (NCHW); feature maps are stored HWC inside the executor.
#include <gtest/gtest.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <sstream>
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
using V = std::vector<int32_t>;

// check_graph, run, and return tensor `out` in ONNX order.
V run(GraphBuilder& b, const std::vector<V>& inputs, TensorId out) {
  Status s = check_graph(b.g);
  EXPECT_TRUE(s.ok()) << test::describe(s);
  if (!s.ok()) return {};
  auto r = test::run_onnx_order(b.g, inputs);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().str());
  if (!r.ok()) return {};
  return r->at(static_cast<size_t>(out));
}

const Requant* requant_of(const Graph& g, const std::string& name) {
  for (const Layer& l : g.layers) {
    if (l.name != name) continue;
    if (const auto* c = l.as<Conv2d>()) return c->requant ? &*c->requant : nullptr;
    if (const auto* f = l.as<FullyConnected>()) return f->requant ? &*f->requant : nullptr;
    if (const auto* r = l.as<Requantize>()) return &r->requant;
    if (const auto* a = l.as<AveragePool>()) return &a->requant;
    if (const auto* a = l.as<Add>()) return &a->requant;
  }
  return nullptr;
}

// ---- convolutions --------------------------------------------------------------------------------------------

TEST(ReferenceConv, Standard3x3WithStride2AndAsymmetricPaddingPadsWithTheZeroPoint) {
  // x [1,2,4,5] uint8, zero point 3.  x0[h][w] = 5h + w,  x1[h][w] = (h + w) % 3.
  // v0 = x0 - 3:        v1 = x1 - 3:
  //   -3 -2 -1  0  1      -3 -2 -1 -3 -2
  //    2  3  4  5  6      -2 -1 -3 -2 -1
  //    7  8  9 10 11      -1 -3 -2 -1 -3
  //   12 13 14 15 16      -3 -2 -1 -3 -2
  // 3x3, stride 2, pads top 1, left 0, bottom 0, right 2 -> H = (4+1-3)/2+1 = 2, W = (5+2-3)/2+1 = 3.
  // Window (oh, ow) covers rows 2oh-1 .. 2oh+1 and columns 2ow .. 2ow+2; padded slots hold the zero point (add 0).
  // co0: bias 10, weight 1 on every tap of channel 0:
  //   (0,0) rows 0-1, cols 0-2: (-3-2-1) + (2+3+4) = 3 -> 13     (0,1) cols 2-4: (-1+0+1) + (4+5+6) = 15 -> 25
  //   (0,2) col 4 only: 1 + 6 = 7 -> 17                          (1,0) rows 1-3: 9 + 24 + 39 = 72 -> 82
  //   (1,1) 15 + 30 + 45 = 90 -> 100                             (1,2) 6 + 11 + 16 = 33 -> 43
  //   (a zero-padding bug would add 3 * (0 - 3) = -9 to (0,*) through the padded top row)
  // co1: bias -5, weight 2 at (ky 1, kx 1) of channel 1, weight -1 at (ky 0, kx 0) of channel 0:
  //   centre (2oh, 2ow+1) in v1, corner (2oh-1, 2ow) in v0
  //   (0,0) centre (0,1) = -2, corner padded:  -5 - 4      = -9
  //   (0,1) centre (0,3) = -3:                 -5 - 6      = -11
  //   (0,2) centre (0,5) padded, corner padded             = -5
  //   (1,0) centre (2,1) = -3, corner (1,0) = 2:  -5 - 6 - 2 = -13
  //   (1,1) centre (2,3) = -1, corner (1,2) = 4:  -5 - 2 - 4 = -11
  //   (1,2) centre (2,5) padded, corner (1,4) = 6: -5 - 6    = -11
  GraphBuilder b;
  TensorId x = b.input("x", {1, 2, 4, 5}, DType::UInt8, 3);
  TensorId y = b.tensor("y", {1, 2, 2, 3});
  V w(2 * 3 * 3 * 2, 0);  // [co][ky][kx][ci]
  for (int k = 0; k < 9; ++k) w[static_cast<size_t>(k * 2 + 0)] = 1;
  w[18 + (1 * 3 + 1) * 2 + 1] = 2;
  w[18 + 0 + 0] = -1;
  b.layer("conv", conv(window(3, 3, 2, 2, {1, 0, 0, 2}), w, {10, -5}, 3), {x}, y);
  V in(40);
  for (int h = 0; h < 4; ++h)
    for (int ww = 0; ww < 5; ++ww) {
      in[static_cast<size_t>(h * 5 + ww)] = 5 * h + ww;
      in[static_cast<size_t>(20 + h * 5 + ww)] = (h + ww) % 3;
    }
  EXPECT_EQ(run(b, {in}, y), (V{13, 25, 17, 82, 100, 43, -9, -11, -5, -13, -11, -11}));
  // Raw accumulator (no requant): its proven range is the hand interval of the weighted sums,
  //   co0: 10 + 9 * [-3, 252] = [-17, 2278];  co1: -5 + 2 * [-3, 252] - 1 * [-3, 252] = [-263, 502],
  // a raw accumulator: stored as int32.
  EXPECT_EQ(b.g.tensor(y).range, (ValueRange{-263, 2278}));
  EXPECT_EQ(b.g.tensor(y).dtype, DType::Int32);
}

TEST(ReferenceConv, WindowsOfPaddingOnlyGiveTheRequantizedBias) {
  // A 3x1 kernel with 3 rows of top padding and 2 columns of right padding (legal ONNX; PyTorch exports it):
  // x [1,1,2,2] uint8 zp 4 = 5 6 / 7 8 -> v = 1 2 / 3 4. H_out = (2+3-3)/1+1 = 3, W_out = (2+0+2-1)/1+1 = 4.
  // Window (oh, ow) covers rows oh-3 .. oh-1 and column ow: row 0 and columns 2, 3 see padding only.
  // weights 1, 2, 3 (ky 0..2), bias 10: (1,c) covers rows -2..0 -> 3*v[0][c]; (2,c) rows -1..1 -> 2 v0 + 3 v1.
  //   (0,*) 10 10 10 10;  (1,*) 10+3 10+6 10 10;  (2,*) 10+2+9 10+4+12 10 10
  // requant y = floor((acc*3 + 1) / 2) + 1: 10 -> 16, 13 -> 21, 16 -> 25, 21 -> 33, 26 -> 40
  GraphBuilder b;
  TensorId x = b.input("x", {1, 1, 2, 2}, DType::UInt8, 4);
  TensorId y = b.tensor("y", {1, 1, 3, 4});
  b.layer("conv", conv(window(3, 1, 1, 1, {3, 0, 0, 2}), {1, 2, 3}, {10}, 4, requant({3}, {1}, 2, 1)), {x}, y);
  EXPECT_EQ(run(b, {{5, 6, 7, 8}}, y), (V{16, 16, 16, 16, 21, 25, 16, 16, 33, 40, 16, 16}));
  // A 1x1 depthwise conv with padding 1: the border is the bias, the inside bias + w*v.
  GraphBuilder d;
  TensorId dx = d.input("x", {1, 2, 1, 1}, DType::Int8, 0);
  TensorId dy = d.tensor("y", {1, 2, 3, 3});
  d.layer("dw", conv(window(1, 1, 1, 1, {1, 1, 1, 1}), {2, -3}, {7, -7}, 0, std::nullopt, 2), {dx}, dy);
  EXPECT_EQ(run(d, {{5, 6}}, dy), (V{7, 7, 7, 7, 17, 7, 7, 7, 7, -7, -7, -7, -7, -25, -7, -7, -7, -7}));
}

TEST(ReferencePool, WindowsOfPaddingOnlyHoldThePadValue) {
  // x [1,1,2,2] = 1 2 / 3 4 (uint8, zp 0), 2x2 windows, stride 2, pads top 2, left 0, bottom 0, right 2:
  // H_out = (2+2-2)/2+1 = 2, W_out = (2+2-2)/2+1 = 2; output row 0 and column 1 see padding only.
  auto pool = [](LayerOp op) {
    GraphBuilder b;
    TensorId x = b.input("x", {1, 1, 2, 2});
    TensorId y = b.tensor("y", {1, 1, 2, 2});
    b.layer("pool", std::move(op), {x}, y);
    return run(b, {{1, 2, 3, 4}}, y);
  };
  MaxPool mp;
  mp.win = window(2, 2, 2, 2, {2, 0, 0, 2});
  mp.pad_value = 9;  // an explicit Pad's value: 9 at the windows of padding only; the full window max(1..4) = 4
  EXPECT_EQ(pool(mp), (V{9, 9, 4, 9}));
  mp.pad_value = 0;  // padding-only windows 0, the full window max(1, 2, 3, 4) = 4
  EXPECT_EQ(pool(mp), (V{0, 0, 4, 0}));
  AveragePool ap;
  ap.win = mp.win;
  ap.count_include_pad = true;
  ap.pad_value = 6;  // padded slots hold 6 and count: (6*4)/4 = 6, the full window floor(10/4) = 2
  EXPECT_EQ(pool(ap), (V{6, 6, 2, 6}));
}

TEST(ReferenceConv, NonSquare1x3And3x1KernelsSlideAlongOneAxis) {
  // x [1,1,3,4] = 0..11 row-major:   0 1 2 3 / 4 5 6 7 / 8 9 10 11
  V in(12);
  for (int i = 0; i < 12; ++i) in[static_cast<size_t>(i)] = i;
  {
    // 1x3 kernel [1, 2, -1], pads left 1 right 1:  y[h][w] = x[h][w-1] + 2 x[h][w] - x[h][w+1]
    //   row 0: 0+0-1 = -1, 0+2-2 = 0, 1+4-3 = 2, 2+6-0 = 8
    //   row 1: 0+8-5 = 3, 4+10-6 = 8, 5+12-7 = 10, 6+14-0 = 20
    //   row 2: 0+16-9 = 7, 8+18-10 = 16, 9+20-11 = 18, 10+22-0 = 32
    GraphBuilder b;
    TensorId x = b.input("x", {1, 1, 3, 4});
    TensorId y = b.tensor("y", {1, 1, 3, 4});
    b.layer("row", conv(window(1, 3, 1, 1, {0, 1, 0, 1}), {1, 2, -1}, {0}), {x}, y);
    EXPECT_EQ(run(b, {in}, y), (V{-1, 0, 2, 8, 3, 8, 10, 20, 7, 16, 18, 32}));
  }
  {
    // Same kernel with stride (1, 2): W = (4+2-3)/2+1 = 2, columns 0 and 2 of the above.
    GraphBuilder b;
    TensorId x = b.input("x", {1, 1, 3, 4});
    TensorId y = b.tensor("y", {1, 1, 3, 2});
    b.layer("row_s2", conv(window(1, 3, 1, 2, {0, 1, 0, 1}), {1, 2, -1}, {0}), {x}, y);
    EXPECT_EQ(run(b, {in}, y), (V{-1, 2, 3, 10, 7, 18}));
  }
  {
    // 3x1 kernel [1, 2, -1] (top to bottom), pad top 1: H = 3+1-3+1 = 2.
    //   y[0][w] = pad + 2 x[0][w] - x[1][w] = -4, -3, -2, -1
    //   y[1][w] = x[0][w] + 2 x[1][w] - x[2][w] = 0+8-8 = 0, 1+10-9 = 2, 2+12-10 = 4, 3+14-11 = 6
    GraphBuilder b;
    TensorId x = b.input("x", {1, 1, 3, 4});
    TensorId y = b.tensor("y", {1, 1, 2, 4});
    b.layer("col", conv(window(3, 1, 1, 1, {1, 0, 0, 0}), {1, 2, -1}, {0}), {x}, y);
    EXPECT_EQ(run(b, {in}, y), (V{-4, -3, -2, -1, 0, 2, 4, 6}));
  }
}

TEST(ReferenceConv, DepthwiseConvFiltersEachChannelWithItsOwnKernelAndRequant) {
  // x [1,2,3,3] uint8, zp 1.  v0 = x0 - 1 (x0 = 0..8),  v1 = 5 - 1 = 4 everywhere.
  //   v0:  -1 0 1 / 2 3 4 / 5 6 7
  // 3x3, pad 1, stride 1, groups 2.
  // ch0 kernel all 1 (box sum of the in-bounds neighbours), bias 0:
  //   4  9  8 / 15 27 21 / 16 27 20
  //   e.g. (0,0): -1+0+2+3 = 4; (1,2): 0+1+3+4+6+7 = 21; (2,0): 2+3+5+6 = 16
  // ch1 kernel: 3 at the centre, -1 at the top-left tap, bias 100: 100 + 3*4 - 4*[(h-1, w-1) in bounds]
  //   112 112 112 / 112 108 108 / 112 108 108
  // Requant per channel: ch0 floor(3 acc / 2), ch1 floor((acc - 100) / 2), clamp [0, 255]:
  //   ch0: 6 13 12 / 22 40 31 / 24 40 30     (27*3/2 = 40.5 -> 40, 21*3/2 = 31.5 -> 31, 15*3/2 = 22.5 -> 22)
  //   ch1: 6 6 6 / 6 4 4 / 6 4 4
  GraphBuilder b;
  TensorId x = b.input("x", {1, 2, 3, 3}, DType::UInt8, 1);
  TensorId y = b.tensor("y", {1, 2, 3, 3});
  V w(18, 0);  // [C][Kh][Kw][1]
  for (int k = 0; k < 9; ++k) w[static_cast<size_t>(k)] = 1;
  w[9 + 4] = 3;
  w[9 + 0] = -1;
  b.layer("dw", conv(window(3, 3, 1, 1, {1, 1, 1, 1}), w, {0, 100}, 1, requant({3, 1}, {0, -100}, 2, 0, 0, 255), 2),
          {x}, y);
  V in{0, 1, 2, 3, 4, 5, 6, 7, 8, 5, 5, 5, 5, 5, 5, 5, 5, 5};
  EXPECT_EQ(run(b, {in}, y), (V{6, 13, 12, 22, 40, 31, 24, 40, 30, 6, 6, 6, 6, 4, 4, 6, 4, 4}));
  EXPECT_EQ(conv_kind(b.g, b.g.layers[0]), ConvKind::Depthwise);
}

TEST(ReferenceConv, PointwiseConvMixesChannelsPerPixelWithPerChannelRequant) {
  // x [1,3,1,2]: c0 = (1, 2), c1 = (3, 4), c2 = (5, 6).  W = [[1, -1, 2], [0, 1, 1]], bias [1, 0].
  //   acc co0: 1 + 1 - 3 + 10 = 9,  1 + 2 - 4 + 12 = 11;   co1: 3 + 5 = 8,  4 + 6 = 10
  // Requant m = [1, 3], a = [0, 1], D = 4, zp 10:
  //   co0: floor(9/4) + 10 = 12, floor(11/4) + 10 = 12;  co1: floor(25/4) + 10 = 16, floor(31/4) + 10 = 17
  GraphBuilder b;
  TensorId x = b.input("x", {1, 3, 1, 2});
  TensorId y = b.tensor("y", {1, 2, 1, 2});
  b.layer("pw", conv(window(1, 1), {1, -1, 2, 0, 1, 1}, {1, 0}, 0, requant({1, 3}, {0, 1}, 4, 10, 0, 255)), {x}, y);
  EXPECT_EQ(run(b, {{1, 2, 3, 4, 5, 6}}, y), (V{12, 12, 16, 17}));
  EXPECT_EQ(conv_kind(b.g, b.g.layers[0]), ConvKind::Pointwise);
}

// ---- fully connected -------------------------------------------------------------------------------------------

TEST(ReferenceFc, FullyConnectedSubtractsTheZeroPointAndRequantizes) {
  // x = [2, 5, 0], zp 2 -> v = [0, 3, -2].  W = [[1, 2, 3], [-1, 0, 4]], bias [5, -5]:
  //   acc0 = 5 + 0 + 6 - 6 = 5;  acc1 = -5 + 0 + 0 - 8 = -13
  // Requant m 3, D 2, zp -10, clamp [-128, 127]: floor(15/2) - 10 = -3;  floor(-39/2) = -20 -> -30
  GraphBuilder b;
  TensorId x = b.input("x", {1, 3}, DType::UInt8, 2);
  TensorId y = b.tensor("y", {1, 2});
  FullyConnected fc;
  fc.weights = {1, 2, 3, -1, 0, 4};
  fc.bias = {5, -5};
  fc.input_zero_point = 2;
  fc.requant = requant({3}, {0}, 2, -10, -128, 127);
  b.layer("fc", fc, {x}, y);
  EXPECT_EQ(run(b, {{2, 5, 0}}, y), (V{-3, -30}));
}

TEST(ReferenceFc, FullyConnectedAfterAFlattenViewReadsWeightsInHwcStorageOrder) {
  // x [1,2,2,2] in ONNX order = [1..8]: c0 = 1 2 / 3 4, c1 = 5 6 / 7 8.  Flatten is a view: its storage is HWC,
  // [1,5, 2,6, 3,7, 4,8]. The model's weights are in ONNX (CHW) order; dory's FC takes them permuted to HWC:
  //   W_chw[0] = [0,1,0,0, 0,0,0,2]  ->  x[0][0][1] + 2 x[1][1][1] = 2 + 16 = 18
  //   W_chw[1] = [1,-1,1,-1, 1,-1,1,-1]  ->  1-2+3-4+5-6+7-8 = -4
  // HWC index of (c, h, w) = (2h + w) * 2 + c:  W_hwc[0] = [0,0,1,0,0,0,0,2],  W_hwc[1] = [1,1,-1,-1,1,1,-1,-1].
  // bias [0, 100] -> [18, 96] (raw int32).
  GraphBuilder b;
  TensorId x = b.input("x", {1, 2, 2, 2});
  TensorId v = b.flatten("v", x);
  TensorId y = b.tensor("y", {1, 2});
  const V w_chw{0, 1, 0, 0, 0, 0, 0, 2, 1, -1, 1, -1, 1, -1, 1, -1};
  FullyConnected fc;
  fc.weights = {0, 0, 1, 0, 0, 0, 0, 2, 1, 1, -1, -1, 1, 1, -1, -1};
  fc.bias = {0, 100};
  b.layer("fc", fc, {v}, y);
  const V in{1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_EQ(run(b, {in}, y), (V{18, 96}));
  // The same numbers from a CHW computation with the ONNX-order weights.
  V chw(2);
  for (int n = 0; n < 2; ++n) {
    chw[static_cast<size_t>(n)] = fc.bias[static_cast<size_t>(n)];
    for (int c = 0; c < 2; ++c)
      for (int h = 0; h < 2; ++h)
        for (int ww = 0; ww < 2; ++ww) {
          int k = c * 4 + h * 2 + ww;
          chw[static_cast<size_t>(n)] += in[static_cast<size_t>(k)] * w_chw[static_cast<size_t>(n * 8 + k)];
        }
  }
  EXPECT_EQ(chw, (V{18, 96}));
  // The permutation used above is exactly chw_to_hwc_index.
  for (int n = 0; n < 2; ++n)
    for (int k = 0; k < 8; ++k)
      EXPECT_EQ(fc.weights[static_cast<size_t>(n * 8 + chw_to_hwc_index(k, 2, 2, 2))],
                w_chw[static_cast<size_t>(n * 8 + k)]);
  // The view's raw storage is HWC; converted back to ONNX order it is the input again.
  auto raw = run_reference(b.g, {in});
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->values[static_cast<size_t>(v)], (V{1, 5, 2, 6, 3, 7, 4, 8}));
  EXPECT_EQ(to_onnx_order(b.g.tensor(v), raw->values[static_cast<size_t>(v)]), in);
}

// ---- pooling ---------------------------------------------------------------------------------------------------

TEST(ReferencePool, MaxPoolIgnoresPaddingUnlessAPadValueIsGiven) {
  // x [1,2,3,3] int8:  c0 = -5 -3 -8 / -7 -9 -1 / -2 -6 -4,   c1 = 1 2 3 / 4 0 5 / 6 7 8
  // 3x3, stride 2, pad 1 -> 2x2; window (oh, ow) in bounds: rows 2oh-1..2oh+1, cols 2ow-1..2ow+1 (clipped):
  //   c0: (0,0) max(-5,-3,-7,-9) = -3, (0,1) max(-3,-8,-9,-1) = -1, (1,0) max(-7,-9,-2,-6) = -2,
  //       (1,1) max(-9,-1,-6,-4) = -1
  //   c1: (0,0) max(1,2,4,0) = 4, (0,1) max(2,3,0,5) = 5, (1,0) max(4,0,6,7) = 7, (1,1) max(0,5,7,8) = 8
  // With pad_value 0 every window also sees a 0: c0 becomes 0 0 0 0, c1 is unchanged.
  const V in{-5, -3, -8, -7, -9, -1, -2, -6, -4, 1, 2, 3, 4, 0, 5, 6, 7, 8};
  for (std::optional<int32_t> pad : {std::optional<int32_t>{}, std::optional<int32_t>{0},
                                     std::optional<int32_t>{-128}}) {
    GraphBuilder b;
    TensorId x = b.input("x", {1, 2, 3, 3}, DType::Int8);
    TensorId y = b.tensor("y", {1, 2, 2, 2});
    MaxPool mp;
    mp.win = window(3, 3, 2, 2, {1, 1, 1, 1});
    mp.pad_value = pad;
    b.layer("pool", mp, {x}, y);
    if (pad == 0)
      EXPECT_EQ(run(b, {in}, y), (V{0, 0, 0, 0, 4, 5, 7, 8}));
    else
      EXPECT_EQ(run(b, {in}, y), (V{-3, -1, -2, -1, 4, 5, 7, 8})) << "pad_value " << pad.value_or(999);
  }
}

// x [1,1,3,3] = 1..9; 2x2 window, stride 1, pads top 1 and left 1 -> 3x3 outputs; window (oh, ow) covers rows
// oh-1..oh and columns ow-1..ow. In-bounds sums S and counts:
//   (0,0) {1} 1 [1]     (0,1) {1,2} 3 [2]       (0,2) {2,3} 5 [2]
//   (1,0) {1,4} 5 [2]   (1,1) {1,2,4,5} 12 [4]  (1,2) {2,3,5,6} 16 [4]
//   (2,0) {4,7} 11 [2]  (2,1) {4,5,7,8} 24 [4]  (2,2) {5,6,8,9} 28 [4]
struct AvgPoolCase {
  GraphBuilder b;
  TensorId x, y;
  AvgPoolCase(bool include_pad, int32_t zp, int32_t pad_value, Requant rq) {
    x = b.input("x", {1, 1, 3, 3}, DType::UInt8, zp);
    y = b.tensor("y", {1, 1, 3, 3});
    AveragePool ap;
    ap.win = window(2, 2, 1, 1, {1, 1, 0, 0});
    ap.count_include_pad = include_pad;
    ap.input_zero_point = zp;
    ap.pad_value = pad_value;
    ap.requant = std::move(rq);
    b.layer("avg", ap, {x}, y);
  }
  V result() { return run(b, {{1, 2, 3, 4, 5, 6, 7, 8, 9}}, y); }
};

TEST(ReferencePool, AveragePoolCountsPaddedSlotsOnlyWhenAsked) {
  // count_include_pad = false: floor(S / in-bounds count): 1/1, 3/2, 5/2, 5/2, 12/4, 16/4, 11/2, 24/4, 28/4
  EXPECT_EQ(AvgPoolCase(false, 0, 0, Requant{}).result(), (V{1, 1, 2, 2, 3, 4, 5, 6, 7}));
  // count_include_pad = true: floor(S / 4): 1/4, 3/4, 5/4, 5/4, 12/4, 16/4, 11/4, 24/4, 28/4
  EXPECT_EQ(AvgPoolCase(true, 0, 0, Requant{}).result(), (V{0, 0, 1, 1, 3, 4, 2, 6, 7}));
  // Padded slots hold pad_value (10 here, zp 0) and count: padded slots per window 3,2,2 / 2,0,0 / 2,0,0:
  //   (1+30)/4 = 7, (3+20)/4 = 5, (5+20)/4 = 6, (5+20)/4 = 6, 3, 4, (11+20)/4 = 7, 6, 7
  EXPECT_EQ(AvgPoolCase(true, 0, 10, Requant{}).result(), (V{7, 5, 6, 6, 3, 4, 7, 6, 7}));
}

TEST(ReferencePool, AveragePoolRequantizesTheExactMeanWithMOverD) {
  // zp 1 (pad_value 1 adds 0): v = x - 1, S as above minus the count: 0, 1, 3 / 3, 8, 12 / 9, 20, 24.
  // y = floor((S*3 + 1*cnt) / (2*cnt)) = floor((3*mean + 1) / 2)
  //   include (cnt 4): floor((3S + 4) / 8): 4/8, 7/8, 13/8, 13/8, 28/8, 40/8, 31/8, 64/8, 76/8
  //                                        = 0, 0, 1, 1, 3, 5, 3, 8, 9
  //   exclude: (0,0) cnt 1: floor(1/2) = 0; (0,1) cnt 2: floor(5/4) = 1; (0,2) floor(11/4) = 2;
  //            (1,0) floor(11/4) = 2; (1,1) 3; (1,2) 5; (2,0) floor(29/4) = 7; (2,1) 8; (2,2) 9
  Requant rq = requant({3}, {1}, 2);
  EXPECT_EQ(AvgPoolCase(true, 1, 1, rq).result(), (V{0, 0, 1, 1, 3, 5, 3, 8, 9}));
  EXPECT_EQ(AvgPoolCase(false, 1, 1, rq).result(), (V{0, 1, 2, 2, 3, 5, 7, 8, 9}));
}

TEST(ReferencePool, GlobalAveragePoolFloorsNegativeMeans) {
  // x [1,2,2,2] int8: c0 = -1 -2 -4 0 (S = -7), c1 = 10 11 12 14 (S = 47); window = whole map, cnt 4.
  //   floor: floor(-7/4) = floor(-1.75) = -2, floor(47/4) = 11;   toward zero: -1, 11
  for (Rounding r : {Rounding::Floor, Rounding::TowardZero}) {
    GraphBuilder b;
    TensorId x = b.input("x", {1, 2, 2, 2}, DType::Int8);
    TensorId y = b.tensor("y", {1, 2, 1, 1});
    AveragePool ap;
    ap.global = true;
    ap.win = window(2, 2);
    ap.requant.rounding = r;
    b.layer("gap", ap, {x}, y);
    EXPECT_EQ(run(b, {{-1, -2, -4, 0, 10, 11, 12, 14}}, y), (V{r == Rounding::Floor ? -2 : -1, 11}));
    EXPECT_EQ(layer_kind_name(b.g, b.g.layers[0]), "globalavgpool");
  }
}

// ---- add, concat, requantize -----------------------------------------------------------------------------------

TEST(ReferenceAdd, JointFormSumsScaledOperandsThenRequantizesOnce) {
  // y = floor(((x1 - 10)*3 + (x2 - 0)*5 + 7) / 8), no clamp.  x1 = [0, 20, 30, 40], x2 = [0, 255, 7, 100]:
  //   e0: -30 + 0 + 7 = -23      -> floor(-2.875) = -3
  //   e1: 30 + 1275 + 7 = 1312   -> 164
  //   e2: 60 + 35 + 7 = 102      -> floor(12.75) = 12
  //   e3: 90 + 500 + 7 = 597     -> floor(74.625) = 74
  // Range: operand sums in [-30, 735] + [0, 1275] -> [floor(-23/8), floor(2017/8)] = [-3, 252]: int16.
  GraphBuilder b;
  TensorId p = b.input("p", {1, 2, 1, 2}, DType::UInt8, 10), q = b.input("q", {1, 2, 1, 2});
  TensorId y = b.tensor("y", {1, 2, 1, 2});
  Add add;
  add.operands = {AddOperand{10, 3, 0, 1, Rounding::Floor}, AddOperand{0, 5, 0, 1, Rounding::Floor}};
  add.requant = requant({1}, {7}, 8);
  b.layer("add", add, {p, q}, y);
  EXPECT_EQ(run(b, {{0, 20, 30, 40}, {0, 255, 7, 100}}, y), (V{-3, 164, 12, 74}));
  EXPECT_EQ(b.g.tensor(y).range, (ValueRange{-3, 252}));
  EXPECT_EQ(b.g.tensor(y).dtype, DType::Int16);
}

TEST(ReferenceAdd, QuantLabFormShiftsEachOperandBeforeTheSum) {
  // y = clamp(((x1*5 + 8) >> 4) + ((x2*3 - 2) >> 2), 0, 255).  x1 = [0, 100, 255, 37], x2 = [1, 50, 255, 0]:
  //   e0: 8 >> 4 = 0;            1 >> 2 = 0                 -> 0
  //   e1: 508 >> 4 = 31;         148 >> 2 = 37              -> 68
  //   e2: 1283 >> 4 = 80;        763 >> 2 = 190             -> 270 -> 255
  //   e3: 193 >> 4 = 12;         -2 >> 2 = -1 (floor)       -> 11   (truncation would give 12)
  GraphBuilder b;
  TensorId p = b.input("p", {1, 2, 1, 2}), q = b.input("q", {1, 2, 1, 2});
  TensorId y = b.tensor("y", {1, 2, 1, 2});
  Add add;
  add.operands = {AddOperand{0, 5, 8, 16, Rounding::Floor}, AddOperand{0, 3, -2, 4, Rounding::Floor}};
  add.requant = requant({1}, {0}, 1, 0, 0, 255);
  b.layer("add", add, {p, q}, y);
  EXPECT_EQ(run(b, {{0, 100, 255, 37}, {1, 50, 255, 0}}, y), (V{0, 68, 255, 11}));
}

TEST(ReferenceConcat, ConcatStacksChannelsInOrder) {
  // a [1,1,1,2] = [1, 2], b [1,2,1,2] = [3, 4, 5, 6] -> [1,3,1,2] = [1, 2, 3, 4, 5, 6]; stored HWC as
  // pixel 0: (1, 3, 5), pixel 1: (2, 4, 6).
  GraphBuilder b;
  TensorId p = b.input("p", {1, 1, 1, 2}), q = b.input("q", {1, 2, 1, 2});
  TensorId y = b.tensor("y", {1, 3, 1, 2});
  b.layer("cat", Concat{}, {p, q}, y);
  EXPECT_EQ(run(b, {{1, 2}, {3, 4, 5, 6}}, y), (V{1, 2, 3, 4, 5, 6}));
  auto raw = run_reference(b.g, {{1, 2}, {3, 4, 5, 6}});
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->values[static_cast<size_t>(y)], (V{1, 3, 5, 2, 4, 6}));
}

TEST(ReferenceRequantize, PerChannelRequantizeUsesEachChannelsParameters) {
  // x [1,2,1,2] int8 = c0 [-128, 127], c1 [0, -5]; input zp 2 -> v = c0 [-130, 125], c1 [-2, -7].
  // c0: m 1, a 0: floor(-130/4) = floor(-32.5) = -33, floor(125/4) = 31
  // c1: m -3, a 4: floor((6+4)/4) = floor(2.5) = 2, floor((21+4)/4) = floor(6.25) = 6
  GraphBuilder b;
  TensorId x = b.input("x", {1, 2, 1, 2}, DType::Int8);
  TensorId y = b.tensor("y", {1, 2, 1, 2});
  Requantize rq;
  rq.input_zero_point = 2;
  rq.requant = requant({1, -3}, {0, 4}, 4, 0, -128, 127);
  b.layer("rq", rq, {x}, y);
  EXPECT_EQ(run(b, {{-128, 127, 0, -5}}, y), (V{-33, 31, 2, 6}));
}

TEST(ReferenceRequantize, PerChannelRequantizeOfAFlattenedMapIndexesChannelsInOnnxOrder) {
  // x [1,2,2,2] = [1..8] -> flatten v [1,8] (stored HWC) -> per-"channel" (axis 1 of [1,8]: the CHW index k)
  // requant y[k] = x[k] * (k + 1):  1, 4, 9, 16, 25, 36, 49, 64.
  GraphBuilder b;
  TensorId x = b.input("x", {1, 2, 2, 2});
  TensorId v = b.flatten("v", x);
  Tensor yt = test::make_tensor("y", {1, 8});
  yt.layout = Layout::FlattenedHWC;  // an elementwise op keeps its input's storage order
  yt.hwc_source = {2, 2, 2};
  TensorId y = b.g.add_tensor(yt);
  Requantize rq;
  rq.requant = requant({1, 2, 3, 4, 5, 6, 7, 8}, {0}, 1, 0, 0, 255);
  b.layer("scale", rq, {v}, y);
  EXPECT_EQ(run(b, {{1, 2, 3, 4, 5, 6, 7, 8}}, y), (V{1, 4, 9, 16, 25, 36, 49, 64}));
}

TEST(ReferenceRequantize, PerChannelRequantizeOfARank1TensorIndexesItsOnlyAxis) {
  // Tensor::channels() of a rank-1 tensor is its length, and check_shapes accepts one multiplier per element:
  // y[i] = x[i] * m[i] = [1*1, 2*2, 3*3, 4*4].
  GraphBuilder b;
  TensorId x = b.input("x", {4});
  TensorId y = b.tensor("y", {4});
  Requantize rq;
  rq.requant = requant({1, 2, 3, 4}, {0}, 1, 0, 0, 255);
  b.layer("scale", rq, {x}, y);
  EXPECT_EQ(run(b, {{1, 2, 3, 4}}, y), (V{1, 4, 9, 16}));
}

TEST(ReferenceRequantize, FloorAndTowardZeroDifferOnlyOnNegativeInexactQuotients) {
  // x / 4 for x = [-7, -8, -9, 7]:  floor: -1.75 -> -2, -2, -2.25 -> -3, 1.75 -> 1
  //                                 toward zero: -1, -2, -2, 1
  for (Rounding r : {Rounding::Floor, Rounding::TowardZero}) {
    GraphBuilder b;
    TensorId x = b.input("x", {1, 4}, DType::Int8);
    TensorId y = b.tensor("y", {1, 4});
    Requantize rq;
    rq.requant = requant({1}, {0}, 4, 0, -128, 127, r);
    b.layer("div4", rq, {x}, y);
    EXPECT_EQ(run(b, {{-7, -8, -9, 7}}, y), r == Rounding::Floor ? (V{-2, -2, -3, 1}) : (V{-1, -2, -2, 1}));
  }
}

TEST(ReferenceRequantize, NonPowerOfTwoDivisorsAreExactOnBothPaths) {
  {
    // D = 7 (32-bit path): floor(x / 7) for -8, -7, -1, 0, 6, 7, 13, 14 = -2, -1, -1, 0, 0, 1, 1, 2
    GraphBuilder b;
    TensorId x = b.input("x", {1, 8}, DType::Int8);
    TensorId y = b.tensor("y", {1, 8});
    Requantize rq;
    rq.requant = requant({1}, {0}, 7);
    b.layer("div7", rq, {x}, y);
    EXPECT_EQ(run(b, {{-8, -7, -1, 0, 6, 7, 13, 14}}, y), (V{-2, -1, -1, 0, 0, 1, 1, 2}));
    EXPECT_FALSE(requant_of(b.g, "div7")->wide);
  }
  for (DType in : {DType::Int8, DType::Int16}) {
    // NEMO's D = 2^24 - 1 with m = 2^24: floor(x * 2^24 / (2^24 - 1)) = x + floor(x / (2^24 - 1)):
    //   -1 -> -2 (the quotient is -1.00000006), 0 -> 0, 1 -> 1, 100 -> 100, -100 -> -101, 127 -> 127, -128 -> -129
    // int8 inputs: x * 2^24 lies in [-2^31, 127 * 2^24], which fits int32: the 32-bit path.
    // int16 inputs: x * 2^24 reaches -2^39: the 64-bit path. Same values.
    GraphBuilder b;
    TensorId x = b.input("x", {1, 7}, in);
    TensorId y = b.tensor("y", {1, 7});
    Requantize rq;
    rq.requant = requant({1 << 24}, {0}, 16777215);
    b.layer("nemo", rq, {x}, y);
    EXPECT_EQ(run(b, {{-1, 0, 1, 100, -100, 127, -128}}, y), (V{-2, 0, 1, 100, -101, 127, -129}));
    EXPECT_EQ(requant_of(b.g, "nemo")->wide, in == DType::Int16);
  }
}

// ---- input validation and reuse ------------------------------------------------------------------------------

TEST(ReferenceInputs, ValuesOutsideTheInputTypeAreRejected) {
  GraphBuilder b;
  TensorId x = b.input("pixels", {1, 1, 1, 3});
  TensorId y = b.tensor("y", {1, 1, 1, 3});
  b.layer("pool", MaxPool{}, {x}, y);
  ASSERT_TRUE(check_graph(b.g).ok());
  EXPECT_TRUE(fails_with(run_reference(b.g, {{0, 256, 3}}), "reference-input-range",
                         {"'pixels'", "element 1 is 256", "[0, 255]"}));
  EXPECT_TRUE(fails_with(run_reference(b.g, {{-1, 0, 3}}), "reference-input-range", {"element 0 is -1"}));
  EXPECT_TRUE(run_reference(b.g, {{0, 255, 3}}).ok());
}

TEST(ReferenceInputs, AWrongElementCountOrInputCountIsRejected) {
  GraphBuilder b;
  TensorId x = b.input("pixels", {1, 1, 2, 2});
  TensorId y = b.tensor("y", {1, 1, 2, 2});
  b.layer("pool", MaxPool{}, {x}, y);
  ASSERT_TRUE(check_graph(b.g).ok());
  EXPECT_TRUE(fails_with(run_reference(b.g, {{1, 2, 3}}), "reference-input-shape",
                         {"'pixels'", "3 elements", "expects 4", "[1,1,2,2]"}));
  EXPECT_TRUE(fails_with(run_reference(b.g, {}), "reference-input-count", {"1 inputs, 0 were given"}));
  EXPECT_TRUE(fails_with(run_reference(b.g, {{1, 2, 3, 4}, {1}}), "reference-input-count"));
}

TEST(ReferenceInputs, AReusedExecutorGivesTheSameResultsAsFreshRuns) {
  GraphBuilder b;
  TensorId x = b.input("x", {1, 1, 2, 2});
  TensorId y = b.tensor("y", {1, 2, 2, 2});
  b.layer("pw", conv(window(1, 1), {3, -1}, {1, 2}, 4, requant({5}, {3}, 7, 1, 0, 255)), {x}, y);
  ASSERT_TRUE(check_graph(b.g).ok());
  ReferenceExecutor ex(b.g);
  for (V in : {V{0, 1, 2, 3}, V{255, 4, 9, 100}, V{0, 1, 2, 3}}) {
    auto again = ex.run({in});
    auto fresh = run_reference(b.g, {in});
    ASSERT_TRUE(again.ok() && fresh.ok());
    EXPECT_EQ(again->values, fresh->values);
  }
  EXPECT_FALSE(ex.run({{0, 1}}).ok());  // an error leaves the executor usable
  EXPECT_TRUE(ex.run({{0, 1, 2, 3}}).ok());
}

// ---- randomized differential test ------------------------------------------------------------------------------

uint64_t test_seed() {
  const char* env = std::getenv("DORY_TEST_SEED");
  return env ? std::strtoull(env, nullptr, 0) : uint64_t{20240917};
}

int64_t naive_div(int64_t n, int64_t d, Rounding r) {
  int64_t q = n / d;  // C++ truncates
  if (r == Rounding::Floor && n % d != 0 && n < 0) q -= 1;
  return q;
}

struct RandomQuant {
  bool present = true;
  std::vector<int64_t> m, a;
  int64_t d = 1;
  Rounding rounding = Rounding::Floor;
  int32_t zp = 0, lo = INT32_MIN, hi = INT32_MAX;
  int64_t m_at(int64_t c) const { return m.size() == 1 ? m[0] : m[static_cast<size_t>(c)]; }
  int64_t a_at(int64_t c) const { return a.size() == 1 ? a[0] : a[static_cast<size_t>(c)]; }
  // clamp(R((v*m + a*cnt) / (D*cnt)) + zp, lo, hi) in int64 with plain division
  int64_t apply(int64_t v, int64_t c, int64_t cnt = 1) const {
    int64_t q = naive_div(v * m_at(c) + a_at(c) * cnt, d * cnt, rounding) + zp;
    return std::clamp<int64_t>(q, lo, hi);
  }
  Requant ir() const { return requant(m, a, static_cast<uint64_t>(d), zp, lo, hi, rounding); }
  std::string str() const {
    std::ostringstream s;
    s << "m[0]=" << m[0] << (m.size() > 1 ? " (per channel)" : "") << " a[0]=" << a[0] << " D=" << d
      << (rounding == Rounding::Floor ? " floor" : " trunc") << " zp=" << zp << " clamp [" << lo << ", " << hi << "]";
    return s.str();
  }
};

RandomQuant random_quant(std::mt19937_64& rng, int64_t channels, int64_t max_abs_v) {
  RandomQuant q;
  const bool per_channel = rng() % 2 == 0;
  const int64_t n = per_channel ? channels : 1;
  q.d = rng() % 2 ? (int64_t{1} << (rng() % 21)) : 1 + static_cast<int64_t>(rng() % (1u << 24));
  for (int64_t c = 0; c < n; ++c) {
    q.m.push_back(static_cast<int64_t>(rng() % 65536) - 32768);
    q.a.push_back(static_cast<int64_t>(rng() % static_cast<uint64_t>(2 * q.d + 1)) - q.d);
  }
  q.rounding = rng() % 2 ? Rounding::Floor : Rounding::TowardZero;
  q.zp = static_cast<int32_t>(rng() % 41) - 20;
  switch (rng() % 3) {
    case 0: q.lo = 0, q.hi = 255; break;
    case 1: q.lo = -128, q.hi = 127; break;
    default: {
      // No clamp: keep the output within int32 by bounding m / D.
      int64_t mmax = 0;
      for (int64_t m : q.m) mmax = std::max<int64_t>(mmax, m < 0 ? -m : m);
      while (max_abs_v * mmax / q.d > (int64_t{1} << 30)) q.d *= 2;
    }
  }
  return q;
}

struct RandomInput {
  DType dtype;
  int32_t zp;
  ValueRange r;
};

RandomInput random_input(std::mt19937_64& rng, bool allow16) {
  static const DType kinds[] = {DType::UInt8, DType::Int8, DType::Int16, DType::UInt16};
  RandomInput in;
  in.dtype = kinds[rng() % (allow16 ? 4 : 2)];
  in.r = dtype_range(in.dtype);
  in.zp = static_cast<int32_t>(in.r.lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(in.r.hi - in.r.lo + 1)));
  if (rng() % 3 == 0) in.zp = in.dtype == DType::UInt8 ? 128 : 0;
  return in;
}

V random_values(std::mt19937_64& rng, size_t n, ValueRange r) {
  V v(n);
  for (auto& x : v) {
    switch (rng() % 8) {
      case 0: x = static_cast<int32_t>(r.lo); break;
      case 1: x = static_cast<int32_t>(r.hi); break;
      default: x = static_cast<int32_t>(r.lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(r.hi - r.lo + 1)));
    }
  }
  return v;
}

struct RandomWindow {
  int kh, kw, sh, sw, pt, pl, pb, pr, H, W;
};

RandomWindow random_window(std::mt19937_64& rng) {
  RandomWindow w;
  w.kh = 1 + static_cast<int>(rng() % 5);
  w.kw = 1 + static_cast<int>(rng() % 5);
  w.sh = 1 + static_cast<int>(rng() % 3);
  w.sw = 1 + static_cast<int>(rng() % 3);
  w.pt = static_cast<int>(rng() % static_cast<uint64_t>(w.kh));
  w.pb = static_cast<int>(rng() % static_cast<uint64_t>(w.kh));
  w.pl = static_cast<int>(rng() % static_cast<uint64_t>(w.kw));
  w.pr = static_cast<int>(rng() % static_cast<uint64_t>(w.kw));
  w.H = std::max(1, w.kh - w.pt - w.pb) + static_cast<int>(rng() % 7);
  w.W = std::max(1, w.kw - w.pl - w.pr) + static_cast<int>(rng() % 7);
  return w;
}

std::string window_str(const RandomWindow& w) {
  std::ostringstream s;
  s << "in " << w.H << "x" << w.W << " kernel " << w.kh << "x" << w.kw << " stride " << w.sh << "x" << w.sw
    << " pads t" << w.pt << " l" << w.pl << " b" << w.pb << " r" << w.pr;
  return s.str();
}

TEST(ReferenceDifferential, RandomConvLayersMatchANaiveNchwImplementation) {
  const uint64_t seed = test_seed();
  std::printf("[   SEED   ] RandomConvLayersMatchANaiveNchwImplementation: %" PRIu64
              " (replay with DORY_TEST_SEED=%" PRIu64 ")\n", seed, seed);
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  int cases = 0, depthwise = 0, wide = 0, narrow = 0, raw = 0, int16_inputs = 0, failures = 0;
  for (int iter = 0; iter < 600 && failures < 5; ++iter) {
    const bool dw = rng() % 4 == 0;
    const int64_t C = 1 + static_cast<int64_t>(rng() % 4), Co = dw ? C : 1 + static_cast<int64_t>(rng() % 4);
    const RandomWindow w = random_window(rng);
    const RandomInput in = random_input(rng, true);
    const int64_t Ho = (w.H + w.pt + w.pb - w.kh) / w.sh + 1, Wo = (w.W + w.pl + w.pr - w.kw) / w.sw + 1;
    const int64_t cin_g = dw ? 1 : C;
    const bool wide_inputs = dtype_bytes(in.dtype) == 2;
    // Weights in ONNX order OIHW; small for 16-bit inputs so the accumulator stays provably within int32.
    const int wmax = wide_inputs ? 15 : 127;
    V w_oihw(static_cast<size_t>(Co * cin_g * w.kh * w.kw));
    for (auto& v : w_oihw) v = static_cast<int32_t>(rng() % static_cast<uint64_t>(2 * wmax + 1)) - wmax;
    V bias(static_cast<size_t>(Co));
    for (auto& v : bias) v = static_cast<int32_t>(rng() % 65536) - 32768;
    const int64_t max_abs_v = static_cast<int64_t>(cin_g) * w.kh * w.kw * wmax * (in.r.hi - in.r.lo) + 32768;
    RandomQuant q = random_quant(rng, Co, max_abs_v);
    q.present = rng() % 5 != 0;
    const V x = random_values(rng, static_cast<size_t>(C * w.H * w.W), in.r);

    // Naive NCHW convolution, int64, padded taps skipped (they hold the zero point and add 0).
    V expect(static_cast<size_t>(Co * Ho * Wo));
    for (int64_t co = 0; co < Co; ++co)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          int64_t acc = bias[static_cast<size_t>(co)];
          for (int64_t cg = 0; cg < cin_g; ++cg) {
            const int64_t ci = dw ? co : cg;
            for (int ky = 0; ky < w.kh; ++ky)
              for (int kx = 0; kx < w.kw; ++kx) {
                const int64_t ih = oh * w.sh - w.pt + ky, iw = ow * w.sw - w.pl + kx;
                if (ih < 0 || ih >= w.H || iw < 0 || iw >= w.W) continue;
                const int64_t xv = x[static_cast<size_t>((ci * w.H + ih) * w.W + iw)] - in.zp;
                acc += xv * w_oihw[static_cast<size_t>(((co * cin_g + cg) * w.kh + ky) * w.kw + kx)];
              }
          }
          expect[static_cast<size_t>((co * Ho + oh) * Wo + ow)] =
              static_cast<int32_t>(q.present ? q.apply(acc, co) : acc);
        }

    // The same layer in dory's IR: weights [C_out][Kh][Kw][C_in/groups].
    V w_ir(w_oihw.size());
    for (int64_t co = 0; co < Co; ++co)
      for (int64_t cg = 0; cg < cin_g; ++cg)
        for (int ky = 0; ky < w.kh; ++ky)
          for (int kx = 0; kx < w.kw; ++kx)
            w_ir[static_cast<size_t>(((co * w.kh + ky) * w.kw + kx) * cin_g + cg)] =
                w_oihw[static_cast<size_t>(((co * cin_g + cg) * w.kh + ky) * w.kw + kx)];
    GraphBuilder b;
    TensorId xt = b.input("x", {1, C, w.H, w.W}, in.dtype, in.zp);
    TensorId yt = b.tensor("y", {1, Co, Ho, Wo});
    b.layer("conv", conv(window(w.kh, w.kw, w.sh, w.sw, {w.pt, w.pl, w.pb, w.pr}), w_ir, bias, in.zp,
                         q.present ? std::optional<Requant>(q.ir()) : std::nullopt, dw ? static_cast<int32_t>(C) : 1),
            {xt}, yt);
    std::ostringstream what;
    what << "case " << iter << ": " << (dw ? "depthwise " : "") << "C_in " << C << " C_out " << Co << " "
         << window_str(w) << " input " << dtype_name(in.dtype) << " zp " << in.zp << " "
         << (q.present ? q.str() : "raw int32");
    Status s = check_graph(b.g);
    if (!s.ok()) {
      ADD_FAILURE() << what.str() << ": " << s.error().str();
      ++failures;
      continue;
    }
    auto got = test::run_onnx_order(b.g, {x});
    if (!got.ok()) {
      ADD_FAILURE() << what.str() << ": " << got.error().str();
      ++failures;
      continue;
    }
    if (got->at(static_cast<size_t>(yt)) != expect) {
      ADD_FAILURE() << what.str() << ": output differs from the naive implementation";
      ++failures;
    }
    ++cases;
    depthwise += dw;
    raw += !q.present;
    int16_inputs += wide_inputs;
    if (q.present) (b.g.layers[0].as<Conv2d>()->requant->wide ? wide : narrow) += 1;
  }
  std::printf("[   INFO   ] %d conv cases: %d depthwise, %d raw int32, %d with 16-bit inputs, requant 64-bit %d / "
              "32-bit %d\n", cases, depthwise, raw, int16_inputs, wide, narrow);
  EXPECT_GE(cases, 300);
  EXPECT_GT(depthwise, 50);
  EXPECT_GT(raw, 30);
  EXPECT_GT(int16_inputs, 50);
  EXPECT_GT(wide, 30);
  EXPECT_GT(narrow, 30);
}

TEST(ReferenceDifferential, RandomPoolingLayersMatchANaiveNchwImplementation) {
  const uint64_t seed = test_seed() + 1;
  std::printf("[   SEED   ] RandomPoolingLayersMatchANaiveNchwImplementation: %" PRIu64
              " (replay with DORY_TEST_SEED=%" PRIu64 ")\n", seed, seed - 1);
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  int cases = 0, failures = 0, avg = 0;
  for (int iter = 0; iter < 400 && failures < 5; ++iter) {
    const bool is_avg = rng() % 2 == 0;
    const int64_t C = 1 + static_cast<int64_t>(rng() % 4);
    const RandomWindow w = random_window(rng);
    const RandomInput in = random_input(rng, true);
    const int64_t Ho = (w.H + w.pt + w.pb - w.kh) / w.sh + 1, Wo = (w.W + w.pl + w.pr - w.kw) / w.sw + 1;
    const V x = random_values(rng, static_cast<size_t>(C * w.H * w.W), in.r);
    const bool include_pad = rng() % 2 == 0;
    const int32_t pad_value = rng() % 2 ? in.zp : static_cast<int32_t>(random_values(rng, 1, in.r)[0]);
    const bool has_pad_value = rng() % 2 == 0;
    RandomQuant q = random_quant(rng, C, in.r.hi - in.r.lo);
    if (rng() % 3 == 0) q = RandomQuant{};  // the default: floor(S / cnt)

    V expect(static_cast<size_t>(C * Ho * Wo));
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          int64_t sum = 0, cnt = 0, best = INT64_MIN;
          for (int ky = 0; ky < w.kh; ++ky)
            for (int kx = 0; kx < w.kw; ++kx) {
              const int64_t ih = oh * w.sh - w.pt + ky, iw = ow * w.sw - w.pl + kx;
              const bool inside = ih >= 0 && ih < w.H && iw >= 0 && iw < w.W;
              const int64_t xv = inside ? x[static_cast<size_t>((c * w.H + ih) * w.W + iw)] : pad_value;
              if (inside || (is_avg ? include_pad : has_pad_value)) {
                sum += xv - in.zp;
                ++cnt;
                best = std::max(best, xv);
              }
            }
          if (q.m.empty()) q.m = {1}, q.a = {0};
          expect[static_cast<size_t>((c * Ho + oh) * Wo + ow)] =
              static_cast<int32_t>(is_avg ? q.apply(sum, c, cnt) : best);
        }

    GraphBuilder b;
    TensorId xt = b.input("x", {1, C, w.H, w.W}, in.dtype, in.zp);
    TensorId yt = b.tensor("y", {1, C, Ho, Wo});
    const Window win = window(w.kh, w.kw, w.sh, w.sw, {w.pt, w.pl, w.pb, w.pr});
    if (is_avg) {
      AveragePool ap;
      ap.win = win;
      ap.count_include_pad = include_pad;
      ap.input_zero_point = in.zp;
      ap.pad_value = pad_value;
      ap.requant = q.ir();
      b.layer("pool", ap, {xt}, yt);
    } else {
      MaxPool mp;
      mp.win = win;
      if (has_pad_value) mp.pad_value = pad_value;
      b.layer("pool", mp, {xt}, yt);
    }
    std::ostringstream what;
    what << "case " << iter << ": " << (is_avg ? "avgpool" : "maxpool") << " C " << C << " " << window_str(w)
         << " input " << dtype_name(in.dtype) << " zp " << in.zp << " pad_value " << pad_value
         << (is_avg ? (include_pad ? " count_include_pad" : " count_exclude_pad") : (has_pad_value ? "" : " (none)"))
         << (is_avg ? " " + q.str() : "");
    Status s = check_graph(b.g);
    if (!s.ok()) {
      ADD_FAILURE() << what.str() << ": " << s.error().str();
      ++failures;
      continue;
    }
    auto got = test::run_onnx_order(b.g, {x});
    if (!got.ok()) {
      ADD_FAILURE() << what.str() << ": " << got.error().str();
      ++failures;
      continue;
    }
    if (got->at(static_cast<size_t>(yt)) != expect) {
      ADD_FAILURE() << what.str() << ": output differs from the naive implementation";
      ++failures;
    }
    ++cases;
    avg += is_avg;
  }
  std::printf("[   INFO   ] %d pooling cases (%d average)\n", cases, avg);
  EXPECT_GE(cases, 300);
}

}  // namespace
}  // namespace dory
