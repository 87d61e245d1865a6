// Bad input gets a clear diagnostic: each test breaks a valid integer-deployable model in one way and checks the
// stable error code, that the message names the node (or tensor, or layer) and its op type, and that the CLI
// exits with status 1 (never 0, never a crash). QDQ/QOperator-specific errors are tested beside their importers.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "../util/run_cli.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "../util/onnx_builder.h"
#include "onnx/frontend.h"

namespace dory {
namespace {

using testing::OnnxBuilder;

// conv(3x3, 2->3, pad 1) -> Mul m[c] -> Add 128 -> Div 256 -> Floor -> Clip(0, 255) on a [1,2,4,4] input.
struct Model {
  OnnxBuilder b{13};
  std::vector<float> weights = std::vector<float>(3 * 2 * 3 * 3, 1.0f);
  std::vector<float> mul{3, 5, 7};
  float div = 256;
  std::string floor_op = "Floor";
  int64_t weight_in_channels = 2;
  int64_t group = 1;
  std::vector<int64_t> dilations{1, 1};

  std::string bytes() {
    b.input("x", {1, 2, 4, 4});
    b.init("w", {3, weight_in_channels, 3, 3}, weights);
    b.init("bias", {3}, {1, 2, 3});
    b.init("m", {3, 1, 1}, mul);
    b.init("half", {}, {128});
    b.init("d", {}, {div});
    b.init("lo", {}, {0});
    b.init("hi", {}, {255});
    auto& conv = b.node("Conv", {"x", "w", "bias"}, {"acc"}, "conv_7");
    OnnxBuilder::attr(conv, "pads", {1, 1, 1, 1});
    OnnxBuilder::attr(conv, "dilations", dilations);
    OnnxBuilder::attr(conv, "group", group);
    b.node("Mul", {"acc", "m"}, {"scaled"}, "mul_7");
    b.node("Add", {"scaled", "half"}, {"rounded"}, "add_7");
    b.node("Div", {"rounded", "d"}, {"divided"}, "div_7");
    b.node(floor_op, {"divided"}, {"floored"}, "floor_7");
    b.node("Clip", {"floored", "lo", "hi"}, {"y"}, "clip_7");
    b.output("y", {1, 3, 4, 4});
    return b.bytes();
  }
};

Diagnostic import_error(const std::string& bytes) {
  Expected<Graph> g = import_onnx_bytes(bytes, "test.onnx");
  EXPECT_FALSE(g.ok()) << "the model was accepted";
  if (g.ok()) return {};
  return g.error();
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(Diagnostics, TheUnbrokenModelImportsSoEveryOtherTestBreaksExactlyOneThing) {
  Model m;
  Expected<Graph> g = import_onnx_bytes(m.bytes(), "test.onnx");
  ASSERT_TRUE(g.ok()) << g.error().str();
  ASSERT_EQ(g->layers.size(), 1u);
  const Conv2d* c = g->layers[0].as<Conv2d>();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(c->requant.has_value());
  EXPECT_EQ(c->requant->divisor, 256u);
  EXPECT_EQ(c->requant->add, std::vector<int64_t>{128});
}

TEST(Diagnostics, AnUnsupportedOpNamesTheNodeItsOpTypeAndWhatIsSupported) {
  Model m;
  m.floor_op = "Tanh";
  Diagnostic d = import_error(m.bytes());
  EXPECT_EQ(d.code, "onnx-unsupported-op");
  EXPECT_TRUE(contains(d.location, "floor_7")) << d.str();
  EXPECT_TRUE(contains(d.location, "Tanh")) << d.str();
  EXPECT_TRUE(contains(d.hint, "supported: Conv")) << d.str();
}

TEST(Diagnostics, BytesThatAreNotAModelAreAParseError) {
  Diagnostic d = import_error("this is not an onnx file, just text");
  EXPECT_EQ(d.code, "onnx-parse");
  EXPECT_TRUE(contains(d.location, "test.onnx"));
}

TEST(Diagnostics, AnEmptyFileIsReportedAsEmpty) {
  Diagnostic d = import_error("");
  EXPECT_EQ(d.code, "onnx-parse");
  EXPECT_TRUE(contains(d.message, "empty"));
}

TEST(Diagnostics, EveryTruncationOfAValidModelIsAnErrorNotACrash) {
  Model m;
  const std::string full = m.bytes();
  int errors = 0;
  for (size_t len = 0; len + 1 < full.size(); len += 7) {
    Expected<Graph> g = import_onnx_bytes(full.substr(0, len), "test.onnx");
    if (!g.ok()) ++errors;  // a few prefixes may parse as smaller valid protobufs: they must be rejected later
  }
  EXPECT_GT(errors, 0);
  Diagnostic d = import_error(full.substr(0, full.size() / 2));
  EXPECT_FALSE(d.code.empty());
}

TEST(Diagnostics, NonIntegerWeightsNameTheInitializerAndTheIndex) {
  Model m;
  m.weights[5] = 0.5f;
  Diagnostic d = import_error(m.bytes());
  EXPECT_EQ(d.code, "onnx-non-integer");
  EXPECT_TRUE(contains(d.message, "'w'")) << d.str();
  EXPECT_TRUE(contains(d.message, "index 5")) << d.str();
  EXPECT_TRUE(contains(d.location, "conv_7")) << d.str();
}

TEST(Diagnostics, ANonIntegerMultiplierIsRejected) {
  Model m;
  m.mul[1] = 2.5f;
  Diagnostic d = import_error(m.bytes());
  EXPECT_EQ(d.code, "onnx-non-integer");
  EXPECT_TRUE(contains(d.location, "mul_7")) << d.str();
  EXPECT_TRUE(contains(d.message, "2.5")) << d.str();
}

TEST(Diagnostics, ADivisionWithoutFloorIsNotAnInteger) {
  Model m;
  m.floor_op = "Identity";
  Diagnostic d = import_error(m.bytes());
  EXPECT_EQ(d.code, "onnx-non-integer");
  EXPECT_TRUE(contains(d.message, "without a Floor")) << d.str();
  EXPECT_TRUE(contains(d.hint, "Floor")) << d.str();
}

TEST(Diagnostics, AWeightChannelMismatchIsAShapeError) {
  Model m;
  m.weight_in_channels = 5;
  m.weights.assign(3 * 5 * 9, 1.0f);
  Diagnostic d = import_error(m.bytes());
  EXPECT_EQ(d.code, "onnx-shape-mismatch");
  EXPECT_TRUE(contains(d.location, "conv_7")) << d.str();
  EXPECT_TRUE(contains(d.message, "5 input channels")) << d.str();
}

TEST(Diagnostics, AnAccumulatorThatCanOverflowInt32NamesTheLayerAndTheBound) {
  Model m;
  m.weights.assign(m.weights.size(), 1.0e7f);  // 255 * 1e7 * 18 > 2^31
  Diagnostic d = import_error(m.bytes());
  EXPECT_EQ(d.code, "ir-accumulator-overflow");
  EXPECT_TRUE(contains(d.location, "conv_7")) << d.str();
  EXPECT_TRUE(contains(d.message, "2^31")) << d.str();
}

TEST(Diagnostics, ARequantizationBeyond64BitsIsRejected) {
  Model m;
  m.mul = {1099511627776.0f * 1048576.0f, 1, 1};  // 2^60: acc * 2^60 exceeds int64
  Diagnostic d = import_error(m.bytes());
  EXPECT_EQ(d.code, "ir-requant-overflow") << d.str();
}

TEST(Diagnostics, DilationIsAnUnsupportedAttribute) {
  Model m;
  m.dilations = {2, 2};
  Diagnostic d = import_error(m.bytes());
  EXPECT_EQ(d.code, "onnx-unsupported-attribute");
  EXPECT_TRUE(contains(d.location, "conv_7 ") || contains(d.location, "'conv_7'")) << d.str();
}

TEST(Diagnostics, AGroupedConvolutionThatIsNotDepthwiseIsExplained) {
  OnnxBuilder b(13);
  b.input("x", {1, 4, 4, 4});
  b.init("w", {4, 2, 3, 3}, std::vector<float>(4 * 2 * 9, 1.0f));
  auto& conv = b.node("Conv", {"x", "w"}, {"y"}, "grouped");
  OnnxBuilder::attr(conv, "group", int64_t{2});
  OnnxBuilder::attr(conv, "pads", {1, 1, 1, 1});
  b.output("y");
  Diagnostic d = import_error(b.bytes());
  EXPECT_EQ(d.code, "ir-unsupported-groups");
  EXPECT_TRUE(contains(d.location, "grouped")) << d.str();
  EXPECT_TRUE(contains(d.hint, "Concat")) << d.str();
}

// The three dialects build their convolutions with one builder (onnx/conv_builder.h), so an invalid group gets
// the same diagnostic from each (only the integer-deployable importer checked it before).
std::string conv_model(const std::string& dialect, int64_t group) {
  using TP = onnx::TensorProto;
  OnnxBuilder b(13);
  const std::vector<int64_t> w(4 * 2 * 9, 1);
  if (dialect == "integer-deployable") {
    b.input("x", {1, 4, 4, 4});
    b.init("w", {4, 2, 3, 3}, std::vector<float>(w.begin(), w.end()));
    OnnxBuilder::attr(b.node("Conv", {"x", "w"}, {"y"}, "conv_g"), "group", group);
    b.output("y");
  } else if (dialect == "qdq") {
    b.input("x", {1, 4, 4, 4});
    b.init("s", {}, {0.5f}).init_int("zp", {}, {128}, TP::UINT8);
    b.init_int("w", {4, 2, 3, 3}, w, TP::INT8).init("ws", {}, {0.25f}).init_int("wz", {}, {0}, TP::INT8);
    b.node("QuantizeLinear", {"x", "s", "zp"}, {"xq"}, "q_x");
    b.node("DequantizeLinear", {"xq", "s", "zp"}, {"xd"}, "dq_x");
    b.node("DequantizeLinear", {"w", "ws", "wz"}, {"wd"}, "dq_w");
    OnnxBuilder::attr(b.node("Conv", {"xd", "wd"}, {"acc"}, "conv_g"), "group", group);
    b.node("QuantizeLinear", {"acc", "s", "zp"}, {"y"}, "q_y");
    b.output("y", {}, TP::UINT8);
  } else {
    b.input("x", {1, 4, 4, 4}, TP::UINT8);
    b.init("s", {}, {0.5f}).init_int("zp", {}, {128}, TP::UINT8);
    b.init_int("w", {4, 2, 3, 3}, w, TP::INT8).init("ws", {}, {0.25f}).init_int("wz", {}, {0}, TP::INT8);
    OnnxBuilder::attr(b.node("QLinearConv", {"x", "s", "zp", "w", "ws", "wz", "s", "zp"}, {"y"}, "conv_g"), "group",
                      group);
    b.output("y", {}, TP::UINT8);
  }
  return b.bytes();
}

TEST(Diagnostics, AnInvalidGroupIsTheSameErrorInEveryDialect) {
  for (const char* dialect : {"integer-deployable", "qdq", "qoperator"}) {
    for (int64_t group : {int64_t{0}, int64_t{3}, int64_t{8}}) {  // 3 does not divide 4 channels, 8 exceeds them
      Diagnostic d = import_error(conv_model(dialect, group));
      EXPECT_EQ(d.code, "onnx-bad-attribute") << dialect << ", group " << group << ": " << d.str();
      EXPECT_TRUE(contains(d.location, "conv_g")) << d.str();
      EXPECT_TRUE(contains(d.message, fmt::format("group = {}", group))) << d.str();
    }
    // group 2 fits the weights [4, 2, 3, 3] but is neither standard nor depthwise: the IR's diagnostic.
    EXPECT_EQ(import_error(conv_model(dialect, 2)).code, "ir-unsupported-groups") << dialect;
    // group 1 does not fit the weights' 2 input channels per group.
    Diagnostic d = import_error(conv_model(dialect, 1));
    EXPECT_EQ(d.code, "onnx-shape-mismatch") << dialect << ": " << d.str();
    EXPECT_TRUE(contains(d.message, "expect 2 input channels")) << d.str();
  }
}

TEST(Diagnostics, APadThatNoConvOrPoolAbsorbsIsExplained) {
  OnnxBuilder b(13);
  b.input("x", {1, 2, 4, 4});
  b.init_int("pads", {8}, {0, 0, 1, 1, 0, 0, 1, 1}, onnx::TensorProto::INT64);
  b.node("Pad", {"x", "pads"}, {"p"}, "pad_1");
  b.node("Relu", {"p"}, {"y"}, "relu_1");
  b.output("y");
  Diagnostic d = import_error(b.bytes());
  EXPECT_EQ(d.code, "onnx-unsupported-pattern");
  EXPECT_TRUE(contains(d.location, "relu_1")) << d.str();
  EXPECT_TRUE(contains(d.message, "Pad")) << d.str();
}

TEST(Diagnostics, AnUndefinedNodeInputIsNamed) {
  OnnxBuilder b(13);
  b.input("x", {1, 2, 4, 4});
  b.node("Relu", {"nowhere"}, {"y"}, "relu_1");
  b.output("y");
  Diagnostic d = import_error(b.bytes());
  EXPECT_EQ(d.code, "onnx-undefined-input");
  EXPECT_TRUE(contains(d.message, "'nowhere'")) << d.str();
}

TEST(Diagnostics, ExternalTensorDataIsRejectedWithAHint) {
  Model m;
  m.bytes();
  auto* w = m.b.proto().mutable_graph()->mutable_initializer(0);
  w->clear_float_data();
  w->set_data_location(onnx::TensorProto::EXTERNAL);
  Diagnostic d = import_error(m.b.bytes());
  EXPECT_EQ(d.code, "onnx-external-data");
  EXPECT_TRUE(contains(d.location, "'w'")) << d.str();
}

TEST(Diagnostics, ATensorWithFewerValuesThanItsShapeIsRejected) {
  Model m;
  m.bytes();
  m.b.proto().mutable_graph()->mutable_initializer(0)->mutable_float_data()->RemoveLast();
  Diagnostic d = import_error(m.b.bytes());
  EXPECT_EQ(d.code, "onnx-bad-tensor");
}

// ---- the CLI turns every diagnostic into exit status 1 ------------------------------------------------------

using testing::CliResult;
using testing::run_cli;

TEST(Diagnostics, TheCliExitsWithStatus1AndPrintsTheDiagnosticForABrokenModel) {
  const auto path = std::filesystem::temp_directory_path() / "dory_diag_broken.onnx";
  {
    Model m;
    m.floor_op = "Tanh";
    std::ofstream(path, std::ios::binary) << m.bytes();
  }
  CliResult r = run_cli("inspect " + path.string());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "error[onnx-unsupported-op]")) << r.output;
  EXPECT_TRUE(contains(r.output, "floor_7")) << r.output;
  std::filesystem::remove(path);
}

TEST(Diagnostics, TheCliExitsWithStatus1ForAMissingFile) {
  CliResult r = run_cli("inspect /nonexistent/model.onnx");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "/nonexistent/model.onnx")) << r.output;
}

}  // namespace
}  // namespace dory

