// Shape checking and value-range analysis of the IR (declared in ir/graph.h).
//
// Value ranges are closed intervals, propagated in topological order with exact interval arithmetic (__int128
// for products, so the analysis itself cannot overflow). The claims proven here are what the runtime relies on:
//   - an accumulator bound B[c] = |bias[c]| + sum_k max|w[c][k] * (x - zp)| <= 2^31 - 1 for every output
//     channel, so no partial sum overflows int32 in ANY summation order (tiles may split input channels);
//   - every requant numerator acc*m + a fits int64; it is marked 32-bit (`wide = false`) only if the product,
//     the numerator, m, a, D and the zero-point shifted result all fit int32;
//   - every tensor's range fits its dtype (derived as the narrowest type when the model does not fix one).
#include <fmt/format.h>

#include <limits>

#include "ir/graph.h"

namespace dory {
namespace {

using i128 = __int128;
constexpr i128 kI32Min = std::numeric_limits<int32_t>::min(), kI32Max = std::numeric_limits<int32_t>::max();
constexpr i128 kI64Min = std::numeric_limits<int64_t>::min(), kI64Max = std::numeric_limits<int64_t>::max();

bool fits32(i128 v) { return kI32Min <= v && v <= kI32Max; }
bool fits64(i128 v) { return kI64Min <= v && v <= kI64Max; }

std::string i128_str(i128 v) {
  if (fits64(v)) return std::to_string(static_cast<int64_t>(v));
  return v < 0 ? "< -2^63" : "> 2^63";
}

i128 round_div(i128 n, i128 d, Rounding r) {
  i128 q = n / d;  // truncates
  if (r == Rounding::Floor && (n % d != 0) && (n < 0)) q -= 1;
  return q;
}

std::string where(const Layer& l) { return fmt::format("layer '{}'", l.name); }

Diagnostic shape_error(const Layer& l, std::string msg) {
  return make_error("ir-shape", where(l), std::move(msg),
                    "the model's shapes are inconsistent; re-export it or check the node's attributes");
}

struct Interval {
  i128 lo = 0, hi = 0;
};

// Result of requantizing values in [v.lo, v.hi]: proves the numerator bounds, marks `wide`, returns the range.
Expected<ValueRange> requant_range(const Layer& l, Requant& rq, const std::vector<Interval>& v_per_channel,
                                   i128 divisor_extra = 1) {
  // divisor_extra: the largest window count of an average pool, which divides by divisor * count.
  if (rq.divisor * divisor_extra >= (static_cast<i128>(1) << 63))
    return make_error("ir-bad-divisor", where(l),
                      fmt::format("the divisor {} times the window's {} slots reaches 2^63, beyond the 64-bit "
                                  "requantization",
                                  rq.divisor, static_cast<int64_t>(divisor_extra)),
                      "reduce the multiplier m and the divisor together");
  bool narrow = rq.divisor * divisor_extra < (1ull << 31);
  i128 out_lo = kI64Max, out_hi = kI64Min;
  for (size_t c = 0; c < v_per_channel.size(); ++c) {
    const Interval v = v_per_channel[c];
    i128 m = rq.mul_at(static_cast<int64_t>(c)), a = rq.add_at(static_cast<int64_t>(c));
    i128 p1 = v.lo * m, p2 = v.hi * m;
    i128 plo = std::min(p1, p2), phi = std::max(p1, p2);
    i128 nlo = plo + a * divisor_extra, nhi = phi + a * divisor_extra;
    // requant.h forms acc*m before adding a: both the product and the numerator must fit int64.
    if (!fits64(nlo) || !fits64(nhi) || !fits64(plo) || !fits64(phi))
      return make_error("ir-requant-overflow", where(l),
                        fmt::format("the requantization numerator acc*m + a can reach {} (channel {}), beyond the "
                                    "64-bit intermediates dory supports",
                                    i128_str(!fits64(nlo) ? nlo : !fits64(nhi) ? nhi : !fits64(plo) ? plo : phi), c),
                        "reduce the multiplier m (and the divisor with it) in the export");
    // The 32-bit path receives a * count (average pooling) as its offset: that must fit int32 as well.
    narrow = narrow && fits32(plo) && fits32(phi) && fits32(nlo) && fits32(nhi) && fits32(m) && fits32(a) &&
             fits32(a * divisor_extra);
    i128 d = static_cast<i128>(rq.divisor) * divisor_extra;
    i128 qlo = round_div(nlo, d, rq.rounding) + rq.zero_point, qhi = round_div(nhi, d, rq.rounding) + rq.zero_point;
    narrow = narrow && fits32(qlo) && fits32(qhi);
    out_lo = std::min(out_lo, qlo);
    out_hi = std::max(out_hi, qhi);
  }
  rq.wide = !narrow;
  // A side the model does not clamp (lo/hi at the int32 extremes: Requant's "no clamp") must fit int32 by itself;
  // checked before clamping, or dory_clamp64 would silently saturate where the model's arithmetic does not.
  const bool lo_unclamped = rq.lo == kI32Min && !fits32(out_lo), hi_unclamped = rq.hi == kI32Max && !fits32(out_hi);
  if (lo_unclamped || hi_unclamped)
    return make_error("ir-output-overflow", where(l),
                      fmt::format("the unclamped output can reach {}, which does not fit int32",
                                  i128_str(lo_unclamped ? out_lo : out_hi)),
                      "add a Clip after the requantization");
  out_lo = std::max<i128>(out_lo, rq.lo);
  out_hi = std::min<i128>(out_hi, rq.hi);
  if (out_lo > out_hi) out_lo = out_hi = std::clamp<i128>(out_lo, rq.lo, rq.hi);  // a degenerate clamp
  return ValueRange{static_cast<int64_t>(out_lo), static_cast<int64_t>(out_hi)};
}

// Per-output-channel accumulator interval of a weighted sum, with the int32 proof.
Expected<std::vector<Interval>> accumulator_ranges(const Layer& l, const std::vector<int32_t>& weights,
                                                   const std::vector<int32_t>& bias, int64_t n_out,
                                                   ValueRange x, int32_t zp) {
  std::vector<Interval> acc(static_cast<size_t>(n_out));
  const size_t per = weights.size() / static_cast<size_t>(n_out);
  const i128 vlo = x.lo - zp, vhi = x.hi - zp;
  for (int64_t c = 0; c < n_out; ++c) {
    i128 b = bias.empty() ? 0 : bias[static_cast<size_t>(c)];
    i128 lo = b, hi = b, absmax = b < 0 ? -b : b;
    for (size_t k = 0; k < per; ++k) {
      i128 w = weights[static_cast<size_t>(c) * per + k];
      i128 t1 = w * vlo, t2 = w * vhi;
      i128 tlo = std::min(t1, t2), thi = std::max(t1, t2);
      lo += std::min<i128>(tlo, 0);  // padded positions contribute 0
      hi += std::max<i128>(thi, 0);
      absmax += std::max(tlo < 0 ? -tlo : tlo, thi < 0 ? -thi : thi);
    }
    if (absmax > kI32Max)
      return make_error("ir-accumulator-overflow", where(l),
                        fmt::format("the int32 accumulator of output channel {} is not provably safe: |bias| + "
                                    "sum |w*(x - zp)| can reach {} > 2^31 - 1 (inputs in [{}, {}], zero point {})",
                                    c, i128_str(absmax), x.lo, x.hi, zp),
                        "the weights or input range are too large for int32 accumulation; quantize with "
                        "narrower weights or activations");
    acc[static_cast<size_t>(c)] = {lo, hi};
  }
  return acc;
}

// x - zp is formed in int32 by the reference and the kernels (Requantize, Add operands): prove it fits.
Status check_centered_fits32(const Layer& l, ValueRange x, int32_t zp) {
  const i128 lo = static_cast<i128>(x.lo) - zp, hi = static_cast<i128>(x.hi) - zp;
  if (fits32(lo) && fits32(hi)) return ok_status();
  return make_error("ir-accumulator-overflow", where(l),
                    fmt::format("an input in [{}, {}] minus its zero point {} does not fit int32", x.lo, x.hi, zp),
                    "the input's range and zero point are inconsistent with 32-bit integer arithmetic");
}

Status set_output(Graph& g, const Layer& l, ValueRange r, bool raw_accumulator = false) {
  Tensor& t = g.tensor(l.output);
  if (raw_accumulator && !t.dtype_declared) {  // raw accumulators are int32, as the kernels write them
    t.dtype = DType::Int32;
    t.range = r;
    return ok_status();
  }
  if (t.dtype_declared) {
    if (!dtype_range(t.dtype).contains(r))
      return make_error("ir-range-exceeds-type", where(l),
                        fmt::format("output '{}' is declared {} but its values can reach [{}, {}]", t.name,
                                    dtype_name(t.dtype), r.lo, r.hi),
                        "the model needs a clamp to the declared type");
  } else {
    auto dt = narrowest_dtype(r);
    if (!dt)
      return make_error("ir-output-overflow", where(l),
                        fmt::format("output '{}' can reach [{}, {}], which does not fit int32", t.name, r.lo, r.hi));
    t.dtype = *dt;
  }
  t.range = r;
  return ok_status();
}

ValueRange to_range(Interval i) { return {static_cast<int64_t>(i.lo), static_cast<int64_t>(i.hi)}; }

Status check_requant_shape(const Layer& l, const Requant& rq, int64_t channels) {
  auto ok = [&](size_t n) { return n == 1 || static_cast<int64_t>(n) == channels; };
  if (!ok(rq.mul.size()) || !ok(rq.add.size()))
    return shape_error(l, fmt::format("requantization has {} multipliers and {} offsets for {} channels",
                                      rq.mul.size(), rq.add.size(), channels));
  if (rq.divisor == 0 || rq.divisor >= (1ull << 62))
    return make_error("ir-bad-divisor", where(l),
                      fmt::format("requantization divisor {} must be in [1, 2^62)", rq.divisor));
  if (rq.lo > rq.hi)
    return make_error("ir-bad-clamp", where(l), fmt::format("clamp bounds [{}, {}] are empty", rq.lo, rq.hi));
  return ok_status();
}

Status check_window(const Layer& l, const Tensor& in, const Tensor& out, const Window& w, int64_t out_c) {
  if (!in.is_feature_map() || in.shape[0] != 1)
    return shape_error(l, fmt::format("input '{}' must be a [1,C,H,W] feature map, has shape {}", in.name,
                                      shape_str(in.shape)));
  if (w.kh < 1 || w.kw < 1 || w.stride_h < 1 || w.stride_w < 1 || w.pad.top < 0 || w.pad.left < 0 ||
      w.pad.bottom < 0 || w.pad.right < 0)
    return shape_error(l, fmt::format("invalid window: kernel {}x{}, stride {}x{}, pads {},{},{},{}", w.kh, w.kw,
                                      w.stride_h, w.stride_w, w.pad.top, w.pad.left, w.pad.bottom, w.pad.right));
  int64_t ho = window_out(in.height(), w.kh, w.stride_h, w.pad.top, w.pad.bottom);
  int64_t wo = window_out(in.width(), w.kw, w.stride_w, w.pad.left, w.pad.right);
  std::vector<int64_t> expect{1, out_c, ho, wo};
  if (ho <= 0 || wo <= 0 || out.shape != expect)
    return shape_error(l, fmt::format("output '{}' has shape {}, the window gives {}", out.name,
                                      shape_str(out.shape), shape_str(expect)));
  return ok_status();
}

// A pool that ignores padded positions has no value at a window of padding only (the maximum of no element; a
// mean over zero slots). ONNX leaves those undefined (onnxruntime refuses pads >= kernel for pools), so they are
// rejected rather than given an arbitrary value.
Status check_no_empty_window(const Layer& l, const Tensor& in, const Window& w, const char* kind,
                             const char* how) {
  if (!has_padding_only_window(w, in.height(), in.width())) return ok_status();
  return make_error("ir-empty-window", where(l),
                    fmt::format("the {} {} and has a window of padding only (kernel {}x{}, stride {}x{}, pads "
                                "{},{},{},{} on a {}x{} input): its value is undefined (ONNX leaves it undefined)",
                                kind, how, w.kh, w.kw, w.stride_h, w.stride_w, w.pad.top, w.pad.left, w.pad.bottom,
                                w.pad.right, in.height(), in.width()),
                    "reduce the pool's padding so that every window overlaps the input, or pad explicitly with a "
                    "value (a Pad node) so that padded positions count");
}

}  // namespace

Status check_shapes(const Graph& g) {
  for (const Layer& l : g.layers) {
    const Tensor& out = g.tensor(l.output);
    if (l.inputs.empty()) return shape_error(l, "has no inputs");
    const Tensor& in = g.tensor(l.inputs[0]);
    if (const auto* c = l.as<Conv2d>()) {
      const int64_t cin = in.channels(), cout = out.channels();
      if (c->groups < 1 || (c->groups != 1 && !(c->groups == cin && cin == cout)))
        return make_error("ir-unsupported-groups", where(l),
                          fmt::format("group = {} with {} input and {} output channels: dory supports standard "
                                      "(group 1) and depthwise (group = C_in = C_out) convolutions",
                                      c->groups, cin, cout),
                          "split the grouped convolution into separate convolutions and a Concat");
      DORY_TRY_STATUS(check_window(l, in, out, c->win, cout));
      const size_t nw = static_cast<size_t>(cout * c->win.kh * c->win.kw * (cin / c->groups));
      if (c->weights.size() != nw || c->bias.size() != static_cast<size_t>(cout))
        return shape_error(l, fmt::format("has {} weights and {} biases; expected {} and {}", c->weights.size(),
                                          c->bias.size(), nw, cout));
      if (c->requant) DORY_TRY_STATUS(check_requant_shape(l, *c->requant, cout));
    } else if (const auto* fc = l.as<FullyConnected>()) {
      const int64_t k = in.elements(), n = out.elements();
      if (fc->weights.size() != static_cast<size_t>(n * k) || fc->bias.size() != static_cast<size_t>(n))
        return shape_error(l, fmt::format("has {} weights and {} biases for {} inputs and {} outputs",
                                          fc->weights.size(), fc->bias.size(), k, n));
      if (fc->requant) DORY_TRY_STATUS(check_requant_shape(l, *fc->requant, n));
    } else if (const auto* mp = l.as<MaxPool>()) {
      DORY_TRY_STATUS(check_window(l, in, out, mp->win, in.channels()));
      if (!mp->pad_value) DORY_TRY_STATUS(check_no_empty_window(l, in, mp->win, "max pool", "ignores padding"));
    } else if (const auto* ap = l.as<AveragePool>()) {
      DORY_TRY_STATUS(check_window(l, in, out, ap->win, in.channels()));
      if (!ap->count_include_pad)
        DORY_TRY_STATUS(check_no_empty_window(l, in, ap->win, "average pool", "does not count padded slots"));
      DORY_TRY_STATUS(check_requant_shape(l, ap->requant, in.channels()));
    } else if (const auto* add = l.as<Add>()) {
      if (l.inputs.size() < 2 || add->operands.size() != l.inputs.size())
        return shape_error(l, fmt::format("has {} inputs and {} operand scalings", l.inputs.size(),
                                          add->operands.size()));
      for (TensorId t : l.inputs)
        if (g.tensor(t).shape != out.shape || g.tensor(t).layout != in.layout)
          return shape_error(l, fmt::format("input '{}' has shape {} ({}), output has {} ({}): dory's Add does not "
                                            "broadcast",
                                            g.tensor(t).name, shape_str(g.tensor(t).shape),
                                            layout_name(g.tensor(t).layout), shape_str(out.shape),
                                            layout_name(in.layout)));
      for (const AddOperand& op : add->operands)
        if (op.divisor == 0 || op.divisor >= (1ull << 62))
          return make_error("ir-bad-divisor", where(l), fmt::format("operand divisor {} out of range", op.divisor));
      DORY_TRY_STATUS(check_requant_shape(l, add->requant, 1));
    } else if (l.as<Concat>()) {
      int64_t sum_c = 0;
      for (TensorId t : l.inputs) {
        const Tensor& x = g.tensor(t);
        if (!x.is_feature_map() || x.height() != out.height() || x.width() != out.width())
          return shape_error(l, fmt::format("input '{}' of shape {} cannot be concatenated along channels into {}",
                                            x.name, shape_str(x.shape), shape_str(out.shape)));
        sum_c += x.channels();
      }
      if (sum_c != out.channels())
        return shape_error(l, fmt::format("inputs have {} channels in total, output {}", sum_c, out.channels()));
    } else if (const auto* rq = l.as<Requantize>()) {
      if (in.shape != out.shape) return shape_error(l, "input and output shapes differ");
      if (in.layout != out.layout || in.hwc_source != out.hwc_source)
        return shape_error(l, fmt::format("an elementwise layer must keep the storage layout ({} in, {} out)",
                                          layout_name(in.layout), layout_name(out.layout)));
      DORY_TRY_STATUS(check_requant_shape(l, rq->requant, in.channels()));
    } else if (l.as<View>()) {
      if (in.elements() != out.elements())
        return shape_error(l, fmt::format("views {} elements as {} elements", in.elements(), out.elements()));
    }
  }
  return ok_status();
}

Status analyze_ranges(Graph& g) {
  for (TensorId t : g.inputs) {
    Tensor& x = g.tensor(t);
    x.range = dtype_range(x.dtype);  // an input can hold any value of its type
  }
  for (Layer& l : g.layers) {
    const Tensor& in = g.tensor(l.inputs[0]);
    const ValueRange xr = in.range;
    if (auto* c = l.as<Conv2d>()) {
      DORY_TRY(auto acc, accumulator_ranges(l, c->weights, c->bias, g.tensor(l.output).channels(), xr,
                                            c->input_zero_point));
      if (!c->requant) {
        Interval all{acc[0].lo, acc[0].hi};
        for (auto& a : acc) all = {std::min(all.lo, a.lo), std::max(all.hi, a.hi)};
        DORY_TRY_STATUS(set_output(g, l, to_range(all), /*raw_accumulator=*/true));
      } else {
        DORY_TRY(auto r, requant_range(l, *c->requant, acc));
        DORY_TRY_STATUS(set_output(g, l, r));
      }
    } else if (auto* fc = l.as<FullyConnected>()) {
      DORY_TRY(auto acc, accumulator_ranges(l, fc->weights, fc->bias, g.tensor(l.output).elements(), xr,
                                            fc->input_zero_point));
      if (!fc->requant) {
        Interval all{acc[0].lo, acc[0].hi};
        for (auto& a : acc) all = {std::min(all.lo, a.lo), std::max(all.hi, a.hi)};
        DORY_TRY_STATUS(set_output(g, l, to_range(all), /*raw_accumulator=*/true));
      } else {
        DORY_TRY(auto r, requant_range(l, *fc->requant, acc));
        DORY_TRY_STATUS(set_output(g, l, r));
      }
    } else if (auto* mp = l.as<MaxPool>()) {
      ValueRange r = xr;
      if (mp->pad_value && mp->win.pad.any()) r = {std::min<int64_t>(r.lo, *mp->pad_value),
                                                   std::max<int64_t>(r.hi, *mp->pad_value)};
      DORY_TRY_STATUS(set_output(g, l, r));
    } else if (auto* ap = l.as<AveragePool>()) {
      i128 vlo = xr.lo - ap->input_zero_point, vhi = xr.hi - ap->input_zero_point;
      if (ap->win.pad.any() && ap->count_include_pad) {
        i128 pv = ap->pad_value - ap->input_zero_point;
        vlo = std::min(vlo, pv);
        vhi = std::max(vhi, pv);
      }
      // The numerator S*m + a*cnt with |S| <= K*max|v| must fit; S itself is passed as an int32.
      const i128 K = static_cast<i128>(ap->win.kh) * ap->win.kw;
      const i128 vmax = std::max(vlo < 0 ? -vlo : vlo, vhi < 0 ? -vhi : vhi);
      if (!fits32(K * vmax))
        return make_error("ir-accumulator-overflow", where(l),
                          fmt::format("the pooling window sum can reach {} > 2^31 - 1", i128_str(K * vmax)));
      std::vector<Interval> sums(static_cast<size_t>(in.channels()), Interval{K * vlo, K * vhi});
      Requant probe = ap->requant;  // numerator bounds at the largest count
      DORY_TRY(auto unused, requant_range(l, probe, sums, K));
      (void)unused;
      ap->requant.wide = probe.wide;
      // The result is the requant of the exact mean S/cnt, which lies in [vlo, vhi]: bounds at the endpoints.
      std::vector<Interval> means(static_cast<size_t>(in.channels()), Interval{vlo, vhi});
      Requant copy = ap->requant;
      DORY_TRY(auto r, requant_range(l, copy, means));
      DORY_TRY_STATUS(set_output(g, l, r));
    } else if (auto* add = l.as<Add>()) {
      i128 lo = 0, hi = 0;
      for (size_t i = 0; i < l.inputs.size(); ++i) {
        const ValueRange ir = g.tensor(l.inputs[i]).range;
        const AddOperand& op = add->operands[i];
        DORY_TRY_STATUS(check_centered_fits32(l, ir, op.zero_point));
        const i128 m1 = (ir.lo - op.zero_point) * static_cast<i128>(op.mul);
        const i128 m2 = (ir.hi - op.zero_point) * static_cast<i128>(op.mul);
        i128 p1 = m1 + op.add, p2 = m2 + op.add;
        if (!fits64(p1) || !fits64(p2) || !fits64(m1) || !fits64(m2))
          return make_error("ir-requant-overflow", where(l),
                            fmt::format("operand {} scaling (x - {})*{} + {} exceeds 64 bits", i, op.zero_point,
                                        op.mul, op.add));
        i128 t1 = round_div(p1, op.divisor, op.rounding), t2 = round_div(p2, op.divisor, op.rounding);
        lo += std::min(t1, t2);
        hi += std::max(t1, t2);
      }
      if (!fits32(lo) || !fits32(hi))
        return make_error("ir-accumulator-overflow", where(l),
                          fmt::format("the sum of the scaled operands can reach {} and does not fit int32",
                                      i128_str(fits32(lo) ? hi : lo)));
      DORY_TRY(auto r, requant_range(l, add->requant, {Interval{lo, hi}}));
      DORY_TRY_STATUS(set_output(g, l, r));
    } else if (l.as<Concat>()) {
      ValueRange r = xr;
      for (TensorId t : l.inputs) {
        const Tensor& x = g.tensor(t);
        if (x.zero_point != in.zero_point || x.scale != in.scale)
          return make_error("ir-concat-quant-mismatch", where(l),
                            fmt::format("inputs '{}' and '{}' have different quantization (zero points {} and {}); "
                                        "Concat copies values unchanged",
                                        in.name, x.name, in.zero_point, x.zero_point),
                            "requantize the inputs to a common scale before the Concat");
        r = {std::min(r.lo, x.range.lo), std::max(r.hi, x.range.hi)};
      }
      DORY_TRY_STATUS(set_output(g, l, r));
    } else if (auto* rq = l.as<Requantize>()) {
      DORY_TRY_STATUS(check_centered_fits32(l, xr, rq->input_zero_point));
      std::vector<Interval> v(static_cast<size_t>(rq->requant.per_channel() ? in.channels() : 1),
                              Interval{static_cast<i128>(xr.lo) - rq->input_zero_point,
                                       static_cast<i128>(xr.hi) - rq->input_zero_point});
      DORY_TRY(auto r, requant_range(l, rq->requant, v));
      DORY_TRY_STATUS(set_output(g, l, r));
    } else if (l.as<View>()) {
      DORY_TRY_STATUS(set_output(g, l, xr));
    }
  }
  return ok_status();
}

}  // namespace dory
