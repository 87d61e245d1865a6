#include "reference/executor.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "ir/layout.h"

namespace dory {
namespace {

// Requantization of one layer with its divisors precomputed (one per window count for average pooling).
struct PreparedRequant {
  const Requant* rq = nullptr;
  std::vector<dory_divisor> div64;    // index: count - 1 (size 1 unless average pooling)
  std::vector<dory_divisor32> div32;

  void prepare(const Requant& r, int64_t max_count = 1) {
    rq = &r;
    div64.clear();
    div32.clear();
    for (int64_t cnt = 1; cnt <= max_count; ++cnt) {
      div64.push_back(r.make_divisor(static_cast<uint64_t>(cnt)));
      if (!r.wide) {
        dory_divisor32 d{};
        int rc = dory_divisor32_make(static_cast<uint32_t>(r.divisor * cnt),
                                     r.rounding == Rounding::Floor ? DORY_ROUND_FLOOR : DORY_ROUND_TOWARD_ZERO, &d);
        DORY_CHECK(rc == 0, "32-bit divisor out of range on a path marked narrow");
        div32.push_back(d);
      }
    }
  }
  // clamp(R((v*m[c] + a[c]*cnt) / (D*cnt)) + zp, lo, hi)
  int32_t apply(int32_t v, int64_t c, int64_t cnt = 1) const {
    const int64_t m = rq->mul_at(c), a = rq->add_at(c) * cnt;
    if (!rq->wide)
      return dory_requant32(v, static_cast<int32_t>(m), static_cast<int32_t>(a), &div32[cnt - 1], rq->zero_point,
                            rq->lo, rq->hi);
    return dory_requant64(v, m, a, &div64[cnt - 1], rq->zero_point, rq->lo, rq->hi);
  }
};

template <class T>
inline int32_t dot(const T* a, const T* b, int64_t n) {
  int32_t s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<int32_t>(a[i]) * static_cast<int32_t>(b[i]);
  return s;
}

bool fits16(int64_t v) { return v >= std::numeric_limits<int16_t>::min() && v <= std::numeric_limits<int16_t>::max(); }

template <class T>
std::vector<T> narrow_copy(const std::vector<int32_t>& v) {
  return std::vector<T>(v.begin(), v.end());
}

// Channel (ONNX axis 1) of the element at storage index i.
int64_t channel_of(const Tensor& t, int64_t i) {
  switch (t.layout) {
    case Layout::HWC: return i % t.shape[1];
    case Layout::FlattenedHWC: {
      // storage is HWC of (C,H,W); axis 1 of the [1, C*H*W] view is the CHW flat index.
      int64_t C = t.hwc_source[0], H = t.hwc_source[1], W = t.hwc_source[2];
      int64_t c = i % C, hw = i / C;
      return c * H * W + hw;
    }
    case Layout::RowMajor: {
      // Rank 1: the only axis is the channel axis, as in Tensor::channels() (which check_shapes and the range
      // analysis use for per-channel parameters).
      if (t.shape.size() < 2) return t.shape.empty() ? 0 : i;
      int64_t inner = 1;
      for (size_t d = 2; d < t.shape.size(); ++d) inner *= t.shape[d];
      return (i / inner) % t.shape[1];
    }
  }
  return 0;
}

struct LayerPlan {
  bool use16 = false;
  std::vector<int16_t> w16;  // weights narrowed (depthwise: transposed to [Kh][Kw][C])
  std::vector<int32_t> w32;  // same, 32-bit path
  PreparedRequant rq;
  std::vector<dory_divisor> operand_div;  // Add operands
};

template <class T>
void run_conv(const Graph& g, const Layer& l, const LayerPlan& p, const std::vector<int32_t>& x,
              std::vector<int32_t>& y, std::vector<T>& padded) {
  const Conv2d& c = std::get<Conv2d>(l.op);
  const Tensor& in = g.tensor(l.inputs[0]);
  const Tensor& out = g.tensor(l.output);
  const int64_t C = in.channels(), H = in.height(), W = in.width();
  const int64_t Co = out.channels(), Ho = out.height(), Wo = out.width();
  const Window& w = c.win;
  const int64_t Hp = H + w.pad.top + w.pad.bottom, Wp = W + w.pad.left + w.pad.right;
  padded.assign(static_cast<size_t>(Hp * Wp * C), T(0));  // padding holds the zero point: (zp - zp) = 0
  for (int64_t h = 0; h < H; ++h)
    for (int64_t ww = 0; ww < W; ++ww) {
      const int32_t* src = &x[static_cast<size_t>((h * W + ww) * C)];
      T* dst = &padded[static_cast<size_t>(((h + w.pad.top) * Wp + ww + w.pad.left) * C)];
      for (int64_t ci = 0; ci < C; ++ci) dst[ci] = static_cast<T>(src[ci] - c.input_zero_point);
    }
  const T* wt = nullptr;
  if constexpr (sizeof(T) == 2) wt = p.w16.data(); else wt = p.w32.data();
  y.assign(static_cast<size_t>(out.elements()), 0);
  const bool depthwise = c.groups > 1;
  std::vector<int32_t> acc(static_cast<size_t>(Co));
  for (int64_t oh = 0; oh < Ho; ++oh)
    for (int64_t ow = 0; ow < Wo; ++ow) {
      const T* base = &padded[static_cast<size_t>((oh * w.stride_h * Wp + ow * w.stride_w) * C)];
      if (depthwise) {
        std::copy(c.bias.begin(), c.bias.end(), acc.begin());
        for (int64_t ky = 0; ky < w.kh; ++ky)
          for (int64_t kx = 0; kx < w.kw; ++kx) {
            const T* px = base + (ky * Wp + kx) * C;
            const T* pw = wt + (ky * w.kw + kx) * C;
            for (int64_t ch = 0; ch < C; ++ch) acc[ch] += static_cast<int32_t>(px[ch]) * static_cast<int32_t>(pw[ch]);
          }
      } else {
        const int64_t row = w.kw * C;
        for (int64_t co = 0; co < Co; ++co) {
          int32_t a = c.bias[static_cast<size_t>(co)];
          for (int64_t ky = 0; ky < w.kh; ++ky) a += dot(base + ky * Wp * C, wt + (co * w.kh + ky) * row, row);
          acc[static_cast<size_t>(co)] = a;
        }
      }
      int32_t* dst = &y[static_cast<size_t>((oh * Wo + ow) * Co)];
      if (c.requant)
        for (int64_t co = 0; co < Co; ++co) dst[co] = p.rq.apply(acc[static_cast<size_t>(co)], co);
      else
        std::copy(acc.begin(), acc.end(), dst);
    }
}

template <class T>
void run_fc(const Graph& g, const Layer& l, const LayerPlan& p, const std::vector<int32_t>& x,
            std::vector<int32_t>& y, std::vector<T>& xv) {
  const FullyConnected& fc = std::get<FullyConnected>(l.op);
  const int64_t K = static_cast<int64_t>(x.size()), N = static_cast<int64_t>(fc.bias.size());
  xv.resize(x.size());
  for (size_t i = 0; i < x.size(); ++i) xv[i] = static_cast<T>(x[i] - fc.input_zero_point);
  const T* wt = nullptr;
  if constexpr (sizeof(T) == 2) wt = p.w16.data(); else wt = p.w32.data();
  y.assign(static_cast<size_t>(N), 0);
  for (int64_t n = 0; n < N; ++n) {
    int32_t a = fc.bias[static_cast<size_t>(n)] + dot(xv.data(), wt + n * K, K);
    y[static_cast<size_t>(n)] = fc.requant ? p.rq.apply(a, n) : a;
  }
}

void run_maxpool(const Graph& g, const Layer& l, const std::vector<int32_t>& x, std::vector<int32_t>& y) {
  const MaxPool& mp = std::get<MaxPool>(l.op);
  const Tensor& in = g.tensor(l.inputs[0]);
  const Tensor& out = g.tensor(l.output);
  const int64_t C = in.channels(), H = in.height(), W = in.width(), Ho = out.height(), Wo = out.width();
  const Window& w = mp.win;
  y.assign(static_cast<size_t>(out.elements()), 0);
  for (int64_t oh = 0; oh < Ho; ++oh)
    for (int64_t ow = 0; ow < Wo; ++ow)
      for (int64_t c = 0; c < C; ++c) {
        int64_t best = std::numeric_limits<int64_t>::min();
        for (int64_t ky = 0; ky < w.kh; ++ky)
          for (int64_t kx = 0; kx < w.kw; ++kx) {
            int64_t ih = oh * w.stride_h + ky - w.pad.top, iw = ow * w.stride_w + kx - w.pad.left;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
              if (mp.pad_value) best = std::max<int64_t>(best, *mp.pad_value);
              continue;
            }
            best = std::max<int64_t>(best, x[static_cast<size_t>((ih * W + iw) * C + c)]);
          }
        DORY_CHECK(best != std::numeric_limits<int64_t>::min(),
                   "max pool window of padding only without a pad value (check_shapes rejects it)");
        y[static_cast<size_t>((oh * Wo + ow) * C + c)] = static_cast<int32_t>(best);
      }
}

void run_avgpool(const Graph& g, const Layer& l, const LayerPlan& p, const std::vector<int32_t>& x,
                 std::vector<int32_t>& y) {
  const AveragePool& ap = std::get<AveragePool>(l.op);
  const Tensor& in = g.tensor(l.inputs[0]);
  const Tensor& out = g.tensor(l.output);
  const int64_t C = in.channels(), H = in.height(), W = in.width(), Ho = out.height(), Wo = out.width();
  const Window& w = ap.win;
  y.assign(static_cast<size_t>(out.elements()), 0);
  std::vector<int32_t> sum(static_cast<size_t>(C));
  for (int64_t oh = 0; oh < Ho; ++oh)
    for (int64_t ow = 0; ow < Wo; ++ow) {
      std::fill(sum.begin(), sum.end(), 0);
      int64_t inside = 0, padded = 0;
      for (int64_t ky = 0; ky < w.kh; ++ky)
        for (int64_t kx = 0; kx < w.kw; ++kx) {
          int64_t ih = oh * w.stride_h + ky - w.pad.top, iw = ow * w.stride_w + kx - w.pad.left;
          if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
            ++padded;
            continue;
          }
          ++inside;
          const int32_t* px = &x[static_cast<size_t>((ih * W + iw) * C)];
          for (int64_t c = 0; c < C; ++c) sum[c] += px[c] - ap.input_zero_point;
        }
      int64_t cnt = inside;
      DORY_CHECK(cnt > 0 || ap.count_include_pad,
                 "average pool window of padding only that counts no slot (check_shapes rejects it)");
      if (ap.count_include_pad) {
        cnt += padded;
        for (int64_t c = 0; c < C; ++c)
          sum[c] += static_cast<int32_t>(padded) * (ap.pad_value - ap.input_zero_point);
      }
      int32_t* dst = &y[static_cast<size_t>((oh * Wo + ow) * C)];
      for (int64_t c = 0; c < C; ++c) dst[c] = p.rq.apply(sum[c], c, cnt);
    }
}