namespace dory {
namespace {

// Found by the fuzzer: a Clip bound of -1.6e32 was converted to int64 (undefined behaviour). A bound beyond
// any int32 value clamps nothing, so the model imports and the clamp is the type's own range.
TEST(Diagnostics, AClipBoundFarBeyondInt64IsHarmlessNotUndefinedBehaviour) {
  testing::OnnxBuilder b(13);
  b.input("x", {1, 2, 4, 4});
  b.init("lo", {}, {-1.62259e32f});
  b.init("hi", {}, {3.0e38f});
  b.node("Clip", {"x", "lo", "hi"}, {"y"}, "clip_far");
  b.output("y");
  Expected<Graph> g = import_onnx_bytes(b.bytes(), "test.onnx");
  ASSERT_TRUE(g.ok()) << g.error().str();
  EXPECT_EQ(g->tensor(g->outputs[0]).range, (ValueRange{0, 255}));
}

}  // namespace
}  // namespace dory

namespace dory {
namespace {

// Found by the fuzzer: a Pad value of -1.7e38 was converted to int32 (undefined behaviour).
TEST(Diagnostics, APadValueBeyondInt32IsAValueRangeError) {
  testing::OnnxBuilder b(13);
  b.input("x", {1, 2, 4, 4});
  b.init_int("pads", {8}, {0, 0, 1, 1, 0, 0, 1, 1}, onnx::TensorProto::INT64);
  b.init("value", {}, {-1.70141e38f});
  b.node("Pad", {"x", "pads", "value"}, {"p"}, "pad_far");
  auto& pool = b.node("MaxPool", {"p"}, {"y"}, "pool_1");
  testing::OnnxBuilder::attr(pool, "kernel_shape", {3, 3});
  b.output("y");
  Expected<Graph> g = import_onnx_bytes(b.bytes(), "test.onnx");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code, "onnx-value-range");
  EXPECT_NE(g.error().location.find("pool_1"), std::string::npos) << g.error().str();
}

}  // namespace
}  // namespace dory
