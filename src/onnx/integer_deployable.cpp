// The integer-deployable dialect (NEMO, QuantLab, DORY's examples, dory's own Fashion-MNIST export): float
// tensors that hold integers, with requantization spelled out as elementwise ops after each Conv/Gemm/Pool/Add.
//
// How it works: the importer walks the nodes in topological order and keeps, for every ONNX value, either a
// constant, an integer IR tensor, or a *pending* value: the exact rational expression
//       (src * M[c] + A[c]) / D        optionally rounded (floor or truncation) and clamped,
// where src is the int32 accumulator of a Conv/Gemm/MatMul (or the window sum of a pool, the operand sum of an
// Add, or an integer tensor). Mul, Add, Div by constants, Floor, Cast and Clip/Relu update M, A, D, the rounding
// and the clamp exactly (integers in __int128, never floats): Mul by c multiplies M and A; Add of c adds c*D to A;
// Div by c multiplies D (an integer-typed Div, after a Cast to int64, also rounds toward zero, as ONNX does);
// Floor rounds down; Clip/Relu clamp. A pending value becomes an IR layer (with its fused Requant) when something
// else consumes it. This covers DORY's patterns (Mul, Div, Clip; Mul, Add, Mul, Div, Clip; Mul, Add, Div, Floor,
// Clip; (Mul, Mul), Add, Div) and their variants without pattern tables, and represents divisors such as NEMO's
// 2^d - 1 and 64-bit intermediates exactly instead of rounding them to shifts.
//
// QuantLab's Add carries its requantization as attributes (in1_mul, in1_add, in1_shift, in1_rq, likewise in2_*,
// out_mul, out_add, out_shift, out_rq, out_n_levels); it is read from them, since a plain ONNX Add is wrong there.
// A trailing Sigmoid/LogSoftmax/Softmax/Gather (and whatever consumes their results) is left to the host, as DORY
// does: the network ends at the tensor entering that tail, and a note says so.
#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "onnx/conv_builder.h"
#include "onnx/dialects.h"
#include "onnx/import_util.h"

namespace dory::onnxfe {
namespace {

using i128 = __int128;

struct IntVal {
  TensorId t = -1;
  std::optional<PendingPad> pad;  // an explicit Pad waiting for its Conv/Pool
};

enum class SrcKind { Conv, Fc, Pool, Add, Tensor };

struct Pending {
  SrcKind kind = SrcKind::Tensor;
  Layer layer;                    // Conv/Fc/Pool/Add being built; its requant is set when materialized
  TensorId src = -1;              // Tensor: the integer input of a Requantize
  std::vector<int64_t> shape;     // ONNX shape of the value
  std::vector<i128> M{1}, A{0};   // size 1 or channels
  i128 D = 1;
  bool rounded = false;           // an integer rounding (Floor, integer Div, Cast to int) has been applied
  Rounding rounding = Rounding::Floor;
  bool int_typed = false;         // the ONNX value has an integer element type (after Cast to int)
  std::optional<int64_t> lo, hi;  // clamp
  std::string name;               // the ONNX value this pending state currently is
  std::vector<std::string> values;  // every ONNX value the chain passed through (for the clamp fold)
  std::vector<std::string> nodes; // provenance
  int64_t channels() const { return shape.size() >= 2 ? shape[1] : 1; }
};

// A value computed by the host-side tail (after the network's end).
struct HostTail {
  std::string network_output;  // the ONNX value where the tail starts
};

using Value = std::variant<ConstTensor, IntVal, Pending, HostTail>;

class Importer {
 public:
  Importer(const OnnxModel& m, const ImportOptions& o) : m_(m), opt_(o) {}

  Expected<Graph> run() {
    for (const ValueInfo& in : m_.inputs) DORY_TRY_STATUS(add_input(in));
    for (const auto& [name, c] : m_.constants) vals_[name] = c;
    for (const Node& n : m_.nodes) DORY_TRY_STATUS(visit(n));
    DORY_TRY_STATUS(finish_outputs());
    // Layers in the order of the ONNX node that starts them (a topological order, and DORY's numbering).
    std::map<std::string, int> node_index;
    for (const Node& n : m_.nodes) node_index[layer_name(n)] = n.index;
    std::stable_sort(g_.layers.begin(), g_.layers.end(), [&](const Layer& a, const Layer& b) {
      return node_index[a.onnx_nodes.front()] < node_index[b.onnx_nodes.front()];
    });
    return std::move(g_);
  }

 private:
  const OnnxModel& m_;
  const ImportOptions& opt_;
  Graph g_;
  std::map<std::string, Value> vals_;
  std::map<std::string, std::vector<std::string>> tail_starts_;  // network output -> host-tail nodes reading it

  // ---- values -------------------------------------------------------------------------------------------

  Status add_input(const ValueInfo& in) {
    if (!in.has_shape)
      return make_error("onnx-unknown-shape", fmt::format("input '{}'", in.name), "has no shape in the model",
                        "export with a fixed input shape");
    std::vector<int64_t> shape = in.shape;
    for (int64_t& d : shape)
      if (d < 0) d = 1;  // a symbolic batch dimension: dory deploys batch 1
    DORY_TRY_STATUS(check_activation_size(fmt::format("input '{}'", in.name), shape));
    Tensor t = make_activation(in.name, shape);
    if (is_float_type(in.elem_type)) {
      t.dtype = opt_.input_dtype;
    } else {
      DORY_TRY(DType dt, activation_dtype(in.elem_type, fmt::format("input '{}'", in.name)));
      t.dtype = dt;
    }
    t.dtype_declared = true;
    t.range = dtype_range(t.dtype);
    TensorId id = g_.add_tensor(std::move(t));
    g_.inputs.push_back(id);
    vals_[in.name] = IntVal{id, std::nullopt};
    return ok_status();
  }

