#include "onnx/conv_builder.h"

#include <fmt/format.h>

#include "onnx/import_util.h"

namespace dory::onnxfe {

void add_padding(Padding& to, const Padding& more) {
  to.top += more.top;
  to.left += more.left;
  to.bottom += more.bottom;
  to.right += more.right;
}

Expected<ConvBuild> build_conv(const Node& n, const ConvOperand& x, const ConstTensor& w, const std::string& w_name) {
  const Tensor& in = *x.x;
  if (!in.is_feature_map() || in.shape[0] != 1)
    return make_error("onnx-unsupported-pattern", n.label(),
                      fmt::format("input '{}' of shape {} is not a batch-1 [1,C,H,W] feature map; dory supports "
                                  "2-D convolutions",
                                  in.name, shape_str(in.shape)));
  if (w.shape.size() != 4)
    return make_error("onnx-unsupported-pattern", n.label(),
                      fmt::format("weights '{}' have rank {}; dory supports 2-D convolutions (rank-4 weights)", w_name,
                                  w.shape.size()));
  const int64_t c_in = in.channels(), c_out = w.shape[0];
  const int64_t group = n.attr_int("group").value_or(1);
  if (group < 1 || group > c_in || c_in % group != 0)
    return make_error("onnx-bad-attribute", n.label(),
                      fmt::format("group = {} is invalid for {} input channels (it must divide them)", group, c_in));
  if (w.shape[1] * group != c_in)
    return make_error("onnx-shape-mismatch", n.label(),
                      fmt::format("weights '{}' of shape [{}] expect {} input channels (x group {}), the input '{}' "
                                  "has {}",
                                  w_name, fmt::join(w.shape, ","), w.shape[1], group, in.name, c_in));
  if (c_out % group != 0)
    return make_error("onnx-shape-mismatch", n.label(),
                      fmt::format("weights '{}' have {} output channels, not a multiple of group {}", w_name, c_out,
                                  group));
  ConvBuild b;
  Conv2d& c = b.conv;
  c.groups = static_cast<int32_t>(group);
  c.input_zero_point = x.zero_point;
  DORY_TRY(c.win, parse_window(n, in.height(), in.width(),
                               std::make_pair(static_cast<int32_t>(w.shape[2]), static_cast<int32_t>(w.shape[3])),
                               false));
  if (x.pad) {
    if (x.pad->value != x.zero_point)
      return make_error("onnx-unsupported-pattern", n.label(),
                        fmt::format("reads the output of {}, whose padded cells hold {} in the integers of '{}'; a "
                                    "convolution pads with its input zero point {}, so dory cannot absorb that Pad",
                                    x.pad->pad_node, x.pad->value, in.name, x.zero_point),
                        "pad with the zero point (the real value 0), or leave the padding to the Conv's own pads");
    add_padding(c.win.pad, x.pad->pad);
  }
  const int64_t ho = window_out(in.height(), c.win.kh, c.win.stride_h, c.win.pad.top, c.win.pad.bottom);
  const int64_t wo = window_out(in.width(), c.win.kw, c.win.stride_w, c.win.pad.left, c.win.pad.right);
  if (ho <= 0 || wo <= 0)
    return make_error("onnx-shape-mismatch", n.label(),
                      fmt::format("the {}x{} window does not fit the {}x{} input (padded {},{},{},{})", c.win.kh,
                                  c.win.kw, in.height(), in.width(), c.win.pad.top, c.win.pad.left, c.win.pad.bottom,
                                  c.win.pad.right));
  DORY_TRY(c.weights, conv_weights_to_dory(n, w_name, w));
  c.bias.assign(static_cast<size_t>(c_out), 0);
  b.out_shape = {1, c_out, ho, wo};
  return b;
}

}  // namespace dory::onnxfe
