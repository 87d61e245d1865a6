// report/inspect: per-layer costs of a hand-built conv + flatten + fc network, checked against hand counts.
#include "report/inspect.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace dory {
namespace {

Tensor tensor(std::string name, std::vector<int64_t> shape, Layout layout = Layout::RowMajor) {
  Tensor t;
  t.name = std::move(name);
  t.shape = std::move(shape);
  t.layout = layout;
  return t;
}

Layer layer(std::string name, LayerOp op, TensorId in, TensorId out, std::vector<std::string> onnx_nodes) {
  Layer l;
  l.name = std::move(name);
  l.op = std::move(op);
  l.inputs = {in};
  l.output = out;
  l.onnx_nodes = std::move(onnx_nodes);
  return l;
}

// x [1,3,8,8] uint8 -> conv 3x3 s1 p1, 4 filters, y = clamp(floor(acc / 16), 0, 255) -> [1,4,8,8]
//   -> flatten (view) [1,256] -> fc 256 -> 10, raw int32 accumulator (no requant).
Graph conv_flatten_fc() {
  Graph g;
  g.dialect = "integer-deployable";
  g.notes = {"the trailing Softmax is left to the host"};
  Tensor x = tensor("input", {1, 3, 8, 8}, Layout::HWC);  // uint8 by default
  Tensor c = tensor("conv/out", {1, 4, 8, 8}, Layout::HWC);
  Tensor f = tensor("flat", {1, 256}, Layout::FlattenedHWC);
  f.hwc_source = {4, 8, 8};
  Tensor y = tensor("logits", {1, 10});
  const TensorId tx = g.add_tensor(x), tc = g.add_tensor(c), tf = g.add_tensor(f), ty = g.add_tensor(y);
  g.inputs = {tx};
  g.outputs = {ty};

  Conv2d conv;
  conv.win.kh = conv.win.kw = 3;
  conv.win.pad = Padding{1, 1, 1, 1};
  conv.weights.assign(4 * 3 * 3 * 3, 1);
  conv.bias.assign(4, 0);
  Requant rq;
  rq.divisor = 16;
  rq.lo = 0;
  rq.hi = 255;
  conv.requant = rq;
  g.layers.push_back(layer("conv", conv, tx, tc, {"Conv_0", "Div_1"}));
  g.layers.push_back(layer("flatten", View{}, tc, tf, {"Flatten_2"}));
  FullyConnected fc;
  fc.weights.assign(10 * 256, 1);
  fc.bias.assign(10, 0);
  g.layers.push_back(layer("fc", fc, tf, ty, {"Gemm_3"}));
  return g;
}

TEST(InspectTest, CountsMacsBytesAndPeakMemoryOfAConvFlattenFc) {
  Graph g = conv_flatten_fc();
  ASSERT_TRUE(check_graph(g).ok());
  const InspectReport r = inspect(g);
  ASSERT_EQ(r.layers.size(), 3u);

  // conv: every one of the 4*8*8 = 256 outputs takes 3*3*3 = 27 MACs (padded taps count: the kernel computes
  // them) -> 6,912 MACs. Weights 4*3*3*3 = 108 B int8 + 4 int32 biases (16 B) + a per-tensor m and a (2 x 4 B:
  // the requant is 32-bit, |acc| <= 27*255 = 6,885) = 132 B.
  const InspectLayer& conv = r.layers[0];
  EXPECT_EQ(conv.kind, "conv");
  EXPECT_EQ(conv.macs, 6912);
  EXPECT_EQ(conv.weight_bytes, 132);
  EXPECT_EQ(conv.activation_bytes_in, 3 * 8 * 8);  // uint8
  EXPECT_EQ(conv.activation_bytes_out, 4 * 8 * 8);
  ASSERT_TRUE(conv.window.has_value());
  EXPECT_EQ(conv.window->kh, 3);
  EXPECT_EQ(conv.window->pad.bottom, 1);
  EXPECT_EQ(conv.output.dtype, "uint8");
  EXPECT_EQ(conv.output.range, (ValueRange{0, 255}));  // floor(6885 / 16) = 430, clamped to 255
  EXPECT_EQ(conv.requant, "clamp(floor((acc*1) / 16), 0, 255), 32-bit");
  EXPECT_EQ(conv.onnx_nodes, (std::vector<std::string>{"Conv_0", "Div_1"}));

  // flatten: a view, no MACs, no weights; it lists the bytes it aliases.
  EXPECT_EQ(r.layers[1].kind, "view");
  EXPECT_EQ(r.layers[1].macs, 0);
  EXPECT_EQ(r.layers[1].weight_bytes, 0);
  EXPECT_FALSE(r.layers[1].window.has_value());

  // fc: 256 inputs x 10 outputs = 2,560 MACs; 2,560 B weights + 10 x 4 B bias = 2,600 B. Raw accumulator in
  // [0, 256*255 = 65,280] -> uint16, 10 x 2 B out.
  const InspectLayer& fc = r.layers[2];
  EXPECT_EQ(fc.kind, "fc");
  EXPECT_EQ(fc.macs, 2560);
  EXPECT_EQ(fc.weight_bytes, 2600);
  EXPECT_EQ(fc.output.dtype, "int32");  // a raw accumulator
  EXPECT_EQ(fc.output.range, (ValueRange{0, 65280}));
  EXPECT_EQ(fc.activation_bytes_out, 40);  // 10 x int32
  EXPECT_EQ(fc.requant, "none: raw int32 accumulator");

  EXPECT_EQ(r.total_macs, 6912 + 2560);
  EXPECT_EQ(r.total_weight_bytes, 132 + 2600);
  // Live bytes per step: conv runs with input (192) and output (256) live = 448; the fc with the conv output
  // (aliased by the flatten) and its own 20 B = 276. Peak 448.
  EXPECT_EQ(r.peak_live_activation_bytes, 448);
  EXPECT_EQ(r.dialect, "integer-deployable");
  EXPECT_EQ(r.notes.size(), 1u);
}

TEST(InspectTest, TextTableIsAlignedAndListsTotalsAndNotes) {
  Graph g = conv_flatten_fc();
  ASSERT_TRUE(check_graph(g).ok());
  const std::string text = render_inspect_text(inspect(g));
  EXPECT_NE(text.find("dialect: integer-deployable"), std::string::npos) << text;
  EXPECT_NE(text.find("6,912"), std::string::npos) << text;
  EXPECT_NE(text.find("9,472"), std::string::npos) << text;
  EXPECT_NE(text.find("3x3 s1 p1"), std::string::npos) << text;
  EXPECT_NE(text.find("peak live activations: 448 B"), std::string::npos) << text;
  EXPECT_NE(text.find("the trailing Softmax is left to the host"), std::string::npos) << text;
  // The MACs column is right-aligned: its header ends where the numbers end.
  const size_t header_end = text.find('\n', text.find("MACs"));
  const std::string header = text.substr(text.rfind('\n', text.find("MACs")) + 1,
                                         header_end - text.rfind('\n', text.find("MACs")) - 1);
  const size_t macs_col_end = header.find("MACs") + 4;
  const size_t row = text.find("\n", header_end + 1);  // the conv row
  const std::string conv_row = text.substr(header_end + 1, row - header_end - 1);
  EXPECT_EQ(conv_row.substr(macs_col_end - 5, 5), "6,912") << "\n" << header << "\n" << conv_row;
}

TEST(InspectTest, JsonHasStableKeysAndPlainNumbers) {
  Graph g = conv_flatten_fc();
  ASSERT_TRUE(check_graph(g).ok());
  const nlohmann::json j = inspect_to_json(inspect(g));
  EXPECT_EQ(j["dialect"], "integer-deployable");
  EXPECT_EQ(j["totals"]["macs"], 9472);
  EXPECT_EQ(j["totals"]["weight_bytes"], 2732);
  EXPECT_EQ(j["totals"]["peak_live_activation_bytes"], 448);
  ASSERT_EQ(j["layers"].size(), 3u);
  EXPECT_EQ(j["layers"][0]["window"]["kernel"], nlohmann::json({3, 3}));
  EXPECT_EQ(j["layers"][0]["window"]["pads"], nlohmann::json({1, 1, 1, 1}));
  EXPECT_EQ(j["layers"][0]["output"]["name"], "conv/out");
  EXPECT_EQ(j["layers"][0]["output"]["range"], nlohmann::json({0, 255}));
  EXPECT_TRUE(j["layers"][1]["requant"].is_null());
  EXPECT_FALSE(j["layers"][1].contains("window"));
  EXPECT_EQ(j["layers"][2]["inputs"][0]["layout"], "flattened-HWC");
  EXPECT_EQ(j["inputs"][0]["shape"], nlohmann::json({1, 3, 8, 8}));
  EXPECT_EQ(j["outputs"][0]["dtype"], "int32");
}

TEST(InspectTest, ReportsTheFloatEdgesOfQuantizedInputs) {
  Graph g = conv_flatten_fc();
  EdgeQuant q;
  q.scale = {0.5f};
  q.zero_point = {0};
  g.input_quant = {q};
  g.output_dequant = {std::nullopt};
  ASSERT_TRUE(check_graph(g).ok());
  const InspectReport r = inspect(g);
  ASSERT_TRUE(r.inputs[0].edge.has_value());
  EXPECT_FALSE(r.outputs[0].edge.has_value());
  EXPECT_NE(render_inspect_text(r).find("quantized on the host: scale 0.5, zero point 0"), std::string::npos);
  EXPECT_EQ(inspect_to_json(r)["inputs"][0]["float_edge"]["scale"], nlohmann::json({0.5}));
}

}  // namespace
}  // namespace dory