  const ConstTensor* constant(const std::string& name) const {
    auto it = vals_.find(name);
    return it == vals_.end() ? nullptr : std::get_if<ConstTensor>(&it->second);
  }

  std::vector<int64_t> shape_of(const Value& v) const {
    if (const auto* c = std::get_if<ConstTensor>(&v)) return c->shape;
    if (const auto* iv = std::get_if<IntVal>(&v)) return g_.tensor(iv->t).shape;
    if (const auto* p = std::get_if<Pending>(&v)) return p->shape;
    return {};
  }

  Expected<Value*> value(const Node& n, size_t k) {
    if (k >= n.inputs.size() || n.inputs[k].empty())
      return make_error("onnx-missing-input", n.label(), fmt::format("input {} is missing", k));
    auto it = vals_.find(n.inputs[k]);
    DORY_CHECK(it != vals_.end(), "topologically ordered model reads an undefined value");
    return &it->second;
  }

  // The integer tensor for input k of n, materializing a pending value. Pads stay attached.
  Expected<IntVal> int_input(const Node& n, size_t k, bool allow_pad = false) {
    DORY_TRY(Value * v, value(n, k));
    if (std::holds_alternative<HostTail>(*v))
      return make_error("onnx-unsupported-pattern", n.label(), "consumes a value computed after the host-side tail");
    if (std::holds_alternative<ConstTensor>(*v))
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("input '{}' is a constant where dory expects an activation", n.inputs[k]));
    if (auto* p = std::get_if<Pending>(v)) {
      DORY_TRY(TensorId t, materialize(*p));
      *v = IntVal{t, std::nullopt};
    }
    IntVal iv = std::get<IntVal>(*v);
    if (iv.pad && !allow_pad)
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("reads '{}', the output of a Pad; dory absorbs a Pad only into the Conv or Pool "
                                    "that follows it",
                                    n.inputs[k]));
    return iv;
  }

  // ---- materialization: a pending value becomes an IR layer ---------------------------------------------

  Expected<Requant> to_requant(const Pending& p, const std::string& where) {
    Requant rq;
    auto narrow = [&](i128 v, const char* what) -> Expected<int64_t> {
      if (v < std::numeric_limits<int64_t>::min() || v > std::numeric_limits<int64_t>::max())
        return make_error("ir-requant-overflow", where,
                          fmt::format("the requantization {} exceeds 64 bits", what),
                          "the export's multipliers are too large for exact 64-bit arithmetic");
      return static_cast<int64_t>(v);
    };
    rq.mul.clear();
    rq.add.clear();
    for (i128 v : p.M) { DORY_TRY(int64_t x, narrow(v, "multiplier")); rq.mul.push_back(x); }
    for (i128 v : p.A) { DORY_TRY(int64_t x, narrow(v, "offset")); rq.add.push_back(x); }
    // Per-channel vectors whose entries are all equal are per-tensor values.
    for (auto* v : {&rq.mul, &rq.add})
      if (v->size() > 1 && std::all_of(v->begin(), v->end(), [&](int64_t x) { return x == v->front(); })) v->resize(1);
    if (p.D <= 0 || p.D >= (i128{1} << 62))
      return make_error("ir-bad-divisor", where, "the divisor must be a positive integer below 2^62");
    rq.divisor = static_cast<uint64_t>(p.D);
    rq.rounding = p.rounding;
    rq.zero_point = 0;
    if (p.lo) rq.lo = static_cast<int32_t>(std::clamp<int64_t>(*p.lo, INT32_MIN, INT32_MAX));
    if (p.hi) rq.hi = static_cast<int32_t>(std::clamp<int64_t>(*p.hi, INT32_MIN, INT32_MAX));
    return rq;
  }

  // A stage that only clamps (its scaling is exactly the identity, e.g. NEMO's Mul 32, Div 32 after an add)
  // joins the requantization of the layer that produced its input, as DORY fuses it, provided nothing else
  // reads the unclamped value.
  bool fold_clamp_into_producer(Pending& p) {
    const bool unit_scale = std::all_of(p.M.begin(), p.M.end(), [&](i128 v) { return v == p.D; }) &&
                            std::all_of(p.A.begin(), p.A.end(), [](i128 v) { return v == 0; });
    if (!unit_scale || g_.layers.empty() || g_.layers.back().output != p.src) return false;
    for (const std::string& v : p.values)
      if (m_.consumers(v).size() != 1 || m_.is_graph_output(v)) return false;
    Layer& prod = g_.layers.back();
    Requant* rq = nullptr;
    if (auto* c = prod.as<Conv2d>()) rq = c->requant ? &*c->requant : nullptr;
    else if (auto* f = prod.as<FullyConnected>()) rq = f->requant ? &*f->requant : nullptr;
    else if (auto* a = prod.as<Add>()) rq = &a->requant;
    else if (auto* ap = prod.as<AveragePool>()) rq = &ap->requant;
    else if (auto* r = prod.as<Requantize>()) rq = &r->requant;
    if (!rq) return false;
    if (p.lo) rq->lo = static_cast<int32_t>(std::clamp<int64_t>(std::max<int64_t>(rq->lo, *p.lo), INT32_MIN, INT32_MAX));
    if (p.hi) rq->hi = static_cast<int32_t>(std::clamp<int64_t>(std::min<int64_t>(rq->hi, *p.hi), INT32_MIN, INT32_MAX));
    g_.tensor(p.src).name = p.name;  // the layer's output is now the clamped value
    prod.onnx_nodes.insert(prod.onnx_nodes.end(), p.nodes.begin(), p.nodes.end());
    return true;
  }

