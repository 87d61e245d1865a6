// The variants of the exporters' patterns dory cannot map (docs/errors.md): each gets a diagnostic with its code,
// the node, the values that make it unsupported and what would make it supported; the CLI exits with 1.
//   - a Pad whose cells are not the zero point of the convolution that reads it (QDQ, QOperator, integer-deployable);
//   - a pool that ignores padding (MaxPool without an explicit Pad, AveragePool with count_include_pad = 0) with a
//     window of padding only: ONNX leaves its value undefined (onnxruntime refuses pads >= kernel for pools);
//   - a Clip of a Pad's output (the padded cells would be clipped too, which no window can express).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "../util/exporter_models.h"
#include "../util/run_cli.h"
#include "../util/temp_dir.h"
#include "onnx/frontend.h"

namespace dory {
namespace {

using testing::OnnxBuilder;
using testing::QdqBuilder;
using TP = onnx::TensorProto;

Diagnostic import_error(const std::string& bytes) {
  Expected<Graph> g = import_onnx_bytes(bytes, "pattern.onnx");
  EXPECT_FALSE(g.ok()) << "the model was accepted";
  return g.ok() ? Diagnostic{} : g.error();
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// x [1,2,6,6] quantized (0.25, 128) -> DequantizeLinear -> Pad(1; `value` real) -> [QuantizeLinear (0.25, 128) ->
// DequantizeLinear] -> Conv 3x3.
std::string qdq_pad_conv(float value, bool requantized) {
  OnnxBuilder b(13);
  testing::ModelRng rng(1);
  QdqBuilder q(b, rng);
  b.input("input", {1, 2, 6, 6});
  std::string x = q.q_dq("input", "input_quantized", 0.25f, 128);
  b.init("pad_value", {}, {value});
  x = q.pad(x, "conv_pad", {1, 1, 1, 1}, "pad_value");
  if (requantized) x = q.q_dq(x, "conv_pad_output_quantized", 0.25f, 128);
  const std::string w = q.weights("conv_weight", {3, 2, 3, 3}, {0.01f});
  b.node("Conv", {x, w}, {"conv_output"}, "conv");
  q.quantize("conv_output", "output", 0.5f, 128);
  b.output("output", {}, TP::UINT8);
  return b.bytes();
}

TEST(ExporterPatternDiag, APadNotOfTheZeroPointBeforeAConvNamesBothNodesAndTheValues) {
  // The real value 0.5 is the integer 130 at scale 0.25 and zero point 128: not the conv's zero point.
  for (bool requantized : {true, false}) {
    Diagnostic d = import_error(qdq_pad_conv(0.5f, requantized));
    EXPECT_EQ(d.code, "onnx-unsupported-pattern") << d.str();
    EXPECT_TRUE(has(d.location, "'conv' (Conv)")) << d.str();
    EXPECT_TRUE(has(d.message, "'conv_pad' (Pad)")) << d.str();
    EXPECT_TRUE(has(d.message, "hold 130")) << d.str();
    EXPECT_TRUE(has(d.message, "zero point 128")) << d.str();
    EXPECT_TRUE(has(d.hint, "pad with the zero point")) << d.str();
  }
  // The same Pad with the value 0 imports, requantized or not.
  for (bool requantized : {true, false})
    EXPECT_TRUE(import_onnx_bytes(qdq_pad_conv(0.0f, requantized), "pattern.onnx").ok()) << requantized;
}

TEST(ExporterPatternDiag, AQOperatorPadWithoutAConstantPadsWithZeroNotTheZeroPoint) {
  // ONNX pads an integer tensor with 0 when no constant is given; the QLinearConv's zero point is 128.
  OnnxBuilder b(13);
  b.input("x", {1, 2, 6, 6}, TP::UINT8).output("y", {}, TP::UINT8);
  b.init("xs", {}, {0.02f}).init_int("xz", {}, {128}, TP::UINT8);
  b.init_int("w", {3, 2, 3, 3}, std::vector<int64_t>(54, 1), TP::INT8).init("ws", {}, {0.01f});
  b.init_int("wz", {}, {0}, TP::INT8).init("ys", {}, {0.05f}).init_int("yz", {}, {0}, TP::UINT8);
  b.init_int("pads", {8}, {0, 0, 1, 1, 0, 0, 1, 1}, TP::INT64);
  b.node("Pad", {"x", "pads"}, {"xp"}, "x_pad");
  b.node("QLinearConv", {"xp", "xs", "xz", "w", "ws", "wz", "ys", "yz"}, {"y"}, "qconv");
  Diagnostic d = import_error(b.bytes());
  EXPECT_EQ(d.code, "onnx-unsupported-pattern") << d.str();
  EXPECT_TRUE(has(d.location, "'qconv' (QLinearConv)")) << d.str();
  EXPECT_TRUE(has(d.message, "'x_pad' (Pad)") && has(d.message, "hold 0") && has(d.message, "zero point 128"))
      << d.str();
}

// A pool on [1,2,4,4] with kernel 2x2, stride 1 and pads (top 2, left 0, bottom 0, right 0): its first output row
// sees padding only.
std::string pool_model(const std::string& dialect, const std::string& op, int64_t count_include_pad) {
  OnnxBuilder b(13);
  testing::ModelRng rng(2);
  QdqBuilder q(b, rng);
  auto pool = [&](const std::string& x, const std::string& y) {
    auto& n = b.node(op, {x}, {y}, "pool");
    OnnxBuilder::attr(n, "kernel_shape", {2, 2});
    OnnxBuilder::attr(n, "pads", {2, 0, 0, 0});
    if (op == "AveragePool") OnnxBuilder::attr(n, "count_include_pad", count_include_pad);
  };
  if (dialect == "qdq") {
    b.input("input", {1, 2, 4, 4});
    pool(q.q_dq("input", "input_quantized", 0.1f, 0), "pool_output");
    q.quantize("pool_output", "output", 0.1f, 0);
    b.output("output", {}, TP::UINT8);
  } else if (dialect == "qoperator") {  // MaxPool on the integers between QLinearConvs
    b.input("x", {1, 2, 4, 4}, TP::UINT8).output("y", {}, TP::UINT8);
    b.init("s", {}, {0.02f}).init_int("z", {}, {0}, TP::UINT8).init("ws", {}, {0.01f}).init_int("wz", {}, {0}, TP::INT8);
    b.init_int("w", {2, 2, 1, 1}, {1, 0, 0, 1}, TP::INT8);
    b.node("QLinearConv", {"x", "s", "z", "w", "ws", "wz", "s", "z"}, {"c"}, "qconv");
    pool("c", "y");
  } else {
    b.input("x", {1, 2, 4, 4});
    pool("x", "p");
    b.node("Floor", {"p"}, {"y"}, "floor");
    b.output("y");
  }
  return b.bytes();
}

TEST(ExporterPatternDiag, APoolThatIgnoresPaddingWithAWindowOfPaddingOnlyIsUndefinedInOnnx) {
  for (const char* dialect : {"integer-deployable", "qdq", "qoperator"}) {
    Diagnostic d = import_error(pool_model(dialect, "MaxPool", 0));
    EXPECT_EQ(d.code, "onnx-empty-window") << dialect << ": " << d.str();
    EXPECT_TRUE(has(d.location, "'pool' (MaxPool)")) << d.str();
    EXPECT_TRUE(has(d.message, "pads 2,0,0,0") && has(d.message, "kernel 2x2") && has(d.message, "undefined"))
        << d.str();
    EXPECT_TRUE(has(d.hint, "explicit Pad")) << d.str();
    if (std::string(dialect) == "qoperator") continue;  // no AveragePool in dory's QOperator importer
    d = import_error(pool_model(dialect, "AveragePool", 0));
    EXPECT_EQ(d.code, "onnx-empty-window") << dialect << ": " << d.str();
    EXPECT_TRUE(has(d.hint, "count_include_pad = 1")) << d.str();
    // Counting the padded slots, every window has a mean: supported.
    Expected<Graph> g = import_onnx_bytes(pool_model(dialect, "AveragePool", 1), "pool.onnx");
    EXPECT_TRUE(g.ok()) << dialect << ": " << (g.ok() ? "" : g.error().str());
  }
}

TEST(ExporterPatternDiag, AClipOfAPaddedQuantizedTensorIsExplained) {
  OnnxBuilder b(13);
  testing::ModelRng rng(3);
  QdqBuilder q(b, rng);
  b.input("input", {1, 2, 6, 6});
  std::string x = q.q_dq("input", "input_quantized", 0.25f, 0, TP::INT8);
  x = q.pad(x, "conv_pad", {1, 1, 1, 1});
  q.quantize(x, "padded", 0.25f, 0, TP::INT8);
  b.init_int("lo", {}, {-8}, TP::INT8).init_int("hi", {}, {7}, TP::INT8);
  b.node("Clip", {"padded", "lo", "hi"}, {"clipped"}, "clip");
  b.node("DequantizeLinear", {"clipped", "padded_scale", "padded_zero_point"}, {"x4"}, "dq");
  const std::string w = q.weights("conv_weight", {3, 2, 3, 3}, {0.01f});
  b.node("Conv", {"x4", w}, {"conv_output"}, "conv");
  q.quantize("conv_output", "output", 0.5f, 0, TP::INT8);
  b.output("output", {}, TP::INT8);
  Diagnostic d = import_error(b.bytes());
  EXPECT_EQ(d.code, "onnx-unsupported-pattern") << d.str();
  EXPECT_TRUE(has(d.location, "'clip' (Clip)") && has(d.message, "'conv_pad' (Pad)")) << d.str();
}

TEST(ExporterPatternDiag, TheCliExitsWithOneAndPrintsTheCode) {
  testing::TempDir dir("pattern-diag");
  const auto path = dir.path / "pool.onnx";
  std::ofstream(path, std::ios::binary) << pool_model("qdq", "MaxPool", 0);
  const testing::CliResult r = testing::run_cli("inspect " + path.string());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(has(r.output, "error[onnx-empty-window]")) << r.output;
  EXPECT_TRUE(has(r.output, "'pool' (MaxPool)")) << r.output;
}

}  // namespace
}  // namespace dory
