// Test helper: an independent float64 evaluator of ONNX graphs, read from the protobuf directly (not dory's
// loader), and the comparison of dory's reference executor with it, layer by layer. Used by the QDQ importer's
// tests (tests/unit/qdq_test.cpp) and by the tests of the exporters' patterns (tests/unit/exporter_patterns_test.cpp).
//
// What it evaluates: QuantizeLinear (float64 division, round half to even, saturation), DequantizeLinear,
// Constant/Cast/ConstantOfShape, Relu, Clip, Add/Mul/Sub/Div/Floor (broadcasting), Conv (groups, pads, strides),
// MaxPool/AveragePool/GlobalAveragePool (pads, count_include_pad), Pad (constant), Flatten/Reshape, Concat,
// Gemm/MatMul, and the QOperator ops QLinearConv and QLinearMatMul (dequantize, compute in float64, quantize).
// Comparison: each layer is compared on the same inputs ("teacher forcing": after comparing a quantized output,
// the evaluator continues with dory's values), so a difference at a tie is counted once, where it happens, and does
// not propagate; a difference anywhere but at a near-tie (within kTieTol of k + 1/2) is a test failure.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iomanip>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "../unit/ir_test_util.h"
#include "ir/edge.h"
#include "ir/graph.h"

namespace dory::testing {

enum : int32_t { F32 = onnx::TensorProto::FLOAT, U8 = onnx::TensorProto::UINT8, I8 = onnx::TensorProto::INT8,
                 I32 = onnx::TensorProto::INT32, I64 = onnx::TensorProto::INT64 };

// ---- an independent float64 evaluator of (QDQ) ONNX graphs ---------------------------------------------------

struct FT {
  int32_t elem = F32;
  std::vector<int64_t> shape;
  std::vector<double> v;
  int64_t size() const { return static_cast<int64_t>(v.size()); }
};

inline int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

inline FT from_proto(const onnx::TensorProto& t) {
  FT r;
  r.elem = t.data_type();
  r.shape.assign(t.dims().begin(), t.dims().end());
  const int64_t n = numel(r.shape);
  if (!t.raw_data().empty()) {
    const char* p = t.raw_data().data();
    for (int64_t k = 0; k < n; ++k) {
      switch (r.elem) {
        case F32: { float f; std::memcpy(&f, p + 4 * k, 4); r.v.push_back(f); break; }
        case U8: r.v.push_back(static_cast<uint8_t>(p[k])); break;
        case I8: r.v.push_back(static_cast<int8_t>(p[k])); break;
        case I32: { int32_t i; std::memcpy(&i, p + 4 * k, 4); r.v.push_back(i); break; }
        case I64: { int64_t i; std::memcpy(&i, p + 8 * k, 8); r.v.push_back(static_cast<double>(i)); break; }
        default: ADD_FAILURE() << "unsupported raw type " << r.elem;
      }
    }
  } else if (r.elem == F32) {
    r.v.assign(t.float_data().begin(), t.float_data().end());
  } else if (r.elem == I64) {
    for (int64_t x : t.int64_data()) r.v.push_back(static_cast<double>(x));
  } else {
    r.v.assign(t.int32_data().begin(), t.int32_data().end());
  }
  if (r.size() != n) ADD_FAILURE() << "tensor " << t.name() << " has " << r.size() << " values for " << n;
  return r;
}

inline const onnx::AttributeProto* find_attr(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}
inline int64_t attr_i(const onnx::NodeProto& n, const std::string& name, int64_t d) {
  const auto* a = find_attr(n, name);
  return a ? a->i() : d;
}
inline double attr_fl(const onnx::NodeProto& n, const std::string& name, double d) {
  const auto* a = find_attr(n, name);
  return a ? a->f() : d;
}
inline std::vector<int64_t> attr_is(const onnx::NodeProto& n, const std::string& name, std::vector<int64_t> d) {
  const auto* a = find_attr(n, name);
  return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : d;
}

inline ValueRange elem_range(int32_t elem) {
  switch (elem) {
    case U8: return {0, 255};
    case I8: return {-128, 127};
    case I32: return {INT32_MIN, INT32_MAX};
    default: return {INT64_MIN / 2, INT64_MAX / 2};
  }
}

// Index along `axis` of flat element i of a tensor of shape s.
inline int64_t axis_index(const std::vector<int64_t>& s, int64_t axis, int64_t i) {
  int64_t inner = 1;
  for (size_t d = static_cast<size_t>(axis) + 1; d < s.size(); ++d) inner *= s[d];
  return (i / inner) % s[static_cast<size_t>(axis)];
}

// Called after every QuantizeLinear with its output name, the exact pre-rounding values x/scale and the quantized
// values (which the hook may replace: teacher forcing).
using QHook = std::function<void(const std::string&, const std::vector<double>&, std::vector<double>&)>;

class Float64Eval {
 public:
  explicit Float64Eval(const onnx::ModelProto& m) : m_(m) {
    for (const auto& t : m.graph().initializer()) vals_[t.name()] = from_proto(t);
  }

