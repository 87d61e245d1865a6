// Conformance: dory's ONNX frontends and reference executor against ONNX's own node tests (Debian package
// libonnx-testdata: data/node/test_*/model.onnx with test_data_set_0/input_N.pb and output_N.pb).
//
// Each case runs as a deployment would see it: the graph inputs that ONNX feeds but that are really weights or
// quantization parameters (a conv's W, QLinearConv's scales and zero points, Clip's bounds, Reshape's shape) are
// bound as initializers in the ModelProto; the model is imported with dialect auto-detection (import_onnx_bytes);
// the data inputs are quantized with Graph::input_quant where the model quantizes them (quantize_edge), else taken
// as integers; run_reference computes the outputs, dequantized with Graph::output_dequant where the model does;
// and every output element must equal output_N.pb EXACTLY (floats bit for bit, integers by value, shapes equal).
//
// dory's IR is integer-only: a case whose float input data are not integers cannot run, and a case the importer
// rejects is excluded with the importer's diagnostic as the reason. The expected outcome of every case (match,
// or excluded for a stated reason) is fixed below, so a regression or an accidental new exclusion fails.
// The full table is written to <build>/conformance_report.md (copied into docs/results.md).
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "ir/edge.h"
#include "onnx/frontend.h"
#include "reference/executor.h"
#include "reference/tensor_io.h"
#include "onnx_testdata.h"

#ifndef DORY_CONFORMANCE_REPORT
#define DORY_CONFORMANCE_REPORT "conformance_report.md"
#endif