  bool is_identity(const Pending& p) const {
    return p.D == 1 && !p.lo && !p.hi &&
           std::all_of(p.M.begin(), p.M.end(), [](i128 v) { return v == 1; }) &&
           std::all_of(p.A.begin(), p.A.end(), [](i128 v) { return v == 0; });
  }

  Expected<TensorId> materialize(Pending& p) {
    const std::string where = fmt::format("value '{}'", p.name);
    if (p.D != 1 && !p.rounded)
      return make_error("onnx-non-integer", where,
                        fmt::format("is divided by {} without a Floor (or an integer Cast), so it is not an integer; "
                                    "an integer-deployable graph must round after every division",
                                    static_cast<int64_t>(p.D)),
                        "insert Floor after the Div in the export");
    if (p.kind == SrcKind::Tensor && is_identity(p)) return p.src;
    if (p.kind == SrcKind::Tensor && fold_clamp_into_producer(p)) return p.src;
    Tensor out = make_activation(p.name, p.shape);
    TensorId id = g_.add_tensor(std::move(out));
    Layer l = std::move(p.layer);
    l.output = id;
    l.onnx_nodes.insert(l.onnx_nodes.end(), p.nodes.begin(), p.nodes.end());
    if (p.kind == SrcKind::Tensor) {
      Requantize r;
      DORY_TRY(r.requant, to_requant(p, where));
      l.op = r;
      l.inputs = {p.src};
      if (l.name.empty()) l.name = p.nodes.empty() ? p.name : p.nodes.front();
    } else if (p.kind == SrcKind::Conv) {
      if (!is_identity(p)) { DORY_TRY(Requant rq, to_requant(p, where)); std::get<Conv2d>(l.op).requant = rq; }
    } else if (p.kind == SrcKind::Fc) {
      if (!is_identity(p)) { DORY_TRY(Requant rq, to_requant(p, where)); std::get<FullyConnected>(l.op).requant = rq; }
    } else if (p.kind == SrcKind::Pool) {
      if (!p.rounded && !(p.D == 1 && std::get<AveragePool>(l.op).win.kh * std::get<AveragePool>(l.op).win.kw == 1))
        return make_error("onnx-non-integer", where,
                          "an average is not an integer: follow AveragePool/GlobalAveragePool with Floor",
                          "insert Floor after the pooling (and its Mul/Div, if any) in the export");
      DORY_TRY(std::get<AveragePool>(l.op).requant, to_requant(p, where));
    } else if (p.kind == SrcKind::Add) {
      if (p.M.size() != 1 || p.A.size() != 1)
        return make_error("onnx-unsupported-pattern", where,
                          "a per-channel requantization after a residual Add is not supported");
      DORY_TRY(std::get<Add>(l.op).requant, to_requant(p, where));
    }
    g_.layers.push_back(std::move(l));
    p = Pending{};  // consumed
    return id;
  }

  // ---- node visitors ------------------------------------------------------------------------------------

  Status visit(const Node& n) {
    if (!n.domain.empty() && n.domain != "ai.onnx")
      return unsupported(n, fmt::format("custom domain '{}'", n.domain));
    // Anything consuming a host-tail value is part of the tail.
    for (const std::string& in : n.inputs)
      if (auto it = vals_.find(in); it != vals_.end() && std::holds_alternative<HostTail>(it->second)) {
        HostTail t = std::get<HostTail>(it->second);
        for (const std::string& out : n.outputs) vals_[out] = t;
        return ok_status();
      }
    // Constant folding: every input constant (Shape only needs the shape).
    DORY_TRY(auto folded, fold_if_constant(
                              n, m_.opset, [&](const std::string& v) { return constant(v); },
                              [&](const std::string& v) { return shape_of(vals_.at(v)); }));
    if (folded) {
      for (size_t k = 0; k < n.outputs.size() && k < folded->size(); ++k) vals_[n.outputs[k]] = std::move((*folded)[k]);
      return ok_status();
    }
    const std::string& op = n.op_type;
    if (op == "Identity" || op == "Dropout") return alias(n);
    if (op == "Conv") return visit_conv(n);
    if (op == "Gemm" || op == "MatMul") return visit_fc(n);
    if (op == "Mul" || op == "Add" || op == "Sub" || op == "Div") return visit_arith(n);
    if (op == "Floor") return visit_floor(n);
    if (op == "Cast") return visit_cast(n);
    if (op == "Clip" || op == "Relu") return visit_clip(n);
    if (op == "MaxPool") return visit_maxpool(n);
    if (op == "AveragePool" || op == "GlobalAveragePool") return visit_avgpool(n);
    if (op == "Pad") return visit_pad(n);
    if (op == "Flatten" || op == "Reshape" || op == "Squeeze" || op == "Unsqueeze") return visit_view(n);
    if (op == "Concat") return visit_concat(n);
    if (is_host_tail_op(op)) {
      for (const std::string& out : n.outputs) vals_[out] = HostTail{n.inputs.at(0)};
      tail_starts_[n.inputs.at(0)].push_back(n.label());
      return ok_status();
    }
    return unsupported(n, "");
  }

