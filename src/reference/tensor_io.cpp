#include "reference/tensor_io.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <random>
#include <filesystem>
#include <set>

#include "ir/edge.h"
#include "ir/layout.h"

namespace dory {
namespace {

std::vector<int64_t> squeeze(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s;
  for (int64_t d : shape)
    if (d != 1) s.push_back(d);
  return s;
}

std::string npy_shape_str(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

bool has_npy_magic(const std::string& bytes) { return bytes.size() >= 6 && bytes.compare(0, 6, "\x93NUMPY") == 0; }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

NpyDType npy_dtype_of(DType t) {
  switch (t) {
    case DType::Int8: return NpyDType::Int8;
    case DType::UInt8: return NpyDType::UInt8;
    case DType::Int16: return NpyDType::Int16;
    case DType::UInt16: return NpyDType::UInt16;
    case DType::Int32: return NpyDType::Int32;
  }
  return NpyDType::Int32;
}

Expected<std::vector<int32_t>> graph_input_from_array(const Graph& g, size_t index, const NpyArray& a,
                                                      const std::string& origin) {
  DORY_CHECK(index < g.inputs.size(), "graph input index out of range");
  const Tensor& t = g.tensor(g.inputs[index]);
  const std::string where = fmt::format("file '{}'", origin);
  if (a.shape != t.shape && squeeze(a.shape) != squeeze(t.shape))
    return make_error("input-shape", where,
                      fmt::format("holds an array of shape {}, but input '{}' has shape {}", npy_shape_str(a.shape),
                                  t.name, shape_str(t.shape)),
                      t.is_feature_map() ? "feature maps are given in ONNX (NCHW) order; transpose an HWC image "
                                           "with a.transpose(2, 0, 1)"
                                         : "");
  const bool quantize = index < g.input_quant.size() && g.input_quant[index] && !npy_dtype_is_integer(a.dtype);
  if (quantize) {
    std::vector<float> x(a.values.begin(), a.values.end());
    return quantize_edge(*g.input_quant[index], t.shape, x);
  }
  DORY_TRY(std::vector<int64_t> v, npy_integer_values(a, origin));
  const ValueRange r = t.range;
  std::vector<int32_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (!r.contains(v[i]))
      return make_error("input-range", where,
                        fmt::format("element {} is {}, outside the range [{}, {}] of input '{}' ({})", i, v[i], r.lo,
                                    r.hi, t.name, dtype_name(t.dtype)),
                        index < g.input_quant.size() && g.input_quant[index]
                            ? "this input is quantized from float: pass a float array to have dory quantize it"
                            : "pass the quantized integer input (e.g. raw pixels); for a signed input use "
                              "--input-type int8");
    out[i] = static_cast<int32_t>(v[i]);
  }
  return out;
}

Expected<std::vector<int32_t>> load_graph_input(const Graph& g, size_t index, const std::string& path) {
  DORY_CHECK(index < g.inputs.size(), "graph input index out of range");
  DORY_TRY(std::string bytes, read_file_bytes(path));
  const Tensor& t = g.tensor(g.inputs[index]);
  if (has_npy_magic(bytes)) {
    DORY_TRY(NpyArray a, decode_npy(bytes, path));
    return graph_input_from_array(g, index, a, path);
  }
  if (!ends_with(path, ".bin"))
    return make_error("input-format", fmt::format("file '{}'", path),
                      "is neither a NumPy .npy file nor a raw dump named *.bin",
                      fmt::format("save the input with numpy.save(), or as raw {} bytes in ONNX order named *.bin",
                                  dtype_name(t.dtype)));
  DORY_TRY(NpyArray a, decode_raw(bytes, npy_dtype_of(t.dtype), t.shape, path));
  return graph_input_from_array(g, index, a, path);
}

std::vector<int32_t> tensor_onnx_values(const Graph& g, const ReferenceResult& r, TensorId id) {
  DORY_CHECK(static_cast<size_t>(id) < r.values.size(), "tensor id outside the reference result");
  return to_onnx_order(g.tensor(id), r.values[static_cast<size_t>(id)]);
}

Status save_tensor_npy(const Graph& g, const ReferenceResult& r, TensorId id, const std::string& path) {
  const Tensor& t = g.tensor(id);
  const std::vector<int32_t> v = tensor_onnx_values(g, r, id);
  return write_npy(path, npy_dtype_of(t.dtype), t.shape, std::vector<int64_t>(v.begin(), v.end()));
}

Status save_output_dequantized_npy(const Graph& g, const ReferenceResult& r, size_t index, const std::string& path) {
  DORY_CHECK(index < g.outputs.size(), "graph output index out of range");
  const Tensor& t = g.tensor(g.outputs[index]);
  if (index >= g.output_dequant.size() || !g.output_dequant[index])
    return make_error("output-not-dequantized", fmt::format("output '{}'", t.name),
                      "is an integer output in the ONNX model (no DequantizeLinear follows it); there is no float "
                      "value to write",
                      "drop --dequantize");
  const std::vector<float> f = dequantize_edge(*g.output_dequant[index], t.shape, tensor_onnx_values(g, r, g.outputs[index]));
  return write_npy_float32(path, t.shape, f);
}

std::string sanitize_tensor_file_name(const std::string& name, TensorId id) {
  if (name.empty()) return fmt::format("tensor_{}", id);
  std::string s;
  for (char ch : name) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
                    ch == '_' || ch == '-';
    s += ok ? ch : '_';
  }
  if (s[0] == '.') s = "_" + s;
  return s;
}

Expected<std::vector<DumpedTensor>> dump_layer_outputs(const Graph& g, const ReferenceResult& r,
                                                       const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    return make_error("io-write", fmt::format("directory '{}'", dir),
                      fmt::format("cannot be created: {}", ec ? ec.message() : "a file of that name exists"));
  std::set<std::string> used;
  std::vector<DumpedTensor> dumped;
  nlohmann::json index = nlohmann::json::array();
  for (const Layer& l : g.layers) {
    const Tensor& t = g.tensor(l.output);
    std::string base = sanitize_tensor_file_name(t.name, l.output);
    if (used.count(base)) base += fmt::format("_{}", l.output);
    while (used.count(base)) base += "_";
    used.insert(base);
    const std::string path = (fs::path(dir) / (base + ".npy")).string();
    DORY_TRY_STATUS(save_tensor_npy(g, r, l.output, path));
    dumped.push_back({l.name, t.name, path});
    index.push_back({{"layer", l.name},
                     {"tensor", t.name},
                     {"file", base + ".npy"},
                     {"shape", t.shape},
                     {"dtype", dtype_name(t.dtype)}});
  }
  DORY_TRY_STATUS(write_file_bytes((fs::path(dir) / "index.json").string(), index.dump(2) + "\n"));
  return dumped;
}

std::vector<IndexedValue> top_values(const std::vector<int32_t>& values, size_t k) {
  std::vector<IndexedValue> all(values.size());
  for (size_t i = 0; i < values.size(); ++i) all[i] = {static_cast<int64_t>(i), values[i]};
  k = std::min(k, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(),
                    [](const IndexedValue& a, const IndexedValue& b) {
                      return a.value != b.value ? a.value > b.value : a.index < b.index;
                    });
  all.resize(k);
  return all;
}

std::vector<std::vector<int32_t>> random_graph_inputs(const Graph& g, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::vector<int32_t>> out;
  for (TensorId id : g.inputs) {
    const Tensor& t = g.tensor(id);
    const ValueRange r = dtype_range(t.dtype);
    std::uniform_int_distribution<int64_t> d(r.lo, r.hi);
    std::vector<int32_t> v(static_cast<size_t>(t.elements()));
    for (int32_t& x : v) x = static_cast<int32_t>(d(rng));
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace dory
