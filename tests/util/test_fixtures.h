// Test helpers: the gap8 target and the one-conv network whose numbers the tiler, report and evaluation tests count
// by hand. A failed load is a test failure and an empty value.
//
// one_conv (layer "conv_7" by default): 3x3, 2 -> 3 channels, pad 1, on a [1,2,4,4] uint8 input, weights all 1,
// bias {1,2,3}, y = clamp(floor((acc*m[c] + 128) / 256), 0, 255), m = {3,5,7} (one per-channel 32-bit multiplier);
// one tile on gap8, 628.5 modeled cycles, 536 of them the kernel.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "onnx/frontend.h"
#include "target/target.h"
#include "handcount_target.h"
#include "onnx_builder.h"

namespace dory::testing {

// gap8 with the kernels and rates the hand counts use (handcount_target.h), not the shipped measured ones.
inline Target gap8_target() { return test::handcount_gap8(); }

inline Graph one_conv_graph(const std::string& conv_name = "conv_7") {
  OnnxBuilder b(13);
  b.input("x", {1, 2, 4, 4});
  b.init("w", {3, 2, 3, 3}, std::vector<float>(54, 1.0f));
  b.init("bias", {3}, {1, 2, 3});
  b.init("m", {3, 1, 1}, {3, 5, 7});
  b.init("half", {}, {128});
  b.init("d", {}, {256});
  b.init("lo", {}, {0});
  b.init("hi", {}, {255});
  OnnxBuilder::attr(b.node("Conv", {"x", "w", "bias"}, {"acc"}, conv_name), "pads", {1, 1, 1, 1});
  b.node("Mul", {"acc", "m"}, {"scaled"}, "mul_7");
  b.node("Add", {"scaled", "half"}, {"rounded"}, "add_7");
  b.node("Div", {"rounded", "d"}, {"divided"}, "div_7");
  b.node("Floor", {"divided"}, {"floored"}, "floor_7");
  b.node("Clip", {"floored", "lo", "hi"}, {"y"}, "clip_7");
  b.output("y", {1, 3, 4, 4});
  Expected<Graph> g = import_onnx_bytes(b.bytes(), "one_conv.onnx");
  EXPECT_TRUE(g.ok()) << (g.ok() ? "" : g.error().str());
  return g.ok() ? std::move(*g) : Graph{};
}

}  // namespace dory::testing