  Diagnostic unsupported(const Node& n, const std::string& why) {
    return make_error("onnx-unsupported-op", n.label(),
                      fmt::format("{}is not supported in an integer-deployable graph", why.empty() ? "" : why + ": "),
                      "supported: Conv (standard, depthwise), Gemm/MatMul, MaxPool, AveragePool, GlobalAveragePool, "
                      "Add (residual or constant), Mul/Div/Sub by constants, Floor, Cast, Clip, Relu, Pad (zero), "
                      "Flatten/Reshape, Concat (channels), Identity; a trailing Sigmoid/Softmax/LogSoftmax/Gather is "
                      "left to the host");
  }

  Status alias(const Node& n) {
    DORY_TRY(Value * v, value(n, 0));
    Value copy = *v;
    if (auto* p = std::get_if<Pending>(&copy)) p->name = n.outputs.at(0);
    vals_[n.outputs.at(0)] = std::move(copy);
    return ok_status();
  }

  Status visit_conv(const Node& n) {
    DORY_TRY(IntVal x, int_input(n, 0, /*allow_pad=*/true));
    const ConstTensor* w = n.inputs.size() > 1 ? constant(n.inputs[1]) : nullptr;
    if (!w)
      return make_error("onnx-unsupported-pattern", n.label(), "the weights must be a constant (initializer)",
                        "export with the weights as initializers");
    ConvOperand operand{&g_.tensor(x.t), 0, std::nullopt};
    if (x.pad) {
      DORY_TRY(operand.pad, integer_pad(n, *x.pad));
    }
    DORY_TRY(ConvBuild b, build_conv(n, operand, *w, n.inputs[1]));
    Conv2d& c = b.conv;
    if (n.inputs.size() > 2 && !n.inputs[2].empty()) {
      const ConstTensor* bias = constant(n.inputs[2]);
      if (!bias) return make_error("onnx-unsupported-pattern", n.label(), "the bias must be a constant");
      DORY_TRY(c.bias, int32_values(n, n.inputs[2], *bias, "bias"));
      if (static_cast<int64_t>(c.bias.size()) != b.c_out())
        return make_error("onnx-shape-mismatch", n.label(), fmt::format("bias has {} values for {} output channels",
                                                                        c.bias.size(), b.c_out()));
    }
    Pending p;
    p.kind = SrcKind::Conv;
    p.shape = b.out_shape;
    p.layer.name = layer_name(n);
    p.layer.op = std::move(c);
    p.layer.inputs = {x.t};
    p.name = n.outputs.at(0);
    p.nodes = {layer_name(n)};
    vals_[n.outputs.at(0)] = std::move(p);
    return ok_status();
  }

  // The integer value of an explicit Pad's cells (the graph holds integers in floats, so the Pad's constant is
  // that integer).
  Expected<IntegerPad> integer_pad(const Node& n, const PendingPad& pp) {
    if (std::floor(pp.value) != pp.value)
      return make_error("onnx-non-integer", n.label(), fmt::format("is preceded by a Pad with value {}", pp.value));
    if (!(std::fabs(pp.value) <= 2147483647.0))
      return make_error("onnx-value-range", n.label(),
                        fmt::format("is preceded by a Pad with value {}, which does not fit int32", pp.value));
    return IntegerPad{pp.pad, static_cast<int64_t>(pp.value), pp.node};
  }

  // Moves an explicit Pad into a pool's window and records its value (pool_pad) for the caller.
  Status absorb_pad(const Node& n, IntVal& x, Window& win, std::optional<int32_t>* pool_pad) {
    if (!x.pad) return ok_status();
    DORY_TRY(IntegerPad ip, integer_pad(n, *x.pad));
    if (win.pad.any())
      return make_error("onnx-unsupported-pattern", n.label(),
                        "both an explicit Pad and the pool's own pads; dory supports one or the other");
    *pool_pad = static_cast<int32_t>(ip.value);
    add_padding(win.pad, ip.pad);
    x.pad.reset();
    return ok_status();
  }

  Status visit_fc(const Node& n) {
    DORY_TRY(IntVal x, int_input(n, 0));
    const ConstTensor* w = n.inputs.size() > 1 ? constant(n.inputs[1]) : nullptr;
    if (!w || w->shape.size() != 2)
      return make_error("onnx-unsupported-pattern", n.label(),
                        "the second input must be a constant 2-D weight matrix");
    const Tensor in = g_.tensor(x.t);
    bool trans_b = false;
    if (n.op_type == "Gemm") {
      if (n.attr_int("transA").value_or(0) != 0)
        return make_error("onnx-unsupported-attribute", n.label(), "transA = 1 is not supported");
      if (n.attr_float("alpha").value_or(1.0) != 1.0 || n.attr_float("beta").value_or(1.0) != 1.0)
        return make_error("onnx-unsupported-attribute", n.label(), "alpha and beta must be 1");
      trans_b = n.attr_int("transB").value_or(0) != 0;
    }
    const int64_t K = trans_b ? w->shape[1] : w->shape[0], N = trans_b ? w->shape[0] : w->shape[1];
    if (in.elements() != K)
      return make_error("onnx-shape-mismatch", n.label(),
                        fmt::format("multiplies an input of shape {} by a weight matrix with {} rows", shape_str(in.shape),
                                    K));
    DORY_TRY(auto wv, int32_values(n, n.inputs[1], *w, "weight matrix"));
    std::vector<int32_t> w_nk(static_cast<size_t>(N * K));
    for (int64_t nn = 0; nn < N; ++nn)
      for (int64_t k = 0; k < K; ++k)
        w_nk[static_cast<size_t>(nn * K + k)] = trans_b ? wv[static_cast<size_t>(nn * K + k)]
                                                        : wv[static_cast<size_t>(k * N + nn)];
    FullyConnected fc;
    fc.weights = fc_weights_for_input(in, w_nk, N);
    fc.bias.assign(static_cast<size_t>(N), 0);
    if (n.op_type == "Gemm" && n.inputs.size() > 2 && !n.inputs[2].empty()) {
      const ConstTensor* b = constant(n.inputs[2]);
      if (!b || b->size() != N)
        return make_error("onnx-unsupported-pattern", n.label(), fmt::format("the bias must be a constant of {} values", N));
      DORY_TRY(fc.bias, int32_values(n, n.inputs[2], *b, "bias"));
    }
    Pending p;
    p.kind = SrcKind::Fc;
    p.shape = {1, N};
    p.layer.name = layer_name(n);
    p.layer.op = std::move(fc);
    p.layer.inputs = {x.t};
    p.name = n.outputs.at(0);
    p.nodes = {layer_name(n)};
    vals_[n.outputs.at(0)] = std::move(p);
    return ok_status();
  }

