// The QOperator dialect (onnxruntime's quantize_static with QuantFormat.QOperator, ONNX's own QLinear* ops):
// integer tensors between quantized operators, with QuantizeLinear/DequantizeLinear only at the graph's edges.
//
// What maps to what:
//   QLinearConv     -> Conv2d, input_zero_point = x_zp, bias B (int32), requant of M[c] = s_x * s_w[c] / s_y by
//                      the rule of onnx/real_multiplier.h, clamp to y's type (uint8 or int8).
//   ConvInteger     -> Conv2d without requant: the raw int32 accumulator.
//   QLinearMatMul   -> FullyConnected (with requant); MatMulInteger -> FullyConnected (raw int32).
//                      One operand must be constant (the weights), the other an activation of rank 2 or 3. dory's
//                      FC is one matrix-vector product over the whole input, so a MatMul with several rows (or a
//                      batch) becomes one FC whose weights are block-diagonal: output (b, m, n) reads only row
//                      (b, m) of the input. Exact; the weights grow by the number of rows (a note says so).
//   MaxPool         -> MaxPool on the integer tensor (its own padding ignored).
//   Pad             (constant, on an integer activation; onnxruntime keeps Pad as an op on the quantized tensor,
//                      with the zero point as its constant) -> no layer: the QLinearConv/ConvInteger reading it
//                      absorbs it when the constant is its x_zero_point, a MaxPool with the constant as pad value.
//   Relu, Clip      -> Requantize with m = 1, D = 1 and the clamp, on the raw integers (as ONNX computes them on
//                      integer tensors).
//   Flatten/Reshape -> View; Identity aliases; constant sub-graphs (Shape/Gather/Concat...) fold.
//   QuantizeLinear  on a float graph input: the input becomes integer, quantized on the host (Graph::input_quant).
//   DequantizeLinear producing a graph output: the output stays integer, dequantized on the host
//                      (Graph::output_dequant).
// dory's weights are symmetric: a non-zero weight zero point is rejected ("onnx-weight-zero-point"); uint8
// weights with zero point 0 are kept as their values 0..255. Activation zero points are per tensor.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "onnx/conv_builder.h"
#include "onnx/dialects.h"
#include "onnx/import_util.h"
#include "onnx/real_multiplier.h"

namespace dory::onnxfe {
namespace {

constexpr const char* kSupported =
    "QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger, MaxPool, Relu, Clip, Pad (before a QLinearConv, "
    "ConvInteger or MaxPool), Flatten, Reshape, Identity, QuantizeLinear (on graph inputs) and DequantizeLinear (on "
    "graph outputs)";
constexpr int64_t kMaxLoweredWeights = int64_t{1} << 24;  // block-diagonal FC lowering: 16 M weights at most

int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

// A DequantizeLinear at the output edge: the integer tensor and how the host dequantizes it.
struct DequantizedOutput {
  TensorId id = -1;
  EdgeQuant q;
};

class QOperatorImporter {
 public:
  QOperatorImporter(const OnnxModel& m, const ImportOptions& o) : m_(m), opt_(o), consts_(m.constants) {}

  Expected<Graph> run() {
    for (size_t i = 0; i < m_.inputs.size(); ++i) DORY_TRY_STATUS(add_input(m_.inputs[i]));
    for (const Node& n : m_.nodes) DORY_TRY_STATUS(visit(n));
    DORY_TRY_STATUS(add_outputs());
    return std::move(g_);
  }

 private:
  const OnnxModel& m_;
  const ImportOptions& opt_;
  Graph g_;
  std::map<std::string, ConstTensor> consts_;     // initializers, Constant nodes and folded values
  std::map<std::string, TensorId> acts_;          // integer activations
  std::set<std::string> quantized_inputs_;        // QuantizeLinear outputs bound to a graph input
  std::map<std::string, DequantizedOutput> dq_;   // DequantizeLinear outputs (graph outputs only)
  std::map<std::string, IntegerPad> pads_;        // activations that are the output of a Pad (value in integers)

  // ---- values -------------------------------------------------------------------------------------------

  const ConstTensor* constant(const Node& n, size_t k) const {
    if (k >= n.inputs.size() || n.inputs[k].empty()) return nullptr;
    auto it = consts_.find(n.inputs[k]);
    return it == consts_.end() ? nullptr : &it->second;
  }
  bool has_input(const Node& n, size_t k) const { return k < n.inputs.size() && !n.inputs[k].empty(); }

  Expected<const ConstTensor*> required_constant(const Node& n, size_t k, const char* what) const {
    if (!has_input(n, k))
      return make_error("onnx-missing-input", n.label(), fmt::format("the {} (input {}) is missing", what, k));
    const ConstTensor* c = constant(n, k);
    if (!c)
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("the {} '{}' (input {}) must be a constant (an initializer); dory computes it "
                                    "at compile time",
                                    what, n.inputs[k], k),
                        "export the model with its weights and quantization parameters as initializers");
    return c;
  }

