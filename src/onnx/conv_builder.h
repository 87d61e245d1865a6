// The one builder of a Conv2d layer from an ONNX convolution node, shared by the three dialect importers
// (integer_deployable.cpp: Conv; qdq.cpp: Conv between DequantizeLinear and QuantizeLinear; qoperator.cpp:
// QLinearConv, ConvInteger). Each importer works out what only it knows (which value is the activation and its
// zero point, the integer weights, the bias and the requantization) and calls build_conv for everything the
// dialects share, so the checks cannot drift apart:
//   - the input is a batch-1 [1,C,H,W] feature map and the weights are rank 4 ([C_out][C_in/group][K_h][K_w]);
//   - group: 1 <= group <= C_in, dividing C_in and C_out, and the weights' C_in/group matches the input
//     (onnx-bad-attribute / onnx-shape-mismatch; whether dory can run that group is the IR's check,
//     ir-unsupported-groups);
//   - the window (kernel from the weights, strides, pads, auto_pad, dilations 1) by parse_window;
//   - an explicit Pad before the node (IntegerPad) is absorbed into the window: a convolution pads with its input
//     zero point, so the padded cells must hold exactly that integer (else onnx-unsupported-pattern, naming both
//     nodes and the two values);
//   - the output is at least 1x1 (onnx-shape-mismatch otherwise); padding as large as the kernel or larger is
//     legal (windows of padding only compute requant(bias));
//   - the weights become dory's [C_out][K_h][K_w][C_in/group] order, checked to be int32 integers.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "onnx/onnx_model.h"
#include "util/diagnostic.h"

namespace dory::onnxfe {

// An explicit constant Pad (or a chain of them) waiting for the Conv or pool that reads its output: the amounts
// and the value of the padded cells, in the integers of the tensor it pads (each dialect converts its Pad's
// constant into those integers).
struct IntegerPad {
  Padding pad;
  int64_t value = 0;
  std::string pad_node;  // the (first) Pad node's label, for messages
};

// The activation a convolution reads.
struct ConvOperand {
  const Tensor* x = nullptr;  // the IR tensor (before the Pad, if any)
  int32_t zero_point = 0;     // its zero point: the value of padded positions
  std::optional<IntegerPad> pad;
};

struct ConvBuild {
  Conv2d conv;                     // win, groups, weights, input_zero_point; bias all zero (C_out values)
  std::vector<int64_t> out_shape;  // [1, C_out, H_out, W_out]
  int64_t c_out() const { return out_shape[1]; }
};

// The Conv2d of node `n` reading `x` with the integer weights `w` (ONNX order, named `w_name` in messages).
Expected<ConvBuild> build_conv(const Node& n, const ConvOperand& x, const ConstTensor& w, const std::string& w_name);

// Adds an explicit Pad's amounts to a window's own padding.
void add_padding(Padding& to, const Padding& more);

}  // namespace dory::onnxfe