  std::map<std::string, FT> run(const std::map<std::string, FT>& inputs, const QHook& hook) {
    for (const auto& [k, v] : inputs) vals_[k] = v;
    for (const auto& n : m_.graph().node()) eval(n, hook);
    return vals_;
  }

 private:
  const onnx::ModelProto& m_;
  std::map<std::string, FT> vals_;
  std::map<std::string, std::vector<double>> exact_;  // quantized values: x / scale before rounding

  // (x - zp[a]) * s[a] along `axis` (s, zp: one value or one per element of the axis).
  static FT dequantize(const FT& x, const FT& s, const FT* zp, int64_t axis) {
    FT out;
    out.shape = x.shape;
    for (int64_t i = 0; i < x.size(); ++i) {
      const size_t a = s.size() == 1 ? 0 : static_cast<size_t>(axis_index(x.shape, axis, i));
      out.v.push_back((x.v[static_cast<size_t>(i)] - (zp ? zp->v[zp->size() == 1 ? 0 : a] : 0.0)) * s.v[a]);
    }
    return out;
  }
  // QuantizeLinear with a per-tensor scale: clamp(round_half_even(x / s) + zp); `exact` receives x / s.
  static FT quantize(const FT& x, double s, double zp, int32_t elem, std::vector<double>& exact) {
    FT out;
    out.shape = x.shape;
    out.elem = elem;
    const ValueRange r = elem_range(elem);
    for (double v : x.v) {
      const double e = v / s;  // float64 division
      exact.push_back(e);
      out.v.push_back(std::clamp(std::nearbyint(e) + zp, static_cast<double>(r.lo), static_cast<double>(r.hi)));
    }
    return out;
  }

  const FT* in(const onnx::NodeProto& n, int k) {
    if (k >= n.input_size() || n.input(k).empty()) return nullptr;
    return &vals_.at(n.input(k));
  }

  static FT broadcast2(const FT& a, const FT& b, const std::function<double(double, double)>& f) {
    const size_t r = std::max(a.shape.size(), b.shape.size());
    std::vector<int64_t> shape(r);
    auto dim = [&](const FT& t, size_t k) { return k < r - t.shape.size() ? int64_t{1} : t.shape[k - (r - t.shape.size())]; };
    for (size_t k = 0; k < r; ++k) shape[k] = std::max(dim(a, k), dim(b, k));
    FT out;
    out.elem = a.elem;
    out.shape = shape;
    std::vector<int64_t> idx(r, 0);
    for (int64_t i = 0; i < numel(shape); ++i) {
      auto flat = [&](const FT& t) {
        int64_t fl = 0;
        for (size_t k = 0; k < r; ++k) {
          const int64_t d = dim(t, k);
          if (k >= r - t.shape.size()) fl = fl * d + (d == 1 ? 0 : idx[k]);
        }
        return fl;
      };
      out.v.push_back(f(a.v[static_cast<size_t>(flat(a))], b.v[static_cast<size_t>(flat(b))]));
      for (size_t k = r; k-- > 0;) {
        if (++idx[k] < shape[k]) break;
        idx[k] = 0;
      }
    }
    return out;
  }