  // The integer activation read by input k. The output of a Pad is read only by the ops that absorb it
  // (allow_pad: QLinearConv, ConvInteger, MaxPool; they take the padding from padding(n, k)).
  Expected<TensorId> activation(const Node& n, size_t k, bool allow_pad = false) const {
    if (!has_input(n, k)) return make_error("onnx-missing-input", n.label(), fmt::format("input {} is missing", k));
    const std::string& name = n.inputs[k];
    auto it = acts_.find(name);
    if (it != acts_.end()) {
      if (auto p = pads_.find(name); p != pads_.end() && !allow_pad)
        return make_error("onnx-unsupported-pattern", n.label(),
                          fmt::format("reads '{}', the output of {}; dory absorbs a Pad only into the QLinearConv, "
                                      "ConvInteger or MaxPool that follows it",
                                      name, p->second.pad_node));
      return it->second;
    }
    if (consts_.count(name))
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("input '{}' is a constant where dory expects an activation", name));
    if (dq_.count(name))
      return make_error("onnx-float-compute", n.label(),
                        fmt::format("reads '{}', the float output of a DequantizeLinear; dory computes in integers "
                                    "only (DequantizeLinear is supported where it produces a graph output)",
                                    name),
                        "quantize this operator too (QOperator or QDQ form), or end the network before it");
    return make_error("onnx-float-compute", n.label(),
                      fmt::format("reads the float tensor '{}'; in a QOperator graph dory supports float values only "
                                  "as graph inputs that a QuantizeLinear quantizes",
                                  name),
                      "quantize the input with QuantizeLinear right after the graph input");
  }

  // ---- graph inputs -------------------------------------------------------------------------------------

  // The zero point and scale a consumer declares for its input slot `k`, if any.
  struct SlotQuant {
    const ConstTensor* zp = nullptr;
    const ConstTensor* scale = nullptr;
  };
  SlotQuant slot_quant(const Node& n, size_t k) const {
    const std::string& op = n.op_type;
    if (op == "QLinearConv" || op == "QLinearMatMul") {
      if (k == 0) return {constant(n, 2), constant(n, 1)};
      if (k == 3) return {constant(n, 5), constant(n, 4)};
    } else if (op == "ConvInteger" || op == "MatMulInteger") {
      if (k == 0) return {constant(n, 2), nullptr};
      if (k == 1 && op == "MatMulInteger") return {constant(n, 3), nullptr};
    } else if (op == "DequantizeLinear" && k == 0) {
      return {constant(n, 2), constant(n, 1)};
    }
    return {};
  }

  Status add_input(const ValueInfo& in) {
    const std::string where = fmt::format("input '{}'", in.name);
    DORY_TRY(std::vector<int64_t> shape, graph_input_shape(in));
    Tensor t = make_activation(in.name, std::move(shape));
    std::optional<EdgeQuant> quant;
    std::vector<std::string> quantized;  // the QuantizeLinear outputs that stand for this input
    if (is_float_type(in.elem_type)) {
      // Every consumer must be a QuantizeLinear with the same parameters.
      const Node* q = nullptr;
      for (int ci : m_.consumers(in.name)) {
        const Node& c = m_.nodes[static_cast<size_t>(ci)];
        if (c.op_type != "QuantizeLinear" || c.inputs[0] != in.name)
          return make_error("onnx-float-compute", c.label(),
                            fmt::format("reads the float graph input '{}'; dory computes in integers only, so a float "
                                        "input must go straight into QuantizeLinear",
                                        in.name),
                            "quantize the input with QuantizeLinear, or export an integer input");
        DORY_TRY(EdgeQuant eq, edge_quant(c, t.shape));
        if (q && (eq.scale != quant->scale || eq.zero_point != quant->zero_point || eq.dtype != quant->dtype ||
                  eq.axis != quant->axis))
          return make_error("onnx-unsupported-pattern", c.label(),
                            fmt::format("quantizes the graph input '{}' differently from {}; dory quantizes each input "
                                        "once",
                                        in.name, q->label()));
        q = &c;
        quant = eq;
        quantized.push_back(c.outputs.at(0));
      }
      if (!quant)
        return make_error("onnx-unsupported-pattern", where,
                          "is a float input that no QuantizeLinear reads; dory's inputs are integer tensors");
      t.dtype = quant->dtype;
      if (quant->scale.size() == 1) {
        t.zero_point = quant->zero_point[0];
        t.scale = quant->scale[0];
      }
    } else {
      DORY_TRY(DType dt, activation_dtype(in.elem_type, where));
      t.dtype = dt;
      for (int ci : m_.consumers(in.name)) {  // zero point and scale as the first quantized consumer declares
        const Node& c = m_.nodes[static_cast<size_t>(ci)];
        for (size_t k = 0; k < c.inputs.size(); ++k) {
          if (c.inputs[k] != in.name) continue;
          SlotQuant sq = slot_quant(c, k);
          if (sq.zp && sq.zp->size() == 1 && sq.zp->integral && t.zero_point == 0)
            t.zero_point = static_cast<int32_t>(sq.zp->i[0]);
          if (sq.scale && sq.scale->size() == 1 && !t.scale) t.scale = sq.scale->f[0];
        }
      }
    }
    t.dtype_declared = true;
    t.range = dtype_range(t.dtype);
    TensorId id = g_.add_tensor(std::move(t));
    g_.inputs.push_back(id);
    g_.input_quant.push_back(quant);
    acts_[in.name] = id;
    for (const std::string& qo : quantized) {
      acts_[qo] = id;
      quantized_inputs_.insert(qo);
    }
    return ok_status();
  }

