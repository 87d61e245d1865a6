// reference/dory_golden: parsing DORY's golden text files and checking a hand-built graph against goldens written to
// a temporary directory, in HWC and CHW order, with a planted mismatch.
#include "reference/dory_golden.h"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "ir/layout.h"

namespace dory {
namespace {

namespace fs = std::filesystem;

TEST(DoryGoldenTest, ParsesNemoHeadersAndValues) {
  auto f = parse_dory_golden("# relu1 (shape [48, 80, 32]),\n9.000,\n0.000,\n-3277.000,\n", "a.txt");
  ASSERT_TRUE(f.ok()) << f.error().str();
  EXPECT_EQ(f->name, "relu1");
  EXPECT_EQ(f->header_shape, (std::vector<int64_t>{48, 80, 32}));
  EXPECT_EQ(f->values, (std::vector<int64_t>{9, 0, -3277}));
}

TEST(DoryGoldenTest, ParsesTheVariantsRealExportsWrite) {
  // dscnn_test: no '#', trailing backslashes, plain integers.
  auto a = parse_dory_golden("layers.0.relu1 (shape [1, 25, 5, 64]),\\\n0,\\\n1,\\\n", "b.txt");
  ASSERT_TRUE(a.ok()) << a.error().str();
  EXPECT_EQ(a->name, "layers.0.relu1");
  EXPECT_EQ(a->header_shape, (std::vector<int64_t>{1, 25, 5, 64}));
  EXPECT_EQ(a->values, (std::vector<int64_t>{0, 1}));
  // SmartAgri-net: an empty name, six decimals; Windows line ends; no header at all.
  auto b = parse_dory_golden("#  (shape [1, 40, 40]),\r\n134.000000,\r\n122.000000,\r\n", "c.txt");
  ASSERT_TRUE(b.ok()) << b.error().str();
  EXPECT_EQ(b->name, "");
  EXPECT_EQ(b->values, (std::vector<int64_t>{134, 122}));
  auto c = parse_dory_golden("1,\n2,\n\n3\n", "d.txt");
  ASSERT_TRUE(c.ok()) << c.error().str();
  EXPECT_FALSE(c->header_shape.has_value());
  EXPECT_EQ(c->values, (std::vector<int64_t>{1, 2, 3}));
}

TEST(DoryGoldenTest, ANonIntegerValueIsReportedWithItsLine) {
  auto f = parse_dory_golden("# x (shape [3]),\n1.000,\n2.500,\n3.000,\n", "bad.txt");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code, "golden-parse");
  EXPECT_EQ(f.error().location, "file 'bad.txt', line 3");
  EXPECT_NE(f.error().message.find("'2.500'"), std::string::npos);
  EXPECT_EQ(parse_dory_golden("# x\n1,\nabc,\n", "bad.txt").error().code, "golden-parse");
}

Tensor tensor(std::string name, std::vector<int64_t> shape, Layout layout = Layout::RowMajor) {
  Tensor t;
  t.name = std::move(name);
  t.shape = std::move(shape);
  t.layout = layout;
  return t;
}

Layer layer(std::string name, LayerOp op, TensorId in, TensorId out) {
  Layer l;
  l.name = std::move(name);
  l.op = std::move(op);
  l.inputs = {in};
  l.output = out;
  return l;
}

// x [1,2,3,3] uint8 --(requant: y = x + 1)--> a [1,2,3,3] --(maxpool 2x2 s1)--> p [1,2,2,2]
//   --(flatten view)--> f [1,8] --(fc 8 -> 3, raw)--> z [1,3] --(requant: clamp(z, 0, 255))--> out [1,3]
// The last requant plays a layer DORY leaves to the host: the goldens stop at the fc.
Graph small_net() {
  Graph g;
  g.dialect = "integer-deployable";
  const TensorId x = g.add_tensor(tensor("x", {1, 2, 3, 3}, Layout::HWC));  // uint8 by default
  const TensorId a = g.add_tensor(tensor("a", {1, 2, 3, 3}, Layout::HWC));
  const TensorId p = g.add_tensor(tensor("pool/out", {1, 2, 2, 2}, Layout::HWC));
  Tensor flat = tensor("f", {1, 8}, Layout::FlattenedHWC);
  flat.hwc_source = {2, 2, 2};
  const TensorId f = g.add_tensor(flat);
  const TensorId z = g.add_tensor(tensor("z", {1, 3}));
  const TensorId o = g.add_tensor(tensor("out", {1, 3}));
  g.inputs = {x};
  g.outputs = {o};
  Requantize plus_one;
  plus_one.requant.add = {1};
  plus_one.requant.lo = 0;
  plus_one.requant.hi = 255;
  g.layers.push_back(layer("plus_one", plus_one, x, a));
  MaxPool pool;
  pool.win.kh = pool.win.kw = 2;
  g.layers.push_back(layer("pool", pool, a, p));
  g.layers.push_back(layer("flatten", View{}, p, f));
  FullyConnected fc;
  for (int n = 0; n < 3; ++n)
    for (int k = 0; k < 8; ++k) fc.weights.push_back((n + 1) * (k % 3 - 1));
  fc.bias = {10, -20, 30};
  g.layers.push_back(layer("fc", fc, f, z));
  Requantize host_tail;
  host_tail.requant.lo = 0;
  host_tail.requant.hi = 255;
  g.layers.push_back(layer("tail", host_tail, z, o));
  return g;
}

// ONNX order [1,C,H,W] -> HWC order, written independently of the library's conversion.
std::vector<int32_t> to_hwc(const std::vector<int32_t>& chw, int C, int H, int W) {
  std::vector<int32_t> out;
  for (int h = 0; h < H; ++h)
    for (int w = 0; w < W; ++w)
      for (int c = 0; c < C; ++c) out.push_back(chw[(c * H + h) * W + w]);
  return out;
}

class GoldenDir {
 public:
  GoldenDir() {
    dir_ = fs::temp_directory_path() /
           ("dory_golden_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~GoldenDir() { fs::remove_all(dir_); }
  std::string path() const { return dir_.string(); }
  // A file in NEMO's style: "# name (shape [...]),\" header, "v.000,\" values.
  void write(const std::string& file, const std::string& header, const std::vector<int32_t>& values) const {
    std::ofstream out(dir_ / file);
    out << "# " << header << ",\\\n";
    for (int32_t v : values) out << v << ".000,\\\n";
  }

 private:
  fs::path dir_;
};

// The ONNX-order input of small_net and its goldens, written the way DORY does (HWC, except where noted).
struct Goldens {
  std::vector<int32_t> input_onnx;
  std::vector<int32_t> pool_onnx;
};

Goldens write_goldens(const Graph& g, const GoldenDir& dir, bool pool_in_chw) {
  Goldens gd;
  for (int i = 0; i < 18; ++i) gd.input_onnx.push_back((i * 37 + 11) % 200);
  auto r = run_reference(g, {gd.input_onnx});
  EXPECT_TRUE(r.ok());
  auto onnx = [&](const char* name) {
    for (size_t t = 0; t < g.tensors.size(); ++t)
      if (g.tensors[t].name == name) return to_onnx_order(g.tensors[t], r->values[t]);
    return std::vector<int32_t>{};
  };
  gd.pool_onnx = onnx("pool/out");
  dir.write("input.txt", "input (shape [3, 3, 2])", to_hwc(gd.input_onnx, 2, 3, 3));
  dir.write("out_layer0.txt", "plus_one (shape [3, 3, 2])", to_hwc(onnx("a"), 2, 3, 3));
  // Like dscnn_test, the header lies about the shape; like SmartAgri-net, the values may be in CHW order.
  dir.write("out_layer1.txt", "plus_one (shape [3, 3, 2])", pool_in_chw ? gd.pool_onnx : to_hwc(gd.pool_onnx, 2, 2, 2));
  dir.write("out_layer2.txt", "fc (shape [3])", onnx("z"));
  return gd;
}

TEST(DoryGoldenTest, InputIsReadInHwcOrderAndConvertedToOnnxOrder) {
  Graph g = small_net();
  ASSERT_TRUE(check_graph(g).ok());
  GoldenDir dir;
  const Goldens gd = write_goldens(g, dir, false);
  auto in = read_dory_golden_input(g, dir.path());
  ASSERT_TRUE(in.ok()) << in.error().str();
  EXPECT_EQ(*in, gd.input_onnx);
}

TEST(DoryGoldenTest, MatchingGoldensInHwcAndChwOrderPass) {
  Graph g = small_net();
  ASSERT_TRUE(check_graph(g).ok());
  GoldenDir dir;
  write_goldens(g, dir, /*pool_in_chw=*/true);
  auto report = run_dory_golden_check(g, dir.path());
  ASSERT_TRUE(report.ok()) << report.error().str();
  ASSERT_EQ(report->files.size(), 3u);
  EXPECT_TRUE(report->ok()) << render_dory_golden_report(*report);
  EXPECT_EQ(report->files[0].layer, "plus_one");
  EXPECT_EQ(report->files[0].order, GoldenOrder::HWC);  // proves input.txt was read as HWC
  EXPECT_EQ(report->files[1].layer, "pool");            // the flatten view is not a DORY layer
  EXPECT_EQ(report->files[1].order, GoldenOrder::CHW);
  EXPECT_EQ(report->files[1].header, "plus_one");       // recorded, not trusted
  EXPECT_EQ(report->files[2].layer, "fc");
  EXPECT_EQ(report->files[2].order, GoldenOrder::Flat);
  EXPECT_EQ(report->unchecked_layers, (std::vector<std::string>{"tail"}));
  EXPECT_NE(render_dory_golden_report(*report).find("all 3 golden files agree"), std::string::npos);
}

TEST(DoryGoldenTest, AMismatchNamesTheLayerFileElementAndValues) {
  Graph g = small_net();
  ASSERT_TRUE(check_graph(g).ok());
  GoldenDir dir;
  const Goldens gd = write_goldens(g, dir, false);
  // Plant a wrong value at (h 1, w 0, c 1) of the pool output: HWC index (1*2 + 0)*2 + 1 = 5.
  std::vector<int32_t> pool = to_hwc(gd.pool_onnx, 2, 2, 2);
  const int32_t actual = pool[5];
  pool[5] += 3;
  dir.write("out_layer1.txt", "pool (shape [2, 2, 2])", pool);

  auto report = run_dory_golden_check(g, dir.path());
  ASSERT_TRUE(report.ok()) << report.error().str();
  EXPECT_FALSE(report->ok());
  EXPECT_EQ(report->failures(), 1);
  EXPECT_EQ(report->files[0].status, GoldenStatus::Match);
  const GoldenFileResult& bad = report->files[1];
  EXPECT_EQ(bad.status, GoldenStatus::Mismatch);
  EXPECT_EQ(bad.file, "out_layer1.txt");
  EXPECT_EQ(bad.layer, "pool");
  EXPECT_EQ(bad.order, GoldenOrder::HWC);
  ASSERT_TRUE(bad.first_mismatch.has_value());
  EXPECT_EQ(bad.first_mismatch->index, 5);
  EXPECT_EQ(bad.first_mismatch->h, 1);
  EXPECT_EQ(bad.first_mismatch->w, 0);
  EXPECT_EQ(bad.first_mismatch->c, 1);
  EXPECT_EQ(bad.first_mismatch->expected, actual + 3);
  EXPECT_EQ(bad.first_mismatch->actual, actual);
  EXPECT_EQ(bad.first_mismatch->differing, 1);
  EXPECT_EQ(report->files[2].status, GoldenStatus::Match);
  const std::string text = render_dory_golden_report(*report);
  EXPECT_NE(text.find(fmt::format("first mismatch: layer 'pool' (tensor 'pool/out'), out_layer1.txt, element 5 "
                                  "(h 1, w 0, c 1; HWC order): golden {}, dory {}",
                                  actual + 3, actual)),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("1 of 3 golden files disagree"), std::string::npos) << text;
}

TEST(DoryGoldenTest, OutputTxtIsComparedWithTheFinalOutputAndAHostTailIsNotAFailure) {
  Graph g = small_net();
  ASSERT_TRUE(check_graph(g).ok());
  GoldenDir dir;
  const Goldens gd = write_goldens(g, dir, false);
  auto r = run_reference(g, {gd.input_onnx});
  ASSERT_TRUE(r.ok());
  std::vector<int32_t> out = r->values[static_cast<size_t>(g.outputs[0])];
  dir.write("output.txt", "output (shape [1, 3])", out);
  auto same = check_dory_goldens(g, *r, dir.path());
  ASSERT_TRUE(same.ok()) << same.error().str();
  ASSERT_EQ(same->files.size(), 4u);
  EXPECT_EQ(same->files[3].status, GoldenStatus::Match);
  EXPECT_EQ(same->files[3].layer, "tail");

  // Post-processing the graph does not compute (a Sigmoid in QuantLab's Dronet) changes output.txt: with a
  // note saying the tail runs on the host, that is reported but is not a failure; without one, it fails.
  out[0] += 1;
  dir.write("output.txt", "output (shape [1, 3])", out);
  auto differs = check_dory_goldens(g, *r, dir.path());
  EXPECT_EQ(differs->files[3].status, GoldenStatus::Mismatch);
  EXPECT_FALSE(differs->ok());
  g.notes = {"the trailing Sigmoid is left to the host"};
  auto tail = check_dory_goldens(g, *r, dir.path());
  EXPECT_EQ(tail->files[3].status, GoldenStatus::HostTail);
  EXPECT_TRUE(tail->ok());
  EXPECT_NE(tail->files[3].note.find("Sigmoid"), std::string::npos);
}

TEST(DoryGoldenTest, AGoldenWithNoLayerOfItsSizeFails) {
  Graph g = small_net();
  ASSERT_TRUE(check_graph(g).ok());
  GoldenDir dir;
  write_goldens(g, dir, false);
  dir.write("out_layer3.txt", "extra (shape [5])", {1, 2, 3, 4, 5});
  auto report = run_dory_golden_check(g, dir.path());
  ASSERT_TRUE(report.ok()) << report.error().str();
  EXPECT_FALSE(report->ok());
  EXPECT_EQ(report->files[3].status, GoldenStatus::NoLayer);
}

TEST(DoryGoldenTest, MissingOrGappedGoldenFilesAreDiagnosed) {
  Graph g = small_net();
  ASSERT_TRUE(check_graph(g).ok());
  GoldenDir dir;
  EXPECT_EQ(read_dory_golden_input(g, dir.path()).error().code, "golden-input");
  write_goldens(g, dir, false);
  fs::remove(fs::path(dir.path()) / "out_layer1.txt");
  auto report = run_dory_golden_check(g, dir.path());
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.error().code, "golden-dir");
  EXPECT_NE(report.error().message.find("no out_layer1.txt"), std::string::npos);
}

}  // namespace
}  // namespace dory