namespace dory {
namespace {

namespace fs = std::filesystem;
using testdata::read_tensor;
using testdata::values_of;
using testdata::Values;

enum class Expect { Match, Excluded };

struct Case {
  const char* name;          // directory under data/node
  Expect expect;
  const char* reason;        // Excluded: text the exclusion reason must contain
  std::vector<int> data = {0};  // graph inputs fed at run time; the others are bound as initializers
  Dialect dialect = Dialect::Auto;  // forced only for the extra rows that show another importer on the case
};

std::ostream& operator<<(std::ostream& os, const Case& c) { return os << c.name; }

// Reasons the harness itself gives (the others are the importer's diagnostics, by code).
constexpr const char* kNonIntegerInput = "non-integer float data";
// A bare AveragePool whose averages are not all integers (integer-deployable graphs floor them explicitly).
constexpr const char* kAverageNotInteger = "[onnx-non-integer] value 'y': an average is not an integer";

// clang-format off
const std::vector<Case> kCases = {
  // QOperator: QLinearConv / QLinearMatMul / ConvInteger / MatMulInteger.
  // Their weights have a non-zero zero point (255, 114). dory deploys symmetric weights and rejects these by
  // default (onnx-weight-zero-point, tested in qoperator_test.cpp); the harness evaluates with the reference, so
  // it asks the importer to fold w - zp (ImportOptions::allow_asymmetric_weights).
  {"test_qlinearconv", Expect::Match, ""},
  {"test_qlinearmatmul_2D", Expect::Match, ""},
  {"test_qlinearmatmul_3D", Expect::Match, ""},
  {"test_basic_convinteger", Expect::Match, ""},
  {"test_convinteger_with_padding", Expect::Match, ""},
  {"test_convinteger_without_padding", Expect::Match, ""},
  {"test_matmulinteger", Expect::Match, ""},
  // Edges: QuantizeLinear / DequantizeLinear.
  {"test_quantizelinear", Expect::Match, ""},
  {"test_quantizelinear_axis", Expect::Excluded, "[onnx-per-channel-activation] node #0 (QuantizeLinear)"},
  {"test_dequantizelinear", Expect::Match, ""},
  {"test_dequantizelinear_axis", Expect::Excluded, "[onnx-per-channel-activation] node #0 (DequantizeLinear)"},
  // The same four with the QOperator importer forced: its host-side edges (Graph::input_quant/output_dequant)
  // carry per-axis parameters.
  {"test_quantizelinear", Expect::Match, "", {0}, Dialect::QOperator},
  {"test_quantizelinear_axis", Expect::Match, "", {0}, Dialect::QOperator},
  {"test_dequantizelinear", Expect::Match, "", {0}, Dialect::QOperator},
  {"test_dequantizelinear_axis", Expect::Match, "", {0}, Dialect::QOperator},
  // MaxPool.
  {"test_maxpool_2d_ceil", Expect::Match, ""},
  {"test_maxpool_2d_default", Expect::Excluded, kNonIntegerInput},
  {"test_maxpool_2d_dilations", Expect::Excluded, "[onnx-unsupported-attribute] node #0 (MaxPool): dilation 2"},
  {"test_maxpool_2d_pads", Expect::Excluded, kNonIntegerInput},
  {"test_maxpool_2d_precomputed_pads", Expect::Match, ""},
  {"test_maxpool_2d_precomputed_same_upper", Expect::Match, ""},
  {"test_maxpool_2d_precomputed_strides", Expect::Match, ""},
  {"test_maxpool_2d_same_lower", Expect::Excluded, kNonIntegerInput},
  {"test_maxpool_2d_same_upper", Expect::Excluded, kNonIntegerInput},
  {"test_maxpool_2d_strides", Expect::Excluded, kNonIntegerInput},
  {"test_maxpool_2d_uint8", Expect::Match, ""},
  // AveragePool / GlobalAveragePool.
  {"test_averagepool_2d_ceil", Expect::Excluded, "[onnx-unsupported-attribute] node #0 (AveragePool): ceil_mode = 1"},
  {"test_averagepool_2d_default", Expect::Excluded, kNonIntegerInput},
  {"test_averagepool_2d_pads", Expect::Excluded, kNonIntegerInput},
  {"test_averagepool_2d_pads_count_include_pad", Expect::Excluded, kNonIntegerInput},
  {"test_averagepool_2d_precomputed_pads", Expect::Excluded, kAverageNotInteger},
  {"test_averagepool_2d_precomputed_pads_count_include_pad", Expect::Excluded, kAverageNotInteger},
  {"test_averagepool_2d_precomputed_same_upper", Expect::Excluded, kAverageNotInteger},
  {"test_averagepool_2d_precomputed_strides", Expect::Excluded, kAverageNotInteger},
  {"test_averagepool_2d_same_lower", Expect::Excluded, kNonIntegerInput},
  {"test_averagepool_2d_same_upper", Expect::Excluded, kNonIntegerInput},
  {"test_averagepool_2d_strides", Expect::Excluded, kNonIntegerInput},
  {"test_globalaveragepool", Expect::Excluded, kNonIntegerInput},
  {"test_globalaveragepool_precomputed", Expect::Excluded, kAverageNotInteger},
  // Conv.
  {"test_basic_conv_with_padding", Expect::Match, ""},
  {"test_basic_conv_without_padding", Expect::Match, ""},
  {"test_conv_with_autopad_same", Expect::Match, ""},
  {"test_conv_with_strides_and_asymmetric_padding", Expect::Match, ""},
  {"test_conv_with_strides_no_padding", Expect::Match, ""},
  {"test_conv_with_strides_padding", Expect::Match, ""},
  // Relu / Clip.
  {"test_relu", Expect::Excluded, kNonIntegerInput},
  {"test_clip", Expect::Excluded, kNonIntegerInput},
  {"test_clip_default_inbounds", Expect::Match, ""},
  {"test_clip_default_int8_inbounds", Expect::Match, ""},
  {"test_clip_default_int8_max", Expect::Match, ""},
  {"test_clip_default_int8_min", Expect::Match, ""},
  {"test_clip_default_max", Expect::Excluded, kNonIntegerInput},
  {"test_clip_default_min", Expect::Excluded, kNonIntegerInput},
  {"test_clip_example", Expect::Match, ""},
  {"test_clip_inbounds", Expect::Match, ""},
  {"test_clip_outbounds", Expect::Match, ""},
  {"test_clip_splitbounds", Expect::Match, ""},
  // Add.
  {"test_add", Expect::Excluded, kNonIntegerInput, {0, 1}},
  {"test_add_bcast", Expect::Excluded, kNonIntegerInput, {0, 1}},
  {"test_add_uint8", Expect::Match, "", {0, 1}},
  // Flatten / Reshape.
  {"test_flatten_axis0", Expect::Excluded, kNonIntegerInput},
  {"test_flatten_axis1", Expect::Excluded, kNonIntegerInput},
  {"test_flatten_axis2", Expect::Excluded, kNonIntegerInput},
  {"test_flatten_axis3", Expect::Excluded, kNonIntegerInput},
  {"test_flatten_default_axis", Expect::Excluded, kNonIntegerInput},
  {"test_flatten_negative_axis1", Expect::Excluded, kNonIntegerInput},
  {"test_flatten_negative_axis2", Expect::Excluded, kNonIntegerInput},
  {"test_flatten_negative_axis3", Expect::Excluded, kNonIntegerInput},
  {"test_flatten_negative_axis4", Expect::Excluded, kNonIntegerInput},
  {"test_reshape_extended_dims", Expect::Excluded, kNonIntegerInput},
  {"test_reshape_negative_dim", Expect::Excluded, kNonIntegerInput},
  {"test_reshape_negative_extended_dims", Expect::Excluded, kNonIntegerInput},
  {"test_reshape_one_dim", Expect::Excluded, kNonIntegerInput},
  {"test_reshape_reduced_dims", Expect::Excluded, kNonIntegerInput},
  {"test_reshape_reordered_all_dims", Expect::Excluded, kNonIntegerInput},
  {"test_reshape_reordered_last_dims", Expect::Excluded, kNonIntegerInput},
  {"test_reshape_zero_and_negative_dim", Expect::Excluded, kNonIntegerInput},
  {"test_reshape_zero_dim", Expect::Excluded, kNonIntegerInput},
};
// clang-format on

std::string shape_text(const std::vector<int64_t>& s) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < s.size(); ++i) os << (i ? "," : "") << s[i];
  os << ']';
  return os.str();
}