  // Scale, zero point, axis and integer type of a QuantizeLinear/DequantizeLinear (inputs 1 and 2) applied to a
  // tensor of ONNX shape `shape`.
  Expected<EdgeQuant> edge_quant(const Node& n, const std::vector<int64_t>& shape) const {
    const int64_t rank = static_cast<int64_t>(shape.size());
    DORY_TRY(const ConstTensor* scale, required_constant(n, 1, "scale"));
    const ConstTensor* zp = constant(n, 2);
    if (has_input(n, 2) && !zp)
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("the zero point '{}' must be a constant", n.inputs[2]));
    EdgeQuant q;
    q.dtype = DType::UInt8;  // ONNX's default when the zero point is omitted
    if (zp) {
      DORY_TRY(DType dt, activation_dtype(zp->elem_type, n.label() + ", zero point"));
      if (dt != DType::UInt8 && dt != DType::Int8)
        return make_error("onnx-unsupported-dtype", n.label(),
                          fmt::format("quantizes to {}; dory's quantized edges are uint8 or int8", dtype_name(dt)));
      q.dtype = dt;
    }
    int64_t axis = n.attr_int("axis").value_or(1);
    if (axis < 0) axis += rank;
    if (scale->size() > 1) {
      if (axis < 0 || axis >= rank)
        return make_error("onnx-bad-attribute", n.label(), fmt::format("axis {} is out of range for rank {}", axis,
                                                                       rank));
      if (scale->shape.size() != 1 || scale->size() != shape[static_cast<size_t>(axis)])
        return make_error("onnx-shape-mismatch", n.label(),
                          fmt::format("a per-axis scale must be 1-D with one value per element of axis {} ({}); it "
                                      "has shape [{}]",
                                      axis, shape[static_cast<size_t>(axis)], fmt::join(scale->shape, ",")));
    }
    q.axis = static_cast<int>(axis);
    for (double s : scale->f) {
      if (!(s > 0) || !std::isfinite(s))
        return make_error("onnx-bad-scale", n.label(), fmt::format("scale {} must be finite and positive", s));
      q.scale.push_back(static_cast<float>(s));
    }
    if (zp) {
      if (zp->size() != scale->size())
        return make_error("onnx-shape-mismatch", n.label(),
                          fmt::format("has {} scales but {} zero points", scale->size(), zp->size()));
      for (int64_t v : zp->i) q.zero_point.push_back(static_cast<int32_t>(v));
    } else {
      q.zero_point.assign(q.scale.size(), 0);
    }
    return q;
  }

  // ---- nodes --------------------------------------------------------------------------------------------

  Status visit(const Node& n) {
    if (!n.domain.empty() && n.domain != "ai.onnx")
      return make_error("onnx-unsupported-op", n.label(),
                        fmt::format("is in the domain '{}'; the QOperator importer supports the standard ONNX domain "
                                    "only ({})",
                                    n.domain, kSupported));
    const std::string& op = n.op_type;
    const bool on_activations =
        op == "Identity" || op == "Relu" || op == "Clip" || op == "Flatten" || op == "Reshape" || op == "Pad";
    if (is_foldable_op(op) && (!on_activations || all_inputs_constant(n))) return fold(n);
    if (op == "QuantizeLinear") {
      if (quantized_inputs_.count(n.outputs.at(0))) return ok_status();
      return make_error("onnx-float-compute", n.label(),
                        fmt::format("quantizes '{}', which is not a float graph input; dory supports QuantizeLinear "
                                    "only at the graph's inputs (a float value inside the network would need float "
                                    "compute)",
                                    n.inputs.at(0)),
                        "quantize the operators that produce this value (QOperator or QDQ form)");
    }
    if (op == "DequantizeLinear") return dequantize(n);
    if (op == "QLinearConv") return conv(n, true);
    if (op == "ConvInteger") return conv(n, false);
    if (op == "QLinearMatMul") return matmul(n, true);
    if (op == "MatMulInteger") return matmul(n, false);
    if (op == "MaxPool") return maxpool(n);
    if (op == "Relu" || op == "Clip") return clamp(n);
    if (op == "Pad") return pad(n);
    if (op == "Flatten" || op == "Reshape") return view(n);
    if (op == "Identity") {
      DORY_TRY(TensorId x, activation(n, 0));
      acts_[n.outputs.at(0)] = x;
      return ok_status();
    }
    return make_error("onnx-unsupported-op", n.label(),
                      fmt::format("op '{}' is not supported in a QOperator graph; supported: {}", op, kSupported),
                      "quantize the model so that this op is not needed, or report the model to dory's authors");
  }

  bool all_inputs_constant(const Node& n) const {
    for (size_t k = 0; k < n.inputs.size(); ++k)
      if (has_input(n, k) && !constant(n, k)) return false;
    return true;
  }

  Status fold(const Node& n) {
    std::vector<const ConstTensor*> in;
    std::vector<std::vector<int64_t>> shapes;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const ConstTensor* c = constant(n, k);
      std::vector<int64_t> shape;
      if (!c && has_input(n, k)) {
        auto it = acts_.find(n.inputs[k]);
        if (n.op_type != "Shape" || it == acts_.end())
          return make_error("onnx-unsupported-op", n.label(),
                            fmt::format("computes on the activation '{}'; dory folds op '{}' only when all its inputs "
                                        "are constants. Supported on activations: {}",
                                        n.inputs[k], n.op_type, kSupported));
        shape = g_.tensor(it->second).shape;
      }
      in.push_back(c);
      shapes.push_back(std::move(shape));
    }
    DORY_TRY(auto outs, eval_constant_node(n, in, shapes, m_.opset));
    for (size_t k = 0; k < outs.size() && k < n.outputs.size(); ++k)
      if (!n.outputs[k].empty()) consts_[n.outputs[k]] = std::move(outs[k]);
    return ok_status();
  }

  Status dequantize(const Node& n) {
    const std::string& out = n.outputs.at(0);
    DORY_TRY(TensorId x, activation(n, 0));
    if (!m_.consumers(out).empty() || !m_.is_graph_output(out)) {
      std::string reader = m_.consumers(out).empty() ? std::string("nothing")
                                                     : m_.nodes[static_cast<size_t>(m_.consumers(out)[0])].label();
      return make_error("onnx-float-compute", n.label(),
                        fmt::format("produces the float value '{}', read by {}; dory supports DequantizeLinear only "
                                    "where it produces a graph output (it is done on the host)",
                                    out, reader),
                        "quantize the operators after it too (QOperator or QDQ form)");
    }
    DORY_TRY(EdgeQuant q, edge_quant(n, g_.tensor(x).shape));
    const Tensor& t = g_.tensor(x);
    if (q.dtype != t.dtype)
      return make_error("onnx-shape-mismatch", n.label(),
                        fmt::format("dequantizes '{}' as {} but it holds {}", t.name, dtype_name(q.dtype),
                                    dtype_name(t.dtype)));
    dq_[out] = DequantizedOutput{x, std::move(q)};
    return ok_status();
  }

  // Zero points of weights must be 0 (absent, scalar or per channel).
  // The weight zero points at input k: empty when absent or all zero. Non-zero ones are an error unless the
  // user asked to fold them (ImportOptions::allow_asymmetric_weights).
  Expected<std::vector<int64_t>> weight_zero_points(const Node& n, size_t k) const {
    if (!has_input(n, k)) return std::vector<int64_t>{};
    const ConstTensor* zp = constant(n, k);
    if (!zp || !zp->integral)
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("the weight zero point '{}' must be an integer constant", n.inputs[k]));
    for (size_t i = 0; i < zp->i.size(); ++i)
      if (zp->i[i] != 0) {
        if (opt_.allow_asymmetric_weights) return zp->i;
        return make_error("onnx-weight-zero-point", n.label(),
                          fmt::format("the weight zero point '{}' is {} (element {}); dory's weights are symmetric "
                                      "(zero point 0)",
                                      n.inputs[k], zp->i[i], i),
                          "quantize the weights symmetrically (onnxruntime: weight_type=QInt8 with symmetric "
                          "weights, e.g. extra_options={'WeightSymmetric': True}); to evaluate the model with the "
                          "reference anyway, pass --allow-asymmetric-weights");
      }
    return std::vector<int64_t>{};
  }

  // The activation zero point at input k: a per-tensor integer constant (0 when absent).
  Expected<int32_t> activation_zero_point(const Node& n, size_t k, const Tensor& x) const {
    if (!has_input(n, k)) return 0;
    const ConstTensor* zp = constant(n, k);
    if (!zp)
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("the zero point '{}' must be a constant", n.inputs[k]));
    if (zp->size() != 1)
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("the activation zero point '{}' has {} values; dory supports per-tensor "
                                    "activation zero points",
                                    n.inputs[k], zp->size()));
    DORY_TRY(auto v, int32_values(n, n.inputs[k], *zp, "zero point"));
    if (!dtype_range(x.dtype).contains(v[0]))
      return make_error("onnx-bad-zero-point", n.label(),
                        fmt::format("zero point {} is outside the {} range of '{}'", v[0], dtype_name(x.dtype),
                                    x.name));
    return v[0];
  }

  // Scalar (per-tensor) float constant at input k.
  Expected<double> scalar_scale(const Node& n, size_t k, const char* what) const {
    DORY_TRY(const ConstTensor* s, required_constant(n, k, what));
    if (s->size() != 1)
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("the {} '{}' has {} values; it must be per tensor", what, n.inputs[k], s->size()));
    if (!(s->f[0] > 0) || !std::isfinite(s->f[0]))
      return make_error("onnx-bad-scale", n.label(),
                        fmt::format("the {} '{}' is {}; scales must be finite and positive", what, n.inputs[k],
                                    s->f[0]));
    return s->f[0];
  }

  // The output type and zero point of a QLinear op (inputs y_scale at k, y_zero_point at k + 1).
  struct OutQuant {
    DType dtype = DType::UInt8;
    int32_t zero_point = 0;
    double scale = 1;
  };
  Expected<OutQuant> output_quant(const Node& n, size_t k) const {
    OutQuant o;
    DORY_TRY(o.scale, scalar_scale(n, k, "output scale"));
    DORY_TRY(const ConstTensor* zp, required_constant(n, k + 1, "output zero point"));
    DORY_TRY(o.dtype, activation_dtype(zp->elem_type, n.label() + ", output zero point"));
    if (o.dtype != DType::UInt8 && o.dtype != DType::Int8)
      return make_error("onnx-unsupported-dtype", n.label(),
                        fmt::format("produces {}; QLinear outputs are uint8 or int8", dtype_name(o.dtype)));
    if (zp->size() != 1)
      return make_error("onnx-unsupported-pattern", n.label(), "the output zero point must be per tensor");
    DORY_TRY(auto v, int32_values(n, n.inputs[k + 1], *zp, "zero point"));
    if (!dtype_range(o.dtype).contains(v[0]))
      return make_error("onnx-bad-zero-point", n.label(), fmt::format("output zero point {} is out of range", v[0]));
    o.zero_point = v[0];
    return o;
  }

  // Real multipliers s_x * s_w[c] / s_y for `channels` outputs; w_scale has 1 or `channels` values.
  Expected<std::vector<double>> real_multipliers(const Node& n, double x_scale, size_t w_scale_input,
                                                 double y_scale, int64_t channels) const {
    DORY_TRY(const ConstTensor* ws, required_constant(n, w_scale_input, "weight scale"));
    if (ws->size() != 1 && ws->size() != channels)
      return make_error("onnx-shape-mismatch", n.label(),
                        fmt::format("the weight scale '{}' has {} values for {} output channels",
                                    n.inputs[w_scale_input], ws->size(), channels));
    std::vector<double> m;
    for (double s : ws->f) {
      if (!(s > 0) || !std::isfinite(s))
        return make_error("onnx-bad-scale", n.label(), fmt::format("weight scale {} must be finite and positive", s));
      m.push_back(x_scale * s / y_scale);
    }
    return m;
  }

  Status conv(const Node& n, bool qlinear) {
    const size_t wi = qlinear ? 3 : 1;
    DORY_TRY(TensorId xid, activation(n, 0, /*allow_pad=*/true));
    const Tensor x = g_.tensor(xid);
    DORY_TRY(const ConstTensor* w, required_constant(n, wi, "weight tensor"));
    DORY_TRY(int32_t x_zp, activation_zero_point(n, 2, x));
    DORY_TRY(std::vector<int64_t> w_zp, weight_zero_points(n, qlinear ? 5 : 3));
    if (!is_integer_type(w->elem_type))
      return make_error("onnx-unsupported-dtype", n.label(),
                        fmt::format("weights of type {}; expected int8 or uint8", elem_type_name(w->elem_type)));
    DORY_TRY(ConvBuild b, build_conv(n, ConvOperand{&x, x_zp, padding(n, 0)}, *w, n.inputs[wi]));
    Conv2d& c = b.conv;
    const int64_t Co = b.c_out();
    if (!w_zp.empty()) {  // fold w - zp (per tensor or per output channel)
      if (w_zp.size() != 1 && static_cast<int64_t>(w_zp.size()) != Co)
        return make_error("onnx-shape-mismatch", n.label(),
                          fmt::format("{} weight zero points for {} output channels", w_zp.size(), Co));
      const size_t per = c.weights.size() / static_cast<size_t>(Co);
      for (size_t i = 0; i < c.weights.size(); ++i)
        c.weights[i] -= static_cast<int32_t>(w_zp[w_zp.size() == 1 ? 0 : i / per]);
    }
    Tensor out = make_activation(n.outputs.at(0), b.out_shape);
    out.dtype_declared = true;
    if (qlinear) {
      if (has_input(n, 8)) {
        DORY_TRY(const ConstTensor* bias, required_constant(n, 8, "bias"));
        if (bias->size() != Co)
          return make_error("onnx-shape-mismatch", n.label(),
                            fmt::format("the bias has {} values for {} output channels", bias->size(), Co));
        DORY_TRY(c.bias, int32_values(n, n.inputs[8], *bias, "bias"));
      }
      DORY_TRY(double x_scale, scalar_scale(n, 1, "input scale"));
      DORY_TRY(OutQuant oq, output_quant(n, 6));
      DORY_TRY(std::vector<double> M, real_multipliers(n, x_scale, 4, oq.scale, Co));
      DORY_TRY(c.requant, qlinear_requant(n, M, oq, c.weights, c.bias, xid, x_zp, x_scale, out));
    } else {
      out.dtype = DType::Int32;
    }
    return add_layer(n, std::move(c), {xid}, std::move(out));
  }

  Status matmul(const Node& n, bool qlinear) {
    const size_t ai = 0, bi = qlinear ? 3 : 1;
    const size_t a_zp = 2, b_zp = qlinear ? 5 : 3;
    const bool a_const = constant(n, ai) != nullptr, b_const = constant(n, bi) != nullptr;
    if (a_const == b_const)
      return make_error("onnx-unsupported-pattern", n.label(),
                        a_const ? std::string("multiplies two constants")
                                : std::string("multiplies two activations; dory's FullyConnected needs one constant "
                                              "operand (the weights)"),
                        "keep one operand of the MatMul an initializer");
    // x: the activation operand, w: the constant one.
    const size_t xi = b_const ? ai : bi, wi = b_const ? bi : ai;
    DORY_TRY(TensorId xid, activation(n, xi));
    const Tensor x = g_.tensor(xid);
    const ConstTensor& w = *constant(n, wi);
    DORY_TRY(int32_t x_zp, activation_zero_point(n, b_const ? a_zp : b_zp, x));
    DORY_TRY(std::vector<int64_t> w_zp, weight_zero_points(n, b_const ? b_zp : a_zp));
    if (!is_integer_type(w.elem_type))
      return make_error("onnx-unsupported-dtype", n.label(),
                        fmt::format("weights of type {}; expected int8 or uint8", elem_type_name(w.elem_type)));
    std::vector<int64_t> xs = x.shape;
    if (x.layout == Layout::HWC || xs.size() < 2 || xs.size() > 3 || w.shape.size() < 2 || w.shape.size() > 3)
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("multiplies shapes {} and [{}]; dory supports MatMul of rank-2 or rank-3 "
                                    "operands (flatten feature maps first)",
                                    shape_str(xs), fmt::join(w.shape, ",")));
    // Batch dimensions (broadcast when one side has none), rows and columns.
    const bool xb = xs.size() == 3, wb = w.shape.size() == 3;
    const int64_t bx = xb ? xs[0] : 1, bw = wb ? w.shape[0] : 1;
    if (xb && wb && bx != bw)
      return make_error("onnx-shape-mismatch", n.label(),
                        fmt::format("batch sizes {} and {} differ", bx, bw));
    const int64_t batch = std::max(bx, bw);
    const int64_t x0 = xs[xs.size() - 2], x1 = xs[xs.size() - 1];
    const int64_t w0 = w.shape[w.shape.size() - 2], w1 = w.shape[w.shape.size() - 1];
    // b_const: y[b][m][n] = sum_k x[b][m][k] * w[b][k][n]; else y[b][m][p] = sum_k w[b][m][k] * x[b][k][p].
    const int64_t inner_x = b_const ? x1 : x0, inner_w = b_const ? w0 : w1;
    if (inner_x != inner_w)
      return make_error("onnx-shape-mismatch", n.label(),
                        fmt::format("inner dimensions {} and {} differ", inner_x, inner_w));
    const int64_t K = inner_x;
    const int64_t rows = b_const ? x0 : w0, cols = b_const ? w1 : x1;
    std::vector<int64_t> out_shape = {rows, cols};
    if (xb || wb) out_shape.insert(out_shape.begin(), batch);
    const int64_t n_out = numel(out_shape), k_in = x.elements();
    if (n_out * k_in > kMaxLoweredWeights)
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("lowering this MatMul to one FullyConnected layer needs {} x {} weights (output "
                                    "elements x input elements), above dory's limit of {}",
                                    n_out, k_in, kMaxLoweredWeights),
                        "dory's FullyConnected is a matrix-vector product: use one row (batch 1) per MatMul");
    DORY_TRY(auto wv, int32_values(n, n.inputs[wi], w, "weight tensor"));
    if (!w_zp.empty()) {  // fold w - zp: per tensor, or per output column of a constant right operand
      if (w_zp.size() != 1 && !(b_const && static_cast<int64_t>(w_zp.size()) == cols))
        return make_error("onnx-unsupported-pattern", n.label(),
                          fmt::format("{} weight zero points: dory folds a per-tensor zero point, or one per output "
                                      "column of the constant operand",
                                      w_zp.size()));
      for (size_t i = 0; i < wv.size(); ++i)
        wv[i] -= static_cast<int32_t>(w_zp[w_zp.size() == 1 ? 0 : i % static_cast<size_t>(cols)]);
    }
    std::vector<int32_t> w_nk(static_cast<size_t>(n_out * k_in), 0);
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t xb_i = xb ? b : 0, wb_i = wb ? b : 0;
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
          const int64_t o = (b * rows + r) * cols + c;
          for (int64_t k = 0; k < K; ++k) {
            int64_t xi_flat, wv_flat;
            if (b_const) {
              xi_flat = (xb_i * rows + r) * K + k;  // x[b][r][k]
              wv_flat = (wb_i * K + k) * cols + c;  // w[b][k][c]
            } else {
              xi_flat = (xb_i * K + k) * cols + c;  // x[b][k][c]
              wv_flat = (wb_i * rows + r) * K + k;  // w[b][r][k]
            }
            w_nk[static_cast<size_t>(o * k_in + xi_flat)] = wv[static_cast<size_t>(wv_flat)];
          }
        }
    }
    FullyConnected fc;
    fc.weights = fc_weights_for_input(x, w_nk, n_out);
    fc.bias.assign(static_cast<size_t>(n_out), 0);
    fc.input_zero_point = x_zp;
    Tensor out = make_activation(n.outputs.at(0), out_shape);
    out.dtype_declared = true;
    if (qlinear) {
      DORY_TRY(double x_scale, scalar_scale(n, b_const ? 1 : 4, "input scale"));
      DORY_TRY(OutQuant oq, output_quant(n, 6));
      // The weight scale is per tensor, or per column of b (per row of a when a is the constant).
      const int64_t wchan = b_const ? cols : rows;
      DORY_TRY(std::vector<double> M, real_multipliers(n, x_scale, b_const ? 4 : 1, oq.scale, wchan));
      std::vector<double> per_out = M;
      if (M.size() > 1) {
        per_out.resize(static_cast<size_t>(n_out));
        for (int64_t o = 0; o < n_out; ++o)
          per_out[static_cast<size_t>(o)] = M[static_cast<size_t>(b_const ? o % cols : (o / cols) % rows)];
      }
      DORY_TRY(fc.requant, qlinear_requant(n, per_out, oq, fc.weights, fc.bias, xid, x_zp, x_scale, out));
    } else {
      out.dtype = DType::Int32;
    }
    const int64_t vectors = n_out / (b_const ? cols : rows);
    if (vectors > 1)
      g_.notes.push_back(fmt::format("{}: the MatMul multiplies {} vectors by the same weights; dory's FullyConnected "
                                     "is one matrix-vector product, so its weights are block-diagonal ({} times "
                                     "larger)",
                                     layer_name(n), vectors, vectors));
    return add_layer(n, std::move(fc), {xid}, std::move(out));
  }

  Status maxpool(const Node& n) {
    if (n.outputs.size() > 1 && !n.outputs[1].empty())
      return make_error("onnx-unsupported-pattern", n.label(), "MaxPool's Indices output is not supported");
    DORY_TRY(TensorId xid, activation(n, 0, /*allow_pad=*/true));
    const Tensor x = g_.tensor(xid);
    if (!x.is_feature_map() || x.shape[0] != 1)
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("pools '{}' of shape {}; dory supports 2-D pooling of [1,C,H,W] maps", x.name,
                                    shape_str(x.shape)));
    if (n.attr_int("storage_order").value_or(0) != 0)
      return make_error("onnx-unsupported-attribute", n.label(), "storage_order = 1 is not supported");
    DORY_TRY(Window win, parse_window(n, x.shape[2], x.shape[3], std::nullopt, true));
    MaxPool mp;
    if (const std::optional<IntegerPad> p = padding(n, 0)) {  // explicit padded cells: real elements with a value
      if (win.pad.any())
        return make_error("onnx-unsupported-pattern", n.label(),
                          fmt::format("pools the output of {} with its own pads too; dory supports one or the other",
                                      p->pad_node));
      win.pad = p->pad;
      mp.pad_value = static_cast<int32_t>(p->value);
    } else {
      DORY_TRY_STATUS(check_pool_windows(n, win, x.shape[2], x.shape[3]));
    }
    const int64_t Ho = window_out(x.shape[2], win.kh, win.stride_h, win.pad.top, win.pad.bottom);
    const int64_t Wo = window_out(x.shape[3], win.kw, win.stride_w, win.pad.left, win.pad.right);
    if (Ho <= 0 || Wo <= 0) return make_error("onnx-shape-mismatch", n.label(), "the window does not fit the input");
    mp.win = win;
    Tensor out = make_activation(n.outputs.at(0), {1, x.shape[1], Ho, Wo});
    copy_quant(x, out);
    return add_layer(n, std::move(mp), {xid}, std::move(out));
  }

  // The Pad whose output input k of n reads, if any.
  std::optional<IntegerPad> padding(const Node& n, size_t k) const {
    if (!has_input(n, k)) return std::nullopt;
    auto it = pads_.find(n.inputs[k]);
    return it == pads_.end() ? std::nullopt : std::optional<IntegerPad>(it->second);
  }

  // Pad of an integer activation (onnxruntime's QOperator format keeps Pad as an op on the quantized tensor, with
  // the quantized constant, normally the zero point): no layer; the op that reads it absorbs the padding. ONNX pads
  // an integer tensor with 0 when no constant is given (not with the zero point).
  Status pad(const Node& n) {
    DORY_TRY(TensorId xid, activation(n, 0, /*allow_pad=*/true));
    const Tensor& x = g_.tensor(xid);
    std::vector<const ConstTensor*> cin;
    for (size_t k = 0; k < n.inputs.size(); ++k) cin.push_back(constant(n, k));
    DORY_TRY(PendingPad pp, parse_pad_node(n, m_, cin, static_cast<int64_t>(x.shape.size())));
    if (std::floor(pp.value) != pp.value || !dtype_range(x.dtype).contains(saturating_int64(pp.value)))
      return make_error("onnx-bad-attribute", n.label(),
                        fmt::format("pads the {} tensor '{}' with {}, which is not a value of that type",
                                    dtype_name(x.dtype), x.name, pp.value));
    std::optional<IntegerPad> p = padding(n, 0);
    if (pp.pad.any()) {
      const int64_t v = static_cast<int64_t>(pp.value);
      if (p && p->value != v)
        return make_error("onnx-unsupported-pattern", n.label(),
                          fmt::format("pads with {} the output of {}, which padded with {}; dory absorbs consecutive "
                                      "Pads only when their values are equal",
                                      v, p->pad_node, p->value));
      if (p) add_padding(p->pad, pp.pad);
      else p = IntegerPad{pp.pad, v, n.label()};
    }
    acts_[n.outputs.at(0)] = xid;
    if (p) pads_[n.outputs.at(0)] = *p;
    return ok_status();
  }

  // Relu/Clip on an integer tensor: the raw integers are clamped, as ONNX computes these ops on integer types.
  Status clamp(const Node& n) {
    DORY_TRY(TensorId xid, activation(n, 0));
    const Tensor x = g_.tensor(xid);
    int64_t lo = std::numeric_limits<int32_t>::min(), hi = std::numeric_limits<int32_t>::max();
    if (n.op_type == "Relu") {
      lo = 0;
    } else {
      auto bound = [&](size_t k, const char* attr, int64_t& dst) -> Status {
        std::optional<double> v;
        if (m_.opset < 11) {
          v = n.attr_float(attr);
        } else if (has_input(n, k)) {
          const ConstTensor* c = constant(n, k);
          if (!c || c->size() != 1)
            return make_error("onnx-unsupported-pattern", n.label(),
                              fmt::format("the {} bound '{}' must be a scalar constant", attr, n.inputs[k]));
          v = c->f[0];
        }
        if (!v) return ok_status();
        if (std::floor(*v) != *v)
          return make_error("onnx-non-integer", n.label(),
                            fmt::format("clips the integer tensor '{}' at the non-integer {} {}", x.name, attr, *v));
        dst = static_cast<int64_t>(std::clamp<double>(*v, static_cast<double>(std::numeric_limits<int32_t>::min()),
                                                      static_cast<double>(std::numeric_limits<int32_t>::max())));
        return ok_status();
      };
      DORY_TRY_STATUS(bound(1, "min", lo));
      DORY_TRY_STATUS(bound(2, "max", hi));
      if (lo > hi)
        return make_error("onnx-bad-attribute", n.label(), fmt::format("Clip bounds [{}, {}] are empty", lo, hi));
    }
    Requantize rq;
    rq.requant.lo = static_cast<int32_t>(lo);
    rq.requant.hi = static_cast<int32_t>(hi);
    Tensor out = x;  // same shape, layout and quantization
    out.name = n.outputs.at(0);
    return add_layer(n, std::move(rq), {xid}, std::move(out));
  }

  Status view(const Node& n) {
    DORY_TRY(TensorId xid, activation(n, 0));
    const Tensor x = g_.tensor(xid);
    const ConstTensor* target = nullptr;
    if (n.op_type == "Reshape") {
      if (n.attr_int("allowzero").value_or(0) != 0)
        return make_error("onnx-unsupported-attribute", n.label(), "allowzero = 1 is not supported");
      DORY_TRY(target, required_constant(n, 1, "target shape"));
    }
    DORY_TRY(std::vector<int64_t> shape, view_shape(n, x.shape, target));
    DORY_TRY(Tensor out, make_view(n, x, n.outputs.at(0), std::move(shape)));
    return add_layer(n, View{}, {xid}, std::move(out));
  }

  static void copy_quant(const Tensor& from, Tensor& to) {
    to.dtype = from.dtype;
    to.dtype_declared = from.dtype_declared;
    to.zero_point = from.zero_point;
    to.scale = from.scale;
  }

  Status add_layer(const Node& n, LayerOp op, std::vector<TensorId> inputs, Tensor out) {
    TensorId id = g_.add_tensor(std::move(out));
    Layer l;
    l.name = layer_name(n);
    l.op = std::move(op);
    l.inputs = std::move(inputs);
    l.output = id;
    l.onnx_nodes = {n.name.empty() ? layer_name(n) : n.name};
    g_.layers.push_back(std::move(l));
    acts_[n.outputs.at(0)] = id;
    return ok_status();
  }

  // The requantization of a QLinear op by the rule of onnx/real_multiplier.h (accumulator bounds from its
  // channel-major weights and bias and its input's type), clamped to the output's type; sets the quantization of
  // the output, and of the input where it is not known yet.
  Expected<Requant> qlinear_requant(const Node& n, const std::vector<double>& M, const OutQuant& oq,
                                    const std::vector<int32_t>& weights, const std::vector<int32_t>& bias,
                                    TensorId xid, int32_t x_zp, double x_scale, Tensor& out) {
    Tensor& x = g_.tensor(xid);
    const ValueRange r = dtype_range(oq.dtype);
    const auto bounds =
        accumulator_bounds(weights, bias, static_cast<int64_t>(bias.size()), dtype_range(x.dtype), x_zp);
    DORY_TRY(Requant rq, requant_from_real(M, MultiplierUse::accumulators(bounds), oq.zero_point, r.lo, r.hi,
                                           n.label()));
    if (!x.scale) x.scale = x_scale;
    out.dtype = oq.dtype;
    out.zero_point = oq.zero_point;
    out.scale = oq.scale;
    return rq;
  }

  // ---- graph outputs ------------------------------------------------------------------------------------

  Status add_outputs() {
    for (const ValueInfo& o : m_.outputs) {
      const std::string where = fmt::format("output '{}'", o.name);
      if (auto it = dq_.find(o.name); it != dq_.end()) {
        g_.outputs.push_back(it->second.id);
        g_.output_dequant.push_back(it->second.q);
      } else if (auto a = acts_.find(o.name); a != acts_.end()) {
        if (pads_.count(o.name)) return make_error("onnx-unsupported-pattern", where, "is the output of a Pad");
        g_.outputs.push_back(a->second);
        g_.output_dequant.push_back(std::nullopt);
      } else {
        return make_error("onnx-unsupported-pattern", where,
                          consts_.count(o.name) ? "is a constant; dory's outputs are computed tensors"
                                                : "is not produced by a node dory imports");
      }
    }
    if (g_.outputs.empty()) return make_error("onnx-no-output", m_.origin, "the model has no graph output");
    return ok_status();
  }
};

}  // namespace

Expected<Graph> import_qoperator(const OnnxModel& model, const ImportOptions& options) {
  QOperatorImporter imp(model, options);
  return imp.run();
}

}  // namespace dory::onnxfe
