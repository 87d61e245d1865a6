#include "tiler/geometry.h"

#include <fmt/format.h>

#include <utility>
#include <vector>

namespace dory {

int64_t LayerGeometry::weight_bytes_per_cout(int64_t tile_cin) const {
  switch (family) {
    case KernelFamily::Conv:
    case KernelFamily::Pointwise:
    case KernelFamily::Fc: return kh * kw * tile_cin;
    case KernelFamily::Depthwise: return kh * kw;
    case KernelFamily::Pool:
    case KernelFamily::Add: return 0;
  }
  return 0;
}

int64_t LayerGeometry::macs() const {
  switch (family) {
    case KernelFamily::Conv:
    case KernelFamily::Pointwise:
    case KernelFamily::Fc: return c_out * h_out * w_out * kh * kw * c_in;
    case KernelFamily::Depthwise: return c_out * h_out * w_out * kh * kw;
    case KernelFamily::Pool:
    case KernelFamily::Add: return 0;
  }
  return 0;
}

const KernelImpl& LayerGeometry::kernel(const Target& target) const {
  DORY_CHECK(kernel_op_family(kernel_query.op) == family && kernel_query.inputs.size() == in_elem_bytes.size(),
             fmt::format("layer '{}': the geometry's kernel query does not match its family and inputs", layer));
  return target.kernel_for(kernel_query);
}

int64_t c_in_grain(const LayerGeometry& g, const Target& target) {
  if (g.channels_tied || !g.cin_tileable) return 1;
  return g.kernel(target).kernel->c_in_grain;
}

bool needs_l1_plan(const Layer& layer) { return !layer.as<View>() && !layer.as<Concat>(); }

namespace {

int64_t requant_bytes(const std::optional<Requant>& rq) {
  if (!rq) return 0;
  const int64_t per = rq->wide ? 8 : 4;
  return per * ((rq->mul.size() > 1 ? 1 : 0) + (rq->add.size() > 1 ? 1 : 0));
}

std::string where(const Layer& l) { return fmt::format("layer '{}'", l.name); }

// The channel slice a feature map occupies in L2: {pixel channels, first channel}. A Concat input lives in its
// slice of the concat output (ir/graph.h, concat_slice); flat tensors are dense ({0, 0}).
std::pair<int64_t, int64_t> channel_slice(const Graph& g, const std::vector<int>& first_concat, TensorId t) {
  if (!g.tensor(t).is_feature_map()) return {0, 0};
  const ChannelSlice s = concat_slice(g, first_concat, t);
  return {s.pixel_channels, s.first_channel};
}

void set_window(LayerGeometry& g, const Window& w) {
  g.kh = w.kh;
  g.kw = w.kw;
  g.stride_h = w.stride_h;
  g.stride_w = w.stride_w;
  g.pad = w.pad;
}

void set_maps(LayerGeometry& g, const Tensor& in, const Tensor& out) {
  g.c_in = in.channels();
  g.h_in = in.height();
  g.w_in = in.width();
  g.c_out = out.channels();
  g.h_out = out.height();
  g.w_out = out.width();
}

}  // namespace

Expected<LayerGeometry> layer_geometry(const Graph& graph, const Layer& l) {
  DORY_CHECK(needs_l1_plan(l), "layer_geometry called on a layer that needs no plan");
  LayerGeometry g;
  g.layer = l.name;
  const Tensor& in = graph.tensor(l.inputs.at(0));
  const Tensor& out = graph.tensor(l.output);
  g.in_elem_bytes = {dtype_bytes(in.dtype)};
  g.out_elem_bytes = dtype_bytes(out.dtype);

  auto feature_maps = [&]() -> Status {
    if (!in.is_feature_map() || !out.is_feature_map() || in.layout != Layout::HWC || out.layout != Layout::HWC)
      return make_error("tiler-unsupported-layout", where(l),
                        fmt::format("expected HWC [1,C,H,W] feature maps, input '{}' is {} ({}), output '{}' is "
                                    "{} ({})",
                                    in.name, shape_str(in.shape), layout_name(in.layout), out.name,
                                    shape_str(out.shape), layout_name(out.layout)));
    set_maps(g, in, out);
    return ok_status();
  };

  if (const auto* c = l.as<Conv2d>()) {
    DORY_TRY_STATUS(feature_maps());
    set_window(g, c->win);
    const ConvKind kind = conv_kind(graph, l);
    g.family = kind == ConvKind::Depthwise   ? KernelFamily::Depthwise
               : kind == ConvKind::Pointwise ? KernelFamily::Pointwise
                                             : KernelFamily::Conv;
    g.channels_tied = kind == ConvKind::Depthwise;
    g.cin_tileable = !g.channels_tied;
    g.bias_bytes_per_cout = 4;
    g.requant_bytes_per_cout = requant_bytes(c->requant);
    g.wide_requant = c->requant && c->requant->wide;
  } else if (const auto* fc = l.as<FullyConnected>()) {
    g.family = KernelFamily::Fc;
    g.c_in = in.elements();
    g.c_out = out.elements();
    g.cin_tileable = true;
    g.bias_bytes_per_cout = 4;
    g.requant_bytes_per_cout = requant_bytes(fc->requant);
    g.wide_requant = fc->requant && fc->requant->wide;
  } else if (const auto* mp = l.as<MaxPool>()) {
    DORY_TRY_STATUS(feature_maps());
    set_window(g, mp->win);
    g.family = KernelFamily::Pool;
    g.channels_tied = true;
  } else if (const auto* ap = l.as<AveragePool>()) {
    DORY_TRY_STATUS(feature_maps());
    set_window(g, ap->win);
    g.family = KernelFamily::Pool;
    g.channels_tied = true;
    g.requant_bytes_per_cout = requant_bytes(ap->requant);
  } else if (l.as<Add>() || l.as<Requantize>()) {
    g.family = KernelFamily::Add;
    g.channels_tied = true;
    if (const auto* rq = l.as<Requantize>()) {
      g.requant_bytes_per_cout = requant_bytes(rq->requant);
    } else {
      g.in_elem_bytes.clear();
      for (TensorId t : l.inputs) g.in_elem_bytes.push_back(dtype_bytes(graph.tensor(t).dtype));
    }
    if (in.is_feature_map() && in.layout == Layout::HWC) {
      set_maps(g, in, out);
    } else if (in.shape.size() <= 2 || g.requant_bytes_per_cout == 0) {
      // Element-wise over a non-spatial tensor: one row of elements (per-channel parameters, if any, are
      // along ONNX axis 1, which for rank <= 2 is the innermost storage dimension).
      g.c_in = g.c_out = in.elements();
    } else {
      return make_error("tiler-unsupported-layout", where(l),
                        fmt::format("per-channel requantization of the rank-{} tensor '{}' {} ({} layout): dory "
                                    "tiles element-wise layers on HWC feature maps or flat tensors only",
                                    in.shape.size(), in.name, shape_str(in.shape), layout_name(in.layout)));
    }
  } else {
    DORY_CHECK(false, "layer_geometry: unhandled layer kind");
  }
  // Channel slices of concatenations (feature maps only; flat tensors are dense).
  const std::vector<int> first_concat = first_concat_readers(graph);
  if (out.is_feature_map() && out.layout == Layout::HWC) {
    const auto [pixel, offset] = channel_slice(graph, first_concat, l.output);
    if (pixel != g.c_out || offset != 0) g.out_pixel_channels = pixel, g.out_channel_offset = offset;
  }
  for (size_t k = 0; k < l.inputs.size() && g.family != KernelFamily::Fc; ++k) {
    const Tensor& x = graph.tensor(l.inputs[k]);
    if (!x.is_feature_map() || x.layout != Layout::HWC) continue;
    const auto [pixel, offset] = channel_slice(graph, first_concat, l.inputs[k]);
    if (pixel == g.c_in && offset == 0) continue;
    g.in_pixel_channels.assign(l.inputs.size(), g.c_in);
    g.in_channel_offset.assign(l.inputs.size(), 0);
    break;
  }
  if (!g.in_pixel_channels.empty())
    for (size_t k = 0; k < l.inputs.size(); ++k) {
      const auto [pixel, offset] = channel_slice(graph, first_concat, l.inputs[k]);
      g.in_pixel_channels[k] = pixel;
      g.in_channel_offset[k] = offset;
    }
  DORY_CHECK(g.c_in >= 1 && g.h_in >= 1 && g.w_in >= 1 && g.c_out >= 1 && g.h_out >= 1 && g.w_out >= 1,
             fmt::format("layer '{}': empty tensor reached the tiler", l.name));
  // What the layer asks of a kernel: the runtime op of its family, and its inputs' types.
  g.kernel_query.inputs.clear();
  for (TensorId t : l.inputs) g.kernel_query.inputs.push_back(graph.tensor(t).dtype);
  switch (g.family) {
    case KernelFamily::Conv: g.kernel_query.op = KernelOp::Conv; break;
    case KernelFamily::Pointwise: g.kernel_query.op = KernelOp::Pointwise; break;
    case KernelFamily::Depthwise: g.kernel_query.op = KernelOp::Depthwise; break;
    case KernelFamily::Fc: g.kernel_query.op = KernelOp::Fc; break;
    case KernelFamily::Pool: g.kernel_query.op = l.as<MaxPool>() ? KernelOp::MaxPool : KernelOp::AvgPool; break;
    case KernelFamily::Add: g.kernel_query.op = l.as<Add>() ? KernelOp::Add : KernelOp::Requantize; break;
  }
  return g;
}

}  // namespace dory