std::string number_text(double v) {
  std::ostringstream os;
  os.precision(9);
  os << v;
  return os.str();
}

// ---- running one case --------------------------------------------------------------------------------------

enum class Status { Match, Excluded, Mismatch, Error };
const char* status_name(Status s) {
  switch (s) {
    case Status::Match: return "match";
    case Status::Excluded: return "excluded";
    case Status::Mismatch: return "MISMATCH";
    case Status::Error: return "ERROR";
  }
  return "?";
}

struct Outcome {
  Status status = Status::Error;
  std::string detail;   // the reason (excluded), what differs (mismatch) or what failed (error)
  std::string dialect;  // the importer that handled it, when the import succeeded
};

Outcome error(std::string s) { return {Status::Error, std::move(s), ""}; }

std::string one_line(std::string s) {
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '|', '/');
  return s;
}

// The narrowest integer type holding every value (float inputs of an integer-deployable graph hold integers of
// the type a user would declare with --input-dtype).
DType narrowest_input_dtype(const std::vector<const Values*>& inputs) {
  double lo = 0, hi = 0;
  for (const Values* v : inputs)
    for (double x : v->v) lo = std::min(lo, x), hi = std::max(hi, x);
  for (DType t : {DType::UInt8, DType::Int8, DType::Int16, DType::Int32}) {
    ValueRange r = dtype_range(t);
    if (lo >= static_cast<double>(r.lo) && hi <= static_cast<double>(r.hi)) return t;
  }
  return DType::Int32;
}

