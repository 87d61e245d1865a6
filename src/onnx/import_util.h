// Helpers shared by the three dialect importers: ONNX attribute parsing for windows (Conv/Pool), weight
// reordering into dory's layouts, explicit-Pad absorption, and tensor creation with the right storage layout.
//
// Layout rules (see ir/tensor.h): a rank-4 [1,C,H,W] activation that a spatial layer reads or writes is HWC;
// Flatten/Reshape of an HWC map to [1, C*H*W] is a View with FlattenedHWC layout; a FullyConnected layer reading
// such a view gets its weights permuted once here (fc_weights_for_input), so no data moves at run time.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "onnx/onnx_model.h"

namespace dory::onnxfe {

// Explicit Pad node waiting to be absorbed by the Conv/Pool that consumes it.
struct PendingPad {
  Padding pad;
  double value = 0;  // the constant the ONNX Pad writes
  std::string node;  // the Pad node's label (the first of a chain), for messages
};

// Parses kernel_shape/strides/pads/auto_pad/dilations/ceil_mode of a 2-D Conv or Pool node reading an input of
// spatial size h x w. `kernel` overrides kernel_shape (taken from the weights for Conv). ceil_mode is accepted
// when it does not change the output, or for MaxPool, where it is the same as extra end padding that is ignored.
Expected<Window> parse_window(const Node& n, int64_t h, int64_t w, std::optional<std::pair<int32_t, int32_t>> kernel,
                              bool is_maxpool);

// A pool that ignores padded positions (MaxPool without an explicit Pad's value; AveragePool with
// count_include_pad = 0) has no value at a window of padding only (the maximum of nothing, 0/0): ONNX leaves it
// undefined, onnxruntime refuses such pads. Fails with onnx-empty-window naming the node when `w` on an h x width
// input has such a window (padding as large as the kernel is otherwise legal: see has_padding_only_window).
Status check_pool_windows(const Node& n, const Window& w, int64_t h, int64_t width);

// Adds an explicit Pad's amounts to a window (the Pad must pad only H and W, with mode "constant").
Expected<PendingPad> parse_pad_node(const Node& n, const OnnxModel& m,
                                    const std::vector<const ConstTensor*>& const_inputs, int64_t rank);

// ONNX conv weights [Cout][Cin/g][Kh][Kw] -> dory [Cout][Kh][Kw][Cin/g], checking they are integers.
Expected<std::vector<int32_t>> conv_weights_to_dory(const Node& n, const std::string& name, const ConstTensor& w);
// FC weights for an input tensor: `w_nk` is [N][K] in ONNX element order of the input; returns [N][K] in the
// input's storage order (permuted for a FlattenedHWC input).
std::vector<int32_t> fc_weights_for_input(const Tensor& input, const std::vector<int32_t>& w_nk, int64_t n_out);

// Integer values of a constant, or a diagnostic naming the node and constant (first non-integer value + index).
Expected<std::vector<int64_t>> integer_values(const Node& n, const std::string& name, const ConstTensor& c,
                                              const char* what);
// Same, narrowed to int32 with a range check.
Expected<std::vector<int32_t>> int32_values(const Node& n, const std::string& name, const ConstTensor& c,
                                            const char* what);

// A per-channel parameter given as a constant broadcastable to [1,C,H,W] (shapes [], [1], [C], [C,1,1],
// [1,C,1,1], ...): returns 1 value (per tensor) or C values. Fails if it varies along another axis.
Expected<std::vector<double>> per_channel_values(const Node& n, const std::string& name, const ConstTensor& c,
                                                 int64_t channels, int64_t rank);

// New activation tensor named `name` of ONNX shape `shape`: HWC if rank 4, else row-major.
Tensor make_activation(const std::string& name, std::vector<int64_t> shape);
// The tensor a Flatten/Reshape view of `in` to `shape` produces, or a diagnostic if dory cannot express it
// as a view (reshaping an HWC map to anything but [1, C*H*W]).
Expected<Tensor> make_view(const Node& n, const Tensor& in, const std::string& name, std::vector<int64_t> shape);
// The target shape of a Flatten (axis) or Reshape (constant shape input) applied to `in_shape`.
Expected<std::vector<int64_t>> view_shape(const Node& n, const std::vector<int64_t>& in_shape,
                                          const ConstTensor* reshape_target);

// DType of an ONNX integer element type usable for activations, or a diagnostic.
Expected<DType> activation_dtype(int32_t elem_type, const std::string& where);

// Whether an ONNX element type is a float type (float, double, float16).
bool is_float_type(int32_t elem_type);

// The shape dory compiles for a graph input: a symbolic batch (dimension 0) becomes 1; no shape, or another
// symbolic dimension, is an "onnx-unknown-shape" diagnostic naming the input.
Expected<std::vector<int64_t>> graph_input_shape(const ValueInfo& in);

// A double converted to int64 without undefined behaviour: NaN -> 0, values beyond +-2^62 saturate there. For
// bounds and values that are clamped to 32-bit ranges afterwards anyway.
int64_t saturating_int64(double v);

// Folds `n` when every input is a constant (Shape needs only its input's shape): the one folding rule of the
// importers that walk the graph. `constant(name)` gives a value's constant or nullptr; `shape_of(name)` the shape
// of a non-constant value. Returns the outputs, or nullopt when the node is not folded.
template <class ConstantOf, class ShapeOf>
Expected<std::optional<std::vector<ConstTensor>>> fold_if_constant(const Node& n, int64_t opset, ConstantOf constant,
                                                                   ShapeOf shape_of) {
  bool all_const = true;
  std::vector<const ConstTensor*> cin;
  std::vector<std::vector<int64_t>> shapes;
  for (const std::string& in : n.inputs) {
    const ConstTensor* c = in.empty() ? nullptr : constant(in);
    if (!in.empty() && !c) all_const = false;
    cin.push_back(c);
    shapes.push_back(in.empty() ? std::vector<int64_t>{} : shape_of(in));
  }
  if (n.op_type != "Constant" && !((all_const || n.op_type == "Shape") && is_foldable_op(n.op_type)))
    return std::optional<std::vector<ConstTensor>>{};
  DORY_TRY(std::vector<ConstTensor> outs, eval_constant_node(n, cin, shapes, opset));
  return std::optional<std::vector<ConstTensor>>(std::move(outs));
}

// Fails unless the shape is plausible for a microcontroller activation (dims >= 1, at most 2^26 elements).
Status check_activation_size(const std::string& where, const std::vector<int64_t>& shape);

// Layer names: the ONNX node name, or "<op>_<index>" for unnamed nodes.
std::string layer_name(const Node& n);

// Ops dory leaves to the host when they end the graph (DORY does the same).
bool is_host_tail_op(const std::string& op);

}  // namespace dory::onnxfe
