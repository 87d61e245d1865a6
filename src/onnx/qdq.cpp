// The QDQ dialect (opset >= 13): QuantizeLinear/DequantizeLinear pairs around float ops, as written by
// torch.onnx.export of an eager-mode quantized model (Constant weights, a Cast after every QuantizeLinear,
// ConstantOfShape + Cast zero points, an all-zero Pad before AveragePool, Relu as its own node) and by
// onnxruntime's quantize_static (initializers, per-tensor or per-channel int8 weights, uint8/int8 activations with
// zero points, int32 biases with scale s_x*s_w).
//
// How it works: the importer walks the nodes in topological order and keeps, for every ONNX value, one of
//   - a constant (folded with eval_constant_node as the walk goes: Constant, Cast, ConstantOfShape, Shape, ...);
//   - a quantized constant: DequantizeLinear of an integer constant (weights, biases), kept as integers + scales;
//   - a quantized activation: an integer IR tensor (a QuantizeLinear output, or an integer graph input);
//   - a *float value*: the real number a DequantizeLinear and the float ops after it compute from integer tensors,
//     described exactly (the op, its integer inputs with their scales and zero points, Relu/Clip bounds, a Pad or
//     Flatten waiting for its consumer). A QuantizeLinear turns it into one IR layer whose requantization maps the
//     real multiplier (s_x*s_w/s_y, s_x/s_y, ...) to integers by the rule of onnx/real_multiplier.h (shared with
//     the QOperator importer); docs/semantics.md, section "QDQ", says exactly how the result differs from a float
//     evaluation of the graph (at most 1 LSB, at ties).
// The IR tensor a layer writes is named after the ONNX output of the QuantizeLinear that materializes it, so
// layer dumps carry the names of the quantized ONNX tensors.
//
// Between a QuantizeLinear and the DequantizeLinear reading its output, the integers themselves may be
//   - padded: onnxruntime's DequantizeLinear -> Pad -> QuantizeLinear (the Pad requantized: Q(Pad(DQ(x), v)) =
//     Pad(Q(DQ(x)), Q(v))), or a Pad of the integers; the padding waits, with the padded cells' integer value, for
//     the Conv or pool that reads it (quantize_padded, pad_integers);
//   - clipped: Brevitas's QCDQ export, QuantizeLinear -> Clip -> DequantizeLinear, narrowing the integer range
//     (clamp_integers).
//
// Edges: a float graph input must be quantized by QuantizeLinear (its quantization becomes Graph::input_quant and
// the IR input is the quantized integer, named after the ONNX input); a graph output that is a DequantizeLinear
// of a quantized tensor gets Graph::output_dequant; a float Conv/Gemm at the very end keeps its int32 accumulator
// as the output, with output_dequant scale s_x*s_w (per tensor only). A trailing Softmax/Sigmoid/... is left to
// the host, with a note.
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

constexpr double kInf = std::numeric_limits<double>::infinity();
// Two float32 scales whose ratio differs from 1 by less than this are "the same scale up to float32 rounding"
// (a bias scale written as float32(s_x*s_w)); 2^-24 is the float32 rounding error, with margin.
constexpr double kScaleRelTol = 1e-6;

const char* kSupportedOps =
    "QuantizeLinear, DequantizeLinear, Conv (standard, depthwise), Gemm, MatMul, Add (two quantized tensors, or a "
    "bias), Relu, Clip, MaxPool, AveragePool, GlobalAveragePool, Pad (before a Conv or pool), Concat (channels), "
    "Flatten, Reshape, Cast, Identity, constant sub-graphs (Constant, ConstantOfShape, Shape, Gather, Unsqueeze, "
    "...); a trailing Sigmoid/Softmax/LogSoftmax/ArgMax is left to the host";

// QuantizeLinear of one real value, with ONNX's rules: float32 division, round half to even, saturate.
int64_t quantize_scalar(double v, double scale, int32_t zp, ValueRange r) {
  if (std::isnan(v)) return r.lo;
  if (std::isinf(v)) return v < 0 ? r.lo : r.hi;
  const float q = static_cast<float>(v) / static_cast<float>(scale);
  const double rounded = std::nearbyint(static_cast<double>(q)) + zp;  // default rounding mode: half to even
  return static_cast<int64_t>(std::clamp(rounded, static_cast<double>(r.lo), static_cast<double>(r.hi)));
}

// Scales are compared exactly: both sides are float32 constants of the model.
bool same_scale(double a, double b) { return a == b; }

// ---- values ----------------------------------------------------------------------------------------------

// DequantizeLinear of an integer constant: the exact integers and their quantization.
struct QConst {
  ConstTensor q;                    // integer values
  std::vector<double> scale;        // size 1 (per tensor) or the size of `axis`
  std::vector<int64_t> zero_point;  // same size as scale
  int64_t axis = 1;                 // normalized to [0, rank)
  std::string name;                 // the ONNX value of the integer constant
  double scale_at(size_t i) const { return scale.size() == 1 ? scale[0] : scale[i]; }
  int64_t zp_at(size_t i) const { return zero_point.size() == 1 ? zero_point[0] : zero_point[i]; }
};

// A quantized activation: an integer IR tensor, possibly padded by an explicit Pad that waits for the Conv or pool
// reading it (a Pad of a dequantized value that a QuantizeLinear requantized, or a Pad of the integers).
struct QTensor {
  TensorId t = -1;
  std::optional<IntegerPad> pad;  // the padded cells' value in t's integers
};

// An integer tensor seen through a DequantizeLinear: real value = scale * (q - zp).
struct Operand {
  TensorId t = -1;
  double scale = 1;
  int32_t zp = 0;
};

enum class FKind { Dequant, Conv, Fc, MaxPool, AvgPool, Add, Concat };

// A float value computed from dequantized integer tensors, waiting for the QuantizeLinear that makes it a layer.
struct FloatVal {
  FKind kind = FKind::Dequant;
  std::vector<Operand> in;          // the dequantized inputs (Dequant: the one source)
  std::vector<int64_t> shape;       // ONNX shape of the value
  Layer layer;                      // Conv/Fc/MaxPool/AvgPool/Add/Concat being built (no requant yet)
  std::vector<double> acc_scale;    // Conv/Fc: real value of one accumulator unit (size 1 or channels)
  std::optional<PendingPad> pad;    // Dequant: an explicit Pad (value in real units) waiting for a window op
  const Node* view_node = nullptr;  // Dequant: a Flatten/Reshape waiting (the view's shape is `shape`)
  std::string view_value;           // ... and its ONNX output
  double lo = -kInf, hi = kInf;     // Relu/Clip bounds, in real units
  const Node* origin = nullptr;     // the node that computes the value (for messages)
  std::string name;                 // the ONNX value this currently is
  std::vector<std::string> nodes;   // provenance
  bool clamped() const { return lo != -kInf || hi != kInf; }
};

// A float graph input not yet quantized.
struct FloatInput {
  size_t index = 0;
};

// A value computed by the host-side tail (after the network's end).
struct HostTail {
  std::string network_output;
};

using Value = std::variant<ConstTensor, QConst, QTensor, FloatVal, FloatInput, HostTail>;

const char* kQdqHint =
    "dory imports QDQ graphs where every float op reads DequantizeLinear outputs and is followed by a "
    "QuantizeLinear (torch.onnx.export of a quantized model, onnxruntime quantize_static)";

class Importer {
 public:
  Importer(const OnnxModel& m, const ImportOptions& o) : m_(m), opt_(o) {}

  Expected<Graph> run() {
    g_.inputs.assign(m_.inputs.size(), -1);
    g_.input_quant.assign(m_.inputs.size(), std::nullopt);
    for (size_t i = 0; i < m_.inputs.size(); ++i) DORY_TRY_STATUS(add_input(i));
    for (const auto& [name, c] : m_.constants) vals_[name] = c;
    for (const Node& n : m_.nodes) DORY_TRY_STATUS(visit(n));
    for (size_t i = 0; i < m_.inputs.size(); ++i)
      if (g_.inputs[i] < 0)
        return make_error("onnx-unquantized-float-op", fmt::format("input '{}'", m_.inputs[i].name),
                          "is a float input that no QuantizeLinear quantizes", kQdqHint);
    DORY_TRY_STATUS(finish_outputs());
    for (const std::string& s : notes_) g_.notes.push_back(s);
    return std::move(g_);
  }

 private:
  const OnnxModel& m_;
  const ImportOptions& opt_;
  Graph g_;
  std::map<std::string, Value> vals_;
  std::set<std::string> notes_;

  // ---- inputs and value access ----------------------------------------------------------------------------

  Status add_input(size_t i) {
    const ValueInfo& in = m_.inputs[i];
    if (is_float_type(in.elem_type)) {
      vals_[in.name] = FloatInput{i};  // becomes an IR input at its QuantizeLinear
      return ok_status();
    }
    DORY_TRY(std::vector<int64_t> shape, graph_input_shape(in));
    Tensor t = make_activation(in.name, shape);
    DORY_TRY(t.dtype, activation_dtype(in.elem_type, fmt::format("input '{}'", in.name)));
    t.dtype_declared = true;
    t.range = dtype_range(t.dtype);
    TensorId id = g_.add_tensor(std::move(t));
    g_.inputs[i] = id;
    vals_[in.name] = QTensor{id, std::nullopt};
    return ok_status();
  }

  static std::vector<int64_t> padded_shape(std::vector<int64_t> shape, const std::optional<IntegerPad>& pad) {
    if (pad && shape.size() == 4) {
      shape[2] += pad->pad.top + pad->pad.bottom;
      shape[3] += pad->pad.left + pad->pad.right;
    }
    return shape;
  }