LayerPlan prepare_layer(const Graph& g, const Layer& l) {
  LayerPlan p;
  const Tensor& in = g.tensor(l.inputs[0]);
  auto narrow_weights = [&](const std::vector<int32_t>& w, int32_t zp) {
    bool w16 = std::all_of(w.begin(), w.end(), [](int32_t v) { return fits16(v); });
    p.use16 = w16 && fits16(in.range.lo - zp) && fits16(in.range.hi - zp);
    if (p.use16) p.w16 = narrow_copy<int16_t>(w); else p.w32 = w;
  };
  if (const auto* c = l.as<Conv2d>()) {
    if (c->requant) p.rq.prepare(*c->requant);
    std::vector<int32_t> w = c->weights;
    if (c->groups > 1) {  // depthwise [C][Kh][Kw][1] -> [Kh][Kw][C] so the channel loop is contiguous
      const int64_t C = in.channels(), K = c->win.kh * c->win.kw;
      for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t k = 0; k < K; ++k) w[static_cast<size_t>(k * C + ch)] = c->weights[static_cast<size_t>(ch * K + k)];
    }
    narrow_weights(w, c->input_zero_point);
  } else if (const auto* fc = l.as<FullyConnected>()) {
    if (fc->requant) p.rq.prepare(*fc->requant);
    narrow_weights(fc->weights, fc->input_zero_point);
  } else if (const auto* ap = l.as<AveragePool>()) {
    p.rq.prepare(ap->requant, static_cast<int64_t>(ap->win.kh) * ap->win.kw);
  } else if (const auto* add = l.as<Add>()) {
    p.rq.prepare(add->requant);
    for (const AddOperand& op : add->operands) {
      dory_divisor d{};
      int rc = dory_divisor_make(op.divisor, op.rounding == Rounding::Floor ? DORY_ROUND_FLOOR : DORY_ROUND_TOWARD_ZERO,
                                 &d);
      DORY_CHECK(rc == 0, "operand divisor out of range");
      p.operand_div.push_back(d);
    }
  } else if (const auto* rq = l.as<Requantize>()) {
    p.rq.prepare(rq->requant);
  }
  return p;
}

}  // namespace

