// Test helper: the whole networks the deployment tests run, as graphs: "fmnist" (the bundled example), "cifar10"
// (models/cifar10, the DORY paper's Table 1 size), "mobilenet_v1" (MobileNetV1-0.25 at 64x64, 10 classes) and
// "resnet8" (three residual adds), the last two synthetic with seeded weights (src/testnets). A failed import is a test failure and an empty graph.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "onnx/frontend.h"
#include "testnets/testnets.h"

namespace dory::testing {

inline Graph load_test_network(const std::string& name) {
  Expected<Graph> g = [&]() -> Expected<Graph> {
    if (name == "fmnist") return import_onnx(std::string(DORY_SOURCE_DIR) + "/models/fmnist/fmnist_int.onnx", {});
    if (name == "cifar10") return import_onnx(std::string(DORY_SOURCE_DIR) + "/models/cifar10/cifar10_cnn.onnx", {});
    MobileNetOptions mo;
    mo.width = 0.25;
    mo.resolution = 64;
    mo.classes = 10;
    return import_onnx_bytes(name == "mobilenet_v1" ? make_mobilenet_v1_onnx(mo) : make_resnet8_onnx({}), name);
  }();
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().str());
  return g.ok() ? std::move(*g) : Graph{};
}

}  // namespace dory::testing