Outcome run_case(const Case& c) {
  const fs::path dir = fs::path(DORY_ONNX_TESTDATA) / c.name;
  onnx::ModelProto model;
  {
    std::ifstream f(dir / "model.onnx", std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    if (!f || !model.ParseFromString(ss.str())) return error("cannot read " + (dir / "model.onnx").string());
  }
  onnx::GraphProto& graph = *model.mutable_graph();
  std::vector<onnx::ValueInfoProto> graph_inputs;  // inputs that are not initializers, in order
  for (const auto& in : graph.input()) {
    bool init = false;
    for (const auto& t : graph.initializer()) init |= t.name() == in.name();
    if (!init) graph_inputs.push_back(in);
  }
  std::vector<onnx::TensorProto> inputs(graph_inputs.size()), outputs;
  for (size_t i = 0; i < graph_inputs.size(); ++i)
    if (!read_tensor(dir / "test_data_set_0" / ("input_" + std::to_string(i) + ".pb"), inputs[i]))
      return error("cannot read input_" + std::to_string(i) + ".pb");
  for (int k = 0;; ++k) {
    onnx::TensorProto t;
    fs::path p = dir / "test_data_set_0" / ("output_" + std::to_string(k) + ".pb");
    if (!fs::exists(p)) break;
    if (!read_tensor(p, t)) return error("cannot read " + p.filename().string());
    outputs.push_back(std::move(t));
  }

  // Bind the inputs that are weights or parameters as initializers; keep the data inputs.
  auto is_data = [&](size_t i) { return std::find(c.data.begin(), c.data.end(), static_cast<int>(i)) != c.data.end(); };
  graph.clear_input();
  std::vector<size_t> data_index;
  for (size_t i = 0; i < graph_inputs.size(); ++i) {
    if (is_data(i)) {
      *graph.add_input() = graph_inputs[i];
      data_index.push_back(i);
    } else {
      onnx::TensorProto t = inputs[i];
      t.set_name(graph_inputs[i].name());
      *graph.add_initializer() = t;
    }
  }

  // Float data that only a QuantizeLinear reads is quantized by the graph; other float data must hold integers.
  std::vector<Values> data;
  std::vector<const Values*> integer_float_inputs;
  for (size_t j = 0; j < data_index.size(); ++j) {
    data.push_back(values_of(inputs[data_index[j]]));
    const Values& v = data.back();
    if (!v.is_float()) continue;
    bool quantized = true;
    for (const auto& n : graph.node())
      for (const auto& in : n.input())
        if (in == graph_inputs[data_index[j]].name() && n.op_type() != "QuantizeLinear") quantized = false;
    if (quantized) continue;
    for (size_t k = 0; k < v.v.size(); ++k)
      if (std::floor(v.v[k]) != v.v[k])
        return {Status::Excluded,
                "input_" + std::to_string(data_index[j]) + " is " + kNonIntegerInput + " (element " +
                    std::to_string(k) + " = " + number_text(v.v[k]) + "); dory's IR computes on integers only",
                ""};
    integer_float_inputs.push_back(&v);
  }

  ImportOptions opts;
  opts.dialect = c.dialect;
  opts.input_dtype = narrowest_input_dtype(integer_float_inputs);
  opts.allow_asymmetric_weights = true;
  std::string bytes;
  model.SerializeToString(&bytes);
  Expected<Graph> g = import_onnx_bytes(bytes, c.name, opts);
  if (!g.ok()) {
    const Diagnostic& d = g.error();
    return {Status::Excluded, one_line("import: [" + d.code + "] " + d.location + ": " + d.message), ""};
  }
  Outcome out;
  out.dialect = g->dialect;
  if (g->inputs.size() != data.size())
    return {Status::Error, "the graph has " + std::to_string(g->inputs.size()) + " inputs, the case feeds " +
                               std::to_string(data.size()), g->dialect};

  std::vector<std::vector<int32_t>> ir_inputs;
  for (size_t i = 0; i < data.size(); ++i) {
    const Tensor& t = g->tensor(g->inputs[i]);
    if (g->input_quant[i]) {
      std::vector<float> f(data[i].v.begin(), data[i].v.end());
      ir_inputs.push_back(quantize_edge(*g->input_quant[i], t.shape, f));
    } else {
      ir_inputs.emplace_back(data[i].v.begin(), data[i].v.end());
    }
  }
  Expected<ReferenceResult> r = run_reference(g.value(), ir_inputs);
  if (!r.ok()) return {Status::Error, "reference: " + one_line(r.error().str()), g->dialect};

  if (g->outputs.size() != outputs.size())
    return {Status::Error, "the graph has " + std::to_string(g->outputs.size()) + " outputs, ONNX expects " +
                               std::to_string(outputs.size()), g->dialect};
  int64_t compared = 0;
  for (size_t k = 0; k < outputs.size(); ++k) {
    const Values want = values_of(outputs[k]);
    const Tensor& t = g->tensor(g->outputs[k]);
    const std::string name = "output_" + std::to_string(k);
    if (t.shape != want.shape)
      return {Status::Mismatch, name + " has shape " + shape_text(t.shape) + ", ONNX " + shape_text(want.shape),
              g->dialect};
    std::vector<int32_t> got = tensor_onnx_values(g.value(), r.value(), g->outputs[k]);
    if (g->output_dequant[k]) {
      if (want.type != onnx::TensorProto::FLOAT) return {Status::Error, name + " is not float32", g->dialect};
      std::vector<float> f = dequantize_edge(*g->output_dequant[k], t.shape, got);
      for (size_t i = 0; i < f.size(); ++i) {
        const float w = static_cast<float>(want.v[i]);
        if (std::memcmp(&f[i], &w, sizeof(float)) != 0)
          return {Status::Mismatch, name + "[" + std::to_string(i) + "] = " + number_text(f[i]) + ", ONNX " +
                                        number_text(w), g->dialect};
      }
    } else {
      for (size_t i = 0; i < got.size(); ++i)
        if (static_cast<double>(got[i]) != want.v[i])
          return {Status::Mismatch, name + "[" + std::to_string(i) + "] = " + std::to_string(got[i]) + ", ONNX " +
                                        number_text(want.v[i]), g->dialect};
    }
    compared += static_cast<int64_t>(got.size());
  }
  out.status = Status::Match;
  out.detail = std::to_string(compared) + " values equal";
  if (opts.input_dtype != DType::UInt8 && !integer_float_inputs.empty())
    out.detail += std::string(" (float input declared ") + dtype_name(opts.input_dtype) + ")";
  return out;
}

bool as_expected(const Case& c, const Outcome& o) {
  if (c.expect == Expect::Match) return o.status == Status::Match;
  return o.status == Status::Excluded && o.detail.find(c.reason) != std::string::npos;
}

bool have_testdata() { return fs::is_directory(DORY_ONNX_TESTDATA); }

// ---- tests ---------------------------------------------------------------------------------------------------

class OnnxNodeTest : public testing::TestWithParam<Case> {};

TEST_P(OnnxNodeTest, MatchesOnnxExactlyOrIsExcludedForItsStatedReason) {
  if (!have_testdata()) GTEST_SKIP() << "libonnx-testdata is not installed (" << DORY_ONNX_TESTDATA << ")";
  const Case& c = GetParam();
  Outcome o = run_case(c);
  if (c.expect == Expect::Match)
    EXPECT_EQ(std::string(status_name(o.status)), "match") << o.detail;
  else
    EXPECT_TRUE(as_expected(c, o)) << "expected excluded for '" << c.reason << "', got " << status_name(o.status)
                                   << ": " << o.detail;
}

INSTANTIATE_TEST_SUITE_P(LibOnnxTestdata, OnnxNodeTest, testing::ValuesIn(kCases),
                         [](const testing::TestParamInfo<Case>& info) {
                           std::string n = info.param.name;
                           n = n.rfind("test_", 0) == 0 ? n.substr(5) : n;
                           if (info.param.dialect != Dialect::Auto)
                             n += std::string("_as_") + dialect_name(info.param.dialect);
                           return n;
                         });

TEST(OnnxConformanceReport, EveryCaseBehavesAsDeclaredAndTheTableIsWritten) {
  if (!have_testdata()) GTEST_SKIP() << "libonnx-testdata is not installed (" << DORY_ONNX_TESTDATA << ")";
  std::ostringstream md;
  int match = 0, excluded = 0, bad = 0;
  std::ostringstream rows;
  for (const Case& c : kCases) {
    Outcome o = run_case(c);
    const bool ok = as_expected(c, o);
    EXPECT_TRUE(ok) << c.name << ": " << status_name(o.status) << ": " << o.detail;
    (o.status == Status::Match ? match : o.status == Status::Excluded ? excluded : bad) += 1;
    std::string name = std::string(c.name).substr(5);
    if (c.dialect != Dialect::Auto) name += std::string(" (dialect forced: ") + dialect_name(c.dialect) + ")";
    rows << "| " << name << " | " << status_name(o.status) << (ok ? "" : " (unexpected)") << " | "
         << (o.dialect.empty() ? "-" : o.dialect) << " | " << one_line(o.detail) << " |\n";
  }
  md << "ONNX node tests from libonnx-testdata (" << DORY_ONNX_TESTDATA << "), run by `conformance_tests` "
     << "(tests/conformance/onnx_node_test.cpp). " << kCases.size() << " cases: " << match << " match exactly, "
     << excluded << " excluded, " << bad << " failing.\n\n"
     << "| case | status | dialect | detail |\n|---|---|---|---|\n"
     << rows.str();
  std::ofstream f(DORY_CONFORMANCE_REPORT);
  f << md.str();
  EXPECT_TRUE(f.good()) << "cannot write " << DORY_CONFORMANCE_REPORT;
}

}  // namespace
}  // namespace dory