  const ConstTensor* constant(const std::string& name) const {
    auto it = vals_.find(name);
    return it == vals_.end() ? nullptr : std::get_if<ConstTensor>(&it->second);
  }

  std::vector<int64_t> shape_of(const Value& v) const {
    if (const auto* c = std::get_if<ConstTensor>(&v)) return c->shape;
    if (const auto* q = std::get_if<QConst>(&v)) return q->q.shape;
    if (const auto* t = std::get_if<QTensor>(&v)) return padded_shape(g_.tensor(t->t).shape, t->pad);
    if (const auto* f = std::get_if<FloatVal>(&v)) return f->shape;
    if (const auto* fi = std::get_if<FloatInput>(&v)) {
      auto s = graph_input_shape(m_.inputs[fi->index]);
      return s.ok() ? s.value() : std::vector<int64_t>{};
    }
    return {};
  }

  Expected<Value*> value(const Node& n, size_t k) {
    if (k >= n.inputs.size() || n.inputs[k].empty())
      return make_error("onnx-missing-input", n.label(), fmt::format("input {} is missing", k));
    auto it = vals_.find(n.inputs[k]);
    DORY_CHECK(it != vals_.end(), "topologically ordered model reads an undefined value");
    return &it->second;
  }

  // Optional constant input k (absent: nullptr); present but not constant: an error.
  Expected<const ConstTensor*> const_input(const Node& n, size_t k, const char* what) {
    if (k >= n.inputs.size() || n.inputs[k].empty()) return static_cast<const ConstTensor*>(nullptr);
    const ConstTensor* c = constant(n.inputs[k]);
    if (!c)
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("the {} '{}' must be a constant", what, n.inputs[k]),
                        "export the quantization parameters as constants (initializers or Constant nodes)");
    return c;
  }

  Diagnostic unquantized(const Node& n, const std::string& value_name, const Value& v) {
    if (const auto* fi = std::get_if<FloatInput>(&v))
      return make_error("onnx-unquantized-float-op", n.label(),
                        fmt::format("reads the float graph input '{}' directly; dory needs it quantized by a "
                                    "QuantizeLinear first",
                                    m_.inputs[fi->index].name),
                        kQdqHint);
    const FloatVal& f = std::get<FloatVal>(v);
    return make_error("onnx-unquantized-float-op", n.label(),
                      fmt::format("reads '{}', the float result of {}, which no QuantizeLinear quantizes; a float op "
                                  "must read DequantizeLinear outputs",
                                  value_name, f.origin ? f.origin->label() : std::string("a float op")),
                      kQdqHint);
  }

  struct Input {
    Operand op;
    std::optional<PendingPad> pad;
  };

  // The dequantized integer tensor read by input k of n. A pending Flatten/Reshape or Relu/Clip on it is
  // materialized (as a View or a clamping Requantize layer); a pending Pad is returned for the caller to absorb.
  Expected<Input> dq_input(const Node& n, size_t k, bool allow_pad = false) {
    DORY_TRY(Value * v, value(n, k));
    const std::string& name = n.inputs[k];
    if (std::holds_alternative<FloatInput>(*v)) return unquantized(n, name, *v);
    if (std::holds_alternative<QTensor>(*v))
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("reads the quantized integer tensor '{}' without a DequantizeLinear", name),
                        kQdqHint);
    if (std::holds_alternative<ConstTensor>(*v) || std::holds_alternative<QConst>(*v))
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("input '{}' is a constant where dory expects an activation", name));
    if (std::holds_alternative<HostTail>(*v))
      return make_error("onnx-unsupported-pattern", n.label(), "consumes a value computed after the host-side tail");
    FloatVal& f = std::get<FloatVal>(*v);
    if (f.kind != FKind::Dequant) return unquantized(n, name, *v);
    if (f.pad && !allow_pad)
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("reads '{}', the output of a Pad; dory absorbs a Pad only into the Conv or pool "
                                    "that follows it",
                                    name));
    if (f.view_node || f.clamped()) {
      DORY_TRY(Operand o, materialize_dequant(f));
      FloatVal plain = f;
      plain.in = {o};
      plain.view_node = nullptr;
      plain.lo = -kInf;
      plain.hi = kInf;
      f = plain;  // later readers share the materialized tensor
    }
    return Input{f.in[0], f.pad};
  }

  // View and/or clamp of a Dequant value, as IR layers, outside any QuantizeLinear: the result keeps the source's
  // quantization. A clamp must fall on the quantization grid (Relu always does).
  Expected<Operand> materialize_dequant(const FloatVal& f) {
    Operand o = f.in[0];
    if (f.view_node) {
      DORY_TRY(Tensor t, make_view(*f.view_node, g_.tensor(o.t), f.view_value, f.shape));
      Layer l;
      l.name = layer_name(*f.view_node);
      l.op = View{};
      l.inputs = {o.t};
      l.onnx_nodes = {layer_name(*f.view_node)};
      o.t = emit(std::move(l), std::move(t));
    }
    if (f.clamped()) {
      const Tensor& src = g_.tensor(o.t);
      const ValueRange r = dtype_range(src.dtype);
      auto grid = [&](double real, int64_t dflt) -> Expected<int64_t> {
        if (std::isinf(real)) return dflt;
        const double q = real / o.scale + o.zp;
        if (std::fabs(q - std::nearbyint(q)) > 1e-6)
          return make_error("onnx-unsupported-pattern", f.origin ? f.origin->label() : fmt::format("'{}'", f.name),
                            fmt::format("clamps at {}, which is not on the quantization grid of '{}' (scale {}, zero "
                                        "point {}), and no QuantizeLinear follows",
                                        real, src.name, o.scale, o.zp),
                            "quantize the clamped value with a QuantizeLinear");
        return std::clamp<int64_t>(saturating_int64(std::nearbyint(q)), r.lo, r.hi);
      };
      DORY_TRY(int64_t lo, grid(f.lo, r.lo));
      DORY_TRY(int64_t hi, grid(f.hi, r.hi));
      Tensor t = make_activation(f.name, f.shape);
      t.dtype = src.dtype;
      t.dtype_declared = true;
      t.zero_point = o.zp;
      t.scale = o.scale;
      Requantize rq;
      rq.input_zero_point = o.zp;
      rq.requant.zero_point = o.zp;  // identity: y = clamp((x - zp) + zp, lo, hi)
      rq.requant.lo = static_cast<int32_t>(lo);
      rq.requant.hi = static_cast<int32_t>(std::max(lo, hi));
      Layer l;
      l.name = f.origin ? layer_name(*f.origin) : f.name;
      l.op = rq;
      l.inputs = {o.t};
      l.onnx_nodes = f.nodes;
      o.t = emit(std::move(l), std::move(t));
    }
    return o;
  }

  TensorId emit(Layer l, Tensor t) {
    TensorId id = g_.add_tensor(std::move(t));
    l.output = id;
    g_.layers.push_back(std::move(l));
    return id;
  }

  Status check_scales(const Node& n, const std::string& name, const ConstTensor& s) {
    if (s.size() == 0)
      return make_error("onnx-bad-scale", n.label(), fmt::format("scale '{}' is empty", name));
    for (int64_t i = 0; i < s.size(); ++i) {
      const double v = s.f[static_cast<size_t>(i)];
      if (!std::isfinite(v) || v <= 0)
        return make_error("onnx-bad-scale", n.label(),
                          fmt::format("scale '{}' holds {} at index {}; a quantization scale must be positive and "
                                      "finite",
                                      name, v, i),
                          "re-export the model; a zero scale usually means a calibration range of zero width");
    }
    return ok_status();
  }

  // ---- visiting ---------------------------------------------------------------------------------------------

  Status visit(const Node& n) {
    if (!n.domain.empty() && n.domain != "ai.onnx")
      return unsupported(n, fmt::format("custom domain '{}'", n.domain));
    if (n.outputs.empty() || n.outputs[0].empty())
      return make_error("onnx-bad-node", n.label(), "has no output");
    for (const std::string& in : n.inputs)
      if (auto it = vals_.find(in); it != vals_.end() && std::holds_alternative<HostTail>(it->second)) {
        HostTail t = std::get<HostTail>(it->second);
        for (const std::string& out : n.outputs) vals_[out] = t;
        return ok_status();
      }
    DORY_TRY(auto folded, fold_if_constant(
                              n, m_.opset, [&](const std::string& v) { return constant(v); },
                              [&](const std::string& v) { return shape_of(vals_.at(v)); }));
    if (folded) {
      for (size_t k = 0; k < n.outputs.size() && k < folded->size(); ++k) vals_[n.outputs[k]] = std::move((*folded)[k]);
      return ok_status();
    }
    const std::string& op = n.op_type;
    if (op == "QuantizeLinear") return visit_quantize(n);
    if (op == "DequantizeLinear") return visit_dequantize(n);
    if (op == "Identity" || op == "Dropout") return alias(n);
    if (op == "Cast") return visit_cast(n);
    if (op == "Conv") return visit_conv(n);
    if (op == "Gemm" || op == "MatMul") return visit_fc(n);
    if (op == "Add") return visit_add(n);
    if (op == "Relu" || op == "Clip") return visit_clamp(n);
    if (op == "MaxPool") return visit_maxpool(n);
    if (op == "AveragePool" || op == "GlobalAveragePool") return visit_avgpool(n);
    if (op == "Pad") return visit_pad(n);
    if (op == "Flatten" || op == "Reshape") return visit_view(n);
    if (op == "Concat") return visit_concat(n);
    if (is_host_tail_op(op) || op == "ArgMax") {
      for (const std::string& out : n.outputs) vals_[out] = HostTail{n.inputs.at(0)};
      notes_.insert(fmt::format("{} and what follows it run on the host (as in DORY): the network ends at '{}'",
                                n.label(), n.inputs.at(0)));
      return ok_status();
    }
    return unsupported(n, "");
  }

  Diagnostic unsupported(const Node& n, const std::string& why) {
    return make_error("onnx-unsupported-op", n.label(),
                      fmt::format("{}op type '{}' is not supported in a QDQ graph", why.empty() ? "" : why + ": ",
                                  n.op_type),
                      fmt::format("supported: {}", kSupportedOps));
  }

  Status alias(const Node& n) {
    DORY_TRY(Value * v, value(n, 0));
    Value copy = *v;
    if (auto* f = std::get_if<FloatVal>(&copy)) {
      f->name = n.outputs.at(0);
      f->nodes.push_back(layer_name(n));
    }
    vals_[n.outputs.at(0)] = std::move(copy);
    return ok_status();
  }

  Status visit_cast(const Node& n) {
    auto to = n.attr_int("to");
    if (!to) return make_error("onnx-missing-attribute", n.label(), "Cast without 'to'");
    const int32_t t = static_cast<int32_t>(*to);
    DORY_TRY(Value * v, value(n, 0));
    const bool to_float = is_float_type(t);
    if (const auto* q = std::get_if<QTensor>(v)) {
      // torch writes a Cast to the same type after every QuantizeLinear: a no-op.
      const Tensor& x = g_.tensor(q->t);
      auto dt = activation_dtype(t, n.label());
      if (!dt.ok() || dt.value() != x.dtype)
        return make_error("onnx-unsupported-pattern", n.label(),
                          fmt::format("casts the quantized {} tensor '{}' to {}; dory supports only a Cast to the "
                                      "same type",
                                      dtype_name(x.dtype), n.inputs[0], elem_type_name(t)),
                          "requantize with DequantizeLinear + QuantizeLinear instead");
      return alias(n);
    }
    if (std::holds_alternative<FloatVal>(*v) || std::holds_alternative<FloatInput>(*v) ||
        std::holds_alternative<QConst>(*v)) {
      if (!to_float)
        return make_error("onnx-unsupported-pattern", n.label(),
                          fmt::format("casts the float value '{}' to {}", n.inputs[0], elem_type_name(t)),
                          "quantize float values with QuantizeLinear");
      return alias(n);
    }
    return alias(n);
  }

  // QuantizeLinear: of a float constant (folded), of a float graph input (the IR input), or of a float value
  // (materialized as a layer).
  Status visit_quantize(const Node& n) {
    DORY_TRY(Value * v, value(n, 0));
    DORY_TRY(const ConstTensor* sc, const_input(n, 1, "scale"));
    if (!sc) return make_error("onnx-missing-input", n.label(), "has no scale input");
    DORY_TRY(const ConstTensor* zpc, const_input(n, 2, "zero point"));
    DORY_TRY_STATUS(check_scales(n, n.inputs[1], *sc));
    const int32_t elem = zpc ? zpc->elem_type : kUInt8;
    DORY_TRY(DType dt, activation_dtype(elem, fmt::format("{}: the output type (its zero point's type)", n.label())));
    if (zpc && (!zpc->integral || zpc->size() != sc->size()))
      return make_error("onnx-bad-attribute", n.label(), "the zero point must be integers, one per scale");
    const std::string& out = n.outputs.at(0);

    if (const auto* c = std::get_if<ConstTensor>(v)) {  // a float constant (weights given in float)
      const int64_t rank = static_cast<int64_t>(c->shape.size());
      int64_t axis = n.attr_int("axis").value_or(1);
      if (axis < 0) axis += rank;
      int64_t inner = 1;
      for (int64_t d = axis + 1; d < rank; ++d) inner *= c->shape[static_cast<size_t>(d)];
      if (sc->size() > 1 && (axis < 0 || axis >= rank || c->shape[static_cast<size_t>(axis)] != sc->size()))
        return make_error("onnx-shape-mismatch", n.label(), "per-axis scale does not match the axis size");
      std::vector<int64_t> q(static_cast<size_t>(c->size()));
      const ValueRange r = dtype_range(dt);
      for (int64_t i = 0; i < c->size(); ++i) {
        const size_t a = sc->size() == 1 ? 0 : static_cast<size_t>((i / inner) % sc->size());
        q[static_cast<size_t>(i)] = quantize_scalar(c->f[static_cast<size_t>(i)], sc->f[a],
                                                    zpc ? static_cast<int32_t>(zpc->i[a]) : 0, r);
      }
      vals_[out] = ConstTensor::from_ints(elem, c->shape, std::move(q));
      return ok_status();
    }
    if (sc->size() != 1)
      return make_error("onnx-per-channel-activation", n.label(),
                        fmt::format("quantizes the activation '{}' per channel ({} scales); dory quantizes "
                                    "activations per tensor (weights may be per channel)",
                                    n.inputs[0], sc->size()),
                        "quantize activations per tensor (torch: per_tensor_affine observers; onnxruntime: "
                        "per_channel applies to weights only)");
    const double s = sc->f[0];
    const int32_t zp = zpc ? static_cast<int32_t>(zpc->i[0]) : 0;
    if (!dtype_range(dt).contains(zp))
      return make_error("onnx-bad-attribute", n.label(),
                        fmt::format("zero point {} is outside the {} range", zp, dtype_name(dt)));

    if (const auto* fi = std::get_if<FloatInput>(v)) return quantize_input(n, fi->index, s, zp, dt);
    if (auto* f = std::get_if<FloatVal>(v)) {
      if (f->pad) return quantize_padded(n, *f, s, zp, dt);
      DORY_TRY(TensorId t, quantize_float(*f, n, s, zp, dt));
      vals_[out] = QTensor{t, std::nullopt};
      return ok_status();
    }
    return make_error("onnx-unsupported-pattern", n.label(),
                      fmt::format("quantizes '{}', which is already an integer", n.inputs[0]), kQdqHint);
  }

  Status quantize_input(const Node& n, size_t index, double s, int32_t zp, DType dt) {
    const ValueInfo& in = m_.inputs[index];
    if (g_.inputs[index] >= 0) {
      const auto& q = *g_.input_quant[index];
      if (q.scale[0] != static_cast<float>(s) || q.zero_point[0] != zp || q.dtype != dt)
        return make_error("onnx-unsupported-pattern", n.label(),
                          fmt::format("quantizes the graph input '{}' a second time, differently", in.name),
                          "quantize each float input once");
      vals_[n.outputs.at(0)] = QTensor{g_.inputs[index], std::nullopt};
      return ok_status();
    }
    DORY_TRY(std::vector<int64_t> shape, graph_input_shape(in));
    Tensor t = make_activation(in.name, shape);
    t.dtype = dt;
    t.dtype_declared = true;
    t.zero_point = zp;
    t.scale = s;
    t.range = dtype_range(dt);
    TensorId id = g_.add_tensor(std::move(t));
    g_.inputs[index] = id;
    EdgeQuant eq;
    eq.scale = {static_cast<float>(s)};
    eq.zero_point = {zp};
    eq.axis = 1;
    eq.dtype = dt;
    g_.input_quant[index] = eq;
    vals_[n.outputs.at(0)] = QTensor{id, std::nullopt};
    return ok_status();
  }

  Status visit_dequantize(const Node& n) {
    DORY_TRY(Value * v, value(n, 0));
    DORY_TRY(const ConstTensor* sc, const_input(n, 1, "scale"));
    if (!sc) return make_error("onnx-missing-input", n.label(), "has no scale input");
    DORY_TRY(const ConstTensor* zpc, const_input(n, 2, "zero point"));
    DORY_TRY_STATUS(check_scales(n, n.inputs[1], *sc));
    if (zpc && (!zpc->integral || (zpc->size() != sc->size())))
      return make_error("onnx-bad-attribute", n.label(), "the zero point must be integers, one per scale");
    const std::string& out = n.outputs.at(0);

    if (const auto* c = std::get_if<ConstTensor>(v)) {
      if (!is_integer_type(c->elem_type) || !c->integral)
        return make_error("onnx-unsupported-pattern", n.label(),
                          fmt::format("dequantizes the constant '{}' of type {}, which is not an integer tensor",
                                      n.inputs[0], elem_type_name(c->elem_type)));
      QConst q;
      q.q = *c;
      q.scale = sc->f;
      q.zero_point = zpc ? zpc->i : std::vector<int64_t>(sc->f.size(), 0);
      q.name = n.inputs[0];
      const int64_t rank = static_cast<int64_t>(c->shape.size());
      q.axis = n.attr_int("axis").value_or(1);
      if (q.axis < 0) q.axis += rank;
      if (sc->size() > 1 && (q.axis < 0 || q.axis >= rank || c->shape[static_cast<size_t>(q.axis)] != sc->size()))
        return make_error("onnx-shape-mismatch", n.label(),
                          fmt::format("has {} scales along axis {} of a constant of shape [{}]", sc->size(),
                                      n.attr_int("axis").value_or(1), fmt::join(c->shape, ",")));
      vals_[out] = std::move(q);
      return ok_status();
    }
    if (const auto* qt = std::get_if<QTensor>(v)) {
      if (sc->size() != 1)
        return make_error("onnx-per-channel-activation", n.label(),
                          fmt::format("dequantizes the activation '{}' per channel ({} scales); dory quantizes "
                                      "activations per tensor (weights may be per channel)",
                                      n.inputs[0], sc->size()),
                          "quantize activations per tensor");
      Tensor& t = g_.tensor(qt->t);
      const int32_t zp = zpc ? static_cast<int32_t>(zpc->i[0]) : 0;
      if (!t.scale) {  // an integer graph input: its quantization is this DequantizeLinear's
        t.scale = sc->f[0];
        t.zero_point = zp;
      }
      FloatVal f;
      f.kind = FKind::Dequant;
      f.in = {Operand{qt->t, sc->f[0], zp}};
      f.shape = padded_shape(t.shape, qt->pad);
      if (qt->pad)  // the padded cells, dequantized: exactly (q - zp) * s (pad_on_grid recovers q)
        f.pad = PendingPad{qt->pad->pad, static_cast<double>(qt->pad->value - zp) * sc->f[0], qt->pad->pad_node};
      f.origin = &n;
      f.name = out;
      f.nodes = {layer_name(n)};
      vals_[out] = std::move(f);
      return ok_status();
    }
    return make_error("onnx-unsupported-pattern", n.label(),
                      fmt::format("dequantizes '{}', which is not a quantized integer tensor", n.inputs[0]), kQdqHint);
  }

  Status visit_clamp(const Node& n) {
    double lo = -kInf, hi = kInf;
    if (n.op_type == "Relu") {
      lo = 0;
    } else if (m_.opset < 11) {
      lo = n.attr_float("min").value_or(lo);
      hi = n.attr_float("max").value_or(hi);
    } else {
      for (size_t k = 1; k < 3 && k < n.inputs.size(); ++k) {
        if (n.inputs[k].empty()) continue;
        const ConstTensor* b = constant(n.inputs[k]);
        if (!b || b->size() != 1)
          return make_error("onnx-unsupported-pattern", n.label(), "Clip bounds must be constant scalars");
        (k == 1 ? lo : hi) = b->f[0];
      }
    }
    if (lo > hi) return make_error("onnx-bad-attribute", n.label(), fmt::format("Clip bounds [{}, {}] are empty", lo, hi));
    DORY_TRY(Value * v, value(n, 0));
    if (const auto* q = std::get_if<QTensor>(v); q && n.op_type == "Clip") return clamp_integers(n, *q, lo, hi);
    auto* f = std::get_if<FloatVal>(v);
    if (!f) {
      if (std::holds_alternative<FloatInput>(*v)) return unquantized(n, n.inputs[0], *v);
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("clamps '{}', which is not a dequantized value", n.inputs[0]), kQdqHint);
    }
    if (f->pad)
      return make_error("onnx-unsupported-pattern", n.label(), "clamps the output of a Pad");
    FloatVal copy = *f;
    copy.lo = std::max(copy.lo, lo);
    copy.hi = std::min(copy.hi, hi);
    if (copy.lo > copy.hi) copy.lo = copy.hi;
    copy.name = n.outputs.at(0);
    if (copy.kind == FKind::Dequant && !copy.view_node) copy.origin = &n;
    copy.nodes.push_back(layer_name(n));
    vals_[n.outputs.at(0)] = std::move(copy);
    return ok_status();
  }

  // Clip of a quantized tensor: Brevitas's QCDQ export (QuantizeLinear -> Clip -> DequantizeLinear) narrows the
  // integer range this way to fewer bits (e.g. [0, 15] for 4-bit activations, [-127, 127] for narrow-range int8).
  // The clamp joins the requantization of the layer that produced the tensor when this Clip is its only reader
  // (clamp(clamp(v, a, b), c, d) = clamp(v, clamp(a, c, d), clamp(b, c, d))); otherwise (a graph input, a max pool,
  // an alias of another tensor, another reader) it is an identity Requantize with the clamp. Either way the result,
  // named after the Clip's output, has the Clip's bounds as its proven value range.
  Status clamp_integers(const Node& n, const QTensor& q, double lo, double hi) {
    if (q.pad)
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("clamps '{}', the output of {}; dory absorbs a Pad only into the Conv or pool that "
                                    "follows it",
                                    n.inputs[0], q.pad->pad_node));
    const Tensor& t = g_.tensor(q.t);
    const ValueRange r = dtype_range(t.dtype);
    for (double b : {lo, hi})
      if (std::isfinite(b) && std::floor(b) != b)
        return make_error("onnx-non-integer", n.label(),
                          fmt::format("clips the quantized {} tensor '{}' at {}, which is not an integer",
                                      dtype_name(t.dtype), n.inputs[0], b));
    const int64_t c = std::isfinite(lo) ? std::clamp(saturating_int64(lo), r.lo, r.hi) : r.lo;
    const int64_t d = std::isfinite(hi) ? std::clamp(saturating_int64(hi), r.lo, r.hi) : r.hi;
    const std::string& out = n.outputs.at(0);
    const int prod = g_.producer(q.t);
    Requant* rq = nullptr;
    // Only a tensor made for this very ONNX value (not an alias of an earlier one: Q(DQ(x)) with x's quantization,
    // an Identity), which nothing else reads, can take the clamp.
    if (prod >= 0 && t.name == n.inputs[0] && m_.consumers(n.inputs[0]).size() == 1 &&
        !m_.is_graph_output(n.inputs[0])) {
      Layer& l = g_.layers[static_cast<size_t>(prod)];
      if (auto* cv = l.as<Conv2d>()) rq = cv->requant ? &*cv->requant : nullptr;
      else if (auto* fc = l.as<FullyConnected>()) rq = fc->requant ? &*fc->requant : nullptr;
      else if (auto* ap = l.as<AveragePool>()) rq = &ap->requant;
      else if (auto* ad = l.as<Add>()) rq = &ad->requant;
      else if (auto* rz = l.as<Requantize>()) rq = &rz->requant;
      if (rq) {
        rq->lo = static_cast<int32_t>(std::clamp<int64_t>(rq->lo, c, d));
        rq->hi = static_cast<int32_t>(std::clamp<int64_t>(rq->hi, c, d));
        l.onnx_nodes.push_back(layer_name(n));
        g_.tensor(q.t).name = out;
        vals_[out] = QTensor{q.t, std::nullopt};
        return ok_status();
      }
    }
    Tensor y = t;  // same shape, layout and quantization
    y.name = out;
    Requantize clamp;
    clamp.input_zero_point = t.zero_point;
    clamp.requant.zero_point = t.zero_point;  // identity: y = clamp((x - zp) + zp, c, d)
    clamp.requant.lo = static_cast<int32_t>(c);
    clamp.requant.hi = static_cast<int32_t>(d);
    Layer l;
    l.name = layer_name(n);
    l.op = clamp;
    l.inputs = {q.t};
    l.onnx_nodes = {layer_name(n)};
    vals_[out] = QTensor{emit(std::move(l), std::move(y)), std::nullopt};
    return ok_status();
  }

  Status visit_pad(const Node& n) {
    DORY_TRY(Value * v, value(n, 0));
    if (const auto* q = std::get_if<QTensor>(v)) return pad_integers(n, *q);
    auto* f = std::get_if<FloatVal>(v);
    if (!f || f->kind != FKind::Dequant || f->view_node || f->clamped()) {
      if (f && f->kind != FKind::Dequant) return unquantized(n, n.inputs[0], *v);
      if (std::holds_alternative<FloatInput>(*v)) return unquantized(n, n.inputs[0], *v);
      return make_error("onnx-unsupported-pattern", n.label(),
                        "dory absorbs a Pad of a dequantized activation into the Conv or pool that follows it");
    }
    std::vector<const ConstTensor*> cin;
    for (const std::string& in : n.inputs) cin.push_back(in.empty() ? nullptr : constant(in));
    DORY_TRY(PendingPad pp, parse_pad_node(n, m_, cin, static_cast<int64_t>(f->shape.size())));
    FloatVal copy = *f;
    copy.name = n.outputs.at(0);
    copy.nodes.push_back(layer_name(n));
    if (pp.pad.any()) {  // an all-zero Pad (torch writes one before AveragePool) is the identity
      if (copy.pad) {
        if (copy.pad->value != pp.value)
          return make_error("onnx-unsupported-pattern", n.label(), "two consecutive Pads with different values");
        copy.pad->pad.top += pp.pad.top;
        copy.pad->pad.left += pp.pad.left;
        copy.pad->pad.bottom += pp.pad.bottom;
        copy.pad->pad.right += pp.pad.right;
      } else {
        copy.pad = pp;
      }
      copy.shape[2] += pp.pad.top + pp.pad.bottom;
      copy.shape[3] += pp.pad.left + pp.pad.right;
    }
    vals_[n.outputs.at(0)] = std::move(copy);
    return ok_status();
  }

  // A Pad of a quantized tensor (between QuantizeLinear and DequantizeLinear): its constant is an integer of the
  // tensor's type (ONNX pads integer tensors with 0 when no constant is given, not with the zero point).
  Status pad_integers(const Node& n, const QTensor& q) {
    const Tensor& t = g_.tensor(q.t);
    std::vector<const ConstTensor*> cin;
    for (const std::string& in : n.inputs) cin.push_back(in.empty() ? nullptr : constant(in));
    DORY_TRY(PendingPad pp, parse_pad_node(n, m_, cin, static_cast<int64_t>(t.shape.size())));
    if (std::floor(pp.value) != pp.value || !dtype_range(t.dtype).contains(saturating_int64(pp.value)))
      return make_error("onnx-bad-attribute", n.label(),
                        fmt::format("pads the {} tensor '{}' with {}, which is not a value of that type",
                                    dtype_name(t.dtype), n.inputs[0], pp.value));
    QTensor out = q;
    if (pp.pad.any()) {
      const int64_t v = static_cast<int64_t>(pp.value);
      if (out.pad) {
        if (out.pad->value != v)
          return make_error("onnx-unsupported-pattern", n.label(),
                            fmt::format("pads with {} the output of {}, which padded with {}; dory absorbs "
                                        "consecutive Pads only when their values are equal",
                                        v, out.pad->pad_node, out.pad->value));
        add_padding(out.pad->pad, pp.pad);
      } else {
        out.pad = IntegerPad{pp.pad, v, n.label()};
      }
    }
    vals_[n.outputs.at(0)] = out;
    return ok_status();
  }

  Status visit_view(const Node& n) {
    DORY_TRY(Value * v, value(n, 0));
    const ConstTensor* target = nullptr;
    if (n.op_type == "Reshape") {
      DORY_TRY(target, const_input(n, 1, "target shape"));
    }
    if (const auto* q = std::get_if<QTensor>(v)) {  // a view of the integers themselves
      if (q->pad)
        return make_error("onnx-unsupported-pattern", n.label(),
                          fmt::format("reshapes '{}', the output of {}; dory absorbs a Pad only into the Conv or pool "
                                      "that follows it",
                                      n.inputs[0], q->pad->pad_node));
      const Tensor& in = g_.tensor(q->t);
      DORY_TRY(std::vector<int64_t> shape, view_shape(n, in.shape, target));
      DORY_TRY(Tensor t, make_view(n, in, n.outputs.at(0), shape));
      Layer l;
      l.name = layer_name(n);
      l.op = View{};
      l.inputs = {q->t};
      l.onnx_nodes = {layer_name(n)};
      vals_[n.outputs.at(0)] = QTensor{emit(std::move(l), std::move(t)), std::nullopt};
      return ok_status();
    }
    auto* f = std::get_if<FloatVal>(v);
    if (!f || f->kind != FKind::Dequant || f->pad) {
      if ((f && f->kind != FKind::Dequant) || std::holds_alternative<FloatInput>(*v))
        return unquantized(n, n.inputs[0], *v);
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("reshapes '{}', which is not a dequantized activation", n.inputs[0]));
    }
    DORY_TRY(std::vector<int64_t> shape, view_shape(n, f->shape, target));
    DORY_TRY(Tensor probe, make_view(n, g_.tensor(f->in[0].t), n.outputs.at(0), shape));  // can dory view it?
    (void)probe;
    FloatVal copy = *f;
    copy.shape = shape;
    copy.view_node = &n;
    copy.view_value = n.outputs.at(0);
    copy.name = n.outputs.at(0);
    copy.nodes.push_back(layer_name(n));
    vals_[n.outputs.at(0)] = std::move(copy);
    return ok_status();
  }

  // ---- weights and biases -----------------------------------------------------------------------------------

  // The quantized weights of input k: int8 values, zero point 0, per tensor or per channel along `out_axis`.
  // With ImportOptions::allow_asymmetric_weights, non-zero zero points are folded (w - zp, exact in the IR's int32
  // weights; for reference evaluation, since the kernels deploy int8).
  Expected<QConst> weights(const Node& n, size_t k, int64_t out_axis, int64_t rank) {
    DORY_TRY(Value * v, value(n, k));
    const std::string& name = n.inputs[k];
    if (const auto* c = std::get_if<ConstTensor>(v))
      return make_error("onnx-unquantized-float-op", n.label(),
                        fmt::format("its weights '{}' are a float {} constant, not quantized", name,
                                    elem_type_name(c->elem_type)),
                        "quantize the weights: DequantizeLinear of an int8 constant");
    const auto* wp = std::get_if<QConst>(v);
    if (!wp)
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("its weights '{}' must be a constant (DequantizeLinear of an int8 constant)",
                                    name));
    QConst w = *wp;
    if (static_cast<int64_t>(w.q.shape.size()) != rank)
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("weights '{}' have rank {}, expected {}", name, w.q.shape.size(), rank));
    if (w.scale.size() > 1 && w.axis != out_axis)
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("weights '{}' are quantized per channel along axis {}; dory needs per output "
                                    "channel (axis {})",
                                    name, w.axis, out_axis));
    bool asymmetric = false;
    for (size_t i = 0; i < w.zero_point.size(); ++i)
      if (w.zero_point[i] != 0) {
        if (opt_.allow_asymmetric_weights) {
          asymmetric = true;
          continue;
        }
        return make_error("onnx-weight-zero-point", n.label(),
                          fmt::format("weights '{}' have the zero point {}{}; dory's weights are symmetric (zero "
                                      "point 0)",
                                      name, w.zero_point[i],
                                      w.zero_point.size() > 1 ? fmt::format(" at channel {}", i) : std::string()),
                          "quantize the weights symmetrically (torch: qint8 per_channel_symmetric or "
                          "per_tensor_symmetric; onnxruntime: WeightSymmetric=True, the default for int8); to "
                          "evaluate the model with the reference anyway, pass --allow-asymmetric-weights");
      }
    if (asymmetric) {  // w - zp, zero point along the quantization axis
      int64_t inner = 1;
      for (int64_t d = w.axis + 1; d < rank; ++d) inner *= w.q.shape[static_cast<size_t>(d)];
      std::vector<int64_t> folded(w.q.i.size());
      for (size_t i = 0; i < folded.size(); ++i) {
        const size_t a = w.zero_point.size() == 1
                             ? 0
                             : static_cast<size_t>((static_cast<int64_t>(i) / inner) %
                                                   w.q.shape[static_cast<size_t>(w.axis)]);
        folded[i] = w.q.i[i] - w.zero_point[a];
      }
      w.q = ConstTensor::from_ints(kInt32, w.q.shape, std::move(folded));
      w.zero_point.assign(w.zero_point.size(), 0);
      notes_.insert(fmt::format("{}: the weight zero points of '{}' were folded into the weights "
                                "(--allow-asymmetric-weights); they are not int8",
                                n.label(), name));
      return w;
    }
    for (size_t i = 0; i < w.q.i.size(); ++i)
      if (w.q.i[i] < -128 || w.q.i[i] > 127)
        return make_error("onnx-unsupported-dtype", n.label(),
                          fmt::format("weights '{}' hold {} at index {}; dory's weights are int8", name, w.q.i[i], i),
                          "quantize the weights to int8");
    return w;
  }

  // A bias in accumulator units, one value per channel (acc_scale: the real value of one accumulator unit). An
  // int32 bias dequantized with scale s_b = s_x*s_w[c] (up to float32 rounding) is used as is; any other scale,
  // or a float bias, is rounded: round_half_away(b_real / (s_x*s_w[c])). `factor` is Gemm's beta.
  Expected<std::vector<int32_t>> bias(const Node& n, const std::string& name, const Value& v,
                                      const std::vector<double>& acc_scale, int64_t channels, int64_t rank,
                                      double factor = 1.0) {
    auto as = [&](int64_t c) { return acc_scale.size() == 1 ? acc_scale[0] : acc_scale[static_cast<size_t>(c)]; };
    std::vector<int32_t> out(static_cast<size_t>(channels));
    auto store = [&](int64_t c, double units) -> Status {
      const double r = std::round(units);
      if (!(std::fabs(r) <= 2147483647.0))
        return make_error("onnx-value-range", n.label(),
                          fmt::format("bias '{}' at channel {} is {} accumulator units, which does not fit int32",
                                      name, c, units));
      out[static_cast<size_t>(c)] = static_cast<int32_t>(r);
      return ok_status();
    };
    if (const auto* q = std::get_if<QConst>(&v)) {
      DORY_TRY(std::vector<double> vals, per_channel_values(n, name, q->q, channels, rank));
      if (q->scale.size() > 1 && q->scale.size() != vals.size())
        return make_error("onnx-unsupported-pattern", n.label(),
                          fmt::format("bias '{}' has {} values and {} scales", name, vals.size(), q->scale.size()));
      bool rescaled = false;
      for (int64_t c = 0; c < channels; ++c) {
        const size_t i = vals.size() == 1 ? 0 : static_cast<size_t>(c);
        const double s_b = q->scale_at(i);
        const int64_t zb = q->zp_at(i);
        const double ratio = s_b * factor / as(c);
        const int64_t v_int = saturating_int64(vals[i]) - zb;
        if (std::fabs(ratio - 1.0) <= kScaleRelTol) {
          DORY_TRY_STATUS(store(c, static_cast<double>(v_int)));
        } else {
          rescaled = true;
          DORY_TRY_STATUS(store(c, static_cast<double>(v_int) * ratio));
        }
      }
      if (rescaled)
        notes_.insert(fmt::format("{}: the bias '{}' is not quantized with scale s_x*s_w; it was rescaled to "
                                  "round(b*s_b/(s_x*s_w[c]))",
                                  n.label(), name));
      return out;
    }
    if (const auto* c = std::get_if<ConstTensor>(&v)) {
      DORY_TRY(std::vector<double> vals, per_channel_values(n, name, *c, channels, rank));
      for (int64_t ch = 0; ch < channels; ++ch)
        DORY_TRY_STATUS(store(ch, vals[vals.size() == 1 ? 0 : static_cast<size_t>(ch)] * factor / as(ch)));
      notes_.insert(fmt::format("{}: the float bias '{}' was quantized to round(b/(s_x*s_w[c])) (int32)", n.label(),
                                name));
      return out;
    }
    return make_error("onnx-unsupported-pattern", n.label(),
                      fmt::format("the bias '{}' must be a constant (a DequantizeLinear of an int32 constant, or float)",
                                  name));
  }

  // ---- compute ops ------------------------------------------------------------------------------------------

  static std::vector<double> times(double s, const std::vector<double>& v) {
    std::vector<double> out;
    for (double x : v) out.push_back(s * x);
    return out;
  }

  Status visit_conv(const Node& n) {
    DORY_TRY(Input x, dq_input(n, 0, /*allow_pad=*/true));
    DORY_TRY(const QConst w, weights(n, 1, 0, 4));
    ConvOperand operand{&g_.tensor(x.op.t), x.op.zp, std::nullopt};
    if (x.pad) {
      DORY_TRY(int32_t v, pad_on_grid(n, x.op, x.pad->value));
      operand.pad = IntegerPad{x.pad->pad, v, x.pad->node};
    }
    DORY_TRY(ConvBuild b, build_conv(n, operand, w.q, w.name));
    Conv2d& c = b.conv;
    const int64_t cout = b.c_out();
    if (w.scale.size() > 1 && static_cast<int64_t>(w.scale.size()) != cout)
      return make_error("onnx-shape-mismatch", n.label(), "the weight scales do not match the output channels");
    FloatVal f;
    f.kind = FKind::Conv;
    f.acc_scale = times(x.op.scale, w.scale);
    if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
      DORY_TRY(Value * bv, value(n, 2));
      DORY_TRY(c.bias, bias(n, n.inputs[2], *bv, f.acc_scale, cout, 2));
    }
    f.shape = b.out_shape;
    f.in = {x.op};
    f.layer.name = layer_name(n);
    f.layer.op = std::move(c);
    f.layer.inputs = {x.op.t};
    f.origin = &n;
    f.name = n.outputs.at(0);
    f.nodes = {layer_name(n)};
    vals_[n.outputs.at(0)] = std::move(f);
    return ok_status();
  }

  Status visit_fc(const Node& n) {
    DORY_TRY(Input x, dq_input(n, 0));
    bool trans_b = false;
    double alpha = 1, beta = 1;
    if (n.op_type == "Gemm") {
      if (n.attr_int("transA").value_or(0) != 0)
        return make_error("onnx-unsupported-attribute", n.label(), "transA = 1 is not supported");
      trans_b = n.attr_int("transB").value_or(0) != 0;
      alpha = n.attr_float("alpha").value_or(1.0);
      beta = n.attr_float("beta").value_or(1.0);
      if (!(alpha > 0) || !std::isfinite(alpha) || !std::isfinite(beta))
        return make_error("onnx-unsupported-attribute", n.label(),
                          fmt::format("alpha = {}, beta = {}: alpha must be positive and both finite", alpha, beta));
    }
    DORY_TRY(const QConst wq, weights(n, 1, trans_b ? 0 : 1, 2));
    const QConst* w = &wq;
    const Tensor in = g_.tensor(x.op.t);
    const int64_t K = trans_b ? w->q.shape[1] : w->q.shape[0], N = trans_b ? w->q.shape[0] : w->q.shape[1];
    if (in.elements() != K || in.shape.empty() || (in.shape.size() > 1 && in.shape[0] != 1) ||
        (in.shape.size() != 2 && in.shape.size() != 1))
      return make_error("onnx-shape-mismatch", n.label(),
                        fmt::format("multiplies an input of shape {} by a weight matrix with {} rows; dory supports "
                                    "[1,K] x [K,N]",
                                    shape_str(in.shape), K));
    if (w->scale.size() > 1 && static_cast<int64_t>(w->scale.size()) != N)
      return make_error("onnx-shape-mismatch", n.label(), "the weight scales do not match the output features");
    std::vector<int32_t> w_nk(static_cast<size_t>(N * K));
    for (int64_t nn = 0; nn < N; ++nn)
      for (int64_t k = 0; k < K; ++k)
        w_nk[static_cast<size_t>(nn * K + k)] =
            static_cast<int32_t>(trans_b ? w->q.i[static_cast<size_t>(nn * K + k)] : w->q.i[static_cast<size_t>(k * N + nn)]);
    FullyConnected fc;
    fc.weights = fc_weights_for_input(in, w_nk, N);
    fc.input_zero_point = x.op.zp;
    FloatVal f;
    f.kind = FKind::Fc;
    f.acc_scale = times(x.op.scale * alpha, w->scale);
    if (n.op_type == "Gemm" && n.inputs.size() > 2 && !n.inputs[2].empty()) {
      DORY_TRY(Value * b, value(n, 2));
      DORY_TRY(fc.bias, bias(n, n.inputs[2], *b, f.acc_scale, N, 2, beta));
    } else {
      fc.bias.assign(static_cast<size_t>(N), 0);
    }
    f.shape = {1, N};
    f.in = {x.op};
    f.layer.name = layer_name(n);
    f.layer.op = std::move(fc);
    f.layer.inputs = {x.op.t};
    f.origin = &n;
    f.name = n.outputs.at(0);
    f.nodes = {layer_name(n)};
    vals_[n.outputs.at(0)] = std::move(f);
    return ok_status();
  }

  Status visit_add(const Node& n) {
    DORY_TRY(Value * a, value(n, 0));
    DORY_TRY(Value * b, value(n, 1));
    // A bias added after a Conv/MatMul (onnxruntime writes MatMul + Add): folded into the accumulator's bias.
    for (int side = 0; side < 2; ++side) {
      Value* acc = side == 0 ? a : b;
      Value* cst = side == 0 ? b : a;
      auto* f = std::get_if<FloatVal>(acc);
      if (!f || (f->kind != FKind::Conv && f->kind != FKind::Fc) || f->clamped()) continue;
      if (!std::holds_alternative<ConstTensor>(*cst) && !std::holds_alternative<QConst>(*cst)) continue;
      FloatVal copy = *f;
      const int64_t channels = copy.shape[1];
      DORY_TRY(std::vector<int32_t> extra, bias(n, n.inputs[side == 0 ? 1 : 0], *cst, copy.acc_scale, channels,
                                                static_cast<int64_t>(copy.shape.size())));
      std::vector<int32_t>& bv = copy.kind == FKind::Conv ? std::get<Conv2d>(copy.layer.op).bias
                                                          : std::get<FullyConnected>(copy.layer.op).bias;
      for (size_t c = 0; c < bv.size(); ++c) {
        const int64_t s = static_cast<int64_t>(bv[c]) + extra[c];
        if (s < std::numeric_limits<int32_t>::min() || s > std::numeric_limits<int32_t>::max())
          return make_error("onnx-value-range", n.label(), "the combined bias does not fit int32");
        bv[c] = static_cast<int32_t>(s);
      }
      copy.name = n.outputs.at(0);
      copy.nodes.push_back(layer_name(n));
      vals_[n.outputs.at(0)] = std::move(copy);
      return ok_status();
    }
    DORY_TRY(Input x1, dq_input(n, 0));
    DORY_TRY(Input x2, dq_input(n, 1));
    const Tensor& t1 = g_.tensor(x1.op.t);
    const Tensor& t2 = g_.tensor(x2.op.t);
    if (t1.shape != t2.shape || t1.layout != t2.layout)
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("adds '{}' of shape {} and '{}' of shape {}; dory's Add does not broadcast",
                                    n.inputs[0], shape_str(t1.shape), n.inputs[1], shape_str(t2.shape)));
    FloatVal f;
    f.kind = FKind::Add;
    f.in = {x1.op, x2.op};
    f.shape = t1.shape;
    f.layer.name = layer_name(n);
    f.layer.op = Add{};
    f.layer.inputs = {x1.op.t, x2.op.t};
    f.origin = &n;
    f.name = n.outputs.at(0);
    f.nodes = {layer_name(n)};
    vals_[n.outputs.at(0)] = std::move(f);
    return ok_status();
  }

  // The integer pad value a pool sees for an explicit Pad of real value v: zp + v/s, which must be an integer.
  Expected<int32_t> pad_on_grid(const Node& n, const Operand& x, double v) {
    const double q = v / x.scale + x.zp;
    if (!std::isfinite(q) || std::fabs(q - std::nearbyint(q)) > 1e-6 || std::fabs(q) > 1e9)
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("is preceded by a Pad with the value {}, which is not on the input's quantization "
                                    "grid (scale {}, zero point {})",
                                    v, x.scale, x.zp),
                        "pad with 0");
    return static_cast<int32_t>(std::nearbyint(q));
  }

  Status visit_maxpool(const Node& n) {
    DORY_TRY(Input x, dq_input(n, 0, true));
    const Tensor in = g_.tensor(x.op.t);
    if (!in.is_feature_map() || in.shape[0] != 1)
      return make_error("onnx-unsupported-pattern", n.label(), "MaxPool needs a batch-1 [1,C,H,W] feature map");
    if (n.outputs.size() > 1 && !n.outputs[1].empty()) return unsupported(n, "MaxPool with an Indices output");
    MaxPool mp;
    DORY_TRY(mp.win, parse_window(n, in.height(), in.width(), std::nullopt, true));
    if (x.pad) {
      if (mp.win.pad.any())
        return make_error("onnx-unsupported-pattern", n.label(),
                          "both an explicit Pad and the pool's own pads; dory supports one or the other");
      if (x.pad->value != -kInf) {
        DORY_TRY(int32_t pv, pad_on_grid(n, x.op, x.pad->value));
        mp.pad_value = pv;
      }
      mp.win.pad = x.pad->pad;
    }
    if (!mp.pad_value) DORY_TRY_STATUS(check_pool_windows(n, mp.win, in.height(), in.width()));
    FloatVal f;
    f.kind = FKind::MaxPool;
    f.in = {x.op};
    f.shape = {1, in.channels(),
               window_out(in.height(), mp.win.kh, mp.win.stride_h, mp.win.pad.top, mp.win.pad.bottom),
               window_out(in.width(), mp.win.kw, mp.win.stride_w, mp.win.pad.left, mp.win.pad.right)};
    f.layer.name = layer_name(n);
    f.layer.op = std::move(mp);
    f.layer.inputs = {x.op.t};
    f.origin = &n;
    f.name = n.outputs.at(0);
    f.nodes = {layer_name(n)};
    vals_[n.outputs.at(0)] = std::move(f);
    return ok_status();
  }

  Status visit_avgpool(const Node& n) {
    DORY_TRY(Input x, dq_input(n, 0, true));
    const Tensor in = g_.tensor(x.op.t);
    if (!in.is_feature_map() || in.shape[0] != 1)
      return make_error("onnx-unsupported-pattern", n.label(), "pooling needs a batch-1 [1,C,H,W] feature map");
    AveragePool ap;
    ap.input_zero_point = x.op.zp;
    ap.pad_value = x.op.zp;  // ONNX pads with the real value 0
    if (n.op_type == "GlobalAveragePool") {
      if (x.pad)
        return make_error("onnx-unsupported-pattern", n.label(), "a Pad before GlobalAveragePool is not supported");
      ap.global = true;
      ap.win.kh = static_cast<int32_t>(in.height());
      ap.win.kw = static_cast<int32_t>(in.width());
    } else {
      DORY_TRY(ap.win, parse_window(n, in.height(), in.width(), std::nullopt, false));
      ap.count_include_pad = n.attr_int("count_include_pad").value_or(0) != 0 || !ap.win.pad.any();
      if (x.pad) {  // the explicit Pad's cells are real elements: counted, with their value
        if (ap.win.pad.any() && !ap.count_include_pad)
          return make_error("onnx-unsupported-pattern", n.label(),
                            "both an explicit Pad and the pool's own pads with count_include_pad = 0; dory counts "
                            "either all padded cells or none");
        DORY_TRY(ap.pad_value, pad_on_grid(n, x.op, x.pad->value));
        if (ap.win.pad.any() && ap.pad_value != x.op.zp)
          return make_error("onnx-unsupported-pattern", n.label(),
                            "an explicit Pad with a non-zero value and the pool's own pads");
        ap.count_include_pad = true;
        add_padding(ap.win.pad, x.pad->pad);
      }
      if (!ap.count_include_pad) DORY_TRY_STATUS(check_pool_windows(n, ap.win, in.height(), in.width()));
    }
    FloatVal f;
    f.kind = FKind::AvgPool;
    f.in = {x.op};
    f.shape = {1, in.channels(),
               window_out(in.height(), ap.win.kh, ap.win.stride_h, ap.win.pad.top, ap.win.pad.bottom),
               window_out(in.width(), ap.win.kw, ap.win.stride_w, ap.win.pad.left, ap.win.pad.right)};
    if (f.shape[2] <= 0 || f.shape[3] <= 0)
      return make_error("onnx-shape-mismatch", n.label(), "the pooling window does not fit the input");
    f.layer.name = layer_name(n);
    f.layer.op = std::move(ap);
    f.layer.inputs = {x.op.t};
    f.origin = &n;
    f.name = n.outputs.at(0);
    f.nodes = {layer_name(n)};
    vals_[n.outputs.at(0)] = std::move(f);
    return ok_status();
  }

  Status visit_concat(const Node& n) {
    if (n.inputs.empty()) return make_error("onnx-missing-input", n.label(), "Concat without inputs");
    FloatVal f;
    f.kind = FKind::Concat;
    int64_t channels = 0;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      DORY_TRY(Input x, dq_input(n, k));
      const Tensor& t = g_.tensor(x.op.t);
      const int64_t rank = static_cast<int64_t>(t.shape.size());
      int64_t axis = n.attr_int("axis").value_or(1);
      if (axis < 0) axis += rank;
      if (rank != 4 || axis != 1)
        return make_error("onnx-unsupported-pattern", n.label(),
                          "dory concatenates [1,C,H,W] feature maps along channels (axis 1) only");
      if (k == 0) f.shape = t.shape;
      else if (t.shape[2] != f.shape[2] || t.shape[3] != f.shape[3])
        return make_error("onnx-shape-mismatch", n.label(), "the inputs' spatial sizes differ");
      channels += t.shape[1];
      f.in.push_back(x.op);
      f.layer.inputs.push_back(x.op.t);
    }
    f.shape[1] = channels;
    f.layer.name = layer_name(n);
    f.layer.op = Concat{};
    f.origin = &n;
    f.name = n.outputs.at(0);
    f.nodes = {layer_name(n)};
    vals_[n.outputs.at(0)] = std::move(f);
    return ok_status();
  }

  // ---- QuantizeLinear of a float value: one layer ----------------------------------------------------------

  // Requires the output quantization to equal every input's (ops that move values without arithmetic).
  Status require_same_quant(const FloatVal& f, const Node& q, double s_y, int32_t zp_y, DType dt) {
    for (const Operand& o : f.in) {
      const Tensor& t = g_.tensor(o.t);
      if (!same_scale(o.scale, s_y) || o.zp != zp_y || t.dtype != dt) {
        const Node& at = f.kind == FKind::Dequant ? *f.view_node : *f.origin;
        return make_error("onnx-scale-mismatch", at.label(),
                          fmt::format("reads '{}' quantized as ({}, scale {:.9g}, zero point {}) but its result is "
                                      "quantized by {} as ({}, scale {:.9g}, zero point {}); {} moves values without "
                                      "arithmetic, so both must be equal",
                                      t.name, dtype_name(t.dtype), o.scale, o.zp, q.label(), dtype_name(dt), s_y, zp_y,
                                      at.op_type),
                          "quantize the input and the output of this op with the same scale and zero point (as "
                          "torch and onnxruntime do)");
      }
    }
    return ok_status();
  }

  Tensor quantized_tensor(const std::string& name, const std::vector<int64_t>& shape, double s, int32_t zp,
                          DType dt) {
    Tensor t = make_activation(name, shape);
    t.dtype = dt;
    t.dtype_declared = true;
    t.zero_point = zp;
    t.scale = s;
    return t;
  }

  // QuantizeLinear of a padded dequantized value (onnxruntime's DequantizeLinear -> Pad -> QuantizeLinear): Q is
  // elementwise, so Q(Pad(DQ(x), v)) = Pad(Q(DQ(x)), Q(v)) exactly. The unpadded part is what Q(DQ(x)) is anywhere
  // (x itself when the quantization is the same, else a Requantize of x), and the padded cells hold the integer
  // Q(v), which the Conv or pool reading the result absorbs (a Conv only when Q(v) is its input zero point).
  Status quantize_padded(const Node& q, const FloatVal& f, double s_y, int32_t zp_y, DType dt) {
    DORY_CHECK(f.kind == FKind::Dequant && !f.view_node && !f.clamped(), "a Pad on a computed float value");
    FloatVal inner = f;
    inner.pad.reset();
    inner.shape = g_.tensor(f.in[0].t).shape;
    DORY_TRY(TensorId t, quantize_float(inner, q, s_y, zp_y, dt, q.outputs.at(0) + ".unpadded"));
    const int64_t v = quantize_scalar(f.pad->value, s_y, zp_y, dtype_range(dt));
    vals_[q.outputs.at(0)] = QTensor{t, IntegerPad{f.pad->pad, v, f.pad->node}};
    return ok_status();
  }

  // `name`: the IR tensor's name when not the QuantizeLinear's output (a padded result's unpadded part).
  Expected<TensorId> quantize_float(const FloatVal& f, const Node& q, double s_y, int32_t zp_y, DType dt,
                                    const std::string& name = "") {
    const std::string& out = name.empty() ? q.outputs.at(0) : name;
    const std::string where = q.label();
    DORY_CHECK(!f.pad, "quantize_float of a padded value (quantize_padded handles it)");
    // Relu/Clip before QuantizeLinear: Q is monotone, so Q(clamp(v, a, b)) = clamp(Q(v), Q(a), Q(b)) exactly.
    const ValueRange dr = dtype_range(dt);
    int64_t lo = dr.lo, hi = dr.hi;
    if (f.lo != -kInf) lo = std::max(lo, quantize_scalar(f.lo, s_y, zp_y, dr));
    if (f.hi != kInf) hi = std::min(hi, quantize_scalar(f.hi, s_y, zp_y, dr));
    if (lo > hi) lo = hi;
    Layer l = f.layer;
    l.onnx_nodes = f.nodes;
    l.onnx_nodes.push_back(layer_name(q));
    Tensor t = quantized_tensor(out, f.shape, s_y, zp_y, dt);

    // Ops that move values: equal quantization required; a clamp that matters becomes a Requantize after them.
    auto move_op = [&](Layer op_layer) -> Expected<TensorId> {
      DORY_TRY_STATUS(require_same_quant(f, q, s_y, zp_y, dt));
      const bool clamp = lo > dr.lo || hi < dr.hi;
      if (!clamp) return emit(std::move(op_layer), std::move(t));
      Tensor mid = quantized_tensor(out + ".unclamped", f.shape, s_y, zp_y, dt);
      if (op_layer.as<View>()) {
        DORY_TRY(mid, make_view(*f.view_node, g_.tensor(f.in[0].t), out + ".unclamped", f.shape));
      }
      TensorId m = emit(std::move(op_layer), std::move(mid));
      Requantize rq;
      rq.input_zero_point = zp_y;
      rq.requant.zero_point = zp_y;
      rq.requant.lo = static_cast<int32_t>(lo);
      rq.requant.hi = static_cast<int32_t>(hi);
      Layer r;
      r.name = layer_name(q);
      r.op = rq;
      r.inputs = {m};
      r.onnx_nodes = f.nodes;
      r.onnx_nodes.push_back(layer_name(q));
      if (g_.tensor(m).layout == Layout::FlattenedHWC) {
        t.layout = Layout::FlattenedHWC;
        t.hwc_source = g_.tensor(m).hwc_source;
      }
      return emit(std::move(r), std::move(t));
    };

    switch (f.kind) {
      case FKind::Dequant: {
        const Operand x = f.in[0];
        const Tensor& xt = g_.tensor(x.t);
        if (f.view_node) {
          Layer v;
          v.name = layer_name(*f.view_node);
          v.op = View{};
          v.inputs = {x.t};
          v.onnx_nodes = l.onnx_nodes;
          DORY_TRY(t, make_view(*f.view_node, xt, out, f.shape));
          t.dtype_declared = true;
          return move_op(std::move(v));
        }
        const ValueRange xr = dtype_range(xt.dtype);
        if (same_scale(x.scale, s_y) && x.zp == zp_y && xt.dtype == dt && lo <= xr.lo && hi >= xr.hi)
          return x.t;  // Q(DQ(x)) with the same quantization: x itself
        Requantize r;
        r.input_zero_point = x.zp;
        DORY_TRY(r.requant, requant_from_real({x.scale / s_y}, MultiplierUse::accumulators({max_offset(xr, x.zp)}),
                                              zp_y, lo, hi, where));
        l.name = layer_name(q);
        l.op = r;
        l.inputs = {x.t};
        if (xt.layout == Layout::FlattenedHWC) {
          t.layout = Layout::FlattenedHWC;
          t.hwc_source = xt.hwc_source;
        }
        return emit(std::move(l), std::move(t));
      }
      case FKind::Conv:
      case FKind::Fc: {
        std::vector<double> M;
        for (double a : f.acc_scale) M.push_back(a / s_y);
        const Operand& x = f.in[0];
        auto* c = l.as<Conv2d>();
        auto* fc = l.as<FullyConnected>();
        const std::vector<int32_t>& w = c ? c->weights : fc->weights;
        const std::vector<int32_t>& bias = c ? c->bias : fc->bias;
        const std::vector<int64_t> B =
            accumulator_bounds(w, bias, static_cast<int64_t>(bias.size()), dtype_range(g_.tensor(x.t).dtype), x.zp);
        DORY_TRY(Requant rq, requant_from_real(M, MultiplierUse::accumulators(B), zp_y, lo, hi, where));
        if (c) c->requant = rq;
        else fc->requant = rq;
        return emit(std::move(l), std::move(t));
      }
      case FKind::AvgPool: {
        auto& ap = std::get<AveragePool>(l.op);
        // |x - zp| over the input's type, and over the padded cells' value where they are counted.
        const Operand& x = f.in[0];
        int64_t vmax = max_offset(dtype_range(g_.tensor(x.t).dtype), x.zp);
        if (ap.win.pad.any() && ap.count_include_pad)
          vmax = std::max(vmax, std::abs(static_cast<int64_t>(ap.pad_value) - x.zp));
        const int64_t window = static_cast<int64_t>(ap.win.kh) * ap.win.kw;
        DORY_TRY(ap.requant, requant_from_real({x.scale / s_y}, MultiplierUse::window_sums(window, vmax), zp_y, lo,
                                               hi, where));
        return emit(std::move(l), std::move(t));
      }
      case FKind::Add: {
        // t_i = m_i * (x_i - zp_i) per operand (exact), then y = floor((t_1 + t_2 + 2^(s-1)) / 2^s) + zp_y.
        std::vector<double> M;
        std::vector<int64_t> R;
        for (const Operand& o : f.in) {
          M.push_back(o.scale / s_y);
          R.push_back(max_offset(dtype_range(g_.tensor(o.t).dtype), o.zp));
        }
        DORY_TRY(FixedPoint fp, fixed_point_multipliers(M, MultiplierUse::operand_sum(R), where));
        auto& add = std::get<Add>(l.op);
        add.operands.clear();
        for (size_t i = 0; i < f.in.size(); ++i) {
          AddOperand op;
          op.zero_point = f.in[i].zp;
          op.mul = fp.m[i];
          add.operands.push_back(op);
        }
        add.requant = requant_of(FixedPoint{{1}, fp.shift}, zp_y, lo, hi);
        return emit(std::move(l), std::move(t));
      }
      case FKind::MaxPool:
      case FKind::Concat:
        return move_op(std::move(l));
    }
    DORY_CHECK(false, "unhandled float value kind");
    return TensorId{-1};
  }

  // ---- outputs ----------------------------------------------------------------------------------------------

  Status finish_outputs() {
    for (const ValueInfo& o : m_.outputs) {
      std::string name = o.name;
      auto it = vals_.find(name);
      DORY_CHECK(it != vals_.end(), "graph output never produced");
      if (auto* t = std::get_if<HostTail>(&it->second)) {
        name = t->network_output;
        it = vals_.find(name);
        DORY_CHECK(it != vals_.end(), "host tail starts at an undefined value");
      }
      const std::string where = fmt::format("output '{}'", o.name);
      Value& v = it->second;
      if (std::holds_alternative<ConstTensor>(v) || std::holds_alternative<QConst>(v))
        return make_error("onnx-constant-output", where, "is a constant; dory networks compute their outputs");
      if (std::holds_alternative<FloatInput>(v))
        return make_error("onnx-unquantized-float-op", where, "is a float graph input passed through unchanged",
                          kQdqHint);
      if (const auto* q = std::get_if<QTensor>(&v)) {
        if (q->pad) return make_error("onnx-unsupported-pattern", where, "is the output of a Pad");
        g_.outputs.push_back(q->t);
        g_.output_dequant.push_back(std::nullopt);
        continue;
      }
      FloatVal& f = std::get<FloatVal>(v);
      if (f.pad) return make_error("onnx-unsupported-pattern", where, "is the output of a Pad");
      if (f.kind == FKind::Dequant) {  // DequantizeLinear at the end: dequantized on the host
        Operand x = f.in[0];
        if (f.view_node || f.clamped()) {
          DORY_TRY(x, materialize_dequant(f));
          FloatVal plain = f;
          plain.in = {x};
          plain.view_node = nullptr;
          plain.lo = -kInf;
          plain.hi = kInf;
          f = plain;
        }
        EdgeQuant eq;
        eq.scale = {static_cast<float>(x.scale)};
        eq.zero_point = {x.zp};
        eq.dtype = g_.tensor(x.t).dtype;
        g_.outputs.push_back(x.t);
        g_.output_dequant.push_back(eq);
        continue;
      }
      if (f.kind == FKind::Conv || f.kind == FKind::Fc) {
        DORY_TRY(TensorId t, accumulator_output(f, where));
        const double s = f.acc_scale[0];
        EdgeQuant eq;
        eq.scale = {static_cast<float>(s)};
        eq.zero_point = {0};
        eq.dtype = DType::Int32;
        g_.outputs.push_back(t);
        g_.output_dequant.push_back(eq);
        if (static_cast<double>(eq.scale[0]) != s)
          notes_.insert(fmt::format("output '{}': the int32 accumulator's scale s_x*s_w = {:.17g} is rounded to "
                                    "float32 {:.9g} for dequantization on the host",
                                    o.name, s, eq.scale[0]));
        continue;
      }
      return make_error("onnx-unquantized-float-op", where,
                        fmt::format("is the float result of {}, which is not quantized; only a Conv/Gemm/MatMul may "
                                    "end the network in float (as its int32 accumulator)",
                                    f.origin ? f.origin->label() : std::string("a float op")),
                        "add QuantizeLinear + DequantizeLinear after it");
    }
    return ok_status();
  }

  // A float Conv/Gemm ending the network: its int32 accumulator is the output, dequantized with s_x*s_w on the
  // host. The scale must be one per tensor.
  Expected<TensorId> accumulator_output(const FloatVal& f, const std::string& where) {
    for (double a : f.acc_scale)
      if (std::fabs(a / f.acc_scale[0] - 1.0) > kScaleRelTol)
        return make_error("onnx-per-channel-activation", f.origin->label(),
                          fmt::format("ends the network in float ({}) with per-channel weight scales ({} and {}), so "
                                      "its int32 accumulators have per-channel scales; dory's float outputs are "
                                      "dequantized per tensor",
                                      where, f.acc_scale[0], a),
                          "quantize the last layer's weights per tensor, or add QuantizeLinear + DequantizeLinear "
                          "after it");
    Layer l = f.layer;
    l.onnx_nodes = f.nodes;
    Tensor t = make_activation(f.name, f.shape);
    t.dtype = DType::Int32;
    t.dtype_declared = true;
    t.scale = f.acc_scale[0];
    if (f.clamped()) {  // Relu/Clip on the accumulator: bounds in accumulator units
      Requant rq;
      const double s = f.acc_scale[0];
      if (f.lo != -kInf) rq.lo = static_cast<int32_t>(std::clamp(std::ceil(f.lo / s), -2147483648.0, 2147483647.0));
      if (f.hi != kInf) rq.hi = static_cast<int32_t>(std::clamp(std::floor(f.hi / s), -2147483648.0, 2147483647.0));
      if (rq.lo > rq.hi) rq.lo = rq.hi;
      if (auto* c = l.as<Conv2d>()) c->requant = rq;
      else std::get<FullyConnected>(l.op).requant = rq;
    }
    return emit(std::move(l), std::move(t));
  }
};

}  // namespace

Expected<Graph> import_qdq(const OnnxModel& model, const ImportOptions& options) {
  if (model.opset < 10)
    return make_error("onnx-unsupported-opset", model.origin,
                      fmt::format("uses opset {}; QuantizeLinear/DequantizeLinear need opset 10 (per-channel: 13)",
                                  model.opset),
                      "re-export with opset 13 or later");
  Importer imp(model, options);
  return imp.run();
}

}  // namespace dory::onnxfe
