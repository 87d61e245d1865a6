// Synthetic integer-deployable ONNX networks for benchmarks and tests: the standard shapes of the networks the
// DORY papers evaluate, with random (seeded, deterministic) int8 weights and plausible requantization, written
// through NetBuilder (net_builder.h) so they go through the real frontend like any exported model.
//
//   mobilenet_v1   MobileNetV1 (Howard et al. 2017): 3x3/2 conv, 13 depthwise-separable blocks, global average
//                  pool, classifier. width multiplier alpha scales every channel count (floor(c * alpha), at
//                  least 1); resolution is the square input size. 1.0-224 is the ImageNet model, 0.25-128 the
//                  small one DORY's examples use.
//   mobilenet_v2   MobileNetV2 (Sandler et al. 2018): 3x3/2 conv, 17 inverted-residual blocks (1x1 expand,
//                  3x3 depthwise, 1x1 project; the residual Add, where stride 1 and channels match, as an
//                  integer-deployable Mul/Add/Div/Floor/Clip), 1x1 conv to 1280, global average pool, classifier.
//                  Channel counts rounded to multiples of 8 as in the reference implementation.
//   resnet8        The MLPerf Tiny ResNet-8 for CIFAR-10 (3x32x32): 3x3 conv 16, three residual stages of
//                  16/32/64 channels (two 3x3 convs each; stages 2 and 3 stride 2 with a 1x1/2 shortcut conv),
//                  global average pool, fc 10.
//   cifar10_cnn    A plain CIFAR-10 CNN sized like the 142 kB network of DORY's Table 1 (whose layers the paper
//                  does not list): conv 3x3 3->16, conv 16->32, maxpool, conv 32->64, maxpool, conv 64->112,
//                  maxpool, fc 1792->32, fc 32->10: 145,648 B = 142.2 KiB of int8 weights, 14.1 M MACs.
// Every classifier outputs the raw int32 logits (no requantization), as dory's Fashion-MNIST example does.
// Layer names: conv1, dw1/pw1 ... (v1); conv1, b1_expand/b1_dw/b1_project/b1_add ..., conv_last (v2); fc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/diagnostic.h"

namespace dory {

struct MobileNetOptions {
  double width = 1.0;    // width multiplier alpha (0 < alpha <= 4)
  int resolution = 224;  // input H = W (>= 32)
  int classes = 1000;
  uint64_t seed = 1;
};
std::string make_mobilenet_v1_onnx(const MobileNetOptions& o = {});
std::string make_mobilenet_v2_onnx(const MobileNetOptions& o = {});

struct CifarNetOptions {
  int classes = 10;
  uint64_t seed = 1;
};
std::string make_resnet8_onnx(const CifarNetOptions& o = {});
std::string make_cifar10_cnn_onnx(const CifarNetOptions& o = {});

// The networks by name, for `dory netgen` and the benchmarks:
//   mobilenet_v1[_ALPHA[_RES]]   e.g. mobilenet_v1 (= 1.0, 224), mobilenet_v1_0.25_128
//   mobilenet_v2[_ALPHA[_RES]]   e.g. mobilenet_v2 (= 1.0, 224), mobilenet_v2_1.0_96
//   resnet8, cifar10_cnn
// Unknown names and bad parameters are errors (code "netgen-unknown-network") listing the names.
Expected<std::string> make_test_network(const std::string& name, uint64_t seed = 1);

struct TestNetworkInfo {
  std::string name;  // canonical example name
  std::string description;
};
std::vector<TestNetworkInfo> test_network_list();

}  // namespace dory
