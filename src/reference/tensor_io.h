// Tensor I/O: moving the values of a graph's tensors between files and the reference executor.
//
// Files are always in ONNX element order (NCHW for feature maps, as the ONNX model declares the tensor); the
// executor's values are in each tensor's storage order (see Layout in ir/tensor.h); these functions convert.
//
// Graph inputs are read from
//   - .npy (recognized by its magic, whatever the file name): any dtype util/npy.h reads. The array's shape must
//     be the input's ONNX shape up to dimensions of size 1 ([3,32,32] is accepted for [1,3,32,32]; a transposed
//     [32,32,3] is not). When the graph quantizes a float ONNX input (Graph::input_quant) and the array is float,
//     the values are quantized with quantize_edge() (ONNX QuantizeLinear). Otherwise the array must hold integers
//     (float arrays of integer values are accepted: integer-deployable models take float tensors) within the
//     input's dtype range; the first offending element is reported with its index.
//   - .bin: a raw dump of exactly elements() values of the input's integer dtype, little endian, ONNX order.
// Outputs and layer dumps are written as .npy in ONNX order with the tensor's integer dtype (dtype_name()), or as
// float32 after dequantize_edge() when the graph's output is dequantized in ONNX.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "reference/executor.h"
#include "util/npy.h"

namespace dory {

NpyDType npy_dtype_of(DType t);

// Graph input `index` from an array already read (origin names it in diagnostics).
Expected<std::vector<int32_t>> graph_input_from_array(const Graph& g, size_t index, const NpyArray& a,
                                                      const std::string& origin);
// Graph input `index` from a .npy or .bin file (format chosen as described above).
Expected<std::vector<int32_t>> load_graph_input(const Graph& g, size_t index, const std::string& path);

// The values of tensor `id` in ONNX order.
std::vector<int32_t> tensor_onnx_values(const Graph& g, const ReferenceResult& r, TensorId id);

// Writes tensor `id` as .npy (ONNX order, the tensor's dtype).
Status save_tensor_npy(const Graph& g, const ReferenceResult& r, TensorId id, const std::string& path);
// Writes graph output `index` dequantized to float32 (requires Graph::output_dequant[index]).
Status save_output_dequantized_npy(const Graph& g, const ReferenceResult& r, size_t index, const std::string& path);

// A file name for a tensor: its ONNX name with every character outside [A-Za-z0-9._-] replaced by '_' (so '/'
// and ':' cannot escape the directory), a leading '.' prefixed by '_', and "tensor_<id>" for an empty name.
std::string sanitize_tensor_file_name(const std::string& name, TensorId id);

struct DumpedTensor {
  std::string layer;   // the producing layer
  std::string tensor;  // the ONNX tensor name
  std::string file;    // path of the .npy written
};
// Writes one .npy per layer output into `dir` (created if needed), named sanitize_tensor_file_name(name) + ".npy"
// (names that collide after sanitizing get "_<tensor id>" appended), plus `index.json` mapping tensors to files.
Expected<std::vector<DumpedTensor>> dump_layer_outputs(const Graph& g, const ReferenceResult& r,
                                                       const std::string& dir);

// The k largest values (ties: lower index first) with their flat ONNX-order indices.
struct IndexedValue {
  int64_t index = 0;
  int32_t value = 0;
};
std::vector<IndexedValue> top_values(const std::vector<int32_t>& values, size_t k);

// Deterministic pseudo-random values for every graph input (ONNX order), uniform over each input's dtype
// range: the input `dory deploy` and `dory run` use when none is given.
std::vector<std::vector<int32_t>> random_graph_inputs(const Graph& g, uint64_t seed);

}  // namespace dory