  void eval(const onnx::NodeProto& n, const QHook& hook) {
    const std::string& op = n.op_type();
    FT out;
    if (op == "Constant") {
      out = from_proto(find_attr(n, "value")->t());
    } else if (op == "Identity" || op == "Cast") {
      out = *in(n, 0);
      if (op == "Cast") {
        out.elem = static_cast<int32_t>(attr_i(n, "to", F32));
        if (out.elem != F32)
          for (double& x : out.v) x = std::trunc(x);
      }
    } else if (op == "ConstantOfShape") {
      const FT& s = *in(n, 0);
      out.shape.assign(s.v.begin(), s.v.end());
      FT fill;
      fill.v = {0.0};
      if (const auto* a = find_attr(n, "value")) fill = from_proto(a->t());
      out.elem = fill.elem;
      out.v.assign(static_cast<size_t>(numel(out.shape)), fill.v[0]);
    } else if (op == "QuantizeLinear" || op == "DequantizeLinear") {
      const FT& x = *in(n, 0);
      const FT& s = *in(n, 1);
      const FT* zp = in(n, 2);
      int64_t axis = attr_i(n, "axis", 1);
      if (axis < 0) axis += static_cast<int64_t>(x.shape.size());
      out.shape = x.shape;
      std::vector<double> exact;
      const ValueRange r = elem_range(zp ? zp->elem : U8);
      for (int64_t i = 0; i < x.size(); ++i) {
        const size_t a = s.size() == 1 ? 0 : static_cast<size_t>(axis_index(x.shape, axis, i));
        const double z = zp ? zp->v[a] : 0.0;
        if (op == "QuantizeLinear") {
          const double e = x.v[static_cast<size_t>(i)] / s.v[a];  // float64 division
          exact.push_back(e);
          out.v.push_back(std::clamp(std::nearbyint(e) + z, static_cast<double>(r.lo), static_cast<double>(r.hi)));
        } else {
          out.v.push_back((x.v[static_cast<size_t>(i)] - z) * s.v[a]);
        }
      }
      out.elem = op == "QuantizeLinear" ? (zp ? zp->elem : U8) : F32;
      if (op == "QuantizeLinear") exact_[n.output(0)] = exact;
      if (op == "QuantizeLinear" && hook) hook(n.output(0), exact, out.v);
    } else if (op == "Relu") {
      out = *in(n, 0);
      for (double& x : out.v) x = std::max(x, 0.0);
    } else if (op == "Clip") {
      out = *in(n, 0);
      const double lo = in(n, 1) ? in(n, 1)->v[0] : -INFINITY, hi = in(n, 2) ? in(n, 2)->v[0] : INFINITY;
      for (double& x : out.v) x = std::clamp(x, lo, hi);
      if (out.elem != F32) {  // a clip of quantized integers (QCDQ): compared like the QuantizeLinear before it
        auto e = exact_.find(n.input(0));
        std::vector<double> exact = e != exact_.end() ? e->second : out.v;
        if (hook) hook(n.output(0), exact, out.v);
        exact_[n.output(0)] = std::move(exact);
      }
    } else if (op == "Add") {
      out = broadcast2(*in(n, 0), *in(n, 1), [](double a, double b) { return a + b; });
    } else if (op == "Sub") {
      out = broadcast2(*in(n, 0), *in(n, 1), [](double a, double b) { return a - b; });
    } else if (op == "Mul") {
      out = broadcast2(*in(n, 0), *in(n, 1), [](double a, double b) { return a * b; });
    } else if (op == "Div") {
      out = broadcast2(*in(n, 0), *in(n, 1), [](double a, double b) { return a / b; });
    } else if (op == "Floor") {
      out = *in(n, 0);
      for (double& x : out.v) x = std::floor(x);
    } else if (op == "QLinearConv" || op == "QLinearMatMul") {
      // inputs: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp[, bias]: dequantize, compute, quantize
      const FT x = dequantize(*in(n, 0), *in(n, 1), in(n, 2), 1);
      const FT w = dequantize(*in(n, 3), *in(n, 4), in(n, 5), op == "QLinearConv" ? 0 : 1);
      FT acc;
      if (op == "QLinearConv") {
        std::optional<FT> b;
        if (const FT* bq = in(n, 8)) {  // int32 bias in units of x_scale * w_scale[c]
          b = *bq;
          for (size_t c = 0; c < b->v.size(); ++c)
            b->v[c] *= in(n, 1)->v[0] * in(n, 4)->v[in(n, 4)->size() == 1 ? 0 : c];
        }
        acc = conv(n, x, w, b ? &*b : nullptr);
      } else {
        acc = matmul(x, w);
      }
      std::vector<double> exact;
      out = quantize(acc, in(n, 6)->v[0], in(n, 7)->v[0], in(n, 7)->elem, exact);
      exact_[n.output(0)] = exact;
      if (hook) hook(n.output(0), exact, out.v);
    } else if (op == "Conv") {
      out = conv(n, *in(n, 0), *in(n, 1), in(n, 2));
    } else if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool") {
      out = pool(n);
    } else if (op == "Pad") {
      const FT& x = *in(n, 0);
      const FT& p = *in(n, 1);
      const double value = in(n, 2) ? in(n, 2)->v[0] : 0.0;
      const int64_t C = x.shape[1], H = x.shape[2], W = x.shape[3];
      const int64_t t = static_cast<int64_t>(p.v[2]), l = static_cast<int64_t>(p.v[3]);
      const int64_t Ho = H + t + static_cast<int64_t>(p.v[6]), Wo = W + l + static_cast<int64_t>(p.v[7]);
      out.shape = {1, C, Ho, Wo};
      out.elem = x.elem;
      out.v.assign(static_cast<size_t>(C * Ho * Wo), value);
      for (int64_t c = 0; c < C; ++c)
        for (int64_t h = 0; h < H; ++h)
          for (int64_t w = 0; w < W; ++w)
            out.v[static_cast<size_t>((c * Ho + h + t) * Wo + w + l)] = x.v[static_cast<size_t>((c * H + h) * W + w)];
    } else if (op == "Flatten" || op == "Reshape") {
      out = *in(n, 0);
      if (op == "Flatten") {
        out.shape = {1, out.size()};
      } else {
        out.shape.clear();
        for (double d : in(n, 1)->v) out.shape.push_back(d == -1 ? -1 : static_cast<int64_t>(d));
        for (int64_t& d : out.shape)
          if (d == -1) d = out.size() / -numel(out.shape);
      }
    } else if (op == "Concat") {
      const FT& a = *in(n, 0);
      out.shape = a.shape;
      out.shape[1] = 0;
      for (int k = 0; k < n.input_size(); ++k) out.shape[1] += in(n, k)->shape[1];
      for (int k = 0; k < n.input_size(); ++k) out.v.insert(out.v.end(), in(n, k)->v.begin(), in(n, k)->v.end());
    } else if (op == "Gemm" || op == "MatMul") {
      const FT& a = *in(n, 0);
      const FT& b = *in(n, 1);
      const bool tb = attr_i(n, "transB", 0) != 0;
      const double alpha = attr_fl(n, "alpha", 1.0), beta = attr_fl(n, "beta", 1.0);
      const int64_t K = tb ? b.shape[1] : b.shape[0], N = tb ? b.shape[0] : b.shape[1];
      out.shape = {1, N};
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k)
          s += a.v[static_cast<size_t>(k)] * b.v[static_cast<size_t>(tb ? j * K + k : k * N + j)];
        s *= alpha;
        if (op == "Gemm" && in(n, 2)) s += beta * in(n, 2)->v[in(n, 2)->size() == 1 ? 0 : static_cast<size_t>(j)];
        out.v.push_back(s);
      }
    } else {
      FAIL() << "the test evaluator does not implement " << op;
    }
    vals_[n.output(0)] = std::move(out);
  }

  // x [1,C,H,W] * w [O,C/group,KH,KW] + b [O] with the node's group, pads and strides.
  FT conv(const onnx::NodeProto& n, const FT& x, const FT& w, const FT* b) {
    const int64_t C = x.shape[1], H = x.shape[2], W = x.shape[3];
    const int64_t O = w.shape[0], Cg = w.shape[1], KH = w.shape[2], KW = w.shape[3];
    const int64_t g = attr_i(n, "group", 1);
    const auto p = attr_is(n, "pads", {0, 0, 0, 0});
    const auto s = attr_is(n, "strides", {1, 1});
    const int64_t Ho = (H + p[0] + p[2] - KH) / s[0] + 1, Wo = (W + p[1] + p[3] - KW) / s[1] + 1;
    FT out;
    out.shape = {1, O, Ho, Wo};
    for (int64_t o = 0; o < O; ++o) {
      const int64_t grp = o / (O / g);
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          double acc = b ? b->v[static_cast<size_t>(o)] : 0.0;
          for (int64_t ci = 0; ci < Cg; ++ci)
            for (int64_t ky = 0; ky < KH; ++ky)
              for (int64_t kx = 0; kx < KW; ++kx) {
                const int64_t ih = oh * s[0] + ky - p[0], iw = ow * s[1] + kx - p[1];
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += x.v[static_cast<size_t>(((grp * Cg + ci) * H + ih) * W + iw)] *
                       w.v[static_cast<size_t>(((o * Cg + ci) * KH + ky) * KW + kx)];
              }
          out.v.push_back(acc);
        }
    }
    (void)C;
    return out;
  }

  // a [M,K] x b [K,N] (a [1,K] for a vector).
  static FT matmul(const FT& a, const FT& b) {
    const int64_t K = b.shape[0], N = b.shape[1], M = a.size() / K;
    FT out;
    out.shape = {M, N};
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += a.v[static_cast<size_t>(i * K + k)] * b.v[static_cast<size_t>(k * N + j)];
        out.v.push_back(s);
      }
    return out;
  }

  FT pool(const onnx::NodeProto& n) {
    const FT& x = *in(n, 0);
    const int64_t C = x.shape[1], H = x.shape[2], W = x.shape[3];
    const bool global = n.op_type() == "GlobalAveragePool", is_max = n.op_type() == "MaxPool";
    const auto k = global ? std::vector<int64_t>{H, W} : attr_is(n, "kernel_shape", {});
    const auto p = attr_is(n, "pads", {0, 0, 0, 0});
    const auto s = attr_is(n, "strides", {1, 1});
    const bool include = attr_i(n, "count_include_pad", 0) != 0;
    const int64_t Ho = (H + p[0] + p[2] - k[0]) / s[0] + 1, Wo = (W + p[1] + p[3] - k[1]) / s[1] + 1;
    FT out;
    out.shape = {1, C, Ho, Wo};
    if (is_max) out.elem = x.elem;  // a max pool moves values: integers stay integers
    for (int64_t c = 0; c < C; ++c)
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow) {
          double acc = is_max ? -INFINITY : 0.0;
          int64_t cnt = 0;
          for (int64_t ky = 0; ky < k[0]; ++ky)
            for (int64_t kx = 0; kx < k[1]; ++kx) {
              const int64_t ih = oh * s[0] + ky - p[0], iw = ow * s[1] + kx - p[1];
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              const double v = x.v[static_cast<size_t>((c * H + ih) * W + iw)];
              acc = is_max ? std::max(acc, v) : acc + v;
              ++cnt;
            }
          out.v.push_back(is_max ? acc : acc / static_cast<double>(include ? k[0] * k[1] : cnt));
        }
    return out;
  }
};