  // A pending value that elementwise arithmetic may extend, materializing first when it cannot (already
  // clamped, or rounded before a further scaling).
  // Adding an integer commutes with floor (floor(y) + c = floor(y + c)) but not with truncation; scaling
  // commutes with neither, so those start a new stage on the materialized value.
  // Clamping commutes with every rounding.
  enum class Extension { Scale, Shift, Clamp };
  Expected<Pending> extendable(const Node& n, size_t k, Extension ext) {
    DORY_TRY(Value * v, value(n, k));
    if (auto* p = std::get_if<Pending>(v)) {
      const bool rounding_blocks = p->rounded && p->D != 1 &&
                                   (ext == Extension::Scale ||
                                    (ext == Extension::Shift && p->rounding == Rounding::TowardZero));
      if (!p->lo && !p->hi && !rounding_blocks) {
        Pending copy = *p;
        copy.nodes.push_back(layer_name(n));
        copy.values.push_back(copy.name);
        copy.name = n.outputs.at(0);
        return copy;
      }
    }
    DORY_TRY(IntVal x, int_input(n, k));
    Pending p;
    p.kind = SrcKind::Tensor;
    p.src = x.t;
    p.shape = g_.tensor(x.t).shape;
    p.int_typed = false;
    p.values = {n.inputs[k]};
    p.name = n.outputs.at(0);
    p.nodes = {layer_name(n)};
    p.layer.name = layer_name(n);
    return p;
  }

  Expected<std::vector<i128>> channel_ints(const Node& n, const std::string& cname, const ConstTensor& c,
                                           const Pending& p) {
    DORY_TRY(auto vals, per_channel_values(n, cname, c, p.channels(), static_cast<int64_t>(p.shape.size())));
    std::vector<i128> out;
    for (size_t k = 0; k < vals.size(); ++k) {
      double v = vals[k];
      if (!std::isfinite(v) || std::floor(v) != v || std::fabs(v) > 9.2e18)
        return make_error("onnx-non-integer", n.label(),
                          fmt::format("constant '{}' holds the non-integer value {} at index {}; an integer-deployable "
                                      "graph must hold integers in its float tensors",
                                      cname, v, k),
                          "export the integerized network (NEMO/QuantLab integer stage), or a QDQ model");
      out.push_back(static_cast<i128>(c.integral && c.size() == static_cast<int64_t>(vals.size()) ? c.i[k] : v));
    }
    return out;
  }

  static std::vector<i128> broadcast_mul(const std::vector<i128>& a, const std::vector<i128>& b) {
    size_t n = std::max(a.size(), b.size());
    std::vector<i128> out(n);
    for (size_t k = 0; k < n; ++k) out[k] = a[a.size() == 1 ? 0 : k] * b[b.size() == 1 ? 0 : k];
    return out;
  }
  static std::vector<i128> broadcast_add(const std::vector<i128>& a, const std::vector<i128>& b) {
    size_t n = std::max(a.size(), b.size());
    std::vector<i128> out(n);
    for (size_t k = 0; k < n; ++k) out[k] = a[a.size() == 1 ? 0 : k] + b[b.size() == 1 ? 0 : k];
    return out;
  }

  Status check_magnitude(const Node& n, const Pending& p) {
    const i128 limit = i128{1} << 100;  // far beyond int64: reject before __int128 could overflow
    for (const auto* vec : {&p.M, &p.A})
      for (i128 v : *vec)
        if (v > limit || v < -limit)
          return make_error("ir-requant-overflow", n.label(), "the folded requantization constants overflow");
    if (p.D > limit) return make_error("ir-requant-overflow", n.label(), "the folded divisor overflows");
    return ok_status();
  }

