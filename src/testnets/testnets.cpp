#include "testnets/testnets.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "testnets/net_builder.h"

namespace dory {
namespace {

using testnets::NetBuilder;

int64_t scaled(int64_t c, double alpha) { return std::max<int64_t>(1, static_cast<int64_t>(c * alpha)); }

// MobileNetV2's _make_divisible(v, 8): nearest multiple of 8, at least 8, never more than 10 % below v.
int64_t divisible8(double v) {
  int64_t r = std::max<int64_t>(8, static_cast<int64_t>(v + 4) / 8 * 8);
  if (static_cast<double>(r) < 0.9 * v) r += 8;
  return r;
}

std::string name_of(const char* base, double alpha, int res) { return fmt::format("{}_{:g}_{}", base, alpha, res); }

}  // namespace

std::string make_mobilenet_v1_onnx(const MobileNetOptions& o) {
  NetBuilder b(name_of("mobilenet_v1", o.width, o.resolution), o.seed);
  std::string x = b.input("input", 3, o.resolution, o.resolution);
  x = b.conv(x, "conv1", scaled(32, o.width), 3, 2);
  struct Block {
    int64_t c;
    int stride;
  };
  const Block blocks[] = {{64, 1},  {128, 2}, {128, 1}, {256, 2}, {256, 1},  {512, 2}, {512, 1},
                          {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1}};
  int i = 1;
  for (const Block& bl : blocks) {
    x = b.depthwise(x, fmt::format("dw{}", i), 3, bl.stride);
    x = b.conv(x, fmt::format("pw{}", i), scaled(bl.c, o.width), 1, 1);
    ++i;
  }
  x = b.global_avgpool(x, "pool");
  x = b.flatten(x, "flatten");
  x = b.fc(x, "fc", o.classes, false);
  return b.finish(x);
}

std::string make_mobilenet_v2_onnx(const MobileNetOptions& o) {
  NetBuilder b(name_of("mobilenet_v2", o.width, o.resolution), o.seed);
  std::string x = b.input("input", 3, o.resolution, o.resolution);
  x = b.conv(x, "conv1", divisible8(32 * o.width), 3, 2);
  struct Stage {
    int t;
    int64_t c;
    int n, s;
  };
  const Stage stages[] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                          {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int block = 1;
  for (const Stage& st : stages) {
    const int64_t c_out = divisible8(static_cast<double>(st.c) * o.width);
    for (int i = 0; i < st.n; ++i, ++block) {
      const int stride = i == 0 ? st.s : 1;
      const int64_t c_in = b.shape(x).c;
      std::string y = x;
      if (st.t != 1) y = b.conv(y, fmt::format("b{}_expand", block), c_in * st.t, 1, 1);
      y = b.depthwise(y, fmt::format("b{}_dw", block), 3, stride);
      y = b.conv(y, fmt::format("b{}_project", block), c_out, 1, 1);
      if (stride == 1 && c_in == c_out) y = b.residual_add(x, y, fmt::format("b{}_add", block));
      x = y;
    }
  }
  x = b.conv(x, "conv_last", o.width > 1.0 ? divisible8(1280 * o.width) : 1280, 1, 1);
  x = b.global_avgpool(x, "pool");
  x = b.flatten(x, "flatten");
  x = b.fc(x, "fc", o.classes, false);
  return b.finish(x);
}

std::string make_resnet8_onnx(const CifarNetOptions& o) {
  NetBuilder b("resnet8", o.seed);
  std::string x = b.input("input", 3, 32, 32);
  x = b.conv(x, "conv1", 16, 3, 1);
  const int64_t channels[] = {16, 32, 64};
  for (int s = 0; s < 3; ++s) {
    const int stride = s == 0 ? 1 : 2;
    const std::string p = fmt::format("s{}", s + 1);
    std::string y = b.conv(x, p + "_conv1", channels[s], 3, stride);
    y = b.conv(y, p + "_conv2", channels[s], 3, 1);
    std::string shortcut = stride == 1 ? x : b.conv(x, p + "_shortcut", channels[s], 1, stride);
    x = b.residual_add(shortcut, y, p + "_add");
  }
  x = b.global_avgpool(x, "pool");
  x = b.flatten(x, "flatten");
  x = b.fc(x, "fc", o.classes, false);
  return b.finish(x);
}

std::string make_cifar10_cnn_onnx(const CifarNetOptions& o) {
  NetBuilder b("cifar10_cnn", o.seed);
  std::string x = b.input("input", 3, 32, 32);
  x = b.conv(x, "conv1", 16, 3, 1);
  x = b.conv(x, "conv2", 32, 3, 1);
  x = b.maxpool(x, "pool1", 2, 2);
  x = b.conv(x, "conv3", 64, 3, 1);
  x = b.maxpool(x, "pool2", 2, 2);
  x = b.conv(x, "conv4", 112, 3, 1);
  x = b.maxpool(x, "pool3", 2, 2);
  x = b.flatten(x, "flatten");
  x = b.fc(x, "fc1", 32, true);
  x = b.fc(x, "fc2", o.classes, false);
  return b.finish(x);
}

std::vector<TestNetworkInfo> test_network_list() {
  return {{"mobilenet_v1", "MobileNetV1 1.0, 224x224 (mobilenet_v1_ALPHA_RES for others, e.g. mobilenet_v1_0.25_128)"},
          {"mobilenet_v2", "MobileNetV2 1.0, 224x224 (mobilenet_v2_ALPHA_RES for others, e.g. mobilenet_v2_0.35_96)"},
          {"resnet8", "MLPerf Tiny ResNet-8, CIFAR-10 3x32x32, residual adds"},
          {"cifar10_cnn", "plain CIFAR-10 CNN, 3x32x32, 142 kB of int8 weights (DORY's Table 1 size)"}};
}

Expected<std::string> make_test_network(const std::string& name, uint64_t seed) {
  auto unknown = [&](const std::string& why) {
    std::string names;
    for (const TestNetworkInfo& n : test_network_list()) names += (names.empty() ? "" : ", ") + n.name;
    return make_error("netgen-unknown-network", fmt::format("network '{}'", name), why,
                      fmt::format("known networks: {}; mobilenets take _ALPHA_RES, e.g. mobilenet_v1_0.25_128", names));
  };
  if (name == "resnet8") return make_resnet8_onnx({.seed = seed});
  if (name == "cifar10_cnn") return make_cifar10_cnn_onnx({.seed = seed});
  for (const char* base : {"mobilenet_v1", "mobilenet_v2"}) {
    const std::string b(base);
    if (name.rfind(b, 0) != 0) continue;
    MobileNetOptions o;
    o.seed = seed;
    std::string rest = name.substr(b.size());
    if (!rest.empty()) {
      if (rest[0] != '_') return unknown("is not a known network");
      rest = rest.substr(1);
      const size_t us = rest.find('_');
      const std::string alpha = rest.substr(0, us);
      char* end = nullptr;
      o.width = std::strtod(alpha.c_str(), &end);
      if (alpha.empty() || end != alpha.c_str() + alpha.size() || !(o.width > 0) || o.width > 4)
        return unknown(fmt::format("width multiplier '{}' is not a number in (0, 4]", alpha));
      if (us != std::string::npos) {
        const std::string res = rest.substr(us + 1);
        const long r = std::strtol(res.c_str(), &end, 10);
        if (res.empty() || end != res.c_str() + res.size() || r < 32 || r > 1024)
          return unknown(fmt::format("resolution '{}' is not an integer in [32, 1024]", res));
        o.resolution = static_cast<int>(r);
      }
    }
    return b == "mobilenet_v1" ? make_mobilenet_v1_onnx(o) : make_mobilenet_v2_onnx(o);
  }
  return unknown("is not a known network");
}

}  // namespace dory