// ---- comparing dory with the float64 evaluation ---------------------------------------------------------------

struct Deviation {
  int64_t compared = 0;       // elements compared
  int64_t layers = 0;         // IR tensors compared
  int64_t ties = 0;           // elements whose float64 value is within kTieTol of k + 1/2
  int64_t differ_at_tie = 0;  // ... where dory and float64 differ (by exactly 1)
  int64_t differ_off_tie = 0; // differences anywhere else (must be 0)
  int64_t below_at_exact_tie = 0;  // exact ties where dory is BELOW round-half-to-even (must be 0: half up)
  int64_t max_abs = 0;        // max |dory - float64| (must be <= 1)
  double min_tie_distance_of_difference = 1;  // how close to a tie the differing elements were
  double max_tie_distance_of_difference = 0;
};
constexpr double kTieTol = 1e-4;

inline std::string describe(const Deviation& d) {
  return fmt::format("{} elements in {} layers: max |diff| {}, {} near-ties (within {} LSB of k+1/2), {} differ at a "
                     "tie (float64 value at most {:.3g} LSB from k+1/2), {} differ elsewhere",
                     d.compared, d.layers, d.max_abs, d.ties, kTieTol, d.differ_at_tie,
                     d.max_tie_distance_of_difference, d.differ_off_tie);
}

