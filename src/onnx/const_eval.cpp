// Constant evaluation of ONNX nodes (declared in onnx/onnx_model.h).
//
// Exactness rules: integer-typed tensors compute in int64 (Div truncates, as ONNX integer Div does); float32
// tensors compute in double and round each result to float32, as an ONNX runtime would; Cast to an integer type
// truncates toward zero and wraps like a C conversion of an in-range value (out-of-range casts are rejected).
#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <cmath>
#include <numeric>

#include "onnx/onnx_model.h"

namespace dory::onnxfe {
namespace {

int64_t numel(const std::vector<int64_t>& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Diagnostic fold_error(const Node& n, std::string msg) {
  return make_error("onnx-fold", n.label(), std::move(msg), "the constant sub-graph is malformed");
}

double to_type(double v, int32_t t) {
  if (t == kFloat) return static_cast<double>(static_cast<float>(v));
  if (t == kFloat16) return static_cast<double>(static_cast<float>(v));  // close enough: only folded shapes
  return v;
}

Expected<std::vector<int64_t>> broadcast_shape(const Node& n, const std::vector<int64_t>& a,
                                               const std::vector<int64_t>& b) {
  size_t r = std::max(a.size(), b.size());
  std::vector<int64_t> out(r);
  for (size_t k = 0; k < r; ++k) {
    int64_t da = k < r - a.size() ? 1 : a[k - (r - a.size())];
    int64_t db = k < r - b.size() ? 1 : b[k - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      return fold_error(n, fmt::format("cannot broadcast shapes [{}] and [{}]", fmt::join(a, ","), fmt::join(b, ",")));
    out[k] = da == 1 ? db : da;
  }
  return out;
}

// Flat index into a tensor of shape `s` (right-aligned against `out`) for the output multi-index.
int64_t bcast_index(const std::vector<int64_t>& s, const std::vector<int64_t>& out, const std::vector<int64_t>& idx) {
  int64_t flat = 0;
  const size_t off = out.size() - s.size();
  for (size_t k = 0; k < s.size(); ++k) flat = flat * s[k] + (s[k] == 1 ? 0 : idx[k + off]);
  return flat;
}

Expected<ConstTensor> binary(const Node& n, const ConstTensor& a, const ConstTensor& b) {
  DORY_TRY(auto shape, broadcast_shape(n, a.shape, b.shape));
  const bool ints = is_integer_type(a.elem_type) && is_integer_type(b.elem_type);
  const int64_t total = numel(shape);
  std::vector<int64_t> idx(shape.size(), 0);
  std::vector<int64_t> iv;
  std::vector<double> fv;
  for (int64_t k = 0; k < total; ++k) {
    int64_t ia = bcast_index(a.shape, shape, idx), ib = bcast_index(b.shape, shape, idx);
    if (ints) {
      __int128 x = a.i[static_cast<size_t>(ia)], y = b.i[static_cast<size_t>(ib)], r = 0;
      if (n.op_type == "Add") r = x + y;
      else if (n.op_type == "Sub") r = x - y;
      else if (n.op_type == "Mul") r = x * y;
      else {
        if (y == 0) return fold_error(n, "integer division by zero in a constant");
        r = x / y;
      }
      if (r > std::numeric_limits<int64_t>::max() || r < std::numeric_limits<int64_t>::min())
        return fold_error(n, "int64 overflow in a constant expression");
      iv.push_back(static_cast<int64_t>(r));
    } else {
      double x = a.f[static_cast<size_t>(ia)], y = b.f[static_cast<size_t>(ib)], r = 0;
      if (n.op_type == "Add") r = x + y;
      else if (n.op_type == "Sub") r = x - y;
      else if (n.op_type == "Mul") r = x * y;
      else r = x / y;
      fv.push_back(to_type(r, a.elem_type));
    }
    for (size_t d = shape.size(); d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  if (ints) return ConstTensor::from_ints(a.elem_type, shape, std::move(iv));
  return ConstTensor::from_doubles(is_integer_type(a.elem_type) ? b.elem_type : a.elem_type, shape, std::move(fv));
}

ConstTensor with_values(const ConstTensor& like, std::vector<int64_t> shape, const std::vector<int64_t>& picks) {
  // Gathers elements of `like` by flat index into a new tensor of the same type.
  std::vector<double> f;
  f.reserve(picks.size());
  for (int64_t p : picks) f.push_back(like.f[static_cast<size_t>(p)]);
  ConstTensor out = ConstTensor::from_doubles(like.elem_type, std::move(shape), std::move(f));
  if (like.integral && !like.i.empty()) {  // keep int64 exactness beyond 2^53
    out.i.clear();
    for (int64_t p : picks) out.i.push_back(like.i[static_cast<size_t>(p)]);
    out.integral = true;
  }
  return out;
}

Expected<std::vector<int64_t>> as_ints(const Node& n, const ConstTensor* t, const char* what) {
  if (!t || !t->integral) return fold_error(n, fmt::format("{} must be a constant integer tensor", what));
  return t->i;
}

int64_t norm_axis(int64_t axis, int64_t rank) { return axis < 0 ? axis + rank : axis; }

}  // namespace

bool is_foldable_op(const std::string& op) {
  static const char* ops[] = {"Constant", "Identity", "Cast", "ConstantOfShape", "Shape", "Gather", "Unsqueeze",
                              "Squeeze", "Concat", "Reshape", "Flatten", "Transpose", "Slice", "Mul", "Add", "Sub",
                              "Div", "Floor", "Neg", "Relu", "Clip", "Pad", "Ceil", "Sqrt"};
  for (const char* o : ops)
    if (op == o) return true;
  return false;
}

Expected<std::vector<ConstTensor>> eval_constant_node(const Node& n, const std::vector<const ConstTensor*>& in,
                                                      const std::vector<std::vector<int64_t>>& input_shapes,
                                                      int64_t opset) {
  const std::string& op = n.op_type;
  auto input = [&](size_t k) -> const ConstTensor* { return k < in.size() ? in[k] : nullptr; };
  auto one = [](ConstTensor t) { return std::vector<ConstTensor>{std::move(t)}; };

  if (op == "Constant") {
    if (const Attribute* a = n.attr("value"); a && a->t) return one(*a->t);
    if (auto v = n.attr_float("value_float")) return one(ConstTensor::from_doubles(kFloat, {}, {*v}));
    if (auto v = n.attr_int("value_int")) return one(ConstTensor::from_ints(kInt64, {}, {*v}));
    if (auto v = n.attr_ints("value_ints"))
      return one(ConstTensor::from_ints(kInt64, {static_cast<int64_t>(v->size())}, *v));
    if (const Attribute* a = n.attr("value_floats"))
      return one(ConstTensor::from_doubles(kFloat, {static_cast<int64_t>(a->floats.size())}, a->floats));
    return fold_error(n, "Constant without a supported value attribute (value, value_float(s), value_int(s))");
  }
  if (op == "Shape") {
    if (input_shapes.empty() || input_shapes[0].empty() && !input(0))
      return fold_error(n, "the shape of its input is not known");
    std::vector<int64_t> s = input(0) ? input(0)->shape : input_shapes[0];
    int64_t rank = static_cast<int64_t>(s.size());
    int64_t start = norm_axis(n.attr_int("start").value_or(0), rank);
    int64_t end = n.attr_int("end") ? norm_axis(*n.attr_int("end"), rank) : rank;
    start = std::clamp<int64_t>(start, 0, rank);
    end = std::clamp<int64_t>(end, start, rank);
    std::vector<int64_t> v(s.begin() + start, s.begin() + end);
    return one(ConstTensor::from_ints(kInt64, {static_cast<int64_t>(v.size())}, v));
  }
  const ConstTensor* x = input(0);
  if (!x) return fold_error(n, "has no constant first input");

  if (op == "Identity") return one(*x);
  if (op == "Cast") {
    auto to = n.attr_int("to");
    if (!to) return fold_error(n, "Cast without 'to'");
    int32_t t = static_cast<int32_t>(*to);
    if (is_integer_type(t)) {
      std::vector<int64_t> v;
      for (double d : x->f) {
        if (!std::isfinite(d) || std::fabs(d) > 9.2e18) return fold_error(n, "casts a non-finite value to an integer");
        v.push_back(static_cast<int64_t>(std::trunc(d)));
      }
      if (x->integral && !x->i.empty()) v = x->i;
      return one(ConstTensor::from_ints(t, x->shape, std::move(v)));
    }
    std::vector<double> v;
    for (double d : x->f) v.push_back(to_type(d, t));
    return one(ConstTensor::from_doubles(t, x->shape, std::move(v)));
  }
  if (op == "ConstantOfShape") {
    DORY_TRY(auto shape, as_ints(n, x, "the shape input"));
    ConstTensor fill = ConstTensor::from_doubles(kFloat, {}, {0.0});
    if (const Attribute* a = n.attr("value"); a && a->t) fill = *a->t;
    const int64_t total = numel(shape);
    if (total < 0 || total > (int64_t{1} << 24)) return fold_error(n, "creates an implausibly large constant");
    return one(with_values(fill, shape, std::vector<int64_t>(static_cast<size_t>(total), 0)));
  }
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") {
    if (!input(1)) return fold_error(n, "has no constant second input");
    DORY_TRY(ConstTensor r, binary(n, *x, *input(1)));
    return one(std::move(r));
  }
  if (op == "Floor" || op == "Ceil" || op == "Neg" || op == "Relu" || op == "Sqrt") {
    std::vector<double> v;
    for (double d : x->f)
      v.push_back(op == "Floor" ? std::floor(d) : op == "Ceil" ? std::ceil(d) : op == "Neg" ? -d
                  : op == "Relu" ? std::max(d, 0.0) : std::sqrt(d));
    if (x->integral && !x->i.empty() && op != "Sqrt") {
      std::vector<int64_t> iv;
      for (int64_t d : x->i) iv.push_back(op == "Neg" ? -d : op == "Relu" ? std::max<int64_t>(d, 0) : d);
      return one(ConstTensor::from_ints(x->elem_type, x->shape, std::move(iv)));
    }
    for (double& d : v) d = to_type(d, x->elem_type);
    return one(ConstTensor::from_doubles(x->elem_type, x->shape, std::move(v)));
  }
  if (op == "Clip") {
    double lo = -INFINITY, hi = INFINITY;
    if (opset < 11) {
      lo = n.attr_float("min").value_or(lo);
      hi = n.attr_float("max").value_or(hi);
    } else {
      if (input(1)) lo = input(1)->f.at(0);
      if (input(2)) hi = input(2)->f.at(0);
    }
    std::vector<double> v;
    for (double d : x->f) v.push_back(std::clamp(d, lo, hi));
    return one(ConstTensor::from_doubles(x->elem_type, x->shape, std::move(v)));
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    std::vector<int64_t> axes;
    if (auto a = n.attr_ints("axes")) axes = *a;
    else if (input(1)) {
      DORY_TRY(auto ax, as_ints(n, input(1), "axes"));
      axes = ax;
    }
    std::vector<int64_t> shape = x->shape;
    if (op == "Unsqueeze") {
      int64_t rank = static_cast<int64_t>(shape.size() + axes.size());
      for (int64_t& a : axes) a = norm_axis(a, rank);
      std::sort(axes.begin(), axes.end());
      for (int64_t a : axes) {
        if (a < 0 || a > static_cast<int64_t>(shape.size())) return fold_error(n, "axis out of range");
        shape.insert(shape.begin() + a, 1);
      }
    } else {
      int64_t rank = static_cast<int64_t>(shape.size());
      std::vector<int64_t> out;
      for (int64_t d = 0; d < rank; ++d) {
        bool drop = axes.empty() ? shape[static_cast<size_t>(d)] == 1
                                 : std::any_of(axes.begin(), axes.end(),
                                               [&](int64_t a) { return norm_axis(a, rank) == d; });
        if (!drop) out.push_back(shape[static_cast<size_t>(d)]);
      }
      shape = out;
    }
    std::vector<int64_t> all(static_cast<size_t>(x->size()));
    std::iota(all.begin(), all.end(), 0);
    return one(with_values(*x, shape, all));
  }
  if (op == "Reshape" || op == "Flatten") {
    std::vector<int64_t> shape;
    if (op == "Flatten") {
      int64_t rank = static_cast<int64_t>(x->shape.size());
      int64_t axis = norm_axis(n.attr_int("axis").value_or(1), rank);
      int64_t outer = 1;
      for (int64_t d = 0; d < axis; ++d) outer *= x->shape[static_cast<size_t>(d)];
      shape = {outer, x->size() / std::max<int64_t>(outer, 1)};
    } else {
      DORY_TRY(auto target, as_ints(n, input(1), "the shape input"));
      int64_t known = 1, infer = -1;
      for (size_t d = 0; d < target.size(); ++d) {
        if (target[d] == 0) target[d] = d < x->shape.size() ? x->shape[d] : 1;
        if (target[d] == -1) infer = static_cast<int64_t>(d);
        else known *= target[d];
      }
      if (infer >= 0) target[static_cast<size_t>(infer)] = known ? x->size() / known : 0;
      shape = target;
    }
    if (numel(shape) != x->size()) return fold_error(n, "reshape changes the number of elements");
    std::vector<int64_t> all(static_cast<size_t>(x->size()));
    std::iota(all.begin(), all.end(), 0);
    return one(with_values(*x, shape, all));
  }
  if (op == "Gather") {
    DORY_TRY(auto indices, as_ints(n, input(1), "indices"));
    const int64_t rank = static_cast<int64_t>(x->shape.size());
    const int64_t axis = norm_axis(n.attr_int("axis").value_or(0), rank);
    if (axis < 0 || axis >= rank) return fold_error(n, "axis out of range");
    const int64_t dim = x->shape[static_cast<size_t>(axis)];
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x->shape[static_cast<size_t>(d)];
    for (int64_t d = axis + 1; d < rank; ++d) inner *= x->shape[static_cast<size_t>(d)];
    std::vector<int64_t> picks;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t idx : indices) {
        int64_t j = idx < 0 ? idx + dim : idx;
        if (j < 0 || j >= dim) return fold_error(n, fmt::format("index {} out of range for dimension {}", idx, dim));
        for (int64_t i = 0; i < inner; ++i) picks.push_back((o * dim + j) * inner + i);
      }
    std::vector<int64_t> shape(x->shape.begin(), x->shape.begin() + axis);
    shape.insert(shape.end(), input(1)->shape.begin(), input(1)->shape.end());
    shape.insert(shape.end(), x->shape.begin() + axis + 1, x->shape.end());
    return one(with_values(*x, shape, picks));
  }
  if (op == "Concat") {
    const int64_t rank = static_cast<int64_t>(x->shape.size());
    const int64_t axis = norm_axis(n.attr_int("axis").value_or(0), rank);
    if (axis < 0 || axis >= rank) return fold_error(n, "axis out of range");
    std::vector<int64_t> shape = x->shape;
    shape[static_cast<size_t>(axis)] = 0;
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= x->shape[static_cast<size_t>(d)];
    std::vector<double> f;
    std::vector<int64_t> iv;
    bool ints = true;
    for (const ConstTensor* t : in) {
      if (!t || t->shape.size() != x->shape.size()) return fold_error(n, "inputs of different rank");
      shape[static_cast<size_t>(axis)] += t->shape[static_cast<size_t>(axis)];
      ints = ints && t->integral;
    }
    for (int64_t o = 0; o < outer; ++o)
      for (const ConstTensor* t : in) {
        int64_t block = t->size() / std::max<int64_t>(outer, 1);
        for (int64_t k = 0; k < block; ++k) {
          f.push_back(t->f[static_cast<size_t>(o * block + k)]);
          if (ints) iv.push_back(t->i[static_cast<size_t>(o * block + k)]);
        }
      }
    if (ints && is_integer_type(x->elem_type)) return one(ConstTensor::from_ints(x->elem_type, shape, iv));
    return one(ConstTensor::from_doubles(x->elem_type, shape, f));
  }
  if (op == "Transpose") {
    const size_t rank = x->shape.size();
    std::vector<int64_t> perm;
    if (auto p = n.attr_ints("perm")) perm = *p;
    else for (size_t d = 0; d < rank; ++d) perm.push_back(static_cast<int64_t>(rank - 1 - d));
    if (perm.size() != rank) return fold_error(n, "perm has the wrong length");
    std::vector<int64_t> shape(rank), in_strides(rank, 1);
    for (size_t d = rank; d-- > 1;) in_strides[d - 1] = in_strides[d] * x->shape[d];
    for (size_t d = 0; d < rank; ++d) shape[d] = x->shape[static_cast<size_t>(perm[d])];
    std::vector<int64_t> picks, idx(rank, 0);
    for (int64_t k = 0; k < x->size(); ++k) {
      int64_t src = 0;
      for (size_t d = 0; d < rank; ++d) src += idx[d] * in_strides[static_cast<size_t>(perm[d])];
      picks.push_back(src);
      for (size_t d = rank; d-- > 0;) {
        if (++idx[d] < shape[d]) break;
        idx[d] = 0;
      }
    }
    return one(with_values(*x, shape, picks));
  }
  if (op == "Slice") {
    std::vector<int64_t> starts, ends, axes, steps;
    if (opset < 10) {
      starts = n.attr_ints("starts").value_or(std::vector<int64_t>{});
      ends = n.attr_ints("ends").value_or(std::vector<int64_t>{});
      axes = n.attr_ints("axes").value_or(std::vector<int64_t>{});
    } else {
      DORY_TRY(auto s, as_ints(n, input(1), "starts"));
      DORY_TRY(auto e, as_ints(n, input(2), "ends"));
      starts = s;
      ends = e;
      if (input(3)) { DORY_TRY(auto a, as_ints(n, input(3), "axes")); axes = a; }
      if (input(4)) { DORY_TRY(auto st, as_ints(n, input(4), "steps")); steps = st; }
    }
    const int64_t rank = static_cast<int64_t>(x->shape.size());
    if (axes.empty()) for (size_t d = 0; d < starts.size(); ++d) axes.push_back(static_cast<int64_t>(d));
    std::vector<int64_t> b(static_cast<size_t>(rank), 0), st(static_cast<size_t>(rank), 1), shape = x->shape;
    for (size_t k = 0; k < axes.size(); ++k) {
      int64_t a = norm_axis(axes[k], rank), dim = x->shape[static_cast<size_t>(a)];
      int64_t step = k < steps.size() ? steps[k] : 1;
      if (step != 1) return fold_error(n, "Slice with steps other than 1 is not folded");
      int64_t s = starts[k] < 0 ? starts[k] + dim : starts[k], e = ends[k] < 0 ? ends[k] + dim : ends[k];
      s = std::clamp<int64_t>(s, 0, dim);
      e = std::clamp<int64_t>(e, s, dim);
      b[static_cast<size_t>(a)] = s;
      shape[static_cast<size_t>(a)] = e - s;
    }
    std::vector<int64_t> strides(static_cast<size_t>(rank), 1), picks, idx(static_cast<size_t>(rank), 0);
    for (int64_t d = rank - 1; d > 0; --d) strides[static_cast<size_t>(d - 1)] = strides[static_cast<size_t>(d)] * x->shape[static_cast<size_t>(d)];
    const int64_t total = numel(shape);
    for (int64_t k = 0; k < total; ++k) {
      int64_t src = 0;
      for (int64_t d = 0; d < rank; ++d) src += (idx[static_cast<size_t>(d)] + b[static_cast<size_t>(d)]) * strides[static_cast<size_t>(d)];
      picks.push_back(src);
      for (int64_t d = rank; d-- > 0;) {
        if (++idx[static_cast<size_t>(d)] < shape[static_cast<size_t>(d)]) break;
        idx[static_cast<size_t>(d)] = 0;
      }
    }
    return one(with_values(*x, shape, picks));
  }
  if (op == "Pad") {
    std::vector<int64_t> pads = n.attr_ints("pads").value_or(std::vector<int64_t>{});
    if (opset >= 11 && input(1)) { DORY_TRY(auto p, as_ints(n, input(1), "pads")); pads = p; }
    if (std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; })) return one(*x);
    return fold_error(n, "padding a constant is not supported");
  }
  return fold_error(n, fmt::format("op {} cannot be evaluated on constants", op));
}

}  // namespace dory::onnxfe
