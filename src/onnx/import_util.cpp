#include "onnx/import_util.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

#include "ir/layout.h"

namespace dory::onnxfe {

std::string layer_name(const Node& n) {
  return n.name.empty() ? fmt::format("{}_{}", n.op_type, n.index) : n.name;
}

int64_t saturating_int64(double v) {
  constexpr double kLimit = 4611686018427387904.0;  // 2^62, exactly representable
  if (std::isnan(v)) return 0;
  return static_cast<int64_t>(std::clamp(v, -kLimit, kLimit));
}

Status check_activation_size(const std::string& where, const std::vector<int64_t>& shape) {
  int64_t total = 1;
  for (int64_t d : shape) {
    if (d < 1 || d > (int64_t{1} << 26))
      return make_error("onnx-bad-shape", where, fmt::format("has dimension {} in shape [{}]", d, fmt::join(shape, ",")));
    total *= d;
    if (total > (int64_t{1} << 26))
      return make_error("onnx-bad-shape", where,
                        fmt::format("shape [{}] has more than 2^26 elements; far too large for a microcontroller",
                                    fmt::join(shape, ",")));
  }
  return ok_status();
}

bool is_host_tail_op(const std::string& op) {
  return op == "Sigmoid" || op == "LogSoftmax" || op == "Softmax" || op == "Gather" || op == "Slice" ||
         op == "ArgMax" || op == "Squeeze";
}

Expected<Window> parse_window(const Node& n, int64_t h, int64_t w, std::optional<std::pair<int32_t, int32_t>> kernel,
                              bool is_maxpool) {
  Window win;
  if (kernel) {
    win.kh = kernel->first;
    win.kw = kernel->second;
  }
  if (auto ks = n.attr_ints("kernel_shape")) {
    if (ks->size() != 2)
      return make_error("onnx-unsupported-attribute", n.label(),
                        fmt::format("kernel_shape has {} dimensions; dory supports 2-D windows", ks->size()));
    if (kernel && ((*ks)[0] != kernel->first || (*ks)[1] != kernel->second))
      return make_error("onnx-shape-mismatch", n.label(),
                        fmt::format("kernel_shape {}x{} disagrees with the weights' {}x{}", (*ks)[0], (*ks)[1],
                                    kernel->first, kernel->second));
    win.kh = static_cast<int32_t>((*ks)[0]);
    win.kw = static_cast<int32_t>((*ks)[1]);
  } else if (!kernel) {
    return make_error("onnx-missing-attribute", n.label(), "has no kernel_shape");
  }
  if (auto s = n.attr_ints("strides")) {
    if (s->size() != 2) return make_error("onnx-unsupported-attribute", n.label(), "strides must have 2 values");
    win.stride_h = static_cast<int32_t>((*s)[0]);
    win.stride_w = static_cast<int32_t>((*s)[1]);
  }
  if (auto d = n.attr_ints("dilations"))
    for (int64_t v : *d)
      if (v != 1)
        return make_error("onnx-unsupported-attribute", n.label(),
                          fmt::format("dilation {} is not supported (dory supports dilation 1)", v),
                          "replace the dilated convolution by an equivalent undilated one in the export");
  if (win.kh < 1 || win.kw < 1 || win.stride_h < 1 || win.stride_w < 1 || win.kh > 64 || win.kw > 64)
    return make_error("onnx-bad-attribute", n.label(),
                      fmt::format("invalid kernel {}x{} or stride {}x{}", win.kh, win.kw, win.stride_h, win.stride_w));
  std::string auto_pad = n.attr_string("auto_pad").value_or("NOTSET");
  if (auto_pad == "NOTSET" || auto_pad.empty()) {
    if (auto p = n.attr_ints("pads")) {
      if (p->size() != 4)
        return make_error("onnx-unsupported-attribute", n.label(), fmt::format("pads has {} values, expected 4",
                                                                               p->size()));
      for (int64_t v : *p)
        if (v < 0 || v > 64)
          return make_error("onnx-bad-attribute", n.label(), fmt::format("padding {} is not supported", v));
      win.pad = {static_cast<int32_t>((*p)[0]), static_cast<int32_t>((*p)[1]), static_cast<int32_t>((*p)[2]),
                 static_cast<int32_t>((*p)[3])};
    }
  } else if (auto_pad == "VALID") {
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    auto same = [&](int64_t in, int32_t k, int32_t s, int32_t& before, int32_t& after) {
      int64_t out = (in + s - 1) / s;
      int64_t total = std::max<int64_t>(0, (out - 1) * s + k - in);
      int64_t small = total / 2, big = total - small;
      before = static_cast<int32_t>(auto_pad == "SAME_UPPER" ? small : big);
      after = static_cast<int32_t>(auto_pad == "SAME_UPPER" ? big : small);
    };
    same(h, win.kh, win.stride_h, win.pad.top, win.pad.bottom);
    same(w, win.kw, win.stride_w, win.pad.left, win.pad.right);
  } else {
    return make_error("onnx-bad-attribute", n.label(), fmt::format("unknown auto_pad '{}'", auto_pad));
  }
  if (n.attr_int("ceil_mode").value_or(0) == 1) {
    // Output size with ceil instead of floor; the extra windows start inside the (padded) input.
    auto extra = [](int64_t in, int32_t k, int32_t s, int32_t pb, int32_t pa) -> int32_t {
      int64_t span = in + pb + pa - k;
      if (span < 0) return 0;
      int64_t floor_out = span / s + 1, ceil_out = (span + s - 1) / s + 1;
      if ((ceil_out - 1) * s >= in + pb) ceil_out -= 1;  // ONNX drops a window starting in the end padding
      return static_cast<int32_t>((ceil_out - floor_out) * s);
    };
    int32_t eh = extra(h, win.kh, win.stride_h, win.pad.top, win.pad.bottom);
    int32_t ew = extra(w, win.kw, win.stride_w, win.pad.left, win.pad.right);
    if (eh || ew) {
      if (!is_maxpool)
        return make_error("onnx-unsupported-attribute", n.label(),
                          "ceil_mode = 1 changes the output size here; dory supports it for MaxPool only",
                          "export with ceil_mode = 0 and explicit padding");
      win.pad.bottom += eh;  // ignored positions for MaxPool, exactly like ceil_mode's partial windows
      win.pad.right += ew;
    }
  }
  return win;
}

Status check_pool_windows(const Node& n, const Window& w, int64_t h, int64_t width) {
  if (!has_padding_only_window(w, h, width)) return ok_status();
  const bool max = n.op_type == "MaxPool";
  return make_error("onnx-empty-window", n.label(),
                    fmt::format("pads {},{},{},{} (top, left, bottom, right) with kernel {}x{} and stride {}x{} on the "
                                "{}x{} input give a window of padding only, whose value ONNX leaves undefined ({})",
                                w.pad.top, w.pad.left, w.pad.bottom, w.pad.right, w.kh, w.kw, w.stride_h, w.stride_w, h,
                                width,
                                max ? "the maximum of no element: MaxPool ignores padding"
                                    : "a mean over no element: count_include_pad = 0"),
                    max ? "make every window overlap the input (pads smaller than the kernel), or pad with an "
                          "explicit Pad node before the pool (its value is then the maximum of such windows)"
                        : "make every window overlap the input (pads smaller than the kernel), or set "
                          "count_include_pad = 1 (the mean of the padded zeros)");
}

Expected<PendingPad> parse_pad_node(const Node& n, const OnnxModel& m,
                                    const std::vector<const ConstTensor*>& const_inputs, int64_t rank) {
  std::string mode = n.attr_string("mode").value_or("constant");
  if (mode != "constant")
    return make_error("onnx-unsupported-attribute", n.label(),
                      fmt::format("Pad mode '{}' is not supported (only constant padding)", mode));
  std::vector<int64_t> pads;
  double value = n.attr_float("value").value_or(0.0);
  if (m.opset >= 11) {
    if (const_inputs.size() < 2 || !const_inputs[1])
      return make_error("onnx-unsupported-pattern", n.label(), "the pads input must be a constant");
    pads = const_inputs[1]->i;
    if (const_inputs.size() > 2 && const_inputs[2]) value = const_inputs[2]->f.at(0);
  } else {
    pads = n.attr_ints("pads").value_or(std::vector<int64_t>{});
  }
  if (static_cast<int64_t>(pads.size()) != 2 * rank || rank != 4)
    return make_error("onnx-unsupported-pattern", n.label(),
                      fmt::format("Pad with {} pad values on a rank-{} tensor; dory absorbs 2-D spatial padding "
                                  "of [1,C,H,W] maps only",
                                  pads.size(), rank));
  // ONNX order: [x1_begin .. x4_begin, x1_end .. x4_end] for N, C, H, W.
  if (pads[0] || pads[1] || pads[4] || pads[5])
    return make_error("onnx-unsupported-pattern", n.label(), "padding along the batch or channel axis");
  for (int64_t p : pads)
    if (p < 0 || p > 64) return make_error("onnx-bad-attribute", n.label(), fmt::format("padding {} unsupported", p));
  PendingPad pp;
  pp.pad = {static_cast<int32_t>(pads[2]), static_cast<int32_t>(pads[3]), static_cast<int32_t>(pads[6]),
            static_cast<int32_t>(pads[7])};
  pp.value = value;
  pp.node = n.label();
  return pp;
}

Expected<std::vector<int64_t>> integer_values(const Node& n, const std::string& name, const ConstTensor& c,
                                              const char* what) {
  if (!c.integral) {
    size_t k = 0;
    while (k < c.f.size() && std::floor(c.f[k]) == c.f[k] && std::isfinite(c.f[k])) ++k;
    return make_error("onnx-non-integer", n.label(),
                      fmt::format("{} '{}' holds the non-integer value {} at index {}; an integer-deployable graph "
                                  "must hold integers in its float tensors",
                                  what, name, k < c.f.size() ? c.f[k] : 0.0, k),
                      "export the integerized network (NEMO's or QuantLab's integer stage), or a QDQ model");
  }
  return c.i;
}

Expected<std::vector<int32_t>> int32_values(const Node& n, const std::string& name, const ConstTensor& c,
                                            const char* what) {
  DORY_TRY(auto v, integer_values(n, name, c, what));
  std::vector<int32_t> out;
  out.reserve(v.size());
  for (size_t k = 0; k < v.size(); ++k) {
    if (v[k] < std::numeric_limits<int32_t>::min() || v[k] > std::numeric_limits<int32_t>::max())
      return make_error("onnx-value-range", n.label(),
                        fmt::format("{} '{}' holds {} at index {}, which does not fit int32", what, name, v[k], k));
    out.push_back(static_cast<int32_t>(v[k]));
  }
  return out;
}

Expected<std::vector<int32_t>> conv_weights_to_dory(const Node& n, const std::string& name, const ConstTensor& w) {
  if (w.shape.size() != 4)
    return make_error("onnx-unsupported-pattern", n.label(),
                      fmt::format("weights '{}' have rank {}; dory supports 2-D convolutions (rank-4 weights)", name,
                                  w.shape.size()));
  DORY_TRY(auto v, int32_values(n, name, w, "weight tensor"));
  const int64_t co = w.shape[0], ci = w.shape[1], kh = w.shape[2], kw = w.shape[3];
  std::vector<int32_t> out(v.size());
  for (int64_t o = 0; o < co; ++o)
    for (int64_t i = 0; i < ci; ++i)
      for (int64_t y = 0; y < kh; ++y)
        for (int64_t x = 0; x < kw; ++x)
          out[static_cast<size_t>(((o * kh + y) * kw + x) * ci + i)] =
              v[static_cast<size_t>(((o * ci + i) * kh + y) * kw + x)];
  return out;
}

std::vector<int32_t> fc_weights_for_input(const Tensor& input, const std::vector<int32_t>& w_nk, int64_t n_out) {
  if (input.layout == Layout::RowMajor) return w_nk;
  const int64_t K = input.elements();
  int64_t C, H, W;
  if (input.layout == Layout::HWC) C = input.shape[1], H = input.shape[2], W = input.shape[3];
  else C = input.hwc_source[0], H = input.hwc_source[1], W = input.hwc_source[2];
  std::vector<int32_t> out(w_nk.size());
  for (int64_t nn = 0; nn < n_out; ++nn)
    for (int64_t k = 0; k < K; ++k)
      out[static_cast<size_t>(nn * K + chw_to_hwc_index(k, C, H, W))] = w_nk[static_cast<size_t>(nn * K + k)];
  return out;
}

Expected<std::vector<double>> per_channel_values(const Node& n, const std::string& name, const ConstTensor& c,
                                                 int64_t channels, int64_t rank) {
  if (c.size() == 1) return std::vector<double>{c.f[0]};
  // Right-align the constant's shape against the activation's rank; only axis 1 may be non-1.
  const int64_t cr = static_cast<int64_t>(c.shape.size());
  bool ok = cr <= rank;
  int64_t along = 1;
  for (int64_t d = 0; d < cr && ok; ++d) {
    int64_t axis = d + (rank - cr);
    int64_t dim = c.shape[static_cast<size_t>(d)];
    if (dim == 1) continue;
    if (axis == 1 && dim == channels) along = dim;
    else ok = false;
  }
  if (!ok || along != channels || c.size() != channels)
    return make_error("onnx-unsupported-pattern", n.label(),
                      fmt::format("constant '{}' of shape [{}] must be a scalar or vary along the {} channels only",
                                  name, fmt::join(c.shape, ","), channels));
  return c.f;
}

Tensor make_activation(const std::string& name, std::vector<int64_t> shape) {
  Tensor t;
  t.name = name;
  t.layout = shape.size() == 4 ? Layout::HWC : Layout::RowMajor;
  t.shape = std::move(shape);
  return t;
}

Expected<std::vector<int64_t>> view_shape(const Node& n, const std::vector<int64_t>& in_shape,
                                          const ConstTensor* reshape_target) {
  int64_t total = 1;
  for (int64_t d : in_shape) total *= d;
  if (n.op_type == "Flatten") {
    int64_t rank = static_cast<int64_t>(in_shape.size());
    int64_t axis = n.attr_int("axis").value_or(1);
    if (axis < 0) axis += rank;
    if (axis < 0 || axis > rank) return make_error("onnx-bad-attribute", n.label(), "Flatten axis out of range");
    int64_t outer = 1;
    for (int64_t d = 0; d < axis; ++d) outer *= in_shape[static_cast<size_t>(d)];
    return std::vector<int64_t>{outer, outer ? total / outer : 0};
  }
  if (!reshape_target || !reshape_target->integral)
    return make_error("onnx-unsupported-pattern", n.label(), "the target shape of Reshape must fold to a constant");
  std::vector<int64_t> t = reshape_target->i;
  int64_t known = 1, infer = -1;
  for (size_t d = 0; d < t.size(); ++d) {
    if (t[d] == 0) t[d] = d < in_shape.size() ? in_shape[d] : 1;
    if (t[d] == -1) {
      if (infer >= 0) return make_error("onnx-bad-attribute", n.label(), "Reshape with two -1 dimensions");
      infer = static_cast<int64_t>(d);
    } else if (t[d] < 0) {
      return make_error("onnx-bad-attribute", n.label(), fmt::format("Reshape dimension {}", t[d]));
    } else {
      known *= t[d];
    }
  }
  if (infer >= 0) t[static_cast<size_t>(infer)] = known ? total / known : 0;
  int64_t out_total = 1;
  for (int64_t d : t) out_total *= d;
  if (out_total != total)
    return make_error("onnx-shape-mismatch", n.label(),
                      fmt::format("reshapes {} elements into [{}]", total, fmt::join(t, ",")));
  return t;
}

Expected<Tensor> make_view(const Node& n, const Tensor& in, const std::string& name, std::vector<int64_t> shape) {
  Tensor out = make_activation(name, shape);
  out.dtype = in.dtype;
  out.dtype_declared = in.dtype_declared;
  out.zero_point = in.zero_point;
  out.scale = in.scale;
  out.range = in.range;
  if (in.layout == Layout::RowMajor) {
    out.layout = Layout::RowMajor;
    if (shape.size() == 4 && shape[0] == 1 && (shape[2] != 1 || shape[3] != 1))
      return make_error("onnx-unsupported-pattern", n.label(),
                        "reshaping a flat tensor back into a feature map is not supported");
    if (shape.size() == 4) out.layout = Layout::HWC;  // [1,C,1,1]: HWC and CHW coincide
    return out;
  }
  const int64_t C = in.layout == Layout::HWC ? in.shape[1] : in.hwc_source[0];
  const int64_t H = in.layout == Layout::HWC ? in.shape[2] : in.hwc_source[1];
  const int64_t W = in.layout == Layout::HWC ? in.shape[3] : in.hwc_source[2];
  if (shape == std::vector<int64_t>{1, C, H, W}) {
    out.layout = Layout::HWC;
    return out;
  }
  if (shape.size() == 4 && H == 1 && W == 1 && shape[0] == 1 && shape[1] == C) {
    out.layout = Layout::HWC;
    return out;
  }
  if (shape.size() == 2 && shape[0] == 1 && shape[1] == C * H * W) {
    out.layout = Layout::FlattenedHWC;
    out.hwc_source = {C, H, W};
    return out;
  }
  return make_error("onnx-unsupported-pattern", n.label(),
                    fmt::format("reshapes the feature map [1,{},{},{}] into [{}]; dory supports flattening a feature "
                                "map to [1, C*H*W] only",
                                C, H, W, fmt::join(shape, ",")));
}

Expected<DType> activation_dtype(int32_t elem_type, const std::string& where) {
  switch (elem_type) {
    case kUInt8: return DType::UInt8;
    case kInt8: return DType::Int8;
    case kInt16: return DType::Int16;
    case kUInt16: return DType::UInt16;
    case kInt32: return DType::Int32;
    default:
      return make_error("onnx-unsupported-dtype", where,
                        fmt::format("has element type {}; dory's integer activations are int8/uint8/int16/uint16/int32",
                                    elem_type_name(elem_type)));
  }
}

bool is_float_type(int32_t elem_type) {
  return elem_type == kFloat || elem_type == kDouble || elem_type == kFloat16;
}

Expected<std::vector<int64_t>> graph_input_shape(const ValueInfo& in) {
  const std::string where = fmt::format("input '{}'", in.name);
  if (!in.has_shape)
    return make_error("onnx-unknown-shape", where, "has no shape in the model", "export with a fixed input shape");
  std::vector<int64_t> shape = in.shape;
  for (size_t d = 0; d < shape.size(); ++d)
    if (shape[d] < 0) {
      if (d != 0)
        return make_error("onnx-unknown-shape", where,
                          fmt::format("has the symbolic dimension {} (only the batch may be symbolic); dory compiles "
                                      "fixed shapes",
                                      d),
                          "export with a fixed input shape");
      shape[d] = 1;  // a symbolic batch dimension: dory deploys batch 1
    }
  return shape;
}

}  // namespace dory::onnxfe