// Runs dory's reference and the float64 evaluator on the same float input; compares every IR tensor named after a
// QuantizeLinear output. Returns dory's values (ONNX order, per TensorId) and the float64 values.
struct Comparison {
  std::vector<std::vector<int32_t>> dory;
  std::map<std::string, FT> f64;
};

inline Comparison compare_with_float64(const onnx::ModelProto& model, const Graph& g, const std::vector<FT>& float_inputs,
                                Deviation& dev) {
  Comparison c;
  std::vector<std::vector<int32_t>> int_inputs;
  std::map<std::string, FT> named;
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const Tensor& t = g.tensor(g.inputs[i]);
    std::vector<float> xf(float_inputs[i].v.begin(), float_inputs[i].v.end());
    if (g.input_quant[i]) {  // a float input the graph quantizes: quantized as the host does
      int_inputs.push_back(quantize_edge(*g.input_quant[i], t.shape, xf));
    } else {  // an integer input, or a float one holding integers (integer-deployable graphs)
      int_inputs.emplace_back(float_inputs[i].v.begin(), float_inputs[i].v.end());
    }
    named[model.graph().input(static_cast<int>(i)).name()] = float_inputs[i];
  }
  auto r = test::run_onnx_order(g, int_inputs);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().str());
  if (!r.ok()) return c;
  c.dory = r.value();
  std::map<std::string, TensorId> by_name;
  for (size_t t = 0; t < g.tensors.size(); ++t) by_name[g.tensors[t].name] = static_cast<TensorId>(t);
  Float64Eval ev(model);
  c.f64 = ev.run(named, [&](const std::string& name, const std::vector<double>& exact, std::vector<double>& q) {
    auto it = by_name.find(name);
    if (it == by_name.end()) return;  // an alias (Q of the same quantization) or the input's Q
    const std::vector<int32_t>& d = c.dory[static_cast<size_t>(it->second)];
    EXPECT_EQ(d.size(), q.size()) << name;
    if (d.size() != q.size()) return;
    ++dev.layers;
    for (size_t i = 0; i < q.size(); ++i) {
      const int64_t diff = static_cast<int64_t>(d[i]) - static_cast<int64_t>(q[i]);
      const double frac = exact[i] - std::floor(exact[i]);
      const double tie_distance = std::fabs(frac - 0.5);
      const bool tie = tie_distance <= kTieTol;
      ++dev.compared;
      dev.ties += tie;
      dev.max_abs = std::max<int64_t>(dev.max_abs, std::llabs(diff));
      if (diff != 0) {
        (tie ? dev.differ_at_tie : dev.differ_off_tie) += 1;
        if (tie_distance == 0 && diff < 0) ++dev.below_at_exact_tie;
        dev.min_tie_distance_of_difference = std::min(dev.min_tie_distance_of_difference, tie_distance);
        dev.max_tie_distance_of_difference = std::max(dev.max_tie_distance_of_difference, tie_distance);
        if (!tie)
          ADD_FAILURE() << "tensor '" << name << "' element " << i << ": dory " << d[i] << ", float64 " << q[i]
                        << " (exact " << std::setprecision(17) << exact[i] << ", not a tie)";
      }
      q[i] = d[i];  // teacher forcing: the next layers see dory's values
    }
  });
  return c;
}

}  // namespace dory::testing
