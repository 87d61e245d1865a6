// The xpulpv2 kernels' scratch formulas (runtime/kernels/xpulpv2/scratch.c): the bytes the compiler reserves in
// L1 for a layer's largest tile. Exact values for hand-computed shapes, none where a kernel needs none, and growth
// with every field (one reservation for a layer's largest tile covers its smaller tiles).
#include <gtest/gtest.h>

#include "dory/kernels.h"

namespace {

dory_kernel_shape shape(int32_t cores, int32_t c_in, int32_t h_out, int32_t w_out, int32_t k, int32_t s) {
  dory_kernel_shape sh{};
  sh.cores = cores;
  sh.c_in = c_in;
  sh.c_out = c_in;
  sh.h_out = h_out;
  sh.w_out = w_out;
  sh.h_in = (h_out - 1) * s + k;
  sh.w_in = (w_out - 1) * s + k;
  sh.kh = sh.kw = k;
  sh.stride_h = sh.stride_w = s;
  sh.pad = {k / 2, k / 2, k / 2, k / 2};
  sh.in_type = 0;
  return sh;
}

TEST(XpulpScratch, ConvNeedsOneFourPixelPatchPerCoreWhenChannelsAreAMultipleOfFour) {
  // kh rows x (3*stride_w + kw) pixels x c_in bytes, per core
  const dory_kernel_shape s = shape(8, 32, 16, 16, 3, 1);
  EXPECT_EQ(dory_conv_u8s8_4x4__xpulpv2_scratch_bytes(&s), 8u * 3u * (3u + 3u) * 32u);
  const dory_kernel_shape s2 = shape(8, 32, 8, 8, 3, 2);
  EXPECT_EQ(dory_conv_u8s8_4x4__xpulpv2_scratch_bytes(&s2), 8u * 3u * (6u + 3u) * 32u);
}

TEST(XpulpScratch, ConvNeedsFourIm2colVectorsAndAPaddedWeightChunkPerCoreOtherwise) {
  // (4 vectors + min(c_out, 32) channels of weights) x roundup(kh*kw*c_in, 4): the first layer of an RGB network
  dory_kernel_shape s = shape(8, 3, 16, 16, 3, 1);  // c_out 3
  EXPECT_EQ(dory_conv_u8s8_4x4__xpulpv2_scratch_bytes(&s), 8u * (4u + 3u) * 28u);
  s.c_out = 16;
  EXPECT_EQ(dory_conv_u8s8_4x4__xpulpv2_scratch_bytes(&s), 8u * (4u + 16u) * 28u);
  s.c_out = 100;  // a chunk of 32 channels at a time
  EXPECT_EQ(dory_conv_u8s8_4x4__xpulpv2_scratch_bytes(&s), 8u * (4u + 32u) * 28u);
}

TEST(XpulpScratch, PointwiseNeedsNoneWhenChannelsAreAMultipleOfFour) {
  const dory_kernel_shape s = shape(8, 64, 16, 16, 1, 1);
  EXPECT_EQ(dory_pointwise_u8s8_4x4__xpulpv2_scratch_bytes(&s), 0u);
  const dory_kernel_shape s3 = shape(8, 30, 16, 16, 1, 1);  // c_out 30
  EXPECT_EQ(dory_pointwise_u8s8_4x4__xpulpv2_scratch_bytes(&s3), 8u * (4u + 30u) * 32u);
}

TEST(XpulpScratch, DepthwiseHoldsOneChannelPlaneOfABandOfRows) {
  // pitch roundup(stride_w*max(w_out, 4) + 4, 4); rows (band-1)*stride_h + 3; the whole 16-row band fits 512 B
  const dory_kernel_shape s = shape(8, 32, 16, 16, 3, 1);
  EXPECT_EQ(dory_depthwise_u8s8_1x4__xpulpv2_scratch_bytes(&s), 8u * 18u * 20u);
  // 32 x 32: pitch 36, the 34 rows take 1,224 B > 512: the cap, 512 B (the kernel makes bands of 512/36 = 14 rows,
  // 12 output rows)
  const dory_kernel_shape big = shape(1, 32, 32, 32, 3, 1);
  EXPECT_EQ(dory_depthwise_u8s8_1x4__xpulpv2_scratch_bytes(&big), 512u);
  // 200 wide: pitch 204, 3 rows (one output row's band) exceed the cap: 3 x 204
  const dory_kernel_shape wide = shape(1, 32, 32, 200, 3, 1);
  EXPECT_EQ(dory_depthwise_u8s8_1x4__xpulpv2_scratch_bytes(&wide), 3u * 204u);
  // 2 wide at stride 2 (MobileNets' last depthwise): a block reads 12 bytes of a plane row, pitch 12 not 8;
  // 7 plane rows for the 3 output rows
  const dory_kernel_shape narrow = shape(8, 64, 3, 2, 3, 2);
  EXPECT_EQ(dory_depthwise_u8s8_1x4__xpulpv2_scratch_bytes(&narrow), 8u * 7u * 12u);
  // other windows run the portable twin: nothing
  const dory_kernel_shape k5 = shape(8, 32, 16, 16, 5, 1);
  EXPECT_EQ(dory_depthwise_u8s8_1x4__xpulpv2_scratch_bytes(&k5), 0u);
}

TEST(XpulpScratch, EveryFormulaGrowsWithEveryField) {
  for (int k : {1, 3, 5})
    for (int s : {1, 2})
      for (int c : {3, 4, 16, 33}) {
        const dory_kernel_shape base = shape(4, c, 6, 7, k, s);
        uint32_t (*fns[3])(const dory_kernel_shape*) = {dory_conv_u8s8_4x4__xpulpv2_scratch_bytes,
                                                         dory_pointwise_u8s8_4x4__xpulpv2_scratch_bytes,
                                                         dory_depthwise_u8s8_1x4__xpulpv2_scratch_bytes};
        for (auto fn : fns) {
          const uint32_t b = fn(&base);
          dory_kernel_shape more = base;
          more.cores = 8;
          EXPECT_GE(fn(&more), b);
          more = base;
          more.h_out += 5;
          EXPECT_GE(fn(&more), b);
          more = base;
          more.w_out += 5;
          EXPECT_GE(fn(&more), b);
          more = base;
          more.c_in += 4;  // same residue mod 4: the same path
          EXPECT_GE(fn(&more), b);
          more = base;
          more.c_out += 1;
          EXPECT_GE(fn(&more), b);
          more.c_out += 40;
          EXPECT_GE(fn(&more), b);
        }
      }
}

}  // namespace