struct ReferenceExecutor::Impl {
  const Graph& g;
  std::vector<LayerPlan> plans;
  std::vector<std::vector<int32_t>> values;
  std::vector<int16_t> scratch16;
  std::vector<int32_t> scratch32;
};

ReferenceExecutor::ReferenceExecutor(const Graph& g) : impl_(new Impl{g, {}, {}, {}, {}}) {
  for (const Layer& l : g.layers) impl_->plans.push_back(prepare_layer(g, l));
}
ReferenceExecutor::~ReferenceExecutor() = default;

Expected<ReferenceResult> ReferenceExecutor::run(const std::vector<std::vector<int32_t>>& inputs) {
  const Graph& g = impl_->g;
  std::vector<std::vector<int32_t>>& values = impl_->values;
  if (inputs.size() != g.inputs.size())
    return make_error("reference-input-count", "inputs",
                      fmt::format("the network has {} inputs, {} were given", g.inputs.size(), inputs.size()));
  values.assign(g.tensors.size(), {});
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const Tensor& t = g.tensor(g.inputs[i]);
    if (static_cast<int64_t>(inputs[i].size()) != t.elements())
      return make_error("reference-input-shape", fmt::format("input '{}'", t.name),
                        fmt::format("has {} elements, the network expects {} (shape {})", inputs[i].size(),
                                    t.elements(), shape_str(t.shape)));
    for (size_t k = 0; k < inputs[i].size(); ++k)
      if (!t.range.contains(inputs[i][k]))
        return make_error("reference-input-range", fmt::format("input '{}'", t.name),
                          fmt::format("element {} is {}, outside the input's {} range [{}, {}]", k, inputs[i][k],
                                      dtype_name(t.dtype), t.range.lo, t.range.hi),
                          "pass the quantized integer input (e.g. raw uint8 pixels), not float values");
    values[g.inputs[i]] = to_storage_order(t, inputs[i]);
  }
  for (size_t li = 0; li < g.layers.size(); ++li) {
    const Layer& l = g.layers[li];
    const LayerPlan& p = impl_->plans[li];
    const std::vector<int32_t>& x = values[l.inputs[0]];
    std::vector<int32_t>& y = values[l.output];
    const Tensor& in = g.tensor(l.inputs[0]);
    if (l.as<Conv2d>()) {
      if (p.use16) run_conv<int16_t>(g, l, p, x, y, impl_->scratch16);
      else run_conv<int32_t>(g, l, p, x, y, impl_->scratch32);
    } else if (l.as<FullyConnected>()) {
      if (p.use16) run_fc<int16_t>(g, l, p, x, y, impl_->scratch16);
      else run_fc<int32_t>(g, l, p, x, y, impl_->scratch32);
    } else if (l.as<MaxPool>()) {
      run_maxpool(g, l, x, y);
    } else if (l.as<AveragePool>()) {
      run_avgpool(g, l, p, x, y);
    } else if (const auto* add = l.as<Add>()) {
      const size_t n = x.size();
      std::vector<int32_t> out(n);
      for (size_t i = 0; i < n; ++i) {
        int64_t s = 0;
        for (size_t k = 0; k < l.inputs.size(); ++k) {
          const AddOperand& op = add->operands[k];
          s += dory_scale64(values[l.inputs[k]][i] - op.zero_point, op.mul, op.add, &p.operand_div[k]);
        }
        out[i] = p.rq.apply(static_cast<int32_t>(s), 0);
      }
      y = std::move(out);
    } else if (l.as<Concat>()) {
      const Tensor& out = g.tensor(l.output);
      const int64_t HW = out.height() * out.width(), Co = out.channels();
      std::vector<int32_t> o(static_cast<size_t>(out.elements()));
      int64_t offset = 0;
      for (TensorId t : l.inputs) {
        const int64_t Ci = g.tensor(t).channels();
        const std::vector<int32_t>& v = values[t];
        for (int64_t px = 0; px < HW; ++px)
          std::copy_n(&v[static_cast<size_t>(px * Ci)], Ci, &o[static_cast<size_t>(px * Co + offset)]);
        offset += Ci;
      }
      y = std::move(o);
    } else if (const auto* rq = l.as<Requantize>()) {
      std::vector<int32_t> o(x.size());
      const bool per_channel = rq->requant.per_channel();
      for (size_t i = 0; i < x.size(); ++i)
        o[i] = p.rq.apply(x[i] - rq->input_zero_point, per_channel ? channel_of(in, static_cast<int64_t>(i)) : 0);
      y = std::move(o);
    } else if (l.as<View>()) {
      y = x;
    }
  }
  return ReferenceResult{values};
}

Expected<ReferenceResult> run_reference(const Graph& g, const std::vector<std::vector<int32_t>>& inputs) {
  ReferenceExecutor ex(g);
  return ex.run(inputs);
}

}  // namespace dory
