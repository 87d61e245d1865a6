// The layer kinds of dory's integer IR. Each is a plain typed value; a Layer wraps one with its edges.
//
// Semantics (one definition; the reference executor implements exactly this, see docs/semantics.md):
//   Conv2d          acc[c] = bias[c] + sum_{ky,kx,ci} (x[ci] - input_zero_point) * w[c][ky][kx][ci]; padded
//                   positions hold input_zero_point (so they add 0). groups is 1 (standard; pointwise when the
//                   kernel is 1x1) or C_in == C_out (depthwise). Output: requant(acc), or raw int32 acc if none.
//   FullyConnected  acc[n] = bias[n] + sum_k (x[k] - input_zero_point) * w[n][k], k in the input's STORAGE order.
//   MaxPool         max over the window; padded positions are ignored (pad_value empty) or hold pad_value.
//   AveragePool     S = sum over the window of (x - input_zero_point), padded slots holding pad_value;
//                   cnt = window slots (count_include_pad) or in-bounds slots;
//                   y = clamp(floor((S*mul + add*cnt) / (divisor*cnt)) + zero_point, lo, hi), i.e. the requant of
//                   the exact window mean S/cnt. GlobalAveragePool is the window = whole map.
//   Add             t_i = R_i(((x_i - zp_i) * mul_i + add_i) / divisor_i) per operand (NEMO: mul_i, div 1;
//                   QuantLab: its in_mul/in_add/in_shift), then y = requant(sum_i t_i) (scalar requant).
//   Concat          along channels (ONNX axis 1).
//   Requantize      y = requant(x - input_zero_point), elementwise (a standalone Relu/Clip, or a rescale).
//   View            Flatten/Reshape: the output aliases the input's storage, no data moves.
#pragma once

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "ir/requant.h"
#include "ir/tensor.h"

namespace dory {

struct Padding {
  int32_t top = 0, left = 0, bottom = 0, right = 0;
  bool any() const { return top || left || bottom || right; }
  bool operator==(const Padding&) const = default;
};

// A 2-D sliding window: kernel, stride and (asymmetric) padding. Dilation is always 1.
struct Window {
  int32_t kh = 1, kw = 1;
  int32_t stride_h = 1, stride_w = 1;
  Padding pad;
};

enum class ConvKind { Standard, Depthwise, Pointwise };

struct Conv2d {
  Window win;
  int32_t groups = 1;
  std::vector<int32_t> weights;  // [C_out][Kh][Kw][C_in/groups]
  std::vector<int32_t> bias;     // [C_out]
  int32_t input_zero_point = 0;
  std::optional<Requant> requant;  // empty: the output is the raw int32 accumulator
};

struct FullyConnected {
  std::vector<int32_t> weights;  // [N][K], K in the input tensor's storage order
  std::vector<int32_t> bias;     // [N]
  int32_t input_zero_point = 0;
  std::optional<Requant> requant;
};

struct MaxPool {
  Window win;
  std::optional<int32_t> pad_value;
};

struct AveragePool {
  Window win;
  bool global = false;
  bool count_include_pad = true;
  int32_t input_zero_point = 0;
  int32_t pad_value = 0;  // value of padded slots (normally input_zero_point, contributing 0)
  Requant requant;        // default: floor(S / cnt)
};

struct AddOperand {
  int32_t zero_point = 0;
  int64_t mul = 1;
  int64_t add = 0;
  uint64_t divisor = 1;
  Rounding rounding = Rounding::Floor;
};

struct Add {
  std::vector<AddOperand> operands;  // one per input, in input order
  Requant requant;                   // scalar; applied to the sum of the operand terms
};

struct Concat {};

struct Requantize {
  int32_t input_zero_point = 0;
  Requant requant;  // per channel: ONNX axis 1
};

struct View {};

using LayerOp = std::variant<Conv2d, FullyConnected, MaxPool, AveragePool, Add, Concat, Requantize, View>;

struct Layer {
  std::string name;                     // usually the ONNX node that starts the fused pattern
  LayerOp op;
  std::vector<TensorId> inputs;
  TensorId output = -1;
  std::vector<std::string> onnx_nodes;  // provenance: every ONNX node fused into this layer

  template <class T> const T* as() const { return std::get_if<T>(&op); }
  template <class T> T* as() { return std::get_if<T>(&op); }
};

}  // namespace dory