  Status visit_arith(const Node& n) {
    const std::string& op = n.op_type;
    if (n.inputs.size() != 2) return unsupported(n, "expected two inputs");
    const ConstTensor* c0 = constant(n.inputs[0]);
    const ConstTensor* c1 = constant(n.inputs[1]);
    if (op == "Add" && n.attr("in1_mul")) return visit_quantlab_add(n);
    if (!c0 && !c1) {
      if (op == "Add") return visit_residual_add(n);
      return unsupported(n, fmt::format("{} of two activations", op));
    }
    const size_t act = c1 ? 0 : 1;
    const ConstTensor& c = c1 ? *c1 : *c0;
    const std::string& cname = n.inputs[1 - act];
    if ((op == "Sub" || op == "Div") && act == 1)
      return unsupported(n, fmt::format("{} with the constant as the first operand", op));
    // Mul/Div scale the whole expression; Add/Sub shift it. Scaling a rounded value needs a new stage.
    DORY_TRY(Pending p, extendable(n, act, op == "Mul" || op == "Div" ? Extension::Scale : Extension::Shift));
    if (op == "Mul") {
      DORY_TRY(auto cv, channel_ints(n, cname, c, p));
      p.M = broadcast_mul(p.M, cv);
      p.A = broadcast_mul(p.A, cv);
    } else if (op == "Add" || op == "Sub") {
      DORY_TRY(auto cv, channel_ints(n, cname, c, p));
      if (op == "Sub")
        for (i128& v : cv) v = -v;
      for (i128& v : cv) v *= p.D;  // (x*M + A)/D + c = (x*M + A + c*D)/D
      p.A = broadcast_add(p.A, cv);
    } else {  // Div
      if (c.size() != 1)
        return unsupported(n, "division by a per-channel constant (dory's requantization has one divisor per layer)");
      DORY_TRY(auto cv, channel_ints(n, cname, c, p));
      if (cv[0] <= 0) return unsupported(n, fmt::format("division by {} (must be a positive integer)",
                                                        static_cast<int64_t>(cv[0])));
      p.D *= cv[0];
      if (p.int_typed) {
        p.rounded = true;
        p.rounding = Rounding::TowardZero;  // ONNX integer Div truncates
      }
    }
    DORY_TRY_STATUS(check_magnitude(n, p));
    vals_[n.outputs.at(0)] = std::move(p);
    return ok_status();
  }

  Status visit_floor(const Node& n) {
    DORY_TRY(Value * v, value(n, 0));
    if (auto* p = std::get_if<Pending>(v)) {
      Pending copy = *p;
      copy.values.push_back(copy.name);
      copy.name = n.outputs.at(0);
      copy.nodes.push_back(layer_name(n));
      if (!copy.rounded) {
        copy.rounded = true;
        copy.rounding = Rounding::Floor;
      } else if (copy.rounding == Rounding::TowardZero && copy.D != 1) {
        // floor after truncation is a no-op on integers
      }
      vals_[n.outputs.at(0)] = std::move(copy);
      return ok_status();
    }
    return alias(n);  // Floor of an integer tensor is the identity
  }

  Status visit_cast(const Node& n) {
    auto to = n.attr_int("to");
    if (!to) return make_error("onnx-missing-attribute", n.label(), "Cast without 'to'");
    DORY_TRY(Value * v, value(n, 0));
    if (auto* p = std::get_if<Pending>(v)) {
      Pending copy = *p;
      copy.values.push_back(copy.name);
      copy.name = n.outputs.at(0);
      copy.nodes.push_back(layer_name(n));
      const bool to_int = is_integer_type(static_cast<int32_t>(*to));
      if (to_int && !copy.rounded && copy.D != 1) {
        copy.rounded = true;  // float -> int conversion truncates
        copy.rounding = Rounding::TowardZero;
      }
      copy.int_typed = to_int;
      vals_[n.outputs.at(0)] = std::move(copy);
      return ok_status();
    }
    return alias(n);
  }

  Status visit_clip(const Node& n) {
    double lo = -INFINITY, hi = INFINITY;
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
    for (double b : {lo, hi})
      if (std::isfinite(b) && std::floor(b) != b)
        return make_error("onnx-non-integer", n.label(), fmt::format("Clip bound {} is not an integer", b));
    DORY_TRY(Pending p, extendable(n, 0, Extension::Clamp));
    // Bounds beyond int32 clamp nothing an int32 value can hold; saturate them before converting.
    if (std::isfinite(lo)) p.lo = p.lo ? std::max<int64_t>(*p.lo, saturating_int64(lo)) : saturating_int64(lo);
    if (std::isfinite(hi)) p.hi = p.hi ? std::min<int64_t>(*p.hi, saturating_int64(hi)) : saturating_int64(hi);
    if (p.lo && p.hi && *p.lo > *p.hi)
      return make_error("onnx-bad-attribute", n.label(), fmt::format("Clip bounds [{}, {}] are empty", lo, hi));
    vals_[n.outputs.at(0)] = std::move(p);
    return ok_status();
  }

  Status visit_pad(const Node& n) {
    DORY_TRY(IntVal x, int_input(n, 0, /*allow_pad=*/true));
    std::vector<const ConstTensor*> cin;
    for (const std::string& in : n.inputs) cin.push_back(in.empty() ? nullptr : constant(in));
    DORY_TRY(PendingPad pp, parse_pad_node(n, m_, cin, static_cast<int64_t>(g_.tensor(x.t).shape.size())));
    if (x.pad) {
      if (pp.pad.any() && x.pad->value != pp.value)
        return make_error("onnx-unsupported-pattern", n.label(), "two consecutive Pads with different values");
      x.pad->pad.top += pp.pad.top;
      x.pad->pad.left += pp.pad.left;
      x.pad->pad.bottom += pp.pad.bottom;
      x.pad->pad.right += pp.pad.right;
    } else if (pp.pad.any()) {
      x.pad = pp;
    }
    vals_[n.outputs.at(0)] = x;
    return ok_status();
  }

