// Graph: the integer network as a DAG of layers over tensors, plus the analyses every later stage relies on.
//
// Edges are explicit (a layer names its input and output tensors); `layers` is kept in a topological order
// (sort_topologically), which is an order of the DAG, not of the ONNX file. Invariants after check_graph():
//   - every tensor has exactly one producer (a layer) or is a graph input;
//   - shapes are consistent with every layer's parameters;
//   - every tensor's range is proven (analyze_ranges) and fits its dtype; every accumulator provably fits int32
//     in any summation order; every requant's intermediates fit the width it is marked with.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ir/edge.h"
#include "ir/layers.h"
#include "util/diagnostic.h"

namespace dory {

struct Graph {
  std::vector<Tensor> tensors;
  std::vector<Layer> layers;
  std::vector<TensorId> inputs;
  std::vector<TensorId> outputs;
  std::string dialect;             // "integer-deployable", "qdq", "qoperator"
  std::vector<std::string> notes;  // things the user should know (e.g. a trailing Sigmoid left to the host)
  // Float edges: input i is float in ONNX and quantized on the host (nullopt: the ONNX input is integer-valued
  // already); output i is dequantized by a trailing DequantizeLinear in ONNX (nullopt: integer output).
  std::vector<std::optional<EdgeQuant>> input_quant;
  std::vector<std::optional<EdgeQuant>> output_dequant;

  TensorId add_tensor(Tensor t) {
    tensors.push_back(std::move(t));
    return static_cast<TensorId>(tensors.size() - 1);
  }
  Tensor& tensor(TensorId id) { return tensors.at(static_cast<size_t>(id)); }
  const Tensor& tensor(TensorId id) const { return tensors.at(static_cast<size_t>(id)); }
  // The layer producing tensor `id`, or -1 for a graph input.
  int producer(TensorId id) const;
  std::vector<int> consumers(TensorId id) const;
};

// Orders layers so that every layer follows the producers of its inputs; ties keep the current order.
Status sort_topologically(Graph& g);

// [first, last] layer indices (in topological order) during which a tensor's storage must stay alive: from
// its producer (-1 for inputs) to its last consumer (graph outputs live to the end). A View extends the life of
// the tensor whose storage it aliases.
struct Lifetime {
  int first = -1;
  int last = -1;
};
std::vector<Lifetime> tensor_lifetimes(const Graph& g);
// The tensor whose storage `id` aliases through Views (itself if it owns its storage).
TensorId storage_owner(const Graph& g, TensorId id);

// Concat slices: a Concat moves no data; each of its inputs is written straight into its channel slice of the
// concat output, so the input's elements live there, interleaved (pixel stride = the output's channels). The
// rule, THE one the tiler's geometry (tiler/geometry.h) and the memory plan (memplan/memplan.h) follow: a tensor
// that some Concat reads lives in the slice of its FIRST Concat reader (in layer order), at its first occurrence
// among that Concat's inputs, and so on outwards (a concat of concats). Which such tensors really get written
// there (not a View's output, not a tensor of a second Concat) is the memory plan's and check_concat_storage's
// business; this is only where they would be.
struct ChannelSlice {
  TensorId storage = -1;       // the outermost concat output holding the tensor (itself when no Concat reads it)
  int64_t pixel_channels = 0;  // channels per pixel of that storage
  int64_t first_channel = 0;   // the tensor's first channel there
};
// Per tensor: the first Concat layer (index in Graph::layers) reading it, -1 for none.
std::vector<int> first_concat_readers(const Graph& g);
// The slice of `t` under the rule above; `first_concat` is first_concat_readers(g).
ChannelSlice concat_slice(const Graph& g, const std::vector<int>& first_concat, TensorId t);
// Peak over the schedule of the bytes of simultaneously live activation tensors (views count once), each tensor's
// bytes rounded up to a multiple of `alignment` (what a memory plan reserves per tensor at that alignment).
int64_t peak_live_activation_bytes(const Graph& g, int64_t alignment = 1);

// Shape checks for every layer (diagnostics name the layer).
Status check_shapes(const Graph& g);
// Value-range analysis: proves accumulator and requant bounds, sets Tensor::range, derived dtypes and
// Requant::wide. Fails with a diagnostic naming the layer when a bound cannot be proven.
Status analyze_ranges(Graph& g);
// sort_topologically + check_shapes + analyze_ranges.
Status check_graph(Graph& g);

// Derived facts used by reports and later stages.
ConvKind conv_kind(const Graph& g, const Layer& l);
std::string layer_kind_name(const Graph& g, const Layer& l);  // "conv", "depthwise", "pointwise", "fc", ...
int64_t layer_macs(const Graph& g, const Layer& l);
int64_t layer_weight_bytes(const Graph& g, const Layer& l);  // weights (int8) + bias (int32) + requant params

// Output spatial size of a window: floor((in + pads - k) / stride) + 1. Returns <= 0 if the window does not fit.
int64_t window_out(int64_t in, int32_t k, int32_t stride, int32_t pad_before, int32_t pad_after);
// Whether some output position's window lies wholly in the padding, reading no input element (along one axis;
// for a 2-D window, along either). Legal: ONNX lets padding reach or exceed the kernel. A convolution computes
// requant(bias) there; a max pool without a pad value, or an average pool that does not count padded slots, has
// no defined value there (the maximum of nothing, 0/0), so the IR rejects those (ir-empty-window).
bool axis_has_padding_only_window(int64_t in, int32_t k, int32_t stride, int32_t pad_before, int32_t pad_after);
bool has_padding_only_window(const Window& w, int64_t h, int64_t width);

}  // namespace dory
