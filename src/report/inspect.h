// Inspect: what a network costs and how dory understood it, layer by layer.
//
// inspect() gathers, per layer in the graph's (topological) order: name, kind (layer_kind_name), the ONNX nodes
// fused into it, input and output shapes (ONNX order), the window (kernel, stride, padding top,left,bottom,right)
// of convolutions and pooling, MACs (layer_macs: multiply-accumulates of the exact computation), weight bytes
// (layer_weight_bytes: int8 weights, int32 bias, requantization constants), activation bytes read and written
// (every input tensor's and the output tensor's size in its dtype; a View moves no data but its bytes are
// listed), the requantization (requant_summary), and the output's dtype and proven value range (inclusive).
// Totals: MACs and weight bytes summed over layers, and the peak of simultaneously live activation bytes
// (peak_live_activation_bytes: views count once). It also lists the graph's inputs and outputs (with the float
// quantization of their ONNX edges), its dialect and its notes.
//
// Two renderings: an aligned text table for people and JSON (stable keys, plain integers) for scripts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "ir/graph.h"

namespace dory {

struct InspectTensor {
  std::string name;
  std::vector<int64_t> shape;  // ONNX shape
  std::string dtype;           // dtype_name()
  ValueRange range;            // proven, inclusive
  int32_t zero_point = 0;
  std::optional<double> scale;
  std::string layout;          // layout_name()
  int64_t bytes = 0;
  std::optional<EdgeQuant> edge;  // inputs: quantized from float in ONNX; outputs: dequantized in ONNX
};

struct InspectLayer {
  int index = 0;
  std::string name;
  std::string kind;                     // layer_kind_name()
  std::vector<std::string> onnx_nodes;  // provenance
  std::vector<InspectTensor> inputs;
  InspectTensor output;
  std::optional<Window> window;  // conv and pooling layers
  bool global_pool = false;      // global average pooling: the window is the whole map
  int32_t groups = 1;            // convolutions
  int64_t macs = 0;
  int64_t weight_bytes = 0;
  int64_t activation_bytes_in = 0;
  int64_t activation_bytes_out = 0;
  std::string requant;  // a one-line description; empty for layers that do not requantize
};

struct InspectReport {
  std::string dialect;
  std::vector<std::string> notes;
  std::vector<InspectTensor> inputs;
  std::vector<InspectTensor> outputs;
  std::vector<InspectLayer> layers;
  int64_t total_macs = 0;
  int64_t total_weight_bytes = 0;
  int64_t peak_live_activation_bytes = 0;
};

InspectReport inspect(const Graph& g);

// An aligned text table (one row per layer) followed by the requantizations, totals, inputs/outputs and notes.
std::string render_inspect_text(const InspectReport& r);
nlohmann::json inspect_to_json(const InspectReport& r);

}  // namespace dory