  Status visit_maxpool(const Node& n) {
    DORY_TRY(IntVal x, int_input(n, 0, true));
    const Tensor in = g_.tensor(x.t);
    if (!in.is_feature_map() || in.shape[0] != 1)
      return make_error("onnx-unsupported-pattern", n.label(), "MaxPool needs a batch-1 [1,C,H,W] feature map");
    if (n.outputs.size() > 1 && !n.outputs[1].empty())
      return unsupported(n, "MaxPool with an Indices output");
    MaxPool mp;
    DORY_TRY(mp.win, parse_window(n, in.height(), in.width(), std::nullopt, true));
    DORY_TRY_STATUS(absorb_pad(n, x, mp.win, &mp.pad_value));
    if (!mp.pad_value) DORY_TRY_STATUS(check_pool_windows(n, mp.win, in.height(), in.width()));
    Tensor out = make_activation(n.outputs.at(0), {1, in.channels(),
                                  window_out(in.height(), mp.win.kh, mp.win.stride_h, mp.win.pad.top, mp.win.pad.bottom),
                                  window_out(in.width(), mp.win.kw, mp.win.stride_w, mp.win.pad.left, mp.win.pad.right)});
    return emit_simple(n, std::move(mp), {x.t}, std::move(out));
  }

  Status visit_avgpool(const Node& n) {
    DORY_TRY(IntVal x, int_input(n, 0, true));
    const Tensor in = g_.tensor(x.t);
    if (!in.is_feature_map() || in.shape[0] != 1)
      return make_error("onnx-unsupported-pattern", n.label(), "pooling needs a batch-1 [1,C,H,W] feature map");
    AveragePool ap;
    if (n.op_type == "GlobalAveragePool") {
      ap.global = true;
      ap.win.kh = static_cast<int32_t>(in.height());
      ap.win.kw = static_cast<int32_t>(in.width());
    } else {
      DORY_TRY(ap.win, parse_window(n, in.height(), in.width(), std::nullopt, false));
      ap.count_include_pad = n.attr_int("count_include_pad").value_or(0) != 0 || !ap.win.pad.any();
    }
    std::optional<int32_t> explicit_pad;
    DORY_TRY_STATUS(absorb_pad(n, x, ap.win, &explicit_pad));
    if (explicit_pad) {  // explicit Pad values are real elements: counted, with their value
      ap.count_include_pad = true;
      ap.pad_value = *explicit_pad;
    }
    if (!ap.count_include_pad) DORY_TRY_STATUS(check_pool_windows(n, ap.win, in.height(), in.width()));
    Pending p;
    p.kind = SrcKind::Pool;
    p.shape = {1, in.channels(), window_out(in.height(), ap.win.kh, ap.win.stride_h, ap.win.pad.top, ap.win.pad.bottom),
               window_out(in.width(), ap.win.kw, ap.win.stride_w, ap.win.pad.left, ap.win.pad.right)};
    p.layer.name = layer_name(n);
    p.layer.op = std::move(ap);
    p.layer.inputs = {x.t};
    p.name = n.outputs.at(0);
    p.nodes = {layer_name(n)};
    vals_[n.outputs.at(0)] = std::move(p);
    return ok_status();
  }

  Status visit_view(const Node& n) {
    DORY_TRY(IntVal x, int_input(n, 0));
    const Tensor in = g_.tensor(x.t);
    std::vector<int64_t> shape;
    if (n.op_type == "Squeeze" || n.op_type == "Unsqueeze") {
      std::vector<const ConstTensor*> cin{nullptr};
      for (size_t k = 1; k < n.inputs.size(); ++k) cin.push_back(constant(n.inputs[k]));
      ConstTensor probe = ConstTensor::from_ints(kInt64, in.shape, std::vector<int64_t>(static_cast<size_t>(in.elements()), 0));
      cin[0] = &probe;
      DORY_TRY(auto outs, eval_constant_node(n, cin, {in.shape}, m_.opset));
      shape = outs.at(0).shape;
    } else {
      const ConstTensor* target = n.inputs.size() > 1 ? constant(n.inputs[1]) : nullptr;
      DORY_TRY(shape, view_shape(n, in.shape, target));
    }
    DORY_TRY(Tensor out, make_view(n, in, n.outputs.at(0), shape));
    out.dtype_declared = false;
    return emit_simple(n, View{}, {x.t}, std::move(out));
  }

