// reference/tensor_io: graph inputs from .npy/.bin (shape, integer and range checks, float quantization), layer
// dumps in ONNX order with safe file names.
#include "reference/tensor_io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

namespace dory {
namespace {

namespace fs = std::filesystem;

Tensor tensor(std::string name, std::vector<int64_t> shape, Layout layout = Layout::RowMajor) {
  Tensor t;
  t.name = std::move(name);
  t.shape = std::move(shape);
  t.layout = layout;
  return t;
}

// x [1,2,2,2] uint8 (HWC) --(requant y = x + 1)--> "blk/out:0" --(requant y = x)--> "blk_out_0" (a name that
// collides with the first once sanitized).
Graph two_requants() {
  Graph g;
  const TensorId x = g.add_tensor(tensor("x", {1, 2, 2, 2}, Layout::HWC));
  const TensorId a = g.add_tensor(tensor("blk/out:0", {1, 2, 2, 2}, Layout::HWC));
  const TensorId b = g.add_tensor(tensor("blk_out_0", {1, 2, 2, 2}, Layout::HWC));
  g.inputs = {x};
  g.outputs = {b};
  Requantize plus_one;
  plus_one.requant.add = {1};
  plus_one.requant.lo = 0;
  plus_one.requant.hi = 255;
  Requantize copy;
  copy.requant.lo = 0;
  copy.requant.hi = 255;
  Layer l1;
  l1.name = "plus_one";
  l1.op = plus_one;
  l1.inputs = {x};
  l1.output = a;
  Layer l2;
  l2.name = "copy";
  l2.op = copy;
  l2.inputs = {a};
  l2.output = b;
  g.layers = {l1, l2};
  return g;
}

NpyArray array(NpyDType dt, std::vector<int64_t> shape, std::vector<double> v) {
  NpyArray a;
  a.dtype = dt;
  a.shape = std::move(shape);
  a.values = v;
  if (npy_dtype_is_integer(dt)) a.int_values.assign(v.begin(), v.end());
  return a;
}

TEST(TensorIoTest, InputShapesMatchUpToUnitDimensionsButNotTransposed) {
  Graph g = two_requants();
  ASSERT_TRUE(check_graph(g).ok());
  const std::vector<double> v = {1, 2, 3, 4, 5, 6, 7, 8};
  auto ok = graph_input_from_array(g, 0, array(NpyDType::Int32, {2, 2, 2}, v), "in.npy");
  ASSERT_TRUE(ok.ok()) << ok.error().str();
  EXPECT_EQ(*ok, (std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8}));  // ONNX order, unchanged
  auto bad = graph_input_from_array(g, 0, array(NpyDType::Int32, {1, 4, 2}, v), "in.npy");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "input-shape");
  EXPECT_NE(bad.error().hint.find("NCHW"), std::string::npos);
}

TEST(TensorIoTest, IntegerValuedFloatsAreAcceptedAndOutOfRangeValuesNamed) {
  Graph g = two_requants();
  ASSERT_TRUE(check_graph(g).ok());
  auto f = graph_input_from_array(g, 0, array(NpyDType::Float32, {1, 2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 255}), "in.npy");
  ASSERT_TRUE(f.ok()) << f.error().str();
  EXPECT_EQ(f->back(), 255);
  auto frac = graph_input_from_array(g, 0, array(NpyDType::Float32, {1, 2, 2, 2}, {0, 1, 2, 3.5, 4, 5, 6, 7}), "in.npy");
  EXPECT_EQ(frac.error().code, "npy-not-integer");
  auto range = graph_input_from_array(g, 0, array(NpyDType::Int16, {1, 2, 2, 2}, {0, 1, 2, 3, 4, -5, 6, 7}), "in.npy");
  ASSERT_FALSE(range.ok());
  EXPECT_EQ(range.error().code, "input-range");
  EXPECT_NE(range.error().message.find("element 5 is -5"), std::string::npos) << range.error().message;
}

TEST(TensorIoTest, FloatInputsOfAQuantizedEdgeAreQuantizedLikeQuantizeLinear) {
  Graph g = two_requants();
  EdgeQuant q;
  q.scale = {0.5f};
  q.zero_point = {10};
  g.input_quant = {q};
  ASSERT_TRUE(check_graph(g).ok());
  // round_half_to_even(x / 0.5) + 10, saturated to uint8.
  auto v = graph_input_from_array(g, 0, array(NpyDType::Float32, {1, 2, 2, 2}, {0, 0.25, 0.75, -1, 1, 200, -100, 2}),
                                  "in.npy");
  ASSERT_TRUE(v.ok()) << v.error().str();
  EXPECT_EQ(*v, (std::vector<int32_t>{10, 10, 12, 8, 12, 255, 0, 14}));
  // Integer arrays are taken as already quantized.
  auto ints = graph_input_from_array(g, 0, array(NpyDType::UInt8, {1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}), "in.npy");
  EXPECT_EQ(ints->front(), 1);
}

TEST(TensorIoTest, FileNamesCannotEscapeTheDumpDirectory) {
  EXPECT_EQ(sanitize_tensor_file_name("/features/conv1/Conv_output_0", 3), "_features_conv1_Conv_output_0");
  EXPECT_EQ(sanitize_tensor_file_name("..", 3), "_..");
  EXPECT_EQ(sanitize_tensor_file_name("a b:c\\d", 3), "a_b_c_d");
  EXPECT_EQ(sanitize_tensor_file_name("", 7), "tensor_7");
  EXPECT_EQ(sanitize_tensor_file_name("127", 7), "127");
}

TEST(TensorIoTest, DumpsEveryLayerOutputInOnnxOrderAndLoadsInputsFromFiles) {
  Graph g = two_requants();
  ASSERT_TRUE(check_graph(g).ok());
  const fs::path dir = fs::temp_directory_path() / ("dory_tensor_io_test_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);

  // The same input as .npy and as .bin.
  const std::vector<int64_t> onnx = {10, 20, 30, 40, 50, 60, 70, 80};
  ASSERT_TRUE(write_npy((dir / "in.npy").string(), NpyDType::UInt8, {1, 2, 2, 2}, onnx).ok());
  ASSERT_TRUE(write_file_bytes((dir / "in.bin").string(), std::string("\x0a\x14\x1e\x28\x32\x3c\x46\x50", 8)).ok());
  auto from_npy = load_graph_input(g, 0, (dir / "in.npy").string());
  auto from_bin = load_graph_input(g, 0, (dir / "in.bin").string());
  ASSERT_TRUE(from_npy.ok()) << from_npy.error().str();
  ASSERT_TRUE(from_bin.ok()) << from_bin.error().str();
  EXPECT_EQ(*from_npy, *from_bin);
  ASSERT_TRUE(write_file_bytes((dir / "in.txt").string(), "1 2 3").ok());
  EXPECT_EQ(load_graph_input(g, 0, (dir / "in.txt").string()).error().code, "input-format");

  auto r = run_reference(g, {*from_npy});
  ASSERT_TRUE(r.ok());
  auto dumped = dump_layer_outputs(g, *r, (dir / "dump").string());
  ASSERT_TRUE(dumped.ok()) << dumped.error().str();
  ASSERT_EQ(dumped->size(), 2u);
  EXPECT_EQ(fs::path((*dumped)[0].file).filename(), "blk_out_0.npy");
  EXPECT_EQ(fs::path((*dumped)[1].file).filename(), "blk_out_0_2.npy");  // collision: tensor id appended
  EXPECT_TRUE(fs::exists(dir / "dump" / "index.json"));
  auto a = read_npy((*dumped)[0].file);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->dtype, NpyDType::UInt8);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{1, 2, 2, 2}));
  EXPECT_EQ(a->int_values, (std::vector<int64_t>{11, 21, 31, 41, 51, 61, 71, 81}));  // ONNX order, x + 1
  fs::remove_all(dir);
}

TEST(TensorIoTest, TopValuesAreLargestFirstWithTiesByIndex) {
  const auto top = top_values({3, 9, -1, 9, 4}, 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].index, 1);
  EXPECT_EQ(top[1].index, 3);
  EXPECT_EQ(top[2].value, 4);
  EXPECT_EQ(top_values({1, 2}, 5).size(), 2u);
}

}  // namespace
}  // namespace dory