  Status visit_concat(const Node& n) {
    const int64_t axis = n.attr_int("axis").value_or(1);
    std::vector<TensorId> ins;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      DORY_TRY(IntVal x, int_input(n, k));
      ins.push_back(x.t);
    }
    const Tensor& first = g_.tensor(ins[0]);
    if (!first.is_feature_map() || (axis != 1 && axis != -3))
      return unsupported(n, "Concat along an axis other than the channels of [1,C,H,W] maps");
    int64_t c = 0;
    for (TensorId t : ins) c += g_.tensor(t).channels();
    Tensor out = make_activation(n.outputs.at(0), {1, c, first.height(), first.width()});
    return emit_simple(n, Concat{}, ins, std::move(out));
  }

  Status emit_simple(const Node& n, LayerOp op, std::vector<TensorId> ins, Tensor out) {
    Layer l;
    l.name = layer_name(n);
    l.op = std::move(op);
    l.inputs = std::move(ins);
    l.output = g_.add_tensor(std::move(out));
    l.onnx_nodes = {layer_name(n)};
    vals_[n.outputs.at(0)] = IntVal{l.output, std::nullopt};
    g_.layers.push_back(std::move(l));
    return ok_status();
  }

  // Residual Add of two activations: each side is an integer tensor or a pending scaling of one,
  // (x_i*m_i + a_i)/D_i, rounded or not. Unrounded sides must share their divisor, which moves to the joint
  // requantization (NEMO: floor((m1*x1 + m2*x2) / D)); rounded sides keep their own (QuantLab-like).
  Status visit_residual_add(const Node& n) {
    Add add;
    std::vector<TensorId> ins;
    std::optional<i128> common_d;
    i128 joint_a = 0;
    std::vector<std::string> nodes{layer_name(n)};
    for (size_t k = 0; k < 2; ++k) {
      DORY_TRY(Value * v, value(n, k));
      AddOperand op;
      Pending* p = std::get_if<Pending>(v);
      if (p && p->kind == SrcKind::Tensor && !p->lo && !p->hi && p->M.size() == 1 && p->A.size() == 1) {
        ins.push_back(p->src);
        op.mul = static_cast<int64_t>(p->M[0]);
        if (p->rounded) {
          op.add = static_cast<int64_t>(p->A[0]);
          op.divisor = static_cast<uint64_t>(p->D);
          op.rounding = p->rounding;
        } else {
          if (common_d && *common_d != p->D)
            return unsupported(n, "an Add of operands divided by different constants without rounding");
          common_d = p->D;
          joint_a += p->A[0];
        }
        nodes.insert(nodes.end(), p->nodes.begin(), p->nodes.end());
      } else {
        DORY_TRY(IntVal x, int_input(n, k));
        ins.push_back(x.t);
        if (common_d && *common_d != 1)
          return unsupported(n, "an Add of a scaled and an unscaled operand with different divisors");
        common_d = common_d.value_or(1);
      }
      add.operands.push_back(op);
    }
    Pending out;
    out.kind = SrcKind::Add;
    out.shape = g_.tensor(ins[0]).shape;
    out.D = common_d.value_or(1);
    out.A = {joint_a};
    out.layer.name = layer_name(n);
    out.layer.op = std::move(add);
    out.layer.inputs = ins;
    out.name = n.outputs.at(0);
    out.nodes = nodes;
    vals_[n.outputs.at(0)] = std::move(out);
    return ok_status();
  }

  Status visit_quantlab_add(const Node& n) {
    Add add;
    std::vector<TensorId> ins;
    for (size_t k = 0; k < 2; ++k) {
      DORY_TRY(IntVal x, int_input(n, k));
      ins.push_back(x.t);
      const std::string pre = fmt::format("in{}_", k + 1);
      AddOperand op;
      if (n.attr_int(pre + "rq").value_or(1) != 0) {
        op.mul = n.attr_int(pre + "mul").value_or(1);
        op.add = n.attr_int(pre + "add").value_or(0);
        int64_t shift = n.attr_int(pre + "shift").value_or(0);
        if (shift < 0 || shift > 62)
          return make_error("onnx-bad-attribute", n.label(), fmt::format("{}shift = {} out of range", pre, shift));
        op.divisor = uint64_t{1} << shift;
      }
      add.operands.push_back(op);
    }
    if (n.attr_int("out_rq").value_or(0) != 0) {
      int64_t shift = n.attr_int("out_shift").value_or(0);
      if (shift < 0 || shift > 62)
        return make_error("onnx-bad-attribute", n.label(), fmt::format("out_shift = {} out of range", shift));
      add.requant.mul = {n.attr_int("out_mul").value_or(1)};
      add.requant.add = {n.attr_int("out_add").value_or(0)};
      add.requant.divisor = uint64_t{1} << shift;
    }
    if (auto levels = n.attr_int("out_n_levels")) {
      add.requant.lo = 0;
      add.requant.hi = static_cast<int32_t>(*levels - 1);
    }
    Tensor out = make_activation(n.outputs.at(0), g_.tensor(ins[0]).shape);
    return emit_simple(n, std::move(add), ins, std::move(out));
  }

  Status finish_outputs() {
    std::set<TensorId> seen;
    for (const ValueInfo& o : m_.outputs) {
      auto it = vals_.find(o.name);
      DORY_CHECK(it != vals_.end(), "graph output not computed");
      std::string name = o.name;
      if (auto* t = std::get_if<HostTail>(&it->second)) name = t->network_output;
      Value& v = vals_.at(name);
      if (std::holds_alternative<ConstTensor>(v))
        return make_error("onnx-constant-output", fmt::format("output '{}'", o.name),
                          "is a constant; dory deploys computations on the input");
      if (auto* p = std::get_if<Pending>(&v)) {
        DORY_TRY(TensorId t, materialize(*p));
        v = IntVal{t, std::nullopt};
      }
      const IntVal& iv = std::get<IntVal>(v);
      if (iv.pad)
        return make_error("onnx-unsupported-pattern", fmt::format("output '{}'", o.name), "is the output of a Pad");
      if (seen.insert(iv.t).second) g_.outputs.push_back(iv.t);
    }
    for (const auto& [tensor, nodes] : tail_starts_)
      g_.notes.push_back(fmt::format("{} and what follows run on the host (as in DORY): the network ends at tensor '{}'",
                                     fmt::join(nodes, ", "), tensor));
    return ok_status();
  }
};

}  // namespace

Expected<Graph> import_integer_deployable(const OnnxModel& model, const ImportOptions& options) {
  Importer imp(model, options);
  return imp.run();
}

}  // namespace dory::onnxfe
